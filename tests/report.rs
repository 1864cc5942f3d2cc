//! `census report` end to end: the smoke manifest applied, the report drawn from its cache, every
//! figure of every task present and non-empty, and the page checked in headless Chromium
//! (`scripts/check-report.sh`) where Chromium is installed; CI installs it and sets
//! `CHROMIUM_REQUIRED=1`, so there a missing browser fails the test.

use crate::common::{apply_cli, census_cli};
use std::path::Path;

#[test]
fn report_draws_every_figure_of_the_smoke_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = dir.path().join("smoke.toml");
    std::fs::copy(root.join("experiments/smoke.toml"), &manifest).unwrap();
    apply_cli(&manifest, &dir.path().join("cache"), "2");

    let run = census_cli(&[
        "report",
        "smoke.toml",
        "--cache",
        "cache",
        "--out",
        "figures",
    ])
    .current_dir(dir.path())
    .stderr(std::process::Stdio::piped())
    .output()
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = dir.path().join("figures");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();

    let expected = [
        "smoke-flipflop-trajectories",
        "smoke-flipflop-fixed-points",
        "smoke-flipflop-distances",
        "smoke-flipflop-mds-svcca",
        "smoke-flipflop-mds-dsa",
        "smoke-flipflop-mds-topology_matched",
        "smoke-flipflop-trained-vs-untrained",
        "smoke-sine-eigenvalues",
        "smoke-sine-linear-frequency",
        "smoke-sine-mds-cka",
        "smoke-cdi-eigenvalue-spectra",
        "smoke-cdi-mode-ablation",
        "smoke-cdi-mds-shape",
    ];
    for name in expected {
        for ext in ["png", "svg"] {
            let file = format!("{name}.{ext}");
            let size = std::fs::metadata(out.join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .len();
            assert!(size > 5_000, "{file} is only {size} bytes");
            if ext == "png" {
                assert!(page.contains(&file), "index.html does not show {file}");
            }
        }
        // the PNG is the SVG at 3 times its size; the SVG's text is glyph outlines
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        assert!(
            !svg.contains("<text"),
            "{name}.svg has text left to the viewer's fonts"
        );
        let attr = |key: &str| -> u32 {
            let from = svg.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
            svg[from..from + svg[from..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        let png = std::fs::read(out.join(format!("{name}.png"))).unwrap();
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!(
            (dim(16), dim(20)),
            (3 * attr("width"), 3 * attr("height")),
            "{name}.png is not 3 times its SVG"
        );
    }
    assert!(
        page.contains("Clustering") && page.contains("<table"),
        "the clustering table is on the page"
    );
    assert!(
        !std::fs::read_dir(&out).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp")),
        "no staging folder is left behind"
    );

    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        assert!(
            std::env::var_os("CHROMIUM_REQUIRED").is_none(),
            "CHROMIUM_REQUIRED is set but {chromium} is missing"
        );
        eprintln!("skipped the browser check: {chromium} is not installed");
        return;
    }
    let check = std::process::Command::new("bash")
        .arg(root.join("scripts/check-report.sh"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check-report.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
