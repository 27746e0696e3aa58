//! Reading a document, or one section of it, a window of lines at a time (`read_flux_doc`,
//! `docs read`), and the outline (headings with their line numbers) shown when a heading is
//! not found. Line numbers are those of the document's full text, front matter included, so
//! they are the lines of a local runbook's file and the lines search hits name.

use std::fmt::Write;

use super::index::Index;
use super::locate::{self, Error};
use super::render;

/// What to read.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// A document, named any way [`locate::document`] accepts.
    pub path: &'a str,
    /// One section (with its subsections), named any way [`locate::sections`] accepts.
    pub heading: Option<&'a str>,
    /// The first line to show (1-based, a line of the document); `None` starts at the
    /// document's or the section's first line.
    pub offset: Option<usize>,
    /// At most this many lines.
    pub lines: usize,
    /// At most this many bytes in the whole answer; the text is cut at a line end.
    pub max_bytes: usize,
}

/// Room kept for the closing line and notes when the text is fitted into `max_bytes`.
const FOOTER_ROOM: usize = 512;

/// The answer to a read: a header naming the document (and section) and the lines shown, the
/// lines verbatim, and where to go on from when there is more.
pub fn read(index: &Index, problems: &[String], request: &Request) -> Result<String, Error> {
    let doc = locate::document(index, request.path)?;
    let d = &index.docs[doc as usize];
    let lines: Vec<&str> = d.text.split_inclusive('\n').collect();
    let total = lines.len();
    let (first, last, section, others) = match request.heading {
        None => (1, total, None, Vec::new()),
        Some(heading) => {
            let found = locate::sections(index, doc, heading);
            let (section, others, family) = match found.split_first() {
                Some((&section, others)) => (section, others.to_vec(), false),
                // `spec.install.remediation`: no heading of its own, but its fields have.
                None => match locate::first_under(index, doc, heading) {
                    Some(section) => (section, Vec::new(), true),
                    None => {
                        return Err(Error::UnknownHeading {
                            doc: d.id.clone(),
                            heading: heading.trim().to_string(),
                            closest: locate::closest_headings(index, doc, heading),
                            outline: outline(
                                index,
                                doc,
                                request.max_bytes.saturating_sub(FOOTER_ROOM),
                            ),
                        });
                    }
                },
            };
            let from = index.lines(section).0;
            let to = index
                .lines(locate::field_run(index, doc, section, heading))
                .1;
            let mut label = index.path(section);
            let field = format!("{}.*", heading.trim().trim_matches('`'));
            if family && let Some(last) = label.last_mut() {
                *last = &field;
            }
            let label = label.join(" › ");
            (from as usize, to as usize, Some((section, label)), others)
        }
    };
    let start = request.offset.unwrap_or(first).max(first);
    if start > last || total == 0 {
        let what = match &section {
            Some((_, label)) => format!("section {label:?} of {}", d.id),
            None => d.id.clone(),
        };
        return Err(Error::OffsetPastEnd {
            offset: start,
            last,
            what,
        });
    }
    let wanted_end = last.min(start.saturating_add(request.lines.max(1) - 1));

    let mut head = render::describe(d);
    if let Some((_, label)) = &section {
        let _ = write!(head, "\nSection: {label} (lines {first}–{last})");
    }
    // The text: whole lines within the byte budget; a single line longer than the budget is
    // cut at a char boundary (only a local file can have one).
    let budget = request
        .max_bytes
        .saturating_sub(head.len() + FOOTER_ROOM)
        .max(1);
    let mut text = String::new();
    let mut end = start - 1;
    let mut cut_line = false;
    for line in &lines[start - 1..wanted_end] {
        if text.len() + line.len() > budget {
            if text.is_empty() {
                let at = crate::text::floor_char_boundary(line, budget);
                text.push_str(&line[..at]);
                text.push('\n');
                end += 1;
                cut_line = true;
            }
            break;
        }
        text.push_str(line);
        end += 1;
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }

    let mut out = head;
    let _ = writeln!(out, "\nLines {start}–{end} of {total}.\n");
    out.push_str(&text);
    if cut_line {
        let _ = writeln!(
            out,
            "\nnote: line {end} is longer than the answer's byte limit and was cut."
        );
    }
    if end < last {
        let same = if section.is_some() {
            " (same path and heading)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "\n[Lines {start}–{end} of {total}; next: offset={}{same}]",
            end + 1
        );
    }
    if !others.is_empty() {
        let listed: Vec<String> = others
            .iter()
            .map(|&s| {
                format!(
                    "{} (line {})",
                    index.path(s).join(" › "),
                    index.sections[s as usize].line
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\nnote: also headed so: {}; pass the section path as heading to read another.",
            listed.join("; ")
        );
    }
    render::problem_line(&mut out, problems);
    Ok(out)
}

/// The headings of a document with their line numbers, indented by level, at most `max_bytes`.
pub fn outline(index: &Index, doc: u32, max_bytes: usize) -> String {
    let d = &index.docs[doc as usize];
    let mut out = String::new();
    let sections = d.sections.clone();
    let count = sections.len();
    for (shown, s) in sections.enumerate() {
        let sec = &index.sections[s as usize];
        let line = format!(
            "{:>5}  {}{}\n",
            sec.line,
            "  ".repeat(usize::from(sec.level.saturating_sub(1))),
            sec.heading
        );
        if out.len() + line.len() > max_bytes {
            let _ = writeln!(out, "  … and {} more headings", count - shown);
            break;
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::corpus::{Origin, Source};

    fn fixture() -> Index {
        let fields: String = (0..50)
            .map(|i| format!("### `spec.field{i}`\nField {i} does things.\n"))
            .collect();
        Index::build(vec![
            Source {
                id: "kinds/helmrelease".into(),
                text: format!(
                    "---\ntitle: HelmRelease\nkind: HelmRelease\napiVersion: helm.toolkit.fluxcd.io/v2\n---\n\
                     # HelmRelease\nInstalls charts.\n## Spec fields\n{fields}## Status\n### `spec.field1`\nrepeated\n"
                ),
                origin: Origin::Embedded,
            },
            Source {
                id: "local/runbooks/helm".into(),
                text: "# Helm on-call\nline two\n".into(),
                origin: Origin::Local("/srv/runbooks/helm.md".into()),
            },
        ])
    }

    fn request<'a>(path: &'a str, heading: Option<&'a str>) -> Request<'a> {
        Request {
            path,
            heading,
            offset: None,
            lines: 400,
            max_bytes: 30 * 1024,
        }
    }

    #[test]
    fn a_document_is_read_in_windows_of_lines() {
        let index = fixture();
        let total = index.docs[0].text.lines().count();
        let out = read(
            &index,
            &[],
            &Request {
                lines: 10,
                ..request("helmrelease", None)
            },
        )
        .unwrap();
        let expected = format!(
            "Document: kinds/helmrelease (HelmRelease, helm.toolkit.fluxcd.io/v2)\n\
             Lines 1–10 of {total}.\n\n---\ntitle: HelmRelease\n"
        );
        assert!(out.starts_with(&expected), "{out}");
        assert!(
            out.ends_with(&format!("\n[Lines 1–10 of {total}; next: offset=11]\n")),
            "{out}"
        );
        let next = read(
            &index,
            &[],
            &Request {
                offset: Some(11),
                lines: 10,
                ..request("kinds/helmrelease", None)
            },
        )
        .unwrap();
        assert!(next.contains(&format!("Lines 11–20 of {total}.")), "{next}");
        let last = read(
            &index,
            &[],
            &Request {
                offset: Some(total),
                ..request("kinds/helmrelease", None)
            },
        )
        .unwrap();
        assert!(last.trim_end().ends_with("repeated"), "{last}");
        assert!(!last.contains("next:"), "{last}");
    }

    #[test]
    fn a_section_is_read_with_its_subsections_and_others_are_named() {
        let index = fixture();
        let out = read(
            &index,
            &[],
            &request("kinds/helmrelease", Some("spec.field1")),
        )
        .unwrap();
        let first = out.lines().nth(1).unwrap_or_default();
        assert_eq!(
            first,
            "Section: HelmRelease › Spec fields › spec.field1 (lines 11–12)"
        );
        assert!(out.contains("Lines 11–12 of "), "{out}");
        assert!(
            out.contains("### `spec.field1`\nField 1 does things.\n"),
            "{out}"
        );
        assert!(!out.contains("field2"), "{out}");
        assert!(
            out.contains("note: also headed so: HelmRelease › Status › spec.field1 (line "),
            "{out}"
        );
        let fields = read(
            &index,
            &[],
            &request("kinds/helmrelease", Some("Spec fields")),
        )
        .unwrap();
        assert!(fields.contains("spec.field49"), "{fields}");
        assert!(!fields.contains("## Status"), "{fields}");
    }

    #[test]
    fn answers_stay_under_the_byte_limit_and_cut_on_line_ends() {
        let index = fixture();
        let out = read(
            &index,
            &[],
            &Request {
                max_bytes: 1200,
                ..request("kinds/helmrelease", None)
            },
        )
        .unwrap();
        assert!(out.len() <= 1200, "{} bytes", out.len());
        let next = out
            .rsplit("next: offset=")
            .next()
            .and_then(|rest| rest.trim_end().trim_end_matches(']').parse::<usize>().ok())
            .unwrap();
        let shown_last = next - 1;
        let lines: Vec<&str> = index.docs[0].text.lines().collect();
        assert!(
            out.contains(&format!("{}\n\n[Lines", lines[shown_last - 1])),
            "cut after line {shown_last}: {out}"
        );
    }

    #[test]
    fn errors_name_what_is_wrong_and_what_exists() {
        let index = fixture();
        let err = read(&index, &[], &request("kinds/helmrelase", None)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no document \"kinds/helmrelase\"; closest: kinds/helmrelease"),
            "{err}"
        );
        let err = read(&index, &[], &request("helmrelease", Some("spec.feild1"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "no heading \"spec.feild1\" in kinds/helmrelease; closest: spec.field1"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n    6  HelmRelease\n    8    Spec fields\n"),
            "{text}"
        );
        let err = read(
            &index,
            &[],
            &Request {
                offset: Some(5000),
                ..request("kinds/helmrelease", Some("spec.field2"))
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "offset 5000 is past the last line of section \"HelmRelease › Spec fields › spec.field2\" \
             of kinds/helmrelease (14)"
        );
    }

    #[test]
    fn local_documents_are_marked_and_outlines_are_capped() {
        let index = fixture();
        let out = read(&index, &[], &request("/srv/runbooks/helm.md", None)).unwrap();
        assert!(
            out.starts_with(
                "Document: local/runbooks/helm (local file /srv/runbooks/helm.md)\nLines 1–2 of 2.\n\n# Helm on-call\nline two\n"
            ),
            "{out}"
        );
        let outline = outline(&index, 0, 200);
        assert!(outline.len() < 260, "{outline}");
        assert!(outline.ends_with("more headings\n"), "{outline}");
    }
}
