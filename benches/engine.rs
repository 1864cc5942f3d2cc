//! The user's path against the bare loop. `experiments/train-only.toml` (flip-flop, 128 units,
//! batch 64, no search, no analyses), one architecture at a time, run
//! 1. in process: `census::ops::apply` on one job from a fresh cache, beside `rnn::train` of the
//!    same network (same seeds and options, as the `train` task derives them): `engine/bare`
//!    is what planning, the probe and the cache cost on top of training;
//! 2. as the binaries `cargo run` and `cargo run --release` build (`target/debug/census` and
//!    `target/release/census apply --jobs 1`), interleaved dev, release, dev, release:
//!    `dev/release` is the gap between the README's command and the release build. A binary
//!    older than a file of `engine/` is skipped and named (build both first:
//!    `cargo build && cargo build --release`).
//!
//! `cargo bench --bench engine` compiles (1) with release settings; `cargo bench --profile dev
//! --bench engine` compiles it as `cargo run` does. Every figure is the fastest of two runs.
//! `CENSUS_BENCH_ITERS` (default 100; the manifest says 600) sets the training iterations,
//! `CENSUS_BENCH_ARCHS` (default "vanilla,gru") the architectures.

use census::exec::{Event, Observer};
use census::rnn::{self, Arch, Hyper, Network, Shape, TaskSpec, TrainOpts};
use census::store::ParquetStore;
use census::task::derive_seed;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime};

const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/train-only.toml");

struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: Event) {}
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

/// The manifest's text for one architecture and `iterations`.
fn manifest_text(arch: Arch, iterations: usize) -> String {
    let text = std::fs::read_to_string(MANIFEST).expect("experiments/train-only.toml");
    let mut doc: toml::Table = text.parse().expect("a TOML manifest");
    let study = doc["study"].as_array_mut().expect("[[study]]")[0]
        .as_table_mut()
        .expect("a study table");
    study["grid"]["arch"] = toml::Value::Array(vec![arch.name().into()]);
    study["train"]["iterations"] = toml::Value::Integer(iterations as i64);
    toml::to_string(&doc).expect("serialisable")
}

/// Seconds of `census::ops::apply` on one job from a fresh cache.
fn engine_seconds(text: &str) -> f64 {
    let manifest = census::manifest::parse(Path::new(MANIFEST), text).expect("valid manifest");
    let dir = tempfile::tempdir().expect("a temporary cache");
    let store = ParquetStore::open(dir.path()).expect("a fresh store");
    let start = Instant::now();
    let s = census::ops::apply(&manifest, &store, 1, &AtomicBool::new(false), &mut Quiet)
        .expect("a plannable manifest");
    assert!(s.failed.is_empty(), "failed: {:?}", s.failed);
    start.elapsed().as_secs_f64()
}

/// Seconds of `rnn::train` of the manifest's network, as the `train` task calls it (seed 0, the
/// `[study.train]` values and defaults of `experiments/train-only.toml`).
fn bare_seconds(arch: Arch, iterations: usize) -> f64 {
    let task = TaskSpec::flipflop();
    let shape = Shape {
        arch,
        activation: rnn::Activation::Tanh,
        units: 128,
        inputs: task.inputs(),
        outputs: task.outputs(),
    };
    let hyper = Hyper {
        lr0: 0.05,
        decay: 0.5,
        momentum: 0.9,
        clip: 1.0,
    };
    let opts = TrainOpts {
        iterations,
        batch: 64,
        decay_steps: 1000,
        l2: 0.0,
        log_every: 50,
        val_trials: 256,
        val_seed: 1_000_003,
        data_seed: derive_seed(&("data", 0u64)),
    };
    let init = Network::init(shape, derive_seed(&("init", 0u64)));
    let start = Instant::now();
    rnn::train(init, &task, &hyper, &opts, &AtomicBool::new(false)).expect("training runs");
    start.elapsed().as_secs_f64()
}

fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(t);
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("engine"),
        &mut newest,
    );
    newest
}

/// `target/<profile>/census`, when it exists and is newer than every source file.
fn binary(profile: &str) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join(profile).join("census");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified());
    match built {
        Ok(t) if t >= newest_source() => Some(bin),
        Ok(_) => {
            println!(
                "{}: older than engine/, skipped (cargo build)",
                bin.display()
            );
            None
        }
        Err(_) => {
            println!("{}: not built, skipped", bin.display());
            None
        }
    }
}

/// Seconds of `bin apply MANIFEST --jobs 1` from a fresh cache.
fn binary_seconds(bin: &Path, manifest: &Path) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary cache");
    let start = Instant::now();
    let status = Command::new(bin)
        .arg("apply")
        .arg(manifest)
        .arg("--cache")
        .arg(dir.path())
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the census binary starts");
    assert!(status.success(), "{} apply failed", bin.display());
    start.elapsed().as_secs_f64()
}

/// The fastest of two interleaved runs of each of `a` and `b` (a, b, a, b).
fn interleaved(mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (f64, f64) {
    let (a1, b1) = (a(), b());
    let (a2, b2) = (a(), b());
    (a1.min(a2), b1.min(b2))
}

fn main() {
    let iterations: usize = env_or("CENSUS_BENCH_ITERS", "100")
        .parse()
        .expect("CENSUS_BENCH_ITERS: an integer");
    let archs: Vec<Arch> = env_or("CENSUS_BENCH_ARCHS", "vanilla,gru")
        .split(',')
        .filter_map(|s| Arch::ALL.into_iter().find(|a| a.name() == s.trim()))
        .collect();
    let bins = binary("debug").zip(binary("release"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "train-only manifest, flip-flop, 128 units, batch 64, {iterations} iterations, one job"
    );
    println!(
        "{:<8} {:>9} {:>9} {:>11} {:>9} {:>9} {:>11}",
        "arch", "engine s", "bare s", "engine/bare", "dev s", "release s", "dev/release"
    );
    for arch in archs {
        let text = manifest_text(arch, iterations);
        let (engine, bare) =
            interleaved(|| engine_seconds(&text), || bare_seconds(arch, iterations));
        let path = dir.path().join(format!("train-only-{arch}.toml"));
        std::fs::write(&path, &text).expect("a writable temporary directory");
        let (dev, release) = bins.as_ref().map_or((f64::NAN, f64::NAN), |(d, r)| {
            interleaved(|| binary_seconds(d, &path), || binary_seconds(r, &path))
        });
        println!(
            "{:<8} {:>9.2} {:>9.2} {:>11.3} {:>9.2} {:>9.2} {:>11.3}",
            arch.name(),
            engine,
            bare,
            engine / bare,
            dev,
            release,
            dev / release
        );
    }
    println!("engine = census::ops::apply in this bench's profile; bare = rnn::train alone.");
    println!("dev/release = target/debug/census over target/release/census (`cargo run -- apply` against `--release`).");
}
