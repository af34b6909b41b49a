//! How the members' values of one string become one spec template. Only a member's identity is
//! templated: a name where it stands for a host (`http://etcd1:2380`, `1@kafka-1:9093`,
//! `etcd1:2379`) and, among several members, a name standing alone as one item of a value
//! (`--name etcd1`, `es01,es02,es03`) where the value follows the member or names several of
//! them. A member's name inside anything else (`redis:7`, `/data/redis`, `DB_USER: gitea`,
//! `redis-server`) is text, never a host. Numbers that count the members become the ordinal.

use super::interpolate::{Interpolated, Part};

/// Each member's names (service name, hostname, container name) by its index, with the member
/// of each name looked up in one table built once: a text is then scanned in time linear in its
/// length, however many members there are.
#[derive(Default)]
pub struct Names {
    by_member: Vec<Vec<String>>,
    member_of: std::collections::HashMap<String, usize>,
}

impl Names {
    pub fn new(by_member: Vec<Vec<String>>) -> Self {
        let mut member_of = std::collections::HashMap::new();
        for (j, names) in by_member.iter().enumerate() {
            for name in names.iter().filter(|n| !n.is_empty()) {
                member_of.entry(name.clone()).or_insert(j);
            }
        }
        Names {
            by_member,
            member_of,
        }
    }
}

impl std::ops::Deref for Names {
    type Target = [Vec<String>];

    fn deref(&self) -> &[Vec<String>] {
        &self.by_member
    }
}

/// How one spec string is written.
#[derive(Debug, PartialEq, Eq)]
pub struct Templated {
    pub template: String,
}

/// Which occurrences of a member's name are its identity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Only where the name stands for a host: after `//` or `@`, or before `:PORT`.
    Hosts,
    /// Hosts, and the name standing alone as one item of a list or value (`--name etcd1`,
    /// `etcd1=http://...`, `es01,es02`).
    Items,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every member name is `peers.[j]`: strings that are the same for every member.
    Peers,
    /// A member's own name is `self`: strings that name the member itself.
    SelfAndPeers,
}

/// One template for the members' values of a string (`None` where a member lacks it), or
/// `None` when no template gives every member its value. `names` holds each member's names;
/// `param` names a variable's parameter.
pub fn template(
    values: &[Option<&Interpolated>],
    names: &Names,
    hosts: bool,
    param: &dyn Fn(&str) -> String,
) -> Option<Templated> {
    let values: Vec<&Interpolated> = values.iter().copied().collect::<Option<_>>()?;
    template_whole(&values, names, hosts, param).or_else(|| by_line(&values, names, param))
}

/// How far the members' names are templated in these values. A lone name is a member's identity
/// only among several members, and only when the value follows the member (`--name etcd1` on
/// `etcd1`) or names two members or more (a peer list): a value that is the same everywhere and
/// names one member alone (`ZOO_USER: zoo`) is text. A value whose key says it holds hosts
/// (`hosts`: `MONGODB_INITIAL_PRIMARY_HOST`, `KAFKA_SEEDS`) is a host wherever a name stands
/// alone in it.
fn reach(values: &[&Interpolated], names: &Names, hosts: bool) -> Reach {
    if hosts {
        return Reach::Items;
    }
    if names.len() < 2 {
        return Reach::Hosts;
    }
    let varies = values.iter().any(|v| *v != values[0]);
    let several = values.iter().any(|v| {
        let mut named: Vec<usize> = texts(v)
            .flat_map(|t| occurrences(t, names, Reach::Items))
            .map(|(_, _, member)| member)
            .collect();
        named.sort_unstable();
        named.dedup();
        named.len() > 1
    });
    if varies || several {
        Reach::Items
    } else {
        Reach::Hosts
    }
}

fn texts(value: &Interpolated) -> impl Iterator<Item = &str> {
    value.parts.iter().filter_map(|p| match p {
        Part::Text(t) => Some(t.as_str()),
        Part::Var(_) => None,
    })
}

fn template_whole(
    values: &[&Interpolated],
    names: &Names,
    hosts: bool,
    param: &dyn Fn(&str) -> String,
) -> Option<Templated> {
    let reach = reach(values, names, hosts);
    let written = |mode| -> Vec<String> {
        let each = values.iter().enumerate();
        each.map(|(i, v)| write(v, i, names, mode, reach, param))
            .collect()
    };
    let modes = [written(Mode::Peers), written(Mode::SelfAndPeers)];
    if let Some(same) = modes.iter().find(|w| w.iter().all(|x| *x == w[0])) {
        return Some(Templated {
            template: same[0].clone(),
        });
    }
    modes.iter().find_map(|w| with_ordinal(w))
}

/// A text of several lines (a configuration file) templated line by line, so that one line may
/// name the member itself and the next every member.
fn by_line(
    values: &[&Interpolated],
    names: &Names,
    param: &dyn Fn(&str) -> String,
) -> Option<Templated> {
    let texts: Vec<&str> = values
        .iter()
        .map(|v| match v.parts.as_slice() {
            [Part::Text(text)] => Some(text.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let lines: Vec<Vec<&str>> = texts
        .iter()
        .map(|t| t.split_inclusive('\n').collect())
        .collect();
    if lines[0].len() < 2 || lines.iter().any(|l| l.len() != lines[0].len()) {
        return None;
    }
    let mut template = String::new();
    for i in 0..lines[0].len() {
        let line: Vec<Interpolated> = lines
            .iter()
            .map(|l| Interpolated {
                parts: vec![Part::Text(l[i].to_string())],
            })
            .collect();
        let refs: Vec<&Interpolated> = line.iter().collect();
        template.push_str(&template_whole(&refs, names, false, param)?.template);
    }
    Some(Templated { template })
}

/// The first member's value as a template, for a string no template gives every member.
pub fn first_member(
    value: &Interpolated,
    names: &Names,
    hosts: bool,
    param: &dyn Fn(&str) -> String,
) -> String {
    let reach = reach(&[value], names, hosts);
    write(value, 0, names, Mode::SelfAndPeers, reach, param)
}

/// A string of the init step, which is not a member: among several members, every member's
/// name standing alone in it is a peer it talks to (`--host=roach1`).
pub fn for_init(value: &Interpolated, names: &Names, param: &dyn Fn(&str) -> String) -> String {
    let reach = if names.len() > 1 {
        Reach::Items
    } else {
        Reach::Hosts
    };
    write(value, 0, names, Mode::Peers, reach, param)
}

/// Each member's own value, chosen by the member's ordinal: the values of members with roles
/// (`primary` on the first, `secondary` on the others), which no one template computes.
pub fn per_member(
    values: &[&Interpolated],
    names: &Names,
    hosts: bool,
    param: &dyn Fn(&str) -> String,
) -> String {
    let reach = reach(values, names, hosts);
    let own: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| write(v, i, names, Mode::SelfAndPeers, reach, param))
        .collect();
    chosen_by_ordinal(&own)
}

/// Each member's value of `values`, chosen by its ordinal (`{{#if (eq self.ordinal "0")}}`...).
fn chosen_by_ordinal(values: &[String]) -> String {
    let mut template = String::new();
    let last = values.len() - 1;
    for (i, value) in values.iter().enumerate() {
        if i == last {
            template.push_str("{{else}}");
        } else if i == 0 {
            template.push_str(&format!("{{{{#if (eq self.ordinal \"{i}\")}}}}"));
        } else {
            template.push_str(&format!("{{{{else if (eq self.ordinal \"{i}\")}}}}"));
        }
        template.push_str(value);
    }
    template.push_str("{{/if}}");
    template
}

/// Whether the members' values differ only where members' names stand: a peer list that
/// leaves out the member itself (`es02,es03` on `es01`), not a role.
pub fn differ_by_names(values: &[&Interpolated], names: &Names) -> bool {
    let blanked: Vec<String> = values
        .iter()
        .map(|v| {
            texts(v)
                .map(|t| {
                    let mut out = String::new();
                    let mut at = 0;
                    for (start, end, _) in occurrences(t, names, Reach::Items) {
                        out.push_str(&t[at..start]);
                        out.push('\u{0}');
                        at = end;
                    }
                    out.push_str(&t[at..]);
                    out
                })
                .collect()
        })
        .collect();
    let normalize = |s: &str| {
        let mut items: Vec<&str> = s.split(',').collect();
        items.sort_unstable();
        items.join(",")
    };
    blanked
        .iter()
        .all(|b| normalize(b) == normalize(&blanked[0]))
}

/// The members a text names where it names a host or a peer (`http://etcd2:2380`,
/// `--join=roach1,roach2`), by their index in `names`.
pub fn named(text: &str, names: &Names) -> Vec<usize> {
    occurrences(text, names, Reach::Items)
        .into_iter()
        .map(|(_, _, member)| member)
        .collect()
}

/// The ports a text names beside a member's name where it stands for a host (`etcd2:2380`,
/// `1@kafka-1:9093`), as (member, port).
pub fn named_ports(text: &str, names: &Names) -> Vec<(usize, u16)> {
    occurrences(text, names, Reach::Hosts)
        .into_iter()
        .filter_map(|(_, end, member)| {
            let digits: String = text[end..]
                .strip_prefix(':')?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Some((member, digits.parse().ok()?))
        })
        .collect()
}

/// One member's string as a template: text escaped, variables as parameters, member names as
/// `self` or `peers` where they are a member's identity.
fn write(
    value: &Interpolated,
    me: usize,
    names: &Names,
    mode: Mode,
    reach: Reach,
    param: &dyn Fn(&str) -> String,
) -> String {
    value
        .parts
        .iter()
        .map(|part| match part {
            Part::Var(r) => format!("{{{{params.{}}}}}", param(&r.name)),
            Part::Text(text) => replace_names(text, me, names, mode, reach),
        })
        .collect()
}

/// Replaces the member names that are a member's identity with the member's `host`: the name by
/// which it is reached, which is also what the software calls it, so that one spelling stays
/// consistent on every backend (on Kubernetes `host` is the member's DNS name under the headless
/// Service). Text is escaped first, so that it stays text.
fn replace_names(text: &str, me: usize, names: &Names, mode: Mode, reach: Reach) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (start, end, member) in occurrences(text, names, reach) {
        out.push_str(&text[at..start].replace("{{", "\\{{"));
        let who = if mode == Mode::SelfAndPeers && member == me {
            "self".to_string()
        } else {
            format!("peers.[{member}]")
        };
        out.push_str(&format!("{{{{{who}.host}}}}"));
        at = end;
    }
    out.push_str(&text[at..].replace("{{", "\\{{"));
    out
}

/// Where members' names stand as their identity in `text`: (start, end, member), in order. A
/// name is whole (not part of a longer word such as `redis-server` or `etcd10`). Each word is
/// looked up once in `names`' table.
fn occurrences(text: &str, names: &Names, reach: Reach) -> Vec<(usize, usize, usize)> {
    let members = &names.member_of;
    let mut found = Vec::new();
    if members.is_empty() {
        return found;
    }
    let mut i = 0;
    while i < text.len() {
        let before = &text[..i];
        let rest = &text[i..];
        if before.chars().last().is_none_or(|c| !is_name_char(c)) && rest.starts_with(is_name_char)
        {
            // The word here, and the word with dots (a host name such as `zoo1.local`).
            let word = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let dotted = rest
                .find(|c: char| !is_name_char(c) && c != '.')
                .unwrap_or(rest.len());
            let hit = [dotted, word].into_iter().find_map(|len| {
                let member = *members.get(&rest[..len])?;
                identity(before, &rest[len..], reach).then_some((len, member))
            });
            if let Some((len, member)) = hit {
                found.push((i, i + len, member));
            }
            i += hit.map_or(word, |(len, _)| len);
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Whether a whole name between `before` and `after` is a member's identity.
fn identity(before: &str, after: &str, reach: Reach) -> bool {
    let host = before.ends_with("//")
        || before.ends_with('@')
        || port_follows(after)
        || (host_key(before) && alone(before, after));
    host || (reach == Reach::Items && alone(before, after))
}

/// Whether a key or flag names hosts: its last word (`MONGODB_INITIAL_PRIMARY_HOST`,
/// `--advertise-addr`, `seeds`) says so.
pub fn names_hosts(key: &str) -> bool {
    const HOSTS: [&str; 13] = [
        "host",
        "hostname",
        "hosts",
        "addr",
        "address",
        "join",
        "seed",
        "seeds",
        "server",
        "servers",
        "peer",
        "peers",
        "bootstrap",
    ];
    let last = key.rsplit(['-', '_', '.']).next().unwrap_or(key);
    HOSTS.contains(&last.to_ascii_lowercase().as_str())
}

/// Whether the text before a name ends with a key or flag that names a host (`--host=`,
/// `-h `, `seeds=`, `advertise-addr=`): its value is a host, whoever names it.
fn host_key(before: &str) -> bool {
    let Some(key) = before.strip_suffix(['=', ' ']) else {
        return false;
    };
    let key = key.rsplit([' ', ',', ';', '"', '\'']).next().unwrap_or(key);
    key == "-h" || names_hosts(key)
}

/// `:PORT` and then no more of a word: `etcd1:2380`, `zoo2:2888:3888`; not an image's tag
/// (`redis:7.2`, `redis:7-alpine`).
fn port_follows(after: &str) -> bool {
    let Some(rest) = after.strip_prefix(':') else {
        return false;
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0
        && !rest[digits..].starts_with(|c: char| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The name is one item of its value: nothing but separators on either side (not a path's
/// `/`, a domain's `.`, or a key's `:`).
fn alone(before: &str, after: &str) -> bool {
    const SEPARATORS: &str = " \t\r\n,;=[](){}\"'`";
    before.chars().last().is_none_or(|c| SEPARATORS.contains(c))
        && after.chars().next().is_none_or(|c| SEPARATORS.contains(c))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Members' strings that differ only in numbers that count the members (`1`, `2`, `3` or `0`,
/// `1`, `2`) as one template with the ordinal.
fn with_ordinal(written: &[String]) -> Option<Templated> {
    let tokens: Vec<Vec<&str>> = written.iter().map(|w| number_tokens(w)).collect();
    if tokens.iter().any(|t| t.len() != tokens[0].len()) {
        return None;
    }
    let mut template = String::new();
    for position in 0..tokens[0].len() {
        let column: Vec<&str> = tokens.iter().map(|t| t[position]).collect();
        if column.iter().all(|t| *t == column[0]) {
            template.push_str(column[0]);
            continue;
        }
        let numbers: Vec<u64> = column
            .iter()
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        let offset = numbers[0];
        if offset > 1
            || numbers
                .iter()
                .enumerate()
                .any(|(i, n)| *n != i as u64 + offset)
        {
            return None;
        }
        if offset == 1 {
            template.push_str("{{add self.ordinal 1}}");
        } else {
            template.push_str("{{self.ordinal}}");
        }
    }
    Some(Templated { template })
}

/// A string split into runs of digits and runs of anything else; a `{{...}}` expression is
/// never split.
fn number_tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut digits = None;
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        if text[i..].starts_with("{{") {
            depth += 1;
        } else if text[..i].ends_with("}}") && depth > 0 {
            depth -= 1;
        }
        let d = c.is_ascii_digit() && depth == 0;
        if digits.is_some_and(|was| was != d) {
            tokens.push(&text[start..i]);
            start = i;
        }
        digits = Some(d);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

/// One template for the members' own names of one thing (each member's Docker volume): the name
/// with the member's ordinal where the names differ by it, counted from 0 or 1
/// (`app_db1_data` → `app_db{{add self.ordinal 1}}_data`); else each member's name, chosen by
/// its ordinal.
pub fn by_ordinal(names: &[String]) -> String {
    if let [only] = names {
        return only.clone();
    }
    for base in [0, 1] {
        let first = base.to_string();
        for (at, _) in names[0].match_indices(&first) {
            let (prefix, suffix) = (&names[0][..at], &names[0][at + first.len()..]);
            let counted = names
                .iter()
                .enumerate()
                .all(|(i, name)| *name == format!("{prefix}{}{suffix}", i + base));
            if counted {
                let ordinal = if base == 0 {
                    "{{self.ordinal}}"
                } else {
                    "{{add self.ordinal 1}}"
                };
                return format!("{prefix}{ordinal}{suffix}");
            }
        }
    }
    chosen_by_ordinal(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpolate::parse;

    fn members(names: &[&str]) -> Names {
        Names::new(names.iter().map(|n| vec![n.to_string()]).collect())
    }

    fn templated(values: &[&str], names: &Names) -> Option<String> {
        let parsed: Vec<Interpolated> = values.iter().map(|v| parse(v).unwrap()).collect();
        let refs: Vec<Option<&Interpolated>> = parsed.iter().map(Some).collect();
        template(&refs, names, false, &|n: &str| n.to_lowercase()).map(|t| t.template)
    }

    /// Each case: the three members' values, and the one template for them (`None`: none fits).
    const CASES: [([&str; 3], Option<&str>); 11] = [
        (["etcd1", "etcd2", "etcd3"], Some("{{self.host}}")),
        (
            [
                "http://etcd1:2380",
                "http://etcd2:2380",
                "http://etcd3:2380",
            ],
            Some("http://{{self.host}}:2380"),
        ),
        (
            ["etcd1=http://etcd1:2380,etcd2=http://etcd2:2380"; 3],
            Some(
                "{{peers.[0].host}}=http://{{peers.[0].host}}:2380,{{peers.[1].host}}=http://{{peers.[1].host}}:2380",
            ),
        ),
        (["1", "2", "3"], Some("{{add self.ordinal 1}}")),
        (["id-0", "id-1", "id-2"], Some("id-{{self.ordinal}}")),
        (["1", "5", "3"], None),
        (["${V:-1}", "${V:-1}", "${V:-1}"], Some("{{params.v}}")),
        // Names inside longer words stay.
        (["etcd10 etcd1-data"; 3], Some("etcd10 etcd1-data")),
        // A path, a tag and one member's name alone in a value the same everywhere are text.
        (["/var/lib/etcd1/data"; 3], Some("/var/lib/etcd1/data")),
        (
            ["etcd1:3.5-alpine etcd1:7.2"; 3],
            Some("etcd1:3.5-alpine etcd1:7.2"),
        ),
        (["etcd1"; 3], Some("etcd1")),
    ];

    #[test]
    fn one_template_for_the_members_values() {
        let names = members(&["etcd1", "etcd2", "etcd3"]);
        for (values, expected) in CASES {
            let got = templated(&values, &names);
            assert_eq!(got.as_deref(), expected, "{values:?}");
        }
    }

    /// The reproducer of issue 29 item 1: a single member's name in its image, its database
    /// user and its command is text; where it is a host, it is the member's.
    #[test]
    fn a_members_name_is_templated_only_where_it_is_its_identity() {
        for (name, value, expected) in [
            ("redis", "redis:7-alpine", "redis:7-alpine"),
            ("gitea", "gitea/gitea:1.22", "gitea/gitea:1.22"),
            ("gitea", "gitea", "gitea"),
            ("postgres", "postgres", "postgres"),
            (
                "mongo",
                "mongo --eval db.version()",
                "mongo --eval db.version()",
            ),
            (
                "redis",
                "/usr/local/etc/redis/redis.conf",
                "/usr/local/etc/redis/redis.conf",
            ),
            (
                "kafka",
                "PLAINTEXT://kafka:9092",
                "PLAINTEXT://{{peers.[0].host}}:9092",
            ),
            ("rabbit", "rabbit@rabbit", "rabbit@{{peers.[0].host}}"),
            ("db", "db:5432", "{{peers.[0].host}}:5432"),
        ] {
            assert_eq!(
                templated(&[value], &members(&[name])).as_deref(),
                Some(expected),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn a_file_is_templated_line_by_line() {
        let file = |me: &str| format!("node.name: {me}\nseeds: [etcd1, etcd2, etcd3]\n");
        let values = [file("etcd1"), file("etcd2"), file("etcd3")];
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(
            templated(&values, &members(&["etcd1", "etcd2", "etcd3"])).unwrap(),
            "node.name: {{self.host}}\nseeds: [{{peers.[0].host}}, {{peers.[1].host}}, {{peers.[2].host}}]\n"
        );
    }

    #[test]
    fn roles_are_chosen_by_the_ordinal_and_peer_lists_are_told_apart() {
        let names = members(&["m1", "m2", "m3"]);
        let parse_all = |values: &[&str]| -> Vec<Interpolated> {
            values.iter().map(|v| parse(v).unwrap()).collect()
        };
        let roles = parse_all(&["primary", "secondary", "secondary"]);
        let roles: Vec<&Interpolated> = roles.iter().collect();
        assert_eq!(
            per_member(&roles, &names, false, &|n: &str| n.to_string()),
            "{{#if (eq self.ordinal \"0\")}}primary{{else if (eq self.ordinal \"1\")}}secondary{{else}}secondary{{/if}}"
        );
        assert!(!differ_by_names(&roles, &names));
        let seeds = parse_all(&["m2,m3", "m1,m3", "m1,m2"]);
        let seeds: Vec<&Interpolated> = seeds.iter().collect();
        assert!(differ_by_names(&seeds, &names));
    }
}
