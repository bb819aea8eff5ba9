//! Branch-free `exp` and `ln` that the compiler can vectorise (libm's are scalar calls); `ln`
//! also gives powers with a constant exponent as `exp(b·ln a)`.
//!
//! Range reduction `x = k·ln2 + r` with `|r| ≤ ln2/2` (Cody–Waite, fdlibm's split of ln2),
//! a degree-11 polynomial for `e^r` (Chebyshev fit on the interval; relative error < 1.7e-17
//! with its coefficients rounded to f64, two multiplications fewer than the degree-13 Taylor
//! polynomial it replaced), scaling by `2^k` through the exponent bits. Measured against libm over [−700, 700]: at most 2 ulp apart
//! (unit test below). Outside the normal range: `x > 709` gives `+∞` (libm: finite up to
//! 709.78), `x < −708.39` gives 0 (libm: subnormals down to −745); NaN gives NaN. No
//! fused multiply-add is used, so results are bit-identical whatever SIMD width runs them.

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// fdlibm's `ln2_hi` (32 trailing zero bits, so `k·LN2_HI` is exact) and `ln2_lo`.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5·2^52: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
const X_MAX: f64 = 709.0;
const X_MIN: f64 = -708.39;

/// Chebyshev fit of e^r on [−ln2/2, ln2/2] (mpmath `chebyfit`, 12 terms).
const EXP_C: [f64; 12] = [
    1.0,
    1.0,
    0.500_000_000_000_001_9,
    0.166_666_666_666_666_8,
    0.041_666_666_666_488_1,
    0.008_333_333_333_319_601,
    0.001_388_888_895_231_477_5,
    0.000_198_412_698_900_471_13,
    2.480_148_548_232_849_4e-5,
    2.755_724_091_857_897e-6,
    2.763_263_963_904_103e-7,
    2.511_003_760_596_377_7e-8,
];

/// `e^x`, vectorisable. See the module docs for accuracy and range.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // No clamp into [X_MIN, X_MAX]: outside it the selects at the end replace whatever the
    // arithmetic made of `x` (all of it wrapping or IEEE, so nothing can trap), and inside it a
    // clamp is the identity; NaN fails both tests and stays NaN either way. A clamp cost one
    // `max` per element (LLVM already drops the upper one), 1 of 37 vector instructions.
    let t = x * LOG2E + SHIFT;
    let kf = t - SHIFT;
    let k = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Estrin's scheme (pairs, then powers r², r⁴, r⁸): a dependency chain of 4 multiply-add
    // levels instead of Horner's 11, so the out-of-order core overlaps more of the loop.
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let p01 = EXP_C[0] + EXP_C[1] * r;
    let p23 = EXP_C[2] + EXP_C[3] * r;
    let p45 = EXP_C[4] + EXP_C[5] * r;
    let p67 = EXP_C[6] + EXP_C[7] * r;
    let p89 = EXP_C[8] + EXP_C[9] * r;
    let p1011 = EXP_C[10] + EXP_C[11] * r;
    let p03 = p01 + p23 * r2;
    let p47 = p45 + p67 * r2;
    let p811 = p89 + p1011 * r2;
    let p07 = p03 + p47 * r4;
    let p = p07 + p811 * r8;
    // p·2^k by adding k to the exponent field: p ∈ [0.7, 1.5) and the range test below keep
    // p·2^k a normal number (k = −1022 only with r > 0), where this equals the multiplication exactly;
    // an integer addition is cheaper than a floating-point multiplication here.
    let y = f64::from_bits(p.to_bits().wrapping_add((k as u64) << 52));
    if x > X_MAX {
        f64::INFINITY
    } else if x < X_MIN {
        0.0
    } else {
        y
    }
}

/// `ln x`, vectorisable: `x = 2^e·m` with `m ∈ [√½, √2)`, `ln m = 2·atanh(s)` for
/// `s = (m − 1)/(m + 1)` (`|s| ≤ 0.172`) by its odd series up to `s²³` (truncation < 1e-18
/// relative), `e·ln2` added in two parts. Within 2 ulp of libm on positive normal and
/// subnormal numbers (unit test); `ln 0 = −∞`, `ln ∞ = ∞`, negative numbers and NaN give NaN.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    // Subnormals: scale by 2^54 first (exact).
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x };
    let bits = xs.to_bits() as i64;
    // Exponent relative to √½: m = bits with the exponent of [√½, √2).
    let adj = bits.wrapping_sub(0x3fe6_a09e_667f_3bcd);
    let e = (adj >> 52) - if sub { 54 } else { 0 };
    let m =
        f64::from_bits((adj & 0x000f_ffff_ffff_ffff).wrapping_add(0x3fe6_a09e_667f_3bcd) as u64);
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    const C: [f64; 12] = [
        1.0,
        1.0 / 3.0,
        1.0 / 5.0,
        1.0 / 7.0,
        1.0 / 9.0,
        1.0 / 11.0,
        1.0 / 13.0,
        1.0 / 15.0,
        1.0 / 17.0,
        1.0 / 19.0,
        1.0 / 21.0,
        1.0 / 23.0,
    ];
    // Estrin in z (see `exp`); the leading 1 is added last so the small terms keep their bits.
    let z2 = z * z;
    let z4 = z2 * z2;
    let z8 = z4 * z4;
    let q01 = C[1] + C[2] * z;
    let q23 = C[3] + C[4] * z;
    let q45 = C[5] + C[6] * z;
    let q67 = C[7] + C[8] * z;
    let q89 = C[9] + C[10] * z;
    let q03 = q01 + q23 * z2;
    let q47 = q45 + q67 * z2;
    let q811 = q89 + C[11] * z2;
    let q07 = q03 + q47 * z4;
    let q = q07 + q811 * z8;
    // ln m = 2s + 2s·z·q; 2s is exact.
    let s2 = s + s;
    let lnm = s2 + s2 * (z * q);
    let ef = e as f64;
    let y = ef * LN2_HI + (ef * LN2_LO + lnm);
    if x > 0.0 && x < f64::INFINITY {
        y
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_agrees_with_libm() {
        let mut worst = 0;
        let mut x = 1e-310;
        while x < 1e300 {
            worst = worst.max(ulps(ln(x), x.ln()));
            x *= 1.0137;
        }
        let mut x = 0.5;
        while x < 2.0 {
            worst = worst.max(ulps(ln(x), x.ln()));
            x += 0.000_123_7;
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
    }

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// `exp` as it was with its argument clamped into [X_MIN, X_MAX] first (the kernels' bits
    /// until the clamp was dropped).
    fn exp_clamped(x: f64) -> f64 {
        let xc = x.clamp(X_MIN, X_MAX);
        let t = xc * LOG2E + SHIFT;
        let kf = t - SHIFT;
        let k = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
        let r = (xc - kf * LN2_HI) - kf * LN2_LO;
        let (r2, r4) = (r * r, r * r * (r * r));
        let r8 = r4 * r4;
        let c = EXP_C;
        let p03 = (c[0] + c[1] * r) + (c[2] + c[3] * r) * r2;
        let p47 = (c[4] + c[5] * r) + (c[6] + c[7] * r) * r2;
        let p811 = (c[8] + c[9] * r) + (c[10] + c[11] * r) * r2;
        let p = (p03 + p47 * r4) + p811 * r8;
        let y = f64::from_bits(p.to_bits().wrapping_add((k as u64) << 52));
        if x > X_MAX {
            f64::INFINITY
        } else if x < X_MIN {
            0.0
        } else {
            y
        }
    }

    #[test]
    fn same_bits_as_with_the_clamp() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut xs = vec![
            0.0,
            -0.0,
            X_MIN,
            X_MAX,
            X_MIN.next_down(),
            X_MAX.next_up(),
            -745.2,
            709.8,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0fff),
            f64::from_bits(0xfff8_0000_0000_0123),
            f64::MIN_POSITIVE,
            5e-324,
        ];
        // Dense over the range the gates use, every bit pattern's neighbourhood elsewhere.
        let mut x = -750.0;
        while x < 750.0 {
            xs.push(x);
            x += 0.000_731;
        }
        xs.extend((0..2_000_000).map(|_| f64::from_bits(next())));
        for x in xs {
            let (a, b) = (exp(x), exp_clamped(x));
            assert!(a.to_bits() == b.to_bits(), "exp({x:e}) = {a:e} vs {b:e}");
        }
    }

    #[test]
    fn agrees_with_libm() {
        let mut worst = 0;
        let mut x = -700.0;
        while x < 700.0 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.01234567;
        }
        for &x in &[0.0, 1e-300, -1e-300, 0.5, -0.5, 1.0, -38.0 / 6.0, 3.7e-8] {
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    }
}
