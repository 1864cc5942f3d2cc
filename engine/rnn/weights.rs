//! The internal layout of the parameters and its conversion to the SPEC's named matrices.
//!
//! The `G` blocks of an architecture are stacked and transposed so a batch of row states `H [B,N]`
//! gives all pre-activations in one product: `A = H·Wt + X·Ut + b`, `Wt = [W_1ᵀ … W_Gᵀ]` (`N×GN`),
//! `Ut = [U_1ᵀ … U_Gᵀ]` (`M×GN`), readout `Y = H·Wyt + b_y`, `Wyt = W_yᵀ`. Gradients and optimiser
//! state use the same struct, so the optimiser walks five flat slices.

use super::{Arch, Float, Param, RnnError, Shape};
use ndarray::{s, Array1, Array2};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Weights<F> {
    pub wt: Array2<F>,
    pub ut: Array2<F>,
    pub b: Array1<F>,
    pub wyt: Array2<F>,
    pub by: Array1<F>,
}

impl<F: Float> Weights<F> {
    pub fn zeros(shape: &Shape) -> Self {
        let (n, m, k, g) = (
            shape.units,
            shape.inputs,
            shape.outputs,
            shape.arch.blocks(),
        );
        Weights {
            wt: Array2::zeros((n, g * n)),
            ut: Array2::zeros((m, g * n)),
            b: Array1::zeros(g * n),
            wyt: Array2::zeros((n, k)),
            by: Array1::zeros(k),
        }
    }

    pub fn cast<G: Float>(&self) -> Weights<G> {
        let c2 = |a: &Array2<F>| a.mapv(|v| G::from_f64(v.to_f64()));
        let c1 = |a: &Array1<F>| a.mapv(|v| G::from_f64(v.to_f64()));
        Weights {
            wt: c2(&self.wt),
            ut: c2(&self.ut),
            b: c1(&self.b),
            wyt: c2(&self.wyt),
            by: c1(&self.by),
        }
    }

    /// The five arrays as flat slices: `[wt, ut, b, wyt, by]`; weight matrices are 0, 1, 3.
    pub fn slices(&self) -> [&[F]; 5] {
        [
            self.wt.as_slice().unwrap(),
            self.ut.as_slice().unwrap(),
            self.b.as_slice().unwrap(),
            self.wyt.as_slice().unwrap(),
            self.by.as_slice().unwrap(),
        ]
    }

    pub fn slices_mut(&mut self) -> [&mut [F]; 5] {
        [
            self.wt.as_slice_mut().unwrap(),
            self.ut.as_slice_mut().unwrap(),
            self.b.as_slice_mut().unwrap(),
            self.wyt.as_slice_mut().unwrap(),
            self.by.as_slice_mut().unwrap(),
        ]
    }

    pub fn is_finite(&self) -> bool {
        self.slices()
            .iter()
            .all(|s| s.iter().all(|v| v.is_finite()))
    }

    /// SPEC names and shapes, in SPEC order.
    pub fn to_params(&self, shape: &Shape) -> Vec<Param> {
        let n = shape.units;
        let mut out = Vec::new();
        let f32s =
            |v: ndarray::ArrayView2<F>| v.iter().map(|x| x.to_f64() as f32).collect::<Vec<_>>();
        for (k, gate) in shape.arch.gate_names().iter().enumerate() {
            let cols = k * n..(k + 1) * n;
            let w = self.wt.slice(s![.., cols.clone()]);
            let u = self.ut.slice(s![.., cols.clone()]);
            let b = self.b.slice(s![cols]);
            out.push(param(&name("W", gate), n, n, f32s(w.t())));
            out.push(param(&name("U", gate), n, shape.inputs, f32s(u.t())));
            out.push(param(
                &name("b", gate),
                n,
                1,
                b.iter().map(|x| x.to_f64() as f32).collect(),
            ));
        }
        out.push(param("W_y", shape.outputs, n, f32s(self.wyt.t())));
        out.push(param(
            "b_y",
            shape.outputs,
            1,
            self.by.iter().map(|x| x.to_f64() as f32).collect(),
        ));
        out
    }

    /// Inverse of `to_params`: every SPEC name exactly once with its shape, nothing else.
    pub fn from_params(shape: &Shape, params: &[Param]) -> Result<Self, RnnError> {
        let bad = |reason: String| RnnError::BadParams {
            arch: shape.arch,
            reason,
        };
        let mut w = Weights::zeros(shape);
        let expected = w.to_params(shape);
        if params.len() != expected.len() {
            return Err(bad(format!(
                "expected {} parameters ({}), got {}",
                expected.len(),
                expected
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                params.len()
            )));
        }
        let n = shape.units;
        for e in &expected {
            let p = params
                .iter()
                .find(|p| p.name == e.name)
                .ok_or_else(|| bad(format!("missing parameter {}", e.name)))?;
            if (p.rows, p.cols) != (e.rows, e.cols) || p.values.len() != e.rows * e.cols {
                return Err(bad(format!(
                    "{} should be {}×{}, got {}×{} with {} values",
                    e.name,
                    e.rows,
                    e.cols,
                    p.rows,
                    p.cols,
                    p.values.len()
                )));
            }
            let v = |i: usize| F::from_f64(p.values[i] as f64);
            let (kind, block) = locate(shape.arch, &e.name);
            let off = block * n;
            match kind {
                'W' if e.name == "W_y" => {
                    for ((r, c), x) in w.wyt.indexed_iter_mut() {
                        *x = v(c * n + r);
                    }
                }
                'b' if e.name == "b_y" => {
                    for (i, x) in w.by.iter_mut().enumerate() {
                        *x = v(i);
                    }
                }
                'W' => {
                    for r in 0..n {
                        for c in 0..n {
                            w.wt[(c, off + r)] = v(r * n + c);
                        }
                    }
                }
                'U' => {
                    for r in 0..n {
                        for c in 0..shape.inputs {
                            w.ut[(c, off + r)] = v(r * shape.inputs + c);
                        }
                    }
                }
                _ => {
                    for r in 0..n {
                        w.b[off + r] = v(r);
                    }
                }
            }
        }
        Ok(w)
    }
}

fn locate(arch: Arch, name: &str) -> (char, usize) {
    let kind = name.chars().next().unwrap();
    let suffix = name.get(2..).unwrap_or("");
    let block = arch
        .gate_names()
        .iter()
        .position(|g| *g == suffix)
        .unwrap_or(0);
    (kind, block)
}

fn name(kind: &str, gate: &str) -> String {
    if gate.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}_{gate}")
    }
}

fn param(name: &str, rows: usize, cols: usize, values: Vec<f32>) -> Param {
    Param {
        name: name.to_string(),
        rows,
        cols,
        values,
    }
}
