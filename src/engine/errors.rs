//! The ids of input errors: diagnostics about what was given (the spec, a values file, `--set`,
//! the command line, the output directory) rather than about safety. A rule can be lifted with
//! `[[allow]]`; an input error cannot, because berth cannot produce correct files from that input.
//! `berth explain ID` prints either kind.

/// One kind of input error: its id, what it means and how it is fixed.
pub struct InputError {
    pub id: &'static str,
    pub summary: &'static str,
    pub fix: &'static str,
}

macro_rules! errors {
    ($($id:literal: $summary:literal, $fix:literal;)*) => {
        pub static INPUT_ERRORS: &[InputError] = &[$(InputError { id: $id, summary: $summary, fix: $fix }),*];
    };
}

errors! {
    "spec/syntax": "the file is not valid TOML", "correct the syntax at the place shown; `berth schema` gives editors the spec's JSON Schema";
    "spec/unknown-key": "a key the spec language does not have", "rename the key as the help suggests, or remove it";
    "spec/missing-key": "a key the spec or a targeted backend needs is absent", "add the key the message names";
    "spec/invalid-value": "a value of the wrong type, range or form", "change the value as the help says";
    "spec/invalid-name": "a name that is not a DNS label, port name or env name", "rename it as the help says";
    "spec/duplicate": "two entries with the same name", "give each entry its own name";
    "spec/unknown-rule": "`[[allow]]` names a rule that does not exist", "name a rule from `berth rules`";
    "spec/unknown-port": "a health check names a port that `[[ports]]` does not declare", "name a declared port";
    "spec/unknown-parameter": "`--set` or `--values` names a parameter the spec does not declare", "declare it under `[params]`, or correct the name";
    "spec/undefined-variable": "a template uses a variable the template context does not have", "use one of the variables the help lists";
    "spec/invalid-template": "a template that does not parse or does not render", "correct the template; `docs/spec.md` lists its context";
    "spec/read-outside": "a file was read from outside the spec's folder, from a folder `--allow-read` named (a warning: the report names every such file)", "copy the file beside the spec if it belongs to it; otherwise nothing: you allowed the read";
    "spec/limit": "the spec makes berth go past one of its limits (template depth, output size, a number's range)", "change the spec as the message says";
    "spec/port-collision": "two ports share a number and protocol", "give each port its own number";
    "cli/usage": "the command line asks for something berth cannot do", "change the arguments as the help says; `berth help` lists them";
    "import/compose": "the Compose file cannot be read (YAML, interpolation or `extends`)", "correct the file at the place shown; `docker compose config` shows how compose reads it";
    "init/template": "an `init` template does not pass its own rules (a bug of berth's)", "report it, naming the template";
    "cli/io": "a file named on the command line cannot be read", "check the path and its permissions";
    "output/io": "the output directory cannot be written; nothing was written", "fix the cause the message names (space, permissions, a read-only filesystem)";
    "output/path": "something in `--out` stands where berth writes, or a path leaves `--out`", "move what is in the way, or choose another `--out`";
    "output/foreign-file": "a file berth did not write stands where berth writes", "move it away, choose another `--out`, or pass `--force`";
    "output/manifest": "the manifest of files berth wrote is damaged", "remove `.berth-manifest.json`, or choose another `--out`";
    "output/symlink": "a symbolic link stands below `--out` where berth writes or reads (berth follows none there)", "replace the link with a real directory or file, or choose another `--out`";
    "output/too-large": "a file in `--out` that berth reads is larger than 64 MiB, the most berth reads", "move the file elsewhere, or choose another `--out`";
    "output/kept": "a file the manifest lists and this compile no longer makes was left in place, because berth cannot prove it wrote it (a warning)", "remove the file by hand if it is berth's; berth removes only regular files that still hold what it wrote";
    "output/yaml": "a value cannot be written as YAML (a bug of berth's)", "report it with the spec that caused it";
    "output/json": "a value cannot be written as JSON (a bug of berth's)", "report it with the spec that caused it";
    "output/template": "a script template failed to render (a bug of berth's)", "report it with the spec that caused it";
}

pub fn input_error(id: &str) -> Option<&'static InputError> {
    INPUT_ERRORS.iter().find(|e| e.id == id)
}

/// Input diagnostics that warn rather than stop the compile.
pub const WARNINGS: [&str; 2] = ["spec/read-outside", "output/kept"];

impl InputError {
    /// The text `berth explain` prints.
    pub fn doc(&self) -> String {
        let effect = if WARNINGS.contains(&self.id) {
            "It is a warning about the input: the compile goes on, and the report records it."
        } else {
            "It stops the compile (exit 2) and cannot be lifted with `[[allow]]`: berth cannot make\ncorrect files from this input."
        };
        format!(
            "# {}\n\nAn input {}: {}.\n\n{effect}\n\n## Fix\n{}{}.\n",
            self.id,
            if WARNINGS.contains(&self.id) {
                "warning"
            } else {
                "error"
            },
            self.summary,
            self.fix[..1].to_uppercase(),
            &self.fix[1..]
        )
    }
}
