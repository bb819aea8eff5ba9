//! AmiraMesh ASCII scalar fields (`.am`, spec 10 §10.7): the density volumes of the input
//! mapper (spec 08) — normalisation PST densities and single-axon bouton densities.
//!
//! ```text
//! # AmiraMesh 3D ASCII 2.0
//! define Lattice <nx> <ny> <nz>
//! Parameters { …, BoundingBox <x0> <x1> <y0> <y1> <z0> <z1>, … }
//! Lattice { float Data } @1
//! @1
//! <value>            one per line, x fastest, then y, then z
//! ```
//! The bounding box spans the *centres* of the corner voxels, so the spacing is
//! `(max − min)/(n − 1)` (ISF ignores the `Spacing` line; we read it only for an axis with a
//! single voxel, where the box gives no spacing). Voxel bounds are the box widened by half a
//! spacing. ISF's reader accepts anything; this one rejects a binary file, a missing or
//! malformed lattice or bounding box, a value that is not a finite number ≥ 0, and a data
//! section of the wrong length, each with its line (E0820).

use crate::diagnostics::Code;
use crate::files::FileError;
use std::fmt::Write as _;
use std::path::Path;

/// A scalar field on a uniform grid (ISF's `ScalarField`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarField {
    /// File the field was read from (for messages).
    pub file: String,
    /// 1-based line of the `BoundingBox` entry (for grid mismatch messages; 0 if built in
    /// memory).
    pub bbox_line: usize,
    /// Voxels per axis; `[0, 0, 0]` for a field cropped to nothing (all zero).
    pub dims: [usize; 3],
    /// Lower corner of voxel (0, 0, 0), µm.
    pub origin: [f64; 3],
    /// Voxel edge lengths, µm.
    pub spacing: [f64; 3],
    /// Values, `index = i + nx·(j + ny·k)`.
    pub data: Vec<f64>,
}

impl ScalarField {
    /// A field from its grid and values (`data.len()` must be the voxel count).
    pub fn new(dims: [usize; 3], origin: [f64; 3], spacing: [f64; 3], data: Vec<f64>) -> Self {
        debug_assert_eq!(data.len(), dims[0] * dims[1] * dims[2]);
        ScalarField {
            file: "<memory>".into(),
            bbox_line: 0,
            dims,
            origin,
            spacing,
            data,
        }
    }

    /// True when the field has no voxel (cropped to nothing).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Outer bounds `[x0, x1, y0, y1, z0, z1]` of the voxels.
    pub fn bounds(&self) -> [f64; 6] {
        bounds(self.origin, self.dims, self.spacing)
    }

    /// Value at voxel `(i, j, k)`.
    #[inline]
    pub fn at(&self, i: usize, j: usize, k: usize) -> f64 {
        self.data[i + self.dims[0] * (j + self.dims[1] * k)]
    }

    /// ISF's `get_scalar`: the value of the voxel containing `p` (`⌊(p − origin)/spacing⌋`),
    /// `None` when `p` is outside the bounds shrunk by 1e-6 µm.
    pub fn value_at(&self, p: [f64; 3]) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let b = self.bounds();
        let mut idx = [0usize; 3];
        for a in 0..3 {
            if p[a] < b[2 * a] + 1e-6 || p[a] > b[2 * a + 1] - 1e-6 {
                return None;
            }
            let t = ((p[a] - self.origin[a]) / self.spacing[a]).floor();
            idx[a] = (t.max(0.0) as usize).min(self.dims[a] - 1);
        }
        Some(self.at(idx[0], idx[1], idx[2]))
    }

    /// ISF's `resize_mesh`: crop to the bounding box of the non-zero voxels (an all-zero field
    /// becomes empty).
    pub fn crop_nonzero(&mut self) {
        let [nx, ny, _] = self.dims;
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        for (n, &v) in self.data.iter().enumerate() {
            if v != 0.0 {
                let ijk = [n % nx, (n / nx) % ny, n / (nx * ny)];
                for a in 0..3 {
                    lo[a] = lo[a].min(ijk[a]);
                    hi[a] = hi[a].max(ijk[a]);
                }
            }
        }
        if lo[0] == usize::MAX {
            self.dims = [0; 3];
            self.data.clear();
            return;
        }
        let dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        if dims == self.dims {
            return;
        }
        let mut data = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
        for k in lo[2]..=hi[2] {
            for j in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    data.push(self.at(i, j, k));
                }
            }
        }
        for ((o, l), s) in self.origin.iter_mut().zip(lo).zip(self.spacing) {
            *o += l as f64 * s;
        }
        self.dims = dims;
        self.data = data;
    }
}

/// Read an AmiraMesh ASCII scalar field.
pub fn read_am_file(path: &Path) -> Result<ScalarField, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_am(&text, &name)
}

fn numbers(tokens: &[&str]) -> Option<Vec<f64>> {
    tokens
        .iter()
        .map(|t| t.trim_matches(',').parse::<f64>().ok())
        .collect()
}

/// Parse AmiraMesh ASCII text; `file` is used in error locations only.
pub fn parse_am(text: &str, file: &str) -> Result<ScalarField, FileError> {
    let err = |line: usize, msg: String| FileError::new(Code::E0820, msg, file, line, 0);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, l)) if l.starts_with("# AmiraMesh") && l.contains("ASCII") => {}
        Some((_, l)) if l.starts_with("# AmiraMesh") => {
            return Err(err(
                1,
                "binary AmiraMesh is not supported; save the field as AmiraMesh ASCII".into(),
            ));
        }
        _ => {
            return Err(err(
                1,
                "not an AmiraMesh file: the first line must start with `# AmiraMesh … ASCII`"
                    .into(),
            ));
        }
    }
    let mut dims: Option<([usize; 3], usize)> = None;
    let mut bbox: Option<([f64; 6], usize)> = None;
    let mut spacing_line: Option<[f64; 3]> = None;
    let mut data_start = None;
    for (n, l) in lines.by_ref() {
        let t = l.trim();
        if t.starts_with("@1") {
            data_start = Some(n);
            break;
        }
        let tokens: Vec<&str> = t.split_whitespace().collect();
        if t.contains("define") && t.contains("Lattice") {
            let d = tokens
                .get(tokens.len().saturating_sub(3)..)
                .filter(|_| tokens.len() >= 5)
                .and_then(|v| {
                    v.iter()
                        .map(|s| s.parse::<usize>().ok().filter(|&x| x > 0))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| {
                    err(
                        n,
                        format!("`{t}`: expected `define Lattice <nx> <ny> <nz>` with counts ≥ 1"),
                    )
                })?;
            dims = Some(([d[0], d[1], d[2]], n));
        } else if t.contains("BoundingBox") {
            let v = if tokens.len() >= 7 {
                numbers(&tokens[tokens.len() - 6..])
            } else {
                None
            };
            let v = v
                .filter(|v| v.iter().all(|x| x.is_finite()))
                .ok_or_else(|| {
                    err(
                        n,
                        format!("`{t}`: expected `BoundingBox x0 x1 y0 y1 z0 z1` (six numbers)"),
                    )
                })?;
            bbox = Some(([v[0], v[1], v[2], v[3], v[4], v[5]], n));
        } else if t.starts_with("Spacing") && tokens.len() >= 4 {
            spacing_line = numbers(&tokens[tokens.len() - 3..]).map(|v| [v[0], v[1], v[2]]);
        }
    }
    let Some(data_start) = data_start else {
        return Err(err(
            text.lines().count(),
            "no data section: expected a line starting with `@1` before the values".into(),
        ));
    };
    let (dims, _) = dims.ok_or_else(|| {
        err(
            data_start,
            "the header has no `define Lattice <nx> <ny> <nz>` line".into(),
        )
    })?;
    let (bb, bbox_line) = bbox.ok_or_else(|| {
        err(
            data_start,
            "the header has no `BoundingBox x0 x1 y0 y1 z0 z1` entry".into(),
        )
    })?;
    let mut spacing = [0.0; 3];
    let mut origin = [0.0; 3];
    for a in 0..3 {
        let (lo, hi) = (bb[2 * a], bb[2 * a + 1]);
        let axis = ["x", "y", "z"][a];
        if dims[a] > 1 {
            if hi <= lo {
                return Err(err(
                    bbox_line,
                    format!(
                        "bounding box {axis} range [{lo}, {hi}] is empty but the lattice has {} \
                         voxels along {axis}",
                        dims[a]
                    ),
                ));
            }
            spacing[a] = (hi - lo) / (dims[a] - 1) as f64;
        } else {
            match spacing_line {
                Some(s) if s[a].is_finite() && s[a] > 0.0 => spacing[a] = s[a],
                _ => {
                    return Err(err(
                        bbox_line,
                        format!(
                            "one voxel along {axis}: the spacing cannot come from the bounding box \
                             and there is no positive `Spacing` entry"
                        ),
                    ));
                }
            }
        }
        origin[a] = lo - 0.5 * spacing[a];
    }
    let total = dims[0]
        .checked_mul(dims[1])
        .and_then(|v| v.checked_mul(dims[2]))
        .filter(|&v| v <= 1 << 28)
        .ok_or_else(|| err(data_start, format!("lattice {dims:?} is too large")))?;
    let mut data = Vec::with_capacity(total);
    for (n, l) in lines {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('@') {
            // A second data block (e.g. another lattice component): the scalar ends here.
            break;
        }
        if data.len() == total {
            return Err(err(
                n,
                format!("more values than the {total} voxels of the lattice {dims:?}"),
            ));
        }
        let v: f64 = t
            .parse()
            .map_err(|_| err(n, format!("value `{t}` is not a number")))?;
        if !v.is_finite() || v < 0.0 {
            return Err(err(n, format!("value {v} is not a finite density ≥ 0")));
        }
        data.push(v);
    }
    if data.len() != total {
        return Err(err(
            text.lines().count(),
            format!(
                "the data section has {} values, the lattice {dims:?} needs {total}",
                data.len()
            ),
        ));
    }
    Ok(ScalarField {
        file: file.to_string(),
        bbox_line,
        dims,
        origin,
        spacing,
        data,
    })
}

/// ISF's AmiraMesh writer: the header of spec 10 §10.7 and one `%.15e` value per line.
pub fn write_am(f: &ScalarField) -> String {
    let [nx, ny, nz] = f.dims;
    let c = |a: usize, i: usize| f.origin[a] + (i as f64 + 0.5) * f.spacing[a];
    let mut s = String::new();
    let _ = write!(
        s,
        "# AmiraMesh 3D ASCII 2.0\n\ndefine Lattice {nx} {ny} {nz}\n\nParameters {{\n\tContent \
         \"{nx}x{ny}x{nz} float, uniform coordinates\",\n\tSpacing {} {} {},\n\tBoundingBox {} {} \
         {} {} {} {},\n\tCoordType \"uniform\"\n}}\n\nLattice {{ float Data }} @1\n\n# Data \
         section follows\n@1\n",
        f.spacing[0],
        f.spacing[1],
        f.spacing[2],
        c(0, 0),
        c(0, nx.max(1) - 1),
        c(1, 0),
        c(1, ny.max(1) - 1),
        c(2, 0),
        c(2, nz.max(1) - 1)
    );
    for v in &f.data {
        let _ = writeln!(s, "{}", fmt_e15(*v));
    }
    s
}

/// C's `%.15e` (Rust's `{:.15e}` writes `1.5e0`; C writes `1.500000000000000e+00`).
pub fn fmt_e15(v: f64) -> String {
    let s = format!("{v:.15e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Outer bounds `[x0, x1, y0, y1, z0, z1]` of `dims` voxels of `spacing` from `origin` (a
/// grid's and a field's).
pub fn bounds(origin: [f64; 3], dims: [usize; 3], spacing: [f64; 3]) -> [f64; 6] {
    let mut b = [0.0; 6];
    for a in 0..3 {
        b[2 * a] = origin[a];
        b[2 * a + 1] = origin[a] + dims[a] as f64 * spacing[a];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ScalarField {
        let data = (0..24)
            .map(|n| if n % 5 == 0 { 0.0 } else { n as f64 * 0.5 })
            .collect();
        ScalarField::new([2, 3, 4], [-25.0, 0.0, 100.0], [50.0, 50.0, 50.0], data)
    }

    #[test]
    fn round_trip_and_lookup() {
        let f = sample();
        let text = write_am(&f);
        assert!(text.contains("BoundingBox 0 50 25 125 125 275,"), "{text}");
        assert!(text.contains("\n5.000000000000000e-01\n"), "{text}");
        let g = parse_am(&text, "f.am").unwrap();
        assert_eq!(g.dims, f.dims);
        for a in 0..3 {
            assert!((g.origin[a] - f.origin[a]).abs() < 1e-12);
            assert!((g.spacing[a] - f.spacing[a]).abs() < 1e-12);
        }
        assert_eq!(g.data, f.data);
        // voxel (1, 2, 3) = index 1 + 2·(2 + 3·3) = 23
        assert_eq!(g.value_at([30.0, 120.0, 290.0]), Some(11.5));
        assert_eq!(
            g.value_at([-25.0, 120.0, 290.0]),
            None,
            "on the outer bound"
        );
        assert_eq!(g.value_at([76.0, 120.0, 290.0]), None, "outside");
        assert_eq!(fmt_e15(0.0), "0.000000000000000e+00");
        assert_eq!(fmt_e15(-1234.5), "-1.234500000000000e+03");
    }

    #[test]
    fn crop_keeps_values_in_place() {
        let mut f = ScalarField::new([3, 3, 3], [0.0; 3], [10.0; 3], vec![0.0; 27]);
        f.data[1 + 3 * (2 + 3)] = 4.0; // (1, 2, 1)
        f.data[2 + 3 * (1 + 3)] = 2.0; // (2, 1, 1)
        let before = f.value_at([15.0, 25.0, 15.0]);
        f.crop_nonzero();
        assert_eq!(f.dims, [2, 2, 1]);
        assert_eq!(f.origin, [10.0, 10.0, 10.0]);
        assert_eq!(f.value_at([15.0, 25.0, 15.0]), before);
        assert_eq!(f.value_at([25.0, 15.0, 15.0]), Some(2.0));
        let mut z = ScalarField::new([2, 1, 1], [0.0; 3], [1.0; 3], vec![0.0; 2]);
        z.crop_nonzero();
        assert!(z.is_empty());
        assert_eq!(z.value_at([0.5, 0.5, 0.5]), None);
    }

    #[test]
    fn malformed_headers_are_located() {
        let good = write_am(&sample());
        let case = |text: &str, line: usize, msg: &str| {
            let e = parse_am(text, "bad.am").unwrap_err();
            assert_eq!((e.code, e.line), (Code::E0820, line), "{e}");
            assert!(e.message.contains(msg), "{e}");
        };
        case("hello\n", 1, "not an AmiraMesh");
        case("# AmiraMesh BINARY-LITTLE-ENDIAN 2.1\n", 1, "binary");
        case(
            &good.replace("define Lattice 2 3 4", "define Lattice 2 x 4"),
            3,
            "define Lattice",
        );
        case(
            &good.replace("define Lattice 2 3 4", "define Lattice 2 0 4"),
            3,
            "≥ 1",
        );
        case(
            &good.replace("BoundingBox 0 50 25 125", "BoundingBox 0 50 25"),
            8,
            "six numbers",
        );
        case(
            &good.replace("BoundingBox 0 50", "BoundingBox 50 0"),
            8,
            "empty",
        );
        case(
            &good.replace("define Lattice 2 3 4\n", "\n"),
            15,
            "no `define Lattice",
        );
        case(
            &good.replace("\tBoundingBox", "\tBox"),
            15,
            "no `BoundingBox",
        );
        case(&good.replace("\n@1\n", "\n"), 38, "no data section");
        case(
            &good.replace("define Lattice 2 3 4", "define Lattice 2 3 5"),
            39,
            "needs 30",
        );
        case(&format!("{good}1.0\n"), 40, "more values");
        let bad_value = good.replacen("5.000000000000000e-01", "abc", 1);
        case(&bad_value, 17, "not a number");
        let neg = good.replacen("5.000000000000000e-01", "-1", 1);
        case(&neg, 17, "≥ 0");
    }
}
