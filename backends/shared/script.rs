//! berth's own shell scripts (docker's `run.sh` and `down.sh`, swarm's `deploy.sh` and
//! `prepare-nodes.sh`, Cloud Foundry's `setup.sh`), written by Rust functions the compiler checks
//! rather than rendered from templates. Their fixed text is berth's: [`Script::text`] takes only
//! a `&'static str` (a literal or an `include_str!` of a `.sh` file beside the backend), so no
//! value of a spec can pass for shell. A value enters only quoted ([`Script::word`]), checked
//! against a grammar whose characters are literal in every quoting ([`Script::name`]), as a
//! number, or as comment lines ([`Script::comments`]).
//!
//! Where debug assertions are on (every test), a script also follows the shell's quoting through
//! its fixed text and refuses a quoted word inside `"..."`, `'...'`, backquotes or a comment, where
//! `shell_quote`'s quoting is not the context's. The fixed text is the same for every spec, so
//! the tests' compiles check it; the release build skips the scan.

use berth_model::shell::shell_quote;

/// A script being written: its text so far, and the quoting in force at its end.
#[derive(Default)]
pub struct Script {
    text: String,
    scan: Scan,
    /// The titles of a plan's steps ([`Script::step`]), in order.
    steps: Vec<String>,
}

/// The shell's quoting at a point of a script, as far as a value placed there is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quoting {
    /// Outside quotes, also inside `$(...)` whatever quotes stand around it.
    #[default]
    Unquoted,
    Single,
    Double,
    Backquoted,
    Comment,
}

/// Where a scan of shell text stands: its quoting, whether the next character is escaped by a
/// backslash, and the quoting each open `$(`, `(` or backquote returns to when it closes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub quoting: Quoting,
    pub escaped: bool,
    pub outer: Vec<Quoting>,
}

impl Scan {
    /// Whether a quoted word stands as one word here: outside quotes, not escaped.
    pub fn takes_word(&self) -> bool {
        self.quoting == Quoting::Unquoted && !self.escaped
    }

    /// Follows `text`, which comes after the byte `before`. A `#` starts a comment at the start
    /// of a word; a backslash escapes the next character outside single quotes; `$(` opens a new
    /// context, even inside double quotes, which its `)` closes.
    pub fn follow(&mut self, mut before: Option<u8>, text: &str) {
        let bytes = text.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            let word_start = before.is_none_or(|b| b" \t\n;|&(".contains(&b));
            before = Some(c);
            if self.escaped {
                self.escaped = false;
                continue;
            }
            let opens_substitution = c == b'$' && bytes.get(i + 1) == Some(&b'(');
            match (self.quoting, c) {
                (Quoting::Unquoted | Quoting::Double, b'\\') => self.escaped = true,
                (Quoting::Unquoted | Quoting::Double, b'$') if opens_substitution => {
                    self.outer.push(self.quoting);
                    self.quoting = Quoting::Unquoted;
                    // The `(` that follows belongs to the `$`.
                    self.escaped = true;
                }
                (Quoting::Unquoted | Quoting::Double, b'`') => {
                    self.outer.push(self.quoting);
                    self.quoting = Quoting::Backquoted;
                }
                (Quoting::Backquoted, b'`') | (Quoting::Unquoted, b')') => {
                    self.quoting = self.outer.pop().unwrap_or(Quoting::Unquoted);
                }
                (Quoting::Unquoted, b'(') => self.outer.push(Quoting::Unquoted),
                (Quoting::Unquoted, b'\'') => self.quoting = Quoting::Single,
                (Quoting::Unquoted, b'"') => self.quoting = Quoting::Double,
                (Quoting::Unquoted, b'#') if word_start => self.quoting = Quoting::Comment,
                (Quoting::Single, b'\'') | (Quoting::Double, b'"') => {
                    self.quoting = Quoting::Unquoted;
                }
                (Quoting::Comment, b'\n') => self.quoting = Quoting::Unquoted,
                _ => {}
            }
        }
    }
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    /// A script whose text is expected to reach about `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        Script {
            text: String::with_capacity(bytes),
            ..Script::default()
        }
    }

    /// Appends berth's own shell text.
    pub fn text(&mut self, fixed: &'static str) -> &mut Self {
        if cfg!(debug_assertions) {
            let before = self.text.as_bytes().last().copied();
            self.scan.follow(before, fixed);
        }
        self.text.push_str(fixed);
        self
    }

    /// Appends any value as one shell word, quoted so that every byte reaches the program.
    pub fn word(&mut self, value: &str) -> &mut Self {
        self.expect_unquoted("a quoted word");
        self.text.push_str(&shell_quote(value));
        self
    }

    /// Appends a step of a plan, `step TITLE` (which prints it), and keeps its title for the
    /// plan's outline.
    pub fn step(&mut self, title: &str) -> &mut Self {
        self.text("\nstep ").word(title).text("\n");
        self.steps.push(title.to_string());
        self
    }

    /// The titles of the steps appended so far.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// Appends values as shell words separated by spaces.
    pub fn words<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text(" ");
            }
            self.word(value);
        }
        self
    }

    /// Appends a name that berth validated to a grammar of letters, digits, `-`, `.` and `_`
    /// (a DNS label, a secret's name or key, a shell variable): literal in any quoting and in a
    /// comment. Anything else is a bug of berth's, refused here whatever the build.
    pub fn name(&mut self, value: &str) -> &mut Self {
        assert!(
            is_name(value),
            "berth bug: `{}` reached a script as a name without passing a name's grammar",
            value.escape_default()
        );
        self.text.push_str(value);
        self
    }

    /// Appends a number: digits are literal in any quoting.
    pub fn number(&mut self, value: u64) -> &mut Self {
        self.text.push_str(&value.to_string());
        self
    }

    /// Appends whole comment lines (a file's header): each line starts with `#` and ends with a
    /// line break, so nothing in them is a command, whatever they say.
    pub fn comments(&mut self, lines: &str) -> &mut Self {
        assert!(
            lines
                .split_inclusive('\n')
                .all(|line| line.starts_with('#') && line.ends_with('\n')),
            "berth bug: a script's comment lines hold a line that is no comment"
        );
        if cfg!(debug_assertions) {
            assert!(
                self.text.is_empty() || self.text.ends_with('\n'),
                "berth bug: comment lines must start a line"
            );
            assert!(
                self.scan.takes_word(),
                "berth bug: comment lines inside quotes"
            );
        }
        self.text.push_str(lines);
        self
    }

    /// Appends a part written the same way (a `docker run`'s arguments): both must stand outside
    /// quotes where they meet.
    pub fn script(&mut self, part: &Script) -> &mut Self {
        self.expect_unquoted("a part of a script");
        if cfg!(debug_assertions) {
            assert!(
                part.scan.takes_word() && part.scan.outer.is_empty(),
                "berth bug: a part of a script ends inside quotes: {}",
                part.text
            );
        }
        self.text.push_str(&part.text);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Where the scan stands at the end of the text (followed where debug assertions are on).
    pub fn scan(&self) -> &Scan {
        &self.scan
    }

    fn expect_unquoted(&self, what: &str) {
        if cfg!(debug_assertions) {
            assert!(
                self.scan.takes_word(),
                "berth bug: {what} would stand {:?} after: {}",
                self.scan,
                self.text.lines().last().unwrap_or("")
            );
        }
    }
}

/// Letters, digits, `-`, `.` and `_`: no character any shell quoting or a comment treats apart.
fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(text: &'static str) -> Scan {
        let mut script = Script::new();
        script.text(text);
        script.scan().clone()
    }

    fn quoting(text: &'static str) -> Quoting {
        after(text).quoting
    }

    #[test]
    #[cfg(debug_assertions)]
    fn the_scan_follows_quotes_comments_escapes_and_substitutions() {
        assert_eq!(quoting("a \"b"), Quoting::Double);
        assert_eq!(quoting("a 'b \" c"), Quoting::Single);
        assert_eq!(quoting("a 'b' \"c\" `d`"), Quoting::Unquoted);
        assert_eq!(quoting("x # it's"), Quoting::Comment);
        assert_eq!(quoting("x # it's\n"), Quoting::Unquoted);
        assert_eq!(quoting("$# x#y"), Quoting::Unquoted);
        assert_eq!(quoting("\\\" a"), Quoting::Unquoted);
        assert_eq!(quoting("\"a \\\" b"), Quoting::Double);
        assert!(after("a \\").escaped);
        assert_eq!(quoting("`a"), Quoting::Backquoted);
        // Inside `$(...)` in double quotes, quotes are the substitution's own.
        assert_eq!(quoting("\"$(f '"), Quoting::Single);
        assert_eq!(quoting("\"$(f 'x' "), Quoting::Unquoted);
        assert_eq!(quoting("\"$(f 'x' \"$1\")"), Quoting::Double);
        assert_eq!(after("\"$(f 'x' \"$1\")\" ok"), Scan::default());
        assert_eq!(after("i=$((i + 1)) (a) "), Scan::default());
    }

    #[test]
    fn values_are_quoted_and_names_literal() {
        let mut script = Script::new();
        script
            .text("x=")
            .word("a b'c")
            .text(" y=")
            .name("crdb-0.member")
            .text(" n=")
            .number(5)
            .text(" ")
            .words(["1", "$x"]);
        assert_eq!(script.as_str(), "x=\"a b'c\" y=crdb-0.member n=5 1 '$x'");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "quoting: Double")]
    fn a_word_inside_double_quotes_is_refused() {
        Script::new().text("echo \"").word("x");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "quoting: Single")]
    fn a_word_inside_single_quotes_is_refused() {
        Script::new().text("echo '").word("x");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "quoting: Comment")]
    fn a_word_in_a_comment_is_refused() {
        Script::new().text("# about ").word("x");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "escaped: true")]
    fn a_word_after_a_backslash_is_refused() {
        Script::new().text("echo \\").word("x");
    }

    #[test]
    #[should_panic(expected = "without passing a name's grammar")]
    fn a_name_outside_the_grammar_is_refused() {
        Script::new().text("# about ").name("x\ny");
    }

    #[test]
    #[should_panic(expected = "no comment")]
    fn comment_lines_must_all_be_comments() {
        Script::new().comments("# a\nb\n");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "ends inside quotes")]
    fn a_part_must_end_unquoted() {
        let mut part = Script::new();
        part.text("'");
        Script::new().script(&part);
    }
}
