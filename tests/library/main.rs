//! The library in process, as a Rust program calls it: no binary.

/// The two levels of the original module, errors and results.
mod api;
/// The local CA as a certificate verifier sees it.
mod local_ca;
/// Settings the library carries out for every face: the ready file, the
/// deadline, configuration checked before listening.
mod settings;

use std::time::Duration;

/// An HTTP client that accepts the ad hoc certificate.
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
