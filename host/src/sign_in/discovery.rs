//! Finding the provider: authorization server metadata (RFC 8414, OpenID
//! Connect Discovery 1.0) from an issuer, and the authorization server of a
//! protected resource (RFC 9728), in the order the MCP authorization
//! specification gives ("Authorization Server Metadata Discovery").

use serde::{Deserialize, Serialize};

use super::error::{CheckFailed, SignInError, Unreachable};
use super::http::{self, Client};

/// Where the provider's endpoints come from, as the caller gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// An issuer whose metadata is discovered.
    Issuer(String),
    /// A protected resource whose first authorization server is discovered;
    /// the resource is named in the requests (RFC 8707).
    Resource(String),
    /// A plain OAuth 2.0 provider without metadata: no ID token expected.
    Endpoints {
        /// The authorization endpoint.
        authorization: String,
        /// The token endpoint.
        token: String,
    },
}

/// What a sign-in needs to know about the authorization server.
#[derive(Debug, Clone)]
pub struct Server {
    /// The issuer, exactly as its metadata names it (none without metadata).
    pub issuer: Option<String>,
    /// Whether the metadata came from OpenID Connect Discovery, or names
    /// `openid` among its scopes.
    pub openid: bool,
    /// The metadata, or the given endpoints.
    pub metadata: Metadata,
}

impl Server {
    /// The metadata member `name` (`token_endpoint`, `jwks_uri`...) as an
    /// endpoint requests may go to (`https://`, or `http://` on this
    /// machine); an absent or unusable one is the issuer's nonsense.
    pub fn endpoint(&self, name: &str, value: Option<&str>) -> Result<url::Url, Unreachable> {
        http::check_endpoint(value.unwrap_or_default()).map_err(|why| Unreachable::Nonsense {
            url: self.issuer.clone().unwrap_or_default(),
            reason: format!("its {name}: {why}"),
        })
    }
}

/// The members of authorization server metadata a sign-in uses (RFC 8414
/// section 2, OpenID Connect Discovery 1.0 section 3, RFC 9126 section 5,
/// RFC 9207 section 3).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// `issuer`.
    #[serde(default)]
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: Option<String>,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `pushed_authorization_request_endpoint` (RFC 9126).
    pub pushed_authorization_request_endpoint: Option<String>,
    /// `require_pushed_authorization_requests` (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// `code_challenge_methods_supported` (RFC 8414).
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `id_token_signing_alg_values_supported` (OpenID Connect).
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// `scopes_supported`.
    pub scopes_supported: Option<Vec<String>>,
    /// `revocation_endpoint` (RFC 7009, RFC 8414).
    pub revocation_endpoint: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628 section 4).
    pub device_authorization_endpoint: Option<String>,
    /// `registration_endpoint` (RFC 7591, RFC 8414).
    pub registration_endpoint: Option<String>,
    /// `client_id_metadata_document_supported` (OAuth Client ID Metadata
    /// Document, as the MCP authorization specification uses it).
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

/// RFC 9728 section 2: the members used.
#[derive(Debug, Deserialize)]
struct ResourceMetadata {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
}

const OAUTH: &str = "/.well-known/oauth-authorization-server";
const OPENID: &str = "/.well-known/openid-configuration";
const RESOURCE: &str = "/.well-known/oauth-protected-resource";

/// The metadata URLs of `issuer`, in the order they are tried, each with
/// whether it is OpenID Connect Discovery: RFC 8414's (`/.well-known/…`
/// inserted before the path), then OpenID Connect's inserted the same way
/// and appended (section 4), as the MCP authorization specification
/// orders them; without a path, the first two only.
pub fn metadata_urls(issuer: &url::Url) -> Vec<(url::Url, bool)> {
    let path = issuer.path().trim_end_matches('/');
    let at = |path: String| {
        let mut url = issuer.clone();
        url.set_path(&path);
        url.set_query(None);
        url
    };
    if path.is_empty() {
        vec![(at(OAUTH.into()), false), (at(OPENID.into()), true)]
    } else {
        vec![
            (at(format!("{OAUTH}{path}")), false),
            (at(format!("{OPENID}{path}")), true),
            (at(format!("{path}{OPENID}")), true),
        ]
    }
}

/// The protected resource metadata URLs of `resource` (RFC 9728 section
/// 3.1: inserted before the path), then at the root.
pub fn resource_metadata_urls(resource: &url::Url) -> Vec<url::Url> {
    let path = resource.path().trim_end_matches('/');
    let at = |path: &str| {
        let mut url = resource.clone();
        url.set_path(path);
        url.set_query(None);
        url
    };
    let mut urls = vec![at(&format!("{RESOURCE}{path}"))];
    if !path.is_empty() {
        urls.push(at(RESOURCE));
    }
    urls
}

/// Parse an issuer or resource the caller gave: https (or http on this
/// machine), no query or fragment for an issuer (RFC 8414 section 2).
pub fn parse_identifier(what: &str, text: &str) -> Result<url::Url, SignInError> {
    let url = http::check_endpoint(text)
        .map_err(|reason| SignInError::InvalidSetting(format!("{what}: {reason}")))?;
    if what == "issuer" && url.query().is_some() {
        return Err(SignInError::InvalidSetting(format!(
            "issuer: {text} has a query (?…); an issuer has none"
        )));
    }
    Ok(url)
}

/// Discover `issuer`'s metadata: the first well-known URL that answers 200
/// with a JSON object; its `issuer` must equal `issuer` byte for byte.
pub async fn discover(client: &Client, issuer: &str) -> Result<Server, SignInError> {
    let url = parse_identifier("issuer", issuer)?;
    let (at, openid, metadata): (_, _, Metadata) = first_document(
        client,
        issuer,
        "authorization server metadata",
        metadata_urls(&url),
    )
    .await?;
    if metadata.issuer != issuer {
        return Err(SignInError::CheckFailed(CheckFailed::Issuer {
            metadata: at.to_string(),
            expected: issuer.into(),
            found: crate::error::escaped_line(&metadata.issuer, 200),
        }));
    }
    for (name, endpoint) in [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
    ] {
        if endpoint.is_none() {
            return Err(nonsense(&at, format!("it has no {name}")).into());
        }
    }
    let openid = openid
        || metadata
            .scopes_supported
            .iter()
            .flatten()
            .any(|scope| scope == "openid");
    Ok(Server {
        issuer: Some(metadata.issuer.clone()),
        openid,
        metadata,
    })
}

/// The first authorization server of `resource` (RFC 9728): its metadata's
/// `resource` must equal `resource`.
pub async fn authorization_server_of(
    client: &Client,
    resource: &str,
) -> Result<String, SignInError> {
    let url = parse_identifier("resource", resource)?;
    let urls = resource_metadata_urls(&url).into_iter().map(|at| (at, ()));
    let (at, (), metadata): (_, _, ResourceMetadata) =
        first_document(client, resource, "protected resource metadata", urls).await?;
    if metadata.resource != resource {
        return Err(SignInError::CheckFailed(CheckFailed::Resource {
            metadata: at.to_string(),
            expected: resource.into(),
            found: crate::error::escaped_line(&metadata.resource, 200),
        }));
    }
    metadata
        .authorization_servers
        .into_iter()
        .next()
        .ok_or_else(|| nonsense(&at, "it lists no authorization_servers".into()).into())
}

/// The first of `urls` that answers 200, read as a `T` (a JSON object, a
/// `kind` document of `of`): its URL, its tag and the document. None
/// answering is [`Unreachable::NoMetadata`], naming every URL tried.
async fn first_document<T: serde::de::DeserializeOwned, Tag>(
    client: &Client,
    of: &str,
    kind: &str,
    urls: impl IntoIterator<Item = (url::Url, Tag)>,
) -> Result<(url::Url, Tag, T), SignInError> {
    let mut tried = Vec::new();
    for (at, tag) in urls {
        let answer = client.get(&at).await?;
        tried.push(at.to_string());
        if answer.status != 200 {
            continue;
        }
        let object = answer.json_object().map_err(|why| nonsense(&at, why))?;
        let document = serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|e| nonsense(&at, format!("it is not {kind} ({e})")))?;
        return Ok((at, tag, document));
    }
    Err(Unreachable::NoMetadata {
        of: of.into(),
        tried,
    }
    .into())
}

/// What cannot be used in the document at `at`.
fn nonsense(at: &url::Url, reason: String) -> Unreachable {
    Unreachable::Nonsense {
        url: at.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        metadata_urls(&url::Url::parse(issuer).unwrap())
            .into_iter()
            .map(|(url, _)| url.to_string())
            .collect()
    }

    #[test]
    fn an_issuer_without_a_path_has_two_metadata_urls() {
        for issuer in ["https://id.example", "https://id.example/"] {
            assert_eq!(
                urls(issuer),
                [
                    "https://id.example/.well-known/oauth-authorization-server",
                    "https://id.example/.well-known/openid-configuration",
                ]
            );
        }
    }

    #[test]
    fn an_issuer_with_a_path_inserts_then_appends() {
        for issuer in [
            "https://id.example/tenant/1",
            "https://id.example/tenant/1/",
        ] {
            assert_eq!(
                urls(issuer),
                [
                    "https://id.example/.well-known/oauth-authorization-server/tenant/1",
                    "https://id.example/.well-known/openid-configuration/tenant/1",
                    "https://id.example/tenant/1/.well-known/openid-configuration",
                ]
            );
        }
        let openid: Vec<bool> = metadata_urls(&url::Url::parse("https://a.example/t").unwrap())
            .into_iter()
            .map(|(_, openid)| openid)
            .collect();
        assert_eq!(openid, [false, true, true]);
    }

    #[test]
    fn resource_metadata_is_inserted_then_at_the_root() {
        let urls = |resource: &str| -> Vec<String> {
            resource_metadata_urls(&url::Url::parse(resource).unwrap())
                .into_iter()
                .map(String::from)
                .collect()
        };
        assert_eq!(
            urls("https://api.example/mcp"),
            [
                "https://api.example/.well-known/oauth-protected-resource/mcp",
                "https://api.example/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            urls("https://api.example"),
            ["https://api.example/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn an_issuer_is_https_without_a_query() {
        assert!(parse_identifier("issuer", "https://id.example/t").is_ok());
        assert!(parse_identifier("issuer", "http://127.0.0.1:8000").is_ok());
        for refused in ["http://id.example", "https://id.example/?t=1", "nope"] {
            assert!(
                matches!(
                    parse_identifier("issuer", refused),
                    Err(SignInError::InvalidSetting(_))
                ),
                "{refused}"
            );
        }
    }
}
