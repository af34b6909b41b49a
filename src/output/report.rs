//! `berth-report.json`: for each service and backend, the files written, the diagnostics (lifted
//! ones with their reasons), how each concern was realized, and the TLS names to cover. Its shape
//! is `docs/berth-report.schema.json`.
//!
//! Each service's part is serialized on its own ([`service_part`], on the thread that compiled
//! it) and [`Writer`] joins the parts into the document, so the report of many services is never
//! held in memory at once.

use berth_compile::Outcome;
use berth_diagnostic::{JsonDiagnostic, to_json};
use berth_model::concern::Realization;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

pub const FILE: &str = "berth-report.json";

#[derive(Serialize)]
struct ServiceReport<'a> {
    backends: BTreeMap<&'static str, BackendReport<'a>>,
    service: &'a str,
    spec: &'a str,
}

#[derive(Serialize)]
struct BackendReport<'a> {
    concerns: &'a [Realization],
    diagnostics: Vec<JsonDiagnostic<'a>>,
    files: Vec<String>,
    tls_names: &'a [String],
}

/// The part of one service (`spec` compiled to `outcome`), as it stands in the `services` array.
/// `prefix` maps a service and backend to the directory its files were written to.
pub fn service_part(
    spec: &str,
    outcome: &Outcome,
    prefix: impl Fn(&str, &str) -> String,
) -> String {
    let service = outcome.service_name.as_deref().unwrap_or_default();
    let backends = outcome
        .outputs
        .iter()
        .map(|output| {
            let dir = prefix(service, output.backend);
            let report = BackendReport {
                concerns: &output.concerns,
                diagnostics: output
                    .diagnostics
                    .iter()
                    .map(|d| to_json(d, &outcome.sources))
                    .collect(),
                files: output
                    .files
                    .iter()
                    .map(|f| format!("{dir}/{}", f.path))
                    .collect(),
                tls_names: &output.tls_names,
            };
            (output.backend, report)
        })
        .collect();
    let mut part = b"    ".to_vec();
    let mut serializer = serde_json::Serializer::with_formatter(&mut part, Nested::default());
    ServiceReport {
        backends,
        service,
        spec,
    }
    .serialize(&mut serializer)
    .expect("the report serializes");
    String::from_utf8(part).expect("JSON is UTF-8")
}

/// `serde_json`'s pretty layout (its `PrettyFormatter`, two spaces a level) for a value that
/// stands two levels deep in the document, as a service's part does.
struct Nested {
    level: usize,
    has_value: bool,
}

impl Default for Nested {
    fn default() -> Self {
        Nested {
            level: 2,
            has_value: false,
        }
    }
}

impl Nested {
    fn new_line<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> std::io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(writer)
    }

    /// Two spaces a level, up to 32 at a time: the report has a line for every key and item.
    fn indent<W: ?Sized + Write>(&self, writer: &mut W) -> std::io::Result<()> {
        const SPACES: &[u8; 32] = b"                                ";
        let mut width = 2 * self.level;
        while width > 0 {
            let part = width.min(SPACES.len());
            writer.write_all(&SPACES[..part])?;
            width -= part;
        }
        Ok(())
    }

    fn begin<W: ?Sized + Write>(&mut self, writer: &mut W, open: &[u8]) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        writer.write_all(open)
    }

    fn end<W: ?Sized + Write>(&mut self, writer: &mut W, close: &[u8]) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            writer.write_all(b"\n")?;
            self.indent(writer)?;
        }
        writer.write_all(close)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.begin(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.end(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.new_line(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.begin(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.end(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.new_line(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Writes the report document around service parts, in the layout `serde_json` gives it.
pub struct Writer<W: Write> {
    out: W,
    services: usize,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(b"{\n  \"services\": [")?;
        Ok(Writer { out, services: 0 })
    }

    pub fn push(&mut self, part: &str) -> std::io::Result<()> {
        self.out
            .write_all(if self.services == 0 { b"\n" } else { b",\n" })?;
        self.out.write_all(part.as_bytes())?;
        self.services += 1;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        let close: &[u8] = if self.services == 0 { b"]" } else { b"\n  ]" };
        self.out.write_all(close)?;
        self.out.write_all(b",\n  \"version\": 1\n}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The whole report of `specs` (each spec's file name and outcome), in memory.
pub fn report(specs: &[(String, &Outcome)], prefix: impl Fn(&str, &str) -> String) -> String {
    let write = || -> std::io::Result<Vec<u8>> {
        let mut writer = Writer::new(Vec::new())?;
        for (spec, outcome) in specs {
            writer.push(&service_part(spec, outcome, &prefix))?;
        }
        writer.finish()
    };
    String::from_utf8(write().expect("writing to memory cannot fail")).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::{Nested, Writer};
    use serde::Serialize;
    use serde_json::json;

    /// The joined parts must be exactly what `serde_json` writes for the whole document.
    #[test]
    fn parts_join_into_serde_json_layout() {
        // Nested deeper than the spaces the indentation writes at once.
        let mut deep = json!("leaf");
        for _ in 0..12 {
            deep = json!({"k": [deep]});
        }
        let services = [
            json!({"backends": {"docker": {"files": ["a", "b"], "tls_names": []}}, "service": "one", "spec": "x\ny.toml"}),
            json!({"backends": {}, "service": "two", "spec": "two.toml"}),
            json!({"backends": deep, "service": "three", "spec": "three.toml"}),
        ];
        for count in 0..=services.len() {
            let chosen = &services[..count];
            let mut writer = Writer::new(Vec::new()).unwrap();
            for service in chosen {
                let mut part = b"    ".to_vec();
                let format = Nested::default();
                service
                    .serialize(&mut serde_json::Serializer::with_formatter(
                        &mut part, format,
                    ))
                    .unwrap();
                writer.push(std::str::from_utf8(&part).unwrap()).unwrap();
            }
            let joined = String::from_utf8(writer.finish().unwrap()).unwrap();
            let whole = serde_json::to_string_pretty(&json!({"services": chosen, "version": 1}))
                .unwrap()
                + "\n";
            assert_eq!(joined, whole, "with {count} services");
        }
    }
}
