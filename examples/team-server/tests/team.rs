//! The team server end to end: its role-based policy and its notes graph, over HTTP.

use serde_json::{Value, json};

struct Team {
    base: String,
    http: reqwest::Client,
}

impl Team {
    async fn start() -> Team {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = team_server::server().unwrap().quiet(true);
        tokio::spawn(server.serve(listener, std::future::pending()));
        Team {
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn ids(list: &Value) -> Vec<&str> {
    let mut v: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn exactly_the_teams_handlers_are_registered() {
    let auth = auth::Auth::from_registry().unwrap();
    let mut names: Vec<&str> = auth.handlers().map(|h| h.name()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "admin_only",
            "authenticate",
            "read_assistant",
            "search_assistants",
            "threads",
            "write_assistants"
        ]
    );
    assert!(auth.uncovered().is_empty());
}

#[tokio::test]
async fn members_see_their_own_threads_and_the_admin_sees_all() {
    let team = Team::start().await;
    let (s, ann) = team
        .send(
            "ann-token",
            "POST",
            "/threads",
            Some(json!({"metadata": {"owner": "ben"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        ann["metadata"]["owner"], "ann",
        "a member cannot give a thread away"
    );
    let (_, ben) = team
        .send("ben-token", "POST", "/threads", Some(json!({})))
        .await;
    let (ann_id, ben_id) = (
        ann["thread_id"].as_str().unwrap(),
        ben["thread_id"].as_str().unwrap(),
    );

    let (_, mine) = team
        .send("ann-token", "POST", "/threads/search", Some(json!({})))
        .await;
    assert_eq!(ids(&mine), [ann_id]);
    let (s, _) = team
        .send("ann-token", "GET", &format!("/threads/{ben_id}"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = team
        .send("ann-token", "DELETE", &format!("/threads/{ben_id}"), None)
        .await;
    assert_eq!(s, 404);

    let (_, all) = team
        .send("admin-token", "POST", "/threads/search", Some(json!({})))
        .await;
    let mut want = vec![ann_id, ben_id];
    want.sort();
    assert_eq!(ids(&all), want);
    let (s, read) = team
        .send("admin-token", "GET", &format!("/threads/{ben_id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(read["metadata"]["owner"], "ben");
}

#[tokio::test]
async fn assistants_are_readable_by_all_and_writable_by_the_admin() {
    let team = Team::start().await;
    let (s, found) = team
        .send("ben-token", "POST", "/assistants/search", Some(json!({})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        found[0]["graph_id"], "notes",
        "the graph's default assistant: {found}"
    );
    let (s, _) = team
        .send("ben-token", "GET", "/assistants/notes", None)
        .await;
    assert_eq!(s, 200);
    let create = json!({"graph_id": "notes", "name": "minutes"});
    let (s, body) = team
        .send("ben-token", "POST", "/assistants", Some(create.clone()))
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["detail"], "Only an admin may change assistants");
    let (s, made) = team
        .send("admin-token", "POST", "/assistants", Some(create))
        .await;
    assert_eq!(s, 200, "{made}");
    let id = made["assistant_id"].as_str().unwrap();
    let (s, _) = team
        .send("ann-token", "DELETE", &format!("/assistants/{id}"), None)
        .await;
    assert_eq!(s, 403);
    // Anything else is the admin's.
    let cron = json!({"assistant_id": "notes", "schedule": "0 * * * *"});
    let (s, _) = team
        .send("ann-token", "POST", "/runs/crons", Some(cron))
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn the_notes_graph_records_each_note_with_its_author() {
    let team = Team::start().await;
    let (_, thread) = team
        .send("ann-token", "POST", "/threads", Some(json!({})))
        .await;
    let tid = thread["thread_id"].as_str().unwrap();
    let run = |note: &str| json!({"assistant_id": "notes", "input": {"note": note}});
    let (s, out) = team
        .send(
            "ann-token",
            "POST",
            &format!("/threads/{tid}/runs/wait"),
            Some(run("buy milk")),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["notes"], json!([{"text": "buy milk", "author": "ann"}]));
    assert_eq!(out["count"], 1);
    // The admin may write to Ann's thread; the note says who wrote it.
    let (s, out) = team
        .send(
            "admin-token",
            "POST",
            &format!("/threads/{tid}/runs/wait"),
            Some(run("done")),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["notes"][1], json!({"text": "done", "author": "root"}));
    assert_eq!(out["count"], 2);
    // LangGraph's checkpoints per run: the input, `__start__`'s, then one per node (two).
    let (s, history) = team
        .send("ann-token", "GET", &format!("/threads/{tid}/history"), None)
        .await;
    assert_eq!(s, 200);
    let history = history.as_array().unwrap().clone();
    assert_eq!(history.len(), 8, "{history:?}");
    // Newest first: the admin's run.
    let sources: Vec<&Value> = history[..4]
        .iter()
        .map(|c| &c["metadata"]["source"])
        .collect();
    assert_eq!(
        sources,
        [
            &json!("loop"),
            &json!("loop"),
            &json!("loop"),
            &json!("input")
        ]
    );
    let nexts: Vec<&Value> = history[..4].iter().map(|c| &c["next"]).collect();
    assert_eq!(
        nexts,
        [
            &json!([]),
            &json!(["count"]),
            &json!(["record"]),
            &json!(["__start__"])
        ]
    );
    assert_eq!(
        history[0]["metadata"]["writes"],
        json!({"count": {"count": 2}})
    );
    assert_eq!(
        history[1]["metadata"]["writes"],
        json!({"record": {"notes": [{"text": "done", "author": "root"}]}})
    );
    assert_eq!(
        history[3]["metadata"]["writes"],
        json!({"__start__": {"note": "done"}})
    );
    let steps: Vec<i64> = history
        .iter()
        .map(|c| c["metadata"]["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [6, 5, 4, 3, 2, 1, 0, -1]);
    for pair in history.windows(2) {
        assert_eq!(
            pair[0]["parent_checkpoint"]["checkpoint_id"],
            pair[1]["checkpoint"]["checkpoint_id"]
        );
    }
    // A streamed run's `updates` are its nodes' writes, one event per node, in order.
    let mut body = run("tea");
    body["stream_mode"] = json!(["updates"]);
    let text = team
        .http
        .post(format!("{}/threads/{tid}/runs/stream", team.base))
        .bearer_auth("ann-token")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let updates: Vec<Value> = text
        .split("\n\n")
        .filter(|block| block.starts_with("event: updates\n"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(
        updates,
        [
            json!({"record": {"notes": [{"text": "tea", "author": "ann"}]}}),
            json!({"count": {"count": 3}}),
        ],
        "{text}"
    );
    // A state update without `as_node` is written as the node that wrote last.
    let (s, _) = team
        .send(
            "ann-token",
            "POST",
            &format!("/threads/{tid}/state"),
            Some(json!({"values": {"count": 10}})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, latest) = team
        .send("ann-token", "GET", &format!("/threads/{tid}/state"), None)
        .await;
    assert_eq!(latest["metadata"]["source"], "update");
    assert_eq!(
        latest["metadata"]["writes"],
        json!({"count": {"count": 10}})
    );
    assert_eq!(latest["values"]["count"], 10);
    // Ben can run nothing on Ann's thread, and bad input is refused before any run.
    let (s, _) = team
        .send(
            "ben-token",
            "POST",
            &format!("/threads/{tid}/runs/wait"),
            Some(run("hi")),
        )
        .await;
    assert_eq!(s, 404);
    let (s, body) = team
        .send(
            "ann-token",
            "POST",
            &format!("/threads/{tid}/runs/wait"),
            Some(json!({"assistant_id": "notes", "input": {"messages": []}})),
        )
        .await;
    assert_eq!(s, 422, "{body}");
}
