//! A HelmRelease's inventory, read from the Helm storage Secret of its latest release: which
//! Secret (storage namespace, release name and version from `status.history[0]`), the payload
//! decoding Helm's secret driver implies (Secret data → base64 text → gzip → release JSON), a
//! gzip reader (header parsed here, deflate by miniz_oxide, CRC-32 and size checked), and the
//! release manifest read into object references and container images.
//!
//! Nothing here prints the payload: a release holds the chart values, which may include
//! credentials merged from `valuesFrom` Secrets. Errors name the Secret and the step, never
//! content.

use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::lean::InventoryEntry;

/// Largest `data.release` value read (base64 as the API sends it). A Secret cannot exceed
/// 1 MiB, so this only guards against a misbehaving server.
pub const MAX_ENCODED: usize = 4 << 20;
/// Largest release JSON inflated from the payload (a zip bomb stops here).
pub const MAX_DECODED: usize = 32 << 20;

/// Why a release payload could not be read. Never carries payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The Secret has no `data.release`.
    NoPayload,
    /// The payload is larger than the cap.
    TooLarge { what: &'static str, limit: usize },
    /// A base64 layer does not decode.
    Base64 { layer: &'static str },
    /// The gzip stream is damaged.
    Gzip(String),
    /// The release JSON does not parse.
    Json { line: usize, column: usize },
    /// The release has no `manifest` string.
    NoManifest,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoPayload => f.write_str("the Secret has no data.release"),
            Error::TooLarge { what, limit } => {
                write!(f, "the {what} is larger than {} MiB", limit >> 20)
            }
            Error::Base64 { layer } => write!(f, "the {layer} is not valid base64"),
            Error::Gzip(why) => write!(f, "the release payload is not valid gzip: {why}"),
            Error::Json { line, column } => write!(
                f,
                "the release payload is not valid JSON (line {line}, column {column})"
            ),
            Error::NoManifest => f.write_str("the release has no manifest"),
        }
    }
}

impl std::error::Error for Error {}

/// Which Secret holds a HelmRelease's latest release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRef {
    pub namespace: String,
    pub release: String,
    /// `None` when the HelmRelease records no release yet: the caller looks for the newest.
    pub version: Option<u64>,
}

impl StorageRef {
    /// `sh.helm.release.v1.<release>.v<version>`, Helm's secret driver naming.
    pub fn secret_name(&self, version: u64) -> String {
        format!("sh.helm.release.v1.{}.v{version}", self.release)
    }
}

/// Where the latest release of `hr` is stored, or why it cannot be read: `Err` is a note for
/// the reader (remote cluster), not a failure.
pub fn storage_ref(hr: &Value) -> Result<StorageRef, String> {
    let spec = &hr["spec"];
    let status = &hr["status"];
    if spec.get("kubeConfig").is_some_and(|k| !k.is_null()) {
        return Err(
            "not read: the release is installed in a remote cluster (spec.kubeConfig)".into(),
        );
    }
    let own_ns = hr["metadata"]["namespace"].as_str().unwrap_or("");
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let namespace = text(&status["storageNamespace"])
        .or_else(|| text(&spec["storageNamespace"]))
        .unwrap_or_else(|| own_ns.to_string());
    // helm-controller records each release it made, newest first; the name there is the
    // Helm release name (not the chart's, not always the object's).
    let latest = &status["history"][0];
    if let (Some(release), Some(version)) = (text(&latest["name"]), latest["version"].as_u64()) {
        return Ok(StorageRef {
            namespace,
            release,
            version: Some(version),
        });
    }
    // No history yet: the name helm-controller would use (spec.releaseName, else
    // `<targetNamespace>-<name>` when a target namespace is set, else the object's name).
    let name = hr["metadata"]["name"].as_str().unwrap_or("");
    let release =
        text(&spec["releaseName"]).unwrap_or_else(|| match text(&spec["targetNamespace"]) {
            Some(target) => format!("{target}-{name}"),
            None => name.to_string(),
        });
    Ok(StorageRef {
        namespace,
        release,
        version: None,
    })
}

/// A release as far as the inventory needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub version: u64,
    pub status: String,
    pub objects: Vec<InventoryEntry>,
    /// Container images of the workloads in the manifest, in manifest order, without repeats.
    pub images: Vec<String>,
    /// The position (from 1) of the first manifest document that could not be read; nothing
    /// after it is read either.
    pub first_unreadable_document: Option<usize>,
}

/// Decodes the `data.release` value of a Helm storage Secret as the API returns it and reads
/// the manifest. `namespaced(apiVersion, kind)` says whether a kind is namespaced (`None`:
/// unknown to the server, taken as namespaced, the common case).
pub fn decode_release(
    api_value: &str,
    namespaced: impl Fn(&str, &str) -> Option<bool>,
) -> Result<Release, Error> {
    let json = release_json(api_value)?;
    let release: Value = serde_json::from_slice(&json).map_err(|e| Error::Json {
        line: e.line(),
        column: e.column(),
    })?;
    let manifest = release["manifest"].as_str().ok_or(Error::NoManifest)?;
    let namespace = release["namespace"].as_str().unwrap_or("").to_string();
    let (objects, images, first_unreadable_document) =
        read_manifest(manifest, &namespace, namespaced);
    Ok(Release {
        name: release["name"].as_str().unwrap_or("").to_string(),
        version: release["version"].as_u64().unwrap_or(0),
        status: release["info"]["status"].as_str().unwrap_or("").to_string(),
        namespace,
        objects,
        images,
        first_unreadable_document,
    })
}

/// The release JSON bytes: Kubernetes base64 → Helm's base64 text → gzip (or plain JSON, which
/// Helm 2-era and some third-party writers store).
fn release_json(api_value: &str) -> Result<Vec<u8>, Error> {
    if api_value.len() > MAX_ENCODED {
        return Err(Error::TooLarge {
            what: "encoded release",
            limit: MAX_ENCODED,
        });
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_text = b64.decode(api_value.trim()).map_err(|_| Error::Base64 {
        layer: "Secret value",
    })?;
    let payload = b64
        .decode(helm_text.trim_ascii())
        .map_err(|_| Error::Base64 {
            layer: "Helm release text",
        })?;
    if payload.starts_with(&GZIP_MAGIC) {
        gunzip(&payload, MAX_DECODED)
    } else {
        Ok(payload)
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One gzip member (RFC 1952): the header parsed here, the deflate stream inflated by
/// miniz_oxide up to `limit` bytes, then the trailer's CRC-32 and size checked.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let bad = |why: &str| Error::Gzip(why.to_string());
    if data.len() < 18 || !data.starts_with(&GZIP_MAGIC) {
        return Err(bad("no gzip header"));
    }
    if data[2] != 8 {
        return Err(bad("compression method is not deflate"));
    }
    let flags = data[3];
    let mut pos = 10; // magic, method, flags, mtime (4), extra flags, OS
    if flags & FEXTRA != 0 {
        let len = data
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| bad("truncated extra field"))?;
        pos += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
                .ok_or_else(|| bad("unterminated name or comment"))?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos + 8 > data.len() {
        return Err(bad("truncated"));
    }
    let (stream, trailer) = (&data[pos..data.len() - 8], &data[data.len() - 8..]);
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(stream, limit).map_err(|e| {
        if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput {
            Error::TooLarge {
                what: "decompressed release",
                limit,
            }
        } else {
            Error::Gzip(e.to_string().to_lowercase())
        }
    })?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc32(&out) != crc {
        return Err(bad("CRC-32 mismatch"));
    }
    // ISIZE is the length modulo 2^32.
    if out.len() as u32 != size {
        return Err(bad("size mismatch"));
    }
    Ok(out)
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses), table-driven.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

type ManifestContents = (Vec<InventoryEntry>, Vec<String>, Option<usize>);

/// The objects of a multi-document manifest, with the release namespace given to namespaced
/// objects that name none (what Helm does when it installs them), and their container images.
fn read_manifest(
    manifest: &str,
    release_ns: &str,
    namespaced: impl Fn(&str, &str) -> Option<bool>,
) -> ManifestContents {
    let mut objects = Vec::new();
    let mut images: Vec<String> = Vec::new();
    let mut unreadable = None;
    for (i, doc) in serde_norway::Deserializer::from_str(manifest).enumerate() {
        let value = match <Value as serde::Deserialize>::deserialize(doc) {
            Ok(v) => v,
            Err(_) => {
                // The parser cannot resynchronise after a syntax error (it would report the
                // same error forever): the rest of the manifest is unreadable.
                unreadable = Some(i + 1);
                break;
            }
        };
        let items: Vec<&Value> = match value.get("items").and_then(Value::as_array) {
            // `kind: List` documents carry their objects in `items`.
            Some(items) if value["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                items.iter().collect()
            }
            _ => vec![&value],
        };
        for obj in items {
            let (Some(api_version), Some(kind), Some(name)) = (
                obj["apiVersion"].as_str(),
                obj["kind"].as_str(),
                obj["metadata"]["name"].as_str(),
            ) else {
                continue;
            };
            let mut namespace = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if namespace.is_empty() && namespaced(api_version, kind).unwrap_or(true) {
                namespace = release_ns.to_string();
            }
            objects.push(InventoryEntry {
                kind: kind.to_string(),
                namespace,
                name: name.to_string(),
            });
            for image in container_images(obj) {
                if !images.contains(&image) {
                    images.push(image);
                }
            }
        }
    }
    (objects, images, unreadable)
}

/// Images of the pod spec an object carries: a Pod's own, a workload's `spec.template`, or a
/// CronJob's `spec.jobTemplate.spec.template`; init containers first, as they run first.
fn container_images(obj: &Value) -> Vec<String> {
    let spec = &obj["spec"];
    let pod_spec = [
        &spec["template"]["spec"],
        &spec["jobTemplate"]["spec"]["template"]["spec"],
        spec,
    ]
    .into_iter()
    .find(|s| s.get("containers").is_some());
    let Some(pod_spec) = pod_spec else {
        return Vec::new();
    };
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod_spec[*k].as_array())
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A gzip member written by hand (header with a file name, deflate, trailer), so the
    /// reader is tested against the format and not against itself.
    pub(crate) fn gzip(data: &[u8], name: Option<&str>) -> Vec<u8> {
        let mut out = vec![
            0x1f,
            0x8b,
            8,
            if name.is_some() { 0x08 } else { 0 },
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        if let Some(n) = name {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
        out.extend(crc32(data).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out
    }

    /// `data.release` as the API returns it for a Helm secret-driver release.
    pub(crate) fn api_value(release: &Value) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let helm_text = b64.encode(gzip(release.to_string().as_bytes(), None));
        b64.encode(helm_text)
    }

    const MANIFEST: &str = "---
# Source: web/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-reader
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: other
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: app
        image: ghcr.io/acme/web:1.2.3
      - name: sidecar
        image: busybox:1.36
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: warm
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: warm
            image: ghcr.io/acme/tools:0.1
---
";

    fn cluster_scoped(_: &str, kind: &str) -> Option<bool> {
        Some(!matches!(kind, "ClusterRole" | "Namespace"))
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn gunzip_reads_headers_with_optional_fields() {
        let data = b"hello helm release".repeat(20);
        assert_eq!(gunzip(&gzip(&data, None), 1 << 20).unwrap(), data);
        assert_eq!(
            gunzip(&gzip(&data, Some("release.json")), 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn gunzip_refuses_damage_and_bombs() {
        let data = b"x".repeat(10_000);
        let good = gzip(&data, None);
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert_eq!(
            gunzip(&crc, 1 << 20),
            Err(Error::Gzip("CRC-32 mismatch".into()))
        );
        assert!(matches!(
            gunzip(&good[..good.len() - 12], 1 << 20),
            Err(Error::Gzip(_))
        ));
        assert_eq!(
            gunzip(&good, 100),
            Err(Error::TooLarge {
                what: "decompressed release",
                limit: 100
            })
        );
        assert!(matches!(
            gunzip(b"not gzip at all, nope", 100),
            Err(Error::Gzip(_))
        ));
    }

    #[test]
    fn a_release_decodes_to_objects_and_images() {
        let release = json!({"name": "web", "namespace": "apps", "version": 4,
                             "info": {"status": "deployed"}, "manifest": MANIFEST,
                             "config": {"password": "from-values"}});
        let r = decode_release(&api_value(&release), cluster_scoped).unwrap();
        assert_eq!(
            (r.name.as_str(), r.version, r.status.as_str()),
            ("web", 4, "deployed")
        );
        let labels: Vec<String> = r.objects.iter().map(InventoryEntry::label).collect();
        assert_eq!(
            labels,
            [
                "ServiceAccount apps/web",
                "ClusterRole web-reader",
                "Deployment other/web",
                "CronJob apps/warm"
            ]
        );
        assert_eq!(
            r.images,
            [
                "busybox:1.36",
                "ghcr.io/acme/web:1.2.3",
                "ghcr.io/acme/tools:0.1"
            ]
        );
        assert_eq!(r.first_unreadable_document, None);
    }

    #[test]
    fn plain_json_payloads_are_accepted() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let release = json!({"name": "a", "namespace": "n", "version": 1, "manifest": ""});
        let value = b64.encode(b64.encode(release.to_string()));
        let r = decode_release(&value, cluster_scoped).unwrap();
        assert!(r.objects.is_empty());
    }

    #[test]
    fn decoding_errors_name_the_layer_and_never_the_content() {
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            decode_release("%%%", cluster_scoped),
            Err(Error::Base64 {
                layer: "Secret value"
            })
        );
        assert_eq!(
            decode_release(&b64.encode("not base64 !!"), cluster_scoped),
            Err(Error::Base64 {
                layer: "Helm release text"
            })
        );
        let secret_json = "{\"config\": {\"password\": \"s3cr3t\"";
        let err = decode_release(&b64.encode(b64.encode(secret_json)), cluster_scoped).unwrap_err();
        assert!(matches!(err, Error::Json { .. }));
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let no_manifest = json!({"name": "a"});
        assert_eq!(
            decode_release(&api_value(&no_manifest), cluster_scoped),
            Err(Error::NoManifest)
        );
    }

    #[test]
    fn broken_manifest_documents_are_counted_not_fatal() {
        let manifest =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkey: [unclosed\n";
        let release = json!({"name": "a", "namespace": "n", "version": 1, "manifest": manifest});
        let r = decode_release(&api_value(&release), cluster_scoped).unwrap();
        assert_eq!(r.objects.len(), 1);
        assert_eq!(r.first_unreadable_document, Some(2));
    }

    #[test]
    fn the_storage_secret_comes_from_the_latest_history_entry() {
        let hr = json!({"metadata": {"name": "webapp-frontend", "namespace": "apps"},
            "spec": {"releaseName": "frontend", "chart": {"spec": {"chart": "webapp"}}},
            "status": {"storageNamespace": "store", "history": [
                {"name": "frontend", "version": 3, "chartName": "webapp"},
                {"name": "frontend", "version": 2}]}});
        let r = storage_ref(&hr).unwrap();
        assert_eq!(r.namespace, "store");
        assert_eq!(
            r.secret_name(r.version.unwrap()),
            "sh.helm.release.v1.frontend.v3"
        );
    }

    #[test]
    fn without_history_the_release_name_is_derived() {
        let hr = |spec: Value| json!({"metadata": {"name": "podinfo", "namespace": "apps"}, "spec": spec});
        let r = storage_ref(&hr(json!({}))).unwrap();
        assert_eq!(
            (r.release.as_str(), r.namespace.as_str(), r.version),
            ("podinfo", "apps", None)
        );
        let r = storage_ref(&hr(json!({"targetNamespace": "prod"}))).unwrap();
        assert_eq!(r.release, "prod-podinfo");
        let r = storage_ref(&hr(json!({"targetNamespace": "prod", "releaseName": "pi"}))).unwrap();
        assert_eq!(r.release, "pi");
        let err =
            storage_ref(&hr(json!({"kubeConfig": {"secretRef": {"name": "k"}}}))).unwrap_err();
        assert!(err.contains("remote cluster"), "{err}");
    }
}
