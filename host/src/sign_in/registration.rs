//! Clients that register themselves (RFC 7591): with no client id, a public
//! client is registered at the provider's `registration_endpoint` for the
//! loopback redirect URI of this run, and kept per authorization server
//! (`registrations/` beside the token cache, 0700/0600) to be used again.
//! Nothing secret is kept: the client is public (`none`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{SignInError, Stage};
use super::exchange::{answered, nonsense};
use super::http::Client;

/// The grant of a device sign-in (RFC 8628 section 3.4).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A client registered at one authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The authorization server (its issuer, or its token endpoint).
    pub server: String,
    /// The client id it gave.
    pub client_id: String,
    /// The redirect URIs registered.
    pub redirect_uris: Vec<String>,
    /// The grant types registered.
    pub grant_types: Vec<String>,
}

impl Registration {
    /// Whether this registration can be used for a sign-in at
    /// `redirect_uri` (none: a device sign-in).
    pub fn fits(&self, redirect_uri: Option<&str>) -> bool {
        match redirect_uri {
            Some(uri) => self.redirect_uris.iter().any(|r| r == uri),
            None => self.grant_types.iter().any(|g| g == DEVICE_GRANT),
        }
    }

    /// The port of its first loopback redirect URI: where the receiver
    /// listens to use it again.
    pub fn port(&self) -> Option<u16> {
        let uri = url::Url::parse(self.redirect_uris.first()?).ok()?;
        uri.port()
    }
}

/// Where registrations are kept: one file per authorization server.
#[derive(Debug, Clone)]
pub struct Registrations {
    dir: PathBuf,
}

/// The largest registration file read.
const MAX_FILE: u64 = 64 * 1024;

impl Registrations {
    /// The user's: `registrations` in the platform's local data directory
    /// (beside `tokens`); `None` without a home directory.
    pub fn of_user() -> Option<Registrations> {
        directories::ProjectDirs::from("", "", "oauth-callback").map(|dirs| Registrations {
            dir: dirs.data_local_dir().join("registrations"),
        })
    }

    fn path(&self, server: &str) -> PathBuf {
        let name = crate::files::name_for(server.as_bytes());
        self.dir.join(format!("{name}.json"))
    }

    /// The registration kept for `server`, when there is one to trust (a
    /// corrupt or foreign file is said in a warning and ignored).
    pub fn load(&self, server: &str) -> Option<Registration> {
        let path = self.path(server);
        if !path.exists() {
            return None;
        }
        let read = |path: &Path| -> Result<Registration, String> {
            if !crate::files::trusted(path) {
                return Err("it is a link, or another user's, or others may write to it".into());
            }
            let bytes = crate::files::read_bounded(path, MAX_FILE).map_err(|e| e.to_string())?;
            let registration: Registration =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            match registration.server == server {
                true => Ok(registration),
                false => Err("it is another server's".into()),
            }
        };
        read(&path)
            .inspect_err(|why| {
                tracing::warn!(
                    "ignoring the client registration file {} ({why})",
                    path.display()
                )
            })
            .ok()
    }

    /// Keep `registration` (said in a warning when it cannot be: the next
    /// run registers again).
    pub fn save(&self, registration: &Registration) {
        let path = self.path(&registration.server);
        let json = serde_json::to_vec_pretty(registration).unwrap_or_default();
        let saved = crate::files::create_private_dir(&self.dir)
            .and_then(|()| crate::files::replace(&path, &json));
        if let Err(e) = saved {
            tracing::warn!(
                "could not keep the client registration in {} ({e})",
                path.display()
            );
        }
    }

    /// Forget `server`'s registration (the provider no longer knows it).
    pub fn forget(&self, server: &str) {
        let _ = std::fs::remove_file(self.path(server));
    }
}

/// Register a public client at `endpoint` (RFC 7591 section 3.1): for
/// `redirect_uri` (a browser sign-in with refresh tokens), or for the
/// device grant when there is none.
pub async fn register(
    client: &Client,
    endpoint: &url::Url,
    server: &str,
    client_name: &str,
    redirect_uri: Option<&str>,
) -> Result<Registration, SignInError> {
    let (redirect_uris, grant_types) = match redirect_uri {
        Some(uri) => (
            vec![uri.to_string()],
            vec!["authorization_code", "refresh_token"],
        ),
        None => (Vec::new(), vec![DEVICE_GRANT, "refresh_token"]),
    };
    let mut metadata = json!({
        "client_name": client_name,
        "token_endpoint_auth_method": "none",
        "grant_types": grant_types,
        "response_types": if redirect_uri.is_some() { vec!["code"] } else { vec![] },
    });
    if let Some(uri) = redirect_uri {
        metadata["redirect_uris"] = json!(redirect_uris);
        // OpenID Connect Dynamic Registration section 2: a plain http
        // loopback redirect URI is a native client's; an https one a web
        // client's (the default), which is what the receiver serves.
        if uri.starts_with("http:") {
            metadata["application_type"] = json!("native");
        }
    }
    let answer = client.post_json(endpoint, &metadata).await?;
    let members = answered(&answer, endpoint, Stage::Registration, &[201, 200])?;
    let Some(client_id) = members.get("client_id").and_then(Value::as_str) else {
        return Err(nonsense(endpoint, "its answer has no client_id".into()).into());
    };
    if let Some(method) = members
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .filter(|m| *m != "none")
    {
        return Err(SignInError::InvalidSetting(format!(
            "the provider registered a confidential client ({}): give a --client-id \
             registered for this program instead",
            crate::error::escaped_line(method, 60)
        )));
    }
    tracing::info!("registered the client {client_name:?} at {server}");
    Ok(Registration {
        server: server.into(),
        client_id: client_id.into(),
        redirect_uris,
        grant_types: grant_types.iter().map(|g| g.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_kept_per_server_and_fit_their_redirect_uri() {
        let home = tempfile::tempdir().unwrap();
        let store = Registrations {
            dir: home.path().join("registrations"),
        };
        let registration = Registration {
            server: "https://id.example".into(),
            client_id: "c-1".into(),
            redirect_uris: vec!["https://127.0.0.1:8400/callback".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        };
        assert_eq!(store.load("https://id.example"), None);
        store.save(&registration);
        assert_eq!(store.load("https://id.example"), Some(registration.clone()));
        assert_eq!(store.load("https://other.example"), None);
        assert_eq!(registration.port(), Some(8400));
        assert!(registration.fits(Some("https://127.0.0.1:8400/callback")));
        assert!(!registration.fits(Some("https://127.0.0.1:8401/callback")));
        assert!(!registration.fits(None));
        std::fs::write(store.path("https://id.example"), b"{").unwrap();
        assert_eq!(store.load("https://id.example"), None);
        store.forget("https://id.example");
        assert!(!store.path("https://id.example").exists());
    }
}
