//! Credentials outside Secrets, masked in every object a tool returns (unless
//! `--mask-secrets=false`): literal `env` values of containers whose names look like
//! credentials, Helm values under credential-named keys, and the data of Secrets copied into
//! annotations. Secrets themselves are masked by `lean::sanitize`; the one name rule is
//! `redact::is_credential_name`, the one text rule `redact::mask`.
//!
//! A masked value keeps its length (`<masked: 23 bytes>`), so the agent still learns that a
//! value is set, and the structure around it is kept (keys, nesting, valid JSON or YAML in an
//! annotation), so the object still reads as itself.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::redact;

/// Masks every credential this module knows of, anywhere in `v` (an object, a List, a
/// ResourceSet's templates, a CronJob's job template's pod template).
pub fn mask_object(v: &mut Value) {
    match v {
        Value::Object(map) => {
            mask_containers(map);
            if is_helm_object(map)
                && let Some(spec) = map.get_mut("spec").and_then(Value::as_object_mut)
            {
                if let Some(values) = spec.get_mut("values") {
                    mask_values(values);
                }
                // k3s' HelmChart carries its values as one YAML text.
                if let Some(Value::String(text)) = spec.get_mut("valuesContent") {
                    mask_text(text);
                }
            }
            if map.get("kind").and_then(Value::as_str) == Some("Event") {
                // core/v1 says `message`, events.k8s.io/v1 says `note`.
                for field in ["message", "note"] {
                    if let Some(Value::String(text)) = map.get_mut(field) {
                        mask_text(text);
                    }
                }
            }
            mask_annotations(map);
            for child in map.values_mut() {
                mask_object(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_object),
        _ => {}
    }
}

/// Credential-shaped text in the `message` of each event (a `password=` pair, a bearer
/// token); everything else in the message stays byte for byte.
pub fn mask_event_messages(events: &mut [Value]) {
    for event in events {
        if let Some(Value::String(message)) = event.get_mut("message") {
            mask_text(message);
        }
    }
}

/// The container lists of a pod spec, wherever the spec sits (a Pod, any workload's
/// template, a CronJob's job template, an embedded manifest).
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// `env` entries with a literal `value` under a credential name become placeholders;
/// `valueFrom` (a reference to a Secret or ConfigMap) is no value and stays.
fn mask_containers(map: &mut Map<String, Value>) {
    for list in CONTAINER_LISTS {
        let Some(Value::Array(containers)) = map.get_mut(*list) else {
            continue;
        };
        for container in containers {
            let Some(Value::Array(env)) = container.get_mut("env") else {
                continue;
            };
            for entry in env {
                let Some(entry) = entry.as_object_mut() else {
                    continue;
                };
                let credential = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(redact::is_credential_name);
                if let Some(value) = entry.get_mut("value") {
                    if credential {
                        mask_scalars(value);
                    } else if let Value::String(text) = value {
                        // `DATABASE_URL=postgres://app:pw@db/app`: the name says nothing,
                        // the value's shape does.
                        mask_text(text);
                    }
                }
            }
        }
    }
}

/// Flux's HelmRelease (`spec.values`) and HelmChart, and other projects' kinds of the same
/// names (k3s' HelmChart: `spec.valuesContent`).
fn is_helm_object(map: &Map<String, Value>) -> bool {
    matches!(
        map.get("kind").and_then(Value::as_str),
        Some("HelmRelease" | "HelmChart")
    )
}

/// A Helm values tree: every scalar under a credential-named key, at any depth, masked
/// (`dbPassword: x`, `auth: {password: x}`, `apiKey: 12345`), and credential-shaped text
/// anywhere else (a URL with a password).
fn mask_values(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if redact::is_credential_name(key) {
                    mask_scalars(child);
                } else {
                    mask_values(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_values),
        Value::String(text) => mask_text(text),
        _ => {}
    }
}

/// Every string and number in `v` becomes a placeholder of its length; keys, nesting,
/// booleans (`enabled: true` says nothing secret) and nulls (not set) are kept, and so are
/// the values of keys that name where a credential is kept rather than hold it
/// ([`names_a_reference`]: `auth.existingSecret`, `credentials.secretName`).
fn mask_scalars(v: &mut Value) {
    match v {
        Value::String(s) => *v = Value::String(redact::placeholder(s.len())),
        Value::Number(n) => *v = Value::String(redact::placeholder(n.to_string().len())),
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if !names_a_reference(key) {
                    mask_scalars(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_scalars),
        Value::Bool(_) | Value::Null => {}
    }
}

/// A key under a credential-named one that names a place, not a value: charts put
/// `existingSecret`, `existingSecretPasswordKey`, `secretName`, `secretRef`, `passwordFile`
/// beside the password itself.
fn names_a_reference(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("existing")
        || ["name", "ref", "file", "path"]
            .iter()
            .any(|end| key.ends_with(end))
}

fn mask_text(text: &mut String) {
    if let std::borrow::Cow::Owned(masked) = redact::mask(text) {
        *text = masked;
    }
}

/// Annotations that hold a manifest (a tool's copy of what it applied, as JSON or YAML): a
/// Secret in it gets its values masked, and so does everything else this module masks; the
/// text is written back in its own format, still valid. Text that does not parse gets the
/// text rules only.
fn mask_annotations(map: &mut Map<String, Value>) {
    let Some(annotations) = map
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for value in annotations.values_mut() {
        if let Value::String(text) = value
            && let Some(masked) = mask_embedded(text)
        {
            *text = masked;
        }
    }
}

/// The masked text of an annotation, or `None` when nothing in it was masked.
fn mask_embedded(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(mut doc) = serde_json::from_str::<Value>(text)
            && mask_document(&mut doc)
        {
            return Some(doc.to_string());
        }
    } else if text.contains("kind:")
        && let Ok(mut doc) = serde_norway::from_str::<Value>(text)
        && doc.is_object()
        && mask_document(&mut doc)
        && let Ok(yaml) = serde_norway::to_string(&doc)
    {
        return Some(yaml);
    }
    match redact::mask(text) {
        std::borrow::Cow::Owned(masked) => Some(masked),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// Masks a manifest parsed from an annotation; true when anything changed.
fn mask_document(doc: &mut Value) -> bool {
    let before = doc.clone();
    mask_embedded_secrets(doc);
    mask_object(doc);
    *doc != before
}

/// Secrets (core `v1`) anywhere in `v`: `data` values by their decoded size, `stringData` by
/// theirs, keys kept. (A Secret the tools return is masked by `lean::sanitize`, which also
/// removes its annotations' copies; this is for a Secret inside another object's text.)
fn mask_embedded_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret")
                && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
            if is_secret {
                for (field, decode) in [("data", true), ("stringData", false)] {
                    if let Some(Value::Object(data)) = map.get_mut(field) {
                        for value in data.values_mut() {
                            let size = match &*value {
                                Value::String(s) if decode => decoded_len(s),
                                Value::String(s) => s.len(),
                                other => other.to_string().len(),
                            };
                            *value = Value::String(redact::placeholder(size));
                        }
                    }
                }
            }
            map.values_mut().for_each(mask_embedded_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(mask_embedded_secrets),
        _ => {}
    }
}

/// What a Secret's base64 `data` value decodes to, in bytes (its text length when it is not
/// base64).
fn decoded_len(s: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_or(s.len(), |b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masked(mut v: Value) -> Value {
        mask_object(&mut v);
        v
    }

    fn pod_spec(env: Value) -> Value {
        json!({"containers": [{"name": "app", "env": env}]})
    }

    #[test]
    fn env_literals_under_credential_names_are_masked_in_every_pod_spec() {
        let env = json!([
            {"name": "DB_PASSWORD", "value": "hunter2-hunter2"},
            {"name": "apiKey", "value": "0123"},
            {"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "token"}}},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "TOKEN_TTL", "value": "3600"},
            {"name": "tokenTTL", "value": "1h"},
            {"name": "SECRET_NAME", "value": "db-creds"},
            {"name": "DATABASE_URL", "value": "postgres://app:pa55word@db:5432/app"},
        ]);
        let want = json!([
            {"name": "DB_PASSWORD", "value": "<masked: 15 bytes>"},
            {"name": "apiKey", "value": "<masked: 4 bytes>"},
            {"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "token"}}},
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "TOKEN_TTL", "value": "3600"},
            {"name": "tokenTTL", "value": "1h"},
            {"name": "SECRET_NAME", "value": "db-creds"},
            {"name": "DATABASE_URL", "value": "postgres://app:<masked: 8 bytes>@db:5432/app"},
        ]);
        let spec = pod_spec(env.clone());
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": spec});
        let deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": spec}}});
        let cronjob = json!({"kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}});
        let init = json!({"kind": "Pod", "spec": {
            "initContainers": [{"name": "i", "env": env}],
            "ephemeralContainers": [{"name": "e", "env": env}]}});
        let resource_set = json!({"kind": "ResourceSet", "spec": {"resources": [deployment]}});
        assert_eq!(masked(pod)["spec"]["containers"][0]["env"], want);
        assert_eq!(
            masked(deployment.clone())["spec"]["template"]["spec"]["containers"][0]["env"],
            want
        );
        assert_eq!(
            masked(cronjob)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"],
            want
        );
        let init = masked(init);
        assert_eq!(init["spec"]["initContainers"][0]["env"], want);
        assert_eq!(init["spec"]["ephemeralContainers"][0]["env"], want);
        assert_eq!(
            masked(resource_set)["spec"]["resources"][0]["spec"]["template"]["spec"]["containers"]
                [0]["env"],
            want
        );
    }

    #[test]
    fn helm_values_under_credential_keys_are_masked_at_any_depth_structure_kept() {
        let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "spec": {"chart": {"spec": {"chart": "db"}}, "values": {
            "dbPassword": "s3cret-pw",
            "replicas": 2,
            "auth": {"password": "x1", "existingSecret": "db", "enabled": true, "port": 5432,
                     "secretName": "", "usernameFile": "/etc/u", "user": {"secretRef": "r"}},
            "deep": {"a": [{"b": {"clientSecret": "abc", "apiKey": 123456}}]},
            "tokenTTL": "24h",
            "secretName": "tls-cert",
            "url": "https://user:pw123456@example.com/",
            "token": null,
        }}});
        let got = masked(hr);
        assert_eq!(
            got["spec"]["values"],
            json!({
                "dbPassword": "<masked: 9 bytes>",
                "replicas": 2,
                "auth": {"password": "<masked: 2 bytes>", "existingSecret": "db",
                         "enabled": true, "port": "<masked: 4 bytes>", "secretName": "",
                         "usernameFile": "/etc/u", "user": {"secretRef": "r"}},
                "deep": {"a": [{"b": {"clientSecret": "<masked: 3 bytes>",
                                       "apiKey": "<masked: 6 bytes>"}}]},
                "tokenTTL": "24h",
                "secretName": "tls-cert",
                "url": "https://user:<masked: 8 bytes>@example.com/",
                "token": null,
            })
        );
        assert_eq!(got["spec"]["chart"]["spec"]["chart"], "db");
        // The same values in something that is not a Helm object are not values.
        let cm = json!({"kind": "ConfigMap", "spec": {"values": {"dbPassword": "x"}}});
        assert_eq!(masked(cm.clone()), cm);
        let k3s =
            json!({"kind": "HelmChart", "spec": {"valuesContent": "adminPassword: hunter22\n"}});
        assert_eq!(
            masked(k3s)["spec"]["valuesContent"],
            "adminPassword: <masked: 8 bytes>\n"
        );
    }

    #[test]
    fn secrets_in_annotations_are_masked_and_stay_valid() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMi1odW50ZXIy"}, "stringData": {"token": "tok-123"}});
        let json_text = secret.to_string();
        let yaml_text = serde_norway::to_string(&secret).unwrap();
        let cm = json!({"kind": "ConfigMap", "metadata": {"annotations": {
            "example.com/applied": json_text,
            "example.com/applied-yaml": yaml_text,
            "example.com/note": "kind: plain words",
            "example.com/list": json!([secret]).to_string(),
        }}});
        let got = masked(cm);
        let ann = &got["metadata"]["annotations"];
        for key in ["example.com/applied", "example.com/list"] {
            let text = ann[key].as_str().unwrap();
            assert!(
                !text.contains("aHVudGVy") && !text.contains("tok-123"),
                "{text}"
            );
            let doc: Value = serde_json::from_str(text).expect("still JSON");
            let doc = if doc.is_array() { doc[0].clone() } else { doc };
            assert_eq!(doc["data"]["password"], "<masked: 15 bytes>");
            assert_eq!(doc["stringData"]["token"], "<masked: 7 bytes>");
            assert_eq!(doc["metadata"]["name"], "db");
        }
        let text = ann["example.com/applied-yaml"].as_str().unwrap();
        let doc: Value = serde_norway::from_str(text).expect("still YAML");
        assert_eq!(doc["data"]["password"], "<masked: 15 bytes>");
        assert_eq!(ann["example.com/note"], "kind: plain words");
        // stringData is text, not base64: its size is its length even when it would decode.
        let b64_text =
            json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "abcd1234"}});
        let obj = json!({"kind": "X", "metadata": {"annotations": {"a": b64_text.to_string()}}});
        let text = masked(obj)["metadata"]["annotations"]["a"]
            .as_str()
            .unwrap()
            .to_string();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["stringData"]["k"], "<masked: 8 bytes>");
        // Only a core Secret's data is masked: a v1 ConfigMap's and another group's Secret's
        // stay.
        for other in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "plain-value"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Secret", "data": {"k": "plain-value"}}),
        ] {
            let obj = json!({"kind": "X", "metadata": {"annotations": {"a": other.to_string()}}});
            assert_eq!(
                masked(obj)["metadata"]["annotations"]["a"],
                other.to_string()
            );
        }
        // A manifest of something else in an annotation: untouched unless it holds one.
        let plain = json!({"kind": "Deployment", "metadata": {"name": "x"}}).to_string();
        let obj = json!({"kind": "X", "metadata": {"annotations": {"a": plain.clone()}}});
        assert_eq!(masked(obj)["metadata"]["annotations"]["a"], plain);
    }

    #[test]
    fn credential_shaped_text_in_an_annotation_is_masked() {
        let obj = json!({"kind": "X", "metadata": {"annotations": {
            "note": "curl -H 'Authorization: Bearer abcdefghijklmnop123' x",
            "plain": "owned by team-a"}}});
        let got = masked(obj);
        assert_eq!(
            got["metadata"]["annotations"]["note"],
            "curl -H 'Authorization: Bearer <masked: 19 bytes>' x"
        );
        assert_eq!(got["metadata"]["annotations"]["plain"], "owned by team-a");
    }

    #[test]
    fn event_messages_keep_every_byte_but_a_credential() {
        let mut events = vec![
            json!({"message": "login failed: password=hunter2hunter2 (retrying)", "reason": "x"}),
            json!({"message": "secret \"db\" not found:\n\tkey 'password' missing"}),
            json!({"reason": "no message"}),
        ];
        let before = events.clone();
        mask_event_messages(&mut events);
        assert_eq!(
            events[0]["message"],
            "login failed: password=<masked: 14 bytes> (retrying)"
        );
        assert_eq!(events[0]["reason"], "x");
        assert_eq!(events[1], before[1]);
        assert_eq!(events[2], before[2]);
        // An Event object a tool returns, in either API.
        let core = json!({"kind": "Event", "message": "token=abcdefgh1234 expired"});
        assert_eq!(masked(core)["message"], "token=<masked: 12 bytes> expired");
        let new = json!({"kind": "Event", "note": "Bearer abcdefghijklmnop1234"});
        assert_eq!(masked(new)["note"], "Bearer <masked: 20 bytes>");
        let other = json!({"kind": "Pod", "message": "token=abcdefgh1234 expired"});
        assert_eq!(masked(other.clone()), other);
    }

    #[test]
    fn objects_without_credentials_are_unchanged() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "annotations": {"x": "{\"a\": 1}"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i",
                "env": [{"name": "MODE", "value": "prod"}, "not-an-entry"]}]}}},
            "status": {"conditions": [{"type": "Ready", "message": "password reset page is up"}]}});
        assert_eq!(masked(obj.clone()), obj);
    }
}
