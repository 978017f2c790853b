//! Bearer JWT verification for OAuth 2.0 / OpenID Connect access tokens (feature `jwt`).
//!
//! A [`JwtVerifier`] checks a token and turns its claims into the [`AuthUser`] that
//! authorization handlers see. An `#[auth::authenticate]` handler calls it in one line:
//!
//! ```
//! use std::sync::LazyLock;
//! use auth::jwt::JwtVerifier;
//! use auth::{AuthUser, HttpException};
//!
//! static VERIFIER: LazyLock<JwtVerifier> = LazyLock::new(|| {
//!     JwtVerifier::from_issuer("https://accounts.example.com")
//!         .audience("my-api")
//!         .build()
//!         .expect("an https issuer URL")
//! });
//!
//! #[auth::authenticate]
//! async fn authenticate(authorization: Option<&str>) -> Result<AuthUser, HttpException> {
//!     VERIFIER.verify_bearer(authorization).await
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! let refused = VERIFIER.verify_bearer(Some("Bearer not-a-jwt")).await.unwrap_err();
//! assert_eq!(refused.status(), 401);
//! assert_eq!(refused.detail(), "Invalid token: the token is malformed");
//! let (name, value) = refused.headers().next().unwrap();
//! assert_eq!(name, "WWW-Authenticate");
//! assert_eq!(value, r#"Bearer error="invalid_token", error_description="the token is malformed""#);
//! # });
//! ```
//!
//! # What is checked
//!
//! - **Size**: a token longer than [`max_token_len`](JwtVerifierBuilder::max_token_len)
//!   (default 8 KiB) is refused before anything else is read.
//! - **Algorithm**: from an allow-list ([`algorithms`](JwtVerifierBuilder::algorithms)), and
//!   bound to the key's type: an RSA key verifies only `RS*`/`PS*`, an EC key only `ES256`
//!   (P-256) or `ES384` (P-384), an Ed25519 key only `EdDSA`, and only a shared secret given as
//!   [`StaticKey::hmac`] verifies `HS*`. So an RSA public key used as an HMAC secret (the
//!   algorithm-confusion attack) never verifies anything, and `alg: none` is always refused.
//!   A key's own `alg` (a JWK may carry one) narrows it to that algorithm.
//! - **Signature**: by [`jsonwebtoken`](https://docs.rs/jsonwebtoken) with its pure-Rust
//!   (RustCrypto) backend; nothing of it is written here.
//! - **Claims**: `iss` equals the issuer (when one is known), `aud` contains the
//!   [`audience`](JwtVerifierBuilder::audience) (required when one is configured), `exp` is
//!   required, `exp` and `nbf` are checked with a [`leeway`](JwtVerifierBuilder::leeway)
//!   (default 60 s), and `sub` is a non-empty string.
//!
//! # Keys
//!
//! From an issuer ([`JwtVerifier::from_issuer`]: OpenID discovery names the key set), a key set
//! URL ([`JwtVerifier::from_jwks_url`]) or keys of your own ([`JwtVerifier::from_keys`]).
//! A fetched key set is kept, and fetched again in the background once it is older than
//! [`refresh_interval`](JwtVerifierBuilder::refresh_interval) (default 10 minutes): providers
//! publish a new key before they sign with it, so the verifier usually knows it before the first
//! token names it. A token whose `kid` is not in the set makes the verifier fetch the set again,
//! once: concurrent requests wait for that one fetch, and such fetches happen at most once per
//! [`refetch_interval`](JwtVerifierBuilder::refetch_interval) (default 30 s), so a flood of
//! made-up `kid`s cannot hammer the provider. A fetch spent on a `kid` the provider does not
//! have (made up) does not hold back a token naming another unknown `kid`: that one may fetch
//! after [`refetch_gap`](JwtVerifierBuilder::refetch_gap) (default 1 s), so made-up `kid`s delay a
//! newly published key by at most the gap, and cost the provider at most one fetch per gap.
//! Keys rotated at the provider are so picked up without a restart. Each fetch has a deadline
//! ([`fetch_timeout`](JwtVerifierBuilder::fetch_timeout), default 5 s). While the provider is
//! down, tokens signed by a known key still verify; a token no known key fits is answered 503
//! `{"detail": …}`.
//!
//! # Verified tokens are cached
//!
//! A client sends the same token on every request; the verifier keeps each verified token's user
//! in a bounded cache ([`cache_capacity`](JwtVerifierBuilder::cache_capacity), default 10 000),
//! keyed by the SHA-256 of the token (the token itself is not kept) and valid until the token's
//! `exp`, so a repeated token costs a hash and a lookup instead of a signature check. The cache
//! is `quick_cache`'s (S3-FIFO eviction: entries seen once leave first). A key removed from the
//! provider's set does not evict the tokens it verified before: they stay valid until `exp`.
//!
//! # Claims to user
//!
//! `sub` is the identity; permissions come from `scope` (space-separated), `scp` (a string or an
//! array) and `permissions` (an array) — [`permission_claims`](JwtVerifierBuilder::permission_claims)
//! changes the list; the display name is the first of `name`, `preferred_username` and `email`
//! present ([`display_name_claims`](JwtVerifierBuilder::display_name_claims)); every other claim
//! (but `sub` and the user's own field names) is an extra field, read with
//! [`AuthUser::get`] (`user.get("iss")`, `user.get("client_id")`…).
//!
//! # Errors
//!
//! A refused token is a 401 [`HttpException`] with
//! `WWW-Authenticate: Bearer error="invalid_token", error_description="<what failed>"`
//! (RFC 6750) and the detail `Invalid token: <what failed>` (expired, wrong audience, bad
//! signature…); the token is never echoed. A missing `Authorization` header is a 401 with
//! `WWW-Authenticate: Bearer`. A provider that cannot be reached when no known key fits is a 503.

mod keys;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use jsonwebtoken::Algorithm;
pub use keys::StaticKey;

use crate::{AuthUser, HttpException, MinimalUser};
use keys::{KeyError, KeyStore, Source};

/// A configuration the verifier cannot be built from: an invalid or non-https URL, a key that
/// does not parse, no key at all, an empty algorithm list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfigError(String);

impl std::fmt::Display for JwtConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwtConfigError {}

/// Verifies bearer JWTs and turns their claims into users; see the [module](self) for what it
/// checks. Cloning is cheap (a reference count): clones share keys and cache.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Arc<KeyStore>,
    /// One validation per allowed algorithm: jsonwebtoken wants every algorithm of a validation
    /// to be of the key's type.
    validations: Vec<(Algorithm, Validation)>,
    max_token_len: usize,
    permission_claims: Vec<String>,
    display_name_claims: Vec<String>,
    /// `None` with a capacity of 0.
    cache: Option<quick_cache::sync::Cache<[u8; 32], Verified>>,
}

/// A verified token's user, valid until `exp`.
#[derive(Clone)]
struct Verified {
    user: AuthUser,
    exp: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.inner.validations[0].1.iss)
            .field("audience", &self.inner.validations[0].1.aud)
            .field(
                "algorithms",
                &self
                    .inner
                    .validations
                    .iter()
                    .map(|(a, _)| a)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// How a [`JwtVerifier`] is set up; from [`JwtVerifier::from_issuer`],
/// [`JwtVerifier::from_jwks_url`] or [`JwtVerifier::from_keys`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct JwtVerifierBuilder {
    discovery: Option<String>,
    jwks_url: Option<String>,
    keys: Vec<StaticKey>,
    issuer: Option<String>,
    audiences: Vec<String>,
    leeway: Duration,
    algorithms: Option<Vec<Algorithm>>,
    max_token_len: usize,
    fetch_timeout: Duration,
    refetch_interval: Duration,
    refetch_gap: Duration,
    refresh_interval: Option<Duration>,
    cache_capacity: usize,
    permission_claims: Vec<String>,
    display_name_claims: Vec<String>,
}

impl JwtVerifierBuilder {
    fn new() -> Self {
        JwtVerifierBuilder {
            discovery: None,
            jwks_url: None,
            keys: Vec::new(),
            issuer: None,
            audiences: Vec::new(),
            leeway: Duration::from_secs(60),
            algorithms: None,
            max_token_len: 8 * 1024,
            fetch_timeout: Duration::from_secs(5),
            refetch_interval: Duration::from_secs(30),
            refetch_gap: Duration::from_secs(1),
            refresh_interval: Some(Duration::from_secs(600)),
            cache_capacity: 10_000,
            permission_claims: ["scope", "scp", "permissions"].map(String::from).to_vec(),
            display_name_claims: ["name", "preferred_username", "email"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// The `iss` every token must carry. Set by [`JwtVerifier::from_issuer`]; for a key set
    /// URL or static keys, unchecked unless set here.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// An accepted audience: once any is set, every token's `aud` must contain one of them.
    /// Without one, `aud` is not checked (set it: a token for another API of the same provider
    /// would pass otherwise).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The clock skew allowed on `exp` and `nbf` (default 60 s; whole seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The algorithms accepted (default: `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`,
    /// `ES256`, `ES384`, `EdDSA`, plus `HS256`, `HS384`, `HS512` when an HMAC key is given).
    /// Each still needs a key of its type.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The longest token accepted, in bytes (default 8192).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// The deadline of one discovery or key set request, connection included (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The least time between two key set fetches caused by unknown `kid`s (default 30 s): the
    /// refetch budget. A provider that cannot be reached is asked again after it.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// After a fetch caused by an unknown `kid` that the fetched set did not hold either (a
    /// made-up one), the least time before a token naming **another** unknown `kid` may fetch
    /// again, within the budget or not (default 1 s; at most the refetch interval). It bounds
    /// both how long made-up `kid`s can hold back a newly published key and how often they make
    /// the verifier ask the provider; the same `kid` again never fetches within the budget.
    pub fn refetch_gap(mut self, gap: Duration) -> Self {
        self.refetch_gap = gap;
        self
    }

    /// How old the fetched key set may get before it is fetched again in the background, ahead
    /// of the provider's rotation (default 10 minutes; `None`: only when a token names an
    /// unknown `kid`). The token that finds the set old is answered with the keys known; the
    /// fetch runs on the Tokio runtime the verifier is called on.
    pub fn refresh_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.refresh_interval = interval.into();
        self
    }

    /// How many verified tokens are kept (default 10 000; 0 keeps none).
    pub fn cache_capacity(mut self, tokens: usize) -> Self {
        self.cache_capacity = tokens;
        self
    }

    /// The claims permissions are read from, in order (default `scope`, `scp`, `permissions`):
    /// a string is split at spaces, an array gives its strings.
    pub fn permission_claims<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permission_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The claims the display name is read from: the first one present that is a string
    /// (default `name`, `preferred_username`, `email`).
    pub fn display_name_claims<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.display_name_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The verifier. Nothing is fetched yet: keys are fetched on the first token (or by
    /// [`JwtVerifier::refresh_keys`]), so a server starts even while its provider is down.
    pub fn build(self) -> Result<JwtVerifier, JwtConfigError> {
        let source = match (self.discovery, self.jwks_url) {
            (Some(issuer), _) => {
                keys::check_url(&issuer)?;
                Source::Discovery(issuer)
            }
            (None, Some(url)) => {
                keys::check_url(&url)?;
                Source::Jwks(url)
            }
            (None, None) if self.keys.is_empty() => {
                return Err(JwtConfigError("no verification key given".into()));
            }
            (None, None) => Source::Static,
        };
        let has_hmac = self.keys.iter().any(|k| k.key.family == keys::Family::Hmac);
        let algorithms = self.algorithms.unwrap_or_else(|| {
            use Algorithm::*;
            let mut all = vec![
                RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
            ];
            if has_hmac {
                all.extend([HS256, HS384, HS512]);
            }
            all
        });
        if algorithms.is_empty() {
            return Err(JwtConfigError("no algorithm allowed".into()));
        }
        let mut validation = Validation::new(algorithms[0]);
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        let keys = KeyStore::new(
            source,
            self.keys.into_iter().map(|k| k.key).collect(),
            keys::Timing {
                fetch_timeout: self.fetch_timeout,
                refetch_interval: self.refetch_interval,
                refetch_gap: self.refetch_gap,
                refresh_interval: self.refresh_interval,
            },
        )?;
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                keys: Arc::new(keys),
                validations: algorithms
                    .iter()
                    .map(|&alg| {
                        let mut v = validation.clone();
                        v.algorithms = vec![alg];
                        (alg, v)
                    })
                    .collect(),
                max_token_len: self.max_token_len,
                permission_claims: self.permission_claims,
                display_name_claims: self.display_name_claims,
                cache: (self.cache_capacity > 0)
                    .then(|| quick_cache::sync::Cache::new(self.cache_capacity)),
            }),
        })
    }
}

impl JwtVerifier {
    /// A verifier for an OpenID Connect issuer: its key set is named by
    /// `{issuer}/.well-known/openid-configuration`, and every token's `iss` must be `issuer`.
    /// The URL is `https` (plain `http` only to a loopback host).
    pub fn from_issuer(issuer: impl Into<String>) -> JwtVerifierBuilder {
        let issuer = issuer.into();
        JwtVerifierBuilder {
            discovery: Some(issuer.clone()),
            ..JwtVerifierBuilder::new().issuer(issuer)
        }
    }

    /// A verifier for the JWK set at `url` (`https`, or `http` to a loopback host); `iss` is
    /// checked only if [`issuer`](JwtVerifierBuilder::issuer) is set.
    pub fn from_jwks_url(url: impl Into<String>) -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            jwks_url: Some(url.into()),
            ..JwtVerifierBuilder::new()
        }
    }

    /// A verifier for these keys only, nothing fetched.
    ///
    /// ```
    /// use auth::jwt::{JwtVerifier, StaticKey};
    /// let verifier = JwtVerifier::from_keys([StaticKey::hmac(b"0123456789abcdef0123456789abcdef")])
    ///     .issuer("https://issuer.example")
    ///     .audience("my-api")
    ///     .build()
    ///     .unwrap();
    /// # let _ = verifier;
    /// ```
    pub fn from_keys(keys: impl IntoIterator<Item = StaticKey>) -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            keys: keys.into_iter().collect(),
            ..JwtVerifierBuilder::new()
        }
    }

    /// Verifies the token of an `Authorization: Bearer <token>` header (the argument of an
    /// `#[auth::authenticate]` handler). No header is a 401 with `WWW-Authenticate: Bearer`;
    /// another scheme or a malformed header a 401 `invalid_request`; a bad token as
    /// [`verify`](Self::verify).
    pub async fn verify_bearer(
        &self,
        authorization: Option<&str>,
    ) -> Result<AuthUser, HttpException> {
        let Some(header) = authorization else {
            return Err(HttpException::new(401)
                .with_detail("Missing authorization header")
                .with_header("WWW-Authenticate", "Bearer"));
        };
        let header = header.trim_ascii();
        let token = match header.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim_ascii(),
            _ => {
                return Err(bad_request(
                    "the Authorization header is not Bearer <token>",
                ));
            }
        };
        if token.is_empty() || token.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(bad_request(
                "the Authorization header is not Bearer <token>",
            ));
        }
        self.verify(token).await
    }

    /// Verifies a token and returns its user; a repeated token is answered from the cache until
    /// its `exp`. Errors: 401 for a token that is not valid, 503 when no known key fits and the
    /// provider cannot be reached.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, HttpException> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_len {
            return Err(invalid_token(Cow::Owned(format!(
                "the token is longer than {} bytes",
                inner.max_token_len
            ))));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now();
        if let Some(cache) = &inner.cache
            && let Some(hit) = cache.get(&digest)
        {
            if now < hit.exp {
                return Ok(hit.user);
            }
            cache.remove(&digest);
        }
        let verified = self.verify_uncached(token).await?;
        match &inner.cache {
            // Expired but within the leeway: valid, not kept.
            Some(cache) if now < verified.exp => {
                let user = verified.user.clone();
                cache.insert(digest, verified);
                Ok(user)
            }
            _ => Ok(verified.user),
        }
    }

    /// Fetches the provider's key set now, whatever the refetch interval: at start-up, to find
    /// a misconfigured issuer early. Returns how many usable keys it holds.
    pub async fn refresh_keys(&self) -> Result<usize, JwtConfigError> {
        self.inner.keys.refresh().await.map_err(JwtConfigError)
    }

    /// How many times the key set was fetched (or a fetch was attempted) so far.
    pub async fn key_fetches(&self) -> u64 {
        self.inner.keys.fetch_attempts().await
    }

    /// How many verified tokens the cache holds now.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, |c| c.len())
    }

    #[inline(never)]
    async fn verify_uncached(&self, token: &str) -> Result<Verified, HttpException> {
        let inner = &*self.inner;
        let header = read_header(token)?;
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(invalid_token("the token is unsigned (alg none)".into()));
        }
        let alg: Algorithm = header
            .alg
            .parse()
            .map_err(|_| invalid_token("the token's algorithm is not supported".into()))?;
        let Some((_, validation)) = inner.validations.iter().find(|(a, _)| *a == alg) else {
            return Err(invalid_token(Cow::Owned(format!(
                "the algorithm {alg:?} is not allowed"
            ))));
        };
        if header.crit.is_some() {
            return Err(invalid_token(
                "the token has critical header parameters (crit)".into(),
            ));
        }
        let (set, at) = inner
            .keys
            .key_for(header.kid.as_deref(), alg)
            .await
            .map_err(|e| match e {
                KeyError::Unknown => invalid_token("the token's signing key (kid) is unknown".into()),
                KeyError::WrongType => invalid_token(Cow::Owned(format!(
                    "the algorithm {alg:?} does not match the type of the key named by kid"
                ))),
                KeyError::Ambiguous => invalid_token(
                    "the token names no key (kid) and several keys could verify it".into(),
                ),
                KeyError::Unavailable => HttpException::new(503).with_detail(
                    "Cannot verify the token: no known key fits it and the identity provider cannot be reached",
                ),
            })?;
        let key = set.key(at);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, validation)
            .map_err(|e| invalid_token(describe(e.kind())))?;
        self.user_from_claims(data.claims)
    }

    fn user_from_claims(&self, mut claims: Map<String, Value>) -> Result<Verified, HttpException> {
        let identity = match claims.remove("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => {
                return Err(invalid_token(
                    "the token's subject (sub) is not a non-empty string".into(),
                ));
            }
        };
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
            .unwrap_or(0);
        let mut permissions: Vec<String> = Vec::new();
        for name in &self.inner.permission_claims {
            let mut add = |p: &str| {
                if !p.is_empty() && !permissions.iter().any(|q| q == p) {
                    permissions.push(p.to_owned());
                }
            };
            match claims.get(name.as_str()) {
                Some(Value::String(s)) => s.split(' ').for_each(&mut add),
                Some(Value::Array(items)) => {
                    items.iter().filter_map(Value::as_str).for_each(&mut add)
                }
                _ => {}
            }
        }
        let display_name = self
            .inner
            .display_name_claims
            .iter()
            .find_map(|name| claims.get(name.as_str()).and_then(Value::as_str))
            .map(str::to_owned);
        let mut user = MinimalUser::new(identity).with_permissions(permissions);
        if let Some(name) = display_name {
            user = user.with_display_name(name);
        }
        for (name, value) in claims {
            if !matches!(
                name.as_str(),
                "identity" | "display_name" | "is_authenticated" | "permissions" | "kind"
            ) {
                user = user.with_field(name, value);
            }
        }
        Ok(Verified {
            user: user.into(),
            exp,
        })
    }
}

/// The header fields read before the key is chosen.
#[derive(serde::Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

/// The token's header, from its first segment; the token must have three segments.
fn read_header(token: &str) -> Result<RawHeader, HttpException> {
    let malformed = || invalid_token("the token is malformed".into());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}

/// What failed, for the client: fixed words, never the token's content.
fn describe(kind: &ErrorKind) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        ErrorKind::InvalidSignature => "the signature does not match",
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer (iss) is not the expected one",
        ErrorKind::InvalidAudience => "the token's audience (aud) is not the expected one",
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key",
        ErrorKind::MissingRequiredClaim(claim) => {
            return Cow::Owned(format!(
                "the token has no {} claim",
                match claim.as_str() {
                    "exp" | "sub" | "iss" | "aud" | "nbf" => claim.as_str(),
                    _ => "required",
                }
            ));
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            return Cow::Owned(format!(
                "the token's {} claim is not a number",
                match claim.as_str() {
                    "exp" | "nbf" | "iat" => claim.as_str(),
                    _ => "time",
                }
            ));
        }
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => "the token is malformed",
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey => {
            "the token's key cannot verify it"
        }
        _ => "the token is not valid",
    })
}

/// 401 with RFC 6750's `invalid_token`. `what` is plain ASCII without quotes or backslashes,
/// as `error_description` requires.
#[cold]
fn invalid_token(what: Cow<'static, str>) -> HttpException {
    HttpException::new(401)
        .with_header(
            "WWW-Authenticate",
            format!(r#"Bearer error="invalid_token", error_description="{what}""#),
        )
        .with_detail(format!("Invalid token: {what}"))
}

#[cold]
fn bad_request(what: &'static str) -> HttpException {
    HttpException::new(401)
        .with_header(
            "WWW-Authenticate",
            format!(r#"Bearer error="invalid_request", error_description="{what}""#),
        )
        .with_detail(format!("Invalid authorization header: {what}"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
