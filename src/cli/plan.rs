//! `isf plan FILE [--json]`: print the lowered model of a script in a stable, readable form.

use super::check::{Format, emit};
use crate::model::Model;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;

/// Arguments of `isf plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Script to lower.
    pub file: PathBuf,
    /// Print JSON instead of the readable form.
    #[arg(long)]
    pub json: bool,
}

/// Run `isf plan`; exit 1 when the script has errors.
pub fn run(args: PlanArgs) -> i32 {
    let checked = crate::sema::check_path(&args.file);
    if checked.has_errors() {
        emit(&checked.diagnostics, &checked.sources, Format::Human);
        return 1;
    }
    emit(&checked.diagnostics, &checked.sources, Format::Human);
    if args.json {
        let mut v = serde_json::to_value(&checked.model).unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("hash".into(), Value::String(checked.model.content_hash()));
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", render_plan(&checked.model));
    }
    0
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

fn scalar(v: &Value) -> Option<String> {
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
