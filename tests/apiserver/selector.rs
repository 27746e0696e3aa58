//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`) and field selectors
//! (`=`, `==`, `!=` with `\`-escapes), parsed like `k8s.io/apimachinery/pkg/labels` and
//! `.../fields`, and matched against objects.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Greater(i64),
    Less(i64),
}

#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
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

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Ident(s) => s.clone(),
            Token::Not => "!".into(),
            Token::Eq => "=".into(),
            Token::DoubleEq => "==".into(),
            Token::NotEq => "!=".into(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Gt => ">".into(),
            Token::Lt => "<".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn lex(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => {}
            '!' if next == Some('=') => {
                out.push(Token::NotEq);
                i += 1;
            }
            '!' => out.push(Token::Not),
            '=' if next == Some('=') => {
                out.push(Token::DoubleEq);
                i += 1;
            }
            '=' => out.push(Token::Eq),
            '>' => out.push(Token::Gt),
            '<' => out.push(Token::Lt),
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            ',' => out.push(Token::Comma),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"!=<>(),".contains(chars[i])
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                });
                continue;
            }
        }
        i += 1;
    }
    out
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn valid_label_key(k: &str) -> bool {
    let name = match k.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty()
                || prefix.len() > 253
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
            {
                return false;
            }
            name
        }
        None => k,
    };
    !name.is_empty() && valid_label_value(name)
}

impl LabelSelector {
    /// Parse `s`; the error text follows the API server's (`unable to parse requirement: ...`).
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let tokens = lex(s);
        let mut reqs = Vec::new();
        let mut i = 0;
        let at = |i: usize| tokens.get(i);
        let found = |t: Option<&Token>| {
            t.map_or_else(
                || "end of string".to_string(),
                |t| format!("'{}'", t.show()),
            )
        };
        while i < tokens.len() {
            let negated = at(i) == Some(&Token::Not);
            if negated {
                i += 1;
            }
            let key = match at(i) {
                Some(Token::Ident(k)) => k.clone(),
                t => {
                    return Err(format!(
                        "unable to parse requirement: found {}, expected: identifier",
                        found(t)
                    ));
                }
            };
            if !valid_label_key(&key) {
                return Err(format!(
                    "unable to parse requirement: key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                ));
            }
            i += 1;
            let op = if negated {
                Op::DoesNotExist
            } else {
                match at(i) {
                    None | Some(Token::Comma) => Op::Exists,
                    Some(Token::Eq | Token::DoubleEq | Token::NotEq | Token::Gt | Token::Lt) => {
                        let op = at(i).cloned();
                        i += 1;
                        let value = match at(i) {
                            Some(Token::Ident(v)) => {
                                i += 1;
                                v.clone()
                            }
                            // `a=` selects an empty value.
                            None | Some(Token::Comma) => String::new(),
                            t => {
                                return Err(format!(
                                    "unable to parse requirement: found {}, expected: identifier",
                                    found(t)
                                ));
                            }
                        };
                        match op {
                            Some(Token::NotEq) => Op::NotEquals(value),
                            Some(Token::Gt | Token::Lt) => {
                                let n: i64 = value.parse().map_err(|_| {
                                    format!(
                                        "unable to parse requirement: values[0]: Invalid value: \"{value}\": for 'Gt', 'Lt' operators, the value must be an integer"
                                    )
                                })?;
                                if op == Some(Token::Gt) {
                                    Op::Greater(n)
                                } else {
                                    Op::Less(n)
                                }
                            }
                            _ => Op::Equals(value),
                        }
                    }
                    Some(Token::In | Token::NotIn) => {
                        let not = at(i) == Some(&Token::NotIn);
                        i += 1;
                        if at(i) != Some(&Token::Open) {
                            return Err(format!(
                                "unable to parse requirement: found {}, expected: '('",
                                found(at(i))
                            ));
                        }
                        i += 1;
                        let mut values = Vec::new();
                        loop {
                            match at(i) {
                                Some(Token::Ident(v)) => {
                                    values.push(v.clone());
                                    i += 1;
                                }
                                Some(Token::Close) => {
                                    i += 1;
                                    break;
                                }
                                t => {
                                    return Err(format!(
                                        "unable to parse requirement: found {}, expected: ',', ')' or identifier",
                                        found(t)
                                    ));
                                }
                            }
                            match at(i) {
                                Some(Token::Comma) => i += 1,
                                Some(Token::Close) => {
                                    i += 1;
                                    break;
                                }
                                t => {
                                    return Err(format!(
                                        "unable to parse requirement: found {}, expected: ',' or ')'",
                                        found(t)
                                    ));
                                }
                            }
                        }
                        if values.is_empty() {
                            return Err("unable to parse requirement: values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into());
                        }
                        if not {
                            Op::NotIn(values)
                        } else {
                            Op::In(values)
                        }
                    }
                    t => {
                        return Err(format!(
                            "unable to parse requirement: found {}, expected: in, notin, =, ==, !=, gt, lt",
                            found(t)
                        ));
                    }
                }
            };
            for v in match &op {
                Op::Equals(v) | Op::NotEquals(v) => std::slice::from_ref(v),
                Op::In(vs) | Op::NotIn(vs) => vs.as_slice(),
                _ => &[],
            } {
                if !valid_label_value(v) {
                    return Err(format!(
                        "unable to parse requirement: values[0][{key}]: Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                    ));
                }
            }
            reqs.push(Requirement { key, op });
            match at(i) {
                None => break,
                Some(Token::Comma) => {
                    i += 1;
                    if at(i).is_none() {
                        return Err(
                            "unable to parse requirement: found end of string, expected: identifier"
                                .into(),
                        );
                    }
                }
                t => {
                    return Err(format!(
                        "unable to parse requirement: found {}, expected: ','",
                        found(t)
                    ));
                }
            }
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match &r.op {
            Op::Equals(v) => get(&r.key) == Some(v.as_str()),
            Op::NotEquals(v) => get(&r.key) != Some(v.as_str()),
            Op::In(vs) => get(&r.key).is_some_and(|l| vs.iter().any(|v| v == l)),
            Op::NotIn(vs) => get(&r.key).is_none_or(|l| vs.iter().all(|v| v != l)),
            Op::Exists => get(&r.key).is_some(),
            Op::DoesNotExist => get(&r.key).is_none(),
            Op::Greater(n) => get(&r.key)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Op::Less(n) => get(&r.key)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// A parsed field selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse `s` (`field=value,field!=value`); values may escape `\`, `,` and `=` with `\`.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(terms));
        }
        for part in split_unescaped(s, ',') {
            let (field, equal, value) = if let Some((f, v)) = split_op(&part, "!=") {
                (f, false, v)
            } else if let Some((f, v)) = split_op(&part, "==") {
                (f, true, v)
            } else if let Some((f, v)) = split_op(&part, "=") {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            terms.push((field.trim().to_string(), equal, unescape(&value)));
        }
        Ok(FieldSelector(terms))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first field this type does not support, for the 400 the API server answers.
    /// `extra` are the type's labels beyond `metadata.name`/`metadata.namespace`.
    pub fn unsupported(&self, extra: &[String]) -> Option<String> {
        let unknown = self.0.iter().find(|(f, _, _)| {
            f != "metadata.name" && f != "metadata.namespace" && !extra.iter().any(|e| e == f)
        })?;
        // Types with their own field-label conversion say "field label not supported"; the
        // default conversion (CRDs and most types) names the two generic labels.
        Some(if extra.is_empty() {
            format!(
                "\"{}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                unknown.0
            )
        } else {
            format!("field label not supported: {}", unknown.0)
        })
    }

    /// The value of `metadata.name=` when the selector pins a name (a GET in disguise).
    pub fn name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|(field, equal, want)| (field_value(obj, field) == *want) == *equal)
    }
}

/// The value a field label reads from an object; absent fields read as "" like the API server's
/// field sets.
fn field_value(obj: &Value, field: &str) -> String {
    // `source` on Events is `source.component` (k8s.io/kubernetes/pkg/apis/core Event field set).
    let path = if field == "source" {
        "source.component"
    } else {
        field
    };
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        let last = parts.last_mut().expect("parts is never empty");
        if escaped {
            last.push('\\');
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    parts
}

/// Split at the first unescaped `op`.
fn split_op(s: &str, op: &str) -> Option<(String, String)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if s[i..].starts_with(op) {
            // `!=` must not be read as `=` with a `!` key suffix, nor `==` as `=`.
            if op == "=" && (i > 0 && bytes[i - 1] == b'!' || s[i + 1..].starts_with('=')) {
                i += 1;
                continue;
            }
            return Some((s[..i].to_string(), s[i + op.len()..].to_string()));
        }
        i += 1;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    fn obj(labels: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_operators() {
        use super::*;
        use serde_json::json;
        let o = obj(json!({"app": "web", "tier": "front", "replicas": "3"}));
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "app in (web, db)",
            "tier notin (back)",
            "app",
            "!missing",
            "app=web,tier=front",
            "missing!=x",
            "missing notin (x)",
            "replicas>2",
            "replicas<4",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        let no = [
            "app=db",
            "app!=web",
            "app in (db)",
            "app notin (web)",
            "missing",
            "!app",
            "app=web,tier=back",
            "missing in (x)",
            "replicas>3",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
    }

    #[test]
    fn label_syntax_errors() {
        use super::*;
        for (s, want) in [
            ("app in web", "found 'web', expected: '('"),
            ("app=web,", "found end of string, expected: identifier"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("app=a b c", "found 'b', expected: ','"),
            ("app=-x", "Invalid value: \"-x\""),
        ] {
            let err = LabelSelector::parse(s).unwrap_err();
            assert!(err.contains(want), "{s}: {err}");
            assert!(err.starts_with("unable to parse requirement: "), "{err}");
        }
    }

    #[test]
    fn field_selectors() {
        use super::*;
        use serde_json::json;
        let ev = json!({"metadata": {"name": "e1", "namespace": "flux-system"},
            "involvedObject": {"kind": "Kustomization", "name": "apps"},
            "reason": "ReconciliationSucceeded", "type": "Normal", "source": {"component": "kustomize-controller"}});
        for (s, want) in [
            (
                "involvedObject.kind=Kustomization,involvedObject.name=apps",
                true,
            ),
            ("reason!=ReconciliationSucceeded", false),
            ("reason!=Progressing,type==Normal", true),
            ("metadata.namespace=flux-system", true),
            ("source=kustomize-controller", true),
            ("involvedObject.uid=", true),
        ] {
            assert_eq!(FieldSelector::parse(s).unwrap().matches(&ev), want, "{s}");
        }
        let sel = FieldSelector::parse("metadata.name=a\\,b").unwrap();
        assert_eq!(sel.name(), Some("a,b"));
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    #[test]
    fn unsupported_field_messages() {
        use super::*;
        let sel = FieldSelector::parse("spec.suspend=true").unwrap();
        assert_eq!(
            sel.unsupported(&[]).unwrap(),
            "\"spec.suspend\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            sel.unsupported(&["type".into()]).unwrap(),
            "field label not supported: spec.suspend"
        );
        assert!(
            FieldSelector::parse("type=Opaque")
                .unwrap()
                .unsupported(&["type".into()])
                .is_none()
        );
    }
}
