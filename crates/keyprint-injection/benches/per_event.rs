//! Cost per key event of keyprint's streaming injection detector (rules only, and with the owner
//! profile and key-context window checks every 10 keys over 70) and of the UKIP / DuckHunt baselines, on a
//! human-timed stream (the common path: no verdict) and on a stock-Ducky stream.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyprint_core::detector::{Detector, Enrolment};
use keyprint_freetext::{FreeTextConfig, FreeTextDetector, PopulationModel};
use keyprint_injection::context::KeyContextCheck;
use keyprint_injection::detector::{
    InjectionConfig, InjectionDetector, StreamDetector, WindowCheck,
};
use keyprint_injection::timing::{Timing, render};
use keyprint_injection::{DuckHunt, Ukip, ducky};
use std::sync::Arc;

/// A factory of fresh detectors.
type MakeDetector<'a> = Box<dyn Fn() -> Box<dyn StreamDetector> + 'a>;

const TEXT: &str =
    "STRINGLN The quick brown fox jumps over the lazy dog, 1234567890 times!\nREPEAT 20";

fn bench(c: &mut Criterion) {
    let script = ducky::parse(TEXT).expect("valid");
    // A synthetic population (human-timed renderings; no data set needed) for the window checks.
    let people: Vec<Vec<Vec<keyprint_core::KeyEvent>>> = (0..20)
        .map(|p| vec![render(&script, Timing::Human, 100 + p)])
        .collect();
    let model = Arc::new(PopulationModel::train(&people, FreeTextConfig::default()));
    let owner = FreeTextDetector {
        model: model.clone(),
    }
    .fit(&Enrolment::one_class(&people[0]))
    .expect("enrols");
    let owner = Arc::new(WindowCheck {
        template: owner,
        threshold: f64::INFINITY,
    });
    let context = Arc::new(WindowCheck {
        template: Box::new(KeyContextCheck::new(model)),
        threshold: f64::INFINITY,
    });
    let mut g = c.benchmark_group("injection_per_event");
    for timing in [Timing::Human, Timing::Stock] {
        let events = render(&script, timing, 7);
        g.throughput(Throughput::Elements(events.len() as u64));
        let make: Vec<(&str, MakeDetector<'_>)> = vec![
            (
                "keyprint",
                Box::new(|| Box::new(InjectionDetector::new(InjectionConfig::default(), None))),
            ),
            (
                "keyprint+owner+context",
                Box::new(|| {
                    Box::new(
                        InjectionDetector::new(InjectionConfig::default(), None)
                            .with_owner(share(&owner))
                            .with_key_context(share(&context)),
                    )
                }),
            ),
            ("ukip", Box::new(|| Box::new(Ukip::default()))),
            ("duckhunt", Box::new(|| Box::new(DuckHunt::default()))),
        ];
        for (name, make) in &make {
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

struct Shared(Arc<WindowCheck>);
impl keyprint_core::detector::Template<Vec<keyprint_core::KeyEvent>> for Shared {
    fn score(&self, probe: &Vec<keyprint_core::KeyEvent>) -> f64 {
        self.0.template.score(probe)
    }
}
fn share(c: &Arc<WindowCheck>) -> WindowCheck {
    WindowCheck {
        template: Box::new(Shared(c.clone())),
        threshold: c.threshold,
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
