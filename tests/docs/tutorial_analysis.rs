//! `docs/tutorial-analysis.md` is a real transcript: every ```console block's `$ COMMAND` runs
//! as written (by `sh`, in a scratch copy of `examples/` with `isf` and `python` on `PATH`:
//! the built binary and the `.ci/run` virtualenv's python with `pip install ./python`), and
//! prints exactly the lines pasted under it (in any order, since progress goes to stderr and
//! results to stdout; run times and thread counts are masked, absolute paths are relative to
//! the scratch directory as they are pasted relative to the repository). The pictures it writes are
//! PNGs of the committed pictures' size, not blank.
//!
//! Without the virtualenv the Python step is a loud SKIPPED (a failure under CI).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// One `$ command` with its stdin (a here-document's lines) and expected output lines.
struct Step {
    command: String,
    expected: Vec<String>,
}

fn steps(md: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut heredoc: Option<String> = None;
    for line in md.lines() {
        if !in_block {
            in_block = line.trim_start() == "```console";
            continue;
        }
        if let Some(end) = &heredoc {
            let s = out.last_mut().expect("a command");
            s.command.push('\n');
            s.command.push_str(line);
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        if line.trim_start().starts_with("```") {
            in_block = false;
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            if let Some(i) = cmd.find("<<'") {
                let end = cmd[i + 3..].split('\'').next().unwrap_or("EOF").to_string();
                heredoc = Some(end);
            }
            out.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.expected.push(line.to_string());
        }
    }
    out
}

/// A line with its run time and thread count masked.
fn mask(line: &str) -> String {
    let line = line.trim_end();
    match line.find(") in ") {
        Some(i) if line.contains(" s with ") => format!("{}) in … s with … threads", &line[..i]),
        _ => line.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "results" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(&name));
        } else {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

/// Width and height of a PNG, and whether its pixels are not all one colour.
fn png_info(p: &Path) -> (u32, u32, bool) {
    let file = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut r = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(ch).collect();
    let varied = px.iter().any(|q| q[..3] != px[0][..3]);
    (info.width, info.height, varied)
}

#[test]
fn analysis_tutorial_transcript_is_real() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let md = std::fs::read_to_string(root.join("docs/tutorial-analysis.md")).unwrap();
    let steps = steps(&md);
    assert!(steps.len() >= 6, "{} steps", steps.len());
    let py = common::python::interpreter().filter(|p| p.exists());
    let work = tempfile::tempdir().unwrap();
    copy_dir(&root.join("examples"), &work.path().join("examples"));
    std::fs::create_dir_all(work.path().join("docs/img")).unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_isf"), bin.join("isf")).unwrap();
    if let Some(py) = &py {
        // A wrapper, not a link: a virtualenv's python finds its packages from its own path.
        use std::os::unix::fs::PermissionsExt;
        let wrapper = bin.join("python");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec '{}' \"$@\"\n", py.display()),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut pictures: Vec<PathBuf> = Vec::new();
    for s in &steps {
        if s.command.starts_with("python") && py.is_none() {
            common::skip::skip(
                &format!("no Python for the transcript step `{}`", s.command),
                common::python::PYTHON_HINT,
            );
            continue;
        }
        let o = Command::new("sh")
            .args(["-c", &s.command])
            .current_dir(work.path())
            .env("PATH", &path)
            .env_remove("PYTHONPATH")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success(),
            "`{}` failed:\n{stdout}{stderr}",
            s.command
        );
        // Absolute paths are pasted relative to the repository.
        let prefixes = [
            format!("{}/", work.path().display()),
            format!("{}/", work.path().canonicalize().unwrap().display()),
        ];
        let relative = |l: &str| {
            prefixes
                .iter()
                .fold(l.to_string(), |l, p| l.replace(p.as_str(), ""))
        };
        let mut got: Vec<String> = stdout
            .lines()
            .chain(stderr.lines())
            .map(|l| mask(&relative(l)))
            .collect();
        let mut want: Vec<String> = s.expected.iter().map(|l| mask(l)).collect();
        got.sort();
        want.sort();
        assert_eq!(
            want, got,
            "`{}`: the transcript's output differs from this run's",
            s.command
        );
        for w in s.command.split_whitespace() {
            if w.starts_with("docs/img/") && w.ends_with(".png") {
                pictures.push(PathBuf::from(w));
            }
        }
    }
    assert!(pictures.len() >= 2, "{pictures:?}");
    for p in pictures {
        let (w, h, varied) = png_info(&work.path().join(&p));
        let (cw, ch, _) = png_info(&root.join(&p));
        assert!(varied, "{} is blank", p.display());
        assert_eq!(
            (w, h),
            (cw, ch),
            "{} differs in size from the committed one",
            p.display()
        );
        let bytes = std::fs::metadata(root.join(&p)).unwrap().len();
        assert!(
            bytes < 200_000,
            "{} is {bytes} B: keep committed pictures small",
            p.display()
        );
    }
}
