//! Packs the docs corpus (src/docs/corpus/**/*.md) into one zlib-compressed container in OUT_DIR,
//! which src/docs/corpus.rs embeds with `include_bytes!`. The markdown is the source of truth; no
//! binary blob is committed. A malformed document fails the build with a message naming the file.
//! Also records how the binary is built (target, rustc, profile, rustflags, linker) for
//! `version --verbose` (src/version.rs), as `FLUX_OPERATOR_MCP_BUILD_*` compile-time variables.
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
#[path = "src/version/record.rs"]
#[allow(dead_code)]
mod record;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CORPUS_DIR: &str = "src/docs/corpus";

fn main() -> ExitCode {
    println!("cargo::rerun-if-changed={CORPUS_DIR}");
    record_build();
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

/// The `FLUX_OPERATOR_MCP_BUILD_*` variables src/version.rs reads. Nothing here may name a local
/// path: two builds of one commit in different folders must be byte-identical.
fn record_build() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let target = var("TARGET");
    let rustc = std::process::Command::new(std::env::var_os("RUSTC").unwrap_or("rustc".into()))
        .arg("-V")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());

    // Cargo tells build scripts only "release" or "debug"; the manifest table of the latter is
    // [profile.dev]. OPT_LEVEL and DEBUG are Cargo's exact values; the rest comes from the
    // table and CARGO_PROFILE_* overrides (`--config profile....` overrides are not visible).
    let profile = match var("PROFILE").as_str() {
        "debug" => "dev".to_string(),
        other => other.to_string(),
    };
    println!("cargo::rerun-if-changed=Cargo.toml");
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap_or_default();
    let mut settings = vec![
        format!("opt-level={}", var("OPT_LEVEL")),
        format!("debug={}", var("DEBUG")),
    ];
    for key in record::PROFILE_KEYS {
        println!(
            "cargo::rerun-if-env-changed={}",
            record::profile_env_var(&profile, key)
        );
    }
    let table = record::profile_settings(&manifest, &profile, |key| {
        std::env::var(record::profile_env_var(&profile, key)).ok()
    });
    settings.extend(
        table
            .into_iter()
            .map(|(key, value)| format!("{key}={value}")),
    );

    // The rustflags this crate is compiled with; a change must re-record them.
    for name in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        println!("cargo::rerun-if-env-changed={name}");
    }
    let triple = target.to_ascii_uppercase().replace('-', "_");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_{triple}_RUSTFLAGS");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_{triple}_LINKER");
    let rustflags = record::describe_rustflags(&var("CARGO_ENCODED_RUSTFLAGS"));
    let linker = record::program_name(&var("RUSTC_LINKER")).to_string();

    // The C compiler ring is built with, as the `cc` crate picks it when it is named; its
    // version line says which gcc. Unnamed, the cc crate's own default applies.
    let first_set = |base: &str| {
        record::cc_variables(base, &target)
            .into_iter()
            .find_map(|name| {
                println!("cargo::rerun-if-env-changed={name}");
                std::env::var(&name).ok().filter(|v| !v.trim().is_empty())
            })
    };
    let cc = match first_set("CC") {
        Some(cc) => {
            let version = std::process::Command::new(cc.trim())
                .arg("--version")
                .output()
                .ok()
                .and_then(|out| {
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    text.lines().next().map(str::to_string)
                })
                .unwrap_or_else(|| "version unknown".to_string());
            format!("{} ({version})", record::program_name(cc.trim()))
        }
        None => String::new(),
    };
    let cflags = record::describe_cflags(&first_set("CFLAGS").unwrap_or_default());

    for (name, value) in [
        ("TARGET", target),
        ("RUSTC", rustc),
        ("PROFILE", format!("{profile} ({})", settings.join(", "))),
        ("RUSTFLAGS", rustflags),
        ("LINKER", linker),
        ("CC", cc),
        ("CFLAGS", cflags),
    ] {
        // One line each: a newline would end the cargo directive.
        let value = value.replace(['\n', '\r'], " ");
        println!("cargo::rustc-env=FLUX_OPERATOR_MCP_BUILD_{name}={value}");
    }
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
