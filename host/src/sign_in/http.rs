//! The outbound HTTP client of a sign-in: to the provider's metadata, key
//! set, PAR and token endpoints. One TLS stack for in and out (rustls with
//! ring, as the server), the system's roots (or `SSL_CERT_FILE` /
//! `SSL_CERT_DIR`, as curl and Python honour them), `HTTPS_PROXY` /
//! `NO_PROXY` with this machine never proxied, a connect and a total
//! timeout, a size limit on every answer, and no redirect followed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::Unreachable;

/// How long connecting to a provider may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request to a provider may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an idle connection is kept for the next request: less than the
/// 5 s keep-alive of Node.js and Apache httpd, so that a connection the
/// server may be closing is never reused (a device flow polling every 5 s
/// would otherwise send its request into a connection being reset).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// The largest answer read from a provider (metadata, key set, tokens).
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// Whether `url` may be used to talk to a provider: `https://`, or
/// `http://` on this machine (a local provider, tests); never with a user
/// name or password. The error says what is expected.
pub fn check_endpoint(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url} is not a URL ({e})"))?;
    if crate::urls::has_userinfo(&parsed) {
        return Err(format!("{url} carries a user name or password"));
    }
    if parsed.fragment().is_some() {
        return Err(format!("{url} has a fragment (#…)"));
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if crate::urls::loopback_host(&parsed) => Ok(parsed),
        _ => Err(format!(
            "{url} must be https:// (http:// only on 127.0.0.1, [::1] or localhost)"
        )),
    }
}

/// A provider's answer: its status and its body, read whole (at most
/// [`MAX_RESPONSE`]).
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as a JSON object, or why it is not one.
    pub fn json_object(&self) -> Result<Map<String, Value>, String> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err("its answer is JSON but not an object".into()),
            Err(e) => Err(format!("its answer is not JSON ({e})")),
        }
    }
}

/// The client every request of one sign-in goes through.
#[derive(Clone)]
pub struct Client(reqwest::Client);

impl Client {
    /// A client with the system's roots (or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR`) and the environment's proxy.
    pub fn new() -> Result<Client, Unreachable> {
        let tls = tls_config()?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .proxy(proxy())
            .user_agent(concat!("oauth-callback/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Unreachable::Client(crate::error::error_line(&e)))?;
        Ok(Client(client))
    }

    /// GET `url` with `Accept: application/json`.
    pub async fn get(&self, url: &url::Url) -> Result<Answer, Unreachable> {
        let request = self
            .0
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        read(url, request).await
    }

    /// POST `form` to `url` (`application/x-www-form-urlencoded`), with HTTP
    /// Basic authentication when `basic` is given (RFC 6749 section 2.3.1:
    /// each part form-encoded first).
    pub async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Answer, Unreachable> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .0
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some((user, password)) = basic {
            let encode = |text: &str| -> String {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
            };
            request = request.basic_auth(encode(user), Some(encode(password)));
        }
        read(url, request).await
    }
}

impl Client {
    /// POST `body` as JSON to `url` (RFC 7591's registration request).
    pub async fn post_json(&self, url: &url::Url, body: &Value) -> Result<Answer, Unreachable> {
        let request = self
            .0
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        read(url, request).await
    }
}

/// Send `request` and read its answer, at most [`MAX_RESPONSE`] bytes.
/// Errors name the URL without its query.
async fn read(url: &url::Url, request: reqwest::RequestBuilder) -> Result<Answer, Unreachable> {
    let at = without_query(url);
    let failed = |e: reqwest::Error| Unreachable::Request {
        url: at.clone(),
        reason: reason(&e),
    };
    let mut response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE as u64)
    {
        return Err(Unreachable::TooLarge { url: at });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(Unreachable::TooLarge { url: at });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, body })
}

/// What went wrong, in words: the innermost cause (reqwest's own top line
/// repeats the URL, with its query).
fn reason(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if error.is_timeout() {
        "it did not answer in time".into()
    } else if error.is_connect() {
        format!("cannot connect ({cause})")
    } else {
        cause.to_string()
    }
}

/// `url` without its query and fragment, for messages.
pub fn without_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// rustls with ring (the server's provider) and the system's roots.
fn tls_config() -> Result<rustls::ClientConfig, Unreachable> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), ToString::to_string);
        tracing::debug!("no trusted root certificates could be loaded ({why})");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Unreachable::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `HTTPS_PROXY` (or `https_proxy`, `ALL_PROXY`, `all_proxy`) for https
/// URLs, but for the hosts `NO_PROXY` names and this machine's. Plain http
/// goes only to this machine (see [`check_endpoint`]): never proxied.
fn proxy() -> reqwest::Proxy {
    let configured = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .and_then(|value| url::Url::parse(&value).ok());
    reqwest::Proxy::custom(move |url| match (&configured, url.scheme()) {
        (Some(proxy), "https") if !crate::urls::loopback_host(url) => Some(proxy.clone()),
        _ => None,
    })
    .no_proxy(reqwest::NoProxy::from_env())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_reached_over_https_or_on_this_machine() {
        assert!(check_endpoint("https://id.example/token").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000/token").is_ok());
        assert!(check_endpoint("http://[::1]/").is_ok());
        assert!(check_endpoint("http://localhost:8000").is_ok());
        for refused in [
            "http://id.example/token",
            "ftp://id.example/",
            "https://user:pw@id.example/",
            "https://id.example/#x",
            "id.example",
        ] {
            assert!(check_endpoint(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn messages_name_an_endpoint_without_its_query() {
        let url = url::Url::parse("https://id.example/auth?client_id=x&state=s#f").unwrap();
        assert_eq!(without_query(&url), "https://id.example/auth");
    }
}
