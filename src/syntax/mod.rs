//! Syntax: the logos lexer, the pest parser, the AST and the pretty-printer.

pub mod ast;
pub mod depth;
pub mod highlight;
pub mod lexer;
pub mod parser;
pub mod pretty;
