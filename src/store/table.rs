//! Columnar tables: the in-memory form, and the msgpack encoding of chunks and schemas.
//!
//! A table is a list of named, equally long columns. Numeric columns are encoded as msgpack
//! `bin` holding raw little-endian bytes, so the blosc byte shuffle (typesize 8) sees aligned
//! 8-byte lanes and a reader can view them without parsing (`numpy.frombuffer`).
//!
//! Column types cover what ISF stores per trial: voltage traces (`F64Array`: an ndarray
//! `Array2`, one row of samples per trial), spike times (`F64List`: ragged, any number per
//! row), synapse activations (`Str`, `I64`, `F64` and `F64List` side by side).

use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rmpv::Value;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The type of one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DType {
    /// One `f64` per row.
    F64,
    /// One `i64` per row.
    I64,
    /// One UTF-8 string per row.
    Str,
    /// Any number of `f64` per row (ragged), e.g. spike or activation times.
    F64List,
    /// Exactly `width` `f64` per row, e.g. a voltage trace of `width` samples.
    F64Array(usize),
}

impl DType {
    /// The name used in the format (`f64`, `i64`, `str`, `f64_list`, `f64_array`).
    pub fn name(&self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::Str => "str",
            DType::F64List => "f64_list",
            DType::F64Array(_) => "f64_array",
        }
    }
}

/// One column's data.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
    F64List(Vec<Vec<f64>>),
    /// `rows × width` values, one row per table row. Arrays the store reads are in standard
    /// (row-major) layout, so [`row_major`] borrows their data; an array of another layout
    /// is written all the same (copied to row-major order once, when encoded).
    F64Array(Array2<f64>),
}

/// The values of `a` in row-major order: borrowed when `a` is in standard layout (every
/// array the store reads, and every one built from a row-major `Vec`), else copied.
pub fn row_major(a: &Array2<f64>) -> Cow<'_, [f64]> {
    rows_of(a.view())
}

/// [`row_major`] of a view (e.g. a range of rows).
fn rows_of(v: ArrayView2<'_, f64>) -> Cow<'_, [f64]> {
    match v.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(v.iter().copied().collect()),
    }
}

/// The values of `a` in row-major order as a `Vec`: the array's own buffer, without a copy,
/// when `a` is in standard layout.
pub fn into_row_major(a: Array2<f64>) -> Vec<f64> {
    if !a.is_standard_layout() {
        return a.iter().copied().collect();
    }
    let n = a.len();
    let (mut v, offset) = a.into_raw_vec_and_offset();
    // Standard layout: the `n` elements are contiguous from `offset` on.
    let off = offset.unwrap_or(0);
    v.truncate(off + n);
    v.drain(..off);
    v
}

/// One row of `width` values as a `1 × width` array (no copy).
pub fn one_row(data: Vec<f64>) -> Array2<f64> {
    Array1::from_vec(data).insert_axis(Axis(0))
}

/// `data` (row-major) as `data.len() / width` rows of `width` values (no copy); `None` when
/// the length is not a multiple of `width` (a width of 0 holds only empty data: no rows).
pub fn f64_rows(width: usize, data: Vec<f64>) -> Option<Array2<f64>> {
    let rows = match (width, data.len()) {
        (0, 0) => 0,
        (0, _) => return None,
        (w, n) if n.is_multiple_of(w) => n / w,
        _ => return None,
    };
    Array2::from_shape_vec((rows, width), data).ok()
}

impl Column {
    /// The column's type.
    pub fn dtype(&self) -> DType {
        match self {
            Column::F64(_) => DType::F64,
            Column::I64(_) => DType::I64,
            Column::Str(_) => DType::Str,
            Column::F64List(_) => DType::F64List,
            Column::F64Array(a) => DType::F64Array(a.ncols()),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::F64List(v) => v.len(),
            Column::F64Array(a) => a.nrows(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slice(&self, a: usize, b: usize) -> Column {
        match self {
            Column::F64(v) => Column::F64(v[a..b].to_vec()),
            Column::I64(v) => Column::I64(v[a..b].to_vec()),
            Column::Str(v) => Column::Str(v[a..b].to_vec()),
            Column::F64List(v) => Column::F64List(v[a..b].to_vec()),
            Column::F64Array(x) => Column::F64Array(x.slice(s![a..b, ..]).to_owned()),
        }
    }

    fn extend(&mut self, other: Column) {
        match (self, other) {
            (Column::F64(a), Column::F64(b)) => a.extend(b),
            (Column::I64(a), Column::I64(b)) => a.extend(b),
            (Column::Str(a), Column::Str(b)) => a.extend(b),
            (Column::F64List(a), Column::F64List(b)) => a.extend(b),
            // The first chunk of a table read is taken as it is (no copy).
            (Column::F64Array(a), Column::F64Array(b)) if a.nrows() == 0 => *a = b,
            // Same schema, so the widths agree and `append` cannot fail; row-major arrays
            // grow along their rows in place (amortised, as `Vec::extend`).
            (Column::F64Array(a), Column::F64Array(b)) => {
                let _ = a.append(Axis(0), b.view());
            }
            _ => {}
        }
    }

    /// Approximate size of the raw values in bytes (8 per number, string lengths).
    pub fn raw_bytes(&self) -> usize {
        match self {
            Column::F64(v) => v.len() * 8,
            Column::I64(v) => v.len() * 8,
            Column::Str(v) => v.iter().map(String::len).sum(),
            Column::F64List(v) => v.iter().map(|r| 8 + r.len() * 8).sum(),
            Column::F64Array(a) => a.len() * 8,
        }
    }
}

/// A column's name and type, as kept in a table's manifest (stored as `{"name", "dtype",
/// ["width"]}`, format §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "SpecDoc", try_from = "SpecDoc")]
pub struct ColumnSpec {
    pub name: String,
    pub dtype: DType,
}

/// A table: named columns of equal length plus free-form attributes (msgpack values, e.g.
/// the sample times of a trace column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, Column)>,
    pub attrs: BTreeMap<String, Value>,
}

/// Attribute naming the labels of an `F64Array` column's entries: `<column>.labels`.
pub fn labels_attr(column: &str) -> String {
    format!("{column}.labels")
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// Add a column (builder style).
    pub fn with(mut self, name: &str, column: Column) -> Table {
        self.columns.push((name.to_string(), column));
        self
    }

    /// Add an attribute (builder style).
    pub fn with_attr(mut self, name: &str, value: Value) -> Table {
        self.attrs.insert(name.to_string(), value);
        self
    }

    /// A voltage-trace table in ISF's layout: column `sim_trial_index` (one label per trial)
    /// and column `vm` (`F64Array`, one row of samples per trial), with the sample times in
    /// attribute `vm.labels`.
    pub fn traces(trial_index: Vec<String>, times_ms: &[f64], vm: Array2<f64>) -> Table {
        Table::new()
            .with("sim_trial_index", Column::Str(trial_index))
            .with("vm", Column::F64Array(vm))
            .with_attr(
                &labels_attr("vm"),
                Value::Array(times_ms.iter().map(|&t| Value::F64(t)).collect()),
            )
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// The schema.
    pub fn schema(&self) -> Vec<ColumnSpec> {
        self.columns
            .iter()
            .map(|(n, c)| ColumnSpec {
                name: n.clone(),
                dtype: c.dtype(),
            })
            .collect()
    }

    /// Number of rows; `Err` when columns differ in length or names repeat.
    pub fn rows(&self) -> Result<usize, String> {
        let mut rows = None;
        for (i, (name, col)) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("column '{name}' appears twice"));
            }
            let n = col.len();
            // A chunk stores an array's rows as one run of values, so rows of no values would
            // read back as no rows.
            if let Column::F64Array(a) = col
                && a.ncols() == 0
                && n > 0
            {
                return Err(format!("column '{name}' has rows of no values"));
            }
            match rows {
                None => rows = Some(n),
                Some(r) if r != n => {
                    return Err(format!("column '{name}' has {n} rows, expected {r}"));
                }
                _ => {}
            }
        }
        Ok(rows.unwrap_or(0))
    }

    /// Rows `a..b` (columns only; attributes stay with the manifest).
    pub fn slice(&self, a: usize, b: usize) -> Table {
        Table {
            columns: self
                .columns
                .iter()
                .map(|(n, c)| (n.clone(), c.slice(a, b)))
                .collect(),
            attrs: BTreeMap::new(),
        }
    }

    /// Append the rows of `other`, which must have the same schema.
    pub(crate) fn extend(&mut self, other: Table) {
        for ((_, a), (_, b)) in self.columns.iter_mut().zip(other.columns) {
            a.extend(b);
        }
    }

    /// Approximate raw size in bytes.
    pub fn raw_bytes(&self) -> usize {
        self.columns.iter().map(|(_, c)| c.raw_bytes()).sum()
    }
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 8);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn bytes_f64(b: &[u8]) -> Option<Vec<f64>> {
    b.len().is_multiple_of(8).then(|| {
        b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    })
}

fn bytes_u64(b: &[u8]) -> Option<Vec<u64>> {
    b.len().is_multiple_of(8).then(|| {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    })
}

/// A column of the manifest's `columns` array as stored: `{"name", "dtype", ["width"]}`.
#[derive(Serialize, Deserialize)]
struct SpecDoc {
    name: String,
    dtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u64>,
}

impl From<ColumnSpec> for SpecDoc {
    fn from(c: ColumnSpec) -> SpecDoc {
        SpecDoc {
            dtype: c.dtype.name().to_string(),
            width: match c.dtype {
                DType::F64Array(w) => Some(w as u64),
                _ => None,
            },
            name: c.name,
        }
    }
}

impl TryFrom<SpecDoc> for ColumnSpec {
    type Error = String;

    fn try_from(c: SpecDoc) -> Result<ColumnSpec, String> {
        let dtype = match c.dtype.as_str() {
            "f64" => DType::F64,
            "i64" => DType::I64,
            "str" => DType::Str,
            "f64_list" => DType::F64List,
            "f64_array" => {
                DType::F64Array(c.width.ok_or("f64_array column without width")? as usize)
            }
            other => return Err(format!("column '{}': unknown dtype {other:?}", c.name)),
        };
        Ok(ColumnSpec {
            name: c.name,
            dtype,
        })
    }
}

/// Most decimals tried by the decimal encoding; `|x|·10^d` must also stay below 2^53.
pub const MAX_DECIMALS: u32 = 12;

/// Powers of ten as exact doubles (every one up to 10^22 is exactly representable).
fn pow10(d: u32) -> f64 {
    10u64.pow(d) as f64
}

/// The fewest decimals `d ≤ MAX_DECIMALS` such that every value is exactly (bit for bit)
/// `k / 10^d` for an integer `k` with `|k| < 2^53`, with those integers. Division of exact
/// integers is correctly rounded, so this holds exactly for values parsed from decimal text
/// with at most `d` decimals; NaN, infinities and −0 never qualify.
pub fn decimal_ints(v: &[f64]) -> Option<(u32, Vec<i64>)> {
    const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
    'next: for d in 0..=MAX_DECIMALS {
        let p = pow10(d);
        let mut out = Vec::with_capacity(v.len());
        for &x in v {
            let k = (x * p).round();
            // Check what the reader will compute from the integer (−0 becomes +0 there).
            let fits = k.abs() < LIMIT;
            if !fits || ((k as i64) as f64 / p).to_bits() != x.to_bits() {
                continue 'next;
            }
            out.push(k as i64);
        }
        return Some((d, out));
    }
    None
}

/// A chunk document (format §4.2): `{"rows": n, "columns": [c_0, c_1, …]}`, one column map
/// per schema column, in schema order. Serialised by field name; the field order is the
/// order of the keys in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkDoc {
    pub rows: u64,
    pub columns: Vec<ColumnDoc>,
}

impl ChunkDoc {
    /// About the length of the document in msgpack (a little more): the bytes of its data
    /// plus a few bytes of framing per field and string.
    pub fn encoded_len(&self) -> usize {
        64 + self
            .columns
            .iter()
            .map(|c| {
                let data = match &c.data {
                    ColumnData::Bin(b) => b.len(),
                    ColumnData::Str(v) => v.iter().map(|s| s.len() + 5).sum(),
                };
                64 + data + c.offsets.as_ref().map_or(0, |o| o.len())
            })
            .sum::<usize>()
    }
}

/// One column of a chunk document (format §4.2, §4.3): `{"data": bin}` for raw floats and
/// integers, `{"enc": "dec", "decimals": d, "data": bin}` for decimal floats, `{"offsets":
/// bin, "data": bin}` for ragged lists, `{"data": [str, …]}` for strings. Fields that do not
/// apply are absent from the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnDoc {
    /// Float encoding: absent or `"f64"` raw, `"dec"` decimal deltas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc: Option<String>,
    /// Decimals `d` of the decimal encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u64>,
    /// Integer mantissa `m` of a declared precision's step (`"qdec"` only): the stored
    /// integers are multiples of `m / 10^d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    /// Row offsets of a ragged list column (`n + 1` little-endian `u64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<ByteBuf>,
    pub data: ColumnData,
}

/// The `data` of a column: raw little-endian bytes (msgpack `bin`) or strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnData {
    // Strings first: an empty array is an empty string column, not empty bytes.
    Str(Vec<String>),
    Bin(ByteBuf),
}

impl Default for ColumnData {
    fn default() -> ColumnData {
        ColumnData::Bin(ByteBuf::new())
    }
}

impl ColumnDoc {
    fn bin(b: Vec<u8>) -> ColumnDoc {
        ColumnDoc {
            data: ColumnData::Bin(ByteBuf::from(b)),
            ..ColumnDoc::default()
        }
    }
}

/// Attribute declaring a float column's precision: `<column>.precision`, the step (in the
/// column's unit) to whose multiples the stored values are rounded (each stored value within
/// half a step of the value written).
pub fn precision_attr(column: &str) -> String {
    format!("{column}.precision")
}

/// A declared precision as a decimal quantum: the step is `m / 10^d`. Values are stored as
/// the integers `k` of `x ≈ k·m / 10^d`, and read back as `(k·m) / 10^d`, the double nearest
/// to that decimal, so a stored value prints as the short decimal it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantum {
    /// The step as declared (in the column's unit).
    pub step: f64,
    /// The step's integer mantissa `m` (1 for 1 µV in mV: 0.001 = 1 / 10^3).
    pub m: i64,
    /// The step's decimals `d`.
    pub d: u32,
}

impl Quantum {
    /// The quantum of a step: the fewest decimals `d ≤ MAX_DECIMALS` with `step·10^d` an
    /// integer `m < 2^31` (to within 1e-6, so that `1 uV` lowered to `0.0010000000000000002
    /// mV` is the step 0.001: `m` has at most 10 digits, so rounding errors of the double
    /// stay far below that). `None` for a step that is not positive, finite and decimal.
    pub fn of(step: f64) -> Option<Quantum> {
        if !(step.is_finite() && step > 0.0) {
            return None;
        }
        (0..=MAX_DECIMALS).find_map(|d| {
            let s = step * pow10(d);
            let m = s.round();
            ((1.0..2_147_483_648.0).contains(&m) && (s - m).abs() <= 1e-6).then_some(Quantum {
                step,
                m: m as i64,
                d,
            })
        })
    }

    /// `x` rounded to the nearest multiple of the step as the integer multiple `k`, or `None`
    /// when `x` is not finite or too large for exact integers (`|x|·10^d ≥ 2^53`).
    fn multiple(&self, x: f64) -> Option<i64> {
        self.multiple_at(x, pow10(self.d))
    }

    /// [`Quantum::multiple`] with `p = 10^d` worked out once by the caller (the encoder's
    /// inner loop). A step of mantissa 1 skips the division by `m`, which would not change
    /// the result (`s / 1.0 == s`).
    #[inline]
    fn multiple_at(&self, x: f64, p: f64) -> Option<i64> {
        const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
        let s = x * p;
        if !s.is_finite() || s.abs() >= LIMIT {
            return None;
        }
        let s = if self.m == 1 { s } else { s / self.m as f64 };
        Some(s.round() as i64)
    }

    /// The stored value of the multiple `k`: `(k·m) / 10^d`, correctly rounded.
    fn value(&self, k: i64) -> f64 {
        (k.wrapping_mul(self.m)) as f64 / pow10(self.d)
    }

    /// `x` as stored: the nearest multiple of the step (within half a step), or `x` itself when
    /// it is not finite or too large to quantise exactly.
    pub fn round(&self, x: f64) -> f64 {
        self.multiple(x).map_or(x, |k| self.value(k))
    }

    /// The first value (index, value) that is not on the step's grid as isf stores it: a
    /// finite value with `|x|·10^d < 2^53` must be `(n) / 10^d` exactly, with `n` a multiple
    /// of `m`. What the reader checks against a column's declared precision.
    pub fn off_grid(&self, v: &[f64]) -> Option<(usize, f64)> {
        const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
        let p = pow10(self.d);
        v.iter().copied().enumerate().find(|&(_, x)| {
            let s = x * p;
            if !s.is_finite() || s.abs() >= LIMIT {
                return false;
            }
            let n = s.round();
            n / p != x || n % self.m as f64 != 0.0
        })
    }
}

/// The quantum of every column declared by a `<column>.precision` attribute (`None` for the
/// others), or an error naming a column whose precision is not a positive decimal step or
/// that is not a float column.
pub fn quanta(
    schema: &[ColumnSpec],
    attrs: &mut dyn Iterator<Item = (&String, &Value)>,
) -> Result<Vec<Option<Quantum>>, String> {
    let mut out = vec![None; schema.len()];
    for (k, v) in attrs {
        let Some(col) = k.strip_suffix(".precision") else {
            continue;
        };
        let Some(i) = schema.iter().position(|c| c.name == col) else {
            return Err(format!("precision of '{col}', which is not a column"));
        };
        if !matches!(schema[i].dtype, DType::F64 | DType::F64Array(_)) {
            return Err(format!(
                "precision of column '{col}', which holds {} (only f64 and f64_array columns can be quantised)",
                schema[i].dtype.name()
            ));
        }
        let step = v
            .as_f64()
            .ok_or_else(|| format!("precision of '{col}' is not a number"))?;
        out[i] = Some(Quantum::of(step).ok_or_else(|| {
            format!("precision {step} of '{col}' is not a positive decimal step")
        })?);
    }
    Ok(out)
}

/// A quantised float column: `{"enc": "dec", "decimals": d, "data": deltas}` when the step
/// is a power of ten (readable as the lossless decimal encoding), else `{"enc": "qdec",
/// "decimals": d, "step": m, "data": deltas}` where the integers are multiples of the step;
/// raw doubles (quantised where possible) when a value cannot be quantised (NaN, infinite,
/// huge), so that such a chunk stays exact.
fn quantised_column(v: &[f64], width: usize, q: &Quantum) -> ColumnDoc {
    // One pass: round, take the differences along each row and write their bytes; only a
    // value that cannot be quantised (rare) sends the column to the raw fallback.
    let p = pow10(q.d);
    let mut b = Vec::with_capacity(v.len() * 8);
    for row in v.chunks(width.max(1)) {
        let mut prev = 0i64;
        for &x in row {
            let Some(k) = q.multiple_at(x, p) else {
                let rounded: Vec<f64> = v.iter().map(|&x| q.round(x)).collect();
                return ColumnDoc::bin(f64_bytes(&rounded));
            };
            b.extend_from_slice(&k.wrapping_sub(prev).to_le_bytes());
            prev = k;
        }
    }
    ColumnDoc {
        enc: Some(if q.m == 1 { "dec" } else { "qdec" }.into()),
        decimals: Some(u64::from(q.d)),
        step: (q.m != 1).then_some(q.m),
        ..ColumnDoc::bin(b)
    }
}

/// A float column's encoding: raw little-endian doubles, or — when `decimal` is set and the
/// values are short decimals — `{"enc": "dec", "decimals": d, "data": i64 deltas}`, where the
/// integers `k = x·10^d` are stored as differences along each row of `width` values (the
/// first of a row as is). Lossless either way; the deltas of a smooth trace are small, so
/// their high bytes are zero and compress away.
fn f64_column(v: &[f64], width: usize, decimal: bool) -> ColumnDoc {
    if decimal
        && !v.is_empty()
        && let Some((d, ks)) = decimal_ints(v)
    {
        let mut b = Vec::with_capacity(ks.len() * 8);
        for row in ks.chunks(width.max(1)) {
            let mut prev = 0i64;
            for &k in row {
                b.extend_from_slice(&(k - prev).to_le_bytes());
                prev = k;
            }
        }
        return ColumnDoc {
            enc: Some("dec".into()),
            decimals: Some(u64::from(d)),
            ..ColumnDoc::bin(b)
        };
    }
    ColumnDoc::bin(f64_bytes(v))
}

fn f64_column_from(c: &ColumnDoc, width: usize) -> Result<Vec<f64>, String> {
    let ColumnData::Bin(b) = &c.data else {
        return Err("missing binary 'data'".into());
    };
    match c.enc.as_deref() {
        None | Some("f64") => bytes_f64(b).ok_or_else(|| "length".into()),
        Some(enc @ ("dec" | "qdec")) => {
            let d = c.decimals.filter(|&d| d <= 22).ok_or("bad decimals")? as u32;
            // `qdec`: the integers are multiples of a declared precision's mantissa.
            let m = match enc {
                "qdec" => c.step.filter(|&m| m >= 1).ok_or("bad step")?,
                _ => 1,
            };
            let p = pow10(d);
            let ks = bytes_u64(b).ok_or("length")?;
            let mut out = Vec::with_capacity(ks.len());
            for row in ks.chunks(width.max(1)) {
                let mut k = 0i64;
                for &dk in row {
                    k = k.wrapping_add(dk as i64);
                    out.push(k.wrapping_mul(m) as f64 / p);
                }
            }
            Ok(out)
        }
        Some(other) => Err(format!("unknown encoding {other:?}")),
    }
}

/// Encode the rows of `t` as a chunk document; `decimal` allows the decimal encoding of
/// float columns (see [`decimal_ints`]).
pub fn chunk_doc(t: &Table, rows: usize, decimal: bool) -> ChunkDoc {
    chunk_doc_quantised(t, rows, decimal, &[])
}

/// [`chunk_doc`] with a declared precision per column (`quanta[i]` for column `i`, see
/// [`quanta`]; missing entries are `None`): those float columns are rounded to multiples of
/// their step and stored as integers (`"dec"` when the step is a power of ten, else `"qdec"`;
/// raw doubles for a column holding a value that cannot be quantised, format §4.3).
pub fn chunk_doc_quantised(
    t: &Table,
    rows: usize,
    decimal: bool,
    quanta: &[Option<Quantum>],
) -> ChunkDoc {
    chunk_doc_rows(t, 0..rows, decimal, quanta)
}

/// [`chunk_doc_quantised`] of rows `range` of `t`, read in place (a table split into
/// several chunks is not copied row range by row range first).
pub fn chunk_doc_rows(
    t: &Table,
    range: std::ops::Range<usize>,
    decimal: bool,
    quanta: &[Option<Quantum>],
) -> ChunkDoc {
    let (a, b) = (range.start, range.end);
    let columns = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, c))| match (c, quanta.get(i).copied().flatten()) {
            (Column::F64(v), Some(q)) => quantised_column(&v[a..b], b - a, &q),
            (Column::F64Array(x), Some(q)) => {
                quantised_column(&rows_of(x.slice(s![a..b, ..])), x.ncols(), &q)
            }
            (Column::F64(v), None) => f64_column(&v[a..b], b - a, decimal),
            (Column::F64Array(x), None) => {
                f64_column(&rows_of(x.slice(s![a..b, ..])), x.ncols(), decimal)
            }
            (Column::I64(v), _) => {
                ColumnDoc::bin(v[a..b].iter().flat_map(|x| x.to_le_bytes()).collect())
            }
            (Column::Str(v), _) => ColumnDoc {
                data: ColumnData::Str(v[a..b].to_vec()),
                ..ColumnDoc::default()
            },
            (Column::F64List(v), _) => {
                let v = &v[a..b];
                let mut offsets = Vec::with_capacity((v.len() + 1) * 8);
                let mut data = Vec::with_capacity(v.iter().map(|r| r.len() * 8).sum());
                let mut at = 0u64;
                offsets.extend_from_slice(&at.to_le_bytes());
                for r in v {
                    at += r.len() as u64;
                    offsets.extend_from_slice(&at.to_le_bytes());
                    data.extend(r.iter().flat_map(|x| x.to_le_bytes()));
                }
                ColumnDoc {
                    offsets: Some(ByteBuf::from(offsets)),
                    ..ColumnDoc::bin(data)
                }
            }
        })
        .collect();
    ChunkDoc {
        rows: (b - a) as u64,
        columns,
    }
}

/// Decode a chunk document against the table's schema, checking every length.
pub fn chunk_table(doc: &ChunkDoc, schema: &[ColumnSpec]) -> Result<Table, String> {
    let rows = doc.rows as usize;
    if doc.columns.len() != schema.len() {
        return Err(format!(
            "chunk has {} columns, schema {}",
            doc.columns.len(),
            schema.len()
        ));
    }
    let mut table = Table::new();
    for (spec, c) in schema.iter().zip(&doc.columns) {
        let bad = |what: &str| format!("column '{}': {what}", spec.name);
        let data = || match &c.data {
            ColumnData::Bin(b) => Ok(b.as_slice()),
            ColumnData::Str(_) => Err(bad("missing binary 'data'")),
        };
        let col = match &spec.dtype {
            DType::F64 => Column::F64(f64_column_from(c, rows).map_err(|m| bad(&m))?),
            DType::F64Array(w) => {
                let data = f64_column_from(c, *w).map_err(|m| bad(&m))?;
                let n = data.len();
                Column::F64Array(
                    f64_rows(*w, data)
                        .ok_or_else(|| bad(&format!("{n} values, not rows of {w}")))?,
                )
            }
            DType::I64 => Column::I64(
                bytes_u64(data()?)
                    .ok_or_else(|| bad("length"))?
                    .into_iter()
                    .map(|x| x as i64)
                    .collect(),
            ),
            DType::Str => match &c.data {
                ColumnData::Str(v) => Column::Str(v.clone()),
                ColumnData::Bin(_) => return Err(bad("missing string array")),
            },
            DType::F64List => {
                let offsets = c
                    .offsets
                    .as_ref()
                    .ok_or_else(|| bad("missing binary 'offsets'"))?;
                let offsets = bytes_u64(offsets).ok_or_else(|| bad("offsets length"))?;
                let data = bytes_f64(data()?).ok_or_else(|| bad("length"))?;
                if offsets.len() != rows + 1
                    || offsets[0] != 0
                    || offsets.windows(2).any(|w| w[0] > w[1])
                    || offsets[rows] as usize != data.len()
                {
                    return Err(bad("inconsistent offsets"));
                }
                Column::F64List(
                    offsets
                        .windows(2)
                        .map(|w| data[w[0] as usize..w[1] as usize].to_vec())
                        .collect(),
                )
            }
        };
        if col.len() != rows {
            return Err(bad(&format!("{} rows, chunk says {rows}", col.len())));
        }
        table.columns.push((spec.name.clone(), col));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table::new()
            .with("id", Column::Str(vec!["a".into(), "b".into()]))
            .with("n", Column::I64(vec![-1, 1 << 40]))
            .with("x", Column::F64(vec![0.5, f64::NAN]))
            .with("t", Column::F64List(vec![vec![], vec![1.0, 2.0, 3.0]]))
            .with(
                "vm",
                Column::F64Array(f64_rows(3, vec![1., 2., 3., 4., 5., 6.]).unwrap()),
            )
    }

    #[test]
    fn chunk_roundtrip() {
        let t = sample();
        assert_eq!(t.rows(), Ok(2));
        for decimal in [false, true] {
            // Through the bytes, as a file holds it.
            let bytes = rmp_serde::to_vec_named(&chunk_doc(&t, 2, decimal)).unwrap();
            let doc: ChunkDoc = rmp_serde::from_slice(&bytes).unwrap();
            let back = chunk_table(&doc, &t.schema()).unwrap();
            // NaN != NaN: compare bit patterns through the debug form.
            assert_eq!(format!("{back:?}"), format!("{t:?}"));
        }
        let bytes = rmp_serde::to_vec_named(&t.schema()).unwrap();
        let schema: Vec<ColumnSpec> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(schema, t.schema());
        // The manifest's column maps, as format §4.1 has them.
        let v = rmpv::decode::read_value(&mut bytes.as_slice()).unwrap();
        assert_eq!(
            v.as_array().unwrap()[4].to_string(),
            r#"{"name": "vm", "dtype": "f64_array", "width": 3}"#
        );
        let bad = rmp_serde::to_vec_named(&serde_json::json!([{"name": "q", "dtype": "f32"}]));
        let err = rmp_serde::from_slice::<Vec<ColumnSpec>>(&bad.unwrap()).unwrap_err();
        assert!(err.to_string().contains("unknown dtype"), "{err}");
    }

    #[test]
    fn decimal_encoding_is_bit_exact_or_not_used() {
        let parsed: Vec<f64> = ["-75.0171", "0.0015", "20", "-0.0001", "123456.789012"]
            .iter()
            .map(|x| x.parse().unwrap())
            .collect();
        let (d, ks) = decimal_ints(&parsed).unwrap();
        assert_eq!(d, 6);
        assert_eq!(ks[0], -75_017_100);
        assert_eq!(decimal_ints(&[1.0, 2.5]).unwrap().0, 1);
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -0.0,
            0.1 + 0.2,
            1e300,
            std::f64::consts::PI,
        ] {
            assert_eq!(decimal_ints(&[1.0, bad]), None, "{bad}");
        }
        // Round trip through the chunk encoding, rows of 2 with per-row deltas.
        let t = Table::new().with(
            "vm",
            Column::F64Array(f64_rows(2, vec![-75.0171, -75.0172, 30.5, -80.25]).unwrap()),
        );
        let doc = chunk_doc(&t, 2, true);
        assert_eq!(doc.columns[0].enc.as_deref(), Some("dec"));
        assert_eq!(chunk_table(&doc, &t.schema()).unwrap(), t);
    }

    #[test]
    fn quanta_of_decimal_steps() {
        let q = Quantum::of(1e-6 / 1e-3).unwrap(); // 1 uV in mV, as lowering computes it
        assert_eq!((q.m, q.d), (1, 3));
        assert_eq!(Quantum::of(0.0025).map(|q| (q.m, q.d)), Some((25, 4)));
        assert_eq!(Quantum::of(5.0).map(|q| (q.m, q.d)), Some((5, 0)));
        for bad in [0.0, -0.001, f64::NAN, f64::INFINITY, 1.0 / 3.0, 1e-15] {
            assert_eq!(Quantum::of(bad), None, "{bad}");
        }
    }

    /// Every stored value is within half a step of the written one, on the step's grid, and
    /// prints as the short decimal it is.
    #[test]
    fn quantised_columns_keep_their_bound() {
        let vm: Vec<f64> = (0..2000)
            .map(|i| -75.0 + (i as f64 * 0.0137).sin() * 60.0 + i as f64 * 1e-7)
            .collect();
        for step in [0.001, 0.0025, 0.5] {
            let q = Quantum::of(step).unwrap();
            let t = Table::new().with("vm", Column::F64Array(f64_rows(500, vm.clone()).unwrap()));
            let v = chunk_doc_quantised(&t, 4, true, &[Some(q)]);
            let enc = v.columns[0].enc.as_deref();
            assert_eq!(enc, Some(if q.m == 1 { "dec" } else { "qdec" }));
            let back = chunk_table(&v, &t.schema()).unwrap();
            let Some(Column::F64Array(data)) = back.column("vm") else {
                panic!()
            };
            for (x, y) in vm.iter().zip(data) {
                assert!((x - y).abs() <= step / 2.0 * (1.0 + 1e-9), "{x} {y} {step}");
                assert_eq!(*y, q.round(*x));
            }
            assert_eq!(q.off_grid(&row_major(data)), None);
            // Off the grid: the unrounded values.
            assert!(q.off_grid(&vm).is_some());
        }
        assert_eq!(Quantum::of(0.001).unwrap().round(-75.12345), -75.123);
        // NaN cannot be quantised: the chunk stays raw doubles, the others rounded.
        let q = Quantum::of(0.001).unwrap();
        let t = Table::new().with("x", Column::F64(vec![1.23456, f64::NAN]));
        let v = chunk_doc_quantised(&t, 2, true, &[Some(q)]);
        let back = chunk_table(&v, &t.schema()).unwrap();
        let Some(Column::F64(x)) = back.column("x") else {
            panic!()
        };
        assert_eq!(x[0], 1.235);
        assert!(x[1].is_nan());
        assert_eq!(q.off_grid(x), None);
    }

    #[test]
    fn precision_attributes_are_checked() {
        let t = sample().with_attr("vm.precision", Value::F64(0.001));
        let q = quanta(&t.schema(), &mut t.attrs.iter()).unwrap();
        assert_eq!(q[4].map(|q| q.d), Some(3));
        assert!(q[..4].iter().all(Option::is_none));
        for (k, v) in [
            ("id.precision", Value::F64(0.1)),
            ("nope.precision", Value::F64(0.1)),
            ("vm.precision", Value::F64(-1.0)),
            ("vm.precision", Value::from("1 uV")),
        ] {
            let t = sample().with_attr(k, v);
            assert!(quanta(&t.schema(), &mut t.attrs.iter()).is_err(), "{k}");
        }
    }

    #[test]
    fn inconsistent_tables_are_rejected() {
        let t = sample().with("short", Column::F64(vec![1.0]));
        assert!(t.rows().unwrap_err().contains("short"));
        // Data that is not whole rows is no array; rows of no values are refused.
        assert_eq!(f64_rows(4, vec![0.0; 6]), None);
        assert_eq!(f64_rows(0, vec![]).map(|a| a.dim()), Some((0, 0)));
        let t = Table::new().with("vm", Column::F64Array(Array2::zeros((2, 0))));
        assert!(t.rows().unwrap_err().contains("no values"), "{t:?}");
        // A transposed (column-major) array is written in row order all the same.
        let a = f64_rows(2, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let t = Table::new().with("vm", Column::F64Array(a.t().to_owned()));
        let back = chunk_table(&chunk_doc(&t, 2, false), &t.schema()).unwrap();
        assert_eq!(back, t);
        assert_eq!(row_major(&a.t().to_owned())[..], [1., 3., 5., 2., 4., 6.]);
        assert_eq!(
            into_row_major(a.slice(s![1.., ..]).to_owned()),
            [3., 4., 5., 6.]
        );
        let mut doc = chunk_doc(&sample(), 2, true);
        doc.rows = 3;
        assert!(chunk_table(&doc, &sample().schema()).is_err());
        // A string column where numbers belong, and the other way round.
        let mut doc = chunk_doc(&sample(), 2, true);
        doc.columns.swap(0, 1);
        let err = chunk_table(&doc, &sample().schema()).unwrap_err();
        assert!(err.contains("column 'id'"), "{err}");
    }
}
