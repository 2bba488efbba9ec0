//! Cost per keystroke of continuous scoring (`ContinuousScorer::push`), window 50 keys, with the LDA
//! embedding, on synthetic typing (30 keys, 100 population people).

use criterion::{Criterion, criterion_group, criterion_main};
use keyprint_core::event::{KeyEvent, KeyId};
use keyprint_freetext::embed::Embedding;
use keyprint_freetext::{ContinuousScorer, FreeTextConfig, PopulationModel};
use std::hint::black_box;
use std::sync::Arc;

/// Deterministic pseudo-text: 30 keys, per-person rhythm.
fn typing(person: u64, n: usize) -> Vec<KeyEvent> {
    let mut x = person.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut t = 0i64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 30) as usize;
            t += 80_000 + (x % 120_000) as i64 + person as i64 * 1000;
            let hold = 60_000 + ((x >> 20) % 60_000) as i64;
            KeyEvent::new(KeyId::code(format!("K{k}")), t, t + hold).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let people: Vec<Vec<Vec<KeyEvent>>> = (0..100)
        .map(|p| (0..10).map(|_| typing(p, 60)).collect())
        .collect();
    let base = PopulationModel::train(&people, FreeTextConfig::default());
    // As in `keyprint bench aalto`: LDA embedding over 250 features, 25 dimensions.
    let emb = Embedding::train(&base, &people, 50, 250, 25);
    let model = Arc::new(base.with_embedding(emb));
    let owner = typing(500, 500);
    let profile = Arc::new(model.enrol(&[owner.as_slice()]));
    let probe = typing(501, 10_000);
    c.bench_function("freetext continuous push (window 50)", |b| {
        let mut scorer = ContinuousScorer::new(Arc::clone(&profile), 50, 10);
        let mut i = 0;
        b.iter(|| {
            let s = scorer.push(black_box(&probe[i % probe.len()]));
            i += 1;
            if i % probe.len() == 0 {
                scorer.reset();
            }
            s
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
