//! `network` declarations: populations (cell types, receptors, activity, declared
//! synapses and where they are placed). Whether declared synapses have a place on an
//! experiment's neuron needs the lowered cell: the validate pass checks it
//! ([`Session::defer_placement`]).

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

    /// A `population NAME { … }` block: its fields (plain values checked by the schema
    /// [`decls::POPULATION`]) and receptor blocks, then the rules between fields. Returns
    /// the population, the synapse mechanisms its receptors use, and where it restricts the
    /// placement of declared synapses.
    pub(super) fn population(
        &mut self,
        mid: u32,
        pname: &ast::Ident,
        b: &Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
    ) -> (PopulationModel, Vec<MechModel>, PlacementSpans) {
        let synapses = self.visible_synapses(mid);
        let mut pop = PopParts::new(pname);
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut pop.seen) {
                diags.push(dup);
                continue;
            }
            let mut scope = self.scope(mid);
            let mut ev = Evaluator {
                diags: &mut *diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => population_field(&mut ev, &mut scope, f, &mut pop),
                Entry::Block(sb) if sb.head.name == "receptor" => {
                    receptor_block(&mut ev, &mut scope, sb, &synapses, &mut pop)
                }
                Entry::Block(sb) => ev.diags.push(
                    Diagnostic::new(
                        Code::E0403,
                        format!("unknown block `{}` in a population", sb.head.name),
                    )
                    .label(sb.head.span, "populations contain `receptor` blocks")
                    .suggest(&sb.head.name, decls::POPULATION.block_names()),
                ),
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a population").label(
                        other.span(),
                        "write `name: value` fields and `receptor` blocks",
                    ),
                ),
            }
        }
        pop.check_between_fields(diags);
        let mut mechs = Vec::new();
        for (n, i) in &pop.used_synapses {
            self.mech_by_name(mid, n);
            mechs.push(self.mechs[*i].model.clone());
        }
        for req in ["cells", "activity"] {
            if !pop.seen.contains_key(req) {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("population `{}` has no `{req}`", pname.name),
                    )
                    .label(pname.span, format!("add `{req}: …`")),
                );
            }
        }
        (pop.p, mechs, pop.spans)
    }

    /// The synapse mechanisms visible in a module (declared or imported).
    fn visible_synapses(&self, mid: u32) -> Vec<VisibleSynapse> {
        self.modules[mid as usize]
            .syms
            .iter()
            .filter_map(|(n, s)| match s.0 {
                Sym::Mech(i) if self.mechs[i].sort == "synapse" => {
                    let m = &self.mechs[i];
                    Some(VisibleSynapse {
                        name: n.clone(),
                        index: i,
                        params: m.params.iter().map(|x| (x.0.clone(), x.1)).collect(),
                        draws: mech_draws(&m.model),
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// A synapse mechanism visible in a module, as a receptor block names it.
struct VisibleSynapse {
    /// The name it is visible under.
    name: String,
    /// Its index in the session's `mechs`.
    index: usize,
    /// (name, dimension) of each parameter.
    params: Vec<(String, Dim)>,
    /// Whether its event block draws its own release.
    draws: bool,
}

/// What a population block says, gathered in one pass over its entries.
struct PopParts {
    p: PopulationModel,
    spans: PlacementSpans,
    /// Fields and blocks given so far, for duplicates (E0104) and required fields.
    seen: HashMap<String, Span>,
    /// Declared synapse mechanisms its receptors use: (name, index in `mechs`).
    used_synapses: Vec<(String, usize)>,
    /// Where `synapses: anatomy(…)` and `release_probability: "dynamic"` are written.
    anatomy_span: Option<Span>,
    dynamic_span: Option<Span>,
    /// Receptors by name, and whether each draws its own release.
    receptor_draws: Vec<(String, bool)>,
    /// `location` and `distance`, where written.
    placement_fields: Vec<(String, Span)>,
}

impl PopParts {
    fn new(pname: &ast::Ident) -> Self {
        PopParts {
            p: PopulationModel {
                name: pname.name.clone(),
                fields: BTreeMap::new(),
                receptors: BTreeMap::new(),
            },
            spans: PlacementSpans {
                population: pname.name.clone(),
                name: pname.span,
                location: None,
                distance: None,
            },
            seen: HashMap::new(),
            used_synapses: Vec::new(),
            anatomy_span: None,
            dynamic_span: None,
            receptor_draws: Vec::new(),
            placement_fields: Vec::new(),
        }
    }

    /// Rules between fields: placement applies to declared synapses only, not to an
    /// anatomy (E0401); release `"dynamic"` needs a receptor that draws (E0214).
    fn check_between_fields(&self, diags: &mut Vec<Diagnostic>) {
        if let Some(a) = self.anatomy_span {
            for (n, at) in &self.placement_fields {
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
        if let Some(at) = self.dynamic_span
            && !self.receptor_draws.iter().any(|r| r.1)
        {
            let names: Vec<&str> = self.receptor_draws.iter().map(|r| r.0.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::E0214,
                format!(
                    "population `{}`: release \"dynamic\" needs \
                        a receptor that draws its own release",
                    self.p.name
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
    }
}

/// One `name: value` field of a population: placement (`location`, `distance`), an anatomy
/// or a count of `synapses`, a release rule, activity; the rest is checked by the schema.
fn population_field(ev: &mut Evaluator, scope: &mut Scope, f: &ast::Field, pop: &mut PopParts) {
    let n = f.name.name.as_str();
    if n == "location" {
        // Region names as in neuron blocks (`apical_dendrite`, …).
        scope.locals = region_locals();
    }
    let v = ev.eval(&f.value, scope);
    let span = f.value.span;
    let v = match n {
        "location" => {
            pop.spans.location = Some(span);
            pop.placement_fields.push((n.to_string(), f.name.span));
            location_value(ev, v, span)
        }
        "distance" => {
            pop.spans.distance = Some(span);
            pop.placement_fields.push((n.to_string(), f.name.span));
            distance_value(ev, v, span)
        }
        "synapses" if matches!(&v, Val::Obj(o) if o.kind == "anatomy") => {
            pop.anatomy_span = Some(span);
            v
        }
        // `"dynamic"`: every spike is delivered and the receptor decides (ISF's stochastic
        // synapses, spec 04 §4.5).
        "release_probability" if matches!(&v, Val::Str(x) if x == "dynamic") => {
            pop.dynamic_span = Some(span);
            v
        }
        "release_probability" if matches!(&v, Val::Str(_)) => {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0306,
                    "`release_probability` must be a probability or \"dynamic\"",
                )
                .label(span, "unknown release rule")
                .help(
                    "write e.g. `release_probability: 0.6`, or `\"dynamic\"` for receptors \
                     that draw their own release (ProbAMPANMDA2, ProbUDFsyn2)",
                ),
            );
            Val::Err
        }
        "activity" => match v {
            Val::Obj(ref o) if builtins::is_activity(o) => v,
            Val::Err => v,
            other => {
                ev.diags.push(
                    Diagnostic::new(Code::E0306, "activity must be an activity generator")
                        .label(span, format!("this is {}", other.type_name()))
                        .help(
                            "use poisson(interval: …), psth(bins: …, offset: …), \
                             spike_times([…]) or a sum of them",
                        ),
                );
                Val::Err
            }
        },
        _ => schema_field(ev, &decls::POPULATION, f, v),
    };
    if let Some(l) = lower_val(&v) {
        pop.p.fields.insert(n.to_string(), l);
    }
}

/// A `receptor NAME { PARAM: … }` block: a visible synapse mechanism or a known receptor
/// (E0206), whose parameters it sets (E0210) in their dimensions; weights are
/// conductances ≥ 0, as in a network `.param` file.
fn receptor_block(
    ev: &mut Evaluator,
    scope: &mut Scope,
    sb: &ast::SubBlock,
    synapses: &[VisibleSynapse],
    pop: &mut PopParts,
) {
    let Some(rn) = &sb.name else {
        ev.diags.push(
            Diagnostic::new(Code::E0101, "a receptor block needs the receptor's name")
                .label(sb.head.span, "write `receptor glutamate { … }`"),
        );
        return;
    };
    let declared = synapses.iter().find(|x| x.name == rn.name);
    let alias: Option<Vec<(String, Dim)>> =
        receptor_params(&rn.name).map(|ps| ps.iter().map(|(n, d)| (n.to_string(), *d)).collect());
    let Some(params) = declared.map(|x| x.params.clone()).or(alias) else {
        let known = crate::network::receptors::names()
            .map(|n| -> &str { n })
            .chain(synapses.iter().map(|x| x.name.as_str()));
        ev.diags.push(
            Diagnostic::new(Code::E0206, format!("unknown receptor `{}`", rn.name))
                .label(rn.span, "not a synapse mechanism")
                .suggest_or_list(&rn.name, known, |all| {
                    format!("receptors: {all} (or a mechanism declared `: synapse`)")
                }),
        );
        return;
    };
    if let Some(x) = declared {
        pop.used_synapses.push((x.name.clone(), x.index));
    }
    let draws = declared.is_some_and(|x| x.draws);
    pop.receptor_draws.push((rn.name.clone(), draws));
    let mut fields = BTreeMap::new();
    for f in value_fields(
        &sb.body,
        "a receptor block has parameter values only",
        ev.diags,
    ) {
        let Some(&(_, dim)) = params.iter().find(|p| p.0 == f.name.name) else {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0210,
                    format!("receptor `{}` has no parameter `{}`", rn.name, f.name.name),
                )
                .label(f.name.span, "unknown parameter")
                .suggest_or_list(
                    &f.name.name,
                    params.iter().map(|p| p.0.as_str()),
                    |all| format!("parameters: {all}"),
                ),
            );
            continue;
        };
        let what = format!("`{}`", f.name.name);
        let v = ev.eval(&f.value, scope);
        let v = ev.expect_dim(v, dim, f.value.span, &what);
        let v = match v.const_si() {
            Some(x) if f.name.name.starts_with("weight") => ev
                .rule(f.value.span, rules::non_negative(&what, x * 1e9, "nS"))
                .map_or(Val::Err, |_| v),
            _ => v,
        };
        if let Some(l) = lower_val(&v) {
            fields.insert(f.name.name.clone(), l);
        }
    }
    pop.p.receptors.insert(rn.name.clone(), fields);
}
