//! `Network`: a shape and its f32 parameters; initialisation, named parameters, forward run.

use super::bptt::Workspace;
use super::dynamics::NetworkDynamics;
use super::weights::Weights;
use super::{init, Param, RnnError, Shape};
use ndarray::{Array3, ArrayView3};

#[derive(Clone, Debug)]
pub struct Network {
    shape: Shape,
    pub(crate) weights: Weights<f32>,
}

impl Network {
    /// SPEC §1 initialisation; the same seed gives bit-identical weights on every platform.
    pub fn init(shape: Shape, seed: u64) -> Network {
        Network {
            shape,
            weights: init::init(&shape, seed),
        }
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Parameters with SPEC names and shapes, in SPEC order (`W, U, b` per block, then `W_y, b_y`).
    pub fn params(&self) -> Vec<Param> {
        self.weights.to_params(&self.shape)
    }

    /// Inverse of `params`; every SPEC name must appear once with its shape.
    pub fn from_params(shape: Shape, params: &[Param]) -> Result<Network, RnnError> {
        Ok(Network {
            shape,
            weights: Weights::from_params(&shape, params)?,
        })
    }

    pub(crate) fn from_weights(shape: Shape, weights: Weights<f32>) -> Network {
        Network { shape, weights }
    }

    /// Drives the network from `h_0 = 0` with `inputs [T, B, M]`; returns `(h [T, B, N], y [T, B, K])`.
    pub fn run(&self, inputs: ArrayView3<f32>) -> (Array3<f32>, Array3<f32>) {
        let (t, b, m) = inputs.dim();
        assert_eq!(m, self.shape.inputs, "input channels");
        let mut ws = Workspace::<f32>::new(&self.shape, t, b);
        let x = inputs.as_standard_layout();
        let x = x.view().into_shape_with_order((t * b, m)).unwrap();
        ws.forward(&self.weights, x);
        let h = ws
            .states()
            .to_owned()
            .into_shape_with_order((t, b, self.shape.units))
            .unwrap();
        let y = ws
            .outputs()
            .to_owned()
            .into_shape_with_order((t, b, self.shape.outputs))
            .unwrap();
        (h, y)
    }

    /// An f64 copy implementing `crate::analysis::dynamics::Dynamics` (LSTM state `s = [c; h]`).
    pub fn dynamics(&self) -> NetworkDynamics {
        NetworkDynamics::new(self.shape, self.weights.cast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::{Activation, Arch};

    #[test]
    fn params_round_trip_with_spec_names_and_shapes() {
        let shape = Shape {
            arch: Arch::Gru,
            activation: Activation::Relu,
            units: 5,
            inputs: 2,
            outputs: 3,
        };
        let net = Network::init(shape, 9);
        let params = net.params();
        let names: Vec<_> = params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_c", "U_c", "b_c", "W_y", "b_y"]
        );
        let dims: Vec<_> = params.iter().map(|p| (p.rows, p.cols)).take(3).collect();
        assert_eq!(dims, [(5, 5), (5, 2), (5, 1)]);
        assert_eq!((params[9].rows, params[9].cols), (3, 5));
        assert_eq!(params[2].values, vec![1.0; 5]);
        let mut reversed = params.clone();
        reversed.reverse();
        let back = Network::from_params(shape, &reversed).unwrap();
        assert_eq!(back.params(), params);
        // Row-major, W acting as W·h: the first step from h = 0 is W_y φ(U x + b) for vanilla.
        let vshape = Shape {
            arch: Arch::Vanilla,
            activation: Activation::Tanh,
            units: 4,
            inputs: 2,
            outputs: 1,
        };
        let v = Network::init(vshape, 1);
        let p = v.params();
        let x = ndarray::Array3::from_shape_vec((1, 1, 2), vec![0.3f32, -0.7]).unwrap();
        let (h, _) = v.run(x.view());
        for r in 0..4 {
            let pre = p[1].values[r * 2] * 0.3 - p[1].values[r * 2 + 1] * 0.7;
            assert!((h[(0, 0, r)] - pre.tanh()).abs() < 1e-6);
        }
        let mut bad = params.clone();
        bad[3].rows = 4;
        let err = Network::from_params(shape, &bad).unwrap_err().to_string();
        assert!(err.contains("W_r") && err.contains("5×5"), "{err}");
        bad.pop();
        assert!(Network::from_params(shape, &bad).is_err());
        assert_eq!(Network::init(shape, 9).params(), params);
    }
}
