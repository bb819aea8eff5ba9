//! `experiment` declarations: neuron, network, stimuli, recordings, replayed input,
//! timing and seeds, lowered to an [`ExperimentModel`].

use super::*;

impl Session {
    pub(super) fn experiment(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut neuron: Option<(String, Span)> = None;
        let mut network: Option<String> = None;
        // Declaring module and span of the neuron and network fields.
        let mut neuron_from: Option<u32> = None;
        let mut network_at: Option<(Option<u32>, Span)> = None;
        let mut duration = None;
        let mut dt = (0.025, None);
        let mut trials = 1u64;
        let mut seed = 0u64;
        let mut store = None;
        // Replay files that read, the number listed, and where `replay`/`trials` are written.
        let mut replay: Vec<ReplaySource> = Vec::new();
        let mut replay_listed = 0usize;
        let mut replay_span: Option<Span> = None;
        let mut trials_span: Option<Span> = None;
        let mut stimuli: BTreeMap<String, (BTreeMap<String, model::Value>, Span)> = BTreeMap::new();
        let mut record = Vec::new();
        // (zip marker, block): a plain `sweep` block makes a grid of its axes, `sweep zip`
        // varies its axes together.
        let mut sweeps: Vec<(Option<Span>, &ast::SubBlock)> = Vec::new();
        let region_locals = region_locals();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
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
                diags: &mut diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => {
                    let v = ev.eval(&f.value, &mut scope);
                    match f.name.name.as_str() {
                        "neuron" | "network" => {
                            let want = if f.name.name == "neuron" {
                                DeclKind::Neuron
                            } else {
                                DeclKind::Network
                            };
                            match v {
                                Val::Decl(k, n) if k == want => {
                                    if want == DeclKind::Neuron {
                                        neuron = Some((n, f.value.span));
                                        neuron_from = from_module;
                                    } else {
                                        network = Some(n);
                                        network_at = Some((from_module, f.value.span));
                                    }
                                }
                                Val::Err => {}
                                other => {
                                    ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0409,
                                            format!(
                                                "`{}` must name a {}",
                                                f.name.name,
                                                want.as_str()
                                            ),
                                        )
                                        .label(
                                            f.value.span,
                                            format!("this is {}", other.type_name()),
                                        ),
                                    );
                                }
                            }
                        }
                        "duration" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "duration");
                            if let Some(x) = v.const_si() {
                                if x <= 0.0 {
                                    ev.diags.push(
                                        Diagnostic::new(Code::E0314, "duration must be positive")
                                            .label(f.value.span, "zero or negative"),
                                    );
                                } else {
                                    duration = Some((x * 1e3, f.value.span));
                                }
                            }
                        }
                        "dt" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "dt");
                            if let Some(x) = v.const_si() {
                                if x <= 0.0 {
                                    ev.diags.push(
                                        Diagnostic::new(Code::E0314, "time step must be positive")
                                            .label(f.value.span, "zero or negative"),
                                    );
                                } else {
                                    dt = (x * 1e3, Some(f.value.span));
                                }
                            }
                        }
                        "trials" => {
                            if let Some(x) = v.const_si().filter(|x| {
                                x.fract() == 0.0
                                    && *x >= 1.0
                                    && matches!(v, Val::Q { dim, .. } if dim.is_one())
                            }) {
                                trials = x as u64;
                                trials_span = Some(f.value.span);
                            } else if !v.is_err() {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0407,
                                        "trials must be a positive integer",
                                    )
                                    .label(f.value.span, format!("this is {}", describe_val(&v))),
                                );
                            }
                        }
                        "seed" => {
                            // The integer rule (E0407) for numbers; anything else is the
                            // wrong type (E0306).
                            match &v {
                                Val::Q { dim, .. } if dim.is_one() && v.const_si().is_some() => {
                                    let x = v.const_si().unwrap_or(0.0);
                                    let r = rules::whole("`seed`", x);
                                    if let Some(x) = ev.rule(f.value.span, r) {
                                        seed = x as u64;
                                    }
                                }
                                Val::Err => {}
                                _ => ev.diags.push(
                                    Diagnostic::new(Code::E0306, "seed must be a whole number")
                                        .label(
                                            f.value.span,
                                            format!("this is {}", describe_val(&v)),
                                        ),
                                ),
                            }
                        }
                        "replay" => {
                            replay_span = Some(f.value.span);
                            let items = match v {
                                Val::List(items) => items,
                                other => vec![other],
                            };
                            if items.is_empty() {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0314, "replay lists no file")
                                        .label(f.value.span, "empty list")
                                        .help(
                                            "give one synapse activation \
                                            or spike-time file per trial",
                                        ),
                                );
                            }
                            for it in items {
                                replay_listed += 1;
                                match it {
                                    Val::Str(s) => {
                                        if let Some(r) =
                                            replay_source(base, &s, f.value.span, ev.diags)
                                        {
                                            replay.push(r);
                                        }
                                    }
                                    Val::Err => {}
                                    other => ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0306,
                                            "replay must be a file path or a list of file paths",
                                        )
                                        .label(
                                            f.value.span,
                                            format!("this is {}", other.type_name()),
                                        )
                                        .help(
                                            "write `replay: \"run0.csv\"` or \
                                            `replay: [\"run0.csv\", \"run1.csv\"]`",
                                        ),
                                    ),
                                }
                            }
                        }
                        "store" => match v {
                            Val::Str(s) => {
                                store = Some(base.join(s).to_string_lossy().into_owned())
                            }
                            Val::Err => {}
                            other => ev.diags.push(
                                Diagnostic::new(Code::E0306, "store must be a path string")
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                            ),
                        },
                        other => ev
                            .diags
                            .push(decls::EXPERIMENT.unknown_field(other, f.name.span)),
                    }
                }
                Entry::Block(sb) => match sb.head.name.as_str() {
                    "stimulus" => {
                        let sname = sb
                            .name
                            .as_ref()
                            .map(|n| n.name.clone())
                            .unwrap_or_else(|| "stimulus".into());
                        let mut fields = BTreeMap::new();
                        for f in
                            value_fields(&sb.body, "a stimulus block has fields only", ev.diags)
                        {
                            let v = ev.eval(&f.value, &mut scope);
                            let v = match f.name.name.as_str() {
                                "at" => match v {
                                    Val::Obj(ref o)
                                        if o.kind == "site"
                                            || o.kind == "section"
                                            || o.kind == "apical_distance" =>
                                    {
                                        v
                                    }
                                    Val::Region(r) => Val::Obj(Obj {
                                        kind: "site".into(),
                                        args: vec![
                                            ("region".into(), Val::Str(r)),
                                            ("x".into(), Val::num(0.5)),
                                        ],
                                    }),
                                    Val::Err => v,
                                    other => {
                                        ev.diags.push(
                                            Diagnostic::new(Code::E0306, "`at` must be a site")
                                                .label(
                                                    f.value.span,
                                                    format!("this is {}", other.type_name()),
                                                )
                                                .help(
                                                    "write e.g. `soma(0.5)`, `section(38, \
                                                0.5)` or `apical_distance(620 um)`",
                                                ),
                                        );
                                        Val::Err
                                    }
                                },
                                "kind" => match v {
                                    Val::Str(ref s) if ["step", "epsp"].contains(&s.as_str()) => v,
                                    _ => {
                                        ev.diags.push(
                                            Diagnostic::new(
                                                Code::E0306,
                                                "`kind` must be \"step\" or \"epsp\"",
                                            )
                                            .label(f.value.span, "unknown stimulus kind"),
                                        );
                                        Val::Err
                                    }
                                },
                                "amp" | "imax" => ev.expect_dim(
                                    v,
                                    Dim::CURRENT,
                                    f.value.span,
                                    &format!("`{}`", f.name.name),
                                ),
                                "delay" | "duration" | "onset" | "tau_rise" | "tau_decay" => ev
                                    .expect_dim(
                                        v,
                                        Dim::TIME,
                                        f.value.span,
                                        &format!("`{}`", f.name.name),
                                    ),
                                other => {
                                    let d = decls::STIMULUS.unknown_field(other, f.name.span);
                                    ev.diags.push(d);
                                    Val::Err
                                }
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
                    "record" => {
                        let (entries, misplaced) = typed::record_entries(&sb.body.entries);
                        ev.diags.extend(misplaced);
                        for (e, precision) in entries {
                            let v = if let ast::ExprKind::Name(n) = &e.kind {
                                if RECORDABLE.contains(&n.as_str()) {
                                    Val::Obj(Obj {
                                        kind: n.clone(),
                                        args: vec![],
                                    })
                                } else {
                                    ev.eval(e, &mut scope)
                                }
                            } else {
                                ev.eval(e, &mut scope)
                            };
                            match &v {
                                Val::Obj(o)
                                    if [
                                        "probe",
                                        "spikes",
                                        "current",
                                        "state",
                                        "synapse_activations",
                                        "presynaptic_spikes",
                                        "all_compartments",
                                    ]
                                    .contains(&o.kind.as_str()) =>
                                {
                                    if let Some(mut l) = lower_val(&v) {
                                        if let Some(f) = precision {
                                            let p = ev.eval(&f.value, &mut scope);
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
                                            "record `soma.v`, `spikes(soma)`, \
                                    `synapse_activations`, `all_compartments` …",
                                        ),
                                ),
                            }
                        }
                    }
                    "sweep" => match &sb.name {
                        None => sweeps.push((None, sb)),
                        Some(n) if n.name == "zip" => sweeps.push((Some(n.span), sb)),
                        Some(n) => ev.diags.push(
                            Diagnostic::new(
                                Code::E0403,
                                format!("unknown sweep kind `{}`", n.name),
                            )
                            .label(n.span, "write `sweep { … }` (grid) or `sweep zip { … }`"),
                        ),
                    },
                    other => {
                        let mut d = Diagnostic::new(
                            Code::E0403,
                            format!("unknown block `{other}` in an experiment"),
                        )
                        .label(
                            sb.head.span,
                            "experiments have stimulus, sweep and record blocks",
                        );
                        d = d.suggest(other, decls::EXPERIMENT.block_names());
                        ev.diags.push(d);
                    }
                },
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in an experiment").label(
                        other.span(),
                        "experiments have fields and stimulus, sweep and record blocks",
                    ),
                ),
            }
        }
        if neuron.is_none() && !seen.contains_key("neuron") {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("experiment `{}` has no neuron", name.name),
                )
                .label(name.span, "add `neuron: NAME`"),
            );
        }
        if duration.is_none() && !seen.contains_key("duration") {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("experiment `{}` has no duration", name.name),
                )
                .label(name.span, "add `duration: 300 ms`"),
            );
        }
        if let Some(rspan) = replay_span {
            if network.is_none() && !seen.contains_key("network") {
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
            match trials_span {
                Some(tspan) if trials != replay_listed as u64 => diags.push(
                    Diagnostic::new(
                        Code::E0314,
                        format!(
                            "trials is {trials}, but replay lists {replay_listed} file{}",
                            if replay_listed == 1 { "" } else { "s" }
                        ),
                    )
                    .label(tspan, "number of trials")
                    .label(rspan, "one trial per file")
                    .help("leave out `trials`: a replay runs one trial per file"),
                ),
                _ => trials = (replay_listed as u64).max(1),
            }
        }
        let mut n_steps = 0;
        if let Some((dur, dspan)) = duration {
            let k = dur / dt.0;
            if let Err(b) = crate::rules::steps(dur, dt.0) {
                // Too many to simulate (or to count: 1e300 ms would saturate to u64::MAX).
                let mut d = Diagnostic::new(b.code, b.message).label(dspan, b.label);
                if let Some(s) = dt.1 {
                    d = d.label(s, "time step");
                }
                diags.push(d);
            } else if (k - k.round()).abs() > 1e-9 * k.max(1.0) {
                let mut d = Diagnostic::new(Code::E0406, "time step does not divide the duration")
                    .label(dspan, format!("{dur} ms is {k:.4} steps of {} ms", dt.0));
                if let Some(s) = dt.1 {
                    d = d.label(s, "time step");
                }
                diags.push(d.help("choose a duration that is a whole number of steps"));
            } else {
                n_steps = k.round() as u64;
            }
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if mid != 0 || !ok {
            return;
        }
        // Neurons and networks of imported files join the model when used here.
        let mut pulled_ok = true;
        if let Some((n, at)) = &neuron {
            pulled_ok &= self.pull_imported(neuron_from, DeclKind::Neuron, n, *at);
        }
        if let (Some(n), Some((from, at))) = (&network, network_at) {
            pulled_ok &= self.pull_imported(from, DeclKind::Network, n, at);
        }
        if !pulled_ok {
            return;
        }
        // The typed plan needs the neuron to lower, which the validate pass finds out: it drops
        // what follows (diagnostics and the experiment) if the neuron does not.
        if let Some((nn, _)) = &neuron {
            self.needs_neuron(nn);
        }
        if let (Some((nn, nat)), Some(net), Some((from, _))) = (&neuron, &network, network_at) {
            self.defer_placement(nn, *nat, net, from.map(|m| self.owner(m)).unwrap_or(0));
        }
        // The typed plan: stimuli, recordings and sweep targets, each resolved here so that
        // the run stage has nothing left to reject.
        let mut diags = Vec::new();
        let mut typed_stimuli = Vec::new();
        for (sname, (fields, span)) in &stimuli {
            match typed::stimulus(sname, fields) {
                Ok(s) => typed_stimuli.push(s),
                Err(m) => diags.push(
                    Diagnostic::new(Code::E0306, format!("stimulus `{sname}`: {m}"))
                        .label(*span, "in this stimulus"),
                ),
            }
        }
        let mut typed_record: Vec<model::RecordingModel> = Vec::new();
        let mut record_at: Vec<Span> = Vec::new();
        for (v, span) in &record {
            match typed::recording(v) {
                Ok(r)
                    if network.is_none()
                        && matches!(
                            r.what,
                            model::Recording::SynapseActivations
                                | model::Recording::PresynapticSpikes
                        ) =>
                {
                    diags.push(
                        Diagnostic::new(
                            Code::E0402,
                            format!("recording `{}` needs a network", r.name),
                        )
                        .label(*span, "this records synaptic input")
                        .label(name.span, "add `network: NAME` to this experiment"),
                    );
                }
                Ok(r) => {
                    if let Some(k) = typed_record.iter().position(|o| o.name == r.name) {
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
                        typed_record.push(r);
                        record_at.push(*span);
                    }
                }
                Err(m) => diags
                    .push(Diagnostic::new(Code::E0306, m).label(*span, "this cannot be recorded")),
            }
        }
        let neuron_name = neuron.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let (schema, net_error) = self.schema(
            &typed_stimuli,
            &neuron_name,
            network.as_deref(),
            !replay.is_empty(),
        );
        // A network block the run stage could not lower is an error here, not at run time.
        if let (Some(m), Some((_, at))) = (net_error, network_at) {
            diags.push(Diagnostic::new(Code::E0315, m).label(at, "this network"));
        }
        let axes = self.sweeps(
            mid,
            base,
            &sweeps,
            &schema,
            (duration.map(|d| d.0).unwrap_or(0.0), dt.0),
            &mut diags,
        );
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if !ok {
            return;
        }
        let sweep_points = crate::model::sweep::sweep_points(&axes);
        // The work items are planned (and allocated) up front: their number is a checked fact.
        if let Err(b) = crate::rules::work_items(sweep_points, trials) {
            let mut d = Diagnostic::new(b.code, b.message);
            d = match (trials_span, sweeps.first()) {
                (Some(t), _) if trials > 1 => d.label(t, b.label),
                (_, Some((_, sb))) => d.label(sb.span, b.label),
                _ => d.label(name.span, b.label),
            };
            self.diags.push(d);
            return;
        }
        self.schemas.push(schema);
        self.model.experiments.push(ExperimentModel {
            name: name.name.clone(),
            neuron: neuron.map(|n| n.0).unwrap_or_default(),
            network,
            duration_ms: duration.map(|d| d.0).unwrap_or(0.0),
            dt_ms: dt.0,
            n_steps,
            trials,
            seed,
            stimuli: typed_stimuli,
            sweep: axes,
            sweep_points,
            record: typed_record,
            store,
            replay,
        });
    }
}
