//! Declares every rule from its document, so that a rule's id, severity and summary have one
//! source: `backends/<backend>/rules/<name>.md` (`src/engine/rules/` for the spec's own rules,
//! `src/import/rules/` for `berth import`'s) becomes a static `Rule` named after the file
//! (`no-persistent-volume.md` → `NO_PERSISTENT_VOLUME`) in `$OUT_DIR/rules-<backend>.rs`, which
//! `rules_of!` includes. Code
//! refers to the statics, so a check without a document does not compile, and a document
//! without its `Severity:` or `Summary:` line fails the build with the file named.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut folders = vec![
        ("spec".to_string(), root.join("src/engine/rules")),
        ("import".to_string(), root.join("src/import/rules")),
    ];
    // The folder itself, so that a new backend's `rules/` is found (cargo scans a directory for
    // any change below it), not only the folders that existed at the last build.
    println!(
        "cargo::rerun-if-changed={}",
        root.join("backends").display()
    );
    for entry in std::fs::read_dir(root.join("backends")).unwrap() {
        let backend = entry.unwrap().path();
        let name = backend.file_name().unwrap().to_str().unwrap().to_string();
        if backend.join("rules").is_dir() {
            folders.push((name, backend.join("rules")));
        }
    }
    for (backend, folder) in folders {
        println!("cargo::rerun-if-changed={}", folder.display());
        let code = declarations(&backend, &folder).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(out.join(format!("rules-{backend}.rs")), code).unwrap();
    }
}

/// The statics of one folder's rules, in the order of their file names, and `RULES` listing them.
fn declarations(backend: &str, folder: &Path) -> Result<String, String> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut code = format!("pub const BACKEND: &str = {backend:?};\n");
    let mut names = Vec::new();
    for doc in &docs {
        let name = doc.file_stem().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(doc).unwrap();
        let (severity, summary) = header(&text, &format!("{backend}/{name}"))
            .map_err(|e| format!("{}: {e}", doc.display()))?;
        let ident = name.to_uppercase().replace('-', "_");
        writeln!(
            code,
            "pub static {ident}: crate::engine::backend::Rule = crate::engine::backend::Rule {{ \
             id: \"{backend}/{name}\", \
             severity: crate::diagnostic::Severity::{severity}, \
             summary: {summary:?}, \
             doc: include_str!({:?}) }};",
            doc.display()
        )
        .unwrap();
        names.push(ident);
    }
    let list: Vec<String> = names.iter().map(|n| format!("&{n}")).collect();
    writeln!(
        code,
        "pub static RULES: &[&crate::engine::backend::Rule] = &[{}];",
        list.join(", ")
    )
    .unwrap();
    Ok(code)
}

/// The severity and summary a rule's document states under its `# <id>` title.
fn header(text: &str, id: &str) -> Result<(&'static str, String), String> {
    let mut lines = text.lines();
    if lines.next() != Some(&format!("# {id}")) {
        return Err(format!("the first line must be `# {id}`"));
    }
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
    Ok((severity, field("Summary: ")?.to_string()))
}
