//! Readers for ISF's legacy file formats (`.param`, `.syn`, `.con`, landmark files).
