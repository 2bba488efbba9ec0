//! Quarantine and hot-plug end to end, through the real capture thread: recorded uevent datagrams (kernel
//! and libudev framing) wake the evdev scanner, which grabs the hot-plugged keyboards (`EVIOCGRAB`, through
//! a recording double) and reads their kernel `input_event` recordings; the agent holds their keys; the
//! uinput sink (on a recording double of `/dev/uinput`) re-emits a person's keys and never a payload's.
//! The bytes the sink wrote are decoded as kernel `input_event`s; the payload device is blocked through
//! the fake sysfs `authorized` flag; the agent's own uinput keyboard is never captured.

use keyprint_agent::agent::{Agent, Input, Response};
use keyprint_agent::bench::{human_keys, machine_keys};
use keyprint_agent::capture::{EvdevSource, Quarantine, now_us};
use keyprint_agent::evdev::{EV_KEY, EV_SYN, EVENT_SIZE, InputEvent, SYN_REPORT, record};
use keyprint_agent::keys::linux_key;
use keyprint_agent::quarantine::GateState;
use keyprint_agent::sysfs::fake_device;
use keyprint_agent::uevent::{
    UeventCounts, handle_datagram, kernel_add_datagram, udev_add_datagram,
};
use keyprint_agent::uinput::{
    EVIOCGRAB, Grabs, RecordingIo, UI_DEV_CREATE, UI_DEV_SETUP, UI_GET_SYSNAME, UI_SET_EVBIT,
    UI_SET_KEYBIT, UINPUT_NAME, UinputSink,
};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::config;

type Attaches = Vec<(String, i64, bool, bool)>;

/// Feeds capture's inputs to the agent (as `run` does: `idle` when nothing is pending) until `done`.
fn pump(a: &mut Agent, rx: &Receiver<Input>, seen: &mut Attaches, done: impl Fn(&Agent) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(a) {
        assert!(
            Instant::now() < deadline,
            "timed out: {:?} {seen:?}",
            a.counts
        );
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(input) => {
                if let Input::Attach {
                    info,
                    at_us,
                    hotplug,
                    grabbed,
                } = &input
                {
                    seen.push((info.id.clone(), *at_us, *hotplug, *grabbed));
                }
                a.handle(input);
            }
            Err(RecvTimeoutError::Timeout) => a.idle(),
            Err(RecvTimeoutError::Disconnected) => panic!("capture ended"),
        }
    }
    a.idle();
}

#[test]
fn quarantine_holds_hotplugged_keyboards_and_reemits_only_a_persons_keys() {
    let d = tempfile::tempdir().unwrap();
    let (sys, dev) = (d.path().join("sys"), d.path().join("input"));
    std::fs::create_dir_all(&dev).unwrap();
    // Present at start: the owner's keyboard and the agent's own uinput keyboard (virtual, `input9`).
    fake_device(
        &sys,
        "event3",
        "Lenovo ThinkPad Keyboard",
        Some(("17ef", "6047", "")),
        true,
        false,
    )
    .unwrap();
    fake_device(&sys, "event9", UINPUT_NAME, None, true, false).unwrap();
    std::fs::write(dev.join("event3"), b"").unwrap();
    std::fs::write(dev.join("event9"), b"").unwrap();

    let uinput = RecordingIo {
        sysname: "input9",
        ..RecordingIo::default()
    };
    let grabs = Grabs::default();
    let sink =
        UinputSink::create(Box::new(uinput.clone()), grabs.clone(), Box::new(now_us)).unwrap();
    let grab_ios: Arc<Mutex<Vec<RecordingIo>>> = Arc::default();
    let g = grab_ios.clone();
    let src = EvdevSource {
        input_dir: dev.clone(),
        sysfs: sys.clone(),
        screen_px: [1920, 1080],
        // Long: only a uevent can make the scanner find a new node within the test.
        scan: Duration::from_secs(60),
        quarantine: Some(Quarantine {
            grabs: grabs.clone(),
            wants: Arc::new(|i| i.keyboard),
            grabber: Arc::new(move |_f| {
                let mut io = RecordingIo::default();
                keyprint_agent::uinput::grab(&mut io)?;
                g.lock().unwrap().push(io.clone());
                Ok(Box::new(io))
            }),
        }),
        own_sysname: sink.sysname.clone(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let (added_tx, added_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || src.run(tx, Some(added_rx)));

    let cfg = config("quarantine", &d.path().join("spool"), "");
    let (mut a, logs) = common::agent(cfg, Box::new(sink));
    let mut seen = Attaches::new();
    pump(&mut a, &rx, &mut seen, |a| {
        a.session_of("evdev:event3").is_some()
    });

    let counts = UeventCounts::default();
    // A person plugs in a keyboard (kernel uevent) and types, 5 s after it appeared.
    let t5 = now_us() - 40_000_000;
    fake_device(
        &sys,
        "event5",
        "Logitech K120",
        Some(("046d", "c31c", "")),
        true,
        false,
    )
    .unwrap();
    let typed = human_keys("hello world", t5 + 5_000_000);
    std::fs::write(dev.join("event5"), record(&typed, &[])).unwrap();
    assert!(handle_datagram(
        b"\x00\x01 not a uevent",
        t5,
        &added_tx,
        &counts
    ));
    assert!(handle_datagram(
        &kernel_add_datagram("event5", 4242),
        t5,
        &added_tx,
        &counts
    ));
    pump(&mut a, &rx, &mut seen, |a| {
        a.counts.keys == typed.len() as u64
            && a.gate_state("evdev:event5") == Some(GateState::Released)
    });

    // A payload device (udev's uevent, after its rules ran) types at machine speed.
    let t7 = now_us() - 20_000_000;
    let usb7 = fake_device(
        &sys,
        "event7",
        "ATMEL Keyboard",
        Some(("03eb", "2401", "HAK5")),
        true,
        false,
    )
    .unwrap();
    let payload = machine_keys("powershell", t7 + 900_000);
    std::fs::write(dev.join("event7"), record(&payload, &[])).unwrap();
    assert!(handle_datagram(
        &udev_add_datagram("event7", 4250),
        t7,
        &added_tx,
        &counts
    ));
    pump(&mut a, &rx, &mut seen, |a| {
        a.counts.keys == (typed.len() + payload.len()) as u64
    });

    // Attaches: uevent times, hot-plug, grabbed; the agent's own keyboard never appears.
    assert_eq!(counts.bad.load(Ordering::Relaxed), 1);
    assert_eq!(counts.input_adds.load(Ordering::Relaxed), 2);
    assert_eq!(
        seen,
        vec![
            ("evdev:event3".to_string(), seen[0].1, false, false),
            ("evdev:event5".to_string(), t5, true, true),
            ("evdev:event7".to_string(), t7, true, true),
        ]
    );
    assert!(a.session_of("evdev:event9").is_none());

    // The uinput device was made with the kernel's sequence.
    let calls = uinput.calls.lock().unwrap().clone();
    let n_keys = keyprint_agent::keys::codes().count();
    assert_eq!(calls[0], (UI_SET_EVBIT, 1i32.to_ne_bytes().to_vec()));
    assert_eq!(calls[1], (UI_SET_EVBIT, 0i32.to_ne_bytes().to_vec()));
    assert!(calls[2..2 + n_keys].iter().all(|c| c.0 == UI_SET_KEYBIT));
    let setup = &calls[2 + n_keys];
    assert_eq!(setup.0, UI_DEV_SETUP);
    assert_eq!(
        (setup.1.len(), &setup.1[0..2]),
        (92, &6u16.to_ne_bytes()[..])
    );
    assert!(setup.1[8..].starts_with(UINPUT_NAME.as_bytes()));
    assert_eq!(calls[3 + n_keys].0, UI_DEV_CREATE);
    assert_eq!(calls[4 + n_keys].0, UI_GET_SYSNAME);
    assert_eq!(calls.len(), 5 + n_keys);

    // Grabs: the person's keyboard was grabbed, then released at the gate; the payload device stays grabbed.
    let grabs_made = grab_ios.lock().unwrap().clone();
    let ioctls = |io: &RecordingIo| -> Vec<(u64, i32)> {
        io.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(r, v)| (*r, i32::from_ne_bytes(v[..4].try_into().unwrap())))
            .collect()
    };
    assert_eq!(grabs_made.len(), 2);
    assert_eq!(ioctls(&grabs_made[0]), vec![(EVIOCGRAB, 1), (EVIOCGRAB, 0)]);
    assert_eq!(ioctls(&grabs_made[1]), vec![(EVIOCGRAB, 1)]);
    assert!(grabs.lock().unwrap().contains_key("evdev:event7"));

    // What the virtual keyboard wrote, as kernel input_events: exactly the person's keystrokes, in order,
    // each press and release followed by SYN_REPORT; none of the payload's.
    let written = uinput.written.lock().unwrap().clone();
    assert_eq!(written.len() % EVENT_SIZE, 0);
    let evs: Vec<InputEvent> = written
        .chunks(EVENT_SIZE)
        .map(|c| InputEvent::parse(c.try_into().unwrap(), "uinput", 0).unwrap())
        .collect();
    assert!(
        evs.chunks(2)
            .all(|p| p[0].kind == EV_KEY && p[1].kind == EV_SYN && p[1].code == SYN_REPORT)
    );
    let presses: Vec<u16> = evs
        .iter()
        .filter(|e| e.kind == EV_KEY && e.value == 1)
        .map(|e| e.code)
        .collect();
    let want: Vec<u16> = typed
        .iter()
        .map(|k| linux_key(k.key.as_code().unwrap()).unwrap())
        .collect();
    assert_eq!(presses, want);
    let releases = evs
        .iter()
        .filter(|e| e.kind == EV_KEY && e.value == 0)
        .count();
    assert_eq!(releases, want.len());

    // The payload: judged, held keys discarded, de-authorized through sysfs.
    assert_eq!(a.alerts.len(), 1, "{:?}", logs.lock().unwrap());
    assert_eq!(
        (a.alerts[0].source.id.as_str(), a.alerts[0].response),
        ("evdev:event7", Response::Quarantined)
    );
    assert!(a.alerts[0].keystroke <= 3);
    assert_eq!(a.gate_state("evdev:event7"), Some(GateState::Blocked));
    assert_eq!(
        std::fs::read_to_string(usb7.join("authorized")).unwrap(),
        "0\n"
    );
    let log = logs.lock().unwrap().join("\n");
    assert!(
        log.contains("held keystrokes discarded; device stays grabbed and is de-authorized"),
        "{log}"
    );
    for f in ["event3", "event5", "event7", "event9"] {
        std::fs::remove_file(dev.join(f)).unwrap();
    }
}

#[test]
fn without_uinput_quarantine_falls_back_to_block_and_says_so_once() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config("quarantine", &d.path().join("spool"), "");
    let mut lines = Vec::new();
    let parts =
        keyprint_agent::run::quarantine_parts(&cfg, &d.path().join("no-uinput"), &mut |l: &str| {
            lines.push(l.to_string())
        });
    assert!(parts.capture.is_none() && parts.own_sysname.is_none());
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("falling back to block"), "{}", lines[0]);

    // Not grabbed, so not held: a verdict blocks the device as `block` does.
    let sys = d.path().join("sys");
    let usb = fake_device(
        &sys,
        "event7",
        "ATMEL Keyboard",
        Some(("03eb", "2401", "HAK5")),
        true,
        false,
    )
    .unwrap();
    let info = keyprint_agent::sysfs::identify(&sys, "event7").unwrap();
    let (mut a, _) = common::agent(cfg, parts.sink);
    a.handle(Input::Attach {
        info: info.clone(),
        at_us: 0,
        hotplug: true,
        grabbed: false,
    });
    for key in machine_keys("calc", 500_000) {
        a.handle(Input::Key {
            id: info.id.clone(),
            key,
        });
    }
    assert_eq!(a.gate_state(&info.id), None);
    assert_eq!(a.alerts[0].response, Response::Blocked);
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "0\n"
    );
}

#[test]
fn a_payload_without_a_usb_device_stays_grabbed_and_types_nothing() {
    // A uinput payload (no USB device: `block` cannot de-authorize it) is held, judged and kept grabbed.
    let d = tempfile::tempdir().unwrap();
    let sys = d.path().join("sys");
    fake_device(&sys, "event12", "Evil virtual keyboard", None, true, false).unwrap();
    let info = keyprint_agent::sysfs::identify(&sys, "event12").unwrap();
    let uinput = RecordingIo {
        sysname: "input99",
        ..RecordingIo::default()
    };
    let grabs = Grabs::default();
    let grab = RecordingIo::default();
    grabs
        .lock()
        .unwrap()
        .insert(info.id.clone(), Box::new(grab.clone()));
    let sink =
        UinputSink::create(Box::new(uinput.clone()), grabs.clone(), Box::new(now_us)).unwrap();
    let cfg = config("quarantine", &d.path().join("spool"), "");
    let (mut a, logs) = common::agent(cfg, Box::new(sink));
    a.handle(Input::Attach {
        info: info.clone(),
        at_us: 0,
        hotplug: true,
        grabbed: true,
    });
    for key in machine_keys("curl evil sh", 700_000) {
        a.handle(Input::Key {
            id: info.id.clone(),
            key,
        });
    }
    a.idle();
    assert_eq!(a.alerts[0].response, Response::Quarantined);
    assert_eq!(a.gate_state(&info.id), Some(GateState::Blocked));
    assert!(uinput.written.lock().unwrap().is_empty());
    assert!(grab.calls.lock().unwrap().is_empty(), "never released");
    assert!(grabs.lock().unwrap().contains_key(&info.id));
    let log = logs.lock().unwrap().join("\n");
    assert!(
        log.contains("device stays grabbed (not de-authorized"),
        "{log}"
    );
}
