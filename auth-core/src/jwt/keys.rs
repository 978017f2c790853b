//! Verification keys: static ones, and key sets fetched from a provider, kept, refreshed on a
//! timer ahead of rotation, and refetched once (single flight, rate-limited) when a token names
//! a key that is not known yet.
//!
//! # The refetch budget
//!
//! A token naming an unknown `kid` may make the store fetch the key set again, at most once per
//! `refetch_interval` (the budget), so that made-up `kid`s cannot hammer the provider. Alone, the
//! budget lets one made-up `kid` per interval spend every refetch and hold back a key the
//! provider has just published. So a fetch spent on a `kid` that the fetched set did not hold
//! (it cannot verify: made up, or not published yet) does not hold back a token naming
//! **another** unknown `kid`: that one may fetch once `refetch_gap` has passed since the last
//! fetch (default 1 s), and then the same rule applies to it (found: the budget again; not
//! found: the next other `kid` after the gap). A flood of made-up `kid`s thus costs the provider
//! at most one fetch per gap, and holds back a new key by at most the gap; the same made-up `kid`
//! again fetches nothing.
//!
//! # The refresh timer
//!
//! Providers publish a new key before they sign with it. When the key set is older than
//! `refresh_interval` (default 10 minutes), the next token starts a fetch in the background
//! (answered meanwhile with the keys known), so that a new key is usually known before the first
//! token names it.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::JwtConfigError;

/// The largest discovery document or key set read from a provider, in bytes.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// What kind of key this is; decides which algorithms it can ever verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Rsa,
    /// An EC key; the curve when known (from a JWK), `None` for a PEM key.
    Ec(Option<Curve>),
    Ed,
    Hmac,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
}

/// A verification key given when the verifier is built, for tests and closed setups where no
/// provider publishes a key set.
///
/// ```
/// use auth::jwt::StaticKey;
/// let key = StaticKey::hmac(b"a secret of at least 32 bytes, please").with_kid("k1");
/// assert_eq!(key.kid(), Some("k1"));
/// ```
#[derive(Clone)]
pub struct StaticKey {
    pub(super) key: Key,
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKey")
            .field("kid", &self.key.kid)
            .field("family", &self.key.family)
            .finish_non_exhaustive()
    }
}

impl StaticKey {
    /// An RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`): verifies RS256,
    /// RS384, RS512, PS256, PS384 and PS512.
    pub fn rsa_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        let decoding = DecodingKey::from_rsa_pem(pem)
            .map_err(|e| JwtConfigError(format!("invalid RSA public key: {e}")))?;
        Ok(StaticKey::of(Family::Rsa, decoding))
    }

    /// An EC public key (P-256 or P-384) in PEM: verifies ES256 and ES384.
    pub fn ec_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        let decoding = DecodingKey::from_ec_pem(pem)
            .map_err(|e| JwtConfigError(format!("invalid EC public key: {e}")))?;
        Ok(StaticKey::of(Family::Ec(None), decoding))
    }

    /// An Ed25519 public key in PEM: verifies EdDSA.
    pub fn ed_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        let decoding = DecodingKey::from_ed_pem(pem)
            .map_err(|e| JwtConfigError(format!("invalid Ed25519 public key: {e}")))?;
        Ok(StaticKey::of(Family::Ed, decoding))
    }

    /// A shared secret: verifies HS256, HS384 and HS512, and only those. A verifier with an
    /// HMAC key allows the HS algorithms; one without never does.
    pub fn hmac(secret: &[u8]) -> Self {
        StaticKey::of(Family::Hmac, DecodingKey::from_secret(secret))
    }

    /// A public key as a JWK (RFC 7517) JSON object; its `kid` and `alg`, when present, are kept.
    pub fn jwk(json: &str) -> Result<Self, JwtConfigError> {
        let jwk: Jwk =
            serde_json::from_str(json).map_err(|e| JwtConfigError(format!("invalid JWK: {e}")))?;
        Key::from_jwk(&jwk, true)
            .map(|key| StaticKey { key })
            .map_err(|e| JwtConfigError(format!("unusable JWK: {e}")))
    }

    /// The same key with this key id: a token whose header names a `kid` is verified only by
    /// the key of that id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.key.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.key.kid.as_deref()
    }

    fn of(family: Family, decoding: DecodingKey) -> Self {
        StaticKey {
            key: Key {
                kid: None,
                family,
                alg: None,
                decoding,
            },
        }
    }
}

/// One verification key, and what it may verify.
#[derive(Clone)]
pub(super) struct Key {
    pub(super) kid: Option<String>,
    pub(super) family: Family,
    /// The key's own `alg` (a JWK may pin it): then only this algorithm.
    pub(super) alg: Option<Algorithm>,
    pub(super) decoding: DecodingKey,
}

impl Key {
    /// Whether this key may verify a token signed with `alg`: the algorithm must belong to the
    /// key's type (an RSA or EC key never verifies an HMAC token) and match the key's own `alg`.
    pub(super) fn accepts(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        if self.alg.is_some_and(|own| own != alg) {
            return false;
        }
        match self.family {
            Family::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Family::Ec(Some(Curve::P256)) => alg == ES256,
            Family::Ec(Some(Curve::P384)) => alg == ES384,
            Family::Ec(None) => matches!(alg, ES256 | ES384),
            Family::Ed => alg == EdDSA,
            Family::Hmac => matches!(alg, HS256 | HS384 | HS512),
        }
    }

    /// A key from a JWK. Symmetric (`oct`) keys are refused unless `allow_secret` (a key set
    /// fetched over the network never carries secrets a verifier should trust).
    pub(super) fn from_jwk(jwk: &Jwk, allow_secret: bool) -> Result<Key, String> {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            return Err("an encryption key".into());
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Family::Rsa,
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => Family::Ec(Some(Curve::P256)),
                EllipticCurve::P384 => Family::Ec(Some(Curve::P384)),
                _ => return Err("an EC key on an unsupported curve".into()),
            },
            AlgorithmParameters::OctetKeyPair(_) => Family::Ed,
            AlgorithmParameters::OctetKey(_) if allow_secret => Family::Hmac,
            AlgorithmParameters::OctetKey(_) => return Err("a symmetric key".into()),
        };
        let alg = match &jwk.common.key_algorithm {
            None => None,
            Some(ka) => {
                let name = serde_json::to_value(ka).ok();
                let name = name.as_ref().and_then(Value::as_str).unwrap_or("");
                Some(
                    Algorithm::from_str(name)
                        .map_err(|_| format!("a key for algorithm {name}, not a signature"))?,
                )
            }
        };
        let decoding = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let key = Key {
            kid: jwk.common.key_id.clone(),
            family,
            alg,
            decoding,
        };
        if let Some(alg) = alg
            && !key.accepts(alg)
        {
            return Err(format!("its alg {alg:?} does not fit its key type"));
        }
        Ok(key)
    }
}

/// The keys known now.
#[derive(Default)]
pub(super) struct KeySet {
    keys: Vec<Key>,
    /// When the provider's set was fetched (`None`: keys given to the verifier).
    fetched: Option<Instant>,
}

/// Why no key verifies a token.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum KeyError {
    /// No key of that id (or, without a `kid`, no key for the algorithm), after a refetch when
    /// one was allowed.
    Unknown,
    /// The key named by `kid` cannot verify this algorithm.
    WrongType,
    /// The token has no `kid` and several keys could verify it.
    Ambiguous,
    /// The provider could not be reached (or answered nonsense) and no known key fits: 503.
    Unavailable,
}

impl KeySet {
    /// The key for a token's `kid` and `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<usize>, KeyError> {
        match kid {
            Some(kid) => match self.keys.iter().position(|k| k.kid.as_deref() == Some(kid)) {
                Some(at) if self.keys[at].accepts(alg) => Ok(Some(at)),
                Some(_) => Err(KeyError::WrongType),
                // A key without an id answers to any id.
                None => self.find_among(alg, |k| k.kid.is_none()),
            },
            None => self.find_among(alg, |_| true),
        }
    }

    /// The one key of `candidates` that accepts `alg`.
    fn find_among(
        &self,
        alg: Algorithm,
        candidates: impl Fn(&Key) -> bool,
    ) -> Result<Option<usize>, KeyError> {
        let mut fitting = (0..self.keys.len())
            .filter(|&at| candidates(&self.keys[at]) && self.keys[at].accepts(alg));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Ok(Some(key)),
            (Some(_), Some(_)) => Err(KeyError::Ambiguous),
            (None, _) => Ok(None),
        }
    }

    /// How many keys the set holds.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Where keys come from.
pub(super) enum Source {
    Static,
    /// `{issuer}/.well-known/openid-configuration` names the key set.
    Discovery(String),
    Jwks(String),
}

/// How often the key store fetches: see the [module](self).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// The deadline of one request to the provider.
    pub(super) fetch_timeout: Duration,
    /// The budget: the least time between two fetches caused by unknown `kid`s.
    pub(super) refetch_interval: Duration,
    /// After a fetch that did not find its `kid`, the least time before another unknown `kid`
    /// may fetch (at most `refetch_interval`).
    pub(super) refetch_gap: Duration,
    /// The age at which the key set is fetched again in the background; `None`: never.
    pub(super) refresh_interval: Option<Duration>,
}

/// The key store: the current key set, swapped whole on a refetch.
pub(super) struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    source: Source,
    http: Option<reqwest::Client>,
    /// Held by the one task that refetches; the others wait for it, then look again.
    fetch: tokio::sync::Mutex<FetchState>,
    timing: Timing,
    /// When the store was made: the origin of [`KeyStore::refresh_not_before`].
    base: Instant,
    /// No background refresh starts before this many milliseconds after `base` (0: any time).
    refresh_not_before: AtomicU64,
}

#[derive(Default)]
struct FetchState {
    /// The key set's URL, once discovery has named it.
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Whether the last attempt failed.
    failing: bool,
    /// How many fetches of the key set were attempted.
    attempts: u64,
    /// The `kid` (or its absence) that the last fetch was made for, when the fetched set did
    /// not hold a key for it: another unknown `kid` may then fetch after the gap.
    spent_on_unknown: Option<Option<String>>,
}

impl KeyStore {
    pub(super) fn new(
        source: Source,
        keys: Vec<Key>,
        timing: Timing,
    ) -> Result<KeyStore, JwtConfigError> {
        let fetch_timeout = timing.fetch_timeout;
        let http = match source {
            Source::Static => None,
            Source::Discovery(_) | Source::Jwks(_) => Some(
                reqwest::Client::builder()
                    .connect_timeout(fetch_timeout)
                    .timeout(fetch_timeout)
                    .redirect(reqwest::redirect::Policy::limited(3))
                    .build()
                    .map_err(|e| JwtConfigError(format!("cannot build the HTTP client: {e}")))?,
            ),
        };
        Ok(KeyStore {
            current: RwLock::new(Arc::new(KeySet {
                keys,
                fetched: None,
            })),
            source,
            http,
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            timing: Timing {
                refetch_gap: timing.refetch_gap.min(timing.refetch_interval),
                ..timing
            },
            base: Instant::now(),
            refresh_not_before: AtomicU64::new(0),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole key set: it is only ever swapped, never edited.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The key set, and the key in it for this `kid` and `alg`: fetched from the provider when
    /// unknown, within the refetch budget (see the [module](self)), by one task at a time. A
    /// key set older than the refresh interval is fetched again in the background.
    pub(super) async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(Arc<KeySet>, usize), KeyError> {
        let set = self.current();
        self.refresh_if_old(&set);
        if let Some(at) = position(&set, kid, alg)? {
            return Ok((set, at));
        }
        if matches!(self.source, Source::Static) {
            return Err(KeyError::Unknown);
        }
        let mut state = self.fetch.lock().await;
        // Another task may have refetched while this one waited.
        let set = self.current();
        if let Some(at) = position(&set, kid, alg)? {
            return Ok((set, at));
        }
        let since = |t: Instant| t.elapsed();
        let budget = state
            .last_attempt
            .is_none_or(|t| since(t) >= self.timing.refetch_interval);
        // The last fetch was spent on another kid that it did not find.
        let other_after_a_miss = state
            .spent_on_unknown
            .as_ref()
            .is_some_and(|spent| spent.as_deref() != kid)
            && state
                .last_attempt
                .is_none_or(|t| since(t) >= self.timing.refetch_gap);
        if !(budget || other_after_a_miss) {
            return Err(if state.failing {
                KeyError::Unavailable
            } else {
                KeyError::Unknown
            });
        }
        match self.fetch_now(&mut state).await {
            Ok(set) => match position(&set, kid, alg)? {
                Some(at) => {
                    state.spent_on_unknown = None;
                    Ok((set, at))
                }
                None => {
                    state.spent_on_unknown = Some(kid.map(str::to_owned));
                    Err(KeyError::Unknown)
                }
            },
            Err(_) => {
                state.spent_on_unknown = None;
                Err(KeyError::Unavailable)
            }
        }
    }

    /// Starts a fetch in the background when `set` (the one in use) is older than the refresh
    /// interval. One at a time: the task that starts it claims the next `refetch_interval`, so
    /// a provider that is down is asked again only after that; a successful fetch renews the set
    /// (its age starts again). Nothing without a Tokio runtime (the verifier then fetches only
    /// for unknown `kid`s).
    fn refresh_if_old(self: &Arc<Self>, set: &KeySet) {
        let (Some(every), Some(fetched)) = (self.timing.refresh_interval, set.fetched) else {
            return;
        };
        if fetched.elapsed() < every {
            return;
        }
        let now = millis(self.base.elapsed());
        let not_before = self.refresh_not_before.load(Ordering::Relaxed);
        if now < not_before {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let next = now.saturating_add(millis(self.timing.refetch_interval));
        let claimed = self.refresh_not_before.compare_exchange(
            not_before,
            next,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        if claimed.is_err() {
            return;
        }
        let store = self.clone();
        runtime.spawn(async move {
            let mut state = store.fetch.lock().await;
            // A fetch for an unknown kid may have renewed the set meanwhile.
            if store
                .current()
                .fetched
                .is_some_and(|t| t.elapsed() >= every)
                && store.fetch_now(&mut state).await.is_ok()
            {
                store.refresh_not_before.store(0, Ordering::Release);
            }
        });
    }

    /// Fetches the key set now and makes it current; the caller holds the fetch lock.
    async fn fetch_now(&self, state: &mut FetchState) -> Result<Arc<KeySet>, String> {
        state.last_attempt = Some(Instant::now());
        state.attempts += 1;
        match self.fetch_keys(state).await {
            Ok(keys) => {
                state.failing = false;
                let set = Arc::new(keys);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = set.clone();
                Ok(set)
            }
            Err(e) => {
                state.failing = true;
                Err(e)
            }
        }
    }

    /// Fetches the key set now (at start-up, say), whatever the rate limit.
    pub(super) async fn refresh(&self) -> Result<usize, String> {
        let mut state = self.fetch.lock().await;
        self.fetch_now(&mut state).await.map(|set| set.len())
    }

    /// How many key set fetches were attempted so far.
    pub(super) async fn fetch_attempts(&self) -> u64 {
        self.fetch.lock().await.attempts
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<KeySet, String> {
        let jwks_uri = match (&self.source, &state.jwks_uri) {
            (Source::Static, _) => return Err("static keys are not fetched".into()),
            (Source::Jwks(url), _) => url.clone(),
            (Source::Discovery(_), Some(url)) => url.clone(),
            (Source::Discovery(issuer), None) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let doc = self.get_json(&url).await?;
                // OpenID Connect Discovery 1.0 §4.3: the document's issuer is exactly ours.
                if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
                    return Err(format!("{url} names another issuer"));
                }
                let jwks = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url} has no jwks_uri"))?;
                check_url(jwks).map_err(|e| e.0)?;
                state.jwks_uri = Some(jwks.to_owned());
                jwks.to_owned()
            }
        };
        let set = match self.get_json(&jwks_uri).await {
            Ok(set) => set,
            Err(e) => {
                // Discover again next time: the provider may have moved its key set.
                state.jwks_uri = None;
                return Err(e);
            }
        };
        let listed = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{jwks_uri} is not a JWK set"))?;
        // A key this verifier cannot use (an encryption key, an unknown type) is skipped, not
        // fatal: the provider may publish more than signing keys.
        let keys: Vec<Key> = listed
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter_map(|jwk| Key::from_jwk(&jwk, false).ok())
            .collect();
        if keys.is_empty() {
            return Err(format!("{jwks_uri} has no usable signing key"));
        }
        Ok(KeySet {
            keys,
            fetched: Some(Instant::now()),
        })
    }

    /// GETs a JSON document of at most [`MAX_DOCUMENT`] bytes, within the client's timeouts.
    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let http = self.http.as_ref().ok_or("no HTTP client")?;
        let mut res = http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("GET {url}: status {}", res.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

/// `d` in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn position(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Result<Option<usize>, KeyError> {
    set.find(kid, alg)
}

impl KeySet {
    /// The key at `at` (from [`KeyStore::key_for`]).
    pub(super) fn key(&self, at: usize) -> &Key {
        &self.keys[at]
    }
}

/// An issuer or key set URL: `https`, or `http` to a loopback host only (a provider on the same
/// machine, as in tests); keys fetched over plain HTTP from elsewhere could be anyone's.
pub(super) fn check_url(url: &str) -> Result<(), JwtConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| JwtConfigError(format!("invalid URL {url:?}: {e}")))?;
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(JwtConfigError(format!(
            "{url:?} is not an https URL (plain http is allowed to a loopback host only)"
        ))),
    }
}
