//! The order of a module's top-level lets (each after the lets it names) and the
//! diagnostic for a cycle among them.

use super::*;

/// One top-level let of a cycle: its index in the module's lets and where it names the next
/// member of the cycle.
pub(super) type CycleStep = (usize, Span);

/// The order in which to evaluate a module's top-level lets (every let after the lets it
/// names) and the cycles among them. Each cycle lists its members in dependency order, from
/// the member reached first in source order.
pub(super) fn let_order(lets: &[&ast::Let]) -> (Vec<usize>, Vec<Vec<CycleStep>>) {
    let index: HashMap<&str, usize> = lets
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<(usize, Span)>> = lets
        .iter()
        .map(|l| {
            let mut names = Vec::new();
            referenced_names(&l.value, &mut names);
            names
                .into_iter()
                .filter_map(|(n, at)| index.get(n.as_str()).map(|&j| (j, at)))
                .collect()
        })
        .collect();
    // 0 unvisited, 1 on the path, 2 done. Iterative depth-first search: (let, next dep).
    let mut state = vec![0u8; lets.len()];
    let mut order = Vec::new();
    let mut cycles: Vec<Vec<CycleStep>> = Vec::new();
    for root in 0..lets.len() {
        if state[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (i, ref mut k)) = path.last_mut() {
            if let Some(&(j, at)) = deps[i].get(*k) {
                *k += 1;
                match state[j] {
                    0 => {
                        state[j] = 1;
                        path.push((j, 0));
                    }
                    1 => {
                        // The path from `j` to `i`, then `i` names `j`: a cycle.
                        let from = path.iter().position(|p| p.0 == j).unwrap_or(0);
                        let mut cycle: Vec<CycleStep> = path[from..]
                            .windows(2)
                            .map(|w| (w[0].0, deps[w[0].0][w[0].1 - 1].1))
                            .collect();
                        cycle.push((i, at));
                        cycles.push(cycle);
                    }
                    _ => {}
                }
            } else {
                state[i] = 2;
                order.push(i);
                path.pop();
            }
        }
    }
    (order, cycles)
}

/// Names an expression refers to, with where. A called name is a builtin, not a let (a
/// region called with a position comes from the context, never from a let).
pub(super) fn referenced_names(e: &ast::Expr, out: &mut Vec<(String, Span)>) {
    use ast::ExprKind as K;
    match &e.kind {
        K::Name(n) => out.push((n.clone(), e.span)),
        K::Number { .. } | K::Quantity { .. } | K::Str(_) | K::Bool(_) => {}
        K::Unary(_, a) | K::Paren(a) | K::Member(a, _) => referenced_names(a, out),
        K::Binary(_, a, b) | K::Index(a, b) => {
            referenced_names(a, out);
            referenced_names(b, out);
        }
        K::If(c, a, b) => {
            referenced_names(c, out);
            referenced_names(a, out);
            referenced_names(b, out);
        }
        K::Call(callee, args) => {
            if !matches!(callee.kind, K::Name(_)) {
                referenced_names(callee, out);
            }
            for a in args {
                referenced_names(&a.value, out);
            }
        }
        K::List(items) | K::Tuple(items) => {
            for it in items {
                referenced_names(it, out);
            }
        }
        K::Record(fields) => {
            for (_, v) in fields {
                referenced_names(v, out);
            }
        }
        K::Range { start, end, step } => {
            referenced_names(start, out);
            referenced_names(end, out);
            if let Some(s) = step {
                referenced_names(s, out);
            }
        }
    }
}

/// E0212 for a cycle of top-level lets: the first member's definition, every reference that
/// closes a step, and the cycle spelled out.
pub(super) fn cycle_diagnostic(lets: &[&ast::Let], cycle: &[CycleStep]) -> Diagnostic {
    let name = |i: usize| lets[i].name.name.as_str();
    let first = cycle[0].0;
    let mut chain: Vec<&str> = cycle.iter().map(|&(i, _)| name(i)).collect();
    chain.push(name(first));
    let mut d = Diagnostic::new(
        Code::E0212,
        format!("cyclic definition: `{}` depends on itself", name(first)),
    )
    .label(
        lets[first].name.span,
        if cycle.len() == 1 {
            format!("`{}` is defined in terms of itself", name(first))
        } else {
            format!(
                "`{}` is defined in terms of itself (through {})",
                name(first),
                chain[1..chain.len() - 1]
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    for (k, &(i, at)) in cycle.iter().enumerate() {
        let next = cycle.get(k + 1).map_or(first, |c| c.0);
        d = d.label(at, format!("`{}` uses `{}` here", name(i), name(next)));
    }
    d.note(format!("cycle: {}", chain.join(" → ")))
        .help("give one of these lets a value that does not refer back to it")
}
