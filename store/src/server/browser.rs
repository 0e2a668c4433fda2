//! What web pages may do with a Ferrodyn server. A developer's browser can
//! reach a server on their laptop, so by default:
//!
//! * **CORS is off without `--credentials`**: a request carrying an
//!   `Origin` header (sent by browsers for cross-origin calls) is refused
//!   with 403, and preflights get no permission, unless the origin is
//!   allowed with `--cors-origin` (DynamoDB Local's `-cors` is the
//!   precedent; `*` allows every origin). With `--credentials` every call
//!   must be signed, so, as DynamoDB does, every origin may call.
//! * **DNS rebinding is refused**: on a loopback listener the `Host` header
//!   must be an IP literal, `localhost` (or a name under it), a single-label
//!   name (no dot: such names never come from public DNS, e.g. an
//!   `/etc/hosts` alias), or a host allowed with `--allowed-host`; a page on
//!   `evil.example` that re-points its name at 127.0.0.1 still sends `Host:
//!   evil.example`.

use std::net::{IpAddr, SocketAddr};

use http::{header, HeaderMap, HeaderValue};

/// Which browser origins may call (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No origin: cross-origin requests are refused.
    #[default]
    Off,
    /// Every origin.
    Any,
    /// These origins (e.g. `http://localhost:3000`), compared exactly.
    Origins(Vec<String>),
}

impl CorsPolicy {
    /// From `--cors-origin` values: `*` for any, else a comma-separated list.
    pub fn parse(values: &[String]) -> CorsPolicy {
        let origins: Vec<String> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty() && !o.eq_ignore_ascii_case("none"))
            .collect();
        if origins.iter().any(|o| o == "*") {
            CorsPolicy::Any
        } else if origins.is_empty() {
            CorsPolicy::Off
        } else {
            CorsPolicy::Origins(origins)
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`,
    /// or `None` if it is not allowed.
    pub(super) fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match self {
            CorsPolicy::Off => None,
            CorsPolicy::Any => Some(HeaderValue::from_static("*")),
            CorsPolicy::Origins(list) => {
                let origin_text = origin.to_str().ok()?.trim_end_matches('/');
                list.iter()
                    .any(|o| o.eq_ignore_ascii_case(origin_text))
                    .then(|| origin.clone())
            }
        }
    }
}

/// The `Host` check of a listener (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct HostCheck {
    /// Set for loopback listeners only: others are reached by any name.
    loopback: bool,
    allowed: Vec<String>,
}

impl HostCheck {
    /// The check for a listener bound to `local`, with extra allowed host
    /// names.
    pub fn new(local: SocketAddr, allowed: Vec<String>) -> HostCheck {
        HostCheck {
            loopback: local.ip().is_loopback(),
            allowed: allowed
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Whether a request with these headers may be served.
    pub(super) fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.loopback {
            return true;
        }
        // HTTP/1.1 requires Host; a request without one is not a browser's.
        let Some(host) = headers.get(header::HOST) else {
            return true;
        };
        if is_local_literal(host.as_bytes()) {
            return true;
        }
        let Ok(host) = host.to_str() else {
            return true;
        };
        let name = host_name(host);
        // What local clients send: no lower-casing or address parsing.
        if name == "127.0.0.1" || name == "localhost" {
            return true;
        }
        let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.to_ascii_lowercase().into()
        } else {
            name.into()
        };
        name == "localhost"
            || name.ends_with(".localhost")
            || !name.contains('.')
            || name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok()
            || self.allowed.iter().any(|a| a.as_str() == name.as_ref())
    }
}

/// Whether `host` is `127.0.0.1` or `localhost`, with or without a port:
/// what local clients send, recognised without parsing.
fn is_local_literal(host: &[u8]) -> bool {
    let rest = host
        .strip_prefix(b"127.0.0.1")
        .or_else(|| host.strip_prefix(b"localhost"));
    match rest {
        Some([]) => true,
        Some([b':', port @ ..]) => !port.is_empty() && port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `host[:port]` or `[v6]:port` without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("header"));
        h
    }

    #[test]
    fn loopback_listeners_accept_loopback_names_only() {
        let check = HostCheck::new(
            "127.0.0.1:8000".parse().expect("addr"),
            vec!["dynamo.test".into()],
        );
        for ok in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "localhost:8000",
            "localhost",
            "LOCALHOST",
            "app.localhost:1",
            "[::1]:8000",
            "10.0.0.5",
            "dynamo.test:8000",
        ] {
            assert!(check.allows(&headers(ok)), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0.1:80.evil.example",
            "localhost:8000@evil.example",
        ] {
            assert!(!check.allows(&headers(refused)), "{refused}");
        }
        let open = HostCheck::new("0.0.0.0:8000".parse().expect("addr"), Vec::new());
        assert!(open.allows(&headers("evil.example")));
    }

    #[test]
    fn cors_origins_are_allowed_only_when_listed() {
        let origin = HeaderValue::from_static("http://localhost:3000");
        assert_eq!(CorsPolicy::default().allow(&origin), None);
        assert_eq!(
            CorsPolicy::parse(&["*".into()]).allow(&origin),
            Some(HeaderValue::from_static("*"))
        );
        let listed = CorsPolicy::parse(&["http://localhost:3000/, https://app.example".into()]);
        assert_eq!(listed.allow(&origin), Some(origin.clone()));
        assert_eq!(
            listed.allow(&HeaderValue::from_static("https://evil.example")),
            None
        );
    }
}
