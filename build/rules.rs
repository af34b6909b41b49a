//! The build script of every crate with rules (`build = "../../build/rules.rs"` in its
//! Cargo.toml): declares each rule from its document, so that a rule's id, severity and summary
//! have one source. `rules/<name>.md` beside the crate's Cargo.toml becomes a static
//! `berth_diagnostic::Rule` named after the file (`no-persistent-volume.md` →
//! `NO_PERSISTENT_VOLUME`) in `$OUT_DIR/rules.rs`, which `berth_diagnostic::rules!()` includes,
//! with `BACKEND` (the prefix of the ids: the documents' titles say it) and `RULES`. Code refers
//! to the statics, so a check without a document does not compile, and a document without its
//! title, `Severity:` or `Summary:` line fails the build with the file named.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let folder = root.join("rules");
    println!("cargo::rerun-if-changed={}", folder.display());
    let code = declarations(&folder).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("rules.rs"), code).unwrap();
}

/// The statics of one folder's rules, in the order of their file names, and `RULES` listing them.
fn declarations(folder: &Path) -> Result<String, String> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut prefix: Option<String> = None;
    let mut code = String::new();
    let mut names = Vec::new();
    for doc in &docs {
        let name = doc.file_stem().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(doc).unwrap();
        let (id_prefix, severity, summary) =
            header(&text, name).map_err(|e| format!("{}: {e}", doc.display()))?;
        match &prefix {
            Some(p) if *p != id_prefix => {
                return Err(format!(
                    "{}: the title says `{id_prefix}/`, the other rules here `{p}/`",
                    doc.display()
                ));
            }
            _ => prefix = Some(id_prefix.clone()),
        }
        let ident = name.to_uppercase().replace('-', "_");
        writeln!(
            code,
            "pub static {ident}: ::berth_diagnostic::Rule = ::berth_diagnostic::Rule {{ \
             id: \"{id_prefix}/{name}\", \
             severity: ::berth_diagnostic::Severity::{severity}, \
             summary: {summary:?}, \
             doc: include_str!({:?}) }};",
            doc.display()
        )
        .unwrap();
        names.push(format!("&{ident}"));
    }
    let prefix = prefix.ok_or_else(|| format!("{}: no rule documents", folder.display()))?;
    writeln!(code, "pub const BACKEND: &str = {prefix:?};").unwrap();
    writeln!(
        code,
        "pub static RULES: &[&::berth_diagnostic::Rule] = &[{}];",
        names.join(", ")
    )
    .unwrap();
    Ok(code)
}

/// The id's prefix, the severity and the summary a rule's document states in its `# <prefix>/<name>`
/// title and the lines under it.
fn header(text: &str, name: &str) -> Result<(String, &'static str, String), String> {
    let title = text.lines().next().unwrap_or("");
    let prefix = title
        .strip_prefix("# ")
        .and_then(|id| id.strip_suffix(&format!("/{name}")))
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        .ok_or_else(|| format!("the first line must be `# <backend>/{name}`"))?;
    let field = |key: &str| {
        text.lines()
            .take(8)
            .find_map(|l| l.strip_prefix(key))
            .ok_or_else(|| format!("no `{key}` line under the title"))
    };
    let severity = match field("Severity: ")? {
        "**error**" => "Error",
        "**warning**" => "Warning",
        other => {
            return Err(format!(
                "severity `{other}` is neither **error** nor **warning**"
            ));
        }
    };
    Ok((
        prefix.to_string(),
        severity,
        field("Summary: ")?.to_string(),
    ))
}
