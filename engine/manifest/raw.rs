//! The manifest as written: serde types that mirror the TOML, with spans where a later check
//! must point at a value. Nothing here is trusted; `check` turns it into a `Manifest`.

use crate::study::Analysis;
use super::lists::{FloatList, IntList, Seeds};
use crate::rnn::{Activation, Arch, TaskSpec};
use serde::Deserialize;
use toml::Spanned;

/// The top level. Each `[[study]]` is then read on its own as a `RawStudy`, so that one study's
/// errors do not hide another's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    #[serde(default)]
    pub study: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStudy {
    pub name: Spanned<String>,
    pub task: Spanned<TaskSpec>,
    pub grid: Spanned<RawGrid>,
    #[serde(default)]
    pub train: RawTrain,
    #[serde(default)]
    pub search: RawSearch,
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default, rename = "analysis")]
    pub analyses: Vec<Spanned<Analysis>>,
    /// Analyses of trained networks keep unsolved ones too.
    #[serde(default)]
    pub keep_unsolved: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    #[serde(default = "all_archs")]
    pub arch: Spanned<Vec<Arch>>,
    #[serde(default = "all_activations")]
    pub activation: Spanned<Vec<Activation>>,
    pub units: Spanned<IntList>,
    #[serde(default = "no_l2")]
    pub l2: Spanned<FloatList>,
    pub seeds: Spanned<Seeds>,
    #[serde(default)]
    pub exclude: Vec<Spanned<RawExclude>>,
}

fn all_archs() -> Spanned<Vec<Arch>> {
    Spanned::new(0..0, Arch::ALL.to_vec())
}
fn all_activations() -> Spanned<Vec<Activation>> {
    Spanned::new(0..0, Activation::ALL.to_vec())
}
fn no_l2() -> Spanned<FloatList> {
    Spanned::new(0..0, FloatList(vec![0.0]))
}

/// A partial configuration: every configuration that matches all given fields is dropped.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExclude {
    pub arch: Option<Arch>,
    pub activation: Option<Activation>,
    pub units: Option<u64>,
    pub l2: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    #[serde(default = "d_iterations")]
    pub iterations: Spanned<u64>,
    #[serde(default = "d_batch")]
    pub batch: Spanned<u64>,
    #[serde(default = "d_decay_steps")]
    pub decay_steps: Spanned<u64>,
    #[serde(default = "d_log_every")]
    pub log_every: Spanned<u64>,
    #[serde(default = "d_val_trials")]
    pub val_trials: Spanned<u64>,
    #[serde(default = "d_val_seed")]
    pub val_seed: u64,
    /// Also keep every network at iteration 0 (the untrained controls of the paper's Fig. 4).
    #[serde(default = "yes")]
    pub untrained: bool,
    /// Hyper-parameters used when `search.trials = 0`.
    #[serde(default = "d_lr0")]
    pub lr0: Spanned<f64>,
    #[serde(default = "d_decay")]
    pub decay: Spanned<f64>,
    #[serde(default = "d_momentum")]
    pub momentum: Spanned<f64>,
    #[serde(default = "d_clip")]
    pub clip: Spanned<f64>,
}

impl Default for RawTrain {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}
fn d_iterations() -> Spanned<u64> {
    sp(2000)
}
fn d_batch() -> Spanned<u64> {
    sp(64)
}
fn d_decay_steps() -> Spanned<u64> {
    sp(1000)
}
fn d_log_every() -> Spanned<u64> {
    sp(50)
}
fn d_val_trials() -> Spanned<u64> {
    sp(256)
}
fn d_val_seed() -> u64 {
    1_000_003
}
fn yes() -> bool {
    true
}
fn d_lr0() -> Spanned<f64> {
    sp(0.05)
}
fn d_decay() -> Spanned<f64> {
    sp(0.5)
}
fn d_momentum() -> Spanned<f64> {
    sp(0.9)
}
fn d_clip() -> Spanned<f64> {
    sp(1.0)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    /// Random-search trials per configuration; 0 turns the search off.
    #[serde(default)]
    pub trials: u64,
    #[serde(default = "d_search_iterations")]
    pub iterations: Spanned<u64>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "d_clip_range")]
    pub clip: Spanned<(f64, f64)>,
    #[serde(default = "d_lr0_range")]
    pub lr0: Spanned<(f64, f64)>,
    #[serde(default = "d_decay_range")]
    pub decay: Spanned<(f64, f64)>,
    #[serde(default = "d_momentum_range")]
    pub momentum: Spanned<(f64, f64)>,
}

impl Default for RawSearch {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn d_search_iterations() -> Spanned<u64> {
    sp(500)
}
fn d_clip_range() -> Spanned<(f64, f64)> {
    sp((0.1, 10.0))
}
fn d_lr0_range() -> Spanned<(f64, f64)> {
    sp((1e-5, 0.1))
}
fn d_decay_range() -> Spanned<(f64, f64)> {
    sp((0.1, 0.9))
}
fn d_momentum_range() -> Spanned<(f64, f64)> {
    sp((0.0, 1.0))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    #[serde(default = "d_probe_trials")]
    pub trials: Spanned<u64>,
    #[serde(default = "d_probe_seed")]
    pub seed: u64,
}

impl Default for RawProbe {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn d_probe_trials() -> Spanned<u64> {
    sp(64)
}
fn d_probe_seed() -> u64 {
    7
}
