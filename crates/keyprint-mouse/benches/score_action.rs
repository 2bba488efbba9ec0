//! Cost of scoring one mouse action: features of a 30-sample action, then one comparison against a fitted
//! random-forest (100 trees) and one-class template.
use criterion::{Criterion, criterion_group, criterion_main};
use keyprint_core::detector::{Detector, Enrolment};
use keyprint_core::event::{MouseButton, MouseEvent, MouseEventKind};
use keyprint_mouse::{Action, ActionKind, MouseForest, MouseOneClass, action_features};
use rand::{Rng, SeedableRng};

fn action(rng: &mut rand_chacha::ChaCha8Rng, speed: f64) -> Action {
    let (mut x, mut y, mut t) = (500.0, 400.0, 0i64);
    let points = (0..30)
        .map(|_| {
            x += speed * rng.random_range(0.5..1.5);
            y += speed * rng.random_range(-0.5..0.5);
            t += rng.random_range(8_000..20_000);
            MouseEvent {
                t_us: t,
                x_px: x,
                y_px: y,
                button: MouseButton::None,
                kind: MouseEventKind::Move,
            }
        })
        .collect();
    Action {
        kind: ActionKind::MouseMove,
        points,
        press_index: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let own: Vec<Vec<f64>> = (0..2000)
        .map(|_| action_features(&action(&mut rng, 10.0)))
        .collect();
    let bg: Vec<Vec<Vec<f64>>> = (0..9)
        .map(|k| {
            (0..500)
                .map(|_| action_features(&action(&mut rng, 6.0 + k as f64)))
                .collect()
        })
        .collect();
    let probe = action(&mut rng, 10.0);
    let rf = MouseForest::default()
        .fit(&Enrolment {
            genuine: &own,
            background: &bg,
        })
        .unwrap();
    let oc = MouseOneClass::default()
        .fit(&Enrolment::one_class(&own))
        .unwrap();
    let mut g = c.benchmark_group("score_one_action");
    g.bench_function("features", |b| {
        b.iter(|| std::hint::black_box(action_features(&probe)))
    });
    g.bench_function("features+random-forest", |b| {
        b.iter(|| std::hint::black_box(rf.score(&action_features(&probe))))
    });
    g.bench_function("features+one-class", |b| {
        b.iter(|| std::hint::black_box(oc.score(&action_features(&probe))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
