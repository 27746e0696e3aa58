//! Who may talk to the HTTP transports: the DNS-rebinding checks on `Host` and `Origin`
//! (MCP Streamable HTTP, "Security": a present and invalid `Origin` is refused with 403), and
//! optional bearer authentication with a token compared in constant time. The token never
//! leaves this module: not in `Debug`, not in a message.

use std::fmt;
use std::net::IpAddr;

use crate::http::Request;

/// The bearer token clients must present (`--auth-token-file`). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

/// Why a token was refused. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Empty,
    /// Not usable in an `Authorization` header: names the offending byte's position.
    NotAHeaderValue {
        at: usize,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Empty => f.write_str("the token is empty"),
            TokenError::NotAHeaderValue { at } => write!(
                f,
                "the token has a space, control or non-ASCII character at byte {at}: it must be visible ASCII to travel in an Authorization header"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

impl Token {
    /// A token from a file's contents: surrounding whitespace (the newline editors add) is
    /// dropped; what is left must be visible ASCII.
    pub fn new(bytes: &[u8]) -> Result<Token, TokenError> {
        let token = bytes.trim_ascii();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if let Some(at) = token.iter().position(|b| !b.is_ascii_graphic()) {
            return Err(TokenError::NotAHeaderValue { at });
        }
        Ok(Token(token.to_vec()))
    }

    /// Whether `presented` is this token. The time taken depends on the length of `presented`
    /// only, never on where it first differs from ours or on our length.
    fn matches(&self, presented: &[u8]) -> bool {
        let ours = &self.0;
        let mut diff = u8::from(presented.len() != ours.len());
        for (i, b) in presented.iter().enumerate() {
            // `ours` is never empty (Token::new).
            diff |= b ^ ours[i % ours.len()];
        }
        diff == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} bytes, hidden>)", self.0.len())
    }
}

/// A refused request: the status and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: no `Host` header (HTTP/1.1 requires one).
    BadRequest(String),
    /// 403: a `Host` or `Origin` we do not serve (DNS rebinding, a foreign web page).
    Forbidden(String),
    /// 401: no valid bearer token. `presented`: a token was sent, and it was wrong.
    Unauthorized { presented: bool },
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::Unauthorized { .. } => 401,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::BadRequest(m) | Refusal::Forbidden(m) => m.clone(),
            Refusal::Unauthorized { presented: false } => {
                "unauthorized: send the token as Authorization: Bearer TOKEN".into()
            }
            Refusal::Unauthorized { presented: true } => {
                "unauthorized: the bearer token is not valid".into()
            }
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
    pub fn challenge(&self) -> Option<&'static str> {
        match self {
            Refusal::Unauthorized { presented: false } => {
                Some("Bearer realm=\"flux-operator-mcp\"")
            }
            Refusal::Unauthorized { presented: true } => {
                Some("Bearer realm=\"flux-operator-mcp\", error=\"invalid_token\"")
            }
            _ => None,
        }
    }
}

/// The checks every request passes before it reaches a transport.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Listening on a loopback address only: then `Host` must name this machine.
    loopback: bool,
    /// The address listened on, which a `Host` may name too.
    listen: IpAddr,
    token: Option<Token>,
}

impl Guard {
    pub fn new(listen: IpAddr, token: Option<Token>) -> Guard {
        Guard {
            loopback: listen.is_loopback(),
            listen,
            token,
        }
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `Host` and `Origin`. Bound to loopback, a request must name this machine in `Host`
    /// (`localhost`, a loopback address, with any port): a page whose DNS name was rebound to
    /// 127.0.0.1 sends its own name. An `Origin`, sent by browsers, must be this machine too
    /// when bound to loopback, and the `Host` it talks to otherwise (same origin); `null`
    /// never is.
    pub fn check_origin(&self, req: &Request) -> Result<(), Refusal> {
        let Some(host) = req.header("host") else {
            if req.minor == 0 {
                // HTTP/1.0 has no Host; only a loopback origin check remains below.
                return self.check_origin_header(req, None);
            }
            return Err(Refusal::BadRequest(
                "bad request: the Host header is missing".into(),
            ));
        };
        let host_name = host_part(host);
        if self.loopback && !self.is_local(host_name) {
            return Err(Refusal::Forbidden(format!(
                "forbidden: Host {host:?} is not this server (it listens on loopback only)"
            )));
        }
        self.check_origin_header(req, Some(host_name))
    }

    fn check_origin_header(&self, req: &Request, host: Option<&str>) -> Result<(), Refusal> {
        let Some(origin) = req.header("origin") else {
            return Ok(());
        };
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| host_part(rest.split('/').next().unwrap_or_default()));
        let allowed = match origin_host {
            None | Some("") => false,
            Some(o) if self.loopback => self.is_local(o),
            Some(o) => host.is_some_and(|h| h.eq_ignore_ascii_case(o)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::Forbidden(format!(
                "forbidden: Origin {origin:?} is not allowed"
            )))
        }
    }

    fn is_local(&self, host: &str) -> bool {
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        ip.parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == self.listen)
    }

    /// The bearer token, when one is configured (RFC 6750 §2.1).
    pub fn check_auth(&self, req: &Request) -> Result<(), Refusal> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let presented = req.header("authorization").and_then(|v| {
            let (scheme, value) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| value.trim_ascii())
        });
        match presented {
            Some(value) if token.matches(value.as_bytes()) => Ok(()),
            Some(_) => Err(Refusal::Unauthorized { presented: true }),
            None => Err(Refusal::Unauthorized { presented: false }),
        }
    }
}

/// The host of `host[:port]` or `[v6]:port`, without the port.
fn host_part(authority: &str) -> &str {
    // Credentials before '@' in an Origin are not a host.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut raw = String::from("POST /mcp HTTP/1.1\r\n");
        for (n, v) in headers {
            raw += &format!("{n}: {v}\r\n");
        }
        raw += "\r\n";
        crate::http::request::parse_request(raw.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
    }

    fn loopback() -> Guard {
        Guard::new("127.0.0.1".parse().unwrap(), None)
    }

    #[test]
    fn on_loopback_host_and_origin_must_name_this_machine() {
        let g = loopback();
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:9",
            "127.0.0.1",
            "[::1]:8080",
            "[::1]",
        ] {
            assert_eq!(
                g.check_origin(&request(&[("Host", host)])),
                Ok(()),
                "{host}"
            );
        }
        for origin in [
            "http://localhost:6274",
            "https://127.0.0.1",
            "http://[::1]:3000",
        ] {
            let r = request(&[("Host", "localhost:8080"), ("Origin", origin)]);
            assert_eq!(g.check_origin(&r), Ok(()), "{origin}");
        }
        let r = request(&[("Host", "evil.example.com")]);
        assert_eq!(
            g.check_origin(&r),
            Err(Refusal::Forbidden(
                "forbidden: Host \"evil.example.com\" is not this server (it listens on loopback only)".into()
            ))
        );
        for origin in [
            "http://evil.example.com",
            "null",
            "http://localhost.evil.com",
            "http://127.0.0.1@evil.com",
            "file://",
        ] {
            let r = request(&[("Host", "127.0.0.1:8080"), ("Origin", origin)]);
            let refused = g.check_origin(&r).unwrap_err();
            assert_eq!(refused.status(), 403, "{origin}");
            assert!(refused.message().contains(origin), "{origin}");
        }
        assert_eq!(g.check_origin(&request(&[])).unwrap_err().status(), 400);
    }

    #[test]
    fn on_other_addresses_any_host_and_only_same_origin_browsers() {
        let g = Guard::new("0.0.0.0".parse().unwrap(), None);
        let r = request(&[("Host", "flux-mcp.flux-system.svc:9090")]);
        assert_eq!(g.check_origin(&r), Ok(()));
        let r = request(&[
            ("Host", "mcp.example.com"),
            ("Origin", "https://mcp.example.com"),
        ]);
        assert_eq!(g.check_origin(&r), Ok(()));
        let r = request(&[
            ("Host", "mcp.example.com"),
            ("Origin", "https://evil.example.com"),
        ]);
        assert_eq!(g.check_origin(&r).unwrap_err().status(), 403);
    }

    #[test]
    fn the_bearer_token_is_checked_and_never_shown() {
        let token = Token::new(b"  s3cret-token\n").unwrap();
        assert_eq!(format!("{token:?}"), "Token(<12 bytes, hidden>)");
        let g = Guard::new("127.0.0.1".parse().unwrap(), Some(token));
        let auth = |v: &str| g.check_auth(&request(&[("Host", "localhost"), ("Authorization", v)]));
        assert_eq!(auth("Bearer s3cret-token"), Ok(()));
        assert_eq!(auth("bearer  s3cret-token"), Ok(()));
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer s3cret-token2",
            "Bearer S3cret-token",
            "Basic s3cret-token",
            "Bearer",
        ] {
            let refused = auth(wrong).unwrap_err();
            assert_eq!(refused.status(), 401, "{wrong}");
            assert!(
                refused.challenge().unwrap().starts_with("Bearer realm="),
                "{wrong}"
            );
            assert!(!refused.message().contains("s3cret"));
        }
        let missing = g
            .check_auth(&request(&[("Host", "localhost")]))
            .unwrap_err();
        assert_eq!(missing, Refusal::Unauthorized { presented: false });
        assert!(!missing.challenge().unwrap().contains("invalid_token"));
        assert_eq!(loopback().check_auth(&request(&[])), Ok(()));
    }

    #[test]
    fn a_token_must_be_a_header_value() {
        assert_eq!(Token::new(b" \n"), Err(TokenError::Empty));
        assert_eq!(
            Token::new(b"ab cd"),
            Err(TokenError::NotAHeaderValue { at: 2 })
        );
        assert_eq!(
            Token::new("é".as_bytes()),
            Err(TokenError::NotAHeaderValue { at: 0 })
        );
        let t = Token::new(b"x").unwrap();
        assert!(t.matches(b"x") && !t.matches(b"xx") && !t.matches(b""));
    }

    #[test]
    fn host_parts() {
        assert_eq!(host_part("a.b:80"), "a.b");
        assert_eq!(host_part("a.b"), "a.b");
        assert_eq!(host_part("[::1]:80"), "[::1]");
        assert_eq!(host_part("u:p@h:1"), "h");
    }
}
