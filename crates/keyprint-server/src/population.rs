//! The free-text population learned from the tenant's own people.
//!
//! Free-text verification compares an owner's windows with a **population** (background statistics, the LDA
//! embedding, score normalisation, calibration). Nothing of that ships: each tenant's population is learned
//! from its own enrolled users' stored window summaries, and refreshed as people enrol.
//!
//! * Every time the server learns a user's free-text template it hands the user's reference windows to
//!   [`TenantPopulations::fit`], which records them under `(tenant, user)`.
//! * With at least [`PopulationSettings::min_users`] users the tenant's [`TenantModel`] is
//!   (re)built — on the first fit that reaches the minimum and then after every `refresh_every` new users —
//!   from every recorded user's windows: [`SummaryPopulation`] statistics and embedding, and a calibration
//!   learned by comparing each user's windows with the others' (genuine: a user's later windows against a
//!   template of its first half; impostor: the other users' windows), on scores Z-normalised per user
//!   (each template's scores of up to 300 windows of the other users give its mean and sd; at most 200 users
//!   calibrate).
//! * Below the minimum (**cold start**) a user's template is population-free ([`ColdProfile`]): per-entry
//!   standardised distance of a window from the owner's own enrolment mean and spread, mapped to evidence
//!   by a fixed, conservative line whose LLR never exceeds [`COLD_CLIP`] in size.
//!
//! Templates return **minus the calibrated LLR** as their comparison score (higher = more impostor-like), so
//! the engine's own calibration is the fixed map `llr = −score` ([`passthrough`]).
//! Templates keep the model they were learned with; a template learned later uses the refreshed one.

use crate::calibration::{Calibration, ScoreTransform};
use keyprint_core::detector::{FeatureVector, FitError, Template};
use keyprint_core::stats::mean_sd;
use keyprint_freetext::{SummaryConfig, SummaryPopulation, SummaryProfile};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Largest |LLR| one window contributes in cold start.
pub const COLD_CLIP: f64 = 1.0;

/// When and how a tenant's population is learned.
#[derive(Clone, Debug, PartialEq)]
pub struct PopulationSettings {
    /// Enrolled users needed for the population model (below: cold start). Default 10.
    pub min_users: usize,
    /// Rebuild after this many users joined since the last build (default 5; every fit while below 20).
    pub refresh_every: usize,
    /// Largest |LLR| of one window in population mode (default 3).
    pub clip: f64,
    /// Summary model settings.
    pub summary: SummaryConfig,
}

impl Default for PopulationSettings {
    fn default() -> Self {
        PopulationSettings {
            min_users: 10,
            refresh_every: 5,
            clip: 3.0,
            summary: SummaryConfig::default(),
        }
    }
}

/// The engine-level calibration of templates that already return `−LLR`: `llr = −score`, clipped at `clip`.
pub fn passthrough(clip: f64) -> Calibration {
    Calibration {
        a: 0.0,
        b: -1.0,
        transform: ScoreTransform::Identity,
        clip,
        genuine_n: 0,
        impostor_n: 0,
        eer: f64::NAN,
    }
}

/// A tenant's learned free-text population.
pub struct TenantModel {
    /// Background statistics and embedding.
    pub population: Arc<SummaryPopulation>,
    /// Maps a Z-normalised score to an LLR.
    pub calibration: Calibration,
    /// Users it was learned from.
    pub users: usize,
    /// Windows of the users (for Z-norm of later templates): a few per user.
    znorm_windows: Vec<(String, FeatureVector)>,
}

impl TenantModel {
    /// Learns a model from `users` (name, reference windows oldest first); `None` with fewer than 3 users
    /// having at least 4 windows or when no calibration can be fitted.
    pub fn learn(
        users: &[(String, Vec<FeatureVector>)],
        settings: &PopulationSettings,
    ) -> Option<Self> {
        let users: Vec<&(String, Vec<FeatureVector>)> =
            users.iter().filter(|(_, w)| w.len() >= 4).collect();
        if users.len() < 3 {
            return None;
        }
        let people: Vec<Vec<Vec<f64>>> = users.iter().map(|(_, w)| w.clone()).collect();
        // A small tenant cannot support a large embedding: at most one dimension per 5 users.
        let config = SummaryConfig {
            emb_dim: settings.summary.emb_dim.min(users.len() / 5),
            ..settings.summary.clone()
        };
        let population = Arc::new(SummaryPopulation::train(&people, config));
        // Bounded cost: Z-norm and calibration use at most 300 windows and 200 users, spread evenly.
        let step = users.len().div_ceil(100).max(1);
        let znorm_windows: Vec<(String, FeatureVector)> = users
            .iter()
            .step_by(step)
            .flat_map(|(u, w)| w.iter().rev().take(3).map(move |x| (u.clone(), x.clone())))
            .collect();
        let mut model = TenantModel {
            population,
            calibration: passthrough(settings.clip),
            users: users.len(),
            znorm_windows,
        };
        let (mut g, mut m) = (Vec::new(), Vec::new());
        for (u, w) in users.iter().step_by(users.len().div_ceil(200).max(1)) {
            let half = w.len() / 2;
            let refs: Vec<&[f64]> = w[..half].iter().map(Vec::as_slice).collect();
            let prof = model.population.enrol(&refs);
            let z = model.z_stats(u, &prof);
            g.extend(w[half..].iter().map(|x| z_norm(prof.score(x), z)));
            m.extend(
                model
                    .znorm_windows
                    .iter()
                    .filter(|(o, _)| o != u)
                    .map(|(_, x)| z_norm(prof.score(x), z)),
            );
        }
        model.calibration = Calibration::fit_with(&g, &m, settings.clip, ScoreTransform::Identity)?;
        Some(model)
    }

    /// Mean and sd of the scores `prof` (of `user`) gives the other users' windows.
    fn z_stats(&self, user: &str, prof: &SummaryProfile) -> Option<(f64, f64)> {
        let s: Vec<f64> = self
            .znorm_windows
            .iter()
            .filter(|(o, _)| o != user)
            .map(|(_, x)| prof.score(x))
            .filter(|x| x.is_finite())
            .collect();
        (s.len() >= 2).then(|| {
            let (m, sd) = mean_sd(&s);
            (m, sd.max(1e-6))
        })
    }

    /// A user's template: summary profile, Z-norm against the other users' windows, calibration.
    pub fn template(self: &Arc<Self>, user: &str, windows: &[FeatureVector]) -> PopulationTemplate {
        let refs: Vec<&[f64]> = windows.iter().map(Vec::as_slice).collect();
        let profile = self.population.enrol(&refs);
        let z = self.z_stats(user, &profile);
        PopulationTemplate {
            model: self.clone(),
            profile,
            z,
        }
    }
}

fn z_norm(score: f64, z: Option<(f64, f64)>) -> f64 {
    match z {
        Some((m, sd)) if score.is_finite() => (score - m) / sd,
        _ => score,
    }
}

/// A template in population mode; scores are `−LLR`.
pub struct PopulationTemplate {
    model: Arc<TenantModel>,
    profile: SummaryProfile,
    z: Option<(f64, f64)>,
}

impl Template<FeatureVector> for PopulationTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        let s = self.profile.score(probe);
        if !s.is_finite() {
            return self.model.calibration.clip;
        }
        -self.model.calibration.llr(z_norm(s, self.z))
    }
}

/// A population-free template (cold start): per entry, the owner's mean and sd over its enrolment windows
/// (sd floored at 0.25 of the mean sd over entries, at least 1e-3). A window's distance is the mean over
/// the entries both have of `min(z², 9)`, `z = (x − mean)/sd`; genuine windows average about 1. Its LLR
/// is `clamp(1.2 − 0.8·distance, ±COLD_CLIP)`: a window must be clearly far (distance > 1.5) to count
/// against the owner, and no window counts more than [`COLD_CLIP`].
pub struct ColdProfile {
    entries: Vec<Option<(f64, f64)>>,
}

impl ColdProfile {
    /// Learns from the owner's windows; `None` with fewer than 2.
    pub fn learn(windows: &[FeatureVector]) -> Option<Self> {
        if windows.len() < 2 {
            return None;
        }
        let dim = windows[0].len();
        let mut entries: Vec<Option<(f64, f64)>> = (0..dim)
            .map(|f| {
                let xs: Vec<f64> = windows
                    .iter()
                    .filter_map(|w| w.get(f).copied())
                    .filter(|x| x.is_finite())
                    .collect();
                (xs.len() >= 2).then(|| mean_sd(&xs))
            })
            .collect();
        let sds: Vec<f64> = entries.iter().flatten().map(|e| e.1).collect();
        if sds.is_empty() {
            return None;
        }
        let floor = (0.25 * sds.iter().sum::<f64>() / sds.len() as f64).max(1e-3);
        for e in entries.iter_mut().flatten() {
            e.1 = e.1.max(floor);
        }
        Some(ColdProfile { entries })
    }

    /// Mean clipped squared z over shared entries (`None` when none is shared or the length differs).
    pub fn distance(&self, probe: &[f64]) -> Option<f64> {
        if probe.len() != self.entries.len() {
            return None;
        }
        let z: Vec<f64> = probe
            .iter()
            .zip(&self.entries)
            .filter_map(|(x, e)| {
                let (m, sd) = (*e)?;
                x.is_finite().then(|| ((x - m) / sd).powi(2).min(9.0))
            })
            .collect();
        (!z.is_empty()).then(|| z.iter().sum::<f64>() / z.len() as f64)
    }
}

impl Template<FeatureVector> for ColdProfile {
    fn score(&self, probe: &FeatureVector) -> f64 {
        match self.distance(probe) {
            Some(d) => -(1.2 - 0.8 * d).clamp(-COLD_CLIP, COLD_CLIP),
            None if probe.len() != self.entries.len() => COLD_CLIP,
            None => 0.0,
        }
    }
}

#[derive(Default)]
struct Tenant {
    users: BTreeMap<String, Vec<FeatureVector>>,
    model: Option<Arc<TenantModel>>,
}

/// Every tenant's recorded users and learned model (in memory; rebuilt from templates fitted after a
/// restart).
#[derive(Default)]
pub struct TenantPopulations {
    settings: PopulationSettings,
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

impl TenantPopulations {
    /// Empty, with these settings.
    pub fn new(settings: PopulationSettings) -> Self {
        TenantPopulations {
            settings,
            tenants: Mutex::new(BTreeMap::new()),
        }
    }

    /// Settings.
    pub fn settings(&self) -> &PopulationSettings {
        &self.settings
    }

    /// Records `user`'s reference windows, refreshes the tenant's model when due, and learns the user's
    /// template: population mode when the tenant has a model, cold start otherwise.
    ///
    /// # Errors
    /// [`FitError::TooFewSamples`] with fewer than 2 windows.
    pub fn fit(
        &self,
        tenant: &str,
        user: &str,
        windows: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        if windows.len() < 2 {
            return Err(FitError::TooFewSamples {
                need: 2,
                got: windows.len(),
            });
        }
        let model = {
            let mut all = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let t = all.entry(tenant.to_string()).or_default();
            t.users.insert(user.to_string(), windows.to_vec());
            let n = t.users.len();
            let built = t.model.as_ref().map_or(0, |m| m.users);
            let due = n >= self.settings.min_users
                && (t.model.is_none()
                    || n >= built + self.settings.refresh_every
                    || (n < 20 && n > built));
            if due {
                let users: Vec<(String, Vec<FeatureVector>)> = t
                    .users
                    .iter()
                    .map(|(u, w)| (u.clone(), w.clone()))
                    .collect();
                if let Some(m) = TenantModel::learn(&users, &self.settings) {
                    t.model = Some(Arc::new(m));
                }
            }
            t.model.clone()
        };
        template_with(model, user, windows)
    }

    /// `user`'s template with the tenant's current model (cold start without one), recording nothing —
    /// for checks on an enrolment before it is accepted.
    ///
    /// # Errors
    /// [`FitError::TooFewSamples`] with fewer than 2 windows.
    pub fn fit_unrecorded(
        &self,
        tenant: &str,
        user: &str,
        windows: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let model = {
            let all = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            all.get(tenant).and_then(|t| t.model.clone())
        };
        template_with(model, user, windows)
    }

    /// Users recorded for `tenant`, and whether it has a population model.
    pub fn status(&self, tenant: &str) -> (usize, bool) {
        let all = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        all.get(tenant)
            .map_or((0, false), |t| (t.users.len(), t.model.is_some()))
    }
}

/// `user`'s template with `model` (population mode) or population-free without it.
fn template_with(
    model: Option<Arc<TenantModel>>,
    user: &str,
    windows: &[FeatureVector],
) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
    match model {
        Some(m) => Ok(Box::new(m.template(user, windows))),
        None => ColdProfile::learn(windows)
            .map(|c| Box::new(c) as Box<dyn Template<FeatureVector>>)
            .ok_or(FitError::TooFewSamples {
                need: 2,
                got: windows.len(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic person: every entry a person-specific level plus window noise; some entries absent.
    fn windows(person: usize, n: usize) -> Vec<FeatureVector> {
        (0..n)
            .map(|w| {
                (0..12)
                    .map(|f| {
                        if (f + w) % 5 == 0 {
                            return f64::NAN;
                        }
                        let level = ((person * 7 + f * 3) % 11) as f64 * 0.2;
                        let noise = (((person * 13 + w * 17 + f * 5) % 9) as f64 - 4.0) * 0.04;
                        level + noise
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn cold_start_then_population_and_both_separate() {
        let pops = TenantPopulations::new(PopulationSettings {
            min_users: 6,
            summary: SummaryConfig {
                min_people: 3,
                emb_dim: 4,
                ..SummaryConfig::default()
            },
            ..PopulationSettings::default()
        });
        let check = |t: &dyn Template<FeatureVector>, p: usize| {
            let g = t.score(&windows(p, 12)[11]);
            let i = t.score(&windows(p + 1, 12)[11]);
            assert!(g < i, "person {p}: genuine {g} impostor {i}");
        };
        for p in 0..5 {
            let t = pops.fit("t1", &format!("u{p}"), &windows(p, 10)).unwrap();
            check(t.as_ref(), p);
            assert!(t.score(&windows(p + 1, 12)[11]).abs() <= COLD_CLIP);
        }
        assert_eq!(pops.status("t1"), (5, false));
        for p in 5..8 {
            let t = pops.fit("t1", &format!("u{p}"), &windows(p, 10)).unwrap();
            check(t.as_ref(), p);
        }
        assert_eq!(pops.status("t1"), (8, true));
        // Another tenant starts cold: populations are never shared.
        assert_eq!(pops.status("t2"), (0, false));
        pops.fit("t2", "u0", &windows(0, 10)).unwrap();
        assert_eq!(pops.status("t2"), (1, false));
        assert!(pops.fit("t1", "x", &windows(0, 1)).is_err());
    }
}
