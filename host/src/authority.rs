//! Which `Host` header values name this server: the defence against DNS
//! rebinding, where a hostile page's own domain resolves to 127.0.0.1.

use std::net::{IpAddr, SocketAddr};

/// The authorities a request may be addressed to.
#[derive(Clone, Debug)]
pub struct Authority {
    ips: Vec<IpAddr>,
    port: u16,
    allow_remote: bool,
    default_port: u16,
    /// The registered redirect URI's host and port, when it is not where
    /// the server listens (a published container port, a forwarding name);
    /// no port when it is the scheme's default (browsers then send none).
    registered: Option<(String, Option<u16>)>,
}

impl Authority {
    /// For a server bound to `bound` (one port, one or more addresses);
    /// `allow_remote` accepts any IP literal for a server on an unspecified
    /// address (0.0.0.0 is reached by its LAN address).
    pub fn new(bound: &[SocketAddr], allow_remote: bool, tls: bool) -> Self {
        Authority {
            ips: bound.iter().map(SocketAddr::ip).collect(),
            port: bound.first().map_or(0, SocketAddr::port),
            allow_remote,
            default_port: if tls { 443 } else { 80 },
            registered: None,
        }
    }

    /// Also accept the authority of `redirect_uri`, the URI registered with
    /// the provider.
    pub fn also(mut self, redirect_uri: &url::Url) -> Self {
        let host = redirect_uri.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.registered = Some((host.to_ascii_lowercase(), redirect_uri.port()));
        self
    }

    /// Whether a `Host` header value names this server: a loopback name
    /// (`localhost`, `cli.localhost`) or the bound IP address, with the
    /// bound port (which may be left out when it is the scheme's default).
    pub fn allows(&self, host: &[u8]) -> bool {
        let Ok(host) = std::str::from_utf8(host) else {
            return false;
        };
        let Some((name, port)) = split_authority(host) else {
            return false;
        };
        // Digits only: `u16::from_str` would also take `+8080`.
        if port.is_some_and(|port| !port.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
        let port = port.map(str::parse::<u16>);
        if let Some((registered, registered_port)) = &self.registered {
            let port_ok = match (&port, registered_port) {
                (Some(port), Some(registered_port)) => port.as_ref() == Ok(registered_port),
                (None, None) => true,
                _ => false,
            };
            if port_ok && name.eq_ignore_ascii_case(registered) {
                return true;
            }
        }
        let port_ok = match port {
            Some(port) => port == Ok(self.port),
            None => self.port == self.default_port,
        };
        let remote = self.allow_remote && self.ips.iter().any(IpAddr::is_unspecified);
        let name_ok = crate::urls::loopback_name(name)
            || name
                .parse::<IpAddr>()
                .is_ok_and(|ip| remote || self.ips.contains(&ip));
        port_ok && name_ok
    }
}

/// `name[:port]` or `[v6][:port]` → (name, port).
fn split_authority(host: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return match after {
            "" => Some((v6, None)),
            _ => Some((v6, Some(after.strip_prefix(':')?))),
        };
    }
    match host.split_once(':') {
        Some((name, port)) => Some((name, Some(port))),
        None => Some((host, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(addr: &str) -> Authority {
        Authority::new(&[addr.parse().unwrap()], false, true)
    }

    #[test]
    fn loopback_names_with_the_right_port_are_allowed() {
        let v4 = authority("127.0.0.1:8080");
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"] {
            assert!(v4.allows(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "127.0.0.1:8081",
            "evil.example:8080",
            "127.0.0.1",
            "[::1]:8080",
            "",
            "a:b:c",
            "127.0.0.1:+8080",
            "127.0.0.1:08080x",
        ] {
            assert!(!v4.allows(bad.as_bytes()), "{bad}");
        }
        let v6 = authority("[::1]:8080");
        assert!(v6.allows(b"[::1]:8080") && v6.allows(b"localhost:8080"));
        assert!(!v6.allows(b"127.0.0.1:8080") && !v6.allows(b"[::1]"));
        assert!(authority("127.0.0.1:443").allows(b"127.0.0.1"));
    }

    #[test]
    fn both_loopbacks_for_localhost() {
        let bound = [
            "127.0.0.1:9000".parse().unwrap(),
            "[::1]:9000".parse().unwrap(),
        ];
        let both = Authority::new(&bound, false, true);
        assert!(both.allows(b"127.0.0.1:9000") && both.allows(b"[::1]:9000"));
        assert!(both.allows(b"localhost:9000") && !both.allows(b"[::2]:9000"));
    }

    #[test]
    fn remote_servers_accept_ip_literals_only() {
        let any = Authority::new(&["0.0.0.0:8080".parse().unwrap()], true, false);
        assert!(any.allows(b"192.168.1.20:8080"));
        assert!(!any.allows(b"rebound.example:8080"));
    }
}
