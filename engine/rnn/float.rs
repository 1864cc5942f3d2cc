//! The scalar the cells are written over, and the activations.
//!
//! Training runs in f32 with a fast rational `tanh` (max abs error < 1e-6, about twice as fast as
//! `f32::tanh`, and it vectorises); gradient checks and dynamics run in f64 with `f64::tanh`.
//! The sigmoid is `½ + ½ tanh(x/2)` in both, so it inherits the same accuracy.

use super::gemm::GemmScalar;
use ndarray::LinalgScalar;
use std::fmt::Debug;

pub trait Float:
    LinalgScalar
    + GemmScalar
    + PartialOrd
    + Debug
    + Send
    + Sync
    + std::ops::AddAssign
    + std::ops::Neg<Output = Self>
{
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn tanh(self) -> Self;
    fn relu(self) -> Self;
    fn is_finite(self) -> bool;

    #[inline(always)]
    fn sigmoid(self) -> Self {
        let half = Self::from_f64(0.5);
        half + half * (self * half).tanh()
    }
}

impl Float for f32 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        fast_tanh(self)
    }
    #[inline(always)]
    fn relu(self) -> Self {
        if self > 0.0 {
            self
        } else {
            0.0
        }
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    #[inline(always)]
    fn relu(self) -> Self {
        if self > 0.0 {
            self
        } else {
            0.0
        }
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// `tanh` as the 13/6 rational approximation Eigen uses for f32 (`generic_fast_tanh_float`),
/// clamped at ±7.9053 where it reaches 1 within f32 precision. Branch-free, so loops over it
/// vectorise. NaN propagates.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Eigen's published coefficients, kept verbatim.
pub fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311_1;
    const A1: f32 = 4.893_524_558_917_86e-3;
    const A3: f32 = 6.372_619_288_754_36e-4;
    const A5: f32 = 1.485_722_357_179_79e-5;
    const A7: f32 = 5.122_297_090_371_14e-8;
    const A9: f32 = -8.604_671_522_137_35e-11;
    const A11: f32 = 2.000_187_904_824_77e-13;
    const A13: f32 = -2.760_768_477_423_55e-16;
    const B0: f32 = 4.893_525_185_543_85e-3;
    const B2: f32 = 2.268_434_632_439e-3;
    const B4: f32 = 1.185_347_056_866_54e-4;
    const B6: f32 = 1.198_258_394_667_02e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = x2 * A13 + A11;
    let p = x2 * p + A9;
    let p = x2 * p + A7;
    let p = x2 * p + A5;
    let p = x2 * p + A3;
    let p = x * (x2 * p + A1);
    let q = x2 * B6 + B4;
    let q = x2 * q + B2;
    let q = x2 * q + B0;
    p / q
}

/// `φ` applied in place.
#[inline(always)]
pub(crate) fn phi<F: Float>(relu: bool, x: F) -> F {
    if relu {
        x.relu()
    } else {
        x.tanh()
    }
}

/// `φ'` expressed through the output `y = φ(x)`.
#[inline(always)]
pub(crate) fn dphi<F: Float>(relu: bool, y: F) -> F {
    if relu {
        if y > F::zero() {
            F::one()
        } else {
            F::zero()
        }
    } else {
        F::one() - y * y
    }
}

/// `σ'` expressed through the output `s = σ(x)`.
#[inline(always)]
pub(crate) fn dsigmoid<F: Float>(s: F) -> F {
    s * (F::one() - s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_max_abs_error_below_1e6() {
        let mut worst = 0.0f64;
        let n = 2_000_000;
        for i in 0..=n {
            let x = -20.0 + 40.0 * i as f64 / n as f64;
            let err = (fast_tanh(x as f32) as f64 - (x as f32 as f64).tanh()).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "max abs error {worst}");
        assert_eq!(fast_tanh(0.0), 0.0);
        assert_eq!(fast_tanh(1e4), -fast_tanh(-1e4));
        assert!(fast_tanh(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_matches_logistic() {
        for &x in &[-30.0f64, -3.0, -0.5, 0.0, 0.25, 2.0, 30.0] {
            let exact = 1.0 / (1.0 + (-x).exp());
            assert!((Float::sigmoid(x) - exact).abs() < 1e-15);
            assert!(((x as f32).sigmoid() as f64 - exact).abs() < 1e-6);
        }
    }
}
