//! Manifests an agent passes in (`yaml_content` of apply and diff): multi-document YAML (JSON
//! is YAML too) read into objects, `kind: List` items unpacked, each checked for what a
//! server-side apply needs (apiVersion, kind, metadata.name) and numbered by its document so
//! that a message can point at it. Bounded: a manifest is a few objects, not a cluster dump.
//! Compiled only into the `mutations` build.

use serde::Deserialize;
use serde_json::Value;

/// The most objects one manifest may hold.
pub const MAX_OBJECTS: usize = 500;
/// The largest manifest read, in bytes (etcd stores objects up to 1.5 MiB each).
pub const MAX_BYTES: usize = 16 << 20;

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object as written (with `apiVersion`, `kind` and `metadata.name`).
    pub value: Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written, if any.
    pub namespace: Option<String>,
    /// Where it is in the input: `document 3`, `document 2, item 1`.
    pub place: String,
}

/// The objects of `text`, in order. Empty documents (a leading `---`, comments only) are
/// skipped; anything else that is not an object with apiVersion, kind and metadata.name is an
/// error naming the document.
pub fn parse(text: &str) -> Result<Vec<Object>, String> {
    if text.len() > MAX_BYTES {
        return Err(format!(
            "the manifest is {} bytes; at most {MAX_BYTES} are read",
            text.len()
        ));
    }
    let mut out = Vec::new();
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let number = i + 1;
        let value = Value::deserialize(document)
            .map_err(|e| format!("document {number} is not valid YAML: {e}"))?;
        match value {
            Value::Null => continue,
            Value::Object(_) if value["kind"] == "List" && value["items"].is_array() => {
                let items = value["items"].as_array().map_or(&[][..], Vec::as_slice);
                for (j, item) in items.iter().enumerate() {
                    let place = format!("document {number}, item {}", j + 1);
                    out.push(object(item.clone(), place)?);
                }
            }
            v => out.push(object(v, format!("document {number}"))?),
        }
        if out.len() > MAX_OBJECTS {
            return Err(format!(
                "the manifest holds more than {MAX_OBJECTS} objects; apply it in parts"
            ));
        }
    }
    if out.is_empty() {
        return Err("the manifest holds no object (every document is empty)".into());
    }
    Ok(out)
}

fn object(value: Value, place: String) -> Result<Object, String> {
    if !value.is_object() {
        return Err(format!(
            "{place} is not an object (a mapping with apiVersion, kind and metadata)"
        ));
    }
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let Some(kind) = text("/kind") else {
        return Err(format!("{place} has no kind"));
    };
    let Some(api_version) = text("/apiVersion") else {
        return Err(format!("{place} ({kind}) has no apiVersion"));
    };
    let Some(name) = text("/metadata/name") else {
        let generated = value.pointer("/metadata/generateName").is_some();
        return Err(format!(
            "{place} ({kind}) has no metadata.name{}",
            if generated {
                " (generateName cannot be applied: server-side apply needs a name)"
            } else {
                ""
            }
        ));
    };
    let namespace = text("/metadata/namespace");
    Ok(Object {
        value,
        api_version,
        kind,
        name,
        namespace,
        place,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_become_objects_in_order() {
        let text = "\
---
# a comment only document
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec: {replicas: 2}
...
---
{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}, \"data\": {\"on\": \"yes\"}}
";
        let objects = parse(text).expect("parsed");
        let names: Vec<(&str, &str, Option<&str>, &str)> = objects
            .iter()
            .map(|o| {
                (
                    o.kind.as_str(),
                    o.name.as_str(),
                    o.namespace.as_deref(),
                    o.place.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Namespace", "apps", None, "document 2"),
                ("Deployment", "web", Some("apps"), "document 3"),
                ("ConfigMap", "c", None, "document 4"),
            ]
        );
        assert_eq!(objects[1].value["spec"]["replicas"], json!(2));
        // YAML 1.2: `yes` and `on` stay strings.
        assert_eq!(objects[2].value["data"], json!({"on": "yes"}));
    }

    #[test]
    fn lists_are_unpacked() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n";
        let objects = parse(text).expect("parsed");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1].place, "document 1, item 2");
    }

    #[test]
    fn mistakes_name_the_document() {
        let cases = [
            ("", "the manifest holds no object (every document is empty)"),
            (
                "---\n---\n",
                "the manifest holds no object (every document is empty)",
            ),
            (
                "- a\n- b\n",
                "document 1 is not an object (a mapping with apiVersion, kind and metadata)",
            ),
            (
                "apiVersion: v1\nmetadata: {name: a}\n",
                "document 1 has no kind",
            ),
            (
                "kind: ConfigMap\nmetadata: {name: a}\n",
                "document 1 (ConfigMap) has no apiVersion",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\n",
                "document 2 (Pod) has no metadata.name (generateName cannot be applied: server-side apply needs a name)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).expect_err(text), expected, "{text:?}");
        }
        let err = parse("apiVersion: v1\nkind: [unclosed\n").expect_err("bad yaml");
        assert!(err.starts_with("document 1 is not valid YAML: "), "{err}");
    }

    #[test]
    fn size_and_count_are_bounded() {
        let one = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n";
        let many = one.repeat(MAX_OBJECTS + 1);
        assert!(
            parse(&many)
                .expect_err("too many")
                .contains("more than 500 objects")
        );
        let huge = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{a: {}}}\n",
            "x".repeat(MAX_BYTES)
        );
        assert!(parse(&huge).expect_err("too big").contains("at most"));
    }

    /// A "billion laughs" document: the YAML library refuses to expand aliases without bound,
    /// so a small manifest cannot take the server's memory.
    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            text.push_str(&format!("{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = n;
        }
        text.push_str("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n");
        let err = parse(&text).expect_err("refused");
        assert!(err.contains("not valid YAML"), "{err}");
    }
}
