//! Executing work items in parallel: a rayon pool of `--jobs` threads, a progress bar with
//! ETA, cooperative cancellation (Ctrl-C finishes the trials in flight and stops), and
//! resumption by skipping items the sink already holds.
//!
//! The executor knows nothing about neurons or stores: a [`TrialRunner`] simulates one item and
//! a [`ResultSink`] persists it. Each item's result depends only on the item (its seed and sweep
//! point), so the output is the same for any thread count and any order.
//!
//! Trials of one sweep point are handed to the runner in batches
//! ([`TrialRunner::run_batch`]), which may run them side by side in SIMD lanes (the cell
//! runner does, [`crate::kernel::ActiveCell::with_lanes`]); each lane's result is the item's
//! solo result bit for bit, so batching changes nothing stored either.

use super::WorkItem;
use crate::diagnostics::Diagnostic;
use crate::model::Value;
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What one trial produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialOutput {
    /// Sampled traces by name (e.g. `soma.v`), in canonical units.
    pub traces: Vec<(String, Vec<f64>)>,
    /// Event times in ms by name (e.g. `spikes(soma)`).
    pub events: Vec<(String, Vec<f64>)>,
    /// Per-trial tables by name (e.g. `synapse_activations`: one row per active synapse).
    pub tables: Vec<(String, crate::store::Table)>,
}

/// Simulates one work item.
pub trait TrialRunner: Sync {
    /// Run the item with the sweep point's parameter values.
    fn run(&self, item: &WorkItem, point: &[(String, Value)]) -> Result<TrialOutput, Diagnostic>;

    /// The most items of sweep point `point` this runner takes in one batch (1: no batching).
    fn batch_limit(&self, _point: u64) -> usize {
        1
    }

    /// Run items of one sweep point together (at most [`batch_limit`](Self::batch_limit)):
    /// one result per item, in order, each what [`run`](Self::run) gives for it alone.
    fn run_batch(
        &self,
        items: &[WorkItem],
        point: &[(String, Value)],
    ) -> Vec<Result<TrialOutput, Diagnostic>> {
        items.iter().map(|i| self.run(i, point)).collect()
    }
}

/// Split the items into batches: per sweep point (in the order points first appear), runs
/// of at most `limit(point)` items in batch sizes 8, 4, 2, 1 (the lane widths the kernel runs
/// vector-wide), largest first.
pub fn batches(items: &[WorkItem], limit: impl Fn(u64) -> usize) -> Vec<Vec<WorkItem>> {
    let mut by_point: Vec<(u64, Vec<WorkItem>)> = Vec::new();
    let mut slot: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for &it in items {
        let k = *slot.entry(it.point).or_insert_with(|| {
            by_point.push((it.point, Vec::new()));
            by_point.len() - 1
        });
        by_point[k].1.push(it);
    }
    let mut out = Vec::new();
    for (point, its) in by_point {
        let cap = limit(point).max(1);
        let mut rest = &its[..];
        while !rest.is_empty() {
            let n = [8, 4, 2, 1]
                .into_iter()
                .find(|&w| w <= cap && w <= rest.len())
                .unwrap_or(1);
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
    }
    out
}

/// Persists results; must be safe to call from several threads.
pub trait ResultSink: Sync {
    /// `(point, trial)` of the items already stored (skipped on resume). Pairs, not run
    /// indices: an index depends on the trial count, which a resumed run may have changed.
    fn done(&self) -> Result<HashSet<(u64, u64)>, Diagnostic>;
    /// Store one item's result atomically.
    fn write(&self, item: &WorkItem, out: &TrialOutput) -> Result<(), Diagnostic>;
}

/// How a run ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ran: u64,
    pub skipped: u64,
    pub failed: u64,
    pub cancelled: bool,
}

/// Run `items` with `jobs` threads, trials of a sweep point in batches of at most `lanes`
/// (and the runner's [`TrialRunner::batch_limit`]). Per-item failures are collected (the run
/// goes on); a sink failure stops the run, since results could otherwise be lost silently.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    items: &[WorkItem],
    point_of: &(dyn Fn(u64) -> Vec<(String, Value)> + Sync),
    runner: &dyn TrialRunner,
    sink: &dyn ResultSink,
    jobs: usize,
    lanes: usize,
    progress: bool,
    cancel: &AtomicBool,
) -> Result<(Summary, Vec<(WorkItem, Diagnostic)>), Diagnostic> {
    let done = sink.done()?;
    let todo: Vec<WorkItem> = items
        .iter()
        .filter(|i| !done.contains(&(i.point, i.trial)))
        .copied()
        .collect();
    let skipped = (items.len() - todo.len()) as u64;
    let bar = if progress {
        let b = indicatif::ProgressBar::new(todo.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} trials  {elapsed_precise} elapsed, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let ran = AtomicU64::new(0);
    let failures: Mutex<Vec<(WorkItem, Diagnostic)>> = Mutex::new(Vec::new());
    let sink_error: Mutex<Option<Diagnostic>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| {
            Diagnostic::new(
                crate::diagnostics::Code::E0901,
                format!("cannot start threads: {e}"),
            )
        })?;
    let batches = batches(&todo, |p| runner.batch_limit(p).min(lanes));
    pool.install(|| {
        batches.par_iter().for_each(|batch| {
            if cancel.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                return;
            }
            let results = runner.run_batch(batch, &point_of(batch[0].point));
            for (item, result) in batch.iter().zip(results) {
                match result {
                    Ok(out) => match sink.write(item, &out) {
                        Ok(()) => {
                            ran.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(d) => {
                            stop.store(true, Ordering::SeqCst);
                            if let Ok(mut e) = sink_error.lock() {
                                e.get_or_insert(d);
                            }
                        }
                    },
                    Err(d) => {
                        if let Ok(mut f) = failures.lock() {
                            f.push((*item, d));
                        }
                    }
                }
                bar.inc(1);
            }
        });
    });
    bar.finish_and_clear();
    if let Some(d) = sink_error.into_inner().ok().flatten() {
        return Err(d);
    }
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|(i, _)| i.index);
    let summary = Summary {
        ran: ran.load(Ordering::SeqCst),
        skipped,
        failed: failures.len() as u64,
        cancelled: cancel.load(Ordering::SeqCst),
    };
    Ok((summary, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Code;
    use std::collections::BTreeMap;

    struct Fake;
    impl TrialRunner for Fake {
        fn batch_limit(&self, _: u64) -> usize {
            8
        }
        fn run(&self, item: &WorkItem, _: &[(String, Value)]) -> Result<TrialOutput, Diagnostic> {
            if item.index == 3 {
                return Err(Diagnostic::new(Code::E0501, "diverged"));
            }
            Ok(TrialOutput {
                traces: vec![("v".into(), vec![item.seed as f64; 4])],
                ..TrialOutput::default()
            })
        }
    }

    #[derive(Default)]
    struct Mem(Mutex<BTreeMap<(u64, u64), TrialOutput>>);
    impl ResultSink for Mem {
        fn done(&self) -> Result<HashSet<(u64, u64)>, Diagnostic> {
            Ok(self.0.lock().unwrap().keys().copied().collect())
        }
        fn write(&self, item: &WorkItem, out: &TrialOutput) -> Result<(), Diagnostic> {
            self.0
                .lock()
                .unwrap()
                .insert((item.point, item.trial), out.clone());
            Ok(())
        }
    }

    fn items(n: u64) -> Vec<WorkItem> {
        (0..n)
            .map(|i| WorkItem {
                index: i,
                point: i / 5,
                trial: i % 5,
                seed: crate::rng::trial_seed(1, i / 5, i % 5),
            })
            .collect()
    }

    #[test]
    fn same_results_for_any_thread_count_and_resume() {
        let no = AtomicBool::new(false);
        let a = Mem::default();
        let (s, f) = execute(&items(40), &|_| vec![], &Fake, &a, 1, 1, false, &no).unwrap();
        assert_eq!((s.ran, s.failed, f.len()), (39, 1, 1));
        let b = Mem::default();
        execute(&items(40), &|_| vec![], &Fake, &b, 2, 8, false, &no).unwrap();
        assert_eq!(*a.0.lock().unwrap(), *b.0.lock().unwrap());
        // Resume: a half-full sink only gets the missing items.
        let c = Mem::default();
        for (k, v) in a.0.lock().unwrap().iter().take(20) {
            c.0.lock().unwrap().insert(*k, v.clone());
        }
        let (s, _) = execute(&items(40), &|_| vec![], &Fake, &c, 2, 4, false, &no).unwrap();
        assert_eq!((s.skipped, s.ran), (20, 19));
        assert_eq!(*a.0.lock().unwrap(), *c.0.lock().unwrap());
    }

    #[test]
    fn batches_keep_points_apart_in_lane_widths() {
        // 40 items, 5 trials per point: per point 4 + 1 under a limit of 8, 2 + 2 + 1 under 3.
        let sizes = |cap: usize| -> Vec<(u64, usize)> {
            batches(&items(40), |_| cap)
                .iter()
                .map(|b| {
                    assert!(b.iter().all(|i| i.point == b[0].point));
                    (b[0].point, b.len())
                })
                .collect()
        };
        let s8 = sizes(8);
        assert_eq!(s8.len(), 16);
        assert_eq!(&s8[..2], &[(0, 4), (0, 1)]);
        assert_eq!(&sizes(3)[..3], &[(0, 2), (0, 2), (0, 1)]);
        assert!(sizes(1).iter().all(|&(_, n)| n == 1));
        // Every item once, in order within its point.
        let all: Vec<u64> = batches(&items(40), |_| 8)
            .concat()
            .iter()
            .map(|i| i.index)
            .collect();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn cancellation_stops_before_new_items() {
        let yes = AtomicBool::new(true);
        let m = Mem::default();
        let (s, _) = execute(&items(10), &|_| vec![], &Fake, &m, 2, 8, false, &yes).unwrap();
        assert_eq!(s.ran, 0);
        assert!(s.cancelled);
    }
}
