//! The mapper's outputs (spec 08 §8.7): `.syn` and `.con` of the representative realization,
//! `NumberOfConnectedCells.csv` and the summary table; every file records the seed.

use super::Mapping;
use super::realize::{Stats, mean_sd};
use crate::interop::formats::con::write_con;
use crate::interop::formats::syn::{py_float, write_syn};
use crate::mapper::tables::{SUMMARY_ORDER, write_connected_cells};
use std::path::{Path, PathBuf};

impl Mapping {
    /// The provenance line written into every output.
    pub fn seed_note(&self) -> String {
        format!(
            "isf map: seed {}, representative realization {} of {} (0-based), amira quirk {}",
            self.options.seed,
            self.chosen,
            self.options.samples,
            if self.options.amira_quirk {
                "on"
            } else {
                "off"
            }
        )
    }

    /// `.syn` text of realization `r` (types in population order, synapses in creation order).
    pub fn syn_text(&self, cell: &str, r: usize) -> String {
        let types: Vec<(String, Vec<(u32, f64)>)> = self.realizations[r]
            .iter()
            .zip(&self.prepared.populations)
            .filter(|(pr, _)| !pr.section.is_empty())
            .map(|(pr, pop)| {
                let v = pr
                    .section
                    .iter()
                    .zip(&pr.point)
                    .map(|(&s, &p)| (s, self.prepared.sections[s as usize].rel_pts[p as usize]))
                    .collect();
                (pop.name(), v)
            })
            .collect();
        write_syn(cell, &[self.seed_note()], &types)
    }

    /// `.con` text of realization `r`; `syn_name` is the `.syn` file's name (anatomical ID).
    pub fn con_text(&self, syn_name: &str, r: usize) -> String {
        let names: Vec<String> = self.prepared.populations.iter().map(|p| p.name()).collect();
        let mut lines = Vec::new();
        for (pr, name) in self.realizations[r].iter().zip(&names) {
            for (k, &c) in pr.cell.iter().enumerate() {
                lines.push((name.as_str(), c, k as u32));
            }
        }
        write_con(syn_name, &[self.seed_note()], &lines)
    }

    /// `NumberOfConnectedCells.csv` of realization `r`.
    pub fn connected_cells_text(&self, r: usize) -> String {
        let counts: Vec<(String, String, usize)> = self.realizations[r]
            .iter()
            .zip(&self.prepared.populations)
            .map(|(pr, p)| (p.area.clone(), p.cell_type.clone(), pr.connected as usize))
            .collect();
        write_connected_cells(&counts)
    }

    /// Per realization, the statistics of each cell type (summed over areas), in
    /// [`SUMMARY_ORDER`] (types without a population left out).
    fn type_stats(&self) -> (Vec<&'static str>, Vec<Vec<Stats>>) {
        let types: Vec<&'static str> = SUMMARY_ORDER
            .into_iter()
            .filter(|t| self.prepared.populations.iter().any(|p| p.cell_type == *t))
            .collect();
        let per: Vec<Vec<Stats>> = self
            .stats
            .iter()
            .map(|r| {
                types
                    .iter()
                    .map(|t| {
                        let mut s = Stats::default();
                        for (st, p) in r.iter().zip(&self.prepared.populations) {
                            if p.cell_type == *t {
                                s.add(st);
                            }
                        }
                        s
                    })
                    .collect()
            })
            .collect();
        (types, per)
    }

    /// The summary table (spec 10 §10.9): population (mean, SD over realizations), the
    /// representative realization per cell type, and per column and cell type.
    pub fn summary_text(&self) -> String {
        let (types, per) = self.type_stats();
        let mut s = format!("# {}\n", self.seed_note());
        s.push_str("# connectivity per cell type population summary\nPresynaptic cell type");
        for (name, total_cells) in columns() {
            if total_cells {
                s.push_str(&format!("\t{name}"));
            } else {
                s.push_str(&format!("\t{name} (mean)\t{name} (SD)"));
            }
        }
        s.push('\n');
        for (j, t) in types.iter().enumerate() {
            s.push_str(t);
            let rows: Vec<Vec<f64>> = per.iter().map(|r| values(&r[j])).collect();
            for (c, (_, total_cells)) in columns().iter().enumerate() {
                let xs: Vec<f64> = rows.iter().map(|v| v[c]).collect();
                let n = xs.len() as f64;
                let m = xs.iter().sum::<f64>() / n;
                if *total_cells {
                    s.push_str(&format!("\t{}", num(m)));
                } else {
                    let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
                    s.push_str(&format!("\t{}\t{}", num(m), num(sd)));
                }
            }
            s.push('\n');
        }
        s.push_str(
            "\n# connectivity per cell type representative realization summary\nPresynaptic \
                    cell type",
        );
        header(&mut s);
        for (j, t) in types.iter().enumerate() {
            s.push_str(t);
            row(&mut s, &per[self.chosen][j]);
        }
        s.push_str(
            "\n# connectivity per column per cell type summary\nPresynaptic \
                    column\tPresynaptic cell type",
        );
        header(&mut s);
        let mut order: Vec<usize> = (0..self.prepared.populations.len()).collect();
        let pops = &self.prepared.populations;
        order.sort_by(|&a, &b| {
            (&pops[a].area, &pops[a].cell_type).cmp(&(&pops[b].area, &pops[b].cell_type))
        });
        for p in order {
            s.push_str(&format!("{}\t{}", pops[p].area, pops[p].cell_type));
            row(&mut s, &self.stats[self.chosen][p]);
        }
        s
    }

    /// Write the four outputs of the representative realization into `dir` (created if
    /// needed), named `<cell>_synapses<suffix>.syn`/`.con`, `NumberOfConnectedCells.csv` and
    /// `<cell>_summary<suffix>.csv` (ISF's suffix is `_<stamp>_<pid>`); returns the paths.
    pub fn write(&self, dir: &Path, cell: &str, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let syn_name = format!("{cell}_synapses{suffix}.syn");
        let files = [
            (syn_name.clone(), self.syn_text(cell, self.chosen)),
            (
                format!("{cell}_synapses{suffix}.con"),
                self.con_text(&syn_name, self.chosen),
            ),
            (
                "NumberOfConnectedCells.csv".to_string(),
                self.connected_cells_text(self.chosen),
            ),
            (format!("{cell}_summary{suffix}.csv"), self.summary_text()),
        ];
        let mut out = Vec::new();
        for (name, text) in files {
            let p = dir.join(name);
            // A crash never leaves a half-written file under the final name.
            crate::files::write_atomic(&p, text.as_bytes())?;
            out.push(p);
        }
        Ok(out)
    }
}

/// Column names of the per-type tables; `true` marks the one that does not vary across
/// realizations (total cells: no SD column).
fn columns() -> Vec<(String, bool)> {
    let mut c = vec![
        ("Number of synapses".to_string(), false),
        ("Mean path length to soma".into(), false),
        ("SD path length to soma".into(), false),
        ("Connected presynaptic cells".into(), false),
        ("Total presynaptic cells".into(), true),
        ("Convergence".into(), false),
    ];
    for (long, short) in [("apical dendrite", "apical"), ("basal dendrite", "basal")] {
        c.push((format!("Number of {long} synapses"), false));
        c.push((
            format!("Mean path length to soma ({short} synapses)"),
            false,
        ));
        c.push((format!("SD path length to soma ({short} synapses)"), false));
        c.push((
            format!("Connected presynaptic cells ({short} synapses)"),
            false,
        ));
        c.push((format!("Convergence ({short} synapses)"), false));
    }
    c.push(("Number of soma synapses".into(), false));
    c.push(("Connected presynaptic cells (soma synapses)".into(), false));
    c.push(("Convergence (soma synapses)".into(), false));
    c
}

/// The values of [`columns`] for one set of statistics.
fn values(st: &Stats) -> Vec<f64> {
    let (m, sd) = mean_sd(st.synapses, st.dist);
    let mut v = vec![
        st.synapses as f64,
        m,
        sd,
        st.connected as f64,
        st.total_cells as f64,
        st.convergence(st.connected),
    ];
    // Structure indices: 2 apical, 1 basal, 0 soma.
    for s in [2, 1] {
        let (m, sd) = mean_sd(st.per_structure[s], st.dist_structure[s]);
        v.extend([
            st.per_structure[s] as f64,
            m,
            sd,
            st.connected_structure[s] as f64,
            st.convergence(st.connected_structure[s]),
        ]);
    }
    v.extend([
        st.per_structure[0] as f64,
        st.connected_structure[0] as f64,
        st.convergence(st.connected_structure[0]),
    ]);
    v
}

fn header(s: &mut String) {
    for (name, _) in columns() {
        s.push('\t');
        s.push_str(&name);
    }
    s.push('\n');
}

fn row(s: &mut String, st: &Stats) {
    for v in values(st) {
        s.push('\t');
        s.push_str(&num(v));
    }
    s.push('\n');
}

/// Integers without a fraction, other numbers as Python prints them, NaN as `nan`.
fn num(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        py_float(v)
    }
}
