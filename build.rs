//! Compresses the docs corpus (src/docs/corpus/**/*.md) into OUT_DIR. OWNER: issue 5. Stub.
fn main() {
    println!("cargo::rerun-if-changed=src/docs/corpus");
}
