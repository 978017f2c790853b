//! [`HttpException`]: how a handler refuses a request.

use std::borrow::Cow;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// An HTTP error raised by a handler: a status code, a detail and response headers.
///
/// It is LangGraph's `HTTPException`. The dispatcher keeps every part of it: the server answers
/// with its status, its headers and the JSON body `{"detail": "<detail>"}`.
///
/// ```
/// use auth::HttpException;
///
/// let e = HttpException::new(403).with_detail("User lacks the required permissions.");
/// assert_eq!(e.status(), 403);
/// assert_eq!(e.detail(), "User lacks the required permissions.");
///
/// // Without a detail, the detail is the status's reason phrase.
/// let e = HttpException::new(401).with_header("WWW-Authenticate", "Bearer");
/// assert_eq!(e.detail(), "Unauthorized");
/// assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"detail":"Unauthorized"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct HttpException {
    status: u16,
    detail: Option<Cow<'static, str>>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    from_ensure: bool,
}

impl HttpException {
    /// An exception with this status and the status's reason phrase as detail.
    ///
    /// A status outside `100..=599` is answered as 500 (it could not be sent otherwise).
    pub fn new(status: u16) -> Self {
        HttpException {
            status: if (100..=599).contains(&status) {
                status
            } else {
                500
            },
            detail: None,
            headers: Vec::new(),
            from_ensure: false,
        }
    }

    /// Sets the detail sent to the client as `{"detail": …}`: a string that may be static (a
    /// literal is lent, a `String` moved in).
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a response header, such as `WWW-Authenticate: Bearer`.
    ///
    /// Name and value are strings that may be static, as the detail: a literal is lent, a
    /// `String` moved in.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The detail, or the status's reason phrase when none was set.
    pub fn detail(&self) -> &str {
        match &self.detail {
            Some(d) => d,
            None => reason_phrase(self.status),
        }
    }

    /// The response headers, in the order they were added.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// 500 with the given detail: the answer to a handler that failed on the server's side.
    pub fn internal(detail: impl Into<Cow<'static, str>>) -> Self {
        HttpException::new(500).with_detail(detail)
    }

    /// The exception of a failed [`ensure!`](crate::ensure): 403 in an authorization handler;
    /// authentication turns it into 401.
    pub(crate) fn from_ensure(detail: Cow<'static, str>) -> Self {
        HttpException {
            from_ensure: true,
            ..HttpException::new(403).with_detail(detail)
        }
    }

    /// Within authentication, a failed `ensure!` means 401.
    pub(crate) fn for_authentication(mut self) -> Self {
        if self.from_ensure {
            self.status = 401;
            self.from_ensure = false;
        }
        self
    }
}

/// Compares what a client sees: the status, the detail and the headers.
impl PartialEq for HttpException {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.detail() == other.detail()
            && self.headers == other.headers
    }
}

impl Eq for HttpException {}

impl fmt::Display for HttpException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.detail())
    }
}

impl std::error::Error for HttpException {}

impl Serialize for HttpException {
    /// Serializes to LangGraph's error body, `{"detail": "<detail>"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("detail", self.detail())?;
        map.end()
    }
}

/// The reason phrase of an HTTP status code (`"Not Found"` for 404), or `"Error"` for a code
/// without one: the detail of an exception that has none.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        425 => "Too Early",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_headers() {
        let e = HttpException::new(404);
        assert_eq!(e.detail(), "Not Found");
        assert_eq!(e.to_string(), "404 Not Found");
        let e = HttpException::new(401)
            .with_detail("Invalid token")
            .with_header("WWW-Authenticate", "Bearer");
        assert_eq!(
            e.headers().collect::<Vec<_>>(),
            vec![("WWW-Authenticate", "Bearer")]
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"detail": "Invalid token"})
        );
    }

    #[test]
    fn out_of_range_status_is_500() {
        assert_eq!(HttpException::new(42).status(), 500);
        assert_eq!(HttpException::new(600).status(), 500);
        assert_eq!(HttpException::new(599).status(), 599);
    }

    #[test]
    fn ensure_is_401_in_authentication_only() {
        let e = HttpException::from_ensure("no".into());
        assert_eq!(e.status(), 403);
        assert_eq!(e.clone().for_authentication().status(), 401);
        assert_eq!(HttpException::new(403).for_authentication().status(), 403);
    }

    #[test]
    fn equality_is_what_a_client_sees() {
        let ensured = HttpException::from_ensure("no".into());
        assert_eq!(ensured, HttpException::new(403).with_detail("no"));
        assert_eq!(
            HttpException::new(404),
            HttpException::new(404).with_detail("Not Found")
        );
        assert_ne!(
            HttpException::new(401),
            HttpException::new(401).with_header("WWW-Authenticate", "Bearer")
        );
        assert_ne!(HttpException::new(401), HttpException::new(403));
    }
}
