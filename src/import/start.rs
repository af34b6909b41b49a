//! berth's own start script read back: a compose member whose command is
//! `/bin/sh -c 'STEPS && exec "$0" "$@"' argv...` copies `[[files]]` into place (with their owner
//! and mode) before it runs `argv`. The steps are parsed and accepted only when
//! `berth_model::start` would write exactly them again.

use berth_model::start::{Placement, Source, steps};

/// A file the script copies: from where it is mounted to its path.
pub struct Copied {
    pub aside: String,
    pub path: String,
    pub mode: u32,
    pub owner: Option<u32>,
}

/// The copies a start script makes, and how many words of the argv are the script's.
pub fn read(words: &[&str]) -> Option<(Vec<Copied>, usize)> {
    let [sh, dash_c, script, ..] = words else {
        return None;
    };
    if *sh != "/bin/sh" || *dash_c != "-c" {
        return None;
    }
    let body = script.strip_suffix(" && exec \"$0\" \"$@\"")?;
    let parts: Vec<&str> = body.split(" && ").collect();
    let mut copies = Vec::new();
    let mut rest = parts.as_slice();
    while !rest.is_empty() {
        let (copy, used) = one_copy(rest)?;
        copies.push(copy);
        rest = &rest[used..];
    }
    let placements: Vec<Placement> = copies
        .iter()
        .map(|c| Placement {
            path: c.path.clone(),
            source: Source::Mounted(c.aside.clone()),
            mode: c.mode,
            owner: c.owner,
        })
        .collect();
    (steps(&placements) == parts).then_some((copies, 3))
}

/// `[mkdir -p DIR &&] rm -f PATH && cp FROM PATH [&& chown N PATH] && chmod MODE PATH`.
fn one_copy(parts: &[&str]) -> Option<(Copied, usize)> {
    let mut at = usize::from(parts.first()?.starts_with("mkdir -p "));
    let path = unquote(parts.get(at)?.strip_prefix("rm -f ")?)?;
    at += 1;
    let (from, to) = parts.get(at)?.strip_prefix("cp ")?.split_once(' ')?;
    let (aside, to) = (unquote(from)?, unquote(to)?);
    at += 1;
    let owner = match parts.get(at).and_then(|p| p.strip_prefix("chown ")) {
        Some(chown) => {
            at += 1;
            Some(chown.split(' ').next()?.parse().ok()?)
        }
        None => None,
    };
    let mode =
        u32::from_str_radix(parts.get(at)?.strip_prefix("chmod ")?.split(' ').next()?, 8).ok()?;
    (to == path).then_some((
        Copied {
            aside,
            path,
            mode,
            owner,
        },
        at + 1,
    ))
}

/// A shell word as `shell_quote` writes one: bare, or in single quotes.
fn unquote(word: &str) -> Option<String> {
    match word.strip_prefix('\'') {
        Some(quoted) => Some(quoted.strip_suffix('\'')?.replace("'\\''", "'")),
        None => Some(word.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berths_script_reads_back_and_others_do_not() {
        let placements = [Placement {
            path: "/var/lib/rabbitmq/.erlang.cookie".into(),
            source: Source::Mounted("/run/berth/files/1-erlang.cookie".into()),
            mode: 0o400,
            owner: Some(999),
        }];
        let argv =
            berth_model::start::wrap(&steps(&placements), vec!["docker-entrypoint.sh".into()]);
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (copies, used) = read(&words).unwrap();
        assert_eq!(used, 3);
        assert_eq!(copies[0].path, "/var/lib/rabbitmq/.erlang.cookie");
        assert_eq!((copies[0].mode, copies[0].owner), (0o400, Some(999)));
        assert!(read(&["/bin/sh", "-c", "echo hi && exec \"$0\" \"$@\"", "x"]).is_none());
        assert!(read(&["/bin/sh", "-c", "exec redis-server"]).is_none());
    }
}
