//! The keyword arguments of the original `run_callback_server(...)` /
//! `CallbackServer(...)`, as the package hands them over (a dict), turned
//! into the library's [`Config`]. The library checks every value; its
//! refusals become `ConfigError` with its message.

use std::path::PathBuf;
use std::time::Duration;

use oauth_callback::{Config, SignInPage, SignInPageError, Tls};
use pyo3::prelude::*;

use crate::errors::{config_error, to_python};

/// The settings, by the original module's names.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Options {
    host: Option<String>,
    ports: Option<Vec<u16>>,
    path: String,
    /// Seconds.
    timeout: f64,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    adhoc_ssl: bool,
    self_signed: bool,
    force_https: bool,
    success_html_path: Option<PathBuf>,
    error_html_path: Option<PathBuf>,
    expect_state: Option<String>,
    expect_issuer: Option<String>,
    open_url: Option<String>,
    ready_file: Option<PathBuf>,
    handler: Option<PathBuf>,
    redirect_uri: Option<String>,
    success_redirect: Option<String>,
    error_redirect: Option<String>,
    one_scheme: bool,
}

/// What a server is started with.
pub struct Prepared {
    pub config: Config,
    /// The sign-in page to open once listening (`open_url`, with the
    /// expected state in it).
    pub page: Option<SignInPage>,
}

impl Options {
    /// The library's configuration, checked.
    pub fn prepare(self) -> PyResult<Prepared> {
        let tls = tls(
            self.ssl_cert,
            self.ssl_key,
            self.adhoc_ssl,
            self.self_signed,
            self.force_https,
        )?;
        let page = self
            .open_url
            .as_deref()
            .map(|url| SignInPage::new(url, self.expect_state.as_deref()))
            .transpose()
            .map_err(|e| match e {
                SignInPageError::NoState => {
                    config_error(format!("open_url: {e}: give expect_state"))
                }
                SignInPageError::Url(reason) => config_error(format!("open_url: {reason}")),
            })?;
        let mut builder = Config::builder()
            .path(self.path)
            .timeout(seconds(self.timeout)?)
            .one_scheme(self.one_scheme);
        if let Some(host) = self.host {
            builder = builder.host(host);
        }
        if let Some(ports) = self.ports {
            builder = builder.ports(ports);
        }
        if let Some(tls) = tls {
            builder = builder.tls(tls);
        }
        if let Some(file) = self.ready_file {
            builder = builder.ready_file(file);
        }
        if let Some(file) = self.success_html_path {
            builder = builder.success_html(file);
        }
        if let Some(file) = self.error_html_path {
            builder = builder.error_html(file);
        }
        if let Some(file) = self.handler {
            builder = builder.handler(file);
        }
        if let Some(state) = self.expect_state {
            builder = builder.expect_state(state);
        }
        if let Some(issuer) = self.expect_issuer {
            builder = builder.expect_issuer(issuer);
        }
        let library = |e: oauth_callback::Error| to_python(&e);
        if let Some(uri) = self.redirect_uri {
            builder = builder.redirect_uri(&uri).map_err(library)?;
        }
        if let Some(url) = self.success_redirect {
            builder = builder.success_redirect(&url).map_err(library)?;
        }
        if let Some(url) = self.error_redirect {
            builder = builder.error_redirect(&url).map_err(library)?;
        }
        let config = builder.build().map_err(library)?;
        Ok(Prepared { config, page })
    }
}

/// The timeout (the library's rule, [`oauth_callback::timeout_from_secs`]);
/// NaN is refused here.
fn seconds(timeout: f64) -> PyResult<Duration> {
    oauth_callback::timeout_from_secs(timeout)
        .ok_or_else(|| config_error("invalid timeout: it is not a number of seconds"))
}

/// The original module's TLS choices: a PEM pair; else a certificate made
/// for the run (self-signed when asked, else from the local CA when there
/// is one), unless `force_https=False` asks for plain HTTP. `None` when
/// nothing was chosen: the library's default (an ad hoc certificate), which
/// it says in the log.
fn tls(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    adhoc: bool,
    self_signed: bool,
    force_https: bool,
) -> PyResult<Option<Tls>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(Tls::Pem { cert, key })),
        (None, None) if self_signed => Ok(Some(Tls::SelfSigned)),
        (None, None) if adhoc => Ok(Some(Tls::Adhoc)),
        (None, None) if force_https => Ok(None),
        (None, None) => Ok(Some(Tls::Disabled)),
        _ => Err(config_error(
            "ssl_cert and ssl_key go together: give both PEM files or neither",
        )),
    }
}
