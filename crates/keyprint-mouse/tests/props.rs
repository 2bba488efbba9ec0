//! Property tests: arbitrary (RDP-like, messy) event streams never crash the segmenter, and every action
//! it emits is well-formed with finite features.

use keyprint_core::event::{MouseButton, MouseEvent, MouseEventKind};
use keyprint_mouse::{N_FEATURES, SegmentRules, Segmenter, action_features};
use proptest::prelude::*;

fn event() -> impl Strategy<Value = (i64, f64, f64, u8)> {
    (
        -50_000i64..200_000,
        prop_oneof![0.0f64..2000.0, Just(65535.0), Just(-1.0)],
        prop_oneof![0.0f64..1200.0, Just(65535.0)],
        0u8..6,
    )
}

proptest! {
    #[test]
    fn messy_streams_segment_cleanly(steps in proptest::collection::vec(event(), 0..300)) {
        let mut t = 0i64;
        let events: Vec<MouseEvent> = steps
            .into_iter()
            .map(|(dt, x, y, k)| {
                t += dt; // may go backwards
                let (button, kind) = match k {
                    0 | 1 => (MouseButton::None, MouseEventKind::Move),
                    2 => (MouseButton::Left, MouseEventKind::Press),
                    3 => (MouseButton::Left, MouseEventKind::Release),
                    4 => (MouseButton::Left, MouseEventKind::Drag),
                    _ => (MouseButton::Wheel, MouseEventKind::ScrollDown),
                };
                MouseEvent { t_us: t, x_px: x, y_px: y, button, kind }
            })
            .collect();
        let rules = SegmentRules::default();
        let (actions, c) = Segmenter::segment(&events, rules);
        prop_assert_eq!(c.events_in, events.len() as u64);
        prop_assert_eq!(c.actions.iter().sum::<u64>(), actions.len() as u64);
        for a in &actions {
            prop_assert!(a.points.len() >= rules.min_points);
            prop_assert!(a.points.windows(2).all(|w| w[0].t_us <= w[1].t_us));
            prop_assert!(a.points.iter().all(|p| (0.0..=rules.max_coord_px).contains(&p.x_px)
                && (0.0..=rules.max_coord_px).contains(&p.y_px)));
            let f = action_features(a);
            prop_assert_eq!(f.len(), N_FEATURES);
            prop_assert!(f.iter().all(|v| v.is_finite()));
        }
    }
}
