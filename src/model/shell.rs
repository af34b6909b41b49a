//! Quoting for a POSIX shell (dash, busybox `sh`, bash): the one way a value becomes a word of a
//! script berth writes, whatever backend writes it.

/// Quotes a string for a POSIX shell: every byte reaches the program unchanged.
///
/// Single quotes where the text has no single quote and does not end in `\`; double quotes
/// where it has single quotes but nothing double quotes expand; otherwise single quotes with
/// `'\''` for each quote, unless that would put a backslash before a closing quote (shellcheck's
/// SC1003 reads `'…\'` as a mistaken escape), where double quotes with `\` before `"`, `$`,
/// `` ` `` and `\` say the same thing.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        return text.to_string();
    }
    if !text.contains('\'') && !text.ends_with('\\') {
        return format!("'{text}'");
    }
    let expands_in_double_quotes = |c: char| matches!(c, '"' | '$' | '`' | '\\' | '!');
    if !text.contains(expands_in_double_quotes) {
        return format!("\"{text}\"");
    }
    if !text.contains("\\'") && !text.ends_with('\\') {
        return format!("'{}'", text.replace('\'', r"'\''"));
    }
    let mut quoted = String::with_capacity(text.len() + 8);
    quoted.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '$' | '`' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn each_text_gets_the_plainest_quoting_that_keeps_it() {
        assert_eq!(shell_quote("plain-word"), "plain-word");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(
            shell_quote("db.adminCommand('ping')"),
            "\"db.adminCommand('ping')\""
        );
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(shell_quote(r"a\'b $x"), r#""a\\'b \$x""#);
        assert_eq!(shell_quote(r"x'\"), r#""x'\\""#);
        assert_eq!(shell_quote(r"ends in \"), r#""ends in \\""#);
    }
}
