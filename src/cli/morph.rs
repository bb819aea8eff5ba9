//! `isf morph`: print sections or segments of a morphology.

use crate::formats::param::{cell_params, read_param_file};
use crate::morph::{Discretization, LabelPassive, Morphology, discretize, geometry, modify};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::path::PathBuf;

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
Without --param, every section gets NEURON's defaults Ra = 35.4 ohm*cm and cm = 1 uF/cm2, \
no axon is generated, and nseg follows ISF's d-lambda rule at 100 Hz (middle 3-D point \
diameter). With --param, Ra and cm come from the label entries of the cell parameter file, \
an `AIS` entry appends ISF's generated axon (hillock, AIS, myelin), `neuron.discretization` \
sets f and max_seg_length, and the cell-modify function scale_apical_morph_86 is applied \
(other cell-modify functions are ignored with a warning).

Section columns: sec_index,label,parent_index,parent_x,L_um,nseg,name,n_pt3d,area_um2,Ra,cm
Segment columns: sec_index,seg_index,x,diam_um,area_um2,ri_Mohm,dist_to_soma_um
(ri = NEURON's ri(x), dist_to_soma_um = path distance from soma(0.5)).")]
pub struct MorphArgs {
    /// Morphology file (.hoc or .swc).
    pub file: PathBuf,
    /// ISF cell parameter file (.param) supplying Ra, cm, the AIS stub and discretization.
    #[arg(long, value_name = "CELL.param")]
    pub param: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// One row per compartment instead of one row per section.
    #[arg(long)]
    pub segments: bool,
    /// Override nseg for every section (instead of the d-lambda rule).
    #[arg(long, value_name = "N")]
    pub nseg: Option<usize>,
}

/// Run `isf morph`; returns the exit code.
pub fn run(args: MorphArgs) -> i32 {
    match run_inner(&args) {
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

fn run_inner(args: &MorphArgs) -> Result<String, String> {
    let mut morph = Morphology::read(&args.file).map_err(|e| e.to_string())?;
    let mut passive = LabelPassive::default();
    let mut rule = Discretization::default();
    let mut modifiers = Vec::new();
    if let Some(p) = &args.param {
        let name = p.display().to_string();
        let root = read_param_file(p).map_err(|e| e.to_string())?;
        let cp = cell_params(&root, &name).map_err(|e| e.to_string())?;
        if cp.has_ais {
            morph.add_hay2013_axon();
        }
        passive = cp.passive;
        rule = cp.discretization;
        modifiers = cp.cell_modify_functions;
    }
    if let Some(n) = args.nseg {
        rule = Discretization::Fixed { nseg: n };
        rule.validate().map_err(|m| format!("error: --nseg: {m}"))?;
    }
    let nseg = discretize(&morph, &rule, &passive);
    crate::morph::discretize::total_compartments(&nseg)
        .map_err(|b| format!("error[{}]: {}", b.code.as_str(), b.message))?;
    for m in &modifiers {
        match m.as_str() {
            "scale_apical_morph_86" => {
                modify::scale_apical_morph_86(&mut morph);
            }
            other => {
                eprintln!("warning: cell-modify function `{other}` is not applied by `isf morph`")
            }
        }
    }
    let geo = geometry(&morph, &nseg, &passive);
    let (header, rows): (Vec<&str>, Vec<Vec<Value>>) = if args.segments {
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
                    json!(morph.sections[i].points.len()),
                    num(s.seg_area_um2.iter().sum()),
                    num(s.ra_ohm_cm),
                    num(s.cm_uf_cm2),
                ]
            })
            .collect();
        (header, rows)
    };
    Ok(render(args.format, &header, &rows))
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
            let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for r in &texts {
                for (w, t) in width.iter_mut().zip(r) {
                    *w = (*w).max(t.len());
                }
            }
            let mut s = String::new();
            let line = |cells: Vec<&str>, s: &mut String| {
                let parts: Vec<String> = cells
                    .iter()
                    .zip(&width)
                    .map(|(c, w)| format!("{c:>w$}"))
                    .collect();
                s.push_str(parts.join("  ").trim_end());
                s.push('\n');
            };
            line(header.to_vec(), &mut s);
            for r in &texts {
                line(r.iter().map(String::as_str).collect(), &mut s);
            }
            s
        }
    }
}
