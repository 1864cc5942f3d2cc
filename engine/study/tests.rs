//! The analysis list, the typed parameters and the study pipeline against the keys and messages
//! they had when parameters were written as `json!` literals.

use super::*;
use crate::analysis::dsa::DsaParams;
use crate::task::{encode, Context, TaskKind, Typed};
use serde_json::json;

fn manifest(path: &str) -> crate::manifest::Manifest {
    crate::manifest::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn every_kind_name_is_its_manifest_tag_and_its_defaults_check() {
    assert_eq!(Analysis::KINDS.len(), Analysis::TASKS.len());
    for &kind in Analysis::KINDS {
        let a: Analysis = toml::from_str(&format!("kind = \"{kind}\"")).unwrap();
        assert_eq!(a.kind(), kind);
        assert_eq!(a.check(), None, "{kind}");
    }
}

#[test]
fn optional_parameters_stay_out_of_the_key_when_absent() {
    let exact = CkaParams {
        tol: 1e-8,
        sketch: None,
    };
    let pop = |of| Population {
        of,
        keep_unsolved: false,
    };
    assert_eq!(
        encode(&pop(exact.clone())),
        json!({ "tol": 1e-8, "keep_unsolved": false })
    );
    let sketched = CkaParams {
        sketch: Some(64),
        ..exact
    };
    assert_eq!(
        encode(&pop(sketched)),
        json!({ "tol": 1e-8, "sketch": 64, "keep_unsolved": false })
    );
    let svcca: SvccaParams = toml::from_str("").unwrap();
    assert_eq!(
        encode(&Population {
            of: svcca,
            keep_unsolved: true
        }),
        json!({ "variance": 0.95, "keep": "study", "keep_unsolved": true })
    );
}

#[test]
fn population_parameters_read_back_as_written() {
    let dsa: DsaParams = toml::from_str("variance = 0.8\nscore = \"wasserstein\"").unwrap();
    let p = Population {
        of: dsa,
        keep_unsolved: true,
    };
    let back: Population<DsaParams> = serde_json::from_value(encode(&p)).unwrap();
    assert_eq!(back, p);
    let components: SvccaParams = toml::from_str("components = 3").unwrap();
    let p = Population {
        of: components,
        keep_unsolved: false,
    };
    let back: Population<SvccaParams> = serde_json::from_value(encode(&p)).unwrap();
    assert_eq!(back, p);
}

#[test]
fn a_kind_refuses_parameters_its_check_refuses() {
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let ctx = Context {
        key: crate::key::Key::from_bytes([0; 32]),
        cancel: &cancel,
    };
    let p = json!({ "variance": 2.0, "keep": "study", "keep_unsolved": false });
    let e = Typed(svcca::Svcca).run(&ctx, &p, &[]).unwrap_err();
    assert_eq!(e.to_string(), "svcca.variance must be in (0, 1], got 2");
}

#[test]
fn the_geometry_of_findings_is_every_distance_over_probes() {
    assert_eq!(Analysis::probe_distances(), ["svcca", "cka", "shape", "dsa"]);
}

#[test]
fn the_distance_requirement_names_every_distance() {
    let present = Present::of(&[]);
    assert_eq!(
        present.needs_distance("mds").unwrap(),
        "`mds` needs a distance: add `svcca`, `cka`, `shape`, `dsa` or `topology`"
    );
}

/// One task of each kind of `experiments/smoke.toml`'s CDI study, keyed as before the kinds
/// were typed.
const SMOKE_CDI: [(&str, &str, &str); 14] = [
    (
        "cka",
        "all",
        "d1a91ab1d64807d56189225a1ddad50374a42d82d66d74e31fd502dc182b1e5c",
    ),
    (
        "clustering",
        "topology_matched",
        "09e99392808c1b44d68dd920bd6afc6dc7183d5eede402d7a4c6dfed81c3c0e4",
    ),
    (
        "dsa",
        "all",
        "6fff074893e4305e479a3d4316bffd51d59cc248608c65e4517c27f172154d21",
    ),
    (
        "findings",
        "all",
        "ec10915f4a0bbb99405e7e3a3eae2bb4d8d174825f7191bbb1ebd9abfe406449",
    ),
    (
        "fixed_points",
        "lstm-relu-6 l2=0.0001 seed 0 untrained",
        "208b805c28a5a6578524134fdb4eaaa253fd35db9352a90d26d52656c3bdcb76",
    ),
    (
        "mds",
        "topology_matched",
        "313c5d022e135ccd149464298fb59264344712099ef0026cd4291e26b1a66b2c",
    ),
    (
        "probe",
        "lstm-relu-6 l2=0.0001 seed 0 untrained",
        "96db488431680f2c000c7628c5b879801bea5eb1f07f0111137f6da68299000b",
    ),
    (
        "search_trial",
        "lstm-relu-6 l2=0.0001 trial 1",
        "2f075636eda2f741dba76d54fe43d8365bec519dc79a8d3d2fba9c7b75660297",
    ),
    (
        "select",
        "lstm-relu-6 l2=0.0001",
        "3093d724675ca1af46ca3083118d7e6b6ca7995272da7e013bc6b78117b054b7",
    ),
    (
        "shape",
        "all",
        "f19232bb7cdc63a07ad0ce18f8f4d9aa23451a2328713ee56077e5b09a3c95f5",
    ),
    (
        "svcca",
        "all",
        "e74c87cd5de4449b424a3f3a9175640382a0de330fc6db9e2cf037aee39af434",
    ),
    (
        "topology",
        "lstm-relu-6 l2=0.0001 seed 0 untrained",
        "6b3d3364ea7c6c2523cc63bb9c3abc93e3a9adfc2ef388e70c71287cf8232b2f",
    ),
    (
        "topology_distance",
        "matched",
        "91f14322b63ddfb5202a2f3e9637b138b6be8d9b3a7581ad2f6365c448b6215a",
    ),
    (
        "train",
        "lstm-relu-6 l2=0.0001 seed 0 untrained",
        "d1d789115fb6cfb55010ce33370e0a0b5a89b9e3441719556fd5fec3e5498e4b",
    ),
];

#[test]
fn keys_of_every_kind_are_those_of_the_untyped_planner() {
    let registry = Registry::standard();
    let plan = expand(&manifest("experiments/smoke.toml"), &|k| {
        registry.version(k)
    })
    .unwrap();
    for (kind, label, key) in SMOKE_CDI {
        let (_, node) = plan
            .nodes()
            .find(|(_, n)| n.study == "smoke-cdi" && n.kind == kind && n.label == label)
            .unwrap_or_else(|| panic!("no {kind} {label}"));
        assert_eq!(node.key.hex(), key, "{kind} {label}");
    }
    for (_, node) in plan.nodes() {
        let k = registry
            .get(node.kind)
            .expect("every planned kind is registered");
        assert_eq!(k.version(), node.version);
    }
}
