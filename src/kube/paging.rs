//! List paging as the API server does it: objects in etcd key order, at most `limit` of them a
//! page, an opaque continue token that resumes right after the last object of a page,
//! `remainingItemCount` only when no selector filters, and a refused token answered like the API
//! server answers it (400 for one it could not have issued, 410 Expired for one from a version
//! the data no longer has). The test API server pages with this code, and so will any source
//! that answers lists from objects in memory.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Status;

/// Where an object sits in a list: its etcd key below the resource's prefix, `namespace/name`
/// for a namespaced object and `name` for a cluster-scoped one. Keys order as the API server's
/// lists do, by the bytes of that key (so `flux-system/a` comes before `flux/b`, `-` being
/// below `/`). A key may also stand for a position between objects (a page's start).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// `namespace` is empty for cluster-scoped objects.
    pub fn new(namespace: &str, name: &str) -> ObjectKey {
        if namespace.is_empty() {
            ObjectKey(name.to_string())
        } else {
            ObjectKey(format!("{namespace}/{name}"))
        }
    }

    /// The key of an object by its `metadata.namespace` and `metadata.name` (absent: empty).
    pub fn of(object: &Value) -> ObjectKey {
        let meta = |field: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        ObjectKey::new(meta("namespace"), meta("name"))
    }

    /// Empty for a cluster-scoped object.
    pub fn namespace(&self) -> &str {
        self.0.split_once('/').map_or("", |(ns, _)| ns)
    }

    pub fn name(&self) -> &str {
        self.0
            .split_once('/')
            .map_or(self.0.as_str(), |(_, name)| name)
    }

    /// The key as etcd holds it below the resource's prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn in_namespace(&self, namespace: &str) -> bool {
        self.0
            .strip_prefix(namespace)
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resource versions a source can continue a list at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    /// The data's resourceVersion now: every page reports it and new tokens carry it.
    pub current: u64,
    /// Tokens from this version or an older one are expired, as etcd refuses a compacted
    /// revision. A snapshot sets `current - 1` (only its own tokens go on); a store that
    /// serves every older token from its current data sets 0.
    pub compacted: u64,
}

impl Versions {
    /// Data that never changes: only tokens issued at `current` are accepted.
    pub fn fixed(current: u64) -> Versions {
        Versions {
            current,
            compacted: current.saturating_sub(1),
        }
    }
}

/// Why a continue token was refused. `Display` is the API server's message;
/// [`PageError::status`] its Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// Not a token such a server issues (not base64, not JSON, another version, no start):
    /// `400 BadRequest`, `continue key is not valid: ...`.
    InvalidToken { detail: String },
    /// A token from a version the data no longer has, or never had (forged): `410 Expired`.
    /// `continue_token` resumes at the same place in the current data, at the price of a list
    /// that may mix two versions (the API server offers the same).
    Expired { continue_token: String },
}

/// The API server's message for an expired continue token.
const EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::InvalidToken { detail } => write!(f, "continue key is not valid: {detail}"),
            PageError::Expired { .. } => f.write_str(EXPIRED),
        }
    }
}

impl std::error::Error for PageError {}

impl PageError {
    /// The Status an API server answers with (400 BadRequest or 410 Expired).
    pub fn status(&self) -> Status {
        let (code, reason) = match self {
            PageError::InvalidToken { .. } => (400, "BadRequest"),
            PageError::Expired { .. } => (410, "Expired"),
        };
        Status {
            status: "Failure".into(),
            message: self.to_string(),
            reason: reason.into(),
            code,
            details: None,
        }
    }

    fn invalid(detail: impl Into<String>) -> PageError {
        PageError::InvalidToken {
            detail: detail.into(),
        }
    }
}

/// The token's JSON, fields in the API server's order (`k8s.io/apiserver` storage).
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// base64url without padding, lenient about the unused bits of the last symbol, as Go's
/// `base64.RawURLEncoding` decodes.
const TOKEN_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn encode_token(start: &str, rv: i64) -> String {
    let token = Token {
        v: TOKEN_VERSION.into(),
        rv,
        start: start.into(),
    };
    // A struct of two strings and a number always serializes.
    TOKEN_BASE64.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The token's resourceVersion and start key (below the list's prefix, without the leading `/`).
fn decode_token(text: &str) -> Result<(i64, String), PageError> {
    let bytes = TOKEN_BASE64.decode(text).map_err(|e| {
        // Go names the offset of the first bad byte, or of the incomplete last quantum.
        let at = match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol { offset: at, .. } => at,
            base64::DecodeError::InvalidLength(len) => len - len % 4,
            // Go's unpadded decoder does not know `=`: it is just a bad byte.
            base64::DecodeError::InvalidPadding => text.find('=').unwrap_or(text.len()),
        };
        PageError::invalid(format!("illegal base64 data at input byte {at}"))
    })?;
    let token: Token =
        serde_json::from_slice(&bytes).map_err(|e| PageError::invalid(e.to_string()))?;
    if token.v != TOKEN_VERSION {
        return Err(PageError::invalid(format!(
            "server does not recognize this encoded version {:?}",
            token.v
        )));
    }
    if token.rv == 0 {
        return Err(PageError::invalid(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    if token.start.is_empty() {
        return Err(PageError::invalid(
            "encoded start key empty (version meta.k8s.io/v1)",
        ));
    }
    // The API server refuses a start key that is not a clean path (`..`, `//`, a trailing
    // `/`), so that a token cannot reach above the resource's prefix.
    let rooted = token.start.strip_prefix('/').unwrap_or(&token.start);
    let clean = rooted.is_empty()
        || rooted
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !clean {
        return Err(PageError::invalid(token.start));
    }
    Ok((token.rv, rooted.to_string()))
}

/// One page of a list, with what goes in the List's `metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `metadata.continue`: resumes right after the last item; `None` when nothing follows.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`: objects after this page, given only with a continue
    /// token and only when nothing filtered the list.
    pub remaining_item_count: Option<u64>,
    /// `metadata.resourceVersion`.
    pub resource_version: u64,
}

/// One list request's paging: the namespace it lists, how many objects a page holds and where
/// the page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    namespace: Option<String>,
    limit: Option<usize>,
    start: Option<ObjectKey>,
    versions: Versions,
}

impl Pager {
    /// A list of `namespace` (a namespaced resource listed in one namespace; `None` for all
    /// namespaces and for cluster-scoped resources), at most `limit` objects a page (`None` or
    /// 0: all in one page), resuming at `continue_token` (`None` or empty: from the first
    /// object) over data at `versions`.
    pub fn new(
        namespace: Option<&str>,
        limit: Option<usize>,
        continue_token: Option<&str>,
        versions: Versions,
    ) -> Result<Pager, PageError> {
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let in_list = |suffix: &str| match namespace {
            Some(ns) => ObjectKey(format!("{ns}/{suffix}")),
            None => ObjectKey(suffix.to_string()),
        };
        let start = match continue_token.filter(|t| !t.is_empty()) {
            None => namespace.map(|_| in_list("")),
            Some(text) => {
                let (rv, suffix) = decode_token(text)?;
                // A negative version continues at the latest data (what an expired token's
                // replacement carries).
                if let Ok(rv) = u64::try_from(rv)
                    && (rv <= versions.compacted || rv > versions.current)
                {
                    return Err(PageError::Expired {
                        continue_token: encode_token(&suffix, -1),
                    });
                }
                Some(in_list(&suffix))
            }
        };
        Ok(Pager {
            namespace: namespace.map(str::to_string),
            limit: limit.filter(|l| *l > 0),
            start,
            versions,
        })
    }

    /// The lowest key the page may hold: where to seek in a map or a sorted slice (`None`:
    /// from the first object).
    pub fn start(&self) -> Option<&ObjectKey> {
        self.start.as_ref()
    }

    /// Fills one page from `objects`, which must come in key order; objects before
    /// [`Pager::start`] are skipped and the first one outside the namespace ends the list.
    /// `keep` is the selectors' verdict; `count_remaining` asks for `remainingItemCount`, which
    /// the API server gives only when nothing filters (it counts objects, not matches).
    ///
    /// As the API server does, a full page gets a continue token when any object follows it,
    /// matching or not: the next page may then come back empty.
    pub fn page<'k, T>(
        &self,
        objects: impl IntoIterator<Item = (&'k ObjectKey, T)>,
        mut keep: impl FnMut(&T) -> bool,
        count_remaining: bool,
    ) -> Page<T> {
        let namespace = self.namespace.as_deref();
        let mut rest = objects
            .into_iter()
            .skip_while(|(k, _)| self.start.as_ref().is_some_and(|s| *k < s))
            .take_while(|(k, _)| namespace.is_none_or(|ns| k.in_namespace(ns)));
        let mut items = Vec::new();
        let mut last: Option<&ObjectKey> = None;
        let mut full = false;
        for (key, object) in rest.by_ref() {
            if !keep(&object) {
                continue;
            }
            items.push(object);
            last = Some(key);
            if self.limit.is_some_and(|l| items.len() >= l) {
                full = true;
                break;
            }
        }
        let mut page = Page {
            items,
            continue_token: None,
            remaining_item_count: None,
            resource_version: self.versions.current,
        };
        let Some(last) = last.filter(|_| full) else {
            return page;
        };
        let remaining = if count_remaining {
            rest.count() as u64
        } else {
            u64::from(rest.next().is_some())
        };
        if remaining > 0 {
            let suffix = match namespace {
                Some(_) => last.name(),
                None => last.as_str(),
            };
            let rv = i64::try_from(self.versions.current).unwrap_or(i64::MAX);
            // NUL sorts right after the last key and before any longer one.
            page.continue_token = Some(encode_token(&format!("{suffix}\0"), rv));
            page.remaining_item_count = count_remaining.then_some(remaining);
        }
        page
    }

    /// [`Pager::page`] over objects held in a slice sorted by key (`key_of` gives an object's
    /// key): seeks to [`Pager::start`] by binary search.
    pub fn page_sorted<'a, T>(
        &self,
        objects: &'a [T],
        key_of: impl Fn(&T) -> &ObjectKey,
        keep: impl FnMut(&&'a T) -> bool,
        count_remaining: bool,
    ) -> Page<&'a T> {
        let from = self
            .start
            .as_ref()
            .map_or(0, |s| objects.partition_point(|o| key_of(o) < s));
        let rest = objects.get(from..).unwrap_or_default();
        self.page(rest.iter().map(|o| (key_of(o), o)), keep, count_remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (key, name) pairs sorted by key, as a store holds them.
    fn store(keys: &[(&str, &str)]) -> Vec<(ObjectKey, String)> {
        let mut v: Vec<(ObjectKey, String)> = keys
            .iter()
            .map(|(ns, n)| (ObjectKey::new(ns, n), format!("{ns}/{n}")))
            .collect();
        v.sort();
        v
    }

    const AT: Versions = Versions {
        current: 42,
        compacted: 0,
    };

    fn names(page: &Page<&(ObjectKey, String)>) -> Vec<String> {
        page.items.iter().map(|(_, n)| n.clone()).collect()
    }

    fn page_of<'a>(
        data: &'a [(ObjectKey, String)],
        ns: Option<&str>,
        limit: Option<usize>,
        token: Option<&str>,
        versions: Versions,
    ) -> Result<Page<&'a (ObjectKey, String)>, PageError> {
        let pager = Pager::new(ns, limit, token, versions)?;
        Ok(pager.page_sorted(data, |o| &o.0, |_| true, true))
    }

    /// Every page in turn, following the tokens.
    fn walk(
        data: &[(ObjectKey, String)],
        ns: Option<&str>,
        limit: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let pager = Pager::new(ns, Some(limit), token.as_deref(), AT).expect("valid token");
            let page = pager.page_sorted(data, |o| &o.0, |o| keep(&o.1), false);
            pages.push(names(&page));
            match page.continue_token {
                Some(t) => token = Some(t),
                None => return pages,
            }
            assert!(pages.len() < 100, "paging does not end");
        }
    }

    #[test]
    fn keys_order_like_etcd() {
        let data = store(&[
            ("flux", "b"),
            ("flux-system", "a"),
            ("apps", "z"),
            ("flux", "a"),
        ]);
        let keys: Vec<&str> = data.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["apps/z", "flux-system/a", "flux/a", "flux/b"]);
        let k = ObjectKey::new("flux-system", "podinfo");
        assert_eq!((k.namespace(), k.name()), ("flux-system", "podinfo"));
        let c = ObjectKey::new("", "cluster-admin");
        assert_eq!((c.namespace(), c.name()), ("", "cluster-admin"));
        let from_object =
            ObjectKey::of(&serde_json::json!({"metadata": {"name": "x", "namespace": "y"}}));
        assert_eq!(from_object, ObjectKey::new("y", "x"));
    }

    #[test]
    fn pages_cover_the_list_once_with_counts() {
        let data = store(&[("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "1")]);
        let first = page_of(&data, None, Some(2), None, AT).unwrap();
        assert_eq!(names(&first), ["a/1", "a/2"]);
        assert_eq!(first.remaining_item_count, Some(3));
        assert_eq!(first.resource_version, 42);
        let second = page_of(&data, None, Some(2), first.continue_token.as_deref(), AT).unwrap();
        assert_eq!(names(&second), ["b/1", "b/2"]);
        assert_eq!(second.remaining_item_count, Some(1));
        let last = page_of(&data, None, Some(2), second.continue_token.as_deref(), AT).unwrap();
        assert_eq!(names(&last), ["c/1"]);
        assert_eq!(
            (last.continue_token, last.remaining_item_count),
            (None, None)
        );
        // A page that ends exactly at the end of the list has no token.
        let exact = page_of(&data, None, Some(5), None, AT).unwrap();
        assert_eq!((exact.items.len(), exact.continue_token), (5, None));
        // No limit (or 0): everything at once.
        for limit in [None, Some(0)] {
            let all = page_of(&data, None, limit, None, AT).unwrap();
            assert_eq!((all.items.len(), all.continue_token), (5, None));
        }
    }

    #[test]
    fn a_namespace_pages_only_its_own_objects() {
        let data = store(&[
            ("flux", "a"),
            ("flux-system", "a"),
            ("flux-system", "b"),
            ("flux", "b"),
            ("fluxx", "a"),
        ]);
        assert_eq!(
            walk(&data, Some("flux"), 1, |_| true),
            [["flux/a"], ["flux/b"]]
        );
        assert_eq!(
            walk(&data, Some("flux-system"), 5, |_| true),
            [["flux-system/a", "flux-system/b"]]
        );
        assert_eq!(
            walk(&data, Some("none"), 5, |_| true),
            [Vec::<String>::new()]
        );
        let first = page_of(&data, Some("flux-system"), Some(1), None, AT).unwrap();
        assert_eq!(first.remaining_item_count, Some(1));
    }

    #[test]
    fn filtered_pages_follow_the_api_server() {
        let data = store(&[("a", "1"), ("a", "2"), ("a", "3"), ("a", "4")]);
        let odd = |n: &str| n.ends_with('1') || n.ends_with('3');
        // A full page with objects after it gets a token even when none of them match.
        assert_eq!(walk(&data, None, 2, odd), [vec!["a/1", "a/3"], vec![]]);
        assert_eq!(
            walk(&data, None, 1, odd),
            [vec!["a/1"], vec!["a/3"], vec![]]
        );
        assert_eq!(walk(&data, None, 3, odd), [vec!["a/1", "a/3"]]);
        let pager = Pager::new(None, Some(1), None, AT).unwrap();
        let page = pager.page_sorted(&data, |o| &o.0, |o| odd(&o.1), false);
        assert!(page.continue_token.is_some());
        assert_eq!(
            page.remaining_item_count, None,
            "no count when a selector filters"
        );
    }

    #[test]
    fn an_iterator_from_the_start_is_paged_the_same() {
        let data = store(&[("a", "1"), ("b", "1"), ("b", "2"), ("c", "1")]);
        let pager = Pager::new(Some("b"), Some(1), None, AT).unwrap();
        let page = pager.page(data.iter().map(|(k, n)| (k, n.as_str())), |_| true, true);
        assert_eq!(page.items, ["b/1"]);
        let next = Pager::new(Some("b"), Some(1), page.continue_token.as_deref(), AT).unwrap();
        let page = next.page(data.iter().map(|(k, n)| (k, n.as_str())), |_| true, true);
        assert_eq!((page.items, page.continue_token), (vec!["b/2"], None));
    }

    #[test]
    fn tokens_are_the_api_servers_shape() {
        let data = store(&[("flux-system", "a"), ("flux-system", "b")]);
        let across = page_of(&data, None, Some(1), None, AT).unwrap();
        let token = across.continue_token.unwrap();
        let json = String::from_utf8(TOKEN_BASE64.decode(&token).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"v":"meta.k8s.io/v1","rv":42,"start":"flux-system/a\u0000"}"#
        );
        let within = page_of(&data, Some("flux-system"), Some(1), None, AT).unwrap();
        let (rv, start) = decode_token(&within.continue_token.unwrap()).unwrap();
        assert_eq!((rv, start.as_str()), (42, "a\0"));
    }

    #[test]
    fn bad_tokens_are_400s_naming_the_problem() {
        let token = |json: &str| TOKEN_BASE64.encode(json);
        for (text, detail) in [
            (
                "not base64!".to_string(),
                "illegal base64 data at input byte 3",
            ),
            ("abcde".to_string(), "illegal base64 data at input byte 4"),
            (
                "eyJ2Ijo=".to_string(),
                "illegal base64 data at input byte 7",
            ),
            (
                token(r#"{"v":"meta.k8s.io/v2","rv":1,"start":"a"}"#),
                r#"server does not recognize this encoded version "meta.k8s.io/v2""#,
            ),
            (
                token(r#"{"v":"meta.k8s.io/v1","start":"a"}"#),
                "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ),
            (
                token(r#"{"v":"meta.k8s.io/v1","rv":1}"#),
                "encoded start key empty (version meta.k8s.io/v1)",
            ),
            (
                token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/x"}"#),
                "../secrets/x",
            ),
            (
                token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"a//b"}"#),
                "a//b",
            ),
            (token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"a/"}"#), "a/"),
            (
                token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"a/./b"}"#),
                "a/./b",
            ),
        ] {
            let err = Pager::new(None, Some(1), Some(&text), AT).unwrap_err();
            assert_eq!(err, PageError::invalid(detail), "{text}");
            assert_eq!(
                err.to_string(),
                format!("continue key is not valid: {detail}")
            );
            assert_eq!(err.status().code, 400);
        }
        // Not the token's JSON: the decoder's own words follow the prefix.
        for json in [
            "[1]",
            "{",
            r#"{"v":"meta.k8s.io/v1","rv":"1","start":"a"}"#,
            "null",
        ] {
            let err = Pager::new(None, Some(1), Some(&token(json)), AT).unwrap_err();
            assert!(
                matches!(err, PageError::InvalidToken { .. }),
                "{json}: {err:?}"
            );
            assert!(
                err.to_string().starts_with("continue key is not valid: "),
                "{err}"
            );
        }
    }

    #[test]
    fn stale_and_future_tokens_are_410s_with_a_way_on() {
        let data = store(&[("a", "1"), ("a", "2"), ("a", "3")]);
        let old = Versions {
            current: 10,
            compacted: 0,
        };
        let first = page_of(&data, None, Some(1), None, old).unwrap();
        let token = first.continue_token.unwrap();
        // The data moved on and was compacted past the token's version.
        let now = Versions::fixed(20);
        let err = Pager::new(None, Some(1), Some(&token), now).unwrap_err();
        let PageError::Expired { continue_token } = &err else {
            panic!("{err:?}");
        };
        let status = err.status();
        assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        assert!(
            status
                .message
                .starts_with("The provided continue parameter is too old")
        );
        // The replacement token continues after the same object, at the latest data.
        let on = page_of(&data, None, Some(5), Some(continue_token.as_str()), now).unwrap();
        assert_eq!(names(&on), ["a/2", "a/3"]);
        assert_eq!(on.resource_version, 20);
        // A version the data never had is as unusable.
        let future = encode_token("a/1\0", 21);
        assert!(matches!(
            Pager::new(None, Some(1), Some(&future), now),
            Err(PageError::Expired { .. })
        ));
        // A store that keeps no old versions but goes on serving takes older tokens.
        let lenient = Versions {
            current: 20,
            compacted: 0,
        };
        assert_eq!(
            names(&page_of(&data, None, Some(5), Some(&token), lenient).unwrap()),
            ["a/2", "a/3"]
        );
    }

    #[test]
    fn hostile_tokens_never_panic() {
        let huge = "A".repeat(100_000);
        for text in ["", "=", "====", "\u{0}", "é", &huge] {
            let _ = Pager::new(Some("ns"), Some(1), Some(text), AT);
        }
        let forged = TOKEN_BASE64.encode(format!(
            r#"{{"v":"meta.k8s.io/v1","rv":{},"start":"/"}}"#,
            i64::MIN
        ));
        let data = store(&[("ns", "a")]);
        let page = page_of(&data, Some("ns"), Some(1), Some(&forged), AT).unwrap();
        assert_eq!(
            names(&page),
            ["ns/a"],
            "`/` starts at the beginning of the namespace"
        );
    }
}
