//! `isf map`: the input mapper (spec 08) — synapse locations and presynaptic cells of one
//! morphology from anatomical density fields, written as `.syn`, `.con`,
//! `NumberOfConnectedCells.csv` and a summary table.

use crate::mapper::{MapOptions, load_inputs, map};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `isf map`.
#[derive(Args, Debug)]
#[command(after_help = "\
Draws --samples realizations (ISF's nrOfSamples) in parallel, each from streams derived from \
--seed only (the same files for any --jobs), and writes the representative one (spec 08 §8.6). \
Without --out the files go to <hoc path without .hoc>_synapses_<YYYYmmdd-HHMM>_<pid>/ with \
ISF's names (UTC stamp); with --out DIR they are DIR/<cell>_synapses.syn, .con, \
<cell>_summary.csv and NumberOfConnectedCells.csv. Use them in a network with \
`synapses: anatomy(syn: \"…\", con: \"…\")`.

Example:
  isf map 86_C2_center.hoc --cell-type L5tt --nr-cells nrCells.csv \\
      --connections ConnectionsV8.csv --exc-pst EXNormalizationPSTs.am \\
      --inh-pst INHNormalizationPSTs.am --boutons boutons/ --seed 7 --out mapped/")]
pub struct MapArgs {
    /// Postsynaptic morphology (.hoc or .swc), placed in the fields' reference frame.
    pub file: PathBuf,
    /// Postsynaptic cell type (a row of the connections sheet), e.g. L5tt.
    #[arg(long, value_name = "TYPE")]
    pub cell_type: String,
    /// Cell-numbers sheet (nrCells.csv).
    #[arg(long, value_name = "FILE")]
    pub nr_cells: PathBuf,
    /// Connections sheet (ConnectionsV8.csv).
    #[arg(long, value_name = "FILE")]
    pub connections: PathBuf,
    /// Excitatory normalisation PST density (AmiraMesh ASCII).
    #[arg(long, value_name = "FILE.am")]
    pub exc_pst: PathBuf,
    /// Inhibitory normalisation PST density (AmiraMesh ASCII).
    #[arg(long, value_name = "FILE.am")]
    pub inh_pst: PathBuf,
    /// Bouton-density folder tree `<area>/<cell type>/<file.am>`.
    #[arg(long, value_name = "DIR")]
    pub boutons: PathBuf,
    /// Number of realizations (ISF's nrOfSamples).
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// Master seed (recorded in every output file).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (default: next to the morphology, ISF's stamped name).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Use geometric radii for the membrane area instead of ISF's Amira quirk (diameter as
    /// radius); only for normalisation fields computed with true radii.
    #[arg(long)]
    pub no_amira_quirk: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Run `isf map`; returns the exit code.
pub fn run(args: MapArgs) -> i32 {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j.max(1));
    }
    let pool = match pool.build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot start worker threads: {e}");
            return 1;
        }
    };
    match pool.install(|| run_inner(&args)) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    }
}

fn run_inner(args: &MapArgs) -> Result<String, String> {
    let t0 = std::time::Instant::now();
    let inputs = load_inputs(
        &args.file,
        &args.cell_type,
        &args.nr_cells,
        &args.connections,
        &args.exc_pst,
        &args.inh_pst,
        &args.boutons,
    )
    .map_err(|e| e.to_string())?;
    let t_load = t0.elapsed().as_secs_f64();
    let options = MapOptions {
        samples: args.samples,
        seed: args.seed,
        amira_quirk: !args.no_amira_quirk,
    };
    let t1 = std::time::Instant::now();
    let m = map(&inputs, options).map_err(|e| e.to_string())?;
    let t_map = t1.elapsed().as_secs_f64();
    let cell = inputs.cell_name.clone();
    let (dir, suffix) = match &args.out {
        Some(d) => (d.clone(), String::new()),
        None => {
            let tag = format!("{}_{}", utc_stamp(), std::process::id());
            let base = args.file.with_extension("");
            let dir = PathBuf::from(format!("{}_synapses_{tag}", base.display()));
            (dir, format!("_{tag}"))
        }
    };
    let written = m
        .write(&dir, &cell, &suffix)
        .map_err(|e| format!("error: cannot write to {}: {e}", dir.display()))?;
    let mut s = String::new();
    let n_syn: usize = m.realizations[m.chosen]
        .iter()
        .map(|p| p.section.len())
        .sum();
    let n_pops = m.prepared.populations.len();
    s.push_str(&format!(
        "{cell}: {n_pops} populations, grid {}x{}x{} voxels; {} realizations from seed {}, \
         representative {} with {n_syn} synapses\n",
        m.prepared.grid.dims[0],
        m.prepared.grid.dims[1],
        m.prepared.grid.dims[2],
        args.samples,
        args.seed,
        m.chosen
    ));
    if !m.prepared.without_boutons.is_empty() {
        s.push_str(&format!(
            "note: {} population(s) with cells but no bouton file get no synapses: {}\n",
            m.prepared.without_boutons.len(),
            m.prepared.without_boutons.join(", ")
        ));
    }
    s.push_str(&format!(
        "read inputs in {t_load:.2} s; mapped in {t_map:.2} s ({:.3} s per realization)\n",
        t_map / args.samples as f64
    ));
    for p in written {
        s.push_str(&format!("wrote {}\n", p.display()));
    }
    Ok(s)
}

/// `YYYYmmdd-HHMM` of the current time in UTC (ISF uses local time; UTC keeps the name
/// independent of the machine's zone).
fn utc_stamp() -> String {
    // `YYYY-MM-DDTHH:MM:SSZ` → `YYYYMMDD-HHMM`: the store's one calendar conversion.
    let t = crate::store::meta::now_rfc3339();
    format!(
        "{}{}{}-{}{}",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16]
    )
}
