//! Resolution of `[[volumes]]`.

use super::*;

impl Resolver<'_> {
    pub(super) fn volumes(&mut self, volumes: &[toml::Spanned<spec::Volume>]) -> Vec<Volume> {
        let mut names = BTreeSet::new();
        let mut paths = BTreeSet::new();
        let mut out = Vec::new();
        for spanned in volumes {
            let v = spanned.get_ref();
            let name = self.volume_name(&v.name, &mut names);
            let path = self.volume_path(&v.path, &mut paths);
            let persistent = v
                .persistent
                .as_ref()
                .and_then(|p| self.boolean(p, "volumes.persistent"))
                .unwrap_or(true);
            let external = v.external.as_ref().map(|e| self.template(e));
            if let (Some(external), false) = (&v.external, persistent) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    external.span(),
                    format!("volume `{name}` is not persistent, yet names an external volume"),
                    "an external volume holds data",
                    "remove `persistent = false`: an external volume holds data that outlives the container".to_string(),
                );
            }
            let size = match &v.size {
                Some(s) => self.volume_size(s),
                // The external volume exists: its size is what it is.
                None if persistent && external.is_none() => {
                    self.error(
                        &errors::SPEC_MISSING_KEY,
                        spanned.span(),
                        format!("persistent volume `{name}` has no `size`"),
                        "needs `size`",
                        "add `size = \"10Gi\"` (a Kubernetes quantity)".to_string(),
                    );
                    None
                }
                None => None,
            };
            let class = v
                .class
                .as_ref()
                .and_then(|c| self.string(c, "volumes.class"))
                .filter(|c| !c.is_empty());
            out.push(Volume {
                name,
                path,
                size,
                class,
                persistent,
                external,
                span: self.span(spanned.span()),
            });
        }
        out
    }

    /// A volume's name: a DNS label, not taken by another volume.
    fn volume_name(&mut self, spanned: &SString, names: &mut BTreeSet<String>) -> String {
        let name = self.string(spanned, "volumes.name").unwrap_or_default();
        if let Err(why) = dns_label(&name, 63) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                spanned.span(),
                format!("volume name `{name}` {why}"),
                "invalid volume name",
                "use lowercase letters, digits and `-`".to_string(),
            );
        }
        if !names.insert(name.clone()) {
            self.error(
                &errors::SPEC_DUPLICATE,
                spanned.span(),
                format!("volume `{name}` is declared twice"),
                "duplicate",
                "give each volume its own name".to_string(),
            );
        }
        name
    }

    /// Where a volume mounts: an absolute path no other volume mounts at.
    fn volume_path(&mut self, spanned: &SString, paths: &mut BTreeSet<String>) -> String {
        let path = self.string(spanned, "volumes.path").unwrap_or_default();
        if let Err(why) = absolute_path(&path) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("volume path `{path}` {why}"),
                "invalid path",
                "write an absolute path such as `/var/lib/data`".to_string(),
            );
        }
        if !paths.insert(path.clone()) {
            self.error(
                &errors::SPEC_DUPLICATE,
                spanned.span(),
                format!("two volumes mount at `{path}`"),
                "duplicate",
                "give each volume its own path".to_string(),
            );
        }
        path
    }

    /// A volume's size as written and in bytes.
    fn volume_size(&mut self, s: &SString) -> Option<(String, u128)> {
        let text = self.string(s, "volumes.size")?;
        let bytes = self.parsed(
            s,
            "volumes.size",
            parse_quantity(&text).and_then(|v| at_least(v, MIN_VOLUME)),
        )?;
        Some((text, bytes as u128))
    }
}
