//! The URL rules every face shares: which hosts name this machine, and
//! where the user's browser may be sent (to sign in, or after the callback).

/// Whether `url` carries a user name or password (`user:pass@host`).
pub(crate) fn has_userinfo(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Whether `url` names this machine: a loopback address or a loopback name
/// ([`loopback_name`]).
pub(crate) fn loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => loopback_name(name),
        None => false,
    }
}

/// Whether `name` is `localhost` or a name under it (`cli.localhost`), which
/// are loopback by RFC 6761 §6.3 and which browsers resolve to the loopback
/// addresses themselves; case-insensitive.
pub(crate) fn loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || (name.ends_with(".localhost") && name.len() > ".localhost".len())
}

/// Whether the user's browser may be sent to `text` (to sign in, or after
/// the callback): `https://`, or `http://` on this machine; never with a
/// user name or password (`http://127.0.0.1:80@evil.example/` names the
/// host `evil.example`). The error says what is expected.
pub(crate) fn browser_url(text: &str) -> Result<url::Url, String> {
    const EXPECTED: &str = "must be an https:// URL (or http:// on 127.0.0.1, [::1] or localhost)";
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL ({e}); it {EXPECTED}"))?;
    if has_userinfo(&url) {
        return Err("must not carry a user name or password (`user@host`)".into());
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback_host(&url) => Ok(url),
        _ => Err(EXPECTED.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_go_to_https_or_to_this_machine_over_http() {
        for good in [
            "https://idp.example/auth?x={redirect_uri}",
            "http://127.0.0.1:9000/auth",
            "http://localhost/auth",
            "http://[::1]:9000/auth",
        ] {
            assert!(browser_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://localhost.evil.example/auth",
            "http://idp.example/auth",
            "javascript:alert(1)",
            "http://127.0.0.1:80@evil.example/authorize",
            "http://localhost:x@evil.example/",
            "http://[::1]:@evil.example/",
            "https://user:pw@idp.example/auth",
            "not a url",
        ] {
            assert!(browser_url(bad).is_err(), "{bad}");
        }
    }
}
