//! What `berth compile --set` refuses in a value a parameter sets, refused by the chart too: a
//! `fail` in `berth.context` whose message carries berth's id and help, so that `helm install`,
//! `upgrade` and `template` stop where berth stops. Covered here: quantities (a volume's `size`,
//! `cpu`, `memory` and their limits, with berth's smallest values, and a limit below its
//! request), a storage class left empty (`kubernetes/missing-storage-class`), the member count, a
//! `spread` word, a port number, an image reference in Docker's grammar, and the release's name
//! as the service's (two ports of one number and the files' ConfigMap past 1 MiB are checked in
//! `crate::context`); and `berth.moving-tag`, which `NOTES.txt` warns with.

use crate::tags::Computed;
use berth_language::quantity::{MIN_CPU, MIN_MEMORY, MIN_VOLUME};
use berth_model::Resources;

/// `berth.quantity`: `fail`s unless `.text` is a Kubernetes quantity of at least `.min` (written
/// `.minText`), as `berth_language::quantity::parse_quantity` and `at_least` say.
pub const QUANTITY: &str = r#"{{- define "berth.quantity" -}}
{{- $text := .text -}}
{{- $number := regexFind "^[0-9.+]*" $text -}}
{{- $suffix := trimPrefix $number $text -}}
{{- $number = trimPrefix "+" $number -}}
{{- $bad := printf "spec/invalid-value: invalid `%s`: `%s` is not a quantity; help: %s" .key $text .help -}}
{{- if not (and (regexMatch "^[0-9.]+$" $number) (regexMatch "[0-9]" $number) (le (len (regexFindAll "[.]" $number -1)) 1)) -}}
{{- fail $bad -}}
{{- end -}}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- $factor := 0.0 -}}
{{- if hasKey $factors $suffix -}}
{{- $factor = get $factors $suffix -}}
{{- else if and (regexMatch "^[eE][+-]?[0-9]+$" $suffix) (le (len (regexReplaceAll "^[eE][+-]?0*" $suffix "")) 10) -}}
{{- $power := atoi (regexReplaceAll "^([-]?)0*([0-9])" (trimPrefix "+" (substr 1 -1 $suffix)) "${1}${2}") -}}
{{- if or (gt $power 2147483647) (lt $power -2147483648) -}}
{{- fail (printf "spec/invalid-value: invalid `%s`: `%s` has a bad exponent; help: %s" .key $text .help) -}}
{{- end -}}
{{- $factor = float64 (printf "1e%d" $power) -}}
{{- else if regexMatch "^[eE]" $suffix -}}
{{- fail (printf "spec/invalid-value: invalid `%s`: `%s` has a bad exponent; help: %s" .key $text .help) -}}
{{- else -}}
{{- fail (printf "spec/invalid-value: invalid `%s`: `%s` has an unknown unit `%s` (use Ki, Mi, Gi, Ti, m, k, M, G or T); help: %s" .key $text $suffix .help) -}}
{{- end -}}
{{- $value := mulf (float64 $number) $factor -}}
{{- if or (eq $factor 0.0) (ge $value 9.2e18) -}}
{{- fail (printf "spec/invalid-value: invalid `%s`: `%s` is too large for any orchestrator; help: %s" .key $text .help) -}}
{{- end -}}
{{- if lt $value .min -}}
{{- fail (printf "spec/invalid-value: invalid `%s`: must be at least `%s`; help: %s" .key .minText .help) -}}
{{- end -}}
{{- $_ := set .out .key $value -}}
{{- end -}}
"#;

/// `berth.integer`: `fail`s unless `.text`, trimmed, is an integer from `.min` to `.max`.
pub const INTEGER: &str = r#"{{- define "berth.integer" -}}
{{- $text := trim .text -}}
{{- if not (regexMatch "^[+-]?[0-9]{1,18}$" $text) -}}
{{- fail (printf "spec/invalid-value: `%s` must be an integer, got `%s`; help: write `%s` as an integer or a template rendering to one" .key .text .key) -}}
{{- end -}}
{{- $n := atoi (trimPrefix "+" $text) -}}
{{- if or (lt $n (int64 .min)) (gt $n (int64 .max)) -}}
{{- fail (printf "spec/invalid-value: `%s` is %d, outside %d..=%d; help: set `%s` between %d and %d" .key $n (int64 .min) (int64 .max) .key (int64 .min) (int64 .max)) -}}
{{- end -}}
{{- end -}}
"#;

/// The release's name, which plays the service's: berth's rule for `name` (a DNS label of at most
/// 52 characters, from a letter).
pub const RELEASE_NAME: &str = r#"{{- define "berth.release-name" -}}
{{- if not (and (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .) (le (len .) 52)) -}}
{{- fail (printf "spec/invalid-name: `name` `%s` is no DNS label of at most 52 characters that starts with a letter; help: name the release with lowercase letters, digits and `-`, starting with a letter, at most 52 characters (a StatefulSet name must leave room for its revision hash label)" .) -}}
{{- end -}}
{{- end -}}
"#;

/// The Go that checks each computed structural value (`$structural` in `berth.context`), by the
/// key it sets; `class_allowed`: the spec allows `kubernetes/missing-storage-class`.
pub fn structural_checks(
    computed: &[Computed],
    resources: Option<&Resources>,
    class_allowed: bool,
) -> String {
    let mut go = String::from("{{- $quantities := dict }}\n");
    for (index, value) in computed.iter().enumerate() {
        let Computed::Structural { key, .. } = value else {
            continue;
        };
        let text = format!("(include \"berth.s{index}\" $structural)");
        let quantity = |(min, written): (f64, &str), help: &str| {
            format!(
                "{{{{- include \"berth.quantity\" (dict \"text\" {text} \"key\" \"{key}\" \"min\" {min:?} \"minText\" \"{written}\" \"help\" \"{help}\" \"out\" $quantities) }}}}\n"
            )
        };
        go.push_str(&match key.as_str() {
            "volumes.size" => quantity(MIN_VOLUME, "write `volumes.size` as a Kubernetes quantity such as `10Gi` or `512Mi`"),
            "resources.cpu" | "resources.cpu_limit" => quantity(MIN_CPU, &format!("write `{key}` as a number of cores such as `2`, `1.5` or `500m`")),
            "resources.memory" | "resources.memory_limit" => quantity(MIN_MEMORY, &format!("write `{key}` as a Kubernetes quantity such as `10Gi` or `512Mi`")),
            "volumes.class" if !class_allowed => format!(
                "{{{{- if eq {text} \"\" }}}}{{{{- fail \"kubernetes/missing-storage-class: a volume has no `class`: the cluster's default storage class is often a slow disk (GCE pd-standard, AWS gp2); help: set `class` to an SSD-backed storage class, or declare one under `[backends.kubernetes.storage_classes]`\" }}}}{{{{- end }}}}\n"
            ),
            _ => String::new(),
        });
    }
    go + &limits_checks(computed, resources)
}

/// The Go that refuses a CPU or memory limit below its request where the values give either: the
/// one the spec writes as it is is set into `$quantities` beside the computed one.
fn limits_checks(computed: &[Computed], resources: Option<&Resources>) -> String {
    let Some(resources) = resources else {
        return String::new();
    };
    let computed_key = |wanted: &str| {
        computed
            .iter()
            .any(|c| matches!(c, Computed::Structural { key, .. } if key == wanted))
    };
    let mut go = String::new();
    let pairs = [
        ("cpu", &resources.cpu, &resources.cpu_limit),
        ("memory", &resources.memory, &resources.memory_limit),
    ];
    for (name, request, limit) in pairs {
        let (request_key, limit_key) = (
            format!("resources.{name}"),
            format!("resources.{name}_limit"),
        );
        let (Some(request), Some(limit)) = (request, limit) else {
            continue;
        };
        if !computed_key(&request_key) && !computed_key(&limit_key) {
            continue;
        }
        for (key, text) in [(&request_key, request), (&limit_key, limit)] {
            if !computed_key(key) {
                let value = berth_language::quantity::parse_quantity(text).unwrap_or_default();
                go.push_str(&format!(
                    "{{{{- $_ = set $quantities \"{key}\" {value:?} }}}}\n"
                ));
            }
        }
        go.push_str(&format!(
            "{{{{- if lt (get $quantities \"{limit_key}\") (get $quantities \"{request_key}\") }}}}{{{{- fail \"spec/invalid-value: `{limit_key}` is below `{request_key}`; help: raise `{name}_limit` to at least `{name}`, or remove it so the limit equals the request\" }}}}{{{{- end }}}}\n"
        ));
    }
    go
}

/// The Go that checks each image reference, rendered as `berth.context` renders it.
pub fn image_checks(computed: &[Computed]) -> String {
    let mut go = String::new();
    for (index, value) in computed.iter().enumerate() {
        if let Computed::Image { init, .. } = value {
            let (context, key) = if *init {
                ("$init", "init.image")
            } else {
                ("$member", "container.image")
            };
            go.push_str(&format!(
                "{{{{- $_ = include \"berth.image\" (dict \"text\" (include \"berth.s{index}\" {context}) \"key\" \"{key}\") }}}}\n"
            ));
        }
    }
    go
}

/// `berth.moving-tag`: what makes a valid image reference move, as `spec/mutable-image-tag` says
/// it (`is \`latest\``, `has no tag, so it means \`latest\``), or nothing for one pinned by a
/// tag or a digest.
pub const MOVING_TAG: &str = r#"{{- define "berth.moving-tag" -}}
{{- if not (contains "@" .) -}}
{{- if regexMatch "^.*:[^:/]*$" . -}}
{{- if eq (regexReplaceAll "^.*:([^:/]*)$" . "${1}") "latest" -}}is `latest`{{- end -}}
{{- else -}}has no tag, so it means `latest`{{- end -}}
{{- end -}}
{{- end -}}
"#;

/// `berth.word`: `fail`s unless `.text` is one of `.words`, as berth refuses another word for
/// `.key`.
pub const WORD: &str = r#"{{- define "berth.word" -}}
{{- if not (has .text .words) -}}
{{- fail (printf "spec/invalid-value: `%s` is `%s`, not one of `%s`; help: use one of `%s`" .key .text (join "`, `" .words) (join "`, `" .words)) -}}
{{- end -}}
{{- end -}}
"#;

/// `berth.image-problem`: what is wrong with the image reference `.` in Docker's grammar, as
/// `berth_language::image::pin` says, or nothing.
pub const IMAGE_PROBLEM: &str = r#"{{- define "berth.image-problem" -}}
{{- $nameTag := . -}}
{{- $digest := "" -}}
{{- if contains "@" . -}}
{{- $parts := splitn "@" 2 . -}}
{{- $nameTag = $parts._0 -}}
{{- $digest = $parts._1 -}}
{{- end -}}
{{- $name := $nameTag -}}
{{- $tag := "" -}}
{{- $tagged := regexMatch "^.*:[^:/]*$" $nameTag -}}
{{- if $tagged -}}
{{- $name = regexReplaceAll "^(.*):[^:/]*$" $nameTag "${1}" -}}
{{- $tag = regexReplaceAll "^.*:([^:/]*)$" $nameTag "${1}" -}}
{{- end -}}
{{- $components := splitList "/" $name -}}
{{- $first := first $components -}}
{{- $domain := and (gt (len $components) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost") (regexMatch "[A-Z]" $first)) -}}
{{- $path := ternary (rest $components) $components $domain -}}
{{- if or (eq (len $name) 0) (gt (len $name) 255) -}}
has a name that is empty or longer than 255 characters
{{- else if and $domain (not (include "berth.domain-ok" $first)) -}}
has an invalid registry `{{ $first }}`
{{- else if not (include "berth.path-ok" $path) -}}
has an invalid path `{{ join "/" $path }}`
{{- else if and $tagged (not (regexMatch "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" $tag)) -}}
has an invalid tag `{{ $tag }}`
{{- else if and (contains "@" .) (not (regexMatch "^[a-z0-9+._-]+:[0-9a-fA-F]{32,}$" $digest)) -}}
has an invalid digest `{{ $digest }}`
{{- end -}}
{{- end -}}
{{- define "berth.path-ok" -}}
{{- $ok := true -}}
{{- range . -}}
{{- if not (regexMatch "^[a-z0-9]+(?:(?:[.]|_|__|-+)[a-z0-9]+)*$" .) -}}{{- $ok = false -}}{{- end -}}
{{- end -}}
{{- if $ok }}ok{{ end -}}
{{- end -}}
{{- define "berth.domain-ok" -}}
{{- $host := . -}}
{{- $port := "" -}}
{{- $split := false -}}
{{- if regexMatch ":" . -}}
{{- $before := regexReplaceAll "^(.*):[^:]*$" . "${1}" -}}
{{- if or (not (hasSuffix "]" $before)) (hasPrefix "[" .) -}}
{{- $host = $before -}}
{{- $port = regexReplaceAll "^.*:([^:]*)$" . "${1}" -}}
{{- $split = true -}}
{{- end -}}
{{- end -}}
{{- if and $split (not (regexMatch "^[0-9]+$" $port)) -}}
{{- else if and (hasPrefix "[" $host) (hasSuffix "]" $host) -}}ok
{{- else if regexMatch "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:[.][A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$" $host -}}ok
{{- end -}}
{{- end -}}
{{- define "berth.image" -}}
{{- $problem := include "berth.image-problem" .text -}}
{{- if $problem -}}
{{- fail (printf "spec/invalid-value: `%s` `%s` %s; help: write it as Docker does: `[registry/]path[:tag][@digest]`, path in lowercase, like `postgres:16.4`" .key .text $problem) -}}
{{- end -}}
{{- end -}}
"#;
