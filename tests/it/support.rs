//! Helpers shared by the integration tests: the binary under test with a cleared environment,
//! and an expected/got diff that is readable when a golden comparison fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary cargo built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flux-operator-mcp"))
}

/// The repository's `testdata/` folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A command for the binary with a hermetic environment: no KUBECONFIG, no HOME/.kube, no
/// proxies, no in-cluster variables; only PATH survives.
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", "/nonexistent-home-for-tests");
    cmd
}

/// Assert two texts are equal; on failure print a line diff instead of two walls of text.
#[track_caller]
pub fn assert_text_eq(expected: &str, got: &str) {
    if expected == got {
        return;
    }
    let mut report = String::new();
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                report.push_str(&format!(
                    "line {}:\n  expected: {:?}\n  got:      {:?}\n",
                    i + 1,
                    a,
                    b
                ));
            }
        }
    }
    panic!("texts differ\n{report}");
}

/// Compare `got` with the golden file `testdata/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
#[track_caller]
pub fn golden(name: &str, got: &str) {
    let path = testdata().join("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create golden dir");
        }
        std::fs::write(&path, got).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_text_eq(&expected, got);
}
