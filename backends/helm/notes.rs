//! `templates/NOTES.txt`, which Helm prints after an install or upgrade: how to reach the
//! members, what to check, and the warnings berth's rules give for the values chosen (Helm has no
//! other place for a warning), worded as `berth compile` words them: those whose firing the
//! values decide (`spec/quorum-size`, `spec/cleartext-peer-traffic` and `kubernetes/no-spread`
//! by the member count and spread, `spec/mutable-image-tag` by the image), unless the spec
//! allows the rule.

use crate::tags::Computed;
use berth_model::{Encryption, Quorum, Service, Spread};

/// The notes of the chart of `service`, whose tagged values are `computed`; `spread_from_values`
/// where `$c.spread` holds the spread the values pick.
pub fn notes(service: &Service, computed: &[Computed], spread_from_values: bool) -> String {
    let mut text = String::from(
        "{{- $c := dict }}\n{{- $_ := include \"berth.context\" (dict \"out\" $c \"root\" $) }}\n",
    );
    text.push_str(&format!(
        "`{{{{ .Release.Name }}}}` ({}) runs as {{{{ $c.replicas }}}} member(s) of the StatefulSet `{{{{ .Release.Name }}}}` in the namespace `{{{{ .Release.Namespace }}}}`.\n\n",
        service.description.as_deref().unwrap_or("made by berth").replace("{{", "{{ \"{{\" }}")
    ));
    text.push_str("Members, by the names that stay theirs:\n{{- range $c.member.peer_hosts }}\n  {{ . }}\n{{- end }}\n");
    if service.public_ports().next().is_some() {
        text.push_str("Clients: the Service `{{ .Release.Name }}-public`.\n");
    }
    text.push_str(
        "\nCheck that every member runs and is ready:\n  kubectl --namespace {{ .Release.Namespace }} rollout status statefulset/{{ .Release.Name }}\n",
    );
    if service.init.is_some() {
        text.push_str(
            "  kubectl --namespace {{ .Release.Namespace }} wait --for=condition=complete job/{{ .Release.Name }}-init\n",
        );
    }
    text.push_str("{{- $r := int $c.replicas }}\n");
    text + &warnings(service, computed, spread_from_values)
}

/// The Go that writes each warning the values give, a blank line before each.
fn warnings(service: &Service, computed: &[Computed], spread_from_values: bool) -> String {
    let warns = |rule: &str| !service.allow.iter().any(|a| a.rule == rule);
    let replication = &service.replication;
    let mut go = String::new();
    if replication.quorum.value == Quorum::Majority && warns("spec/quorum-size") {
        go.push_str(QUORUM_SIZE);
    }
    if replication.encryption.value == Encryption::None && warns("spec/cleartext-peer-traffic") {
        go.push_str(CLEARTEXT);
    }
    // A spread the spec leaves out is `required` wherever there are several members.
    let spread_none = match spread_from_values {
        true => Some("(eq $c.spread \"none\")"),
        false => (replication.spread_written && replication.spread.value == Spread::None)
            .then_some("true"),
    };
    if let Some(none) = spread_none.filter(|_| warns("kubernetes/no-spread")) {
        go.push_str(&NO_SPREAD.replace("SPREAD_NONE", none));
    }
    if warns("spec/mutable-image-tag") {
        go.push_str("{{- $images := list }}\n");
        for (index, value) in computed.iter().enumerate() {
            if let Computed::Image { init, .. } = value {
                let context = if *init { "$c.init" } else { "$c.member" };
                go.push_str(
                    &MUTABLE_IMAGE_TAG
                        .replace("IMAGE", &format!("include \"berth.s{index}\" {context}")),
                );
            }
        }
    }
    go
}

/// `spec/quorum-size`, as berth's spec rules word it.
const QUORUM_SIZE: &str = r#"{{- if or (lt $r 3) (eq (mod $r 2) 0) }}

warning[spec/quorum-size]: {{ $r }} replicas with a majority quorum: {{ if lt $r 3 }}losing one replica loses the quorum{{ else }}an even count tolerates no more failures than one replica fewer{{ end }}
  help: use an odd number of replicas, at least 3
{{- end }}
"#;

/// `spec/cleartext-peer-traffic`, for a spec whose encryption is `none`.
const CLEARTEXT: &str = r#"{{- if gt $r 1 }}

warning[spec/cleartext-peer-traffic]: the members' traffic to each other is cleartext: whoever is on the network between the nodes reads every replicated write
  help: choose `encryption = "network"` where the orchestrator can encrypt, or `"tls"` with `[tls]`; or allow this rule where the network is trusted
{{- end }}
"#;

/// `kubernetes/no-spread`, where the spread is `none` (`SPREAD_NONE`, a Go condition).
const NO_SPREAD: &str = r#"{{- if and (gt $r 1) SPREAD_NONE }}

warning[kubernetes/no-spread]: {{ $r }} replicas with `spread = "none"`: several replicas may land on one node, and losing that node loses them together
  help: set `spread = "required"` (or `"preferred"` on clusters with fewer nodes than replicas)
{{- end }}
"#;

/// `spec/mutable-image-tag` for the reference `IMAGE` (a Go expression), once per reference.
const MUTABLE_IMAGE_TAG: &str = r#"{{- $image := IMAGE }}
{{- $moving := include "berth.moving-tag" $image }}
{{- if and $moving (not (has $image $images)) }}

warning[spec/mutable-image-tag]: `{{ $image }}` {{ $moving }}: each pull may run another version of the software on the same data
  help: name the version with a tag (`:16.4`) or a digest (`@sha256:...`)
{{- end }}
{{- $images = append $images $image }}
"#;
