//! `templates/NOTES.txt`, which Helm prints after an install or upgrade: how to reach the
//! members, what to check, and the warnings berth's rules give for the values chosen (Helm has no
//! other place for a warning): `spec/quorum-size`, computed from the member count as berth does.

use berth_model::{Quorum, Service};

/// The notes of the chart of `service`.
pub fn notes(service: &Service) -> String {
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
    if service.replication.quorum.value == Quorum::Majority {
        text.push_str(QUORUM_SIZE);
    }
    text
}

/// `spec/quorum-size`, as berth's spec rules word it.
const QUORUM_SIZE: &str = r#"{{- $r := int $c.replicas }}
{{- if or (lt $r 3) (eq (mod $r 2) 0) }}

warning[spec/quorum-size]: {{ $r }} replicas with a majority quorum: {{ if lt $r 3 }}losing one replica loses the quorum{{ else }}an even count tolerates no more failures than one replica fewer{{ end }}
  help: use an odd number of replicas, at least 3
{{- end }}
"#;
