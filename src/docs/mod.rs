//! The embedded Flux documentation: corpus blob, tokenizer, inverted index, ranking, rendering.
//! Does no network I/O and cannot fail at run time: problems (an unreadable `--docs-dir` file)
//! become a line in the answer. The corpus is inflated and indexed once, on the first search,
//! never at start-up.
//!
//! `run_search`, `run_read` and `run_list` are the contract with the CLI (`docs search`,
//! `docs read`, `docs list`) and the `search_flux_docs` and `read_flux_doc` tools; [`Library`]
//! is for tests and benchmarks.

mod container;
mod corpus;
mod document;
mod index;
mod interner;
mod locate;
mod read;
mod render;
mod tokenize;
mod words;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

pub use locate::{Error, MAX_PATH_CHARS};
pub use read::Request as ReadRequest;
pub use render::MAX_LIMIT;

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
/// tool and `flux-operator-mcp docs search` print. `limit` counts hits (1 to [`MAX_LIMIT`]).
pub fn run_search(query: &str, limit: usize, format: Format, docs_dirs: &[PathBuf]) -> String {
    with_library(docs_dirs, |library| library.search(query, limit, format))
}

/// [`run_search`] within the one document `path` names (any form [`Library::read`] accepts);
/// an empty query gives that document's outline. Fails only when `path` names no document, or
/// several.
pub fn run_search_in(
    path: &str,
    query: &str,
    limit: usize,
    format: Format,
    docs_dirs: &[PathBuf],
) -> Result<String, Error> {
    with_library(docs_dirs, |library| {
        library.search_in(path, query, limit, format)
    })
}

/// A document, or one section of it, a window of lines at a time: what `read_flux_doc` and
/// `flux-operator-mcp docs read` print.
pub fn run_read(request: &ReadRequest, docs_dirs: &[PathBuf]) -> Result<String, Error> {
    with_library(docs_dirs, |library| library.read(request))
}

/// One line per document (id, title, apiVersion or path), for `flux-operator-mcp docs list`.
pub fn run_list(docs_dirs: &[PathBuf]) -> String {
    with_library(docs_dirs, Library::list)
}

/// The size of the compressed corpus compiled into the binary, in bytes.
pub fn compressed_corpus_size() -> usize {
    corpus::compressed_size()
}

/// The process-wide libraries. A server has one set of `--docs-dir`s for its whole life, so one
/// cached library with local documents is enough; another set (only tests do that) is indexed
/// afresh for that call.
static EMBEDDED: OnceLock<Library> = OnceLock::new();
static WITH_LOCAL: OnceLock<(Vec<PathBuf>, Library)> = OnceLock::new();

fn with_library<R>(docs_dirs: &[PathBuf], f: impl FnOnce(&Library) -> R) -> R {
    if docs_dirs.is_empty() {
        return f(EMBEDDED.get_or_init(|| Library::load(&[])));
    }
    let (dirs, library) = WITH_LOCAL.get_or_init(|| (docs_dirs.to_vec(), Library::load(docs_dirs)));
    if dirs == docs_dirs {
        f(library)
    } else {
        f(&Library::load(docs_dirs))
    }
}

/// The embedded corpus plus local documents, indexed.
pub struct Library {
    index: index::Index,
    /// What could not be read (`path: reason`), reported in every answer.
    problems: Vec<String>,
}

/// What `docs list` and the tests know about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo<'a> {
    /// `kinds/helmrelease`, `guides/troubleshooting`, `local/<dir>/<path>`.
    pub id: &'a str,
    pub title: &'a str,
    /// The Flux kind an API document describes (front matter `kind`).
    pub kind: Option<&'a str>,
    /// The file a `--docs-dir` document was read from; `None` for the embedded corpus.
    pub local_path: Option<&'a Path>,
    /// Size of the markdown, front matter included.
    pub bytes: usize,
}

impl Library {
    /// Inflate the embedded corpus, read `docs_dirs` and index everything. Not cached: the
    /// benchmarks time it.
    pub fn load(docs_dirs: &[PathBuf]) -> Library {
        let mut problems = Vec::new();
        let mut sources = match corpus::embedded() {
            Ok(sources) => sources,
            Err(e) => {
                problems.push(e.to_string());
                Vec::new()
            }
        };
        let local = corpus::local(docs_dirs);
        sources.extend(local.sources);
        problems.extend(local.problems);
        Library {
            index: index::Index::build(sources),
            problems,
        }
    }

    /// Only the given markdown documents (`(path, text)`), indexed as `--docs-dir` files
    /// would be, without the embedded corpus. A fuzzing entry point (`fuzz/`, target
    /// `docs_markdown`): it reaches the document parser, the index and the renderer without a
    /// file system or the cost of indexing the corpus on every input.
    #[doc(hidden)]
    pub fn from_markdown(docs: &[(&str, &str)]) -> Library {
        let sources = docs
            .iter()
            .map(|(path, text)| corpus::Source {
                id: format!("local/{path}"),
                text: (*text).to_string(),
                origin: corpus::Origin::Local(PathBuf::from(path)),
            })
            .collect();
        Library {
            index: index::Index::build(sources),
            problems: Vec::new(),
        }
    }

    /// The rendered answer to a query (what `run_search` prints).
    pub fn search(&self, query: &str, limit: usize, format: Format) -> String {
        render::search(&self.index, &self.problems, query, None, limit, format)
    }

    /// The rendered answer to a query within one document (what `run_search_in` prints).
    pub fn search_in(
        &self,
        path: &str,
        query: &str,
        limit: usize,
        format: Format,
    ) -> Result<String, Error> {
        let doc = locate::document(&self.index, path)?;
        Ok(render::search(
            &self.index,
            &self.problems,
            query,
            Some(doc),
            limit,
            format,
        ))
    }

    /// A document or section, a window at a time (what `run_read` prints).
    pub fn read(&self, request: &ReadRequest) -> Result<String, Error> {
        read::read(&self.index, &self.problems, request)
    }

    /// How well the best hit for `query` answers it (see [`render::STRONG`]): 0 without hits.
    pub fn strength(&self, query: &str) -> f32 {
        let ranking = self.index.search(query);
        ranking
            .hits
            .first()
            .map_or(0.0, |best| self.index.strength(&ranking, best.section))
    }

    /// The threshold below which an answer says "no strong match".
    pub const STRONG: f32 = render::STRONG;

    /// The rendered document list (what `run_list` prints).
    pub fn list(&self) -> String {
        render::list(&self.index, &self.problems)
    }

    /// The ids of the documents holding the best sections, best first, each once.
    pub fn ranked_documents(&self, query: &str, n: usize) -> Vec<&str> {
        let hits = self.index.search(query).hits;
        render::best_documents(&self.index, &hits, n)
            .into_iter()
            .map(|(doc, _)| self.index.docs[doc as usize].id.as_str())
            .collect()
    }

    /// Every indexed document, embedded ones first (sorted by id), then local ones.
    pub fn documents(&self) -> impl Iterator<Item = DocumentInfo<'_>> {
        self.index.docs.iter().map(|d| DocumentInfo {
            id: &d.id,
            title: &d.title,
            kind: d.kind.as_deref(),
            local_path: match &d.origin {
                corpus::Origin::Local(path) => Some(path.as_path()),
                corpus::Origin::Embedded => None,
            },
            bytes: d.text.len(),
        })
    }

    /// Files that could not be read, as `path: reason`.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parses_leniently_and_names_bad_values() {
        assert_eq!(" Complete ".parse::<Format>(), Ok(Format::Complete));
        assert_eq!("concise".parse::<Format>(), Ok(Format::Concise));
        assert_eq!(
            "full".parse::<Format>(),
            Err("format must be concise or complete, got \"full\"".to_string())
        );
    }

    #[test]
    fn the_library_is_built_once_per_docs_dirs() {
        let a = with_library(&[], |l| l as *const Library);
        let b = with_library(&[], |l| l as *const Library);
        assert_eq!(a, b);
    }
}
