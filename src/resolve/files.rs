//! Resolution of `[[files]]`: content, a `source` read by the read policy, or a secret.

use super::*;

impl Resolver<'_> {
    pub(super) fn files(
        &mut self,
        files: &[toml::Spanned<spec::File>],
        context: &Context,
    ) -> Vec<File> {
        let mut out: Vec<File> = Vec::new();
        for spanned in files {
            let f = spanned.get_ref();
            let Some(path) = self.string(&f.path, "files.path") else {
                continue;
            };
            if let Err(why) = absolute_path(&path) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    f.path.span(),
                    format!("`files.path` `{}` {why}", path.escape_debug()),
                    "invalid path",
                    "write the absolute path inside the container, like `/etc/app/app.conf`"
                        .to_string(),
                );
            }
            if out.iter().any(|other| other.path == path) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    f.path.span(),
                    format!("two `[[files]]` are at `{path}`"),
                    "second file here",
                    "give each file its own path, or merge their contents".to_string(),
                );
            }
            let Some(body) = self.file_body(spanned, context) else {
                continue;
            };
            let secret = matches!(body, FileBody::Secret { .. });
            let mode = match &f.mode {
                Some(text) => {
                    let parsed = u32::from_str_radix(text.get_ref(), 8)
                        .ok()
                        .filter(|m| *m <= 0o7777 && !text.get_ref().is_empty());
                    if parsed.is_none() {
                        self.error(&errors::SPEC_INVALID_VALUE, text.span(), format!("`files.mode` `{}` is not an octal mode", text.get_ref()), "not a mode", "write the permissions as an octal string, like `\"0644\"` or `\"0400\"`".to_string());
                    }
                    parsed.unwrap_or(0o644)
                }
                None if secret => 0o400,
                None => 0o644,
            };
            let owner = f
                .owner
                .as_ref()
                .and_then(|o| self.integer(o, "files.owner", 0, i64::from(u32::MAX)))
                .map(|o| o as u32);
            out.push(File {
                path,
                body,
                mode,
                owner,
                span: self.span(spanned.span()),
            });
        }
        out
    }

    /// Exactly one of `content`, `source` (read beside the spec) or `secret` with `key`.
    pub(super) fn file_body(
        &mut self,
        spanned: &toml::Spanned<spec::File>,
        context: &Context,
    ) -> Option<FileBody> {
        let f = spanned.get_ref();
        let given = [f.content.is_some(), f.source.is_some(), f.secret.is_some()]
            .iter()
            .filter(|g| **g)
            .count();
        if given != 1 {
            self.error(&errors::SPEC_INVALID_VALUE, spanned.span(), format!("a `[[files]]` entry needs exactly one of `content`, `source` and `secret`; this one has {given}"), "one of three", "give the text in `content`, a file beside the spec in `source`, or `secret` and `key`".to_string());
            return None;
        }
        if f.key.is_some() && f.secret.is_none() {
            self.error(
                &errors::SPEC_UNKNOWN_KEY,
                f.key.as_ref().map_or(0..0, |k| k.span()),
                "`files.key` goes with `secret`".to_string(),
                "no secret",
                "remove `key`, or name the `secret` it belongs to".to_string(),
            );
        }
        if let Some(content) = &f.content {
            return Some(FileBody::Content(Template {
                source: content.get_ref().clone(),
                span: self.span(content.span()),
            }));
        }
        if let Some(source) = &f.source {
            return self.source(source, context);
        }
        let secret = f.secret.as_ref()?;
        let Some(key) = &f.key else {
            self.error(
                &errors::SPEC_MISSING_KEY,
                secret.span(),
                "`files.secret` needs `key`: the key within the secret that holds the file"
                    .to_string(),
                "no key",
                "add `key = \"KEY\"`".to_string(),
            );
            return None;
        };
        for (what, v) in [("secret", secret), ("key", key)] {
            if let Err(why) = names::secret_part(v.get_ref()) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.span(),
                    format!("`files.{what}` `{}` {why}", v.get_ref()),
                    "invalid name",
                    names::SECRET_PART_HELP.to_string(),
                );
            }
        }
        Some(FileBody::Secret {
            secret: secret.get_ref().clone(),
            key: key.get_ref().clone(),
        })
    }

    /// A `source` file, read by [`read::beside`]'s policy: inside the spec's folder, or in a
    /// folder of `--allow-read` with a warning that names it.
    pub(super) fn source(&mut self, source: &SString, context: &Context) -> Option<FileBody> {
        match read::beside(context.spec_dir, source.get_ref(), context.allow_read) {
            Ok(read) => {
                if let Some(outside) = read.outside {
                    self.warnings.push(
                        Diagnostic::input(
                            &errors::SPEC_READ_OUTSIDE,
                            format!(
                                "`files.source` read `{}`, outside the spec's folder, as `--allow-read` allows",
                                outside.display()
                            ),
                        )
                        .at(self.span(source.span()), "read from outside"),
                    );
                }
                Some(FileBody::Content(Template {
                    source: read.text,
                    span: self.span(source.span()),
                }))
            }
            Err(refused) => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    source.span(),
                    format!("`files.source`: {}", refused.message),
                    "not read",
                    refused.help,
                );
                None
            }
        }
    }
}
