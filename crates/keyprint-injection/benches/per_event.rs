//! Cost per key event of keyprint's streaming injection detector and of the UKIP / DuckHunt baselines,
//! on a human-like stream (the detector's common path: no verdict) and on a stock-Ducky stream.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyprint_injection::detector::{InjectionConfig, InjectionDetector, StreamDetector};
use keyprint_injection::timing::{Timing, render};
use keyprint_injection::{DuckHunt, Ukip, ducky};

fn bench(c: &mut Criterion) {
    let text = "STRINGLN The quick brown fox jumps over the lazy dog, 1234567890 times!\nREPEAT 20";
    let script = ducky::parse(text).expect("valid");
    let mut g = c.benchmark_group("injection_per_event");
    for timing in [Timing::Human, Timing::Stock] {
        let events = render(&script, timing, 7);
        g.throughput(Throughput::Elements(events.len() as u64));
        let dets: Vec<(&str, fn() -> Box<dyn StreamDetector>)> = vec![
            ("keyprint", || {
                Box::new(InjectionDetector::new(InjectionConfig::default(), None))
            }),
            ("ukip", || Box::new(Ukip::default())),
            ("duckhunt", || Box::new(DuckHunt::default())),
        ];
        for (name, make) in dets {
            g.bench_function(format!("{name}/{timing}"), |b| {
                b.iter(|| {
                    let mut d = make();
                    for e in &events {
                        std::hint::black_box(d.observe(e));
                    }
                    d.score()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
