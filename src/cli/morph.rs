//! `isf morph`: print the sections or compartments of a cell as `isf run` lowers it — a
//! morphology alone, with its ISF cell parameter file, a `.param` file or a neuron of a
//! script (see [`super::inspect`]: the run's own lowering, every cell modification applied).

use super::inspect::{CellInput, Table, load, lower};
use crate::model::Discretization;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

/// Output format of `isf morph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for reading.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array of row objects.
    Json,
}

/// Arguments of `isf morph`.
#[derive(Args, Debug)]
#[command(after_help = "\
The cell is lowered exactly as `isf run` lowers it: FILE.isf shows one of its neurons \
(--neuron NAME, else its only neuron or the one its experiments use); FILE.param shows the \
cell `neuron X = isf_param(\"FILE.param\")` declares; FILE.hoc/.swc --param CELL.param the \
same (the .param must name FILE); FILE.hoc/.swc alone gets NEURON's defaults Ra = 35.4 ohm*cm \
and cm = 1 uF/cm2, no axon and ISF's d-lambda rule at 100 Hz. Cell modifications \
(scale_apical_morph_86, scale_apical) are applied, as in a run.

Section columns: sec_index,label,parent_index,parent_x,L_um,nseg,name,n_pt3d,area_um2,Ra,cm
Segment columns: sec_index,seg_index,x,diam_um,area_um2,ri_Mohm,dist_to_soma_um
(ri = NEURON's ri(x), dist_to_soma_um = path distance from soma(0.5)).
Every mechanism parameter per compartment: `isf plan FILE --compartments`.")]
pub struct MorphArgs {
    #[command(flatten)]
    pub input: CellInput,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// One row per compartment instead of one row per section.
    #[arg(long)]
    pub segments: bool,
    /// Override nseg for every section (instead of the neuron's discretization rule).
    #[arg(long, value_name = "N")]
    pub nseg: Option<u32>,
}

/// Run `isf morph`; returns the exit code (1 after errors, which are printed).
pub fn run(args: MorphArgs) -> i32 {
    let Some(loaded) = load(&args.input, true) else {
        return 1;
    };
    let Some(mut neuron) = loaded.neuron_model().cloned() else {
        return 1;
    };
    if let Some(n) = args.nseg {
        // As a sweep of the rule would: the same lowering on a changed neuron.
        neuron.discretization = Discretization::Fixed { nseg: n };
    }
    let Some(cell) = lower(&neuron, &loaded.checked.model) else {
        return 1;
    };
    print!("{}", table(&cell, args.segments, args.format));
    0
}

/// The sections or segments of a lowered cell in `format`.
fn table(cell: &crate::lower::cell::LoweredCell, segments: bool, format: Format) -> String {
    let geo = &cell.geometry;
    let (header, rows): (Vec<&str>, Vec<Vec<Value>>) = if segments {
        let header = vec![
            "sec_index",
            "seg_index",
            "x",
            "diam_um",
            "area_um2",
            "ri_Mohm",
            "dist_to_soma_um",
        ];
        let mut rows = Vec::new();
        for (i, s) in geo.sections.iter().enumerate() {
            for k in 0..s.nseg {
                rows.push(vec![
                    json!(i),
                    json!(k),
                    num(s.seg_x[k]),
                    num(s.seg_diam_um[k]),
                    num(s.seg_area_um2[k]),
                    num(s.seg_ri_mohm[k]),
                    num(s.seg_dist_um[k]),
                ]);
            }
        }
        (header, rows)
    } else {
        let header = vec![
            "sec_index",
            "label",
            "parent_index",
            "parent_x",
            "L_um",
            "nseg",
            "name",
            "n_pt3d",
            "area_um2",
            "Ra",
            "cm",
        ];
        let rows = geo
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| {
                vec![
                    json!(i),
                    json!(s.label),
                    s.parent.map(|p| json!(p)).unwrap_or(json!(-1)),
                    s.parent.map(|_| num(s.parent_x)).unwrap_or(Value::Null),
                    num(s.length_um),
                    json!(s.nseg),
                    json!(s.name),
                    json!(s.n_pt3d),
                    num(s.seg_area_um2.iter().sum()),
                    num(s.ra_ohm_cm),
                    num(s.cm_uf_cm2),
                ]
            })
            .collect();
        (header, rows)
    };
    render(format, &header, &rows)
}

/// A float as JSON (non-finite → null, printed as `nan`).
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "nan".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(format: Format, header: &[&str], rows: &[Vec<Value>]) -> String {
    match format {
        Format::Json => {
            let arr: Vec<Value> = rows
                .iter()
                .map(|r| {
                    Value::Object(
                        header
                            .iter()
                            .zip(r)
                            .map(|(h, v)| (h.to_string(), v.clone()))
                            .collect(),
                    )
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&Value::Array(arr)).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Csv => {
            let mut s = header.join(",");
            s.push('\n');
            for r in rows {
                let cells: Vec<String> = r.iter().map(cell_text).collect();
                s.push_str(&cells.join(","));
                s.push('\n');
            }
            s
        }
        Format::Table => {
            let texts: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            Value::Number(n) if n.is_f64() => {
                                format!("{:.6}", n.as_f64().unwrap_or(f64::NAN))
                            }
                            other => cell_text(other),
                        })
                        .collect()
                })
                .collect();
            Table {
                header: header.iter().map(|h| h.to_string()).collect(),
                rows: texts,
            }
            .aligned()
        }
    }
}
