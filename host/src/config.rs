//! Configuration: what to listen on, how to secure it, what to show, and its
//! validation (path normalisation, address parsing) before anything listens.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result, Setting};
use crate::urls::{browser_url, has_userinfo, loopback_host};

/// The default address: IPv4 loopback.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default port.
pub const DEFAULT_PORT: u16 = 8080;
/// The default callback route.
pub const DEFAULT_PATH: &str = oauth_callback_guest::http::DEFAULT_CALLBACK_PATH;
/// How long to wait for the callback by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// The route that always answers `OK`.
pub const HEALTH_PATH: &str = oauth_callback_guest::http::HEALTH_PATH;

/// How the server secures its connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Tls {
    /// A certificate made in memory for this run: signed by the local CA
    /// when `oauth-callback trust` made one ([`LocalCa`](crate::LocalCa):
    /// no browser warning), else self-signed.
    #[default]
    Adhoc,
    /// A self-signed certificate made in memory for this run, even when
    /// there is a local CA.
    SelfSigned,
    /// A certificate chain and private key from PEM files.
    Pem {
        /// PEM file with the certificate chain, leaf first.
        cert: PathBuf,
        /// PEM file with the private key.
        key: PathBuf,
    },
    /// A reusable pair in a folder (`cert.pem`, `key.pem`), generated there
    /// on first use, so the browser's certificate warning can be cleared once.
    Dir(PathBuf),
    /// Plain HTTP (the original's `force_https=False`); not recommended.
    Disabled,
}

/// A validated server configuration; build one with [`Config::builder`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) ips: Vec<IpAddr>,
    /// Tried in order; the first that binds wins (0: any free port).
    pub(crate) ports: Vec<u16>,
    pub(crate) path: String,
    pub(crate) timeout: Duration,
    pub(crate) tls: Tls,
    /// Whether the TLS mode was chosen ([`ConfigBuilder::tls`]), not the default.
    pub(crate) tls_chosen: bool,
    /// Whether the host was given (else a loopback redirect URI's name may
    /// decide: both loopbacks for a name).
    pub(crate) host_chosen: bool,
    /// Whether the ports were given (else a loopback redirect URI's port is
    /// listened on).
    pub(crate) ports_chosen: bool,
    /// Where the redirect URI is written once the server listens.
    pub(crate) ready_file: Option<PathBuf>,
    pub(crate) success_html: Option<PathBuf>,
    pub(crate) error_html: Option<PathBuf>,
    pub(crate) handler: Option<PathBuf>,
    pub(crate) allow_remote: bool,
    /// The URI registered with the provider, when it is not where the server
    /// listens (a container's published port, a forwarding name).
    pub(crate) redirect_uri: Option<url::Url>,
    /// TLS is terminated in front of a plain-HTTP server.
    pub(crate) behind_tls_proxy: bool,
    /// Only the server's own scheme is spoken on its port.
    pub(crate) one_scheme: bool,
    /// Where the browser goes once the flow completes with credentials.
    pub(crate) success_redirect: Option<url::Url>,
    /// Where the browser goes once the flow completes with an `error`.
    pub(crate) error_redirect: Option<url::Url>,
    pub(crate) expected_state: Option<String>,
    pub(crate) expected_issuer: Option<String>,
    /// Whether a completing callback without `iss` is refused too.
    pub(crate) issuer_required: bool,
    /// Whether a `code` must come in a form post's body.
    pub(crate) form_post_only: bool,
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The callback route, normalised (e.g. `/callback`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How long [`crate::run_callback_server`] waits.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The TLS mode.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }
}

impl Default for Config {
    fn default() -> Self {
        ConfigBuilder::default()
            .build()
            .expect("the defaults are valid")
    }
}

/// Builds a [`Config`]; every setting has the CLI's default.
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder {
    /// The settings as given; `build` checks them and fills in `ips`.
    config: Config,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            config: Config {
                host: DEFAULT_HOST.into(),
                ips: Vec::new(),
                ports: vec![DEFAULT_PORT],
                path: DEFAULT_PATH.into(),
                timeout: DEFAULT_TIMEOUT,
                tls: Tls::default(),
                tls_chosen: false,
                host_chosen: false,
                ports_chosen: false,
                ready_file: None,
                success_html: None,
                error_html: None,
                handler: None,
                allow_remote: false,
                redirect_uri: None,
                behind_tls_proxy: false,
                one_scheme: false,
                success_redirect: None,
                error_redirect: None,
                expected_state: None,
                expected_issuer: None,
                issuer_required: false,
                form_post_only: false,
            },
        }
    }
}

impl ConfigBuilder {
    /// The address to listen on: an IP address or `localhost` (default `127.0.0.1`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.config.host = host.into();
        self.config.host_chosen = true;
        self
    }

    /// The port; 0 picks a free one (default 8080).
    pub fn port(self, port: u16) -> Self {
        self.ports([port])
    }

    /// Ports to try in order (a provider may have a short list of
    /// registered redirect URIs): the first that can be bound wins; 0 means
    /// any free port.
    pub fn ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.config.ports = ports.into_iter().collect();
        self.config.ports_chosen = true;
        self
    }

    /// The callback route; `callback` becomes `/callback` (default `/callback`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// How long [`crate::run_callback_server`] waits (default 180 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The TLS mode (default: an ad hoc certificate, and a log line once
    /// listening saying that none was given).
    pub fn tls(mut self, tls: Tls) -> Self {
        self.config.tls = tls;
        self.config.tls_chosen = true;
        self
    }

    /// Once listening, write the redirect URI and a newline to `file`, for
    /// scripts that start the browser themselves: through a new, randomly
    /// named file beside it (created exclusively, mode 0600) renamed over
    /// it, so that a reader polling for it never sees half of it and nothing
    /// planted there is written through. `file` must not exist or be a
    /// regular file (a device such as `/dev/stdout`, a link or a folder is
    /// refused before listening). A failure is
    /// [`Error::ReadyFile`](crate::Error::ReadyFile), and the server stops.
    pub fn ready_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.config.ready_file = Some(file.into());
        self
    }

    /// An HTML file to show when the flow succeeds.
    pub fn success_html(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.success_html = Some(path.into());
        self
    }

    /// An HTML file to show when the provider reports an error.
    pub fn error_html(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.error_html = Some(path.into());
        self
    }

    /// A handler component (`.wasm`) to use instead of the embedded one.
    pub fn handler(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.handler = Some(path.into());
        self
    }

    /// The redirect URI registered with the provider, when it differs from
    /// where the server listens: for `docker run -p 18080:8080`, listen on
    /// `0.0.0.0:8080` (with [`allow_remote`](Self::allow_remote)) and register
    /// `http://127.0.0.1:18080/callback`. Its path is the callback path; the
    /// `Host` check also accepts its authority; it is what the server reports.
    pub fn redirect_uri(mut self, uri: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidSetting {
            setting: Setting::RedirectUri,
            reason,
        };
        let parsed = url::Url::parse(uri).map_err(|e| invalid(format!("{uri:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(invalid(format!(
                "{uri:?} is not an http:// or https:// URL"
            )));
        }
        if has_userinfo(&parsed) {
            return Err(invalid(format!("{uri:?} carries a user name or password")));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(format!("{uri:?} has a query or fragment")));
        }
        self.config.redirect_uri = Some(parsed);
        Ok(self)
    }

    /// Once the flow completes with credentials, send the browser to `url`
    /// (`303 See Other`) instead of showing the success page: `https://`,
    /// or `http://` on this machine. Nothing of the callback goes with it
    /// (the `Referrer-Policy` is `no-referrer`).
    pub fn success_redirect(mut self, url: &str) -> Result<Self> {
        self.config.success_redirect = Some(redirect_target(Setting::SuccessRedirect, url)?);
        Ok(self)
    }

    /// Like [`success_redirect`](Self::success_redirect), when the provider
    /// reports an `error`.
    pub fn error_redirect(mut self, url: &str) -> Result<Self> {
        self.config.error_redirect = Some(redirect_target(Setting::ErrorRedirect, url)?);
        Ok(self)
    }

    /// TLS is terminated in front of this plain-HTTP server (a proxy or a
    /// forwarding service), so an `https` redirect URI is what browsers use.
    pub fn behind_tls_proxy(mut self, behind: bool) -> Self {
        self.config.behind_tls_proxy = behind;
        self
    }

    /// Speak only the server's own scheme on its port. By default the other
    /// one is answered too: over TLS, a plain-HTTP request gets `308` to the
    /// same URL over `https://`; over plain HTTP, a TLS handshake (a browser
    /// that upgraded the scheme) is served with an ad hoc certificate.
    pub fn one_scheme(mut self, one: bool) -> Self {
        self.config.one_scheme = one;
        self
    }

    /// Allow a non-loopback `host` (e.g. `0.0.0.0`): other machines can then
    /// reach the server. Off by default.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.config.allow_remote = allow;
        self
    }

    /// Refuse completing callbacks whose `state` differs (RFC 8252 section 8.9).
    pub fn expect_state(mut self, state: impl Into<String>) -> Self {
        self.config.expected_state = Some(state.into());
        self
    }

    /// Refuse completing callbacks whose `iss` differs from `issuer`, or
    /// that carry none (RFC 9207: for a provider that advertises
    /// `authorization_response_iss_parameter_supported`).
    pub fn expect_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config.expected_issuer = Some(issuer.into());
        self.config.issuer_required = true;
        self
    }

    /// Refuse completing callbacks that carry an `iss` other than `issuer`;
    /// one without `iss` completes (RFC 9207 section 2.4: for a provider
    /// that does not advertise it). [`Self::expect_issuer`] also requires it.
    pub fn compare_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config.expected_issuer = Some(issuer.into());
        self.config.issuer_required = false;
        self
    }

    /// Refuse completing callbacks whose `code` does not come in a form
    /// post's body (`application/x-www-form-urlencoded`): for a request that
    /// asked for `response_mode=form_post`, a code in the query or the
    /// fragment was put there by someone else (RFC 9700 section 4.3.1). Off
    /// by default.
    pub fn form_post_only(mut self, only: bool) -> Self {
        self.config.form_post_only = only;
        self
    }

    /// Check the settings and produce a [`Config`].
    pub fn build(self) -> Result<Config> {
        let mut config = self.config;
        config.ips = parse_host(&config.host)?;
        if crate::urls::loopback_name(&config.host) {
            // Host names are case-insensitive; the redirect URI says it in lower case.
            config.host = config.host.to_ascii_lowercase();
        }
        if config.ips.iter().any(|ip| !ip.is_loopback()) && !config.allow_remote {
            return Err(Error::NotLoopback {
                setting: Setting::Host,
                host: config.host,
            });
        }
        config.path = normalize_path(&config.path)?;
        for (setting, expected) in [
            (Setting::ExpectedState, &config.expected_state),
            (Setting::ExpectedIssuer, &config.expected_issuer),
        ] {
            // `--expect-state "$STATE"` with the variable unset must not
            // silently turn the check into "state is empty".
            if expected
                .as_deref()
                .is_some_and(|value| value.trim().is_empty())
            {
                return Err(Error::InvalidSetting {
                    setting,
                    reason: "it is empty; give the value the callback must carry, or leave it out"
                        .into(),
                });
            }
        }
        if config.ports.is_empty() {
            return Err(Error::InvalidSetting {
                setting: Setting::Port,
                reason: "no port given".into(),
            });
        }
        if let Some(uri) = config.redirect_uri.clone() {
            config.path = check_redirect_uri(&uri, &config)?;
            // A redirect URI on this machine says where the browser comes:
            // its port, and for a name (which a browser may reach over
            // either family) both loopbacks, unless given otherwise.
            if loopback_host(&uri) {
                if let Some(port) = uri.port_or_known_default().filter(|_| !config.ports_chosen) {
                    config.ports = vec![port];
                }
                if matches!(uri.host(), Some(url::Host::Domain(_))) && !config.host_chosen {
                    config.ips = parse_host("localhost")?;
                }
            }
        }
        check_timeout(config.timeout)?;
        Ok(config)
    }
}

/// The addresses to bind: an IP address, or both loopbacks for `localhost`
/// and the names under it (browsers resolve them to either).
fn parse_host(host: &str) -> Result<Vec<IpAddr>> {
    if crate::urls::loopback_name(host) {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip = unbracketed.parse().map_err(|_| Error::InvalidSetting {
        setting: Setting::Host,
        reason: format!(
            "{host:?} is not an IP address, `localhost` or a name under it (try 127.0.0.1 or ::1)"
        ),
    })?;
    Ok(vec![ip])
}

/// A registered redirect URI fits the server: its host is loopback unless
/// remote access is allowed, its scheme is the one served (or TLS is
/// terminated in front); returns its path, which becomes the callback path.
fn check_redirect_uri(uri: &url::Url, config: &Config) -> Result<String> {
    if !loopback_host(uri) && !config.allow_remote {
        return Err(Error::NotLoopback {
            setting: Setting::RedirectUri,
            host: uri.host_str().unwrap_or_default().into(),
        });
    }
    let served = if config.tls == Tls::Disabled {
        "http"
    } else {
        "https"
    };
    let offloaded = served == "http" && uri.scheme() == "https" && config.behind_tls_proxy;
    if uri.scheme() != served && !offloaded {
        return Err(Error::SchemeMismatch {
            registered: uri.to_string(),
            served,
        });
    }
    let path = normalize_path(uri.path())?;
    // `config.path` is normalised already.
    if config.path != DEFAULT_PATH && config.path != path {
        return Err(Error::InvalidSetting {
            setting: Setting::RedirectUri,
            reason: format!(
                "its path {path} differs from the callback path {}",
                config.path
            ),
        });
    }
    Ok(path)
}

/// A URL the browser may be sent to after the flow, for `setting`.
fn redirect_target(setting: Setting, url: &str) -> Result<url::Url> {
    browser_url(url).map_err(|reason| Error::InvalidSetting {
        setting,
        reason: format!("{url:?} {reason}"),
    })
}

/// The longest timeout: a week (a flow left waiting longer is forgotten).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A timeout given in seconds, as the command line (`--timeout`) and the
/// Python API (`timeout=`) take it: fractions allowed, a negative one is zero
/// and an endless one longer than [`MAX_TIMEOUT`] (both of which [`Config`]
/// then refuses, saying why); `None` for NaN, which is no number of seconds.
pub fn timeout_from_secs(seconds: f64) -> Option<Duration> {
    (!seconds.is_nan())
        .then(|| Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

/// What a valid timeout is: more than zero, at most [`MAX_TIMEOUT`].
fn check_timeout(timeout: Duration) -> Result<()> {
    let reason = if timeout.is_zero() {
        "it must be more than zero"
    } else if timeout > MAX_TIMEOUT {
        "it is longer than a week"
    } else {
        return Ok(());
    };
    Err(Error::InvalidSetting {
        setting: Setting::Timeout,
        reason: reason.into(),
    })
}

/// `callback` → `/callback`; refuses what cannot be a plain route.
fn normalize_path(path: &str) -> Result<String> {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let invalid = |why: &str| Error::InvalidSetting {
        setting: Setting::Path,
        reason: format!("{path:?} {why}"),
    };
    if path.len() > 1024 {
        return Err(invalid("is longer than 1024 characters"));
    }
    // What a browser sends as is (RFC 3986 pchar and `/`): anything else it
    // would percent-encode, and the route would never match.
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c);
    if !path.chars().all(plain) {
        return Err(invalid(
            "must be a plain route: ASCII letters, digits and -._~!$&'()*+,;=:@%/ only",
        ));
    }
    // Browsers remove dot segments (`/a/../cb` is sent as `/cb`), also when
    // percent-encoded, and never send a `%` that is not an escape.
    let dot_segment = |segment: &str| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    };
    if path.split('/').any(dot_segment) {
        return Err(invalid(
            "has a `.` or `..` segment, which browsers remove before sending",
        ));
    }
    let bytes = path.as_bytes();
    let bad_escape = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return Err(invalid("has a `%` that is not followed by two hex digits"));
    }
    // `/` may be the callback route (google-auth-oauthlib, MSAL and rclone
    // register root paths); `/health` stays where it is.
    if path == HEALTH_PATH {
        return Err(invalid(
            "is reserved; choose another route such as /callback",
        ));
    }
    Ok(path)
}

/// The URI a browser reaches the callback at, e.g. `https://127.0.0.1:8080/callback`.
pub(crate) fn redirect_uri(scheme: &str, host: &str, port: u16, path: &str) -> String {
    let host = match host.parse::<Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => host.to_string(),
    };
    format!("{scheme}://{host}:{port}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_seconds() {
        assert_eq!(timeout_from_secs(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(timeout_from_secs(-3.0), Some(Duration::ZERO));
        assert_eq!(timeout_from_secs(f64::INFINITY), Some(Duration::MAX));
        assert_eq!(timeout_from_secs(1e300), Some(Duration::MAX));
        assert_eq!(timeout_from_secs(f64::NAN), None);
    }

    #[test]
    fn paths_are_normalised_and_checked() {
        assert_eq!(normalize_path("callback").unwrap(), "/callback");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("").unwrap(), "/");
        assert_eq!(normalize_path("/a/b").unwrap(), "/a/b");
        assert_eq!(normalize_path("/a%2Fb/c.d/..e").unwrap(), "/a%2Fb/c.d/..e");
        for bad in [
            "/health",
            "/a b",
            "/a?x",
            "/a#b",
            "/café",
            "/a<b>",
            "/{x}",
            "/a/../cb",
            "/./cb",
            "/cb/.",
            "/%2e%2E/cb",
            "/cb%zz",
            "/cb%",
            "/cb%4",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts_are_ip_addresses_or_localhost() {
        let both = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        assert_eq!(parse_host("localhost").unwrap(), both);
        assert_eq!(
            parse_host("[::1]").unwrap(),
            [IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
        assert!(parse_host("example.com").is_err());
    }

    #[test]
    fn empty_expected_values_are_refused() {
        for blank in ["", "  ", "\t"] {
            assert!(Config::builder().expect_state(blank).build().is_err());
            assert!(Config::builder().expect_issuer(blank).build().is_err());
        }
        assert!(Config::builder().expect_state("s").build().is_ok());
    }

    #[test]
    fn remote_hosts_need_allow_remote() {
        assert!(Config::builder().host("0.0.0.0").build().is_err());
        assert!(Config::builder().host("192.168.1.2").build().is_err());
        let remote = Config::builder().host("0.0.0.0").allow_remote(true).build();
        assert!(remote.unwrap().allow_remote);
    }

    #[test]
    fn redirect_uris_bracket_ipv6() {
        assert_eq!(redirect_uri("https", "::1", 1, "/cb"), "https://[::1]:1/cb");
        assert_eq!(
            redirect_uri("http", "localhost", 2, "/cb"),
            "http://localhost:2/cb"
        );
    }
}
