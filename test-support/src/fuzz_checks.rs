//! The checks behind the fuzz targets, in one place: `fuzz/fuzz_targets/*.rs` feed them
//! libFuzzer's inputs; the server's `tests/it/fuzz_inputs.rs` feeds them generated inputs in a
//! normal `cargo test`, so CI runs the same checks without cargo-fuzz or nightly.
//!
//! Each check panics on a violation, which is what both drivers report.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth::{Auth, Filter};
use serde_json::{Map, Value};

/// Filter parsing and matching on arbitrary bytes: the bytes before the first NUL are the filter,
/// the bytes after it the metadata to match (both JSON; anything else is skipped).
pub fn check_filter_bytes(data: &[u8]) {
    let (filter, metadata) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(value) = serde_json::from_slice::<Value>(filter) else {
        return;
    };
    let mut candidates = vec![Map::new()];
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(metadata) {
        candidates.push(m);
    }
    check_filter(&value, &candidates);
}

/// For any JSON `value` and metadata:
/// - a filter that parses has no error, re-parses from its JSON form to an equal filter with
///   the same JSON and the same decisions, and whatever it matches meets its equality conditions;
/// - a value that does not parse is an error with a message, and the poisoned filter made of it
///   matches nothing and refuses to serialize (fails closed).
pub fn check_filter(value: &Value, metadata: &[Map<String, Value>]) {
    match Filter::from_json(value) {
        Ok(f) => {
            assert!(f.error().is_none(), "{value}");
            let json = f.to_json();
            let again = Filter::from_json(&json)
                .unwrap_or_else(|e| panic!("{json} (from {value}) does not re-parse: {e}"));
            assert_eq!(again, f, "round trip of {value} through {json}");
            assert_eq!(again.to_json(), json, "{value}");
            assert_eq!(
                auth::__private_0_1_0::filter_from_json_lossy(value.clone()),
                f,
                "{value}"
            );
            for m in metadata {
                let decision = f.matches(m);
                assert_eq!(decision, again.matches(m), "{value} on {m:?}");
                if decision {
                    for (k, v) in f.eq_conditions() {
                        assert_eq!(m.get(k), Some(v), "{value} matched {m:?}");
                    }
                }
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{value}");
            let poisoned = auth::__private_0_1_0::filter_from_json_lossy(value.clone());
            assert!(poisoned.error().is_some(), "{value}");
            assert!(serde_json::to_string(&poisoned).is_err(), "{value}");
            for m in metadata {
                assert!(!poisoned.matches(m), "malformed {value} matched {m:?}");
            }
        }
    }
}

/// The tutorial's tokens, written out again so that the oracle does not borrow the handler's.
const VALID: [(&str, &str); 2] = [("user1-token", "user1"), ("user2-token", "user2")];

/// Whom a raw `Authorization` header must authenticate, by the tutorial's rule: a UTF-8 value of
/// exactly two words separated by ASCII whitespace, the scheme `Bearer` in any ASCII case, then a
/// known token exactly. Anything else (a no-break space as separator, say) authenticates nobody.
pub fn expected_identity(header: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(header).ok()?;
    let words: Vec<&str> = text
        .split(|c: char| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let [scheme, token] = words[..] else {
        return None;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    VALID.iter().find(|(t, _)| *t == token).map(|(_, id)| *id)
}

/// Authorization-header handling: the tutorial's authenticate handler, given any header bytes
/// (or none), answers the right user for a valid token and otherwise a 401 or 403 with a detail;
/// it never panics and never answers another status.
pub fn check_authorization(auth: &Auth, header: Option<&[u8]>) {
    let pairs: Vec<(&str, &[u8])> = header.iter().map(|h| ("authorization", *h)).collect();
    let request = auth::Request::new("GET", "/threads").with_headers(&pairs);
    let outcome = ready(auth.authenticate(&request));
    match (outcome, header.and_then(expected_identity)) {
        (Ok(user), Some(id)) => assert_eq!(user.identity(), id, "{header:?}"),
        (Ok(user), None) => panic!("{header:?} authenticated as {}", user.identity()),
        (Err(e), Some(id)) => panic!(
            "{header:?}, a valid token of {id}, was refused: {} {}",
            e.status(),
            e.detail()
        ),
        (Err(e), None) => {
            assert!(
                matches!(e.status(), 401 | 403),
                "{header:?}: {}",
                e.status()
            );
            assert!(!e.detail().is_empty(), "{header:?}");
        }
    }
}

/// The tutorial's dispatcher (the scoped policy), as the server builds it.
pub fn tutorial_auth() -> Auth {
    tutorial_policy::Policy::Scoped.build().unwrap()
}

/// The output of a future that finishes without waiting (the tutorial's handlers never wait).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("authenticate waited on something"),
    }
}
