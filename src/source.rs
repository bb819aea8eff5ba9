//! Source files and byte spans.
//!
//! Every piece of text isf reads (a user's script, an embedded stdlib module, a REPL line, a
//! morphology file) is registered in a [`SourceMap`] and gets a [`FileId`]. Positions are byte
//! [`Span`]s into that text; line and column numbers are computed only when rendering.

use serde::Serialize;
use std::path::PathBuf;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Byte range for slicing.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where a source text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file on disk (path as the user gave it or as resolved from an import).
    Path(PathBuf),
    /// An embedded standard-library module, e.g. `std/channels/hay2011.isf`.
    Stdlib(String),
    /// Text typed into the REPL or passed programmatically.
    Virtual(String),
}

/// One registered source text.
#[derive(Clone, Debug)]
pub struct Source {
    pub origin: Origin,
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// Characters before each line start, for byte → char conversion in linear total time.
    line_chars: Vec<usize>,
}

impl Source {
    fn new(origin: Origin, name: String, text: String) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut line_chars = Vec::with_capacity(line_starts.len());
        let mut chars = 0;
        for (i, &s) in line_starts.iter().enumerate() {
            if i > 0 {
                chars += text[line_starts[i - 1]..s].chars().count();
            }
            line_chars.push(chars);
        }
        Source {
            origin,
            name,
            text,
            line_starts,
            line_chars,
        }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The char offset of a byte offset (clamped to the text, rounded down to a char boundary):
    /// what renderers that count characters expect. Costs one line's length at most.
    pub fn char_offset(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        self.line_chars[line] + self.text[start..offset].chars().count()
    }

    /// Directory that relative paths in this source are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match &self.origin {
            Origin::Path(p) => p
                .parent()
                .map(|d| d.to_path_buf())
                .unwrap_or_else(|| PathBuf::from(".")),
            _ => PathBuf::from("."),
        }
    }
}

/// All source texts of one session, indexed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<Source>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Register a text and return its id.
    pub fn add(
        &mut self,
        origin: Origin,
        name: impl Into<String>,
        text: impl Into<String>,
    ) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files
            .push(Source::new(origin, name.into(), text.into()));
        id
    }

    /// The source with this id.
    pub fn get(&self, id: FileId) -> &Source {
        &self.files[id.0 as usize]
    }

    /// Id of an already registered origin, if any.
    pub fn find(&self, origin: &Origin) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| &f.origin == origin)
            .map(|i| FileId(i as u32))
    }

    /// Number of registered files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file is registered.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Text covered by a span.
    pub fn snippet(&self, span: Span) -> &str {
        self.get(span.file).text.get(span.range()).unwrap_or("")
    }
}
