//! The body of the cargo-fuzz target `dataset_readers` (`fuzz/`), a plain function so that a stable test runs
//! it on generated input in every `cargo test`.

use crate::generic::{Syntax, parse_key_events, parse_mouse_events};
use crate::{aalto, balabit, cmu};

/// Any bytes through every reader of outside files: the generic key and mouse files (JSON Lines and CSV),
/// CMU, Balabit sessions and labels, Aalto. Each gives a value with a report of rejected rows or an error,
/// never a panic.
pub fn readers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for syntax in [Syntax::JsonLines, Syntax::Csv] {
        let _ = parse_key_events(&text, "fuzz", syntax);
        let _ = parse_mouse_events(&text, "fuzz", syntax);
    }
    let _ = cmu::parse_cmu(&text, "fuzz.csv");
    let _ = balabit::parse_session(&text, "fuzz", "user7", "session_1");
    let _ = balabit::parse_labels(&text, "labels.csv");
    let _ = aalto::parse_aalto(data, "1_keystrokes.txt");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    const SEEDS: [&str; 4] = [
        "{\"user\":\"a\",\"session\":\"s\",\"code\":\"KeyA\",\"press_us\":1000,\"release_us\":1100}\n",
        "user,session,code,press_us,release_us\na,s,KeyA,1000,1100\na,s,KeyB,1200,1290\n",
        "record timestamp,client timestamp,button,state,x,y\n0,0.0,NoButton,Move,10,20\n0,0.1,Left,Pressed,11,21\n",
        "PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE\n1\t1\tab\tab\t1\t1000\t1100\ta\t65\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn readers_take_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            super::readers(&data);
        }

        #[test]
        fn readers_take_mutated_files(seed in 0..SEEDS.len(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let mut b = SEEDS[seed].as_bytes().to_vec();
            for (i, v) in edits {
                let i = i % b.len();
                b[i] = v;
            }
            super::readers(&b);
        }
    }
}
