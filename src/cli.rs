//! The command line: the flag registry, parsing (lexopt) into a [`Command`], help and version
//! text, Go-style durations, and running the chosen command.
//!
//! Flags mirror the upstream Go server's (same names, same defaults) so that an existing
//! `.mcp.json` works unchanged. As with cobra's persistent flags upstream, server and
//! Kubernetes flags are accepted before or after the command name.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::docs;
use crate::kube::Secret;
use crate::mcp::http;
use crate::text::{edit_distance, parse_duration};
use crate::tools::{self, Settings};

const NAME: &str = "flux-operator-mcp";

/// `docs search` results when `--limit` is not given.
pub const DEFAULT_DOCS_LIMIT: usize = 5;

/// `--port` when it is not given (upstream's default; `--help` shows it from [`FLAGS`], a test
/// keeps the two equal).
pub const DEFAULT_PORT: u16 = 8080;

/// Which part of the program a flag configures; `--help` groups flags by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Server,
    Kube,
    Docs,
    Snapshot,
}

/// One command-line flag: its name, its help and its effect, in one place. `--help` and the
/// README's flags table are generated from [`FLAGS`]; the parser applies `update`.
#[derive(Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// The value's placeholder in help; `None` for a boolean switch (`--x`, `--x=false`).
    pub value: Option<&'static str>,
    /// The default as help shows it; empty when unset.
    pub default: &'static str,
    pub help: &'static str,
    pub group: Group,
    /// Repeatable: every occurrence adds a value.
    pub repeat: bool,
    /// What one occurrence does to the options being collected.
    update: Update,
}

/// A flag's effect. The variant says which form of value the flag takes, so the parser reads
/// and checks the value the same way for every flag (a test keeps it in step with `value`).
#[derive(Debug, Clone, Copy)]
enum Update {
    /// A boolean switch: `--x` is true; `--x=false` takes Go's `strconv.ParseBool` spellings.
    Switch(fn(&mut Parsed, bool)),
    /// A value that must be UTF-8.
    Text(fn(&mut Parsed, &str) -> Result<(), Refusal>),
    /// A file or folder: any OS string. Empty leaves the flag unset, as upstream's pflag does.
    Path(fn(&mut Parsed, Option<PathBuf>)),
}

/// Why an update refused its value: [`apply`] says "invalid value V for --flag: REASON".
#[derive(Debug)]
struct Refusal(String);

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal(reason.into())
}

const fn flag(
    long: &'static str,
    value: Option<&'static str>,
    default: &'static str,
    group: Group,
    help: &'static str,
    update: Update,
) -> Flag {
    Flag {
        long,
        short: None,
        value,
        default,
        help,
        group,
        repeat: false,
        update,
    }
}

/// The tool names of `--tools` / `--disable-tools`: comma-separated, each a tool of this
/// build, so a typo stops the server at start-up instead of silently hiding a tool.
fn tool_names(text: &str) -> Result<Vec<String>, Refusal> {
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(invalid("expected tool names separated by commas"));
    }
    for name in &names {
        if tools::REGISTRY.iter().any(|t| t.name == name) {
            continue;
        }
        let closest = tools::REGISTRY
            .iter()
            .map(|t| (edit_distance(name, t.name), t.name))
            .filter(|(d, _)| *d <= 3)
            .min();
        let hint = match closest {
            Some((_, t)) => format!("did you mean {t}?"),
            None => {
                let all: Vec<&str> = tools::REGISTRY.iter().map(|t| t.name).collect();
                format!("tools: {}", all.join(", "))
            }
        };
        return Err(invalid(format!(
            "unknown tool {name:?} ({hint}){UNKNOWN_TOOL_NOTE}"
        )));
    }
    Ok(names)
}

/// Said after an unknown tool name: the read-only build lacks tools the default build has.
#[cfg(feature = "mutations")]
const UNKNOWN_TOOL_NOTE: &str = "";
#[cfg(not(feature = "mutations"))]
const UNKNOWN_TOOL_NOTE: &str = "; this is the read-only build, which has no tool that \
                                 changes a cluster";

/// Which build this is, for `-h` and `--help`. Separate constants rather than `cfg!`, so the
/// read-only build's binary holds only its own text.
#[cfg(feature = "mutations")]
const BUILD_NOTE: &str = "\
Build: default, with every tool; --read-only hides the tools that change a cluster, --tools
and --disable-tools choose tools by name.
";
#[cfg(not(feature = "mutations"))]
const BUILD_NOTE: &str = "\
Build: read-only. It has no tool that changes a cluster, and its REST client sends nothing
but GET, whatever the kubeconfig's identity may do; diff_kubernetes_manifest is left out
too (its server-side dry run is a PATCH). --read-only is always on.
";

/// `serve --read-only=false` in the read-only build.
#[cfg(not(feature = "mutations"))]
const READ_ONLY_BUILD_REFUSAL: &str = "--read-only=false is not possible: this is the read-only \
    build, which has no tool that changes a cluster (use the default build to offer them)";

/// A text value as upstream (pflag) reads most of them: trimmed; empty leaves the flag unset.
fn non_empty(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Every flag, in help order, each with its effect. Names and defaults follow the upstream
/// server's.
pub const FLAGS: &[Flag] = &[
    flag(
        "transport",
        Some("NAME"),
        "stdio",
        Group::Server,
        "MCP transport: stdio; http (Streamable HTTP at /mcp); sse (legacy HTTP+SSE at /sse, deprecated)",
        Update::Text(|p, text| {
            p.serve.transport =
                Transport::from_name(text).ok_or_else(|| invalid("expected stdio, http or sse"))?;
            Ok(())
        }),
    ),
    flag(
        "port",
        Some("PORT"),
        "8080",
        Group::Server,
        "TCP port for the http and sse transports (a port in --listen wins), and for snapshot \
         serve-api (default there: any free port)",
        Update::Text(|p, text| {
            p.serve.port = text
                .trim()
                .parse()
                .map_err(|_| invalid("expected a TCP port, 0-65535"))?;
            p.port_given = true;
            Ok(())
        }),
    ),
    flag(
        "listen",
        Some("ADDR"),
        "127.0.0.1; 0.0.0.0 in a pod",
        Group::Server,
        "address for http and sse: IP, IP:PORT, [IPv6]:PORT or :PORT (every interface); the default is loopback only, except in a pod (KUBERNETES_SERVICE_HOST set), where a Service must reach it",
        Update::Text(|p, text| {
            p.transport_only.push("listen");
            p.serve.listen = Some(parse_listen(text).map_err(invalid)?);
            Ok(())
        }),
    ),
    flag(
        "auth-token-file",
        Some("FILE"),
        "",
        Group::Server,
        "http and sse: require the bearer token in FILE (Authorization: Bearer TOKEN) on every request but /healthz",
        Update::Path(|p, path| {
            p.transport_only.push("auth-token-file");
            p.serve.auth_token_file = path;
        }),
    ),
    flag(
        "read-only",
        None,
        "false",
        Group::Server,
        "offer only the tools that do not change the cluster (always on in the read-only build)",
        Update::Switch(|p, on| p.serve.tools.read_only = on),
    ),
    Flag {
        repeat: true,
        ..flag(
            "tools",
            Some("NAMES"),
            "",
            Group::Server,
            "offer only these tools, comma-separated (e.g. the read tools plus the reconcile \
             tool); repeatable",
            Update::Text(|p, text| {
                let names = tool_names(text)?;
                p.serve
                    .tools
                    .enabled_tools
                    .get_or_insert_with(Vec::new)
                    .extend(names);
                Ok(())
            }),
        )
    },
    Flag {
        repeat: true,
        ..flag(
            "disable-tools",
            Some("NAMES"),
            "",
            Group::Server,
            "never offer these tools, comma-separated; repeatable",
            Update::Text(|p, text| {
                let names = tool_names(text)?;
                p.serve.tools.disabled_tools.extend(names);
                Ok(())
            }),
        )
    },
    flag(
        "mask-secrets",
        None,
        "true",
        Group::Server,
        "mask credentials in tool output as `<masked: N bytes>` (keys and sizes stay): Secret \
         data, container `env` literals and Helm values under credential names, Secrets copied \
         into annotations, credential-shaped text in logs and events",
        Update::Switch(|p, on| p.serve.tools.mask_secrets = on),
    ),
    flag(
        "timeout",
        Some("DURATION"),
        "1m",
        Group::Server,
        "deadline for the Kubernetes calls of one tool call (Go duration: 30s, 1m, 1m30s)",
        Update::Text(|p, text| match parse_duration(text) {
            Ok(d) if d.is_zero() => Err(invalid("must be greater than zero")),
            Ok(d) => {
                p.serve.tools.timeout = d;
                Ok(())
            }
            Err(reason) => Err(invalid(reason)),
        }),
    ),
    flag(
        "tool-call-log-file",
        Some("FILE"),
        "",
        Group::Server,
        "append one JSON line per tool call (tool, masked arguments, how it ended, timing, \
         size, the objects a write changed; never the output or an error's text)",
        Update::Path(|p, path| p.serve.tools.tool_call_log_file = path),
    ),
    Flag {
        repeat: true,
        ..flag(
            "snapshot",
            Some("FILE"),
            "",
            Group::Server,
            "answer from this snapshot (snapshot create) instead of the kubeconfig's clusters; \
             repeatable, each is a context",
            Update::Path(|p, path| {
                p.only.push(("snapshot", "serve"));
                p.serve.tools.snapshots.extend(path);
            }),
        )
    },
    flag(
        "kubeconfig",
        Some("FILE"),
        "$KUBECONFIG, else ~/.kube/config",
        Group::Kube,
        "kubeconfig file to use instead of the KUBECONFIG list",
        Update::Path(|p, path| p.serve.tools.kube.kubeconfig = path),
    ),
    flag(
        "kube-context",
        Some("NAME"),
        "",
        Group::Kube,
        "kubeconfig context to use instead of current-context",
        Update::Text(|p, text| {
            p.serve.tools.kube.context = non_empty(text);
            Ok(())
        }),
    ),
    flag(
        "kube-as",
        Some("USER"),
        "",
        Group::Kube,
        "impersonate this user or service account (system:serviceaccount:NS:NAME)",
        Update::Text(|p, text| {
            p.serve.tools.kube.impersonate_user = non_empty(text);
            Ok(())
        }),
    ),
    Flag {
        repeat: true,
        ..flag(
            "kube-as-group",
            Some("GROUP"),
            "",
            Group::Kube,
            "impersonate this group (repeatable)",
            Update::Text(|p, text| {
                p.serve
                    .tools
                    .kube
                    .impersonate_groups
                    .extend(non_empty(text));
                Ok(())
            }),
        )
    },
    flag(
        "kube-as-uid",
        Some("UID"),
        "",
        Group::Kube,
        "impersonate this UID",
        Update::Text(|p, text| {
            p.serve.tools.kube.impersonate_uid = non_empty(text);
            Ok(())
        }),
    ),
    flag(
        "kube-token",
        Some("TOKEN"),
        "",
        Group::Kube,
        "bearer token for the API server",
        Update::Text(|p, text| {
            p.serve.tools.kube.token = non_empty(text).map(Secret::new);
            Ok(())
        }),
    ),
    flag(
        "kube-server",
        Some("URL"),
        "",
        Group::Kube,
        "API server address, e.g. https://127.0.0.1:6443",
        Update::Text(|p, text| {
            p.serve.tools.kube.server = non_empty(text);
            Ok(())
        }),
    ),
    flag(
        "kube-tls-server-name",
        Some("NAME"),
        "",
        Group::Kube,
        "server name for TLS SNI and certificate checks",
        Update::Text(|p, text| {
            p.serve.tools.kube.tls_server_name = non_empty(text);
            Ok(())
        }),
    ),
    flag(
        "kube-client-certificate",
        Some("FILE"),
        "",
        Group::Kube,
        "client certificate file (PEM)",
        Update::Path(|p, path| p.serve.tools.kube.client_certificate = path),
    ),
    flag(
        "kube-client-key",
        Some("FILE"),
        "",
        Group::Kube,
        "client key file (PEM)",
        Update::Path(|p, path| p.serve.tools.kube.client_key = path),
    ),
    flag(
        "kube-certificate-authority",
        Some("FILE"),
        "",
        Group::Kube,
        "CA bundle file (PEM) to verify the API server with",
        Update::Path(|p, path| p.serve.tools.kube.certificate_authority = path),
    ),
    flag(
        "kube-insecure-skip-tls-verify",
        None,
        "false",
        Group::Kube,
        "do not verify the API server's certificate (insecure)",
        Update::Switch(|p, on| p.serve.tools.kube.insecure_skip_tls_verify = on),
    ),
    Flag {
        short: Some('n'),
        ..flag(
            "namespace",
            Some("NAMESPACE"),
            "the context's namespace, else default",
            Group::Kube,
            "default namespace",
            Update::Text(|p, text| {
                p.serve.tools.kube.namespace = non_empty(text);
                Ok(())
            }),
        )
    },
    Flag {
        repeat: true,
        ..flag(
            "docs-dir",
            Some("DIR"),
            "",
            Group::Docs,
            "extra markdown to index with the embedded Flux docs (repeatable)",
            Update::Path(|p, path| p.serve.tools.docs_dirs.extend(path)),
        )
    },
    flag(
        "limit",
        Some("N"),
        "5",
        Group::Docs,
        "docs search: how many results to print",
        Update::Text(|p, text| {
            p.docs_only.push("limit");
            match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => p.limit = Some(n),
                _ => return Err(invalid("expected a whole number greater than zero")),
            }
            Ok(())
        }),
    ),
    flag(
        "format",
        Some("FORMAT"),
        "concise",
        Group::Docs,
        "docs search: concise (best sections) or complete (whole documents)",
        Update::Text(|p, text| {
            p.docs_only.push("format");
            let format = text.parse::<docs::Format>();
            p.format = Some(format.map_err(|_| invalid("expected concise or complete"))?);
            Ok(())
        }),
    ),
    Flag {
        short: Some('o'),
        ..flag(
            "output",
            Some("FILE"),
            "<context>-<UTC time>.snapshot",
            Group::Snapshot,
            "snapshot create: the file to write",
            Update::Path(|p, path| {
                p.only.push(("output", "snapshot create"));
                p.output = path;
            }),
        )
    },
    flag(
        "kubeconfig-out",
        Some("FILE"),
        "<temp dir>/flux-operator-mcp-snapshot-<port>.kubeconfig",
        Group::Snapshot,
        "snapshot serve-api: write a kubeconfig for the local API server to this file",
        Update::Path(|p, path| {
            p.only.push(("kubeconfig-out", "snapshot serve-api"));
            p.kubeconfig_out = path;
        }),
    ),
];

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(ServeOptions),
    /// `check` builds its clients the way the tools do, so it takes the tools' settings (it
    /// reads the Kubernetes flags and `--timeout`; the server flags do not concern it).
    Check(Settings),
    DocsSearch {
        query: String,
        limit: usize,
        format: docs::Format,
        docs_dirs: Vec<PathBuf>,
    },
    DocsList {
        docs_dirs: Vec<PathBuf>,
    },
    /// `docs read PATH [HEADING...]`: a whole document or section, without the tool's caps.
    DocsRead {
        path: String,
        heading: Option<String>,
        docs_dirs: Vec<PathBuf>,
    },
    /// `snapshot create`: capture the context of `settings` (the Kubernetes flags, `-n` to
    /// narrow it to one namespace and Flux's, `--timeout` per request) to `output`.
    SnapshotCreate {
        settings: Settings,
        output: Option<PathBuf>,
    },
    /// `snapshot serve-api FILE`: a read-only HTTPS API server on 127.0.0.1 over a snapshot.
    SnapshotServeApi {
        file: PathBuf,
        /// `--port`; `None`: any free port.
        port: Option<u16>,
        kubeconfig_out: Option<PathBuf>,
    },
    Version,
    /// `-h`: usage and commands.
    ShortHelp,
    /// `--help`: also every flag with its default.
    LongHelp,
}

/// What `serve` runs with: how it talks to the client, and the settings of the tools it
/// offers. The transport flags land here, the tool flags in `tools`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--transport` (default stdio).
    pub transport: Transport,
    /// `--port` (default [`DEFAULT_PORT`]): where the http and sse transports listen; stdio
    /// has no port.
    pub port: u16,
    /// `--listen`: the address (and maybe port) the http and sse transports listen on; unset,
    /// 127.0.0.1, or every interface in a pod (see [`ServeOptions::listen_addr`]).
    pub listen: Option<Listen>,
    /// `--auth-token-file`: the bearer token http and sse clients must send.
    pub auth_token_file: Option<PathBuf>,
    /// `--read-only`, `--mask-secrets`, `--timeout`, `--tool-call-log-file`, `--docs-dir`
    /// and the Kubernetes flags.
    pub tools: Settings,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            transport: Transport::default(),
            port: DEFAULT_PORT,
            listen: None,
            auth_token_file: None,
            tools: Settings::default(),
        }
    }
}

/// `--listen`: an address, and a port when one was given with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

/// `IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT`, `localhost[:PORT]` or `:PORT` (every interface,
/// as Go's `:8080`).
fn parse_listen(text: &str) -> Result<Listen, String> {
    let text = text.trim();
    let expected =
        "expected an IP address with an optional port: 127.0.0.1, 0.0.0.0:9090, [::1]:8080, :8080";
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("bad port {p:?}; {expected}"))
    };
    if let Some(p) = text.strip_prefix(':')
        && !p.contains(':')
    {
        return Ok(Listen {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: Some(port(p)?),
        });
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Listen {
            ip: addr.ip(),
            port: Some(addr.port()),
        });
    }
    let (host, p) = match text.rsplit_once(':') {
        // A bare IPv6 address has colons of its own.
        Some((h, p)) if !h.contains(':') => (h, Some(port(p)?)),
        _ => (text, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| format!("{host:?} is not an IP address; {expected}"))?
    };
    Ok(Listen { ip, port: p })
}

impl ServeOptions {
    /// Where the http and sse transports listen: `--listen`'s address, else 127.0.0.1, or
    /// every interface in a pod (upstream's Helm chart reaches the server through a Service);
    /// `--listen`'s port, else `--port`.
    pub fn listen_addr(&self, in_pod: bool) -> SocketAddr {
        let default_ip = if in_pod {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let ip = self.listen.map_or(default_ip, |l| l.ip);
        let port = self.listen.and_then(|l| l.port).unwrap_or(self.port);
        SocketAddr::new(ip, port)
    }
}

/// How `serve` talks to its client (`--transport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// One JSON-RPC message per line on stdin and stdout: what an assistant starts.
    #[default]
    Stdio,
    /// Streamable HTTP at `/mcp`.
    Http,
    /// The legacy HTTP+SSE transport at `/sse` (and Streamable HTTP at `/mcp` beside it).
    Sse,
}

impl Transport {
    /// The `--transport` value that names it.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
            Transport::Sse => "sse",
        }
    }

    fn from_name(name: &str) -> Option<Transport> {
        [Transport::Stdio, Transport::Http, Transport::Sse]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// A command-line mistake. Printed as one line on stderr; exit code 2.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    NoCommand,
    UnknownCommand {
        name: String,
        suggestion: Option<&'static str>,
    },
    UnknownFlag {
        flag: String,
        suggestion: Option<String>,
    },
    MissingValue {
        flag: String,
    },
    BadValue {
        flag: String,
        value: String,
        reason: String,
    },
    /// `--limit` outside `docs search`, for example.
    NotFor {
        flag: &'static str,
        command: String,
    },
    UnexpectedArgument {
        arg: String,
        command: String,
    },
    Unsupported(String),
    /// `--listen` or `--auth-token-file` with the stdio transport.
    TransportOnly {
        flag: &'static str,
    },
    /// `docs` without `search` or `list`.
    MissingDocsCommand,
    MissingQuery,
    MissingDocPath,
    /// `snapshot` without `create` or `serve-api`.
    MissingSnapshotCommand,
    /// `snapshot serve-api` without a file.
    MissingSnapshotFile,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoCommand => f.write_str("no command given"),
            Error::UnknownCommand { name, suggestion } => {
                write!(f, "unknown command {name:?}")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean {s}?)"),
                    None => f.write_str(" (commands: serve, check, docs, snapshot, version)"),
                }
            }
            Error::UnknownFlag { flag, suggestion } => {
                write!(f, "unknown flag {flag}")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean {s}?)"),
                    None => write!(f, " (see {NAME} --help)"),
                }
            }
            Error::MissingValue { flag } => write!(f, "flag {flag} needs a value"),
            Error::BadValue {
                flag,
                value,
                reason,
            } => write!(f, "invalid value {value:?} for {flag}: {reason}"),
            Error::NotFor { flag, command } => {
                write!(f, "flag --{flag} does not apply to {command:?}")
            }
            Error::UnexpectedArgument { arg, command } => {
                write!(f, "unexpected argument {arg:?} for {command:?}")
            }
            Error::Unsupported(m) => f.write_str(m),
            Error::TransportOnly { flag } => write!(
                f,
                "flag --{flag} applies to --transport http or sse, not stdio"
            ),
            Error::MissingDocsCommand => {
                f.write_str("docs needs a command: docs search QUERY or docs list")
            }
            Error::MissingQuery => write!(f, "docs search needs a query: {NAME} docs search QUERY"),
            Error::MissingDocPath => write!(
                f,
                "docs read needs a document: {NAME} docs read PATH [HEADING] (docs list names them)"
            ),
            Error::MissingSnapshotCommand => f.write_str(
                "snapshot needs a command: snapshot create [-o FILE] or snapshot serve-api FILE",
            ),
            Error::MissingSnapshotFile => write!(
                f,
                "snapshot serve-api needs a snapshot file: {NAME} snapshot serve-api FILE"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Entry point of the binary: parse, run, print one error, pick the exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // `version --verbose` (how the binary was built) is recognised ahead of the flag registry:
    // src/version.rs owns both the forms and the text.
    if crate::version::wants_verbose(&args) {
        return print(&crate::version::verbose());
    }
    match parse(args) {
        Ok(command) => run(command),
        Err(Error::NoCommand) => {
            eprint!("{}", short_help());
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Run a parsed command.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve(options) => serve(options),
        Command::Check(settings) => crate::check::run(&settings),
        Command::DocsSearch {
            query,
            limit,
            format,
            docs_dirs,
        } => print(&docs::run_search(&query, limit, format, &docs_dirs)),
        Command::DocsList { docs_dirs } => print(&docs::run_list(&docs_dirs)),
        Command::DocsRead {
            path,
            heading,
            docs_dirs,
        } => {
            let request = docs::ReadRequest {
                path: &path,
                heading: heading.as_deref(),
                offset: None,
                lines: usize::MAX,
                max_bytes: usize::MAX,
            };
            match docs::run_read(&request, &docs_dirs) {
                Ok(text) => print(&text),
                Err(e) => {
                    eprintln!("{NAME}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::SnapshotCreate { settings, output } => snapshot_create(&settings, output),
        Command::SnapshotServeApi {
            file,
            port,
            kubeconfig_out,
        } => snapshot_serve_api(&file, port, kubeconfig_out.as_deref()),
        Command::Version => print(&crate::version::short()),
        Command::ShortHelp => print(&short_help()),
        Command::LongHelp => print(&long_help()),
    }
}

fn serve(options: ServeOptions) -> ExitCode {
    let in_pod = crate::kube::config::Env::from_process()
        .service_host
        .is_some();
    let listen = options.listen_addr(in_pod);
    let toolbox = if options.tools.snapshots.is_empty() {
        let mode = tools::Mode {
            in_cluster: in_pod,
            source: tools::Source::Live,
        };
        tools::Toolbox::new(options.tools, mode)
    } else {
        // Every snapshot is read and checked before serving: a damaged file is one clear
        // error now, not a failure in the middle of an investigation.
        let mut loaded = Vec::new();
        for path in &options.tools.snapshots {
            match crate::snapshot::Snapshot::load(path) {
                Ok(s) => loaded.push((path.clone(), s)),
                Err(e) => {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "{NAME}: cannot read snapshot {}: {e}",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        tools::Toolbox::from_snapshots(options.tools, loaded)
    };
    let endpoints = match options.transport {
        Transport::Stdio => return crate::mcp::stdio::serve(std::sync::Arc::new(toolbox)),
        Transport::Http => http::Endpoints::Streamable,
        Transport::Sse => http::Endpoints::LegacySse,
    };
    let mut http_options = http::Options::new(listen, endpoints);
    if let Some(path) = &options.auth_token_file {
        let token = crate::files::read(path, crate::files::TOKEN)
            .map_err(|e| e.to_string())
            .and_then(|bytes| http::Token::new(&bytes).map_err(|e| e.to_string()));
        match token {
            Ok(token) => http_options.token = Some(token),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{NAME}: --auth-token-file {}: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    http::serve(std::sync::Arc::new(toolbox), http_options)
}

/// `snapshot create`: the capture with a progress line on stderr (rewritten in place on a
/// terminal, at most one line a second otherwise), then the summary on stdout.
fn snapshot_create(settings: &Settings, output: Option<PathBuf>) -> ExitCode {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    let progress = |line: &str| {
        let mut last = crate::sync::lock(&last);
        let now = std::time::Instant::now();
        if !terminal && last.is_some_and(|t| now.duration_since(t).as_secs() < 1) {
            return;
        }
        *last = Some(now);
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r\x1b[K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    };
    let result = tools::capture::capture(settings, output.as_deref(), &progress);
    if terminal {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
    }
    match result {
        Ok(summary) => print(&summary.to_string()),
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "{NAME}: snapshot create: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `snapshot serve-api`: reads and checks the snapshot, binds loopback, writes the kubeconfig
/// (0600: it holds the token), says where on stdout, then serves until the process is stopped.
fn snapshot_serve_api(
    file: &std::path::Path,
    port: Option<u16>,
    kubeconfig_out: Option<&std::path::Path>,
) -> ExitCode {
    let fail = |message: String| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{NAME}: snapshot serve-api: {message}"
        );
        ExitCode::FAILURE
    };
    let snapshot = match crate::snapshot::Snapshot::load(file) {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => return fail(format!("cannot read snapshot {}: {e}", file.display())),
    };
    let server = match crate::snapshot::serve::Server::bind(snapshot.clone(), port.unwrap_or(0)) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let path = kubeconfig_out.map_or_else(
        || {
            std::env::temp_dir().join(format!(
                "{NAME}-snapshot-{}.kubeconfig",
                server.address().port()
            ))
        },
        std::path::Path::to_path_buf,
    );
    if let Err(e) = crate::snapshot::write_private(&path, server.kubeconfig().as_bytes()) {
        return fail(format!(
            "cannot write the kubeconfig {}: {e}",
            path.display()
        ));
    }
    let meta = snapshot.meta();
    let text = format!(
        "{url}\nserving snapshot {file} read-only: context {context} ({server}), captured {at} \
         ({age} ago)\nkubeconfig: {kc}\n  kubectl --kubeconfig {kc} get kustomizations -A\n  \
         flux --kubeconfig {kc} get all -A\n",
        url = server.url(),
        file = file.display(),
        context = meta.context,
        server = meta.server,
        at = meta.captured_at,
        age = crate::text::short_duration(snapshot.age()),
        kc = path.display(),
    );
    if print(&text) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    server.run();
    ExitCode::SUCCESS
}

/// Print a command's output; a closed pipe (`| head`) is not an error worth a panic.
fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut result = out.write_all(text.as_bytes());
    if result.is_ok() && !text.ends_with('\n') {
        result = out.write_all(b"\n");
    }
    match result.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME}: writing stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the parser collected before it builds a [`Command`]; the flags' updates write here.
#[derive(Debug, Default)]
struct Parsed {
    words: Vec<OsString>,
    serve: ServeOptions,
    limit: Option<usize>,
    format: Option<docs::Format>,
    /// Flags given that only `docs search` takes.
    docs_only: Vec<&'static str>,
    /// Flags given that only the http and sse transports take.
    transport_only: Vec<&'static str>,
    /// Flags given that only one command takes: (flag, command).
    only: Vec<(&'static str, &'static str)>,
    /// `--port` was given (snapshot serve-api picks a free port otherwise).
    port_given: bool,
    /// `-o`/`--output` (snapshot create).
    output: Option<PathBuf>,
    /// `--kubeconfig-out` (snapshot serve-api).
    kubeconfig_out: Option<PathBuf>,
}

/// Parse the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::Arg;

    let mut parser = lexopt::Parser::from_args(args);
    let mut p = Parsed::default();
    let mut help = None;
    let mut version = false;
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => return Err(lexopt_error(e)),
        };
        let flag = match arg {
            Arg::Value(v) => {
                p.words.push(v);
                continue;
            }
            Arg::Short('h') => {
                help.get_or_insert(Command::ShortHelp);
                continue;
            }
            Arg::Long("help") => {
                help = Some(Command::LongHelp);
                continue;
            }
            // Upstream prints the version for -v too.
            Arg::Short('V' | 'v') | Arg::Long("version") => {
                version = true;
                continue;
            }
            Arg::Short(c) => match FLAGS.iter().find(|f| f.short == Some(c)) {
                Some(f) => f,
                None => {
                    return Err(Error::UnknownFlag {
                        flag: format!("-{c}"),
                        suggestion: None,
                    });
                }
            },
            Arg::Long(name) => match FLAGS.iter().find(|f| f.long == name) {
                Some(f) => f,
                None => {
                    return Err(Error::UnknownFlag {
                        flag: format!("--{name}"),
                        suggestion: suggest_flag(name),
                    });
                }
            },
        };
        let raw = match flag.update {
            Update::Switch(_) => parser.optional_value(),
            Update::Text(_) | Update::Path(_) => Some(parser.value().map_err(lexopt_error)?),
        };
        apply(flag, raw, &mut p)?;
    }
    if let Some(h) = help {
        return Ok(h);
    }
    if version {
        return Ok(Command::Version);
    }
    command(p)
}

/// Turn the collected words and flags into a command.
fn command(p: Parsed) -> Result<Command, Error> {
    let words: Vec<String> = p
        .words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let Some(first) = words.first() else {
        return Err(Error::NoCommand);
    };
    let name = first.as_str();
    let is_docs_search = name == "docs" && words.get(1).map(String::as_str) == Some("search");
    if !is_docs_search && let Some(flag) = p.docs_only.first() {
        return Err(Error::NotFor {
            flag,
            command: words.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
        });
    }
    let full = match name {
        "docs" | "snapshot" => words.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
        _ => name.to_string(),
    };
    if let Some((flag, _)) = p.only.iter().find(|(_, command)| *command != full) {
        return Err(Error::NotFor {
            flag,
            command: full,
        });
    }
    let extra = |from: usize, command: &str| match words.get(from) {
        Some(arg) => Err(Error::UnexpectedArgument {
            arg: arg.clone(),
            command: command.to_string(),
        }),
        None => Ok(()),
    };
    match name {
        "serve" => {
            extra(1, "serve")?;
            if p.serve.transport == Transport::Stdio
                && let Some(flag) = p.transport_only.first()
            {
                return Err(Error::TransportOnly { flag });
            }
            #[cfg(not(feature = "mutations"))]
            if !p.serve.tools.read_only {
                return Err(Error::Unsupported(READ_ONLY_BUILD_REFUSAL.to_string()));
            }
            if !p.serve.tools.snapshots.is_empty() && !p.serve.tools.mask_secrets {
                return Err(Error::Unsupported(
                    "--mask-secrets=false does not apply to --snapshot: a snapshot holds no \
                     Secret values, only their sizes"
                        .into(),
                ));
            }
            Ok(Command::Serve(p.serve))
        }
        "snapshot" => match words.get(1).map(String::as_str) {
            Some("create") => {
                extra(2, "snapshot create")?;
                Ok(Command::SnapshotCreate {
                    settings: p.serve.tools,
                    output: p.output,
                })
            }
            Some("serve-api") => {
                let file = p.words.get(2).ok_or(Error::MissingSnapshotFile)?;
                extra(3, "snapshot serve-api")?;
                Ok(Command::SnapshotServeApi {
                    file: PathBuf::from(file),
                    port: p.port_given.then_some(p.serve.port),
                    kubeconfig_out: p.kubeconfig_out,
                })
            }
            Some(other) => Err(Error::UnknownCommand {
                name: format!("snapshot {other}"),
                suggestion: suggest(other, ["create", "serve-api"]).map(|s| match s {
                    "create" => "snapshot create",
                    _ => "snapshot serve-api",
                }),
            }),
            None => Err(Error::MissingSnapshotCommand),
        },
        "check" => {
            extra(1, "check")?;
            Ok(Command::Check(p.serve.tools))
        }
        "version" => {
            extra(1, "version")?;
            Ok(Command::Version)
        }
        "help" => Ok(Command::LongHelp),
        "docs" => match words.get(1).map(String::as_str) {
            Some("search") => {
                let query = words[2..].join(" ");
                if query.trim().is_empty() {
                    return Err(Error::MissingQuery);
                }
                Ok(Command::DocsSearch {
                    query,
                    limit: p.limit.unwrap_or(DEFAULT_DOCS_LIMIT),
                    format: p.format.unwrap_or_default(),
                    docs_dirs: p.serve.tools.docs_dirs,
                })
            }
            Some("list") => {
                extra(2, "docs list")?;
                Ok(Command::DocsList {
                    docs_dirs: p.serve.tools.docs_dirs,
                })
            }
            Some("read") => {
                let path = words.get(2).ok_or(Error::MissingDocPath)?;
                let heading = words[3..].join(" ");
                Ok(Command::DocsRead {
                    path: path.clone(),
                    heading: (!heading.trim().is_empty()).then_some(heading),
                    docs_dirs: p.serve.tools.docs_dirs,
                })
            }
            Some(other) => Err(Error::UnknownCommand {
                name: format!("docs {other}"),
                suggestion: suggest(other, ["search", "list", "read"]).map(|s| match s {
                    "search" => "docs search",
                    "read" => "docs read",
                    _ => "docs list",
                }),
            }),
            None => Err(Error::MissingDocsCommand),
        },
        other => Err(Error::UnknownCommand {
            name: other.to_string(),
            suggestion: suggest(other, ["serve", "check", "docs", "snapshot", "version"]),
        }),
    }
}

/// Read one occurrence of `flag` (`raw` is the value given with it) and apply its effect.
fn apply(flag: &'static Flag, raw: Option<OsString>, p: &mut Parsed) -> Result<(), Error> {
    let name = || format!("--{}", flag.long);
    let bad = |value: &str, reason: String| Error::BadValue {
        flag: name(),
        value: value.to_string(),
        reason,
    };
    match flag.update {
        Update::Switch(update) => {
            let on = match raw {
                None => true,
                Some(v) => {
                    let v = v.to_string_lossy();
                    parse_bool(&v).ok_or_else(|| bad(&v, "expected true or false".into()))?
                }
            };
            update(p, on);
        }
        Update::Path(update) => {
            let raw = raw.ok_or_else(|| Error::MissingValue { flag: name() })?;
            update(p, (!raw.is_empty()).then(|| PathBuf::from(raw)));
        }
        Update::Text(update) => {
            let raw = raw.ok_or_else(|| Error::MissingValue { flag: name() })?;
            let Some(text) = raw.to_str() else {
                return Err(bad(&raw.to_string_lossy(), "not valid UTF-8".into()));
            };
            update(p, text).map_err(|Refusal(reason)| bad(text, reason))?;
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool` spellings, which upstream's flags accept.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The closest candidate within a small edit distance, for "did you mean".
fn suggest<const N: usize>(word: &str, candidates: [&'static str; N]) -> Option<&'static str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A near-miss flag name; kubectl's unprefixed names (`--context`, `--token`) map to ours.
fn suggest_flag(name: &str) -> Option<String> {
    let mut best: Option<(usize, &Flag)> = None;
    for f in FLAGS {
        let plain = f.long.strip_prefix("kube-").unwrap_or(f.long);
        let d = edit_distance(name, f.long).min(edit_distance(name, plain));
        if d <= 2 && d < name.len() && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, f));
        }
    }
    best.map(|(_, f)| format!("--{}", f.long))
}

fn lexopt_error(e: lexopt::Error) -> Error {
    match e {
        lexopt::Error::MissingValue { option } => Error::MissingValue {
            flag: option.unwrap_or_default(),
        },
        lexopt::Error::UnexpectedValue { option, value } => Error::BadValue {
            flag: option,
            value: value.to_string_lossy().into_owned(),
            reason: "this flag takes no value".into(),
        },
        lexopt::Error::UnexpectedOption(o) => Error::UnknownFlag {
            suggestion: suggest_flag(o.trim_start_matches('-')),
            flag: o,
        },
        lexopt::Error::UnexpectedArgument(a) => Error::UnexpectedArgument {
            arg: a.to_string_lossy().into_owned(),
            command: NAME.into(),
        },
        lexopt::Error::NonUnicodeValue(v) => Error::BadValue {
            flag: String::new(),
            value: v.to_string_lossy().into_owned(),
            reason: "not valid UTF-8".into(),
        },
        lexopt::Error::ParsingFailed { value, error } => Error::BadValue {
            flag: String::new(),
            value,
            reason: error.to_string(),
        },
        other => Error::Unsupported(other.to_string()),
    }
}

/// What the program is and its commands: the head of both helps.
fn usage() -> String {
    format!(
        "{NAME} {version}: an MCP server for Kubernetes clusters that run Flux

Usage:
  {NAME} serve [flags]            serve MCP on stdin/stdout (what an assistant runs),
                                  or over HTTP with --transport http
  {NAME} check [flags]            show the cluster and identity the tools would use
  {NAME} docs search QUERY...     search the embedded Flux documentation
  {NAME} docs list                list the embedded documents
  {NAME} docs read PATH [HEADING] print a document, or one section of it
  {NAME} snapshot create [-o FILE] save a cluster's Flux state to one file
  {NAME} snapshot serve-api FILE  serve a snapshot to kubectl on 127.0.0.1 (HTTPS)
  {NAME} serve --snapshot FILE    serve MCP from a snapshot instead of a live cluster
  {NAME} version [--verbose]      print the version (--verbose: how it was built)
",
        version = crate::VERSION
    )
}

/// `-h`: the usage, which build this is, and a pointer to `--help`.
pub fn short_help() -> String {
    usage()
        + "\n"
        + BUILD_NOTE
        + &format!("\nRun '{NAME} --help' for every flag and its default.\n")
}

/// `--help`: the usage, every flag, grouped, with its default, and which build this is.
pub fn long_help() -> String {
    let mut out = usage();
    for (group, title) in [
        (Group::Server, "Server flags"),
        (Group::Kube, "Kubernetes flags"),
        (Group::Docs, "Docs flags"),
        (Group::Snapshot, "Snapshot flags"),
    ] {
        out.push_str(&format!("\n{title}:\n"));
        for f in FLAGS.iter().filter(|f| f.group == group) {
            let head = flag_usage(f);
            let default = if f.default.is_empty() {
                "none"
            } else {
                f.default
            };
            out.push_str(&format!("  {head:<40} {} [default: {default}]\n", f.help));
        }
    }
    out.push_str(
        "\nBooleans also take a value: --read-only=false. Values: --flag VALUE or --flag=VALUE.\n",
    );
    out.push('\n');
    out.push_str(BUILD_NOTE);
    out
}

fn flag_usage(f: &Flag) -> String {
    let short = match f.short {
        Some(c) => format!("-{c}, "),
        None => "    ".into(),
    };
    match f.value {
        Some(v) => format!("{short}--{} {v}", f.long),
        None => format!("{short}--{}", f.long),
    }
}

/// The README's flags table, generated from [`FLAGS`] (a test keeps the README in step).
pub fn flags_markdown() -> String {
    let mut out = String::from("| Flag | Default | Meaning |\n|---|---|---|\n");
    for f in FLAGS {
        let head = flag_usage(f).trim().to_string();
        let default = if f.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", f.default)
        };
        // Markdown would read `****` as emphasis and `|` as a cell border.
        let help = f.help.replace('*', "\\*").replace('|', "\\|");
        out.push_str(&format!("| `{head}` | {default} | {help} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse_ok(args: &[&str]) -> Command {
        match parse(args.iter().copied()) {
            Ok(c) => c,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    fn parse_err(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Ok(c) => panic!("{args:?} parsed as {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn serve_options(args: &[&str]) -> ServeOptions {
        match parse_ok(args) {
            Command::Serve(options) => options,
            other => panic!("{other:?}"),
        }
    }

    fn serve(args: &[&str]) -> Settings {
        serve_options(args).tools
    }

    #[test]
    fn flag_registry_has_unique_documented_names() {
        let mut names: Vec<&str> = FLAGS.iter().map(|f| f.long).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate flag names");
        for f in FLAGS {
            assert!(!f.help.trim().is_empty(), "--{} has no help", f.long);
            assert!(
                f.long.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "--{}",
                f.long
            );
            // -h, -v and -V are taken by help and version.
            assert!(!matches!(f.short, Some('h' | 'v' | 'V')), "--{}", f.long);
            assert!(long_help().contains(&format!("--{}", f.long)));
        }
    }

    /// A flag's effect is read from its update, its help from `value`: they must agree on the
    /// form of value it takes (paths are FILE or DIR, switches have no placeholder).
    #[test]
    fn flag_updates_match_their_placeholders() {
        for f in FLAGS {
            let expected = match f.value {
                None => "switch",
                Some("FILE" | "DIR") => "path",
                Some(_) => "text",
            };
            let got = match f.update {
                Update::Switch(_) => "switch",
                Update::Path(_) => "path",
                Update::Text(_) => "text",
            };
            assert_eq!(got, expected, "--{}", f.long);
        }
    }

    /// Every flag's update changes what the parser collects (a flag whose effect was lost
    /// would parse and do nothing). Switches are tried both ways, since one of them is the
    /// default.
    #[test]
    fn every_flag_has_an_effect() {
        let untouched = format!("{:?}", Parsed::default());
        for f in FLAGS {
            let values: &[Option<&str>] = match (f.long, f.update) {
                (_, Update::Switch(_)) => &[Some("true"), Some("false")],
                ("transport", _) => &[Some("http")],
                ("listen", _) => &[Some("0.0.0.0:3")],
                ("timeout", _) => &[Some("5s")],
                ("format", _) => &[Some("complete")],
                ("tools" | "disable-tools", _) => &[Some("get_flux_instance")],
                _ => &[Some("3")],
            };
            let changed = values.iter().any(|v| {
                let mut p = Parsed::default();
                let applied = apply(f, v.map(OsString::from), &mut p);
                assert!(applied.is_ok(), "--{}: {applied:?}", f.long);
                format!("{p:?}") != untouched
            });
            assert!(changed, "--{} changes nothing", f.long);
        }
    }

    #[test]
    fn serve_options_keep_the_transport_and_port() {
        let o = serve_options(&["serve"]);
        assert_eq!((o.transport, o.port), (Transport::Stdio, DEFAULT_PORT));
        let port_flag = FLAGS.iter().find(|f| f.long == "port").map(|f| f.default);
        assert_eq!(port_flag, Some(DEFAULT_PORT.to_string().as_str()));
        let o = serve_options(&["serve", "--transport=stdio", "--port", " 9090"]);
        assert_eq!((o.transport, o.port), (Transport::Stdio, 9090));
        let o = serve_options(&["serve", "--transport", "sse"]);
        assert_eq!(o.transport, Transport::Sse);
        assert_eq!(
            parse_err(&["--port=65536", "serve"]),
            "invalid value \"65536\" for --port: expected a TCP port, 0-65535"
        );
        for t in [Transport::Stdio, Transport::Http, Transport::Sse] {
            assert_eq!(Transport::from_name(t.name()), Some(t));
        }
        assert_eq!(Transport::from_name("Stdio"), None);
    }

    #[test]
    fn listen_and_port_combine_and_the_default_is_loopback_outside_a_pod() {
        let addr =
            |args: &[&str], in_pod: bool| serve_options(args).listen_addr(in_pod).to_string();
        assert_eq!(
            addr(&["serve", "--transport=http"], false),
            "127.0.0.1:8080"
        );
        // Upstream's Helm chart: --transport=http --port=9090 behind a Service.
        assert_eq!(
            addr(&["serve", "--transport=http", "--port=9090"], true),
            "0.0.0.0:9090"
        );
        let http = ["serve", "--transport", "http"];
        let with = |extra: &[&'static str]| [&http[..], extra].concat();
        assert_eq!(addr(&with(&["--listen", "0.0.0.0"]), false), "0.0.0.0:8080");
        assert_eq!(
            addr(&with(&["--listen=127.0.0.1", "--port=7"]), true),
            "127.0.0.1:7"
        );
        assert_eq!(
            addr(&with(&["--port=7", "--listen=10.0.0.1:9"]), false),
            "10.0.0.1:9"
        );
        assert_eq!(addr(&with(&["--listen", ":9090"]), false), "0.0.0.0:9090");
        assert_eq!(
            addr(&with(&["--listen", "[::1]:8081"]), false),
            "[::1]:8081"
        );
        assert_eq!(addr(&with(&["--listen", "::"]), false), "[::]:8080");
        assert_eq!(addr(&with(&["--listen", "[::1]"]), false), "[::1]:8080");
        assert_eq!(
            addr(&with(&["--listen", "localhost:1"]), true),
            "127.0.0.1:1"
        );
        for bad in ["example.com", "127.0.0.1:http", "1.2.3.4:70000", ":x", ""] {
            let e = parse_err(&with(&["--listen", bad]));
            assert!(
                e.starts_with(&format!("invalid value {bad:?} for --listen: ")),
                "{e}"
            );
            assert!(e.contains("expected an IP address"), "{e}");
        }
    }

    #[test]
    fn transport_flags_are_refused_with_stdio() {
        assert_eq!(
            parse_err(&["serve", "--listen", "0.0.0.0"]),
            "flag --listen applies to --transport http or sse, not stdio"
        );
        assert_eq!(
            parse_err(&["serve", "--auth-token-file=/t", "--transport=stdio"]),
            "flag --auth-token-file applies to --transport http or sse, not stdio"
        );
        let o = serve_options(&["--auth-token-file", "/t", "serve", "--transport=sse"]);
        assert_eq!(o.auth_token_file, Some(PathBuf::from("/t")));
        let help = long_help();
        assert!(help.contains("--listen ADDR"), "{help}");
        assert!(help.contains("KUBERNETES_SERVICE_HOST"), "{help}");
        assert!(help.contains("a port in --listen wins"), "{help}");
    }

    #[test]
    fn every_flag_is_wired_to_a_setting() {
        for f in FLAGS {
            let value = match (f.long, f.value) {
                (_, None) => None,
                ("transport", _) => Some("stdio"),
                ("port", _) | ("limit", _) => Some("3"),
                ("listen", _) => Some("127.0.0.1"),
                ("timeout", _) => Some("5s"),
                ("format", _) => Some("complete"),
                ("tools" | "disable-tools", _) => Some("search_flux_docs"),
                _ => Some("x"),
            };
            let mut p = Parsed::default();
            let r = apply(f, value.map(OsString::from), &mut p);
            assert!(r.is_ok(), "--{}: {:?}", f.long, r);
        }
    }

    /// Paths may be any OS string; every other value must be UTF-8. The path flags are named
    /// here rather than derived from their FILE/DIR placeholder, so a new flag that changes the
    /// set shows up.
    #[cfg(unix)]
    #[test]
    fn only_path_flags_accept_non_utf8_values() {
        use std::os::unix::ffi::OsStringExt;
        let paths = [
            "auth-token-file",
            "tool-call-log-file",
            "snapshot",
            "output",
            "kubeconfig-out",
            "docs-dir",
            "kubeconfig",
            "kube-client-certificate",
            "kube-client-key",
            "kube-certificate-authority",
        ];
        for f in FLAGS.iter().filter(|f| f.value.is_some()) {
            let raw = OsString::from_vec(b"/tmp/\xff".to_vec());
            let r = apply(f, Some(raw), &mut Parsed::default());
            if paths.contains(&f.long) {
                assert!(r.is_ok(), "--{}: {:?}", f.long, r);
            } else {
                assert!(
                    matches!(&r, Err(Error::BadValue { reason, .. }) if reason == "not valid UTF-8"),
                    "--{}: {:?}",
                    f.long,
                    r
                );
            }
        }
    }

    #[test]
    fn upstream_defaults_apply_without_flags() {
        let s = serve(&["serve"]);
        // The read-only build is read-only without being told.
        assert_eq!(s.read_only, !cfg!(feature = "mutations"));
        assert_eq!(s.enabled_tools, None);
        assert!(s.disabled_tools.is_empty());
        assert!(s.mask_secrets);
        assert_eq!(s.timeout, Duration::from_secs(60));
        assert_eq!(s.tool_call_log_file, None);
        assert!(s.kube.context.is_none() && s.kube.kubeconfig.is_none());
    }

    #[test]
    fn every_upstream_flag_is_accepted_in_both_forms() {
        let s = serve(&[
            "serve",
            "--transport",
            "stdio",
            "--port=9090",
            "--read-only",
            "--mask-secrets=false",
            "--timeout",
            "1m30s",
            "--tool-call-log-file=/tmp/calls.jsonl",
            "--kubeconfig",
            "/k/config",
            "--kube-context=prod",
            "--kube-as",
            "system:serviceaccount:flux-system:reader",
            "--kube-as-group=g1",
            "--kube-as-group",
            "g2",
            "--kube-as-uid=u-1",
            "--kube-token",
            "s3cr3t",
            "--kube-server=https://127.0.0.1:6443",
            "--kube-tls-server-name",
            "api.internal",
            "--kube-client-certificate=/c.pem",
            "--kube-client-key",
            "/k.pem",
            "--kube-certificate-authority=/ca.pem",
            "--kube-insecure-skip-tls-verify=true",
            "-n",
            "apps",
            "--docs-dir=/d1",
            "--docs-dir",
            "/d2",
        ]);
        assert!(s.read_only && !s.mask_secrets);
        assert_eq!(s.timeout, Duration::from_secs(90));
        assert_eq!(
            s.tool_call_log_file,
            Some(PathBuf::from("/tmp/calls.jsonl"))
        );
        assert_eq!(s.docs_dirs, [PathBuf::from("/d1"), PathBuf::from("/d2")]);
        let k = &s.kube;
        assert_eq!(k.kubeconfig, Some(PathBuf::from("/k/config")));
        assert_eq!(k.context.as_deref(), Some("prod"));
        assert_eq!(
            k.impersonate_user.as_deref(),
            Some("system:serviceaccount:flux-system:reader")
        );
        assert_eq!(k.impersonate_groups, ["g1", "g2"]);
        assert_eq!(k.impersonate_uid.as_deref(), Some("u-1"));
        assert_eq!(k.token.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert_eq!(k.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(k.tls_server_name.as_deref(), Some("api.internal"));
        assert_eq!(k.client_certificate, Some(PathBuf::from("/c.pem")));
        assert_eq!(k.client_key, Some(PathBuf::from("/k.pem")));
        assert_eq!(k.certificate_authority, Some(PathBuf::from("/ca.pem")));
        assert!(k.insecure_skip_tls_verify);
        assert_eq!(k.namespace.as_deref(), Some("apps"));
        // The token never shows in Debug output.
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn flags_may_come_before_the_command_like_upstream_persistent_flags() {
        let s = serve(&["--read-only", "--kube-context", "dev", "serve"]);
        assert!(s.read_only);
        assert_eq!(s.kube.context.as_deref(), Some("dev"));
        let s = serve(&["serve", "--read-only=true", "--kube-context="]);
        assert!(s.read_only);
        assert_eq!(s.kube.context, None, "an empty value leaves the flag unset");
        match parse_ok(&["check", "--kube-context", "prod", "-n", "apps"]) {
            Command::Check(s) => {
                assert_eq!(s.kube.context.as_deref(), Some("prod"));
                assert_eq!(s.kube.namespace.as_deref(), Some("apps"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn version_and_help_forms() {
        for args in [
            &["--version"][..],
            &["-V"],
            &["-v"],
            &["version"],
            &["serve", "--version"],
        ] {
            assert!(matches!(parse_ok(args), Command::Version), "{args:?}");
        }
        assert!(matches!(parse_ok(&["-h"]), Command::ShortHelp));
        assert!(matches!(parse_ok(&["serve", "-h"]), Command::ShortHelp));
        assert!(matches!(parse_ok(&["--help"]), Command::LongHelp));
        assert!(matches!(parse_ok(&["help"]), Command::LongHelp));
        assert_eq!(parse(Vec::<&str>::new()).unwrap_err(), Error::NoCommand);
    }

    #[test]
    fn docs_commands() {
        match parse_ok(&[
            "docs",
            "search",
            "helm",
            "values",
            "--limit",
            "2",
            "--format=complete",
            "--docs-dir",
            "/x",
        ]) {
            Command::DocsSearch {
                query,
                limit,
                format,
                docs_dirs,
            } => {
                assert_eq!(query, "helm values");
                assert_eq!(limit, 2);
                assert_eq!(format, docs::Format::Complete);
                assert_eq!(docs_dirs, [PathBuf::from("/x")]);
            }
            other => panic!("{other:?}"),
        }
        match parse_ok(&["docs", "search", "gitrepository"]) {
            Command::DocsSearch { limit, format, .. } => {
                assert_eq!(limit, DEFAULT_DOCS_LIMIT);
                assert_eq!(format, docs::Format::Concise);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_ok(&["docs", "list"]),
            Command::DocsList { .. }
        ));
        match parse_ok(&["docs", "read", "kinds/helmrelease", "Spec", "fields"]) {
            Command::DocsRead { path, heading, .. } => {
                assert_eq!(path, "kinds/helmrelease");
                assert_eq!(heading.as_deref(), Some("Spec fields"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_err(&["docs", "read"]),
            "docs read needs a document: flux-operator-mcp docs read PATH [HEADING] (docs list names them)"
        );
        assert_eq!(
            parse_err(&["docs", "search"]),
            "docs search needs a query: flux-operator-mcp docs search QUERY"
        );
        assert!(parse_err(&["docs", "serch", "x"]).contains("did you mean docs search?"));
        assert_eq!(
            parse_err(&["docs"]),
            "docs needs a command: docs search QUERY or docs list"
        );
        assert_eq!(
            parse_err(&["docs", "search", "x", "--format", "html"]),
            "invalid value \"html\" for --format: expected concise or complete"
        );
        assert_eq!(
            parse_err(&["serve", "--limit", "3"]),
            "flag --limit does not apply to \"serve\""
        );
    }

    #[test]
    fn mistakes_name_the_flag_and_suggest_near_misses() {
        assert_eq!(
            parse_err(&["serve", "--read-onyl"]),
            "unknown flag --read-onyl (did you mean --read-only?)"
        );
        assert_eq!(
            parse_err(&["serve", "--context", "prod"]),
            "unknown flag --context (did you mean --kube-context?)"
        );
        assert_eq!(
            parse_err(&["serve", "--token=abc"]),
            "unknown flag --token (did you mean --kube-token?)"
        );
        assert!(parse_err(&["serve", "--frobnicate"]).contains("see flux-operator-mcp --help"));
        assert_eq!(
            parse_err(&["serv"]),
            "unknown command \"serv\" (did you mean serve?)"
        );
        assert_eq!(
            parse_err(&["serve", "--timeout", "10x"]),
            "invalid value \"10x\" for --timeout: unknown unit \"x\" (ns, us, ms, s, m, h)"
        );
        assert!(parse_err(&["serve", "--timeout=0s"]).contains("greater than zero"));
        assert!(parse_err(&["serve", "--port", "http"]).contains("--port"));
        assert!(parse_err(&["serve", "--read-only=maybe"]).contains("\"maybe\""));
        assert!(parse_err(&["serve", "--transport=ws"]).contains("expected stdio, http or sse"));
        assert_eq!(
            parse_err(&["serve", "--timeout"]),
            "flag --timeout needs a value"
        );
        assert_eq!(
            parse_err(&["serve", "extra"]),
            "unexpected argument \"extra\" for \"serve\""
        );
        assert!(parse_err(&["-x"]).contains("-x"));
        assert!(parse_err(&["--version=2"]).contains("takes no value"));
    }

    #[test]
    fn tools_flags_take_known_names_only() {
        let s = serve(&[
            "serve",
            "--tools",
            "get_flux_instance, search_flux_docs",
            "--tools=get_kubernetes_resources",
            "--disable-tools",
            "get_kubernetes_logs",
        ]);
        assert_eq!(
            s.enabled_tools.as_deref(),
            Some(
                &[
                    "get_flux_instance".to_string(),
                    "search_flux_docs".into(),
                    "get_kubernetes_resources".into()
                ][..]
            )
        );
        assert_eq!(s.disabled_tools, ["get_kubernetes_logs"]);
        let err = parse_err(&[
            "serve",
            "--tools",
            "get_flux_instance,get_kubernetes_resource",
        ]);
        assert!(
            err.starts_with(
                "invalid value \"get_flux_instance,get_kubernetes_resource\" for --tools: \
                 unknown tool \"get_kubernetes_resource\" (did you mean get_kubernetes_resources?)"
            ),
            "{err}"
        );
        let err = parse_err(&["serve", "--disable-tools", "frobnicate"]);
        assert!(
            err.contains("unknown tool \"frobnicate\" (tools: "),
            "{err}"
        );
        assert!(err.contains("search_flux_docs"), "{err}");
        assert!(parse_err(&["serve", "--tools", " , "]).contains("expected tool names"));
    }

    /// Read + reconcile, the allow-list a real deployment asked for.
    #[cfg(feature = "mutations")]
    #[test]
    fn tools_can_allow_reading_plus_reconcile() {
        let s = serve(&[
            "serve",
            "--tools=get_flux_instance,get_kubernetes_resources,reconcile_flux_resource",
        ]);
        assert_eq!(s.enabled_tools.map(|t| t.len()), Some(3));
    }

    #[cfg(not(feature = "mutations"))]
    #[test]
    fn the_read_only_build_refuses_to_serve_writes() {
        assert!(serve(&["serve"]).read_only);
        assert!(serve(&["serve", "--read-only"]).read_only);
        let err = parse_err(&["serve", "--read-only=false"]);
        assert!(
            err.starts_with("--read-only=false is not possible: this is the read-only build"),
            "{err}"
        );
        let err = parse_err(&["serve", "--tools", "reconcile_flux_resource"]);
        assert!(
            err.ends_with("this is the read-only build, which has no tool that changes a cluster"),
            "{err}"
        );
        assert!(long_help().contains("Build: read-only."));
        assert!(short_help().contains("diff_kubernetes_manifest is left out"));
    }

    #[cfg(feature = "mutations")]
    #[test]
    fn help_says_which_build_this_is() {
        assert!(long_help().contains("Build: default"));
        assert!(short_help().contains("Build: default"));
    }

    #[test]
    fn help_shows_every_default() {
        let help = long_help();
        assert!(help.contains("[default: stdio]"));
        assert!(help.contains("[default: 8080]"));
        assert!(help.contains("[default: 1m]"));
        assert!(help.contains("--mask-secrets") && help.contains("[default: true]"));
        assert!(help.contains("-n, --namespace NAMESPACE"));
        assert!(short_help().contains("--help"));
        assert!(!short_help().contains("--kube-as-group"));
    }

    #[test]
    fn the_readme_flags_table_matches_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let table = flags_markdown();
        let start = readme
            .find("<!-- flags:start -->")
            .expect("flags:start marker");
        let end = readme.find("<!-- flags:end -->").expect("flags:end marker");
        let got = readme[start + "<!-- flags:start -->".len()..end].trim();
        assert_eq!(
            got,
            table.trim(),
            "README.md flags table is out of date; put this between the markers:\n{table}"
        );
    }
}
