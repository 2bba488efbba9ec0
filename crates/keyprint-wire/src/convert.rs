//! The one conversion between the edge's records (`keyprint_edge::Record`, no serde) and their wire form
//! ([`WireRecord`]), used by every client and by the server. [`from_wire`] also checks the record against
//! the specification (`keyprint_edge::spec`).

use crate::{
    WireActionKind, WireDevice, WireDeviceAction, WireFixedText, WireInjection, WireMouseAction,
    WireRecord, WireWindow,
};
use keyprint_edge::spec::{SpecError, check_record};
use keyprint_edge::{
    ActionKind, DeviceAction, DeviceRecord, FixedTextSample, InjectionRecord, MouseActionRecord,
    Record, WindowSummary,
};

/// The wire form of a record.
pub fn to_wire(r: &Record) -> WireRecord {
    match r {
        Record::FixedText(f) => WireRecord::FixedText(WireFixedText {
            at_us: f.at_us,
            phrase: f.phrase.clone(),
            vector: f.vector.clone(),
        }),
        Record::FreeText(w) => WireRecord::FreeText(WireWindow {
            at_us: w.at_us,
            vocab: w.vocab,
            keys: w.keys,
            values: w.values.clone(),
        }),
        Record::Mouse(m) => WireRecord::Mouse(WireMouseAction {
            at_us: m.at_us,
            kind: match m.kind {
                ActionKind::MouseMove => WireActionKind::MouseMove,
                ActionKind::PointClick => WireActionKind::PointClick,
                ActionKind::DragDrop => WireActionKind::DragDrop,
            },
            features: m.features.clone(),
        }),
        Record::Injection(j) => WireRecord::Injection(WireInjection {
            at_us: j.at_us,
            keystroke: j.keystroke,
            rule: j.rule.clone(),
            score: j.score,
        }),
        Record::Device(d) => WireRecord::Device(WireDevice {
            at_us: d.at_us,
            action: match d.action {
                DeviceAction::Attach => WireDeviceAction::Attach,
                DeviceAction::Detach => WireDeviceAction::Detach,
            },
            bus: d.bus.clone(),
            vendor: d.vendor.clone(),
            product: d.product.clone(),
            synthetic: d.synthetic,
        }),
    }
}

/// The record of a wire record, checked against the specification.
///
/// # Errors
/// [`SpecError`] naming the field (relative to the record's variant, e.g. `free_text.values[3]`).
pub fn from_wire(w: &WireRecord) -> Result<Record, SpecError> {
    let (variant, r) = match w {
        WireRecord::FixedText(f) => (
            "fixed_text",
            Record::FixedText(FixedTextSample {
                at_us: f.at_us,
                phrase: f.phrase.clone(),
                vector: f.vector.clone(),
            }),
        ),
        WireRecord::FreeText(x) => (
            "free_text",
            Record::FreeText(WindowSummary {
                at_us: x.at_us,
                vocab: x.vocab,
                keys: x.keys,
                values: x.values.clone(),
            }),
        ),
        WireRecord::Mouse(m) => (
            "mouse",
            Record::Mouse(MouseActionRecord {
                at_us: m.at_us,
                kind: match m.kind {
                    WireActionKind::MouseMove => ActionKind::MouseMove,
                    WireActionKind::PointClick => ActionKind::PointClick,
                    WireActionKind::DragDrop => ActionKind::DragDrop,
                },
                features: m.features.clone(),
            }),
        ),
        WireRecord::Injection(j) => (
            "injection",
            Record::Injection(InjectionRecord {
                at_us: j.at_us,
                keystroke: j.keystroke,
                rule: j.rule.clone(),
                score: j.score,
            }),
        ),
        WireRecord::Device(d) => (
            "device",
            Record::Device(DeviceRecord {
                at_us: d.at_us,
                action: match d.action {
                    WireDeviceAction::Attach => DeviceAction::Attach,
                    WireDeviceAction::Detach => DeviceAction::Detach,
                },
                bus: d.bus.clone(),
                vendor: d.vendor.clone(),
                product: d.product.clone(),
                synthetic: d.synthetic,
            }),
        ),
    };
    check_record(&r).map_err(|e| SpecError {
        field: format!("{variant}.{}", e.field),
        reason: e.reason,
    })?;
    Ok(r)
}
