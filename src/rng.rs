//! Seeds and random streams: the derivation of every seed from the experiment seed, and a
//! small, bit-stable random generator for per-stream draws.
//!
//! Seeds: [`trial_seed`] (experiment seed, sweep point, trial) → [`stream_seed`] (one stream
//! of a trial, e.g. a population's activity, named by [`population_stream`]) →
//! [`receptor_seed`] (one receptor of one synapse). Every derivation depends only on its
//! inputs, never on thread or execution order. This module sits at the bottom of the layers
//! so that the network, the kernel's synapses, the mapper and the runner derive seeds the same
//! way without depending on one another.
//!
//! xoshiro256++ (Blackman & Vigna) seeded through SplitMix64 from one 64-bit stream seed
//! ([`stream_seed`]). Implemented here (30 lines) rather than taken from a crate
//! so that the draws — and therefore every stored trial — can never change with a dependency
//! update; the distributions below are fixed formulas for the same reason.

/// SplitMix64 finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of a trial, derived from the experiment seed, the sweep point and the trial number
/// only — never from thread or execution order.
pub fn trial_seed(master: u64, point: u64, trial: u64) -> u64 {
    mix(mix(mix(master) ^ point) ^ trial.wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// Seed of one random stream of a trial (e.g. one presynaptic population), so that adding a
/// population does not change the draws of the others.
pub fn stream_seed(trial_seed: u64, stream: u64) -> u64 {
    mix(trial_seed ^ mix(stream.wrapping_add(1)))
}

/// Stream purposes of a population (see [`population_stream`]).
/// The purpose of a population's activity stream (its presynaptic spikes).
pub const ACTIVITY: u64 = 0;
/// The purpose of a population's release stream (release probabilities per spike).
pub const RELEASE: u64 = 1;
/// The purpose of a population's weight stream (per-synapse weights).
pub const WEIGHTS: u64 = 2;
/// The purpose of a population's receptor-draw stream (stochastic receptors such as
/// ProbAMPANMDA2 draw per event from it, see [`receptor_seed`]).
pub const RECEPTOR_DRAWS: u64 = 3;

/// FNV-1a hash of a population name.
fn name_hash(name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The stream id of one purpose of a population (see the module docs).
pub fn population_stream(name: &str, purpose: u64) -> u64 {
    name_hash(name) ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The seed of the draws of receptor `receptor` (its index in the population's receptor
/// list) of synapse `synapse_id` of the population with draw stream `stream` in the trial of
/// seed `trial_seed`: independent of every other synapse, population, thread and order.
pub fn receptor_seed(trial_seed: u64, stream: u64, synapse_id: u32, receptor: usize) -> u64 {
    stream_seed(
        stream_seed(trial_seed, stream),
        (u64::from(synapse_id) << 8) | receptor as u64,
    )
}

/// xoshiro256++ state.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for one stream; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1].
    #[inline]
    fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with mean 1 (inversion).
    #[inline]
    pub fn exp1(&mut self) -> f64 {
        -self.uniform_open0().ln()
    }

    /// Standard normal (Box–Muller, one value per call; the second is discarded so that the
    /// number of draws per call is fixed).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `0..n` (`n > 0`; Lemire's multiply-shift, bias < n/2⁶⁴).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Number of failures before the first success of Bernoulli(p) trials, given
    /// `ln_q = ln(1 − p)` (< 0): lets a sparse Bernoulli sweep over many cells jump directly
    /// to the next success with one draw. Returns `u64::MAX` when the jump is astronomically
    /// long.
    #[inline]
    pub fn geometric(&mut self, ln_q: f64) -> u64 {
        let k = (self.uniform_open0().ln() / ln_q).floor();
        if k >= u64::MAX as f64 {
            u64::MAX
        } else {
            k as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let (mut su, mut se, mut sn, mut sn2) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            su += r.uniform();
            se += r.exp1();
            let z = r.normal();
            sn += z;
            sn2 += z * z;
        }
        let n = n as f64;
        assert!((su / n - 0.5).abs() < 0.003);
        assert!((se / n - 1.0).abs() < 0.01);
        assert!((sn / n).abs() < 0.01);
        assert!((sn2 / n - 1.0).abs() < 0.015);
        // Geometric(p = 0.1): mean failures (1 − p)/p = 9.
        let lq = (0.9f64).ln();
        let mean = (0..100_000).map(|_| r.geometric(lq) as f64).sum::<f64>() / 1e5;
        assert!((mean - 9.0).abs() < 0.15, "{mean}");
        assert_eq!(Rng::new(3).next_u64(), Rng::new(3).next_u64());
        assert_ne!(Rng::new(3).next_u64(), Rng::new(4).next_u64());
    }
}
