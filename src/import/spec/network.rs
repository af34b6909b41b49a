//! Ports: which the members publish and which they use among themselves, and how the docker
//! and compose backends publish them.

use super::*;

impl<'a> Mapping<'a> {
    /// The service's ports, named: published ones are public, unpublished ones the members
    /// name next to another member's name are peers-only, `expose`d ones public. One number may be a
    /// port of each protocol (DNS's `53/udp` and `53/tcp`).
    pub(super) fn port_table(&mut self) {
        let first = self.first();
        let mut public: Vec<(u16, String)> = Vec::new();
        for p in &first.ports {
            if !public
                .iter()
                .any(|(n, proto)| *n == p.container && *proto == p.protocol)
            {
                public.push((p.container, p.protocol.clone()));
            }
        }
        let taken = |public: &[(u16, String)], peers: &[u16], port: u16| {
            public.iter().any(|(n, _)| *n == port) || peers.contains(&port)
        };
        let mut peers: Vec<u16> = Vec::new();
        let (named_peers, advertised) = self.named_ports();
        for port in named_peers {
            if !taken(&public, &peers, port) {
                peers.push(port);
            }
        }
        let image = first.image_name();
        let known_peers = known::software(image).map_or(&[][..], |s| s.peer_ports);
        for port in known_peers {
            if !taken(&public, &peers, *port) {
                peers.push(*port);
            }
        }
        // A port a member advertises as its own address is how clients reach it when the file
        // names no other (Bitnami's `PLAINTEXT://kafka-0:9092`); beside published ports, it is
        // the members' own listener (the Kafka image's `PLAINTEXT://kafka-1:19092`).
        let reachable = !public.is_empty() || !first.expose.is_empty();
        for port in advertised {
            if taken(&public, &peers, port) {
                continue;
            }
            if reachable {
                peers.push(port);
            } else {
                public.push((port, "tcp".into()));
            }
        }
        for (port, protocol) in &first.expose {
            let listed = public
                .iter()
                .any(|(n, proto)| n == port && proto == protocol)
                || peers.contains(port);
            if !listed {
                public.push((*port, protocol.clone()));
            }
        }
        let all = public
            .into_iter()
            .map(|(p, proto)| (p, proto, false))
            .chain(peers.into_iter().map(|p| (p, "tcp".to_string(), true)));
        for (port, protocol, peers_only) in all {
            self.add_port(port, protocol, peers_only);
        }
    }

    /// A port's name, adding the port (public) when the table lacks it.
    pub(super) fn add_port(&mut self, port: u16, protocol: String, peers_only: bool) -> String {
        if let Some(known) = self
            .ports
            .iter()
            .find(|p| p.number == port && p.protocol == protocol)
        {
            return known.name.clone();
        }
        let mut name = known::port_name(port);
        if self.ports.iter().any(|p| p.number == port) {
            // The same number over another protocol: `dns` and `dns-udp`.
            name = format!("{name}-{protocol}");
        }
        if self.ports.iter().any(|p| p.name == name) || name.len() > 15 {
            name = format!("port-{port}-{protocol}");
        }
        self.ports.push(PortEntry {
            number: port,
            name: name.clone(),
            protocol,
            peers_only,
        });
        name
    }

    pub(super) fn write_ports(&self, doc: &mut Document) {
        for port in &self.ports {
            doc.array_table(&["ports"]);
            doc.pair(
                "name",
                Item::Str(port.name.clone()),
                Some("guessed from the number"),
            );
            doc.pair("port", Item::Int(port.number.into()), None);
            if port.protocol != "tcp" {
                doc.pair("protocol", Item::Str(port.protocol.clone()), None);
            }
            if port.peers_only {
                doc.pair(
                    "expose",
                    Item::Str("peers".into()),
                    Some("guessed: not published, and the members reach each other on it"),
                );
            }
        }
    }

    /// Ports the members name next to a member's name where it stands for a host (`etcd1:2380`),
    /// as (beside another member's name: the members reach each other on it; beside only the
    /// member's own, as the address it advertises to clients and peers alike).
    pub(super) fn named_ports(&self) -> (Vec<u16>, Vec<u16>) {
        let (mut peers, mut own) = (Vec::new(), Vec::new());
        for (i, member) in self.members().iter().enumerate() {
            let strings = member
                .environment
                .iter()
                .filter_map(|(_, v, _)| v.as_ref())
                .chain(member.command.iter().flatten())
                .chain(member.entrypoint.iter().flatten());
            for text in strings {
                for (j, port) in crate::template::named_ports(&text.value, &self.names) {
                    let list = if i == j { &mut own } else { &mut peers };
                    if !list.contains(&port) {
                        list.push(port);
                    }
                }
            }
        }
        own.retain(|p| !peers.contains(p));
        (peers, own)
    }

    /// How the members' ports were published, as the docker and compose backends' options.
    /// berth publishes every public port or none: a Compose file that publishes none (only
    /// `expose`, or no port) gets `publish = false`; a port without a host port (`"2181"`) is
    /// one compose publishes on a random host port, which berth publishes on its own number.
    pub(super) fn publishing(&mut self, doc: &mut Document) {
        let members = self.members();
        let published: Vec<_> = members[0].ports.iter().collect();
        if members[0].ports.is_empty() {
            if !self.ports.iter().any(|p| !p.peers_only) {
                return;
            }
            for backend in ["compose", "docker"] {
                doc.table(&["backends", backend]);
                doc.pair(
                    "publish",
                    Item::Bool(false),
                    Some(
                        "the Compose file publishes no port (`expose` only reaches other services)",
                    ),
                );
            }
            return;
        }
        let exposed: Vec<String> = members[0]
            .expose
            .iter()
            .filter(|(port, _)| !members[0].ports.iter().any(|p| p.container == *port))
            .map(|(port, _)| port.to_string())
            .collect();
        if !exposed.is_empty() {
            self.unmapped.push(format!(
                "`expose: {}`: not published in the Compose file; berth publishes every public port, these too",
                exposed.join(", ")
            ));
        }
        if let Some(random) = members[0].ports.iter().find(|p| p.host_port.is_none()) {
            self.unmapped.push(format!(
                "`ports: {}`: compose publishes it on a random host port; berth publishes it on its own number (plus the member's ordinal times `port_stride`)",
                random.container
            ));
        }
        let ports_of = |m: &Service| m.ports.iter().map(|p| p.container).collect::<Vec<_>>();
        if members.iter().any(|m| ports_of(m) != ports_of(members[0])) {
            self.unmapped.push(format!(
                "`ports`: only some members publish them in the Compose file ({}); berth publishes every member's public ports",
                members.iter().filter(|m| !m.ports.is_empty()).map(|m| format!("`{}`", m.name)).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut options: Vec<(&str, Item, Option<String>)> = Vec::new();
        let address = published[0]
            .host_ip
            .clone()
            .unwrap_or_else(|| "0.0.0.0".into());
        if address != "127.0.0.1" {
            options.push(("publish_address", Item::Str(address.clone()), Some(format!("as the Compose file publishes; berth's default, 127.0.0.1, keeps ports on this host{}", if address == "0.0.0.0" { " (the Compose file names no address: every interface)" } else { "" }))));
        }
        let port = published[0];
        let stride = members
            .get(1)
            .and_then(|m| m.ports.iter().find(|p| p.container == port.container))
            .and_then(|p| p.host_port)
            .zip(port.host_port)
            .map(|(h, first)| i64::from(h) - i64::from(first));
        if let Some(host) = port.host_port.filter(|h| *h != port.container) {
            self.unmapped.push(format!("host port {host} for {}: berth publishes each port on its own number (plus the member's ordinal times `port_stride`)", port.container));
        }
        match stride {
            Some(stride) if stride > 1 => options.push(("port_stride", Item::Int(stride), None)),
            Some(stride) if stride < 1 => self.unmapped.push("members' host ports that do not grow with the ordinal: berth publishes member i on port + i × `port_stride`".into()),
            _ => {}
        }
        if options.is_empty() {
            return;
        }
        for backend in ["compose", "docker"] {
            doc.table(&["backends", backend]);
            for (key, value, note) in &options {
                doc.pair(key, value.clone(), note.as_deref());
            }
        }
    }
}

impl Mapping<'_> {
    /// `[network]`, when the Compose file has other services that may reach these members: the
    /// project's network, which every spec imported from the file joins, and the members'
    /// Compose names as aliases there, so that a reference such as `db:5432` keeps resolving.
    pub(super) fn shared_network(&mut self, doc: &mut Document) {
        let input = self.input;
        let ours: Vec<&str> = self
            .members()
            .iter()
            .copied()
            .chain(input.init)
            .map(|s| s.name.as_str())
            .collect();
        if input
            .file
            .services
            .iter()
            .all(|s| ours.contains(&s.name.as_str()))
        {
            return;
        }
        let network = input
            .file
            .project
            .as_deref()
            .map(|p| p.replace('_', "-").trim_matches('-').to_string())
            .filter(|p| berth_language::names::shared_network(p).is_ok());
        let aliases = self.aliases();
        if network.is_none() && aliases.is_empty() {
            return;
        }
        doc.table(&["network"]);
        if let Some(network) = network {
            doc.pair(
                "name",
                Item::Str(network),
                Some("the Compose project's: every spec imported from the file joins it"),
            );
        }
        if !aliases.is_empty() {
            doc.pair(
                "aliases",
                Item::List(aliases),
                Some("the members' Compose names, which the other services use"),
            );
        }
    }

    /// One template per name the members have in the Compose file (service name, container
    /// name) that differs from berth's member names and that every backend can carry.
    fn aliases(&mut self) -> Vec<String> {
        let cluster = self.input.cluster;
        let members = self.members();
        let hosts = cluster.hosts();
        let columns: [Vec<Option<String>>; 2] = [
            members.iter().map(|m| Some(m.name.clone())).collect(),
            members.iter().map(|m| m.container_name.clone()).collect(),
        ];
        let mut aliases = Vec::new();
        for column in columns {
            let Some(names) = column.into_iter().collect::<Option<Vec<String>>>() else {
                continue;
            };
            if names
                .iter()
                .enumerate()
                .all(|(i, n)| hosts.get(i) == Some(n))
            {
                continue;
            }
            let taken = self.input.taken;
            let carried = |n: &String| {
                berth_language::names::dns_label(n, 63).is_ok()
                    && n.starts_with(|c: char| c.is_ascii_lowercase())
                    && !hosts.contains(n)
                    && !taken.contains(n)
            };
            if !names.iter().all(carried) {
                self.unmapped.push(format!(
                    "the name `{}`: not a DNS label every backend carries, or a name another service or member answers to; services that reach the members by it must use berth's ({})",
                    names[0],
                    hosts.join(", ")
                ));
                continue;
            }
            let alias = crate::template::by_ordinal(&names);
            if !aliases.contains(&alias) {
                aliases.push(alias);
            }
        }
        aliases
    }
}
