//! Where documents come from: the corpus that build.rs compressed into the binary, and the
//! markdown under `--docs-dir` (a team's runbooks). Reading local files never fails a search:
//! what cannot be read becomes a problem line in the output.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::container::{self, Error};

/// The container's length, then the zlib-compressed container, written by build.rs (container
/// format in container.rs).
static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docs-corpus.bin"));
/// Far above the corpus's size: a bound so a corrupt stream cannot exhaust memory.
const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// A local file larger than this is skipped (a runbook is a few KB; a 100 MB log renamed `.md`
/// would make every first search slow).
const MAX_LOCAL_FILE: u64 = 2 * 1024 * 1024;
/// At most this many local files, and this many bytes in all, are indexed across all
/// `--docs-dir`s: the index lives in memory for the server's lifetime.
const MAX_LOCAL_FILES: usize = 5_000;
const MAX_LOCAL_BYTES: usize = 64 * 1024 * 1024;

/// Where a document was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary.
    Embedded,
    /// A markdown file under a `--docs-dir`.
    Local(PathBuf),
}

/// One document's id and full text (front matter included).
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub text: String,
    pub origin: Origin,
}

/// Size of the compressed corpus in the binary, in bytes.
pub fn compressed_size() -> usize {
    BLOB.len()
}

/// Inflate and unpack the embedded corpus.
pub fn embedded() -> Result<Vec<Source>, Error> {
    unpack(&inflate(BLOB)?)
}

fn inflate(blob: &[u8]) -> Result<Vec<u8>, Error> {
    let (size, stream) = match blob {
        [a, b, c, d, stream @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, stream),
        _ => {
            return Err(Error::Truncated {
                what: "blob header",
                offset: 0,
            });
        }
    };
    if size > MAX_INFLATED {
        return Err(Error::Inflate(format!(
            "declared size {size} is over {MAX_INFLATED} bytes"
        )));
    }
    let mut out = vec![0u8; size];
    match miniz_oxide::inflate::decompress_slice_iter_to_slice(
        &mut out,
        std::iter::once(stream),
        true,
        false,
    ) {
        Ok(n) if n == size => Ok(out),
        Ok(n) => Err(Error::Inflate(format!(
            "{n} bytes inflated, {size} declared"
        ))),
        Err(status) => Err(Error::Inflate(format!("{status:?}"))),
    }
}

/// The embedded documents of a container build.rs wrote.
fn unpack(container: &[u8]) -> Result<Vec<Source>, Error> {
    let docs = container::unpack(container)?;
    Ok(docs
        .into_iter()
        .map(|(id, text)| Source {
            id,
            text,
            origin: Origin::Embedded,
        })
        .collect())
}

/// Local documents and the files that could not be read (`path: reason`).
#[derive(Debug, Default)]
pub struct LocalScan {
    pub sources: Vec<Source>,
    pub problems: Vec<String>,
}

/// Every `.md`/`.markdown` file under each dir, recursively, in sorted order. Hidden entries
/// (`.git`) are skipped; symlinked folders are followed once. A `--docs-dir` that names a single
/// markdown file indexes that file.
pub fn local(dirs: &[PathBuf]) -> LocalScan {
    let mut scan = LocalScan::default();
    let mut prefixes: Vec<String> = Vec::new();
    let mut visited = HashSet::new();
    let mut total = 0usize;
    for dir in dirs {
        let prefix = unique_prefix(dir, &mut prefixes);
        let mut files = Vec::new();
        match fs::metadata(dir) {
            Err(e) => scan
                .problems
                .push(format!("{}: {}", dir.display(), io_reason(&e))),
            Ok(meta) if meta.is_file() => files.push(dir.clone()),
            Ok(_) => walk(dir, &mut files, &mut visited, &mut scan.problems),
        }
        files.sort();
        for file in files {
            if scan.sources.len() >= MAX_LOCAL_FILES {
                scan.problems.push(format!(
                    "{}: skipped, more than {MAX_LOCAL_FILES} local markdown files",
                    file.display()
                ));
                break;
            }
            match read_local(&file) {
                Ok(text) if total + text.len() > MAX_LOCAL_BYTES => {
                    scan.problems.push(format!(
                        "{}: skipped, local markdown over {MAX_LOCAL_BYTES} bytes in all",
                        file.display()
                    ));
                }
                Ok(text) => {
                    total += text.len();
                    let id = if file == *dir {
                        prefix.clone()
                    } else {
                        local_id(&prefix, dir, &file)
                    };
                    scan.sources.push(Source {
                        id,
                        text,
                        origin: Origin::Local(file),
                    });
                }
                Err(reason) => scan.problems.push(format!("{}: {reason}", file.display())),
            }
        }
    }
    scan
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
    problems: &mut Vec<String>,
) {
    // A symlink loop (or the same folder passed twice) is read once.
    let canonical = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(canonical) {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: {}", dir.display(), io_reason(&e)));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(format!("{}: {}", dir.display(), io_reason(&e)));
                continue;
            }
        };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, files, visited, problems),
            Ok(_) if is_markdown(&path) => files.push(path),
            Ok(_) => {}
            // A dangling symlink named `*.md` is a file the user meant us to read.
            Err(e) if is_markdown(&path) => {
                problems.push(format!("{}: {}", path.display(), io_reason(&e)))
            }
            Err(_) => {}
        }
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// The text of a local file. Invalid UTF-8 is replaced rather than refused: a runbook saved as
/// Latin-1 is still worth searching.
fn read_local(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.len() > MAX_LOCAL_FILE {
        return Err(format!(
            "skipped, {} bytes is over the {MAX_LOCAL_FILE}-byte limit",
            meta.len()
        ));
    }
    let bytes = fs::read(path).map_err(|e| io_reason(&e))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// `local/<folder name>`, made unique when two `--docs-dir`s share a name.
fn unique_prefix(dir: &Path, taken: &mut Vec<String>) -> String {
    let name = dir
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| "docs".to_string());
    let mut prefix = format!("local/{name}");
    let mut n = 2;
    while taken.contains(&prefix) {
        prefix = format!("local/{name}-{n}");
        n += 1;
    }
    taken.push(prefix.clone());
    prefix
}

/// `local/runbooks/db/failover` for `runbooks/db/failover.md`.
fn local_id(prefix: &str, base: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(base).unwrap_or(file).with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{prefix}/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_blob_inflates_and_unpacks() {
        let sources = embedded().expect("the build wrote a valid container");
        assert!(compressed_size() > 0);
        let mut ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        let sorted = {
            let mut s = ids.clone();
            s.sort();
            s
        };
        assert_eq!(ids, sorted, "build.rs packs documents in sorted order");
        ids.dedup();
        assert_eq!(ids.len(), sources.len());
    }

    #[test]
    fn inflate_checks_the_declared_size() {
        let container = container::pack(&[("guides/a", "text")]).unwrap();
        let mut blob = (container.len() as u32).to_le_bytes().to_vec();
        blob.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(&container, 6));
        assert_eq!(inflate(&blob), Ok(container.clone()));
        let mut wrong = blob.clone();
        wrong[0] ^= 1;
        assert!(matches!(inflate(&wrong), Err(Error::Inflate(_))));
        let cut = &blob[..blob.len() - 6];
        assert!(matches!(inflate(cut), Err(Error::Inflate(_))));
        assert!(matches!(inflate(&[1, 2]), Err(Error::Truncated { .. })));
    }

    #[test]
    fn unpack_round_trips_and_rejects_damage() {
        let data = container::pack(&[
            ("kinds/a", "---\ntitle: A\n---\n# A\n"),
            ("guides/b", "text"),
        ])
        .unwrap();
        let sources = unpack(&data).unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].id, "guides/b");
        assert_eq!(sources[1].text, "text");
        assert!(matches!(unpack(b"nope"), Err(Error::BadMagic)));
        let cut = &data[..data.len() - 2];
        assert!(matches!(
            unpack(cut),
            Err(Error::Truncated {
                what: "document text",
                ..
            })
        ));
        let mut bad = data.clone();
        let last = bad.len() - 1;
        bad[last] = 0xff;
        assert!(matches!(unpack(&bad), Err(Error::NotUtf8 { .. })));
    }

    #[test]
    fn local_dirs_are_walked_and_problems_reported() {
        let root = std::env::temp_dir().join(format!("fxdocs-corpus-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("runbooks/db")).unwrap();
        fs::create_dir_all(root.join("runbooks/.git")).unwrap();
        fs::write(root.join("runbooks/db/failover.md"), "# Failover\n").unwrap();
        fs::write(root.join("runbooks/alpha.markdown"), b"# Alpha \xe9t\xe9\n").unwrap();
        fs::write(root.join("runbooks/.git/ignored.md"), "# no").unwrap();
        fs::write(root.join("runbooks/notes.txt"), "not markdown").unwrap();
        let missing = root.join("missing");
        let scan = local(&[root.join("runbooks"), missing.clone()]);
        let ids: Vec<&str> = scan.sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["local/runbooks/alpha", "local/runbooks/db/failover"]
        );
        assert!(scan.sources[0].text.starts_with("# Alpha \u{fffd}t"));
        assert_eq!(
            scan.problems,
            vec![format!("{}: no such file or directory", missing.display())]
        );
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn prefixes_stay_unique() {
        let mut taken = Vec::new();
        assert_eq!(
            unique_prefix(Path::new("/a/runbooks"), &mut taken),
            "local/runbooks"
        );
        assert_eq!(
            unique_prefix(Path::new("/b/runbooks"), &mut taken),
            "local/runbooks-2"
        );
        assert_eq!(unique_prefix(Path::new("/"), &mut taken), "local/docs");
    }
}
