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
    let text = crate::files::read_data(path)
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
    // A last section without points usually means the file was cut off.
    if let Some(last) = m.sections.last()
        && last.points.is_empty()
    {
        return Err(MorphError::new(
            Code::E0708,
            format!(
                "section `{}` has no 3-D points and the file ends (truncated file?)",
                last.name
            ),
            file,
            last.line,
            0,
        ));
    }
    validate(&m)?;
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

/// One statement: a byte range of a (comment-free) line.
struct Stmt<'t> {
    text: &'t str,
    start: usize,
    end: usize,
    line: usize,
    /// The statement is on the last non-blank line of the file (for truncation errors).
    last_line: bool,
    /// The line is pure ASCII, so byte offsets are columns (the common, fast case).
    ascii: bool,
}

/// Replace comments by spaces (one per character, so columns stay right) and return the
/// updated "inside a block comment" state.
fn strip_comments<'a>(
    raw: &'a str,
    line: usize,
    in_comment: &mut Option<(usize, usize)>,
) -> std::borrow::Cow<'a, str> {
    if in_comment.is_none() && !raw.contains('/') {
        return std::borrow::Cow::Borrowed(raw);
    }
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if in_comment.is_some() {
            if c == '*' && next == Some('/') {
                *in_comment = None;
                out.push_str("  ");
                i += 2;
            } else {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            *in_comment = Some((line, i + 1));
            out.push_str("  ");
            i += 2;
        } else if c == '/' && next == Some('/') {
            break;
        } else {
            out.push(c);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
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
            let clean = strip_comments(raw, line, &mut in_comment);
            let bytes = clean.as_bytes();
            let ascii = clean.is_ascii();
            let mut paren = 0usize;
            let mut start = 0;
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'(' => paren += 1,
                    b')' => paren = paren.saturating_sub(1),
                    b'{' | b'}' | b';' if paren == 0 => {
                        let stmt = Stmt {
                            text: &clean,
                            start,
                            end: i,
                            line,
                            last_line: is_last,
                            ascii,
                        };
                        self.statement(&stmt, b == b'{')?;
                        start = i + 1;
                        match b {
                            b'{' => self.depth += 1,
                            b'}' => {
                                if self.depth == 0 {
                                    let col = clean[..i].chars().count() + 1;
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
                    _ => {}
                }
            }
            let stmt = Stmt {
                text: &clean,
                start,
                end: bytes.len(),
                line,
                last_line: is_last,
                ascii,
            };
            // The file ends inside `{ …`: whatever is wrong with this last piece, the cause
            // is most likely a cut-off file.
            let cut_off = is_last && self.depth > 0;
            self.statement(&stmt, false).map_err(|e| {
                if cut_off && e.code != Code::E0708 {
                    MorphError {
                        code: Code::E0708,
                        message: format!(
                            "{} (the file ends inside this statement: truncated file?)",
                            e.message
                        ),
                        ..e
                    }
                } else {
                    e
                }
            })?;
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
        let mut c = Cursor { st, pos: st.start };
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
                    c.pos = st.end;
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
            let hint =
                crate::diagnostics::did_you_mean(name, self.by_name.keys().map(String::as_str))
                    .map(|h| format!("; {h}"))
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
        let col0 = c.col().saturating_sub("pt3dadd".len());
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
        // (values are finite here, so `<=` also covers what `!(> 0)` would)
        if v[3] <= 0.0 {
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

impl Stmt<'_> {
    fn text(&self) -> String {
        self.text[self.start..self.end].trim().to_string()
    }
}

/// Cursor over one statement (byte position, always on a character boundary).
struct Cursor<'s, 't> {
    st: &'s Stmt<'t>,
    pos: usize,
}

impl Cursor<'_, '_> {
    fn rest(&self) -> &str {
        &self.st.text[self.pos.min(self.st.end)..self.st.end]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }
    fn at_end(&self) -> bool {
        self.pos >= self.st.end
    }
    /// 1-based column (in characters) of the cursor.
    fn col(&self) -> usize {
        let pos = self.pos.min(self.st.end);
        if self.st.ascii {
            return pos + 1;
        }
        self.st.text[..pos].chars().count() + 1
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn rest_is_blank(&self) -> bool {
        self.rest().trim().is_empty()
    }
    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        let rest = self.rest();
        if !rest
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        {
            return None;
        }
        let n = rest
            .bytes()
            .position(|c| !(c.is_ascii_alphanumeric() || c == b'_'))
            .unwrap_or(rest.len());
        let out = rest[..n].to_string();
        self.pos += n;
        Some(out)
    }
    /// The longest run of characters that can belong to a number (validated by the caller).
    fn number_text(&mut self) -> &str {
        let rest = self.rest().as_bytes();
        let mut n = 0;
        while n < rest.len() {
            let c = rest[n];
            let ok = c.is_ascii_digit()
                || c == b'.'
                || c == b'e'
                || c == b'E'
                || ((c == b'-' || c == b'+') && (n == 0 || matches!(rest[n - 1], b'e' | b'E')));
            if !ok {
                break;
            }
            n += 1;
        }
        let start = self.pos.min(self.st.end);
        self.pos = start + n;
        &self.st.text[start..start + n]
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "{create soma}\n{access soma}\n{nseg = 1}\n{pt3dclear()}\n\
        {pt3dadd(0.0, 0.0, 0.0, 6.0)}\n{pt3dadd(0.0, 0.0, 12.0, 8.0)}\n{pt3dadd(0.0, 0.0, 20.0, \
            5.0)}\n\n\
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
