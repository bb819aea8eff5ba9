//! ISF `.param` files (cell parameters, network parameters, PSTH templates; spec 10 §10.2).
//!
//! ISF reads them as JSON after textual substitutions (`'` → `"`, trailing commas dropped,
//! `( … )` → `[ … ]`, `None` → `null`). Those substitutions ignore string boundaries and
//! corrupt strings containing `'`, `(`, `)` or `None`; this parser instead tokenizes the
//! Python-literal-like syntax directly, which accepts every file ISF accepts and keeps
//! strings intact:
//!
//! * dicts `{ "k": v, }` (string keys, single or double quotes, trailing commas), lists
//!   `[ … ]` and tuples `( … )` (both become lists), strings, `true`/`false`/`True`/`False`,
//!   `null`/`None`, and JSON numbers plus `NaN`, `Infinity`, `-Infinity`;
//! * like ISF, numbers must be JSON numbers (`.5` and `1.` are errors) and there are no
//!   comments; a repeated key is an error (Python and ISF silently keep the last value).
//!
//! Values keep their 1-based line/column so that later checks can report located errors.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::morph::{Discretization, Label, LabelPassive, Passive};
use std::path::Path;

/// A parsed value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamNode {
    /// The value.
    pub value: ParamValue,
    /// 1-based line of the value's first character.
    pub line: usize,
    /// 1-based column of the value's first character.
    pub column: usize,
}

/// A `.param` value. Dicts keep file order (ISF relies on it for cell-modify functions).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// `None` / `null`.
    Null,
    /// `True`/`False` (or `true`/`false`).
    Bool(bool),
    /// Any number, including NaN and ±Infinity.
    Number(f64),
    /// A quoted string.
    String(String),
    /// A list or tuple.
    List(Vec<ParamNode>),
    /// A dict, entries in file order.
    Dict(Vec<(String, ParamNode)>),
}

impl ParamNode {
    /// The entry `key` of a dict (`None` for non-dicts or absent keys).
    pub fn get(&self, key: &str) -> Option<&ParamNode> {
        match &self.value {
            ParamValue::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            ParamValue::Number(v) => Some(v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            ParamValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Dict entries in file order, if this is a dict.
    pub fn entries(&self) -> Option<&[(String, ParamNode)]> {
        match &self.value {
            ParamValue::Dict(e) => Some(e),
            _ => None,
        }
    }

    /// Convert to `serde_json::Value`. Non-finite numbers (NaN, ±Infinity), which JSON
    /// cannot hold, become `null`; dict order follows serde_json's map.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            ParamValue::Null => Value::Null,
            ParamValue::Bool(b) => Value::Bool(*b),
            ParamValue::Number(v) => serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            ParamValue::String(s) => Value::String(s.clone()),
            ParamValue::List(items) => Value::Array(items.iter().map(ParamNode::to_json).collect()),
            ParamValue::Dict(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Read and parse a `.param` file.
pub fn read_param_file(path: &Path) -> Result<ParamNode, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_param(&text, &name)
}

/// Parse `.param` text; `file` is used in error locations only.
pub fn parse_param(text: &str, file: &str) -> Result<ParamNode, FileError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        file,
        depth: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.err("unexpected text after the top-level value"));
    }
    Ok(v)
}

/// Nesting limit, so that adversarial input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    col: usize,
    file: &'a str,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> FileError {
        let found = match self.peek() {
            Some(c) => format!(" (found `{c}`)"),
            None => " (found the end of the file)".to_string(),
        };
        FileError::new(
            Code::E0802,
            format!("{}{found}", msg.into()),
            self.file,
            self.line,
            self.col,
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn value(&mut self) -> Result<ParamNode, FileError> {
        let (line, column) = (self.line, self.col);
        let node = |value| ParamNode {
            value,
            line,
            column,
        };
        match self.peek() {
            Some('{') => {
                self.enter()?;
                self.bump();
                let mut entries: Vec<(String, ParamNode)> = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some('}') {
                        self.bump();
                        break;
                    }
                    let (kl, kc) = (self.line, self.col);
                    let key = match self.peek() {
                        Some('"') | Some('\'') => self.string()?,
                        _ => return Err(self.err("expected a quoted key or `}`")),
                    };
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(FileError::new(
                            Code::E0802,
                            format!("key `{key}` appears twice in the same dict"),
                            self.file,
                            kl,
                            kc,
                        ));
                    }
                    self.skip_ws();
                    if self.peek() != Some(':') {
                        return Err(self.err("expected `:` after the key"));
                    }
                    self.bump();
                    self.skip_ws();
                    let v = self.value()?;
                    entries.push((key, v));
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => {
                            self.bump();
                        }
                        Some('}') => {}
                        _ => return Err(self.err("expected `,` or `}`")),
                    }
                }
                self.depth -= 1;
                Ok(node(ParamValue::Dict(entries)))
            }
            Some(open @ ('[' | '(')) => {
                self.enter()?;
                let close = if open == '[' { ']' } else { ')' };
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.bump();
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => {
                            self.bump();
                        }
                        Some(c) if c == close => {}
                        _ => return Err(self.err(format!("expected `,` or `{close}`"))),
                    }
                }
                self.depth -= 1;
                Ok(node(ParamValue::List(items)))
            }
            Some('"') | Some('\'') => Ok(node(ParamValue::String(self.string()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(node),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.bump();
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                Ok(node(match word.as_str() {
                    "true" | "True" => ParamValue::Bool(true),
                    "false" | "False" => ParamValue::Bool(false),
                    "null" | "None" => ParamValue::Null,
                    "NaN" => ParamValue::Number(f64::NAN),
                    "Infinity" => ParamValue::Number(f64::INFINITY),
                    _ => {
                        return Err(FileError::new(
                            Code::E0802,
                            format!("unknown word `{word}` (strings must be quoted)"),
                            self.file,
                            line,
                            column,
                        ));
                    }
                }))
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn enter(&mut self) -> Result<(), FileError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    /// A quoted string (opening quote at the cursor); JSON escapes plus `\'`.
    fn string(&mut self) -> Result<String, FileError> {
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => return Err(self.err("unterminated string")),
                Some(c) if c == quote => {
                    self.bump();
                    return Ok(out);
                }
                Some('\\') => {
                    self.bump();
                    let c = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('/') => '/',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('\'') => '\'',
                        Some('u') => {
                            self.bump();
                            let start = self.pos;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                    return Err(self.err("malformed `\\u` escape"));
                                }
                                self.bump();
                            }
                            let hex: String = self.chars[start..self.pos].iter().collect();
                            let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                            continue;
                        }
                        _ => return Err(self.err("unknown escape sequence")),
                    };
                    self.bump();
                    out.push(c);
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }

    /// A JSON number (or `-Infinity`).
    fn number(&mut self) -> Result<ParamValue, FileError> {
        let (line, column) = (self.line, self.col);
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
            if self.peek() == Some('I') {
                let word: String = self.chars[self.pos..].iter().take(8).collect();
                if word == "Infinity" {
                    for _ in 0..8 {
                        self.bump();
                    }
                    return Ok(ParamValue::Number(f64::NEG_INFINITY));
                }
            }
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.bump();
            }
            p.pos - s
        };
        let bad = |p: &Self, why: &str| {
            let text: String = p.chars[start..p.pos].iter().collect();
            FileError::new(
                Code::E0802,
                format!("malformed number `{text}`: {why}"),
                p.file,
                line,
                column,
            )
        };
        if digits(self) == 0 {
            return Err(bad(self, "expected a digit"));
        }
        if self.peek() == Some('.') {
            self.bump();
            if digits(self) == 0 {
                return Err(bad(self, "write at least one digit after `.` (e.g. `1.0`)"));
            }
        }
        if matches!(self.peek(), Some('e') | Some('E')) {
            self.bump();
            if matches!(self.peek(), Some('+') | Some('-')) {
                self.bump();
            }
            if digits(self) == 0 {
                return Err(bad(self, "missing exponent digits"));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse::<f64>()
            .map(ParamValue::Number)
            .map_err(|_| bad(self, "not a number"))
    }
}

/// What the morphology side needs from a cell parameter file (`neuron` section, spec 02).
#[derive(Clone, Debug, PartialEq)]
pub struct CellParams {
    /// `neuron.filename` (the `.hoc` morphology), if present.
    pub filename: Option<String>,
    /// Ra and cm per label present in the file; other labels keep NEURON's defaults.
    pub passive: LabelPassive,
    /// The `AIS` key is present: ISF appends the generated axon.
    pub has_ais: bool,
    /// ISF's rule with `neuron.discretization` (`f`, `max_seg_length`) if given.
    pub discretization: Discretization,
    /// Label keys in file order (including labels not known to [`Label`]).
    pub labels: Vec<String>,
    /// `neuron.cell_modify_functions` names in file order.
    pub cell_modify_functions: Vec<String>,
}

/// Keys of the `neuron` dict that are not labels.
const NON_LABEL_KEYS: [&str; 4] = [
    "filename",
    "cell_modify_functions",
    "spatialgraph_modify_functions",
    "discretization",
];

/// Extract [`CellParams`] from a parsed cell parameter file.
pub fn cell_params(root: &ParamNode, file: &str) -> Result<CellParams, FileError> {
    let at =
        |n: &ParamNode, code: Code, msg: String| FileError::new(code, msg, file, n.line, n.column);
    let neuron = root
        .get("neuron")
        .ok_or_else(|| at(root, Code::E0804, "missing key `neuron`".into()))?;
    let entries = neuron
        .entries()
        .ok_or_else(|| at(neuron, Code::E0802, "`neuron` must be a dict".into()))?;
    let filename = match neuron.get("filename") {
        None => None,
        Some(n) => Some(
            n.as_str()
                .ok_or_else(|| at(n, Code::E0802, "`filename` must be a string".into()))?
                .to_string(),
        ),
    };
    let mut discretization = Discretization::default();
    if let Some(d) = neuron.get("discretization") {
        let f = d
            .get("f")
            .ok_or_else(|| at(d, Code::E0804, "`discretization` needs the key `f`".into()))?;
        // A number that is not positive breaks the discretization rule, E0412 as for
        // `isf_d_lambda(frequency: 0 Hz)` in a script; a non-number is malformed.
        let f_hz = match f.as_f64() {
            Some(v) if v > 0.0 && v.is_finite() => v,
            Some(v) => {
                return Err(at(
                    f,
                    Code::E0412,
                    format!("`f` is {v}; a discretization parameter must be positive"),
                ));
            }
            None => return Err(at(f, Code::E0802, "`f` must be a positive number".into())),
        };
        let m = d.get("max_seg_length").ok_or_else(|| {
            at(
                d,
                Code::E0804,
                "`discretization` needs the key `max_seg_length` (a number or None)".into(),
            )
        })?;
        let max_seg_length_um = match m.value {
            ParamValue::Null => None,
            ParamValue::Number(v) if v > 0.0 && v.is_finite() => Some(v),
            ParamValue::Number(v) => {
                return Err(at(
                    m,
                    Code::E0412,
                    format!("`max_seg_length` is {v}; a discretization parameter must be positive"),
                ));
            }
            _ => {
                return Err(at(
                    m,
                    Code::E0802,
                    "`max_seg_length` must be a positive number or None".into(),
                ));
            }
        };
        discretization = Discretization::Isf {
            f_hz,
            max_seg_length_um,
        };
    }
    let cell_modify_functions = match neuron.get("cell_modify_functions") {
        None => Vec::new(),
        Some(n) => n
            .entries()
            .ok_or_else(|| {
                at(
                    n,
                    Code::E0802,
                    "`cell_modify_functions` must be a dict".into(),
                )
            })?
            .iter()
            .map(|(k, _)| k.clone())
            .collect(),
    };
    let mut passive = LabelPassive::default();
    let mut labels = Vec::new();
    for (key, node) in entries {
        if NON_LABEL_KEYS.contains(&key.as_str()) {
            continue;
        }
        labels.push(key.clone());
        let mut p = Passive::default();
        if let Some(props) = node.get("properties") {
            for (name, slot) in [("Ra", &mut p.ra_ohm_cm), ("cm", &mut p.cm_uf_cm2)] {
                if let Some(v) = props.get(name) {
                    *slot = v
                        .as_f64()
                        .filter(|x| *x > 0.0 && x.is_finite())
                        .ok_or_else(|| {
                            at(
                                v,
                                Code::E0802,
                                format!("`{key}.properties.{name}` must be a positive number"),
                            )
                        })?;
                }
            }
        }
        if let Some(l) = Label::parse(key) {
            passive.by_label.push((l, p));
        }
    }
    Ok(CellParams {
        filename,
        has_ais: neuron.get("AIS").is_some(),
        passive,
        discretization,
        labels,
        cell_modify_functions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals() {
        let v = parse_param(
            "{'a': (1.0, 2), \"b\": None, 'c': [True, -Infinity,], 's': \"it's (ok) None\",}",
            "t",
        )
        .expect("parses");
        assert_eq!(
            v.get("a").map(|n| n.to_json()),
            Some(serde_json::json!([1.0, 2.0]))
        );
        assert_eq!(v.get("b").map(|n| &n.value), Some(&ParamValue::Null));
        assert_eq!(
            v.get("s").and_then(ParamNode::as_str),
            Some("it's (ok) None")
        );
    }

    #[test]
    fn errors_are_located() {
        let e = parse_param("{\n  'a': .5\n}", "t").expect_err("ISF rejects .5");
        assert_eq!((e.code, e.line, e.column), (Code::E0802, 2, 8));
        let e = parse_param("{'a': 1, 'a': 2}", "t").expect_err("duplicate");
        assert_eq!(e.column, 10);
    }
}
