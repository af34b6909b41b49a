//! Source files that diagnostics point into: the spec, a `--values` file, and the `--set` arguments.

use codespan_reporting::files::SimpleFiles;
use std::borrow::Cow;
use std::ops::Range;

/// Identifies one file in [`Sources`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Span { file, range }
    }
}

/// Every text a diagnostic may point into, kept for rendering with codespan-reporting.
#[derive(Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.add(name.into(), text.into())
    }

    pub fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }

    /// The files as a terminal may show them ([`visible`]): a copy only where one holds a
    /// character that is not.
    pub fn shown_files(&self) -> Cow<'_, SimpleFiles<String, String>> {
        let ids = || (0..).map_while(|id| self.files.get(id).ok());
        let hidden = |text: &str| matches!(visible(text), Cow::Owned(_));
        if !ids().any(|f| hidden(f.name()) || hidden(f.source())) {
            return Cow::Borrowed(&self.files);
        }
        let mut shown = SimpleFiles::new();
        for file in ids() {
            shown.add(
                visible(file.name()).into_owned(),
                visible(file.source()).into_owned(),
            );
        }
        Cow::Owned(shown)
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file)
            .map(|f| f.name().as_str())
            .unwrap_or("<unknown>")
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// One-based line and column of a byte offset, as editors count them (columns in characters).
    pub fn line_column(&self, span: &Span) -> (usize, usize) {
        let text = self.text(span.file);
        let offset = span.range.start.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// `text` with every character a terminal would act on rather than show (escapes, carriage
/// returns that are no line ending, line and paragraph separators, direction overrides) replaced
/// by a visible one of the same length in bytes, so that byte spans still point where they did.
pub fn visible(text: &str) -> Cow<'_, str> {
    let acted_on = |c: char| {
        (c.is_control() && c != '\n' && c != '\t' && c != '\r')
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            )
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    let lone_return = |at: usize| text[at..].starts_with('\r') && !text[at..].starts_with("\r\n");
    if !text
        .char_indices()
        .any(|(at, c)| acted_on(c) || lone_return(at))
    {
        return Cow::Borrowed(text);
    }
    let shown = text
        .char_indices()
        .map(|(at, c)| match c {
            _ if lone_return(at) => ' ',
            _ if !acted_on(c) => c,
            _ => match c.len_utf8() {
                1 => '?',
                2 => '\u{BF}',
                _ => '\u{FFFD}',
            },
        })
        .collect();
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn visible_keeps_every_byte_offset() {
        for text in [
            "plain\nlines\ttab\r\n",
            "esc \u{1b}[31m red",
            "bell\u{7} del\u{7f} c1\u{85}",
            "sep\u{2028}par\u{2029}",
            "rtl \u{202E}gnp.exe \u{2066}x\u{2069} \u{061C}",
            "lone\rreturn",
        ] {
            let shown = visible(text);
            assert_eq!(shown.len(), text.len(), "{text:?} -> {shown:?}");
            assert!(
                shown
                    .chars()
                    .all(|c| !c.is_control() || "\n\t\r".contains(c)),
                "{shown:?}"
            );
            assert!(!shown.contains(['\u{2028}', '\u{2029}', '\u{202E}', '\u{2066}']));
            assert!(!shown.contains("\rr"), "{shown:?}");
        }
        assert!(matches!(
            visible("ünï cödé\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
