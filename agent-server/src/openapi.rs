//! `/openapi.json` and `/docs`: the API described for people and tools.
//!
//! The operations come from the route table ([`crate::routes::TABLE`]: summary, parameters,
//! body, answer, errors and the authorization events, as `x-auth-events`); the schemas are the
//! server's own types deriving `utoipa::ToSchema`: the resources of `model` and the request bodies
//! of `service`, plus the few answers built as JSON (see `schemas`). The server's test
//! `tests/it/openapi.rs` (in `examples/private-conversations`) checks that every described route
//! is served and validates real answers against the document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

type Object = BTreeMap<String, Value>;

/// The schemas that no type of the server derives: answers the server builds as JSON (errors,
/// states, lists of items and namespaces), bodies it reads as free-form objects (crons), and the
/// run options of `auth::types::RunKwargs`. Every resource (`model`) and every typed request body
/// (`service`) derives its own.
#[allow(dead_code)]
mod schemas {
    use super::*;

    /// An error: every 4xx and 5xx answers with one.
    #[derive(ToSchema)]
    pub struct Error {
        /// What went wrong.
        pub detail: String,
    }

    /// The server's health.
    #[derive(ToSchema)]
    pub struct Ok {
        /// Always true.
        pub ok: bool,
    }

    /// A thread's state at a checkpoint.
    #[derive(ToSchema)]
    pub struct ThreadState {
        /// The state values.
        pub values: Value,
        /// Nodes to run next.
        pub next: Vec<String>,
        /// Pending tasks.
        pub tasks: Vec<Value>,
        /// The checkpoint (`thread_id`, `checkpoint_ns`, `checkpoint_id`).
        pub checkpoint: Value,
        /// The checkpoint's metadata.
        pub metadata: Value,
        /// When the checkpoint was made.
        pub created_at: Option<String>,
        /// The checkpoint before it.
        pub parent_checkpoint: Value,
        /// Pending interrupts.
        pub interrupts: Vec<Value>,
    }

    /// A store search's answer.
    #[derive(ToSchema)]
    pub struct ItemList {
        /// The items found.
        pub items: Vec<crate::model::Item>,
    }

    /// A namespace listing's answer.
    #[derive(ToSchema)]
    pub struct NamespaceList {
        /// The namespaces found.
        pub namespaces: Vec<Vec<String>>,
    }

    /// A cron to create.
    #[derive(ToSchema)]
    pub struct CronCreate {
        /// A cron expression.
        pub schedule: String,
        /// The assistant to run.
        pub assistant_id: String,
        /// The run's input.
        pub input: Option<Value>,
        /// Metadata.
        pub metadata: Option<Object>,
        /// When it stops.
        pub end_time: Option<String>,
    }

    /// `PATCH /runs/crons/{cron_id}`.
    #[derive(ToSchema)]
    pub struct CronUpdate {
        /// A cron expression.
        pub schedule: Option<String>,
        /// Whether it fires.
        pub enabled: Option<bool>,
        /// Metadata.
        pub metadata: Option<Object>,
    }

    /// A run's input and options (LangGraph's run keyword arguments).
    #[derive(ToSchema)]
    pub struct RunKwargs {
        /// The graph's input.
        pub input: Option<Value>,
        /// A command to resume or steer the graph (`update`, `resume`, `goto`).
        pub command: Option<Value>,
        /// Configuration; `configurable` gets `langgraph_auth_user`.
        pub config: Option<Object>,
        /// The run's static context.
        pub context: Option<Object>,
        /// What to stream: `values`, `updates`, `messages`, … (a name or a list).
        pub stream_mode: Option<Value>,
        /// The nodes to interrupt before: `"*"` or a list of names.
        pub interrupt_before: Option<Value>,
        /// The nodes to interrupt after: `"*"` or a list of names.
        pub interrupt_after: Option<Value>,
        /// A URL called when the run finishes.
        pub webhook: Option<String>,
        /// The feedback keys the run accepts.
        pub feedback_keys: Option<Vec<String>>,
        /// Whether the thread is deleted after the run.
        pub temporary: Option<bool>,
        /// Whether subgraphs' output is streamed too.
        pub subgraphs: Option<bool>,
    }
}

pub(crate) use schemas::RunKwargs;

/// What a route answers when it succeeds.
#[derive(Clone, Copy)]
pub(crate) enum Answer {
    /// A component schema.
    One(&'static str),
    /// A list of a component schema.
    List(&'static str),
    /// A count.
    Count,
    /// Any JSON.
    Json,
    /// Server-sent events.
    Events,
    /// An HTML page.
    Html,
    /// Prometheus text.
    Text,
    /// Nothing (204 or an empty 200).
    Empty,
}

use crate::routes::TABLE;
use Answer::*;

/// Errors of every authenticated route: no or a bad token, a handler's refusal, a handler
/// past its deadline.
const AUTH: [u16; 3] = [401, 403, 504];

/// The component schemas, by name.
fn components() -> Map<String, Value> {
    use schemas::*;
    fn add<T: ToSchema>(out: &mut Map<String, Value>) {
        let schema = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
        out.insert(T::name().into_owned(), schema);
    }
    let mut out = Map::new();
    add::<Error>(&mut out);
    add::<schemas::Ok>(&mut out);
    add::<crate::model::Thread>(&mut out);
    add::<ThreadState>(&mut out);
    add::<crate::model::Assistant>(&mut out);
    add::<crate::model::AssistantVersion>(&mut out);
    add::<crate::model::Run>(&mut out);
    add::<crate::model::Cron>(&mut out);
    add::<crate::model::Item>(&mut out);
    add::<ItemList>(&mut out);
    add::<NamespaceList>(&mut out);
    add::<RunKwargs>(&mut out);
    add::<CronCreate>(&mut out);
    add::<CronUpdate>(&mut out);
    {
        use crate::service::*;
        add::<threads::CreateBody>(&mut out);
        add::<threads::UpdateBody>(&mut out);
        add::<threads::SearchBody>(&mut out);
        add::<threads::PruneBody>(&mut out);
        add::<threads::StateUpdateBody>(&mut out);
        add::<threads::CheckpointBody>(&mut out);
        add::<threads::HistoryBody>(&mut out);
        add::<assistants::CreateBody>(&mut out);
        add::<assistants::UpdateBody>(&mut out);
        add::<assistants::SearchBody>(&mut out);
        add::<assistants::VersionsBody>(&mut out);
        add::<assistants::LatestBody>(&mut out);
        add::<runs::RunBody>(&mut out);
        add::<runs::CancelManyBody>(&mut out);
        add::<crons::SearchBody>(&mut out);
        add::<store::PutBody>(&mut out);
        add::<store::DeleteBody>(&mut out);
        add::<store::SearchBody>(&mut out);
        add::<store::NamespacesBody>(&mut out);
    }
    out
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn answer(a: Answer) -> Value {
    let json_content = |schema: Value| json!({ "application/json": { "schema": schema } });
    match a {
        One(name) => json!({"description": "OK", "content": json_content(reference(name))}),
        List(name) => {
            json!({"description": "OK", "content": json_content(json!({"type": "array", "items": reference(name)}))})
        }
        Count => {
            json!({"description": "How many", "content": json_content(json!({"type": "integer", "minimum": 0}))})
        }
        Json => json!({"description": "OK", "content": json_content(json!({}))}),
        Events => {
            json!({"description": "Server-sent events: `event: <mode>` and `data: <JSON>` pairs", "content": {"text/event-stream": {"schema": {"type": "string"}}}})
        }
        Html => {
            json!({"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}})
        }
        Text => {
            json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}})
        }
        Empty => json!({"description": "Done (no body, or an empty JSON object)"}),
    }
}

/// What a guarded read (a search, a count, a history page) may answer besides its route's own
/// errors: the user's searches in flight at their bound (429), every search turn taken (503).
const GUARDED: [u16; 2] = [429, 503];

/// Whether the route runs a guarded read in storage (see `Limits::storage_timeout`).
fn is_guarded(method: &str, path: &str) -> bool {
    method == "POST"
        && (path.ends_with("/search") || path.ends_with("/count") || path.ends_with("/history"))
        || method == "GET" && path.ends_with("/history")
}

fn error_description(status: u16) -> &'static str {
    match status {
        401 => "Not authenticated: the authenticate handler refused the request",
        403 => "Forbidden: the authorization handler refused",
        404 => "Not found, or hidden from this user by the handler's filter",
        409 => "Conflict: it exists already, or the thread is busy",
        413 => "The request body is too large",
        422 => {
            "Invalid parameters or body, a search over its budget, or one too expensive to \
                finish within the storage deadline"
        }
        429 => "Too many of this user's searches in flight: retry after `Retry-After` seconds",
        503 => {
            "The database cannot answer now, or every search turn is taken: retry after \
                `Retry-After` seconds"
        }
        504 => "An auth handler did not answer in time",
        _ => "Error",
    }
}

/// Whether a path skips authentication (`AuthLayer`'s public paths).
fn is_public(path: &str) -> bool {
    auth::axum::DEFAULT_PUBLIC_PATHS.contains(&path)
}

/// The OpenAPI 3.1 document of the server.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut paths = Map::new();
    for op in TABLE {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "description": format!("the {}", name.replace('_', " ")),
                       "schema": {"type": "string", "format": "uuid"}})
            })
            .collect();
        for (name, ty, required, description) in op.query {
            parameters.push(json!({"name": name, "in": "query", "required": required,
                                   "description": description, "schema": {"type": ty}}));
        }
        let mut responses = Map::new();
        responses.insert("200".into(), answer(op.answer));
        let mut errors: Vec<u16> = op.errors.to_vec();
        if !is_public(op.path) && op.path != "/metrics" {
            errors.extend(AUTH);
        }
        if is_guarded(op.method, op.path) {
            errors.extend(GUARDED);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({"description": error_description(status),
                       "content": {"application/json": {"schema": reference("Error")}}}),
            );
        }
        let mut operation = json!({
            "summary": op.summary,
            "operationId": operation_id(op.method, op.path),
            "tags": [op.path.split('/').nth(1).unwrap_or("server")],
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(body) = op.body {
            let schema = if op.path == "/runs/batch" {
                json!({"type": "array", "items": reference(body)})
            } else {
                reference(body)
            };
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        if !is_public(op.path) {
            operation["security"] = json!([{"bearer": []}]);
        }
        if op.path != "/metrics" {
            // The authorization events the route emits, in order (none: a public route).
            operation["x-auth-events"] = json!(op.events);
        }
        let item = paths.entry(op.path).or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "agent-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A LangGraph-compatible agent server; every route but the public ones runs the auth policy's authenticate handler, then the authorization handler of its event.",
        },
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "whatever the policy's authenticate handler accepts"}},
        },
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(
            seg.trim_start_matches('{')
                .trim_end_matches('}')
                .trim_end_matches(".json"),
        );
    }
    id
}

/// `GET /openapi.json`.
pub async fn openapi() -> axum::Json<Value> {
    axum::Json(document().clone())
}

/// `GET /docs`: the document rendered as one self-contained HTML page (no script, nothing
/// loaded from the network).
pub async fn docs() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| render(document()));
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], page.as_str()).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn schema_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if schema["type"] == "array" {
        return format!("list of {}", schema_name(&schema["items"]));
    }
    schema["type"].as_str().unwrap_or("JSON").to_owned()
}

fn render(doc: &Value) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>agent-server API</title>\
         <style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}\
         code{background:#f3f3f3;padding:0 .2em}h3{margin-bottom:.2em}\
         .m{display:inline-block;min-width:4em;font-weight:bold}td{padding:0 .6em;vertical-align:top}</style>\
         </head><body><h1>agent-server API</h1>",
    );
    html.push_str(&format!(
        "<p>{} The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p><h2>Routes</h2>",
        escape(doc["info"]["description"].as_str().unwrap_or(""))
    ));
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                html.push_str(&format!(
                    "<h3><span class=\"m\">{}</span> <code>{}</code></h3><p>{}</p><table>",
                    method.to_ascii_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or(""))
                ));
                for p in op["parameters"].as_array().into_iter().flatten() {
                    html.push_str(&format!(
                        "<tr><td>{} <code>{}</code></td><td>{}{}</td></tr>",
                        p["in"].as_str().unwrap_or(""),
                        escape(p["name"].as_str().unwrap_or("")),
                        escape(p["description"].as_str().unwrap_or("")),
                        if p["required"] == true {
                            " (required)"
                        } else {
                            ""
                        }
                    ));
                }
                if let Some(body) = op.get("requestBody") {
                    html.push_str(&format!(
                        "<tr><td>body</td><td>{}</td></tr>",
                        schema_name(&body["content"]["application/json"]["schema"])
                    ));
                }
                for (status, r) in op["responses"].as_object().into_iter().flatten() {
                    let schema = r["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|c| schema_name(&c["schema"]))
                        .unwrap_or_default();
                    html.push_str(&format!(
                        "<tr><td>{status}</td><td>{} {schema}</td></tr>",
                        escape(r["description"].as_str().unwrap_or(""))
                    ));
                }
                html.push_str("</table>");
            }
        }
    }
    html.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            html.push_str(&format!(
                "<h3 id=\"schema-{name}\">{name}</h3><p>{}</p><table>",
                escape(schema["description"].as_str().unwrap_or(""))
            ));
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (field, s) in schema["properties"].as_object().into_iter().flatten() {
                html.push_str(&format!(
                    "<tr><td><code>{field}</code>{}</td><td>{}</td></tr>",
                    if required.contains(&field.as_str()) {
                        " *"
                    } else {
                        ""
                    },
                    escape(s["description"].as_str().unwrap_or(""))
                ));
            }
            html.push_str("</table>");
        }
    }
    html.push_str("</body></html>");
    html
}
