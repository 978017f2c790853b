//! Cross-origin requests from browsers, configured like LangGraph's `http.cors`: allowed
//! origins, methods, headers, credentials, exposed headers and the preflight's lifetime.
//!
//! The layer answers a preflight `OPTIONS` itself, before authentication (a browser sends no
//! `Authorization` header on a preflight), and adds the `Access-Control-*` headers to every
//! other answer, errors included.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

/// A CORS policy. `"*"` in a list means any; an empty origin list means CORS is off (no
/// browser on another origin may call the server).
///
/// The default is LangGraph's: any origin, any method and header, no credentials, and the
/// headers the official clients read (`Content-Location`, `X-Pagination-Total`) exposed. Any
/// origin is safe here because the API's credentials are bearer tokens, which a browser never
/// sends on its own: a page can call the API only with a token it was given, exactly as any
/// other client can. Cookies and HTTP authentication (ambient credentials) are never allowed
/// with any origin.
///
/// ```
/// let cors = agent_server::Cors {
///     allow_origins: vec!["https://app.example".into()],
///     allow_credentials: true,
///     ..Default::default()
/// };
/// assert!(cors.layer().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Origins allowed to call (`https://app.example`), or `*` for any.
    pub allow_origins: Vec<String>,
    /// Methods allowed (default `*`: any).
    pub allow_methods: Vec<String>,
    /// Request headers allowed (default `*`: any, `Authorization` included).
    pub allow_headers: Vec<String>,
    /// Whether the browser sends and exposes credentials (cookies, HTTP auth). Not allowed with
    /// origins `*`.
    pub allow_credentials: bool,
    /// Response headers the page may read besides the simple ones.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub max_age: Option<Duration>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["*".into()],
            allow_headers: vec!["*".into()],
            allow_credentials: false,
            expose_headers: vec!["content-location".into(), "x-pagination-total".into()],
            max_age: Some(Duration::from_secs(600)),
        }
    }
}

fn any(list: &[String]) -> bool {
    list.iter().any(|v| v == "*")
}

impl Cors {
    /// Whether any origin is allowed at all.
    pub fn is_enabled(&self) -> bool {
        !self.allow_origins.is_empty()
    }

    /// The tower layer, or why this policy is invalid (an origin, method or header that is not
    /// valid HTTP; credentials with any origin).
    pub fn layer(&self) -> Result<CorsLayer, String> {
        let origins = if any(&self.allow_origins) {
            if self.allow_credentials {
                return Err(
                    "CORS: credentials cannot be allowed for every origin (\"*\"): list the origins"
                        .into(),
                );
            }
            AllowOrigin::any()
        } else {
            let list = self
                .allow_origins
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o.trim_end_matches('/'))
                        .map_err(|_| format!("CORS: invalid origin {o:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(list)
        };
        // With credentials a browser refuses `*`: the request's own method and headers are
        // echoed instead, which allows the same.
        let methods = if any(&self.allow_methods) {
            if self.allow_credentials {
                AllowMethods::mirror_request()
            } else {
                AllowMethods::any()
            }
        } else {
            let list = self
                .allow_methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                        .map_err(|_| format!("CORS: invalid method {m:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowMethods::list(list)
        };
        let headers = if any(&self.allow_headers) {
            if self.allow_credentials {
                AllowHeaders::mirror_request()
            } else {
                AllowHeaders::any()
            }
        } else {
            AllowHeaders::list(names(&self.allow_headers)?)
        };
        if any(&self.expose_headers) && self.allow_credentials {
            return Err("CORS: with credentials, list the exposed headers instead of \"*\"".into());
        }
        let expose = if any(&self.expose_headers) {
            ExposeHeaders::any()
        } else {
            ExposeHeaders::list(names(&self.expose_headers)?)
        };
        let mut layer = CorsLayer::new()
            .allow_origin(origins)
            .allow_methods(methods)
            .allow_headers(headers)
            .allow_credentials(self.allow_credentials)
            .expose_headers(expose);
        if let Some(age) = self.max_age {
            layer = layer.max_age(age);
        }
        Ok(layer)
    }
}

fn names(list: &[String]) -> Result<Vec<HeaderName>, String> {
    list.iter()
        .map(|h| {
            HeaderName::from_bytes(h.as_bytes()).map_err(|_| format!("CORS: invalid header {h:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_policies_are_errors_not_panics() {
        let with = |f: fn(&mut Cors)| {
            let mut c = Cors {
                allow_origins: vec!["https://a.example".into()],
                ..Cors::default()
            };
            f(&mut c);
            c.layer().err()
        };
        assert_eq!(with(|_| {}), None);
        assert_eq!(
            with(|c| c.allow_credentials = true),
            None,
            "any method and header with credentials are echoed"
        );
        let err = with(|c| {
            c.allow_origins = vec!["*".into()];
            c.allow_credentials = true;
        });
        assert!(err.unwrap().contains("credentials"));
        assert!(
            with(|c| c.allow_methods = vec!["GE T".into()])
                .unwrap()
                .contains("method")
        );
        assert!(
            with(|c| c.allow_headers = vec!["x y".into()])
                .unwrap()
                .contains("header")
        );
        assert!(
            with(|c| c.allow_origins = vec!["https://a\n".into()])
                .unwrap()
                .contains("origin")
        );
    }
}
