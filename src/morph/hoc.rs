//! Reader for NEURON/ISF `.hoc` 3-D point morphologies (Amira export subset, spec 10 §10.1).
//!
//! ISF does not interpret hoc: it pattern-matches lines. This reader instead tokenizes the
//! statements that real morphology files contain and rejects everything else with a located
//! error, so a typo cannot silently drop a section (a known ISF pitfall):
//!
//! * `create NAME[, NAME…]` — new section(s); the last one becomes the current section;
//! * `access NAME` — make `NAME` current; `NAME { … }` — current inside the braces;
//! * `connect CHILD(0), PARENT(x)` — attach `CHILD`'s 0-end to `PARENT` at `x`;
//! * `pt3dadd(x, y, z, d)` / `pt3dclear()` — points of the current section;
//! * `nseg = N` — accepted and ignored (ISF recomputes nseg);
//! * `{ }` and `;` separate statements; `//` and `/* */` comments are skipped.
//!
//! Labels follow ISF's name rules but unambiguously (see [`label_for_name`]). As in ISF,
//! every child of the soma is attached at soma(0.5) whatever the file says, and a `connect`
//! of the soma itself is ignored.

use super::{Label, MorphError, Morphology, Point3, Section, validate};
use crate::diagnostics::Code;
use std::collections::HashMap;
use std::path::Path;

/// Read and validate a `.hoc` morphology file.
pub fn read_hoc_file(path: &Path) -> Result<Morphology, MorphError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| MorphError::new(Code::E0701, format!("cannot read file: {e}"), &name, 0, 0))?;
    read_hoc_str(&text, &name)
}

/// Parse and validate `.hoc` text; `file` is used in error locations only.
pub fn read_hoc_str(text: &str, file: &str) -> Result<Morphology, MorphError> {
    let mut r = Reader {
        file,
        sections: Vec::new(),
        by_name: HashMap::new(),
        current: None,
        connected: Vec::new(),
        blocks: Vec::new(),
        depth: 0,
    };
    r.run(text)?;
    let m = Morphology {
        file: file.to_string(),
        sections: r.sections,
    };
    validate(&m).map_err(|e| {
        // A section without points at the very end usually means the file was cut off.
        if e.code == Code::E0714
            && m.sections
                .last()
                .is_some_and(|s| s.line == e.line && s.points.is_empty())
        {
            MorphError {
                code: Code::E0708,
                message: format!("{} (the file seems to be truncated)", e.message),
                ..e
            }
        } else {
            e
        }
    })?;
    Ok(m)
}

/// Label of a section name. Names starting with `soma`, `dend`, `BasalDendrite`, `apical`,
/// `ApicalDendrite` or `axon` get the corresponding label; otherwise ISF's substring rules
/// apply, but a name matching several rules (e.g. `my_apical_dend`) or none is an error
/// instead of being silently mis-registered or dropped.
pub fn label_for_name(name: &str) -> Result<Label, String> {
    const PREFIXES: [(&str, Label); 6] = [
        ("soma", Label::Soma),
        ("ApicalDendrite", Label::ApicalDendrite),
        ("apical", Label::ApicalDendrite),
        ("BasalDendrite", Label::Dendrite),
        ("dend", Label::Dendrite),
        ("axon", Label::Axon),
    ];
    if let Some((_, l)) = PREFIXES.iter().find(|(p, _)| name.starts_with(p)) {
        return Ok(*l);
    }
    let mut found: Vec<Label> = Vec::new();
    for (sub, l) in [
        ("soma", Label::Soma),
        ("dend", Label::Dendrite),
        ("BasalDendrite", Label::Dendrite),
        ("apical", Label::ApicalDendrite),
        ("axon", Label::Axon),
    ] {
        if name.contains(sub) && !found.contains(&l) {
            found.push(l);
        }
    }
    match found.as_slice() {
        [l] => Ok(*l),
        [] => Err(format!(
            "cannot tell the label of section `{name}`: its name must start with `soma`, \
             `dend`, `BasalDendrite`, `apical`, `ApicalDendrite` or `axon`"
        )),
        many => Err(format!(
            "the name of section `{name}` matches several labels ({}); rename it",
            many.iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Reader state.
struct Reader<'a> {
    file: &'a str,
    sections: Vec<Section>,
    by_name: HashMap<String, usize>,
    current: Option<usize>,
    /// Per section: already connected by a `connect` statement.
    connected: Vec<bool>,
    /// `NAME { … }` blocks: (brace depth at the opening brace, section current before).
    blocks: Vec<(usize, Option<usize>)>,
    depth: usize,
}

/// One statement: its characters with their 1-based column, and its line.
struct Stmt {
    chars: Vec<(usize, char)>,
    line: usize,
    /// The statement is on the last non-blank line of the file (for truncation errors).
    last_line: bool,
}

impl Reader<'_> {
    fn err(&self, code: Code, msg: impl Into<String>, line: usize, col: usize) -> MorphError {
        MorphError::new(code, msg, self.file, line, col)
    }

    fn run(&mut self, text: &str) -> Result<(), MorphError> {
        let lines: Vec<&str> = text.lines().collect();
        let last_nonblank = lines.iter().rposition(|l| !l.trim().is_empty());
        let mut in_comment: Option<(usize, usize)> = None;
        for (li, raw) in lines.iter().enumerate() {
            let line = li + 1;
            let is_last = Some(li) == last_nonblank;
            let chars: Vec<char> = raw.chars().collect();
            let mut cur: Vec<(usize, char)> = Vec::new();
            let mut paren = 0usize;
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let col = i + 1;
                if in_comment.is_some() {
                    if c == '*' && chars.get(i + 1) == Some(&'/') {
                        in_comment = None;
                        i += 2;
                    } else {
                        i += 1;
                    }
                    continue;
                }
                if c == '/' && chars.get(i + 1) == Some(&'*') {
                    in_comment = Some((line, col));
                    i += 2;
                    continue;
                }
                if c == '/' && chars.get(i + 1) == Some(&'/') {
                    break;
                }
                match c {
                    '(' => {
                        paren += 1;
                        cur.push((col, c));
                    }
                    ')' => {
                        paren = paren.saturating_sub(1);
                        cur.push((col, c));
                    }
                    '{' | '}' | ';' if paren == 0 => {
                        let stmt = Stmt {
                            chars: std::mem::take(&mut cur),
                            line,
                            last_line: is_last,
                        };
                        let opens_block = c == '{';
                        self.statement(&stmt, opens_block)?;
                        match c {
                            '{' => self.depth += 1,
                            '}' => {
                                if self.depth == 0 {
                                    return Err(self.err(Code::E0702, "unmatched `}`", line, col));
                                }
                                self.depth -= 1;
                                if let Some(&(d, prev)) = self.blocks.last()
                                    && d == self.depth
                                {
                                    self.current = prev;
                                    self.blocks.pop();
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => cur.push((col, c)),
                }
                i += 1;
            }
            let stmt = Stmt {
                chars: cur,
                line,
                last_line: is_last,
            };
            self.statement(&stmt, false)?;
        }
        if let Some((l, c)) = in_comment {
            return Err(self.err(
                Code::E0708,
                "file ends inside a `/* … */` comment (truncated file?)",
                l,
                c,
            ));
        }
        if self.depth > 0 {
            let l = last_nonblank.map(|l| l + 1).unwrap_or(0);
            return Err(self.err(
                Code::E0708,
                "file ends inside a `{ … }` block (truncated file?)",
                l,
                0,
            ));
        }
        Ok(())
    }

    /// Handle one statement. `opens_block`: the statement is followed by `{`.
    fn statement(&mut self, st: &Stmt, opens_block: bool) -> Result<(), MorphError> {
        let mut c = Cursor { st, pos: 0 };
        loop {
            c.skip_ws();
            if c.at_end() {
                return Ok(());
            }
            self.one(&mut c, opens_block)?;
        }
    }

    /// Parse one statement at the cursor (several may share a line, as in hoc).
    fn one(&mut self, c: &mut Cursor, opens_block: bool) -> Result<(), MorphError> {
        let st = c.st;
        let start_col = c.col();
        let Some(word) = c.ident() else {
            return Err(self.err(
                Code::E0716,
                format!("unsupported statement `{}`", st.text()),
                st.line,
                start_col,
            ));
        };
        match word.as_str() {
            "create" => {
                loop {
                    c.skip_ws();
                    let col = c.col();
                    let Some(name) = c.ident() else {
                        return Err(self.syntax(c, "expected a section name after `create`"));
                    };
                    self.create(name, st.line, col)?;
                    c.skip_ws();
                    if !c.eat(',') {
                        break;
                    }
                }
                Ok(())
            }
            "access" => {
                c.skip_ws();
                let col = c.col();
                let Some(name) = c.ident() else {
                    return Err(self.syntax(c, "expected a section name after `access`"));
                };
                self.current = Some(self.lookup(&name, st.line, col)?);
                Ok(())
            }
            "connect" => self.connect(c),
            "pt3dadd" => self.pt3dadd(c),
            "pt3dclear" => {
                c.skip_ws();
                self.expect(c, '(')?;
                c.skip_ws();
                if c.peek() != Some(')') {
                    self.number(c)?;
                }
                c.skip_ws();
                self.expect(c, ')')?;
                let Some(cur) = self.current else {
                    return Err(self.err(
                        Code::E0702,
                        "`pt3dclear` before any `create` or `access`",
                        st.line,
                        start_col,
                    ));
                };
                self.sections[cur].points.clear();
                Ok(())
            }
            "nseg" => {
                c.skip_ws();
                self.expect(c, '=')?;
                c.skip_ws();
                let col = c.col();
                let v = self.number(c)?;
                if !(v >= 1.0 && v.fract() == 0.0) {
                    return Err(self.err(
                        Code::E0702,
                        "nseg must be a positive integer",
                        st.line,
                        col,
                    ));
                }
                Ok(())
            }
            name if opens_block && c.rest_is_blank() && self.by_name.contains_key(name) => {
                let idx = self.lookup(name, st.line, start_col)?;
                self.blocks.push((self.depth, self.current));
                self.current = Some(idx);
                Ok(())
            }
            other => {
                let text = st.text();
                if text.contains("Spine") {
                    // ISF skips spine lines inside point lists.
                    c.pos = st.chars.len();
                    return Ok(());
                }
                Err(self.err(
                    Code::E0716,
                    format!(
                        "unsupported hoc statement `{}` (only create, access, connect, \
                         pt3dadd, pt3dclear and nseg are understood)",
                        if text.len() > 40 {
                            other
                        } else {
                            text.as_str()
                        }
                    ),
                    st.line,
                    start_col,
                ))
            }
        }
    }

    fn create(&mut self, name: String, line: usize, col: usize) -> Result<(), MorphError> {
        if self.by_name.contains_key(&name) {
            return Err(self.err(
                Code::E0702,
                format!("section `{name}` is created twice"),
                line,
                col,
            ));
        }
        let label = label_for_name(&name).map_err(|m| self.err(Code::E0713, m, line, col))?;
        let idx = self.sections.len();
        self.by_name.insert(name.clone(), idx);
        self.sections.push(Section {
            name,
            label,
            parent: None,
            parent_x: 0.0,
            points: Vec::new(),
            preset_nseg: None,
            line,
        });
        self.connected.push(false);
        self.current = Some(idx);
        Ok(())
    }

    fn lookup(&self, name: &str, line: usize, col: usize) -> Result<usize, MorphError> {
        self.by_name.get(name).copied().ok_or_else(|| {
            let hint = crate::diagnostics::suggest(name, self.by_name.keys().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            self.err(
                Code::E0704,
                format!("unknown section `{name}` (not created before this line){hint}"),
                line,
                col,
            )
        })
    }

    fn connect(&mut self, c: &mut Cursor) -> Result<(), MorphError> {
        let line = c.st.line;
        c.skip_ws();
        let ccol = c.col();
        let Some(child) = c.ident() else {
            return Err(self.syntax(c, "expected `CHILD(0), PARENT(x)` after `connect`"));
        };
        c.skip_ws();
        self.expect(c, '(')?;
        c.skip_ws();
        let xcol = c.col();
        let cx = self.number(c)?;
        c.skip_ws();
        self.expect(c, ')')?;
        c.skip_ws();
        self.expect(c, ',')?;
        c.skip_ws();
        let pcol = c.col();
        let Some(parent) = c.ident() else {
            return Err(self.syntax(c, "expected the parent section name"));
        };
        c.skip_ws();
        self.expect(c, '(')?;
        c.skip_ws();
        let pxcol = c.col();
        let px = self.number(c)?;
        c.skip_ws();
        self.expect(c, ')')?;
        let ci = self.lookup(&child, line, ccol)?;
        let pi = self.lookup(&parent, line, pcol)?;
        if self.sections[ci].label == Label::Soma
            && self.sections.iter().position(|s| s.label == Label::Soma) == Some(ci)
        {
            // ISF ignores a connect of the soma: it is the root of the tree.
            return Ok(());
        }
        if cx != 0.0 {
            return Err(self.err(
                Code::E0716,
                "only connections at the child's 0-end are supported (write `CHILD(0)`)",
                line,
                xcol,
            ));
        }
        if !(0.0..=1.0).contains(&px) {
            return Err(self.err(
                Code::E0702,
                format!("connection position {px} is outside [0, 1]"),
                line,
                pxcol,
            ));
        }
        if ci == pi {
            return Err(self.err(
                Code::E0705,
                format!("section `{child}` is connected to itself"),
                line,
                pcol,
            ));
        }
        if self.connected[ci] {
            return Err(self.err(
                Code::E0702,
                format!("section `{child}` is connected twice"),
                line,
                ccol,
            ));
        }
        self.connected[ci] = true;
        let soma_parent = self.sections[pi].label == Label::Soma;
        let s = &mut self.sections[ci];
        s.parent = Some(pi);
        // ISF attaches every soma child at soma(0.5), whatever the file says.
        s.parent_x = if soma_parent { 0.5 } else { px };
        Ok(())
    }

    fn pt3dadd(&mut self, c: &mut Cursor) -> Result<(), MorphError> {
        let line = c.st.line;
        let col0 = c.col();
        c.skip_ws();
        self.expect(c, '(')?;
        let mut v = [0.0f64; 4];
        let mut dcol = 0;
        for (k, slot) in v.iter_mut().enumerate() {
            c.skip_ws();
            if k == 3 {
                dcol = c.col();
            }
            *slot = self.number(c)?;
            c.skip_ws();
            self.expect(c, if k < 3 { ',' } else { ')' })?;
        }
        let Some(cur) = self.current else {
            return Err(self.err(
                Code::E0702,
                "`pt3dadd` before any `create` or `access`",
                line,
                col0,
            ));
        };
        if !(v[3] > 0.0) {
            return Err(self.err(
                Code::E0707,
                format!(
                    "diameter {} of a 3-D point of section `{}` is not positive",
                    v[3], self.sections[cur].name
                ),
                line,
                dcol,
            ));
        }
        self.sections[cur].points.push(Point3 {
            x: v[0],
            y: v[1],
            z: v[2],
            d: v[3],
        });
        Ok(())
    }

    /// Parse a number; errors are E0703 (or E0708 at the end of a truncated last line).
    fn number(&self, c: &mut Cursor) -> Result<f64, MorphError> {
        let col = c.col();
        let text = c.number_text();
        if text.is_empty() {
            return Err(self.syntax(c, "expected a number"));
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(
                Code::E0703,
                format!("malformed number `{text}`"),
                c.st.line,
                col,
            )),
        }
    }

    fn expect(&self, c: &mut Cursor, ch: char) -> Result<(), MorphError> {
        if c.eat(ch) {
            Ok(())
        } else {
            Err(self.syntax(c, &format!("expected `{ch}`")))
        }
    }

    /// A syntax error at the cursor: E0708 if the statement was cut off at the end of the
    /// file, E0703 if a number is garbled, E0702 otherwise.
    fn syntax(&self, c: &Cursor, msg: &str) -> MorphError {
        if c.at_end() && c.st.last_line {
            return self.err(
                Code::E0708,
                format!("{msg}, but the file ends here (truncated file?)"),
                c.st.line,
                c.col(),
            );
        }
        let found = match c.peek() {
            Some(ch) => format!(", found `{ch}`"),
            None => ", found the end of the statement".to_string(),
        };
        self.err(Code::E0702, format!("{msg}{found}"), c.st.line, c.col())
    }
}

impl Stmt {
    fn text(&self) -> String {
        self.chars
            .iter()
            .map(|(_, c)| *c)
            .collect::<String>()
            .trim()
            .to_string()
    }
}

/// Character cursor over one statement.
struct Cursor<'s> {
    st: &'s Stmt,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.st.chars.get(self.pos).map(|(_, c)| *c)
    }
    fn at_end(&self) -> bool {
        self.pos >= self.st.chars.len()
    }
    /// Column of the current character (or just past the last one).
    fn col(&self) -> usize {
        match self.st.chars.get(self.pos) {
            Some((col, _)) => *col,
            None => self.st.chars.last().map(|(c, _)| c + 1).unwrap_or(1),
        }
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn rest_is_blank(&self) -> bool {
        self.st.chars[self.pos.min(self.st.chars.len())..]
            .iter()
            .all(|(_, c)| c.is_whitespace())
    }
    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return None;
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        Some(
            self.st.chars[start..self.pos]
                .iter()
                .map(|(_, c)| *c)
                .collect(),
        )
    }
    /// The longest run of characters that can belong to a number (validated by the caller).
    fn number_text(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let prev = if self.pos > start {
                self.st.chars.get(self.pos - 1).map(|(_, c)| *c)
            } else {
                None
            };
            let ok = c.is_ascii_digit()
                || c == '.'
                || c == 'e'
                || c == 'E'
                || ((c == '-' || c == '+')
                    && (self.pos == start || matches!(prev, Some('e') | Some('E'))));
            if !ok {
                break;
            }
            self.pos += 1;
        }
        self.st.chars[start..self.pos]
            .iter()
            .map(|(_, c)| *c)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "{create soma}\n{access soma}\n{nseg = 1}\n{pt3dclear()}\n\
        {pt3dadd(0.0, 0.0, 0.0, 6.0)}\n{pt3dadd(0.0, 0.0, 12.0, 8.0)}\n{pt3dadd(0.0, 0.0, 20.0, 5.0)}\n\n\
        {create dend_1_0}\n{connect dend_1_0(0), soma(0.31)}\n{access dend_1_0}\n{nseg = 1}\n\
        {pt3dclear()}\n{pt3dadd(0.0, 1.0, 5.0, 1.2)}\n{pt3dadd(0.0, 40.0, 5.0, 1.0)}\n\n\
        {create apical_1_0}\n{connect apical_1_0(0), soma(0.5)}\n\
        {pt3dadd(0.0, 0.0, 20.0, 3.0)}\n{pt3dadd(0.0, 0.0, 120.0, 2.5)}\n";

    #[test]
    fn spec_example() {
        let m = read_hoc_str(TOY, "toy.hoc").expect("valid");
        assert_eq!(m.sections.len(), 3);
        assert_eq!(m.sections[1].label, Label::Dendrite);
        assert_eq!(m.sections[1].parent, Some(0));
        assert_eq!(m.sections[1].parent_x, 0.5);
        assert_eq!(m.sections[2].label, Label::ApicalDendrite);
        assert_eq!(m.sections[2].points.len(), 2);
    }

    #[test]
    fn labels() {
        assert_eq!(label_for_name("BasalDendrite_1_0"), Ok(Label::Dendrite));
        assert_eq!(label_for_name("apical_dend_3"), Ok(Label::ApicalDendrite));
        assert!(label_for_name("my_apical_dend").is_err());
        assert!(label_for_name("trunk").is_err());
    }

    #[test]
    fn block_syntax() {
        let t = "create soma, dend\nsoma { pt3dadd(0,0,0,10) pt3dadd(0,0,10,10) }\n\
                 connect dend(0), soma(1)\ndend {\n pt3dadd(0,0,10,1)\n pt3dadd(0,0,50,1)\n}\n";
        let m = read_hoc_str(t, "b.hoc").expect("valid");
        assert_eq!(m.sections[0].points.len(), 2);
        assert_eq!(m.sections[1].points.len(), 2);
    }
}
