//! Fuzz target `objects`: an API object (JSON) through what get_kubernetes_resources and
//! get_flux_instance do to it: the security pass (Secret masking), health and headline,
//! upstream references, the lean pass, `fields` selection and the YAML document.
//!
//! Input: a flags byte, then `fields` specs one per line, a NUL, then the object's JSON (no
//! NUL: no specs). Flags: bit 0 set, masking off; bit 1 set, the lean pass; bit 2 set, the
//! status-first layout whatever the health says.
//!
//! Properties beyond "no panic": with masking on, no core Secret anywhere in the object keeps
//! a `data`/`stringData` value other than `<masked: N bytes>`; the YAML document reads back
//! (as YAML) as exactly the JSON it was made from, so condition messages reach the agent
//! byte for byte; a comment block is comment lines only.
#![no_main]
use flux_operator_mcp::tools::objects::fields::Fields;
use flux_operator_mcp::tools::objects::{diagnosis, lean, yaml};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else {
        return;
    };
    let (specs, json) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let Ok(mut obj) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let mask = flags & 1 == 0;
    lean::sanitize(&mut obj, mask);
    if mask {
        assert_secrets_masked(&obj);
    }

    let health = diagnosis::health(&obj);
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let namespace = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let group = obj["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map_or("", |(g, _)| g)
        .to_string();
    let mut lines: Vec<String> = Vec::new();
    // A root cause from the input's own text, so that both forms of the headline are fuzzed.
    let root = obj["metadata"]["annotations"]["root"].as_str();
    lines.extend(diagnosis::headline(&kind, &namespace, &name, &health, root));
    lines.extend(diagnosis::unreconciled_line(
        &group, &kind, &namespace, &name, &health,
    ));
    lines.extend(health.problem());
    for upstream in diagnosis::upstreams(&obj) {
        let finding = diagnosis::Finding::Seen(health.clone());
        lines.push(diagnosis::upstream_line(&upstream, &finding, true));
        lines.push(diagnosis::upstream_line(
            &upstream,
            &diagnosis::Finding::NotFound,
            false,
        ));
    }
    for line in &lines {
        let block = yaml::comment(line);
        assert!(
            block.lines().all(|l| l.starts_with('#')),
            "a comment block with a line that is not a comment: {block:?}"
        );
    }

    if flags & 2 != 0 {
        lean::fold_ownership(&mut obj);
        lean::lean(&mut obj);
    }
    let specs: Vec<String> = String::from_utf8_lossy(specs)
        .lines()
        .map(str::to_string)
        .collect();
    if let Ok(Some(fields)) = Fields::parse(&specs) {
        let mut matched = vec![false; fields.len()];
        obj = fields.select(&obj, &mut matched, |_| false);
    }

    let layout = if flags & 4 != 0 || diagnosis::status_first(&health) {
        yaml::Layout::StatusFirst
    } else {
        yaml::Layout::SpecFirst
    };
    let text = yaml::document(&obj, layout);
    let back: Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("the YAML document does not read back: {e}\n{text}"));
    assert!(
        same(&back, &obj),
        "the YAML document reads back as another object\n{text}"
    );
});

/// Every core Secret in `v` (the object or one nested in it) shows sizes, not values.
fn assert_secrets_masked(v: &Value) {
    match v {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret")
                && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
            if is_secret {
                for key in ["data", "stringData"] {
                    if let Some(Value::Object(values)) = map.get(key) {
                        for value in values.values() {
                            let shown = value.as_str().unwrap_or("");
                            assert!(
                                shown.starts_with("<masked: ") && shown.ends_with(" bytes>"),
                                "a Secret {key} value is shown: {shown:?}"
                            );
                        }
                    }
                }
            }
            map.values().for_each(assert_secrets_masked);
        }
        Value::Array(items) => items.iter().for_each(assert_secrets_masked),
        _ => {}
    }
}

/// Equal as JSON, numbers compared by value (YAML has one number syntax for `1` and `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}
