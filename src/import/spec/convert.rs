//! Compose's units as the spec's: durations, CPUs, memory.

/// A compose duration as the spec writes one: `1m30s` → `90s`; plain `30s` stays. A duration
/// with another unit (`500ms`) stays as it is, for the spec's own reading to judge.
pub(crate) fn duration(text: &str) -> String {
    let mut seconds = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let (Ok(n), unit) = (
            rest[..digits].parse::<u64>(),
            &rest[digits..digits + unit_len],
        ) else {
            return text.to_string();
        };
        let scale = match unit {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return text.to_string(),
        };
        seconds = seconds.saturating_add(n.saturating_mul(scale));
        rest = &rest[digits + unit_len..];
    }
    format!("{seconds}s")
}

/// Compose's `cpus` (`"1.0"`, `0.5`) as a quantity (`1`, `0.5`).
pub(crate) fn cpus(text: &str) -> String {
    text.parse::<f64>()
        .map_or(text.to_string(), |c| c.to_string())
}

/// Docker's memory (`2g`, `512m`, `1024k`, bytes) as a quantity (`2Gi`, `512Mi`).
pub(crate) fn memory(text: &str) -> String {
    let lower = text.to_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (number, unit) = trimmed.split_at(
        trimmed
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(trimmed.len()),
    );
    match unit {
        "k" => format!("{number}Ki"),
        "m" => format!("{number}Mi"),
        "g" => format!("{number}Gi"),
        "t" => format!("{number}Ti"),
        "" => number.to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_durations() {
        type Convert = fn(&str) -> String;
        let cases: [(Convert, &str, &str); 10] = [
            (memory, "2g", "2Gi"),
            (memory, "512M", "512Mi"),
            (memory, "1073741824", "1073741824"),
            (cpus, "1.0", "1"),
            (cpus, "0.5", "0.5"),
            (duration, "1m30s", "90s"),
            (duration, "30s", "30s"),
            (duration, "500ms", "500ms"),
            (duration, "1h", "3600s"),
            (duration, "30", "30"),
        ];
        for (convert, compose, spec) in cases {
            assert_eq!(convert(compose), spec, "{compose}");
        }
    }
}
