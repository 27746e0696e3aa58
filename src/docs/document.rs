//! The markdown structure of one docs document: its front matter and its headings (sections).
//!
//! build.rs includes this file by path to reject malformed corpus documents at build time, so it
//! uses std only and no `crate::` paths; the runtime uses the same code to split documents into
//! sections, so the build check and the index can never disagree about a document's shape.

use std::fmt;

/// The YAML-like header between the two `---` lines (ARCHITECTURE.md, "Docs corpus format").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    pub title: Option<String>,
    /// The Flux API kind an API document describes (`kinds/*.md`).
    pub kind: Option<String>,
    pub api_version: Option<String>,
    /// Extra search terms: synonyms, short names, CLI words.
    pub keywords: Vec<String>,
}

/// Why a document's front matter or title is unusable.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The file does not open with a `---` line.
    NoFrontMatter,
    /// The opening `---` has no closing `---`.
    UnclosedFrontMatter,
    /// A front matter line that is neither `key: value`, a list item nor a comment.
    BadFrontMatterLine { line: usize, text: String },
    /// No `title:` in the front matter.
    NoTitleField,
    /// No `# Title` heading in the body.
    NoTitleHeading,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoFrontMatter => {
                f.write_str("no front matter: the file must start with a `---` line")
            }
            Error::UnclosedFrontMatter => {
                f.write_str("front matter opened with `---` is never closed")
            }
            Error::BadFrontMatterLine { line, text } => {
                write!(f, "front matter line {line} is not `key: value`: {text:?}")
            }
            Error::NoTitleField => f.write_str("front matter has no `title:`"),
            Error::NoTitleHeading => f.write_str("no `# Title` heading after the front matter"),
        }
    }
}

impl std::error::Error for Error {}

/// A corpus document must have front matter with a title and a `# Title` heading. Returns the
/// front matter and the byte offset where the markdown body starts. build.rs enforces this; the
/// library reads the (already checked) corpus leniently.
#[cfg_attr(not(test), allow(dead_code))]
pub fn parse_strict(text: &str) -> Result<(FrontMatter, usize), Error> {
    let (front, body_start) = match split_front_matter(text)? {
        Some(found) => found,
        None => return Err(Error::NoFrontMatter),
    };
    if front.title.is_none() {
        return Err(Error::NoTitleField);
    }
    if !headings(&text[body_start..]).iter().any(|h| h.level == 1) {
        return Err(Error::NoTitleHeading);
    }
    Ok((front, body_start))
}

/// A local runbook: front matter is optional, and a broken one is read as plain markdown rather
/// than losing the file.
pub fn parse_lenient(text: &str) -> (FrontMatter, usize) {
    match split_front_matter(text) {
        Ok(Some(found)) => found,
        Ok(None) | Err(_) => (FrontMatter::default(), 0),
    }
}

/// `Ok(None)` when the text has no front matter at all.
fn split_front_matter(text: &str) -> Result<Option<(FrontMatter, usize)>, Error> {
    let text_start = text
        .strip_prefix('\u{feff}')
        .map_or(0, |_| '\u{feff}'.len_utf8());
    let mut lines = Lines::new(text, text_start);
    match lines.next() {
        Some((_, line)) if line.trim_end() == "---" => {}
        _ => return Ok(None),
    }
    let mut front = FrontMatter::default();
    // The key whose value continues on `- item` lines (block-style list).
    let mut open_list: Option<String> = None;
    // Line numbers count from the opening `---` (line 1).
    for (number, (end, line)) in (2..).zip(lines) {
        let trimmed = line.trim();
        if trimmed == "---" {
            return Ok(Some((front, end)));
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            if open_list.as_deref() == Some("keywords") {
                front.keywords.push(unquote(item).to_string());
                continue;
            }
            if open_list.is_some() {
                continue;
            }
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            return Err(Error::BadFrontMatterLine {
                line: number,
                text: trimmed.to_string(),
            });
        };
        let key = key.trim();
        let value = strip_comment(value.trim());
        open_list = value.is_empty().then(|| key.to_string());
        match key {
            "title" if !value.is_empty() => front.title = Some(unquote(value).to_string()),
            "kind" if !value.is_empty() => front.kind = Some(unquote(value).to_string()),
            "apiVersion" if !value.is_empty() => {
                front.api_version = Some(unquote(value).to_string())
            }
            "keywords" if !value.is_empty() => front.keywords.extend(flow_list(value)),
            // Unknown keys are allowed: the format may grow without breaking old binaries.
            _ => {}
        }
    }
    Err(Error::UnclosedFrontMatter)
}

/// `[a, "b c", d]` or a bare `a, b`.
fn flow_list(value: &str) -> Vec<String> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    inner
        .split(',')
        .map(|item| unquote(item.trim()))
        .filter(|item| !item.is_empty())
        .map(String::from)
        .collect()
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// YAML comments start with ` #` outside quotes; a quoted value keeps its `#`.
fn strip_comment(value: &str) -> &str {
    if value.starts_with('"') || value.starts_with('\'') {
        return value;
    }
    match value.find(" #") {
        Some(at) => value[..at].trim_end(),
        None => value,
    }
}

/// An ATX heading line (`## Text`) outside fenced code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading<'a> {
    /// 1 for `#`, 2 for `##`, ...
    pub level: u8,
    /// The heading text after the `#`s, trimmed (backticks kept).
    pub text: &'a str,
    /// Byte offset of the heading line's first character.
    pub start: usize,
    /// Byte offset just past the heading line (and its newline).
    pub end: usize,
    /// 1-based number of the heading line in the text given to [`headings`].
    pub line: usize,
}

/// The headings of a markdown body, in order. Lines inside fenced code blocks are skipped: a
/// YAML comment such as `# replicas` in an example is not a heading (CommonMark §4.5).
pub fn headings(body: &str) -> Vec<Heading<'_>> {
    let mut found = Vec::new();
    let mut fences = Fences::default();
    let mut start = 0;
    for (number, (end, line)) in (1..).zip(Lines::new(body, 0)) {
        let line_start = start;
        start = end;
        if fences.is_code(line) {
            continue;
        }
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        if indent > 3 {
            continue; // indented code
        }
        let content = &line[indent..];
        let hashes = content.bytes().take_while(|&b| b == b'#').count();
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let rest = &content[hashes..];
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            continue; // `#hashtag` is text, not a heading
        }
        // Optional closing sequence: `## Title ##`.
        let text = rest.trim().trim_end_matches('#').trim_end();
        let text = if text.is_empty() { rest.trim() } else { text };
        found.push(Heading {
            level: hashes as u8,
            text,
            start: line_start,
            end,
            line: number,
        });
    }
    found
}

/// The fence that is still open at the end of `text` (e.g. ```` ``` ````), if any: text cut in
/// the middle of a code block needs it closed.
pub fn unclosed_fence(text: &str) -> Option<String> {
    let mut fences = Fences::default();
    for (_, line) in Lines::new(text, 0) {
        fences.is_code(line);
    }
    fences
        .open
        .map(|(marker, len)| char::from(marker).to_string().repeat(len))
}

/// Tracks fenced code blocks line by line (CommonMark §4.5).
#[derive(Default)]
struct Fences {
    /// The open fence's character and length.
    open: Option<(u8, usize)>,
}

impl Fences {
    /// Whether `line` is part of a code block (fence lines included).
    fn is_code(&mut self, line: &str) -> bool {
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        let marker = if indent <= 3 {
            fence_marker(&line[indent..])
        } else {
            None
        };
        match (self.open, marker) {
            (None, Some(found)) => {
                self.open = Some(found);
                true
            }
            // A closing fence uses the same character, at least as many, and no info string.
            (Some((open, open_len)), Some((marker, len)))
                if open == marker && len >= open_len && line[indent + len..].trim().is_empty() =>
            {
                self.open = None;
                true
            }
            (open, _) => open.is_some(),
        }
    }
}

/// ```` ``` ```` or `~~~` (three or more) opening a line: the fence character and its length.
fn fence_marker(content: &str) -> Option<(u8, usize)> {
    let first = *content.as_bytes().first()?;
    if first != b'`' && first != b'~' {
        return None;
    }
    let len = content.bytes().take_while(|&b| b == first).count();
    (len >= 3).then_some((first, len))
}

/// Lines with the offset just past each line's terminator; the yielded line has no `\n`/`\r\n`.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, pos: usize) -> Lines<'a> {
        Lines { text, pos }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);
    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match rest.find('\n') {
            Some(nl) => (&rest[..nl], nl + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some((self.pos, line.strip_suffix('\r').unwrap_or(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_fields_and_body_offset() {
        let text = "---\ntitle: GitRepository\nkind: GitRepository   # API documents only\n\
                    apiVersion: source.toolkit.fluxcd.io/v1\nkeywords: [git, \"deploy key\", ssh]\n\
                    ---\n# GitRepository\nbody\n";
        let (front, start) = parse_strict(text).unwrap();
        assert_eq!(front.title.as_deref(), Some("GitRepository"));
        assert_eq!(front.kind.as_deref(), Some("GitRepository"));
        assert_eq!(
            front.api_version.as_deref(),
            Some("source.toolkit.fluxcd.io/v1")
        );
        assert_eq!(front.keywords, vec!["git", "deploy key", "ssh"]);
        assert_eq!(&text[start..], "# GitRepository\nbody\n");
    }

    #[test]
    fn block_keyword_lists_and_crlf_are_read() {
        let text = "---\r\ntitle: 'Drift: detection'\r\nkeywords:\r\n  - drift\r\n  - \"ssa\"\r\n---\r\n# Drift\r\n";
        let (front, start) = parse_strict(text).unwrap();
        assert_eq!(front.title.as_deref(), Some("Drift: detection"));
        assert_eq!(front.keywords, vec!["drift", "ssa"]);
        assert_eq!(&text[start..], "# Drift\r\n");
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        assert_eq!(parse_strict("# Title\n"), Err(Error::NoFrontMatter));
        assert_eq!(
            parse_strict("---\ntitle: x\n# Title\n"),
            Err(Error::UnclosedFrontMatter)
        );
        assert_eq!(
            parse_strict("---\nkind: X\n---\n# X\n"),
            Err(Error::NoTitleField)
        );
        assert_eq!(
            parse_strict("---\ntitle: X\n---\nno heading\n"),
            Err(Error::NoTitleHeading)
        );
        let bad = parse_strict("---\ntitle: X\njust words\n---\n# X\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "front matter line 3 is not `key: value`: \"just words\""
        );
    }

    #[test]
    fn lenient_parsing_keeps_files_without_front_matter() {
        assert_eq!(
            parse_lenient("# Runbook\ntext"),
            (FrontMatter::default(), 0)
        );
        // An unclosed header is read as markdown from the start, not dropped.
        assert_eq!(parse_lenient("---\ntitle: x\n# Runbook\n").1, 0);
    }

    #[test]
    fn headings_skip_fenced_code() {
        let body = "# Title\nintro\n```yaml\n# not a heading\n```\n## `spec.interval` ##\n\
                    ~~~~\n## still code\n```\n~~~~\n### Third\n#hashtag\n    # indented code\n";
        let found: Vec<(u8, &str)> = headings(body).iter().map(|h| (h.level, h.text)).collect();
        assert_eq!(
            found,
            vec![(1, "Title"), (2, "`spec.interval`"), (3, "Third")]
        );
        let third = headings(body)
            .into_iter()
            .find(|h| h.text == "Third")
            .unwrap();
        assert_eq!(&body[third.start..third.end], "### Third\n");
        assert_eq!(third.line, 11);
    }

    #[test]
    fn unclosed_fences_are_found() {
        assert_eq!(
            unclosed_fence("text\n```yaml\na: 1\n").as_deref(),
            Some("```")
        );
        assert_eq!(unclosed_fence("~~~~\n```\n"), Some("~~~~".to_string()));
        assert_eq!(unclosed_fence("```\ncode\n```\n"), None);
    }
}
