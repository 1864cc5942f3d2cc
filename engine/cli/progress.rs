//! Progress display: a bar that ticks every second with counts and the time left on a terminal,
//! plain lines with the time left otherwise. The time left comes from `eta`.

use super::eta::{duration, Eta};
use crate::exec::{Event, Observer};
use crate::plan::{Plan, TaskNode};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last estimate and when it was made, shared with the bar's ticking template.
type Estimate = Arc<Mutex<(f64, Instant)>>;

pub struct Progress<'a> {
    plan: &'a Plan,
    bar: Option<ProgressBar>,
    done: usize,
    total: usize,
    eta: Eta,
    clock: Instant,
    estimate: Estimate,
}

impl<'a> Progress<'a> {
    /// Progress of a run of `plan` on `jobs` worker threads.
    pub fn new(plan: &'a Plan, jobs: usize) -> Progress<'a> {
        Progress {
            plan,
            bar: None,
            done: 0,
            total: 0,
            eta: Eta::new(jobs),
            clock: Instant::now(),
            estimate: Arc::new(Mutex::new((0.0, Instant::now()))),
        }
    }

    fn line(&self, s: String) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    fn now(&self) -> f64 {
        self.clock.elapsed().as_secs_f64()
    }

    /// Re-estimates the time left; returns it.
    fn update(&self) -> f64 {
        let left = self.eta.remaining(self.now());
        if let Ok(mut e) = self.estimate.lock() {
            *e = (left, Instant::now());
        }
        left
    }

    fn tick(&mut self) {
        self.done += 1;
        self.update();
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn start_bar(&mut self, to_run: usize) {
        let estimate = self.estimate.clone();
        let left = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let (left, at) = estimate.lock().map(|e| *e).unwrap_or((0.0, Instant::now()));
            let _ = write!(w, "{}", duration(left - at.elapsed().as_secs_f64()));
        };
        let bar = ProgressBar::with_draw_target(Some(to_run as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} tasks, {elapsed} elapsed, about {left} left  {msg}",
            )
            .expect("valid template")
            .with_key("left", left),
        );
        bar.enable_steady_tick(Duration::from_secs(1));
        self.bar = Some(bar);
    }
}

impl Observer for Progress<'_> {
    fn event(&mut self, e: Event) {
        match e {
            Event::Start {
                total,
                cached,
                to_run,
                pending,
            } => {
                self.total = to_run;
                self.eta.start(self.plan, &pending);
                let left = self.update();
                eprintln!(
                    "{total} tasks: {cached} cached, {to_run} to run{}",
                    if to_run > 0 {
                        format!(" (about {} at first estimate)", duration(left))
                    } else {
                        String::new()
                    }
                );
                if to_run > 0 && std::io::stderr().is_terminal() {
                    self.start_bar(to_run);
                }
            }
            Event::Started { node } => {
                self.eta.started(node.key, self.now());
                self.update();
                if let Some(b) = &self.bar {
                    b.set_message(name(node));
                }
            }
            Event::Finished { node, seconds } => {
                self.eta.finished(node.key, seconds);
                self.tick();
                if self.bar.is_none() {
                    let left = self.eta.remaining(self.now());
                    eprintln!(
                        "[{}/{}] {} ({seconds:.1} s; about {} left)",
                        self.done,
                        self.total,
                        name(node),
                        duration(left)
                    );
                }
            }
            Event::Restored { node } => {
                self.eta.dropped(node.key);
                self.tick();
                if self.bar.is_none() {
                    eprintln!(
                        "[{}/{}] {} (restored: its inputs are unchanged)",
                        self.done,
                        self.total,
                        name(node)
                    );
                }
            }
            Event::Failed { node, error } => {
                self.eta.dropped(node.key);
                self.tick();
                self.line(format!("FAILED {}: {error}", name(node)));
            }
            Event::Skipped { node, because } => {
                self.eta.dropped(node.key);
                self.tick();
                self.line(format!(
                    "skipped {} (because {} {} failed)",
                    name(node),
                    because.kind,
                    because.label
                ));
            }
            Event::Damaged { node, reason } => {
                self.line(format!(
                    "damaged cache entry of {} ({reason}): recomputing it",
                    name(node)
                ));
            }
        }
    }
}

/// A task as progress lines name it: `flipflop: train gru-tanh-64 l2=0.0001 seed 3` (every
/// study that shares it, joined by `+`).
fn name(node: &TaskNode) -> String {
    format!("{}: {} {}", node.studies.join("+"), node.kind, node.label)
}
