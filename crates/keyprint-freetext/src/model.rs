//! The free-text model: per-feature Gaussian likelihood ratios against a population (background) model
//! plus a learned embedding, fused by logistic regression.
//!
//! # Features
//! For every keystroke `i` (events ordered by press time) with key `k`, predecessor `j` and second
//! predecessor `h` — a predecessor counts only when the down-down latency into its successor is at most
//! [`FreeTextConfig::max_latency_ms`] (longer gaps are pauses, not digraphs) — the observations are, per
//! [`Family`]:
//! * `Hold[k]`, `HoldAll`, `HoldAfter[j,k]`: `ln(hold_ms)` (hold clamped to 1..2000 ms);
//! * `Dd[j,k]`, `DdTo[k]`, `DdFrom[j]`, `DdAll`: `ln(DD_ms)` (DD clamped to ≥ 1 ms);
//! * `Ud[j,k]`, `UdAll`: `asinh(UD_ms / 20)` with `UD = press_i − release_j` (negative when keys overlap);
//! * `Uu[j,k]`: `asinh(UU_ms / 20)` with `UU = release_i − release_j`;
//! * `Tri[h,j,k]`: `ln(press_i − press_h)` in ms.
//!
//! Only equality of [`KeyId`]s is used, so the model works unchanged on `KeyId::Hashed` identities.
//!
//! # Population model and comparison (two-covariance / PLDA-style per feature, after Brümmer & de Villiers
//! 2010 and Gunetti & Picardi 2005's idea of comparing the shared digraphs of two free texts)
//! For each feature `f` a population of other people gives the mean of person means `μ_f`, the pooled
//! within-person variance `W_f` and the between-person variance `B_f` (method of moments), each shrunk
//! toward its family's pooled value when data are scarce. A person's mean is modelled `N(μ_f, B_f)`, an
//! observation given the mean `N(m, W_f)`. Enrolling `n` observations with sum `s` gives the posterior
//! `m | data ~ N(m̂, 1/P)`, `P = 1/B + n/W`, `m̂ = (μ/B + s/W)/P`. The `n'` probe observations of the
//! feature, with mean `x̄`, share one person mean, so they contribute jointly
//! `LLR = ln N(x̄; m̂, W/n' + 1/P) − ln N(x̄; μ, W/n' + B)` (with [`FreeTextConfig::aggregate`] off, each
//! observation is scored alone), clipped to `±`[`FreeTextConfig::llr_clip`]. Features never enrolled
//! contribute 0.
//!
//! The LLRs are summed per family into a vector `z` (length [`FAMILIES`]; the last entry is the same
//! likelihood ratio in the learned embedding of [`crate::embed`], when the model has one); the comparison
//! score is `−(b + w·z)` (higher = more impostor-like), where `(b, w)` is a [`Fusion`] learned by logistic
//! regression on population data ([`Fusion::train`]); the default fusion is the plain sum. [`Cohort`]
//! normalises scores against population people (T-, Z-, S- and adaptive S-norm).

use crate::embed::Embedding;
use keyprint_core::event::{KeyEvent, KeyId};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Number of feature families (length of the per-family LLR vector `z`).
pub const FAMILIES: usize = 12;

/// Feature families; the discriminant is the index in the LLR vector `z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Hold time of a given key.
    Hold = 0,
    /// Down-down latency of a given digraph.
    Dd = 1,
    /// Up-down latency of a given digraph.
    Ud = 2,
    /// Down-down latency into a given key (from any key).
    DdTo = 3,
    /// Hold time of any key.
    HoldAll = 4,
    /// Down-down latency of any digraph.
    DdAll = 5,
    /// Up-down latency of any digraph.
    UdAll = 6,
    /// Hold time of a key given the key before it.
    HoldAfter = 7,
    /// Up-up latency of a given digraph.
    Uu = 8,
    /// Down-down latency over a given trigraph (first to third press).
    Tri = 9,
    /// Down-down latency out of a given key (to any key).
    DdFrom = 10,
    /// The learned LDA embedding ([`crate::embed`]), compared per dimension.
    Embedding = 11,
}

/// Family names, in index order (for reports).
pub const FAMILY_NAMES: [&str; FAMILIES] = [
    "hold",
    "dd",
    "ud",
    "dd_to",
    "hold_all",
    "dd_all",
    "ud_all",
    "hold_after",
    "uu",
    "tri",
    "dd_from",
    "embedding",
];

/// Settings of the free-text model.
#[derive(Clone, Debug, PartialEq)]
pub struct FreeTextConfig {
    /// Longest down-down latency, ms, still treated as a digraph (longer: a pause; default 5000, chosen on
    /// the Aalto development split: the log transform already tames long gaps).
    pub max_latency_ms: f64,
    /// Each feature's LLR is clipped to `±llr_clip` (default 2, chosen on the Aalto development split).
    pub llr_clip: f64,
    /// A feature needs observations from at least this many population people (default 3).
    pub min_people: usize,
    /// Pseudo-count of the shrinkage of a feature's variances toward its family's (default 20).
    pub shrinkage: f64,
    /// Score a probe's observations of one feature jointly (they share the person's mean; default true)
    /// rather than as independent observations.
    pub aggregate: bool,
}

impl Default for FreeTextConfig {
    fn default() -> Self {
        FreeTextConfig {
            max_latency_ms: 5000.0,
            llr_clip: 2.0,
            min_people: 3,
            shrinkage: 20.0,
            aggregate: true,
        }
    }
}

/// Fast hasher for small integer keys (Fibonacci hashing; deterministic).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0 ^ i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0 ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// An unknown key (not in the population vocabulary): features naming it are skipped.
const NONE: u32 = u32::MAX;
/// "Any key" in a feature name.
const ANY: u32 = u32::MAX - 1;
/// Keys with an index below this can appear in trigraph names.
const TRI_KEYS: u32 = 1 << 15;

/// The timing observations contributed by one keystroke given the two before it (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyObservation {
    /// `ln(hold_ms)`.
    pub hold: f64,
    /// `(ln(DD_ms), asinh(UD_ms / 20), asinh(UU_ms / 20))` when the predecessor is within
    /// `max_latency_ms`.
    pub latency: Option<(f64, f64, f64)>,
    /// `ln(DD_ms)` from the second predecessor, when both gaps are digraphs.
    pub trigraph: Option<f64>,
}

fn dd_ms(a: &KeyEvent, b: &KeyEvent, max_latency_ms: f64) -> Option<f64> {
    let d = (b.press_us - a.press_us) as f64 / 1000.0;
    (d >= 0.0 && d <= max_latency_ms).then_some(d)
}

/// Timing observations of `cur` after `prev[0]` (its predecessor) and `prev[1]` (the one before). A
/// predecessor pressed after its successor, or more than `max_latency_ms` before it, gives no latency.
pub fn observe(
    prev: [Option<&KeyEvent>; 2],
    cur: &KeyEvent,
    max_latency_ms: f64,
) -> KeyObservation {
    let hold_ms = (cur.hold_us() as f64 / 1000.0).clamp(1.0, 2000.0);
    let latency = prev[0].and_then(|p| {
        dd_ms(p, cur, max_latency_ms).map(|dd| {
            let ud_ms = (cur.press_us - p.release_us) as f64 / 1000.0;
            let uu_ms = (cur.release_us - p.release_us) as f64 / 1000.0;
            (
                dd.max(1.0).ln(),
                (ud_ms / 20.0).asinh(),
                (uu_ms / 20.0).asinh(),
            )
        })
    });
    let trigraph = match (latency, prev[0], prev[1]) {
        (Some(_), Some(p), Some(pp)) => dd_ms(pp, p, max_latency_ms)
            .map(|_| ((cur.press_us - pp.press_us) as f64 / 1000.0).max(1.0).ln()),
        _ => None,
    };
    KeyObservation {
        hold: hold_ms.ln(),
        latency,
        trigraph,
    }
}

/// Population statistics of one feature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureStat {
    /// Family.
    pub family: Family,
    /// Mean of person means.
    pub mu: f64,
    /// Within-person variance (shrunk).
    pub within: f64,
    /// Between-person variance (shrunk).
    pub between: f64,
    /// Number of population people with observations.
    pub people: usize,
}

/// One feature observation of a probe: feature index, family and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// Index into [`PopulationModel::features`].
    pub feature: u32,
    /// Family (index into `z`).
    pub family: u8,
    /// Value (log-ms or asinh units).
    pub value: f64,
}

/// Fusion weights: the comparison score is `−(bias + Σ_f weights[f] · z[f])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fusion {
    /// Intercept.
    pub bias: f64,
    /// One weight per family.
    pub weights: [f64; FAMILIES],
}

impl Default for Fusion {
    /// The plain LLR sum.
    fn default() -> Self {
        Fusion {
            bias: 0.0,
            weights: [1.0; FAMILIES],
        }
    }
}

impl Fusion {
    /// Log-odds (genuine vs impostor) of a per-family LLR vector.
    pub fn log_odds(&self, z: &[f64; FAMILIES]) -> f64 {
        self.bias + self.weights.iter().zip(z).map(|(w, x)| w * x).sum::<f64>()
    }

    /// Logistic regression of genuine (label 1) against impostor (label 0) LLR vectors, each class
    /// weighted to half the total, with an L2 penalty `l2` on the weights; Newton–Raphson (IRLS), 25
    /// iterations at most. Returns the default fusion when either set is empty.
    pub fn train(genuine: &[[f64; FAMILIES]], impostor: &[[f64; FAMILIES]], l2: f64) -> Fusion {
        use nalgebra::{DMatrix, DVector};
        if genuine.is_empty() || impostor.is_empty() {
            return Fusion::default();
        }
        let d = FAMILIES + 1;
        // Standardise columns for conditioning.
        let all: Vec<&[f64; FAMILIES]> = genuine.iter().chain(impostor).collect();
        let n = all.len() as f64;
        let mut mean = [0.0; FAMILIES];
        let mut sd = [0.0; FAMILIES];
        for z in &all {
            for f in 0..FAMILIES {
                mean[f] += z[f] / n;
            }
        }
        for z in &all {
            for f in 0..FAMILIES {
                sd[f] += (z[f] - mean[f]).powi(2) / n;
            }
        }
        let sd: Vec<f64> = sd.iter().map(|v| v.sqrt().max(1e-9)).collect();
        let row = |z: &[f64; FAMILIES]| {
            let mut r = vec![1.0];
            r.extend((0..FAMILIES).map(|f| (z[f] - mean[f]) / sd[f]));
            r
        };
        let (wg, wi) = (0.5 / genuine.len() as f64, 0.5 / impostor.len() as f64);
        let data: Vec<(Vec<f64>, f64, f64)> = genuine
            .iter()
            .map(|z| (row(z), 1.0, wg))
            .chain(impostor.iter().map(|z| (row(z), 0.0, wi)))
            .collect();
        let mut beta = DVector::<f64>::zeros(d);
        for _ in 0..25 {
            let mut grad = DVector::<f64>::zeros(d);
            let mut hess = DMatrix::<f64>::zeros(d, d);
            for (x, y, w) in &data {
                let xv = DVector::from_column_slice(x);
                let p = 1.0 / (1.0 + (-beta.dot(&xv)).exp());
                grad += &xv * (w * (p - y));
                hess += &xv * xv.transpose() * (w * p * (1.0 - p));
            }
            for j in 1..d {
                grad[j] += l2 * beta[j];
                hess[(j, j)] += l2;
            }
            let Some(step) = hess.lu().solve(&grad) else {
                break;
            };
            beta -= &step;
            if step.norm() < 1e-9 {
                break;
            }
        }
        let mut weights = [0.0; FAMILIES];
        let mut bias = beta[0];
        for f in 0..FAMILIES {
            weights[f] = beta[f + 1] / sd[f];
            bias -= weights[f] * mean[f];
        }
        Fusion { bias, weights }
    }
}

/// The population (background) model: key vocabulary, per-feature statistics and the fusion weights.
/// Train it once on people who are not the ones being verified ([`PopulationModel::train`]); it is
/// shared (read-only, `Arc`) by every profile.
#[derive(Clone, Debug)]
pub struct PopulationModel {
    /// Settings it was trained with.
    pub config: FreeTextConfig,
    keys: HashMap<KeyId, u32>,
    index: IdMap<(u8, u32, u32), u32>,
    /// Per-feature statistics, indexed by feature index.
    pub features: Vec<FeatureStat>,
    /// Fusion weights used by [`FreeTextProfile::score`].
    pub fusion: Fusion,
    /// Optional learned embedding ([`crate::embed`]); its comparison is the `Embedding` family.
    pub embedding: Option<Arc<Embedding>>,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    n: f64,
    sum: f64,
    sumsq: f64,
}

impl PopulationModel {
    /// Trains the population statistics on `people`: one entry per person, each a list of that person's
    /// key-event sequences (events sorted by press time). Deterministic: the same data (plain or hashed
    /// with one secret) gives the same statistics. The fusion is the default (plain LLR sum); use
    /// [`PopulationModel::with_fusion`] to set a trained one.
    pub fn train(people: &[Vec<Vec<KeyEvent>>], config: FreeTextConfig) -> PopulationModel {
        let mut model = PopulationModel {
            config,
            keys: HashMap::new(),
            index: IdMap::default(),
            features: Vec::new(),
            fusion: Fusion::default(),
            embedding: None,
        };
        // Per feature: number of people, Σ within SS, Σ (n−1), Σ person means, Σ means², Σ 1/n.
        #[derive(Default, Clone, Copy)]
        struct Pop {
            people: f64,
            ss: f64,
            df: f64,
            m: f64,
            m2: f64,
            inv_n: f64,
        }
        let mut pop: Vec<Pop> = Vec::new();
        let mut fam_of: Vec<u8> = Vec::new();
        for person in people {
            let mut acc: IdMap<u32, Acc> = IdMap::default();
            for seq in person {
                let mut prev: [Option<&KeyEvent>; 2] = [None, None];
                for e in seq {
                    let k = {
                        let next = model.keys.len() as u32;
                        *model.keys.entry(e.key.clone()).or_insert(next)
                    };
                    let ks = [
                        k,
                        prev[0].map_or(NONE, |p| model.keys[&p.key]),
                        prev[1].map_or(NONE, |p| model.keys[&p.key]),
                    ];
                    let obs = observe(prev, e, model.config.max_latency_ms);
                    for (fam, a, b, x) in expand(ks, &obs) {
                        let next = model.index.len() as u32;
                        let id = *model.index.entry((fam, a, b)).or_insert(next);
                        if id == next {
                            pop.push(Pop::default());
                            fam_of.push(fam);
                        }
                        let s = acc.entry(id).or_default();
                        s.n += 1.0;
                        s.sum += x;
                        s.sumsq += x * x;
                    }
                    prev = [Some(e), prev[0]];
                }
            }
            let mut ids: Vec<(u32, Acc)> = acc.into_iter().collect();
            ids.sort_by_key(|(id, _)| *id);
            for (id, s) in ids {
                let p = &mut pop[id as usize];
                let mean = s.sum / s.n;
                p.people += 1.0;
                p.ss += (s.sumsq - s.n * mean * mean).max(0.0);
                p.df += s.n - 1.0;
                p.m += mean;
                p.m2 += mean * mean;
                p.inv_n += 1.0 / s.n;
            }
        }
        // Family-level pooled variances.
        let mut fam_w = [(0.0, 0.0); FAMILIES];
        let mut fam_b = [(0.0, 0.0); FAMILIES];
        let raw: Vec<(f64, f64, f64)> = pop
            .iter()
            .map(|p| {
                let mu = p.m / p.people.max(1.0);
                let w = if p.df > 0.0 { p.ss / p.df } else { f64::NAN };
                let var_m = if p.people > 1.0 {
                    (p.m2 - p.people * mu * mu).max(0.0) / (p.people - 1.0)
                } else {
                    f64::NAN
                };
                (mu, w, var_m)
            })
            .collect();
        for (i, p) in pop.iter().enumerate() {
            let f = fam_of[i] as usize;
            let (_, w, var_m) = raw[i];
            if w.is_finite() {
                fam_w[f].0 += p.ss;
                fam_w[f].1 += p.df;
            }
            if var_m.is_finite() && w.is_finite() {
                let b = (var_m - w * p.inv_n / p.people).max(0.0);
                fam_b[f].0 += b * (p.people - 1.0);
                fam_b[f].1 += p.people - 1.0;
            }
        }
        let fam_w: Vec<f64> = fam_w
            .iter()
            .map(|(s, d)| if *d > 0.0 { s / d } else { 0.1 })
            .collect();
        let fam_b: Vec<f64> = fam_b
            .iter()
            .map(|(s, d)| if *d > 0.0 { (s / d).max(1e-4) } else { 0.05 })
            .collect();
        let k = model.config.shrinkage;
        model.features = pop
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let f = fam_of[i] as usize;
                let (mu, w, var_m) = raw[i];
                let wf = if w.is_finite() {
                    (p.df * w + k * fam_w[f]) / (p.df + k)
                } else {
                    fam_w[f]
                };
                let bf = if var_m.is_finite() {
                    let b = (var_m - wf * p.inv_n / p.people).max(0.0);
                    ((p.people - 1.0) * b + k * fam_b[f]) / (p.people - 1.0 + k)
                } else {
                    fam_b[f]
                };
                FeatureStat {
                    family: family_of(f as u8),
                    mu,
                    within: wf.max(1e-4),
                    between: bf.max(1e-4),
                    people: p.people as usize,
                }
            })
            .collect();
        model
    }

    /// The same statistics with an embedding (trained with [`Embedding::train`] on this model).
    pub fn with_embedding(mut self, embedding: Option<Embedding>) -> PopulationModel {
        self.embedding = embedding.map(Arc::new);
        self
    }

    /// Learns the fusion for enrolments of `g` sequences and probes of `l` keys by running the
    /// verification protocol among population people (`people`: each a list of sequences, events sorted by
    /// press time; people with fewer than `g + 1` sequences are skipped): each person is enrolled on its
    /// first `g` sequences cut to `l` keys; genuine probes are its last 5 sequences (those after the
    /// enrolment), impostor probes the first of those of up to 40 other people; then [`Fusion::train`]
    /// with L2 penalty 1e-3. Use population people, never the people to be verified.
    pub fn fit_fusion(
        self: &Arc<Self>,
        people: &[Vec<Vec<KeyEvent>>],
        g: usize,
        l: usize,
    ) -> Fusion {
        let cut = |s: &[KeyEvent]| s[..l.min(s.len())].to_vec();
        let usable: Vec<&Vec<Vec<KeyEvent>>> = people.iter().filter(|p| p.len() > g).collect();
        let n = usable.len();
        let probes_of = |p: &Vec<Vec<KeyEvent>>| -> Vec<Probe> {
            let from = p.len().saturating_sub(5).max(g);
            p[from..].iter().map(|s| self.probe(&cut(s))).collect()
        };
        let probes: Vec<Vec<Probe>> = usable.iter().map(|p| probes_of(p)).collect();
        let imp_per = 40.min(n.saturating_sub(1));
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        for (i, p) in usable.iter().enumerate() {
            let enrol: Vec<Vec<KeyEvent>> = p[..g].iter().map(|s| cut(s)).collect();
            let refs: Vec<&[KeyEvent]> = enrol.iter().map(Vec::as_slice).collect();
            let prof = self.enrol(&refs);
            genuine.extend(probes[i].iter().map(|q| prof.family_llrs(q)));
            impostor.extend(
                (1..=imp_per)
                    .map(|k| (i + k * 7) % n)
                    .filter(|&j| j != i)
                    .map(|j| prof.family_llrs(&probes[j][0])),
            );
        }
        Fusion::train(&genuine, &impostor, 1e-3)
    }

    /// The same statistics with another fusion.
    pub fn with_fusion(mut self, fusion: Fusion) -> PopulationModel {
        self.fusion = fusion;
        self
    }

    /// Number of distinct keys in the population vocabulary.
    pub fn vocabulary_len(&self) -> usize {
        self.keys.len()
    }

    fn key_index(&self, k: &KeyId) -> u32 {
        self.keys.get(k).copied().unwrap_or(NONE)
    }

    /// The feature observations of `cur` after `prev[0]` and `prev[1]` (usable features only).
    pub(crate) fn observations_of(
        &self,
        prev: [Option<&KeyEvent>; 2],
        cur: &KeyEvent,
        out: &mut Vec<Observation>,
    ) {
        let ks = [
            self.key_index(&cur.key),
            prev[0].map_or(NONE, |p| self.key_index(&p.key)),
            prev[1].map_or(NONE, |p| self.key_index(&p.key)),
        ];
        let obs = observe(prev, cur, self.config.max_latency_ms);
        for (fam, a, b, x) in expand(ks, &obs) {
            if let Some(&id) = self.index.get(&(fam, a, b))
                && self.features[id as usize].people >= self.config.min_people
            {
                out.push(Observation {
                    feature: id,
                    family: fam,
                    value: x,
                });
            }
        }
    }

    /// All feature observations of a sequence (events sorted by press time).
    pub fn observations(&self, events: &[KeyEvent]) -> Vec<Observation> {
        let mut out = Vec::with_capacity(events.len() * FAMILIES);
        let mut prev = [None, None];
        for e in events {
            self.observations_of(prev, e, &mut out);
            prev = [Some(e), prev[0]];
        }
        out
    }

    /// A probe sequence (events sorted by press time) summarised for scoring.
    pub fn probe(&self, events: &[KeyEvent]) -> Probe {
        self.probe_from_observations(&self.observations(events))
    }

    /// A probe from its observations (see [`PopulationModel::observations`]), embedded when the model has
    /// an embedding.
    pub fn probe_from_observations(&self, observations: &[Observation]) -> Probe {
        let mut p = Probe::from_observations(observations, self.config.aggregate);
        if let Some(e) = &self.embedding {
            p.embedding = Some(e.embed(&p));
        }
        p
    }

    /// Enrols an owner from its sequences (events sorted by press time); the profile shares this model.
    pub fn enrol(self: &Arc<Self>, sequences: &[&[KeyEvent]]) -> FreeTextProfile {
        let mut acc: IdMap<u32, (f64, f64)> = IdMap::default();
        let mut keys = 0;
        let mut emb_sum: Vec<f64> = Vec::new();
        for s in sequences {
            keys += s.len();
            let obs = self.observations(s);
            if let Some(e) = &self.embedding {
                let y = e.embed(&Probe::from_observations(&obs, self.config.aggregate));
                emb_sum.resize(y.len(), 0.0);
                emb_sum.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
            }
            for o in obs {
                let a = acc.entry(o.feature).or_default();
                a.0 += 1.0;
                a.1 += o.value;
            }
        }
        let params = acc
            .into_iter()
            .map(|(id, (n, sum))| {
                let st = &self.features[id as usize];
                let prec = 1.0 / st.between + n / st.within;
                (
                    id,
                    LlrParams {
                        m_hat: (st.mu / st.between + sum / st.within) / prec,
                        post_var: 1.0 / prec,
                        mu: st.mu,
                        between: st.between,
                        within: st.within,
                    },
                )
            })
            .collect();
        let g = sequences.len() as f64;
        let embedding = match &self.embedding {
            Some(e) if g > 0.0 => e
                .between
                .iter()
                .zip(&emb_sum)
                .map(|(&lambda, &sum)| {
                    let prec = 1.0 / lambda + g;
                    LlrParams {
                        m_hat: sum / prec,
                        post_var: 1.0 / prec,
                        mu: 0.0,
                        between: lambda,
                        within: 1.0,
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        FreeTextProfile {
            model: Arc::clone(self),
            params,
            embedding,
            enrolled_keys: keys,
        }
    }
}

fn family_of(f: u8) -> Family {
    [
        Family::Hold,
        Family::Dd,
        Family::Ud,
        Family::DdTo,
        Family::HoldAll,
        Family::DdAll,
        Family::UdAll,
        Family::HoldAfter,
        Family::Uu,
        Family::Tri,
        Family::DdFrom,
        Family::Embedding,
    ][f as usize]
}

/// The (family, name part a, name part b, value) observations of one keystroke whose key indices are
/// `ks = [this, predecessor, second predecessor]` (`NONE` when unknown or absent). Observations naming an
/// unknown key are left out.
fn expand(ks: [u32; 3], obs: &KeyObservation) -> impl Iterator<Item = (u8, u32, u32, f64)> {
    let [k, p, pp] = ks;
    let mut v = [(0u8, 0u32, 0u32, 0.0f64); FAMILIES];
    let mut n = 0;
    let mut push = |fam: Family, a: u32, b: u32, x: f64| {
        if a != NONE && b != NONE {
            v[n] = (fam as u8, a, b, x);
            n += 1;
        }
    };
    push(Family::Hold, ANY, k, obs.hold);
    push(Family::HoldAll, ANY, ANY, obs.hold);
    if let Some((dd, ud, uu)) = obs.latency {
        push(Family::Dd, p, k, dd);
        push(Family::Ud, p, k, ud);
        push(Family::DdTo, ANY, k, dd);
        push(Family::DdAll, ANY, ANY, dd);
        push(Family::UdAll, ANY, ANY, ud);
        push(Family::HoldAfter, p, k, obs.hold);
        push(Family::Uu, p, k, uu);
        push(Family::DdFrom, p, ANY, dd);
    }
    if let Some(tri) = obs.trigraph {
        let first = if pp < TRI_KEYS && p < TRI_KEYS {
            pp * TRI_KEYS + p
        } else {
            NONE
        };
        push(Family::Tri, first, k, tri);
    }
    v.into_iter().take(n)
}

/// A probe summarised per feature: for each feature observed, the number of observations and their sum
/// (in order of first appearance). With [`FreeTextConfig::aggregate`] off, every observation is its own
/// item (`n = 1`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probe {
    items: Vec<ProbeFeature>,
    embedding: Option<Vec<f64>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct ProbeFeature {
    feature: u32,
    family: u8,
    n: f64,
    sum: f64,
}

impl Probe {
    /// Summarises observations (aggregated per feature when `aggregate`).
    pub fn from_observations(observations: &[Observation], aggregate: bool) -> Probe {
        let mut items: Vec<ProbeFeature> = Vec::with_capacity(observations.len());
        let mut at: IdMap<u32, usize> = IdMap::default();
        for o in observations {
            if aggregate {
                if let Some(&i) = at.get(&o.feature) {
                    items[i].n += 1.0;
                    items[i].sum += o.value;
                    continue;
                }
                at.insert(o.feature, items.len());
            }
            items.push(ProbeFeature {
                feature: o.feature,
                family: o.family,
                n: 1.0,
                sum: o.value,
            });
        }
        Probe {
            items,
            embedding: None,
        }
    }

    /// The items as `(feature, family, n, sum)`.
    pub(crate) fn items(&self) -> impl Iterator<Item = (u32, u8, f64, f64)> + '_ {
        self.items.iter().map(|i| (i.feature, i.family, i.n, i.sum))
    }

    /// The probe's embedding, when the model has one.
    pub fn embedding(&self) -> Option<&[f64]> {
        self.embedding.as_deref()
    }

    /// Number of items (features, or observations when not aggregated).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the probe holds no usable observation.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Per-feature parameters of an enrolled owner: posterior mean `m̂` and variance `1/P` of the owner's
/// mean, and the population's `μ`, `B`, `W`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LlrParams {
    m_hat: f64,
    post_var: f64,
    mu: f64,
    between: f64,
    within: f64,
}

impl LlrParams {
    /// Joint LLR of `n` probe observations with mean `mean`: they share one person mean, so only their
    /// mean matters: `ln N(x̄; m̂, W/n + 1/P) − ln N(x̄; μ, W/n + B)`.
    fn llr(&self, n: f64, mean: f64) -> f64 {
        let w = self.within / n;
        let vu = w + self.post_var;
        let vb = w + self.between;
        let du = mean - self.m_hat;
        let db = mean - self.mu;
        0.5 * (vb / vu).ln() - 0.5 * du * du / vu + 0.5 * db * db / vb
    }
}

/// An enrolled owner's template (biometric reference) for free text: the posterior of the owner's mean
/// for every feature seen in enrolment, over a shared [`PopulationModel`].
#[derive(Clone, Debug)]
pub struct FreeTextProfile {
    model: Arc<PopulationModel>,
    params: IdMap<u32, LlrParams>,
    embedding: Vec<LlrParams>,
    enrolled_keys: usize,
}

impl FreeTextProfile {
    /// The population model this profile was enrolled against.
    pub fn model(&self) -> &Arc<PopulationModel> {
        &self.model
    }

    /// Number of keystrokes enrolled.
    pub fn enrolled_keys(&self) -> usize {
        self.enrolled_keys
    }

    /// Number of features with owner data.
    pub fn enrolled_features(&self) -> usize {
        self.params.len()
    }

    /// Per-family sums of the clipped per-feature LLRs of a probe (features not enrolled give 0).
    pub fn family_llrs(&self, probe: &Probe) -> [f64; FAMILIES] {
        let clip = self.model.config.llr_clip;
        let mut z = [0.0; FAMILIES];
        for it in &probe.items {
            if let Some(p) = self.params.get(&it.feature) {
                z[it.family as usize] += p.llr(it.n, it.sum / it.n).clamp(-clip, clip);
            }
        }
        if let Some(y) = &probe.embedding {
            z[Family::Embedding as usize] = self
                .embedding
                .iter()
                .zip(y)
                .map(|(p, &v)| p.llr(1.0, v))
                .sum();
        }
        z
    }

    /// Comparison score of a summarised probe: `−(fusion log-odds)`, higher = more impostor-like.
    pub fn score_probe(&self, probe: &Probe) -> f64 {
        -self.model.fusion.log_odds(&self.family_llrs(probe))
    }

    /// Comparison score of a probe sequence (events sorted by press time): higher = more impostor-like.
    pub fn score(&self, events: &[KeyEvent]) -> f64 {
        self.score_probe(&self.model.probe(events))
    }
}

/// Score normalisation against a cohort of population people (never the evaluated ones): T-norm
/// (Auckenthaler, Carey & Lloyd-Thomas 2000) standardises a probe's score by the scores the same probe gets
/// against cohort profiles; Z-norm standardises by the scores the owner's profile gives cohort probes;
/// S-norm averages both. The adaptive variant (AS-norm, Cumani et al. 2011) uses only the `top` cohort
/// scores closest to genuine (lowest). T-norm removes probe-dependent offsets (a probe rich in common
/// digraphs gets larger likelihood ratios against everyone).
#[derive(Clone, Debug)]
pub struct Cohort {
    profiles: Vec<FreeTextProfile>,
    probes: Vec<Probe>,
    top: usize,
}

impl Cohort {
    /// A cohort of population profiles (enrolled like the owners), population probes (summarised like the
    /// probes; empty for T-norm only) and the adaptive size `top` (0: all scores).
    pub fn new(profiles: Vec<FreeTextProfile>, probes: Vec<Probe>, top: usize) -> Self {
        Cohort {
            profiles,
            probes,
            top,
        }
    }

    /// Number of cohort profiles.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// True when the cohort has no profile (normalisation is then the identity).
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    fn stats_of(&self, mut s: Vec<f64>) -> (f64, f64) {
        if self.top > 0 && self.top < s.len() {
            s.sort_by(f64::total_cmp);
            s.truncate(self.top);
        }
        keyprint_core::stats::mean_sd(&s)
    }

    /// T-norm statistics: mean and sd of the cohort profiles' scores of `probe`.
    pub fn t_stats(&self, probe: &Probe) -> (f64, f64) {
        self.stats_of(self.profiles.iter().map(|p| p.score_probe(probe)).collect())
    }

    /// Z-norm statistics: mean and sd of `profile`'s scores of the cohort probes (`None` without probes).
    pub fn z_stats(&self, profile: &FreeTextProfile) -> Option<(f64, f64)> {
        (self.probes.len() >= 2)
            .then(|| self.stats_of(self.probes.iter().map(|q| profile.score_probe(q)).collect()))
    }

    /// Normalised score from precomputed statistics: T-norm, or S-norm (mean of T- and Z-norm) when `z`
    /// is given.
    pub fn normalize_with(score: f64, t: (f64, f64), z: Option<(f64, f64)>) -> f64 {
        let tn = (score - t.0) / t.1.max(1e-9);
        match z {
            Some(z) => 0.5 * (tn + (score - z.0) / z.1.max(1e-9)),
            None => tn,
        }
    }

    /// Normalised comparison score of `score` (`profile`'s score of `probe`); higher = more impostor-like.
    /// Identity for a cohort of fewer than 2 profiles.
    pub fn normalize(&self, profile: &FreeTextProfile, score: f64, probe: &Probe) -> f64 {
        if self.profiles.len() < 2 {
            return score;
        }
        Self::normalize_with(score, self.t_stats(probe), self.z_stats(profile))
    }
}
