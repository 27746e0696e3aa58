//! Credentials at request time: bearer tokens, token files, basic auth, client certificates,
//! exec credential plugins and in-cluster service accounts; impersonation headers.
//! The API below is the contract the REST client uses.
//!
//! Precedence follows client-go: a static token (or token file) or basic auth goes in the
//! `Authorization` header; a client certificate from the kubeconfig is presented in TLS; an exec
//! plugin only runs when the user has none of those ("for requests like `kubectl get --token`
//! we should assume the intention is to use the provided token", exec.go).

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::config::{AuthConfig, ClientCert, ExecConfig, Impersonation, check_client_cert};
use super::{Secret, SecretBytes, percent_encode_into, process_group};
use crate::sync::lock;
use crate::{files, redact};

/// How long an exec plugin may run before it is killed. client-go has no limit; we do, because
/// a hung plugin would otherwise hang every tool call on that context.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Exec credentials are refreshed this long before `expirationTimestamp` (or at half their
/// lifetime when that is shorter), so a token does not expire in the middle of a request.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// client-go's file token source re-reads the file at least this often even when it looks
/// unchanged (CachedFileTokenSource: one minute).
const TOKEN_FILE_MAX_AGE: Duration = Duration::from_secs(60);

/// What we keep of a plugin's output and error stream.
const EXEC_STDOUT_LIMIT: u64 = 1 << 20;
const EXEC_STDERR_LIMIT: u64 = 64 << 10;
/// How much of the plugin's stderr an error message quotes (its end: that is where the reason is).
const STDERR_QUOTE_CHARS: usize = 1000;
/// After a plugin's group is killed, how long its pipe readers get to see the pipes close.
/// Dead processes close them at once; only a process that left the group (`setsid`) and kept
/// a pipe would hold a reader longer, and the call does not wait for that one.
const READER_GRACE: Duration = Duration::from_secs(1);
/// A shell every image but a scratch one has: without it, an exec plugin (often a script, or
/// a binary the image does not ship) cannot run here.
const SHELL: &str = "/bin/sh";

/// Produces credentials for one connection. Shared between threads; caches exec-plugin output
/// until it expires and re-reads token files when they change.
pub struct Authenticator {
    config: AuthConfig,
    context: String,
    exec_timeout: Duration,
    token_file: Mutex<Option<FileToken>>,
    /// Held while the plugin runs, so concurrent requests wait for one run instead of starting
    /// several.
    exec: Mutex<Option<ExecCredentials>>,
}

/// A token read from `tokenFile`, with what the file looked like when it was read.
struct FileToken {
    stamp: FileStamp,
    read_at: Instant,
    token: Secret,
}

/// Enough of a file's metadata to notice a rewrite or an atomic replacement (projected
/// service-account tokens are swapped in through a symlink: a new inode).
#[derive(PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

/// What an exec plugin returned, and until when to trust it.
struct ExecCredentials {
    token: Option<Secret>,
    client_cert: Option<ClientCert>,
    /// `None`: no expirationTimestamp, valid until a 401 calls `invalidate`.
    refresh_after: Option<SystemTime>,
}

impl Authenticator {
    pub fn new(config: AuthConfig, context: &str) -> Authenticator {
        Authenticator {
            config,
            context: context.to_string(),
            exec_timeout: DEFAULT_EXEC_TIMEOUT,
            token_file: Mutex::new(None),
            exec: Mutex::new(None),
        }
    }

    /// Change how long an exec plugin may run (default [`DEFAULT_EXEC_TIMEOUT`]).
    pub fn with_exec_timeout(mut self, timeout: Duration) -> Authenticator {
        self.exec_timeout = timeout;
        self
    }

    /// The configuration this authenticator serves.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The `Authorization` header value for the next request (`Bearer ...` or `Basic ...`),
    /// `None` when the identity is a client certificate only.
    pub fn authorization(&self) -> Result<Option<Secret>, Error> {
        self.authorization_by(None)
    }

    /// [`Authenticator::authorization`] for a request that must be sent by `deadline`: an
    /// exec plugin that has to run is killed then (or after its own timeout, if sooner), so a
    /// call never outlasts its `--timeout` waiting for a credential.
    pub fn authorization_by(&self, deadline: Option<Instant>) -> Result<Option<Secret>, Error> {
        self.refuse_auth_provider()?;
        if let Some(token) = self.config.token.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(bearer(token)));
        }
        if let Some(path) = &self.config.token_file {
            return self.file_token(path).map(|t| Some(bearer(&t)));
        }
        if let Some(basic) = &self.config.basic {
            let pair = format!("{}:{}", basic.username, basic.password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            return Ok(Some(Secret::new(format!("Basic {encoded}"))));
        }
        if let Some(exec) = self.exec_in_use() {
            return self.with_exec_credentials(exec, deadline, |c| c.token.as_ref().map(bearer));
        }
        Ok(None)
    }

    /// The client certificate and key to present (from the kubeconfig or an exec plugin).
    pub fn client_identity(&self) -> Result<Option<ClientCert>, Error> {
        self.client_identity_by(None)
    }

    /// [`Authenticator::client_identity`] by `deadline` (see [`Authenticator::authorization_by`]).
    pub fn client_identity_by(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<ClientCert>, Error> {
        self.refuse_auth_provider()?;
        if let Some(cert) = &self.config.client_cert {
            return Ok(Some(cert.clone()));
        }
        match self.exec_in_use() {
            Some(exec) => self.with_exec_credentials(exec, deadline, |c| c.client_cert.clone()),
            None => Ok(None),
        }
    }

    /// Forget cached exec credentials (after a 401) so the next request runs the plugin again.
    /// Also forgets the token read from a token file, so it is read again.
    pub fn invalidate(&self) {
        *lock(&self.exec) = None;
        *lock(&self.token_file) = None;
    }

    /// The exec plugin, when no static credential takes precedence over it.
    fn exec_in_use(&self) -> Option<&ExecConfig> {
        let c = &self.config;
        let has_static = c.token.as_ref().is_some_and(|t| !t.is_empty())
            || c.token_file.is_some()
            || c.basic.is_some()
            || c.client_cert.is_some();
        if has_static { None } else { c.exec.as_ref() }
    }

    fn refuse_auth_provider(&self) -> Result<(), Error> {
        match &self.config.auth_provider {
            Some(name) => Err(Error::AuthProvider {
                context: self.context.clone(),
                name: name.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The token in `path`, read again when the file changed or the last read is old.
    fn file_token(&self, path: &Path) -> Result<Secret, Error> {
        let read_err = |source: files::Error| Error::TokenFile {
            context: self.context.clone(),
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_err(files::Error::Io(e)))?;
        let stamp = FileStamp::of(&meta);
        let mut cached = lock(&self.token_file);
        if let Some(c) = cached.as_ref()
            && c.stamp == stamp
            && c.read_at.elapsed() < TOKEN_FILE_MAX_AGE
        {
            return Ok(c.token.clone());
        }
        let bytes = files::read(path, files::TOKEN).map_err(read_err)?;
        let text = String::from_utf8_lossy(&bytes);
        // client-go trims the file's whitespace and refuses an empty token.
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::EmptyTokenFile {
                context: self.context.clone(),
                path: path.to_path_buf(),
            });
        }
        let token = Secret::new(token);
        *cached = Some(FileToken {
            stamp,
            read_at: Instant::now(),
            token: token.clone(),
        });
        Ok(token)
    }

    /// Run `pick` on valid exec credentials, running the plugin first when there are none yet
    /// or they are about to expire.
    fn with_exec_credentials<T>(
        &self,
        exec: &ExecConfig,
        deadline: Option<Instant>,
        pick: impl FnOnce(&ExecCredentials) -> T,
    ) -> Result<T, Error> {
        let mut cached = lock(&self.exec);
        let fresh = cached.as_ref().filter(|c| match c.refresh_after {
            None => true,
            Some(at) => SystemTime::now() < at,
        });
        if let Some(creds) = fresh {
            return Ok(pick(creds));
        }
        let previous = cached.as_ref().and_then(|c| c.token.clone());
        let creds = cached.insert(self.run_plugin(exec, previous.as_ref(), deadline)?);
        Ok(pick(creds))
    }

    fn exec_err(&self, exec: &ExecConfig, problem: ExecProblem) -> Error {
        Error::Exec {
            context: self.context.clone(),
            command: exec.command.clone(),
            install_hint: exec.install_hint.clone(),
            problem,
        }
    }

    /// Runs the plugin once. `previous`: the token it gave last time, if any (its stderr
    /// must not repeat it either).
    fn run_plugin(
        &self,
        exec: &ExecConfig,
        previous: Option<&Secret>,
        deadline: Option<Instant>,
    ) -> Result<ExecCredentials, Error> {
        // client-go: "exec plugin cannot support interactive mode: standard input is not a
        // terminal". Our stdin is the MCP protocol, never a terminal.
        if exec.interactive_mode.as_deref() == Some("Always") {
            return Err(self.exec_err(exec, ExecProblem::Interactive));
        }
        let info = exec_info(exec).map_err(|e| {
            self.exec_err(
                exec,
                ExecProblem::Output(format!("KUBERNETES_EXEC_INFO: {e}")),
            )
        })?;
        let mut command = Command::new(&exec.command);
        command
            .args(&exec.args)
            .envs(
                exec.env
                    .iter()
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k, v.expose())),
            )
            .env("KUBERNETES_EXEC_INFO", info)
            // Never our stdin: it carries the MCP protocol, and a plugin reading it would eat
            // requests (and could hang waiting for a prompt answer).
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so that on timeout everything it started can be killed with
        // it (see wait_with_timeout); and none of our blocked signals.
        process_group::isolate(&mut command);
        let child = command.spawn().map_err(|e| {
            let problem = if e.kind() == io::ErrorKind::NotFound {
                ExecProblem::NotFound {
                    minimal_image: minimal_image(Path::new(SHELL)),
                    source: e,
                }
            } else {
                ExecProblem::Spawn(e)
            };
            self.exec_err(exec, problem)
        })?;
        let call_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = match call_left {
            Some(left) if left < self.exec_timeout => Limit::Call(left),
            _ => Limit::Plugin(self.exec_timeout),
        };
        let output =
            wait_with_timeout(child, limit).map_err(|problem| self.exec_err(exec, problem))?;
        if !output.status.success() {
            return Err(self.exec_err(
                exec,
                ExecProblem::Failed {
                    status: output.status,
                    stderr: quote_stderr(&output.stderr, &plugin_secrets(exec, previous)),
                },
            ));
        }
        parse_exec_output(&output.stdout, &exec.api_version)
            .map_err(|problem| self.exec_err(exec, ExecProblem::Output(problem)))
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("context", &self.context)
            .field("method", &self.config.method())
            .field("exec_timeout", &self.exec_timeout)
            .finish_non_exhaustive()
    }
}

fn bearer(token: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", token.expose()))
}

// ---------------------------------------------------------------------------------------------
// Exec plugins (client.authentication.k8s.io, client-go's plugin/pkg/client/auth/exec)

/// `KUBERNETES_EXEC_INFO`: an ExecCredential with the spec only, fields in client-go's order.
#[derive(Serialize)]
struct ExecInfo<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    spec: ExecInfoSpec<'a>,
}

#[derive(Serialize)]
struct ExecInfoSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a serde_json::Value>,
    /// Always false: we have no terminal to offer.
    interactive: bool,
}

fn exec_info(exec: &ExecConfig) -> Result<String, serde_json::Error> {
    let cluster = if exec.provide_cluster_info {
        exec.cluster_info.as_ref()
    } else {
        None
    };
    serde_json::to_string(&ExecInfo {
        kind: "ExecCredential",
        api_version: &exec.api_version,
        spec: ExecInfoSpec {
            cluster,
            interactive: false,
        },
    })
}

#[derive(Deserialize)]
struct ExecCredentialOut {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    status: Option<ExecStatusOut>,
}

#[derive(Deserialize)]
struct ExecStatusOut {
    token: Option<String>,
    #[serde(rename = "expirationTimestamp")]
    expiration: Option<String>,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: Option<String>,
    #[serde(rename = "clientKeyData")]
    client_key_data: Option<String>,
}

/// Check the plugin's ExecCredential the way client-go does. Problems never quote the output:
/// it holds the credential.
fn parse_exec_output(stdout: &[u8], api_version: &str) -> Result<ExecCredentials, String> {
    let cred: ExecCredentialOut = serde_json::from_slice(stdout).map_err(|e| {
        format!(
            "its output is not an ExecCredential JSON object ({} error at line {} column {})",
            match e.classify() {
                serde_json::error::Category::Io => "read",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "type",
                serde_json::error::Category::Eof => "unexpected end",
            },
            e.line(),
            e.column()
        )
    })?;
    if cred.kind.as_deref() != Some("ExecCredential") {
        return Err("its output has no `kind: ExecCredential`".to_string());
    }
    // The two fields quoted below are output too: a plugin that writes its token into the
    // wrong field must not see it quoted (found by the exec_credential fuzz target).
    let credentials: Vec<String> = cred
        .status
        .iter()
        .flat_map(|s| [&s.token, &s.client_key_data])
        .flatten()
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    let quote = |text: &str| {
        if credentials.iter().any(|c| text.contains(c.as_str())) {
            "(not shown: it holds the credential)".to_string()
        } else {
            format!("{text:?}")
        }
    };
    let returned = cred.api_version.unwrap_or_default();
    if returned != api_version {
        return Err(format!(
            "it is configured for {api_version} but returned apiVersion {}",
            quote(&returned)
        ));
    }
    let Some(status) = cred.status else {
        return Err("it returned no status field".to_string());
    };
    let token = status.token.filter(|t| !t.is_empty()).map(Secret::new);
    let cert = status.client_certificate_data.filter(|c| !c.is_empty());
    let key = status.client_key_data.filter(|k| !k.is_empty());
    let client_cert = match (cert, key) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err("it returned a client certificate or key without the other".to_string());
        }
        (Some(cert), Some(key)) => {
            check_client_cert(cert.as_bytes(), key.as_bytes())?;
            Some(ClientCert {
                cert_pem: cert.into_bytes(),
                key_pem: SecretBytes::new(key.into_bytes()),
            })
        }
    };
    if token.is_none() && client_cert.is_none() {
        return Err("it returned neither a token nor a client certificate and key".to_string());
    }
    let refresh_after = match status.expiration.filter(|e| !e.is_empty()) {
        None => None,
        Some(text) => {
            let expiry = super::time::parse_system_time(&text).ok_or_else(|| {
                format!("its expirationTimestamp {} is not RFC 3339", quote(&text))
            })?;
            let now = SystemTime::now();
            let lifetime = expiry.duration_since(now).unwrap_or_default();
            Some(expiry - REFRESH_MARGIN.min(lifetime / 2))
        }
    };
    Ok(ExecCredentials {
        token,
        client_cert,
        refresh_after,
    })
}

/// What a plugin's stdout gave, as [`parse_exec_output`] reads it: whether it held a token and
/// a client certificate, and when to run the plugin again. A fuzzing entry point (`fuzz/`,
/// target `exec_credential`); the product goes through [`Authenticator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOutputSummary {
    pub token: bool,
    pub client_cert: bool,
    pub refresh_after: Option<SystemTime>,
}

/// Parse a plugin's stdout for a plugin configured with `api_version`; `Err` is the problem
/// the tool error would name. A fuzzing entry point (`fuzz/`), not used by the product.
#[doc(hidden)]
pub fn parse_exec_output_summary(
    stdout: &[u8],
    api_version: &str,
) -> Result<ExecOutputSummary, String> {
    parse_exec_output(stdout, api_version).map(|c| ExecOutputSummary {
        token: c.token.is_some(),
        client_cert: c.client_cert.is_some(),
        refresh_after: c.refresh_after,
    })
}

struct PluginOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

enum Stream {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// How long a plugin may run, and what set that limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The plugin timeout ([`DEFAULT_EXEC_TIMEOUT`]).
    Plugin(Duration),
    /// What was left of the call's `--timeout`.
    Call(Duration),
}

/// The running plugin: its process (the leader of its own process group) and the threads
/// draining its pipes. The pipes are drained on their own threads so a chatty plugin cannot
/// block on a full pipe.
struct Running {
    child: Child,
    streams: mpsc::Receiver<Stream>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    fn start(mut child: Child) -> Running {
        let (tx, streams) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                let _ = tx.send(Stream::Stdout(read_capped(out, EXEC_STDOUT_LIMIT)));
            }));
        }
        if let Some(err) = child.stderr.take() {
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                let _ = tx.send(Stream::Stderr(read_capped(err, EXEC_STDERR_LIMIT)));
            }));
        }
        Running {
            child,
            streams,
            readers,
        }
    }

    /// Kill the plugin and everything it started, reap it, and let the readers end.
    ///
    /// Called only while the plugin is not reaped yet (its pid, and so its group id, cannot
    /// have been reused). Every process of the group holds the pipes it inherited; once all
    /// are dead the pipes close, the readers see the end and finish, and are joined here, so
    /// a timed-out plugin leaves neither a process nor a thread behind.
    fn kill(mut self) {
        if process_group::kill(self.child.id()).is_err() {
            // Not a group leader after all, or not Unix: at least the plugin itself.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let until = Instant::now() + READER_GRACE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.streams.recv_timeout(left) {
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                // A process outside the group still holds a pipe: leave its reader behind
                // rather than outlast the call.
                Err(mpsc::RecvTimeoutError::Timeout) => return,
            }
        }
        for reader in self.readers {
            let _ = reader.join();
        }
    }
}

/// Collect the plugin's output and exit status, killing its process group when `limit`
/// passes.
fn wait_with_timeout(child: Child, limit: Limit) -> Result<PluginOutput, ExecProblem> {
    let (Limit::Plugin(timeout) | Limit::Call(timeout)) = limit;
    let deadline = Instant::now() + timeout;
    let mut running = Running::start(child);
    let (mut stdout, mut stderr) = (None, None);
    while stdout.is_none() || stderr.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match running.streams.recv_timeout(left) {
            Ok(Stream::Stdout(bytes)) => stdout = Some(bytes),
            Ok(Stream::Stderr(bytes)) => stderr = Some(bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                running.kill();
                return Err(ExecProblem::Timeout(limit));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Both pipes are closed, so the plugin has exited or is about to; a plugin that closes
    // them and lingers still gets killed at the deadline.
    let status = loop {
        match running.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                running.kill();
                return Err(ExecProblem::Timeout(limit));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(ExecProblem::Spawn(e)),
        }
    };
    for reader in running.readers {
        let _ = reader.join();
    }
    Ok(PluginOutput {
        status,
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
    })
}

/// Read up to `limit` bytes, then drain the rest so the writer never blocks.
fn read_capped(mut from: impl Read, limit: u64) -> Vec<u8> {
    let mut kept = Vec::new();
    let _ = from.by_ref().take(limit).read_to_end(&mut kept);
    let _ = io::copy(&mut from, &mut io::sink());
    kept
}

/// Whether this process seems to run in a minimal (scratch) container image: no shell. There
/// an exec plugin cannot run (a script has no interpreter; a binary is not in the image).
fn minimal_image(shell: &Path) -> bool {
    !shell.exists()
}

/// The end of the plugin's stderr, trimmed, without terminal escapes, at most
/// `STDERR_QUOTE_CHARS` characters. Credentials it may repeat are masked before it is cut (so
/// a credential cannot be half-quoted): the values in `secrets`, then whatever looks like one
/// (bearer tokens, JWTs, `token=` pairs, private keys; see `redact::mask`).
fn quote_stderr(stderr: &[u8], secrets: &[&str]) -> String {
    let text = super::config::strip_controls(&String::from_utf8_lossy(stderr));
    let text = redact::mask_values(&text, secrets);
    let text = redact::mask(&text);
    let text = text.trim();
    let count = text.chars().count();
    if count <= STDERR_QUOTE_CHARS {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count - STDERR_QUOTE_CHARS).collect();
    format!("...{tail}")
}

/// Words in an environment variable or flag name that say its value is a credential
/// (`AWS_SECRET_ACCESS_KEY`, `--oidc-client-secret`, `--password`, `VAULT_TOKEN`).
const CREDENTIAL_WORDS: [&str; 6] = ["secret", "token", "password", "passwd", "key", "credential"];

fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|w| name.contains(w))
}

/// What a plugin's stderr must not repeat: the values of its environment variables and
/// flags whose names say they are credentials (`--flag=value` or `--flag value`), and the
/// token it gave last time. Other arguments (a cluster name, a region) stay quotable: they
/// are what a user needs to see.
fn plugin_secrets<'a>(exec: &'a ExecConfig, previous: Option<&'a Secret>) -> Vec<&'a str> {
    let mut out: Vec<&str> = exec
        .env
        .iter()
        .filter(|(name, _)| names_a_credential(name))
        .map(|(_, value)| value.expose())
        .collect();
    let mut args = exec.args.iter().peekable();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix('-') else {
            continue;
        };
        match flag.split_once('=') {
            Some((name, value)) if names_a_credential(name) => out.push(value),
            None if names_a_credential(flag) => {
                if let Some(value) = args.next_if(|v| !v.starts_with('-')) {
                    out.push(value);
                }
            }
            _ => {}
        }
    }
    out.extend(previous.map(Secret::expose));
    // Very short values would match ordinary words.
    out.retain(|v| v.len() >= 4);
    out
}

// ---------------------------------------------------------------------------------------------
// Impersonation

/// The `Impersonate-*` headers for an impersonation config, in a stable order: user, groups,
/// uid, then one `Impersonate-Extra-<key>` header per extra value (keys sorted).
pub fn impersonation_headers(imp: &Impersonation) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(u) = &imp.user {
        out.push(("Impersonate-User".to_string(), u.clone()));
    }
    for g in &imp.groups {
        out.push(("Impersonate-Group".to_string(), g.clone()));
    }
    if let Some(uid) = &imp.uid {
        out.push(("Impersonate-Uid".to_string(), uid.clone()));
    }
    for (key, values) in &imp.extra {
        let name = format!("Impersonate-Extra-{}", extra_key_escape(key));
        for v in values {
            out.push((name.clone(), v.clone()));
        }
    }
    out
}

/// An extra's key as a header-name suffix. Keys are often domain-prefixed (`acme.com/project`)
/// and `/` cannot appear in a header name: like client-go, every byte that is not an RFC 7230
/// token character is percent-encoded, and so is `%` itself, so the API server can decode the
/// key unambiguously.
fn extra_key_escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    // The RFC 7230 `tchar` bytes besides letters and digits, less `%` (see above).
    percent_encode_into(&mut out, key, b"!#$&'*+-.^_`|~");
    out
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Credential errors. Never carry a token, key or header value; a plugin's stderr is quoted
/// because that is where it says what went wrong.
#[derive(Debug)]
pub enum Error {
    /// `tokenFile` (or the service-account token) cannot be read.
    TokenFile {
        context: String,
        path: PathBuf,
        source: files::Error,
    },
    EmptyTokenFile {
        context: String,
        path: PathBuf,
    },
    /// `auth-provider` (gcp, azure, oidc): removed from client-go or not supported here.
    AuthProvider {
        context: String,
        name: String,
    },
    /// The exec credential plugin could not give a credential.
    Exec {
        context: String,
        command: String,
        install_hint: Option<String>,
        problem: ExecProblem,
    },
}

/// What went wrong with an exec plugin.
#[derive(Debug)]
pub enum ExecProblem {
    /// The command does not exist (not installed, or not in PATH). `minimal_image`: this
    /// process has no shell either, as in a scratch container image, where no exec plugin can
    /// run.
    NotFound {
        source: io::Error,
        minimal_image: bool,
    },
    /// The command exists but could not be started (permissions, not executable).
    Spawn(io::Error),
    /// `interactiveMode: Always`: the plugin wants a terminal we do not have.
    Interactive,
    Timeout(Limit),
    /// Exited unsuccessfully; `stderr` is its trimmed, capped error output.
    Failed {
        status: ExitStatus,
        stderr: String,
    },
    /// Ran, but its output is not a usable ExecCredential.
    Output(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TokenFile {
                context,
                path,
                source,
            } => write!(
                f,
                "context {context:?}: cannot read token file {}: {source}",
                path.display()
            ),
            Error::EmptyTokenFile { context, path } => write!(
                f,
                "context {context:?}: token file {} is empty",
                path.display()
            ),
            Error::AuthProvider { context, name } => {
                write!(
                    f,
                    "context {context:?}: the {name:?} auth-provider is not supported; "
                )?;
                match name.as_str() {
                    "gcp" => f.write_str(
                        "use the gke-gcloud-auth-plugin exec plugin instead \
                         (gcloud components install gke-gcloud-auth-plugin, then \
                         gcloud container clusters get-credentials)",
                    ),
                    "azure" => f.write_str(
                        "use the kubelogin exec plugin instead \
                         (https://github.com/Azure/kubelogin: kubelogin convert-kubeconfig)",
                    ),
                    "oidc" => f.write_str(
                        "use an OIDC exec plugin instead, such as kubelogin \
                         (https://github.com/int128/kubelogin: kubectl oidc-login)",
                    ),
                    _ => f.write_str("configure a client-go exec credential plugin instead"),
                }
            }
            Error::Exec {
                context,
                command,
                install_hint,
                problem,
            } => {
                write!(f, "context {context:?}: exec plugin {command:?} ")?;
                match problem {
                    ExecProblem::NotFound {
                        source,
                        minimal_image,
                    } => {
                        write!(f, "not found ({source})")?;
                        if *minimal_image {
                            // The install hint would send the user the wrong way.
                            return write!(
                                f,
                                "; this server runs without {SHELL}, as in a scratch container \
                                 image, and exec credential plugins cannot run inside the \
                                 scratch image: use static credentials in the kubeconfig (a \
                                 token, or a client certificate and key), or run the \
                                 flux-operator-mcp binary on the host where the plugin is \
                                 installed"
                            );
                        }
                    }
                    ExecProblem::Spawn(e) => write!(f, "could not be started: {e}")?,
                    ExecProblem::Interactive => f.write_str(
                        "needs an interactive terminal (interactiveMode: Always), which this \
                         server cannot offer: its stdin carries the MCP protocol; log in with \
                         the plugin in a terminal first or use a non-interactive mode",
                    )?,
                    ExecProblem::Timeout(Limit::Plugin(after)) => write!(
                        f,
                        "did not finish within {}s and was killed",
                        after.as_secs_f32()
                    )?,
                    ExecProblem::Timeout(Limit::Call(after)) => write!(
                        f,
                        "did not finish within the {:.1}s left of this call's --timeout and was \
                         killed; raise --timeout if the plugin needs longer",
                        after.as_secs_f32()
                    )?,
                    ExecProblem::Failed { status, stderr } => {
                        write!(f, "failed ({status})")?;
                        if !stderr.is_empty() {
                            write!(f, ": {stderr}")?;
                        }
                    }
                    ExecProblem::Output(problem) => {
                        write!(f, "gave no usable credential: {problem}")?
                    }
                }
                let show_hint = matches!(
                    problem,
                    ExecProblem::NotFound { .. }
                        | ExecProblem::Spawn(_)
                        | ExecProblem::Failed { .. }
                );
                match install_hint {
                    Some(hint) if show_hint => write!(f, "\n{}", hint.trim()),
                    None if matches!(problem, ExecProblem::NotFound { .. }) => f.write_str(
                        "; it is a client-go credential plugin: install it and make sure it is \
                         on PATH",
                    ),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::TokenFile { source, .. } => Some(source),
            Error::Exec {
                problem: ExecProblem::NotFound { source: e, .. } | ExecProblem::Spawn(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::config::BasicAuth;
    use crate::kube::config::tests::{TempDir, cert_fixture, err_text as auth_err};
    use std::sync::Arc;

    fn plugin() -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/kubeconfig/plugin/fake-credential-plugin.sh")
            .to_string_lossy()
            .into_owned()
    }

    /// An exec config for the fake plugin, counting its runs in `dir/count`.
    fn exec_config(dir: &TempDir, env: &[(&str, &str)]) -> ExecConfig {
        let mut vars = vec![(
            "FAKE_COUNT_FILE".to_string(),
            Secret::new(dir.path().join("count").to_string_lossy()),
        )];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))));
        ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: plugin(),
            env: vars,
            ..ExecConfig::default()
        }
    }

    fn exec_auth(exec: ExecConfig) -> Authenticator {
        let config = AuthConfig {
            exec: Some(exec),
            ..AuthConfig::default()
        };
        Authenticator::new(config, "ctx")
    }

    fn runs(dir: &TempDir) -> usize {
        std::fs::read_to_string(dir.path().join("count"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn header(auth: &Authenticator) -> String {
        match auth.authorization() {
            Ok(Some(h)) => h.expose().to_string(),
            Ok(None) => "<none>".to_string(),
            Err(e) => panic!("authorization failed: {e}"),
        }
    }

    #[test]
    fn static_token_and_basic_auth() {
        let auth = Authenticator::new(
            AuthConfig {
                token: Some(Secret::new("abc")),
                ..AuthConfig::default()
            },
            "ctx",
        );
        assert_eq!(header(&auth), "Bearer abc");
        let auth = Authenticator::new(
            AuthConfig {
                basic: Some(BasicAuth {
                    username: "admin".into(),
                    password: Secret::new("pw"),
                }),
                ..AuthConfig::default()
            },
            "ctx",
        );
        // RFC 7617: base64("admin:pw")
        assert_eq!(header(&auth), "Basic YWRtaW46cHc=");
        let anonymous = Authenticator::new(AuthConfig::default(), "ctx");
        assert_eq!(header(&anonymous), "<none>");
        assert!(anonymous.client_identity().expect("identity").is_none());
    }

    #[test]
    fn token_file_is_read_again_when_it_changes() {
        let dir = TempDir::new("tokenfile");
        let path = dir.write("token", "first-token\n");
        let auth = Authenticator::new(
            AuthConfig {
                token_file: Some(path.clone()),
                ..AuthConfig::default()
            },
            "ctx",
        );
        assert_eq!(header(&auth), "Bearer first-token");
        // Rewritten in place with another length.
        std::fs::write(&path, "second-token-longer").expect("rewrite");
        assert_eq!(header(&auth), "Bearer second-token-longer");
        // Atomically replaced with a same-length token, the way kubelet swaps projected
        // tokens: a new inode.
        let next = dir.write("token.next", "third--token-longer");
        std::fs::rename(&next, &path).expect("rename");
        assert_eq!(header(&auth), "Bearer third--token-longer");
        // invalidate() forces a read even when the file looks unchanged.
        auth.invalidate();
        assert_eq!(header(&auth), "Bearer third--token-longer");

        std::fs::write(&path, " \n").expect("empty");
        let e = auth_err(auth.authorization());
        assert!(e.contains("is empty") && e.contains("token"), "{e}");
        std::fs::remove_file(&path).expect("remove");
        let e = auth_err(auth.authorization());
        assert!(
            e.contains("cannot read token file") && e.contains("ctx"),
            "{e}"
        );
    }

    #[test]
    fn exec_plugin_gets_info_args_env_and_no_stdin() {
        let dir = TempDir::new("exec-info");
        let info_file = dir.path().join("info");
        let mut exec = exec_config(
            &dir,
            &[
                ("FAKE_TOKEN", "exec-token"),
                ("FAKE_INFO_FILE", &info_file.to_string_lossy()),
            ],
        );
        exec.args = vec!["get-token".into(), "--cluster=prod".into()];
        exec.provide_cluster_info = true;
        exec.cluster_info = Some(serde_json::json!({"server": "https://x:6443"}));
        let auth = exec_auth(exec);
        // The plugin fails (exit 3) when its stdin is not /dev/null.
        assert_eq!(header(&auth), "Bearer exec-token");
        let written = std::fs::read_to_string(&info_file).expect("info");
        let mut lines = written.lines();
        let info: serde_json::Value =
            serde_json::from_str(lines.next().expect("info line")).expect("json");
        assert_eq!(info["kind"], "ExecCredential");
        assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1");
        assert_eq!(info["spec"]["interactive"], false);
        assert_eq!(info["spec"]["cluster"]["server"], "https://x:6443");
        assert_eq!(lines.collect::<Vec<_>>(), ["get-token", "--cluster=prod"]);
    }

    #[test]
    fn exec_credentials_are_cached_until_expiry_or_invalidate() {
        let dir = TempDir::new("exec-cache");
        let auth = exec_auth(exec_config(
            &dir,
            &[("FAKE_EXPIRY", "2999-01-01T00:00:00Z")],
        ));
        assert_eq!(header(&auth), "Bearer fake-token");
        assert_eq!(header(&auth), "Bearer fake-token");
        assert_eq!(runs(&dir), 1);
        auth.invalidate();
        assert_eq!(header(&auth), "Bearer fake-token");
        assert_eq!(runs(&dir), 2);

        // Already expired: every request runs the plugin again.
        let dir = TempDir::new("exec-expired");
        let auth = exec_auth(exec_config(
            &dir,
            &[("FAKE_EXPIRY", "2000-01-01T00:00:00Z")],
        ));
        header(&auth);
        header(&auth);
        assert_eq!(runs(&dir), 2);

        // No expirationTimestamp: cached until invalidated.
        let dir = TempDir::new("exec-forever");
        let auth = exec_auth(exec_config(&dir, &[]));
        header(&auth);
        header(&auth);
        assert_eq!(runs(&dir), 1);
    }

    #[test]
    fn concurrent_requests_run_the_plugin_once() {
        let dir = TempDir::new("exec-threads");
        let auth = Arc::new(exec_auth(exec_config(&dir, &[])));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let auth = Arc::clone(&auth);
                std::thread::spawn(move || header(&auth))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("thread"), "Bearer fake-token");
        }
        assert_eq!(runs(&dir), 1);
    }

    #[test]
    fn exec_client_certificate_output() {
        let dir = TempDir::new("exec-cert");
        let cert = cert_fixture("ec-p384.crt");
        let key = cert_fixture("ec-p384.pkcs8.key");
        let auth = exec_auth(exec_config(
            &dir,
            &[
                ("FAKE_MODE", "cert"),
                ("FAKE_CERT_FILE", &cert.to_string_lossy()),
                ("FAKE_KEY_FILE", &key.to_string_lossy()),
            ],
        ));
        let identity = auth.client_identity().expect("identity").expect("a cert");
        assert_eq!(identity.cert_pem, std::fs::read(&cert).expect("cert"));
        assert_eq!(header(&auth), "<none>");
        assert_eq!(runs(&dir), 1);

        let dir = TempDir::new("exec-cert-mismatch");
        let auth = exec_auth(exec_config(
            &dir,
            &[
                ("FAKE_MODE", "cert"),
                ("FAKE_CERT_FILE", &cert.to_string_lossy()),
                (
                    "FAKE_KEY_FILE",
                    &cert_fixture("rsa.pkcs8.key").to_string_lossy(),
                ),
            ],
        ));
        let e = auth_err(auth.client_identity());
        assert!(e.contains("does not belong"), "{e}");
    }

    #[test]
    fn static_credentials_win_over_the_plugin() {
        let dir = TempDir::new("exec-static");
        let key = std::fs::read(cert_fixture("rsa.pkcs1.key")).expect("key");
        for config in [
            AuthConfig {
                token: Some(Secret::new("static")),
                ..AuthConfig::default()
            },
            AuthConfig {
                client_cert: Some(ClientCert {
                    cert_pem: std::fs::read(cert_fixture("rsa.crt")).expect("cert"),
                    key_pem: SecretBytes::new(key.clone()),
                }),
                ..AuthConfig::default()
            },
        ] {
            let auth = Authenticator::new(
                AuthConfig {
                    exec: Some(exec_config(&dir, &[])),
                    ..config
                },
                "ctx",
            );
            auth.authorization().expect("authorization");
            auth.client_identity().expect("identity");
        }
        assert_eq!(runs(&dir), 0);
    }

    #[test]
    fn exec_failures_quote_stderr_and_the_install_hint() {
        let dir = TempDir::new("exec-fail");
        let mut exec = exec_config(&dir, &[("FAKE_MODE", "fail")]);
        exec.install_hint = Some("Install it with: brew install fake".into());
        let e = auth_err(exec_auth(exec).authorization());
        assert!(e.contains("context \"ctx\""), "{e}");
        assert!(e.contains("failed (exit status: 1)"), "{e}");
        assert!(e.contains("you must be logged in"), "{e}");
        assert!(e.contains("brew install fake"), "{e}");

        let mut missing = exec_config(&dir, &[]);
        missing.command = "fomcp-no-such-credential-plugin".into();
        missing.install_hint = Some("Get it from example.com".into());
        let e = auth_err(exec_auth(missing.clone()).authorization());
        assert!(
            e.contains("not found") && e.contains("Get it from example.com"),
            "{e}"
        );
        missing.install_hint = None;
        let e = auth_err(exec_auth(missing).authorization());
        assert!(e.contains("install it and make sure it is on PATH"), "{e}");
    }

    #[test]
    fn exec_stderr_never_repeats_a_credential() {
        let dir = TempDir::new("exec-echo");
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        let mut exec = exec_config(
            &dir,
            &[
                ("FAKE_MODE", "fail-echo"),
                ("FAKE_TOKEN", jwt),
                ("FAKE_SECRET", "s3cr3t-from-env"),
            ],
        );
        exec.args = vec![
            "get-token".into(),
            "--oidc-client-secret=s3cr3t-from-args".into(),
            "--password".into(),
            "s3cr3t-next-arg".into(),
            "--cluster-name=prod-eu".into(),
        ];
        let e = auth_err(exec_auth(exec).authorization());
        for secret in [
            jwt,
            "s3cr3t-from-env",
            "s3cr3t-from-args",
            "s3cr3t-next-arg",
        ] {
            assert!(!e.contains(secret), "{secret} in: {e}");
        }
        // What helps the user stays: the plugin's words and the harmless arguments.
        assert!(e.contains("was rejected"), "{e}");
        assert!(e.contains("--cluster-name=prod-eu"), "{e}");
        assert!(e.contains("<masked: 15 bytes>"), "{e}");
    }

    #[test]
    fn stderr_quotes_are_masked_before_they_are_cut() {
        assert_eq!(
            quote_stderr(b"\x1b[31mgot Authorization: Bearer abcdefgh123 back\n", &[]),
            "got Authorization: Bearer <masked: 11 bytes> back"
        );
        assert_eq!(
            quote_stderr("pw hunter22 \u{e9}".as_bytes(), &["hunter22"]),
            "pw <masked: 8 bytes> \u{e9}"
        );
        assert_eq!(
            quote_stderr(b"Bearer x", &[]),
            "Bearer x",
            "too short to be one"
        );
        // The credential straddles the point where the quote is cut: masked first, no part
        // of it shows.
        let long = format!(
            "token=SECRETSECRETSECRET {}",
            "x".repeat(STDERR_QUOTE_CHARS - 10)
        );
        let quoted = quote_stderr(long.as_bytes(), &[]);
        assert!(quoted.starts_with("..."), "{quoted}");
        assert!(!quoted.contains("SECRET"), "{quoted}");
    }

    /// What a plugin prints on failure is quoted to the agent: credential-shaped text in it
    /// is masked even when nothing in the kubeconfig says it is a credential.
    #[test]
    fn exec_stderr_credential_shapes_are_masked() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.Y2FuYXJ5LXNpZ25hdHVyZQ";
        let canaries = [
            jwt,
            "canary-pass-7f3a",
            "canary-token-91b2",
            "MIIEcanaryKEYbody",
            "ghp_CANARY0123456789abcdefghijABCDEFGHIJ",
            "canary-url-pw",
        ];
        let stderr = format!(
            "error: refresh failed for {jwt}\n\
             config: password=canary-pass-7f3a \"token\": \"canary-token-91b2\"\n\
             -----BEGIN RSA PRIVATE KEY-----\nMIIEcanaryKEYbody\n-----END RSA PRIVATE KEY-----\n\
             using ghp_CANARY0123456789abcdefghijABCDEFGHIJ at \
             https://oauth2:canary-url-pw@git.example.com/repo: login required"
        );
        let dir = TempDir::new("exec-shapes");
        let e = auth_err(
            exec_auth(exec_config(
                &dir,
                &[("FAKE_MODE", "fail-stderr"), ("FAKE_STDERR", &stderr)],
            ))
            .authorization(),
        );
        for canary in canaries {
            assert!(!e.contains(canary), "{canary} in: {e}");
        }
        assert!(e.contains("<masked: "), "{e}");
        assert!(
            e.contains("refresh failed") && e.contains("login required"),
            "{e}"
        );
    }

    /// `/proc/<pid>/stat`: whether `pid` still runs as a member of group `pgid` (a zombie, or
    /// a reused pid in another group, does not count).
    fn runs_in_group(pid: u32, pgid: u32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            return false;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        // state ppid pgrp ...
        !matches!(fields.first(), Some(&"Z" | &"X"))
            && fields.get(2) == Some(&pgid.to_string().as_str())
    }

    /// Whether every pid recorded in `pid_file` (children first, then the group leader) has
    /// ended within 10 s of the plugin being killed. Returns the pids seen.
    fn all_ended(pid_file: &Path) -> (Vec<u32>, bool) {
        let pids: Vec<u32> = std::fs::read_to_string(pid_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let Some(&leader) = pids.last() else {
            return (pids, true);
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if pids.iter().all(|&p| !runs_in_group(p, leader)) {
                return (pids, true);
            }
            if Instant::now() >= deadline {
                return (pids, false);
            }
            std::thread::yield_now();
        }
    }

    /// A wrapper script whose `sleep` children keep its pipes open: on timeout the whole
    /// group is killed, so nothing is orphaned and the pipe readers end.
    #[test]
    fn exec_timeout_kills_the_whole_group() {
        let dir = TempDir::new("exec-group");
        let pid_file = dir.path().join("pids");
        let auth = exec_auth(exec_config(
            &dir,
            &[
                ("FAKE_MODE", "sleep-children"),
                ("FAKE_PID_FILE", &pid_file.to_string_lossy()),
            ],
        ))
        .with_exec_timeout(Duration::from_millis(1500));
        let started = Instant::now();
        let e = auth_err(auth.authorization());
        assert!(e.contains("was killed"), "{e}");
        // The plugin's children held its pipes: returning at all shows they were killed
        // (before, the readers outlived the call). Timeout plus the readers' grace at most.
        assert!(
            started.elapsed() < Duration::from_millis(1500) + READER_GRACE + Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let (pids, ended) = all_ended(&pid_file);
        assert_eq!(pids.len(), 3, "the plugin recorded its children and itself");
        assert!(ended, "processes of the plugin's group still run: {pids:?}");
    }

    #[test]
    fn a_missing_plugin_in_a_scratch_image_says_so() {
        assert!(minimal_image(Path::new("/nonexistent/bin/sh")));
        assert!(!minimal_image(Path::new(env!("CARGO_MANIFEST_DIR"))));
        let error = |minimal_image| Error::Exec {
            context: "prod".into(),
            command: "aws".into(),
            install_hint: Some("Install the AWS CLI.".into()),
            problem: ExecProblem::NotFound {
                source: io::Error::from(io::ErrorKind::NotFound),
                minimal_image,
            },
        };
        let e = error(true).to_string();
        assert!(
            e.starts_with("context \"prod\": exec plugin \"aws\" not found ("),
            "{e}"
        );
        assert!(
            e.contains("exec credential plugins cannot run inside the scratch image")
                && e.contains("static credentials")
                && e.contains("a client certificate")
                && e.contains("on the host"),
            "{e}"
        );
        assert!(!e.contains("Install the AWS CLI"), "{e}");
        let e = error(false).to_string();
        assert!(
            e.contains("Install the AWS CLI") && !e.contains("scratch"),
            "{e}"
        );
    }

    #[test]
    fn token_files_are_read_bounded_and_typed() {
        let dir = TempDir::new("token-special");
        let fifo = dir.path().join("token");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let errors: Vec<String> = [fifo, PathBuf::from("/dev/zero")]
                .into_iter()
                .map(|path| {
                    let auth = Authenticator::new(
                        AuthConfig {
                            token_file: Some(path),
                            ..AuthConfig::default()
                        },
                        "ctx",
                    );
                    auth_err(auth.authorization())
                })
                .collect();
            let _ = tx.send(errors);
        });
        let errors = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("returned without blocking");
        assert!(
            errors[0].ends_with("token: not a regular file but a FIFO (named pipe)"),
            "{}",
            errors[0]
        );
        assert_eq!(
            errors[1],
            "context \"ctx\": cannot read token file /dev/zero: not a regular file but a character device"
        );
    }

    /// Found by the `exec_credential` fuzz target: the apiVersion and expirationTimestamp a
    /// plugin returned were quoted even when they held its token or key, so a plugin that
    /// wrote its credential into the wrong field had it shown in the tool error.
    #[test]
    fn exec_output_problems_never_quote_a_field_holding_the_credential() {
        const V1: &str = "client.authentication.k8s.io/v1";
        let token = "tok-123456789";
        let key = "-----BEGIN PRIVATE KEY-----secret";
        for output in [
            format!(
                r#"{{"apiVersion":"x{token}","kind":"ExecCredential","status":{{"token":"{token}"}}}}"#
            ),
            format!(
                r#"{{"apiVersion":"{V1}","kind":"ExecCredential","status":{{"token":"{token}","expirationTimestamp":"at {token}"}}}}"#
            ),
            format!(
                r#"{{"apiVersion":"{key}","kind":"ExecCredential","status":{{"clientCertificateData":"c","clientKeyData":"{key}"}}}}"#
            ),
        ] {
            let problem = parse_exec_output(output.as_bytes(), V1)
                .err()
                .expect("refused");
            assert!(problem.contains("not shown"), "{problem}");
            assert!(
                !problem.contains(token) && !problem.contains(key),
                "{problem}"
            );
        }
        // Without the credential in it, a wrong value is quoted: the user needs to see it.
        let output = format!(
            r#"{{"apiVersion":"v1alpha1","kind":"ExecCredential","status":{{"token":"{token}"}}}}"#
        );
        let problem = parse_exec_output(output.as_bytes(), V1)
            .err()
            .expect("refused");
        assert!(problem.contains(r#"apiVersion "v1alpha1""#), "{problem}");
    }

    #[test]
    fn exec_output_problems_never_quote_the_output() {
        for (mode, api, expected) in [
            ("garbage", None, "not an ExecCredential"),
            (
                "empty-status",
                None,
                "neither a token nor a client certificate",
            ),
            (
                "token",
                Some("client.authentication.k8s.io/v1beta1"),
                "returned apiVersion",
            ),
        ] {
            let dir = TempDir::new("exec-output");
            let mut env = vec![("FAKE_MODE", mode), ("FAKE_TOKEN", "hunter2-token")];
            if let Some(api) = api {
                env.push(("FAKE_API_VERSION", api));
            }
            let e = auth_err(exec_auth(exec_config(&dir, &env)).authorization());
            assert!(e.contains(expected), "{mode}: {e}");
            assert!(!e.contains("hunter2"), "{mode}: {e}");
        }
        let dir = TempDir::new("exec-expiry");
        let e =
            auth_err(exec_auth(exec_config(&dir, &[("FAKE_EXPIRY", "tomorrow")])).authorization());
        assert!(e.contains("expirationTimestamp \"tomorrow\""), "{e}");
    }

    #[test]
    fn exec_timeout_kills_the_plugin() {
        let dir = TempDir::new("exec-timeout");
        let auth = exec_auth(exec_config(&dir, &[("FAKE_MODE", "sleep")]))
            .with_exec_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let e = auth_err(auth.authorization());
        assert!(
            e.contains("did not finish within 0.3s and was killed"),
            "{e}"
        );
        // Killed, not waited for: the plugin would sleep 30 s.
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn interactive_plugins_are_refused_without_running() {
        let dir = TempDir::new("exec-interactive");
        let mut exec = exec_config(&dir, &[]);
        exec.interactive_mode = Some("Always".into());
        let e = auth_err(exec_auth(exec).authorization());
        assert!(
            e.contains("interactive") && e.contains("MCP protocol"),
            "{e}"
        );
        assert_eq!(runs(&dir), 0);
    }

    #[test]
    fn auth_providers_point_to_exec_plugins() {
        for (name, expected) in [
            ("gcp", "gke-gcloud-auth-plugin"),
            ("azure", "kubelogin"),
            ("oidc", "oidc-login"),
            ("custom", "exec credential plugin"),
        ] {
            let auth = Authenticator::new(
                AuthConfig {
                    auth_provider: Some(name.into()),
                    ..AuthConfig::default()
                },
                "ctx",
            );
            let e = auth_err(auth.authorization());
            assert!(
                e.contains(expected) && e.contains("not supported"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn debug_never_shows_credentials() {
        let dir = TempDir::new("exec-debug");
        let mut exec = exec_config(&dir, &[("FAKE_TOKEN", "hunter2-token")]);
        exec.args = vec!["--client-secret=hunter3".into()];
        let auth = Authenticator::new(
            AuthConfig {
                token: Some(Secret::new("hunter4")),
                basic: Some(BasicAuth {
                    username: "u".into(),
                    password: Secret::new("hunter5"),
                }),
                exec: Some(exec),
                ..AuthConfig::default()
            },
            "ctx",
        );
        auth.authorization().expect("auth");
        let debug = format!("{auth:?} {:?}", auth.config());
        for secret in ["hunter2", "hunter3", "hunter4", "hunter5"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn impersonation_headers_in_order() {
        let imp = Impersonation {
            user: Some("jane".into()),
            groups: vec!["a".into(), "b".into()],
            uid: Some("42".into()),
            extra: vec![
                ("acme.com/team".into(), vec!["sre".into(), "oncall".into()]),
                ("reason".into(), vec!["incident 42".into()]),
            ],
        };
        let got = impersonation_headers(&imp);
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("Impersonate-User", "jane"),
                ("Impersonate-Group", "a"),
                ("Impersonate-Group", "b"),
                ("Impersonate-Uid", "42"),
                ("Impersonate-Extra-acme.com%2Fteam", "sre"),
                ("Impersonate-Extra-acme.com%2Fteam", "oncall"),
                ("Impersonate-Extra-reason", "incident 42"),
            ]
        );
        assert!(impersonation_headers(&Impersonation::default()).is_empty());
    }

    #[test]
    fn extra_keys_are_escaped_like_client_go() {
        assert_eq!(extra_key_escape("scopes"), "scopes");
        assert_eq!(extra_key_escape("acme.com/project"), "acme.com%2Fproject");
        assert_eq!(extra_key_escape("100%"), "100%25");
        assert_eq!(extra_key_escape("a b:c"), "a%20b%3Ac");
        assert_eq!(extra_key_escape("é"), "%C3%A9");
    }

    /// Every ASCII byte and two multibyte characters: HTTP token bytes stay as they are.
    #[test]
    fn extra_key_escape_of_every_ascii_byte() {
        let all: String = (0u8..128).map(char::from).chain("é日".chars()).collect();
        assert_eq!(
            extra_key_escape(&all),
            "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F%20!%22#$%25&'%28%29*+%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D^_`abcdefghijklmnopqrstuvwxyz%7B|%7D~%7F%C3%A9%E6%97%A5"
        );
    }
}
