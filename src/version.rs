//! The version texts: `version` (one line, naming the read-only build) and `version --verbose`
//! (which build, target, toolchain, profile and flags, the C compiler ring was built with,
//! revision, source date), from what build.rs records and what the release scripts
//! (`make dist`) pass in at compile time.

pub mod record;

use std::ffi::OsStr;
use std::time::{Duration, UNIX_EPOCH};

const NAME: &str = "flux-operator-mcp";

/// The two builds of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `cargo build`: the REST client has its mutating verbs (feature `mutations`).
    Default,
    /// `cargo build --no-default-features`: no code path for any HTTP method but GET.
    ReadOnly,
}

/// The build this binary is.
pub const FLAVOUR: Flavour = if cfg!(feature = "mutations") {
    Flavour::Default
} else {
    Flavour::ReadOnly
};

impl Flavour {
    /// `default` or `read-only`, as `version --verbose` and the release file names say it.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Default => "default",
            Flavour::ReadOnly => "read-only",
        }
    }
}

/// What build.rs recorded; see there. Each is one line.
const TARGET: &str = env!("FLUX_OPERATOR_MCP_BUILD_TARGET");
const RUSTC: &str = env!("FLUX_OPERATOR_MCP_BUILD_RUSTC");
const PROFILE: &str = env!("FLUX_OPERATOR_MCP_BUILD_PROFILE");
const RUSTFLAGS: &str = env!("FLUX_OPERATOR_MCP_BUILD_RUSTFLAGS");
const LINKER: &str = env!("FLUX_OPERATOR_MCP_BUILD_LINKER");
const CC: &str = env!("FLUX_OPERATOR_MCP_BUILD_CC");
const CFLAGS: &str = env!("FLUX_OPERATOR_MCP_BUILD_CFLAGS");
/// Passed in by `make dist` (tests/scripts/dist.sh): the commit built, and its commit time
/// (the reproducible-builds convention). Unset in a plain `cargo build`.
const REVISION: Option<&str> = option_env!("FLUX_OPERATOR_MCP_REVISION");
const SOURCE_DATE_EPOCH: Option<&str> = option_env!("SOURCE_DATE_EPOCH");

/// `flux-operator-mcp 0.1.0`, and for the read-only build `flux-operator-mcp 0.1.0 (read-only
/// build)`: one line, so that scripts reading the version keep working with either.
pub fn short() -> String {
    match FLAVOUR {
        Flavour::Default => format!("{NAME} {}", crate::VERSION),
        Flavour::ReadOnly => format!("{NAME} {} (read-only build)", crate::VERSION),
    }
}

/// `version --verbose`: the first line of [`short`], then one `key: value` line per fact. What
/// is not known says so (`unknown`) rather than being left out, so the lines are always there.
pub fn verbose() -> String {
    let build = match FLAVOUR {
        Flavour::Default => "default".to_string(),
        Flavour::ReadOnly => {
            "read-only (built without the mutations feature: the client can only GET)".to_string()
        }
    };
    let lines = [
        ("build", build),
        ("target", TARGET.to_string()),
        ("rustc", RUSTC.to_string()),
        ("profile", PROFILE.to_string()),
        ("rustflags", or_none(RUSTFLAGS)),
        ("linker", or_default(LINKER, "(rustc's default)")),
        ("cc", or_default(CC, "(the cc crate's default)")),
        ("cflags", or_none(CFLAGS)),
        ("revision", REVISION.unwrap_or("unknown").to_string()),
        ("source date", source_date(SOURCE_DATE_EPOCH)),
    ];
    let mut out = short();
    for (key, value) in lines {
        out.push_str(&format!("\n{:<12} {value}", format!("{key}:")));
    }
    out.push('\n');
    out
}

fn or_none(value: &str) -> String {
    if value.is_empty() { "(none)" } else { value }.to_string()
}

fn or_default(value: &str, default: &str) -> String {
    if value.is_empty() { default } else { value }.to_string()
}

/// `2026-11-01T12:00:00Z (SOURCE_DATE_EPOCH=1793534400)`; a value that is not a count of
/// seconds is shown as given, and none is `unknown`.
fn source_date(epoch: Option<&str>) -> String {
    let Some(raw) = epoch else {
        return "unknown".to_string();
    };
    match raw.trim().parse::<u64>() {
        Ok(secs) => {
            let when = crate::kube::time::rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs));
            // Whole seconds: the commit time has no milliseconds to show.
            let when = when
                .strip_suffix(".000Z")
                .map_or(when.clone(), |w| format!("{w}Z"));
            format!("{when} (SOURCE_DATE_EPOCH={secs})")
        }
        Err(_) => format!("SOURCE_DATE_EPOCH={raw:?} (not a count of seconds)"),
    }
}

/// Whether the command line is a version request with `--verbose`: exactly one of `version`,
/// `--version`, `-V`, `-v` and `--verbose`, in either order. Nothing else takes `--verbose`.
pub fn wants_verbose<S: AsRef<OsStr>>(args: &[S]) -> bool {
    let is = |arg: &S, names: &[&str]| names.iter().any(|n| arg.as_ref() == OsStr::new(n));
    let version = ["version", "--version", "-V", "-v"];
    match args {
        [a, b] => {
            (is(a, &version) && is(b, &["--verbose"])) || (is(a, &["--verbose"]) && is(b, &version))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_is_requested_only_with_a_version_word() {
        for args in [
            &["version", "--verbose"][..],
            &["--version", "--verbose"],
            &["-V", "--verbose"],
            &["-v", "--verbose"],
            &["--verbose", "version"],
        ] {
            assert!(wants_verbose(args), "{args:?}");
        }
        for args in [
            &["version"][..],
            &["--verbose"],
            &[],
            &["serve", "--verbose"],
            &["version", "--verbose", "--verbose"],
            &["version", "--verbose=true"],
            &["version", "version"],
        ] {
            assert!(!wants_verbose(args), "{args:?}");
        }
    }

    #[test]
    fn short_names_the_read_only_build_only() {
        let line = short();
        assert!(line.starts_with(&format!("{NAME} {}", crate::VERSION)));
        assert_eq!(line.contains("read-only"), !cfg!(feature = "mutations"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn verbose_has_every_line_with_this_builds_values() {
        let text = verbose();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], short());
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            keys,
            [
                "build",
                "target",
                "rustc",
                "profile",
                "rustflags",
                "linker",
                "cc",
                "cflags",
                "revision",
                "source date"
            ]
        );
        let value = |key: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            value("build").starts_with("read-only"),
            FLAVOUR == Flavour::ReadOnly
        );
        // The target cargo built for: the test binary runs on it, so its arch and OS agree.
        assert!(
            value("target").starts_with(std::env::consts::ARCH),
            "{text}"
        );
        assert!(value("target").contains(std::env::consts::OS), "{text}");
        assert!(value("rustc").starts_with("rustc 1."), "{text}");
        // Cargo's profile name for `cargo test` builds, with the exact opt-level.
        assert!(value("profile").contains("opt-level="), "{text}");
    }

    #[test]
    fn source_dates_are_utc_seconds_or_said_unknown() {
        assert_eq!(
            source_date(Some("1700000000")),
            "2023-11-14T22:13:20Z (SOURCE_DATE_EPOCH=1700000000)"
        );
        assert_eq!(source_date(None), "unknown");
        assert_eq!(
            source_date(Some("yesterday")),
            "SOURCE_DATE_EPOCH=\"yesterday\" (not a count of seconds)"
        );
    }
}
