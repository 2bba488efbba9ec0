//! Streaming detector and baselines: edge cases and hand-made sequences.
use keyprint_core::detector::Template;
use keyprint_core::event::{KeyEvent, KeyId};
use keyprint_injection::detector::{
    InjectionConfig, InjectionDetector, OwnerProfile, Reason, StreamDetector, run_stream,
};
use keyprint_injection::ducky::parse;
use keyprint_injection::timing::{Timing, render};
use keyprint_injection::{DuckHunt, Ukip};

fn ev(key: &str, press_ms: f64, hold_ms: f64) -> KeyEvent {
    let p = (press_ms * 1000.0) as i64;
    KeyEvent::new(KeyId::code(key), p, p + (hold_ms * 1000.0) as i64).unwrap()
}

fn keyprint() -> InjectionDetector {
    InjectionDetector::new(InjectionConfig::default(), None)
}

fn first_verdict(det: &mut dyn StreamDetector, events: &[KeyEvent]) -> Option<(Reason, usize)> {
    events
        .iter()
        .find_map(|e| det.observe(e))
        .map(|v| (v.reason, v.keystroke))
}

/// Deterministic pseudo-random numbers in [0, 1) (an LCG; enough for hand-made sequences).
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// A human-like stream: varied holds (60–130 ms), varied gaps (110–260 ms), some rollover.
fn human_like(n: usize, start_ms: f64) -> Vec<KeyEvent> {
    let keys = [
        "KeyT", "KeyH", "KeyE", "Space", "KeyQ", "KeyU", "KeyI", "KeyC", "KeyK",
    ];
    let mut t = start_ms;
    let mut st = start_ms as u64 + 17;
    (0..n)
        .map(|i| {
            let hold = 60.0 + 70.0 * lcg(&mut st);
            let e = ev(keys[i % keys.len()], t, hold);
            t += 110.0 + 150.0 * lcg(&mut st);
            e
        })
        .collect()
}

#[test]
fn stock_and_jitter_payloads_are_caught_within_three_keystrokes() {
    for src in [
        "GUI r\nDELAY 300\nSTRINGLN cmd",
        "DELAY 1000\nSTRING hello world",
        "ENTER\nDELAY 900\nSTRING ab",
        "F11\nDELAY 300\nMENU\nDELAY 200\nESC",
        "STRING A",
    ] {
        let s = parse(src).unwrap();
        for t in [Timing::Stock, Timing::Jitter { max_ms: 20 }] {
            for seed in 0..20 {
                let events = render(&s, t, seed);
                let (r, k) = first_verdict(&mut keyprint(), &events)
                    .unwrap_or_else(|| panic!("{src:?} {t} not caught"));
                assert!(k <= 3, "{src:?} {t}: {r} at {k}");
            }
        }
    }
    // Combos in one report are a machine chord at the second event.
    let events = render(&parse("GUI r").unwrap(), Timing::Stock, 0);
    assert_eq!(
        first_verdict(&mut keyprint(), &events),
        Some((Reason::MachineChord, 2))
    );
}

#[test]
fn works_on_hashed_keys() {
    let events: Vec<KeyEvent> = render(&parse("STRING Hello there").unwrap(), Timing::Stock, 0)
        .into_iter()
        .map(|e| KeyEvent {
            key: KeyId::Hashed(e.key.to_string().len() as u64 * 7919),
            ..e
        })
        .collect();
    assert!(first_verdict(&mut keyprint(), &events).is_some());
}

#[test]
fn human_like_typing_does_not_alarm() {
    let mut d = keyprint();
    assert_eq!(first_verdict(&mut d, &human_like(500, 0.0)), None);
    assert!(d.score() < 1.0);
}

#[test]
fn autorepeat_bursts_do_not_alarm() {
    let mut events = human_like(20, 0.0);
    let t0 = events.last().unwrap().press_us / 1000 + 400;
    // Held key, OS repeats every 33 ms after 500 ms, three encodings an agent may produce:
    // (a) the real keystroke plus zero-hold repeats inside it;
    let mut a = events.clone();
    a.push(ev("KeyX", t0 as f64, 2000.0));
    for i in 0..45 {
        a.push(ev("KeyX", (t0 + 500 + 33 * i) as f64, 0.0));
    }
    a.extend(human_like(20, (t0 + 2500) as f64));
    // (b) each repeat pressed at the previous one's release;
    let mut b = events.clone();
    let mut p = t0;
    for i in 0..45 {
        let next = p + if i == 0 { 500 } else { 33 };
        b.push(ev("KeyX", p as f64, (next - p) as f64));
        p = next;
    }
    b.extend(human_like(20, (p + 300) as f64));
    // (c) zero-hold events only.
    for i in 0..45 {
        events.push(ev("Backspace", (t0 + 33 * i) as f64, 0.0));
    }
    events.extend(human_like(20, (t0 + 2000) as f64));
    for (name, s) in [("a", a), ("b", b), ("c", events)] {
        let mut d = keyprint();
        assert_eq!(first_verdict(&mut d, &s), None, "encoding {name}");
    }
}

#[test]
fn allowed_macro_devices_never_alarm() {
    let cfg = InjectionConfig {
        allowed_devices: vec!["assistive-macro-pad".into()],
        ..InjectionConfig::default()
    };
    let events = render(
        &parse("STRINGLN Dear Sir or Madam, thank you for your letter.").unwrap(),
        Timing::Stock,
        0,
    );
    let mut allowed = InjectionDetector::new(cfg.clone(), Some("assistive-macro-pad"));
    assert!(allowed.is_allowed());
    assert_eq!(first_verdict(&mut allowed, &events), None);
    assert_eq!(allowed.score(), 0.0);
    // The same paste-like burst from any other device is an injection.
    let mut other = InjectionDetector::new(cfg, Some("usb-0003"));
    assert!(first_verdict(&mut other, &events).is_some());
}

#[test]
fn short_completion_bursts_on_an_established_stream_are_tolerated_long_ones_are_not() {
    let mut s = human_like(30, 0.0);
    let t = s.last().unwrap().press_us / 1000 + 300;
    let burst = |n: usize, at: i64| -> Vec<KeyEvent> {
        (0..n)
            .map(|i| ev("KeyA", (at + 3 * i as i64) as f64, 2.0))
            .map(|mut e| {
                e.key = KeyId::code(["KeyA", "KeyB", "KeyC"][e.press_us as usize / 3000 % 3]);
                e
            })
            .collect()
    };
    let mut short = s.clone();
    short.extend(burst(6, t));
    short.extend(human_like(30, (t + 500) as f64));
    assert_eq!(first_verdict(&mut keyprint(), &short), None);
    s.extend(burst(40, t));
    let (r, k) = first_verdict(&mut keyprint(), &s).unwrap();
    assert!(
        matches!(r, Reason::ImpossibleSpeed | Reason::MachineRegularity),
        "{r}"
    );
    assert!(k > 30 + 6 && k <= 30 + InjectionConfig::default().machine_run_established);
    // The same burst on a fresh stream is caught at its third keystroke.
    assert_eq!(
        first_verdict(&mut keyprint(), &burst(6, 0)),
        Some((Reason::ImpossibleSpeed, 3))
    );
    // A modifier held across a machine-short key (`MK_MUTE`, `HOLD GUI`, `r`): the held modifier neither
    // extends nor breaks the run, and the two equal 1-ms holds alarm at the third keystroke (without the
    // equal-hold rule at the 4th, without modifier neutrality at the 5th).
    let held = vec![
        ev("AudioVolumeMute", 0.0, 1.0),
        ev("MetaLeft", 30.0, 300.0),
        ev("KeyR", 70.0, 1.0),
        ev("KeyP", 700.0, 1.0),
        ev("KeyO", 760.0, 1.0),
    ];
    assert_eq!(
        first_verdict(&mut keyprint(), &held),
        Some((Reason::ImpossibleSpeed, 3))
    );
}

#[test]
fn constant_holds_and_machine_regularity() {
    // Holds fixed at 80 ms (a device with human-like holds), irregular gaps, no rollover.
    let keys = ["KeyA", "KeyS", "KeyD", "KeyF"];
    let mut st = 5;
    let mut t = 0.0;
    let s: Vec<KeyEvent> = (0..40)
        .map(|i| {
            t += 150.0 + 100.0 * lcg(&mut st);
            ev(keys[i % 4], t, 80.0)
        })
        .collect();
    let (r, k) = first_verdict(&mut keyprint(), &s).unwrap();
    assert_eq!((r, k), (Reason::ConstantHolds, 24));
    // Varied holds but a fixed 120 ms delay between keystrokes.
    let s: Vec<KeyEvent> = (0..40)
        .map(|i| ev(keys[i % 4], (i * 120) as f64, 50.0 + ((i * 29) % 60) as f64))
        .collect();
    let (r, k) = first_verdict(&mut keyprint(), &s).unwrap();
    assert_eq!((r, k), (Reason::MachineRegularity, 17));
}

#[test]
fn typing_right_after_attach() {
    let s = human_like(12, 300.0);
    let mut d = keyprint();
    d.device_attached(0);
    let (r, k) = first_verdict(&mut d, &s).unwrap();
    assert_eq!((r, k), (Reason::TypingAfterAttach, 8));
    // Attached long before: nothing.
    let mut d = keyprint();
    d.device_attached(-60_000_000);
    assert_eq!(first_verdict(&mut d, &s), None);
    // Attached after the typing: keystrokes before an attach are not "after" it.
    let mut d = keyprint();
    d.device_attached(1_000_000_000_000);
    assert_eq!(first_verdict(&mut d, &s), None);
    // Extreme clocks do not overflow into a verdict.
    let mut d = keyprint();
    d.device_attached(i64::MAX);
    assert_eq!(first_verdict(&mut d, &s), None);
    let mut d = keyprint();
    d.device_attached(i64::MIN);
    assert_eq!(first_verdict(&mut d, &s), None);
}

struct MeanHold(f64);
impl Template<Vec<KeyEvent>> for MeanHold {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        let m = probe
            .iter()
            .map(|e| e.hold_us() as f64 / 1000.0)
            .sum::<f64>()
            / probe.len() as f64;
        (m - self.0).abs()
    }
}

#[test]
fn owner_profile_mismatch() {
    let owner_windows: Vec<Vec<KeyEvent>> = (0..40)
        .map(|i| human_like(70, i as f64 * 1e5 + 3.0))
        .collect();
    let owner_mean = 95.0;
    let profile =
        OwnerProfile::calibrate(Box::new(MeanHold(owner_mean)), &owner_windows, 1.5).unwrap();
    assert!(profile.threshold > 0.0);
    // The owner: no alarm.
    let mut d = keyprint().with_owner(
        OwnerProfile::calibrate(Box::new(MeanHold(owner_mean)), &owner_windows, 1.5).unwrap(),
    );
    assert_eq!(first_verdict(&mut d, &human_like(150, 0.0)), None);
    // Someone holding keys 40 ms longer: owner mismatch once 70 keys are in.
    let other: Vec<KeyEvent> = human_like(150, 0.0)
        .into_iter()
        .map(|mut e| {
            e.release_us += 40_000;
            e
        })
        .collect();
    let mut d = keyprint().with_owner(profile);
    let (r, k) = first_verdict(&mut d, &other).unwrap();
    assert_eq!((r, k), (Reason::OwnerMismatch, 70));
    assert!(d.score() >= 1.0);
}

#[test]
fn ukip_rule_on_hand_made_sequences() {
    let at = |gaps: &[f64]| -> Vec<KeyEvent> {
        let mut t = 0.0;
        let mut v = vec![ev("KeyA", 0.0, 5.0)];
        for g in gaps {
            t += g;
            v.push(ev("KeyB", t, 5.0));
        }
        v
    };
    // 5 keys, 4 gaps ≤ 50 ms: alarm at the 5th.
    let v = first_verdict(&mut Ukip::default(), &at(&[50.0, 10.0, 10.0, 10.0]));
    assert_eq!(v, Some((Reason::UkipRule, 5)));
    // One slow gap in every window of 5 evades it.
    assert_eq!(
        first_verdict(
            &mut Ukip::default(),
            &at(&[10.0, 10.0, 10.0, 51.0, 10.0, 10.0, 10.0, 51.0])
        ),
        None
    );
    // Only 4 keys: no alarm.
    assert_eq!(
        first_verdict(&mut Ukip::default(), &at(&[1.0, 1.0, 1.0])),
        None
    );
}

#[test]
fn duckhunt_rule_on_hand_made_sequences() {
    let run = |gap: f64, n: usize| -> Option<(Reason, usize)> {
        let v: Vec<KeyEvent> = (0..n).map(|i| ev("KeyA", i as f64 * gap, 5.0)).collect();
        first_verdict(&mut DuckHunt::default(), &v)
    };
    assert_eq!(run(29.0, 40), Some((Reason::DuckHuntRule, 26)));
    assert_eq!(run(29.0, 25), None, "needs 25 intervals");
    assert_eq!(run(30.0, 60), None, "mean must be below 30 ms");
    // Scores rise with speed, stay < 1 without a verdict and are >= 1 after one.
    let mut d = DuckHunt::default();
    let v: Vec<KeyEvent> = (0..10).map(|i| ev("KeyA", i as f64 * 60.0, 5.0)).collect();
    let (verdict, scores) = run_stream(&mut d, None, &v, &[10]);
    assert!(verdict.is_none());
    assert!((scores[0].unwrap() - 0.5).abs() < 1e-9);
}
