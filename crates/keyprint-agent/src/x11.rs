//! The X11 source, through XInput 2 raw events (`XI_RawKeyPress`/`Release`, `XI_RawButtonPress`/`Release`,
//! `XI_RawMotion`) selected on the root window for all master devices: every event carries its *source*
//! slave device (`sourceid`), whose name `XIQueryDevice` gives. The X server's XTEST devices ("Virtual core
//! XTEST keyboard"/"pointer"), through which `xdotool`, password-manager auto-type and x11vnc inject, are
//! recognised as [`Synthetic::Xtest`]; remote-desktop devices by name.
//!
//! X key codes are Linux codes + 8 ([`crate::keys::w3c_code_of_x11`]); each source gets its own
//! [`Assembler`] as an evdev node would. X server time (ms since the server started) is moved onto the
//! agent's `CLOCK_REALTIME` µs by one offset fixed at the first event, so device records and keystrokes of a
//! session share one clock. Raw motion carries device deltas (relative devices) and is summed onto a
//! virtual screen, as for evdev.

use crate::agent::Input;
use crate::capture::now_us;
use crate::evdev::{self, Assembler, Captured, InputEvent};
use crate::sysfs::{self, SourceInfo, Synthetic};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xinput::{self, ConnectionExt as _};

/// Why the X11 source could not start.
#[derive(Debug, thiserror::Error)]
#[error("X11 source: {0}")]
pub struct X11Error(pub String);

fn err(e: impl std::fmt::Display) -> X11Error {
    X11Error(e.to_string())
}

/// A source's identity from its XInput device name and use.
pub fn x11_source(deviceid: u16, name: &str, keyboard: bool, pointer: bool) -> SourceInfo {
    let synthetic = if name.contains("XTEST") {
        Some(Synthetic::Xtest)
    } else if sysfs::remote_desktop_name(name) {
        Some(Synthetic::RemoteDesktop)
    } else {
        None
    };
    SourceInfo {
        id: format!("x11:{deviceid}"),
        name: name.to_string(),
        bus: "x11".into(),
        vendor: None,
        product: None,
        serial: None,
        phys: None,
        synthetic,
        usb_device: None,
        keyboard,
        pointer,
    }
}

/// Connects to `display` (or `DISPLAY`), announces its slave devices and forwards their raw events to
/// `tx` until the connection or the receiver goes away. `ready` is called once the event selection is in
/// place (tests start typing then).
///
/// # Errors
/// [`X11Error`] when the display cannot be opened or has no XInput 2.
pub fn run(
    display: Option<&str>,
    screen_px: [u32; 2],
    tx: Sender<Input>,
    ready: impl FnOnce(),
) -> Result<(), X11Error> {
    let (conn, screen) = x11rb::connect(display).map_err(err)?;
    let root = conn.setup().roots[screen].root;
    conn.xinput_xi_query_version(2, 2)
        .map_err(err)?
        .reply()
        .map_err(err)?;
    let devices = conn
        .xinput_xi_query_device(u16::from(xinput::Device::ALL))
        .map_err(err)?
        .reply()
        .map_err(err)?;
    let start_us = now_us();
    let mut known: HashMap<u16, Assembler> = HashMap::new();
    let px = [f64::from(screen_px[0]), f64::from(screen_px[1])];
    // Registers one slave keyboard or pointer; false when the agent is shutting down.
    let register = |known: &mut HashMap<u16, Assembler>,
                    d: &xinput::XIDeviceInfo,
                    at_us: i64,
                    hotplug: bool|
     -> bool {
        let keyboard = d.type_ == xinput::DeviceType::SLAVE_KEYBOARD;
        let pointer = d.type_ == xinput::DeviceType::SLAVE_POINTER;
        // Not a slave device, or the agent's own quarantine keyboard (its re-emitted keys were judged
        // already, on the device that typed them).
        if (!keyboard && !pointer)
            || d.name == crate::uinput::UINPUT_NAME.as_bytes()
            || known.contains_key(&d.deviceid)
        {
            return true;
        }
        let info = x11_source(
            d.deviceid,
            &String::from_utf8_lossy(&d.name),
            keyboard,
            pointer,
        );
        if tx
            .send(Input::Attach {
                info,
                at_us,
                hotplug,
                grabbed: false,
            })
            .is_err()
        {
            return false;
        }
        known.insert(d.deviceid, Assembler::new(px[0], px[1]));
        true
    };
    for d in &devices.infos {
        if !register(&mut known, d, start_us, false) {
            return Ok(());
        }
    }
    let mask = xinput::XIEventMask::RAW_KEY_PRESS
        | xinput::XIEventMask::RAW_KEY_RELEASE
        | xinput::XIEventMask::RAW_BUTTON_PRESS
        | xinput::XIEventMask::RAW_BUTTON_RELEASE
        | xinput::XIEventMask::RAW_MOTION;
    conn.xinput_xi_select_events(
        root,
        &[
            xinput::EventMask {
                deviceid: u16::from(xinput::Device::ALL_MASTER),
                mask: vec![mask],
            },
            // Hot-plug: a slave device added (a USB keyboard plugged in, an XTEST device of a new master,
            // a remote-desktop input) or removed while the agent runs.
            xinput::EventMask {
                deviceid: u16::from(xinput::Device::ALL),
                mask: vec![xinput::XIEventMask::HIERARCHY],
            },
        ],
    )
    .map_err(err)?
    .check()
    .map_err(err)?;
    ready();
    let mut offset_us: Option<i64> = None;
    let mut out = Vec::new();
    loop {
        let ev = conn.wait_for_event().map_err(err)?;
        let (source, time_ms, evs): (u16, u32, Vec<(u16, u16, i32)>) = match ev {
            Event::XinputRawKeyPress(e) | Event::XinputRawKeyRelease(e) => {
                let down = e.event_type == xinput::RAW_KEY_PRESS_EVENT;
                let repeat = u32::from(e.flags) & u32::from(xinput::KeyEventFlags::KEY_REPEAT) != 0;
                let Some(code) = e.detail.checked_sub(8).and_then(|c| u16::try_from(c).ok()) else {
                    continue;
                };
                let value = if repeat { 2 } else { i32::from(down) };
                (e.sourceid, e.time, vec![(evdev::EV_KEY, code, value)])
            }
            Event::XinputRawButtonPress(e) | Event::XinputRawButtonRelease(e) => {
                let down = e.event_type == xinput::RAW_BUTTON_PRESS_EVENT;
                let ev = match e.detail {
                    1 => (evdev::EV_KEY, evdev::BTN_LEFT, i32::from(down)),
                    2 => (evdev::EV_KEY, evdev::BTN_MIDDLE, i32::from(down)),
                    3 => (evdev::EV_KEY, evdev::BTN_RIGHT, i32::from(down)),
                    4 if down => (evdev::EV_REL, evdev::REL_WHEEL, 1),
                    5 if down => (evdev::EV_REL, evdev::REL_WHEEL, -1),
                    _ => continue,
                };
                (
                    e.sourceid,
                    e.time,
                    vec![ev, (evdev::EV_SYN, evdev::SYN_REPORT, 0)],
                )
            }
            Event::XinputRawMotion(e) => {
                let mut evs = Vec::new();
                let mask = e.valuator_mask.first().copied().unwrap_or(0);
                let mut vals = e.axisvalues.iter();
                for axis in 0..2u16 {
                    if mask >> axis & 1 == 1 {
                        let v = vals.next().map_or(0, |f| f.integral);
                        evs.push((evdev::EV_REL, axis, v));
                    }
                }
                evs.push((evdev::EV_SYN, evdev::SYN_REPORT, 0));
                (e.sourceid, e.time, evs)
            }
            Event::XinputHierarchy(h) => {
                let at_us = offset_us.map_or_else(now_us, |off| i64::from(h.time) * 1000 + off);
                for info in &h.infos {
                    let flags = u32::from(info.flags);
                    if flags & u32::from(xinput::HierarchyMask::SLAVE_REMOVED) != 0 {
                        if known.remove(&info.deviceid).is_some()
                            && tx
                                .send(Input::Detach {
                                    id: format!("x11:{}", info.deviceid),
                                    at_us,
                                })
                                .is_err()
                        {
                            return Ok(());
                        }
                    } else if flags
                        & (u32::from(xinput::HierarchyMask::SLAVE_ADDED)
                            | u32::from(xinput::HierarchyMask::DEVICE_ENABLED))
                        != 0
                        && !known.contains_key(&info.deviceid)
                    {
                        // The device may be gone again by the time we ask: then there is nothing to watch.
                        let Ok(reply) = conn
                            .xinput_xi_query_device(info.deviceid)
                            .map_err(err)?
                            .reply()
                        else {
                            continue;
                        };
                        for d in &reply.infos {
                            if !register(&mut known, d, at_us, true) {
                                return Ok(());
                            }
                        }
                    }
                }
                continue;
            }
            _ => continue,
        };
        let x_us = i64::from(time_ms) * 1000;
        let off = *offset_us.get_or_insert_with(|| now_us() - x_us);
        let Some(asm) = known.get_mut(&source) else {
            continue;
        };
        for (kind, code, value) in evs {
            asm.push(
                &InputEvent {
                    time_us: x_us + off,
                    kind,
                    code,
                    value,
                },
                &mut out,
            );
        }
        for c in out.drain(..) {
            let id = format!("x11:{source}");
            let input = match c {
                Captured::Key(key) => Input::Key { id, key },
                Captured::Mouse(event) => Input::Mouse { id, event },
            };
            if tx.send(input).is_err() {
                return Ok(());
            }
        }
    }
}
