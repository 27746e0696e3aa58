//! Which HTTP CONNECT proxy (if any) carries the connection to the API server: the kubeconfig's
//! `proxy-url`, else the environment read the way client-go reads it (Go's
//! `http.ProxyFromEnvironment`: `HTTPS_PROXY`/`HTTP_PROXY` by scheme, `NO_PROXY` with domain,
//! IP and CIDR entries, and never a proxy for `localhost` or a loopback address).

use std::fmt;
use std::net::IpAddr;

use ureq::http::Uri;

use super::tls::SettingError;

/// The process environment the network layer reads: proxies and the system CA bundle. Passed
/// in rather than read behind the caller's back, so tests stay hermetic. `Debug` hides any
/// password in a proxy URL.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NetworkEnv {
    /// `HTTPS_PROXY` (else `https_proxy`): the proxy for `https://` servers.
    pub https_proxy: Option<String>,
    /// `HTTP_PROXY` (else `http_proxy`): the proxy for `http://` servers.
    pub http_proxy: Option<String>,
    /// `NO_PROXY` (else `no_proxy`): hosts reached directly.
    pub no_proxy: Option<String>,
    /// `SSL_CERT_FILE`: the CA bundle used when the kubeconfig names no certificate authority.
    pub ssl_cert_file: Option<String>,
}

impl NetworkEnv {
    /// The real environment of this process. Like Go, the upper-case name wins and an empty
    /// value counts as unset.
    pub fn from_process() -> NetworkEnv {
        let any = |names: [&str; 2]| {
            names
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .find(|v| !v.is_empty())
        };
        NetworkEnv {
            https_proxy: any(["HTTPS_PROXY", "https_proxy"]),
            http_proxy: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
            ssl_cert_file: std::env::var("SSL_CERT_FILE")
                .ok()
                .filter(|v| !v.is_empty()),
        }
    }
}

impl fmt::Debug for NetworkEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |v: &Option<String>| v.as_deref().map(super::config::redacted_userinfo);
        f.debug_struct("NetworkEnv")
            .field("https_proxy", &hide(&self.https_proxy))
            .field("http_proxy", &hide(&self.http_proxy))
            .field("no_proxy", &self.no_proxy)
            .field("ssl_cert_file", &self.ssl_cert_file)
            .finish()
    }
}

/// The proxy for requests to `server`: `proxy_url` when set (client-go then uses it for every
/// request, loopback included), else the environment's. Only `http://` CONNECT proxies are
/// supported; any other scheme is an error naming where the proxy came from.
pub(crate) fn choose(
    server: &Uri,
    proxy_url: Option<&str>,
    env: &NetworkEnv,
) -> Result<Option<ureq::Proxy>, SettingError> {
    if let Some(url) = proxy_url.filter(|u| !u.is_empty()) {
        return parse("proxy-url", url).map(Some);
    }
    let https = server.scheme_str() == Some("https");
    let (var, value) = if https {
        ("HTTPS_PROXY", env.https_proxy.as_deref())
    } else {
        ("HTTP_PROXY", env.http_proxy.as_deref())
    };
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let host = server.host().unwrap_or_default();
    let port = server.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !use_proxy(host, port, env.no_proxy.as_deref().unwrap_or_default()) {
        return Ok(None);
    }
    parse(var, value).map(Some)
}

fn parse(field: &'static str, url: &str) -> Result<ureq::Proxy, SettingError> {
    // Go accepts a bare `host:port` and reads it as `http://host:port`.
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let scheme = with_scheme.split("://").next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(SettingError::new(
            field,
            format!("proxy scheme {scheme:?} is not supported (only http:// CONNECT proxies)"),
        ));
    }
    // The URL may carry a password: it is never echoed in the error.
    ureq::Proxy::new(&with_scheme)
        .map_err(|_| SettingError::new(field, "not a valid proxy URL".to_string()))
}

/// Go's `useProxy`: false for `localhost`, loopback IPs and anything `NO_PROXY` matches.
fn use_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host == "localhost" {
        return false;
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    !no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| no_proxy_matches(&entry, &host, ip, port))
}

/// One `NO_PROXY` entry: `*`, an IP, a CIDR, `[ip]:port`, or a domain with an optional port,
/// where `foo.com` matches the host and its subdomains and `.foo.com` / `*.foo.com` only the
/// subdomains.
fn no_proxy_matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        return match (net.parse::<IpAddr>(), bits.parse::<u8>(), ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_cidr(ip, net, bits),
            _ => false,
        };
    }
    let (entry_host, entry_port) = split_port(entry);
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    // A bare IP (v4, or v6 whose colons `split_port` leaves alone) and `[v6]:port` alike.
    let entry_host = entry_host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(entry_ip) = entry_host.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let entry_host = entry_host.strip_prefix('*').unwrap_or(entry_host);
    match entry_host.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == entry_host || host.ends_with(&format!(".{entry_host}")),
    }
}

/// `host:port` → (`host`, port); a bare IPv6 address or a host without port has none.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => match p.parse() {
            Ok(p) => (h, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return false,
    };
    if u32::from(bits) > width {
        return false;
    }
    let shift = width - u32::from(bits);
    if shift >= 128 {
        return true;
    }
    (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("test URI")
    }

    fn env(https: &str, no_proxy: &str) -> NetworkEnv {
        NetworkEnv {
            https_proxy: Some(https.to_string()),
            no_proxy: Some(no_proxy.to_string()),
            ..NetworkEnv::default()
        }
    }

    fn proxied(server: &str, e: &NetworkEnv) -> Option<String> {
        choose(&uri(server), None, e)
            .expect("valid proxy")
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn https_proxy_applies_to_remote_https_servers() {
        let e = env("proxy.corp:3128", "");
        assert_eq!(
            proxied("https://api.example.com:6443", &e),
            Some("proxy.corp:3128".into())
        );
        // HTTP_PROXY is for http:// servers only, as in Go.
        assert_eq!(proxied("http://api.example.com:8080", &e), None);
    }

    #[test]
    fn loopback_and_localhost_are_never_proxied() {
        let e = env("http://proxy:3128", "");
        assert_eq!(proxied("https://127.0.0.1:6443", &e), None);
        assert_eq!(proxied("https://[::1]:6443", &e), None);
        assert_eq!(proxied("https://localhost:6443", &e), None);
        assert_eq!(
            proxied("https://10.0.0.1:6443", &e),
            Some("proxy:3128".into())
        );
    }

    #[test]
    fn no_proxy_domains_ips_cidrs_and_ports() {
        let e = env(
            "http://proxy:3128",
            "corp.internal, .svc, 10.0.0.0/8,192.168.1.5, api.other:7443, fd00::/8",
        );
        assert_eq!(proxied("https://corp.internal", &e), None);
        assert_eq!(proxied("https://k8s.corp.internal:6443", &e), None);
        assert!(proxied("https://notcorp.internal", &e).is_some());
        assert_eq!(proxied("https://kubernetes.default.svc", &e), None);
        assert!(
            proxied("https://svc", &e).is_some(),
            ".svc matches subdomains only"
        );
        assert_eq!(proxied("https://10.20.30.40:6443", &e), None);
        assert!(proxied("https://11.0.0.1:6443", &e).is_some());
        assert_eq!(proxied("https://192.168.1.5:6443", &e), None);
        assert!(proxied("https://192.168.1.6:6443", &e).is_some());
        assert_eq!(proxied("https://api.other:7443", &e), None);
        assert!(proxied("https://api.other:6443", &e).is_some());
        assert_eq!(proxied("https://[fd00::1]:6443", &e), None);
        assert_eq!(proxied("https://anything", &env("http://p:1", "*")), None);
        assert_eq!(
            proxied("https://a.example.com", &env("http://p:1", "*.example.com")),
            None
        );
    }

    #[test]
    fn proxy_url_wins_and_applies_even_to_loopback() {
        let e = env("http://env-proxy:1", "");
        let p = choose(
            &uri("https://127.0.0.1:6443"),
            Some("http://kc-proxy:8888"),
            &e,
        )
        .expect("valid")
        .expect("a proxy");
        assert_eq!((p.host(), p.port()), ("kc-proxy", 8888));
    }

    #[test]
    fn unsupported_schemes_name_the_source_and_hide_credentials() {
        let err = choose(
            &uri("https://api.example.com"),
            Some("socks5://user:s3cret@proxy:1080"),
            &NetworkEnv::default(),
        )
        .expect_err("socks is not supported");
        assert_eq!(err.field, "proxy-url");
        assert!(err.detail.contains("socks5"), "{}", err.detail);
        assert!(!err.detail.contains("s3cret"));
        let err = choose(
            &uri("https://api.example.com"),
            None,
            &env("https://proxy:443", ""),
        )
        .expect_err("https proxies are not supported");
        assert_eq!(err.field, "HTTPS_PROXY");
    }

    #[test]
    fn debug_hides_proxy_passwords() {
        let e = NetworkEnv {
            https_proxy: Some("http://user:s3cret@proxy:3128/".into()),
            http_proxy: Some("proxy:8080".into()),
            ..NetworkEnv::default()
        };
        let text = format!("{e:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("http://<redacted>@proxy:3128/"), "{text}");
        assert!(text.contains("proxy:8080"), "{text}");
    }

    #[test]
    fn bare_ip_entries_match_by_address() {
        for entry in ["::1", "fd00::1", "::ffff:10.0.0.1", "10.0.0.1", "[fd00::1]"] {
            let host = entry.trim_start_matches('[').trim_end_matches(']');
            let ip = host.parse::<IpAddr>().ok();
            assert!(no_proxy_matches(entry, host, ip, 6443), "{entry}");
            assert!(!no_proxy_matches(
                entry,
                "fd00::2",
                "fd00::2".parse().ok(),
                6443
            ));
        }
        assert!(no_proxy_matches(
            "[fd00::1]:6443",
            "fd00::1",
            "fd00::1".parse().ok(),
            6443
        ));
        assert!(!no_proxy_matches(
            "[fd00::1]:7443",
            "fd00::1",
            "fd00::1".parse().ok(),
            6443
        ));
        assert!(!no_proxy_matches("10.0.0.1", "example.com", None, 6443));
    }

    #[test]
    fn cidr_edges() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(in_cidr(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_cidr(ip("1.2.3.4"), ip("1.2.3.4"), 32));
        assert!(!in_cidr(ip("1.2.3.5"), ip("1.2.3.4"), 32));
        assert!(!in_cidr(ip("1.2.3.4"), ip("1.2.3.4"), 33));
        assert!(!in_cidr(ip("::1"), ip("1.2.3.4"), 8));
        assert!(in_cidr(ip("::1"), ip("::"), 0));
    }
}
