//! `berth diff`: what the backends make of one spec. The concern table (text, JSON, Markdown),
//! unified diffs between two backends' files, and between a fresh compile and an output directory.

use berth_backend::OutputFile;
use berth_compile::Outcome;
use berth_model::concern::{Concern, Realization, Status};
use serde_json::{Map, Value, json};
use similar::TextDiff;

/// One row of the table: a concern and each backend's realization of it.
pub struct Row<'a> {
    pub concern: Concern,
    pub cells: Vec<(&'static str, Option<&'a Realization>)>,
}

impl Row<'_> {
    /// Whether the backends realize this concern differently.
    pub fn differs(&self) -> bool {
        let statuses: Vec<Option<Status>> = self
            .cells
            .iter()
            .map(|(_, r)| r.map(|r| r.status))
            .collect();
        statuses.windows(2).any(|w| w[0] != w[1])
    }
}

pub fn rows(outcome: &Outcome) -> Vec<Row<'_>> {
    Concern::ALL
        .iter()
        .map(|&concern| Row {
            concern,
            cells: outcome
                .outputs
                .iter()
                .map(|o| (o.backend, o.concerns.iter().find(|r| r.concern == concern)))
                .collect(),
        })
        .collect()
}

pub fn json(outcome: &Outcome) -> String {
    let concerns: Vec<Value> = rows(outcome)
        .iter()
        .map(|row| {
            let mut backends = Map::new();
            for (backend, realization) in &row.cells {
                if let Some(r) = realization {
                    backends.insert(
                        backend.to_string(),
                        json!({ "status": r.status, "detail": r.detail }),
                    );
                }
            }
            json!({ "concern": row.concern.name(), "backends": backends })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "concerns": concerns })).expect("JSON values serialize")
        + "\n"
}

pub fn markdown(outcome: &Outcome) -> String {
    let backends: Vec<&str> = outcome.outputs.iter().map(|o| o.backend).collect();
    let mut out = format!(
        "| concern | {} |\n|---|{}\n",
        backends.join(" | "),
        "---|".repeat(backends.len())
    );
    for row in rows(outcome) {
        let mark = if row.differs() { " *" } else { "" };
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|(_, r)| {
                r.map_or("—".to_string(), |r| {
                    format!("**{}**: {}", r.status.name(), markdown_text(&r.detail))
                })
            })
            .collect();
        out.push_str(&format!(
            "| {}{mark} | {} |\n",
            row.concern.name(),
            cells.join(" | ")
        ));
    }
    out.push_str("\n`*`: the backends realize this concern differently.\n");
    out
}

/// Text for a Markdown table cell: `|` would end the cell, and `<...>` (as in
/// `<name>-<ordinal>`) would be read as an HTML tag and vanish.
/// Markdown one heading level down, to sit under a page's own headings (`berth rules` and the
/// page of every backend's README).
pub fn demoted(markdown: &str) -> String {
    markdown
        .lines()
        .map(|l| {
            if l.starts_with('#') {
                format!("#{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn markdown_text(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A fixed-width table of statuses, then each concern's details. Rows whose statuses differ are
/// marked `*`, and with `color` the statuses are coloured.
pub fn text(outcome: &Outcome, color: bool) -> String {
    let rows = rows(outcome);
    let backends: Vec<&str> = outcome.outputs.iter().map(|o| o.backend).collect();
    let first = Concern::ALL
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(0)
        + 2;
    let width = backends
        .iter()
        .map(|b| b.len())
        .max()
        .unwrap_or(0)
        .max("unsupported".len())
        + 2;
    let mut out = format!("  {:first$}", "concern");
    for b in &backends {
        out.push_str(&format!("{b:width$}"));
    }
    out = out.trim_end().to_string() + "\n";
    for row in &rows {
        let mark = if row.differs() { "* " } else { "  " };
        let mut line = format!("{mark}{:first$}", row.concern.name());
        for (_, r) in &row.cells {
            let status = r.map_or("-", |r| r.status.name());
            let padded = format!("{status:width$}");
            line.push_str(&if color {
                paint(r.map(|r| r.status), &padded)
            } else {
                padded
            });
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("\n* the backends realize this concern differently\n");
    for row in &rows {
        out.push_str(&format!("\n{}:\n", row.concern.name()));
        for (backend, r) in &row.cells {
            if let Some(r) = r {
                out.push_str(&format!(
                    "  {backend:width$}{}: {}\n",
                    r.status.name(),
                    r.detail
                ));
            }
        }
    }
    out
}

fn paint(status: Option<Status>, text: &str) -> String {
    let code = match status {
        Some(Status::Native) => "32",
        Some(Status::Emulated) => "36",
        Some(Status::Degraded) => "33",
        Some(Status::Unsupported) => "31",
        None => return text.to_string(),
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// A unified diff of two texts, empty when they are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// Pairs two backends' files for comparison: files of the same name, and else each backend's one
/// top-level YAML file (compose's `compose.yaml` against swarm's `stack.yaml`, not its
/// `members/*.yaml`). Unpaired files are listed.
pub fn backend_files(a: (&str, &[OutputFile]), b: (&str, &[OutputFile])) -> String {
    let mut out = String::new();
    let mut paired_b = Vec::new();
    let yaml = |files: &[OutputFile]| -> Option<usize> {
        let found: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                !f.path.contains('/') && (f.path.ends_with(".yaml") || f.path.ends_with(".yml"))
            })
            .map(|(i, _)| i)
            .collect();
        (found.len() == 1).then(|| found[0])
    };
    for (i, fa) in a.1.iter().enumerate() {
        let partner =
            b.1.iter()
                .position(|fb| fb.path == fa.path)
                .or_else(|| (Some(i) == yaml(a.1)).then(|| yaml(b.1)).flatten());
        match partner {
            Some(j) if !paired_b.contains(&j) => {
                paired_b.push(j);
                let fb = &b.1[j];
                out.push_str(&unified(
                    &fa.contents,
                    &fb.contents,
                    &format!("{}/{}", a.0, fa.path),
                    &format!("{}/{}", b.0, fb.path),
                ));
            }
            _ => out.push_str(&format!("only in {}: {}\n", a.0, fa.path)),
        }
    }
    for (j, fb) in b.1.iter().enumerate() {
        if !paired_b.contains(&j) {
            out.push_str(&format!("only in {}: {}\n", b.0, fb.path));
        }
    }
    out
}
