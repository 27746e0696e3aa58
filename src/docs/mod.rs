//! The embedded Flux documentation: corpus blob, tokenizer, inverted index, ranking.
//! Does no network I/O and cannot fail at run time. OWNER: issue 5 (docs). Stub: the
//! signatures below are the contract the CLI (`docs search`, `docs list`) and the
//! `search_flux_docs` tool use.

use std::path::PathBuf;
use std::str::FromStr;

/// `concise` returns the best sections within a size budget; `complete` whole documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Concise,
    Complete,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "concise" => Ok(Format::Concise),
            "complete" => Ok(Format::Complete),
            other => Err(format!("format must be concise or complete, got {other:?}")),
        }
    }
}

/// Search the corpus (plus markdown under `docs_dirs`) and render the hits as the text both the
/// tool and `flux-operator-mcp docs search` print.
pub fn run_search(_query: &str, _limit: usize, _format: Format, _docs_dirs: &[PathBuf]) -> String {
    String::from("docs search is not implemented yet")
}

/// One line per document (id, title), for `flux-operator-mcp docs list`.
pub fn run_list(_docs_dirs: &[PathBuf]) -> String {
    String::from("docs list is not implemented yet")
}
