//! `isf plan FILE [--json]`: print the lowered model of a script in a stable, readable form;
//! `--compartments` and `--sites` print the cell of one neuron as `isf run` lowers it (every
//! mechanism parameter per compartment, in the layout of NEURON's reference tables) and where
//! each stimulus and recording of its experiments lands (see [`super::inspect`]).

use super::inspect::{
    CellInput, Numbers, compartment_table, emit_plain, load, lower, model_sites, site_table,
};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::Model;
use clap::{ArgGroup, Args, ValueEnum};
use serde_json::Value;

/// Output format of the tables of `isf plan --compartments`/`--sites`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns, numbers to 7 significant digits.
    Table,
    /// Comma-separated values with a header line, every digit (Python's float `repr`).
    Csv,
}

/// Arguments of `isf plan`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("tables").args(["compartments", "sites"]).multiple(true)))]
#[command(after_help = "\
FILE is a script, an ISF cell .param file, or a .hoc/.swc morphology (with or without \
--param CELL.param), each read as the neuron it declares: see `isf morph --help`. For \
--compartments/--sites the cell is lowered by the function `isf run` uses, every cell \
modification applied.

--compartments columns: sec_index,seg_index,x,diam_um,area_um2,ri_Mohm,dist_to_soma_um,cm, \
then every parameter of every inserted mechanism as mechanism.parameter (NEURON's names: \
gbar is g<mechanism>bar; S/cm2, mV, ms, mM; nan where not inserted), then the reversal \
potentials the regions fix (ek, ena, ...). With --format csv only this table goes to stdout \
(the sites go to stderr).
--sites columns: experiment,role,name,site,sec_index,hoc_name,label,x,seg_index,seg_x,\
dist_to_soma_um,seg_dist_to_soma_um (seg_index: the compartment whose node the run uses, \
0-end/1-end for a section end; distances from soma(0.5) to x and to seg_x).")]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: CellInput,
    /// Print JSON instead of the readable form.
    #[arg(long, conflicts_with = "tables")]
    pub json: bool,
    /// List every path each experiment can sweep, with the kind of value it takes.
    #[arg(long, conflicts_with = "tables")]
    pub sweepable: bool,
    /// Print one row per compartment with its geometry and every mechanism parameter (and,
    /// below, the resolved sites of the neuron's experiments).
    #[arg(long)]
    pub compartments: bool,
    /// Print where every stimulus and recording of the neuron's experiments lands.
    #[arg(long)]
    pub sites: bool,
    /// Format of the --compartments/--sites tables.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, requires = "tables")]
    pub format: TableFormat,
}

/// Run `isf plan`; exit 1 when the script has errors.
pub fn run(args: PlanArgs) -> i32 {
    let tables = args.compartments || args.sites;
    if tables && args.compartments && args.sites && args.format == TableFormat::Csv {
        emit_plain(&[Diagnostic::new(
            Code::E0422,
            "--compartments and --sites with --format csv would print two tables into one CSV",
        )
        .help("ask for one table per call")]);
        return 1;
    }
    let Some(loaded) = load(&args.input, tables) else {
        return 1;
    };
    let checked = &loaded.checked;
    if tables {
        return print_tables(&args, &checked.model, loaded.neuron_model());
    }
    if args.sweepable {
        for (exp, schema) in checked.model.experiments.iter().zip(&checked.schemas) {
            print!("{}", render_sweepable(&exp.name, schema));
        }
        return 0;
    }
    if args.json {
        let mut v = serde_json::to_value(&checked.model).unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("hash".into(), Value::String(checked.model.content_hash()));
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", render_plan(&checked.model));
        print!("{}", render_cells(&checked.model));
        print!("{}", render_synapses(&checked.model));
    }
    0
}

/// `--compartments` / `--sites`: the neuron lowered as the run lowers it, and its sites.
fn print_tables(args: &PlanArgs, model: &Model, neuron: Option<&crate::model::NeuronModel>) -> i32 {
    let Some(neuron) = neuron else { return 1 };
    let Some(cell) = lower(neuron, model) else {
        return 1;
    };
    let csv = args.format == TableFormat::Csv;
    let numbers = if csv { Numbers::Exact } else { Numbers::Short };
    let sites = model_sites(model, neuron, &cell);
    let site_text = |sites: &[(String, crate::run::cellsim::PlacedSite)], numbers| {
        let t = site_table(sites, &cell, numbers);
        if csv && args.sites {
            t.csv()
        } else if t.rows.is_empty() {
            format!(
                "no stimulus or recording sites: no experiment uses neuron `{}`\n",
                neuron.name
            )
        } else {
            format!(
                "sites on neuron `{}` (as `isf run` places them):\n{}",
                neuron.name,
                t.aligned()
            )
        }
    };
    if args.compartments {
        let t = compartment_table(&cell, numbers);
        if csv {
            print!("{}", t.csv());
            // stdout stays one CSV table; the sites are for the reader.
            if let Ok(s) = &sites
                && !s.is_empty()
            {
                eprint!("{}", site_text(s, Numbers::Short));
            }
        } else {
            println!(
                "compartments of neuron `{}` ({}, as `isf run` lowers it):",
                neuron.name,
                cell.n_compartments()
            );
            print!("{}", t.aligned());
            if let Ok(s) = &sites {
                println!();
                print!("{}", site_text(s, numbers));
            }
        }
    } else if let Ok(s) = &sites {
        print!("{}", site_text(s, numbers));
    }
    i32::from(sites.is_err())
}

/// The sweepable paths of one experiment, one per line with the value they take.
pub fn render_sweepable(experiment: &str, schema: &crate::sema::sweep::Schema) -> String {
    use crate::sema::sweep::{Range, ValueKind};
    let mut out = format!(
        "sweepable paths of {experiment} ({}):\n",
        schema.entries.len()
    );
    for e in &schema.entries {
        let kind = match e.kind {
            ValueKind::Quantity { dim, range } => {
                let unit = crate::units::canonical_scale(dim).1;
                let unit = if e.target == crate::model::sweep::SweepTarget::Temperature {
                    "degC".to_string()
                } else {
                    unit
                };
                match range {
                    Range::Any => unit,
                    Range::Positive => format!("{unit}, > 0"),
                    Range::NonNegative => format!("{unit}, >= 0"),
                    Range::Unit => "in [0, 1]".into(),
                }
            }
            ValueKind::Count { min } => format!("whole number >= {min}"),
            ValueKind::Regions => "region or list of regions".into(),
            ValueKind::LengthPair => "(from, to) lengths".into(),
        };
        out.push_str(&format!("  {:<48} {kind}\n", e.path));
    }
    out
}

/// The compartment summary of every neuron (below the model; not part of its hash): per
/// region sections, compartments, area, Ra/cm, and per mechanism where it is inserted.
/// Labels of the morphology that no region covers are listed with NEURON's defaults.
pub fn render_cells(model: &Model) -> String {
    use crate::lower::cell::build_cell;
    let mut out = String::new();
    for n in &model.neurons {
        let cell = match build_cell(n, &model.mechanisms) {
            Ok(c) => c,
            Err(errs) => {
                out.push_str(&format!("cell {}: not lowered\n", n.name));
                for e in errs {
                    out.push_str(&format!("  {}: {}\n", e.code.as_str(), e.message));
                }
                continue;
            }
        };
        let g = &cell.geometry;
        let area: f64 = g.sections.iter().flat_map(|s| s.seg_area_um2.iter()).sum();
        out.push_str(&format!(
            "cell {}: {} sections, {} compartments, area {:.1} um2\n",
            n.name,
            g.sections.len(),
            cell.n_compartments(),
            area
        ));
        out.push_str("  regions:\n");
        for r in &cell.regions {
            let opt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_else(|| "mixed".into());
            out.push_str(&format!(
                "    {:<16} label {:<15} sections {:>4}  compartments {:>5}  area {:>10.1} um2  Ra \
                 {} ohm*cm  cm {} uF/cm2{}\n",
                r.region,
                r.label,
                r.sections,
                r.compartments,
                r.area_um2,
                opt(r.ra_ohm_cm),
                opt(r.cm_uf_cm2),
                if r.defaults {
                    "  (not in the script: NEURON defaults, no mechanisms)"
                } else {
                    ""
                }
            ));
        }
        out.push_str("  mechanisms (compartments):\n");
        for m in &cell.mechanisms {
            out.push_str(&format!("    {:<16} {:>5}\n", m.name, m.compartments.len()));
        }
        if !cell.modified_sections.is_empty() {
            out.push_str(&format!(
                "  modified sections (diameters): {}\n",
                cell.modified_sections.len()
            ));
        }
    }
    out
}

/// The synapses of every experiment's network as `isf run` places them on its neuron (below
/// the model; not part of its hash): per population the presynaptic cells, the synapses,
/// where they come from, how many sit on each label and their soma distances.
pub fn render_synapses(model: &Model) -> String {
    use crate::network::SynapseSource;
    let mut out = String::new();
    for exp in &model.experiments {
        let Some(net_name) = &exp.network else {
            continue;
        };
        if !exp.replay.is_empty() {
            out.push_str(&format!(
                "synapses of {} ({net_name}): replayed from {} files\n",
                exp.name,
                exp.replay.len()
            ));
            continue;
        }
        let prep = match crate::run::cellsim::placed_network(model, exp) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(d) => {
                out.push_str(&format!(
                    "synapses of {} ({net_name} on {}): not placed\n  {}: {}\n",
                    exp.name,
                    exp.neuron,
                    d.code.as_str(),
                    d.message
                ));
                continue;
            }
        };
        out.push_str(&format!(
            "synapses of {} ({net_name} on {}, seed {}): {} synapses from {} presynaptic cells\n",
            exp.name,
            exp.neuron,
            exp.seed,
            prep.n_synapses(),
            prep.n_cells(),
        ));
        for (pi, p) in prep.network.populations.iter().enumerate() {
            let r = prep.synapse_range[pi].clone();
            let mut labels: Vec<(String, usize)> = Vec::new();
            for s in r.clone() {
                let l = prep
                    .section_labels
                    .get(prep.syn_section[s] as usize)
                    .cloned()
                    .unwrap_or_default();
                match labels.iter_mut().find(|x| x.0 == l) {
                    Some(x) => x.1 += 1,
                    None => labels.push((l, 1)),
                }
            }
            labels.sort();
            let d = &prep.syn_soma_distance_um[r.clone()];
            let (lo, hi) = d
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            let mut connected: Vec<u32> = prep.syn_cell[r.clone()].to_vec();
            connected.sort_unstable();
            connected.dedup();
            let source = match &p.synapses {
                SynapseSource::Anatomy { syn, .. } => format!(
                    "anatomy {}",
                    syn.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                SynapseSource::Declared(dd) => {
                    let regions = if dd.regions.is_empty() {
                        crate::network::declared::DEFAULT_REGIONS.join(", ")
                    } else {
                        dd.regions.join(", ")
                    };
                    match dd.distance_um {
                        Some((a, b)) => format!("declared on {regions}, {a}-{b} um"),
                        None => format!("declared on {regions}"),
                    }
                }
            };
            out.push_str(&format!(
                "  {:<16} cells {:>6}  synapses {:>6}  connected cells {:>6}  {source}\n",
                p.name,
                p.cells,
                r.len(),
                connected.len()
            ));
            if !r.is_empty() {
                let per: Vec<String> = labels.iter().map(|(l, n)| format!("{l} {n}")).collect();
                out.push_str(&format!(
                    "  {:<16} {}; soma distance {:.1}-{:.1} um\n",
                    "",
                    per.join(", "),
                    lo,
                    hi
                ));
            }
        }
    }
    out
}

/// The readable, line-oriented form of a model: stable key order, one value per line.
pub fn render_plan(model: &Model) -> String {
    let mut out = format!(
        "plan (model v{}) hash {}\n",
        model.version,
        model.content_hash()
    );
    let v = serde_json::to_value(model).unwrap_or_default();
    if let Value::Object(m) = v {
        for (k, val) in m {
            if k == "version" {
                continue;
            }
            write_value(&mut out, &k, &val, 0);
        }
    }
    out
}

/// An expression (`sema::ex::Ex` as JSON) as one line of infix text; variables show their
/// SI factor (`0.001*v` is v in volts, the form the expression computes in).
fn ex_text(v: &Value) -> Option<String> {
    let Value::Object(m) = v else { return None };
    if m.len() != 1 {
        return None;
    }
    let (k, x) = m.iter().next()?;
    let arr = |x: &Value| x.as_array().cloned().unwrap_or_default();
    Some(match k.as_str() {
        "Const" => {
            let c = x.as_f64()?;
            format!("{c}")
        }
        "Var" => {
            let name = x.get("name")?.as_str()?;
            match x.get("scale")?.as_f64()? {
                1.0 => name.to_string(),
                s => format!("{s}*{name}"),
            }
        }
        "Unary" => {
            let a = arr(x);
            let op = if a.first()?.as_str()? == "Neg" {
                "-"
            } else {
                "not "
            };
            format!("{op}({})", ex_text(a.get(1)?)?)
        }
        "Bin" => {
            let a = arr(x);
            let op = match a.first()?.as_str()? {
                "Or" => "or",
                "And" => "and",
                "Eq" => "==",
                "Ne" => "!=",
                "Lt" => "<",
                "Le" => "<=",
                "Gt" => ">",
                "Ge" => ">=",
                "Add" => "+",
                "Sub" => "-",
                "Mul" => "*",
                "Div" => "/",
                _ => "^",
            };
            format!("({} {op} {})", ex_text(a.get(1)?)?, ex_text(a.get(2)?)?)
        }
        "If" => {
            let a = arr(x);
            format!(
                "(if {} then {} else {})",
                ex_text(a.first()?)?,
                ex_text(a.get(1)?)?,
                ex_text(a.get(2)?)?
            )
        }
        "Call" => {
            let a = arr(x);
            let args: Option<Vec<String>> = arr(a.get(1)?).iter().map(ex_text).collect();
            format!("{}({})", a.first()?.as_str()?, args?.join(", "))
        }
        _ => return None,
    })
}

fn scalar(v: &Value) -> Option<String> {
    if let Some(t) = ex_text(v) {
        return Some(t);
    }
    Some(match v {
        Value::Null => "-".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 2 && m.contains_key("value") && m.contains_key("unit") => {
            format!("{} {}", scalar(&m["value"])?, scalar(&m["unit"])?)
        }
        Value::Object(m) if m.contains_key("Const") && m.len() == 1 => scalar(&m["Const"])?,
        _ => return None,
    })
}

fn write_value(out: &mut String, key: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    if let Some(s) = scalar(v) {
        out.push_str(&format!("{pad}{key}: {s}\n"));
        return;
    }
    match v {
        Value::Array(a) if a.is_empty() => out.push_str(&format!("{pad}{key}: []\n")),
        Value::Array(a) if a.iter().all(|x| scalar(x).is_some()) && a.len() <= 12 => {
            let items: Vec<String> = a.iter().filter_map(scalar).collect();
            out.push_str(&format!("{pad}{key}: [{}]\n", items.join(", ")));
        }
        Value::Array(a) => {
            out.push_str(&format!("{pad}{key}: ({} items)\n", a.len()));
            for (i, x) in a.iter().enumerate() {
                let label = match x
                    .get("name")
                    .or_else(|| x.get("region"))
                    .or_else(|| x.get("mechanism"))
                    .or_else(|| x.get("path"))
                {
                    Some(Value::String(s)) => format!("- {s}"),
                    _ => format!("- [{i}]"),
                };
                write_value(out, &label, x, depth + 1);
            }
        }
        Value::Object(m) => {
            out.push_str(&format!("{pad}{key}:\n"));
            for (k, x) in m {
                write_value(out, k, x, depth + 1);
            }
        }
        _ => {}
    }
}
