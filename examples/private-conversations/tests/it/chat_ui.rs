//! What LangChain's `agent-chat-ui` relies on beyond the official clients' calls: a thread
//! carries `graph_id` and `assistant_id` in its metadata once a run is created on it (the UI lists
//! a user's conversations by searching `{"metadata": {"graph_id": "agent"}}`), added to what the
//! policy stamped, so that each user's list still holds only their threads.

use serde_json::json;
use tutorial_policy::Policy;

use crate::common::Server;

#[tokio::test]
async fn a_run_stamps_graph_and_assistant_into_its_threads_metadata() {
    for policy in [Policy::Global, Policy::Scoped] {
        let server = Server::start(policy).await;
        let (alice, bob) = (server.alice(), server.bob());
        let mine = alice
            .post("/threads", json!({"metadata": {"topic": "a"}}))
            .await;
        let mine = mine.ok()["thread_id"].as_str().unwrap().to_owned();
        let theirs = bob.post("/threads", json!({})).await;
        let theirs = theirs.ok()["thread_id"].as_str().unwrap().to_owned();
        // Before any run, no thread is listed by graph.
        let by_graph = json!({"metadata": {"graph_id": "agent"}});
        let listed = alice.post("/threads/search", by_graph.clone()).await;
        assert_eq!(listed.ok(), &json!([]), "{policy:?}");

        let input = json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}});
        for (user, tid) in [(&alice, &mine), (&bob, &theirs)] {
            let r = user
                .post(&format!("/threads/{tid}/runs/wait"), input.clone())
                .await;
            r.ok();
        }
        let thread = alice.get(&format!("/threads/{mine}")).await;
        let metadata = &thread.ok()["metadata"];
        assert_eq!(metadata["graph_id"], "agent", "{policy:?}: {metadata}");
        let assistant = metadata["assistant_id"].as_str().unwrap();
        assert_eq!(assistant.len(), 36, "{policy:?}: {metadata}");
        assert_eq!(metadata["owner"], "user1", "{policy:?}: {metadata}");
        assert_eq!(metadata["topic"], "a", "{policy:?}: {metadata}");

        // Each user's list by graph holds only their own thread.
        for (user, tid) in [(&alice, &mine), (&bob, &theirs)] {
            let listed = user.post("/threads/search", by_graph.clone()).await;
            let ids: Vec<&str> = listed
                .ok()
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["thread_id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, [tid.as_str()], "{policy:?}");
        }
        server.stop().await;
    }
}
