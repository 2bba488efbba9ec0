//! `keyprint bench privacy`: can an attacker who holds everything the server stores read back what was
//! typed? Measured on real typing (Aalto participants) for three attackers:
//!
//! * **prior** — knows only the language's statistics (letter and word frequencies of an English corpus
//!   unrelated to the test text, `assets/lm-corpus.txt`), and nothing the server stored;
//! * **old wire** — holds the per-event stream earlier releases stored: every key as a per-tenant keyed hash
//!   (HMAC), in typing order. It runs a substitution-cipher solver: symbols initialised by frequency rank,
//!   then simulated annealing (random swaps among the 40 most frequent symbols; temperature 30 → 0.3) on the log-likelihood of the
//!   decoded stream (symbols taken for non-letter keys dropped; mean per character, scaled by the stream's
//!   length) under a character 4-gram model of the corpus (letters and space; interpolated back-off), best
//!   of 4 seeded restarts;
//! * **content-free** — holds the edge's window summaries (`keyprint_edge::vocab`). It knows which class
//!   entries are present (they need ≥ 2 observations) and which class pairs occurred as digraphs ≥ 2 times, and
//!   uses them: a letter bag drawn from the prior restricted to classes present, and the most frequent
//!   corpus words whose every class digraph is present in the window.
//!
//! Per window of 50 consecutive keystrokes (the edge's window), each attacker gives (a) a bag of letters as
//! large as the window's true letter count (a generous assumption) — *letters recovered* is the bag overlap
//! `Σ_c min(guess_c, true_c) / n_letters` — and (b) as many distinct words as the window's true words of at
//! least 3 letters — *words recovered* is the share of guessed words that were typed in the window. For the old
//! wire, the position-wise letter recovery (the share of letter keystrokes decoded to their letter) is also
//! reported. Reported as the mean over windows.

use keyprint_core::event::KeyEvent;
use keyprint_core::pseudonym::KeyHasher;
use keyprint_datasets::aalto::{locate, read_aalto_dir};
use keyprint_edge::vocab::{CLASSES, key_class, summarize};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;

/// The attacker's corpus (see `assets/lm-corpus.README.md`).
pub const LM_CORPUS: &str = include_str!("../assets/lm-corpus.txt");

/// Arguments of `keyprint bench privacy`.
#[derive(Clone, Debug, clap::Args)]
pub struct PrivacyArgs {
    /// Folder holding `aalto-keystrokes-dev/keystroke-samples` (or the samples folder itself).
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Participants (the first N by id with 15 sequences).
    #[arg(long, default_value_t = 20)]
    pub people: usize,
    /// Hill-climbing iterations per restart of the substitution solver.
    #[arg(long, default_value_t = 20_000)]
    pub iterations: usize,
}

/// What each attacker recovered (means over windows, 0–1).
#[derive(Clone, Debug, PartialEq)]
pub struct PrivacyReport {
    /// Keystrokes attacked.
    pub keystrokes: usize,
    /// Windows scored.
    pub windows: usize,
    /// Prior-only attacker: letters, words.
    pub prior: (f64, f64),
    /// Old per-event wire: letters, words.
    pub old_wire: (f64, f64),
    /// Old wire, position-wise share of letter keystrokes decoded right.
    pub old_wire_positional: f64,
    /// Content-free summaries: letters, words.
    pub summaries: (f64, f64),
}

const ALPHA: usize = 28; // a-z, space (26), other (27)
const SPACE: u8 = 26;
const OTHER: u8 = 27;

fn char_index(c: char) -> u8 {
    match c {
        'a'..='z' => c as u8 - b'a',
        'A'..='Z' => c as u8 - b'A',
        ' ' | '\n' | '\t' => SPACE,
        _ => OTHER,
    }
}

fn code_char(code: &str) -> u8 {
    match code {
        "Space" => SPACE,
        c if c.len() == 4 && c.starts_with("Key") => c.as_bytes()[3].to_ascii_lowercase() - b'a',
        _ => OTHER,
    }
}

/// The language model: 4-gram log-probabilities over [`ALPHA`] symbols, letter frequencies, word ranks.
struct Lm {
    quad: Vec<f32>,
    letter_freq: [f64; 26],
    words: Vec<String>,
    /// Symbols by frequency, most frequent first (letters and space only).
    rank: Vec<u8>,
}

impl Lm {
    fn train(text: &str) -> Lm {
        // Letters and spaces only: the attacker drops what it takes for non-letter keys, as below.
        let seq: Vec<u8> = text
            .chars()
            .map(char_index)
            .filter(|&c| c != OTHER)
            .collect();
        // Interpolated back-off (Witten-Bell-like with a fixed weight β = 5): P_k(d | ctx) =
        // (c(ctx d) + β·P_{k-1}(d | shorter ctx)) / (c(ctx) + β), down to add-one unigrams.
        const BETA: f64 = 5.0;
        let mut c1 = vec![1f64; ALPHA];
        let mut c2 = vec![0f64; ALPHA.pow(2)];
        let mut c3 = vec![0f64; ALPHA.pow(3)];
        let mut c4 = vec![0f64; ALPHA.pow(4)];
        for (i, &x) in seq.iter().enumerate() {
            c1[x as usize] += 1.0;
            if i >= 1 {
                c2[seq[i - 1] as usize * ALPHA + x as usize] += 1.0;
            }
            if i >= 2 {
                c3[(seq[i - 2] as usize * ALPHA + seq[i - 1] as usize) * ALPHA + x as usize] += 1.0;
            }
            if i >= 3 {
                c4[idx4(seq[i - 3], seq[i - 2], seq[i - 1], x)] += 1.0;
            }
        }
        let t1: f64 = c1.iter().sum();
        let p1: Vec<f64> = c1.iter().map(|c| c / t1).collect();
        let smooth = |counts: &[f64], lower: &dyn Fn(usize) -> f64| -> Vec<f64> {
            let mut out = vec![0f64; counts.len()];
            for ctx in 0..counts.len() / ALPHA {
                let row = &counts[ctx * ALPHA..(ctx + 1) * ALPHA];
                let total: f64 = row.iter().sum();
                for j in 0..ALPHA {
                    out[ctx * ALPHA + j] =
                        (row[j] + BETA * lower(ctx * ALPHA + j)) / (total + BETA);
                }
            }
            out
        };
        let p2 = smooth(&c2, &|i| p1[i % ALPHA]);
        let p3 = smooth(&c3, &|i| p2[i % (ALPHA * ALPHA)]);
        let p4 = smooth(&c4, &|i| p3[i % (ALPHA * ALPHA * ALPHA)]);
        let quad: Vec<f32> = p4.iter().map(|p| p.ln() as f32).collect();
        let mut freq = [0f64; ALPHA];
        for &c in &seq {
            freq[c as usize] += 1.0;
        }
        let letters: f64 = freq[..26].iter().sum();
        let mut letter_freq = [0f64; 26];
        for i in 0..26 {
            letter_freq[i] = freq[i] / letters;
        }
        let mut rank: Vec<u8> = (0..27).collect();
        rank.sort_by(|a, b| freq[*b as usize].total_cmp(&freq[*a as usize]));
        let mut wc: HashMap<String, usize> = HashMap::new();
        for w in text.split(|c: char| !c.is_ascii_alphabetic()) {
            if w.len() >= 3 {
                *wc.entry(w.to_ascii_lowercase()).or_default() += 1;
            }
        }
        let mut words: Vec<(String, usize)> = wc.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Lm {
            quad,
            letter_freq,
            words: words.into_iter().map(|w| w.0).collect(),
            rank,
        }
    }
}

fn idx4(a: u8, b: u8, c: u8, d: u8) -> usize {
    ((a as usize * ALPHA + b as usize) * ALPHA + c as usize) * ALPHA + d as usize
}

/// Substitution solver over a symbol stream: returns symbol → character.
fn solve(stream: &[u32], lm: &Lm, iterations: usize) -> HashMap<u32, u8> {
    let mut freq: HashMap<u32, usize> = HashMap::new();
    for s in stream {
        *freq.entry(*s).or_default() += 1;
    }
    let mut syms: Vec<(u32, usize)> = freq.into_iter().collect();
    syms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let id: HashMap<u32, usize> = syms.iter().enumerate().map(|(i, s)| (s.0, i)).collect();
    let dense: Vec<usize> = stream.iter().map(|s| id[s]).collect();
    // The decoded stream with the symbols taken for non-letter keys dropped, scored as the mean 4-gram
    // log-probability per character: dropping a symbol only helps when the rest reads better without it.
    let score = |m: &[u8]| -> f64 {
        let (mut sum, mut n, mut ctx) = (0f64, 0usize, [SPACE; 3]);
        for &d in &dense {
            let c = m[d];
            if c == OTHER {
                continue;
            }
            sum += lm.quad[idx4(ctx[0], ctx[1], ctx[2], c)] as f64;
            n += 1;
            ctx = [ctx[1], ctx[2], c];
        }
        if n == 0 {
            f64::NEG_INFINITY
        } else {
            sum / n as f64 * dense.len() as f64
        }
    };
    let n = syms.len();
    let init: Vec<u8> = (0..n)
        .map(|i| lm.rank.get(i).copied().unwrap_or(OTHER))
        .collect();
    let mut best = (f64::NEG_INFINITY, init.clone());
    for restart in 0..4u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(restart);
        let mut m = init.clone();
        if restart > 0 {
            for _ in 0..restart * 3 {
                let (a, b) = (
                    rng.random_range(0..n.min(30)),
                    rng.random_range(0..n.min(30)),
                );
                m.swap(a, b);
            }
        }
        let mut cur = score(&m);
        let mut keep = (cur, m.clone());
        for it in 0..iterations {
            // Simulated annealing: temperature falls geometrically from 30 to 0.3 (log-likelihood units).
            let temp = 30.0 * (0.01f64).powf(it as f64 / iterations.max(1) as f64);
            let mut cand = m.clone();
            // Swaps only: a key has one symbol, so letters stay a one-to-one assignment.
            let a = rng.random_range(0..n.min(40));
            let b = rng.random_range(0..n.min(40));
            cand.swap(a, b);
            let s = score(&cand);
            if s > cur || rng.random_bool(((s - cur) / temp).exp().min(1.0)) {
                cur = s;
                m = cand;
                if cur > keep.0 {
                    keep = (cur, m.clone());
                }
            }
        }
        if keep.0 > best.0 {
            best = keep;
        }
    }
    syms.iter()
        .enumerate()
        .map(|(i, s)| (s.0, best.1[i]))
        .collect()
}

fn words_of(chars: &[u8]) -> Vec<String> {
    let s: String = chars
        .iter()
        .map(|&c| if c < 26 { (b'a' + c) as char } else { ' ' })
        .collect();
    let mut v: Vec<String> = s
        .split(' ')
        .filter(|w| w.len() >= 3)
        .map(String::from)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn letter_bag(chars: &[u8]) -> [usize; 26] {
    let mut b = [0; 26];
    for &c in chars {
        if c < 26 {
            b[c as usize] += 1;
        }
    }
    b
}

fn bag_overlap(guess: &[usize; 26], truth: &[usize; 26]) -> f64 {
    let n: usize = truth.iter().sum();
    if n == 0 {
        return 0.0;
    }
    guess
        .iter()
        .zip(truth)
        .map(|(g, t)| g.min(t))
        .sum::<usize>() as f64
        / n as f64
}

/// A bag of `n` letters following `weights` (largest-remainder rounding).
fn bag_from(weights: &[f64; 26], n: usize) -> [usize; 26] {
    let total: f64 = weights.iter().sum();
    let mut b = [0usize; 26];
    if total <= 0.0 {
        return b;
    }
    let exact: Vec<f64> = weights.iter().map(|w| w / total * n as f64).collect();
    for i in 0..26 {
        b[i] = exact[i].floor() as usize;
    }
    let mut rest: Vec<usize> = (0..26).collect();
    rest.sort_by(|a, c| {
        (exact[*c] - exact[*c].floor()).total_cmp(&(exact[*a] - exact[*a].floor()))
    });
    let mut left = n - b.iter().sum::<usize>();
    for i in rest {
        if left == 0 {
            break;
        }
        b[i] += 1;
        left -= 1;
    }
    b
}

fn word_precision(guess: &[String], truth: &[String]) -> f64 {
    if guess.is_empty() {
        return 0.0;
    }
    guess.iter().filter(|g| truth.contains(g)).count() as f64 / guess.len() as f64
}

fn letter_class(c: u8) -> usize {
    key_class(&format!("Key{}", (b'A' + c) as char))
}

/// Runs the three attackers on `people` (each a list of sequences of key events with W3C codes).
pub fn attack(people: &[Vec<Vec<KeyEvent>>], iterations: usize) -> PrivacyReport {
    let lm = Lm::train(LM_CORPUS);
    let hasher = KeyHasher::new(b"tenant secret the attacker does not have");
    // The stored streams, in typing order, one person after another.
    let mut keys: Vec<KeyEvent> = Vec::new();
    let mut windows: Vec<std::ops::Range<usize>> = Vec::new();
    for p in people {
        let mut stream: Vec<KeyEvent> = p.iter().flatten().cloned().collect();
        stream.sort_by_key(|e| e.press_us);
        let start = keys.len();
        keys.extend(stream);
        let mut w = start;
        while w + 50 <= keys.len() {
            windows.push(w..w + 50);
            w += 50;
        }
    }
    let truth: Vec<u8> = keys
        .iter()
        .map(|e| code_char(e.key.as_code().unwrap_or("")))
        .collect();
    let symbols: Vec<u32> = keys
        .iter()
        .map(|e| match hasher.hash_key(&e.key) {
            keyprint_core::KeyId::Hashed(h) => (h >> 32) as u32,
            keyprint_core::KeyId::Code(_) => 0,
        })
        .collect();
    let mapping = solve(&symbols, &lm, iterations);
    let decoded: Vec<u8> = symbols.iter().map(|s| mapping[s]).collect();
    let positional = {
        let letters: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] < 26).collect();
        letters.iter().filter(|&&i| decoded[i] == truth[i]).count() as f64
            / letters.len().max(1) as f64
    };
    let mut acc = [[0f64; 2]; 3];
    for w in &windows {
        let t = &truth[w.clone()];
        let tb = letter_bag(t);
        let n_letters: usize = tb.iter().sum();
        let tw = words_of(t);
        let k = tw.len();
        // Prior only.
        let prior_bag = bag_from(&lm.letter_freq, n_letters);
        let prior_words: Vec<String> = lm.words.iter().take(k).cloned().collect();
        acc[0][0] += bag_overlap(&prior_bag, &tb);
        acc[0][1] += word_precision(&prior_words, &tw);
        // Old wire: decoded stream.
        let d = &decoded[w.clone()];
        let mut dw = words_of(d);
        dw.sort_by_key(|x| lm.words.iter().position(|y| y == x).unwrap_or(usize::MAX));
        dw.truncate(k);
        acc[1][0] += bag_overlap(&bag_from(&letter_bag(d).map(|x| x as f64), n_letters), &tb);
        acc[1][1] += word_precision(&dw, &tw);
        // Content-free: the window's summary, as stored.
        let summary = summarize(&keys[w.clone()], |e| {
            e.key
                .as_code()
                .map_or(keyprint_edge::vocab::CLASSES - 1, key_class)
        })
        .expect("50 keys");
        let hold_present: Vec<bool> = (0..CLASSES).map(|c| summary[c].is_some()).collect();
        let pair_present = |a: usize, b: usize| summary[2 * CLASSES + a * CLASSES + b].is_some();
        let mut wts = lm.letter_freq;
        for (c, w) in wts.iter_mut().enumerate() {
            if !hold_present[letter_class(c as u8)] {
                *w = 0.0;
            }
        }
        let cf_bag = bag_from(&wts, n_letters);
        let consistent = |word: &str| {
            let cls: Vec<usize> = word.bytes().map(|b| letter_class(b - b'a')).collect();
            cls.iter().all(|&c| hold_present[c]) && cls.windows(2).all(|p| pair_present(p[0], p[1]))
        };
        let cf_words: Vec<String> = lm
            .words
            .iter()
            .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase()) && consistent(w))
            .take(k)
            .cloned()
            .collect();
        acc[2][0] += bag_overlap(&cf_bag, &tb);
        acc[2][1] += word_precision(&cf_words, &tw);
    }
    let n = windows.len().max(1) as f64;
    PrivacyReport {
        keystrokes: keys.len(),
        windows: windows.len(),
        prior: (acc[0][0] / n, acc[0][1] / n),
        old_wire: (acc[1][0] / n, acc[1][1] / n),
        old_wire_positional: positional,
        summaries: (acc[2][0] / n, acc[2][1] / n),
    }
}

/// Loads the first `n` Aalto participants with 15 sequences.
///
/// # Errors
/// When the data set cannot be read.
pub fn load_people(data: &std::path::Path, n: usize) -> anyhow::Result<Vec<Vec<Vec<KeyEvent>>>> {
    let dir = locate(data);
    let loaded = read_aalto_dir(&dir, Some(n * 2 + 10))?;
    Ok(loaded
        .data
        .into_iter()
        .filter(|p| p.sequences.len() >= 15)
        .take(n)
        .map(|p| p.sequences.into_iter().take(15).map(|s| s.events).collect())
        .collect())
}

/// Runs the benchmark and prints the table.
///
/// # Errors
/// When the data set cannot be read.
pub fn run(args: &PrivacyArgs) -> anyhow::Result<PrivacyReport> {
    anyhow::ensure!(args.people >= 1, "--people must be at least 1");
    let people = load_people(&args.data, args.people)?;
    let r = attack(&people, args.iterations);
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    println!(
        "privacy: {} Aalto participants, {} keystrokes, {} windows of 50 keys; attacker's language model: \
         assets/lm-corpus.txt (Python documentation prose, unrelated to the typed text)",
        people.len(),
        r.keystrokes,
        r.windows
    );
    let mut t = crate::table::Table::new([
        "what the attacker holds",
        "letters recovered",
        "words recovered",
    ]);
    t.push([
        "language statistics only (prior)".to_string(),
        pct(r.prior.0),
        pct(r.prior.1),
    ]);
    t.push([
        format!(
            "old wire: keyed-hash key stream in order (solver; position-wise {})",
            pct(r.old_wire_positional)
        ),
        pct(r.old_wire.0),
        pct(r.old_wire.1),
    ]);
    t.push([
        "content-free window summaries (what the server now stores)".to_string(),
        pct(r.summaries.0),
        pct(r.summaries.1),
    ]);
    println!("\n{}", t.to_markdown());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lm_ranks_space_and_e_first() {
        let lm = Lm::train(LM_CORPUS);
        assert_eq!(lm.rank[0], SPACE, "{:?}", lm.rank);
        assert_eq!(lm.rank[1], 4);
        assert!(lm.letter_freq[4] > 0.09);
        assert_eq!(&lm.words[0], "the");
    }
}
