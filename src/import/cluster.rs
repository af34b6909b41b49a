//! Which Compose services are one stateful service. Members are services of one image whose
//! names make one family (`etcd1`, `etcd2`, `etcd3`; `zoo`, `zoo2`, `zoo3`; `mongo-a`,
//! `mongo-b`; `mongodb-primary`, `mongodb-secondary`), and that are one cluster by what they
//! say: one names another where it names a host or a peer, or depends on it, or, numbered
//! from 0 or 1, they are configured alike. berth's own compose services are grouped by their
//! labels, and one service with `deploy.replicas` is a cluster of its own.

use super::compose::{ComposeFile, Service};
use super::template;

/// One stateful service of the Compose file and the services that are its members.
pub struct Cluster<'a> {
    /// The spec's name, unique among the clusters of one file.
    pub name: String,
    pub members: Vec<&'a Service>,
    /// `deploy.replicas` of a single service: members compose names itself.
    pub replicas: u32,
}

impl Cluster<'_> {
    pub fn first(&self) -> &Service {
        self.members[0]
    }

    /// The members' names in berth's outputs: `<name>-0`, `<name>-1`...
    pub fn hosts(&self) -> Vec<String> {
        let count = self.members.len().max(self.replicas as usize);
        (0..count).map(|i| format!("{}-{i}", self.name)).collect()
    }
}

/// The services grouped into clusters, in file order of their first member.
pub fn group(file: &ComposeFile) -> Vec<Cluster<'_>> {
    let mut result: Vec<Cluster> = Vec::new();
    let mut placed = vec![false; file.services.len()];
    for (i, service) in file.services.iter().enumerate() {
        if placed[i] {
            continue;
        }
        let family: Vec<usize> = (i..file.services.len())
            .filter(|&j| !placed[j] && same_family(service, &file.services[j]))
            .collect();
        let members: Vec<&Service> = family.iter().map(|&j| &file.services[j]).collect();
        match ordered_members(&members) {
            Some(ordered) if ordered.len() > 1 => {
                for j in &family {
                    placed[*j] = true;
                }
                result.push(Cluster {
                    name: family_name(ordered[0]),
                    replicas: ordered.len() as u32,
                    members: ordered,
                });
            }
            _ => {
                placed[i] = true;
                let name = labelled(service).map_or(service.name.as_str(), |(n, _)| n);
                result.push(Cluster {
                    name: spec_name(name),
                    members: vec![service],
                    replicas: service.replicas.as_ref().map_or(1, |(r, _)| *r),
                });
            }
        }
    }
    unique_names(&mut result);
    result
}

/// The spec's name: berth's own label, else the family's stem (`etcd1` → `etcd`), as a DNS
/// label.
fn family_name(service: &Service) -> String {
    let name = match labelled(service) {
        Some((name, _)) => name.to_string(),
        None => place(&service.name).0,
    };
    spec_name(&name)
}

/// Two specs of one file never share a name (`my_db` and `my-db` are both `my-db`): the later
/// one gets a number, so that neither overwrites the other, nor their resources each other's.
fn unique_names(clusters: &mut [Cluster]) {
    for i in 1..clusters.len() {
        let taken = |name: &str, clusters: &[Cluster]| clusters[..i].iter().any(|c| c.name == name);
        if !taken(&clusters[i].name, clusters) {
            continue;
        }
        let base = clusters[i].name.clone();
        let mut n = 2;
        loop {
            let suffix = format!("-{n}");
            let mut name = base.clone();
            name.truncate(52 - suffix.len());
            name.push_str(&suffix);
            if !taken(&name, clusters) {
                clusters[i].name = name;
                break;
            }
            n += 1;
        }
    }
}

/// berth's own labels: the spec's name and the member's ordinal.
fn labelled(service: &Service) -> Option<(&str, u64)> {
    let name = service.labels.get("berth.service")?;
    let ordinal = service.labels.get("berth.member")?.parse().ok()?;
    Some((name, ordinal))
}

/// Where a name stands in its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// The stem alone: `zoo` beside `zoo2` and `zoo3`.
    Bare,
    /// `etcd1`, `es01`, `kafka-2`.
    Number(u64),
    /// `mongo-a`, `mongo-b`.
    Letter(u8),
    /// `mongodb-primary` (0), `mongodb-secondary` (1), `mongodb-arbiter` (2).
    Role(u8),
}

const ROLES: [(&str, u8); 8] = [
    ("primary", 0),
    ("master", 0),
    ("leader", 0),
    ("secondary", 1),
    ("replica", 1),
    ("slave", 1),
    ("follower", 1),
    ("arbiter", 2),
];

/// A service's name as a stem and its place: `zoo-2` → (`zoo`, 2), `zoo` → (`zoo`, bare).
fn place(name: &str) -> (String, Place) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && digits < name.len() {
        let (stem, number) = name.split_at(name.len() - digits);
        if let Ok(number) = number.parse() {
            return (
                stem.trim_end_matches(['-', '_']).to_string(),
                Place::Number(number),
            );
        }
    }
    if let Some((stem, word)) = name.rsplit_once(['-', '_'])
        && !stem.is_empty()
    {
        if let [letter @ b'a'..=b'z'] = word.as_bytes() {
            return (stem.to_string(), Place::Letter(letter - b'a'));
        }
        if let Some((_, rank)) = ROLES.iter().find(|(r, _)| *r == word) {
            return (stem.to_string(), Place::Role(*rank));
        }
    }
    (name.to_string(), Place::Bare)
}

/// Whether two services may be members of one cluster: berth's label says so, or one image
/// and one stem.
fn same_family(a: &Service, b: &Service) -> bool {
    match (labelled(a), labelled(b)) {
        (Some((x, _)), Some((y, _))) => return x == y,
        (None, None) => {}
        _ => return false,
    }
    a.image.is_some()
        && a.image_name() == b.image_name()
        && a.replicas.is_none()
        && b.replicas.is_none()
        && place(&a.name).0 == place(&b.name).0
}

/// A family's services in the order of their places when they are one cluster, else `None`.
fn ordered_members<'a>(family: &[&'a Service]) -> Option<Vec<&'a Service>> {
    if family.len() < 2 {
        return None;
    }
    if family.iter().all(|s| labelled(s).is_some()) {
        let mut ordered = family.to_vec();
        ordered.sort_by_key(|s| labelled(s).map(|(_, o)| o));
        let consecutive = ordered
            .iter()
            .enumerate()
            .all(|(i, s)| labelled(s).is_some_and(|(_, o)| o == i as u64));
        return consecutive.then_some(ordered);
    }
    let mut ordered = family.to_vec();
    ordered.sort_by_key(|s| place(&s.name).1);
    let places: Vec<Place> = ordered.iter().map(|s| place(&s.name).1).collect();
    let numbered = places.iter().all(|p| matches!(p, Place::Number(_)));
    if !consecutive(&places) {
        return None;
    }
    let alike = numbered && alike(&ordered);
    (alike || one_cluster(&ordered)).then_some(ordered)
}

/// Whether the places follow each other: numbers one by one (from 0 or 1, or after the bare
/// stem from 1 or 2), letters from `a`, roles each once.
fn consecutive(places: &[Place]) -> bool {
    let rest = match places {
        [Place::Bare, rest @ ..] => rest,
        _ => places,
    };
    let bare = rest.len() < places.len();
    match rest {
        [Place::Number(first), ..] => {
            let start_ok = if bare {
                (1..=2).contains(first)
            } else {
                *first <= 1
            };
            start_ok
                && rest
                    .iter()
                    .enumerate()
                    .all(|(i, p)| *p == Place::Number(first + i as u64))
        }
        [Place::Letter(0), ..] if !bare => rest
            .iter()
            .enumerate()
            .all(|(i, p)| *p == Place::Letter(i as u8)),
        [Place::Role(_), ..] => {
            rest.iter().all(|p| matches!(p, Place::Role(_)))
                && rest
                    .windows(2)
                    .all(|w| w[0] != w[1] || w[0] == Place::Role(1))
        }
        _ => false,
    }
}

/// Configured alike: the same variables, command length and mounts.
fn alike(members: &[&Service]) -> bool {
    members.iter().all(|m| shape(m) == shape(members[0]))
}

/// What a service sets, not the values: its variables, the length of its command, its mounts.
fn shape(s: &Service) -> (Vec<&str>, usize, Vec<&str>) {
    let mut keys: Vec<&str> = s.environment.iter().map(|(k, _, _)| k.as_str()).collect();
    keys.sort_unstable();
    let words = s
        .entrypoint
        .iter()
        .chain(s.command.iter())
        .map(Vec::len)
        .sum();
    let mut targets: Vec<&str> = s.mounts.iter().map(|m| m.target.as_str()).collect();
    targets.sort_unstable();
    (keys, words, targets)
}

/// Whether the services say they are one cluster: one depends on another, or names another
/// where it names a host or a peer.
fn one_cluster(members: &[&Service]) -> bool {
    let names = template::Names::new(members.iter().map(|m| names_of(m)).collect());
    members.iter().enumerate().any(|(i, member)| {
        let depends = member
            .depends_on
            .iter()
            .any(|d| members.iter().any(|m| m.name == d.service));
        let strings = member
            .environment
            .iter()
            .filter_map(|(_, v, _)| v.as_ref())
            .chain(member.command.iter().flatten())
            .chain(member.entrypoint.iter().flatten());
        let names_another = strings
            .flat_map(|t| template::named(&t.value, &names))
            .any(|j| j != i);
        depends || names_another
    })
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
