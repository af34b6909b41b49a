//! The ids of input errors: diagnostics about what was given (the spec, a values file, `--set`,
//! the command line, the output directory) rather than about safety. A rule can be lifted with
//! `[[allow]]`; an input error cannot, because berth cannot produce correct files from that input.
//! `berth explain ID` prints either kind.

/// One kind of input error: its id, what it means and how it is fixed. Each is a static that
/// [`crate::Diagnostic::input`] takes, so an undeclared id does not compile.
pub struct InputError {
    pub id: &'static str,
    pub summary: &'static str,
    pub fix: &'static str,
    /// What it is: an error in the input, a warning about it, or a bug of berth's.
    pub kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// The input is wrong: exit 2.
    Error,
    /// The compile goes on; the report records it.
    Warning,
    /// berth failed on input it accepted: exit 70 (`EX_SOFTWARE`), and the user reports it.
    Bug,
}

/// Declares each input error as a static named after its id (`spec/invalid-value` is
/// `SPEC_INVALID_VALUE`), and [`INPUT_ERRORS`] listing them in order.
macro_rules! errors {
    ($($name:ident $(($kind:ident))? = $id:literal: $summary:literal, $fix:literal;)*) => {
        $(pub static $name: InputError = InputError {
            id: $id,
            summary: $summary,
            fix: $fix,
            kind: errors!(@kind $($kind)?),
        };)*
        pub static INPUT_ERRORS: &[&InputError] = &[$(&$name),*];
    };
    (@kind $kind:ident) => { Kind::$kind };
    (@kind) => { Kind::Error };
}

errors! {
    SPEC_SYNTAX = "spec/syntax": "the file is not valid TOML", "correct the syntax at the place shown; `berth schema` gives editors the spec's JSON Schema";
    SPEC_UNKNOWN_KEY = "spec/unknown-key": "a key the spec language does not have", "rename the key as the help suggests, or remove it";
    SPEC_MISSING_KEY = "spec/missing-key": "a key the spec or a targeted backend needs is absent", "add the key the message names";
    SPEC_INVALID_VALUE = "spec/invalid-value": "a value of the wrong type, range or form", "change the value as the help says";
    SPEC_INVALID_NAME = "spec/invalid-name": "a name that is not a DNS label, port name or env name", "rename it as the help says";
    SPEC_DUPLICATE = "spec/duplicate": "two entries with the same name", "give each entry its own name";
    SPEC_UNKNOWN_RULE = "spec/unknown-rule": "`[[allow]]` names a rule that does not exist", "name a rule from `berth rules`";
    SPEC_UNKNOWN_PORT = "spec/unknown-port": "a health check names a port that `[[ports]]` does not declare", "name a declared port";
    SPEC_UNKNOWN_PARAMETER = "spec/unknown-parameter": "`--set` or `--values` names a parameter the spec does not declare", "declare it under `[params]`, or correct the name";
    SPEC_UNDEFINED_VARIABLE = "spec/undefined-variable": "a template uses a variable the template context does not have", "use one of the variables the help lists";
    SPEC_INVALID_TEMPLATE = "spec/invalid-template": "a template that does not parse or does not render", "correct the template; `docs/spec.md` lists its context";
    SPEC_READ_OUTSIDE (Warning) = "spec/read-outside": "a file was read from outside the spec's folder, from a folder `--allow-read` named (a warning: the report names every such file)", "copy the file beside the spec if it belongs to it; otherwise nothing: you allowed the read";
    SPEC_LIMIT = "spec/limit": "the spec makes berth go past one of its limits (template depth, output size, a number's range)", "change the spec as the message says";
    SPEC_PORT_COLLISION = "spec/port-collision": "two ports share a number and protocol", "give each port its own number";
    CLI_USAGE = "cli/usage": "the command line asks for something berth cannot do", "change the arguments as the help says; `berth help` lists them";
    IMPORT_COMPOSE = "import/compose": "the Compose file cannot be read (YAML, interpolation or `extends`)", "correct the file at the place shown; `docker compose config` shows how compose reads it";
    INIT_TEMPLATE (Bug) = "init/template": "an `init` template does not pass its own rules (a bug of berth's)", "report it, naming the template";
    PLAN_DEPLOYED = "plan/deployed": "`berth plan` cannot read what is deployed from `--against`: no file of the backend, or not one berth wrote for this service", "point `--against` at the directory the deployed files were compiled to";
    PLAN_UNSUPPORTED = "plan/unsupported": "`berth plan` cannot write this plan for this backend: its orchestrator cannot take the change one member at a time with the spec's commands between the steps (the message says why: Cloud Foundry runs every instance of an app from one definition; Swarm and Marathon run no command inside a member's container; Marathon cannot be relied on to give up a member on an unreachable agent; a Swarm volume of another driver may follow its member)", "choose a backend whose plans berth writes (`berth plan --help`), or make the change by hand as `berth diff --against` describes";
    PLAN_REPLACE = "plan/replace": "`berth plan --replace` or `--lost` names no member that stays, or no other member would hold the data of the one that moves, or the members not lost are too few to remove the lost ones", "name a member the deployment has and the new spec keeps, as `NAME-ORDINAL`, of a cluster of at least two, with `--lost` only while the others are a majority";
    CLI_IO = "cli/io": "a file named on the command line cannot be read", "check the path and its permissions";
    OUTPUT_IO = "output/io": "the output directory cannot be written; nothing was written", "fix the cause the message names (space, permissions, a read-only filesystem)";
    OUTPUT_PATH = "output/path": "something in `--out` stands where berth writes, or a path leaves `--out`", "move what is in the way, or choose another `--out`";
    OUTPUT_FOREIGN_FILE = "output/foreign-file": "a file berth did not write stands where berth writes", "move it away, choose another `--out`, or pass `--force`";
    OUTPUT_AGAINST = "output/against": "`--against` names no directory that `berth compile` wrote", "name the directory an earlier `berth compile --out` wrote: it holds `.berth-manifest.json`";
    OUTPUT_MANIFEST = "output/manifest": "the manifest of files berth wrote is damaged", "remove `.berth-manifest.json`, or choose another `--out`";
    OUTPUT_SYMLINK = "output/symlink": "a symbolic link stands below `--out` where berth writes or reads (berth follows none there)", "replace the link with a real directory or file, or choose another `--out`";
    OUTPUT_TOO_LARGE = "output/too-large": "a file in `--out` that berth reads is larger than 64 MiB, the most berth reads", "move the file elsewhere, or choose another `--out`";
    OUTPUT_KEPT (Warning) = "output/kept": "a file the manifest lists and this compile no longer makes was left in place, because berth cannot prove it wrote it (a warning)", "remove the file by hand if it is berth's; berth removes only regular files that still hold what it wrote";
    OUTPUT_YAML (Bug) = "output/yaml": "a value cannot be written as YAML (a bug of berth's)", "report it with the spec that caused it";
    OUTPUT_JSON (Bug) = "output/json": "a value cannot be written as JSON (a bug of berth's)", "report it with the spec that caused it";
}

pub fn input_error(id: &str) -> Option<&'static InputError> {
    INPUT_ERRORS.iter().copied().find(|e| e.id == id)
}

impl InputError {
    /// The text `berth explain` prints.
    pub fn doc(&self) -> String {
        let (what, effect) = match self.kind {
            Kind::Error => (
                "An input error",
                "It stops the compile (exit 2) and cannot be lifted with `[[allow]]`: berth cannot make\ncorrect files from this input.",
            ),
            Kind::Warning => (
                "An input warning",
                "The compile goes on, and the report records it.",
            ),
            Kind::Bug => (
                "A bug of berth's",
                "berth failed on input it accepted: it stops with exit 70 and writes nothing.",
            ),
        };
        format!(
            "# {}\n\n{what}: {}.\n\n{effect}\n\n## Fix\n{}{}.\n",
            self.id,
            self.summary,
            self.fix[..1].to_uppercase(),
            &self.fix[1..]
        )
    }
}
