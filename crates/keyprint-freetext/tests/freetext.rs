//! Free-text model on the real Aalto excerpt (keyprint-datasets/tests/fixtures/aalto; non-commercial,
//! test-only) and, when `KEYPRINT_DATASETS` is set, on a slice of the development set.

use keyprint_core::detector::{Detector, Enrolment};
use keyprint_core::eval::{roc, summarize};
use keyprint_core::event::KeyEvent;
use keyprint_core::pseudonym::KeyHasher;
use keyprint_datasets::aalto::read_aalto_dir;
use keyprint_datasets::datasets_root;
use keyprint_freetext::embed::Embedding;
use keyprint_freetext::{ContinuousScorer, FreeTextConfig, FreeTextDetector, PopulationModel};
use std::path::PathBuf;
use std::sync::Arc;

type Person = Vec<Vec<KeyEvent>>;

fn fixture_people() -> Vec<Person> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keyprint-datasets/tests/fixtures/aalto");
    read_aalto_dir(&dir, None)
        .unwrap()
        .data
        .into_iter()
        .map(|p| p.sequences.into_iter().map(|s| s.events).collect())
        .collect()
}

/// Population = sequences 1–10 of every fixture person; with an embedding.
fn model_of(people: &[Person]) -> Arc<PopulationModel> {
    let train: Vec<Person> = people.iter().map(|p| p[..10].to_vec()).collect();
    let m = PopulationModel::train(&train, FreeTextConfig::default());
    let e = Embedding::train(&m, &train, 50, 100, 2);
    Arc::new(m.with_embedding(e))
}

/// Scores of every probe (sequences 11–15 of everyone, first 50 keys) against every owner (enrolled on
/// sequences 1–5).
fn all_scores(people: &[Person]) -> Vec<Vec<f64>> {
    scores_with(&model_of(people), people)
}

fn scores_with(model: &Arc<PopulationModel>, people: &[Person]) -> Vec<Vec<f64>> {
    people
        .iter()
        .map(|owner| {
            let enrol: Vec<&[KeyEvent]> =
                owner[..5].iter().map(|s| &s[..50.min(s.len())]).collect();
            let prof = model.enrol(&enrol);
            people
                .iter()
                .flat_map(|p| p[10..15].iter().map(|s| prof.score(&s[..50.min(s.len())])))
                .collect()
        })
        .collect()
}

#[test]
fn hashed_identities_give_identical_scores() {
    let people = fixture_people();
    let h = KeyHasher::new(b"test secret");
    let hashed: Vec<Person> = people
        .iter()
        .map(|p| p.iter().map(|s| h.hash_events(s)).collect())
        .collect();
    let plain = all_scores(&people);
    let pseud = all_scores(&hashed);
    assert_eq!(plain, pseud);
    assert!(plain.iter().flatten().all(|s| s.is_finite()));
    // And a different secret changes nothing either.
    let h2 = KeyHasher::new(b"another secret");
    let hashed2: Vec<Person> = people
        .iter()
        .map(|p| p.iter().map(|s| h2.hash_events(s)).collect())
        .collect();
    assert_eq!(plain, all_scores(&hashed2));
}

#[test]
fn owners_score_lower_than_other_fixture_people() {
    let people = fixture_people();
    // Three people cannot train an embedding worth the name: per-feature likelihood ratios only.
    let train: Vec<Person> = people.iter().map(|p| p[..10].to_vec()).collect();
    let model = Arc::new(PopulationModel::train(&train, FreeTextConfig::default()));
    let scores = scores_with(&model, &people);
    for (i, row) in scores.iter().enumerate() {
        let genuine = &row[i * 5..i * 5 + 5];
        let impostor: Vec<f64> = row
            .iter()
            .enumerate()
            .filter(|(j, _)| j / 5 != i)
            .map(|(_, &s)| s)
            .collect();
        let r = roc(genuine, &impostor).unwrap();
        println!("owner {i}: AUC {}", r.auc());
        assert!(r.auc() > 0.8, "owner {i}: AUC {}", r.auc());
    }
}

#[test]
fn continuous_scorer_matches_batch_on_the_first_window() {
    let people = fixture_people();
    let model = model_of(&people);
    let enrol: Vec<&[KeyEvent]> = people[0][..5].iter().map(Vec::as_slice).collect();
    let prof = Arc::new(model.enrol(&enrol));
    let probe: Vec<KeyEvent> = people[1][10..12].concat();
    let l = 40;
    let mut sc = ContinuousScorer::new(Arc::clone(&prof), l, 10);
    let mut out = Vec::new();
    for e in &probe {
        out.push(sc.push(e));
    }
    assert!(out[..9].iter().all(Option::is_none));
    assert!(out[9..].iter().all(Option::is_some));
    assert_eq!(out[l - 1], Some(prof.score(&probe[..l])));
    assert_eq!(sc.keys_in_window(), l);
    sc.reset();
    assert_eq!(sc.keys_in_window(), 0);
    assert_eq!(sc.push(&probe[0]), None);
    // Z-normalised: same window, affine score.
    let mut zs = ContinuousScorer::new(Arc::clone(&prof), l, 10).with_znorm((1.0, 2.0));
    let last = probe[..l].iter().map(|e| zs.push(e)).last().flatten();
    assert_eq!(last, Some((prof.score(&probe[..l]) - 1.0) / 2.0));
}

#[test]
fn fusion_fitted_on_population_is_finite_and_separates() {
    let people = fixture_people();
    let model = model_of(&people);
    let f = model.fit_fusion(&people, 5, 50);
    assert!(f.bias.is_finite() && f.weights.iter().all(|w| w.is_finite()));
    assert_ne!(f, keyprint_freetext::Fusion::default());
    // Too few sequences for g: nobody usable, default fusion.
    assert_eq!(
        model.fit_fusion(&people, 15, 50),
        keyprint_freetext::Fusion::default()
    );
}

#[test]
fn detector_contract() {
    let people = fixture_people();
    let det = FreeTextDetector {
        model: model_of(&people),
    };
    assert!(det.fit(&Enrolment::one_class(&[])).is_err());
    let t = det.fit(&Enrolment::one_class(&people[2][..5])).unwrap();
    let enrol: Vec<&[KeyEvent]> = people[2][..5].iter().map(Vec::as_slice).collect();
    let prof = det.model.enrol(&enrol);
    assert_eq!(t.score(&people[2][12]), prof.score(&people[2][12]));
}

#[test]
fn development_set_slice() {
    let Some(root) = datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let dir = root.join("aalto-keystrokes-dev");
    if !dir.is_dir() {
        println!("skipped: {} missing", dir.display());
        return;
    }
    let people: Vec<Person> = read_aalto_dir(&dir, Some(240))
        .unwrap()
        .data
        .into_iter()
        .filter(|p| p.sequences.len() == 15)
        .map(|p| p.sequences.into_iter().map(|s| s.events).collect())
        .collect();
    // Disjoint: the first 160 are the population, the rest are evaluated (G = 5, L = 50).
    let (pop, eval) = people.split_at(160);
    let m = PopulationModel::train(pop, FreeTextConfig::default());
    let e = Embedding::train(&m, pop, 50, 200, 60);
    let model = Arc::new(m.with_embedding(e));
    let cut = |s: &Vec<KeyEvent>| s[..50.min(s.len())].to_vec();
    let eers: Vec<f64> = eval
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let enrol: Vec<Vec<KeyEvent>> = p[..5].iter().map(cut).collect();
            let refs: Vec<&[KeyEvent]> = enrol.iter().map(Vec::as_slice).collect();
            let prof = model.enrol(&refs);
            let g: Vec<f64> = p[10..15].iter().map(|s| prof.score(&cut(s))).collect();
            let imp: Vec<f64> = eval
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| prof.score(&cut(&q[10])))
                .collect();
            roc(&g, &imp).unwrap().eer()
        })
        .collect();
    let s = summarize(&eers);
    println!(
        "development slice: {} evaluated, mean EER {:.4}",
        s.n, s.mean
    );
    // Untuned fusion (plain LLR sum), no T-norm, small population: a loose floor that chance (0.5) fails.
    assert!(s.mean < 0.2, "mean EER {}", s.mean);
}
