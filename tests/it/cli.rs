//! The command line of the real binary: version, help, exit codes, and errors that name the
//! offending flag with nothing on stdout.

use crate::support::command;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = command()
        .args(args)
        .output()
        .expect("run flux-operator-mcp");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_in_every_form() {
    for args in [&["version"][..], &["--version"], &["-V"], &["-v"]] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        let line = out.trim_end();
        assert!(line.starts_with("flux-operator-mcp "), "{args:?}: {out:?}");
        assert!(!line["flux-operator-mcp ".len()..].is_empty());
        assert_eq!(out.lines().count(), 1);
    }
}

#[test]
fn help_short_and_long() {
    let (code, short, _) = run(&["-h"]);
    assert_eq!(code, Some(0));
    assert!(short.contains("serve") && short.contains("--help"));
    assert!(!short.contains("--kube-as-group"));
    let (code, long, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--transport NAME",
        "--port PORT",
        "--read-only",
        "--mask-secrets",
        "--timeout DURATION",
        "--tool-call-log-file FILE",
        "--kubeconfig FILE",
        "--kube-context NAME",
        "--kube-as USER",
        "--kube-as-group GROUP",
        "--kube-as-uid UID",
        "--kube-token TOKEN",
        "--kube-server URL",
        "--kube-tls-server-name NAME",
        "--kube-client-certificate FILE",
        "--kube-client-key FILE",
        "--kube-certificate-authority FILE",
        "--kube-insecure-skip-tls-verify",
        "-n, --namespace NAMESPACE",
        "--docs-dir DIR",
    ] {
        let line = long
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("{flag} missing from --help"));
        assert!(line.contains("[default: "), "{line}");
    }
}

#[test]
fn no_command_prints_help_on_stderr_and_exits_2() {
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(err.contains("Usage:"));
}

#[test]
fn mistakes_exit_2_name_the_culprit_and_print_nothing_on_stdout() {
    let cases: [(&[&str], &str); 11] = [
        (
            &["serve", "--read-onyl"],
            "--read-onyl (did you mean --read-only?)",
        ),
        (&["serve", "--context=prod"], "did you mean --kube-context?"),
        (&["serve", "--timeout", "soon"], "\"soon\" for --timeout"),
        (
            &["serve", "--transport", "ws"],
            "expected stdio, http or sse",
        ),
        (
            &["serve", "--auth-token-file=/dev/null"],
            "flag --auth-token-file applies to --transport http or sse, not stdio",
        ),
        (&["serv"], "did you mean serve?"),
        (
            &["serve", "--mask-secrets=nope"],
            "\"nope\" for --mask-secrets",
        ),
        (&["serve", "--timeout=abc"], "\"abc\" for --timeout"),
        (&["serve", "--timeout", "9999999h"], "out of range"),
        (
            &["docs"],
            "docs needs a command: docs search QUERY or docs list",
        ),
        (
            &["docs", "search", "x", "--format=full"],
            "\"full\" for --format: expected concise or complete",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(out.is_empty(), "{args:?}: stdout {out:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one error line: {err}");
    }
}

#[test]
fn docs_commands_print_to_stdout() {
    let (code, out, _) = run(&["docs", "list"]);
    assert_eq!(code, Some(0));
    assert!(!out.trim().is_empty());
    let (code, out, _) = run(&["docs", "search", "helm", "release", "--limit=1"]);
    assert_eq!(code, Some(0));
    assert!(!out.trim().is_empty());
    let (code, _, err) = run(&["docs", "search"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("needs a query"));
}
