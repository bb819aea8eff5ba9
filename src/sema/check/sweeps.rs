//! Sweeps of an experiment: the schema of its sweepable paths, and each sweep axis
//! checked against it and lowered to typed targets with canonical values.

use super::*;

impl Session {
    #[allow(clippy::too_many_arguments)]
    /// Every sweepable path of an experiment with these stimuli, neuron and network, and why
    /// its network block cannot be lowered (if it cannot).
    pub(super) fn schema(
        &self,
        stimuli: &[StimulusModel],
        neuron: &str,
        network: Option<&str>,
        replay: bool,
    ) -> (Schema, Option<String>) {
        let neuron_model = self.model.neurons.iter().find(|n| n.name == neuron);
        // The typed network, as the run stage reads it (an unreadable network file is
        // reported where it is declared; its paths are then simply unknown here).
        let mut lower_error = None;
        let typed_net = network.and_then(|name| {
            let nm = self.model.networks.iter().find(|n| n.name == name)?;
            match &nm.isf_network_param {
                Some(p) => crate::interop::network_param::isf_network_param(Path::new(p)).ok(),
                None => crate::network::lower::from_model(nm)
                    .map_err(|e| lower_error = Some(format!("network `{name}`: {e}")))
                    .ok(),
            }
        });
        let mech_params = |name: &str| -> Option<Vec<(String, Dim)>> {
            self.mechs
                .iter()
                .rev()
                .find(|m| m.name == name)
                .map(|m| m.params.iter().map(|p| (p.0.clone(), p.1)).collect())
        };
        let mech_ions = |name: &str| -> Vec<String> {
            self.mechs
                .iter()
                .rev()
                .find(|m| m.name == name)
                .map(|m| m.model.ions.iter().map(|i| i.ion.clone()).collect())
                .unwrap_or_default()
        };
        let schema = Schema::build(&SchemaInput {
            stimuli,
            neuron: neuron_model,
            network: network.zip(typed_net.as_ref()),
            mech_params: &mech_params,
            mech_ions: &mech_ions,
            replay,
        });
        (schema, lower_error)
    }

    /// The sweep blocks of a root experiment, resolved against the schema of its stimuli,
    /// neuron and network: every axis a typed target with values in canonical units.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sweeps(
        &mut self,
        mid: u32,
        base: &Path,
        sweeps: &[(Option<Span>, &ast::SubBlock)],
        schema: &Schema,
        (duration_ms, dt_ms): (f64, f64),
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<SweepAxisModel> {
        if sweeps.is_empty() {
            return Vec::new();
        }
        let mut axes: Vec<SweepAxisModel> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for (zip, sw) in sweeps {
            let first_axis = axes.len();
            for en in &sw.body.entries {
                let Entry::Sweep(ax) = en else {
                    diags.push(
                        Diagnostic::new(Code::E0401, "a sweep block lists axes")
                            .label(en.span(), "write `path.to.parameter in [values]`"),
                    );
                    continue;
                };
                if let Some(a) = self.sweep_axis(mid, ax, base, schema, diags) {
                    axes.push(a);
                    spans.push(ax.span);
                }
            }
            for (i, a) in axes[first_axis..].iter_mut().enumerate() {
                a.group = (first_axis + if zip.is_some() { 0 } else { i }) as u32;
            }
            if zip.is_some() {
                let zipped = &mut axes[first_axis..];
                let len = zipped.first().map(|a| a.values.len());
                if let Some(bad) = zipped.iter().find(|a| Some(a.values.len()) != len) {
                    diags.push(
                        Diagnostic::new(Code::E0309, "zipped sweep axes differ in length")
                            .label(
                                sw.span,
                                format!(
                                    "`{}` has {} values, the first axis {}",
                                    bad.path,
                                    bad.values.len(),
                                    len.unwrap_or(0)
                                ),
                            )
                            .help("axes of `sweep zip` vary together and need equally many values"),
                    );
                }
            }
        }
        // Every point's time step must divide its duration.
        let find = |t: &SweepTarget| axes.iter().position(|a| a.target == *t);
        let (di, ti) = (find(&SweepTarget::Duration), find(&SweepTarget::Dt));
        if di.is_some() || ti.is_some() {
            let vals = |i: Option<usize>, base: f64| -> Vec<f64> {
                match i {
                    Some(i) => axes[i]
                        .values
                        .iter()
                        .filter_map(|v| match v {
                            SweepValue::Num(x) => Some(*x),
                            _ => None,
                        })
                        .collect(),
                    None => vec![base],
                }
            };
            let (ds, ts) = (vals(di, duration_ms), vals(ti, dt_ms));
            let zipped = matches!((di, ti), (Some(a), Some(b)) if axes[a].group == axes[b].group);
            let pairs: Vec<(f64, f64)> = if zipped {
                ds.iter().copied().zip(ts.iter().copied()).collect()
            } else {
                ds.iter()
                    .flat_map(|d| ts.iter().map(move |t| (*d, *t)))
                    .collect()
            };
            let at = di.or(ti).map(|i| spans[i]).unwrap_or(sweeps[0].1.span);
            if let Some(b) = pairs
                .iter()
                .find_map(|(d, t)| crate::rules::steps(*d, *t).err())
            {
                diags.push(
                    Diagnostic::new(b.code, format!("a sweep point: {}", b.message))
                        .label(at, b.label),
                );
            } else if let Some((d, t)) = pairs.into_iter().find(|(d, t)| {
                let k = d / t;
                (k - k.round()).abs() > 1e-9 * k.max(1.0)
            }) {
                diags.push(
                    Diagnostic::new(Code::E0406, "time step does not divide the duration")
                        .label(at, format!("a sweep point runs {d} ms in steps of {t} ms"))
                        .help("every sweep point needs a duration that is a whole number of steps"),
                );
            }
        }
        axes
    }

    /// One sweep axis: its path looked up in the experiment's schema (did-you-mean over the
    /// valid paths when absent), its values checked against the target's dimension and range.
    pub(super) fn sweep_axis(
        &mut self,
        mid: u32,
        ax: &ast::SweepAxis,
        base: &Path,
        schema: &Schema,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<SweepAxisModel> {
        let segs: Vec<String> = ax
            .path
            .iter()
            .map(|s| match s {
                ast::PathSeg::Name(i) => i.name.clone(),
                ast::PathSeg::Wildcard(_) => "*".into(),
            })
            .collect();
        let path_str = segs.join(".");
        let seg_span = |s: &ast::PathSeg| match s {
            ast::PathSeg::Name(i) => i.span,
            ast::PathSeg::Wildcard(s) => *s,
        };
        let path_span = match (ax.path.first(), ax.path.last()) {
            (Some(a), Some(b)) => seg_span(a).to(seg_span(b)),
            _ => ax.span,
        };
        let mut scope = self.scope(mid);
        scope.locals = region_locals();
        let mut ev = Evaluator {
            diags,
            base_dir: base.to_path_buf(),
        };
        let values = ev.eval(&ax.values, &mut scope);
        let Some(entry) = schema.find(&path_str) else {
            let mut d = Diagnostic::new(
                Code::E0408,
                format!("sweep path `{path_str}` names nothing"),
            )
            .label(path_span, "no sweepable parameter at this path");
            d = match schema.suggest(&path_str) {
                Some(s) => d.help(did_you_mean_hint(s)),
                None => d,
            };
            ev.diags.push(d.note(
                "paths look like `stimulus.NAME.amp`, `duration`, \
                 `NEURON.region.MECHANISM.param`, `NEURON.region.cm`, \
                 `NETWORK.POPULATION|*.RECEPTOR.param`, \
                 `NETWORK.POPULATION|*.release_probability` or \
                 `NETWORK.POPULATION|*.activity.GENERATOR.param`; \
                 `isf plan --sweepable` lists them all",
            ));
            return None;
        };
        let values = match values {
            Val::List(v) => v,
            Val::Err => return None,
            other => {
                ev.diags.push(
                    Diagnostic::new(Code::E0306, "sweep values must be a list or a range")
                        .label(ax.values.span, format!("this is {}", other.type_name()))
                        .help("write `[a, b, c]` or `a .. b by step`"),
                );
                return None;
            }
        };
        let vspan = ax.values.span;
        let mut out = Vec::new();
        let mut unit = String::new();
        let broken =
            |b: crate::rules::Broken| Diagnostic::new(b.code, b.message).label(vspan, b.label);
        let what = format!("a value of `{path_str}`");
        for v in values {
            let value = match entry.kind {
                // A temperature as the neuron's field takes it: degC or kelvin, absolute.
                ValueKind::Quantity { .. } if entry.target == SweepTarget::Temperature => {
                    match temperature_value(&mut ev, v, vspan, "temperature") {
                        Some(t) => {
                            unit = "degC".into();
                            SweepValue::Num(t)
                        }
                        None => return None,
                    }
                }
                ValueKind::Quantity { dim, range } => {
                    let v = ev.expect_dim(v, dim, vspan, &format!("a value of `{path_str}`"));
                    match lower_val(&v) {
                        Some(model::Value::Num { value, unit: u }) => {
                            if let Err(b) = range.check(&what, value, dim, &u) {
                                ev.diags.push(broken(b));
                                return None;
                            }
                            unit = u;
                            SweepValue::Num(value)
                        }
                        Some(_) => {
                            ev.diags.push(
                                Diagnostic::new(
                                    Code::E0315,
                                    format!("values of `{path_str}` must be constants"),
                                )
                                .label(vspan, "not a compile-time constant"),
                            );
                            return None;
                        }
                        None => return None,
                    }
                }
                ValueKind::Count { min } => {
                    let x = match &v {
                        Val::Q { dim, .. } if dim.is_one() => v.const_si(),
                        Val::Err => return None,
                        _ => None,
                    };
                    let Some(x) = x else {
                        ev.diags.push(
                            // Not a number at all: the wrong type (E0306); a number that is
                            // not whole is the integer rule below (E0407).
                            Diagnostic::new(
                                Code::E0306,
                                format!("values of `{path_str}` must be whole numbers ≥ {min}"),
                            )
                            .label(vspan, format!("this holds {}", describe_val(&v))),
                        );
                        return None;
                    };
                    match crate::rules::count(&what, x, min as u32) {
                        Ok(n) => {
                            unit = "1".into();
                            SweepValue::Num(f64::from(n))
                        }
                        Err(b) => {
                            ev.diags.push(broken(b));
                            return None;
                        }
                    }
                }
                ValueKind::Regions => match location_value(&mut ev, v, vspan) {
                    Val::List(items) => SweepValue::Regions(
                        items
                            .into_iter()
                            .filter_map(|r| match r {
                                Val::Region(r) => Some(r),
                                _ => None,
                            })
                            .collect(),
                    ),
                    _ => return None,
                },
                ValueKind::LengthPair => match distance_value(&mut ev, v, vspan) {
                    Val::List(items) => {
                        let b: Vec<f64> = items
                            .iter()
                            .filter_map(|x| match lower_val(x) {
                                Some(model::Value::Num { value, .. }) => Some(value),
                                _ => None,
                            })
                            .collect();
                        let [from, to] = b[..] else { return None };
                        unit = "um".into();
                        SweepValue::Pair(from, to)
                    }
                    _ => return None,
                },
            };
            out.push(value);
        }
        Some(SweepAxisModel {
            path: path_str,
            target: entry.target.clone(),
            unit,
            values: out,
            // assigned by the caller: its own grid dimension, or its `sweep zip` group
            group: 0,
        })
    }
}
