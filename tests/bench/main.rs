//! `make bench`: prints the figures the README quotes. Each area is a module with a `run()`;
//! none needs `../shared` or the network beyond 127.0.0.1.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
mod docs;
mod kube;
mod startup;
mod tools;

fn main() {
    if kube::child_main() {
        return;
    }
    startup::run();
    kube::run();
    docs::run();
    tools::run();
}
