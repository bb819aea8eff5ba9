//! SWC reader (`id type x y z radius parent` per line, `#` comments).
//!
//! Interpretation, chosen to give NEURON-compatible sections:
//!
//! * **Soma.** The type-1 samples connected to the root sample form the soma, which becomes
//!   one cylinder section `soma` (as NEURON's Import3d does for single-point and three-point
//!   somata):
//!   - a single soma sample (centre `c`, radius `r`) → a cylinder along y through
//!     `c − r·ŷ, c, c + r·ŷ` with diameter `2r` (lateral area `4πr²` = the sphere's area);
//!   - the NeuroMorpho three-point soma (root plus two type-1 children) and, generally, one
//!     or two unbranched chains of soma samples hanging from the root → the points of chain
//!     one (reversed), the root, then chain two, each with diameter `2·radius`;
//!   - any other soma shape (a branched contour) → the single-sample rule on the root.
//! * **Neurites.** A section is a maximal unbranched run of samples of one type. A section
//!   starting at a branch point gets a copy of the branch sample as its first 3-D point and is
//!   attached at its parent's 1-end; soma children start at their first own sample (if that
//!   is their only sample, the soma centre is prepended) and, as in ISF, are attached at
//!   soma(0.5).
//! * **Types.** 1 soma, 2 `Axon`, 3 `Dendrite`, 4 `ApicalDendrite`; 5 (fork point) and 6 (end
//!   point) take their parent's type; anything else is an error (E0713).
//! * **Order.** Sections are numbered in depth-first pre-order from the soma, children in file
//!   order; names are `soma`, `dend_<k>`, `apical_<k>`, `axon_<k>` (k counts from 1 per
//!   label).

use super::{Label, MorphError, Morphology, Point3, Section, validate};
use crate::diagnostics::Code;
use std::collections::HashMap;
use std::path::Path;

/// Read and validate an SWC file.
pub fn read_swc_file(path: &Path) -> Result<Morphology, MorphError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| MorphError::new(Code::E0701, format!("cannot read file: {e}"), &name, 0, 0))?;
    read_swc_str(&text, &name)
}

/// One SWC sample.
#[derive(Clone, Debug)]
struct Sample {
    id: i64,
    ty: i64,
    p: Point3,
    parent_id: i64,
    line: usize,
    parent_col: usize,
}

/// Parse and validate SWC text; `file` is used in error locations only.
pub fn read_swc_str(text: &str, file: &str) -> Result<Morphology, MorphError> {
    let err = |code, msg: String, line, col| MorphError::new(code, msg, file, line, col);
    let mut samples: Vec<Sample> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for (li, raw) in text.lines().enumerate() {
        let line = li + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // Fields with their 1-based columns.
        let mut fields: Vec<(usize, &str)> = Vec::new();
        let mut start = None;
        for (ci, (bi, ch)) in raw.char_indices().enumerate() {
            if ch.is_whitespace() {
                if let Some((s0, c0)) = start.take() {
                    fields.push((c0, &raw[s0..bi]));
                }
            } else if start.is_none() {
                start = Some((bi, ci + 1));
            }
        }
        if let Some((s0, c0)) = start {
            fields.push((c0, &raw[s0..]));
        }
        if fields.len() < 7 {
            return Err(err(
                Code::E0709,
                format!(
                    "expected 7 fields `id type x y z radius parent`, found {}",
                    fields.len()
                ),
                line,
                1,
            ));
        }
        let int = |k: usize, what: &str| -> Result<i64, MorphError> {
            let (c, s) = fields[k];
            s.parse::<i64>().map_err(|_| {
                err(
                    Code::E0703,
                    format!("malformed {what} `{s}` (expected an integer)"),
                    line,
                    c,
                )
            })
        };
        let num = |k: usize| -> Result<f64, MorphError> {
            let (c, s) = fields[k];
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(err(Code::E0703, format!("malformed number `{s}`"), line, c)),
            }
        };
        let id = int(0, "sample id")?;
        let ty = int(1, "type")?;
        let (x, y, z, r) = (num(2)?, num(3)?, num(4)?, num(5)?);
        let parent_id = int(6, "parent id")?;
        if r <= 0.0 {
            return Err(err(
                Code::E0707,
                format!("radius {r} of sample {id} is not positive"),
                line,
                fields[5].0,
            ));
        }
        if index.insert(id, samples.len()).is_some() {
            return Err(err(
                Code::E0709,
                format!("sample id {id} is used twice"),
                line,
                fields[0].0,
            ));
        }
        samples.push(Sample {
            id,
            ty,
            p: Point3 {
                x,
                y,
                z,
                d: 2.0 * r,
            },
            parent_id,
            line,
            parent_col: fields[6].0,
        });
    }
    if samples.is_empty() {
        return Err(err(Code::E0711, "SWC file has no samples".into(), 0, 0));
    }
    // Resolve parents.
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(samples.len());
    let mut roots = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.parent_id < 0 {
            parent.push(None);
            roots.push(i);
        } else {
            match index.get(&s.parent_id) {
                Some(&p) => parent.push(Some(p)),
                None => {
                    return Err(err(
                        Code::E0710,
                        format!(
                            "parent sample {} of sample {} does not exist",
                            s.parent_id, s.id
                        ),
                        s.line,
                        s.parent_col,
                    ));
                }
            }
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); samples.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    let Some(&root) = roots.first() else {
        return Err(err(
            Code::E0705,
            "every sample has a parent: the samples form a cycle".into(),
            samples[0].line,
            samples[0].parent_col,
        ));
    };
    if let Some(&second) = roots.get(1) {
        return Err(err(
            Code::E0706,
            format!(
                "sample {} is a second root (parent -1): it is not connected to the soma",
                samples[second].id
            ),
            samples[second].line,
            samples[second].parent_col,
        ));
    }
    // Reachability: with one root and all parents present, unreachable samples lie on cycles.
    let mut seen = vec![false; samples.len()];
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        seen[i] = true;
        stack.extend(children[i].iter().copied().filter(|&c| !seen[c]));
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(err(
            Code::E0705,
            format!("sample {} is part of a parent cycle", samples[i].id),
            samples[i].line,
            samples[i].parent_col,
        ));
    }
    if samples[root].ty != 1 {
        return Err(err(
            Code::E0712,
            format!(
                "the root sample {} has type {}, but it must be a soma sample (type 1)",
                samples[root].id, samples[root].ty
            ),
            samples[root].line,
            1,
        ));
    }
    // Effective types (5/6 inherit), in pre-order so parents come first.
    let mut label: Vec<Option<Label>> = vec![None; samples.len()];
    let mut order = Vec::with_capacity(samples.len());
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(children[i].iter().rev());
    }
    let mut is_soma = vec![false; samples.len()];
    for &i in &order {
        let s = &samples[i];
        let parent_soma = parent[i].is_none_or(|p| is_soma[p]);
        label[i] = match s.ty {
            1 if parent_soma => {
                is_soma[i] = true;
                Some(Label::Soma)
            }
            1 => {
                return Err(err(
                    Code::E0713,
                    format!("soma sample {} is not connected to the soma", s.id),
                    s.line,
                    1,
                ));
            }
            2 => Some(Label::Axon),
            3 => Some(Label::Dendrite),
            4 => Some(Label::ApicalDendrite),
            5 | 6 => match parent[i].and_then(|p| label[p]) {
                Some(Label::Soma) | None => {
                    return Err(err(
                        Code::E0713,
                        format!("fork/end point sample {} hangs directly on the soma", s.id),
                        s.line,
                        1,
                    ));
                }
                l => l,
            },
            t => {
                return Err(err(
                    Code::E0713,
                    format!(
                        "sample {} has SWC type {t}; supported are 1 (soma), 2 (axon), 3 \
                         (basal dendrite), 4 (apical dendrite), 5 and 6",
                        s.id
                    ),
                    s.line,
                    1,
                ));
            }
        };
    }
    let label: Vec<Label> = label
        .into_iter()
        .map(|l| l.unwrap_or(Label::Soma))
        .collect();

    let mut sections = vec![Section {
        name: "soma".to_string(),
        label: Label::Soma,
        parent: None,
        parent_x: 0.0,
        points: soma_points(root, &samples, &children, &is_soma),
        preset_nseg: None,
        line: samples[root].line,
    }];
    let mut counters: HashMap<Label, usize> = HashMap::new();
    let mut new_name = |l: Label| {
        let k = counters.entry(l).or_insert(0);
        *k += 1;
        let prefix = match l {
            Label::ApicalDendrite => "apical",
            Label::Axon => "axon",
            _ => "dend",
        };
        format!("{prefix}_{k}")
    };
    // Work list of section starts: (first sample, parent section, branch sample to copy).
    let mut starts: Vec<(usize, usize, Option<usize>)> = Vec::new();
    let soma_kids: Vec<usize> = order
        .iter()
        .filter(|&&i| is_soma[i])
        .flat_map(|&i| children[i].iter().copied().filter(|&c| !is_soma[c]))
        .collect();
    for &c in soma_kids.iter().rev() {
        starts.push((c, 0, None));
    }
    while let Some((first, parent_sec, branch)) = starts.pop() {
        let l = label[first];
        let mut points = Vec::new();
        if let Some(b) = branch {
            points.push(samples[b].p);
        }
        let mut cur = first;
        loop {
            points.push(samples[cur].p);
            match children[cur].as_slice() {
                [only] if label[*only] == l => cur = *only,
                _ => break,
            }
        }
        if points.len() == 1 && parent_sec == 0 {
            // A one-sample soma child: start it at the soma centre so it has a length.
            let c = samples[root].p;
            points.insert(
                0,
                Point3 {
                    d: points[0].d,
                    ..c
                },
            );
        }
        let idx = sections.len();
        sections.push(Section {
            name: new_name(l),
            label: l,
            parent: Some(parent_sec),
            parent_x: if parent_sec == 0 { 0.5 } else { 1.0 },
            points,
            preset_nseg: None,
            line: samples[first].line,
        });
        for &c in children[cur].iter().rev() {
            starts.push((c, idx, Some(cur)));
        }
    }
    let m = Morphology {
        file: file.to_string(),
        sections,
    };
    validate(&m)?;
    Ok(m)
}

/// The soma section's points (see the module documentation).
fn soma_points(
    root: usize,
    samples: &[Sample],
    children: &[Vec<usize>],
    is_soma: &[bool],
) -> Vec<Point3> {
    let soma_kids = |i: usize| -> Vec<usize> {
        children[i]
            .iter()
            .copied()
            .filter(|&c| is_soma[c])
            .collect()
    };
    let chain = |start: usize| -> Option<Vec<Point3>> {
        let mut out = vec![samples[start].p];
        let mut cur = start;
        loop {
            match soma_kids(cur).as_slice() {
                [] => return Some(out),
                [only] => {
                    cur = *only;
                    out.push(samples[cur].p);
                }
                _ => return None,
            }
        }
    };
    let r = samples[root].p;
    let kids = soma_kids(root);
    let chains: Option<Vec<Vec<Point3>>> = match kids.len() {
        1 | 2 => kids.iter().map(|&k| chain(k)).collect(),
        _ => None,
    };
    match chains {
        Some(ch) => {
            let mut pts: Vec<Point3> = Vec::new();
            if let Some(first) = ch.first() {
                pts.extend(first.iter().rev());
            }
            pts.push(r);
            if let Some(second) = ch.get(1) {
                pts.extend(second.iter());
            }
            pts
        }
        None => {
            let rad = 0.5 * r.d;
            vec![
                Point3 { y: r.y - rad, ..r },
                r,
                Point3 { y: r.y + rad, ..r },
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_point_soma_and_branch() {
        let t = "# toy\n1 1 0 0 0 10 -1\n2 3 0 -10 0 1 1\n3 3 0 -20 0 1 2\n\
                 4 3 5 -30 0 0.5 3\n5 3 -5 -30 0 0.5 3\n6 4 0 10 0 2 1\n7 4 0 100 0 1.5 6\n";
        let m = read_swc_str(t, "toy.swc").expect("valid");
        let names: Vec<&str> = m.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["soma", "dend_1", "dend_2", "dend_3", "apical_1"]);
        assert_eq!(m.sections[0].points.len(), 3);
        assert!((m.sections[0].length_um() - 20.0).abs() < 1e-9);
        assert_eq!(m.sections[2].parent, Some(1));
        assert_eq!(m.sections[2].points.len(), 2);
        assert_eq!(m.sections[4].parent_x, 0.5);
    }
}
