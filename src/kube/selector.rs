//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`) and field selectors
//! (`=`, `==`, `!=` with `\`-escapes), parsed and matched the way the API server does it
//! (`k8s.io/apimachinery/pkg/labels` and `.../fields`, behaviour only): what is accepted, what
//! matches, and the 400 message a bad selector gets. The test API server filters with this code,
//! and so will any source that answers lists without an API server.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::Status;

/// Why a selector cannot be used. `Display` is the message the API server puts in its
/// `400 BadRequest` Status; [`SelectorError::status`] builds that Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorError {
    /// A label selector that breaks the grammar: `found 'b', expected: '('`. `found` is the
    /// offending token as written (empty at the end of the selector).
    LabelSyntax {
        selector: String,
        found: String,
        expected: &'static str,
        /// Inside a requirement the API server prefixes `unable to parse requirement: `.
        in_requirement: bool,
    },
    /// A label selector whose key or values break the label rules (characters, length, an
    /// integer for `>` and `<`): one [`FieldProblem`] per broken rule, as the API server lists
    /// them.
    LabelInvalid {
        selector: String,
        problems: Vec<FieldProblem>,
    },
    /// A field selector term with no `=`, `==` or `!=`.
    FieldTerm { selector: String, term: String },
    /// A field selector value with a `\` before anything but `\`, `,` or `=`, or a trailing `\`.
    FieldEscape { selector: String, sequence: String },
    /// A field selector value with a bare `=` (`,` cannot reach a value: it splits terms).
    FieldUnescaped { selector: String, character: char },
    /// A field the resource type does not index. `generic`: the type has no field labels of
    /// its own (custom resources and most built-in types), which the API server words
    /// differently.
    FieldUnsupported { field: String, generic: bool },
}

/// One broken rule of a label requirement, in the API server's field-error form:
/// `values[0][app]: Invalid value: "-x": a valid label must be ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// `<nil>` for the key (the API server validates it without a path), `values[i]` or
    /// `values[i][key]` for a value.
    pub path: String,
    pub value: String,
    pub detail: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: Invalid value: {}: {}",
            self.path,
            go_quote(&self.value),
            self.detail
        )
    }
}

impl SelectorError {
    /// The selector as the caller gave it (`None` for an unsupported field, which is about the
    /// resource type rather than the text).
    pub fn selector(&self) -> Option<&str> {
        match self {
            SelectorError::LabelSyntax { selector, .. }
            | SelectorError::LabelInvalid { selector, .. }
            | SelectorError::FieldTerm { selector, .. }
            | SelectorError::FieldEscape { selector, .. }
            | SelectorError::FieldUnescaped { selector, .. } => Some(selector),
            SelectorError::FieldUnsupported { .. } => None,
        }
    }

    /// The `400 BadRequest` Status an API server answers a list with this selector.
    pub fn status(&self) -> Status {
        Status {
            status: "Failure".into(),
            message: self.to_string(),
            reason: "BadRequest".into(),
            code: 400,
            details: None,
        }
    }
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectorError::LabelSyntax {
                found,
                expected,
                in_requirement,
                ..
            } => {
                if *in_requirement {
                    f.write_str("unable to parse requirement: ")?;
                }
                write!(f, "found '{found}', expected: {expected}")
            }
            SelectorError::LabelInvalid { problems, .. } => {
                f.write_str("unable to parse requirement: ")?;
                // The API server's error aggregate: one error alone, several in brackets.
                match problems.as_slice() {
                    [one] => write!(f, "{one}"),
                    many => {
                        f.write_str("[")?;
                        for (i, p) in many.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{p}")?;
                        }
                        f.write_str("]")
                    }
                }
            }
            SelectorError::FieldTerm { selector, term } => {
                write!(
                    f,
                    "invalid selector: '{selector}'; can't understand '{term}'"
                )
            }
            SelectorError::FieldEscape { sequence, .. } => {
                write!(
                    f,
                    "invalid field selector: invalid escape sequence: {sequence}"
                )
            }
            // Go prints the rune with %v: its number.
            SelectorError::FieldUnescaped { character, .. } => write!(
                f,
                "invalid field selector: unescaped character in value: {}",
                u32::from(*character)
            ),
            SelectorError::FieldUnsupported {
                field,
                generic: true,
            } => write!(
                f,
                "\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            ),
            SelectorError::FieldUnsupported {
                field,
                generic: false,
            } => write!(f, "field label not supported: {field}"),
        }
    }
}

impl std::error::Error for SelectorError {}

/// A string as Go's `%q` writes it for the characters a selector can hold: in double quotes,
/// `"` and `\` escaped, control characters as escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && c.is_ascii_control() => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---- label selectors -------------------------------------------------------------------------

/// What one requirement asks of a label. `=` and `==` are `In` with one value, `!=` is
/// `NotIn` with one value: they match the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Greater(i64),
    Less(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty one matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    Not,
    Eq,
    DoubleEq,
    NotEq,
    In,
    NotIn,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

/// Whitespace for the label lexer: ASCII blanks only, as the API server's lexer reads bytes.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Tokens with their text. The API server's lexer stops at a NUL byte as at the end.
fn lex(selector: &str) -> Vec<(Tok, &str)> {
    let s = selector.split('\0').next().unwrap_or_default();
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_blank(bytes[i]) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            out.push((Tok::End, ""));
            return out;
        };
        let start = i;
        let tok = if is_special(b) {
            // Longest match: `!=` and `==` are the only two-symbol tokens.
            let two = bytes.get(i + 1) == Some(&b'=');
            let (tok, len) = match b {
                b'!' if two => (Tok::NotEq, 2),
                b'=' if two => (Tok::DoubleEq, 2),
                b'!' => (Tok::Not, 1),
                b'=' => (Tok::Eq, 1),
                b'>' => (Tok::Gt, 1),
                b'<' => (Tok::Lt, 1),
                b'(' => (Tok::Open, 1),
                b')' => (Tok::Close, 1),
                _ => (Tok::Comma, 1),
            };
            i += len;
            tok
        } else {
            while i < bytes.len() && !is_special(bytes[i]) && !is_blank(bytes[i]) {
                i += 1;
            }
            match &s[start..i] {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            }
        };
        out.push((tok, &s[start..i]));
    }
}

/// The label parser. Where a value may stand, `in` and `notin` are plain words (`x in (in)`).
struct Parser<'a> {
    selector: &'a str,
    tokens: Vec<(Tok, &'a str)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self, values: bool) -> (Tok, &'a str) {
        let (tok, lit) = self.tokens.get(self.pos).copied().unwrap_or((Tok::End, ""));
        match tok {
            Tok::In | Tok::NotIn if values => (Tok::Ident, lit),
            _ => (tok, lit),
        }
    }

    fn next(&mut self, values: bool) -> (Tok, &'a str) {
        let got = self.peek(values);
        self.pos = (self.pos + 1).min(self.tokens.len());
        got
    }

    fn syntax(&self, found: &str, expected: &'static str, in_requirement: bool) -> SelectorError {
        SelectorError::LabelSyntax {
            selector: self.selector.to_string(),
            found: found.to_string(),
            expected,
            in_requirement,
        }
    }

    fn parse(mut self) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.peek(true);
            match tok {
                Tok::Ident | Tok::Not => {
                    requirements.push(self.requirement()?);
                    let (tok, lit) = self.next(true);
                    match tok {
                        Tok::End => break,
                        Tok::Comma => {
                            let (tok, lit) = self.peek(true);
                            if tok != Tok::Ident && tok != Tok::Not {
                                return Err(self.syntax(lit, "identifier after ','", false));
                            }
                        }
                        _ => return Err(self.syntax(lit, "',' or 'end of string'", false)),
                    }
                }
                Tok::End => break,
                _ => {
                    return Err(self.syntax(lit, "!, identifier, or 'end of string'", false));
                }
            }
        }
        Ok(LabelSelector(requirements))
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (mut tok, mut key) = self.next(true);
        let negated = tok == Tok::Not;
        if negated {
            (tok, key) = self.next(true);
        }
        if tok != Tok::Ident {
            return Err(self.syntax(key, "identifier", true));
        }
        let key_errors = qualified_name_errors(key);
        if !key_errors.is_empty() {
            return Err(self.invalid(vec![FieldProblem {
                path: "<nil>".into(),
                value: key.to_string(),
                detail: key_errors.join("; "),
            }]));
        }
        if negated {
            return Ok(Requirement {
                key: key.to_string(),
                op: Op::DoesNotExist,
            });
        }
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(Requirement {
                key: key.to_string(),
                op: Op::Exists,
            });
        }
        let (op, lit) = self.next(false);
        let values = match op {
            Tok::In | Tok::NotIn => self.set_values()?,
            Tok::Eq | Tok::DoubleEq | Tok::NotEq | Tok::Gt | Tok::Lt => self.exact_value()?,
            _ => return Err(self.syntax(lit, "in, notin, =, ==, !=, gt, lt", true)),
        };
        // The API server validates the sorted value set: its indexes follow that order.
        let values: Vec<String> = values.into_iter().map(str::to_string).collect();
        let mut problems: Vec<FieldProblem> = Vec::new();
        let mut bound = 0;
        if matches!(op, Tok::Gt | Tok::Lt) {
            for (i, v) in values.iter().enumerate() {
                match v.parse::<i64>() {
                    Ok(n) => bound = n,
                    Err(_) => problems.push(FieldProblem {
                        path: format!("values[{i}]"),
                        value: v.clone(),
                        detail: "for 'Gt', 'Lt' operators, the value must be an integer".into(),
                    }),
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let errors = label_value_errors(v);
            if !errors.is_empty() {
                problems.push(FieldProblem {
                    path: format!("values[{i}][{key}]"),
                    value: v.clone(),
                    detail: errors.join("; "),
                });
            }
        }
        // The aggregate drops repeated messages.
        let mut seen = BTreeSet::new();
        problems.retain(|p| seen.insert(p.to_string()));
        if !problems.is_empty() {
            return Err(self.invalid(problems));
        }
        let op = match op {
            Tok::In | Tok::Eq | Tok::DoubleEq => Op::In(values),
            Tok::NotIn | Tok::NotEq => Op::NotIn(values),
            Tok::Gt => Op::Greater(bound),
            _ => Op::Less(bound),
        };
        Ok(Requirement {
            key: key.to_string(),
            op,
        })
    }

    fn invalid(&self, problems: Vec<FieldProblem>) -> SelectorError {
        SelectorError::LabelInvalid {
            selector: self.selector.to_string(),
            problems,
        }
    }

    /// `(a, b)`; empty entries (`()`, `(a,,b)`, `(,a)`, `(a,)`) are the empty value.
    fn set_values(&mut self) -> Result<BTreeSet<&'a str>, SelectorError> {
        let (tok, lit) = self.next(true);
        if tok != Tok::Open {
            // The API server writes this one without the comma; ours reads like the others.
            return Err(self.syntax(lit, "'('", true));
        }
        let (tok, lit) = self.peek(true);
        let mut set = BTreeSet::new();
        match tok {
            Tok::Close => {
                self.next(true);
                set.insert("");
                return Ok(set);
            }
            Tok::Ident | Tok::Comma => {}
            _ => return Err(self.syntax(lit, "',', ')' or identifier", true)),
        }
        loop {
            let (tok, lit) = self.next(true);
            match tok {
                Tok::Ident => {
                    set.insert(lit);
                    let (after, after_lit) = self.peek(true);
                    match after {
                        Tok::Comma => {}
                        Tok::Close => {
                            self.next(true);
                            return Ok(set);
                        }
                        _ => return Err(self.syntax(after_lit, "',' or ')'", true)),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert("");
                    }
                    match self.peek(true).0 {
                        Tok::Close => {
                            set.insert("");
                            self.next(true);
                            return Ok(set);
                        }
                        Tok::Comma => {
                            self.next(true);
                            set.insert("");
                        }
                        _ => {}
                    }
                }
                _ => return Err(self.syntax(lit, "',', or identifier", true)),
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end is "".
    fn exact_value(&mut self) -> Result<BTreeSet<&'a str>, SelectorError> {
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(BTreeSet::from([""]));
        }
        match self.next(true) {
            (Tok::Ident, lit) => Ok(BTreeSet::from([lit])),
            (_, lit) => Err(self.syntax(lit, "identifier", true)),
        }
    }
}

const QUALIFIED_NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_RULE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the name part of a label key (and, or empty, a
/// label value).
fn is_qualified_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A DNS-1123 subdomain: dot-separated labels of lower-case letters, digits and `-`, each
/// starting and ending with a letter or digit.
fn is_subdomain(s: &str) -> bool {
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| {
        label.starts_with(lower)
            && label.ends_with(lower)
            && label.chars().all(|c| lower(c) || c == '-')
    })
}

/// What the API server finds wrong with a label key (`IsQualifiedName`); empty when valid.
fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errors.push("prefix part must be no more than 253 characters".to_string());
                }
                if !is_subdomain(prefix) {
                    errors.push(format!("prefix part {SUBDOMAIN_RULE}"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_name(name) {
        errors.push(format!("name part {QUALIFIED_NAME_RULE}"));
    }
    errors
}

/// What the API server finds wrong with a label value (`IsValidLabelValue`); empty when valid.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name(value) {
        errors.push(LABEL_VALUE_RULE.to_string());
    }
    errors
}

impl LabelSelector {
    /// Parse `selector` as the API server parses `labelSelector`; the empty string selects
    /// everything.
    pub fn parse(selector: &str) -> Result<LabelSelector, SelectorError> {
        Parser {
            selector,
            tokens: lex(selector),
            pos: 0,
        }
        .parse()
    }

    /// True when it selects everything (the API server then counts `remainingItemCount`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        self.matches_labels(
            object
                .pointer("/metadata/labels")
                .and_then(Value::as_object),
        )
    }

    /// Whether a label map satisfies every requirement; `None` is an object without labels.
    /// A label whose value is not a string counts as absent.
    pub fn matches_labels(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| {
            let label = get(&r.key);
            match &r.op {
                Op::In(values) => label.is_some_and(|l| values.iter().any(|v| v == l)),
                Op::NotIn(values) => label.is_none_or(|l| values.iter().all(|v| v != l)),
                Op::Exists => label.is_some(),
                Op::DoesNotExist => label.is_none(),
                Op::Greater(n) => label
                    .and_then(|l| l.parse::<i64>().ok())
                    .is_some_and(|l| l > *n),
                Op::Less(n) => label
                    .and_then(|l| l.parse::<i64>().ok())
                    .is_some_and(|l| l < *n),
            }
        })
    }
}

// ---- field selectors -------------------------------------------------------------------------

/// One `field=value` (`equal`) or `field!=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    field: String,
    equal: bool,
    value: String,
}

/// A parsed field selector; the empty one matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<Term>);

impl FieldSelector {
    /// Parse `selector` as the API server parses `fieldSelector`: terms split at unescaped
    /// commas, each split at its first `!=`, `==` or `=`; the field is taken as written, the
    /// value unescaped (`\\`, `\,`, `\=`). Terms are read in sorted order, so the error names
    /// the first bad term in that order, as the API server's does.
    pub fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, equal, raw)) = split_term(part) else {
                return Err(SelectorError::FieldTerm {
                    selector: selector.to_string(),
                    term: part.to_string(),
                });
            };
            terms.push(Term {
                field: field.to_string(),
                equal,
                value: unescape(selector, raw)?,
            });
        }
        Ok(FieldSelector(terms))
    }

    /// True when it selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks the fields against what the resource type indexes: `metadata.name`,
    /// `metadata.namespace` and the type's own `field_labels` (e.g. `involvedObject.name` on
    /// Events, `status.phase` on Pods). The first unknown field, in sorted term order, is the
    /// API server's 400.
    pub fn check_fields<S: AsRef<str>>(&self, field_labels: &[S]) -> Result<(), SelectorError> {
        let unknown = self.0.iter().find(|t| {
            t.field != "metadata.name"
                && t.field != "metadata.namespace"
                && !field_labels.iter().any(|l| l.as_ref() == t.field)
        });
        match unknown {
            None => Ok(()),
            Some(t) => Err(SelectorError::FieldUnsupported {
                field: t.field.clone(),
                generic: field_labels.is_empty(),
            }),
        }
    }

    /// The value `field` must equal when a term pins it (`metadata.name=x`: a GET in disguise).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|t| t.field == field && t.equal)
            .map(|t| t.value.as_str())
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.0
            .iter()
            .all(|t| (field_value(object, &t.field) == t.value) == t.equal)
    }
}

/// The value a field label reads from an object, as the API server's per-type field sets give
/// it: strings as they are, numbers and booleans in decimal and `true`/`false`, an absent
/// field as "" (or `false`/`0` for the boolean and counter labels whose Go field is never
/// absent).
fn field_value(object: &Value, field: &str) -> String {
    // Events index `source` as `source.component`.
    let path = if field == "source" {
        "source.component"
    } else {
        field
    };
    let found = path.split('.').try_fold(object, |cur, part| cur.get(part));
    match found {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
        None => match field {
            "spec.hostNetwork" | "spec.unschedulable" => "false".into(),
            "status.replicas" | "status.successful" => "0".into(),
            _ => String::new(),
        },
    }
}

/// Terms split at commas not escaped by `\` (escapes stay in the terms).
fn split_terms(selector: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    if selector.is_empty() {
        return terms;
    }
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// `(field, equal, raw value)` split at the first operator, checking `!=`, then `==`, then
/// `=` at each position. The field has no escapes.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, equal) in [("!=", false), ("==", true), ("=", true)] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], equal, value));
            }
        }
    }
    None
}

fn unescape(selector: &str, raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::FieldEscape {
                    selector: selector.to_string(),
                    sequence: format!("\\{c}"),
                });
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '=' {
            return Err(SelectorError::FieldUnescaped {
                selector: selector.to_string(),
                character: c,
            });
        } else {
            out.push(c);
        }
    }
    if escaped {
        return Err(SelectorError::FieldEscape {
            selector: selector.to_string(),
            sequence: "\\".into(),
        });
    }
    Ok(out)
}

// ---- both -----------------------------------------------------------------------------------

/// The two selectors of a list request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    /// Parse `labelSelector` and `fieldSelector` (empty: everything) and check the fields
    /// against the resource type's `field_labels` (see [`FieldSelector::check_fields`]), in the
    /// API server's order, so that the same request gets the same first error.
    pub fn parse<S: AsRef<str>>(
        label_selector: &str,
        field_selector: &str,
        field_labels: &[S],
    ) -> Result<Selectors, SelectorError> {
        let labels = LabelSelector::parse(label_selector)?;
        let fields = FieldSelector::parse(field_selector)?;
        fields.check_fields(field_labels)?;
        Ok(Selectors { labels, fields })
    }

    /// True when nothing is filtered (the API server then gives `remainingItemCount`).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}})
    }

    fn label_err(s: &str) -> String {
        match LabelSelector::parse(s) {
            Ok(sel) => panic!("{s:?} parsed: {sel:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn selects(s: &str, object: &Value) -> bool {
        match LabelSelector::parse(s) {
            Ok(sel) => sel.matches(object),
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn label_operators() {
        let o = labelled(json!({"app": "web", "tier": "front", "replicas": "3", "empty": ""}));
        for s in [
            "",
            "   ",
            "app=web",
            "app==web",
            "app = web",
            "app!=db",
            "app in (web, db)",
            "app in(web)",
            "tier notin (back)",
            "app",
            "!missing",
            "app=web,tier=front",
            "app=web , tier=front",
            "missing!=x",
            "missing notin (x)",
            "replicas>2",
            "replicas<4",
            "empty=",
            "empty in ()",
            "empty in (x,)",
            "app in (,web)",
            "app in (a,,web)",
            "app=web\0garbage that is never read",
        ] {
            assert!(selects(s, &o), "{s:?} should select");
        }
        for s in [
            "app=db",
            "app!=web",
            "app in (db)",
            "app notin (web)",
            "missing",
            "!app",
            "app=web,tier=back",
            "missing in (x)",
            "missing=",
            "replicas>3",
            "replicas<3",
            "app>1",
            "missing<100",
            "app in ()",
        ] {
            assert!(!selects(s, &o), "{s:?} should not select");
        }
    }

    #[test]
    fn keywords_are_values_where_values_stand() {
        let o = labelled(json!({"in": "notin", "x": "in"}));
        assert!(selects("in=notin", &o));
        assert!(selects("x in (in, notin)", &o));
        assert!(selects("!notin", &o));
        assert!(!selects("x notin (in)", &o));
    }

    #[test]
    fn labels_that_are_not_strings_are_absent() {
        let o = labelled(json!({"n": 3, "b": true}));
        assert!(selects("!n", &o));
        assert!(selects("b!=true", &o));
        assert!(!selects("n>1", &o));
        let no_labels = json!({"metadata": {"name": "x"}});
        assert!(selects("!app,app!=x,app notin (y)", &no_labels));
        assert!(!selects("app", &no_labels));
    }

    #[test]
    fn label_syntax_errors_read_like_the_api_servers() {
        for (s, want) in [
            (
                "app in web",
                "unable to parse requirement: found 'web', expected: '('",
            ),
            (
                "app in",
                "unable to parse requirement: found '', expected: '('",
            ),
            ("app=web,", "found '', expected: identifier after ','"),
            ("app=web,,x", "found ',', expected: identifier after ','"),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("app=a b c", "found 'b', expected: ',' or 'end of string'"),
            ("app=a=b", "found '=', expected: ',' or 'end of string'"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "!=a",
                "found '!=', expected: !, identifier, or 'end of string'",
            ),
            (
                "a=(b)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "a in (b c)",
                "unable to parse requirement: found 'c', expected: ',' or ')'",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "a in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "a in (b,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
        ] {
            assert_eq!(label_err(s), want, "{s:?}");
        }
    }

    #[test]
    fn label_rule_errors_name_the_key_or_value() {
        assert_eq!(
            label_err("app=-x"),
            format!(
                "unable to parse requirement: values[0][app]: Invalid value: \"-x\": {LABEL_VALUE_RULE}"
            )
        );
        assert_eq!(
            label_err("-app"),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"-app\": name part {QUALIFIED_NAME_RULE}"
            )
        );
        assert!(label_err("Example.com/app=x").contains("prefix part a lowercase RFC 1123"));
        assert!(label_err("/app").contains("prefix part must be non-empty"));
        assert!(label_err("a/b/c").contains("a qualified name must consist of"));
        let long = "k".repeat(64);
        assert!(
            label_err(&long).contains("name part must be no more than 63 characters"),
            "{}",
            label_err(&long)
        );
        assert!(label_err(&format!("a={long}")).contains("must be no more than 63 characters"));
        // The sorted value set decides the index: `b-` sorts after `a`.
        assert!(label_err("k in (b-, a)").contains("values[1][k]: Invalid value: \"b-\""));
        assert_eq!(
            label_err("n>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        // A negative bound is an integer but not a label value.
        assert!(label_err("n>-1").starts_with("unable to parse requirement: values[0][n]: "));
        // Two broken rules at once come in brackets, like the API server's aggregate.
        let both = label_err("n<-x");
        assert!(
            both.starts_with("unable to parse requirement: [values[0]: "),
            "{both}"
        );
        assert!(
            both.contains(", values[0][n]: Invalid value: \"-x\""),
            "{both}"
        );
        assert!(both.ends_with("]"), "{both}");
    }

    #[test]
    fn errors_keep_the_selector_and_become_a_400() {
        let e = LabelSelector::parse("app in web").unwrap_err();
        assert_eq!(e.selector(), Some("app in web"));
        let status = e.status();
        assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
        assert_eq!(status.message, e.to_string());
        let e = FieldSelector::parse("nonsense").unwrap_err();
        assert_eq!(e.selector(), Some("nonsense"));
    }

    #[test]
    fn hostile_label_text_is_quoted_not_replayed() {
        let e = label_err("a=\"\u{1}");
        assert!(e.contains(r#"Invalid value: "\"\x01""#), "{e}");
    }

    fn event() -> Value {
        json!({"metadata": {"name": "e1", "namespace": "flux-system"},
            "involvedObject": {"kind": "Kustomization", "name": "apps"},
            "reason": "ReconciliationSucceeded", "type": "Normal", "count": 3,
            "source": {"component": "kustomize-controller"}})
    }

    fn field_selects(s: &str, object: &Value) -> bool {
        match FieldSelector::parse(s) {
            Ok(sel) => sel.matches(object),
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn field_selectors_match() {
        let ev = event();
        for (s, want) in [
            ("", true),
            (",", true),
            (
                "involvedObject.kind=Kustomization,involvedObject.name=apps",
                true,
            ),
            ("reason!=ReconciliationSucceeded", false),
            ("reason!=Progressing,type==Normal", true),
            ("metadata.namespace=flux-system", true),
            ("source=kustomize-controller", true),
            ("involvedObject.uid=", true),
            ("involvedObject.uid!=", false),
            ("count=3", true),
            ("type=Normal,", true),
            // The field is taken as written: a space makes it another field.
            (" type=Normal", false),
        ] {
            assert_eq!(field_selects(s, &ev), want, "{s:?}");
        }
        let pod = json!({"metadata": {"name": "p"}, "spec": {}});
        assert!(field_selects("spec.hostNetwork=false", &pod));
        assert!(field_selects("status.replicas=0", &pod));
    }

    #[test]
    fn field_values_unescape() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(sel.required_value("metadata.name"), Some(r"a,b=c\d"));
        assert!(sel.matches(&json!({"metadata": {"name": r"a,b=c\d"}})));
        assert_eq!(
            FieldSelector::parse("metadata.name!=x")
                .unwrap()
                .required_value("metadata.name"),
            None
        );
    }

    #[test]
    fn field_syntax_errors_read_like_the_api_servers() {
        for (s, want) in [
            (
                "nonsense",
                "invalid selector: 'nonsense'; can't understand 'nonsense'",
            ),
            // Terms are checked in sorted order.
            ("z,a", "invalid selector: 'z,a'; can't understand 'a'"),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                r"a\=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ] {
            match FieldSelector::parse(s) {
                Ok(sel) => panic!("{s:?} parsed: {sel:?}"),
                Err(e) => assert_eq!(e.to_string(), want, "{s:?}"),
            }
        }
    }

    #[test]
    fn unsupported_fields_are_worded_per_type() {
        let sel = FieldSelector::parse("spec.suspend=true").unwrap();
        let none: &[&str] = &[];
        assert_eq!(
            sel.check_fields(none).unwrap_err().to_string(),
            "\"spec.suspend\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            sel.check_fields(&["type"]).unwrap_err().to_string(),
            "field label not supported: spec.suspend"
        );
        let ok = FieldSelector::parse("type=Opaque,metadata.name=x").unwrap();
        assert!(ok.check_fields(&["type".to_string()]).is_ok());
        assert!(
            FieldSelector::parse("b=1,a=1")
                .unwrap()
                .check_fields(none)
                .unwrap_err()
                .to_string()
                .starts_with("\"a\"")
        );
    }

    #[test]
    fn both_selectors_fail_in_the_api_servers_order() {
        let err = |l: &str, f: &str| Selectors::parse(l, f, &["type"]).unwrap_err().to_string();
        assert!(err("a in b", "nonsense").starts_with("unable to parse requirement"));
        assert!(err("a", "nonsense").starts_with("invalid selector"));
        assert_eq!(err("a", "spec.x=1"), "field label not supported: spec.x");
        let both = Selectors::parse("app=web", "type=Normal", &["type"]).unwrap();
        assert!(!both.is_empty());
        assert!(Selectors::parse("", "", &["type"]).unwrap().is_empty());
        let ev = json!({"metadata": {"labels": {"app": "web"}}, "type": "Normal"});
        assert!(both.matches(&ev));
        assert!(!both.matches(&json!({"metadata": {"labels": {"app": "web"}}, "type": "Warning"})));
    }
}
