//! Go templates a chart shares between its objects (`templates/_helpers.tpl`), each proven equal
//! to what berth computes in Rust by `tests/suite/helm_chart.rs`.

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
