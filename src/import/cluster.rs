//! Which Compose services are one stateful service, and how their per-member strings become
//! templates. Members are services with the same image whose names end in consecutive
//! ordinals (`etcd1`, `etcd2`, `etcd3`), those berth itself labelled, or one service with
//! `deploy.replicas`. A string becomes one template for every member when the members' own
//! names turn into `self`/`peers` and differing numbers into the ordinal.

use super::compose::{ComposeFile, Service};
use super::interpolate::{Interpolated, Part};

/// One stateful service of the Compose file and the services that are its members.
pub struct Cluster<'a> {
    /// The spec's name.
    pub name: String,
    pub members: Vec<&'a Service>,
    /// `deploy.replicas` of a single service: members compose names itself.
    pub replicas: u32,
}

impl Cluster<'_> {
    pub fn first(&self) -> &Service {
        self.members[0]
    }
}

/// The services grouped into clusters, in file order of their first member.
pub fn group(file: &ComposeFile) -> Vec<Cluster<'_>> {
    let mut clusters: Vec<Cluster> = Vec::new();
    for service in &file.services {
        let key = cluster_key(service);
        let image = image_of(service);
        let same = |c: &Cluster| {
            let first = cluster_key(c.first());
            first.0 == key.0 && first.1.is_some() && image_of(c.first()) == image
        };
        match clusters.iter_mut().find(|c| same(c)) {
            Some(cluster) if key.1.is_some() => cluster.members.push(service),
            _ => clusters.push(Cluster {
                name: key.0.clone(),
                members: vec![service],
                replicas: service.replicas.as_ref().map_or(1, |(r, _)| *r),
            }),
        }
    }
    // Members in the order of their ordinals; a group whose ordinals are not consecutive is
    // split back into services of their own.
    let mut result = Vec::new();
    for mut cluster in clusters {
        cluster.members.sort_by_key(|s| cluster_key(s).1);
        let ordinals: Vec<u64> = cluster
            .members
            .iter()
            .filter_map(|s| cluster_key(s).1)
            .collect();
        let consecutive = ordinals.windows(2).all(|w| w[1] == w[0] + 1)
            && ordinals.first().is_some_and(|&o| o <= 1);
        if cluster.members.len() > 1 && consecutive {
            cluster.replicas = cluster.members.len() as u32;
            result.push(cluster);
        } else {
            for member in cluster.members {
                // berth's own label names a single member's service; else the service's name.
                let labelled = member
                    .labels
                    .get("berth.service")
                    .filter(|_| member.labels.contains_key("berth.member"));
                result.push(Cluster {
                    name: labelled.unwrap_or(&member.name).clone(),
                    members: vec![member],
                    replicas: member.replicas.as_ref().map_or(1, |(r, _)| *r),
                });
            }
        }
    }
    for cluster in &mut result {
        cluster.name = spec_name(&cluster.name);
    }
    result
}

fn image_of(service: &Service) -> Option<&str> {
    service.image.as_ref().map(|_| service.image_name())
}

/// The cluster a service would belong to, and its ordinal: berth's own labels, else the name
/// with a trailing number (`etcd1`, `zoo-2`, `es01`).
fn cluster_key(service: &Service) -> (String, Option<u64>) {
    if let (Some(name), Some(ordinal)) = (
        service.labels.get("berth.service"),
        service.labels.get("berth.member"),
    ) {
        return (name.clone(), ordinal.parse().ok());
    }
    let name = service.name.as_str();
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits == name.len() {
        return (name.to_string(), None);
    }
    let (base, number) = name.split_at(name.len() - digits);
    (
        base.trim_end_matches(['-', '_']).to_string(),
        number.parse().ok(),
    )
}

/// A DNS label for the spec: lowercase letters, digits and `-`, starting with a letter.
fn spec_name(name: &str) -> String {
    let mut label: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    label = label.trim_matches('-').to_string();
    if !label.starts_with(|c: char| c.is_ascii_lowercase()) {
        label.insert_str(0, "svc-");
    }
    label.truncate(52);
    label
}

/// The names by which one member is known in the Compose file: its service name, hostname
/// and container name.
pub fn names_of(service: &Service) -> Vec<String> {
    let mut names = vec![service.name.clone()];
    names.extend(service.hostname.clone());
    names.extend(service.container_name.clone());
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    names
}

/// How one spec string is written.
#[derive(Debug, PartialEq, Eq)]
pub struct Templated {
    pub template: String,
}

/// One template for the members' values of a string (`None` where a member lacks it), or
/// `None` when no template gives every member its value. `param` names a variable's parameter.
pub fn template(
    values: &[Option<&Interpolated>],
    names: &[Vec<String>],
    param: &dyn Fn(&str) -> String,
) -> Option<Templated> {
    template_whole(values, names, param).or_else(|| {
        let values: Vec<&Interpolated> = values.iter().copied().collect::<Option<_>>()?;
        by_line(&values, names, param)
    })
}

fn template_whole(
    values: &[Option<&Interpolated>],
    names: &[Vec<String>],
    param: &dyn Fn(&str) -> String,
) -> Option<Templated> {
    let values: Vec<&Interpolated> = values.iter().copied().collect::<Option<_>>()?;
    let written = |mode| -> Vec<String> {
        let each = values.iter().enumerate();
        each.map(|(i, v)| write(v, i, names, mode, param)).collect()
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
    names: &[Vec<String>],
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
        let refs: Vec<Option<&Interpolated>> = line.iter().map(Some).collect();
        template.push_str(&template_whole(&refs, names, param)?.template);
    }
    Some(Templated { template })
}

/// The first member's value as a template, for a string no template gives every member.
pub fn first_member(
    value: &Interpolated,
    names: &[Vec<String>],
    param: &dyn Fn(&str) -> String,
) -> String {
    write(value, 0, names, Mode::SelfAndPeers, param)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every member name is `peers.[j]`: strings that are the same for every member.
    Peers,
    /// A member's own name is `self`: strings that name the member itself.
    SelfAndPeers,
}

/// One member's string as a template: text escaped, variables as parameters, member names as
/// `self` or `peers`.
fn write(
    value: &Interpolated,
    me: usize,
    names: &[Vec<String>],
    mode: Mode,
    param: &dyn Fn(&str) -> String,
) -> String {
    value
        .parts
        .iter()
        .map(|part| match part {
            Part::Var(r) => format!("{{{{params.{}}}}}", param(&r.name)),
            Part::Text(text) => replace_names(text, me, names, mode),
        })
        .collect()
}

/// Replaces whole-word member names with the member's `host`: the name by which it is reached,
/// which is also what the software calls it, so that one spelling stays consistent on every
/// backend (on Kubernetes `host` is the member's DNS name under the headless Service).
fn replace_names(text: &str, me: usize, names: &[Vec<String>], mode: Mode) -> String {
    let escaped = text.replace("{{", "\\{{");
    let mut out = String::new();
    let mut rest = escaped.as_str();
    'scan: while !rest.is_empty() {
        let at_boundary = out.chars().last().is_none_or(|c| !is_name_char(c));
        if at_boundary {
            for (j, member_names) in names.iter().enumerate() {
                for name in member_names {
                    let Some(after) = rest.strip_prefix(name.as_str()) else {
                        continue;
                    };
                    if after.starts_with(is_name_char) {
                        continue;
                    }
                    let who = if mode == Mode::SelfAndPeers && j == me {
                        "self".to_string()
                    } else {
                        format!("peers.[{j}]")
                    };
                    out.push_str(&format!("{{{{{who}.host}}}}"));
                    rest = after;
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpolate::parse;

    fn names() -> Vec<Vec<String>> {
        (1..=3).map(|i| vec![format!("etcd{i}")]).collect()
    }

    fn templated(values: &[&str]) -> Option<Templated> {
        let parsed: Vec<Interpolated> = values.iter().map(|v| parse(v).unwrap()).collect();
        let refs: Vec<Option<&Interpolated>> = parsed.iter().map(Some).collect();
        template(&refs, &names(), &|n: &str| n.to_lowercase())
    }

    /// Each case: the three members' values, and the one template for them (`None`: none fits).
    const CASES: [([&str; 3], Option<&str>); 8] = [
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
            [
                "etcd1:2380,etcd2:2380",
                "etcd1:2380,etcd2:2380",
                "etcd1:2380,etcd2:2380",
            ],
            Some("{{peers.[0].host}}:2380,{{peers.[1].host}}:2380"),
        ),
        (["1", "2", "3"], Some("{{add self.ordinal 1}}")),
        (["id-0", "id-1", "id-2"], Some("id-{{self.ordinal}}")),
        (["1", "5", "3"], None),
        (["${V:-1}", "${V:-1}", "${V:-1}"], Some("{{params.v}}")),
        // Names inside longer words stay.
        (
            [
                "etcd10 etcd1-data",
                "etcd10 etcd1-data",
                "etcd10 etcd1-data",
            ],
            Some("etcd10 etcd1-data"),
        ),
    ];

    #[test]
    fn one_template_for_the_members_values() {
        for (values, expected) in CASES {
            let got = templated(&values).map(|t| t.template);
            assert_eq!(got.as_deref(), expected, "{values:?}");
        }
    }

    #[test]
    fn a_file_is_templated_line_by_line() {
        let file = |me: &str| format!("node.name: {me}\nseeds: [etcd1, etcd2, etcd3]\n");
        let values = [file("etcd1"), file("etcd2"), file("etcd3")];
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let t = templated(&values).unwrap();
        assert_eq!(
            t.template,
            "node.name: {{self.host}}\nseeds: [{{peers.[0].host}}, {{peers.[1].host}}, {{peers.[2].host}}]\n"
        );
    }
}
