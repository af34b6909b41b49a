//! Resolution of `[container]`, `[resources]` and `[init]`: what runs and with what.

use super::*;

impl Resolver<'_> {
    pub(super) fn resources(&mut self, res: &toml::Spanned<spec::Resources>) -> Located<Resources> {
        let r = res.get_ref();
        let cpu = self.quantity(&r.cpu, "resources.cpu");
        let memory = self.quantity(&r.memory, "resources.memory");
        let cpu_limit = self.quantity(&r.cpu_limit, "resources.cpu_limit");
        let memory_limit = self.quantity(&r.memory_limit, "resources.memory_limit");
        for (request, limit, key, s) in [
            (&cpu, &cpu_limit, "cpu", &r.cpu_limit),
            (&memory, &memory_limit, "memory", &r.memory_limit),
        ] {
            if let (Some((_, req)), Some((_, lim)), Some(s)) = (request, limit, s)
                && lim < req
            {
                self.error(&errors::SPEC_INVALID_VALUE, s.span(), format!("`resources.{key}_limit` is below `resources.{key}`"), "limit below request", format!("raise `{key}_limit` to at least `{key}`, or remove it so the limit equals the request"));
            }
        }
        Located::new(
            Resources {
                cpu: cpu.map(|q| q.0),
                memory: memory.map(|q| q.0),
                cpu_limit: cpu_limit.map(|q| q.0),
                memory_limit: memory_limit.map(|q| q.0),
            },
            self.span(res.span()),
        )
    }

    /// A CPU or memory quantity (which one the key says), as written and as a number.
    fn quantity(&mut self, s: &Option<SString>, key: &str) -> Option<(String, f64)> {
        let s = s.as_ref()?;
        let text = self.string(s, key)?;
        let minimum = if key.ends_with("cpu") || key.ends_with("cpu_limit") {
            MIN_CPU
        } else {
            MIN_MEMORY
        };
        let value = self.parsed(
            s,
            key,
            parse_quantity(&text).and_then(|v| at_least(v, minimum)),
        )?;
        Some((text, value))
    }

    pub(super) fn container(&mut self, container: &toml::Spanned<spec::Container>) -> Container {
        let c = container.get_ref();
        if c.image.get_ref().trim().is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                c.image.span(),
                "`container.image` is empty".to_string(),
                "empty image",
                "name the image, like `postgres:16`".to_string(),
            );
        }
        let env = c
            .env
            .iter()
            .map(|(name, value)| self.env_var(name, value))
            .collect();
        let user = c
            .user
            .as_ref()
            .and_then(|u| self.integer(u, "container.user", 0, i64::from(u32::MAX)))
            .map(|u| u as u32);
        let shell = c
            .shell
            .as_ref()
            .and_then(|s| self.boolean(s, "container.shell"));
        Container {
            image: self.template(&c.image),
            command: c.command.iter().map(|s| self.template(s)).collect(),
            args: c.args.iter().map(|s| self.template(s)).collect(),
            env,
            user,
            shell,
            span: self.span(container.span()),
        }
    }

    /// One `[container.env]` entry: a name every orchestrator accepts, and a literal (a
    /// template) or a secret reference.
    fn env_var(&mut self, name: &SString, value: &toml::Spanned<spec::EnvValue>) -> EnvVar {
        if !names::env_name(name.get_ref()) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                name.span(),
                format!("env name `{}` is not a name every orchestrator accepts", name.get_ref()),
                "invalid name",
                "use letters, digits, `_`, `.` and `-`, not starting with a digit or `-` (Kubernetes' rule for env names, without names that read as options)".to_string(),
            );
        }
        let value_span = self.span(value.span());
        let value = match value.get_ref() {
            spec::EnvValue::Literal(text) => EnvValue::Literal(Template {
                source: text.clone(),
                span: value_span.clone(),
            }),
            spec::EnvValue::Secret(s) => {
                self.secret_reference(name, value.span(), s);
                EnvValue::Secret {
                    secret: s.secret.clone(),
                    key: s.key.clone(),
                }
            }
        };
        EnvVar {
            name: name.get_ref().clone(),
            value,
            span: value_span,
        }
    }

    fn secret_reference(
        &mut self,
        name: &SString,
        span: std::ops::Range<usize>,
        s: &spec::SecretRef,
    ) {
        if !names::shell_variable(name.get_ref()) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                name.span(),
                format!("secret env name `{}` is not a shell variable name", name.get_ref()),
                "not a variable name",
                "name a secret variable with letters, digits and `_`, not starting with a digit: run.sh and compose read its value from the caller's environment under that name".to_string(),
            );
        } else if let Some(why) = names::reserved_in_scripts(name.get_ref()) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                name.span(),
                format!("secret env name `{}` {why}", name.get_ref()),
                "reserved in berth's scripts",
                "name the variable as the image reads it, in capitals as images document theirs (`DB_PASSWORD`), other than `PATH`, `HOME`, `IFS` and the `DOCKER_`, `COMPOSE_` and `LD_` variables: run.sh and plan.sh take its value from the caller's environment under that name".to_string(),
            );
        }
        for (what, v) in [("secret", &s.secret), ("key", &s.key)] {
            if let Err(why) = names::secret_part(v) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    span.clone(),
                    format!("secret reference `{what}` `{v}` {why}"),
                    "invalid secret reference",
                    names::SECRET_PART_HELP.to_string(),
                );
            }
        }
    }

    pub(super) fn init(&mut self, init: &toml::Spanned<spec::Init>, container: &Container) -> Init {
        let i = init.get_ref();
        let shell = container.shell;
        if i.command.is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                init.span(),
                "`init.command` is empty".to_string(),
                "empty command",
                "give the bootstrap command as a list of arguments".to_string(),
            );
        }
        let done_output = i.done_output.as_ref().map(|d| d.get_ref().clone());
        if let Some(done) = &i.done_output
            && i.image.is_none()
            && shell == Some(false)
        {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                done.span(),
                "`init.done_output` runs the init command under `/bin/sh`, and `container.shell = false` says the image has none".to_string(),
                "needs a shell",
                "give `[init] image` an image with `/bin/sh`, or remove `done_output`".to_string(),
            );
        }
        if let Some(done) = &i.done_output
            && done.get_ref().trim().is_empty()
        {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                done.span(),
                "`init.done_output` is empty".to_string(),
                "matches any output",
                "give text that only the already-initialized case prints, such as `cluster has already been initialized`".to_string(),
            );
        }
        let mut resources = InitResources::default();
        if let Some(r) = &i.resources {
            let r = r.get_ref();
            if let Some((cpu, _)) = self.quantity(&r.cpu, "init.resources.cpu") {
                resources.cpu = cpu;
            }
            if let Some((memory, _)) = self.quantity(&r.memory, "init.resources.memory") {
                resources.memory = memory;
            }
        }
        let env: Vec<EnvVar> = i
            .env
            .iter()
            .map(|(name, value)| self.env_var(name, value))
            .collect();
        self.same_secret_under_one_name(&env, container);
        Init {
            command: i.command.iter().map(|s| self.template(s)).collect(),
            image: i.image.as_ref().map(|s| self.template(s)),
            done_output,
            env,
            resources,
            span: self.span(init.span()),
        }
    }

    /// run.sh and compose take a secret variable from the caller's environment by its name, and a
    /// Cloud Foundry task runs in the app's environment: one name holds one secret.
    fn same_secret_under_one_name(&mut self, init_env: &[EnvVar], container: &Container) {
        for var in init_env {
            let EnvValue::Secret { secret, key } = &var.value else {
                continue;
            };
            let other = container.env.iter().find(|c| c.name == var.name);
            let Some(EnvValue::Secret { secret: s, key: k }) = other.map(|c| &c.value) else {
                continue;
            };
            if (s, k) != (secret, key) {
                let range = var.span.as_ref().map(|s| s.range.clone()).unwrap_or(0..0);
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    range,
                    format!("`init.env.{}` names secret `{secret}` key `{key}`, and `container.env.{}` names secret `{s}` key `{k}`", var.name, var.name),
                    "another secret under the same name",
                    "give the init step's variable another name, or name the same secret: run.sh and compose read a secret variable from the caller's environment by its name".to_string(),
                );
            }
        }
    }
}
