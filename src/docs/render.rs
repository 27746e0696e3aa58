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

/// The answer to one search.
pub fn search(
    index: &Index,
    problems: &[String],
    query: &str,
    limit: usize,
    format: Format,
) -> String {
    let query = query.trim();
    let ranking = if query.is_empty() {
        Ranking::default()
    } else {
        index.search(query)
    };
    let mut out = if ranking.hits.is_empty() {
        no_match(index, query, &ranking)
    } else {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut text = match format {
            Format::Concise => concise(index, &ranking.hits, limit),
            Format::Complete => complete(index, &ranking.hits, limit),
        };
        notes(&mut text, &ranking);
        text
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

/// The best sections, each clipped to its share of the budget. A section whose ancestor or
/// descendant is already shown is skipped: its text would repeat.
fn concise(index: &Index, hits: &[Hit], limit: usize) -> String {
    let mut shown: Vec<u32> = Vec::new();
    let mut rest = Vec::new();
    for hit in hits {
        let related = shown.iter().any(|&s| related(index, s, hit.section));
        if related {
            continue;
        }
        if shown.len() < limit {
            shown.push(hit.section);
        } else if rest.len() < MORE_MATCHES {
            rest.push(hit.section);
        } else {
            break;
        }
    }
    let budget = (CONCISE_BUDGET / shown.len().max(1)).max(MIN_HIT_BUDGET);
    let mut out = String::new();
    for (i, &section) in shown.iter().enumerate() {
        if i > 0 {
            out.push_str("\n---\n\n");
        }
        let sec = &index.sections[section as usize];
        let doc = index.doc_of(section);
        let _ = writeln!(out, "## {}", index.path(section).join(" › "));
        let _ = writeln!(out, "{}\n", describe(doc));
        let (text, clipped) = clip(doc.text[sec.body_start..sec.subtree_end].trim(), budget);
        out.push_str(&text);
        out.push('\n');
        if clipped {
            let _ = writeln!(
                out,
                "\n[… section continues; format=complete returns the whole document {}]",
                doc.id
            );
        }
    }
    if !rest.is_empty() {
        let _ = writeln!(
            out,
            "\nMore matches (raise limit, or use format=complete for whole documents):"
        );
        for section in rest {
            let _ = writeln!(
                out,
                "- {} ({})",
                index.path(section).join(" › "),
                index.doc_of(section).id
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
        let _ = writeln!(out, "Best match: {}\n", index.path(best).join(" › "));
        out.push_str(doc.text[doc.body_start..].trim());
        out.push('\n');
    }
    out
}

/// `Document: kinds/helmrelease (HelmRelease, helm.toolkit.fluxcd.io/v2)`; local files say so.
fn describe(doc: &Doc) -> String {
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
fn problem_line(out: &mut String, problems: &[String]) {
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
        let out = search(&index, &[], "helm on-call capped", 1, Format::Concise);
        assert!(
            out.contains("Document: local/runbooks/helm (local file /srv/runbooks/helm.md)"),
            "{out}"
        );
    }

    #[test]
    fn complete_returns_whole_documents_once_each() {
        let index = fixture();
        let out = search(&index, &[], "retries", 5, Format::Complete);
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
        let empty = search(&index, &[], "  ", 1, Format::Concise);
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
        let stop = search(&index, &[], "how do I do it", 1, Format::Concise);
        assert!(stop.contains("it holds only common words"), "{stop}");
        // A pasted name that matches nothing is not "only common words".
        let name = search(&index, &[], "6f2c1a", 1, Format::Concise);
        assert!(
            name.starts_with("No Flux documentation matches \"6f2c1a\"."),
            "{name}"
        );
        let unknown = search(&index, &[], "qqqqzzzz", 1, Format::Concise);
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
        let out = search(&index, &[], &paste, 1, Format::Concise);
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
        let out = search(&index, &problems, "retries", 50, Format::Concise);
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
