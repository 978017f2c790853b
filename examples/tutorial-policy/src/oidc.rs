//! The tutorial's part 3, real accounts: bearer JWTs from an OpenID Connect provider instead of
//! the fixed tokens of [`authn`](crate::authn).
//!
//! `private-conversations --oidc-issuer URL --oidc-audience AUD` (or the environment variables
//! `OIDC_ISSUER` and `OIDC_AUDIENCE`) installs an [`auth::jwt::JwtVerifier`] for that issuer;
//! the tutorial's authenticate handler then hands every `Authorization` header to it, and a
//! token's `sub` is the user's identity, so the tutorial's policies (both `--policy` values)
//! stamp and filter `owner` by `sub` unchanged. Without the flags nothing is installed and the
//! fixed tokens stay.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use auth::jwt::JwtVerifier;
use auth::{AuthUser, HttpException};

/// A verification under way, boxed.
pub type Verification<'a> =
    Pin<Box<dyn Future<Output = Result<AuthUser, HttpException>> + Send + 'a>>;

static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();

/// The installed verifier, if any.
pub fn verifier() -> Option<&'static JwtVerifier> {
    VERIFIER.get()
}

/// Installs `verifier` for the process: from now on the tutorial's authenticate handler accepts
/// its tokens and no fixed token. Refused if one is installed already.
pub fn install(verifier: JwtVerifier) -> Result<(), String> {
    VERIFIER
        .set(verifier)
        .map_err(|_| "an OpenID Connect verifier is installed already".to_owned())
}

/// The verifier for `issuer` whose tokens must name `audience`.
pub fn verifier_for(issuer: &str, audience: &str) -> Result<JwtVerifier, String> {
    JwtVerifier::from_issuer(issuer)
        .audience(audience)
        .build()
        .map_err(|e| format!("--oidc-issuer: {e}"))
}

/// Issuer and audience from the flags, else from `OIDC_ISSUER` / `OIDC_AUDIENCE` (read through
/// `env`); both or neither. `Ok(None)`: no provider, the fixed tokens stay.
pub fn settings(
    issuer: Option<String>,
    audience: Option<String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, String> {
    let issuer = issuer
        .or_else(|| env("OIDC_ISSUER"))
        .filter(|s| !s.is_empty());
    let audience = audience
        .or_else(|| env("OIDC_AUDIENCE"))
        .filter(|s| !s.is_empty());
    match (issuer, audience) {
        (Some(issuer), Some(audience)) => Ok(Some((issuer, audience))),
        (None, None) => Ok(None),
        (Some(_), None) => Err("--oidc-issuer needs --oidc-audience (or OIDC_AUDIENCE)".into()),
        (None, Some(_)) => Err("--oidc-audience needs --oidc-issuer (or OIDC_ISSUER)".into()),
    }
}

/// The server's start-up: with an issuer and an audience (flags, else environment), builds the
/// verifier, fetches the provider's keys once (a failure is only a warning: keys are fetched
/// again on the first token) and installs it. Without either, does nothing.
pub async fn setup(issuer: Option<String>, audience: Option<String>) -> Result<(), String> {
    let Some((issuer, audience)) = settings(issuer, audience, |name| std::env::var(name).ok())?
    else {
        return Ok(());
    };
    let verifier = verifier_for(&issuer, &audience)?;
    println!("authentication: bearer JWTs from {issuer} for audience {audience}");
    match verifier.refresh_keys().await {
        Ok(n) => println!("  {n} signing keys fetched"),
        Err(e) => eprintln!("warning: cannot fetch the provider's keys yet: {e}"),
    }
    install(verifier)
}

/// The hook of the tutorial's authenticate handler: the installed verifier's answer for this
/// header, or `None` without a verifier. Boxed, so that the handler's own future stays small
/// (held inline by the dispatcher) on the fixed-token path.
pub fn authenticate<'a>(authorization: Option<&'a str>) -> Option<Verification<'a>> {
    let verifier = verifier()?;
    Some(Box::pin(verifier.verify_bearer(authorization)))
}

/// [`authenticate`] for a token given without a scheme (`X-Api-Key`): the installed verifier's
/// answer for it, or `None` without a verifier.
pub fn authenticate_token(token: &str) -> Option<Verification<'_>> {
    let verifier = verifier()?;
    Some(Box::pin(verifier.verify(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_environment_and_come_in_pairs() {
        let env = |name: &str| match name {
            "OIDC_ISSUER" => Some("https://env.example".to_owned()),
            "OIDC_AUDIENCE" => Some("env-aud".to_owned()),
            _ => None,
        };
        let none = |_: &str| None;
        assert_eq!(settings(None, None, none), Ok(None));
        assert_eq!(
            settings(None, None, env),
            Ok(Some(("https://env.example".into(), "env-aud".into())))
        );
        assert_eq!(
            settings(Some("https://flag.example".into()), None, env),
            Ok(Some(("https://flag.example".into(), "env-aud".into())))
        );
        assert!(settings(Some("https://flag.example".into()), None, none).is_err());
        assert!(settings(None, Some("aud".into()), none).is_err());
        assert!(
            verifier_for("http://issuer.example", "aud").is_err(),
            "https only"
        );
        assert!(verifier_for("https://issuer.example", "aud").is_ok());
    }
}
