//! The isf grammar for tree-sitter: [`LANGUAGE`] and the highlight query.
//!
//! ```
//! let mut parser = tree_sitter::Parser::new();
//! parser.set_language(&tree_sitter_isf::LANGUAGE.into()).unwrap();
//! let tree = parser.parse("let v = -75 mV\n", None).unwrap();
//! assert!(!tree.root_node().has_error());
//! ```

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_isf() -> *const ();
}

/// The tree-sitter language of isf.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_isf) };

/// `queries/highlights.scm`.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// `src/node-types.json`.
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");
