//! The docs search as users meet it: the relevance suite (testdata/docs-relevance.yaml), corpus
//! coverage of every Flux kind, and `--docs-dir` runbooks. In-process through the library: the
//! search has no I/O besides the `--docs-dir` files these tests create.

use std::fs;
use std::path::PathBuf;

use flux_operator_mcp::docs::{Format, Library};

use crate::apiserver::FLUX_KINDS;
use crate::support::{scratch_dir, testdata};

/// Every Flux API kind the corpus must document (issue 5).
const EXPECTED_KINDS: &[&str] = FLUX_KINDS;

#[derive(serde::Deserialize)]
struct Case {
    query: String,
    doc: String,
}

fn relevance_cases() -> Vec<Case> {
    let path = testdata().join("docs-relevance.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_flux_kind_has_a_document() {
    let library = Library::load(&[]);
    let kinds: Vec<&str> = library.documents().filter_map(|d| d.kind).collect();
    let missing: Vec<&&str> = EXPECTED_KINDS
        .iter()
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus document has front matter kind {missing:?}"
    );
}

#[test]
fn relevance_suite_finds_the_answering_document() {
    let library = Library::load(&[]);
    let cases = relevance_cases();
    assert!(
        cases.len() >= 60,
        "the suite needs at least 60 questions, has {}",
        cases.len()
    );
    let ids: Vec<&str> = library.documents().map(|d| d.id).collect();
    let (mut top1, mut top3) = (0, 0);
    let mut misses = Vec::new();
    for case in &cases {
        assert!(
            ids.contains(&case.doc.as_str()),
            "{:?} expects unknown document {}",
            case.query,
            case.doc
        );
        let ranked = library.ranked_documents(&case.query, 3);
        if ranked.first() == Some(&case.doc.as_str()) {
            top1 += 1;
        }
        if ranked.contains(&case.doc.as_str()) {
            top3 += 1;
        } else {
            misses.push(format!(
                "  {:?}: want {}, got {ranked:?}",
                case.query, case.doc
            ));
        }
    }
    let rate = |n: usize| 100.0 * n as f64 / cases.len() as f64;
    // Printed for the record (`cargo test relevance -- --nocapture`) and by `make bench`.
    println!(
        "docs relevance: {} questions, top-1 {:.1}%, top-3 {:.1}%",
        cases.len(),
        rate(top1),
        rate(top3)
    );
    if !misses.is_empty() {
        println!("not in the top 3:\n{}", misses.join("\n"));
    }
    assert!(
        rate(top3) >= 85.0,
        "top-3 hit rate {:.1}% is below 85%",
        rate(top3)
    );
}

#[test]
fn answers_are_concise_and_name_their_section() {
    let library = Library::load(&[]);
    let out = library.search("install retries exhausted", 1, Format::Concise);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("## HelmRelease › "), "{out}");
    assert!(out.contains("Document: kinds/helmrelease"), "{out}");
    assert!(
        out.len() < 8 * 1024,
        "concise answer is {} bytes",
        out.len()
    );
    let complete = library.search("install retries exhausted", 1, Format::Complete);
    assert!(
        complete.len() > out.len(),
        "complete returns the whole document"
    );
}

#[test]
fn docs_dir_runbooks_are_searched_and_marked_local() {
    let dir = scratch_dir("docs-runbooks");
    fs::create_dir_all(dir.join("payments")).unwrap();
    fs::write(
        dir.join("payments/ledger-failover.md"),
        "# Ledger failover\n\nWhen the ledger HelmRelease is stuck, page the payments on-call \
         (rota: ledger-oncall) before any rollback.\n",
    )
    .unwrap();
    // A file that cannot be read: reported on one line, never fatal.
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("gone.md"), dir.join("dangling.md")).unwrap();

    let library = Library::load(std::slice::from_ref(&dir));
    let local: Vec<_> = library
        .documents()
        .filter(|d| d.local_path.is_some())
        .collect();
    assert_eq!(local.len(), 1);
    assert_eq!(
        local[0].id,
        format!(
            "local/{}/payments/ledger-failover",
            dir.file_name().unwrap().to_string_lossy()
        )
    );
    assert_eq!(local[0].title, "Ledger failover");

    let out = library.search("ledger on-call rota", 1, Format::Concise);
    assert!(out.starts_with("## Ledger failover\n"), "{out}");
    assert!(out.contains("(local file "), "{out}");
    #[cfg(unix)]
    {
        let notes: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("note: not indexed:"))
            .collect();
        assert_eq!(notes.len(), 1, "{out}");
        assert!(
            notes[0].contains("dangling.md: no such file or directory"),
            "{out}"
        );
    }
    // The embedded corpus is still there.
    assert!(library.ranked_documents("HelmRelease", 1) == vec!["kinds/helmrelease"]);
}

#[test]
fn a_missing_docs_dir_is_reported_not_fatal() {
    let missing = PathBuf::from("/nonexistent/runbooks-for-fxmcp-tests");
    let library = Library::load(std::slice::from_ref(&missing));
    assert_eq!(
        library.problems(),
        ["/nonexistent/runbooks-for-fxmcp-tests: no such file or directory"]
    );
    let list = library.list();
    assert!(list.contains("kinds/helmrelease"), "{list}");
    assert!(
        list.trim_end().ends_with(
            "note: not indexed: /nonexistent/runbooks-for-fxmcp-tests: no such file or directory"
        ),
        "{list}"
    );
}
