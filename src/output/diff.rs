//! `berth diff`: what the backends make of one spec. The concern table (text, JSON, Markdown),
//! unified diffs between two backends' files, and between a fresh compile and an output directory.

use crate::engine::backend::OutputFile;
use crate::engine::compile::Outcome;
use crate::model::concern::{Concern, Realization, Status};
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

/// Changes that an orchestrator cannot apply in place, between the files in an output directory
/// and a fresh compile: each warning names the field and the safe migration.
pub fn upgrade_warnings(
    old: &dyn Fn(&str) -> Option<String>,
    planned: &[crate::output::Planned],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for file in planned {
        let Some(before) = old(&file.path) else {
            continue;
        };
        if before == file.contents {
            continue;
        }
        warnings.extend(file_restarts(&file.path));
        if file.path.ends_with(".yaml") {
            let (Ok(a), Ok(b)) = (
                serde_saphyr::from_str::<Value>(&before),
                serde_saphyr::from_str::<Value>(&file.contents),
            ) else {
                continue;
            };
            warnings.extend(kubernetes_immutable(&file.path, &a, &b));
        } else if file.path.contains("marathon/")
            && file.path.ends_with(".json")
            && !file.path.ends_with(".metronome.json")
        {
            let (Ok(a), Ok(b)) = (
                serde_json::from_str::<Value>(&before),
                serde_json::from_str::<Value>(&file.contents),
            ) else {
                continue;
            };
            let size = |app: &Value| {
                app["container"]["volumes"].as_array().map(|v| {
                    v.iter()
                        .map(|v| v["persistent"]["size"].clone())
                        .collect::<Vec<_>>()
                })
            };
            // The group file repeats the member files; each member is reported once, from its own.
            if a.get("apps").is_some() {
                continue;
            }
            for (x, y) in [(&a, &b)] {
                if x["id"] == y["id"] && size(x) != size(y) {
                    warnings.push(format!(
                        "warning[upgrade/marathon-volume-size]: {}: the persistent volume size of `{}` changes, which Marathon cannot do in place: the app would get a new, empty volume\n  = help: add a member with the new size, let it catch up, then retire the old one",
                        file.path,
                        y["id"].as_str().unwrap_or("")
                    ));
                }
            }
        }
    }
    warnings
}

/// What a changed `[[files]]` entry does to the members that read it, on the backends whose
/// output holds the file itself.
fn file_restarts(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts
        .iter()
        .position(|p| *p == "files" || p.ends_with("-files.yaml"))?;
    let backend = *parts.get(at.checked_sub(1)?)?;
    let member = parts.get(at + 1).copied().unwrap_or("each member");
    let effect = match backend {
        "docker" => format!(
            "run.sh reports `{member}` as made from another spec: stop and remove it (its volumes stay) and run run.sh again to apply the file"
        ),
        "compose" => format!(
            "`docker-compose up` recreates `{member}`, together with every other member whose file changed"
        ),
        "swarm" => {
            format!("the file is a new config: deploy.sh replaces `{member}`, one member at a time")
        }
        "kubernetes" => {
            "the pod template's `berth.dev/files` hash changes: the pods roll one at a time"
                .to_string()
        }
        _ => return None,
    };
    Some(format!("note[upgrade/file-changed]: {path}: {effect}"))
}

/// StatefulSet fields other than these, and a Job's template, are immutable.
const STATEFULSET_MUTABLE: [&str; 6] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn kubernetes_immutable(path: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut warnings = Vec::new();
    match (old["kind"].as_str(), new["kind"].as_str()) {
        (Some("StatefulSet"), Some("StatefulSet")) => {
            let empty = Map::new();
            let (a, b) = (
                old["spec"].as_object().unwrap_or(&empty),
                new["spec"].as_object().unwrap_or(&empty),
            );
            let mut keys: Vec<&String> = a
                .keys()
                .chain(b.keys())
                .filter(|k| !STATEFULSET_MUTABLE.contains(&k.as_str()))
                .collect();
            keys.sort();
            keys.dedup();
            for key in keys.into_iter().filter(|k| a.get(*k) != b.get(*k)) {
                let help = if key == "volumeClaimTemplates" {
                    "to grow a disk, expand each claim (`kubectl patch pvc NAME -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"SIZE\"}}}}'`, where the class allows expansion), then `kubectl delete statefulset NAME --cascade=orphan` and apply: pods and claims stay"
                } else {
                    "`kubectl delete statefulset NAME --cascade=orphan` (pods and claims stay), then apply the new files"
                };
                warnings.push(format!("warning[upgrade/statefulset-immutable]: {path}: `spec.{key}` changes, which Kubernetes refuses on an existing StatefulSet\n  = help: {help}"));
            }
        }
        (Some("Job"), Some("Job")) if old["spec"]["template"] != new["spec"]["template"] => {
            let rerun = if new["metadata"]["annotations"]
                [crate::engine::backends::kubernetes::RERUN_SAFE]
                == "true"
            {
                "it runs again, and `[init] done_output` makes it succeed on the initialized cluster"
            } else {
                "it runs again, and fails if its command cannot run twice (say what its output is then with `[init] done_output`)"
            };
            warnings.push(format!("warning[upgrade/job-immutable]: {path}: the Job's pod template changes, which Kubernetes refuses on an existing Job\n  = help: delete the finished Job (`kubectl delete job NAME`), then apply: {rerun}"));
        }
        _ => {}
    }
    warnings
}
