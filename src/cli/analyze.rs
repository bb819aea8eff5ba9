//! `isf analyze spikes|psth|isi|synapses`: analyses of a results store (spec 07, 06 §6.9)
//! written back into the store as ordinary keys (see [`crate::analysis`]).
//!
//! Exit codes: 0 success; 1 a bad input (missing or misshapen key: E0902, bad parameter:
//! E0903, synapse type of unknown sign: E0904, store errors: E06xx); 2 usage errors.

use super::fail;
use crate::analysis::spikes::Mode;
use crate::analysis::synapses::{BinSpec, GroupKey};
use crate::analysis::{self, BinParams, IsiParams, PsthParams, SpikeParams, Written};
use crate::diagnostics::{Code, Diagnostic};
use crate::store::Store;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Arguments of `isf analyze`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
isf analyze spikes results/q.isfdb quickstart/traces/soma.v\n  \
isf analyze spikes results/q.isfdb quickstart/traces/all_compartments.v --threshold -30\n  \
isf analyze psth results/q.isfdb quickstart/analysis/spike_times/soma.v --bin 5\n  \
isf analyze isi results/q.isfdb quickstart/events/spikes_soma_ --burst-isi 10\n  \
isf analyze synapses results/s4.isfdb S4 --group-by EI --bin 1 --max-time 300 --distance-bin 50")]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    pub command: AnalyzeCommand,
}

/// What is compared with the spike threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// The value (mV).
    Regular,
    /// Its forward difference quotient (mV/ms).
    Slope,
}

/// The `isf analyze` subcommands.
#[derive(Subcommand, Debug)]
pub enum AnalyzeCommand {
    /// Detect spikes (upward threshold crossings) in every row of a trace table.
    Spikes {
        /// Store directory.
        store: PathBuf,
        /// Trace table, e.g. EXP/traces/soma.v (or a per-sweep-point sub-store of them).
        key: String,
        /// Threshold in mV (mV/ms with --mode slope). Default: 0 mV for traces whose name
        /// starts with `soma`, else ISF's dendritic -30 mV.
        #[arg(long, allow_negative_numbers = true)]
        threshold: Option<f64>,
        /// Only crossings at or after this time (ms; ISF's window rule).
        #[arg(long, allow_negative_numbers = true)]
        t_begin: Option<f64>,
        /// Only crossings before this time (ms).
        #[arg(long, allow_negative_numbers = true)]
        t_end: Option<f64>,
        /// Compare the value or its slope.
        #[arg(long, value_enum, default_value_t = ModeArg::Regular)]
        mode: ModeArg,
        /// Result key (default EXP/analysis/spike_times/NAME).
        #[arg(long)]
        out: Option<String>,
    },
    /// Peri-stimulus time histogram per sweep point from a table of spike times.
    Psth {
        /// Store directory.
        store: PathBuf,
        /// Spike-time table: EXP/events/NAME or the output of `isf analyze spikes`.
        key: String,
        /// Bin width in ms.
        #[arg(long, default_value_t = 1.0)]
        bin: f64,
        /// Start of the first bin (ms; default: the earliest spike).
        #[arg(long, allow_negative_numbers = true)]
        t_begin: Option<f64>,
        /// End of the last bin (ms; default: the latest spike).
        #[arg(long, allow_negative_numbers = true)]
        t_end: Option<f64>,
        /// Do not move the range outward to multiples of the bin width.
        #[arg(long)]
        no_align: bool,
        /// Result key (default EXP/analysis/psth/NAME).
        #[arg(long)]
        out: Option<String>,
    },
    /// Inter-spike intervals and bursts per row of a table of spike times.
    Isi {
        /// Store directory.
        store: PathBuf,
        /// Spike-time table: EXP/events/NAME or the output of `isf analyze spikes`.
        key: String,
        /// Longest interval inside a burst, ms.
        #[arg(long, default_value_t = 10.0)]
        burst_isi: f64,
        /// Fewest spikes of a burst.
        #[arg(long, default_value_t = 2)]
        min_burst_spikes: usize,
        /// Only spikes at or after this time (ms).
        #[arg(long, allow_negative_numbers = true)]
        t_begin: Option<f64>,
        /// Only spikes before this time (ms).
        #[arg(long, allow_negative_numbers = true)]
        t_end: Option<f64>,
        /// Result key (default EXP/analysis/isi/NAME).
        #[arg(long)]
        out: Option<String>,
    },
    /// Bin synapse activations by time (and soma distance) per group (ISF's
    /// synapse_activation_binning; spatiotemporal binning with --distance-bin).
    Synapses {
        /// Store directory.
        store: PathBuf,
        /// Experiment whose `synapse_activations` were recorded.
        experiment: String,
        /// Group keys, comma-separated: EI, celltype, population (synapse_type),
        /// presynaptic_column, proximal, binned_somadist, dendrite_label.
        #[arg(long, default_value = "EI", value_delimiter = ',')]
        group_by: Vec<String>,
        /// Time bin, ms.
        #[arg(long, default_value_t = 1.0)]
        bin: f64,
        /// End of the binned range, ms (a multiple of --bin; default: the experiment's
        /// duration, else ISF's 400 ms).
        #[arg(long)]
        max_time: Option<f64>,
        /// Soma-distance bin, um: one row per trial and distance bin.
        #[arg(long)]
        distance_bin: Option<f64>,
        /// Width of the binned_somadist group key, um.
        #[arg(long, default_value_t = 50.0)]
        somadist_bin: f64,
        /// Synapse or cell types to count as excitatory (comma-separated).
        #[arg(long, value_delimiter = ',')]
        excitatory: Vec<String>,
        /// Synapse or cell types to count as inhibitory (comma-separated).
        #[arg(long, value_delimiter = ',')]
        inhibitory: Vec<String>,
        /// Result sub-store (default
        /// `EXP/analysis/synapse_activation_binned/t<bin>[_z<d>]/<keys>`).
        #[arg(long)]
        out: Option<String>,
    },
}

/// Run `isf analyze`; returns the exit code.
pub fn run(args: AnalyzeArgs) -> i32 {
    match run_inner(args) {
        Ok(w) => {
            for k in &w.keys {
                eprintln!("wrote {k}");
            }
            for s in &w.summary {
                println!("{s}");
            }
            0
        }
        Err(d) => fail(&d),
    }
}

fn open(path: &PathBuf) -> Result<(Store, crate::store::WriterLock), Diagnostic> {
    if !path.join(crate::store::MARKER).is_file() {
        return Err(Diagnostic::new(
            Code::E0902,
            format!("{} is not a results store", path.display()),
        )
        .help("give the directory `isf run` wrote (its `store:` or --out)"));
    }
    Store::open_locked(path, "isf analyze").map_err(|e| e.to_diagnostic())
}

/// Run one analysis (also used by the REPL's `:analyze`).
pub fn run_inner(args: AnalyzeArgs) -> Result<Written, Diagnostic> {
    match args.command {
        AnalyzeCommand::Spikes {
            store,
            key,
            threshold,
            t_begin,
            t_end,
            mode,
            out,
        } => {
            let (s, _lock) = open(&store)?;
            let name = key.rsplit('/').next().unwrap_or(&key);
            let threshold_mv =
                threshold.unwrap_or(if name.starts_with("soma") { 0.0 } else { -30.0 });
            let p = SpikeParams {
                threshold_mv,
                t_begin,
                t_end,
                mode: match mode {
                    ModeArg::Regular => Mode::Regular,
                    ModeArg::Slope => Mode::Slope,
                },
            };
            let mut w = analysis::detect_spikes(&s, &key, &p, out.as_deref())?;
            w.summary.insert(0, format!("threshold {threshold_mv} mV"));
            Ok(w)
        }
        AnalyzeCommand::Psth {
            store,
            key,
            bin,
            t_begin,
            t_end,
            no_align,
            out,
        } => {
            let (s, _lock) = open(&store)?;
            let p = PsthParams {
                bin_ms: bin,
                t_begin,
                t_end,
                aligned: !no_align,
            };
            analysis::psth(&s, &key, &p, out.as_deref())
        }
        AnalyzeCommand::Isi {
            store,
            key,
            burst_isi,
            min_burst_spikes,
            t_begin,
            t_end,
            out,
        } => {
            let (s, _lock) = open(&store)?;
            let p = IsiParams {
                burst_isi_ms: burst_isi,
                min_burst_spikes,
                t_begin,
                t_end,
            };
            analysis::isi(&s, &key, &p, out.as_deref())
        }
        AnalyzeCommand::Synapses {
            store,
            experiment,
            group_by,
            bin,
            max_time,
            distance_bin,
            somadist_bin,
            excitatory,
            inhibitory,
            out,
        } => {
            let mut keys = Vec::new();
            for g in &group_by {
                let k = GroupKey::parse(g.trim()).ok_or_else(|| {
                    let names: Vec<&str> = GroupKey::NAMES.iter().map(|(n, _)| *n).collect();
                    analysis::bad_param("--group-by", format!("unknown group key `{g}`"))
                        .help(format!("one of {}", names.join(", ")))
                })?;
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            if !(somadist_bin > 0.0 && somadist_bin.is_finite()) {
                return Err(analysis::bad_param(
                    "--somadist-bin",
                    format!("{somadist_bin} um is not a positive bin"),
                ));
            }
            let (s, _lock) = open(&store)?;
            let max_time_ms = match max_time {
                Some(m) => m,
                None => s
                    .get::<serde_json::Value>(&format!("{experiment}/plan"))
                    .ok()
                    .and_then(|p| p.get("duration_ms").and_then(|d| d.as_f64()))
                    .unwrap_or(400.0),
            };
            let p = BinParams {
                group_by: keys,
                spec: BinSpec {
                    bin_ms: bin,
                    max_time_ms,
                    distance_bin_um: distance_bin,
                    somadist_group_um: somadist_bin,
                },
                excitatory,
                inhibitory,
            };
            analysis::bin_synapses(&s, &experiment, &p, out.as_deref())
        }
    }
}
