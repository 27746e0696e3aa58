//! The `fields` argument: paths to keep, written as dotted paths (`status.conditions`) or in the
//! kubectl JSONPath spellings agents already know (`.status.conditions`, `{.spec.interval}`,
//! `status.conditions[0]`, `status.conditions[*].message`,
//! `status.conditions[?(@.type=="Ready")]`, `metadata.labels['app.kubernetes.io/name']`,
//! `metadata.labels.app\.kubernetes\.io/name`). Each object is reduced to its identity plus the
//! selected values at their own paths, so the answer reads like the object it came from.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A map key.
    Key(String),
    /// A list index; negative counts from the end, as in kubectl's JSONPath.
    Index(i64),
    /// `[*]` or `*`: every item of a list or every value of a map.
    All,
    /// `[?(@.a.b == value)]` (or `!=`, or no operator: the field exists).
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<String>,
    test: Test,
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Exists,
    Eq(Value),
    Ne(Value),
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        let mut v = Some(item);
        for k in &self.path {
            v = v.and_then(|x| x.get(k));
        }
        match (&self.test, v) {
            (Test::Exists, found) => found.is_some_and(|x| !x.is_null()),
            (Test::Eq(want), Some(got)) => loose_eq(got, want),
            (Test::Eq(_), None) => false,
            (Test::Ne(want), Some(got)) => !loose_eq(got, want),
            (Test::Ne(_), None) => true,
        }
    }
}

/// Equality that lets `"True"` match a condition's `status: "True"` and `3` match `"3"`: the
/// caller writes literals by hand.
fn loose_eq(got: &Value, want: &Value) -> bool {
    got == want
        || match (got, want) {
            (Value::String(g), other) | (other, Value::String(g)) => match other {
                Value::Number(n) => g.trim().parse::<f64>().ok() == n.as_f64(),
                Value::Bool(b) => g.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
            _ => false,
        }
}

/// The parsed `fields` argument.
#[derive(Debug, Clone)]
pub struct Fields {
    paths: Vec<(String, Vec<Step>)>,
}

impl Fields {
    /// Parses every spec; `None` when there are none. An error names the spec and what is wrong.
    pub fn parse(specs: &[String]) -> Result<Option<Fields>, String> {
        let mut paths = Vec::new();
        for spec in specs {
            let steps = parse_path(spec).map_err(|why| format!("fields: {spec:?}: {why}"))?;
            if steps.is_empty() {
                return Err(format!("fields: {spec:?} selects nothing"));
            }
            paths.push((spec.clone(), steps));
        }
        Ok((!paths.is_empty()).then_some(Fields { paths }))
    }

    /// The specs as the caller wrote them.
    pub fn specs(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(|(s, _)| s.as_str())
    }

    /// True when `test` holds for the leading keys of some path (its map keys up to its first
    /// index, wildcard or filter), e.g. `|keys| keys.starts_with(&["status", "inventory"])`.
    pub fn asks_for(&self, test: impl Fn(&[&str]) -> bool) -> bool {
        self.paths
            .iter()
            .any(|(_, steps)| test(&leading_keys(steps)))
    }

    /// For each path, whether `test` holds for its leading keys.
    pub fn each_asks_for(&self, test: impl Fn(&[&str]) -> bool) -> Vec<bool> {
        self.paths
            .iter()
            .map(|(_, steps)| test(&leading_keys(steps)))
            .collect()
    }

    /// The object reduced to `apiVersion`, `kind`, `metadata.name`, `metadata.namespace` and
    /// the selected values. `matched[i]` is set when path `i` selected something; paths whose
    /// leading keys `skip` is true for (answered elsewhere, e.g. events) are not applied.
    pub fn select(
        &self,
        obj: &Value,
        matched: &mut [bool],
        skip: impl Fn(&[&str]) -> bool,
    ) -> Value {
        let mut picked: Option<Pick> = None;
        for (i, (_, steps)) in self.paths.iter().enumerate() {
            if skip(&leading_keys(steps)) {
                continue;
            }
            if let Some(p) = pick(obj, steps) {
                if let Some(m) = matched.get_mut(i) {
                    *m = true;
                }
                picked = Some(match picked {
                    None => p,
                    Some(prev) => merge(prev, p),
                });
            }
        }
        let mut out = Map::new();
        for key in ["apiVersion", "kind"] {
            if let Some(v) = obj.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        let mut meta = Map::new();
        for key in ["name", "namespace"] {
            if let Some(v) = obj.get("metadata").and_then(|m| m.get(key)) {
                meta.insert(key.into(), v.clone());
            }
        }
        out.insert("metadata".into(), Value::Object(meta));
        let mut result = Value::Object(out);
        if let Some(p) = picked {
            let selected = p.into_value();
            merge_values(&mut result, selected);
        }
        result
    }

    /// How many paths there are (the length `select` expects for `matched`).
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// The map keys a path starts with, up to its first index, wildcard or filter: what the
/// callers' tests look at (`events` and `status.events[0]` both start with an events key).
fn leading_keys(steps: &[Step]) -> Vec<&str> {
    steps
        .iter()
        .map_while(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// A selection: like a JSON value, but list items keep their original index so that two paths
/// into the same list (`conditions[*].type` and `conditions[0]`) merge item by item.
enum Pick {
    Whole(Value),
    Map(BTreeMap<String, Pick>),
    List(BTreeMap<usize, Pick>),
}

impl Pick {
    fn into_value(self) -> Value {
        match self {
            Pick::Whole(v) => v,
            Pick::Map(m) => {
                Value::Object(m.into_iter().map(|(k, p)| (k, p.into_value())).collect())
            }
            Pick::List(l) => Value::Array(l.into_values().map(Pick::into_value).collect()),
        }
    }
}

fn pick(v: &Value, steps: &[Step]) -> Option<Pick> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(Pick::Whole(v.clone()));
    };
    match step {
        Step::Key(k) => {
            let child = v.as_object()?.get(k)?;
            let p = pick(child, rest)?;
            Some(Pick::Map(BTreeMap::from([(k.clone(), p)])))
        }
        Step::All => match v {
            Value::Object(map) => {
                let m: BTreeMap<String, Pick> = map
                    .iter()
                    .filter_map(|(k, c)| Some((k.clone(), pick(c, rest)?)))
                    .collect();
                (!m.is_empty()).then_some(Pick::Map(m))
            }
            Value::Array(items) => list_pick(items.iter().enumerate(), rest),
            _ => None,
        },
        Step::Index(i) => {
            let items = v.as_array()?;
            let idx = if *i < 0 {
                items.len().checked_sub(i.unsigned_abs() as usize)?
            } else {
                usize::try_from(*i).ok()?
            };
            let p = pick(items.get(idx)?, rest)?;
            Some(Pick::List(BTreeMap::from([(idx, p)])))
        }
        Step::Filter(f) => {
            let items = v.as_array()?;
            list_pick(items.iter().enumerate().filter(|(_, x)| f.matches(x)), rest)
        }
    }
}

fn list_pick<'a>(items: impl Iterator<Item = (usize, &'a Value)>, rest: &[Step]) -> Option<Pick> {
    let l: BTreeMap<usize, Pick> = items
        .filter_map(|(i, x)| Some((i, pick(x, rest)?)))
        .collect();
    (!l.is_empty()).then_some(Pick::List(l))
}

fn merge(a: Pick, b: Pick) -> Pick {
    match (a, b) {
        (Pick::Map(mut x), Pick::Map(y)) => {
            for (k, p) in y {
                let merged = match x.remove(&k) {
                    Some(prev) => merge(prev, p),
                    None => p,
                };
                x.insert(k, merged);
            }
            Pick::Map(x)
        }
        (Pick::List(mut x), Pick::List(y)) => {
            for (i, p) in y {
                let merged = match x.remove(&i) {
                    Some(prev) => merge(prev, p),
                    None => p,
                };
                x.insert(i, merged);
            }
            Pick::List(x)
        }
        // A whole value already holds any part of it.
        (w @ Pick::Whole(_), _) | (_, w @ Pick::Whole(_)) => w,
        (_, other) => other,
    }
}

/// Deep-merges `from` into `into` (maps only; anything else replaces).
fn merge_values(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge_values(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

// ---- parsing -----------------------------------------------------------------------------------

fn parse_path(spec: &str) -> Result<Vec<Step>, String> {
    let mut s = spec.trim();
    if let Some(inner) = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
        s = inner.trim();
    }
    s = s.strip_prefix('$').unwrap_or(s);
    s = s.strip_prefix('.').unwrap_or(s);
    let chars: Vec<char> = s.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                let end = bracket_end(&chars, i)?;
                let inner: String = chars[i + 1..end].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = end + 1;
                expect_key = false;
            }
            '.' if !expect_key => {
                i += 1;
                expect_key = true;
                if i == chars.len() {
                    return Err("it ends with '.'".into());
                }
            }
            '.' => return Err(format!("empty key at offset {i}")),
            _ => {
                let (key, next) = read_key(&chars, i);
                if key.is_empty() {
                    return Err(format!("empty key at offset {i}"));
                }
                steps.push(if key == "*" {
                    Step::All
                } else {
                    Step::Key(key)
                });
                i = next;
                expect_key = false;
            }
        }
    }
    Ok(steps)
}

/// A key up to the next unescaped `.` or `[`; `\.` and `\\` are escapes.
fn read_key(chars: &[char], mut i: usize) -> (String, usize) {
    let mut key = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                key.push(chars[i + 1]);
                i += 2;
            }
            '.' | '[' => break,
            c => {
                key.push(c);
                i += 1;
            }
        }
    }
    (key.trim().to_string(), i)
}

/// The index of the `]` closing the `[` at `open`, skipping quoted text.
fn bracket_end(chars: &[char], open: usize) -> Result<usize, String> {
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => {}
        }
    }
    Err(format!("the '[' at offset {open} is not closed"))
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Ok(Step::Index(n));
    }
    if let Some(key) = unquote(inner) {
        return Ok(Step::Key(key));
    }
    if let Some(expr) = inner
        .strip_prefix("?(")
        .and_then(|x| x.strip_suffix(')'))
        .map(str::trim)
    {
        return parse_filter(expr).map(Step::Filter);
    }
    Err(format!(
        "[{inner}] is not an index, [*], a quoted key or a filter such as [?(@.type==\"Ready\")]"
    ))
}

fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = s.strip_prefix(q)?.strip_suffix(q)?;
    (!body.contains(q)).then(|| body.to_string())
}

fn parse_filter(expr: &str) -> Result<Filter, String> {
    let rest = expr
        .strip_prefix("@.")
        .ok_or_else(|| format!("filter {expr:?} must start with @."))?;
    let (lhs, test) = if let Some((l, r)) = rest.split_once("!=") {
        (l, Test::Ne(literal(r.trim())?))
    } else if let Some((l, r)) = rest.split_once("==") {
        (l, Test::Eq(literal(r.trim())?))
    } else if let Some((l, r)) = rest.split_once('=') {
        (l, Test::Eq(literal(r.trim())?))
    } else {
        (rest, Test::Exists)
    };
    let path: Vec<String> = lhs
        .trim()
        .split('.')
        .map(|k| k.trim().to_string())
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(format!("filter {expr:?} has an empty key"));
    }
    Ok(Filter { path, test })
}

fn literal(s: &str) -> Result<Value, String> {
    if let Some(text) = unquote(s) {
        return Ok(Value::String(text));
    }
    match s {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        "null" => return Ok(Value::Null),
        _ => {}
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Value::from(n));
    }
    if let Ok(f) = s.parse::<f64>() {
        return Ok(Value::from(f));
    }
    // kubectl requires quotes; an unquoted word is read as the string the caller meant.
    if !s.is_empty() && !s.contains(char::is_whitespace) {
        return Ok(Value::String(s.to_string()));
    }
    Err(format!(
        "{s:?} is not a quoted string, a number or a boolean"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(specs: &[&str]) -> Fields {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        Fields::parse(&specs).unwrap().unwrap()
    }

    fn object() -> Value {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "redis", "namespace": "apps", "uid": "u",
                         "labels": {"app.kubernetes.io/name": "redis", "tier": "db"}},
            "spec": {"interval": "10m", "values": {"a": 1}},
            "status": {"conditions": [
                {"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "m0"},
                {"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "m1"},
            ], "history": [{"version": 4}, {"version": 3}]},
        })
    }

    fn select(specs: &[&str]) -> (Value, Vec<bool>) {
        let f = fields(specs);
        let mut matched = vec![false; f.len()];
        let v = f.select(&object(), &mut matched, |_| false);
        (v, matched)
    }

    #[test]
    fn spellings_parse_to_the_same_steps() {
        let want = parse_path("status.conditions").unwrap();
        for s in [
            ".status.conditions",
            "{.status.conditions}",
            "$.status.conditions",
            " status . conditions ",
            "['status']['conditions']",
            "status[\"conditions\"]",
        ] {
            assert_eq!(parse_path(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            parse_path(r"metadata.labels.app\.kubernetes\.io/name").unwrap(),
            parse_path("metadata.labels['app.kubernetes.io/name']").unwrap()
        );
    }

    #[test]
    fn identity_is_always_kept() {
        let (v, m) = select(&["spec.interval"]);
        assert_eq!(
            v,
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                   "metadata": {"name": "redis", "namespace": "apps"},
                   "spec": {"interval": "10m"}})
        );
        assert_eq!(m, [true]);
    }

    #[test]
    fn indexes_wildcards_and_filters() {
        let (v, _) = select(&["status.conditions[0]"]);
        assert_eq!(
            v["status"]["conditions"],
            json!([object()["status"]["conditions"][0]])
        );
        let (v, _) = select(&["status.conditions[-1].reason"]);
        assert_eq!(
            v["status"]["conditions"],
            json!([{"reason": "InstallFailed"}])
        );
        let (v, _) = select(&["status.conditions[*].message"]);
        assert_eq!(
            v["status"]["conditions"],
            json!([{"message": "m0"}, {"message": "m1"}])
        );
        let (v, _) = select(&[r#"status.conditions[?(@.type=="Ready")]"#]);
        assert_eq!(
            v["status"]["conditions"],
            json!([object()["status"]["conditions"][1]])
        );
        let (v, _) = select(&["status.conditions[?(@.status != 'True')].reason"]);
        assert_eq!(
            v["status"]["conditions"],
            json!([{"reason": "InstallFailed"}])
        );
        let (v, _) = select(&["metadata.labels['app.kubernetes.io/name']"]);
        assert_eq!(
            v["metadata"]["labels"],
            json!({"app.kubernetes.io/name": "redis"})
        );
        assert_eq!(v["metadata"]["name"], "redis");
    }

    #[test]
    fn paths_into_one_list_merge_item_by_item() {
        let (v, _) = select(&["status.conditions[*].type", "status.conditions[1].message"]);
        assert_eq!(
            v["status"]["conditions"],
            json!([{"type": "Stalled"}, {"type": "Ready", "message": "m1"}])
        );
        let (v, _) = select(&["status", "status.conditions[0].type"]);
        assert_eq!(v["status"], object()["status"]);
    }

    #[test]
    fn unmatched_paths_are_reported() {
        let (v, m) = select(&["spec.interval", "spec.nothing", "status.conditions[9]"]);
        assert_eq!(m, [true, false, false]);
        assert!(v["status"].is_null());
    }

    #[test]
    fn skipped_paths_are_left_to_the_caller() {
        let f = fields(&["events", "spec.interval"]);
        assert!(f.asks_for(|keys| keys.starts_with(&["events"])));
        assert!(!f.asks_for(|keys| keys.starts_with(&["status", "inventory"])));
        assert_eq!(
            f.each_asks_for(|keys| keys.starts_with(&["events"])),
            [true, false]
        );
        let mut m = vec![false; 2];
        let v = f.select(&object(), &mut m, |keys| keys.first() == Some(&"events"));
        assert_eq!(m, [false, true]);
        assert!(v.get("events").is_none());
    }

    #[test]
    fn bad_paths_say_what_is_wrong() {
        let err = |s: &str| Fields::parse(&[s.to_string()]).unwrap_err();
        assert!(
            err("status.conditions[").contains("not closed"),
            "{}",
            err("status.conditions[")
        );
        assert!(err("status..x").contains("empty key"));
        assert!(err("status.").contains("ends with"));
        assert!(err("a[?(type==1)]").contains("must start with @."));
        assert!(err("a[x y]").contains("is not an index"));
        assert!(err("{}").contains("selects nothing"));
        assert_eq!(Fields::parse(&[]).unwrap().map(|f| f.len()), None);
    }

    #[test]
    fn filter_literals_compare_loosely() {
        let f = parse_filter("@.status==True").unwrap();
        assert!(f.matches(&json!({"status": "True"})));
        let f = parse_filter("@.n == 3").unwrap();
        assert!(f.matches(&json!({"n": "3"})) && f.matches(&json!({"n": 3})));
        let f = parse_filter("@.message").unwrap();
        assert!(f.matches(&json!({"message": "x"})) && !f.matches(&json!({})));
    }
}
