//! YAML rendering of shaped objects: keys in a stable, reader-first order (apiVersion, kind,
//! metadata, spec, status, then the rest, or status before spec for a failing object;
//! `name`/`namespace` first in metadata; `type`, `status`, `reason`, `message` first in a
//! condition), `# ` comment blocks, and our own block-style emitter, which writes every string
//! so that its text appears in the answer byte for byte: plain when YAML reads it back as the
//! same string, else single-quoted when it holds no `'`, else double-quoted when it holds no
//! `"` or `\`, else as a literal block scalar (`|-`, `|`, `|+`, with an indentation indicator
//! when it starts with white space). Only text YAML cannot carry as it is (control characters,
//! a carriage return, Unicode line separators) is escaped, in double quotes, and a comment on
//! the same line says so. And [`field`], for answers written line by line (events, traces):
//! a value plain when it can be, else a literal block scalar, never escaped.

use std::fmt::Write as _;

use serde_json::Value;

/// The order of an object's top-level keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// apiVersion, kind, metadata, spec, status: the order `kubectl get -o yaml` prints.
    SpecFirst,
    /// apiVersion, kind, metadata, status, spec: for a failing object, so that its conditions
    /// (what is wrong, verbatim) are among the first lines the agent reads.
    StatusFirst,
}

/// Where a mapping sits, which decides the order of its keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The object itself.
    Root,
    /// The object itself, status before spec.
    RootStatusFirst,
    /// `metadata` of the object.
    Metadata,
    /// An item of a `conditions` list.
    Condition,
    /// An item of the top-level `events` list.
    Event,
    /// A `status.inventory` summary.
    Inventory,
    /// Anywhere else: `kind`, `name`, `namespace` first (a reference reads as one), then the
    /// keys sorted (serde_json maps are sorted).
    Other,
}

impl Place {
    fn is_root(self) -> bool {
        matches!(self, Place::Root | Place::RootStatusFirst)
    }
}

/// The keys that come first at `place`, in order; the others follow alphabetically.
fn leading_keys(place: Place) -> &'static [&'static str] {
    match place {
        Place::Root => &["apiVersion", "kind", "metadata", "spec", "status"],
        Place::RootStatusFirst => &["apiVersion", "kind", "metadata", "status", "spec"],
        Place::Metadata => &["name", "namespace"],
        Place::Condition => &["type", "status", "reason", "message", "lastTransitionTime"],
        Place::Event => &["time", "type", "reason", "message"],
        Place::Inventory => &["total", "kinds", "entries", "images"],
        Place::Other => &["kind", "name", "namespace"],
    }
}

/// Keys that go last at the root: what the pipeline appends after the object's own fields.
const TRAILING_ROOT_KEYS: &[&str] = &["events"];

/// How a document is written besides its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// A condition whose message is word for word the Ready condition's (controllers copy
    /// Ready's message into Stalled, FetchFailed, Released, ...) says so in a comment instead
    /// of repeating it, and Ready comes first in the list so the reference points back. For
    /// the lean output; `fields` answers keep every message where it was.
    pub refer_repeated_messages: bool,
}

/// One YAML document (no `---`), ending in a newline.
pub fn document(object: &Value, layout: Layout) -> String {
    document_with(object, layout, Style::default())
}

/// [`document`] with a [`Style`].
pub fn document_with(object: &Value, layout: Layout, style: Style) -> String {
    let place = match layout {
        Layout::SpecFirst => Place::Root,
        Layout::StatusFirst => Place::RootStatusFirst,
    };
    render(&convert(object, place, style))
}

/// Any value as YAML with sorted keys (for values that are not Kubernetes objects).
pub fn value(v: &Value) -> String {
    render(&convert(v, Place::Other, Style::default()))
}

/// The YAML of a `key: <list>` block for the top level of a document, e.g. the events the
/// pipeline appends after an object was rendered.
pub fn root_entry(key: &str, items: &[Value]) -> String {
    let place = if key == "events" {
        Place::Event
    } else {
        Place::Other
    };
    let inner = Node::Seq(
        items
            .iter()
            .map(|i| convert(i, place, Style::default()))
            .collect(),
    );
    render(&Node::Map(vec![Entry::Pair(key.to_string(), inner)]))
}

/// A value on its way to text: the JSON value with its keys in reading order, and comment
/// lines where a value was replaced by a reference.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// `null`, a boolean or a number, written as JSON writes it (all valid plain YAML).
    Literal(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Pair(String, Node),
    /// A `# ` line in place of an entry.
    Comment(String),
}

fn convert(v: &Value, place: Place, style: Style) -> Node {
    match v {
        Value::Null => Node::Literal("null".into()),
        Value::Bool(b) => Node::Literal(b.to_string()),
        Value::Number(n) => Node::Literal(n.to_string()),
        Value::String(s) => Node::Str(s.clone()),
        Value::Array(items) => Node::Seq(
            items
                .iter()
                .map(|i| convert(i, Place::Other, style))
                .collect(),
        ),
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            let leading = leading_keys(place);
            let trailing: &[&str] = if place.is_root() {
                TRAILING_ROOT_KEYS
            } else {
                &[]
            };
            let mut push = |k: &str, child: &Value| {
                out.push(Entry::Pair(
                    k.to_string(),
                    convert_child(child, place, k, style),
                ));
            };
            for k in leading {
                if let Some(child) = map.get(*k) {
                    push(k, child);
                }
            }
            for (k, child) in map {
                if !leading.contains(&k.as_str()) && !trailing.contains(&k.as_str()) {
                    push(k, child);
                }
            }
            for k in trailing {
                if let Some(child) = map.get(*k) {
                    push(k, child);
                }
            }
            Node::Map(out)
        }
    }
}

/// A child value, with the place its own mappings take.
fn convert_child(child: &Value, parent: Place, key: &str, style: Style) -> Node {
    match (parent.is_root(), key, child) {
        (true, "metadata", _) => convert(child, Place::Metadata, style),
        (true, "events", Value::Array(items)) => Node::Seq(
            items
                .iter()
                .map(|i| convert(i, Place::Event, style))
                .collect(),
        ),
        (_, "inventory", Value::Object(_)) => convert(child, Place::Inventory, style),
        (_, "conditions", Value::Array(items)) => conditions(items, style),
        _ => convert(child, Place::Other, style),
    }
}

/// A `conditions` list; with [`Style::refer_repeated_messages`], Ready first and each message
/// that repeats Ready's replaced by a comment naming it.
fn conditions(items: &[Value], style: Style) -> Node {
    let is_ready = |c: &&Value| c["type"].as_str() == Some("Ready");
    if !style.refer_repeated_messages {
        return Node::Seq(
            items
                .iter()
                .map(|i| convert(i, Place::Condition, style))
                .collect(),
        );
    }
    let ready_message = items
        .iter()
        .find(is_ready)
        .and_then(|c| c["message"].as_str())
        .filter(|m| !m.is_empty());
    let ordered = items
        .iter()
        .filter(is_ready)
        .chain(items.iter().filter(|c| !is_ready(c)));
    Node::Seq(
        ordered
            .map(|c| {
                let mut node = convert(c, Place::Condition, style);
                let reference = match (c["message"].as_str(), ready_message) {
                    (Some(m), Some(ready)) if !is_ready(&c) => repeats(m, ready),
                    _ => None,
                };
                if let (Some(reference), Node::Map(entries)) = (reference, &mut node) {
                    for e in entries.iter_mut() {
                        if matches!(e, Entry::Pair(k, _) if k == "message") {
                            *e = Entry::Comment(format!("message: {reference}"));
                        }
                    }
                }
                node
            })
            .collect(),
    )
}

/// Shorter than this, a Ready message repeated after a prefix is simply written again.
const REFERRED_SUFFIX_MIN: usize = 40;

/// How a condition's `message` refers to Ready's: `same as Ready` when it is the same text;
/// `"building artifact: " then Ready's message` when it is Ready's after a short one-line
/// prefix (source-controller's Reconciling condition); `None` otherwise.
fn repeats(message: &str, ready: &str) -> Option<String> {
    if message == ready {
        return Some("same as Ready".to_string());
    }
    let prefix = message.strip_suffix(ready)?;
    let readable =
        !prefix.is_empty() && !prefix.contains(['"', '\\']) && prefix.chars().all(shows_as_is);
    (ready.len() >= REFERRED_SUFFIX_MIN && readable)
        .then(|| format!("\"{prefix}\" then Ready's message"))
}

fn render(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
        Node::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        other => {
            write_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// The longest key written as an implicit key (`key: value`): YAML 1.2 limits implicit keys
/// to 1024 characters, quotes included; a little below, for the reader's own counting.
const MAX_IMPLICIT_KEY: usize = 1000;

/// The entries of a mapping whose keys start at column `at`; `continued`: the first key
/// follows a `- ` already written.
fn write_map(out: &mut String, entries: &[Entry], at: usize, continued: bool) {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 || !continued {
            indent(out, at);
        }
        match e {
            Entry::Comment(text) => {
                // First in a `- ` item, the comment ends that line and the keys that follow
                // start on the next one, at the item's column: YAML reads the same mapping.
                out.push_str("# ");
                out.push_str(&comment_line(text));
                out.push('\n');
            }
            Entry::Pair(k, v) => {
                let start = out.len();
                write_scalar(out, k, at, true);
                // A key written longer than YAML allows an implicit key becomes an explicit
                // one (`? key` then `: value` on the next line), which has no length limit.
                let explicit = out[start..].chars().count() > MAX_IMPLICIT_KEY;
                if explicit {
                    out.insert_str(start, "? ");
                    out.push('\n');
                    indent(out, at);
                }
                out.push(':');
                match v {
                    Node::Map(m) if !m.is_empty() => {
                        out.push('\n');
                        write_map(out, m, at + 2, false);
                    }
                    // A list under a key starts at the key's column, as kubectl writes it
                    // (under an explicit key's `:`, one step in).
                    Node::Seq(s) if !s.is_empty() => {
                        out.push('\n');
                        write_seq(out, s, if explicit { at + 2 } else { at }, false);
                    }
                    other => {
                        out.push(' ');
                        write_inline(out, other, at);
                        out.push('\n');
                    }
                }
            }
        }
    }
}

/// The items of a sequence whose `- ` start at column `at`.
fn write_seq(out: &mut String, items: &[Node], at: usize, continued: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !continued {
            indent(out, at);
        }
        out.push_str("- ");
        match item {
            Node::Map(m) if !m.is_empty() => {
                write_map(out, m, at + 2, true);
            }
            Node::Seq(s) if !s.is_empty() => write_seq(out, s, at + 2, true),
            other => {
                write_inline(out, other, at);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection after `key: ` or `- `, for a node whose line starts at
/// column `at` (a block scalar's lines go two columns further).
fn write_inline(out: &mut String, node: &Node, at: usize) {
    match node {
        Node::Literal(s) => out.push_str(s),
        Node::Str(s) => write_scalar(out, s, at, false),
        Node::Seq(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
    }
}

/// How a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    /// Double-quoted with escapes: the only form that is not the text as it is.
    Escaped,
}

/// The first style of the list that carries `s` verbatim (see the module comment). Keys are
/// never block scalars.
fn scalar_style(s: &str, key: bool) -> ScalarStyle {
    let printable = s.chars().all(|c| c == '\n' || shows_as_is(c));
    let one_line = !s.contains('\n');
    if printable && one_line {
        if plain_ok(s) {
            return ScalarStyle::Plain;
        }
        if !s.contains('\'') {
            return ScalarStyle::SingleQuoted;
        }
        if !s.contains(['"', '\\']) {
            return ScalarStyle::DoubleQuoted;
        }
    }
    if printable && !key && !s.is_empty() {
        return ScalarStyle::Literal;
    }
    ScalarStyle::Escaped
}

/// Writes `s` in the style [`scalar_style`] picks; a block scalar's lines are indented to
/// `at + 2`.
fn write_scalar(out: &mut String, s: &str, at: usize, key: bool) {
    match scalar_style(s, key) {
        ScalarStyle::Plain => out.push_str(s),
        ScalarStyle::SingleQuoted => {
            out.push('\'');
            out.push_str(s);
            out.push('\'');
        }
        ScalarStyle::DoubleQuoted => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        ScalarStyle::Literal => write_literal(out, s, at + 2),
        ScalarStyle::Escaped => {
            out.push_str(&escaped(s));
            if !key {
                out.push_str(" # escaped: holds characters YAML cannot show as they are");
            }
        }
    }
}

/// `|`, its indicators and the lines of `s` at column `at`. Chomping: `-` without a final
/// line break, none with one, `+` with more (the extra ones follow as empty lines).
fn write_literal(out: &mut String, s: &str, at: usize) {
    let body = s.trim_end_matches('\n');
    let breaks = s.len() - body.len();
    out.push('|');
    // The indentation of the first line that is not empty decides the block's indentation
    // unless it is given: text that starts with white space or an empty line gives it.
    let first = body.split('\n').next().unwrap_or("");
    if body.starts_with([' ', '\t', '\n']) || first.trim().is_empty() {
        out.push('2');
    }
    match (body.is_empty(), breaks) {
        (false, 0) => out.push('-'),
        (false, 1) => {}
        _ => out.push('+'),
    }
    out.push('\n');
    if !body.is_empty() {
        for line in body.split('\n') {
            if !line.is_empty() {
                indent(out, at);
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    // After the body's own line break, each further one is an empty line.
    let extra = if body.is_empty() {
        breaks
    } else {
        breaks.saturating_sub(1)
    };
    for _ in 0..extra {
        out.push('\n');
    }
    // The caller ends the line; a block scalar already did.
    if out.ends_with('\n') {
        out.pop();
    }
}

/// `s` in double quotes with YAML escapes for what cannot be shown as it is.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if shows_as_is(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Characters YAML (1.1, as libyaml reads it, and 1.2) carries inside a scalar as they are:
/// tab and the printable set, minus the ones it takes as line breaks (NEL, LS, PS) and the
/// byte order mark. Not `\n`, which only a block scalar holds.
fn shows_as_is(c: char) -> bool {
    matches!(c, '\t' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether `s` can be written plain and be read back, by any YAML reader, as this string.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with([' ', '\t']) || s.ends_with([' ', '\t', ':']) || s.contains('\t') {
        return false;
    }
    let second = s[first.len_utf8()..].chars().next();
    let indicator = match first {
        // `-`, `?` and `:` start a plain scalar only when something other than a space follows.
        '-' | '?' | ':' => second.is_none_or(|c| c == ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => true,
        _ => false,
    };
    let document_marker =
        s == "---" || s == "..." || s.starts_with("--- ") || s.starts_with("... ");
    !(indicator
        || document_marker
        || s.contains(": ")
        || s.contains(" #")
        || reads_as_other_type(s))
}

/// True for text a YAML 1.1 or 1.2 reader may take for null, a boolean or a number when it is
/// plain: it is quoted.
fn reads_as_other_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "yes", "no", "true", "false", "on", "off", ".inf", "-.inf", "+.inf", ".nan",
        "=", "<<",
    ];
    let lower = s.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let all = |t: &str, ok: fn(char) -> bool| !t.is_empty() && t.chars().all(ok);
    let digit_or_sep = |c: char| c.is_ascii_digit() || c == '_';
    // Decimal and float forms (Rust reads the YAML 1.2 ones and more), YAML 1.1's `1_000`,
    // hex, octal and binary, and its base-60 `1:30` / `190:20:30.15`.
    unsigned.parse::<f64>().is_ok()
        || all(unsigned, digit_or_sep)
        || ["0x", "0X", "0o", "0O", "0b", "0B"].iter().any(|p| {
            unsigned
                .strip_prefix(p)
                .is_some_and(|rest| all(rest, |c| c.is_ascii_hexdigit() || c == '_'))
        })
        || (unsigned.contains(':')
            && unsigned.split(':').all(|part| {
                let whole = part.split_once('.').map_or(part, |(w, _)| w);
                all(whole, digit_or_sep)
            }))
}

/// One line of comment text as written after `# `: a character a comment cannot hold as it is
/// (a control character, a line separator) as `\xNN` / `\u{NNNN}`.
fn comment_line(line: &str) -> String {
    if line.chars().all(shows_as_is) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if shows_as_is(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
    out
}

/// `text` as YAML comment lines, each starting with `# `; every line of a multi-line text is
/// kept (condition messages are never shortened), and blank lines stay as a bare `#`. A
/// character a comment cannot hold as it is (a control character, a carriage return) is
/// written as `\xNN`, and a last line says so.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut escapes = false;
    for line in text.split('\n') {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let shown = comment_line(line);
            escapes |= shown.len() != line.len() || shown != line;
            out.push_str("# ");
            out.push_str(&shown);
            out.push('\n');
        }
    }
    if escapes {
        out.push_str("# (control characters above are shown escaped, as \\xNN)\n");
    }
    out
}

/// Whether `text` reads in a `# ` comment exactly as it is (every line, no escape).
pub fn comment_shows_as_is(text: &str) -> bool {
    text.chars().all(|c| c == '\n' || shows_as_is(c))
}

/// Appends `<prefix><key>: <value>` and a line break. `prefix` is the indentation, or the
/// indentation and `- ` of a list item. The value is written plain when YAML reads it back
/// as the same text, else as a literal block scalar (`|-`, `|` or `|+` by its trailing line
/// breaks, with an indentation indicator when it starts with a space), whose lines are the
/// value's own bytes: quotes, backslashes, `: ` and line breaks are never escaped. Scalars
/// such as `True` or `3` stay plain: the reader is an agent reading the text.
pub fn field(out: &mut String, prefix: &str, key: &str, value: &str) {
    out.push_str(prefix);
    out.push_str(key);
    out.push(':');
    if plain(value) {
        out.push(' ');
        out.push_str(value);
        out.push('\n');
        return;
    }
    let body = value.trim_end_matches('\n');
    let chomp = match value.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let indent = prefix.len() + 2;
    out.push_str(" |");
    if body.starts_with(' ') || body.starts_with('\n') {
        out.push('2');
    }
    out.push_str(chomp);
    out.push('\n');
    let pad = " ".repeat(indent);
    for line in value[..body.len()].split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    // A kept (`|+`) value's extra line breaks are empty lines after the body.
    for _ in 1..value.len() - body.len() {
        out.push('\n');
    }
}

/// Whether `value` can be written as a plain scalar and read back as the same characters.
fn plain(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let indicator = matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ' '
            | '\t'
    );
    // `- x`, `? x` and `: x` are indicators only when a space follows.
    let indicator = indicator
        && !(matches!(first, '-' | '?' | ':')
            && value.len() > 1
            && !value[1..].starts_with([' ', '\t']));
    !indicator
        && !value.ends_with([' ', '\t', ':'])
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['\n', '\r', '\t'])
        && !value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn root_metadata_and_condition_keys_come_in_reading_order() {
        let obj = json!({
            "status": {"conditions": [{"message": "m", "lastTransitionTime": "t", "reason": "R",
                                       "status": "False", "type": "Ready", "observedGeneration": 2}]},
            "events": [{"message": "e", "time": "t0", "type": "Warning", "reason": "Failed"}],
            "data": {"b": "2", "a": "1"},
            "spec": {"z": 1, "a": 2, "list": [{"value": 1, "name": "first"}]},
            "metadata": {"labels": {"x": "y"}, "namespace": "ns", "name": "n"},
            "kind": "K",
            "apiVersion": "g/v1",
        });
        let text = document(&obj, Layout::SpecFirst);
        let expected = "\
apiVersion: g/v1
kind: K
metadata:
  name: n
  namespace: ns
  labels:
    x: y
spec:
  a: 2
  list:
  - name: first
    value: 1
  z: 1
status:
  conditions:
  - type: Ready
    status: 'False'
    reason: R
    message: m
    lastTransitionTime: t
    observedGeneration: 2
data:
  a: '1'
  b: '2'
events:
- time: t0
  type: Warning
  reason: Failed
  message: e
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_failing_object_can_lead_with_its_status() {
        let obj = json!({"spec": {"a": 1}, "status": {"b": 2}, "metadata": {"name": "n"},
                         "kind": "K", "apiVersion": "g/v1", "events": ["e"]});
        assert_eq!(
            document(&obj, Layout::StatusFirst),
            "apiVersion: g/v1\nkind: K\nmetadata:\n  name: n\nstatus:\n  b: 2\nspec:\n  a: 1\nevents:\n- e\n"
        );
        assert_eq!(
            document(&obj, Layout::SpecFirst),
            "apiVersion: g/v1\nkind: K\nmetadata:\n  name: n\nspec:\n  a: 1\nstatus:\n  b: 2\nevents:\n- e\n"
        );
    }

    #[test]
    fn long_and_multiline_strings_are_kept_whole() {
        let long = "x".repeat(300);
        let text = document(
            &json!({"message": long, "multi": "a\nb: c\n"}),
            Layout::SpecFirst,
        );
        assert!(text.contains(&long), "{text}");
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back["multi"], "a\nb: c\n");
        assert_eq!(back["message"], json!(long));
    }

    #[test]
    fn keys_longer_than_an_implicit_key_may_be_are_written_explicitly() {
        // Found by the objects fuzz target: a 1,000+ character annotation key did not read
        // back. Short keys keep the implicit form; each value shape under a long key reads
        // back as it was.
        let long = "k".repeat(1500);
        let quoted = format!("{}: x", "q".repeat(1200));
        let v = json!({"metadata": {"annotations": {&long: "v", "short": "s"}},
                       "spec": {&quoted: {"a": [1, {"b": "c"}]}, &long: ["x", "y"], "e": {}}});
        for text in [document(&v, Layout::SpecFirst), value(&v)] {
            assert!(text.contains(&format!("? {long}\n")), "{text}");
            assert!(text.contains("short: s"), "{text}");
            let back: Value =
                serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, v);
        }
    }

    #[test]
    fn ambiguous_scalars_round_trip_as_strings() {
        let v = json!({"a": "true", "b": "1.0", "c": "null", "d": "- x", "e": "# not a comment",
                       "f": 3, "g": 2.5, "h": -1, "i": false});
        let back: Value = serde_norway::from_str(&value(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn comments_keep_every_line() {
        assert_eq!(comment("one\n\ntwo"), "# one\n#\n# two\n");
        assert_eq!(comment("a: b"), "# a: b\n");
        assert_eq!(
            comment("bell\u{7} and CR\r"),
            "# bell\\x07 and CR\\x0d\n# (control characters above are shown escaped, as \\xNN)\n"
        );
        assert!(comment_shows_as_is("a\n\tb é"));
        assert!(!comment_shows_as_is("a\rb"));
    }

    /// Texts that have caught emitters out: quotes of both kinds, YAML indicators, things a
    /// reader takes for another type, white space at either end, line breaks of every count,
    /// control characters, Unicode line separators.
    const AWKWARD: &[&str] = &[
        "",
        "plain words",
        "Applied revision: main@sha1:0ef7",
        "unable to clone 'ssh://git@github.com/acme/x.git': ssh: handshake failed",
        "say \"hi\" and 'bye'",
        "back\\slash 'and' quote",
        "HelmChart 'flux-system/x' is not ready: \"quoted\" \\ back",
        "two\nlines",
        "ends with a break\n",
        "ends with two\n\n",
        "\n",
        "\n\n",
        "\nleading break",
        " leading space",
        "  two leading spaces\nthen a line",
        "\tleading tab\nx",
        "   \nspaces-only first line",
        "trailing space ",
        "trailing colon:",
        "- looks like a list",
        "-1",
        "-x",
        "? q",
        ": c",
        "key: value",
        "# not a comment",
        "a #b",
        "{braces}",
        "[x]",
        "'single'",
        "\"double\"",
        "tab\there",
        "line\n\n\nwith blank lines\n  indented\n",
        "true",
        "True",
        "yes",
        "off",
        "~",
        "null",
        "1.0",
        "1e3",
        "0x1f",
        "0o17",
        "1_000",
        "1:30",
        "190:20:30.15",
        "017",
        ".inf",
        "20.1.4",
        "v1.7.2",
        "2026-11-21T05:03:00Z",
        "---",
        "...",
        "--- doc",
        "é🦀 unicode",
        "é🦀\u{0}\u{1b}[31m\nline two\r\n",
        "bell\u{7}",
        "CRLF\r\nline",
        "next line\u{85}here",
        "line\u{2028}separator",
        "\u{feff}bom",
        "del\u{7f}",
        "| pipe",
        "> fold",
        "%YAML",
        "@at",
        "`tick",
        "&anchor",
        "*alias",
        "!tag",
        "trailing line with spaces   \nnext",
    ];

    /// Every awkward text, as a value in each place a value can be, reads back as itself; when
    /// it is not escaped, each of its lines is in the output as it is, and a one-line text
    /// whole.
    #[test]
    fn every_string_reads_back_byte_for_byte() {
        for text in AWKWARD {
            let t = json!(text);
            let shapes = [
                json!({ "message": t }),
                json!({"status": {"conditions": [{"type": "Ready", "message": t, "reason": "R"}]}}),
                json!({"list": [t, "after"]}),
                json!({"nested": [[t]]}),
                json!({"map": {"inner": {"deeper": t}}, "next": 1}),
                json!({ (*text): "as a key" }),
            ];
            for shape in shapes {
                let out = document(&shape, Layout::SpecFirst);
                let back: Value =
                    serde_norway::from_str(&out).unwrap_or_else(|e| panic!("{text:?}: {e}\n{out}"));
                assert_eq!(back, shape, "{text:?} did not survive:\n{out}");
                let as_key = shape.as_object().is_some_and(|m| m.contains_key(*text));
                let escaped = scalar_style(text, as_key) == ScalarStyle::Escaped;
                if !as_key {
                    assert_eq!(
                        escaped,
                        out.contains("# escaped:"),
                        "{text:?}: escaping must be said\n{out}"
                    );
                }
                if !escaped {
                    if text.contains('\n') {
                        for line in text.split('\n') {
                            assert!(out.contains(line), "{line:?} not verbatim in\n{out}");
                        }
                    } else {
                        assert!(out.contains(*text), "{text:?} not verbatim in\n{out}");
                    }
                }
            }
        }
    }

    #[test]
    fn styles_are_chosen_in_order() {
        let style = |s: &str| scalar_style(s, false);
        assert_eq!(style("Succeeded"), ScalarStyle::Plain);
        assert_eq!(style("True"), ScalarStyle::SingleQuoted);
        assert_eq!(style("a: b"), ScalarStyle::SingleQuoted);
        assert_eq!(style("clone 'x': failed"), ScalarStyle::DoubleQuoted);
        assert_eq!(style("'both' and \""), ScalarStyle::Literal);
        assert_eq!(style("a\nb"), ScalarStyle::Literal);
        assert_eq!(style("a\rb"), ScalarStyle::Escaped);
        assert_eq!(scalar_style("a\nb", true), ScalarStyle::Escaped);
        let out = document(
            &json!({"m": "clone 'ssh://x': failed", "n": "'both' and \"", "o": "  indented\nx"}),
            Layout::SpecFirst,
        );
        assert_eq!(
            out,
            "m: \"clone 'ssh://x': failed\"\nn: |-\n  'both' and \"\no: |2-\n    indented\n  x\n"
        );
    }

    #[test]
    fn a_message_that_repeats_ready_refers_to_it_once_ready_comes_first() {
        let long = "failed to checkout: unable to clone 'ssh://x': handshake failed";
        let obj = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True", "message": format!("building: {long}")},
            {"type": "FetchFailed", "status": "True", "reason": "GitOperationFailed", "message": long},
            {"type": "Ready", "status": "False", "reason": "GitOperationFailed", "message": long},
        ]}});
        let style = Style {
            refer_repeated_messages: true,
        };
        let out = document_with(&obj, Layout::SpecFirst, style);
        assert_eq!(out.matches(long).count(), 1, "Ready's only: {out}");
        assert!(
            out.contains(
                "  - type: FetchFailed\n    status: 'True'\n    reason: GitOperationFailed\n    # message: same as Ready\n"
            ),
            "{out}"
        );
        assert!(
            out.find("type: Ready") < out.find("type: Reconciling"),
            "{out}"
        );
        let back: Value = serde_norway::from_str(&out).unwrap();
        assert_eq!(back["status"]["conditions"][0]["message"], long);
        assert!(back["status"]["conditions"][2].get("message").is_none());
        assert!(
            out.contains("  - type: Reconciling\n    status: 'True'\n    # message: \"building: \" then Ready's message\n"),
            "{out}"
        );
        assert_eq!(repeats("short", "short").as_deref(), Some("same as Ready"));
        assert_eq!(repeats("x: short", "short"), None, "too short to refer to");
        assert_eq!(repeats(&format!("a\"b {long}"), long), None);
        assert_eq!(repeats(&format!("{long} and more"), long), None);
        // Without the style, each condition keeps its own copy where it was.
        let plain = document(&obj, Layout::SpecFirst);
        assert_eq!(plain.matches(long).count(), 3, "{plain}");
        assert!(plain.find("type: Reconciling") < plain.find("type: Ready"));
    }

    #[test]
    fn root_entries_render_events_in_order() {
        let text = root_entry(
            "events",
            &[json!({"message": "m", "reason": "R", "time": "t", "type": "Normal", "count": 3})],
        );
        assert_eq!(
            text,
            "events:\n- time: t\n  type: Normal\n  reason: R\n  message: m\n  count: 3\n"
        );
    }

    /// Every value comes back from a YAML parser as the same string, whatever it holds.
    #[test]
    fn fields_read_back_byte_for_byte() {
        let values = [
            "Applied revision: main@sha1:0ef7",
            "plain words",
            "HelmChart 'flux-system/x' is not ready: \"quoted\" \\ back",
            "two\nlines",
            "ends with a break\n",
            "ends with two\n\n",
            " leading space",
            "\nleading break",
            "- looks like a list",
            "-1",
            "key: value",
            "# not a comment",
            "a #b",
            "trailing space ",
            "trailing colon:",
            "{braces}",
            "[x]",
            "'single'",
            "tab\there",
            "line\n\n\nwith blank lines\n  indented",
            "Back-off pulling image \"registry.k8s.io/x:v2\"",
            "",
        ];
        for v in values {
            for prefix in ["", "  ", "- ", "  - "] {
                let mut out = String::new();
                field(&mut out, prefix, "message", v);
                let doc = if prefix.starts_with(' ') {
                    format!("p:\n{out}")
                } else {
                    out.clone()
                };
                let back: Value = serde_norway::from_str(&doc)
                    .unwrap_or_else(|e| panic!("{v:?} with {prefix:?}: {e}\n{out}"));
                let back = if prefix.starts_with(' ') {
                    &back["p"]
                } else {
                    &back
                };
                let got = if prefix.contains('-') {
                    &back[0]["message"]
                } else {
                    &back["message"]
                };
                // A number or boolean stays plain on purpose: its text is the value's.
                let text = match got {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => got.to_string(),
                    other => panic!("{v:?} read back as {other:?}"),
                };
                assert_eq!(text, v, "{prefix:?}\n{out}");
                // Every line of the value is in the output as it is.
                for line in v.lines().filter(|l| !l.is_empty()) {
                    assert!(out.contains(line), "{line:?} not in\n{out}");
                }
            }
        }
        let mut out = String::new();
        field(&mut out, "  ", "message", "a: b");
        assert_eq!(out, "  message: |-\n    a: b\n");
        let mut out = String::new();
        field(&mut out, "- ", "reason", "BackOff");
        assert_eq!(out, "- reason: BackOff\n");
    }
}
