//! Packs the docs corpus (src/docs/corpus/**/*.md) into one zlib-compressed container in OUT_DIR,
//! which src/docs/corpus.rs embeds with `include_bytes!`. The markdown is the source of truth; no
//! binary blob is committed. A malformed document fails the build with a message naming the file.
//!
//! Blob: the container's length (u32 little-endian, so the reader inflates into an exactly sized
//! buffer), then the zlib-compressed container (format in src/docs/container.rs). Documents are
//! in sorted path order so that builds are reproducible.

#[path = "src/docs/container.rs"]
#[allow(dead_code)]
mod container;
#[path = "src/docs/document.rs"]
#[allow(dead_code)]
mod document;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CORPUS_DIR: &str = "src/docs/corpus";

fn main() -> ExitCode {
    println!("cargo::rerun-if-changed={CORPUS_DIR}");
    match build() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Cargo prints a failing build script's stderr; one line that names the file.
            eprintln!("error: docs corpus: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build() -> Result<(), String> {
    let root = Path::new(CORPUS_DIR);
    let mut files = Vec::new();
    if root.is_dir() {
        collect_markdown(root, &mut files)?;
    } else {
        // The corpus lives in the repository; without it the binary still builds, and the
        // kinds-coverage test is what fails.
        println!(
            "cargo::warning=docs corpus folder {CORPUS_DIR} is missing: embedding no documents"
        );
    }
    files.sort();

    let mut docs = Vec::with_capacity(files.len());
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        document::parse_strict(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        docs.push((document_id(root, path)?, text));
    }
    let container = container::pack(&docs)?;

    // Level 10 is miniz's best ratio; the cost is paid once per build, never at run time.
    let mut blob = Vec::new();
    container::push_u32(&mut blob, container.len(), "corpus size")?;
    blob.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(&container, 10));
    let out_dir = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set (run through cargo)")?;
    let out = PathBuf::from(out_dir).join("docs-corpus.bin");
    fs::write(&out, &blob).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(())
}

/// Every `.md` file below `dir`, recursively; each folder is watched so that a new file triggers a
/// rebuild.
fn collect_markdown(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    println!("cargo::rerun-if-changed={}", dir.display());
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if file_type.is_dir() {
            collect_markdown(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    Ok(())
}

/// `kinds/gitrepository` for `src/docs/corpus/kinds/gitrepository.md`, with `/` on every OS.
fn document_id(root: &Path, path: &Path) -> Result<String, String> {
    let relative = path
        .strip_prefix(root)
        .map_err(|_| format!("{} is outside {CORPUS_DIR}", path.display()))?
        .with_extension("");
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| format!("{}: the file name is not UTF-8", path.display()))
}
