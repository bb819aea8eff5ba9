//! Executing work items in parallel: a rayon pool of `--jobs` threads, a progress bar with
//! ETA, cooperative cancellation (Ctrl-C finishes the trials in flight and stops), and
//! resumption by skipping items the sink already holds.
//!
//! The executor knows nothing about neurons or stores: a [`TrialRunner`] simulates one item and
//! a [`ResultSink`] persists it. Each item's result depends only on the item (its seed and sweep
//! point), so the output is the same for any thread count and any order.

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

/// Run `items` with `jobs` threads. Per-item failures are collected (the run goes on); a sink
/// failure stops the run, since results could otherwise be lost silently.
pub fn execute(
    items: &[WorkItem],
    point_of: &(dyn Fn(u64) -> Vec<(String, Value)> + Sync),
    runner: &dyn TrialRunner,
    sink: &dyn ResultSink,
    jobs: usize,
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
    pool.install(|| {
        todo.par_iter().for_each(|item| {
            if cancel.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                return;
            }
            match runner.run(item, &point_of(item.point)) {
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
        let (s, f) = execute(&items(40), &|_| vec![], &Fake, &a, 1, false, &no).unwrap();
        assert_eq!((s.ran, s.failed, f.len()), (39, 1, 1));
        let b = Mem::default();
        execute(&items(40), &|_| vec![], &Fake, &b, 2, false, &no).unwrap();
        assert_eq!(*a.0.lock().unwrap(), *b.0.lock().unwrap());
        // Resume: a half-full sink only gets the missing items.
        let c = Mem::default();
        for (k, v) in a.0.lock().unwrap().iter().take(20) {
            c.0.lock().unwrap().insert(*k, v.clone());
        }
        let (s, _) = execute(&items(40), &|_| vec![], &Fake, &c, 2, false, &no).unwrap();
        assert_eq!((s.skipped, s.ran), (20, 19));
        assert_eq!(*a.0.lock().unwrap(), *c.0.lock().unwrap());
    }

    #[test]
    fn cancellation_stops_before_new_items() {
        let yes = AtomicBool::new(true);
        let m = Mem::default();
        let (s, _) = execute(&items(10), &|_| vec![], &Fake, &m, 2, false, &yes).unwrap();
        assert_eq!(s.ran, 0);
        assert!(s.cancelled);
    }
}
