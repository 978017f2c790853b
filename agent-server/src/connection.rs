//! What keeps every request on a connection answered: the request body a refusal did not read
//! is read to its end before the answer goes out, and a panic in the server's own code is a 500
//! `{"detail": …}` that is logged ([`panic_response`]); both in [`outermost`], the layer outside
//! every other, which also writes the access log line.
//!
//! # Why the unread body matters
//!
//! HTTP/1.1 clients keep connections open and send their next request on one that answered.
//! When a request is answered before its body was read (authentication refusing the token, a
//! malformed id in the path, an unknown route), hyper, the HTTP implementation under axum, reads
//! what of the body has arrived and, when the rest is not there yet, closes the connection once
//! the answer is written, without saying so in the answer (no `connection: close`: the answer's
//! head was written before the unread body was noticed). The client's pool then sends its next
//! request on a connection the server is closing, and that request is lost: "server
//! disconnected without sending a response" (httpx), with nothing logged, since the request
//! never reached the server's code. Issue 26 saw it twice, with OIDC on PostgreSQL, where
//! refused tokens answered POSTs before their bodies had arrived.
//!
//! So [`outermost`] keeps hold of the request's body while the app
//! answers and, when the answer is ready and the body was not read to its end, reads and drops
//! the rest (at most [`crate::Limits::body_limit`] bytes, within [`DRAIN_DEADLINE`]): the
//! connection then stays usable, as the client expects. A body larger than that, one that does
//! not arrive in time, or one the client withholds (`expect: 100-continue`) is not waited for:
//! the answer then says `connection: close`, and the client opens a new connection for its
//! next request. (`tests/it/connections.rs` sends the body after the answer and asks again on
//! the same connection.)

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, EXPECT};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt as _, StreamExt as _};

use crate::observe;
use crate::util::ApiError;

/// How long the rest of an unread request body may take to arrive once the answer is ready;
/// past it the answer closes the connection.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// A request body that the app reads through [`Shared`] while this layer keeps hold of it.
struct Slot {
    stream: Mutex<Option<BodyDataStream>>,
    /// The body was read to its end (or failed): nothing is left to read.
    finished: AtomicBool,
}

/// Outside every other layer: the access log line and metrics of [`observe::access`] around
/// the app, whose panic is answered by [`panic_response`]; and the rest of a request body the
/// app did not read, read before the answer goes out (see the [module](self)), at most
/// `body_limit` bytes. One layer for all three: each layer of the router costs every request
/// allocations of its own.
pub async fn outermost(State(body_limit): State<usize>, request: Request, next: Next) -> Response {
    let answer = |request| async move {
        AssertUnwindSafe(next.run(request))
            .catch_unwind()
            .await
            .unwrap_or_else(panic_response)
    };
    if request.body().is_end_stream() {
        return observe::access(request, answer).await;
    }
    // Not worth waiting for: withheld until the server says go on, or announced larger than
    // what would be read.
    let headers = request.headers();
    let withheld = headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > body_limit as u64);
    let (parts, body) = request.into_parts();
    let slot = Arc::new(Slot {
        stream: Mutex::new(Some(body.into_data_stream())),
        finished: AtomicBool::new(false),
    });
    let shared = slot.clone();
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        let mut stream = shared.stream.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(inner) = stream.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.poll_next_unpin(cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            shared.finished.store(true, Ordering::Release);
        }
        next
    }));
    let mut response = observe::access(Request::from_parts(parts, body), answer).await;
    if slot.finished.load(Ordering::Acquire) {
        return response;
    }
    // The app still holds the body (a task of its own reads it): not ours to read.
    if Arc::strong_count(&slot) > 1 {
        return response;
    }
    let rest = slot
        .stream
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let drained = match rest {
        Some(rest) if !withheld => tokio::time::timeout(DRAIN_DEADLINE, drain(rest, body_limit))
            .await
            .unwrap_or(false),
        Some(_) => false,
        None => true,
    };
    if !drained {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `rest` to its end, dropping it; whether it ended within `limit` bytes (and without an
/// error).
async fn drain(mut rest: BodyDataStream, limit: usize) -> bool {
    let mut read = 0usize;
    while let Some(chunk) = rest.next().await {
        match chunk {
            Ok(bytes) => {
                read = read.saturating_add(bytes.len());
                if read > limit {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// The answer to a panic in the server's own code (a route, storage, a graph): 500
/// `{"detail": "Internal server error"}`, and an `error` log line with the panic's message. The
/// panic's message is not sent: it may name the server's internals.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %message, "a request's handling panicked; answered 500");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::tests::Captured;

    #[tokio::test]
    async fn a_panic_is_a_500_with_a_detail_and_an_error_line() {
        let logs = Captured::default();
        let _default = tracing::subscriber::set_default(logs.subscriber());
        let response = panic_response(Box::new("the secret is 42"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"detail":"Internal server error"}"#);
        let text = logs.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(
            text.contains("the secret is 42"),
            "the log names the panic: {text}"
        );
        let owned = panic_response(Box::new(String::from("owned message")));
        assert_eq!(owned.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(logs.text().contains("owned message"));
    }
}
