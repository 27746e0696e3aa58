//! Masking credential-shaped text: bearer tokens, JWTs, `password=`/`token:`-style pairs (also
//! in their JSON and YAML forms), PEM private keys and their base64, cloud and forge access
//! keys, passwords in URLs. A masked value becomes `<masked: N bytes>`: the reader still learns
//! that a value is set and how long it is, never what it is.
//!
//! Pure functions over text, no I/O and no knowledge of where the text came from: exec plugin
//! stderr uses them today; the call log, logs, events and values masking can use the same
//! calls. The patterns favour few false positives in ordinary error messages (`failed to get
//! secret: not found` stays as it is), because condition and event text is what an agent
//! diagnoses with.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;

/// What replaces a masked value of `len` bytes.
pub fn placeholder(len: usize) -> String {
    format!("<masked: {len} bytes>")
}

/// `text` with every credential-shaped value masked; borrowed when nothing was.
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut spans = Vec::new();
    bearer_tokens(text, &mut spans);
    jwts(text, &mut spans);
    pairs(text, &mut spans);
    pem_private_keys(text, &mut spans);
    base64_pem_private_keys(text, &mut spans);
    prefixed_tokens(text, &mut spans);
    url_passwords(text, &mut spans);
    apply(text, spans)
}

/// `text` with every occurrence of each of `values` masked (values known to be secret: a
/// plugin's credential-named env values, the token it gave last time). Empty values are
/// ignored; the caller decides which short values are too common to mask.
pub fn mask_values<'a>(text: &'a str, values: &[&str]) -> Cow<'a, str> {
    let mut spans = Vec::new();
    for value in values.iter().filter(|v| !v.is_empty()) {
        let mut from = 0;
        while let Some(i) = text[from..].find(value) {
            let start = from + i;
            spans.push(start..start + value.len());
            from = start + value.len();
        }
    }
    apply(text, spans)
}

/// Whether a key, variable or flag name says its value is a credential: `DB_PASSWORD`,
/// `dbPassword`, `--client-secret`, `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `api_key`,
/// `client-key-data`. Names that point at a credential rather than hold one are not:
/// `tokenFile`, `secretRef`, `secretName`, `passwordFile`, `existingSecret` (a Secret's
/// name), `AWS_ACCESS_KEY_ID`; nor are names whose last word is a property of a credential
/// rather than the credential (`tokenTTL`, `TOKEN_TTL`, `passwordLength`): the last word
/// decides. This is the one name rule: env values, Helm values, the call log's arguments and
/// exec plugin variables all ask it.
pub fn is_credential_name(name: &str) -> bool {
    // Most names (and every separator in a long text) fail this cheap test; `words` allocates.
    // Only for ASCII names: `words` lowercases by Unicode, where the Kelvin sign `K` becomes
    // an ASCII `k` (`API_KEY` with it is still an API key), which this test cannot see.
    if name.is_ascii()
        && !STEMS
            .iter()
            .any(|stem| contains_ignore_ascii_case(name, stem))
    {
        return false;
    }
    let words = words(name);
    let mut words = words.as_slice();
    // `client-key-data`, `token-data`: the data of what the rest names.
    if let [rest @ .., last] = words
        && !rest.is_empty()
        && last == "data"
    {
        words = rest;
    }
    let Some(last) = words.last() else {
        return false;
    };
    // Helm charts' `existingSecret: my-secret` names a Secret object.
    if words.first().is_some_and(|w| w == "existing") {
        return false;
    }
    if EXACT_NAMES.contains(&last.as_str()) && words.len() == 1 {
        return true;
    }
    if CREDENTIAL_ENDINGS.iter().any(|e| last.ends_with(e)) {
        return true;
    }
    // `api_key`, `AccessKey`, `tls.key`, `sshKey`: a key qualified as a secret one (a bare
    // `key=` is a label key, a map key, ...).
    if last == "key" {
        return words.len() >= 2 && KEY_QUALIFIERS.contains(&words[words.len() - 2].as_str());
    }
    last.strip_suffix("key")
        .is_some_and(|q| KEY_QUALIFIERS.contains(&q))
}

/// Every credential name holds one of these (see the lists below).
const STEMS: &[&str] = &["pass", "secret", "token", "cred", "key", "auth"];

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A name's last word ending in one of these holds a credential (`dbpassword`, `id_token`,
/// `clientSecret`).
const CREDENTIAL_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "apikey",
];

/// Names that are a credential only when they are the whole name: Docker's `"auth"`
/// (base64 of user:password).
const EXACT_NAMES: &[&str] = &["auth"];

/// What makes a `key` a secret key.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "ssh",
    "signing",
    "encryption",
    "master",
    "account",
    "client",
    "tls",
    "ca",
    "shared",
    "storage",
    "session",
];

/// Lower-case words of a name: split at anything not a letter or digit and at camelCase
/// boundaries (`APIKey` → api, key; `dbPassword` → db, password).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = name.chars().collect();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Replace the union of `spans` by placeholders.
fn apply(text: &str, mut spans: Vec<Range<usize>>) -> Cow<'_, str> {
    spans.retain(|s| s.start < s.end);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|s| (s.start, s.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some(mut span) = spans.next() {
        while let Some(next) = spans.next_if(|n| n.start <= span.end) {
            span.end = span.end.max(next.end);
        }
        out.push_str(&text[at..span.start]);
        out.push_str(&placeholder(span.end - span.start));
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The length of a placeholder starting at `text[at..]`, if one does: an already masked value
/// is not masked again (masking twice gives what masking once gave).
fn placeholder_at(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?.strip_prefix("<masked: ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && rest[digits..].starts_with(" bytes>"))
        .then_some("<masked: ".len() + digits + " bytes>".len())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// RFC 6750 token68 characters.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// The end of the run of bytes from `start` that satisfy `keep`.
fn run_end(bytes: &[u8], start: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !keep(b))
        .map_or(bytes.len(), |n| start + n)
}

/// Where words start: the first byte of a run of word bytes (`_` included).
fn word_starts(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    (0..bytes.len())
        .filter(move |&i| is_word_byte(bytes[i]) && (i == 0 || !is_word_byte(bytes[i - 1])))
}

/// Every start of `needle` in `haystack`.
fn find_all<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    haystack.match_indices(needle).map(|(i, _)| i)
}

/// `Bearer <token>` in any case (HTTP auth schemes are case-insensitive). Only what looks like
/// a token: 8+ token68 bytes with a digit or symbol in them, or 20+ bytes; `the bearer
/// authentication scheme` stays.
fn bearer_tokens(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    for at in word_starts(bytes) {
        if !bytes[at..]
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"bearer"))
        {
            continue;
        }
        let mut start = at + "bearer".len();
        let spaces = run_end(bytes, start, |b| b == b' ' || b == b'\t') - start;
        if spaces == 0 {
            continue;
        }
        start += spaces;
        let mut end = run_end(bytes, start, is_token68);
        end = run_end(bytes, end, |b| b == b'=');
        if looks_like_a_token(&bytes[start..end]) {
            spans.push(start..end);
        }
    }
}

fn looks_like_a_token(word: &[u8]) -> bool {
    word.len() >= 20 || (word.len() >= 8 && word.iter().any(|b| !b.is_ascii_alphabetic()))
}

/// JSON Web Tokens (and JWE): `eyJ` (base64url of `{"`), then two or more dots.
fn jwts(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let jwt_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=');
    for start in find_all(text, "eyJ") {
        if start > 0 && jwt_byte(bytes[start - 1]) {
            continue;
        }
        let mut end = run_end(bytes, start, jwt_byte);
        let mut dots = bytes[start..end].iter().filter(|&&b| b == b'.').count();
        // A sentence's full stop after the token is not part of it.
        while dots > 2 && bytes[end - 1] == b'.' {
            end -= 1;
            dots -= 1;
        }
        if dots >= 2 && end - start >= 20 {
            spans.push(start..end);
        }
    }
}

/// `name=value`, `"name": "value"`, `name: value` at the start of a YAML line, and
/// `name: "value"` anywhere, for credential names ([`is_credential_name`]). A bare
/// `name: value` inside a sentence is prose (`cannot get secret: not found`), not a pair.
fn pairs(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let separators = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'=' || b == b':')
        .map(|(i, _)| i);
    for sep in separators {
        let Some(key) = key_before(bytes, sep) else {
            continue;
        };
        let name = &text[key.name.clone()];
        let header = name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization");
        if !header && !is_credential_name(name) {
            continue;
        }
        let colon = bytes[sep] == b':';
        if colon
            && !matches!(
                bytes.get(sep + 1),
                None | Some(b' ' | b'\t' | b'"' | b'\'' | b'\\' | b'\n' | b'\r')
            )
        {
            // `token:=x`, `secret::x`, `https://` are not pairs.
            continue;
        }
        if !colon && matches!(bytes.get(sep + 1), Some(b'=')) {
            continue;
        }
        let start = run_end(bytes, sep + 1, |b| b == b' ' || b == b'\t');
        if placeholder_at(text, start).is_some() {
            continue;
        }
        let value = match bytes.get(start) {
            None | Some(b'\n' | b'\r') => None,
            Some(b'"') => Some(quoted(bytes, start + 1, b"\"")),
            Some(b'\'') => Some(quoted(bytes, start + 1, b"'")),
            Some(b'\\') if bytes.get(start + 1) == Some(&b'"') => {
                Some(quoted(bytes, start + 2, b"\\\""))
            }
            Some(_) if header => Some(header_credentials(bytes, start)),
            Some(_) if !colon => Some(start..run_end(bytes, start, |b| !ends_a_bare_value(b))),
            // `"name": 12345` in JSON: a scalar up to the next delimiter.
            Some(_) if key.quoted => {
                let end = run_end(bytes, start, |b| {
                    !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()
                });
                let scalar = &text[start..end];
                (!matches!(scalar, "null" | "true" | "false")).then_some(start..end)
            }
            Some(_) if key.line_start => yaml_value(text, start, key.column),
            Some(_) => None,
        };
        if let Some(value) = value
            && placeholder_at(text, value.start).is_none()
        {
            spans.push(value);
        }
    }
}

/// A key that ends right before the separator at `sep`.
struct Key {
    name: Range<usize>,
    quoted: bool,
    /// Only indentation (and `- ` list markers) precede it on its line: a YAML mapping key.
    line_start: bool,
    /// Its column on the line, for the extent of a YAML block scalar.
    column: usize,
}

/// The longest name we look back for: credential names are short; a bound keeps the scan
/// linear on long lines.
const MAX_KEY: usize = 64;

fn key_before(bytes: &[u8], sep: usize) -> Option<Key> {
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut end = sep;
    // `password = x` (ini, TOML) and `"password" : "x"`: spaces before the separator.
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') && sep - end < 4 {
        end -= 1;
    }
    let spaced = end < sep;
    let (name, quoted, key_start) = match bytes.get(end.wrapping_sub(1)) {
        Some(&q @ (b'"' | b'\'')) if end > 0 => {
            let close = end - 1;
            let escaped = close > 0 && bytes[close - 1] == b'\\';
            let close_start = if escaped { close - 1 } else { close };
            let lower = close_start.saturating_sub(MAX_KEY);
            let open = (lower..close_start)
                .rev()
                .take_while(|&i| bytes[i] != b'\n')
                .find(|&i| bytes[i] == q)?;
            let (name_start, key_start) = if escaped {
                (
                    open + 1,
                    open.checked_sub(1).filter(|&i| bytes[i] == b'\\')?,
                )
            } else {
                (open + 1, open)
            };
            (name_start..close_start, true, key_start)
        }
        _ => {
            if spaced && bytes[sep] == b':' {
                return None;
            }
            let lower = end.saturating_sub(MAX_KEY);
            let mut start = end;
            while start > lower && is_key_byte(bytes[start - 1]) {
                start -= 1;
            }
            if start == lower && lower > 0 && is_key_byte(bytes[lower - 1]) {
                return None;
            }
            // `--client-secret=x`: the flag's dashes are not part of the name.
            let name_start = start + bytes[start..end].iter().take_while(|&&b| b == b'-').count();
            (name_start..end, false, start)
        }
    };
    if name.is_empty() {
        return None;
    }
    // Back over indentation and list markers only: a scan to the line's start would make a
    // long single-line text (minified JSON) quadratic.
    let indent = bytes[..key_start]
        .iter()
        .rev()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'-'))
        .count();
    let line = key_start - indent;
    let line_start = line == 0 || bytes[line - 1] == b'\n';
    Some(Key {
        name,
        quoted,
        line_start,
        column: indent,
    })
}

/// Where a bare (unquoted) `name=value` value ends.
fn ends_a_bare_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'&' | b',' | b';' | b'"' | b'\'' | b'`' | b')' | b']' | b'}'
        )
}

/// The inside of a quoted value starting at `start` (after the opening quote), up to `close`
/// or the end of the line. Backslash escapes are skipped in double quotes; `''` is YAML's
/// escaped single quote.
fn quoted(bytes: &[u8], start: usize, close: &[u8]) -> Range<usize> {
    let mut i = start;
    while i < bytes.len() && bytes[i] != b'\n' {
        if bytes[i..].starts_with(close) {
            if close == b"'" && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return start..i;
        }
        if bytes[i] == b'\\' && close != b"'" && close != b"\\\"" {
            i += 2;
            continue;
        }
        i += 1;
    }
    start..i.min(bytes.len())
}

/// `Authorization: Basic dXNlcjpw` → the credentials after the scheme (the scheme says what
/// kind they are; keeping it helps the reader).
fn header_credentials(bytes: &[u8], start: usize) -> Range<usize> {
    let scheme_end = run_end(bytes, start, is_token68);
    let after = run_end(bytes, scheme_end, |b| b == b' ' || b == b'\t');
    if after > scheme_end && after < bytes.len() && is_token68(bytes[after]) {
        let end = run_end(bytes, after, is_token68);
        return after..run_end(bytes, end, |b| b == b'=');
    }
    start..run_end(bytes, scheme_end, |b| b == b'=')
}

/// A YAML plain value from `start` to the end of its line; for a block scalar (`|`, `>`) the
/// more-indented lines that follow.
fn yaml_value(text: &str, start: usize, key_column: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let line_end = bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| start + i);
    let value = text[start..line_end].trim_end();
    match value.as_bytes().first() {
        // A comment, a nested mapping or list, an alias: no scalar on this line.
        None | Some(b'#' | b'{' | b'[' | b'*') => return None,
        Some(b'|' | b'>') => {}
        _ => {
            return (!matches!(value, "null" | "~" | "true" | "false"))
                .then_some(start..start + value.len());
        }
    }
    let body_start = (line_end + 1).min(bytes.len());
    let mut end = body_start;
    let mut at = body_start;
    while at < bytes.len() {
        let next = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i);
        let line = &text[at..next];
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if !line.trim().is_empty() {
            if indent <= key_column {
                break;
            }
            end = at + line.trim_end().len();
        }
        at = next + 1;
    }
    (end > body_start).then_some(body_start..end)
}

/// The body of a PEM private key block (`-----BEGIN ... PRIVATE KEY-----`), up to its END line
/// (or the end of the text when cut short). The BEGIN and END lines stay: they say what it was.
fn pem_private_keys(text: &str, spans: &mut Vec<Range<usize>>) {
    for begin in find_all(text, "-----BEGIN ") {
        let label_start = begin + "-----BEGIN ".len();
        let window = &text[label_start..];
        let window = &window[..crate::text::floor_char_boundary(window, 80)];
        let Some(label_len) = window.find("-----") else {
            continue;
        };
        let label = &text[label_start..label_start + label_len];
        if !label.contains("PRIVATE KEY") || label.contains('\n') {
            continue;
        }
        let body = label_start + label_len + "-----".len();
        let end = text[body..]
            .find("-----END ")
            .map_or(text.len(), |i| body + i);
        if placeholder_at(text, body).is_some_and(|n| body + n == end) {
            continue;
        }
        spans.push(body..end);
    }
}

/// A PEM private key in base64, as in a kubeconfig's `client-key-data`: the text starts with
/// base64 of `-----BEGIN ` and decodes to a PRIVATE KEY label.
fn base64_pem_private_keys(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    for start in find_all(text, "LS0tLS1CRUdJTi") {
        if start > 0 && b64(bytes[start - 1]) {
            continue;
        }
        let end = run_end(bytes, start, b64);
        let head = &text[start..end.min(start + 64)];
        let head = &head[..head.len() / 4 * 4];
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(head) else {
            continue;
        };
        if decoded.windows(11).any(|w| w == b"PRIVATE KEY") {
            spans.push(start..end);
        }
    }
}

/// A token format known by its prefix: the characters that follow and how many at least.
struct Prefixed {
    prefix: &'static str,
    charset: fn(u8) -> bool,
    min_len: usize,
    /// AWS access key ids have exactly this many characters after the prefix.
    exact: bool,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}
fn url_safe_dot(b: u8) -> bool {
    url_safe(b) || b == b'.'
}

const fn prefixed(prefix: &'static str, charset: fn(u8) -> bool, min_len: usize) -> Prefixed {
    Prefixed {
        prefix,
        charset,
        min_len,
        exact: false,
    }
}

/// Vendors' documented token formats.
const PREFIXED: &[Prefixed] = &[
    // AWS access key ids (long-term and temporary).
    Prefixed {
        prefix: "AKIA",
        charset: upper_alnum,
        min_len: 16,
        exact: true,
    },
    Prefixed {
        prefix: "ASIA",
        charset: upper_alnum,
        min_len: 16,
        exact: true,
    },
    // GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
    prefixed("ghp_", alnum, 36),
    prefixed("gho_", alnum, 36),
    prefixed("ghu_", alnum, 36),
    prefixed("ghs_", alnum, 36),
    prefixed("ghr_", alnum, 36),
    prefixed("github_pat_", is_word_byte, 22),
    // GitLab personal, OAuth, deploy, runner, CI job, trigger, feed and agent tokens.
    prefixed("glpat-", url_safe_dot, 20),
    prefixed("gloas-", url_safe_dot, 20),
    prefixed("gldt-", url_safe_dot, 20),
    prefixed("glrt-", url_safe_dot, 20),
    prefixed("glcbt-", url_safe_dot, 20),
    prefixed("glptt-", url_safe_dot, 20),
    prefixed("glft-", url_safe_dot, 20),
    prefixed("glagent-", url_safe_dot, 20),
    // Google API keys and OAuth access tokens.
    prefixed("AIza", url_safe, 35),
    prefixed("ya29.", url_safe_dot, 20),
    // Slack bot, user, app and refresh tokens.
    prefixed("xoxb-", url_safe, 10),
    prefixed("xoxp-", url_safe, 10),
    prefixed("xoxa-", url_safe, 10),
    prefixed("xoxr-", url_safe, 10),
    // HashiCorp Vault service and batch tokens.
    prefixed("hvs.", url_safe, 24),
    prefixed("hvb.", url_safe, 24),
    // age secret keys (SOPS with age, common in Flux setups).
    prefixed("AGE-SECRET-KEY-1", upper_alnum, 50),
    // Docker Hub, npm and Stripe secret keys.
    prefixed("dckr_pat_", url_safe, 20),
    prefixed("npm_", alnum, 36),
    prefixed("sk_live_", alnum, 16),
    prefixed("rk_live_", alnum, 16),
];

/// Bytes a [`PREFIXED`] prefix starts with: one pass over the text finds the candidates.
const PREFIX_FIRST: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < PREFIXED.len() {
        table[PREFIXED[i].prefix.as_bytes()[0] as usize] = true;
        i += 1;
    }
    table
};

fn prefixed_tokens(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let candidates = word_starts(bytes)
        .filter(|&i| PREFIX_FIRST[usize::from(bytes[i])] && (i == 0 || bytes[i - 1] != b'-'));
    for start in candidates {
        for format in PREFIXED {
            if !bytes[start..].starts_with(format.prefix.as_bytes()) {
                continue;
            }
            let tail = start + format.prefix.len();
            let end = run_end(bytes, tail, format.charset);
            let len = end - tail;
            let fits = if format.exact {
                len == format.min_len
            } else {
                len >= format.min_len
            };
            if fits {
                spans.push(start..end);
            }
        }
    }
}

/// `scheme://user:password@host`: the password (git and registry URLs carry tokens this way).
fn url_passwords(text: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    for sep in find_all(text, "://") {
        let scheme_start = (0..sep)
            .rev()
            .find(|&i| {
                !(bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'+' | b'.' | b'-'))
            })
            .map_or(0, |i| i + 1);
        if scheme_start == sep || !bytes[scheme_start].is_ascii_alphabetic() {
            continue;
        }
        let start = sep + 3;
        let authority_end = run_end(bytes, start, |b| {
            !b.is_ascii_whitespace()
                && !matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
        });
        let Some(at) = bytes[start..authority_end].iter().rposition(|&b| b == b'@') else {
            continue;
        };
        let userinfo = start..start + at;
        if let Some(colon) = bytes[userinfo.clone()].iter().position(|&b| b == b':') {
            let password = userinfo.start + colon + 1..userinfo.end;
            if placeholder_at(text, password.start).is_none() {
                spans.push(password);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> String {
        mask(text).into_owned()
    }

    #[track_caller]
    fn masks(text: &str, secret: &str) {
        let got = m(text);
        assert!(!got.contains(secret), "{secret:?} still in {got:?}");
        assert!(
            got.contains(&placeholder(secret.len())),
            "no placeholder of {} bytes in {got:?}",
            secret.len()
        );
    }

    #[track_caller]
    fn keeps(text: &str) {
        assert_eq!(m(text), text);
        assert!(matches!(mask(text), Cow::Borrowed(_)));
    }

    #[test]
    fn placeholders_keep_the_length() {
        assert_eq!(
            m("password=hunter22 user=bob"),
            "password=<masked: 8 bytes> user=bob"
        );
        assert_eq!(
            m("got Authorization: Bearer abcdefgh123 back"),
            "got Authorization: Bearer <masked: 11 bytes> back"
        );
    }

    #[test]
    fn bearer_tokens_in_any_case() {
        masks("Authorization: Bearer abcdefgh123", "abcdefgh123");
        masks(
            "authorization: bearer sha256~Xyz_0123456789",
            "sha256~Xyz_0123456789",
        );
        masks("header BEARER dGVzdA0123==, next", "dGVzdA0123==");
        keeps("the Bearer authentication scheme");
        keeps("Bearer x");
        keeps("bearer-token-file: /var/run/token");
    }

    #[test]
    fn jwts_anywhere() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        masks(&format!("id_token {jwt}, done"), jwt);
        assert_eq!(
            m(&format!("expired: {jwt}.")),
            format!("expired: {}.", placeholder(jwt.len()))
        );
        keeps("eyJust a word");
        keeps("eyJhbGciOiJSUzI1NiJ9 only a header");
    }

    #[test]
    fn name_value_pairs() {
        masks("login password=hunter22 ok", "hunter22");
        masks("POST /x?user=a&token=abc123&x=1", "abc123");
        masks("--client-secret=s3cr3t --cluster=prod", "s3cr3t");
        masks(
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        masks("db_password = hunter22", "hunter22");
        masks("secret='a b c'", "a b c");
        masks("token=\"quoted value\"", "quoted value");
        assert_eq!(m("x token=abc123&y=2"), "x token=<masked: 6 bytes>&y=2");
        keeps("tokenFile=/var/run/token secretRef=my-secret");
        keeps("a == b, token == nil, x != y");
        keeps("keyFile=/k key=app.kubernetes.io/name");
    }

    #[test]
    fn json_pairs() {
        masks(r#"{"password": "hunter22", "user": "bob"}"#, "hunter22");
        masks(r#"{"clientSecret":"abc-123","x":1}"#, "abc-123");
        masks(r#"{"apiKey": 123456789}"#, "123456789");
        masks(r#"{"auth":"dXNlcjpwYXNz"}"#, "dXNlcjpwYXNz");
        // JSON inside a JSON string, as a log line quotes it.
        masks(r#"msg="{\"token\":\"abc.def\"}""#, "abc.def");
        assert_eq!(
            m(r#"{"token": "t-1", "tokenFile": "/f", "n": null}"#),
            r#"{"token": "<masked: 3 bytes>", "tokenFile": "/f", "n": null}"#
        );
        keeps(r#"{"token": null, "password": ""}"#);
    }

    #[test]
    fn yaml_pairs() {
        masks("spec:\n  values:\n    dbPassword: hunter22\n", "hunter22");
        masks("- password: 'it''s'\n", "it''s");
        masks("env:\n- name: X\n  apiKey: \"k-123\"\n", "k-123");
        let block = "tls:\n  privateKey: |\n    line-one\n    line-two\n  other: 1\n";
        assert_eq!(
            m(block),
            "tls:\n  privateKey: |\n<masked: 25 bytes>\n  other: 1\n"
        );
        keeps("password:\n  valueFrom: x\n");
        keeps("existingSecret: my-secret\nsecretName: x\n");
        keeps("token: null\n");
    }

    #[test]
    fn prose_with_a_colon_is_not_a_pair() {
        keeps("failed to get secret: secrets \"git-auth\" not found");
        keeps("Reconciliation failed: token: expired");
        keeps("see https://fluxcd.io/flux/security/secrets-management/");
        // A quoted value after the colon is a pair even inside a sentence.
        masks("bad config token: \"tok-123\" given", "tok-123");
    }

    #[test]
    fn authorization_headers_keep_their_scheme() {
        assert_eq!(
            m("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: Basic <masked: 12 bytes>"
        );
        assert_eq!(
            m("proxy-authorization=dXNlcjpwYXNz"),
            "proxy-authorization=<masked: 12 bytes>"
        );
    }

    #[test]
    fn pem_private_keys_and_their_base64() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcd\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            m(key),
            "-----BEGIN RSA PRIVATE KEY-----<masked: 23 bytes>-----END RSA PRIVATE KEY-----\n"
        );
        // Cut short, and JSON-escaped: masked to the end.
        assert_eq!(
            m(r"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"),
            "-----BEGIN OPENSSH PRIVATE KEY-----<masked: 19 bytes>"
        );
        keeps("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        masks(&format!("client-key-data: {b64}\n"), &b64);
        masks(&format!("blob {b64} end"), &b64);
        let cert = base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        keeps(&format!("certificate-authority-data: {cert}"));
    }

    #[test]
    fn vendor_tokens() {
        for token in [
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAIOSFODNN7EXAMPLE",
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "glpat-0123456789abcdefghij",
            "AIzaSyA-0123456789abcdefghijklmnopqrstu",
            "xoxb-1234567890-abcdefghij",
            "hvs.CAESIJ0123456789abcdefghijklmn",
        ] {
            masks(&format!("cred {token} here"), token);
        }
        let age = format!("AGE-SECRET-KEY-1{}", "Q".repeat(58));
        masks(&format!("SOPS_AGE_KEY {age}"), &age);
        keeps("AKIA is a prefix; AKIAIOSFODNN7EXAMPLEX is too long");
        keeps("ghp_short and glpat-short");
        keeps("xAKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn url_passwords() {
        assert_eq!(
            m("failed to clone https://oauth2:abc123@gitlab.com/a/b.git: 401"),
            "failed to clone https://oauth2:<masked: 6 bytes>@gitlab.com/a/b.git: 401"
        );
        masks("proxy http://user:p%40ss@proxy:3128", "p%40ss");
        keeps("https://user@host/x and https://host:6443/api and ssh://git@github.com/a");
    }

    #[test]
    fn known_values_are_masked_everywhere() {
        assert_eq!(
            mask_values("pw hunter22 é hunter22", &["hunter22"]),
            "pw <masked: 8 bytes> é <masked: 8 bytes>"
        );
        // Overlapping values mask the union.
        assert_eq!(
            mask_values("abcdef", &["abcd", "cdef"]),
            "<masked: 6 bytes>"
        );
        assert!(matches!(
            mask_values("nothing", &["secret", ""]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn credential_names() {
        for name in [
            "password",
            "DB_PASSWORD",
            "dbPassword",
            "adminPassword",
            "passwd",
            "passphrase",
            "client_secret",
            "--oidc-client-secret",
            "clientSecret",
            "GITHUB_TOKEN",
            "id_token",
            "accessToken",
            "AWS_SECRET_ACCESS_KEY",
            "api_key",
            "apiKey",
            "APIKey",
            "X-API-KEY",
            "apikey",
            "privateKey",
            "ssh-private-key",
            "tls.key",
            "client-key-data",
            "token-data",
            "AccountKey",
            "credentials",
            "auth",
        ] {
            assert!(
                is_credential_name(name),
                "{name} should be a credential name"
            );
        }
        for name in [
            "tokenFile",
            "token_file",
            "tokenTTL",
            "TOKEN_TTL",
            "passwordLength",
            "secretRef",
            "SECRET_NAME",
            "secretRef",
            "secretName",
            "passwordFile",
            "existingSecret",
            "AWS_ACCESS_KEY_ID",
            "key",
            "keyFile",
            "monkey",
            "tokenizer",
            "secrets",
            "certificate-authority-data",
            "author",
            "oauth",
            "PWD",
            "",
        ] {
            assert!(
                !is_credential_name(name),
                "{name} should not be a credential name"
            );
        }
    }

    #[test]
    fn words_split_like_people_write_names() {
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("dbPassword2"), ["db", "password2"]);
        assert_eq!(
            words("AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(words("tls.key"), ["tls", "key"]);
        assert_eq!(words("--x-api-key"), ["x", "api", "key"]);
    }

    #[test]
    fn masking_is_idempotent_and_keeps_utf8() {
        let samples = [
            "password=hunter22 token: \"x-1\" é Bearer abcdefgh123",
            "{\"clientSecret\":\"abc-123\"} https://u:pw12@h/x ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            "a:\n  secret: |\n    x\n    y\n",
            "日本 token=ü€x 日本",
        ];
        for s in samples {
            let once = m(s);
            assert_ne!(once, s, "{s:?} had something to mask");
            assert_eq!(m(&once), once, "masking {s:?} twice changed it");
        }
    }

    /// Text that only looks like a placeholder (no length in it) is a value like any other.
    #[test]
    fn a_placeholder_without_a_length_is_masked() {
        assert_eq!(
            m("password=\"<masked:  bytes>\""),
            "password=\"<masked: 16 bytes>\""
        );
        assert_eq!(
            m("password=\"<masked: 3 bytes>\""),
            "password=\"<masked: 3 bytes>\""
        );
    }

    /// A quote at the very start of the text before a separator has nothing before it to
    /// look at (an escaped-quote check there read before the first byte).
    #[test]
    fn a_quote_at_the_start_before_a_separator() {
        keeps("\":x");
        keeps("'=x");
        masks("\"token\":\"abc123\"", "abc123");
    }

    /// A name of exactly `MAX_KEY` bytes is still a name, after a space as at the start.
    #[test]
    fn names_up_to_the_key_bound() {
        let name = format!("{}_password", "x".repeat(MAX_KEY - "_password".len()));
        assert_eq!(name.len(), MAX_KEY);
        masks(&format!("set {name}=hunter22 now"), "hunter22");
        masks(&format!("{name}=hunter22"), "hunter22");
    }

    /// A name that lowercases to a credential name is one, whatever case mapping gets it
    /// there: the Kelvin sign (U+212A) lowercases to `k`.
    #[test]
    fn non_ascii_names_get_the_full_test() {
        assert!(is_credential_name("API_\u{212A}EY"));
        assert!(!is_credential_name("API_\u{212A}IND"));
    }

    #[test]
    fn nothing_to_mask_is_borrowed() {
        keeps("reconciliation succeeded: applied revision main@sha1:0123abcd");
        keeps("");
        keeps("::::====");
        keeps("=token");
    }

    /// Every prefix of a text with secrets in it: no panic at any cut (slicing stays on char
    /// boundaries) and no secret is ever shown whole.
    #[test]
    fn every_cut_of_a_text_is_safe() {
        let text = "é password=hunter22 \"token\": \"tok-1234\" Bearer abcdefgh123 -----BEGIN \
                    PRIVATE KEY-----\nMIIE\n https://u:pw12@h ghp_0123456789abcdefghijABCDEFGHIJ012345 日";
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let cut = &text[..end];
            let got = m(cut);
            for secret in [
                "hunter22",
                "tok-1234",
                "abcdefgh123",
                "MIIE",
                "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            ] {
                if cut.contains(secret) {
                    assert!(!got.contains(secret), "{secret} in {got:?}");
                }
            }
        }
    }
}
