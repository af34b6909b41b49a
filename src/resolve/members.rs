//! Resolution of every member template rendered once with a stand-in identity.

use super::*;

impl Resolver<'_> {
    /// Renders every member template once with a stand-in identity, so that a mistake is an input
    /// error at its location rather than a failure inside one backend.
    pub(super) fn check_member_templates(
        &mut self,
        container: &Container,
        files: &[File],
        init: Option<&Init>,
        name: &str,
        replicas: u32,
        ports: &[Port],
    ) {
        // Every public port published, so that a template naming one passes here; a backend that
        // publishes none refuses it when it renders.
        let published = ports
            .iter()
            .filter(|p| p.expose == Expose::Public)
            .map(|p| (p.name.clone(), format!("127.0.0.1:{}", p.port)))
            .collect();
        let peers = stand_in_members(name, replicas, &published);
        let member = Identity::new(peers.first(), &peers);
        let mut templates: Vec<&Template> = vec![&container.image];
        templates.extend(&container.command);
        templates.extend(&container.args);
        templates.extend(container.env.iter().filter_map(|e| match &e.value {
            EnvValue::Literal(t) => Some(t),
            EnvValue::Secret { .. } => None,
        }));
        templates.extend(files.iter().filter_map(|f| match &f.body {
            FileBody::Content(t) => Some(t),
            FileBody::Secret { .. } => None,
        }));
        // Rendered once here for a stand-in member, so that a mistake is reported at the spec.
        let check = |r: &mut Self, t: &Template, identity: &Identity| {
            if let Err(failure) = r.templates.try_member(&t.source, identity) {
                let range = t.span.as_ref().map(|s| s.range.clone()).unwrap_or(0..0);
                r.template_error(range, &t.source, failure);
            }
        };
        for t in templates {
            check(self, t, &member);
        }
        if let Some(init) = init {
            let bootstrap = Identity::new(None, &peers);
            let env = init.env.iter().filter_map(|e| match &e.value {
                EnvValue::Literal(t) => Some(t),
                EnvValue::Secret { .. } => None,
            });
            for t in init.command.iter().chain(init.image.as_ref()).chain(env) {
                check(self, t, &bootstrap);
            }
        }
    }

    /// Renders a per-member template (a volume's `external`, an alias) once for each stand-in
    /// member, in member order; `None` once a failure is reported at the template.
    pub(super) fn render_for_each_member(
        &mut self,
        template: &Template,
        peers: &[Member],
    ) -> Option<Vec<String>> {
        let range = template
            .span
            .as_ref()
            .map(|s| s.range.clone())
            .unwrap_or(0..0);
        let mut rendered = Vec::with_capacity(peers.len());
        for peer in peers {
            let identity = Identity::new(Some(peer), peers);
            match self.templates.try_member(&template.source, &identity) {
                Ok(text) => rendered.push(text),
                Err(failure) => {
                    self.template_error(range, &template.source, failure);
                    return None;
                }
            }
        }
        Some(rendered)
    }

    /// Renders each volume's `external` name for every member: a Docker volume name each, and no
    /// two members' the same, since they would share one data directory.
    pub(super) fn check_external_volumes(&mut self, volumes: &[Volume], name: &str, replicas: u32) {
        let peers = &stand_in_members(name, replicas, &BTreeMap::new());
        for volume in volumes {
            let Some(external) = &volume.external else {
                continue;
            };
            let Some(names) = self.render_for_each_member(external, peers) else {
                return;
            };
            let range = external
                .span
                .as_ref()
                .map(|s| s.range.clone())
                .unwrap_or(0..0);
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, name) in names.iter().enumerate() {
                if !berth_language::names::docker_volume(name) {
                    return self.error(
                        &errors::SPEC_INVALID_VALUE,
                        range,
                        format!("`volumes.external` of `{}` is `{name}` for member {i}, not a Docker volume name", volume.name),
                        "not a volume name",
                        "use letters, digits, `_`, `.` and `-`, starting with a letter or digit".to_string(),
                    );
                }
                if let Some(first) = seen.insert(name, i) {
                    return self.error(
                        &errors::SPEC_INVALID_VALUE,
                        range,
                        format!("members {first} and {i} would share the external volume `{name}`"),
                        "one volume for two members",
                        "put `{{self.ordinal}}` in `volumes.external`: each member's data is its own".to_string(),
                    );
                }
            }
        }
    }
}

/// The members as every backend names them, each publishing `published`.
pub(super) fn stand_in_members(
    name: &str,
    replicas: u32,
    published: &BTreeMap<String, String>,
) -> Vec<Member> {
    (0..replicas)
        .map(|i| Member {
            ordinal: i.to_string(),
            name: format!("{name}-{i}"),
            host: format!("{name}-{i}"),
            published: published.clone(),
        })
        .collect()
}
