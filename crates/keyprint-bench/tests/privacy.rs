//! The attacker's test of the content-free wire (dataset-backed: needs `KEYPRINT_DATASETS`): what the
//! server stored under the old per-event wire reads back as plain text; what it stores now reads back no
//! better than the language's statistics alone (within 2.5 points).

#[test]
fn stored_summaries_reveal_no_more_than_language_statistics() {
    let Some(d) = std::env::var_os("KEYPRINT_DATASETS") else {
        eprintln!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let people = keyprint_bench::privacy::load_people(std::path::Path::new(&d), 20).unwrap();
    assert_eq!(people.len(), 20);
    let r = keyprint_bench::privacy::attack(&people, 20_000);
    eprintln!("{r:?}");
    // The old wire: a substitution cipher the solver reads back.
    assert!(r.old_wire_positional > 0.8, "{r:?}");
    assert!(
        r.old_wire.0 > r.prior.0 + 0.2 && r.old_wire.1 > r.prior.1 + 0.5,
        "{r:?}"
    );
    // The content-free summaries: no better than the prior, within 2.5 percentage points.
    assert!(r.summaries.0 <= r.prior.0 + 0.025, "letters: {r:?}");
    assert!(r.summaries.1 <= r.prior.1 + 0.025, "words: {r:?}");
}
