//! [`Request`]: what authentication sees of an HTTP request, independent of any web framework.

use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

/// A source of request headers: a framework's header map or a plain list of pairs.
///
/// Implemented for slices and vectors of `(name, value)` pairs and, with the `axum` feature, for
/// `http::HeaderMap`. Names are matched without regard to ASCII case.
pub trait HeaderSource: Sync {
    /// The first value of the header `name`, as raw bytes.
    fn get_bytes(&self, name: &str) -> Option<&[u8]>;
    /// Calls `f` with every header, in order.
    fn for_each(&self, f: &mut dyn FnMut(&str, &[u8]));
    /// The first `Authorization` header, as raw bytes: `get_bytes("authorization")` unless the
    /// source has a quicker way to find this one header that every request is asked for.
    fn authorization(&self) -> Option<&[u8]> {
        self.get_bytes("authorization")
    }
}

fn pairs_get<'p, N: AsRef<str>, V: AsRef<[u8]>>(
    pairs: &'p [(N, V)],
    name: &str,
) -> Option<&'p [u8]> {
    pairs
        .iter()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

fn pairs_for_each<N: AsRef<str>, V: AsRef<[u8]>>(pairs: &[(N, V)], f: &mut dyn FnMut(&str, &[u8])) {
    for (n, v) in pairs {
        f(n.as_ref(), v.as_ref());
    }
}

macro_rules! header_pairs {
    ($($ty:ty $(, const $m:ident)?);*) => {$(
        impl<$(const $m: usize,)? N: AsRef<str> + Sync, V: AsRef<[u8]> + Sync> HeaderSource for $ty {
            fn get_bytes(&self, name: &str) -> Option<&[u8]> {
                pairs_get(&self[..], name)
            }
            fn for_each(&self, f: &mut dyn FnMut(&str, &[u8])) {
                pairs_for_each(&self[..], f)
            }
        }
    )*};
}

header_pairs!([(N, V); M], const M; Vec<(N, V)>; &[(N, V)]);

/// The request's headers, as authenticate handlers take them (`headers: &Headers`).
///
/// ```
/// use auth::Headers;
/// let pairs = [("Authorization", "Bearer t"), ("X-Api-Key", "k")];
/// let headers = Headers::new(&pairs);
/// assert_eq!(headers.get("authorization"), Some("Bearer t"));
/// assert_eq!(headers.get("x-api-key"), Some("k"));
/// assert_eq!(headers.get("cookie"), None);
/// ```
#[derive(Clone, Copy)]
pub struct Headers<'a> {
    source: &'a dyn HeaderSource,
}

static NO_HEADERS: [(&str, &str); 0] = [];

impl<'a> Headers<'a> {
    /// Headers read from `source`.
    pub fn new(source: &'a dyn HeaderSource) -> Self {
        Headers { source }
    }

    /// No headers at all.
    pub fn empty() -> Headers<'static> {
        Headers {
            source: &NO_HEADERS,
        }
    }

    /// The first value of the header `name` (any case) if it is valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.get_bytes(name)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The first value of the header `name` (any case), as raw bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.source.get_bytes(name)
    }

    /// Every header as `(name, value)`, values lossily decoded as UTF-8.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.source.for_each(&mut |n, v| {
            out.push((n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        });
        out
    }
}

impl fmt::Debug for Headers<'_> {
    /// Lists header names only: values such as tokens never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = Vec::new();
        self.source.for_each(&mut |n, _| names.push(n.to_owned()));
        f.debug_struct("Headers").field("names", &names).finish()
    }
}

/// Named string parameters: a request's path parameters or its decoded query string.
///
/// ```
/// use auth::Params;
/// let q = Params::from_query("limit=10&name=Ada%20L&flag");
/// assert_eq!(q.get("limit"), Some("10"));
/// assert_eq!(q.get("name"), Some("Ada L"));
/// assert_eq!(q.get("flag"), Some(""));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// No parameters.
    pub const fn new() -> Self {
        Params { pairs: Vec::new() }
    }

    /// Decodes an `application/x-www-form-urlencoded` query string (without the `?`).
    /// Malformed escapes are kept as written; invalid UTF-8 is replaced.
    pub fn from_query(query: &str) -> Self {
        query
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                (decode_component(k), decode_component(v))
            })
            .collect()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Params {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

fn decode_component(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

static NO_PARAMS: Params = Params::new();

/// What an authenticate handler sees of an HTTP request.
///
/// Built by the server (or the `axum` layer) for every request; it borrows everything, so
/// building one costs nothing. The query string is decoded only if a handler asks for
/// `query_params`.
///
/// ```
/// use auth::Request;
/// let headers = [("authorization", "Bearer user1-token")];
/// let request = Request::new("GET", "/threads/abc")
///     .with_query("limit=5")
///     .with_headers(&headers);
/// assert_eq!(request.authorization(), Some(&b"Bearer user1-token"[..]));
/// assert_eq!(request.query_params().get("limit"), Some("5"));
/// ```
pub struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Headers<'a>,
    body: Option<&'a Value>,
    path_params: &'a Params,
    query_params: OnceLock<Params>,
}

impl<'a> Request<'a> {
    /// A request with this method and path, and no query, headers, body or path parameters.
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Request {
            method,
            path,
            query: "",
            headers: Headers::empty(),
            body: None,
            path_params: &NO_PARAMS,
            query_params: OnceLock::new(),
        }
    }

    /// Sets the query string (without the `?`).
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_query(mut self, query: &'a str) -> Self {
        self.query = query;
        self
    }

    /// Sets the headers.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_headers(mut self, headers: &'a dyn HeaderSource) -> Self {
        self.headers = Headers::new(headers);
        self
    }

    /// Sets the parsed JSON body.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_body(mut self, body: Option<&'a Value>) -> Self {
        self.body = body;
        self
    }

    /// Sets the path parameters of the matched route.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_path_params(mut self, params: &'a Params) -> Self {
        self.path_params = params;
        self
    }

    /// The HTTP method, such as `"GET"`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The path, such as `"/threads/search"`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string.
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// The headers.
    pub fn headers(&self) -> &Headers<'a> {
        &self.headers
    }

    /// The parsed JSON body, when the server parsed one.
    pub fn body(&self) -> Option<&'a Value> {
        self.body
    }

    /// The path parameters.
    pub fn path_params(&self) -> &'a Params {
        self.path_params
    }

    /// The decoded query string, decoded on first use.
    pub fn query_params(&self) -> &Params {
        self.query_params
            .get_or_init(|| Params::from_query(self.query))
    }

    /// The raw `Authorization` header.
    pub fn authorization(&self) -> Option<&'a [u8]> {
        self.headers.source.authorization()
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Params::from_query("a=1&b=x+y&c=%41%42&d=%zz&e=%4&&f");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y"));
        assert_eq!(q.get("c"), Some("AB"));
        assert_eq!(q.get("d"), Some("%zz"));
        assert_eq!(q.get("e"), Some("%4"));
        assert_eq!(q.get("f"), Some(""));
        assert_eq!(q.len(), 6);
        assert_eq!(Params::from_query("x=%FF").get("x"), Some("\u{FFFD}"));
    }

    #[test]
    fn headers_ignore_case_and_debug_hides_values() {
        let pairs = vec![("Authorization".to_string(), b"Bearer secret".to_vec())];
        let r = Request::new("GET", "/").with_headers(&pairs);
        assert_eq!(r.headers().get("AUTHORIZATION"), Some("Bearer secret"));
        assert!(!format!("{r:?}").contains("secret"));
        let bad = [("authorization", &b"\xff"[..])];
        let r = Request::new("GET", "/").with_headers(&bad);
        assert_eq!(r.headers().get("authorization"), None);
        assert_eq!(r.authorization(), Some(&b"\xff"[..]));
    }
}
