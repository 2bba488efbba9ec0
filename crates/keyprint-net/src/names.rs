//! Domain-name helpers: the registered domain (approximate eTLD+1) and the "algorithmic-looking" test
//! for DGA-style names.
//!
//! The algorithmic test looks at the registered label (the label left of the public suffix), as
//! domain-generation algorithms generate that label. It is algorithmic when it is at least
//! [`MIN_DGA_LEN`] characters long and any of: the longest run of consonants is ≥ 6 (`xjwqpmk…`); the
//! Shannon entropy of its characters is ≥ 3.5 bits/char with fewer than 30 % vowels; it is ≥ 12 characters
//! long with fewer than 22 % vowels (English text has about 40 %, uniformly random letters 23 %); or it mixes digits
//! and letters with 20–80 % digits. English-like labels (`googleapis`, `wikimedia`, `akamaiedge`) pass;
//! hash-like CDN labels can fail, which is why the engine asks for several such names per device before
//! it reports (see [`crate::Settings::dga_min_names`]). Reverse-lookup (`*.arpa`), `.local` and
//! service (`_ldap._tcp…`) names are never algorithmic.

/// Minimum registered-label length for the algorithmic test.
pub const MIN_DGA_LEN: usize = 10;

/// Second-level labels that behave like public suffixes under a two-letter country code
/// (`co.uk`, `com.au`, …). An approximation of the Public Suffix List, enough for baselines.
const SECOND_LEVEL: &[&str] = &[
    "co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go",
];

/// The registered domain (approximate eTLD+1): `a.b.example.com` → `example.com`,
/// `x.example.co.uk` → `example.co.uk`. Names with fewer labels are returned whole.
pub fn registered_domain(name: &str) -> &str {
    let labels: Vec<&str> = name.split('.').collect();
    let n = labels.len();
    let keep = if n >= 3 && labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    if n <= keep {
        return name;
    }
    let skip: usize = labels[..n - keep].iter().map(|l| l.len() + 1).sum();
    &name[skip..]
}

/// What the algorithmic test measured on a name's registered label.
#[derive(Clone, Debug, PartialEq)]
pub struct NameFeatures {
    /// The label tested.
    pub label: String,
    /// Shannon entropy of its characters, bits per character.
    pub entropy_bits: f64,
    /// Longest run of consonants (letters other than a, e, i, o, u, y).
    pub consonant_run: usize,
    /// Share of digits.
    pub digit_ratio: f64,
    /// Share of vowels.
    pub vowel_ratio: f64,
    /// The verdict.
    pub algorithmic: bool,
}

/// Measures a name; `None` for names the test does not apply to (`.arpa`, `.local`, service labels,
/// single labels, punycode).
pub fn name_features(name: &str) -> Option<NameFeatures> {
    if name.ends_with(".arpa")
        || name.ends_with(".local")
        || name.starts_with('_')
        || name.contains("._")
        || !name.contains('.')
    {
        return None;
    }
    let reg = registered_domain(name);
    let label = reg.split('.').next()?;
    if label.starts_with("xn--") || label.is_empty() {
        return None;
    }
    let chars: Vec<char> = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let n = chars.len() as f64;
    if chars.is_empty() {
        return None;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let entropy_bits = -counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            p * p.log2()
        })
        .sum::<f64>();
    let is_vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let (mut run, mut best) = (0, 0);
    for &c in &chars {
        if c.is_ascii_alphabetic() && !is_vowel(c) {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    let digit_ratio = chars.iter().filter(|c| c.is_ascii_digit()).count() as f64 / n;
    let vowel_ratio = chars.iter().filter(|&&c| is_vowel(c)).count() as f64 / n;
    let algorithmic = chars.len() >= MIN_DGA_LEN
        && (best >= 6
            || (entropy_bits >= 3.5 && vowel_ratio < 0.3)
            || (chars.len() >= 12 && vowel_ratio < 0.22)
            || (0.2..=0.8).contains(&digit_ratio));
    Some(NameFeatures {
        label: label.to_string(),
        entropy_bits,
        consonant_run: best,
        digit_ratio,
        vowel_ratio,
        algorithmic,
    })
}
