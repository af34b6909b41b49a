//! Image references in Docker's grammar (the distribution project's `reference` package):
//! `[domain[:port]/]path[:tag][@digest]`, the path in lowercase.

/// What a valid reference pins: its digest (`sha256:...`) if it has one, else its tag, else `None`
/// (which a registry reads as `latest`). An invalid reference says why.
pub fn pin(reference: &str) -> Result<Option<String>, String> {
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    // A `:` after the last `/` starts the tag; one before it belongs to the registry's port.
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    name_is_valid(name)?;
    if let Some(tag) = tag {
        tag_is_valid(tag)?;
    }
    if let Some(digest) = digest {
        digest_is_valid(digest)?;
        return Ok(Some(digest.to_string()));
    }
    Ok(tag.map(str::to_string))
}

fn name_is_valid(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("has a name that is empty or longer than 255 characters".into());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if has_domain {
        domain_is_valid(first)?;
        components.remove(0);
    }
    for component in components {
        path_component_is_valid(component)?;
    }
    Ok(())
}

fn domain_is_valid(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || domain.starts_with('[') => (host, Some(port)),
        _ => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("has a registry port `{port}` that is not a number"));
    }
    if host.starts_with('[') && host.ends_with(']') {
        return Ok(());
    }
    let valid = host.split('.').all(|part| {
        !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    });
    if valid {
        Ok(())
    } else {
        Err(format!("has an invalid registry `{host}`"))
    }
}

/// `[a-z0-9]+` runs joined by one `.`, one `_`, two `_`, or any number of `-`.
fn path_component_is_valid(component: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "has `{component}` in its path, which takes lowercase letters and digits, joined by `.`, `_`, `__` or `-`"
        ))
    };
    let bytes = component.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_alphanumeric()
        || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
    {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let run = bytes[i..]
            .iter()
            .take_while(|c| !c.is_ascii_alphanumeric())
            .count();
        let separator = &component[i..i + run];
        // An uppercase letter makes an empty run: neither a letter here nor a separator.
        let allowed = matches!(separator, "." | "_" | "__")
            || (run > 0 && separator.bytes().all(|c| c == b'-'));
        if !allowed {
            return bad();
        }
        i += run;
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn tag_is_valid(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    if !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "has an invalid tag `{tag}` (letters, digits, `_`, `.` and `-`, at most 128)"
        ))
    }
}

/// `ALGORITHM:HEX`, at least 32 hex digits.
fn digest_is_valid(digest: &str) -> Result<(), String> {
    match digest.split_once(':') {
        Some((algorithm, hex))
            if !algorithm.is_empty()
                && algorithm.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b)
                })
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "has an invalid digest `{digest}` (like `sha256:` and 64 hex digits)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::pin;

    #[test]
    fn references() {
        assert_eq!(pin("postgres:16.4"), Ok(Some("16.4".into())));
        assert_eq!(pin("redis"), Ok(None));
        assert_eq!(
            pin("quay.io/coreos/etcd:v3.5.15"),
            Ok(Some("v3.5.15".into()))
        );
        assert_eq!(pin("localhost:5000/team/db"), Ok(None));
        assert_eq!(pin("registry.example.com:5000/db:1"), Ok(Some("1".into())));
        assert_eq!(
            pin("cockroachdb/cockroach:latest"),
            Ok(Some("latest".into()))
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(pin(&format!("db@{digest}")), Ok(Some(digest.clone())));
        assert_eq!(pin(&format!("db:1@{digest}")), Ok(Some(digest)));
        for bad in [
            "Cockroach DB:latest",
            "Postgres:16",
            "db:",
            "db:-x",
            "db@sha256:abc",
            "a//b",
            "db-:1",
            "registry:port/db",
            "",
        ] {
            assert!(pin(bad).is_err(), "{bad} is accepted");
        }
    }
}
