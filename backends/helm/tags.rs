//! A copy of the service in which every value a chart computes from its values is marked, so that
//! the kubernetes backend's objects, lowered from the copy, show where each one lands: each
//! template of `[container]` and `[init]`, and each structural string a parameter reaches (a
//! volume's size and class, CPU and memory), starts with a tag naming it; the service's name is a
//! stand-in the release name replaces.

use berth_diagnostic::source::Span;
use berth_model::{EnvValue, FileBody, Service, Template};

/// Opens and closes a tag: characters of the range berth reserves (no spec value holds one) and
/// apart from the kubernetes backend's own marks.
pub const TAG_OPEN: char = '\u{F0100}';
pub const TAG_CLOSE: char = '\u{F0101}';
/// The service's name in the copy: a DNS label no spec value is likely to hold, where the chart
/// writes the release name.
pub const NAME_STAND_IN: &str = "zq9berthreleasezq9";

/// What a tagged value is computed from, and how the kubernetes backend writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Computed {
    /// A template rendered in a member's pod; `escaped`: with `$` doubled and the pod's marks
    /// swapped for downward-API variables (command, args, env), not (the image).
    Member { source: String, escaped: bool },
    /// A template of the init step, which is no member.
    Init { source: String, escaped: bool },
    /// An image reference: the members' (rendered as a member's) or, `init`, the init step's.
    Image { source: String, init: bool },
    /// A structural template (parameters, name and ports only), and the key it sets; a scratch
    /// volume's class is `volumes.class (scratch)`, which no rule checks.
    Structural { source: String, key: String },
}

impl Computed {
    /// The template the value is computed from.
    pub fn source(&self) -> &str {
        match self {
            Computed::Member { source, .. }
            | Computed::Init { source, .. }
            | Computed::Image { source, .. }
            | Computed::Structural { source, .. } => source,
        }
    }
}

pub struct Tagged {
    pub service: Service,
    /// By tag number, what the value is computed from.
    pub computed: Vec<Computed>,
    /// The tag of each `[[files]]` entry with `content`, by the entry's index.
    pub contents: Vec<(usize, usize)>,
    /// Each port a parameter sets: the number that stands in for it, its name and template.
    pub ports: Vec<(u16, String, String)>,
}

/// The tag of value number `index`.
pub fn tag(index: usize) -> String {
    format!("{TAG_OPEN}{index}{TAG_CLOSE}")
}

/// The number of the tag `text` starts with, and the rest.
pub fn tagged(text: &str) -> Option<(usize, &str)> {
    let rest = text.strip_prefix(TAG_OPEN)?;
    let (number, rest) = rest.split_once(TAG_CLOSE)?;
    Some((number.parse().ok()?, rest))
}

/// The copy of `service` with its computed values tagged.
pub fn tag_service(service: &Service) -> Tagged {
    let mut tagged = Tagged {
        service: service.clone(),
        computed: Vec::new(),
        contents: Vec::new(),
        ports: Vec::new(),
    };
    let copy = &mut tagged.service;
    copy.name.value = NAME_STAND_IN.to_string();
    let computed = &mut tagged.computed;
    let container = &mut copy.container;
    mark(&mut container.image, computed, |source| Computed::Image {
        source,
        init: false,
    });
    let texts = container.command.iter_mut().chain(&mut container.args);
    for template in texts.chain(literals(&mut container.env)) {
        mark(template, computed, |source| Computed::Member {
            source,
            escaped: true,
        });
    }
    if let Some(init) = &mut copy.init {
        if let Some(image) = &mut init.image {
            mark(image, computed, |source| Computed::Image {
                source,
                init: true,
            });
        }
        for template in init.command.iter_mut().chain(literals(&mut init.env)) {
            mark(template, computed, |source| Computed::Init {
                source,
                escaped: true,
            });
        }
    }
    for (index, file) in copy.files.iter_mut().enumerate() {
        if let FileBody::Content(template) = &mut file.body {
            tagged.contents.push((index, computed.len()));
            mark(template, computed, |source| Computed::Member {
                source,
                escaped: false,
            });
        }
    }
    tag_structural(service, copy, computed);
    tagged.ports = stand_in_ports(service, copy);
    tagged
}

fn literals(env: &mut [berth_model::EnvVar]) -> impl Iterator<Item = &mut Template> {
    env.iter_mut().filter_map(|v| match &mut v.value {
        EnvValue::Literal(template) => Some(template),
        EnvValue::Secret { .. } => None,
    })
}

fn mark(template: &mut Template, computed: &mut Vec<Computed>, kind: impl Fn(String) -> Computed) {
    let source = std::mem::take(&mut template.source);
    template.source = format!("{}{source}", tag(computed.len()));
    computed.push(kind(source));
}

/// Tags the structural strings a parameter reaches: volumes' sizes and classes, CPU and memory.
fn tag_structural(service: &Service, copy: &mut Service, computed: &mut Vec<Computed>) {
    let mut mark_text =
        |text: &mut String, key: &str, from: Option<&Span>, until: Option<&Span>, shown: &str| {
            if let Some(source) = service.structural_source(key, from, until) {
                *text = format!("{}{text}", tag(computed.len()));
                computed.push(Computed::Structural {
                    source: source.to_string(),
                    key: shown.to_string(),
                });
            }
        };
    let starts: Vec<Option<Span>> = copy.volumes.iter().map(|v| v.span.clone()).collect();
    for (i, volume) in copy.volumes.iter_mut().enumerate() {
        let (from, until) = (
            starts[i].as_ref(),
            starts.get(i + 1).and_then(Option::as_ref),
        );
        if let Some((size, _)) = &mut volume.size {
            mark_text(size, "volumes.size", from, until, "volumes.size");
        }
        let class_key = match volume.persistent {
            true => "volumes.class",
            false => "volumes.class (scratch)",
        };
        if let Some(class) = &mut volume.class {
            mark_text(class, "volumes.class", from, until, class_key);
        }
    }
    if let Some(resources) = &mut copy.resources {
        let from = resources.span.clone();
        let r = &mut resources.value;
        for (value, key) in [
            (&mut r.cpu, "resources.cpu"),
            (&mut r.memory, "resources.memory"),
            (&mut r.cpu_limit, "resources.cpu_limit"),
            (&mut r.memory_limit, "resources.memory_limit"),
        ] {
            if let Some(text) = value {
                mark_text(text, key, from.as_ref(), None, key);
            }
        }
    }
}

/// Gives each port a parameter sets a number no port of the service has, from 65535 down, which
/// the chart replaces with the number the values give.
fn stand_in_ports(service: &Service, copy: &mut Service) -> Vec<(u16, String, String)> {
    let taken: Vec<u16> = service.ports.iter().map(|p| p.port).collect();
    let mut free = (1..=65535u16).rev().filter(|n| !taken.contains(n));
    let starts: Vec<Option<Span>> = service.ports.iter().map(|p| p.span.clone()).collect();
    let mut ports = Vec::new();
    for (i, port) in copy.ports.iter_mut().enumerate() {
        let until = starts.get(i + 1).and_then(Option::as_ref);
        if let Some(source) = service.structural_source("ports.port", starts[i].as_ref(), until) {
            port.port = free.next().expect("fewer ports than numbers");
            ports.push((port.port, port.name.clone(), source.to_string()));
        }
    }
    ports
}
