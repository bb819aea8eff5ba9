//! `network` declarations: populations (cell types, receptors, activity, declared
//! synapses and where they are placed), and the check that a network's declared synapses
//! have a place on an experiment's neuron.

use super::*;

impl Session {
    pub(super) fn network(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut pops = Vec::new();
        let mut used_mechs: Vec<MechModel> = Vec::new();
        let mut spans: Vec<PlacementSpans> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in &b.entries {
            match entry {
                Entry::Let(l) => {
                    let _ = l;
                    diags.push(
                        Diagnostic::new(Code::E0401, "`let` inside a network is not supported yet")
                            .label(entry.span(), "move it to the top level"),
                    );
                }
                Entry::Block(sb) if sb.head.name == "population" => {
                    let Some(pname) = &sb.name else {
                        diags.push(
                            Diagnostic::new(Code::E0101, "a population needs a name")
                                .label(sb.head.span, "write `population L5tt_C2 { … }`"),
                        );
                        continue;
                    };
                    if let Some(prev) = seen.insert(pname.name.clone(), pname.span) {
                        diags.push(
                            Diagnostic::new(
                                Code::E0105,
                                format!("population `{}` is declared twice", pname.name),
                            )
                            .label(pname.span, "declared again here")
                            .label(prev, "first declared here"),
                        );
                        continue;
                    }
                    let (p, mechs, sp) = self.population(mid, pname, &sb.body, base, &mut diags);
                    pops.push(p);
                    used_mechs.extend(mechs);
                    spans.push(sp);
                }
                Entry::Block(sb) => {
                    let mut d = Diagnostic::new(
                        Code::E0403,
                        format!("unknown block `{}` in a network", sb.head.name),
                    )
                    .label(sb.head.span, "networks contain `population` blocks");
                    d = d.suggest(&sb.head.name, decls::NETWORK.block_names());
                    diags.push(d);
                }
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a network").label(
                        other.span(),
                        "networks contain `population NAME { … }` blocks",
                    ),
                ),
            }
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if ok {
            let mut mechs: Vec<MechModel> = Vec::new();
            for m in used_mechs {
                if !mechs.iter().any(|x| x.name == m.name) {
                    mechs.push(m);
                }
            }
            let owner = self.owner(mid);
            self.placement_spans
                .insert((owner, name.name.clone()), spans);
            self.add_network(
                mid,
                NetworkModel {
                    name: name.name.clone(),
                    isf_network_param: None,
                    populations: pops,
                },
                mechs,
            );
        }
    }

    /// A checked network joins the model (root file) or waits until an experiment of the root
    /// file uses it (imported file), with the synapse mechanisms its receptors use.
    pub(super) fn add_network(&mut self, mid: u32, net: NetworkModel, mechs: Vec<MechModel>) {
        let owner = self.owner(mid);
        if owner == 0 {
            for m in mechs {
                if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                    self.model.mechanisms.push(m);
                }
            }
            self.model.networks.push(net);
        } else {
            self.imported.push(ImportedDecl {
                check: None,
                module: owner,
                name: net.name.clone(),
                neuron: None,
                network: Some(net),
                mechanisms: mechs,
            });
        }
    }

    pub(super) fn population(
        &mut self,
        mid: u32,
        pname: &ast::Ident,
        b: &Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
    ) -> (PopulationModel, Vec<MechModel>, PlacementSpans) {
        let mut spans = PlacementSpans {
            population: pname.name.clone(),
            name: pname.span,
            location: None,
            distance: None,
        };
        let mut p = PopulationModel {
            name: pname.name.clone(),
            fields: BTreeMap::new(),
            receptors: BTreeMap::new(),
        };
        // Synapse mechanisms visible here (declared or imported): name → (index, parameters).
        let synapses: Vec<VisibleSynapse> = self.modules[mid as usize]
            .syms
            .iter()
            .filter_map(|(n, s)| match s.0 {
                Sym::Mech(i) if self.mechs[i].sort == "synapse" => Some((
                    n.clone(),
                    i,
                    self.mechs[i]
                        .params
                        .iter()
                        .map(|x| (x.0.clone(), x.1))
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        // The visible synapse mechanisms that draw their own release.
        let stochastic: Vec<usize> = synapses
            .iter()
            .map(|x| x.1)
            .filter(|&i| mech_draws(&self.mechs[i].model))
            .collect();
        let mut used_synapses: Vec<(String, usize)> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut anatomy_span: Option<Span> = None;
        let mut dynamic_span: Option<Span> = None;
        // Receptors by name, and whether each draws its own release.
        let mut receptor_draws: Vec<(String, bool)> = Vec::new();
        let mut placement_fields: Vec<(String, Span)> = Vec::new();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            let mut scope = self.scope(mid);
            let mut ev = Evaluator {
                diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => {
                    let n = f.name.name.as_str();
                    if n == "location" {
                        // Region names as in neuron blocks (`apical_dendrite`, …).
                        scope.locals = region_locals();
                    }
                    let v = ev.eval(&f.value, &mut scope);
                    let v = match n {
                        "location" => {
                            spans.location = Some(f.value.span);
                            placement_fields.push((n.to_string(), f.name.span));
                            location_value(&mut ev, v, f.value.span)
                        }
                        "distance" => {
                            spans.distance = Some(f.value.span);
                            placement_fields.push((n.to_string(), f.name.span));
                            distance_value(&mut ev, v, f.value.span)
                        }
                        "cells" => want_count(&mut ev, v, f.value.span, "cells", 1),
                        "synapses" => match v {
                            Val::Obj(ref o) if o.kind == "anatomy" => {
                                anatomy_span = Some(f.value.span);
                                v
                            }
                            other => want_count(&mut ev, other, f.value.span, "synapses", 0),
                        },
                        // `"dynamic"`: every spike is delivered and the receptor decides
                        // (ISF's stochastic synapses, spec 04 §4.5).
                        "release_probability" if matches!(&v, Val::Str(x) if x == "dynamic") => {
                            dynamic_span = Some(f.value.span);
                            v
                        }
                        "release_probability" if matches!(&v, Val::Str(_)) => {
                            ev.diags.push(
                                Diagnostic::new(
                                    Code::E0306,
                                    "`release_probability` must be \
                                    a probability or \"dynamic\"",
                                )
                                .label(f.value.span, "unknown release rule")
                                .help(
                                    "write e.g. `release_probability: 0.6`, or \
                                         `\"dynamic\"` for receptors that draw their own \
                                         release (ProbAMPANMDA2, ProbUDFsyn2)",
                                ),
                            );
                            Val::Err
                        }
                        "release_probability" => {
                            let v = ev.expect_dim(v, Dim::ONE, f.value.span, "release_probability");
                            match v.const_si() {
                                Some(x) => ev
                                    .rule(
                                        f.value.span,
                                        rules::probability("`release_probability`", x),
                                    )
                                    .map_or(Val::Err, |_| v),
                                None => v,
                            }
                        }
                        "activity" => match v {
                            Val::Obj(ref o) if builtins::is_activity(o) => v,
                            Val::Err => v,
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "activity must be an activity generator",
                                    )
                                    .label(f.value.span, format!("this is {}", other.type_name()))
                                    .help(
                                        "use poisson(interval: …), psth(bins: …, \
                                    offset: …), spike_times([…]) or a sum of them",
                                    ),
                                );
                                Val::Err
                            }
                        },
                        "delay" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "delay");
                            match v.const_si() {
                                Some(x) => ev
                                    .rule(
                                        f.value.span,
                                        rules::non_negative("`delay`", x * 1e3, "ms"),
                                    )
                                    .map_or(Val::Err, |_| v),
                                None => v,
                            }
                        }
                        "cell_type" | "column" => match v {
                            Val::Str(_) | Val::Err => v,
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0306, format!("`{n}` must be a string"))
                                        .label(
                                            f.value.span,
                                            format!("this is {}", other.type_name()),
                                        ),
                                );
                                Val::Err
                            }
                        },
                        "excitatory" => match v {
                            Val::Bool(Ex::Const(_)) | Val::Err => v,
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "`excitatory` must be true or false",
                                    )
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                                );
                                Val::Err
                            }
                        },
                        _ => {
                            ev.diags
                                .push(decls::POPULATION.unknown_field(n, f.name.span));
                            Val::Err
                        }
                    };
                    if let Some(l) = lower_val(&v) {
                        p.fields.insert(n.to_string(), l);
                    }
                }
                Entry::Block(sb) if sb.head.name == "receptor" => {
                    let Some(rn) = &sb.name else {
                        ev.diags.push(
                            Diagnostic::new(
                                Code::E0101,
                                "a receptor block needs the receptor's name",
                            )
                            .label(sb.head.span, "write `receptor glutamate { … }`"),
                        );
                        continue;
                    };
                    let declared = synapses.iter().find(|x| x.0 == rn.name);
                    let alias: Option<Vec<(String, Dim)>> = receptor_params(&rn.name)
                        .map(|ps| ps.iter().map(|(n, d)| (n.to_string(), *d)).collect());
                    let Some(params) = declared.map(|x| x.2.clone()).or(alias) else {
                        let known: Vec<&str> = crate::network::receptors::names()
                            .map(|n| -> &str { n })
                            .chain(synapses.iter().map(|x| x.0.as_str()))
                            .collect();
                        let mut d =
                            Diagnostic::new(Code::E0206, format!("unknown receptor `{}`", rn.name))
                                .label(rn.span, "not a synapse mechanism");
                        if let Some(h) = did_you_mean(&rn.name, known.iter().copied()) {
                            d = d.help(h);
                        } else {
                            d = d.note(format!(
                                "receptors: {} (or a mechanism declared `: synapse`)",
                                known.join(", ")
                            ));
                        }
                        ev.diags.push(d);
                        continue;
                    };
                    if let Some(x) = declared {
                        used_synapses.push((x.0.clone(), x.1));
                    }
                    let draws = declared.is_some_and(|x| stochastic.contains(&x.1));
                    receptor_draws.push((rn.name.clone(), draws));
                    let mut fields = BTreeMap::new();
                    for f in value_fields(
                        &sb.body,
                        "a receptor block has parameter values only",
                        ev.diags,
                    ) {
                        let Some(&(_, dim)) = params.iter().find(|p| p.0 == f.name.name) else {
                            let mut d = Diagnostic::new(
                                Code::E0210,
                                format!(
                                    "receptor `{}` has no parameter `{}`",
                                    rn.name, f.name.name
                                ),
                            )
                            .label(f.name.span, "unknown parameter");
                            if let Some(h) =
                                did_you_mean(&f.name.name, params.iter().map(|p| p.0.as_str()))
                            {
                                d = d.help(h);
                            } else {
                                d = d.note(format!(
                                    "parameters: {}",
                                    params
                                        .iter()
                                        .map(|p| p.0.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        };
                        let v = ev.eval(&f.value, &mut scope);
                        let v = ev.expect_dim(v, dim, f.value.span, &format!("`{}`", f.name.name));
                        // Weights are conductances ≥ 0, as in a network `.param` file.
                        let v = match v.const_si() {
                            Some(x) if f.name.name.starts_with("weight") => ev
                                .rule(
                                    f.value.span,
                                    rules::non_negative(
                                        &format!("`{}`", f.name.name),
                                        x * 1e9,
                                        "nS",
                                    ),
                                )
                                .map_or(Val::Err, |_| v),
                            _ => v,
                        };
                        if let Some(l) = lower_val(&v) {
                            fields.insert(f.name.name.clone(), l);
                        }
                    }
                    p.receptors.insert(rn.name.clone(), fields);
                }
                Entry::Block(sb) => {
                    let mut d = Diagnostic::new(
                        Code::E0403,
                        format!("unknown block `{}` in a population", sb.head.name),
                    )
                    .label(sb.head.span, "populations contain `receptor` blocks");
                    d = d.suggest(&sb.head.name, decls::POPULATION.block_names());
                    ev.diags.push(d);
                }
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a population").label(
                        other.span(),
                        "write `name: value` fields and `receptor` blocks",
                    ),
                ),
            }
        }
        if let Some(a) = anatomy_span {
            for (n, at) in &placement_fields {
                diags.push(
                    Diagnostic::new(
                        Code::E0401,
                        format!("`{n}` applies to declared synapses, not to an anatomy"),
                    )
                    .label(*at, "this restricts where declared synapses are placed")
                    .label(
                        a,
                        "these synapses come from .syn/.con files with their own locations",
                    )
                    .help(format!("remove `{n}`, or declare a count: `synapses: 100`")),
                );
            }
        }
        if let Some(at) = dynamic_span
            && !receptor_draws.iter().any(|r| r.1)
        {
            let names: Vec<&str> = receptor_draws.iter().map(|r| r.0.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::E0214,
                format!(
                    "population `{}`: release \"dynamic\" needs \
                        a receptor that draws its own release",
                    p.name
                ),
            )
            .label(
                at,
                "every spike is delivered; the receptor decides whether it releases",
            )
            .help(
                "use ProbAMPANMDA2 or ProbUDFsyn2 (`import std.synapses.{ProbAMPANMDA2}`), \
                a synapse whose event uses exprand()/unirand(), or a numeric probability",
            );
            if !names.is_empty() {
                d = d.note(format!(
                    "receptors here: {} (deterministic)",
                    names.join(", ")
                ));
            }
            diags.push(d);
        }
        let mut mechs = Vec::new();
        for (n, i) in used_synapses {
            self.mech_by_name(mid, &n);
            mechs.push(self.mechs[i].model.clone());
        }
        for req in ["cells", "activity"] {
            if !seen.contains_key(req) {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("population `{}` has no `{req}`", pname.name),
                    )
                    .label(pname.span, format!("add `{req}: …`")),
                );
            }
        }
        (p, mechs, spans)
    }
}
