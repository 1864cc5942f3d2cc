//! DSA against the reference package (`dsa-metric`, mitchellostrow/DSA) on census's exported
//! probe states: the fitted operators agree (eigenvalues, and the basis-free operator on delay
//! coordinates), and census's optimised angle is never worse than the reference's.
//!
//! Tolerance of the angle comparison. The reference fits its operators in float32, census in
//! float64, so the two `A`s of a network differ by `δ = min_C ‖Â_census − C Â_ref Cᵀ‖_F`
//! (measured here with census's own alignment). For any `C`, the objectives
//! `⟨Â, C B̂ Cᵀ⟩` on the two fits differ by at most `δ_A + δ_B` (triangle inequality; the
//! orthogonal matrices relating the fits are absorbed into `C`), so census's optimum must
//! satisfy `cos θ_census ≥ cos θ_ref − δ_A − δ_B`, where `θ_ref` is the angle the reference's
//! own `C` reaches (made exactly orthogonal and evaluated in float64). A looser result would mean
//! census's optimiser stopped short of a point the reference found.

use crate::common::{apply, manifest, reference_available, succeeds, TINY};
use census::analysis::dsa::{self, dmd, orthogonal, wasserstein, DsaParams};
use census::store::{read_table_file, ParquetStore};
use faer::c64;
use ndarray::Array2;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn python_has_dsa() -> bool {
    reference_available(
        succeeds("python3", &["-c", "import DSA, torch, pandas, pyarrow"]),
        "CI",
        "the DSA reference (dsa-metric, torch, pandas, pyarrow)",
        "pip install -r tests/requirements.txt",
    )
}

const PARAMS: (usize, usize, usize) = (2, 1, 6); // n_delays, delay_interval, rank

fn matrix(v: &serde_json::Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let n = rows.len();
    Array2::from_shape_vec((n, rows[0].len()), rows.concat()).unwrap()
}

/// Each network's (step, trial, state) rows, by network id.
type StateRows<'a> = BTreeMap<String, Vec<(i64, i64, &'a Vec<f32>)>>;

/// Each network's states from the exported `states` table, time-major, with its trial count.
fn exported_states(out: &Path) -> BTreeMap<String, (Array2<f32>, usize)> {
    let t = read_table_file(&out.join("states.parquet")).unwrap();
    let (ids, trial, step, h) = (
        t.strs("network_id").unwrap(),
        t.i64s("trial").unwrap(),
        t.i64s("t").unwrap(),
        t.lists("h").unwrap(),
    );
    let mut rows = StateRows::new();
    for i in 0..ids.len() {
        rows.entry(ids[i].clone())
            .or_default()
            .push((step[i], trial[i], &h[i]));
    }
    rows.into_iter()
        .map(|(id, mut r)| {
            r.sort_by_key(|&(s, k, _)| (s, k));
            let trials = r.iter().map(|x| x.1).max().unwrap() as usize + 1;
            let n = r[0].2.len();
            let flat: Vec<f32> = r.iter().flat_map(|x| x.2.iter().copied()).collect();
            (
                id,
                (Array2::from_shape_vec((r.len(), n), flat).unwrap(), trials),
            )
        })
        .collect()
}

#[test]
fn dsa_agrees_with_the_reference_package() {
    if !python_has_dsa() {
        return;
    }
    let (n_delays, delay_interval, rank) = PARAMS;
    let text = TINY.replace(
        "[[study.analysis]]\nkind = \"mds\"",
        &format!(
            "[[study.analysis]]\nkind = \"dsa\"\nn_delays = {n_delays}\ndelay_interval = \
             {delay_interval}\nrank = {rank}\n\n[[study.analysis]]\nkind = \"mds\""
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    apply(&text, dir.path());
    let out = dir.path().join("out");
    let store = ParquetStore::open(dir.path()).unwrap();
    census::ops::export::export(&manifest(&text), &store, &out, true).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/dsa_ref.py");
    let result = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .args([n_delays, delay_interval, rank].map(|v| v.to_string()))
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();

    let p = DsaParams {
        n_delays,
        delay_interval,
        rank: Some(rank),
        ..DsaParams::default()
    };
    let mut ours = BTreeMap::new();
    let mut delta = BTreeMap::new();
    for (id, (x, trials)) in exported_states(&out) {
        let fit = dmd::fit(0, x.view(), trials, &p.fit()).unwrap();
        let theirs = &reference["networks"][&id];
        let a_ref = matrix(&theirs["a"]);
        assert_eq!(fit.rank(), a_ref.nrows(), "{id}: rank");
        let eig_ref: Vec<c64> = serde_json::from_value::<Vec<[f64; 2]>>(theirs["eig"].clone())
            .unwrap()
            .iter()
            .map(|e| c64::new(e[0], e[1]))
            .collect();
        let eig = wasserstein::spectrum(fit.a.view()).unwrap();
        let mismatch = wasserstein::score(&eig, &eig_ref).sqrt();
        assert!(
            mismatch < 1e-3,
            "{id}: eigenvalues differ by {mismatch:.1e} (rms)"
        );
        let delay_ref = matrix(&theirs["delay"]);
        let ours_delay = fit.delay_operator();
        let scale = delay_ref.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = (&ours_delay - &delay_ref)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            err < 1e-3 * scale,
            "{id}: delay operator differs by {err:.1e} (scale {scale:.2})"
        );
        let d = orthogonal::angular(fit.a.view(), a_ref.view());
        delta.insert(id.clone(), 2.0 * (d.angle / 2.0).sin());
        ours.insert(
            id,
            dsa::Fitted {
                spectrum: eig,
                dmd: fit,
            },
        );
    }

    let sim = read_table_file(&out.join("similarity.parquet")).unwrap();
    let census_d: BTreeMap<(String, String), f64> = (0..sim.num_rows())
        .filter(|&i| sim.strs("metric").unwrap()[i] == "dsa")
        .map(|i| {
            (
                (
                    sim.strs("network_a").unwrap()[i].clone(),
                    sim.strs("network_b").unwrap()[i].clone(),
                ),
                sim.f64s("distance").unwrap()[i],
            )
        })
        .collect();
    let pairs = reference["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), ours.len() * (ours.len() - 1) / 2);
    let (mut better, mut worst_gap) = (0, f64::NEG_INFINITY);
    for pr in pairs {
        let (a, b) = (pr["a"].as_str().unwrap(), pr["b"].as_str().unwrap());
        let theirs = pr["angular64"].as_f64().unwrap();
        let census = census_d[&(a.to_string(), b.to_string())];
        let slack = delta[a] + delta[b];
        let bound = (theirs.cos() - slack).clamp(-1.0, 1.0).acos() + 1e-9;
        assert!(
            census <= bound,
            "{a} vs {b}: census {census} > reference {theirs} (bound {bound})"
        );
        better += usize::from(census < theirs - 1e-6);
        worst_gap = worst_gap.max(census - theirs);
        let w_ref = pr["wasserstein"].as_f64().unwrap();
        let w = dsa::pair(&ours[a], &ours[b], dsa::Score::Wasserstein);
        assert!(
            (w - w_ref).abs() < 1e-4 * (1.0 + w_ref),
            "{a} vs {b}: wasserstein {w} vs {w_ref}"
        );
    }
    eprintln!(
        "dsa: {} pairs; census lower than the reference on {better}; largest census − reference \
         {worst_gap:.1e}; largest fit discrepancy δ {:.1e}",
        pairs.len(),
        delta.values().fold(0.0f64, |m, v| m.max(*v))
    );
}
