//! How the client authenticates at the token and PAR endpoints (RFC 6749
//! section 2.3, OpenID Connect Core section 9): `none` for a public client,
//! else `client_secret_basic` or `client_secret_post`, as the metadata's
//! `token_endpoint_auth_methods_supported` allows.

use openidconnect::ClientSecret;

use super::error::SignInError;

/// A form's pairs (`application/x-www-form-urlencoded`).
pub type Form<'a> = Vec<(&'a str, &'a str)>;
/// HTTP Basic credentials: the user (client id) and password (secret).
pub type Basic<'a> = (&'a str, &'a str);

/// The client's authentication at the provider's endpoints.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A public client: `client_id` in the body, no secret (RFC 8252 section 8.4).
    None,
    /// `client_secret_basic`: HTTP Basic with the id and the secret.
    Basic(ClientSecret),
    /// `client_secret_post`: both in the body.
    Post(ClientSecret),
}

impl ClientAuth {
    /// The method for `secret`, from `supported` (absent: RFC 8414
    /// section 2's default, `client_secret_basic`).
    pub fn choose(
        secret: Option<ClientSecret>,
        supported: Option<&[String]>,
    ) -> Result<ClientAuth, SignInError> {
        let Some(secret) = secret else {
            return Ok(ClientAuth::None);
        };
        let supports = |method: &str| supported.is_none_or(|list| list.iter().any(|m| m == method));
        if supports("client_secret_basic") {
            Ok(ClientAuth::Basic(secret))
        } else if supported.is_some_and(|list| list.iter().any(|m| m == "client_secret_post")) {
            Ok(ClientAuth::Post(secret))
        } else {
            Err(SignInError::InvalidSetting(format!(
                "a client secret was given, but the provider takes neither client_secret_basic \
                 nor client_secret_post (it lists: {})",
                supported.unwrap_or_default().join(", ")
            )))
        }
    }

    /// The secret, when there is one (an HMAC-signed ID token's key).
    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            ClientAuth::None => None,
            ClientAuth::Basic(secret) | ClientAuth::Post(secret) => Some(secret),
        }
    }

    /// `form` with the client's credentials in it, and the Basic
    /// credentials to send beside it, if any.
    pub fn apply<'a>(
        &'a self,
        client_id: &'a str,
        mut form: Form<'a>,
    ) -> (Form<'a>, Option<Basic<'a>>) {
        form.retain(|(key, _)| *key != "client_id");
        match self {
            ClientAuth::None => {
                form.push(("client_id", client_id));
                (form, None)
            }
            ClientAuth::Basic(secret) => (form, Some((client_id, secret.secret().as_str()))),
            ClientAuth::Post(secret) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret.secret()));
                (form, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_method_follows_the_metadata() {
        let secret = || Some(ClientSecret::new("s".into()));
        assert!(matches!(
            ClientAuth::choose(None, None),
            Ok(ClientAuth::None)
        ));
        assert!(matches!(
            ClientAuth::choose(secret(), None),
            Ok(ClientAuth::Basic(_))
        ));
        let post = methods(&["client_secret_post", "private_key_jwt"]);
        assert!(matches!(
            ClientAuth::choose(secret(), Some(&post)),
            Ok(ClientAuth::Post(_))
        ));
        let neither = methods(&["private_key_jwt"]);
        assert!(ClientAuth::choose(secret(), Some(&neither)).is_err());
    }

    #[test]
    fn credentials_go_where_the_method_says() {
        let form = vec![("grant_type", "authorization_code")];
        let (body, basic) = ClientAuth::None.apply("cli", form.clone());
        assert_eq!((body.last(), basic), (Some(&("client_id", "cli")), None));
        let basic_auth = ClientAuth::Basic(ClientSecret::new("s".into()));
        let (body, basic) = basic_auth.apply("cli", form.clone());
        assert_eq!((body.len(), basic), (1, Some(("cli", "s"))));
        let post = ClientAuth::Post(ClientSecret::new("s".into()));
        let (body, basic) = post.apply("cli", form);
        assert!(body.contains(&("client_secret", "s")) && basic.is_none());
    }
}
