//! The seam between the core and the backends (mdBook's Renderer model): a backend receives the
//! resolved [`Service`], checks its own rules, and returns files in memory. It never touches the
//! filesystem; [`berth_output`] writes what it returns.

pub mod options;
pub mod plan;
pub mod yaml;

use berth_diagnostic::errors;
use berth_diagnostic::source::FileId;
use berth_diagnostic::{Diagnostic, Rule, Severity};
use berth_model::Service;
use berth_model::concern::{Concerns, Realization};
pub use options::{Setting, Spanned, spelling};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

/// The rules every backend fires the same way on a [`Service`].
pub trait ServiceRule {
    fn fire_without_volume(
        &self,
        service: &Service,
        where_data_lives: &str,
        help: &str,
    ) -> Option<Diagnostic>;
    fn fire_on_quorum_liveness(
        &self,
        service: &Service,
        consequence: &str,
        help: &str,
    ) -> Option<Diagnostic>;
}

impl ServiceRule for Rule {
    /// Fires `no-persistent-volume`, which every backend keeps, when no volume keeps the data:
    /// `where_data_lives` says what the platform does with it instead.
    fn fire_without_volume(
        &self,
        service: &Service,
        where_data_lives: &str,
        help: &str,
    ) -> Option<Diagnostic> {
        service.persistent_volumes().next().is_none().then(|| {
            self.fire(
                service,
                service.container.span.clone(),
                format!("no persistent volume: {where_data_lives}"),
                "this container writes to no persistent volume",
                help,
            )
        })
    }

    /// Fires a backend's rule against a liveness check that needs quorum: `consequence` says
    /// what the platform does to members whose check fails.
    fn fire_on_quorum_liveness(
        &self,
        service: &Service,
        consequence: &str,
        help: &str,
    ) -> Option<Diagnostic> {
        service.liveness_needs_quorum().then(|| {
            self.fire(
                service,
                service
                    .health
                    .liveness
                    .as_ref()
                    .and_then(|l| l.span.clone()),
                format!("the liveness check needs quorum: {consequence}"),
                "quorum-gated liveness",
                help,
            )
        })
    }
}

/// One generated file, its path relative to the backend's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub path: String,
    pub contents: String,
    /// Permission bits: 0644, 0755 for scripts, or a `[[files]]` entry's own mode.
    pub mode: u32,
    /// The document of a YAML file, in place of its text, where the input asks for
    /// [`Form::Documents`].
    pub document: Option<serde_json::Value>,
}

impl OutputFile {
    pub fn new(path: impl Into<String>, contents: String) -> Self {
        Self::with_mode(path, contents, 0o644)
    }

    pub fn script(path: impl Into<String>, contents: String) -> Self {
        Self::with_mode(path, contents, 0o755)
    }

    pub fn with_mode(path: impl Into<String>, contents: String, mode: u32) -> Self {
        OutputFile {
            path: path.into(),
            contents,
            mode,
            document: None,
        }
    }

    /// A YAML file handed over as its document, without text ([`Form::Documents`]).
    pub fn document(path: impl Into<String>, document: serde_json::Value) -> Self {
        OutputFile {
            document: Some(document),
            ..Self::new(path, String::new())
        }
    }
}

/// How a backend hands over the YAML files it makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Form {
    /// As text, to be written.
    #[default]
    Text,
    /// As documents ([`OutputFile::document`]) without their text, for a backend built on this
    /// one (helm lifts the kubernetes backend's objects into templates): reading the text back
    /// cost more than the rest of a chart. Only the kubernetes backend honours it, for its
    /// objects (its `Kustomization` stays text); the others write text whatever the form.
    Documents,
    /// Without them: the caller reads only the diagnostics, the concerns and the TLS names (helm
    /// reports the kubernetes backend's findings on the service). Rule and input errors are all
    /// still found; what is lost is a YAML writer's failure, a bug of berth's, which the text
    /// form reports. Only the kubernetes backend honours it.
    Omitted,
}

/// What a backend makes of one service.
#[derive(Default)]
pub struct Compiled {
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<OutputFile>,
    /// DNS names a node certificate must cover on this orchestrator.
    pub tls_names: Vec<String>,
    /// How each concern was realized, one entry per [`berth_model::concern::Concern`].
    pub concerns: Vec<Realization>,
}

/// What a backend found on a service, without its files: what a backend built on it reports of
/// it ([`Backend::built_on`]).
#[derive(Clone, Debug, Default)]
pub struct Findings {
    pub diagnostics: Vec<Diagnostic>,
    pub tls_names: Vec<String>,
    pub concerns: Vec<Realization>,
}

impl Compiled {
    /// What this compile found, its files left out.
    pub fn findings(&self) -> Findings {
        Findings {
            diagnostics: self.diagnostics.clone(),
            tls_names: self.tls_names.clone(),
            concerns: self.concerns.clone(),
        }
    }
}

pub struct Input<'a> {
    pub service: &'a Service,
    /// The `[backends.NAME]` tables as parsed, for deserializing a backend's options with spans.
    pub backend_tables: &'a berth_language::spec::BackendTables<'a>,
    pub file: FileId,
    /// What is deployed, for `berth plan`: the backend then adds its plan to its files.
    pub deployed: Option<&'a dyn plan::Deployed>,
    /// How the YAML files are handed over. Only text is compared with what is deployed and
    /// planned from: the other forms leave `deployed` unread.
    pub form: Form,
    /// The findings of the backend this one is built on ([`Backend::built_on`]) on this same
    /// input, where the compile ran it first; never where something is deployed. The backend
    /// need not run it again for them.
    pub base: Option<&'a Findings>,
}

pub trait Backend: Sync {
    /// The directory name under `--out` and the `--backend` value.
    fn name(&self) -> &'static str;
    fn rules(&self) -> &'static [&'static Rule];
    /// What a user should know about the platform before choosing it (its end of life).
    fn status(&self) -> Option<&'static str> {
        None
    }
    /// Checks this backend's rules and, unless an input error occurred, lowers the service to files.
    fn compile(&self, input: &Input) -> Compiled;
    /// The backend whose objects this one's files are made from (helm's are the kubernetes
    /// backend's), whose findings it reports ([`Input::base`]).
    fn built_on(&self) -> Option<&'static str> {
        None
    }
    /// The JSON Schema of its `[backends.NAME]` table, its definitions added to `generator`.
    fn options_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

/// A header of comments for a generated file: what made it, and each rule an `[[allow]]` lifted.
pub fn header_comment(service: &Service, diagnostics: &[Diagnostic]) -> String {
    let mut header = format!(
        "# Generated by berth from the spec of `{}`. Do not edit: change the spec and compile again.\n",
        service.name()
    );
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Allowed)
    {
        let reason = comment_text(d.allowed_because.as_deref().unwrap_or(""));
        header.push_str(&format!(
            "# berth: rule {} is allowed by the spec: {reason}\n",
            d.code
        ));
    }
    header
}

/// `text` made safe as the rest of one comment line in YAML, TOML and shell: every character
/// that some reader takes as a line break (`\n`, `\r`, U+0085, U+2028, U+2029), that breaks a
/// YAML stream or a TOML comment (`\f`, `\v`, the other control characters but tab, a byte order
/// mark, U+FFFE, U+FFFF) is written as its escape (`\n`, `\u{2028}`), so the comment stays one
/// line and says what the text held.
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let breaks = (c.is_control() && c != '\t')
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            );
        if breaks {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a backend's lowering makes: its files and the TLS names it reports.
pub struct Lowered {
    pub files: Vec<OutputFile>,
    pub tls_names: Vec<String>,
}

/// What each backend implements; the core sees it as a [`Backend`], whose `compile` takes the
/// same steps for every backend: read its options (input errors, all of them, stop here), check its rules,
/// record how it realizes each concern, and lower the service unless a rule refused it.
pub trait Lowering: Sync {
    /// The directory name under `--out` and the `--backend` value.
    const NAME: &'static str;
    const RULES: &'static [&'static Rule];
    /// What a user should know about the platform before choosing it (its end of life).
    const STATUS: Option<&'static str> = None;
    /// The backend's `[backends.NAME]` table as the spec writes it; its doc comments and types
    /// are the table's JSON Schema.
    type Options: DeserializeOwned + Default + JsonSchema;
    /// The options, checked and with their defaults.
    type Settings;
    /// Checks the options read from the table, reporting every bad value.
    fn settings(
        &self,
        input: &Input,
        options: Self::Options,
    ) -> Result<Self::Settings, Vec<Diagnostic>>;
    fn check(&self, service: &Service, settings: &Self::Settings) -> Vec<Diagnostic>;
    /// What the backend claims for each concern, one field per concern.
    fn concerns(&self, service: &Service, settings: &Self::Settings) -> Concerns;
    fn lower(
        &self,
        service: &Service,
        settings: &Self::Settings,
        diagnostics: &[Diagnostic],
    ) -> Result<Lowered, Vec<Diagnostic>>;
    /// What replacing `before` with `after` at `path` (one of its files, below `--out`) does to
    /// the running service: the rules about changes the orchestrator cannot apply in
    /// place, and about how the members take a changed file (`plan/...`).
    fn upgrade(&self, service: &Service, path: &str, before: &str, after: &str) -> Vec<Diagnostic>;
    /// `berth plan`: the files of a plan from what is `deployed` to the service whose files are
    /// `lowered`, and the warnings of [`plan::check`].
    fn plan(
        &self,
        _service: &Service,
        _settings: &Self::Settings,
        _lowered: &Lowered,
        _deployed: &dyn plan::Deployed,
    ) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
        Err(vec![Diagnostic::input(
            &errors::PLAN_UNSUPPORTED,
            format!("berth writes no plans for {} yet", Self::NAME),
        )
        .help("plan on a backend that has plans (`berth plan --help`), or make the change by hand as `berth diff --against` describes")])
    }
}

impl<L: Lowering> Backend for L {
    fn name(&self) -> &'static str {
        L::NAME
    }
    fn rules(&self) -> &'static [&'static Rule] {
        L::RULES
    }
    fn status(&self) -> Option<&'static str> {
        L::STATUS
    }
    fn options_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<L::Options>()
    }
    fn compile(&self, input: &Input) -> Compiled {
        let service = input.service;
        // The options of the good keys are checked too, so that one compile reports every
        // bad option.
        let (options, mut diagnostics) = input.options::<L::Options>(L::NAME);
        let settings = match self.settings(input, options) {
            Ok(settings) if diagnostics.is_empty() => settings,
            result => {
                diagnostics.extend(result.err().into_iter().flatten());
                diagnostics.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.range.start));
                return Compiled {
                    diagnostics,
                    ..Compiled::default()
                };
            }
        };
        let diagnostics = self.check(service, &settings);
        let concerns = self.concerns(service, &settings).realizations(service);
        if diagnostics.iter().any(Diagnostic::is_rule_error) {
            return Compiled {
                diagnostics,
                concerns,
                ..Compiled::default()
            };
        }
        let mut diagnostics = diagnostics;
        let lowered = self
            .lower(service, &settings, &diagnostics)
            .and_then(|mut lowered| {
                let Some(deployed) = input.deployed.filter(|_| input.form == Form::Text) else {
                    return Ok(lowered);
                };
                for file in &lowered.files {
                    let path = format!("{}/{}", L::NAME, file.path);
                    let old = deployed.read(&path);
                    if let Some(old) = old.filter(|old| *old != file.contents) {
                        diagnostics.extend(self.upgrade(service, &path, &old, &file.contents));
                    }
                }
                if deployed.plans() {
                    let (files, warnings) = self.plan(service, &settings, &lowered, deployed)?;
                    lowered.files.extend(files);
                    diagnostics.extend(warnings);
                }
                Ok(lowered)
            });
        match lowered {
            Ok(lowered) => Compiled {
                diagnostics,
                files: lowered.files,
                tls_names: lowered.tls_names,
                concerns,
            },
            Err(errors) => Compiled {
                diagnostics: errors.into_iter().chain(diagnostics).collect(),
                concerns,
                ..Compiled::default()
            },
        }
    }
}

/// Implements [`Lowering`] for a backend's unit struct from its options and settings types, the
/// function that checks the options into settings, and, by convention, its module's `rules`
/// (`BACKEND`, `RULES` and `check`), `concerns::concerns`, `lowered`, each taking the settings,
/// and `upgrade::rules`: `lowering!(Swarm, Options => Settings, settings)`. Whatever else it sets
/// (`STATUS`) follows a `;`.
#[macro_export]
macro_rules! lowering {
    ($backend:ident, $options:ty => $settings:ty, $read:expr $(,)? $(; $($rest:tt)*)?) => {
        impl $crate::Lowering for $backend {
            const NAME: &'static str = rules::BACKEND;
            const RULES: &'static [&'static ::berth_diagnostic::Rule] = rules::RULES;
            type Options = $options;
            type Settings = $settings;
            fn settings(
                &self,
                input: &$crate::Input,
                options: $options,
            ) -> Result<$settings, Vec<::berth_diagnostic::Diagnostic>> {
                $read(input, options)
            }
            fn check(
                &self,
                service: &::berth_model::Service,
                settings: &$settings,
            ) -> Vec<::berth_diagnostic::Diagnostic> {
                rules::check(service, settings)
            }
            fn concerns(
                &self,
                service: &::berth_model::Service,
                settings: &$settings,
            ) -> ::berth_model::concern::Concerns {
                concerns::concerns(service, settings)
            }
            fn lower(
                &self,
                service: &::berth_model::Service,
                settings: &$settings,
                diagnostics: &[::berth_diagnostic::Diagnostic],
            ) -> Result<$crate::Lowered, Vec<::berth_diagnostic::Diagnostic>> {
                lowered(service, settings, diagnostics)
            }
            fn upgrade(
                &self,
                service: &::berth_model::Service,
                path: &str,
                before: &str,
                after: &str,
            ) -> Vec<::berth_diagnostic::Diagnostic> {
                upgrade::rules(service, path, before, after)
            }
            $($($rest)*)?
        }
    };
}

/// [`Lowering::plan`] for a backend whose module `plan` writes its plans, by convention
/// `plan::plan(service, settings, &lowered.files, deployed)`: given after `lowering!`'s `;`.
#[macro_export]
macro_rules! plans {
    () => {
        fn plan(
            &self,
            service: &::berth_model::Service,
            settings: &Self::Settings,
            lowered: &$crate::Lowered,
            deployed: &dyn $crate::plan::Deployed,
        ) -> Result<
            (Vec<$crate::OutputFile>, Vec<::berth_diagnostic::Diagnostic>),
            Vec<::berth_diagnostic::Diagnostic>,
        > {
            plan::plan(service, settings, &lowered.files, deployed)
        }
    };
}

/// A YAML output's text, or the diagnostic a backend returns when it cannot be written.
pub fn yaml_text<T: serde::Serialize>(value: &T) -> Result<String, Vec<Diagnostic>> {
    crate::yaml::to_yaml(value).map_err(|e| vec![Diagnostic::input(&errors::OUTPUT_YAML, e)])
}
