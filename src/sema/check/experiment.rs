//! `experiment` declarations: neuron, network, stimuli, recordings, replayed input,
//! timing and seeds, lowered to an [`ExperimentModel`].
//!
//! [`Session::experiment`] reads the block in one pass into [`Parts`] (fields may come in
//! any order; plain values are checked by the schema [`decls::EXPERIMENT`]), then checks
//! what needs several fields at once (required fields, replay files against trials, whole
//! steps), and for the root file types the plan: stimuli, recordings, sweeps, work items.

use super::*;

/// Stimuli by name: the lowered fields of each and the span of its block.
type Stimuli = BTreeMap<String, (BTreeMap<String, model::Value>, Span)>;

/// What an experiment's block says, gathered in one pass over its entries.
struct Parts<'b> {
    /// Fields and blocks given so far, for duplicates (E0104) and required fields.
    seen: HashMap<String, Span>,
    /// The neuron's name and the span of its value, and the module that declares it.
    neuron: Option<(String, Span)>,
    neuron_from: Option<u32>,
    network: Option<String>,
    /// Declaring module and span of the network field.
    network_at: Option<(Option<u32>, Span)>,
    /// In ms, with the value's span.
    duration: Option<(f64, Span)>,
    /// In ms, with the value's span when written.
    dt: (f64, Option<Span>),
    trials: u64,
    trials_span: Option<Span>,
    seed: u64,
    store: Option<String>,
    /// Replay files that read, the number listed, and where `replay` is written.
    replay: Vec<ReplaySource>,
    replay_listed: usize,
    replay_span: Option<Span>,
    stimuli: Stimuli,
    /// Lowered recordings (with their precision) and their spans.
    record: Vec<(model::Value, Span)>,
    /// (zip marker, block): a plain `sweep` block makes a grid of its axes, `sweep zip`
    /// varies its axes together.
    sweeps: Vec<(Option<Span>, &'b ast::SubBlock)>,
}

impl Parts<'_> {
    /// The defaults of the schema: `dt: 0.025 ms`, one trial, seed 0.
    fn new() -> Self {
        Parts {
            seen: HashMap::new(),
            neuron: None,
            neuron_from: None,
            network: None,
            network_at: None,
            duration: None,
            dt: (0.025, None),
            trials: 1,
            trials_span: None,
            seed: 0,
            store: None,
            replay: Vec::new(),
            replay_listed: 0,
            replay_span: None,
            stimuli: BTreeMap::new(),
            record: Vec::new(),
            sweeps: Vec::new(),
        }
    }
}

impl Session {
    /// Check an experiment; one of the root file joins the model with its typed plan, and
    /// pulls in the imported neuron and network it uses.
    pub(super) fn experiment(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut parts = self.experiment_parts(mid, b, base, &mut diags);
        required_fields(name, &parts, &mut diags);
        replay_trials(name, &mut parts, &mut diags);
        let n_steps = step_count(&parts, &mut diags);
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if mid != 0 || !ok || !self.pull_used_decls(&parts) {
            return;
        }
        // The typed plan needs the neuron to lower, which the validate pass finds out: it drops
        // what follows (diagnostics and the experiment) if the neuron does not.
        if let Some((nn, _)) = &parts.neuron {
            self.needs_neuron(nn);
        }
        if let (Some((nn, nat)), Some(net), Some((from, _))) =
            (&parts.neuron, &parts.network, parts.network_at)
        {
            self.defer_placement(nn, *nat, net, from.map(|m| self.owner(m)).unwrap_or(0));
        }
        self.experiment_model(mid, name, base, parts, n_steps);
    }

    /// One pass over the block: each field and block checked and recorded in [`Parts`].
    fn experiment_parts<'b>(
        &mut self,
        mid: u32,
        b: &'b Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
    ) -> Parts<'b> {
        let mut parts = Parts::new();
        let region_locals = region_locals();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut parts.seen) {
                diags.push(dup);
                continue;
            }
            let from_module = match entry {
                Entry::Field(f) if matches!(f.name.name.as_str(), "neuron" | "network") => {
                    self.decl_module(mid, &f.value)
                }
                _ => None,
            };
            let mut scope = self.scope(mid);
            scope.locals = region_locals.clone();
            let mut ev = Evaluator {
                diags: &mut *diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => {
                    let v = ev.eval(&f.value, &mut scope);
                    experiment_field(&mut ev, f, v, from_module, base, &mut parts);
                }
                Entry::Block(sb) => match sb.head.name.as_str() {
                    "stimulus" => stimulus_block(&mut ev, &mut scope, sb, &mut parts.stimuli),
                    "record" => record_block(&mut ev, &mut scope, sb, &mut parts.record),
                    _ => other_block(&mut ev, sb, &mut parts.sweeps),
                },
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in an experiment").label(
                        other.span(),
                        "experiments have fields and stimulus, sweep and record blocks",
                    ),
                ),
            }
        }
        parts
    }

    /// The imported neuron and network an experiment of the root file uses join the model;
    /// false when one cannot.
    fn pull_used_decls(&mut self, parts: &Parts) -> bool {
        let mut pulled_ok = true;
        if let Some((n, at)) = &parts.neuron {
            pulled_ok &= self.pull_imported(parts.neuron_from, DeclKind::Neuron, n, *at);
        }
        if let (Some(n), Some((from, at))) = (&parts.network, parts.network_at) {
            pulled_ok &= self.pull_imported(from, DeclKind::Network, n, at);
        }
        pulled_ok
    }

    /// The typed plan: stimuli, recordings and sweep targets, each resolved here so that
    /// the run stage has nothing left to reject; then the number of work items (E0418), and
    /// the experiment joins the model.
    fn experiment_model(
        &mut self,
        mid: u32,
        name: &ast::Ident,
        base: &Path,
        parts: Parts,
        n_steps: u64,
    ) {
        let mut diags = Vec::new();
        let stimuli = typed_stimuli(&parts.stimuli, &mut diags);
        let record = typed_recordings(&parts.record, parts.network.is_some(), name, &mut diags);
        let neuron_name = parts
            .neuron
            .as_ref()
            .map(|n| n.0.clone())
            .unwrap_or_default();
        let (schema, net_error) = self.schema(
            &stimuli,
            &neuron_name,
            parts.network.as_deref(),
            !parts.replay.is_empty(),
        );
        // A network block the run stage could not lower is an error here, not at run time.
        if let (Some(m), Some((_, at))) = (net_error, parts.network_at) {
            diags.push(Diagnostic::new(Code::E0315, m).label(at, "this network"));
        }
        let duration_ms = parts.duration.map(|d| d.0).unwrap_or(0.0);
        let timing = (duration_ms, parts.dt.0);
        let axes = self.sweeps(mid, base, &parts.sweeps, &schema, timing, &mut diags);
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if !ok {
            return;
        }
        let sweep_points = crate::model::sweep::sweep_points(&axes);
        // The work items are planned (and allocated) up front: their number is a checked fact.
        if let Err(b) = crate::rules::work_items(sweep_points, parts.trials) {
            let d = Diagnostic::new(b.code, b.message);
            let d = match (parts.trials_span, parts.sweeps.first()) {
                (Some(t), _) if parts.trials > 1 => d.label(t, b.label),
                (_, Some((_, sb))) => d.label(sb.span, b.label),
                _ => d.label(name.span, b.label),
            };
            self.diags.push(d);
            return;
        }
        self.schemas.push(schema);
        self.model.experiments.push(ExperimentModel {
            name: name.name.clone(),
            neuron: neuron_name,
            network: parts.network,
            duration_ms,
            dt_ms: parts.dt.0,
            n_steps,
            trials: parts.trials,
            seed: parts.seed,
            stimuli,
            sweep: axes,
            sweep_points,
            record,
            store: parts.store,
            replay: parts.replay,
        });
    }
}

/// One `name: value` field of an experiment (`v` is its evaluated value): `neuron` and
/// `network` name declarations, `replay` reads its files, the rest is checked by the schema.
fn experiment_field(
    ev: &mut Evaluator,
    f: &ast::Field,
    v: Val,
    from_module: Option<u32>,
    base: &Path,
    parts: &mut Parts,
) {
    let span = f.value.span;
    match f.name.name.as_str() {
        "neuron" | "network" => decl_field(ev, f, v, from_module, parts),
        "replay" => replay_field(ev, v, span, base, parts),
        _ => {
            let v = schema_field(ev, &decls::EXPERIMENT, f, v);
            let x = v.const_si().unwrap_or(0.0);
            match (f.name.name.as_str(), v) {
                (_, Val::Err) => {}
                ("duration", _) => parts.duration = Some((x * 1e3, span)),
                ("dt", _) => parts.dt = (x * 1e3, Some(span)),
                ("trials", _) => {
                    parts.trials = x as u64;
                    parts.trials_span = Some(span);
                }
                ("seed", _) => parts.seed = x as u64,
                ("store", Val::Str(s)) => {
                    parts.store = Some(base.join(s).to_string_lossy().into_owned())
                }
                _ => {}
            }
        }
    }
}

/// `neuron:` or `network:`: a declaration of that kind (E0409 otherwise), and the module
/// that declares it.
fn decl_field(
    ev: &mut Evaluator,
    f: &ast::Field,
    v: Val,
    from_module: Option<u32>,
    parts: &mut Parts,
) {
    let want = if f.name.name == "neuron" {
        DeclKind::Neuron
    } else {
        DeclKind::Network
    };
    match v {
        Val::Decl(k, n) if k == want && want == DeclKind::Neuron => {
            parts.neuron = Some((n, f.value.span));
            parts.neuron_from = from_module;
        }
        Val::Decl(k, n) if k == want => {
            parts.network = Some(n);
            parts.network_at = Some((from_module, f.value.span));
        }
        Val::Err => {}
        other => ev.diags.push(
            Diagnostic::new(
                Code::E0409,
                format!("`{}` must name a {}", f.name.name, want.as_str()),
            )
            .label(f.value.span, format!("this is {}", other.type_name())),
        ),
    }
}

/// `replay:` a path or a list of paths, one trial per file; each file is read now.
fn replay_field(ev: &mut Evaluator, v: Val, span: Span, base: &Path, parts: &mut Parts) {
    parts.replay_span = Some(span);
    let items = match v {
        Val::List(items) => items,
        other => vec![other],
    };
    if items.is_empty() {
        ev.diags.push(
            Diagnostic::new(Code::E0314, "replay lists no file")
                .label(span, "empty list")
                .help("give one synapse activation or spike-time file per trial"),
        );
    }
    for it in items {
        parts.replay_listed += 1;
        match it {
            Val::Str(s) => parts.replay.extend(replay_source(base, &s, span, ev.diags)),
            Val::Err => {}
            other => ev.diags.push(
                Diagnostic::new(
                    Code::E0306,
                    "replay must be a file path or a list of file paths",
                )
                .label(span, format!("this is {}", other.type_name()))
                .help("write `replay: \"run0.csv\"` or `replay: [\"run0.csv\", \"run1.csv\"]`"),
            ),
        }
    }
}

/// A `stimulus NAME { … }` block: its fields checked by the schema [`decls::STIMULUS`]
/// (`at` by [`stimulus_site`]) and lowered; E0402 when it has no `at`.
fn stimulus_block(
    ev: &mut Evaluator,
    scope: &mut Scope,
    sb: &ast::SubBlock,
    stimuli: &mut Stimuli,
) {
    let sname = sb
        .name
        .as_ref()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "stimulus".into());
    let mut fields = BTreeMap::new();
    for f in value_fields(&sb.body, "a stimulus block has fields only", ev.diags) {
        let v = ev.eval(&f.value, scope);
        let v = match f.name.name.as_str() {
            "at" => stimulus_site(ev, v, f.value.span),
            _ => schema_field(ev, &decls::STIMULUS, f, v),
        };
        if let Some(l) = lower_val(&v) {
            fields.insert(f.name.name.clone(), l);
        }
    }
    let has_at = sb
        .body
        .entries
        .iter()
        .any(|e| matches!(e, Entry::Field(f) if f.name.name == "at"));
    if !has_at {
        ev.diags.push(
            Diagnostic::new(Code::E0402, "stimulus has no site")
                .label(sb.span, "add `at: soma(0.5)`"),
        );
    }
    stimuli.insert(sname, (fields, sb.span));
}

/// A stimulus's `at`: a site; a bare region means its middle, `soma` is `soma(0.5)`.
fn stimulus_site(ev: &mut Evaluator, v: Val, span: Span) -> Val {
    match v {
        Val::Obj(ref o) if matches!(o.kind.as_str(), "site" | "section" | "apical_distance") => v,
        Val::Region(r) => Val::Obj(Obj {
            kind: "site".into(),
            args: vec![("region".into(), Val::Str(r)), ("x".into(), Val::num(0.5))],
        }),
        Val::Err => v,
        other => {
            ev.diags.push(
                Diagnostic::new(Code::E0306, "`at` must be a site")
                    .label(span, format!("this is {}", other.type_name()))
                    .help(
                        "write e.g. `soma(0.5)`, `section(38, 0.5)` or `apical_distance(620 um)`",
                    ),
            );
            Val::Err
        }
    }
}

/// The kinds of value a `record` block records.
const RECORDINGS: &[&str] = &[
    "probe",
    "spikes",
    "current",
    "state",
    "synapse_activations",
    "presynaptic_spikes",
    "all_compartments",
];

/// A `record { … }` block: each entry evaluated (a bare name of [`RECORDABLE`] stands for
/// itself) and lowered with its `precision:`.
fn record_block(
    ev: &mut Evaluator,
    scope: &mut Scope,
    sb: &ast::SubBlock,
    record: &mut Vec<(model::Value, Span)>,
) {
    let (entries, misplaced) = typed::record_entries(&sb.body.entries);
    ev.diags.extend(misplaced);
    for (e, precision) in entries {
        let v = match &e.kind {
            ast::ExprKind::Name(n) if RECORDABLE.contains(&n.as_str()) => Val::Obj(Obj {
                kind: n.clone(),
                args: vec![],
            }),
            _ => ev.eval(e, scope),
        };
        match &v {
            Val::Obj(o) if RECORDINGS.contains(&o.kind.as_str()) => {
                if let Some(mut l) = lower_val(&v) {
                    if let Some(f) = precision {
                        let p = ev.eval(&f.value, scope);
                        if let Err(d) = typed::attach_precision(&mut l, &p, f) {
                            ev.diags.push(d);
                        }
                    }
                    record.push((l, e.span));
                }
            }
            Val::Err => {}
            other => ev.diags.push(
                Diagnostic::new(Code::E0306, "this cannot be recorded")
                    .label(e.span, format!("this is {}", other.type_name()))
                    .help(
                        "record `soma.v`, `spikes(soma)`, `synapse_activations`, \
                         `all_compartments` …",
                    ),
            ),
        }
    }
}

/// A `sweep` or `sweep zip` block (kept for after the plan is typed), or an unknown block
/// (E0403).
fn other_block<'b>(
    ev: &mut Evaluator,
    sb: &'b ast::SubBlock,
    sweeps: &mut Vec<(Option<Span>, &'b ast::SubBlock)>,
) {
    match (sb.head.name.as_str(), &sb.name) {
        ("sweep", None) => sweeps.push((None, sb)),
        ("sweep", Some(n)) if n.name == "zip" => sweeps.push((Some(n.span), sb)),
        ("sweep", Some(n)) => ev.diags.push(
            Diagnostic::new(Code::E0403, format!("unknown sweep kind `{}`", n.name))
                .label(n.span, "write `sweep { … }` (grid) or `sweep zip { … }`"),
        ),
        (other, _) => ev.diags.push(
            Diagnostic::new(
                Code::E0403,
                format!("unknown block `{other}` in an experiment"),
            )
            .label(
                sb.head.span,
                "experiments have stimulus, sweep and record blocks",
            )
            .suggest(other, decls::EXPERIMENT.block_names()),
        ),
    }
}

/// E0402 for a missing `neuron` or `duration` (unless given with a bad value, which has its
/// own error).
fn required_fields(name: &ast::Ident, parts: &Parts, diags: &mut Vec<Diagnostic>) {
    let missing = [
        ("neuron", parts.neuron.is_none(), "add `neuron: NAME`"),
        (
            "duration",
            parts.duration.is_none(),
            "add `duration: 300 ms`",
        ),
    ];
    for (field, absent, fix) in missing {
        if absent && !parts.seen.contains_key(field) {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("experiment `{}` has no {field}", name.name),
                )
                .label(name.span, fix),
            );
        }
    }
}

/// A replay needs a network (E0402) and runs one trial per file: `trials`, when written,
/// must say as much (E0314); else it becomes the number of files.
fn replay_trials(name: &ast::Ident, parts: &mut Parts, diags: &mut Vec<Diagnostic>) {
    let Some(rspan) = parts.replay_span else {
        return;
    };
    if parts.network.is_none() && !parts.seen.contains_key("network") {
        diags.push(
            Diagnostic::new(Code::E0402, "replay needs a network")
                .label(rspan, "recorded input for these synapses")
                .label(name.span, "add `network: NAME`")
                .help(
                    "the network's populations give the receptors and \
                    weights of every cell type in the replay files",
                ),
        );
    }
    let (trials, listed) = (parts.trials, parts.replay_listed);
    match parts.trials_span {
        Some(tspan) if trials != listed as u64 => diags.push(
            Diagnostic::new(
                Code::E0314,
                format!(
                    "trials is {trials}, but replay lists {listed} file{}",
                    if listed == 1 { "" } else { "s" }
                ),
            )
            .label(tspan, "number of trials")
            .label(rspan, "one trial per file")
            .help("leave out `trials`: a replay runs one trial per file"),
        ),
        _ => parts.trials = (listed as u64).max(1),
    }
}

/// The number of time steps of a trial: within the limits (E0418) and a whole number
/// (E0406); 0 when there is no valid duration.
fn step_count(parts: &Parts, diags: &mut Vec<Diagnostic>) -> u64 {
    let Some((dur, dspan)) = parts.duration else {
        return 0;
    };
    let (dt, dt_span) = parts.dt;
    let k = dur / dt;
    let d = if let Err(b) = crate::rules::steps(dur, dt) {
        // Too many to simulate (or to count: 1e300 ms would saturate to u64::MAX).
        Diagnostic::new(b.code, b.message).label(dspan, b.label)
    } else if (k - k.round()).abs() > 1e-9 * k.max(1.0) {
        Diagnostic::new(Code::E0406, "time step does not divide the duration")
            .label(dspan, format!("{dur} ms is {k:.4} steps of {dt} ms"))
    } else {
        return k.round() as u64;
    };
    let d = match dt_span {
        Some(s) => d.label(s, "time step"),
        None => d,
    };
    diags.push(match d.code {
        Code::E0406 => d.help("choose a duration that is a whole number of steps"),
        _ => d,
    });
    0
}

/// The typed stimuli (E0306 for one the run stage could not apply).
fn typed_stimuli(stimuli: &Stimuli, diags: &mut Vec<Diagnostic>) -> Vec<StimulusModel> {
    let mut out = Vec::new();
    for (sname, (fields, span)) in stimuli {
        match typed::stimulus(sname, fields) {
            Ok(s) => out.push(s),
            Err(m) => diags.push(
                Diagnostic::new(Code::E0306, format!("stimulus `{sname}`: {m}"))
                    .label(*span, "in this stimulus"),
            ),
        }
    }
    out
}

/// The typed recordings: synaptic input needs a network (E0402), names are unique (E0416).
fn typed_recordings(
    record: &[(model::Value, Span)],
    has_network: bool,
    name: &ast::Ident,
    diags: &mut Vec<Diagnostic>,
) -> Vec<model::RecordingModel> {
    let mut out: Vec<model::RecordingModel> = Vec::new();
    let mut record_at: Vec<Span> = Vec::new();
    for (v, span) in record {
        let r = match typed::recording(v) {
            Ok(r) => r,
            Err(m) => {
                diags.push(Diagnostic::new(Code::E0306, m).label(*span, "this cannot be recorded"));
                continue;
            }
        };
        let synaptic = matches!(
            r.what,
            model::Recording::SynapseActivations | model::Recording::PresynapticSpikes
        );
        if synaptic && !has_network {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("recording `{}` needs a network", r.name),
                )
                .label(*span, "this records synaptic input")
                .label(name.span, "add `network: NAME` to this experiment"),
            );
        } else if let Some(k) = out.iter().position(|o| o.name == r.name) {
            diags.push(
                Diagnostic::new(
                    Code::E0416,
                    format!("two recordings are both named `{}`", r.name),
                )
                .label(*span, "this recording")
                .label(record_at[k], "has the same name as this one")
                .help("record each variable at each site once"),
            );
        } else {
            out.push(r);
            record_at.push(*span);
        }
    }
    out
}
