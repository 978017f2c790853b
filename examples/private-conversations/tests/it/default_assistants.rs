//! A graph's default assistant is the server's (issue 26, "default assistants"): its id space is
//! reserved, its row is the server's and no user write changes it, and a server whose default
//! id is held by an assistant it did not create does not start. On every backend
//! (`PC_TEST_BACKEND`).

use agent_server::graph::{Echo, default_assistant_id};
use agent_server::testing::{Assistant, AssistantVersion};
use agent_server::{Limits, Storage};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tutorial_policy::Policy;

use crate::common::{Client, OpenStorage, Server, TestDatabase};

/// A server on `storage` serving `app`'s graphs; stopped by sending on the returned channel.
async fn serve(
    app: agent_server::Server,
    storage: &Storage,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let app = app.quiet(true).storage(storage.clone());
    let task = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    (base, stop, task)
}

fn client(base: &str, token: &str) -> Client {
    Client::at(base, Some(token))
}

/// Bob tries to take the default id of a graph the operator adds later (or of one whose
/// start-up insert failed), with a config of his own: before, the create was accepted and, once
/// the graph was added, every user's runs of its default assistant used Bob's config. Now any
/// version-5 id is refused (422) before the graph exists, under both policies, and the server
/// that adds the graph creates its own default assistant.
#[tokio::test]
async fn a_user_cannot_take_a_default_assistant_id() {
    let db = TestDatabase::from_env().await;
    let storage = db.storage().await;
    let later = default_assistant_id("later").to_string();
    let random_v5 = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"mine").to_string();
    for policy in [Policy::Global, Policy::Scoped] {
        let (base, stop, task) =
            serve(agent_server::Server::new(policy.build().unwrap()), &storage).await;
        let bob = client(&base, "user2-token");
        for id in [
            later.as_str(),
            &default_assistant_id("agent").to_string(),
            &random_v5,
        ] {
            for if_exists in ["raise", "do_nothing"] {
                let r = bob
                    .post(
                        "/assistants",
                        json!({"assistant_id": id, "graph_id": "agent", "if_exists": if_exists,
                               "config": {"configurable": {"model": "bob's"}}}),
                    )
                    .await;
                assert_eq!(r.status, 422, "{policy:?} {id}: {}", r.text);
                assert!(r.detail().contains("reserved"), "{}", r.detail());
            }
        }
        if policy == Policy::Global {
            // Ids of his own choosing that are not reserved are his.
            let mine = uuid::Uuid::new_v4().to_string();
            let r = bob
                .post(
                    "/assistants",
                    json!({"assistant_id": mine, "graph_id": "agent"}),
                )
                .await;
            assert_eq!(r.ok()["assistant_id"], mine.as_str());
        }
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
    // The operator adds the graph: its default assistant is the server's, config and all.
    let app = agent_server::Server::new(Policy::Global.build().unwrap())
        .graph("agent", Echo)
        .graph("later", Echo);
    let (base, stop, task) = serve(app, &storage).await;
    let alice = client(&base, "user1-token");
    let t = alice.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let input = json!({"messages": [{"role": "user", "content": "hi"}]});
    for id in ["later", later.as_str()] {
        let run = alice
            .post(
                &format!("/threads/{t}/runs"),
                json!({"assistant_id": id, "input": input}),
            )
            .await;
        let run = run.ok();
        assert_eq!(run["assistant_id"], later.as_str());
        assert!(
            !run["kwargs"]["config"].to_string().contains("bob's"),
            "{run}"
        );
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// Under a policy that lets every user change every assistant (no handlers at all: every
/// pair uncovered and allowed), the default assistant still cannot be changed or deleted: 403,
/// by its id or its graph's name, and it stays as the server made it. Under the tutorial's
/// filter it is hidden from writes as before (404).
#[tokio::test]
async fn no_user_changes_or_deletes_a_default_assistant() {
    let server =
        Server::start_with(auth::Auth::builder().build().unwrap(), Limits::default()).await;
    let anyone = server.user(None);
    let id = default_assistant_id("agent").to_string();
    for name in [id.as_str(), "agent"] {
        let changes: [(reqwest::Method, String, Option<Value>); 3] = [
            (
                reqwest::Method::PATCH,
                format!("/assistants/{name}"),
                Some(json!({"config": {"configurable": {"model": "mine"}}})),
            ),
            (
                reqwest::Method::POST,
                format!("/assistants/{name}/latest"),
                Some(json!({"version": 1})),
            ),
            (reqwest::Method::DELETE, format!("/assistants/{name}"), None),
        ];
        for (method, path, body) in changes {
            let r = anyone.send(method.clone(), &path, body).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
            assert!(
                r.detail().contains("belongs to the server"),
                "{}",
                r.detail()
            );
        }
    }
    let kept = anyone.get(&format!("/assistants/{id}")).await;
    let kept = kept.ok();
    assert_eq!(kept["config"], json!({}));
    assert_eq!(kept["version"], 1);
    assert_eq!(kept["metadata"], json!({"created_by": "system"}));
    // A user's own assistant, created with the same shape, is theirs to change.
    let own = anyone
        .post(
            "/assistants",
            json!({"graph_id": "agent", "metadata": {"created_by": "system"}}),
        )
        .await;
    let own_id = own.ok()["assistant_id"].as_str().unwrap().to_owned();
    let r = anyone
        .patch(&format!("/assistants/{own_id}"), json!({"name": "renamed"}))
        .await;
    assert_eq!(r.ok()["name"], "renamed");
    assert_eq!(
        anyone.delete(&format!("/assistants/{own_id}")).await.status,
        204
    );
    server.stop().await;

    let server = Server::start(Policy::Global).await;
    let r = server
        .alice()
        .patch(&format!("/assistants/{id}"), json!({"name": "mine"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    server.stop().await;
}

/// An assistant the server did not create, under the default id of one of its graphs (a
/// database written by an earlier server, where a user could take that id): the server does
/// not start, and says which graph and id. A default assistant the server created itself (a
/// restart) is kept.
#[tokio::test]
async fn start_up_fails_when_a_default_id_is_not_the_servers() {
    let db = TestDatabase::from_env().await;
    let storage = db.storage().await;
    let addr = std::net::IpAddr::from([127, 0, 0, 1]);
    // The server's own, then a restart on the same storage.
    for _ in 0..2 {
        let app =
            agent_server::Server::new(Policy::Global.build().unwrap()).storage(storage.clone());
        assert!(app.router(addr).await.is_ok());
    }
    let taken = default_assistant_id("later").to_string();
    let version = AssistantVersion {
        assistant_id: taken.clone(),
        graph_id: "agent".into(),
        config: json!({"configurable": {"model": "bob's"}}),
        context: json!({}),
        metadata: json!({"owner": "user2"}).as_object().cloned().unwrap(),
        version: 1,
        name: "Untitled".into(),
        description: None,
        created_at: "2025-01-01T00:00:00.000000+00:00".into(),
    };
    let bobs = Assistant {
        current: version.clone(),
        updated_at: version.created_at.clone(),
        versions: vec![version],
        system: false,
    };
    let scope = agent_server::authz::Scope::system_for_tests("an earlier server's row");
    storage
        .assistants()
        .insert(bobs, agent_server::testing::IfExists::Raise, &scope)
        .await
        .unwrap();
    let app = agent_server::Server::new(Policy::Global.build().unwrap())
        .storage(storage.clone())
        .graph("agent", Echo)
        .graph("later", Echo);
    let Err(error) = app.router(addr).await else {
        panic!("the server refuses to start");
    };
    let message = error.to_string();
    assert!(message.contains(&taken), "{message}");
    assert!(message.contains("\"later\""), "{message}");
    assert!(message.contains("did not create"), "{message}");
    // Its row is left as it was, for the operator to look at.
    let kept = storage
        .assistants()
        .get(&taken, &scope)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.current.config["configurable"]["model"], "bob's");
}
