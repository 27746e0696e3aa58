//! What build.rs records about how the binary is built (profile settings, rustflags), as pure
//! functions: build.rs includes this file with `#[path]` and the crate compiles it too, so that
//! its unit tests run with `cargo test`.
//!
//! Nothing recorded may depend on where the build ran: two builds of one commit in different
//! folders must give byte-identical binaries (`make dist-verify`), so local paths are elided.

/// Profile keys shown by `version --verbose`, in this order. `opt-level` and `debug` come from
/// Cargo's exact values (`OPT_LEVEL`, `DEBUG`); the others from the manifest's profile table.
pub const PROFILE_KEYS: [&str; 4] = ["lto", "codegen-units", "panic", "strip"];

/// The rustflags as they were passed (`CARGO_ENCODED_RUSTFLAGS`: one flag per `\x1f`-separated
/// field), with the local side of each `--remap-path-prefix FROM=TO` elided to `…`: the folder
/// a build ran in is not part of its identity, and recording it would break reproducibility.
/// Empty input gives an empty string.
pub fn describe_rustflags(encoded: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut remap_value_next = false;
    for flag in encoded.split('\x1f').filter(|f| !f.is_empty()) {
        if remap_value_next {
            out.push(elide_remap_source(flag));
            remap_value_next = false;
        } else if let Some(value) = flag.strip_prefix("--remap-path-prefix=") {
            out.push(format!("--remap-path-prefix={}", elide_remap_source(value)));
        } else if flag == "--remap-path-prefix" {
            out.push(flag.to_string());
            remap_value_next = true;
        } else {
            out.push(flag.to_string());
        }
    }
    out.join(" ")
}

/// C compiler flags (space-separated, as `CFLAGS` are), with the local side of each
/// `-f{file,debug,macro}-prefix-map=FROM=TO` elided like the rustflags' remaps.
pub fn describe_cflags(flags: &str) -> String {
    const MAPS: [&str; 3] = [
        "-ffile-prefix-map=",
        "-fdebug-prefix-map=",
        "-fmacro-prefix-map=",
    ];
    flags
        .split_whitespace()
        .map(|flag| match MAPS.iter().find(|m| flag.starts_with(*m)) {
            Some(map) => format!("{map}{}", elide_remap_source(&flag[map.len()..])),
            None => flag.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The variables the `cc` crate reads for a target's C compiler (or its flags, with `CFLAGS`),
/// most specific first: `CC_x86_64-unknown-linux-musl`, `CC_x86_64_unknown_linux_musl`,
/// `TARGET_CC`, `CC`.
pub fn cc_variables(base: &str, target: &str) -> [String; 4] {
    [
        format!("{base}_{target}"),
        format!("{base}_{}", target.replace('-', "_")),
        format!("TARGET_{base}"),
        base.to_string(),
    ]
}

/// `FROM=TO` becomes `…=TO`. rustc splits a remap at its last `=` (a path may contain `=`).
fn elide_remap_source(value: &str) -> String {
    match value.rsplit_once('=') {
        Some((_, to)) => format!("…={to}"),
        None => "…".to_string(),
    }
}

/// The `key = value` pairs of the `[profile.NAME]` table of a Cargo manifest, for the keys in
/// [`PROFILE_KEYS`], with `override_of(key)` (Cargo's `CARGO_PROFILE_<NAME>_<KEY>` variables)
/// taking precedence. Quotes around string values are dropped. A small line reader, not a TOML
/// parser: Cargo.toml keeps its profile tables flat, which is all this needs; a key it cannot
/// read is left out rather than guessed.
pub fn profile_settings(
    manifest: &str,
    profile: &str,
    override_of: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, String)> {
    let header = format!("[profile.{profile}]");
    let mut in_table = false;
    let mut table: Vec<(String, String)> = Vec::new();
    for line in manifest.lines() {
        let line = strip_comment(line).trim();
        if line.starts_with('[') {
            in_table = line == header;
            continue;
        }
        if !in_table {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"').to_string();
            table.push((key.trim().to_string(), value));
        }
    }
    let mut settings = Vec::new();
    for key in PROFILE_KEYS {
        let from_table = table
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone());
        if let Some(value) = override_of(key).or(from_table) {
            settings.push((key, value));
        }
    }
    settings
}

/// A line without its `#` comment (a `#` inside a quoted string is kept).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Cargo's environment variable for a profile key: `CARGO_PROFILE_RELEASE_CODEGEN_UNITS`.
pub fn profile_env_var(profile: &str, key: &str) -> String {
    format!(
        "CARGO_PROFILE_{}_{}",
        profile.to_ascii_uppercase().replace('-', "_"),
        key.to_ascii_uppercase().replace('-', "_")
    )
}

/// The program name of a linker path (`/usr/bin/aarch64-linux-gnu-gcc` → `aarch64-linux-gnu-gcc`):
/// which linker, not where it was installed.
pub fn program_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remap_sources_are_elided_in_both_spellings() {
        let encoded = "--remap-path-prefix=/work/wt-dist=/src\x1f-Ctarget-feature=+crt-static\x1f\
                       --remap-path-prefix\x1f/root/.cargo=/cargo";
        assert_eq!(
            describe_rustflags(encoded),
            "--remap-path-prefix=…=/src -Ctarget-feature=+crt-static --remap-path-prefix …=/cargo"
        );
        // A source path holding '=' is still elided whole: rustc splits at the last '='.
        assert_eq!(
            describe_rustflags("--remap-path-prefix=/tmp/a=b=/src"),
            "--remap-path-prefix=…=/src"
        );
        assert!(!describe_rustflags(encoded).contains("/work"));
        assert!(!describe_rustflags(encoded).contains("/root"));
    }

    #[test]
    fn c_prefix_maps_are_elided_and_other_flags_kept() {
        assert_eq!(
            describe_cflags(
                " -O2  -ffile-prefix-map=/work/x=/src -fdebug-prefix-map=/root/.cargo=/cargo"
            ),
            "-O2 -ffile-prefix-map=…=/src -fdebug-prefix-map=…=/cargo"
        );
        assert_eq!(describe_cflags(""), "");
    }

    #[test]
    fn cc_variables_go_from_the_target_to_the_generic_one() {
        assert_eq!(
            cc_variables("CC", "aarch64-unknown-linux-musl"),
            [
                "CC_aarch64-unknown-linux-musl",
                "CC_aarch64_unknown_linux_musl",
                "TARGET_CC",
                "CC"
            ]
        );
    }

    #[test]
    fn no_rustflags_is_an_empty_description() {
        assert_eq!(describe_rustflags(""), "");
        assert_eq!(describe_rustflags("-Copt-level=2"), "-Copt-level=2");
    }

    const MANIFEST: &str = r#"
[package]
name = "x"
lto = "not a profile key here"

[profile.release]
# a comment = "ignored"
opt-level = "s"
lto = "fat"   # trailing comment
codegen-units = 1
panic = "unwind"
strip = true

[profile.bench]
lto = "thin"
"#;

    #[test]
    fn the_named_profile_table_is_read_and_env_overrides_win() {
        let none = |_: &str| None;
        assert_eq!(
            profile_settings(MANIFEST, "release", none),
            vec![
                ("lto", "fat".to_string()),
                ("codegen-units", "1".to_string()),
                ("panic", "unwind".to_string()),
                ("strip", "true".to_string()),
            ]
        );
        assert_eq!(
            profile_settings(MANIFEST, "bench", none),
            vec![("lto", "thin".to_string())]
        );
        assert!(profile_settings(MANIFEST, "dev", none).is_empty());
        let thin = |key: &str| (key == "lto").then(|| "thin".to_string());
        assert_eq!(
            profile_settings(MANIFEST, "release", thin)[0],
            ("lto", "thin".to_string())
        );
    }

    #[test]
    fn cargo_profile_variables_are_named_like_cargo_names_them() {
        assert_eq!(
            profile_env_var("release", "codegen-units"),
            "CARGO_PROFILE_RELEASE_CODEGEN_UNITS"
        );
        assert_eq!(
            profile_env_var("my-dist", "lto"),
            "CARGO_PROFILE_MY_DIST_LTO"
        );
    }

    #[test]
    fn a_linker_is_named_by_its_program() {
        assert_eq!(
            program_name("/usr/bin/aarch64-linux-gnu-gcc"),
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(program_name("cc"), "cc");
    }
}
