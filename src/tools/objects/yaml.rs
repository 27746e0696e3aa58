//! YAML rendering of shaped objects: keys in a stable, reader-first order (apiVersion, kind,
//! metadata, spec, status, then the rest, or status before spec for a failing object;
//! `name`/`namespace` first in metadata; `type`, `status`, `reason`, `message` first in a
//! condition) and `# ` comment blocks that keep text verbatim. And [`field`], for answers
//! written line by line (events, traces): a value plain when it can be, else a literal block
//! scalar, so a message reads byte for byte as the API server sent it, never escaped.

use serde_json::Value;
use serde_norway::{Mapping, Number, Value as Yaml};

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

/// One YAML document (no `---`), ending in a newline.
pub fn document(object: &Value, layout: Layout) -> String {
    let place = match layout {
        Layout::SpecFirst => Place::Root,
        Layout::StatusFirst => Place::RootStatusFirst,
    };
    render(&convert(object, place))
}

/// Any value as YAML with sorted keys (for values that are not Kubernetes objects).
pub fn value(v: &Value) -> String {
    render(&convert(v, Place::Other))
}

/// The YAML of a `key: <list>` block for the top level of a document, e.g. the events the
/// pipeline appends after an object was rendered.
pub fn root_entry(key: &str, items: &[Value]) -> String {
    let place = if key == "events" {
        Place::Event
    } else {
        Place::Other
    };
    let inner = Yaml::Sequence(items.iter().map(|i| convert(i, place)).collect());
    let mut map = Mapping::new();
    map.insert(Yaml::String(key.to_string()), inner);
    render(&Yaml::Mapping(map))
}

fn render(v: &Yaml) -> String {
    // Serialising a tree of strings, numbers, booleans and mappings with string keys cannot
    // fail; should the emitter ever refuse, JSON is valid YAML and says the same.
    serde_norway::to_string(v).unwrap_or_else(|_| {
        let json: Value = serde_norway::from_value(v.clone()).unwrap_or(Value::Null);
        format!("{json}\n")
    })
}

fn convert(v: &Value, place: Place) -> Yaml {
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => Yaml::Number(number(n)),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => {
            Yaml::Sequence(items.iter().map(|i| convert(i, Place::Other)).collect())
        }
        Value::Object(map) => {
            let mut out = Mapping::new();
            let leading = leading_keys(place);
            let trailing: &[&str] = if place.is_root() {
                TRAILING_ROOT_KEYS
            } else {
                &[]
            };
            let mut push = |k: &str, child: &Value| {
                out.insert(Yaml::String(k.to_string()), convert_child(child, place, k));
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
            Yaml::Mapping(out)
        }
    }
}

/// A child value, with the place its own mappings take.
fn convert_child(child: &Value, parent: Place, key: &str) -> Yaml {
    match (parent.is_root(), key, child) {
        (true, "metadata", _) => convert(child, Place::Metadata),
        (true, "events", Value::Array(items)) => {
            Yaml::Sequence(items.iter().map(|i| convert(i, Place::Event)).collect())
        }
        (_, "inventory", Value::Object(_)) => convert(child, Place::Inventory),
        (_, "conditions", Value::Array(items)) => {
            Yaml::Sequence(items.iter().map(|i| convert(i, Place::Condition)).collect())
        }
        _ => convert(child, Place::Other),
    }
}

fn number(n: &serde_json::Number) -> Number {
    if let Some(u) = n.as_u64() {
        Number::from(u)
    } else if let Some(i) = n.as_i64() {
        Number::from(i)
    } else {
        Number::from(n.as_f64().unwrap_or(0.0))
    }
}

/// `text` as YAML comment lines, each starting with `# `; every line of a multi-line text is
/// kept (condition messages are never shortened), and blank lines stay as a bare `#`.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
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
