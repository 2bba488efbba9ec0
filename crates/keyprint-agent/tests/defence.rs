//! The agent core's injection defence on recorded `input_event` streams and a fake sysfs tree: a keyboard
//! attached mid-session that types a payload is judged within 3 keystrokes and de-authorized; allowlisted
//! devices and XTEST auto-type are recognised; quarantine holds and discards.

use keyprint_agent::agent::{Agent, Input, Response};
use keyprint_agent::config::CheckedConfig;
use keyprint_agent::evdev::{Assembler, Captured, Decoder, record};
use keyprint_agent::quarantine::{CountingSink, GateState};
use keyprint_agent::sysfs::{SourceInfo, fake_device, identify};
use std::path::Path;

mod common;
use common::config;

fn agent(cfg: CheckedConfig) -> (Agent, common::Logs) {
    common::agent(cfg, Box::new(CountingSink::default()))
}

use keyprint_agent::bench::{human_keys as human, machine_keys as payload};

/// Decodes a recording as the agent's reader does and feeds it to the agent.
fn replay(agent: &mut Agent, id: &str, bytes: &[u8]) {
    let mut d = Decoder::new(id);
    let mut a = Assembler::new(1920.0, 1080.0);
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    d.push(bytes, &mut evs);
    assert_eq!(d.rejected, 0);
    for e in &evs {
        a.push(e, &mut out);
    }
    for c in out {
        match c {
            Captured::Key(key) => agent.handle(Input::Key { id: id.into(), key }),
            Captured::Mouse(event) => agent.handle(Input::Mouse {
                id: id.into(),
                event,
            }),
        }
    }
}

fn sysfs_with_owner_and_ducky(root: &Path) -> (SourceInfo, SourceInfo, std::path::PathBuf) {
    fake_device(
        root,
        "event3",
        "Lenovo ThinkPad Keyboard",
        Some(("17ef", "6047", "")),
        true,
        false,
    )
    .unwrap();
    let usb = fake_device(
        root,
        "event7",
        "ATMEL Keyboard",
        Some(("03eb", "2401", "HAK5")),
        true,
        false,
    )
    .unwrap();
    (
        identify(root, "event3").unwrap(),
        identify(root, "event7").unwrap(),
        usb,
    )
}

#[test]
fn hotplugged_payload_keyboard_is_blocked_within_three_keys() {
    let d = tempfile::tempdir().unwrap();
    let (owner, ducky, usb) = sysfs_with_owner_and_ducky(&d.path().join("sys"));
    let (mut a, logs) = agent(config("block", &d.path().join("spool"), ""));
    let t0 = 1_764_730_000_000_000;
    a.handle(Input::Attach {
        info: owner.clone(),
        at_us: t0,
        hotplug: false,
        grabbed: false,
    });
    replay(
        &mut a,
        &owner.id,
        &record(
            &human(
                "the quick brown fox jumps over the lazy dog",
                t0 + 1_000_000,
            ),
            &[],
        ),
    );
    let attach = t0 + 20_000_000;
    a.handle(Input::Attach {
        info: ducky.clone(),
        at_us: attach,
        hotplug: true,
        grabbed: false,
    });
    replay(
        &mut a,
        &ducky.id,
        &record(&payload("powershell iwr evil", attach + 900_000), &[]),
    );
    assert_eq!(a.alerts.len(), 1, "{:?}", logs.lock().unwrap());
    let v = &a.alerts[0];
    assert_eq!(v.source.id, "evdev:event7");
    assert!(v.keystroke <= 3, "detected at keystroke {}", v.keystroke);
    assert_eq!(v.response, Response::Blocked);
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "0\n"
    );
    assert!(
        v.session.ends_with("evdev-event7-usb-03eb-2401"),
        "{}",
        v.session
    );
    let log = logs.lock().unwrap().join("\n");
    assert!(
        log.contains("usb 03eb:2401 \"ATMEL Keyboard\"") && log.contains("de-authorized"),
        "{log}"
    );
    // The owner's keyboard was not judged.
    assert!(a.alerts.iter().all(|v| v.source.id != owner.id));
}

#[test]
fn monitor_reports_without_blocking_and_allowlist_never_alarms() {
    let d = tempfile::tempdir().unwrap();
    let (_, ducky, usb) = sysfs_with_owner_and_ducky(&d.path().join("sys"));
    let (mut a, _) = agent(config("monitor", &d.path().join("spool"), ""));
    a.handle(Input::Attach {
        info: ducky.clone(),
        at_us: 0,
        hotplug: true,
        grabbed: false,
    });
    replay(&mut a, &ducky.id, &record(&payload("calc", 500_000), &[]));
    assert_eq!(a.alerts[0].response, Response::Reported);
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "1\n"
    );

    let allow =
        "[[defence.allow]]\nvendor = \"03EB\"\nproduct = \"2401\"\nnote = \"test OTP token\"\n";
    let (mut a, logs) = agent(config("block", &d.path().join("spool2"), allow));
    a.handle(Input::Attach {
        info: ducky.clone(),
        at_us: 0,
        hotplug: true,
        grabbed: false,
    });
    replay(
        &mut a,
        &ducky.id,
        &record(&payload("cccccbtkvhjeditvlgedrhdglrhv", 500_000), &[]),
    );
    assert_eq!(a.alerts[0].response, Response::Allowlisted);
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "1\n"
    );
    assert!(
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("test OTP token"))
    );
}

#[test]
fn xtest_auto_type_is_recognised_not_blocked() {
    let d = tempfile::tempdir().unwrap();
    let (mut a, logs) = agent(config("block", &d.path().join("spool"), ""));
    let xtest = keyprint_agent::x11::x11_source(4, "Virtual core XTEST keyboard", true, false);
    a.handle(Input::Attach {
        info: xtest.clone(),
        at_us: 0,
        hotplug: false,
        grabbed: false,
    });
    for k in payload("hunter2 correct horse", 1_000_000) {
        a.handle(Input::Key {
            id: xtest.id.clone(),
            key: k,
        });
    }
    assert_eq!(a.alerts[0].response, Response::AutoType);
    assert!(a.alerts[0].session.ends_with("x11-4-xtest"));
    assert!(
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("XTEST auto-type recognised"))
    );
}

#[test]
fn quarantine_releases_humans_and_discards_payloads() {
    let d = tempfile::tempdir().unwrap();
    let (owner, ducky, usb) = sysfs_with_owner_and_ducky(&d.path().join("sys"));
    let (mut a, _) = agent(config("quarantine", &d.path().join("spool"), ""));
    // A person plugs in a new keyboard and types: released after 5 human-like keystrokes.
    a.handle(Input::Attach {
        info: owner.clone(),
        at_us: 0,
        hotplug: true,
        grabbed: true,
    });
    for k in human("hello world", 5_000_000) {
        a.handle(Input::Key {
            id: owner.id.clone(),
            key: k,
        });
    }
    assert_eq!(a.gate_state(&owner.id), Some(GateState::Released));
    assert!(a.alerts.is_empty());
    // A payload device: held, then discarded and blocked at the verdict.
    a.handle(Input::Attach {
        info: ducky.clone(),
        at_us: 10_000_000,
        hotplug: true,
        grabbed: true,
    });
    for k in payload("rm -rf", 10_500_000) {
        a.handle(Input::Key {
            id: ducky.id.clone(),
            key: k,
        });
    }
    assert_eq!(a.gate_state(&ducky.id), Some(GateState::Blocked));
    assert_eq!(a.alerts[0].response, Response::Quarantined);
    assert_eq!(
        std::fs::read_to_string(usb.join("authorized")).unwrap(),
        "0\n"
    );
}

#[test]
fn spool_and_logs_hold_no_key_identities() {
    let d = tempfile::tempdir().unwrap();
    let (owner, ducky, _) = sysfs_with_owner_and_ducky(&d.path().join("sys"));
    let (mut a, logs) = agent(config("block", &d.path().join("spool"), ""));
    let text = "sphinx of black quartz judge my vow and pack my box with five dozen liquor jugs";
    a.handle(Input::Attach {
        info: owner.clone(),
        at_us: 0,
        hotplug: false,
        grabbed: false,
    });
    replay(&mut a, &owner.id, &record(&human(text, 1_000_000), &[]));
    a.handle(Input::Attach {
        info: ducky.clone(),
        at_us: 60_000_000,
        hotplug: true,
        grabbed: false,
    });
    replay(
        &mut a,
        &ducky.id,
        &record(&payload("exfiltrate secrets", 60_500_000), &[]),
    );
    a.finish();
    let mut spooled = String::new();
    for e in std::fs::read_dir(d.path().join("spool")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            spooled.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    assert!(
        spooled.contains("free_text") && spooled.contains("injection"),
        "{spooled}"
    );
    let log = logs.lock().unwrap().join("\n");
    for hay in [&spooled, &log] {
        for w in text
            .split(' ')
            .chain(["exfiltrate", "secrets"])
            .filter(|w| w.len() > 3)
        {
            assert!(!hay.contains(w), "found {w:?}");
        }
        for code in ["KeyA", "KeyS", "Space", "\"code\"", "Digit"] {
            assert!(!hay.contains(code), "found {code:?}");
        }
    }
}
