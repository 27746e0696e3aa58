//! `make bench`: prints the figures the README quotes. Each area is a module with a `run()`;
//! none needs `../shared` or the network beyond 127.0.0.1.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
mod diagnosis;
mod docs;
mod investigations;
mod kube;
mod latency;
// The round-trip table and `measure`; its tests (under cfg(test), which `cargo bench` sets
// without running them) import what the bench does not use.
#[path = "../it/round_trips.rs"]
#[allow(dead_code, unused_imports)]
mod round_trips;
mod startup;
#[path = "../it/support.rs"]
mod support;
mod tools;
#[path = "../it/verbatim.rs"]
mod verbatim;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

/// Where `make static` leaves the static musl binary, relative to the repository.
pub const STATIC_BIN: &str = "target/x86_64-unknown-linux-musl/release/flux-operator-mcp";

/// A duration in milliseconds, for the tables.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median of `v` (sorted in place); zero for no samples.
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The binary users install: the static musl one `make static` built (`make bench` builds it
/// first), unless it is missing or older than a source file (then it is stale and cargo's build
/// of the current sources is measured instead, with a note). Start-up and allocation-heavy work
/// differ between musl and glibc, so the figures name which one they measured.
pub fn shipped_binary() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let static_bin = root.join(STATIC_BIN);
    let cargo_bin = PathBuf::from(env!("CARGO_BIN_EXE_flux-operator-mcp"));
    let Ok(built) = std::fs::metadata(&static_bin).and_then(|m| m.modified()) else {
        return cargo_bin;
    };
    let sources = [
        root.join("src"),
        root.join("build.rs"),
        root.join("Cargo.toml"),
    ];
    if sources.iter().all(|p| newest(p).is_none_or(|t| t <= built)) {
        static_bin
    } else {
        println!("(the static binary is older than the sources; `make bench` rebuilds it)");
        cargo_bin
    }
}

/// The newest modification time of a file, or of any file under a folder.
fn newest(path: &std::path::Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

/// `cargo bench --bench bench [SECTION...]` runs the named sections (startup, kube, docs, tools,
/// diagnosis, investigations, writes, latency); no name runs them all.
fn main() {
    if kube::child_main() {
        return;
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sections: [(&str, fn()); 8] = [
        ("startup", startup::run),
        ("kube", kube::run),
        ("docs", docs::run),
        ("tools", tools::run),
        ("diagnosis", diagnosis::run),
        ("investigations", investigations::run),
        ("writes", writes::run),
        ("latency", latency::run),
    ];
    for (name, run) in sections {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            run();
        }
    }
}
