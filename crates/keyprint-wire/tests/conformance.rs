//! The edge's conformance vectors (`docs/edge-conformance/v2.json`): raw events in, content-free records out,
//! in wire JSON. Another implementation of the edge specification (the browser SDK) reads the same file and
//! must produce the same records. The file is generated here and committed; this test fails when the edge's
//! output drifts from it (set `KEYPRINT_UPDATE_VECTORS=1` to rewrite it after a deliberate, versioned change).

use keyprint_core::event::{KeyEvent, KeyId, MouseButton, MouseEvent, MouseEventKind};
use keyprint_edge::{DeviceAction, DeviceRecord, Edge, EdgeConfig, Phrase};
use serde_json::{Value, json};

/// A deterministic typing stream: `text` typed with holds and gaps drawn from a fixed pattern.
fn typed(text: &str, start_us: i64) -> Vec<KeyEvent> {
    let mut t = start_us;
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            let code = match c {
                ' ' => "Space".to_string(),
                '.' => "Period".to_string(),
                '5' => "Digit5".to_string(),
                '<' => "Backspace".to_string(),
                c => format!("Key{}", c.to_ascii_uppercase()),
            };
            let hold = 70_000 + (i as i64 * 37 % 50) * 1_000;
            let gap = 110_000 + (i as i64 * 53 % 120) * 1_000;
            let e = KeyEvent::new(KeyId::code(code), t, t + hold).unwrap();
            t += gap;
            e
        })
        .collect()
}

/// Like [`typed`] over every key class: `^` is a Shift held across the next key, `\n` Enter, `<` Backspace, `,;'/-` and
/// digits as themselves; `|` makes the next gap 1.5 s longer (a pause) and `#` 6 s longer (no digraph).
fn typed_mixed(text: &str, start_us: i64) -> Vec<KeyEvent> {
    let mut t = start_us;
    let mut extra = 0;
    let mut out = Vec::new();
    for (i, c) in text.chars().enumerate() {
        let code = match c {
            '|' => {
                extra += 1_500_000;
                continue;
            }
            '#' => {
                extra += 6_000_000;
                continue;
            }
            ' ' => "Space".to_string(),
            '\n' => "Enter".to_string(),
            ',' => "Comma".to_string(),
            '.' => "Period".to_string(),
            ';' => "Semicolon".to_string(),
            '\'' => "Quote".to_string(),
            '/' => "Slash".to_string(),
            '-' => "Minus".to_string(),
            '^' => "ShiftLeft".to_string(),
            '<' => "Backspace".to_string(),
            d if d.is_ascii_digit() => format!("Digit{d}"),
            c => format!("Key{}", c.to_ascii_uppercase()),
        };
        t += extra;
        extra = 0;
        // Shift is held until after the next key's press (rollover).
        let hold = if c == '^' {
            180_000
        } else {
            60_000 + (i as i64 * 41 % 70) * 1_000
        };
        out.push(KeyEvent::new(KeyId::code(code), t, t + hold).unwrap());
        t += if c == '^' {
            90_000
        } else {
            95_000 + (i as i64 * 61 % 150) * 1_000
        };
    }
    out
}

fn event_json(e: &KeyEvent) -> Value {
    json!({"key": {"code": e.key.as_code().unwrap(), "press_us": e.press_us, "release_us": e.release_us}})
}

fn cases() -> Vec<(String, Vec<Value>, EdgeConfig)> {
    let phrase: Vec<KeyId> = ".tie5ronal"
        .chars()
        .map(|c| match c {
            '.' => KeyId::code("Period"),
            '5' => KeyId::code("Digit5"),
            c => KeyId::code(format!("Key{}", c.to_ascii_uppercase())),
        })
        .collect();
    let cfg = EdgeConfig {
        phrase: Some(Phrase {
            id: "conformance-phrase".into(),
            keys: phrase,
        }),
        ..EdgeConfig::default()
    };
    let mut out = Vec::new();
    // 1. Free text: two full windows and a cut remainder.
    let text = "the quick brown fox jumps over the lazy dog and then it types a longer sentence to fill<< windows";
    out.push((
        "free-text windows".to_string(),
        typed(text, 1_000_000)
            .iter()
            .map(event_json)
            .chain([json!({"cut": {}})])
            .collect(),
        cfg.clone(),
    ));
    // 2. The phrase typed amid other keys, twice.
    out.push((
        "fixed phrase".to_string(),
        typed("ab .tie5ronal x .tie5ronal", 5_000_000)
            .iter()
            .map(event_json)
            .collect(),
        cfg.clone(),
    ));
    // 3. A device attach, then machine-speed typing.
    let mut inj = vec![
        json!({"device": {"at_us": 9_000_000, "action": "attach", "bus": "usb", "vendor": "03eb", "product": "2042", "synthetic": false}}),
    ];
    inj.extend((0..30).map(|i| {
        let t = 9_100_000 + i * 2_000;
        event_json(
            &KeyEvent::new(
                KeyId::code(if i % 2 == 0 { "KeyR" } else { "KeyM" }),
                t,
                t + 1_000,
            )
            .unwrap(),
        )
    }));
    out.push(("injection after attach".to_string(), inj, cfg.clone()));
    // 4. Mouse: a move then a click.
    let mut mouse = Vec::new();
    for i in 0..12i64 {
        mouse.push(json!({"mouse": {"t_us": 20_000_000 + i * 16_000, "x_px": 100.0 + i as f64 * 7.0, "y_px": 200.0 + i as f64 * 3.0, "button": "none", "kind": "move"}}));
    }
    mouse.push(json!({"mouse": {"t_us": 20_300_000, "x_px": 184.0, "y_px": 236.0, "button": "left", "kind": "press"}}));
    mouse.push(json!({"mouse": {"t_us": 20_380_000, "x_px": 184.0, "y_px": 236.0, "button": "left", "kind": "release"}}));
    mouse.push(json!({"mouse": {"t_us": 23_000_000, "x_px": 300.0, "y_px": 300.0, "button": "none", "kind": "move"}}));
    out.push(("mouse actions".to_string(), mouse, cfg.clone()));
    // 5. Free text over every key class with pauses (> 1 s) and gaps that are no digraph (> 5 s), in a full
    //    window and a cut remainder, then a cut window of 20 keys with only 2 digraphs (class entries and DD quantiles absent, hold quantiles present).
    let mixed =
        "^hello, world; it's 7/12 - ^okay.\n\nthen |more text, 2024 |and# so on<< fine\n\n^yes";
    let sparse = "#a#b#c#d#e#f#g#h#i#j#k#l#m#n#o#p#qrs#t";
    out.push((
        "free-text every class, pauses, sparse window".to_string(),
        typed_mixed(mixed, 40_000_000)
            .iter()
            .map(event_json)
            .chain([json!({"cut": {}})])
            .chain(typed_mixed(sparse, 80_000_000).iter().map(event_json))
            .chain([json!({"cut": {}})])
            .collect(),
        cfg,
    ));
    out
}

fn run_case(inputs: &[Value], cfg: EdgeConfig) -> Vec<Value> {
    let mut edge = Edge::new(cfg).unwrap();
    let mut recs = Vec::new();
    for i in inputs {
        if let Some(k) = i.get("key") {
            let e = KeyEvent::new(
                KeyId::code(k["code"].as_str().unwrap()),
                k["press_us"].as_i64().unwrap(),
                k["release_us"].as_i64().unwrap(),
            )
            .unwrap();
            edge.key(&e, &mut recs);
        } else if let Some(m) = i.get("mouse") {
            let button = match m["button"].as_str().unwrap() {
                "left" => MouseButton::Left,
                "right" => MouseButton::Right,
                _ => MouseButton::None,
            };
            let kind = match m["kind"].as_str().unwrap() {
                "press" => MouseEventKind::Press,
                "release" => MouseEventKind::Release,
                "drag" => MouseEventKind::Drag,
                _ => MouseEventKind::Move,
            };
            edge.mouse(
                MouseEvent {
                    t_us: m["t_us"].as_i64().unwrap(),
                    x_px: m["x_px"].as_f64().unwrap(),
                    y_px: m["y_px"].as_f64().unwrap(),
                    button,
                    kind,
                },
                &mut recs,
            );
        } else if let Some(d) = i.get("device") {
            edge.device(
                DeviceRecord {
                    at_us: d["at_us"].as_i64().unwrap(),
                    action: if d["action"] == "attach" {
                        DeviceAction::Attach
                    } else {
                        DeviceAction::Detach
                    },
                    bus: d["bus"].as_str().unwrap().into(),
                    vendor: d["vendor"].as_str().map(Into::into),
                    product: d["product"].as_str().map(Into::into),
                    synthetic: d["synthetic"].as_bool().unwrap_or(false),
                },
                &mut recs,
            );
        } else if i.get("cut").is_some() {
            edge.cut(&mut recs);
        }
    }
    edge.finish(&mut recs);
    recs.iter()
        .map(|r| serde_json::to_value(keyprint_wire::convert::to_wire(r)).unwrap())
        .collect()
}

#[test]
fn edge_output_matches_the_committed_conformance_vectors() {
    let doc: Vec<Value> = cases()
        .into_iter()
        .map(|(name, inputs, cfg)| {
            let records = run_case(&inputs, cfg.clone());
            json!({
                "name": name,
                "config": {
                    "phrase": {"id": "conformance-phrase", "codes": cfg.phrase.as_ref().unwrap().keys.iter().map(|k| k.as_code().unwrap().to_string()).collect::<Vec<_>>()},
                    "window_keys": cfg.window_keys,
                },
                "inputs": inputs,
                "records": records,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(
        &json!({"vocab": keyprint_edge::vocab::VOCAB_VERSION, "cases": doc}),
    )
    .unwrap()
        + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/edge-conformance/v2.json");
    if std::env::var_os("KEYPRINT_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("docs/edge-conformance/v2.json");
    assert_eq!(
        committed, text,
        "edge output drifted from the conformance vectors"
    );
    // Every case produced what it is about, and every record passes the server's checks.
    let v: Value = serde_json::from_str(&committed).unwrap();
    let kinds = |i: usize| -> Vec<String> {
        v["cases"][i]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_object().unwrap().keys().next().unwrap().clone())
            .collect()
    };
    assert_eq!(kinds(0).iter().filter(|k| *k == "free_text").count(), 2);
    assert_eq!(kinds(1).iter().filter(|k| *k == "fixed_text").count(), 2);
    assert!(
        kinds(2).contains(&"injection".to_string()) && kinds(2).contains(&"device".to_string())
    );
    assert!(kinds(3).iter().all(|k| k == "mouse") && !kinds(3).is_empty());
    // Case 5: three windows; the first two use every class and have pauses; the sparse one has no DD quantile
    // but hold quantiles.
    let windows: Vec<&Value> = v["cases"][4]["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.get("free_text"))
        .collect();
    assert_eq!(windows.len(), 3);
    let vals = |w: &Value| w["values"].as_array().unwrap().clone();
    for c in 0..keyprint_edge::vocab::CLASSES {
        assert!(
            windows[..2].iter().any(|w| !vals(w)[c].is_null()),
            "class {c} has a hold mean"
        );
    }
    assert!(
        windows[..2]
            .iter()
            .any(|w| vals(w)[150].as_f64().unwrap() > 0.0),
        "pauses"
    );
    let sparse = vals(windows[2]);
    assert!(sparse[152..157].iter().all(Value::is_null));
    assert!(sparse[157..162].iter().all(|x| !x.is_null()));
    for c in v["cases"].as_array().unwrap() {
        for r in c["records"].as_array().unwrap() {
            let w: keyprint_wire::WireRecord = serde_json::from_value(r.clone()).unwrap();
            keyprint_wire::convert::from_wire(&w).unwrap();
        }
    }
}
