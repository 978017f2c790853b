//! `/openapi.json` and `/docs`: the API described for people and tools.
//!
//! The operations come from the route table ([`crate::routes::TABLE`]: summary, parameters,
//! body, answer, errors and the authorization events, as `x-auth-events`); the schemas are Rust
//! types deriving `utoipa::ToSchema` (what a client sends and gets). The server's test
//! `tests/it/openapi.rs` (in `examples/private-conversations`) checks that every described route
//! is served and validates real answers against the document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

type Object = BTreeMap<String, Value>;

/// The schemas: what clients send and receive, as LangGraph's API has them.
#[allow(dead_code)]
mod schemas {
    use super::*;

    /// An error: every 4xx and 5xx answers with one.
    #[derive(ToSchema)]
    pub struct Error {
        /// What went wrong.
        pub detail: String,
    }

    /// A conversation.
    #[derive(ToSchema)]
    pub struct Thread {
        /// Its id (a UUID).
        pub thread_id: String,
        /// When it was created (RFC 3339).
        pub created_at: String,
        /// When it last changed.
        pub updated_at: String,
        /// Metadata; policies stamp the owner here.
        pub metadata: Object,
        /// `idle`, `busy`, `interrupted` or `error`.
        pub status: String,
        /// The current state values (`null` before the first run).
        pub values: Value,
        /// Pending interrupts.
        pub interrupts: Object,
        /// The configuration of the last run.
        pub config: Object,
        /// The last error, or `null`.
        pub error: Value,
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

    /// An assistant: a graph with its configuration.
    #[derive(ToSchema)]
    pub struct Assistant {
        /// Its id (a UUID).
        pub assistant_id: String,
        /// The graph it runs.
        pub graph_id: String,
        /// Its configuration.
        pub config: Value,
        /// Its context.
        pub context: Value,
        /// Metadata.
        pub metadata: Object,
        /// The current version's number.
        pub version: u64,
        /// Its name.
        pub name: String,
        /// Its description.
        pub description: Option<String>,
        /// When this version was made.
        pub created_at: String,
        /// When it last changed.
        pub updated_at: String,
    }

    /// A run of an assistant on a thread.
    #[derive(ToSchema)]
    pub struct Run {
        /// Its id.
        pub run_id: String,
        /// Its thread (empty for a stateless run).
        pub thread_id: String,
        /// The assistant it runs.
        pub assistant_id: String,
        /// When it was created.
        pub created_at: String,
        /// When it last changed.
        pub updated_at: String,
        /// `pending`, `running`, `success`, `error`, `interrupted`, …
        pub status: String,
        /// Metadata.
        pub metadata: Object,
        /// The run's input, config (with `langgraph_auth_user`) and options.
        pub kwargs: Object,
        /// What happens to runs already in flight.
        pub multitask_strategy: String,
    }

    /// A scheduled run.
    #[derive(ToSchema)]
    pub struct Cron {
        /// Its id.
        pub cron_id: String,
        /// The assistant it runs.
        pub assistant_id: String,
        /// Its thread, if any.
        pub thread_id: Option<String>,
        /// A cron expression.
        pub schedule: String,
        /// When it stops.
        pub end_time: Value,
        /// The run it creates.
        pub payload: Object,
        /// The user who created it.
        pub user_id: Option<String>,
        /// Metadata.
        pub metadata: Object,
        /// Whether it fires.
        pub enabled: bool,
        /// Its time zone.
        pub timezone: Option<String>,
        /// What to do with the thread after a run.
        pub on_run_completed: Value,
        /// When it fires next.
        pub next_run_date: Value,
        /// When it was created.
        pub created_at: String,
        /// When it last changed.
        pub updated_at: String,
    }

    /// An item of the long-term store.
    #[derive(ToSchema)]
    pub struct Item {
        /// Its namespace, label by label.
        pub namespace: Vec<String>,
        /// Its key in the namespace.
        pub key: String,
        /// Its value.
        pub value: Object,
        /// When it was created.
        pub created_at: String,
        /// When it last changed.
        pub updated_at: String,
    }

    /// A store search's answer.
    #[derive(ToSchema)]
    pub struct ItemList {
        /// The items found.
        pub items: Vec<Item>,
    }

    /// A namespace listing's answer.
    #[derive(ToSchema)]
    pub struct NamespaceList {
        /// The namespaces found.
        pub namespaces: Vec<Vec<String>>,
    }

    /// `POST /threads`.
    #[derive(ToSchema)]
    pub struct ThreadCreate {
        /// An id of your choice (a UUID); default: a new one.
        pub thread_id: Option<String>,
        /// Metadata.
        pub metadata: Option<Object>,
        /// `raise` (409, the default) or `do_nothing` when it exists.
        pub if_exists: Option<String>,
        /// Time to live (accepted, not enforced).
        pub ttl: Option<Value>,
    }

    /// `PATCH /threads/{thread_id}`.
    #[derive(ToSchema)]
    pub struct ThreadUpdate {
        /// Metadata to merge.
        pub metadata: Option<Object>,
    }

    /// A search of threads (`/threads/search`, `/threads/count`).
    #[derive(ToSchema)]
    pub struct ThreadSearch {
        /// Metadata the threads contain.
        pub metadata: Option<Object>,
        /// State values the threads contain.
        pub values: Option<Object>,
        /// Only these ids.
        pub ids: Option<Vec<String>>,
        /// Only threads with this status.
        pub status: Option<String>,
        /// At most this many (default 10, at most 10000).
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
        /// `created_at`, `updated_at` or `thread_id`.
        pub sort_by: Option<String>,
        /// `asc` or `desc` (default).
        pub sort_order: Option<String>,
    }

    /// `POST /threads/prune`.
    #[derive(ToSchema)]
    pub struct ThreadPrune {
        /// The threads to prune.
        pub thread_ids: Vec<String>,
        /// `delete` (default) or `keep_latest`.
        pub strategy: Option<String>,
    }

    /// `POST /threads/{thread_id}/state`.
    #[derive(ToSchema)]
    pub struct StateUpdate {
        /// The values to write.
        pub values: Value,
        /// The node that writes them.
        pub as_node: Option<String>,
    }

    /// `POST /threads/{thread_id}/state/checkpoint`.
    #[derive(ToSchema)]
    pub struct CheckpointRequest {
        /// The checkpoint (`checkpoint_id`).
        pub checkpoint: Option<Object>,
    }

    /// `POST /threads/{thread_id}/history`.
    #[derive(ToSchema)]
    pub struct HistorySearch {
        /// At most this many states (default 10).
        pub limit: Option<i64>,
        /// Only states before this checkpoint.
        pub before: Option<Value>,
        /// Metadata the checkpoints contain.
        pub metadata: Option<Object>,
    }

    /// `POST /assistants`.
    #[derive(ToSchema)]
    pub struct AssistantCreate {
        /// An id of your choice (a UUID).
        pub assistant_id: Option<String>,
        /// The graph to run (required).
        pub graph_id: String,
        /// Configuration.
        pub config: Option<Object>,
        /// Context.
        pub context: Option<Object>,
        /// Metadata.
        pub metadata: Option<Object>,
        /// `raise` (409, the default) or `do_nothing`.
        pub if_exists: Option<String>,
        /// Its name.
        pub name: Option<String>,
        /// Its description.
        pub description: Option<String>,
    }

    /// `PATCH /assistants/{assistant_id}`: a new version.
    #[derive(ToSchema)]
    pub struct AssistantUpdate {
        /// Another graph.
        pub graph_id: Option<String>,
        /// Configuration.
        pub config: Option<Object>,
        /// Context.
        pub context: Option<Object>,
        /// Metadata.
        pub metadata: Option<Object>,
        /// Its name.
        pub name: Option<String>,
        /// Its description.
        pub description: Option<String>,
    }

    /// A search of assistants (`/assistants/search`, `/assistants/count`).
    #[derive(ToSchema)]
    pub struct AssistantSearch {
        /// Metadata the assistants contain.
        pub metadata: Option<Object>,
        /// Only this graph's.
        pub graph_id: Option<String>,
        /// Only this name.
        pub name: Option<String>,
        /// At most this many.
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
        /// The sort key.
        pub sort_by: Option<String>,
        /// `asc` or `desc`.
        pub sort_order: Option<String>,
    }

    /// `POST /assistants/{assistant_id}/versions`.
    #[derive(ToSchema)]
    pub struct VersionSearch {
        /// Metadata the versions contain.
        pub metadata: Option<Object>,
        /// At most this many.
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
    }

    /// `POST /assistants/{assistant_id}/latest`.
    #[derive(ToSchema)]
    pub struct SetLatest {
        /// The version to make current.
        pub version: i64,
    }

    /// A run to create.
    #[derive(ToSchema)]
    pub struct RunCreate {
        /// The assistant (an id, or a graph's name for its default assistant).
        pub assistant_id: String,
        /// The graph's input.
        pub input: Option<Value>,
        /// Configuration; `configurable` gets `langgraph_auth_user`.
        pub config: Option<Object>,
        /// Metadata.
        pub metadata: Option<Object>,
        /// What to stream: `values`, `updates`, `messages`, …
        pub stream_mode: Option<Value>,
        /// `reject`, `interrupt`, `rollback` or `enqueue` (default).
        pub multitask_strategy: Option<String>,
        /// `create` to create the thread if missing, or `reject`.
        pub if_not_exists: Option<String>,
        /// Delay before the run starts, in seconds (0 to 86400).
        pub after_seconds: Option<f64>,
    }

    /// `POST /runs/cancel`.
    #[derive(ToSchema)]
    pub struct CancelMany {
        /// The runs' thread.
        pub thread_id: Option<String>,
        /// The runs.
        pub run_ids: Option<Vec<String>>,
        /// Or every run with this status.
        pub status: Option<String>,
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

    /// A search of crons.
    #[derive(ToSchema)]
    pub struct CronSearch {
        /// Only this assistant's.
        pub assistant_id: Option<String>,
        /// Only this thread's.
        pub thread_id: Option<String>,
        /// Metadata the crons contain.
        pub metadata: Option<Object>,
        /// At most this many.
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
        /// `asc` or `desc`.
        pub sort_order: Option<String>,
    }

    /// `PUT /store/items`.
    #[derive(ToSchema)]
    pub struct ItemPut {
        /// The namespace, label by label.
        pub namespace: Vec<String>,
        /// The key.
        pub key: String,
        /// The value; `null` deletes.
        pub value: Option<Object>,
    }

    /// `DELETE /store/items`.
    #[derive(ToSchema)]
    pub struct ItemDelete {
        /// The namespace.
        pub namespace: Vec<String>,
        /// The key.
        pub key: String,
    }

    /// `POST /store/items/search`.
    #[derive(ToSchema)]
    pub struct ItemSearch {
        /// The namespace prefix.
        pub namespace_prefix: Vec<String>,
        /// Values the items contain.
        pub filter: Option<Object>,
        /// At most this many.
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
    }

    /// `POST /store/namespaces`.
    #[derive(ToSchema)]
    pub struct NamespaceSearch {
        /// Only namespaces starting with these labels.
        pub prefix: Option<Vec<String>>,
        /// Only namespaces ending with these labels.
        pub suffix: Option<Vec<String>>,
        /// Cut namespaces to this many labels.
        pub max_depth: Option<i64>,
        /// At most this many.
        pub limit: Option<i64>,
        /// Skip this many.
        pub offset: Option<i64>,
    }

    /// The server's health.
    #[derive(ToSchema)]
    pub struct Ok {
        /// Always true.
        pub ok: bool,
    }
}

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
    add::<Thread>(&mut out);
    add::<ThreadState>(&mut out);
    add::<Assistant>(&mut out);
    add::<Run>(&mut out);
    add::<Cron>(&mut out);
    add::<Item>(&mut out);
    add::<ItemList>(&mut out);
    add::<NamespaceList>(&mut out);
    add::<ThreadCreate>(&mut out);
    add::<ThreadUpdate>(&mut out);
    add::<ThreadSearch>(&mut out);
    add::<ThreadPrune>(&mut out);
    add::<StateUpdate>(&mut out);
    add::<CheckpointRequest>(&mut out);
    add::<HistorySearch>(&mut out);
    add::<AssistantCreate>(&mut out);
    add::<AssistantUpdate>(&mut out);
    add::<AssistantSearch>(&mut out);
    add::<VersionSearch>(&mut out);
    add::<SetLatest>(&mut out);
    add::<RunCreate>(&mut out);
    add::<CancelMany>(&mut out);
    add::<CronCreate>(&mut out);
    add::<CronUpdate>(&mut out);
    add::<CronSearch>(&mut out);
    add::<ItemPut>(&mut out);
    add::<ItemDelete>(&mut out);
    add::<ItemSearch>(&mut out);
    add::<NamespaceSearch>(&mut out);
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
