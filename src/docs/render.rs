//! Turns rankings into the text an agent (or a terminal user) reads: concise hits within a size
//! budget, whole documents, the help shown for an empty or unmatched query, and the document list.
//! Markdown throughout, so it reads well both raw in a terminal and rendered by a client.

use std::fmt::Write;

use super::Format;
use super::corpus::Origin;
use super::document;
use super::index::{Doc, Hit, Index, Ranking};

/// Total size of the section texts in a concise answer: a few KB, so an agent can afford to
/// search often (an upstream `complete` hit is up to ~94 KB).
const CONCISE_BUDGET: usize = 6 * 1024;
/// A hit is never clipped below this, however many hits were asked for.
const MIN_HIT_BUDGET: usize = 900;
/// Other matches named (one line each) after the shown hits.
const MORE_MATCHES: usize = 3;
/// The largest `limit` honoured.
pub const MAX_LIMIT: usize = 10;

/// Below this [`Index::strength`] the best hit does not answer the query, and the answer says
/// so instead of showing it. Every question of testdata/docs-relevance.yaml scores at least 0.5
/// (tests/it/docs.rs prints the lowest), questions about what the corpus does not cover ("Argo
/// CD sync waves", "kafka consumer lag") below 0.35; a false "no strong match" costs the agent
/// more than a weak hit does, so the line sits nearer the unanswerable side.
pub const STRONG: f32 = 0.4;

/// The answer to one search, over every document or (`scope`) within one.
pub fn search(
    index: &Index,
    problems: &[String],
    query: &str,
    scope: Option<u32>,
    limit: usize,
    format: Format,
) -> String {
    let query = query.trim();
    if query.is_empty()
        && let Some(doc) = scope
    {
        let mut out = document_outline(index, doc);
        problem_line(&mut out, problems);
        return out;
    }
    let ranking = if query.is_empty() {
        Ranking::default()
    } else {
        let sections = scope.map(|doc| index.docs[doc as usize].sections.clone());
        index.search_in(query, sections)
    };
    let strong = ranking
        .hits
        .first()
        .is_some_and(|best| index.strength(&ranking, best.section) >= STRONG);
    let mut out = match (ranking.hits.first(), scope) {
        (None, None) => no_match(index, query, &ranking),
        (None, Some(doc)) => no_match_in(index, doc, query, &ranking),
        (Some(_), _) if !strong => {
            let mut text = weak(index, query, scope, &ranking, limit);
            notes(&mut text, &ranking);
            text
        }
        (Some(_), _) => {
            let limit = limit.clamp(1, MAX_LIMIT);
            let mut text = match format {
                Format::Concise => concise(index, &ranking.hits, limit),
                Format::Complete => complete(index, &ranking.hits, limit),
            };
            notes(&mut text, &ranking);
            text
        }
    };
    if limit > MAX_LIMIT && !ranking.hits.is_empty() {
        let _ = writeln!(
            out,
            "\nnote: limit is at most {MAX_LIMIT}; showing up to {MAX_LIMIT}."
        );
    }
    problem_line(&mut out, problems);
    out
}

/// `(kinds/helmrelease, lines 210–236)`: where a section is, for `read_flux_doc`.
fn location(index: &Index, section: u32) -> String {
    let (from, to) = index.lines(section);
    format!("{}, lines {from}–{to}", index.doc_of(section).id)
}

/// The sections shown or named for a query, best first: at most `shown` of them, skipping a
/// section whose ancestor or descendant is already in, then up to [`MORE_MATCHES`] more.
fn distinct(index: &Index, hits: &[Hit], shown: usize) -> (Vec<u32>, Vec<u32>) {
    let mut first: Vec<u32> = Vec::new();
    let mut rest = Vec::new();
    for hit in hits {
        if first.iter().any(|&s| related(index, s, hit.section)) {
            continue;
        }
        if first.len() < shown {
            first.push(hit.section);
        } else if rest.len() < MORE_MATCHES {
            rest.push(hit.section);
        } else {
            break;
        }
    }
    (first, rest)
}

/// The answer when the best hit covers too little of the query: say so, and name the closest
/// sections (without their text) so the agent can still open one or rephrase.
fn weak(index: &Index, query: &str, scope: Option<u32>, ranking: &Ranking, limit: usize) -> String {
    let shown = limit.clamp(1, MAX_LIMIT).max(MORE_MATCHES);
    let (closest, _) = distinct(index, &ranking.hits, shown);
    let mut out = String::new();
    let query = shorten(query, QUERY_ECHO_MAX);
    let within = scope.map_or(String::new(), |doc| {
        format!(" in {}", index.docs[doc as usize].id)
    });
    let _ = writeln!(out, "No strong match for {query:?}{within}; closest:");
    for &section in &closest {
        let _ = writeln!(
            out,
            "- {} ({})",
            index.path(section).join(" › "),
            location(index, section)
        );
    }
    let best = ranking
        .hits
        .first()
        .map_or(0.0, |h| index.strength(ranking, h.section));
    let _ = writeln!(
        out,
        "\nThe best of these holds {:.0}% of the query (rare words weigh most), so the \
         documentation probably does not answer it. Open one with read_flux_doc (path and \
         heading as above), or ask with a Flux kind, a spec field or an error message copied \
         from a condition or event.",
        100.0 * best
    );
    out
}

/// A path-scoped search whose words the document does not hold.
fn no_match_in(index: &Index, doc: u32, query: &str, ranking: &Ranking) -> String {
    let d = &index.docs[doc as usize];
    let query = shorten(query, QUERY_ECHO_MAX);
    let mut out = format!(
        "Nothing in {} matches {query:?}; search without path to look in every document.\n",
        d.id
    );
    notes(&mut out, ranking);
    out.push('\n');
    out.push_str(&document_outline(index, doc));
    out
}

/// A document's outline, for a path-scoped search without a query (or without a match).
fn document_outline(index: &Index, doc: u32) -> String {
    let d = &index.docs[doc as usize];
    let mut out = describe(d);
    let _ = writeln!(
        out,
        "\nOutline (line, heading); read a section with read_flux_doc path={} heading=...:\n",
        d.id
    );
    out.push_str(&super::read::outline(index, doc, OUTLINE_BUDGET));
    out
}

/// Size of an outline in a search answer.
const OUTLINE_BUDGET: usize = 8 * 1024;

/// The best sections, each clipped to its share of the budget. A section whose ancestor or
/// descendant is already shown is skipped: its text would repeat.
fn concise(index: &Index, hits: &[Hit], limit: usize) -> String {
    let (shown, rest) = distinct(index, hits, limit);
    let budget = (CONCISE_BUDGET / shown.len().max(1)).max(MIN_HIT_BUDGET);
    let mut out = String::new();
    for (i, &section) in shown.iter().enumerate() {
        if i > 0 {
            out.push_str("\n---\n\n");
        }
        let sec = &index.sections[section as usize];
        let doc = index.doc_of(section);
        let (from, to) = index.lines(section);
        let _ = writeln!(out, "## {}", index.path(section).join(" › "));
        let _ = writeln!(out, "{}, lines {from}–{to}\n", describe(doc));
        let (text, clipped) = clip(doc.text[sec.body_start..sec.subtree_end].trim(), budget);
        out.push_str(&text);
        out.push('\n');
        if clipped {
            let _ = writeln!(
                out,
                "\n[… section continues to line {to}: read_flux_doc path={} heading={:?} reads all of it]",
                doc.id,
                index.heading_ref(section)
            );
        }
    }
    if !rest.is_empty() {
        let _ = writeln!(
            out,
            "\nMore matches (raise limit, or open one with read_flux_doc):"
        );
        for section in rest {
            let _ = writeln!(
                out,
                "- {} ({})",
                index.path(section).join(" › "),
                location(index, section)
            );
        }
    }
    out
}

fn related(index: &Index, a: u32, b: u32) -> bool {
    is_ancestor(index, a, b) || is_ancestor(index, b, a)
}

fn is_ancestor(index: &Index, ancestor: u32, section: u32) -> bool {
    let mut at = Some(section);
    while let Some(s) = at {
        if s == ancestor {
            return true;
        }
        at = index.sections[s as usize].parent;
    }
    false
}

/// The distinct documents among the hits, best first, each with its best section, at most
/// `limit` of them: what `complete` prints and what [`super::Library::ranked_documents`] names.
pub(super) fn best_documents(index: &Index, hits: &[Hit], limit: usize) -> Vec<(u32, u32)> {
    let mut docs: Vec<(u32, u32)> = Vec::new();
    for hit in hits {
        let doc = index.sections[hit.section as usize].doc;
        if !docs.iter().any(|&(d, _)| d == doc) {
            docs.push((doc, hit.section));
            if docs.len() == limit {
                break;
            }
        }
    }
    docs
}

/// Whole documents, one per distinct document among the best hits.
fn complete(index: &Index, hits: &[Hit], limit: usize) -> String {
    let docs = best_documents(index, hits, limit);
    let mut out = String::new();
    for (i, &(doc, best)) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("\n---\n\n");
        }
        let doc = &index.docs[doc as usize];
        let _ = writeln!(out, "{}", describe(doc));
        let _ = writeln!(
            out,
            "Best match: {} (lines {}–{})\n",
            index.path(best).join(" › "),
            index.lines(best).0,
            index.lines(best).1
        );
        out.push_str(doc.text[doc.body_start..].trim());
        out.push('\n');
    }
    out
}

/// `Document: kinds/helmrelease (HelmRelease, helm.toolkit.fluxcd.io/v2)`; local files say so.
pub(super) fn describe(doc: &Doc) -> String {
    match &doc.origin {
        Origin::Local(path) => format!("Document: {} (local file {})", doc.id, path.display()),
        Origin::Embedded => match (&doc.kind, &doc.api_version) {
            (Some(kind), Some(api)) => format!("Document: {} ({kind}, {api})", doc.id),
            (Some(kind), None) => format!("Document: {} ({kind})", doc.id),
            _ => format!("Document: {}", doc.id),
        },
    }
}

/// Cut `text` to at most `budget` bytes at a line end, closing a code block left open.
fn clip(text: &str, budget: usize) -> (String, bool) {
    if text.len() <= budget {
        return (text.to_string(), false);
    }
    let cut = crate::text::floor_char_boundary(text, budget);
    // Prefer a paragraph end, then a line end, in the second half of the budget.
    let head = &text[..cut];
    let at = head
        .rfind("\n\n")
        .filter(|&at| at >= budget / 2)
        .or_else(|| head.rfind('\n').filter(|&at| at >= budget / 2))
        .unwrap_or(cut);
    let mut clipped = text[..at].trim_end().to_string();
    if let Some(fence) = document::unclosed_fence(&clipped) {
        clipped.push('\n');
        clipped.push_str(&fence);
    }
    (clipped, true)
}

/// Say which query words were corrected or matched nothing, so the agent can rephrase.
fn notes(out: &mut String, ranking: &Ranking) {
    if !ranking.corrected.is_empty() {
        let pairs: Vec<String> = ranking
            .corrected
            .iter()
            .map(|(from, to)| format!("{from} → {to}"))
            .collect();
        let _ = writeln!(out, "\nnote: spelling corrected: {}", pairs.join(", "));
    }
    if !ranking.unknown.is_empty() {
        let mut words = ranking.unknown[..ranking.unknown.len().min(UNKNOWN_SHOWN)].join(", ");
        if ranking.unknown.len() > UNKNOWN_SHOWN {
            let _ = write!(words, " and {} more", ranking.unknown.len() - UNKNOWN_SHOWN);
        }
        let _ = writeln!(out, "\nnote: no document mentions: {words}");
    }
}

/// How much of an unmatched query the answer repeats, in bytes.
const QUERY_ECHO_MAX: usize = 160;
/// How many unknown words a note names.
const UNKNOWN_SHOWN: usize = 12;

/// `text` cut to at most `max` bytes at a char boundary, with `…` when cut.
fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let end = crate::text::floor_char_boundary(text, max);
    format!("{}…", text[..end].trim_end()).into()
}

/// The help an agent gets instead of an error: what to ask, and what the corpus holds.
fn no_match(index: &Index, query: &str, ranking: &Ranking) -> String {
    let mut out = String::new();
    // A whole pasted log is not worth echoing back.
    let query = shorten(query, QUERY_ECHO_MAX);
    if query.is_empty() {
        out.push_str("The query is empty.\n\n");
    } else if ranking.terms == 0 {
        let _ = writeln!(
            out,
            "No Flux documentation matches {query:?}: it holds only common words.\n"
        );
    } else {
        let _ = writeln!(out, "No Flux documentation matches {query:?}.\n");
    }
    out.push_str(
        "Ask with a Flux kind (\"HelmRelease\"), a spec field (\"spec.install.remediation.retries\"), \
         an error message copied from a Ready condition or an event (\"install retries exhausted\"), \
         or a question (\"how do I enable drift detection for a helm release?\").\n",
    );
    let kinds: Vec<&str> = index
        .docs
        .iter()
        .filter(|d| d.kind.is_some())
        .map(|d| d.title.as_str())
        .collect();
    if !kinds.is_empty() {
        let _ = writeln!(out, "\nAPI references: {}.", kinds.join(", "));
    }
    // Guide titles contain commas: one per line.
    let guides = index
        .docs
        .iter()
        .filter(|d| d.kind.is_none() && d.origin == Origin::Embedded);
    let mut guides = guides.peekable();
    if guides.peek().is_some() {
        out.push_str("Guides:\n");
        for doc in guides {
            let _ = writeln!(out, "- {} ({})", doc.title, doc.id);
        }
    }
    let local = index
        .docs
        .iter()
        .filter(|d| d.origin != Origin::Embedded)
        .count();
    if local > 0 {
        let _ = writeln!(out, "Local documents (--docs-dir): {local}.");
    }
    out
}

/// One line for the local files that could not be read.
pub(super) fn problem_line(out: &mut String, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    const SHOWN: usize = 3;
    let mut line = problems
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        let _ = write!(line, "; and {} more", problems.len() - SHOWN);
    }
    let _ = writeln!(out, "\nnote: not indexed: {line}");
}

/// `docs list`: every document, grouped (API kinds, guides, local), with aligned columns.
pub fn list(index: &Index, problems: &[String]) -> String {
    type Member = fn(&Doc) -> bool;
    let groups: [(&str, Member); 3] = [
        ("API kinds", |d| {
            d.origin == Origin::Embedded && d.kind.is_some()
        }),
        ("Guides", |d| {
            d.origin == Origin::Embedded && d.kind.is_none()
        }),
        ("Local documents (--docs-dir)", |d| {
            d.origin != Origin::Embedded
        }),
    ];
    let width = index.docs.iter().map(|d| d.id.len()).max().unwrap_or(0);
    let mut out = format!("{} documents\n", index.docs.len());
    for (name, member) in groups {
        let docs: Vec<&Doc> = index.docs.iter().filter(|d| member(d)).collect();
        if docs.is_empty() {
            continue;
        }
        // Per group: long guide titles must not push the API kinds' apiVersions off screen.
        let title_width = docs
            .iter()
            .map(|d| d.title.chars().count())
            .max()
            .unwrap_or(0);
        let _ = writeln!(out, "\n{name} ({}):", docs.len());
        for doc in docs {
            let detail = match &doc.origin {
                Origin::Local(path) => path.display().to_string(),
                Origin::Embedded => doc.api_version.clone().unwrap_or_default(),
            };
            let line = format!("  {:width$}  {:title_width$}  {detail}", doc.id, doc.title);
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out.push_str(
        "\nSearch: flux-operator-mcp docs search \"<question, error message, field or kind>\" \
         [--limit N] [--format complete]\n",
    );
    problem_line(&mut out, problems);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::corpus::Source;

    fn fixture() -> Index {
        let long_body: String = (0..400)
            .map(|i| format!("line {i} about retries\n"))
            .collect();
        Index::build(vec![
            Source {
                id: "kinds/helmrelease".into(),
                text: format!(
                    "---\ntitle: HelmRelease\nkind: HelmRelease\napiVersion: helm.toolkit.fluxcd.io/v2\n---\n\
                     # HelmRelease\nInstalls charts.\n## Spec fields\n### `spec.install.remediation.retries`\n\
                     Retries before giving up.\n```yaml\n{long_body}```\n"
                ),
                origin: Origin::Embedded,
            },
            Source {
                id: "local/runbooks/helm".into(),
                text: "# Helm on-call\nRetries are capped at 3 on our clusters.\n".into(),
                origin: Origin::Local("/srv/runbooks/helm.md".into()),
            },
        ])
    }

    #[test]
    fn concise_hits_name_path_and_document_and_stay_in_budget() {
        let index = fixture();
        let out = search(
            &index,
            &[],
            "spec.install.remediation.retries",
            None,
            1,
            Format::Concise,
        );
        assert!(
            out.starts_with("## HelmRelease › Spec fields › spec.install.remediation.retries\n"),
            "{out}"
        );
        assert!(
            out.contains("Document: kinds/helmrelease (HelmRelease, helm.toolkit.fluxcd.io/v2)"),
            "{out}"
        );
        assert!(out.len() < CONCISE_BUDGET + 1024, "{} bytes", out.len());
        assert!(out.contains("[… section continues"), "{out}");
        // The cut inside the YAML block is closed so the rest renders as text.
        let fences = out.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "{out}");
        assert!(out.contains("More matches"), "{out}");
    }

    #[test]
    fn local_documents_are_marked() {
        let index = fixture();
        let out = search(&index, &[], "helm on-call capped", None, 1, Format::Concise);
        assert!(
            out.contains("Document: local/runbooks/helm (local file /srv/runbooks/helm.md)"),
            "{out}"
        );
    }

    #[test]
    fn complete_returns_whole_documents_once_each() {
        let index = fixture();
        let out = search(&index, &[], "retries", None, 5, Format::Complete);
        assert_eq!(
            out.matches("Document: kinds/helmrelease").count(),
            1,
            "{out}"
        );
        assert!(out.contains("line 399 about retries"));
        assert!(out.contains("Document: local/runbooks/helm"));
    }

    #[test]
    fn empty_and_useless_queries_get_help_not_errors() {
        let index = fixture();
        let empty = search(&index, &[], "  ", None, 1, Format::Concise);
        assert!(empty.starts_with("The query is empty."), "{empty}");
        assert!(empty.contains("API references: HelmRelease."), "{empty}");
        assert!(
            !empty.contains("Guides:"),
            "no guide in the fixture: {empty}"
        );
        assert!(
            empty.contains("Local documents (--docs-dir): 1."),
            "{empty}"
        );
        let stop = search(&index, &[], "how do I do it", None, 1, Format::Concise);
        assert!(stop.contains("it holds only common words"), "{stop}");
        // A pasted name that matches nothing is not "only common words".
        let name = search(&index, &[], "6f2c1a", None, 1, Format::Concise);
        assert!(
            name.starts_with("No Flux documentation matches \"6f2c1a\"."),
            "{name}"
        );
        let unknown = search(&index, &[], "qqqqzzzz", None, 1, Format::Concise);
        assert!(
            unknown.starts_with("No Flux documentation matches \"qqqqzzzz\"."),
            "{unknown}"
        );
    }

    #[test]
    fn notes_name_a_dozen_unknown_words_at_most() {
        let index = fixture();
        let words: Vec<String> = (0..30)
            .map(|i| format!("zz{}", "q".repeat(i + 3)))
            .collect();
        let out = search(
            &index,
            &[],
            &format!("retries {}", words.join(" ")),
            None,
            1,
            Format::Concise,
        );
        let note = out
            .lines()
            .find(|l| l.starts_with("note: no document mentions:"))
            .unwrap_or_default();
        assert!(note.ends_with(" and 18 more"), "{note}");
        assert_eq!(shorten("ééé", 3), "é…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn an_unmatched_long_query_is_not_echoed_whole() {
        let index = fixture();
        let paste = "qzx ".repeat(50_000);
        let out = search(&index, &[], &paste, None, 1, Format::Concise);
        assert!(out.len() < 4096, "{} bytes", out.len());
        assert!(
            out.starts_with("No Flux documentation matches \"qzx qzx"),
            "{out}"
        );
        assert!(out.contains("…\""), "{out}");
    }

    #[test]
    fn problems_and_capped_limits_are_one_line_each() {
        let index = fixture();
        let problems: Vec<String> = (1..=5)
            .map(|i| format!("/x/{i}.md: permission denied"))
            .collect();
        let out = search(&index, &problems, "retries", None, 50, Format::Concise);
        assert!(out.contains("note: limit is at most 10"), "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with("note: not indexed:"))
            .unwrap();
        assert!(
            line.ends_with("/x/3.md: permission denied; and 2 more"),
            "{line}"
        );
    }

    #[test]
    fn list_groups_and_aligns() {
        let index = fixture();
        let out = list(&index, &[]);
        assert_eq!(
            out,
            "2 documents\n\nAPI kinds (1):\n  kinds/helmrelease    HelmRelease  helm.toolkit.fluxcd.io/v2\n\
             \nLocal documents (--docs-dir) (1):\n  local/runbooks/helm  Helm on-call  /srv/runbooks/helm.md\n\
             \nSearch: flux-operator-mcp docs search \"<question, error message, field or kind>\" \
             [--limit N] [--format complete]\n"
        );
    }

    #[test]
    fn clip_prefers_line_ends() {
        let (text, clipped) = clip("aaaa\nbbbb\ncccc", 12);
        assert_eq!((text.as_str(), clipped), ("aaaa\nbbbb", true));
        let (text, clipped) = clip("short", 12);
        assert_eq!((text.as_str(), clipped), ("short", false));
        let (text, _) = clip("ééééééé", 5);
        assert_eq!(text, "éé");
    }
}
