//! A trained flip-flop network (SPEC §5's expected scaffold), committed as a fixture so tests
//! and benchmarks need not train one: `tests/fixtures/flipflop_gru24.json`, a 24-unit tanh GRU
//! trained 1,500 iterations with the hyper-parameters stored in the file. Regenerate it with
//! `cargo test -- --ignored regenerate_flipflop_fixture` (training takes about 20 s).

use crate::rnn::{train, Activation, Arch, Hyper, Network, Param, Shape, TaskSpec, TrainOpts};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Serialize, Deserialize)]
struct Fixture {
    about: String,
    shape: Shape,
    init_seed: u64,
    hyper: Hyper,
    train: TrainOpts,
    val_loss: f64,
    params: Vec<NamedParam>,
}

#[derive(Serialize, Deserialize)]
struct NamedParam {
    name: String,
    rows: usize,
    cols: usize,
    values: Vec<f32>,
}

/// Relative to this source file, so it resolves from the package root (where tests run).
pub(crate) fn path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/flipflop_gru24.json"
    ))
}

pub(crate) fn flipflop_gru24() -> Network {
    let text = std::fs::read_to_string(path()).expect("fixture tests/fixtures/flipflop_gru24.json");
    let f: Fixture = serde_json::from_str(&text).expect("fixture parses");
    let params: Vec<Param> = f
        .params
        .into_iter()
        .map(|p| Param {
            name: p.name,
            rows: p.rows,
            cols: p.cols,
            values: p.values,
        })
        .collect();
    Network::from_params(f.shape, &params).expect("fixture parameters fit their shape")
}

#[test]
#[ignore = "writes tests/fixtures/flipflop_gru24.json; run by hand to regenerate it"]
fn regenerate_flipflop_fixture() {
    let shape = Shape {
        arch: Arch::Gru,
        activation: Activation::Tanh,
        units: 24,
        inputs: 3,
        outputs: 3,
    };
    let hyper = Hyper {
        lr0: 0.3,
        decay: 0.7,
        momentum: 0.9,
        clip: 1.0,
    };
    let opts = TrainOpts {
        iterations: 1500,
        log_every: 0,
        data_seed: 2000,
        ..TrainOpts::default()
    };
    let init_seed = 2;
    let never = std::sync::atomic::AtomicBool::new(false);
    let r = train(
        Network::init(shape, init_seed),
        &TaskSpec::flipflop(),
        &hyper,
        &opts,
        &never,
    )
    .unwrap();
    let f = Fixture {
        about: "census test fixture: a GRU trained on the 3-bit flip-flop task; regenerate \
                with `cargo test -- --ignored regenerate_flipflop_fixture`"
            .into(),
        shape,
        init_seed,
        hyper,
        train: opts,
        val_loss: r.val_loss,
        params: r
            .network
            .params()
            .into_iter()
            .map(|p| NamedParam {
                name: p.name,
                rows: p.rows,
                cols: p.cols,
                values: p.values,
            })
            .collect(),
    };
    std::fs::create_dir_all(path().parent().unwrap()).unwrap();
    std::fs::write(path(), serde_json::to_string(&f).unwrap() + "\n").unwrap();
    assert!(r.val_loss < 0.01, "val MSE {}", r.val_loss);
}
