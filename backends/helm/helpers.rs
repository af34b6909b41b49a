//! Go templates a chart shares between its objects (`templates/_helpers.tpl`), each proven equal
//! to what berth computes in Rust by `tests/suite/helm_chart.rs`.

/// `berth.json`: a value as JSON that a YAML reader takes as it is: Helm's `toJson` leaves DEL, the
/// C1 controls and U+FFFE/U+FFFF raw, which Kubernetes' YAML reader refuses (and reads NEL as a
/// line break), so each becomes its `\u` escape, as the kubernetes backend's YAML escapes them.
pub fn json() -> String {
    let escaped = ('\u{7f}'..='\u{9f}').chain(['\u{fffe}', '\u{ffff}']);
    let replaces: String = escaped
        .map(|c| {
            format!(
                " | replace \"\\u{:04x}\" \"\\\\u{:04x}\"",
                c as u32, c as u32
            )
        })
        .collect();
    format!("{{{{- define \"berth.json\" -}}}}\n{{{{- toJson .{replaces} -}}}}\n{{{{- end -}}}}\n")
}

/// `berth.files-hash`: the `berth.dev/files` annotation of a ConfigMap's `data` (a dict), as
/// `berth_backends_shared::files::sha256` computes it: each key and its content, in key order.
pub const FILES_HASH: &str = r#"{{- define "berth.files-hash" -}}
{{- $text := "" -}}
{{- range $key := keys . | sortAlpha -}}
{{- $text = print $text $key "\n" (get $ $key) "\n" -}}
{{- end -}}
{{- sha256sum $text -}}
{{- end -}}
"#;

/// `berth.member-context`: what the spec's `[container]` templates see in a member's pod on
/// Kubernetes (`Templates::member_context` with the kubernetes backend's members), set into the
/// dict `out` from `name`, `namespace`, `domain` (the cluster's DNS domain), `replicas`, `params`
/// and `ports`. With `me`, `self` is the pod's own name and ordinal as marks, which the kubernetes
/// backend swaps for `$(BERTH_POD_NAME)` and `$(BERTH_POD_ORDINAL)` once a string is rendered, or
/// with `ordinal` too, that member itself (a start script's line for it); without `me`, the
/// context is the init step's, which is no member.
pub const MEMBER_CONTEXT: &str = r#"{{- define "berth.member-context" -}}
{{- $suffix := printf ".%s.%s.svc.%s" .name .namespace .domain -}}
{{- $peers := list -}}
{{- $hosts := list -}}
{{- range $i := until (int .replicas) -}}
{{- $pod := printf "%s-%d" $.name $i -}}
{{- $peers = append $peers (dict "ordinal" (toString $i) "name" $pod "host" (print $pod $suffix)) -}}
{{- $hosts = append $hosts (print $pod $suffix) -}}
{{- end -}}
{{- $pod := "\U000F0000BERTH_POD_NAME\U000F0001" -}}
{{- $ordinal := "\U000F0000BERTH_POD_ORDINAL\U000F0001" -}}
{{- $self := dict "ordinal" $ordinal "name" $pod "host" (print $pod $suffix) "joining" false -}}
{{- if hasKey . "ordinal" }}{{- $self = merge (dict "joining" false) (index $peers (int .ordinal)) -}}{{- end }}
{{- $_ := set .out "name" .name -}}
{{- $_ = set .out "params" .params -}}
{{- $_ = set .out "port" .ports -}}
{{- if .me }}{{- $_ = set .out "self" $self -}}{{- end }}
{{- $_ = set .out "peers" $peers -}}
{{- $_ = set .out "peer_hosts" $hosts -}}
{{- end -}}
"#;

/// `berth.pod-text`: a string rendered in `berth.member-context` as the kubernetes backend writes
/// it into a pod's command, args and env: every `$` doubled (Kubernetes expands `$(VAR)`), then
/// the pod's marks swapped for the downward-API variables the backend defines.
pub const POD_TEXT: &str = r#"{{- define "berth.pod-text" -}}
{{- $text := replace "$" "$$" . -}}
{{- $text = replace "\U000F0000BERTH_POD_NAME\U000F0001" "$(BERTH_POD_NAME)" $text -}}
{{- replace "\U000F0000BERTH_POD_ORDINAL\U000F0001" "$(BERTH_POD_ORDINAL)" $text -}}
{{- end -}}
"#;

/// `berth.shell-quote`: a string as one word of a POSIX shell script, as
/// `berth_model::shell::shell_quote` writes it.
pub const SHELL_QUOTE: &str = r#"{{- define "berth.shell-quote" -}}
{{- if regexMatch "^[A-Za-z0-9_./=:,@%+-]+$" . -}}
{{- . -}}
{{- else if not (or (contains "'" .) (hasSuffix "\\" .)) -}}
'{{ . }}'
{{- else if not (regexMatch "[\"$`\\\\!]" .) -}}
"{{ . }}"
{{- else if not (or (contains "\\'" .) (hasSuffix "\\" .)) -}}
'{{ replace "'" "'\\''" . }}'
{{- else -}}
"{{ replace "\\" "\\\\" . | replace "\"" "\\\"" | replace "$" "\\$" | replace "`" "\\`" }}"
{{- end -}}
{{- end -}}
"#;
