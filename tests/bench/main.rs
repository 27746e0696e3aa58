//! `make bench`: prints the figures the README quotes. Each area is a module with a `run()`;
//! none needs `../shared` or the network beyond 127.0.0.1.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
mod docs;
mod kube;
mod startup;
mod tools;

/// `cargo bench --bench bench [SECTION...]` runs the named sections (startup, kube, docs, tools);
/// no name runs them all.
fn main() {
    if kube::child_main() {
        return;
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sections: [(&str, fn()); 4] = [
        ("startup", startup::run),
        ("kube", kube::run),
        ("docs", docs::run),
        ("tools", tools::run),
    ];
    for (name, run) in sections {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            run();
        }
    }
}
