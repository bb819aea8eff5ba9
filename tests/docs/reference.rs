//! The declaration tables of `docs/reference.md` are generated from the checker's schemas
//! (`isf::sema::decls`): this test fails when they are out of date, and rewrites them when
//! run with `ISF_REGEN_DOCS=1`.

use std::path::Path;

#[test]
fn reference_tables_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    let text = std::fs::read_to_string(&path).expect("docs/reference.md");
    let current = isf::sema::decls::regenerate_reference(&text).expect("markers are well formed");
    for kind in ["neuron", "region", "population", "experiment", "stimulus"] {
        assert!(
            text.contains(&format!("<!-- schema: {kind} -->")),
            "docs/reference.md has no generated `{kind}` table"
        );
    }
    if current != text {
        if std::env::var("ISF_REGEN_DOCS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, current).expect("write docs/reference.md");
        } else {
            panic!(
                "docs/reference.md is out of date with src/sema/decls.rs; run \
                 `ISF_REGEN_DOCS=1 cargo test --release --test docs reference::`"
            );
        }
    }
}
