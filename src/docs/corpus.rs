//! Where documents come from: the corpus that build.rs compressed into the binary, and the
//! markdown under `--docs-dir` (a team's runbooks). Reading local files never fails a search:
//! what cannot be read becomes a problem line in the output.
//!
//! A `--docs-dir` may be an untrusted repository, and what it holds reaches the agent: the
//! walk never leaves the folder (a `runbook.md` linking to `~/.kube/config` or
//! `/proc/self/environ` is reported as skipped, never read), reads regular files only
//! (a FIFO named `x.md` would hang every search), and is bounded in depth and entries.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::container::{self, Error};
use crate::files;

/// The container's length, then the zlib-compressed container, written by build.rs (container
/// format in container.rs).
static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docs-corpus.bin"));
/// Far above the corpus's size: a bound so a corrupt stream cannot exhaust memory.
const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// At most this many local files, and this many bytes in all, are indexed across all
/// `--docs-dir`s: the index lives in memory for the server's lifetime.
const MAX_LOCAL_FILES: usize = 5_000;
const MAX_LOCAL_BYTES: usize = 64 * 1024 * 1024;
/// How many folders deep the walk goes below a `--docs-dir`, and how many directory entries it
/// looks at in all: a runbook tree is a few levels and a few hundred files; the bounds are for
/// a folder named by mistake (`--docs-dir /`), where the walk must end on its own.
const MAX_DEPTH: usize = 32;
const MAX_WALK_ENTRIES: usize = 100_000;

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
/// (`.git`) are skipped; links are followed only when they lead to a place inside the same
/// `--docs-dir` (each folder is read once, so link cycles end). A `--docs-dir` that names a
/// single markdown file indexes that file.
pub fn local(dirs: &[PathBuf]) -> LocalScan {
    let mut scan = LocalScan::default();
    let mut prefixes: Vec<String> = Vec::new();
    let mut walk = Walk::new(MAX_WALK_ENTRIES);
    let mut total = 0usize;
    for dir in dirs {
        let prefix = unique_prefix(dir, &mut prefixes);
        walk.files.clear();
        // The folder the user named may itself be a link: its target is the root.
        match fs::canonicalize(dir).and_then(|root| Ok((fs::metadata(&root)?, root))) {
            Err(e) => walk
                .problems
                .push(format!("{}: {}", dir.display(), io_reason(&e))),
            Ok((meta, root)) if meta.is_dir() => {
                walk.root = root.clone();
                walk.walk(dir, &root, 0);
            }
            Ok((_, root)) => walk.files.push(Found {
                path: dir.clone(),
                real: root,
            }),
        }
        scan.problems.append(&mut walk.problems);
        let mut files = std::mem::take(&mut walk.files);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for file in files {
            if scan.sources.len() >= MAX_LOCAL_FILES {
                scan.problems.push(format!(
                    "{}: skipped, more than {MAX_LOCAL_FILES} local markdown files",
                    file.path.display()
                ));
                break;
            }
            match read_local(&file.real) {
                Ok(text) if total + text.len() > MAX_LOCAL_BYTES => {
                    scan.problems.push(format!(
                        "{}: skipped, local markdown over {MAX_LOCAL_BYTES} bytes in all",
                        file.path.display()
                    ));
                }
                Ok(text) => {
                    total += text.len();
                    let id = if file.path == *dir {
                        prefix.clone()
                    } else {
                        local_id(&prefix, dir, &file.path)
                    };
                    scan.sources.push(Source {
                        id,
                        text,
                        origin: Origin::Local(file.path),
                    });
                }
                Err(reason) => scan
                    .problems
                    .push(format!("{}: {reason}", file.path.display())),
            }
        }
    }
    scan
}

/// A markdown file the walk found.
struct Found {
    /// As the user sees it: below the `--docs-dir` they named (ids and messages use it).
    path: PathBuf,
    /// Its canonical path, checked to be inside the root; read without following a link.
    real: PathBuf,
}

/// The state of walking the `--docs-dir`s.
struct Walk {
    /// The canonical folder of the `--docs-dir` being walked: nothing outside it is read.
    root: PathBuf,
    files: Vec<Found>,
    /// Canonical folders already walked (a link cycle, or one folder named twice).
    visited: HashSet<PathBuf>,
    problems: Vec<String>,
    /// Directory entries looked at so far, across all `--docs-dir`s; once over `max_entries`
    /// the walk stops for good (and says so once).
    entries: usize,
    max_entries: usize,
}

impl Walk {
    fn new(max_entries: usize) -> Walk {
        Walk {
            root: PathBuf::new(),
            files: Vec::new(),
            visited: HashSet::new(),
            problems: Vec::new(),
            entries: 0,
            max_entries,
        }
    }

    /// Walk `dir` (as the user sees it), whose canonical path is `real`.
    fn walk(&mut self, dir: &Path, real: &Path, depth: usize) {
        if self.entries > self.max_entries || !self.visited.insert(real.to_path_buf()) {
            return;
        }
        if depth > MAX_DEPTH {
            self.problems.push(format!(
                "{}: skipped, more than {MAX_DEPTH} folders deep",
                dir.display()
            ));
            return;
        }
        let entries = match fs::read_dir(real) {
            Ok(entries) => entries,
            Err(e) => {
                self.problems
                    .push(format!("{}: {}", dir.display(), io_reason(&e)));
                return;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            self.entries += 1;
            if self.entries > self.max_entries {
                self.problems.push(format!(
                    "{}: not walked further, more than {} entries under the --docs-dir \
                     folders",
                    dir.display(),
                    self.max_entries
                ));
                // What was listed so far is still walked.
                break;
            }
            match entry {
                Ok(entry) => names.push((entry.file_name(), entry.file_type())),
                Err(e) => self
                    .problems
                    .push(format!("{}: {}", dir.display(), io_reason(&e))),
            }
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, file_type) in names {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = dir.join(&name);
            let entry_real = real.join(&name);
            let file_type = match file_type {
                Ok(t) => t,
                Err(e) => {
                    if is_markdown(&path) {
                        self.problems
                            .push(format!("{}: {}", path.display(), io_reason(&e)));
                    }
                    continue;
                }
            };
            if file_type.is_dir() {
                self.walk(&path, &entry_real, depth + 1);
            } else if file_type.is_symlink() {
                self.follow(path, &entry_real, depth);
            } else if is_markdown(&path) {
                // Regular or not: the reader refuses a FIFO or a device by name, unopened.
                self.files.push(Found {
                    path,
                    real: entry_real,
                });
            }
        }
    }

    /// A link inside the walk: followed only when its target is inside the root.
    fn follow(&mut self, path: PathBuf, link: &Path, depth: usize) {
        let target = match fs::canonicalize(link) {
            Ok(target) => target,
            // A dangling link named `*.md` is a file the user meant us to read.
            Err(e) => {
                if is_markdown(&path) {
                    self.problems
                        .push(format!("{}: {}", path.display(), io_reason(&e)));
                }
                return;
            }
        };
        let is_dir = fs::metadata(&target).is_ok_and(|m| m.is_dir());
        if !target.starts_with(&self.root) {
            if is_dir || is_markdown(&path) {
                self.problems.push(format!(
                    "{}: skipped, a link to {}, outside the --docs-dir folder {}",
                    path.display(),
                    target.display(),
                    self.root.display()
                ));
            }
            return;
        }
        if is_dir {
            self.walk(&path, &target, depth + 1);
        } else if is_markdown(&path) {
            self.files.push(Found { path, real: target });
        }
    }
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// The text of a local file at its canonical path (a link there now is refused, not
/// followed: it was not there when the path was checked). Invalid UTF-8 is replaced rather
/// than refused: a runbook saved as Latin-1 is still worth searching.
fn read_local(path: &Path) -> Result<String, String> {
    let bytes = files::read_no_follow(path, files::MARKDOWN).map_err(|e| match e {
        files::Error::Io(e) => io_reason(&e),
        e => format!("skipped, {e}"),
    })?;
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

    /// A scratch folder for one test, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let root = std::env::temp_dir().join(format!("fxdocs-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            Scratch(root)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    use std::os::unix::fs::symlink;

    #[test]
    fn links_out_of_the_folder_are_skipped_and_never_read() {
        let scratch = Scratch::new("escape");
        let outside = scratch.0.join("outside");
        let docs = scratch.0.join("docs");
        fs::create_dir_all(outside.join("more")).unwrap();
        fs::create_dir_all(docs.join("sub")).unwrap();
        fs::write(outside.join("config"), "token: CANARY-outside-file\n").unwrap();
        fs::write(outside.join("more/leak.md"), "CANARY-outside-dir\n").unwrap();
        fs::write(docs.join("sub/real.md"), "# Real\n").unwrap();
        symlink(outside.join("config"), docs.join("runbook.md")).unwrap();
        symlink("/proc/self/environ", docs.join("environ.md")).unwrap();
        symlink(outside.join("more"), docs.join("more")).unwrap();
        symlink("../../outside/config", docs.join("sub/relative.md")).unwrap();
        // Links inside the folder are fine; a link to a folder above is a cycle and ends.
        symlink("sub/real.md", docs.join("alias.md")).unwrap();
        symlink("..", docs.join("sub/up")).unwrap();
        symlink(".", docs.join("sub/self")).unwrap();

        let scan = local(std::slice::from_ref(&docs));
        let ids: Vec<&str> = scan.sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["local/docs/alias", "local/docs/sub/real"]);
        for source in &scan.sources {
            assert!(!source.text.contains("CANARY"), "{}", source.text);
        }
        let problems = scan.problems.join("\n");
        assert!(!problems.contains("CANARY"), "{problems}");
        let skipped = |name: &str| {
            scan.problems.iter().any(|p| {
                p.starts_with(&docs.join(name).display().to_string())
                    && p.contains("skipped, a link to")
                    && p.contains("outside the --docs-dir folder")
            })
        };
        for name in ["runbook.md", "environ.md", "more", "sub/relative.md"] {
            assert!(skipped(name), "{name} not reported in:\n{problems}");
        }
        assert_eq!(scan.problems.len(), 4, "{problems}");
    }

    #[test]
    fn fifos_and_devices_named_md_are_skipped_with_a_reason() {
        let scratch = Scratch::new("special");
        let docs = scratch.0.join("docs");
        fs::create_dir_all(&docs).unwrap();
        let fifo = docs.join("x.md");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        symlink("x.md", docs.join("link-to-fifo.md")).unwrap();
        fs::write(docs.join("ok.md"), "# Ok\n").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let dirs = vec![docs.clone()];
        std::thread::spawn(move || {
            let _ = tx.send(local(&dirs));
        });
        let scan = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the scan returned: a FIFO must not block it");
        assert_eq!(scan.sources.len(), 1);
        assert_eq!(
            scan.problems,
            [
                format!(
                    "{}: skipped, not a regular file but a FIFO (named pipe)",
                    docs.join("link-to-fifo.md").display()
                ),
                format!(
                    "{}: skipped, not a regular file but a FIFO (named pipe)",
                    fifo.display()
                ),
            ]
        );
        // A --docs-dir that names a device.
        let scan = local(&[PathBuf::from("/dev/zero")]);
        assert_eq!(
            scan.problems,
            ["/dev/zero: skipped, not a regular file but a character device"]
        );
    }

    #[test]
    fn large_files_and_deep_trees_are_bounded() {
        let scratch = Scratch::new("bounds");
        let docs = scratch.0.join("docs");
        let mut deep = docs.clone();
        for i in 0..=MAX_DEPTH + 1 {
            deep = deep.join(format!("d{i}"));
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("bottom.md"), "# Bottom\n").unwrap();
        fs::write(docs.join("big.md"), vec![b'x'; 3 << 20]).unwrap();
        let scan = local(std::slice::from_ref(&docs));
        assert!(scan.sources.is_empty());
        assert_eq!(scan.problems.len(), 2, "{:?}", scan.problems);
        assert!(
            scan.problems[0].ends_with(&format!("skipped, more than {MAX_DEPTH} folders deep")),
            "{:?}",
            scan.problems
        );
        assert!(
            scan.problems[1].ends_with(
                "big.md: skipped, 3 MiB is over the 2 MiB limit for a markdown document"
            ),
            "{:?}",
            scan.problems
        );
    }

    #[test]
    fn the_walk_stops_after_its_entry_budget_and_says_so_once() {
        let scratch = Scratch::new("budget");
        for d in ["a", "b", "c"] {
            fs::create_dir_all(scratch.0.join(d)).unwrap();
            for f in ["1.md", "2.md", "3.md"] {
                fs::write(scratch.0.join(d).join(f), "# x\n").unwrap();
            }
        }
        let mut walk = Walk::new(5);
        walk.root = scratch.0.clone();
        walk.walk(&scratch.0, &scratch.0, 0);
        // a, b, c and two of a's files (in the order the folder lists them): five entries,
        // then it stops for good.
        let found: Vec<&Path> = walk
            .files
            .iter()
            .map(|f| f.path.strip_prefix(&scratch.0).unwrap())
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|f| f.starts_with("a")), "{found:?}");
        assert_eq!(walk.problems.len(), 1, "{:?}", walk.problems);
        assert!(
            walk.problems[0].contains("not walked further, more than 5 entries"),
            "{:?}",
            walk.problems
        );
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
