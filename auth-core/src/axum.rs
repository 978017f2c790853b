//! Authentication for [axum](https://docs.rs/axum) apps: [`AuthLayer`] authenticates every request
//! before routing, answers failures as LangGraph does (`{"detail": …}` with the exception's status
//! and headers), and hands the user to handlers through the [`Authenticated`] extractor.
//!
//! ```
//! use std::sync::Arc;
//! use auth::axum::{AuthLayer, Authenticated};
//! use axum::{Router, routing::get};
//!
//! async fn whoami(user: Authenticated) -> String {
//!     user.identity().to_owned()
//! }
//!
//! let auth = Arc::new(auth::Auth::builder().build().unwrap());
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .layer(AuthLayer::new(auth));
//! # drop(app);
//! ```
//!
//! The authenticate handler sees the method, path, query string and headers; and the JSON body
//! when it takes `body` or `request` (the layer then reads the body, up to
//! [`AuthLayer::with_body_limit`], and hands the same bytes on to the app). It sees no path
//! parameters: the layer runs before routing.
//!
//! A handler that never answers would hold its request forever: give the layer a deadline with
//! [`AuthLayer::with_timeout`], after which the request is answered 504 `{"detail": …}` (no deadline
//! by default; the layer then needs a tokio runtime with timers, as axum servers have).
//!
//! A route that serves anonymous and signed-in users alike takes `Option<Authenticated>`; an
//! [`HttpException`] is a response ([`IntoResponse`]), so a route returns
//! `Result<_, HttpException>` and answers as LangGraph does.
//!
//! ```
//! use auth::HttpException;
//! use auth::axum::Authenticated;
//!
//! async fn greeting(user: Option<Authenticated>) -> Result<String, HttpException> {
//!     match user {
//!         Some(user) => Ok(format!("hello {}", user.identity())),
//!         None => Err(HttpException::new(401).with_detail("sign in first")),
//!     }
//! }
//! let _: axum::routing::MethodRouter = axum::routing::get(greeting);
//! ```

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::{Auth, AuthUser, HeaderSource, HttpException, Request};

impl HeaderSource for HeaderMap {
    fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(HeaderValue::as_bytes)
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (name, value) in self {
            f(name.as_str(), value.as_bytes());
        }
    }

    /// Looks the header up by its known name, without parsing a name string.
    fn authorization(&self) -> Option<&[u8]> {
        self.get(axum::http::header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
    }
}

/// The paths that skip authentication unless [`AuthLayer::with_public_paths`] says otherwise:
/// LangGraph's health check, server info and API docs.
pub const DEFAULT_PUBLIC_PATHS: [&str; 4] = ["/ok", "/info", "/docs", "/openapi.json"];

/// A tower [`Layer`] that authenticates every request with an [`Auth`].
///
/// On success the user is put in the request's extensions as [`Authenticated`]; on failure the
/// request never reaches the app and the client gets the exception's status, headers and
/// `{"detail": …}`. Requests for a [public path](DEFAULT_PUBLIC_PATHS) pass unauthenticated.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Arc<Auth>,
    public: Arc<[Cow<'static, str>]>,
    timeout: Option<Duration>,
    body_limit: usize,
}

/// The largest body the layer reads for an authenticate handler that takes the body: 2 MiB,
/// axum's own default limit.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl AuthLayer {
    /// A layer authenticating with `auth`, with the [default public paths](DEFAULT_PUBLIC_PATHS).
    pub fn new(auth: impl Into<Arc<Auth>>) -> Self {
        AuthLayer {
            auth: auth.into(),
            public: DEFAULT_PUBLIC_PATHS
                .iter()
                .map(|p| Cow::Borrowed(*p))
                .collect(),
            timeout: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The largest body read for an authenticate handler that takes `body` or `request`
    /// (default [`DEFAULT_BODY_LIMIT`]); a larger one is answered 413 before authentication.
    /// Bodies are read only when the handler takes them.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest body read for the authenticate handler, set with
    /// [`with_body_limit`](AuthLayer::with_body_limit).
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Gives authentication a deadline: a request whose authenticate handler has not answered
    /// within `limit` is answered 504 with a `{"detail": …}` naming the handler, and the handler's
    /// future is dropped. Without it (the default) the layer waits as long as the handler takes.
    ///
    /// ```
    /// # let auth = auth::Auth::builder().build().unwrap();
    /// use std::time::Duration;
    /// let layer = auth::axum::AuthLayer::new(auth).with_timeout(Duration::from_secs(10));
    /// assert_eq!(layer.timeout(), Some(Duration::from_secs(10)));
    /// ```
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The deadline set with [`with_timeout`](AuthLayer::with_timeout), if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Replaces the public paths: exact paths that skip authentication.
    ///
    /// ```
    /// # let auth = auth::Auth::builder().build().unwrap();
    /// let layer = auth::axum::AuthLayer::new(auth).with_public_paths(["/ok", "/metrics"]);
    /// assert!(layer.is_public("/metrics"));
    /// assert!(!layer.is_public("/docs"));
    /// ```
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_public_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Cow<'static, str>>,
    {
        self.public = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Whether `path` skips authentication.
    pub fn is_public(&self, path: &str) -> bool {
        self.public.iter().any(|p| p == path)
    }

    /// The dispatcher this layer authenticates with.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around an app.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<axum::extract::Request> for AuthService<S>
where
    S: Service<axum::extract::Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::extract::Request) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone serves the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            if !layer.is_public(req.uri().path()) {
                // Read and parse the body only for a handler that takes it; the app then gets
                // the same bytes.
                let mut json = None;
                if layer.auth.read_body() {
                    let (parts, body) = req.into_parts();
                    let Ok(bytes) = axum::body::to_bytes(body, layer.body_limit).await else {
                        let e = HttpException::new(413).with_detail(format!(
                            "the request body exceeds {} bytes",
                            layer.body_limit
                        ));
                        return Ok(e.into_response());
                    };
                    json = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                    req = axum::extract::Request::from_parts(parts, Body::from(bytes));
                }
                let outcome = {
                    let request = Request::new(req.method().as_str(), req.uri().path())
                        .with_query(req.uri().query().unwrap_or(""))
                        .with_headers(req.headers())
                        .with_body(json.as_ref());
                    let work = layer.auth.authenticate(&request);
                    match layer.timeout {
                        None => work.await,
                        Some(limit) => tokio::time::timeout(limit, work)
                            .await
                            .unwrap_or_else(|_| Err(timed_out(&layer.auth, limit))),
                    }
                };
                match outcome {
                    Ok(user) => {
                        req.extensions_mut().insert(Authenticated(user));
                    }
                    Err(e) => return Ok(e.into_response()),
                }
            }
            Ok(inner.call(req).await.into_response())
        })
    }
}

/// The 504 for an authenticate handler that missed its deadline.
fn timed_out(auth: &Auth, limit: Duration) -> HttpException {
    let handler = auth.authenticate_handler().map_or_else(
        || "authentication".to_owned(),
        |h| format!("the handler {}", h.location()),
    );
    HttpException::new(504).with_detail(format!(
        "{handler} did not answer within {} ms",
        limit.as_millis()
    ))
}

/// The exception as LangGraph answers it: its status, its headers and `{"detail": …}`.
///
/// Headers whose name or value is not valid HTTP are left out.
///
/// ```
/// use auth::HttpException;
/// use axum::response::IntoResponse;
///
/// let response = HttpException::new(401)
///     .with_detail("Invalid token")
///     .with_header("WWW-Authenticate", "Bearer")
///     .into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["www-authenticate"], "Bearer");
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
impl IntoResponse for HttpException {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

fn error_response(e: &HttpException) -> Response {
    let body = serde_json::to_vec(e).unwrap_or_else(|_| b"{\"detail\":\"error\"}".to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in e.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    response
}

/// The authenticated user of a request, put there by [`AuthLayer`]; an axum extractor.
/// Cloning it is cheap: [`AuthUser`] shares its data.
///
/// Extracting it on a route the layer does not cover (or a public path) is a 500: that is a
/// wiring mistake, not the client's.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AuthUser);

impl Deref for Authenticated {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| {
                HttpException::internal(
                    "no authenticated user: is AuthLayer installed on this route?",
                )
                .into_response()
            })
    }
}

/// `Option<Authenticated>`, for routes that also serve requests without a user: `None` on a
/// public path (or a route the layer does not cover), never a rejection.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<Authenticated>().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{UserFuture, user_future};
    use axum::http::Request as HttpRequest;

    fn by_token<'a>(request: &'a Request<'a>) -> UserFuture<'a> {
        user_future(async move {
            match request.headers().get("authorization") {
                Some("Bearer good") => Ok(AuthUser::new("u1")),
                _ => Err(HttpException::new(401)
                    .with_detail("Invalid token")
                    .with_header("WWW-Authenticate", "Bearer")),
            }
        })
    }

    #[derive(Clone)]
    struct Echo;

    impl Service<axum::extract::Request> for Echo {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: axum::extract::Request) -> Self::Future {
            let who = req
                .extensions()
                .get::<Authenticated>()
                .map_or("nobody".to_owned(), |u| u.identity().to_owned());
            std::future::ready(Ok(Response::new(Body::from(who))))
        }
    }

    async fn send(layer: &AuthLayer, path: &str, token: Option<&str>) -> (u16, String, Response) {
        let mut req = HttpRequest::builder().uri(path);
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let mut svc = layer.layer(Echo);
        let response = svc.call(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        (status, text, Response::from_parts(parts, Body::empty()))
    }

    #[tokio::test]
    async fn authenticates_or_answers_the_exception() {
        let auth = Auth::builder()
            .authenticate("by_token", by_token)
            .build()
            .unwrap();
        let layer = AuthLayer::new(auth);
        let (status, body, _) = send(&layer, "/threads", Some("Bearer good")).await;
        assert_eq!((status, body.as_str()), (200, "u1"));
        let (status, body, response) = send(&layer, "/threads?x=1", Some("Bearer bad")).await;
        assert_eq!(status, 401);
        assert_eq!(body, r#"{"detail":"Invalid token"}"#);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.headers()["content-type"], "application/json");
        let (status, _, _) = send(&layer, "/threads", None).await;
        assert_eq!(status, 401);
        // Public paths skip authentication and carry no user.
        let (status, body, _) = send(&layer, "/ok", None).await;
        assert_eq!((status, body.as_str()), (200, "nobody"));
        let layer = layer.with_public_paths(["/metrics"]);
        assert_eq!(send(&layer, "/ok", None).await.0, 401);
        assert_eq!(send(&layer, "/metrics", None).await.0, 200);
    }

    #[tokio::test]
    async fn an_optional_user_is_none_without_authentication_and_some_with_it() {
        async fn who(user: Option<Authenticated>) -> String {
            user.map_or_else(|| "anonymous".to_owned(), |u| u.identity().to_owned())
        }
        async fn refuse() -> Result<String, HttpException> {
            Err(HttpException::new(409).with_header("X-Why", "conflict"))
        }
        let auth = Auth::builder()
            .authenticate("by_token", by_token)
            .build()
            .unwrap();
        let mut app: axum::Router = axum::Router::new()
            .route("/ok", axum::routing::get(who))
            .route("/me", axum::routing::get(who))
            .route("/refuse", axum::routing::get(refuse))
            .layer(AuthLayer::new(auth).with_public_paths(["/ok", "/refuse"]));
        for (path, token, status, expected) in [
            ("/ok", None, 200, "anonymous"),
            ("/ok", Some("Bearer good"), 200, "anonymous"),
            ("/me", Some("Bearer good"), 200, "u1"),
            ("/me", None, 401, r#"{"detail":"Invalid token"}"#),
            ("/refuse", None, 409, r#"{"detail":"Conflict"}"#),
        ] {
            let mut req = HttpRequest::builder().uri(path);
            if let Some(t) = token {
                req = req.header("authorization", t);
            }
            let response = app.call(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.status(), status, "{path}");
            if path == "/refuse" {
                assert_eq!(response.headers()["x-why"], "conflict");
            }
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), expected, "{path}");
        }
    }

    #[test]
    fn a_header_map_finds_the_first_authorization_header_in_any_case() {
        let mut map = HeaderMap::new();
        assert_eq!(
            Request::new("GET", "/").with_headers(&map).authorization(),
            None
        );
        map.append("x-other", HeaderValue::from_static("x"));
        map.append("Authorization", HeaderValue::from_static("Bearer a"));
        map.append("AUTHORIZATION", HeaderValue::from_static("Bearer b"));
        let request = Request::new("GET", "/").with_headers(&map);
        assert_eq!(request.authorization(), Some(&b"Bearer a"[..]));
        assert_eq!(request.headers().get("Authorization"), Some("Bearer a"));
    }

    fn never<'a>(_: &'a Request<'a>) -> UserFuture<'a> {
        user_future(std::future::pending())
    }

    #[tokio::test]
    async fn a_handler_that_never_answers_is_a_504() {
        let auth = Auth::builder()
            .authenticate("never", never)
            .build()
            .unwrap();
        let layer = AuthLayer::new(auth).with_timeout(Duration::from_millis(20));
        let (status, body, response) = send(&layer, "/threads", Some("Bearer good")).await;
        assert_eq!(status, 504);
        assert!(body.contains("the handler `never`"), "{body}");
        assert!(body.contains("did not answer within 20 ms"), "{body}");
        assert_eq!(response.headers()["content-type"], "application/json");
        // Public paths do not wait for the handler.
        assert_eq!(send(&layer, "/ok", None).await.0, 200);
    }

    /// A service that answers with the body it received.
    #[derive(Clone)]
    struct BodyEcho;

    impl Service<axum::extract::Request> for BodyEcho {
        type Response = Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: axum::extract::Request) -> Self::Future {
            Box::pin(async move {
                let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
                    .await
                    .unwrap();
                Ok(Response::new(Body::from(bytes)))
            })
        }
    }

    #[tokio::test]
    async fn a_handler_taking_the_body_gets_it_and_the_app_too() {
        fn by_body<'a>(request: &'a Request<'a>) -> UserFuture<'a> {
            user_future(async move {
                match request.body().and_then(|b| b["user"].as_str()) {
                    Some(user) => Ok(AuthUser::new(user.to_owned())),
                    None => Err(HttpException::new(401).with_detail("no user in the body")),
                }
            })
        }
        let auth = Auth::builder()
            .authenticate("by_body", by_body)
            .read_body(true)
            .build()
            .unwrap();
        let layer = AuthLayer::new(auth).with_body_limit(64);
        let call = |body: &'static str| {
            let mut svc = layer.layer(BodyEcho);
            async move {
                let req = HttpRequest::post("/threads")
                    .body(Body::from(body))
                    .unwrap();
                let response = svc.call(req).await.unwrap();
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (status, String::from_utf8(bytes.to_vec()).unwrap())
            }
        };
        let sent = r#"{"user": "u9", "input": 1}"#;
        assert_eq!(call(sent).await, (200, sent.to_owned()));
        let (status, body) = call("not json").await;
        assert_eq!(
            (status, body.as_str()),
            (401, r#"{"detail":"no user in the body"}"#)
        );
        let (status, body) =
            call(r#"{"user": "a very long body that goes past the limit of the layer"}"#).await;
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("exceeds 64 bytes"), "{body}");
    }

    #[tokio::test]
    async fn extractor_requires_the_layer() {
        let req = HttpRequest::builder().uri("/").body(()).unwrap();
        let (mut parts, ()) = req.into_parts();
        let rejection =
            <Authenticated as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap_err();
        assert_eq!(rejection.status(), 500);
        parts.extensions.insert(Authenticated(AuthUser::new("x")));
        let user = <Authenticated as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(user.identity(), "x");
    }

    #[test]
    fn header_map_is_a_header_source() {
        let mut map = HeaderMap::new();
        map.insert("authorization", HeaderValue::from_static("Bearer t"));
        let request = Request::new("GET", "/").with_headers(&map);
        assert_eq!(request.headers().get("Authorization"), Some("Bearer t"));
        assert_eq!(request.headers().to_vec().len(), 1);
    }
}
