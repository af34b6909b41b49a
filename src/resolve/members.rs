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
        let peers: Vec<Member> = (0..replicas)
            .map(|i| Member {
                ordinal: i.to_string(),
                name: format!("{name}-{i}"),
                host: format!("{name}-{i}"),
                published: std::collections::BTreeMap::clone(&published),
            })
            .collect();
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
        // Compiled once here, each template is only evaluated for every member and backend.
        let check = |r: &mut Self, t: &Template, identity: &Identity| {
            let result = r
                .templates
                .precompile(&t.source)
                .and_then(|()| r.templates.try_member(&t.source, identity));
            if let Err(failure) = result {
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
}
