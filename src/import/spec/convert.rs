//! Compose's units as the spec's: durations, CPUs, memory.

/// A compose duration as the spec writes one: `1m30s` → `90s`; plain `30s` stays.
pub(super) fn duration(text: &str) -> String {
    let mut seconds = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().unwrap_or(0);
        number.clear();
        seconds += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return text.to_string(),
        };
    }
    if !number.is_empty() {
        return text.to_string();
    }
    format!("{seconds}s")
}

/// Compose's `cpus` (`"1.0"`, `0.5`) as a quantity (`1`, `0.5`).
pub(super) fn cpus(text: &str) -> String {
    text.parse::<f64>()
        .map_or(text.to_string(), |c| c.to_string())
}

/// Docker's memory (`2g`, `512m`, `1024k`, bytes) as a quantity (`2Gi`, `512Mi`).
pub(super) fn memory(text: &str) -> String {
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
        let cases: [(Convert, &str, &str); 7] = [
            (memory, "2g", "2Gi"),
            (memory, "512M", "512Mi"),
            (memory, "1073741824", "1073741824"),
            (cpus, "1.0", "1"),
            (cpus, "0.5", "0.5"),
            (duration, "1m30s", "90s"),
            (duration, "30s", "30s"),
        ];
        for (convert, compose, spec) in cases {
            assert_eq!(convert(compose), spec, "{compose}");
        }
    }
}
