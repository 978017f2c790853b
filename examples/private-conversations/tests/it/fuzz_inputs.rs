//! The fuzz targets' checks (`test_support::fuzz_checks`), driven by generated inputs in a
//! normal `cargo test`: CI runs them on stable without cargo-fuzz. `cargo fuzz run filter` and
//! `cargo fuzz run authorization` (see `SECURITY.md`) run the same checks on libFuzzer's inputs.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use test_support::fuzz_checks::{
    check_authorization, check_filter, check_filter_bytes, tutorial_auth,
};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Keys that exercise the filter grammar: operators known and unknown, and plain keys.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("owner".to_owned()),
        Just("tags".to_owned()),
        Just("$eq".to_owned()),
        Just("$contains".to_owned()),
        Just("$or".to_owned()),
        Just("$and".to_owned()),
        Just("$ne".to_owned()),
        Just("$in".to_owned()),
        Just(String::new()),
        "[a-z$]{1,4}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![Just("u1".to_owned()), Just("x".to_owned()), "\\PC{0,4}"].prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn metadata() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), json()), 0..4).prop_map(|kv| kv.into_iter().collect())
}

#[test]
fn filter_parsing_and_matching() {
    let strategy = (json(), prop::collection::vec(metadata(), 1..4));
    runner(3000)
        .run(&strategy, |(value, metadata)| {
            check_filter(&value, &metadata);
            // The byte-level entry point the fuzz target uses.
            let mut bytes = serde_json::to_vec(&value).unwrap();
            bytes.push(0);
            bytes.extend(serde_json::to_vec(&Value::Object(metadata[0].clone())).unwrap());
            check_filter_bytes(&bytes);
            Ok(())
        })
        .unwrap();
    runner(2000)
        .run(&prop::collection::vec(any::<u8>(), 0..64), |bytes| {
            check_filter_bytes(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn filter_seeds() {
    // Inputs worth keeping: the grammar's corners.
    for (filter, metadata) in [
        (r#"{"owner": "u1"}"#, r#"{"owner": "u1"}"#),
        (r#"{"owner": {"$eq": "u1"}}"#, r#"{"owner": "u1"}"#),
        (r#"{"tags": {"$contains": "x"}}"#, r#"{"tags": "x"}"#),
        (
            r#"{"tags": {"$contains": ["x", "y"]}}"#,
            r#"{"tags": ["y", "x"]}"#,
        ),
        (r#"{"$or": [{"a": 1}, {"b": 2}]}"#, r#"{"b": 2}"#),
        (r#"{"$or": [{"a": 1}]}"#, r#"{"a": 1}"#),
        (
            r#"{"$and": [{"a": 1}, {"$or": [{"b": 2}, {"c": 3}]}]}"#,
            r#"{"a": 1, "c": 3}"#,
        ),
        (r#"{"owner": {"$ne": "u1"}}"#, r#"{"owner": "u2"}"#),
        (
            r#"{"owner": {"$eq": "u1", "$contains": "u1"}}"#,
            r#"{"owner": ["u1"]}"#,
        ),
        (r#"{"$unknown": 1}"#, r#"{}"#),
        (r#"[]"#, r#"{}"#),
        (r#"{"a": {}}"#, r#"{"a": {}}"#),
        (r#"{"a": {"b": 1}}"#, r#"{"a": {"b": 1}}"#),
    ] {
        let mut bytes = filter.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(metadata.as_bytes());
        check_filter_bytes(&bytes);
    }
}

fn auth() -> &'static auth::Auth {
    static AUTH: OnceLock<auth::Auth> = OnceLock::new();
    AUTH.get_or_init(tutorial_auth)
}

/// Headers near the valid ones: schemes, separators and tokens recombined and mutated.
fn header() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![
        Just("Bearer"),
        Just("bearer"),
        Just("BEARER"),
        Just("Basic"),
        Just("Bearer:"),
        Just(""),
        Just("Bëarer"),
    ];
    let sep = prop_oneof![
        Just(" "),
        Just("  "),
        Just("\t"),
        Just(""),
        Just("\u{a0}"),
        Just("\n")
    ];
    let token = prop_oneof![
        Just("user1-token".to_owned()),
        Just("user2-token".to_owned()),
        Just("user3-token".to_owned()),
        Just("USER1-TOKEN".to_owned()),
        Just("user1".to_owned()),
        "[a-z0-9-]{0,12}",
        "\\PC{0,6}",
    ];
    let tail = prop_oneof![
        Just(""),
        Just(" "),
        Just(" x"),
        Just("\t"),
        Just(" user1-token")
    ];
    let structured =
        (scheme, sep, token, tail).prop_map(|(s, p, t, x)| format!("{s}{p}{t}{x}").into_bytes());
    let raw = prop::collection::vec(any::<u8>(), 0..40);
    let spliced = (
        Just(b"Bearer user1-token".to_vec()),
        0usize..18,
        any::<u8>(),
    )
        .prop_map(|(mut v, at, b)| {
            v[at] = b;
            v
        });
    prop_oneof![3 => structured, 1 => raw, 1 => spliced]
}

#[test]
fn authorization_headers() {
    check_authorization(auth(), None);
    check_authorization(auth(), Some(b"Bearer user1-token"));
    check_authorization(auth(), Some(b"bearer   user2-token"));
    check_authorization(auth(), Some(&[b'a'; 70_000]));
    runner(4000)
        .run(&header(), |h| {
            check_authorization(auth(), Some(&h));
            Ok(())
        })
        .unwrap();
}
