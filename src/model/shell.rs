//! Quoting for a POSIX shell (dash, busybox `sh`, bash): the one way a value becomes a word of a
//! script berth writes, whatever backend writes it.

/// Quotes a string for a POSIX shell: every byte reaches the program unchanged.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}
