//! From the raw manifest to the checked one: every value in range, every grid non-empty, every
//! reference resolvable. After this, nothing downstream validates input again.

use crate::study::{Analysis, Present};
use super::document::{self, ReadStudy};
use super::error::{ManifestError, Source};
use super::raw::{RawExclude, RawStudy};
use crate::rnn::{Activation, Arch, Hyper, SearchSpace, TaskSpec};
use std::cell::RefCell;
use std::ops::Range;
use toml::Spanned;

/// Longest study name: figure file names start with it.
const MAX_STUDY_NAME: usize = 100;
/// Most configurations a grid may have before exclusions; checked before they are listed.
const MAX_CONFIGS: u128 = 1_000_000;

/// A checked manifest: one or more studies.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub studies: Vec<Study>,
}

/// One population: a task, a grid of configurations, how to train them, what to analyse.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    pub name: String,
    pub task: TaskSpec,
    /// Configurations in a canonical order (arch, activation, units, l2), exclusions applied.
    pub configs: Vec<Config>,
    pub seeds: Vec<u64>,
    pub train: Train,
    pub search: Option<Search>,
    pub probe: Probe,
    pub analyses: Vec<Analysis>,
    /// Analyses of trained networks keep those that do not solve the task (default: only solved
    /// networks, the paper's rule; the rest are listed in `excluded`).
    pub keep_unsolved: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Config {
    pub arch: Arch,
    pub activation: Activation,
    pub units: usize,
    pub l2: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Train {
    pub iterations: usize,
    pub batch: usize,
    pub decay_steps: usize,
    pub log_every: usize,
    pub val_trials: usize,
    pub val_seed: u64,
    pub untrained: bool,
    /// Used when the study has no search.
    pub hyper: Hyper,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Search {
    pub trials: usize,
    pub iterations: usize,
    pub seed: u64,
    pub space: SearchSpace,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Probe {
    pub trials: usize,
    pub seed: u64,
}

/// Parses and checks a manifest, reporting every error found. `path` is only used in messages.
pub fn parse(path: &std::path::Path, text: &str) -> Result<Manifest, ManifestError> {
    let source = Source::new(path, text.to_string());
    let studies = document::read(&source)?;
    let checker = Checker {
        source: &source,
        errors: RefCell::new(studies.errors),
        quiet: RefCell::new(Vec::new()),
    };
    let manifest = if studies.stopped {
        Manifest {
            studies: Vec::new(),
        }
    } else {
        checker.manifest(studies.read)
    };
    match ManifestError::many(checker.errors.into_inner(), studies.stopped) {
        Some(e) => Err(e),
        None => Ok(manifest),
    }
}

/// The semantic checks. Each records its error and goes on with the value as written, so that
/// one run finds them all; a path `recover` cut out of a study is not checked again.
struct Checker<'a> {
    source: &'a Source,
    errors: RefCell<Vec<ManifestError>>,
    /// Paths cut out of the study being checked.
    quiet: RefCell<Vec<String>>,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: impl Into<String>) {
        let under = |a: &str, b: &str| {
            a.strip_prefix(b).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
            })
        };
        // A value below the field may have been cut (a filter key), or the field below a cut.
        let related = |cut: &String| under(field, cut) || under(cut, field);
        if self.quiet.borrow().iter().any(related) {
            return;
        }
        let span = (span.end > 0).then_some(span);
        let e = ManifestError::at(self.source, span, field, message);
        self.errors.borrow_mut().push(e);
    }

    fn manifest(&self, read: Vec<ReadStudy>) -> Manifest {
        if read.is_empty() && self.errors.borrow().is_empty() {
            self.err(
                0..0,
                "study",
                "the manifest declares no study: add a `[[study]]` table",
            );
        }
        let mut studies: Vec<Study> = Vec::new();
        for s in read {
            *self.quiet.borrow_mut() = s.cut.iter().map(|p| p.to_string()).collect();
            let study = self.study(s.index, s.raw);
            if studies.iter().any(|o| o.name == study.name) {
                self.err(
                    s.span,
                    &format!("study[{}].name", s.index),
                    format!(
                        "a study named `{}` exists already; names must be unique",
                        study.name
                    ),
                );
            }
            studies.push(study);
        }
        Manifest { studies }
    }

    fn study(&self, i: usize, raw: RawStudy) -> Study {
        let at = |f: &str| format!("study[{i}].{f}");
        let name = raw.name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            self.err(
                raw.name.span(),
                &at("name"),
                "a study name must be non-empty and use only letters, digits, `-`, `_` and `.`",
            );
        }
        // Figure files are named `<study>-<figure>-<metric>.svg`: keep them under 255 bytes.
        if name.len() > MAX_STUDY_NAME {
            self.err(
                raw.name.span(),
                &at("name"),
                format!(
                    "a study name has at most {MAX_STUDY_NAME} characters, got {}",
                    name.len()
                ),
            );
        }
        if let Err(m) = raw.task.get_ref().check() {
            self.err(raw.task.span(), &at("task"), m);
        }
        let configs = self.grid(i, &raw);
        let seeds = raw.grid.get_ref().seeds.get_ref().0.clone();
        if seeds.is_empty() {
            self.err(
                raw.grid.get_ref().seeds.span(),
                &at("grid.seeds"),
                "the seed list is empty",
            );
        }
        let t = &raw.train;
        let positive = |v: &Spanned<u64>, f: &str| -> usize {
            if *v.get_ref() == 0 {
                self.err(v.span(), &at(f), "must be at least 1");
            }
            *v.get_ref() as usize
        };
        let iterations = *t.iterations.get_ref() as usize;
        let hyper = Hyper {
            lr0: self.in_range(&t.lr0, &at("train.lr0"), 0.0, f64::INFINITY, false),
            decay: self.in_range(&t.decay, &at("train.decay"), 0.0, 1.0, false),
            momentum: self.in_range(&t.momentum, &at("train.momentum"), 0.0, 1.0, true),
            clip: self.in_range(&t.clip, &at("train.clip"), 0.0, f64::INFINITY, false),
        };
        let train = Train {
            iterations,
            batch: positive(&t.batch, "train.batch"),
            decay_steps: positive(&t.decay_steps, "train.decay_steps"),
            log_every: positive(&t.log_every, "train.log_every"),
            val_trials: positive(&t.val_trials, "train.val_trials"),
            val_seed: t.val_seed,
            untrained: t.untrained,
            hyper,
        };
        let s = &raw.search;
        let search = if s.trials == 0 {
            None
        } else {
            // `zero_ok`: whether the low end may be 0 (momentum may; a rate, clip or decay may not).
            let range = |r: &Spanned<(f64, f64)>,
                         f: &str,
                         zero_ok: bool,
                         hi: Option<f64>|
             -> (f64, f64) {
                let (a, b) = *r.get_ref();
                let lo_ok = if zero_ok { a >= 0.0 } else { a > 0.0 };
                if !(a.is_finite() && b.is_finite() && lo_ok && a <= b && hi.is_none_or(|h| b <= h))
                {
                    let low = if zero_ok { "0 <= low" } else { "0 < low" };
                    let high = hi.map_or(String::new(), |h| format!(" <= {h}"));
                    self.err(
                        r.span(),
                        &at(f),
                        format!("must be `[low, high]` with {low} <= high{high}, got [{a}, {b}]"),
                    );
                }
                (a, b)
            };
            Some(Search {
                trials: s.trials as usize,
                iterations: positive(&s.iterations, "search.iterations"),
                seed: s.seed,
                space: SearchSpace {
                    clip: range(&s.clip, "search.clip", false, None),
                    lr0: range(&s.lr0, "search.lr0", false, None),
                    decay: range(&s.decay, "search.decay", false, Some(1.0)),
                    momentum: range(&s.momentum, "search.momentum", true, Some(1.0)),
                },
            })
        };
        let probe = Probe {
            trials: positive(&raw.probe.trials, "probe.trials"),
            seed: raw.probe.seed,
        };
        let analyses = self.analyses(i, &raw.analyses);
        Study {
            name,
            task: raw.task.into_inner(),
            configs,
            seeds,
            train,
            search,
            probe,
            analyses,
            keep_unsolved: raw.keep_unsolved,
        }
    }

    fn in_range(&self, v: &Spanned<f64>, field: &str, lo: f64, hi: f64, lo_inclusive: bool) -> f64 {
        let x = *v.get_ref();
        let ok = x.is_finite() && (x > lo || (lo_inclusive && x == lo)) && x <= hi;
        if !ok {
            let open = if lo_inclusive { "[" } else { "(" };
            self.err(
                v.span(),
                field,
                format!("must be in {open}{lo}, {hi}], got {x}"),
            );
        }
        x
    }

    fn grid(&self, i: usize, raw: &RawStudy) -> Vec<Config> {
        let g = raw.grid.get_ref();
        let at = |f: &str| format!("study[{i}].grid.{f}");
        let mut archs = g.arch.get_ref().clone();
        let mut acts = g.activation.get_ref().clone();
        let mut units = g.units.get_ref().0.clone();
        let mut l2s = g.l2.get_ref().0.clone();
        for (empty, span, f) in [
            (archs.is_empty(), g.arch.span(), "arch"),
            (acts.is_empty(), g.activation.span(), "activation"),
            (units.is_empty(), g.units.span(), "units"),
            (l2s.is_empty(), g.l2.span(), "l2"),
        ] {
            if empty {
                self.err(
                    span,
                    &at(f),
                    "the list is empty: a grid axis needs at least one value",
                );
            }
        }
        if let Some(&u) = units.iter().find(|&&u| u == 0 || u > 65_536) {
            self.err(
                g.units.span(),
                &at("units"),
                format!("units must be between 1 and 65536, got {u}"),
            );
        }
        if let Some(&l) = l2s.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
            self.err(
                g.l2.span(),
                &at("l2"),
                format!("l2 must be a finite number >= 0, got {l}"),
            );
        }
        archs.sort();
        archs.dedup();
        acts.sort();
        acts.dedup();
        units.sort();
        units.dedup();
        l2s.sort_by(f64::total_cmp);
        l2s.dedup();
        let size = [archs.len(), acts.len(), units.len(), l2s.len()]
            .iter()
            .fold(1u128, |p, &n| p * n as u128);
        if size > MAX_CONFIGS {
            self.err(
                raw.grid.span(),
                &format!("study[{i}].grid"),
                format!("the grid has {size} configurations, more than {MAX_CONFIGS}"),
            );
            return Vec::new();
        }
        let mut configs = Vec::new();
        for &arch in &archs {
            for &activation in &acts {
                for &u in &units {
                    for &l2 in &l2s {
                        let c = Config {
                            arch,
                            activation,
                            units: u as usize,
                            l2,
                        };
                        if !g.exclude.iter().any(|e| excludes(e.get_ref(), &c)) {
                            configs.push(c);
                        }
                    }
                }
            }
        }
        let axes = [archs.len(), acts.len(), units.len(), l2s.len()];
        if configs.is_empty() && !axes.contains(&0) {
            let span = g.exclude.first().map_or(raw.grid.span(), |e| e.span());
            self.err(
                span,
                &at("exclude"),
                "the exclusions remove every configuration of the grid",
            );
        }
        configs
    }

    fn analyses(&self, i: usize, raw: &[Spanned<Analysis>]) -> Vec<Analysis> {
        let mut out: Vec<Analysis> = Vec::new();
        for (j, a) in raw.iter().enumerate() {
            let field = format!("study[{i}].analysis[{j}]");
            let kind = a.get_ref().kind();
            if out.iter().any(|o| o.kind() == kind) {
                self.err(
                    a.span(),
                    &field,
                    format!("analysis `{kind}` is declared twice in this study"),
                );
                continue;
            }
            let problem = a.get_ref().check();
            if let Some((param, m)) = problem {
                self.err(a.span(), &format!("{field}.{param}"), m);
            }
            out.push(a.get_ref().clone());
        }
        let present = Present::of(&out);
        for (j, a) in raw.iter().enumerate() {
            if let Some(m) = a.get_ref().requires(&present) {
                self.err(a.span(), &format!("study[{i}].analysis[{j}]"), m);
            }
        }
        out
    }
}

fn excludes(e: &RawExclude, c: &Config) -> bool {
    e.arch.is_none_or(|a| a == c.arch)
        && e.activation.is_none_or(|a| a == c.activation)
        && e.units.is_none_or(|u| u as usize == c.units)
        && e.l2.is_none_or(|l| l == c.l2)
}
