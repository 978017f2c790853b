//! The run queue over HTTP: delayed runs, runs executed by another server on the same storage
//! (a restart, or a replica), exactly once; crons that fire as their owner. Each test runs on
//! every backend: memory, SQLite (a temporary file) and PostgreSQL (a database made for the test
//! from `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`, dropped after;
//! without PostgreSQL skipped saying so, unless `CI` is set, then failed).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_server::Server;
use agent_server::Storage;
use agent_server::graph::{Echo, Graph, GraphStream, RunInput};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tutorial_policy::Policy;

use crate::common;

use common::{OpenStorage, TestDatabase};

/// One backend's database for one test: memory, or a [`TestDatabase`] (removed when dropped).
struct Db {
    name: &'static str,
    memory: Option<Storage>,
    database: Option<TestDatabase>,
}

impl Db {
    /// A fresh database of every backend (PostgreSQL only when reachable, unless `CI` is set).
    async fn all() -> Vec<Db> {
        let mut all = vec![
            Db {
                name: "memory",
                memory: Some(Storage::in_memory()),
                database: None,
            },
            Db {
                name: "sqlite",
                memory: None,
                database: Some(TestDatabase::sqlite()),
            },
        ];
        if let Some(pg) = TestDatabase::postgres_or_skip("queue").await {
            all.push(Db {
                name: "postgres",
                memory: None,
                database: Some(pg),
            });
        }
        all
    }

    /// The storage of this database: for a database, a new connection pool each time (as a
    /// restarted server or another replica opens it).
    async fn storage(&self) -> Storage {
        match (&self.memory, &self.database) {
            (Some(s), _) => s.clone(),
            (None, Some(db)) => db.storage().await,
            (None, None) => unreachable!("a Db is memory or a database"),
        }
    }
}

/// A server on 127.0.0.1:0 over `storage`; stopped (gracefully, its worker too) by `stop`.
struct Running {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(policy: Policy, storage: Storage) -> Running {
        let server = Server::new(policy.build().unwrap())
            .storage(storage)
            .quiet(true);
        Running::serve(server).await
    }

    /// A server under the global policy running `graph` as `agent` over `storage`.
    async fn with_graph(graph: impl Graph + 'static, storage: Storage) -> Running {
        let server = Server::new(Policy::Global.build().unwrap())
            .graph("agent", graph)
            .storage(storage)
            .quiet(true);
        Running::serve(server).await
    }

    async fn serve(server: Server) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = rx.await;
        }));
        Running {
            base,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    fn user(&self, token: &'static str) -> User {
        User {
            base: self.base.clone(),
            token,
            http: reqwest::Client::new(),
        }
    }
}

struct User {
    base: String,
    token: &'static str,
    http: reqwest::Client,
}

impl User {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn ok(&self, path: &str, body: Option<Value>) -> Value {
        let method = if body.is_some() {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let (status, body) = self.send(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn thread(&self) -> String {
        let t = self.ok("/threads", Some(json!({}))).await;
        t["thread_id"].as_str().unwrap().to_owned()
    }

    /// Creates a run on thread `t` with `body`; its id.
    async fn create_run(&self, t: &str, body: Value) -> String {
        let run = self.ok(&format!("/threads/{t}/runs"), Some(body)).await;
        run["run_id"].as_str().unwrap().to_owned()
    }

    /// The run `rid` of thread `t`.
    async fn run(&self, t: &str, rid: &str) -> Value {
        self.ok(&format!("/threads/{t}/runs/{rid}"), None).await
    }

    /// Joins the run `rid` of thread `t`: its output.
    async fn join(&self, t: &str, rid: &str) -> Value {
        self.ok(&format!("/threads/{t}/runs/{rid}/join"), None)
            .await
    }

    /// Deletes the cron `id`: the status.
    async fn delete_cron(&self, id: &str) -> StatusCode {
        let (status, _) = self
            .send(reqwest::Method::DELETE, &format!("/runs/crons/{id}"), None)
            .await;
        status
    }

    /// Waits (at most 5 s) until a worker has claimed the run `rid` of thread `t`.
    async fn until_running(&self, t: &str, rid: &str) {
        assert!(
            eventually(Duration::from_secs(5), || async {
                self.run(t, rid).await["status"] == "running"
            })
            .await,
            "the run was not claimed"
        );
    }

    /// Every thread this user sees.
    async fn threads(&self) -> Vec<Value> {
        let found = self
            .ok("/threads/search", Some(json!({"limit": 1000})))
            .await;
        found.as_array().unwrap().clone()
    }
}

fn said(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// The body of a run of the agent on input `text`.
fn run_of(text: &str) -> Value {
    json!({"assistant_id": "agent", "input": said(text)})
}

/// The body of a cron of the agent on input `text`, due every second.
fn cron_of(text: &str) -> Value {
    json!({"assistant_id": "agent", "schedule": "* * * * * *", "input": said(text)})
}

/// [`cron_of`], keeping the threads it creates.
fn kept_cron_of(text: &str) -> Value {
    let mut cron = cron_of(text);
    cron["on_run_completed"] = json!("keep");
    cron
}

/// The thread `t` and its runs as stored, read with the system scope (after a server stopped).
async fn stored_runs(
    db: &Db,
    t: &str,
) -> (
    agent_server::testing::Thread,
    Vec<Arc<agent_server::testing::Run>>,
) {
    let storage = db.storage().await;
    let system = agent_server::authz::Scope::system_for_tests("test: reading after shutdown");
    storage.threads().runs(t, &system).await.unwrap().unwrap()
}

/// Polls `check` every 50 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_delayed_run_waits_for_its_time_then_executes() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_delayed_run_waits_for_its_time_then_executes_on(&db).await;
        drop(db);
    }
}

async fn a_delayed_run_waits_for_its_time_then_executes_on(db: &Db) {
    let server = Running::start(Policy::Global, db.storage().await).await;
    let alice = server.user("user1-token");
    let t = alice.thread().await;
    let created = Instant::now();
    let run = alice
        .ok(
            &format!("/threads/{t}/runs"),
            Some(json!({"assistant_id": "agent", "input": said("later"), "after_seconds": 1})),
        )
        .await;
    let rid = run["run_id"].as_str().unwrap().to_owned();
    assert_eq!(run["status"], "pending");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let early = alice.run(&t, &rid).await;
    if created.elapsed() < Duration::from_millis(900) {
        assert_eq!(
            early["status"], "pending",
            "started before its after_seconds"
        );
    }
    let out = alice.join(&t, &rid).await;
    assert!(created.elapsed() >= Duration::from_secs(1));
    assert!(out.to_string().contains("later"), "{out}");
    let run = alice.run(&t, &rid).await;
    assert_eq!(run["status"], "success");
    server.stop().await;
}

/// A delayed run is in storage: a server stopped before its time leaves it to the next one on
/// the same storage (a restart), which executes it; and a run created on one server is joined on
/// another.
#[tokio::test]
async fn a_delayed_run_survives_a_restart_and_is_joined_on_another_server() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_delayed_run_survives_a_restart_and_is_joined_on_another_server_on(&db).await;
        drop(db);
    }
}

async fn a_delayed_run_survives_a_restart_and_is_joined_on_another_server_on(db: &Db) {
    let first = Running::start(Policy::Global, db.storage().await).await;
    let alice = first.user("user1-token");
    let t = alice.thread().await;
    let rid = alice.create_run(&t, json!({"assistant_id": "agent", "input": said("after the restart"), "after_seconds": 1})).await;
    first.stop().await;
    let second = Running::start(Policy::Global, db.storage().await).await;
    let alice = second.user("user1-token");
    let out = alice.join(&t, &rid).await;
    assert!(out.to_string().contains("after the restart"), "{out}");
    second.stop().await;
}

/// Two servers on one storage: every run executes exactly once (its thread gets one input and
/// one reply per run), whichever server created it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_storage_execute_each_run_once() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        two_servers_on_one_storage_execute_each_run_once_on(&db).await;
        drop(db);
    }
}

async fn two_servers_on_one_storage_execute_each_run_once_on(db: &Db) {
    let a = Running::start(Policy::Global, db.storage().await).await;
    let b = Running::start(Policy::Global, db.storage().await).await;
    let (on_a, on_b) = (a.user("user1-token"), b.user("user1-token"));
    let mut runs = Vec::new();
    for i in 0..12 {
        let user = if i % 2 == 0 { &on_a } else { &on_b };
        let t = user.thread().await;
        for j in 0..2 {
            let run = user
                .ok(
                    &format!("/threads/{t}/runs"),
                    Some(json!({"assistant_id": "agent", "input": said(&format!("m{i}-{j}"))})),
                )
                .await;
            runs.push((t.clone(), run["run_id"].as_str().unwrap().to_owned()));
        }
    }
    for (i, (t, rid)) in runs.iter().enumerate() {
        // Joined on the other server than the one that created it.
        let user = if i % 4 < 2 { &on_b } else { &on_a };
        user.join(t, rid).await;
    }
    for (t, _) in runs.iter().step_by(2) {
        let state = on_a.ok(&format!("/threads/{t}/state"), None).await;
        let messages = state["values"]["messages"].as_array().unwrap();
        // Two runs: two inputs, two echoes.
        assert_eq!(messages.len(), 4, "{state}");
        let runs = on_a.ok(&format!("/threads/{t}/runs"), None).await;
        let statuses: Vec<&Value> = runs
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["status"])
            .collect();
        assert_eq!(statuses, [&json!("success"), &json!("success")]);
    }
    a.stop().await;
    b.stop().await;
}

/// A thread-less cron firing every second: each run is created as its owner, on a new thread
/// that only the owner sees; `next_run_date` is in the future.
#[tokio::test]
async fn a_cron_fires_as_its_owner_on_new_threads() {
    for policy in [Policy::Global, Policy::Scoped] {
        for db in Db::all().await {
            eprintln!("backend: {}", db.name);
            a_cron_fires_as_its_owner_on(&db, policy).await;
            drop(db);
        }
    }
}

async fn a_cron_fires_as_its_owner_on(db: &Db, policy: Policy) {
    {
        let server = Running::start(policy, db.storage().await).await;
        let (alice, bob) = (server.user("user1-token"), server.user("user2-token"));
        let before = jiff_now();
        let cron = alice.ok("/runs/crons", Some(kept_cron_of("tick"))).await;
        let next = cron["next_run_date"].as_str().expect("a next run date");
        assert!(next > before.as_str(), "{next} is not after {before}");
        let cron_id = cron["cron_id"].as_str().unwrap().to_owned();
        assert!(
            eventually(Duration::from_secs(10), || async {
                alice.threads().await.len() >= 2
            })
            .await,
            "the cron did not fire twice ({policy:?})"
        );
        assert_eq!(alice.delete_cron(&cron_id).await, 204);
        for thread in alice.threads().await {
            let t = thread["thread_id"].as_str().unwrap();
            let runs = alice.ok(&format!("/threads/{t}/runs"), None).await;
            let run = &runs[0];
            let configurable = &run["kwargs"]["config"]["configurable"];
            assert_eq!(configurable["langgraph_auth_user_id"], "user1", "{run}");
            let rid = run["run_id"].as_str().unwrap();
            let out = alice.join(t, rid).await;
            assert!(out.to_string().contains("tick"), "{out}");
            assert_eq!(bob.get(&format!("/threads/{t}")).await.0, 404);
        }
        assert!(bob.threads().await.is_empty(), "{policy:?}");
        server.stop().await;
    }
}

/// The echo graph, recording who each run was for.
struct Recording(Arc<Mutex<Vec<Value>>>);

#[async_trait::async_trait]
impl Graph for Recording {
    async fn run(&self, run: RunInput) -> Result<GraphStream, String> {
        let user = run.config["configurable"]["langgraph_auth_user_id"].clone();
        self.0.lock().unwrap().push(user);
        Echo.run(run).await
    }
}

/// By default (LangGraph's `on_run_completed: "delete"`), the thread a cron created for a run
/// is deleted once the run is finished: the runs happen, as the owner, and no thread is left.
#[tokio::test]
async fn a_thread_less_cron_deletes_its_threads_by_default() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_thread_less_cron_deletes_its_threads_by_default_on(&db).await;
        drop(db);
    }
}

async fn a_thread_less_cron_deletes_its_threads_by_default_on(db: &Db) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Running::with_graph(Recording(seen.clone()), db.storage().await).await;
    let alice = server.user("user1-token");
    let cron = alice.ok("/runs/crons", Some(cron_of("gone"))).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            seen.lock().unwrap().len() >= 2
        })
        .await,
        "the cron did not fire twice"
    );
    let cron_id = cron["cron_id"].as_str().unwrap();
    alice.delete_cron(cron_id).await;
    // The last run finishes, and its thread goes.
    assert!(
        eventually(Duration::from_secs(5), || async {
            alice.threads().await.is_empty()
        })
        .await,
        "{:?}",
        alice.threads().await
    );
    assert!(
        seen.lock().unwrap().iter().all(|u| u == "user1"),
        "{seen:?}"
    );
    server.stop().await;
}

/// The echo graph, slowly.
struct Slow;

#[async_trait::async_trait]
impl Graph for Slow {
    async fn run(&self, run: RunInput) -> Result<GraphStream, String> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Echo.run(run).await
    }
}

/// A run cancelled while a worker executes it: the worker's result is discarded, the run stays
/// interrupted and the thread's state is untouched; the thread's next run then executes.
#[tokio::test]
async fn cancelling_a_running_run_discards_its_result() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        cancelling_a_running_run_discards_its_result_on(&db).await;
        drop(db);
    }
}

async fn cancelling_a_running_run_discards_its_result_on(db: &Db) {
    let server = Running::with_graph(Slow, db.storage().await).await;
    let alice = server.user("user1-token");
    let t = alice.thread().await;
    let rid = alice.create_run(&t, run_of("discarded")).await;
    alice.until_running(&t, &rid).await;
    let (status, _) = alice
        .post(&format!("/threads/{t}/runs/{rid}/cancel"), json!({}))
        .await;
    assert_eq!(status, 202);
    let next = alice.create_run(&t, run_of("kept")).await;
    let out = alice.join(&t, &next).await;
    assert!(out.to_string().contains("kept"), "{out}");
    assert!(!out.to_string().contains("discarded"), "{out}");
    let run = alice.run(&t, &rid).await;
    assert_eq!(run["status"], "interrupted");
    server.stop().await;
}

/// A graceful shutdown lets the run in flight finish before the server returns.
#[tokio::test]
async fn shutdown_lets_the_run_in_flight_finish() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        shutdown_lets_the_run_in_flight_finish_on(&db).await;
        drop(db);
    }
}

async fn shutdown_lets_the_run_in_flight_finish_on(db: &Db) {
    let server = Running::with_graph(Slow, db.storage().await).await;
    let alice = server.user("user1-token");
    let t = alice.thread().await;
    let rid = alice.create_run(&t, run_of("finish me")).await;
    alice.until_running(&t, &rid).await;
    server.stop().await;
    let (thread, runs) = stored_runs(db, &t).await;
    assert_eq!(runs[0].status.as_str(), "success");
    assert!(thread.values.to_json().to_string().contains("finish me"));
}

/// A run claimed by a worker that then died (it never renews nor finishes) is taken over by a
/// server's worker once the lease expires, and executed.
#[tokio::test]
async fn a_run_whose_worker_died_is_taken_over() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_run_whose_worker_died_is_taken_over_on(&db).await;
        drop(db);
    }
}

async fn a_run_whose_worker_died_is_taken_over_on(db: &Db) {
    use agent_server::testing::{LeaseTerms, now_ms};
    let server = Running::start(Policy::Global, db.storage().await).await;
    let alice = server.user("user1-token");
    let t = alice.thread().await;
    let rid = alice
        .create_run(
            &t,
            json!({"assistant_id": "agent", "input": said("orphan"), "after_seconds": 1}),
        )
        .await;
    // Another process claims it as soon as it is due, and dies.
    let dead = LeaseTerms {
        worker: "dead-worker".into(),
        lease: Duration::from_millis(1500),
        max_attempts: 3,
    };
    let storage = db.storage().await;
    let claim = storage
        .queue_for_tests()
        .claim(&dead, now_ms() + 1_000)
        .await
        .unwrap()
        .expect("the dead worker's claim");
    assert_eq!((claim.run_id.as_str(), claim.attempt), (rid.as_str(), 1));
    let out = alice.join(&t, &rid).await;
    assert!(out.to_string().contains("orphan"), "{out}");
    let run = alice.run(&t, &rid).await;
    assert_eq!(run["status"], "success");
    // The dead worker's lease is gone: it could not finish the run now.
    assert!(
        !storage
            .queue_for_tests()
            .renew(&claim, &dead, now_ms())
            .await
            .unwrap()
    );
    server.stop().await;
}

/// Two servers on one database fire a cron once per date: in about three seconds a cron due every
/// second creates three or four runs, not twice that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_fire_a_cron_once_per_date() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        two_servers_fire_a_cron_once_per_date_on(&db).await;
        drop(db);
    }
}

async fn two_servers_fire_a_cron_once_per_date_on(db: &Db) {
    let a = Running::start(Policy::Global, db.storage().await).await;
    let b = Running::start(Policy::Global, db.storage().await).await;
    let alice = a.user("user1-token");
    let t = alice.thread().await;
    let started = Instant::now();
    let cron = alice
        .ok(&format!("/threads/{t}/runs/crons"), Some(cron_of("once")))
        .await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let cron_id = cron["cron_id"].as_str().unwrap();
    assert_eq!(alice.delete_cron(cron_id).await, 204);
    let seconds = started.elapsed().as_secs_f64();
    let runs = b
        .user("user1-token")
        .ok(&format!("/threads/{t}/runs?limit=100"), None)
        .await;
    let fired = runs.as_array().unwrap().len();
    // One date per whole second that passed, plus one for the second the cron was created in.
    let most = seconds.ceil() as usize + 1;
    assert!(
        (2..=most).contains(&fired),
        "{fired} runs in {seconds:.2} s ({})",
        db.name
    );
    a.stop().await;
    b.stop().await;
}

/// A run still executing when the shutdown's wait is over is given back to the queue, and the
/// next server on the database executes it.
#[tokio::test]
async fn a_run_cut_by_shutdown_is_given_back_and_executed_after_restart() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_run_cut_by_shutdown_is_given_back_on(&db).await;
        drop(db);
    }
}

async fn a_run_cut_by_shutdown_is_given_back_on(db: &Db) {
    let config = agent_server::QueueConfig {
        shutdown_wait: Duration::from_millis(200),
        ..Default::default()
    };
    let server = Server::new(Policy::Global.build().unwrap())
        .graph("agent", Slow)
        .storage(db.storage().await)
        .queue(config)
        .quiet(true);
    let first = Running::serve(server).await;
    let alice = first.user("user1-token");
    let t = alice.thread().await;
    let rid = alice.create_run(&t, run_of("cut short")).await;
    alice.until_running(&t, &rid).await;
    first.stop().await;
    let (_, runs) = stored_runs(db, &t).await;
    assert_eq!(runs[0].status.as_str(), "pending");
    assert_eq!(runs[0].queue.lease_owner, None);
    let second = Running::with_graph(Slow, db.storage().await).await;
    let alice = second.user("user1-token");
    let out = alice.join(&t, &rid).await;
    assert!(out.to_string().contains("cut short"), "{out}");
    second.stop().await;
}

/// A cron on a thread adds its runs to that thread, as its owner.
#[tokio::test]
async fn a_cron_on_a_thread_runs_there() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_cron_on_a_thread_runs_there_on(&db).await;
        drop(db);
    }
}

async fn a_cron_on_a_thread_runs_there_on(db: &Db) {
    let server = Running::start(Policy::Global, db.storage().await).await;
    let alice = server.user("user1-token");
    let t = alice.thread().await;
    let cron = alice
        .ok(&format!("/threads/{t}/runs/crons"), Some(cron_of("again")))
        .await;
    assert!(cron["next_run_date"].is_string(), "{cron}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            let runs = alice.ok(&format!("/threads/{t}/runs"), None).await;
            runs.as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == "success")
                .count()
                >= 2
        })
        .await
    );
    assert_eq!(alice.threads().await.len(), 1);
    server.stop().await;
}

/// A cron past its `end_time`, or disabled, has no next run date and never fires; a bad schedule
/// or time zone is 422.
#[tokio::test]
async fn ended_disabled_and_invalid_crons_do_not_fire() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        ended_disabled_and_invalid_crons_do_not_fire_on(&db).await;
        drop(db);
    }
}

async fn ended_disabled_and_invalid_crons_do_not_fire_on(db: &Db) {
    let server = Running::start(Policy::Global, db.storage().await).await;
    let alice = server.user("user1-token");
    let ended = alice
        .ok(
            "/runs/crons",
            Some(json!({
                "assistant_id": "agent",
                "schedule": "* * * * * *",
                "end_time": "2000-01-01T00:00:00Z",
                "input": said("never"),
            })),
        )
        .await;
    assert_eq!(ended["next_run_date"], Value::Null, "{ended}");
    let disabled = alice
        .ok(
            "/runs/crons",
            Some(json!({"assistant_id": "agent", "schedule": "* * * * * *", "enabled": false})),
        )
        .await;
    assert_eq!(disabled["next_run_date"], Value::Null, "{disabled}");
    // Enabling it later schedules it; the zone is honoured.
    let id = disabled["cron_id"].as_str().unwrap();
    let (status, enabled) = alice
        .send(
            reqwest::Method::PATCH,
            &format!("/runs/crons/{id}"),
            Some(json!({"enabled": true, "schedule": "0 9 * * *", "timezone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(status, 200, "{enabled}");
    let next = enabled["next_run_date"].as_str().unwrap();
    assert!(next.contains("T00:00:00.000000+00:00"), "{next}");
    for bad in [
        json!({"assistant_id": "agent", "schedule": "61 * * * *"}),
        json!({"assistant_id": "agent", "schedule": "* * * *"}),
        json!({"assistant_id": "agent", "schedule": "* * * * *", "timezone": "Nowhere/Else"}),
        json!({"assistant_id": "agent", "schedule": "* * * * *", "end_time": "soon"}),
    ] {
        let (status, body) = alice.post("/runs/crons", bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(alice.threads().await.is_empty());
    server.stop().await;
}

/// Now, as the server writes dates.
fn jiff_now() -> String {
    agent_server::testing::now()
}

/// A policy under which the user `reader` may create threads and crons but no runs.
mod no_runs {
    use auth::types::{AuthValue, RunsCreate};
    use auth::{AuthContext, Filter, HttpException, MinimalUser};

    /// `Bearer <name>` is the user `<name>`.
    #[auth::authenticate]
    pub async fn who(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|name| MinimalUser::new(name.to_owned()))
            .ok_or_else(|| HttpException::new(401).with_detail("Missing token"))
    }

    /// The owner rule.
    #[auth::on]
    pub async fn owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
        let me = ctx.user.identity();
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), me.into());
        }
        Filter::eq("owner", me)
    }

    /// The owner rule, refusing every run of `reader`.
    #[auth::on(threads.create_run)]
    pub async fn create_run(
        ctx: &AuthContext,
        value: &mut RunsCreate,
    ) -> Result<Filter, HttpException> {
        if ctx.user.identity() == "reader" {
            return Err(HttpException::new(403).with_detail("readers create no runs"));
        }
        let me = ctx.user.identity();
        value
            .metadata
            .get_or_insert_with(Default::default)
            .insert("owner".into(), me.into());
        Ok(Filter::eq("owner", me))
    }
}

/// A cron's runs pass the authorization its owner's would: a user refused runs gets none from
/// their cron either, and no thread is left behind by the refused firings.
#[tokio::test]
async fn a_cron_owner_refused_runs_gets_none_and_no_thread() {
    for db in Db::all().await {
        eprintln!("backend: {}", db.name);
        a_cron_owner_refused_runs_gets_none_and_no_thread_on(&db).await;
        drop(db);
    }
}

async fn a_cron_owner_refused_runs_gets_none_and_no_thread_on(db: &Db) {
    let auth = auth::Auth::builder()
        .module(&format!("{}::no_runs", module_path!()))
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Server::new(auth)
        .graph("agent", Recording(seen.clone()))
        .storage(db.storage().await)
        .quiet(true);
    let server = Running::serve(server).await;
    let (reader, writer) = (server.user("reader"), server.user("writer"));
    let t = reader.thread().await;
    let (status, body) = reader
        .post(&format!("/threads/{t}/runs"), run_of("no"))
        .await;
    assert_eq!(status, 403, "{body}");
    reader.ok("/runs/crons", Some(kept_cron_of("no"))).await;
    reader
        .ok(
            &format!("/threads/{t}/runs/crons"),
            Some(kept_cron_of("no")),
        )
        .await;
    // The writer's cron fires meanwhile: the worker is firing crons.
    writer.ok("/runs/crons", Some(kept_cron_of("yes"))).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            writer.threads().await.len() >= 2
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        reader.threads().await.len(),
        1,
        "{:?}",
        reader.threads().await
    );
    let runs = reader.ok(&format!("/threads/{t}/runs"), None).await;
    assert_eq!(runs, json!([]));
    assert!(
        seen.lock().unwrap().iter().all(|u| u == "writer"),
        "{seen:?}"
    );
    server.stop().await;
}
