//! `--tool-call-log-file`: one JSON line per `tools/call`, for debugging agents. A line holds
//! what was asked (the tool and its arguments, credentials masked, payloads elided) and how
//! the call ended (its [`Outcome`], duration, answer size, the writes it made); never the
//! answer and never an error's text: both can carry cluster data (a Secret's value quoted in
//! a 422, a log line) and the log outlives the session.
//!
//! The file is private and only ever a regular file of ours: created with mode 0600, an
//! existing file with wider permissions is narrowed to 0600 (never widened) before anything
//! is written; a symbolic link at the path is refused, not followed (`O_NOFOLLOW`: a link to
//! `~/.bashrc` must not get our lines appended); a FIFO, device or socket is refused without
//! blocking (`O_NONBLOCK` on open, then the opened file's type is checked).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::WriteRecord;
use crate::files::FileKind;
use crate::{kube, redact};

/// How a call ended, as the log names it (`"outcome"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The arguments were refused (unknown or missing ones, a bad value).
    InvalidArgument,
    /// The tool ran and failed (cluster error, not found, ...).
    Failed,
    /// Not a tool call we could run: unknown or withheld tool (a JSON-RPC -32602).
    InvalidParams,
    Panicked,
    /// The client cancelled it; whatever the tool returned was not sent.
    Cancelled,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::InvalidArgument => "invalid_argument",
            Outcome::Failed => "failed",
            Outcome::InvalidParams => "invalid_params",
            Outcome::Panicked => "panicked",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// What the log keeps of one call's ending.
pub struct Ending {
    pub outcome: Outcome,
    /// Size of the answer's text (0 when there was none).
    pub result_bytes: usize,
    pub duration: Duration,
    pub writes: Vec<WriteRecord>,
}

/// The log at one path. The file is opened for each line (so a rotated or deleted log is
/// created again), with the checks above each time.
#[derive(Debug)]
pub struct CallLog {
    path: PathBuf,
}

/// Longer string arguments, and any with a line break (manifests), are logged as their size:
/// a manifest may hold Secret data, and the log is about the call's shape, not its payload.
const LOGGED_STRING_MAX: usize = 128;
/// Arguments logged as their size whatever their length: a one-line manifest or patch can
/// carry a Secret's value as well as a long one.
const ALWAYS_ELIDED: &[&str] = &["yaml_content", "patch"];

/// Why a line was not written.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// A symbolic link at the path: never followed.
    Symlink,
    NotRegular(FileKind),
    /// The file is readable or writable by others and we could not narrow it.
    Permissions {
        mode: u32,
        cause: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Symlink => {
                f.write_str("it is a symbolic link, which the call log never follows")
            }
            Error::NotRegular(kind) => write!(f, "not a regular file but {kind}"),
            Error::Permissions { mode, cause } => write!(
                f,
                "its mode {mode:04o} lets others read it and it cannot be narrowed to 0600: {cause}"
            ),
        }
    }
}

impl CallLog {
    pub fn new(path: PathBuf) -> CallLog {
        CallLog { path }
    }

    /// Append the line for one call. A failure is reported on stderr, never to the call: the
    /// call must not fail because its log line could not be written.
    pub fn record(&self, tool: &str, args: &Map<String, Value>, ending: &Ending) {
        let mut line = entry(tool, args, ending, SystemTime::now()).to_string();
        line.push('\n');
        if let Err(e) = append_private(&self.path, line.as_bytes()) {
            // `eprintln!` panics when stderr is closed; a lost warning is not worth a panic.
            let _ = writeln!(
                io::stderr().lock(),
                "flux-operator-mcp: cannot write the tool call log {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The JSON line for one call.
fn entry(tool: &str, args: &Map<String, Value>, ending: &Ending, now: SystemTime) -> Value {
    let arguments: Map<String, Value> = args
        .iter()
        .map(|(k, v)| {
            let logged = match v {
                Value::Null => Value::Null,
                v if ALWAYS_ELIDED.contains(&k.as_str()) => Value::String(format!(
                    "<{} bytes elided>",
                    v.as_str().map_or_else(|| v.to_string().len(), str::len)
                )),
                v if redact::is_credential_name(k) => mask_all(v),
                v => logged_value(v),
            };
            (redact::mask(k).into_owned(), logged)
        })
        .collect();
    let mut entry = json!({
        "time": kube::time::rfc3339_utc(now),
        "tool": redact::mask(tool),
        "arguments": arguments,
        "outcome": ending.outcome.name(),
        "is_error": ending.outcome != Outcome::Ok,
        "duration_ms": (ending.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "result_bytes": ending.result_bytes,
    });
    if !ending.writes.is_empty() {
        entry["writes"] = ending
            .writes
            .iter()
            .map(|w| json!({"target": w.target, "outcome": w.outcome}))
            .collect();
    }
    entry
}

/// An argument as logged: long or multi-line strings as their size, credential-shaped text
/// masked, values under credential-named keys masked whole.
fn logged_value(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > LOGGED_STRING_MAX || s.contains('\n') => {
            Value::String(format!("<{} bytes elided>", s.len()))
        }
        Value::String(s) => Value::String(redact::mask(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(logged_value).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if redact::is_credential_name(k) {
                        mask_all(v)
                    } else {
                        logged_value(v)
                    };
                    (redact::mask(k).into_owned(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every scalar in `v` masked, its structure kept.
fn mask_all(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(redact::placeholder(s.len())),
        Value::Array(items) => Value::Array(items.iter().map(mask_all).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (redact::mask(k).into_owned(), mask_all(v)))
                .collect(),
        ),
        other => Value::String(redact::placeholder(other.to_string().len())),
    }
}

/// Append `bytes` with one write (O_APPEND keeps concurrent lines whole) to the private
/// regular file at `path`, creating it 0600.
fn append_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = open_private(path)?;
    file.write_all(bytes).map_err(Error::Io)
}

fn open_private(path: &Path) -> Result<File, Error> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use crate::files::open_flags;
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        // NONBLOCK: opening a FIFO for writing blocks until a reader comes (or, with no
        // reader, fails at once with ENXIO); either way it is refused below by type.
        options.custom_flags(open_flags::NOFOLLOW | open_flags::NONBLOCK);
    }
    let no_follow_flag = cfg!(unix) && crate::files::open_flags::NOFOLLOW != 0;
    // Without O_NOFOLLOW for this platform: check right before the open (a narrow race).
    if !no_follow_flag && is_symlink(path) {
        return Err(Error::Symlink);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        // O_NOFOLLOW fails with ELOOP on a link; say what it was rather than "too many
        // levels of symbolic links".
        Err(_) if is_symlink(path) => return Err(Error::Symlink),
        Err(e) => return Err(Error::Io(e)),
    };
    let meta = file.metadata().map_err(Error::Io)?;
    if let Some(kind) = FileKind::of(&meta) {
        return Err(Error::NotRegular(kind));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            // An existing log someone made readable (or one from before this check): narrow
            // it on the open file (fchmod, no path race) before writing; refuse if we cannot.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|cause| Error::Permissions { mode, cause })?;
        }
    }
    Ok(file)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "flux-operator-mcp-calllog-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn ending(outcome: Outcome) -> Ending {
        Ending {
            outcome,
            result_bytes: 12,
            duration: Duration::from_micros(1500),
            writes: Vec::new(),
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_log_is_created_private() {
        let path = dir("new").join("calls.jsonl");
        let log = CallLog::new(path.clone());
        log.record("t", &Map::new(), &ending(Outcome::Ok));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn an_existing_readable_log_is_narrowed_to_0600_never_widened() {
        let d = dir("mode");
        for (before, after) in [
            (0o644, 0o600),
            (0o666, 0o600),
            (0o640, 0o600),
            (0o600, 0o600),
            (0o400, 0o400),
        ] {
            let path = d.join(format!("calls-{before:o}.jsonl"));
            std::fs::write(&path, "").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(before)).unwrap();
            CallLog::new(path.clone()).record("t", &Map::new(), &ending(Outcome::Ok));
            assert_eq!(mode(&path), after, "{before:o}");
        }
        // And it still holds the line (0400 is refused by the kernel, not by us, unless root).
        let text = std::fs::read_to_string(d.join("calls-644.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_symlink_at_the_path_is_refused_and_its_target_untouched() {
        let d = dir("link");
        let target = d.join("target");
        std::fs::write(&target, "before\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = d.join("calls.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = append_private(&link, b"x\n").unwrap_err();
        assert!(matches!(err, Error::Symlink), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "before\n");
        assert_eq!(mode(&target), 0o644, "the target's mode is not changed");
        // A dangling link is not created through either.
        let dangling = d.join("dangling.jsonl");
        std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            append_private(&dangling, b"x\n").unwrap_err(),
            Error::Symlink
        ));
        assert!(!d.join("nowhere").exists());
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_without_blocking() {
        let d = dir("fifo");
        let fifo = d.join("calls.jsonl");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // No reader: the open fails at once (ENXIO) instead of waiting for one.
        assert!(matches!(append_private(&fifo, b"x\n"), Err(Error::Io(_))));
        // With a reader: opened, then refused by its type; the reader gets nothing.
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut r = std::fs::OpenOptions::new().read(true).open(fifo).unwrap();
                let mut got = Vec::new();
                io::Read::read_to_end(&mut r, &mut got).unwrap();
                got
            })
        };
        // The reader may not have opened yet: retry until the open passes ENXIO.
        let err = loop {
            match append_private(&fifo, b"x\n") {
                Err(Error::Io(e)) if e.raw_os_error() == Some(6) => std::thread::yield_now(),
                other => break other.unwrap_err(),
            }
        };
        assert!(matches!(err, Error::NotRegular(FileKind::Fifo)), "{err}");
        assert_eq!(
            err.to_string(),
            "not a regular file but a FIFO (named pipe)"
        );
        assert!(reader.join().unwrap().is_empty());
        let err = append_private(&d, b"x\n").unwrap_err();
        assert!(
            matches!(err, Error::Io(_) | Error::NotRegular(FileKind::Directory)),
            "{err}"
        );
    }

    #[test]
    fn the_entry_says_how_it_ended_never_what_was_answered() {
        let now = SystemTime::UNIX_EPOCH;
        for (outcome, name, is_error) in [
            (Outcome::Ok, "ok", false),
            (Outcome::InvalidArgument, "invalid_argument", true),
            (Outcome::Failed, "failed", true),
            (Outcome::InvalidParams, "invalid_params", true),
            (Outcome::Panicked, "panicked", true),
            (Outcome::Cancelled, "cancelled", true),
        ] {
            let e = entry("get_x", &Map::new(), &ending(outcome), now);
            assert_eq!(e["outcome"], json!(name));
            assert_eq!(e["is_error"], json!(is_error));
            assert_eq!(e["result_bytes"], json!(12));
            assert_eq!(e["duration_ms"], json!(1.5));
            assert_eq!(e["time"], json!("1970-01-01T00:00:00.000Z"));
            assert!(e.get("error").is_none());
            assert_eq!(
                e.as_object().unwrap().keys().collect::<Vec<_>>(),
                [
                    "arguments",
                    "duration_ms",
                    "is_error",
                    "outcome",
                    "result_bytes",
                    "time",
                    "tool"
                ]
            );
        }
    }

    #[test]
    fn arguments_are_logged_with_credentials_masked() {
        let a = args(json!({
            "name": "podinfo",
            "limit": 5,
            "grep": "Authorization: Bearer abcdefghijklmnop0123",
            "selector": "app=x,password=hunter2hunter2",
            "token": "plain-value-1",
            "clientSecret": 123456,
            "nested": {"apiKey": ["k1", {"x": true}], "other": "ok"},
            "list": ["fine", "token=zzzzzzzz"],
            "yaml_content": "short",
            "long": "a".repeat(129),
            "null": null,
        }));
        let e = entry("t", &a, &ending(Outcome::Ok), SystemTime::UNIX_EPOCH);
        let text = e.to_string();
        for leaked in [
            "abcdefghijklmnop0123",
            "hunter2hunter2",
            "plain-value-1",
            "123456",
            "k1",
            "zzzzzzzz",
        ] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        let got = &e["arguments"];
        assert_eq!(got["name"], json!("podinfo"));
        assert_eq!(got["limit"], json!(5));
        assert_eq!(
            got["grep"],
            json!("Authorization: Bearer <masked: 20 bytes>")
        );
        assert_eq!(got["selector"], json!("app=x,password=<masked: 14 bytes>"));
        assert_eq!(got["token"], json!("<masked: 13 bytes>"));
        assert_eq!(got["clientSecret"], json!("<masked: 6 bytes>"));
        assert_eq!(
            got["nested"],
            json!({"apiKey": ["<masked: 2 bytes>", {"x": "<masked: 4 bytes>"}], "other": "ok"})
        );
        assert_eq!(got["list"], json!(["fine", "token=<masked: 8 bytes>"]));
        assert_eq!(got["yaml_content"], json!("<5 bytes elided>"));
        assert_eq!(got["long"], json!("<129 bytes elided>"));
        assert_eq!(got["null"], Value::Null);
    }
}
