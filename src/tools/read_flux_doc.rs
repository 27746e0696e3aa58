//! `read_flux_doc`: reads one document of the embedded Flux documentation (or a `--docs-dir`
//! runbook), whole or one section, a window of lines at a time. Offline: it reads no cluster,
//! no network and no file (documents come from the index the first search built).

use serde_json::{Value, json};

use super::{Args, Ctx, Tool, ToolError};
use crate::docs::{self, MAX_PATH_CHARS, ReadRequest};

/// Lines per answer when `limit` is not given, and the most honoured.
const DEFAULT_LINES: usize = 400;
const MAX_LINES: usize = 1000;
/// At most this many bytes per answer; the text is cut on a line boundary.
const MAX_BYTES: usize = 30 * 1024;

pub const TOOL: Tool = Tool {
    name: "read_flux_doc",
    title: "Read Flux documentation",
    description: "Reads a document of the Flux documentation embedded in this server (offline), \
        or one section of it: search_flux_docs first, then read the section a hit names for the \
        rest of it. path is the document (kinds/helmrelease, guides/troubleshooting, a title \
        such as HelmRelease, or a local runbook's path); heading picks a section with its \
        subsections (spec.install.remediation, Common failures, or a section path such as \
        Spec fields › spec.interval). Answers at most 400 lines (limit, up to 1000) and 30 KB, \
        saying which lines of how many it shows and the offset to go on from. An unknown path \
        gets the closest document ids; an unknown heading gets the document's outline.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    access: super::Access::Read,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_PATH_CHARS,
                "description": "The document: its id as search hits name it (kinds/helmrelease), \
                    its file name, its title or kind (HelmRelease), or a local runbook's path."
            },
            "heading": {
                "type": "string",
                "description": "Read only this section (with its subsections): its heading, \
                    case-insensitive, without backticks (spec.interval), or its section path \
                    (HelmRelease › Spec fields › spec.interval)."
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "The first line to show, a line number of the document (as in \
                    \"next: offset=...\"); within a section, from the section's first line."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LINES,
                "default": DEFAULT_LINES,
                "description": "At most this many lines."
            }
        },
        "required": ["path"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let path = args.str("path").map_err(|_| {
        ToolError::InvalidArgument(
            "path is required: a document id such as kinds/helmrelease (search_flux_docs names them)"
                .to_string(),
        )
    })?;
    let heading = args.opt_str("heading")?;
    // 0 means "the default" to several clients, as for search_flux_docs' limit.
    let offset = match args.opt_u64("offset")? {
        None | Some(0) => None,
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let asked = match args.opt_u64("limit")? {
        None | Some(0) => DEFAULT_LINES,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let request = ReadRequest {
        path,
        heading,
        offset,
        lines: asked.min(MAX_LINES),
        max_bytes: MAX_BYTES - CAP_NOTE_ROOM,
    };
    let mut out = docs::run_read(&request, &ctx.settings.docs_dirs)
        .map_err(|e| ToolError::InvalidArgument(e.to_string()))?;
    if asked > MAX_LINES {
        out.push_str(&format!(
            "\nnote: limit is at most {MAX_LINES} lines; showing up to {MAX_LINES}.\n"
        ));
    }
    Ok(out)
}

/// Room for the capped-limit note within [`MAX_BYTES`].
const CAP_NOTE_ROOM: usize = 80;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::config::Env;
    use crate::tools::{Clusters, Session, Settings};
    use serde_json::Map;

    fn run(arguments: Value) -> Result<String, ToolError> {
        let settings = Settings::default();
        let session = Session::default();
        let clusters = Clusters::new(&settings, Env::default());
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        let map: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
        (TOOL.call)(&ctx, &Args(&map))
    }

    /// `N` from "next: offset=N", if the answer has one.
    fn next_offset(out: &str) -> Option<usize> {
        let rest = out.rsplit("next: offset=").next()?;
        if rest.len() == out.len() {
            return None;
        }
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    #[test]
    fn schema_matches_the_upstream_contract() {
        let schema = (TOOL.input_schema)();
        assert_eq!(schema["required"], json!(["path"]));
        assert_eq!(schema["properties"]["path"]["maxLength"], 300);
        assert_eq!(schema["properties"]["limit"]["maximum"], 1000);
        assert_eq!(schema["properties"]["limit"]["default"], 400);
        assert_eq!(schema["properties"]["offset"]["minimum"], 1);
        let (read_only, in_cluster, open_world) = (
            TOOL.annotations.read_only,
            TOOL.in_cluster,
            TOOL.annotations.open_world,
        );
        assert!(read_only && in_cluster && !open_world);
    }

    #[test]
    fn a_whole_document_is_paged_to_its_end_under_30_kb_each() {
        let mut offset = 1;
        let mut pages = 0;
        let mut seen_last = false;
        while pages < 50 {
            let out = run(json!({"path": "kinds/helmrelease", "offset": offset})).unwrap();
            assert!(out.len() <= MAX_BYTES, "{} bytes", out.len());
            assert!(out.starts_with("Document: kinds/helmrelease ("), "{out}");
            assert!(
                out.lines()
                    .nth(1)
                    .is_some_and(|l| l.starts_with(&format!("Lines {offset}–"))),
                "{out}"
            );
            pages += 1;
            match next_offset(&out) {
                Some(next) => {
                    assert!(next > offset, "{out}");
                    offset = next;
                }
                None => {
                    seen_last = true;
                    break;
                }
            }
        }
        assert!(seen_last && pages > 1, "{pages} pages");
    }

    #[test]
    fn a_section_is_read_by_heading_and_paths_are_lenient() {
        let out =
            run(json!({"path": "HelmRelease", "heading": "spec.install.remediation.retries"}))
                .unwrap();
        assert!(
            out.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("Section: HelmRelease › ")
                    && l.contains("spec.install.remediation.retries (lines ")),
            "{out}"
        );
        assert!(
            out.contains("### `spec.install.remediation.retries`"),
            "{out}"
        );
    }

    #[test]
    fn errors_are_invalid_arguments_with_what_would_work() {
        let unknown = run(json!({"path": "kinds/helmrelase"})).unwrap_err();
        assert!(
            matches!(&unknown, ToolError::InvalidArgument(m) if m.contains("closest: kinds/helmrelease")),
            "{unknown:?}"
        );
        let heading =
            run(json!({"path": "kinds/helmrelease", "heading": "no such heading"})).unwrap_err();
        assert!(
            matches!(&heading, ToolError::InvalidArgument(m) if m.contains("outline (line, heading):\n")),
            "{heading:?}"
        );
        assert!(heading.to_string().len() <= MAX_BYTES);
        assert!(
            matches!(run(json!({})), Err(ToolError::InvalidArgument(m)) if m.starts_with("path is required"))
        );
        assert!(
            matches!(run(json!({"path": "x".repeat(301)})), Err(ToolError::InvalidArgument(m)) if m.starts_with("path is 301 characters"))
        );
        assert!(
            matches!(run(json!({"path": "kinds/helmrelease", "offset": 999_999})), Err(ToolError::InvalidArgument(m)) if m.starts_with("offset 999999 is past the last line of kinds/helmrelease"))
        );
        assert!(
            matches!(run(json!({"path": "kinds/helmrelease", "limit": "lots"})), Err(ToolError::InvalidArgument(m)) if m.contains("limit"))
        );
    }

    #[test]
    fn limits_are_capped_with_a_note_and_zero_means_default() {
        let out = run(json!({"path": "kinds/kustomization", "limit": 5000})).unwrap();
        assert!(
            out.ends_with("note: limit is at most 1000 lines; showing up to 1000.\n"),
            "{out}"
        );
        assert!(out.len() <= MAX_BYTES, "{} bytes", out.len());
        let out = run(json!({"path": "guides/sops", "limit": "3", "offset": "0"})).unwrap();
        assert!(
            out.lines().nth(1)
                == Some(&*format!(
                    "Lines 1–3 of {}.",
                    out.split(" of ")
                        .nth(1)
                        .and_then(|r| r.split('.').next())
                        .unwrap_or("")
                )),
            "{out}"
        );
        assert_eq!(next_offset(&out), Some(4), "{out}");
    }
}
