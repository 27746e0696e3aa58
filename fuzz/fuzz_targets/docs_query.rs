//! Fuzz target `docs_query`: arbitrary queries against the embedded Flux documentation
//! (tokenizer, BM25F ranking, phrase bonus, concise and complete rendering, the help for a
//! query that matches nothing). The corpus is indexed once per process, as the server does.
//!
//! Input: a byte for the limit and format, then the query (lossy UTF-8, as a JSON string
//! argument could carry it). Properties beyond "no panic": every answer is non-empty text, and
//! the ranking of a query does not depend on anything but the query (asked twice, answered
//! the same).
#![no_main]
use std::sync::OnceLock;

use flux_operator_mcp::docs::{Format, Library, MAX_LIMIT};
use libfuzzer_sys::fuzz_target;

fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(|| Library::load(&[]))
}

fuzz_target!(|data: &[u8]| {
    let [knobs, query @ ..] = data else {
        return;
    };
    let query = String::from_utf8_lossy(query);
    let limit = usize::from(knobs >> 1) % MAX_LIMIT + 1;
    let format = if knobs & 1 == 0 {
        Format::Concise
    } else {
        Format::Complete
    };
    let library = library();
    let answer = library.search(&query, limit, format);
    assert!(!answer.trim().is_empty(), "an empty answer");
    let ranked = library.ranked_documents(&query, limit);
    assert!(ranked.len() <= limit, "more documents than asked for");
    assert_eq!(
        ranked,
        library.ranked_documents(&query, limit),
        "one query ranked two ways"
    );
});
