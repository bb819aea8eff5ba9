//! Synapses declared in `.isf` without an anatomy (`synapses: N`): where they go on the cell
//! and which presynaptic cell drives each.
//!
//! * **Where**: `N` positions drawn independently and uniformly by path length over the
//!   sections of the population's regions (`location`; by default `dendrite` and
//!   `apical_dendrite`, ISF's `Dendrite` and `ApicalDendrite` labels — soma and axon
//!   excluded), restricted to the part whose path distance from the soma (spec 01 §1.6
//!   definition 3, the `distance` of neuron region expressions and the `soma_distance_um` of
//!   synapse activation rows) lies in `distance: (from, to)` when given. A drawn `(section, x)`
//!   is then placed exactly like a `.syn` line ([`super::placement`]: nearest 3-D point,
//!   receptor clamped to the first/last compartment centre); the recorded soma distance is the
//!   drawn position's, so it always lies in the requested range.
//! * **Which cell**: synapse `i` ← presynaptic cell `i mod cells` (round-robin). Positions are
//!   independent draws, so this is a random pairing of cells and places in which every cell
//!   gets ⌊N/cells⌋ or ⌈N/cells⌉ synapses: `cells` is then the number of connected cells
//!   (when N ≥ cells), and every synapse is driven by a cell of the population's activity.
//! * **Randomness**: the placement is part of the network realization, not of a trial: it
//!   is drawn once per experiment from [`placement_seed`]`(experiment seed)` and the
//!   population's name ([`crate::rng::population_stream`] with its own purpose), so it
//!   is the same for every trial, sweep point and thread count, and adding or renaming one
//!   population leaves the others' synapses in place.

use super::placement::{Placement, Placer};
use super::types::DeclaredSynapses;
use crate::rng::Rng;
use crate::rng::population_stream;
use crate::rng::stream_seed;

/// Regions of declared synapses when a population gives no `location`.
pub const DEFAULT_REGIONS: &[&str] = &["dendrite", "apical_dendrite"];

/// Stream purpose of synapse placement (activity, release and weights use 0–2).
const PLACEMENT: u64 = 3;

/// Tag mixed into the experiment seed for placement streams ("place").
const PLACEMENT_TAG: u64 = 0x0070_6c61_6365;

/// The seed of an experiment's synapse placement: derived from the experiment seed only
/// (not from a sweep point or trial), so every trial sees the same synapses.
pub fn placement_seed(experiment_seed: u64) -> u64 {
    stream_seed(experiment_seed, PLACEMENT_TAG)
}

/// Why declared synapses cannot be placed.
#[derive(Clone, Debug, PartialEq)]
pub enum NoPlaceKind {
    /// A region listed in `location` has no section on the cell.
    MissingRegion(String),
    /// The regions have no length within the distance range (or the cell has no
    /// dendrites).
    Empty,
}

/// A placement request the cell cannot satisfy.
#[derive(Clone, Debug, PartialEq)]
pub struct NoPlace {
    /// What is wrong.
    pub kind: NoPlaceKind,
    /// One sentence for the diagnostic.
    pub message: String,
    /// What the cell offers (regions, distances).
    pub note: String,
}

/// One stretch of a section where synapses may go: `x` in `[x0, x1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece {
    /// Section index.
    pub section: u32,
    /// First position along the section.
    pub x0: f64,
    /// Last position along the section.
    pub x1: f64,
    /// Path length of the stretch, µm.
    pub length_um: f64,
}

/// Where a population's synapses may go: stretches in section order and their summed length.
#[derive(Clone, Debug, PartialEq)]
pub struct Eligible {
    /// Stretches with positive length, section order.
    pub pieces: Vec<Piece>,
    /// Cumulative length at the end of each piece, µm.
    pub cumulative_um: Vec<f64>,
    /// Summed length, µm.
    pub total_um: f64,
}

/// The ISF label (`Dendrite`, …) of a region name (`dendrite`, …).
fn label_of(region: &str) -> Option<&'static str> {
    crate::morph::REGIONS
        .iter()
        .find(|r| r.0 == region && r.0 != "all")
        .map(|r| r.1)
}

/// The stretches of the cell where `d`'s synapses may go. `section_labels[i]` is the ISF
/// label of section `i`. Errors: a listed region absent from the cell, or nothing left.
pub fn eligible(
    placer: &Placer,
    section_labels: &[String],
    d: &DeclaredSynapses,
) -> Result<Eligible, NoPlace> {
    let explicit = !d.regions.is_empty();
    let regions: Vec<&str> = if explicit {
        d.regions.iter().map(String::as_str).collect()
    } else {
        DEFAULT_REGIONS.to_vec()
    };
    let present: Vec<&str> = {
        let mut v: Vec<&str> = section_labels.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let region_names = |labels: &[&str]| -> String {
        let names: Vec<&str> = crate::morph::REGIONS
            .iter()
            .filter(|r| r.0 != "all" && labels.contains(&r.1))
            .map(|r| r.0)
            .collect();
        names.join(", ")
    };
    let mut labels = Vec::new();
    for r in &regions {
        let Some(l) = label_of(r) else {
            return Err(NoPlace {
                kind: NoPlaceKind::MissingRegion(r.to_string()),
                message: format!("`{r}` is not a region of a cell"),
                note: format!("regions of this cell: {}", region_names(&present)),
            });
        };
        if explicit && !present.contains(&l) {
            return Err(NoPlace {
                kind: NoPlaceKind::MissingRegion(r.to_string()),
                message: format!("the cell has no `{r}` (ISF label `{l}`) for synapses"),
                note: format!("regions of this cell: {}", region_names(&present)),
            });
        }
        labels.push(l);
    }
    let n = placer.n_sections().min(section_labels.len());
    let mut out = Eligible {
        pieces: Vec::new(),
        cumulative_um: Vec::new(),
        total_um: 0.0,
    };
    let (mut max_d, mut any_len) = (0.0f64, false);
    for (s, label) in section_labels.iter().enumerate().take(n) {
        if !labels.contains(&label.as_str()) {
            continue;
        }
        let sec = s as u32;
        let len = placer.section_length_um(sec);
        if len <= 0.0 || !len.is_finite() {
            continue;
        }
        any_len = true;
        let piece = if placer.is_root(sec) {
            // Distance 0 along the whole soma.
            let inside = d
                .distance_um
                .is_none_or(|(from, to)| from <= 0.0 && 0.0 < to);
            inside.then_some(Piece {
                section: sec,
                x0: 0.0,
                x1: 1.0,
                length_um: len,
            })
        } else {
            let a = placer.start_distance_um(sec);
            max_d = max_d.max(a + len);
            let (lo, hi) = match d.distance_um {
                None => (a, a + len),
                Some((from, to)) => (from.max(a), to.min(a + len)),
            };
            (hi > lo).then(|| Piece {
                section: sec,
                x0: ((lo - a) / len).clamp(0.0, 1.0),
                x1: ((hi - a) / len).clamp(0.0, 1.0),
                length_um: hi - lo,
            })
        };
        if let Some(p) = piece {
            out.total_um += p.length_um;
            out.cumulative_um.push(out.total_um);
            out.pieces.push(p);
        }
    }
    if out.pieces.is_empty() || out.total_um <= 0.0 {
        let wanted = regions.join(", ");
        return Err(NoPlace {
            kind: NoPlaceKind::Empty,
            message: match (any_len, d.distance_um) {
                (false, _) if explicit => format!("the cell's {wanted} have no length"),
                (false, _) => "the cell has no dendrites for synapses".to_string(),
                (true, Some((from, to))) => format!(
                    "no part of {wanted} lies between {} um and {} um from the soma",
                    round(from),
                    round(to)
                ),
                (true, None) => format!("no part of {wanted} can hold synapses"),
            },
            note: if any_len {
                format!(
                    "path distances from the soma on {wanted} reach {max_d:.1} um; regions of this cell: {}",
                    region_names(&present)
                )
            } else {
                format!(
                    "regions of this cell: {}; give `location: [...]`",
                    region_names(&present)
                )
            },
        });
    }
    Ok(out)
}

/// A length for messages, rounded to 1e-9 µm.
fn round(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

impl Eligible {
    /// The position at path length `u` (0 ≤ u < total) along the pieces: (section, x).
    pub fn at(&self, u: f64) -> (u32, f64) {
        let k = self
            .cumulative_um
            .partition_point(|&c| c <= u)
            .min(self.pieces.len() - 1);
        let p = &self.pieces[k];
        let start = self.cumulative_um[k] - p.length_um;
        let f = if p.length_um > 0.0 {
            ((u - start) / p.length_um).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (p.section, (p.x0 + f * (p.x1 - p.x0)).clamp(p.x0, p.x1))
    }
}

/// Place `d.count` synapses of population `name` with `cells` presynaptic cells: each
/// synapse's placement (as for a `.syn` line) and its presynaptic cell, in synapse-ID order.
pub fn place(
    placer: &Placer,
    section_labels: &[String],
    name: &str,
    cells: u32,
    d: &DeclaredSynapses,
    seed: u64,
) -> Result<Vec<(Placement, u32)>, NoPlace> {
    if d.count == 0 {
        return Ok(Vec::new());
    }
    if cells == 0 {
        return Err(NoPlace {
            kind: NoPlaceKind::Empty,
            message: "synapses without presynaptic cells".into(),
            note: "give `cells: N` with N ≥ 1".into(),
        });
    }
    let el = eligible(placer, section_labels, d)?;
    let mut rng = Rng::new(stream_seed(seed, population_stream(name, PLACEMENT)));
    let mut out = Vec::with_capacity(d.count as usize);
    for i in 0..d.count {
        let u = rng.uniform() * el.total_um;
        let (section, x) = el.at(u);
        // `place` fails only for sections without points, which have no length.
        let Some(pl) = placer.place(section, x) else {
            return Err(NoPlace {
                kind: NoPlaceKind::Empty,
                message: format!("section {section} has no 3-D points"),
                note: String::new(),
            });
        };
        out.push((pl, i % cells));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_walks_the_pieces() {
        let el = Eligible {
            pieces: vec![
                Piece {
                    section: 1,
                    x0: 0.0,
                    x1: 1.0,
                    length_um: 10.0,
                },
                Piece {
                    section: 3,
                    x0: 0.5,
                    x1: 1.0,
                    length_um: 30.0,
                },
            ],
            cumulative_um: vec![10.0, 40.0],
            total_um: 40.0,
        };
        assert_eq!(el.at(0.0), (1, 0.0));
        assert_eq!(el.at(5.0), (1, 0.5));
        assert_eq!(el.at(10.0), (3, 0.5));
        assert_eq!(el.at(25.0), (3, 0.75));
        let (sec, x) = el.at(39.999_999);
        assert_eq!(sec, 3);
        assert!((x - (1.0 - 0.5e-6 / 30.0)).abs() < 1e-12, "{x}");
        assert_eq!(el.at(40.0), (3, 1.0));
    }

    #[test]
    fn placement_seed_differs_from_trial_seeds() {
        let s = placement_seed(42);
        assert_ne!(s, crate::rng::trial_seed(42, 0, 0));
        assert_eq!(s, placement_seed(42));
        assert_ne!(s, placement_seed(43));
    }
}
