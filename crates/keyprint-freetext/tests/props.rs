//! Properties on random typing: pseudonymised identities change no score; the continuous scorer's first
//! full window equals the batch score; scores are finite.

use keyprint_core::event::{KeyEvent, KeyId};
use keyprint_core::pseudonym::KeyHasher;
use keyprint_freetext::embed::Embedding;
use keyprint_freetext::{ContinuousScorer, FreeTextConfig, PopulationModel};
use proptest::prelude::*;
use std::sync::Arc;

/// A sequence from (key index, gap ms, hold ms) triples.
fn seq(spec: &[(u8, u16, u16)]) -> Vec<KeyEvent> {
    let mut t = 0i64;
    spec.iter()
        .map(|&(k, gap, hold)| {
            t += gap as i64 * 1000;
            KeyEvent::new(
                KeyId::code(format!("Key{}", (b'A' + k) as char)),
                t,
                t + hold as i64 * 1000,
            )
            .unwrap()
        })
        .collect()
}

fn typing() -> impl Strategy<Value = Vec<(u8, u16, u16)>> {
    prop::collection::vec((0u8..6, 0u16..1500, 1u16..400), 5..40)
}

fn scores(people: &[Vec<Vec<KeyEvent>>], probe: &[KeyEvent]) -> (f64, Option<f64>) {
    let base = PopulationModel::train(people, FreeTextConfig::default());
    let emb = Embedding::train(&base, people, 50, 20, 3);
    let model = Arc::new(base.with_embedding(emb));
    let enrol: Vec<&[KeyEvent]> = people[0].iter().map(Vec::as_slice).collect();
    let prof = Arc::new(model.enrol(&enrol));
    let batch = prof.score(probe);
    let mut sc = ContinuousScorer::new(prof, probe.len(), 1);
    let cont = probe.iter().map(|e| sc.push(e)).last().flatten();
    (batch, cont)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn hashing_and_streaming_change_nothing(
        people in prop::collection::vec(prop::collection::vec(typing(), 2..4), 3..5),
        probe in typing(),
    ) {
        let people: Vec<Vec<Vec<KeyEvent>>> =
            people.iter().map(|p| p.iter().map(|s| seq(s)).collect()).collect();
        let probe = seq(&probe);
        let (batch, cont) = scores(&people, &probe);
        prop_assert!(batch.is_finite());
        prop_assert_eq!(cont, Some(batch));
        let h = KeyHasher::new(b"prop secret");
        let hp: Vec<Vec<Vec<KeyEvent>>> =
            people.iter().map(|p| p.iter().map(|s| h.hash_events(s)).collect()).collect();
        let (hb, hc) = scores(&hp, &h.hash_events(&probe));
        prop_assert_eq!(hb, batch);
        prop_assert_eq!(hc, cont);
    }
}
