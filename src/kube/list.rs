//! Streaming one page of a Kubernetes List: a serde `DeserializeSeed` that reads the body
//! straight from the socket and hands each item to the caller as soon as it is parsed, so a
//! page is never held as text *and* as a parsed tree ("paging through big lists without holding
//! two copies"). Also the list options and the summary the caller gets back.

use std::fmt;
use std::ops::ControlFlow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What to list. `Default` lists everything in all namespaces, 500 objects per request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `None`: all namespaces. Ignored for cluster-scoped resources (kubectl ignores `-n` there).
    pub namespace: Option<String>,
    /// `labelSelector`, e.g. `app=podinfo,tier!=db` or `env in (prod,staging)`.
    pub label_selector: Option<String>,
    /// `fieldSelector`, e.g. `metadata.name=podinfo` or `involvedObject.kind=Kustomization`.
    pub field_selector: Option<String>,
    /// Hand over at most this many objects in total (across pages); `None` or 0: all of them.
    pub limit: Option<usize>,
    /// Resume a previous list where its `ListInfo::continue_token` left off.
    pub continue_token: Option<String>,
    /// Objects per request (the API's `limit` parameter, kubectl's `--chunk-size`).
    /// `None` or 0: 500, like kubectl.
    pub page_size: Option<usize>,
}

/// The default page size, kubectl's `--chunk-size` default.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// What a list call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInfo {
    /// Objects handed to the callback.
    pub items: usize,
    /// True when the server holds objects that were not handed over (the callback stopped,
    /// or `limit` was reached before the end).
    pub more: bool,
    /// Resumes exactly after the last object handed over; set only when `more` is true and the
    /// stop fell on a page boundary (a token cannot point inside a page).
    pub continue_token: Option<String>,
    /// The server's estimate of the objects after the last page it sent, when it gives one.
    pub remaining_item_count: Option<u64>,
    /// The list's `metadata.resourceVersion` (of the last page read).
    pub resource_version: String,
}

/// How one page of a list ended, for [`ListInfo::page_done`].
pub(crate) struct PageEnd {
    /// Items of the page handed to the callback.
    pub delivered: usize,
    pub resource_version: String,
    pub remaining_item_count: Option<u64>,
    /// The page's continue token (empty already filtered out).
    pub next: Option<String>,
    /// The callback asked to stop.
    pub stopped: bool,
    /// Items of the page were left after the callback stopped.
    pub more_in_page: bool,
}

impl ListInfo {
    /// Counts one page and decides what comes next, the same for every source of lists: the
    /// token of the next page to fetch, or `None` when the list ends here (`self` is then the
    /// answer: stopped by the callback, at the end, or at `limit`).
    pub(crate) fn page_done(&mut self, page: PageEnd, limit: Option<usize>) -> Option<String> {
        self.items += page.delivered;
        self.resource_version = page.resource_version;
        self.remaining_item_count = page.remaining_item_count;
        if page.stopped {
            self.more = page.more_in_page || page.next.is_some();
            // A token cannot point inside a page.
            self.continue_token = if page.more_in_page { None } else { page.next };
            if page.more_in_page {
                self.remaining_item_count = None;
            }
            return None;
        }
        let Some(next) = page.next else {
            self.more = false;
            return None;
        };
        if limit.is_some_and(|l| self.items >= l) {
            self.more = true;
            self.continue_token = Some(next);
            return None;
        }
        Some(next)
    }
}

/// The `metadata` of a List.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ListMeta {
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    #[serde(rename = "remainingItemCount")]
    pub remaining_item_count: Option<u64>,
}

/// Why the items of a page stopped flowing before the page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The callback returned `Break`.
    Callback,
    /// The caller's `limit` was reached.
    Limit,
}

/// The state of one page read, kept outside the seed so the caller can inspect it after an
/// error (how many items went out decides whether the page may be retried).
#[derive(Debug, Default)]
pub(crate) struct PageState {
    /// Items handed over from this page.
    pub delivered: usize,
    /// Hand over at most this many items from this page.
    pub cap: Option<usize>,
    pub stopped: Option<Stop>,
    /// After a stop: whether the page held at least one more item.
    pub more_in_page: bool,
    /// Set when we abandoned the body on purpose after a stop (not an error).
    pub abandoned: bool,
    pub meta: ListMeta,
    /// `apiVersion` and `kind` to give items that lack them: the API server omits both from the
    /// items of built-in lists (kubectl fills them in the same way).
    pub fill: Option<(String, String)>,
}

/// The marker error used to abandon a body once the callback has had enough.
const ABANDON: &str = "list reading stopped by the caller";

/// Seed for a whole List object.
pub(crate) struct PageSeed<'a, F> {
    pub state: &'a mut PageState,
    pub on_item: &'a mut F,
}

impl<'de, F: FnMut(Value) -> ControlFlow<()>> DeserializeSeed<'de> for PageSeed<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Value) -> ControlFlow<()>> Visitor<'de> for PageSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes List object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyName>()? {
            match key {
                KeyName::Metadata => self.state.meta = map.next_value()?,
                KeyName::Items => map.next_value_seed(ItemsSeed {
                    state: &mut *self.state,
                    on_item: &mut *self.on_item,
                })?,
                KeyName::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `metadata` of a List read from the start of its text, when it comes before `items`, as
/// the API server writes it: enough to ask for the next page while this one is parsed. Reads
/// only up to the end of `metadata`. `None` when `items` comes first or the text does not start
/// like a List.
pub(crate) fn meta_ahead(text: &[u8]) -> Option<ListMeta> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(text);
    // Always ends in an error: the visitor stops as soon as it has `metadata` (or knows it will
    // not come first), and serde_json reports a map left unfinished.
    let _ = (&mut de).deserialize_map(MetaAhead { found: &mut found });
    found
}

struct MetaAhead<'a> {
    found: &'a mut Option<ListMeta>,
}

impl<'de> Visitor<'de> for MetaAhead<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes List object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyName>()? {
            match key {
                KeyName::Metadata => {
                    *self.found = Some(map.next_value()?);
                    break;
                }
                KeyName::Items => break,
                KeyName::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Err(de::Error::custom(ABANDON))
    }
}

/// The keys of a List we care about, without allocating a String for each key.
enum KeyName {
    Metadata,
    Items,
    Other,
}

impl<'de> serde::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName, E> {
                Ok(match v {
                    "metadata" => KeyName::Metadata,
                    "items" => KeyName::Items,
                    _ => KeyName::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct ItemsSeed<'a, F> {
    state: &'a mut PageState,
    on_item: &'a mut F,
}

impl<'de, F: FnMut(Value) -> ControlFlow<()>> DeserializeSeed<'de> for ItemsSeed<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // `"items": null` is what Go encodes for an empty nil slice in some API servers.
        deserializer.deserialize_option(self)
    }
}

impl<'de, F: FnMut(Value) -> ControlFlow<()>> Visitor<'de> for ItemsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        loop {
            if state.cap.is_some_and(|cap| state.delivered >= cap) {
                state.stopped = Some(Stop::Limit);
            }
            if state.stopped.is_some() {
                // One more element tells whether the server had more; then abandon the body
                // instead of downloading the rest of a page nobody will read.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    state.more_in_page = true;
                    state.abandoned = true;
                    return Err(de::Error::custom(ABANDON));
                }
                return Ok(());
            }
            let Some(mut item) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            if let (Some((api_version, kind)), Value::Object(obj)) = (&state.fill, &mut item) {
                if !obj.contains_key("kind") {
                    obj.insert("kind".into(), Value::String(kind.clone()));
                }
                if !obj.contains_key("apiVersion") {
                    obj.insert("apiVersion".into(), Value::String(api_version.clone()));
                }
            }
            state.delivered += 1;
            if (self.on_item)(item).is_break() {
                state.stopped = Some(Stop::Callback);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str, state: &mut PageState, stop_after: usize) -> (Vec<Value>, bool) {
        let mut got = Vec::new();
        let mut on_item = |v: Value| {
            got.push(v);
            if got.len() >= stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let mut de = serde_json::Deserializer::from_reader(body.as_bytes());
        let result = PageSeed {
            state: &mut *state,
            on_item: &mut on_item,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        let ok = match result {
            Ok(()) => true,
            Err(_) if state.abandoned => true,
            Err(_) => false,
        };
        (got, ok)
    }

    const PAGE: &str = r#"{"kind":"PodList","apiVersion":"v1",
        "metadata":{"resourceVersion":"42","continue":"tok","remainingItemCount":7},
        "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}},{"kind":"Pod","apiVersion":"v1","metadata":{"name":"c"}}]}"#;

    #[test]
    fn every_item_is_handed_over_with_kind_filled_in() {
        let mut state = PageState {
            fill: Some(("v1".into(), "Pod".into())),
            ..PageState::default()
        };
        let (items, ok) = read(PAGE, &mut state, usize::MAX);
        assert!(ok);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["kind"], "Pod");
        assert_eq!(items[0]["apiVersion"], "v1");
        assert_eq!(items[1]["metadata"]["name"], "b");
        assert_eq!(state.meta.resource_version, "42");
        assert_eq!(state.meta.continue_token.as_deref(), Some("tok"));
        assert_eq!(state.meta.remaining_item_count, Some(7));
        assert_eq!(state.stopped, None);
    }

    #[test]
    fn a_break_abandons_the_page_and_knows_more_exist() {
        let mut state = PageState::default();
        let (items, ok) = read(PAGE, &mut state, 2);
        assert!(ok);
        assert_eq!(items.len(), 2);
        assert_eq!(state.stopped, Some(Stop::Callback));
        assert!(state.more_in_page);
        assert!(state.abandoned);
    }

    #[test]
    fn a_break_on_the_last_item_reads_on_and_knows_the_page_ended() {
        let mut state = PageState::default();
        let (items, ok) = read(PAGE, &mut state, 3);
        assert!(ok);
        assert_eq!(items.len(), 3);
        assert!(!state.more_in_page);
        assert!(!state.abandoned);
    }

    #[test]
    fn the_cap_limits_items_even_when_the_server_ignores_limit() {
        let mut state = PageState {
            cap: Some(1),
            ..PageState::default()
        };
        let (items, ok) = read(PAGE, &mut state, usize::MAX);
        assert!(ok);
        assert_eq!(items.len(), 1);
        assert_eq!(state.stopped, Some(Stop::Limit));
        assert!(state.more_in_page);
    }

    #[test]
    fn metadata_after_items_and_null_items_are_read() {
        let mut state = PageState::default();
        let body = r#"{"items":null,"metadata":{"resourceVersion":"9"}}"#;
        let (items, ok) = read(body, &mut state, usize::MAX);
        assert!(ok);
        assert!(items.is_empty());
        assert_eq!(state.meta.resource_version, "9");
    }

    #[test]
    fn a_truncated_page_is_an_error_after_the_items_that_arrived() {
        let mut state = PageState::default();
        let cut = &PAGE[..PAGE.find(r#"{"kind":"Pod""#).expect("third item")];
        let (items, ok) = read(cut, &mut state, usize::MAX);
        assert!(!ok);
        assert_eq!(items.len(), 2);
        assert_eq!(state.delivered, 2);
    }

    #[test]
    fn metadata_ahead_of_items_is_read_without_the_items() {
        let meta = meta_ahead(PAGE.as_bytes()).expect("metadata first");
        assert_eq!(meta.continue_token.as_deref(), Some("tok"));
        assert_eq!(meta.resource_version, "42");
        // Only the head is read: a page cut in its items still gives its metadata.
        let cut = &PAGE[..PAGE.find(r#"{"metadata":{"name":"b"#).expect("second item")];
        let meta = meta_ahead(cut.as_bytes()).expect("metadata of a cut page");
        assert_eq!(meta.continue_token.as_deref(), Some("tok"));
    }

    #[test]
    fn metadata_after_items_or_no_list_gives_nothing_ahead() {
        let body = r#"{"items":[{"metadata":{"name":"a"}}],"metadata":{"continue":"tok"}}"#;
        assert!(meta_ahead(body.as_bytes()).is_none());
        assert!(meta_ahead(b"[1,2]").is_none());
        assert!(meta_ahead(b"").is_none());
        assert!(meta_ahead(br#"{"kind":"PodList","metadata":{"continue":"#).is_none());
    }

    #[test]
    fn a_non_object_body_is_an_error() {
        let mut state = PageState::default();
        let (_, ok) = read("[1,2]", &mut state, usize::MAX);
        assert!(!ok);
    }
}
