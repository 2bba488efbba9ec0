//! Cost of one comparison (template × probe) for every fixed-text detector, on CMU-shaped vectors.
use criterion::{Criterion, criterion_group, criterion_main};
use keyprint_core::Detector;
use keyprint_core::detector::Enrolment;
use keyprint_core::detectors::{KeyprintOneClass, killourhy_maxion};
use keyprint_core::keystroke::FixedTextLayout;
use rand::{Rng, SeedableRng};

fn bench(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let enrol: Vec<Vec<f64>> = (0..200)
        .map(|_| (0..31).map(|_| rng.random_range(50.0..300.0)).collect())
        .collect();
    let probe: Vec<f64> = (0..31).map(|_| rng.random_range(50.0..300.0)).collect();
    let mut dets: Vec<Box<dyn Detector<Vec<f64>>>> =
        killourhy_maxion().into_iter().map(|(d, _)| d).collect();
    dets.push(Box::new(KeyprintOneClass::for_layout(
        &FixedTextLayout::cmu_strong_password(),
    )));
    let mut g = c.benchmark_group("comparison");
    for d in dets {
        let t = d.fit(&Enrolment::one_class(&enrol)).unwrap();
        g.bench_function(d.name().to_string(), |b| {
            b.iter(|| std::hint::black_box(t.score(&probe)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
