//! SLURM job scripts for `isf submit --slurm`: a job array over the shards of a sweep
//! (`isf run --shard K/N --resume`, one shard store per task) and a merge job that runs once
//! every task succeeded (`--dependency=afterok:ARRAY`), merging the shards into the result
//! store and verifying it.
//!
//! Everything here is text: which tasks to queue and what the scripts say. Submitting,
//! checking shards and the submission record live in `cli/submit.rs`. The layout on disk,
//! beside the result store `RESULTS`:
//!
//! ```text
//! RESULTS.slurm/submission.json                 what was submitted (manifest, job ids)
//! RESULTS.slurm/array.sbatch, merge.sbatch      the scripts of the latest submission
//! RESULTS.slurm/shards/shard-0003-of-0004.isfdb one store per array task
//! RESULTS.slurm/logs/shard-0003.log, merge.log  the jobs' output
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest file of a submission directory.
pub const MANIFEST: &str = "submission.json";

/// Everything the scripts of one submission depend on. Paths are absolute: the jobs run on
/// other machines, from another working directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The `isf` binary the jobs run (this one, unless `--isf` names another).
    pub isf: PathBuf,
    /// The script.
    pub script: PathBuf,
    /// `--experiment`, when only one experiment of the script runs.
    pub experiment: Option<String>,
    /// The merged result store.
    pub results: PathBuf,
    /// The submission directory (`RESULTS.slurm`).
    pub work: PathBuf,
    /// The directory the jobs start in (where `isf submit` ran), so paths relative to it mean
    /// what they meant there.
    pub cwd: PathBuf,
    /// Number of shards = array tasks.
    pub shards: u64,
    pub cpus_per_task: u32,
    pub time: Option<String>,
    pub partition: Option<String>,
    pub job_name: String,
    /// `--allow-large` for the runs.
    pub allow_large: bool,
}

/// Quote a string as one shell word (single quotes; a quote inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

/// A SLURM `--array` list of task ids, ranges compressed: `[0,1,2,5,7,8]` →
/// `0-2,5,7-8`.
pub fn array_spec(tasks: &[u64]) -> String {
    let mut t = tasks.to_vec();
    t.sort_unstable();
    t.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let mut j = i;
        while j + 1 < t.len() && t[j + 1] == t[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            t[i].to_string()
        } else {
            format!("{}-{}", t[i], t[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Check a `--time` limit in one of SLURM's forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`,
/// `D-H:M:S` (all numbers).
pub fn check_time(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{s}` is not a SLURM time limit; use minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or \
             D-HH:MM:SS"
        )
    };
    let nums = |part: &str, max: usize| -> Result<(), String> {
        let fields: Vec<&str> = part.split(':').collect();
        if fields.len() > max
            || fields
                .iter()
                .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        Ok(())
    };
    match s.split_once('-') {
        Some((days, rest)) => {
            nums(days, 1)?;
            nums(rest, 3)
        }
        None => nums(s, 3),
    }
}

/// Check a `--partition` value: comma-separated names of letters, digits, `_`, `-`, `.`.
pub fn check_partition(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.split(',').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a partition name (letters, digits, `_`, `-`, `.`; several separated by \
             commas)"
        ))
    }
}

/// Check that a path can stand in an `#SBATCH` line: SLURM splits those lines at white
/// space and expands `%` patterns in `--output`, so neither may occur.
pub fn check_directive_path(p: &Path) -> Result<(), String> {
    let s = p.to_str().ok_or_else(|| {
        format!(
            "{} is not valid UTF-8; a job script cannot name it",
            p.display()
        )
    })?;
    if s.chars().any(|c| c.is_whitespace() || c == '%' || c == '"') {
        return Err(format!(
            "{s} contains white space, `%` or `\"`, which `#SBATCH` lines cannot hold; choose a \
             --out without them"
        ));
    }
    Ok(())
}

impl Submission {
    /// The directory of the shard stores.
    pub fn shard_dir(&self) -> PathBuf {
        self.work.join("shards")
    }

    /// The store of shard `k` (1-based) of [`Submission::shards`].
    pub fn shard_path(&self, k: u64) -> PathBuf {
        self.shard_dir()
            .join(format!("shard-{k:04}-of-{:04}.isfdb", self.shards))
    }

    /// The directory of the jobs' output.
    pub fn log_dir(&self) -> PathBuf {
        self.work.join("logs")
    }

    fn directives(&self, name: &str, cpus: u32, output: &str) -> String {
        let mut s = format!("#SBATCH --job-name={name}\n#SBATCH --ntasks=1\n");
        s += &format!("#SBATCH --cpus-per-task={cpus}\n");
        if let Some(t) = &self.time {
            s += &format!("#SBATCH --time={t}\n");
        }
        if let Some(p) = &self.partition {
            s += &format!("#SBATCH --partition={p}\n");
        }
        s += &format!(
            "#SBATCH --output={}/{output}\n#SBATCH --open-mode=append\n",
            self.log_dir().display()
        );
        s
    }

    fn isf_cmd(&self) -> String {
        let mut s = q(&self.isf);
        if self.allow_large {
            s += " --allow-large";
        }
        s
    }

    /// The array job: one task per shard in `tasks` (array ids are shard numbers, 1-based, so
    /// task 3 runs shard 3 and logs to `logs/shard-0003.log`). A re-queued task continues its shard
    /// (`--resume`): trials already stored are
    /// skipped, so a killed task loses only the trials in flight.
    pub fn array_script(&self, tasks: &[u64]) -> String {
        let mut s = String::from("#!/bin/bash\n");
        s += &format!(
            "# isf submit: the shards of {} (one isf run --shard K/{} per array task).\n",
            self.script.display(),
            self.shards
        );
        s += "# Generated; edit the isf script and submit again instead of this file.\n";
        s += &self.directives(&self.job_name, self.cpus_per_task, "shard-%4a.log");
        s += &format!("#SBATCH --array={}\n", array_spec(tasks));
        s += "set -euo pipefail\n";
        s += &format!("cd {}\n", q(&self.cwd));
        s += &format!("n={}\n", self.shards);
        s += "k=$SLURM_ARRAY_TASK_ID\n";
        s += &format!(
            "shard={}/shard-$(printf %04d \"$k\")-of-$(printf %04d \"$n\").isfdb\n",
            q(&self.shard_dir())
        );
        s += &format!("exec {} run {}", self.isf_cmd(), q(&self.script));
        if let Some(e) = &self.experiment {
            s += &format!(" --experiment {}", shell_quote(e));
        }
        s += " --shard \"$k/$n\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\" --out \"$shard\" --resume \
              --quiet\n";
        s
    }

    /// The merge job, submitted with `--dependency=afterok:ARRAY` (it starts once every task
    /// of the array succeeded; `--kill-on-invalid-dep` removes it when one failed, so a
    /// failed sweep leaves nothing pending). Merging is idempotent: keys already in the
    /// result store are skipped when identical.
    pub fn merge_script(&self) -> String {
        let mut s = String::from("#!/bin/bash\n");
        s += &format!(
            "# isf submit: merge the {} shards of {} into {} and verify it.\n",
            self.shards,
            self.script.display(),
            self.results.display()
        );
        s += "# Submitted with --dependency=afterok:<array job id>; generated, do not edit.\n";
        s += &self.directives(&format!("{}-merge", self.job_name), 1, "merge.log");
        s += "#SBATCH --kill-on-invalid-dep=yes\n";
        s += "set -euo pipefail\n";
        s += &format!("cd {}\n", q(&self.cwd));
        s += &format!("{} db merge {}", self.isf_cmd(), q(&self.results));
        for k in 1..=self.shards {
            s += &format!(" \\\n    {}", q(&self.shard_path(k)));
        }
        s += "\n";
        s += &format!("{} db verify {}\n", self.isf_cmd(), q(&self.results));
        s
    }
}

/// The job id in `sbatch --parsable` output (`123` or `123;cluster`).
pub fn parse_job_id(out: &str) -> Option<String> {
    let id = out.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub() -> Submission {
        Submission {
            isf: "/opt/isf/bin/isf".into(),
            script: "/home/u/sweep.isf".into(),
            experiment: None,
            results: "/scratch/u/sweep.isfdb".into(),
            work: "/scratch/u/sweep.isfdb.slurm".into(),
            cwd: "/home/u/it's here".into(),
            shards: 4,
            cpus_per_task: 2,
            time: Some("00:30:00".into()),
            partition: Some("short".into()),
            job_name: "isf-sweep".into(),
            allow_large: false,
        }
    }

    #[test]
    fn arrays_compress_to_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[5, 0, 1, 2, 7, 8, 8]), "0-2,5,7-8");
        assert_eq!(array_spec(&[3]), "3");
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/a/b.isf"), "/a/b.isf");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn time_and_partition_forms() {
        for ok in ["30", "30:00", "1:00:00", "2-0", "2-12:00", "2-12:00:00"] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1h", "1::0", "1:2:3:4", "-5", "2-", "1 0"] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
        assert!(check_partition("short,long").is_ok());
        assert!(check_partition("a b").is_err());
        assert!(check_partition("x\n#SBATCH --mem=1").is_err());
        assert!(check_directive_path(Path::new("/a/b c")).is_err());
        assert!(check_directive_path(Path::new("/a/%j")).is_err());
        assert!(check_directive_path(Path::new("/a/b")).is_ok());
    }

    #[test]
    fn scripts_name_every_shard_and_quote_paths() {
        let s = sub();
        let a = s.array_script(&[1, 3]);
        assert!(a.contains("#SBATCH --array=1,3\n"), "{a}");
        assert!(a.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(a.contains("#SBATCH --time=00:30:00\n#SBATCH --partition=short\n"));
        assert!(a.contains(r"cd '/home/u/it'\''s here'"), "{a}");
        // The shard count is fixed in the script, not SLURM_ARRAY_TASK_COUNT: a re-submission
        // of some tasks must keep every shard's membership.
        assert!(a.contains("n=4\n") && !a.contains("TASK_COUNT"));
        assert!(a.contains("--shard \"$k/$n\"") && a.contains("--resume"));
        let m = s.merge_script();
        for k in 1..=4 {
            assert!(
                m.contains(&format!("shards/shard-{k:04}-of-0004.isfdb")),
                "{m}"
            );
        }
        assert!(m.contains("db verify /scratch/u/sweep.isfdb\n"));
        assert!(m.contains("--kill-on-invalid-dep=yes"));
        assert_eq!(
            s.shard_path(3),
            Path::new("/scratch/u/sweep.isfdb.slurm/shards/shard-0003-of-0004.isfdb")
        );
    }

    #[test]
    fn job_ids_from_parsable_output() {
        assert_eq!(parse_job_id("123\n"), Some("123".into()));
        assert_eq!(parse_job_id("77;cluster\n"), Some("77".into()));
        assert_eq!(parse_job_id("Submitted batch job 5"), None);
        assert_eq!(parse_job_id(""), None);
    }
}
