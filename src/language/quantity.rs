//! Kubernetes quantities (`100Gi`, `500m`, `2`) and durations (`60s`, `1m30s`), parsed once so
//! every backend converts from the same numbers.

/// The value of a non-negative Kubernetes quantity in base units (bytes, or cores for CPU).
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let number = number.strip_prefix('+').unwrap_or(number);
    let digits_ok = !number.is_empty()
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !digits_ok {
        return Err(format!("`{text}` is not a quantity"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a quantity"))?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..]
                .parse()
                .map_err(|_| format!("`{text}` has a bad exponent"))?;
            10f64.powi(power)
        }
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}` (use Ki, Mi, Gi, Ti, m, k, M, G or T)"
            ));
        }
    };
    let value = value * factor;
    // Past 2^63 bytes no orchestrator's field holds it (Marathon's and Kubernetes' are 64-bit).
    if !value.is_finite() || value >= 9.2e18 {
        return Err(format!("`{text}` is too large for any orchestrator"));
    }
    Ok(value)
}

/// The smallest volume and memory berth writes: Docker refuses memory limits under 6 MB, and a
/// volume under 1 MiB would round to 0 in Marathon's and Cloud Foundry's whole mebibytes.
pub const MIN_VOLUME: (f64, &str) = (1048576.0, "1Mi");
pub const MIN_MEMORY: (f64, &str) = (6.0 * 1048576.0, "6Mi");
/// Kubernetes' precision for CPU: a thousandth of a core.
pub const MIN_CPU: (f64, &str) = (0.001, "1m");

/// `value`, if it is at least `minimum`.
pub fn at_least(value: f64, (minimum, written): (f64, &str)) -> Result<f64, String> {
    if value >= minimum {
        Ok(value)
    } else {
        Err(format!("must be at least `{written}`"))
    }
}

/// A duration such as `60s`, `2m`, `1m30s` or `1h`, in whole seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration (write it like `30s`, `2m` or `1m30s`)");
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut millis: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let amount: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        millis = millis.saturating_add(amount.saturating_mul(scale));
        rest = &rest[unit_len..];
    }
    if !millis.is_multiple_of(1000) {
        return Err(format!("`{text}` is not a whole number of seconds"));
    }
    let seconds = millis / 1000;
    // Kubernetes' probe and grace fields are 32-bit.
    if seconds > i32::MAX as u128 {
        return Err(format!(
            "`{text}` is longer than the 2147483647 seconds orchestrators accept"
        ));
    }
    Ok(seconds as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100Gi").unwrap(), 100.0 * 1024f64.powi(3));
        assert_eq!(parse_quantity("500m").unwrap(), 0.5);
        assert_eq!(parse_quantity("2").unwrap(), 2.0);
        assert_eq!(parse_quantity("1.5G").unwrap(), 1.5e9);
        assert_eq!(parse_quantity("1e3").unwrap(), 1000.0);
        for bad in [
            "", "Gi", "10GB", "ten", "1..2", "-1Gi", "1 Gi", "1e400", "9Ei",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), 60);
        assert_eq!(parse_duration("1m30s").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert!(parse_duration("1500ms").is_err());
        for bad in ["", "s", "60", "1x", "-5s", "1.5s", "99999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
    }
}
