//! `/openapi.json` describes every route the server serves, and real answers match it.

use serde_json::{Value, json};

use crate::support;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The document as served.
async fn document(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The path with each `{param}` replaced by a well-formed id that exists nowhere.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000-0000-4000-8000-000000000000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks `value` against `schema` (the subset of JSON Schema the document uses): types,
/// required and described properties (an answer has no field the document does not name),
/// items, `$ref`, `oneOf`/`anyOf`/`allOf`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: unknown schema {r}"));
        }
        return check(doc, target, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            if !options.iter().any(|s| check(doc, s, value, at).is_ok()) {
                return Err(format!("{at}: {value} matches none of {key} {schema}"));
            }
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, at)?;
        }
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = |t: &str| match t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| fits(t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !obj.contains_key(name) {
                return Err(format!("{at}: missing required field {name:?} in {value}"));
            }
        }
        for (k, v) in obj {
            let Some(s) = props.get(k) else {
                return Err(format!("{at}: field {k:?} is not in the schema"));
            };
            check(doc, s, v, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_served_route_is_described_with_its_parameters() {
    let base = support::serve(support::scoped()).await;
    let http = reqwest::Client::new();
    let doc = document(&http, &base).await;
    let paths = doc["paths"].as_object().unwrap();
    let operations = paths.iter().flat_map(|(path, item)| {
        let item = item.as_object().unwrap();
        item.iter()
            .map(move |(method, op)| (method.to_ascii_uppercase(), path, op))
    });
    for (method, path, op) in operations {
        assert!(op.is_object(), "{method} {path} is not in the document");
        assert!(op["responses"]["200"].is_object(), "{method} {path}");
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path"),
                "{method} {path}: parameter {name}"
            );
        }
        // `/metrics` answers 401 or 404 (see `--metrics`), never 403.
        if path != "/metrics" && !auth::axum::DEFAULT_PUBLIC_PATHS.contains(&path.as_str()) {
            for status in ["401", "403"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }
    // The other direction: every method the server answers on a described path is described
    // (an undescribed one is 405), and every described one is served (not the 404 fallback).
    for (path, item) in paths {
        let url = format!("{base}{}", concrete(path));
        for method in METHODS {
            let described = item.get(method.to_ascii_lowercase()).is_some();
            let r = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                )
                .bearer_auth("user1-token")
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if described {
                assert_ne!(status, 405, "{method} {path} is described but not served");
                assert!(
                    !(status == 404 && body["detail"] == "Not Found"),
                    "{method} {path} is described but not routed"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not described");
            }
        }
    }
    assert!(
        paths["/metrics"]["get"].is_object(),
        "/metrics is described"
    );
    assert!(
        paths.len() > 40,
        "the document lists the API: {:?}",
        paths.keys()
    );
    // `/docs` renders it, loading nothing from elsewhere.
    let page = http.get(format!("{base}/docs")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("/threads/{thread_id}/runs/stream"));
    assert!(page.contains("id=\"schema-Thread\""));
    assert!(!page.contains("<script") && !page.contains("https://"));
}

#[tokio::test]
async fn answers_match_the_document() {
    let base = support::serve(support::scoped()).await;
    let http = reqwest::Client::new();
    let doc = document(&http, &base).await;
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut req = http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{base}{path}"),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Checks an answer against what the document says of this route and status.
    let expect = |template: &str, method: &str, status: u16, body: &Value| {
        let op = &doc["paths"][template][method];
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template}: {status} is not described"
        );
        let schema = &response["content"]["application/json"]["schema"];
        check(&doc, schema, body, &format!("{method} {template} {status}"))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let alice = Some("user1-token");

    let (s, thread) = call(
        "POST",
        "/threads",
        alice,
        Some(json!({"metadata": {"t": 1}})),
    )
    .await;
    expect("/threads", "post", s, &thread);
    let tid = thread["thread_id"].as_str().unwrap().to_owned();
    let (s, body) = call("GET", &format!("/threads/{tid}"), alice, None).await;
    expect("/threads/{thread_id}", "get", s, &body);
    let run = json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}});
    let (s, body) = call("POST", &format!("/threads/{tid}/runs"), alice, Some(run)).await;
    expect("/threads/{thread_id}/runs", "post", s, &body);
    let (s, body) = call("POST", "/threads/search", alice, Some(json!({}))).await;
    expect("/threads/search", "post", s, &body);
    let (s, body) = call("POST", "/threads/count", alice, Some(json!({}))).await;
    expect("/threads/count", "post", s, &body);
    let (s, body) = call("GET", &format!("/threads/{tid}/state"), alice, None).await;
    expect("/threads/{thread_id}/state", "get", s, &body);
    let (s, body) = call("GET", &format!("/threads/{tid}/history"), alice, None).await;
    expect("/threads/{thread_id}/history", "get", s, &body);
    let put = json!({"namespace": ["user1", "notes"], "key": "k", "value": {"x": 1}});
    let (s, _) = call("PUT", "/store/items", alice, Some(put)).await;
    assert!(s < 300);
    let (s, body) = call(
        "GET",
        "/store/items?namespace=user1.notes&key=k",
        alice,
        None,
    )
    .await;
    expect("/store/items", "get", s, &body);
    let (s, body) = call(
        "POST",
        "/runs/crons",
        alice,
        Some(json!({"assistant_id": "agent", "schedule": "0 * * * *"})),
    )
    .await;
    expect("/runs/crons", "post", s, &body);
    let (s, body) = call("GET", "/ok", None, None).await;
    expect("/ok", "get", s, &body);
    // Errors.
    let (s, body) = call("GET", &format!("/threads/{tid}"), Some("nope"), None).await;
    assert_eq!(s, 401);
    expect("/threads/{thread_id}", "get", s, &body);
    let (s, body) = call("GET", &format!("/threads/{tid}"), Some("user2-token"), None).await;
    assert_eq!(s, 404);
    expect("/threads/{thread_id}", "get", s, &body);
    let (s, body) = call("GET", "/threads/not-a-uuid", alice, None).await;
    assert_eq!(s, 422);
    expect("/threads/{thread_id}", "get", s, &body);
    let (s, body) = call("POST", "/assistants/search", alice, Some(json!({}))).await;
    assert_eq!(s, 403);
    expect("/assistants/search", "post", s, &body);
    // The checker is not blind: a field the document does not name is caught.
    let mut extra = thread.clone();
    extra["secret"] = json!(1);
    let schema = &doc["paths"]["/threads"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert!(check(&doc, schema, &extra, "extra").is_err());
    assert!(check(&doc, schema, &json!({"thread_id": 3}), "wrong").is_err());
}
