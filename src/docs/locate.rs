//! Documents and sections named the way an agent names them: a document by its id
//! (`kinds/helmrelease`), its file name with or without `.md`, its title or kind (`HelmRelease`),
//! an upstream-style path or URL (`flux/components/helm/helmreleases/`), or a local runbook's
//! path; a section by its heading (code spans and `#` marks optional) or its section path
//! (`Spec fields › spec.interval`). What cannot be found is answered with the closest names.

use std::fmt;

use super::corpus::Origin;
use super::index::Index;
use super::tokenize;

/// A path or heading that names nothing, or more than one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No document answers to `path`; `closest` are the ids that look most like it.
    UnknownPath { path: String, closest: Vec<String> },
    /// `path` names several documents (a bare file name two `--docs-dir`s share).
    AmbiguousPath { path: String, matches: Vec<String> },
    /// No section of `doc` has the heading; `outline` lists the document's headings.
    UnknownHeading {
        doc: String,
        heading: String,
        closest: Vec<String>,
        outline: String,
    },
    /// A path longer than [`MAX_PATH_CHARS`]: a pasted document, not a name.
    PathTooLong { chars: usize },
    /// `offset` is past the last line of what was asked for.
    OffsetPastEnd {
        offset: usize,
        last: usize,
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownPath { path, closest } => {
                write!(f, "no document {path:?}")?;
                if !closest.is_empty() {
                    write!(f, "; closest: {}", closest.join(", "))?;
                }
                f.write_str(" (docs list, or search_flux_docs, names every document)")
            }
            Error::AmbiguousPath { path, matches } => write!(
                f,
                "{path:?} names {} documents: {}; pass one of these ids",
                matches.len(),
                matches.join(", ")
            ),
            Error::UnknownHeading {
                doc,
                heading,
                closest,
                outline,
            } => {
                write!(f, "no heading {heading:?} in {doc}")?;
                if !closest.is_empty() {
                    write!(f, "; closest: {}", closest.join(", "))?;
                }
                write!(f, ". Its outline (line, heading):\n{outline}")
            }
            Error::PathTooLong { chars } => write!(
                f,
                "path is {chars} characters; at most {MAX_PATH_CHARS}: a document id such as \
                 kinds/helmrelease"
            ),
            Error::OffsetPastEnd { offset, last, what } => {
                write!(
                    f,
                    "offset {offset} is past the last line of {what} ({last})"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// How many close names an error offers.
const CLOSEST: usize = 5;

/// The longest path accepted (upstream's limit): ids are short.
pub const MAX_PATH_CHARS: usize = 300;

/// The document `path` names.
pub fn document(index: &Index, path: &str) -> Result<u32, Error> {
    let chars = path.chars().count();
    if chars > MAX_PATH_CHARS {
        return Err(Error::PathTooLong { chars });
    }
    let given = normalise_path(path);
    let raw = path.trim();
    // Each rule is tried on every document before the next, looser one: an exact id wins over
    // a title that happens to equal another document's file name.
    let rules: [&dyn Fn(&super::index::Doc) -> bool; 5] = [
        &|d| d.id.eq_ignore_ascii_case(&given),
        &|d| match &d.origin {
            Origin::Local(file) => {
                let file = file.to_string_lossy();
                file == raw || strip_markdown_extension(&file) == strip_markdown_extension(raw)
            }
            Origin::Embedded => false,
        },
        &|d| {
            let id = d.id.to_ascii_lowercase();
            id.strip_suffix(&given)
                .is_some_and(|head| head.ends_with('/'))
        },
        &|d| {
            let title = squash(&d.title);
            title == squash(&given)
                || d.kind
                    .as_deref()
                    .is_some_and(|k| squash(k) == squash(&given))
        },
        // `flux/components/helm/helmreleases`: the last part, singular, against file names
        // and titles.
        &|d| {
            let last = given.rsplit('/').next().unwrap_or(&given);
            let wanted = singular(&squash(last));
            let stem = d.id.rsplit('/').next().unwrap_or(&d.id);
            !wanted.is_empty()
                && (singular(&squash(stem)) == wanted || singular(&squash(&d.title)) == wanted)
        },
    ];
    for rule in rules {
        let found: Vec<u32> = (0..index.docs.len() as u32)
            .filter(|&d| rule(&index.docs[d as usize]))
            .collect();
        match found.as_slice() {
            [] => continue,
            [one] => return Ok(*one),
            many => {
                return Err(Error::AmbiguousPath {
                    path: raw.to_string(),
                    matches: many
                        .iter()
                        .map(|&d| index.docs[d as usize].id.clone())
                        .collect(),
                });
            }
        }
    }
    Err(Error::UnknownPath {
        path: raw.to_string(),
        closest: closest_documents(index, &given),
    })
}

/// The sections of `doc` whose heading, or whose section path (whole or its last parts), is
/// `heading`; in document order.
pub fn sections(index: &Index, doc: u32, heading: &str) -> Vec<u32> {
    let wanted = normalise_heading(heading);
    if wanted.is_empty() {
        return Vec::new();
    }
    let range = index.docs[doc as usize].sections.clone();
    let by_heading: Vec<u32> = range
        .clone()
        .filter(|&s| normalise_heading(&index.sections[s as usize].heading) == wanted)
        .collect();
    if !by_heading.is_empty() {
        return by_heading;
    }
    range
        .filter(|&s| {
            let path: Vec<String> = index.path(s).iter().map(|p| normalise_heading(p)).collect();
            (0..path.len()).any(|from| {
                SEPARATORS
                    .iter()
                    .any(|sep| path[from..].join(sep) == wanted)
            })
        })
        .collect()
}

/// A field heading with the fields under it: `spec.install` is followed by its own sibling
/// headings `spec.install.timeout`, `spec.install.remediation.retries`, ..., which belong to
/// it. Returns the last section of that run after `first` (`first` itself when none follows).
/// `field` is a field path (`spec.install.remediation`) that may itself have no heading.
pub fn field_run(index: &Index, doc: u32, first: u32, field: &str) -> u32 {
    let field = normalise_heading(field);
    if field.is_empty() || field.contains(' ') || !field.contains('.') {
        return first;
    }
    let mut last = first;
    for s in first + 1..index.docs[doc as usize].sections.end {
        if !is_under(
            &normalise_heading(&index.sections[s as usize].heading),
            &field,
        ) {
            break;
        }
        last = s;
    }
    last
}

/// The first section of `doc` headed by a field under `field` (`spec.install.remediation.retries`
/// for `spec.install.remediation`), when `field` has no heading of its own.
pub fn first_under(index: &Index, doc: u32, field: &str) -> Option<u32> {
    let field = normalise_heading(field);
    if field.contains(' ') || !field.contains('.') {
        return None;
    }
    index.docs[doc as usize].sections.clone().find(|&s| {
        is_under(
            &normalise_heading(&index.sections[s as usize].heading),
            &field,
        )
    })
}

/// `spec.install.timeout` and `spec.dependsOn[].name` are under `spec.install`, `spec.dependsOn`.
fn is_under(heading: &str, field: &str) -> bool {
    heading
        .strip_prefix(field)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
}

/// How a section path may be written: ours (`›`), and what an agent types instead.
const SEPARATORS: &[&str] = &[" › ", "›", " > ", ">", " / ", "/"];

/// The headings of `doc` closest to `heading`, for an error.
pub fn closest_headings(index: &Index, doc: u32, heading: &str) -> Vec<String> {
    let wanted = normalise_heading(heading);
    let mut scored: Vec<(usize, u32)> = index.docs[doc as usize]
        .sections
        .clone()
        .map(|s| {
            let h = normalise_heading(&index.sections[s as usize].heading);
            (crate::text::edit_distance(&wanted, &h), s)
        })
        .filter(|&(d, _)| d <= wanted.chars().count() / 2)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(CLOSEST)
        .map(|(_, s)| index.sections[s as usize].heading.clone())
        .collect()
}

/// The document ids that look most like `given`: by edit distance to the id, its file name or
/// its title, whichever is closest.
fn closest_documents(index: &Index, given: &str) -> Vec<String> {
    let given_squashed = squash(given);
    let last = singular(&squash(given.rsplit('/').next().unwrap_or(given)));
    let mut scored: Vec<(usize, &str)> = index
        .docs
        .iter()
        .map(|d| {
            let stem = d.id.rsplit('/').next().unwrap_or(&d.id);
            let distance = [
                crate::text::edit_distance(given, &d.id.to_ascii_lowercase()),
                crate::text::edit_distance(&last, &singular(&squash(stem))),
                crate::text::edit_distance(&given_squashed, &squash(&d.title)),
            ]
            .into_iter()
            .min()
            .unwrap_or(usize::MAX);
            (distance, d.id.as_str())
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(CLOSEST)
        .map(|(_, id)| id.to_string())
        .collect()
}

/// Lowercase, no surrounding quotes or backticks, no `./`, leading or trailing `/`, no URL
/// scheme and host, no `.md`.
fn normalise_path(path: &str) -> String {
    let mut p = path
        .trim()
        .trim_matches(|c| matches!(c, '`' | '"' | '\''))
        .to_ascii_lowercase();
    if let Some(rest) = p.split_once("://").map(|(_, rest)| rest.to_string()) {
        // A URL: its path names the document.
        p = rest
            .split_once('/')
            .map_or(String::new(), |(_, path)| path.to_string());
        if let Some(cut) = p.find(['#', '?']) {
            p.truncate(cut);
        }
    }
    let p = p.trim_start_matches("./").trim_matches('/');
    strip_markdown_extension(p).to_string()
}

fn strip_markdown_extension(path: &str) -> &str {
    for ext in [".md", ".markdown", ".MD"] {
        if let Some(stem) = path.strip_suffix(ext) {
            return stem;
        }
    }
    path
}

/// Letters and digits only, lowercased: `Drift detection`, `drift-detection` and
/// `drift_detection` are one name.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The tokenizer's stem: `helmreleases` and `helmrelease` meet at `helmreleas`.
fn singular(word: &str) -> String {
    let mut out = String::new();
    tokenize::stem_into(word, &mut out);
    out
}

/// A heading as an agent may type it: `## `spec.interval``, `Spec.Interval`, `spec.interval`.
fn normalise_heading(heading: &str) -> String {
    let h = heading.trim().trim_start_matches('#').replace('`', "");
    h.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::corpus::Source;

    fn fixture() -> Index {
        let doc = |id: &str, text: &str, origin: Origin| Source {
            id: id.into(),
            text: text.into(),
            origin,
        };
        Index::build(vec![
            doc(
                "guides/drift-detection",
                "---\ntitle: Drift detection\n---\n# Drift detection\n## Helm releases\ntext\n",
                Origin::Embedded,
            ),
            doc(
                "kinds/helmrelease",
                "---\ntitle: HelmRelease\nkind: HelmRelease\n---\n# HelmRelease\nintro\n\
                 ## Spec fields\n### `spec.interval`\nHow often.\n## Status\n### `spec.interval`\nagain\n",
                Origin::Embedded,
            ),
            doc(
                "kinds/helmrepository",
                "---\ntitle: HelmRepository\nkind: HelmRepository\n---\n# HelmRepository\n",
                Origin::Embedded,
            ),
            doc(
                "local/runbooks/payments/ledger-failover",
                "# Ledger failover\npage the on-call\n",
                Origin::Local("/srv/runbooks/payments/ledger-failover.md".into()),
            ),
            doc(
                "local/other/ledger-failover",
                "# Ledger failover (old)\n",
                Origin::Local("/srv/other/ledger-failover.md".into()),
            ),
        ])
    }

    fn id(index: &Index, path: &str) -> Result<String, Error> {
        document(index, path).map(|d| index.docs[d as usize].id.clone())
    }

    #[test]
    fn documents_are_found_by_every_name_an_agent_uses() {
        let index = fixture();
        for path in [
            "kinds/helmrelease",
            "KINDS/HelmRelease.md",
            "helmrelease",
            "HelmRelease",
            " `kinds/helmrelease` ",
            "/kinds/helmrelease/",
            "flux/components/helm/helmreleases",
            "https://fluxcd.io/flux/components/helm/helmreleases/#spec",
        ] {
            assert_eq!(
                id(&index, path).as_deref(),
                Ok("kinds/helmrelease"),
                "{path}"
            );
        }
        assert_eq!(
            id(&index, "Drift detection").as_deref(),
            Ok("guides/drift-detection")
        );
        assert_eq!(
            id(&index, "drift_detection").as_deref(),
            Ok("guides/drift-detection")
        );
        for path in [
            "/srv/runbooks/payments/ledger-failover.md",
            "payments/ledger-failover.md",
            "runbooks/payments/ledger-failover",
            "local/runbooks/payments/ledger-failover",
        ] {
            assert_eq!(
                id(&index, path).as_deref(),
                Ok("local/runbooks/payments/ledger-failover"),
                "{path}"
            );
        }
    }

    #[test]
    fn unknown_and_ambiguous_paths_name_the_candidates() {
        let index = fixture();
        let Err(Error::UnknownPath { closest, .. }) = document(&index, "kinds/helmrelase") else {
            panic!("expected an unknown path");
        };
        assert_eq!(closest[0], "kinds/helmrelease");
        assert!(closest.contains(&"kinds/helmrepository".to_string()));
        let err = document(&index, "ledger-failover").unwrap_err();
        assert_eq!(
            err,
            Error::AmbiguousPath {
                path: "ledger-failover".into(),
                matches: vec![
                    "local/runbooks/payments/ledger-failover".into(),
                    "local/other/ledger-failover".into()
                ]
            }
        );
        assert!(err.to_string().contains("pass one of these ids"), "{err}");
    }

    #[test]
    fn headings_match_by_text_code_span_or_path() {
        let index = fixture();
        let hr = document(&index, "kinds/helmrelease").unwrap();
        let headings = |h: &str| -> Vec<String> {
            sections(&index, hr, h)
                .iter()
                .map(|&s| index.path(s).join(" › "))
                .collect()
        };
        let both = vec![
            "HelmRelease › Spec fields › spec.interval",
            "HelmRelease › Status › spec.interval",
        ];
        assert_eq!(headings("spec.interval"), both);
        assert_eq!(headings("### `SPEC.interval`"), both);
        assert_eq!(headings("Status › spec.interval"), vec![both[1]]);
        assert_eq!(headings("status > spec.interval"), vec![both[1]]);
        assert_eq!(
            headings("HelmRelease / Spec fields / spec.interval"),
            vec![both[0]]
        );
        assert_eq!(headings("spec fields"), vec!["HelmRelease › Spec fields"]);
        assert!(headings("spec.timeout").is_empty());
        let run = Index::build(vec![Source {
            id: "kinds/x".into(),
            text:
                "# X\n## Spec\n### `spec.install`\na\n### `spec.install.remediation.retries`\nb\n\
                   ### `spec.install.remediation.strategy`\nc\n### `spec.installed`\nd\n\
                   ### `spec.deps[].name`\ne\n"
                    .into(),
            origin: Origin::Embedded,
        }]);
        let heading = |s: u32| run.sections[s as usize].heading.as_str();
        let install = sections(&run, 0, "spec.install")[0];
        assert_eq!(
            heading(field_run(&run, 0, install, "spec.install")),
            "spec.install.remediation.strategy"
        );
        let under = first_under(&run, 0, "spec.install.remediation").unwrap();
        assert_eq!(heading(under), "spec.install.remediation.retries");
        assert_eq!(
            heading(field_run(&run, 0, under, "spec.install.remediation")),
            "spec.install.remediation.strategy"
        );
        assert_eq!(
            heading(first_under(&run, 0, "spec.deps").unwrap()),
            "spec.deps[].name"
        );
        assert_eq!(first_under(&run, 0, "Spec"), None);
        let spec = sections(&run, 0, "Spec")[0];
        assert_eq!(field_run(&run, 0, spec, "Spec"), spec);
        assert!(headings("  ").is_empty());
        assert_eq!(
            closest_headings(&index, hr, "spec.intervall"),
            vec!["spec.interval", "spec.interval"]
        );
    }
}
