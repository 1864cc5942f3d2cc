//! The report's fixed colours, so a given architecture has the same colour in every figure of
//! every report: architecture and activation colours (Tableau 10, vanilla blue as in the
//! paper's Fig. 3f), the paper's Fig. 1e colours for unstable dimensions, and a viridis-like
//! sequential map for continuous values (distances, command inputs, trials).

use super::plot::Rgb;

pub const GREY: Rgb = Rgb(170, 170, 170);
pub const BLACK: Rgb = Rgb(0, 0, 0);

/// Architectures in the paper's order; others sort after them.
pub const ARCHES: [&str; 4] = ["vanilla", "ugrnn", "gru", "lstm"];
pub const ACTIVATIONS: [&str; 2] = ["tanh", "relu"];

pub fn arch_rank(arch: &str) -> usize {
    ARCHES
        .iter()
        .position(|a| *a == arch)
        .unwrap_or(ARCHES.len())
}

pub fn activation_rank(activation: &str) -> usize {
    ACTIVATIONS
        .iter()
        .position(|a| *a == activation)
        .unwrap_or(ACTIVATIONS.len())
}

pub fn arch_colour(arch: &str) -> Rgb {
    match arch {
        "vanilla" => Rgb(31, 119, 180),
        "ugrnn" => Rgb(255, 127, 14),
        "gru" => Rgb(44, 160, 44),
        "lstm" => Rgb(214, 39, 40),
        _ => Rgb(127, 127, 127),
    }
}

pub fn activation_colour(activation: &str) -> Rgb {
    match activation {
        "tanh" => Rgb(148, 103, 189),
        "relu" => Rgb(140, 86, 75),
        _ => Rgb(127, 127, 127),
    }
}

pub fn trained_colour(trained: bool) -> Rgb {
    if trained {
        Rgb(23, 190, 207)
    } else {
        Rgb(127, 127, 127)
    }
}

/// Fig. 1e: black stable, red one unstable dimension, green two, blue three, purple more.
pub fn unstable_colour(n: i64) -> Rgb {
    match n {
        0 => Rgb(0, 0, 0),
        1 => Rgb(214, 39, 40),
        2 => Rgb(44, 160, 44),
        3 => Rgb(31, 119, 180),
        _ => Rgb(148, 103, 189),
    }
}

const VIRIDIS: [(u8, u8, u8); 5] = [
    (68, 1, 84),
    (59, 82, 139),
    (33, 145, 140),
    (94, 201, 98),
    (253, 231, 37),
];

/// Sequential map: 0 dark purple, 1 yellow (clamped).
pub fn sequential(t: f64) -> Rgb {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}
