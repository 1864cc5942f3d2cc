//! Progress display: a bar with counts and ETA on a terminal, plain lines otherwise.

use crate::exec::{Event, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
    done: usize,
    total: usize,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            bar: None,
            done: 0,
            total: 0,
        }
    }

    fn line(&self, s: String) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Observer for Progress {
    fn event(&mut self, e: Event) {
        match e {
            Event::Start {
                total,
                cached,
                to_run,
            } => {
                self.total = to_run;
                eprintln!("{total} tasks: {cached} cached, {to_run} to run");
                if to_run > 0 && std::io::stderr().is_terminal() {
                    let bar = ProgressBar::with_draw_target(
                        Some(to_run as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:30} {pos}/{len} tasks, {elapsed} elapsed, ETA {eta}  {msg}",
                        )
                        .expect("valid template"),
                    );
                    self.bar = Some(bar);
                }
            }
            Event::Started { node } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("{} {}", node.kind, node.label));
                }
            }
            Event::Finished { node, seconds } => {
                self.done += 1;
                match &self.bar {
                    Some(b) => b.inc(1),
                    None => eprintln!(
                        "[{}/{}] {} {} ({seconds:.1} s)",
                        self.done, self.total, node.kind, node.label
                    ),
                }
            }
            Event::Failed { node, error } => {
                self.done += 1;
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                self.line(format!("FAILED {} {}: {error}", node.kind, node.label));
            }
            Event::Skipped { node, because } => {
                self.done += 1;
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                self.line(format!(
                    "skipped {} {} (because {} {} failed)",
                    node.kind, node.label, because.kind, because.label
                ));
            }
            Event::Damaged { node, reason } => {
                self.line(format!(
                    "damaged cache entry of {} {} ({reason}): recomputing it",
                    node.kind, node.label
                ));
            }
        }
    }
}
