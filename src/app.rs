//! The `isf` program: argument definitions (clap) and dispatch to the commands
//! ([`crate::cli`]) and the interactive REPL ([`crate::repl::terminal`]).
//!
//! This is the top layer: it may use every module, and nothing uses it but `main.rs`.
//! Exit codes: 0 success, 1 errors in the user's input, 2 usage errors (clap's own).

use crate::cli::{analyze, check, convert, db, fmt, map, morph, plan, plot, reduce, run, submit};
use crate::repl::terminal as repl;
use clap::{Parser, Subcommand};

/// isf — simulate reconstructed neurons under in-vivo-like synaptic input.
#[derive(Parser, Debug)]
#[command(
    name = "isf",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  isf check examples/quickstart.isf\n  isf check --format json \
                  examples/*.isf\n  isf plan examples/quickstart.isf\n  isf fmt --check \
                  examples/*.isf\n  isf morph cell.hoc --param cell.param --segments --format \
                          csv\n  isf plan cell.hoc --param cell.param --compartments --format csv"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Lift the resource limits (steps per trial, work items, compartments, recorded bytes;
    /// see `docs/reference.md`, "Resource limits"). Same as ISF_ALLOW_LARGE=1.
    #[arg(long, global = true)]
    pub allow_large: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and check scripts; exit 0 when clean, 1 on errors.
    Check(check::CheckArgs),
    /// Print the lowered model of a script (all quantities in canonical units) and its hash.
    Plan(plan::PlanArgs),
    /// Inspect a cell as `isf run` lowers it: sections or segments as a table, CSV or JSON.
    Morph(morph::MorphArgs),
    /// Map synapses onto a morphology from anatomical density fields (ISF's input mapper):
    /// writes .syn, .con, NumberOfConnectedCells.csv and a summary table.
    Map(map::MapArgs),
    /// Format .isf files in place (canonical layout, comments kept).
    #[command(
        after_help = "Examples:\n  isf fmt model.isf stdlib/*.isf\n  isf fmt --check \
                      examples/*.isf\n  cat model.isf | isf fmt -"
    )]
    Fmt(fmt::FmtArgs),
    /// Convert an ISF cell parameter file (.param) into a readable .isf neuron declaration.
    Convert(convert::ConvertArgs),
    /// Run experiments: sweep points x trials in parallel into a results store (resumable).
    #[command(
        after_help = "Examples:\n  isf run examples/quickstart.isf\n  isf run model.isf --out \
                      results/sweep.isfdb --jobs 8\n  isf run model.isf --resume            # \
                      after an interruption\n  isf run model.isf --shard \
                              $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT --out \
                                  shard_$SLURM_ARRAY_TASK_ID.isfdb\n  isf run model.isf --dry-run"
    )]
    Run(run::RunArgs),
    /// Interactive session: evaluate expressions with units, declare items, :run a neuron.
    Repl(repl::ReplArgs),
    /// Inspect, export, merge and verify results stores.
    Db(db::DbArgs),
    /// Submit a sweep to a cluster: a SLURM job array over its shards and a merge job.
    #[command(
        after_help = "Examples:\n  isf submit sweep.isf --slurm --array-size 16 --cpus-per-task 4 \
                      --time 2:00:00\n  isf submit sweep.isf --slurm --dry-run      # print the \
                      job scripts\n  isf submit sweep.isf --slurm                # again after \
                              a failure: only unfinished shards\n  isf status results/sweep.isfdb"
    )]
    Submit(submit::SubmitArgs),
    /// Progress of a result store: items per experiment, per shard for a submitted sweep.
    Status(submit::StatusArgs),
    /// Analyse results in a store (spikes, PSTHs, ISIs, binned synapse activations); the
    /// results are written back into the store.
    Analyze(analyze::AnalyzeArgs),
    /// Draw results as SVG and PNG pictures, or an HTML animation of the cell.
    Plot(plot::PlotArgs),
    /// Fit reduced models of the cell's spiking (LDA kernel or raised-cosine GLM) from binned
    /// synaptic input and predict with them.
    Reduce(reduce::ReduceArgs),
}

/// Parse arguments, run the command and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if cli.allow_large {
        crate::rules::allow_large();
    }
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Morph(args) => morph::run(args),
        Command::Map(args) => map::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Repl(args) => repl::run(args),
        Command::Run(args) => run::run(args),
        Command::Db(args) => db::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Status(args) => submit::status(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Reduce(args) => reduce::run(args),
    }
}
