//! The scenarios every backend answers alike ([`super::on_every_backend`]), and the
//! differential test.

use std::sync::Arc;

use auth::Filter;
use auth::types::{RunStatus, ThreadStatus};
use serde_json::{Value, json};

use super::{
    PgDb, TempFile, all_history, ids_of, meta, new_thread, on_every_backend, owner, system, thread,
    up_to_100,
};
use crate::authz::Access;
use crate::model::{Object, Thread, Values};
use crate::storage::{
    Column, Condition, HistoryPage, IfExists, Inserted, ItemSearch, Modifier, Query, Storage,
    StoreError, ThreadChange,
};

#[tokio::test]
async fn threads_crud_and_filters_hide_rows() {
    on_every_backend(|name, s| async move {
        let sys = system();
        for (id, o, n) in [("t1", "a", 1), ("t2", "b", 2), ("t3", "a", 3)] {
            let t = thread(id, json!({"owner": o, "n": n, "tags": ["x", o]}));
            assert!(matches!(
                s.threads.insert(t, IfExists::Raise, &sys).await.unwrap(),
                Inserted::Created(_)
            ));
        }
        let (a, b) = (owner("a"), owner("b"));
        // insert: an existing id is 409 when hidden, even with DoNothing; the visible one returns.
        let again = thread("t2", json!({"owner": "a"}));
        let err = s
            .threads
            .insert(again.clone(), IfExists::DoNothing, &a)
            .await;
        let err = err.unwrap_err();
        assert!(
            matches!(&err, StoreError::Exists { kind: "Thread", id } if id == "t2"),
            "{name}: {err:?}"
        );
        match s
            .threads
            .insert(again, IfExists::DoNothing, &b)
            .await
            .unwrap()
        {
            Inserted::Existing(t) => assert_eq!(t.metadata["owner"], "b", "{name}"),
            Inserted::Created(_) => panic!("{name}: created twice"),
        }
        // get
        let got = s.threads.get("t1", &a).await.unwrap().expect("visible");
        assert_eq!(
            got.metadata,
            meta(json!({"owner": "a", "n": 1, "tags": ["x", "a"]}))
        );
        assert!(s.threads.get("t2", &a).await.unwrap().is_none(), "{name}");
        assert!(
            s.threads.get("nope", &sys).await.unwrap().is_none(),
            "{name}"
        );
        // modify: hidden is absent and untouched
        let change: Modifier<'_, Thread> = Box::new(|t| {
            t.metadata.insert("owner".into(), "a".into());
            Ok(())
        });
        assert!(s.threads.modify("t2", &a, change).await.unwrap().is_none());
        assert_eq!(
            s.threads.get("t2", &sys).await.unwrap().unwrap().metadata["owner"],
            "b",
            "{name}"
        );
        let change: Modifier<'_, Thread> = Box::new(|t| {
            t.status = ThreadStatus::Busy;
            Ok(())
        });
        let changed = s.threads.modify("t1", &a, change).await.unwrap().unwrap();
        assert_eq!(changed.status, ThreadStatus::Busy);
        assert_eq!(
            s.threads.get("t1", &a).await.unwrap().unwrap().status,
            ThreadStatus::Busy
        );
        // a failing change changes nothing
        let change: Modifier<'_, Thread> = Box::new(|t| {
            t.status = ThreadStatus::Error;
            Err(StoreError::Conflict("no".into()))
        });
        let refused = s.threads.modify("t1", &a, change).await.unwrap_err();
        assert!(
            matches!(&refused, StoreError::Conflict(m) if m == "no"),
            "{name}: {refused:?}"
        );
        assert_eq!(
            s.threads.get("t1", &a).await.unwrap().unwrap().status,
            ThreadStatus::Busy
        );
        // search and count
        let q = Query {
            limit: 10,
            ..Query::new(&a)
        };
        assert_eq!(
            ids_of(&s, q).await,
            (vec!["t3".into(), "t1".into()], 2),
            "{name}"
        );
        let wanted = meta(json!({"tags": ["x"]}));
        let q = Query {
            metadata: Some(&wanted),
            sort: Column::Id,
            descending: false,
            ..Query::new(&b)
        };
        assert_eq!(ids_of(&s, q).await, (vec!["t2".into()], 1), "{name}");
        // a bare scalar is not contained in a list (PostgreSQL's `@>`)
        let wanted = meta(json!({"tags": "x"}));
        let q = Query {
            metadata: Some(&wanted),
            ..Query::new(&sys)
        };
        assert_eq!(ids_of(&s, q).await.1, 0, "{name}");
        let q = Query {
            conditions: vec![Condition::Equals(Column::Status, "busy".into())],
            ..Query::new(&sys)
        };
        assert_eq!(ids_of(&s, q).await, (vec!["t1".into()], 1), "{name}");
        let ids = ["t1".to_owned(), "t2".to_owned(), "t2".to_owned()];
        let q = Query {
            ids: Some(&ids),
            limit: 0,
            ..Query::new(&b)
        };
        assert_eq!(ids_of(&s, q).await, (vec![], 1), "{name}");
        let q = Query {
            sort: Column::Id,
            descending: false,
            offset: 1,
            limit: 1,
            ..Query::new(&sys)
        };
        assert_eq!(ids_of(&s, q).await, (vec!["t2".into()], 3), "{name}");
        // remove: hidden is absent and kept
        assert!(s.threads.remove("t2", &a).await.unwrap().is_none());
        assert!(s.threads.get("t2", &sys).await.unwrap().is_some(), "{name}");
        let targets = vec![("t2".to_owned(), a.clone()), ("t3".to_owned(), a.clone())];
        assert_eq!(s.threads.remove_all(&targets).await.unwrap(), 1, "{name}");
        assert!(s.threads.get("t3", &sys).await.unwrap().is_none(), "{name}");
        assert!(
            s.threads.remove("t2", &b).await.unwrap().is_some(),
            "{name}"
        );
        assert!(s.threads.get("t2", &sys).await.unwrap().is_none(), "{name}");
    })
    .await;
}

fn push(values: Value, n: i64) -> ThreadChange<'static> {
    Box::new(move |tx| {
        let mut m = Object::new();
        m.insert("n".into(), n.into());
        m.insert(
            "source".into(),
            if n % 2 == 0 { "loop" } else { "input" }.into(),
        );
        tx.push_checkpoint(Values::from_json(values), m);
        Ok(())
    })
}

#[tokio::test]
async fn history_is_paged_and_filters_hide_it() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let (a, b) = (owner("a"), owner("b"));
        for (id, o) in [("h1", "a"), ("h2", "b")] {
            let t = thread(id, json!({"owner": o}));
            s.threads.insert(t, IfExists::Raise, &sys).await.unwrap();
        }
        for n in 0..5 {
            let done = s.threads.transact("h1", &a, push(json!({"n": n}), n)).await;
            assert!(done.unwrap().is_some(), "{name}");
        }
        // hidden: absent, nothing appended
        assert!(
            s.threads
                .transact("h2", &a, push(json!({}), 9))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.threads
                .history(
                    "h2",
                    &a,
                    HistoryPage {
                        limit: 10,
                        ..HistoryPage::default()
                    },
                    &crate::storage::Deadline::unlimited()
                )
                .await
                .unwrap()
                .is_none()
        );
        let free = crate::storage::Deadline::unlimited();
        let h2 = s.threads.history(
            "h2",
            &b,
            HistoryPage {
                limit: 10,
                ..HistoryPage::default()
            },
            &free,
        );
        assert_eq!(h2.await.unwrap().unwrap().len(), 0, "{name}");
        let steps = |cs: &[Arc<crate::model::Checkpoint>]| {
            cs.iter()
                .map(|c| c.metadata["n"].clone())
                .collect::<Vec<_>>()
        };
        let page = |before, limit| HistoryPage {
            limit,
            before,
            metadata: None,
        };
        let first = s
            .threads
            .history(
                "h1",
                &a,
                page(None, 2),
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(steps(&first), [json!(4), json!(3)], "{name}");
        assert_eq!(first[0].metadata["step"], json!(3), "{name}");
        assert_eq!(
            first[0].parent_checkpoint_id.as_deref(),
            Some(first[1].checkpoint_id.as_str())
        );
        let before = first[1].checkpoint_id.clone();
        let next = s
            .threads
            .history(
                "h1",
                &a,
                page(Some(&before), 2),
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(steps(&next), [json!(2), json!(1)], "{name}");
        let wanted = meta(json!({"source": "loop"}));
        let looped = HistoryPage {
            limit: 10,
            before: None,
            metadata: Some(&wanted),
        };
        let looped = s
            .threads
            .history("h1", &a, looped, &crate::storage::Deadline::unlimited())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(steps(&looped), [json!(4), json!(2), json!(0)], "{name}");
        // the thread's values and its latest checkpoint
        let (t, latest) = s.threads.checkpoint("h1", &a, None).await.unwrap().unwrap();
        assert_eq!(t.values.to_json(), json!({"n": 4}), "{name}");
        assert_eq!(latest.unwrap().values.to_json(), json!({"n": 4}), "{name}");
        let (_, at) = s
            .threads
            .checkpoint("h1", &a, Some(&before))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(at.unwrap().metadata["n"], json!(3), "{name}");
        assert!(
            s.threads
                .checkpoint("h1", &b, None)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        // copy: hidden source is absent; a visible one copies values and history
        let to = thread("h3", json!({"owner": "a"}));
        assert!(
            s.threads
                .copy("h1", &b, to.clone(), &a)
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.threads.get("h3", &sys).await.unwrap().is_none(), "{name}");
        let copied = s
            .threads
            .copy("h1", &a, to.clone(), &a)
            .await
            .unwrap()
            .unwrap();
        // Copying onto an existing thread (here b's, hidden from a) is 409 and changes nothing.
        let mut onto = to;
        onto.thread_id = "h2".into();
        let e = s.threads.copy("h1", &a, onto, &a).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Exists { kind: "Thread", id } if id == "h2"),
            "{name}: {e:?}"
        );
        let h2 = s.threads.get("h2", &b).await.unwrap().unwrap();
        assert!(h2.values.is_null(), "{name}");
        assert_eq!(copied.values.to_json(), json!({"n": 4}), "{name}");
        let all = all_history(&s, "h3", &a).await;
        assert_eq!(all.len(), 5, "{name}");
        // keep_latest: hidden untouched
        let pruned = s
            .threads
            .keep_latest(&[("h1".to_owned(), b.clone())])
            .await
            .unwrap();
        assert_eq!(pruned, 0, "{name}");
        let all = all_history(&s, "h1", &a).await;
        assert_eq!(all.len(), 5, "{name}");
        let pruned = s
            .threads
            .keep_latest(&[("h1".to_owned(), a.clone())])
            .await
            .unwrap();
        assert_eq!(pruned, 1, "{name}");
        let all = all_history(&s, "h1", &a).await;
        assert_eq!(steps(&all), [json!(4)], "{name}");
        // the copy kept its own history
        let all = all_history(&s, "h3", &a).await;
        assert_eq!(all.len(), 5, "{name}");
    })
    .await;
}

#[tokio::test]
async fn runs_are_kept_with_their_thread() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let a = owner("a");
        s.threads
            .insert(thread("r1", json!({"owner": "a"})), IfExists::Raise, &sys)
            .await
            .unwrap();
        let run = |id: &str, status: &str| crate::model::Run {
            run_id: id.into(),
            thread_id: "r1".into(),
            assistant_id: "asst".into(),
            created_at: crate::util::now(),
            updated_at: crate::util::now(),
            status: status.parse().unwrap(),
            metadata: meta(json!({"k": 1})),
            kwargs: meta(json!({"input": {"x": [1, 2]}})),
            multitask_strategy: "reject".into(),
            queue: crate::model::QueueState::default(),
        };
        let (one, two) = (run("run1", "pending"), run("run2", "pending"));
        let add: ThreadChange<'_> = Box::new(|tx| {
            tx.runs.push(Arc::new(one));
            tx.runs.push(Arc::new(two));
            Ok(())
        });
        s.threads.transact("r1", &a, add).await.unwrap().unwrap();
        let finish: ThreadChange<'_> = Box::new(|tx| {
            Arc::make_mut(&mut tx.runs[0]).status = RunStatus::Success;
            tx.runs.remove(1);
            Ok(())
        });
        s.threads.transact("r1", &a, finish).await.unwrap().unwrap();
        let (_, runs) = s.threads.runs("r1", &a).await.unwrap().unwrap();
        let got: Vec<(&str, &str)> = runs
            .iter()
            .map(|r| (r.run_id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(got, [("run1", "success")], "{name}");
        assert_eq!(
            runs[0].kwargs,
            meta(json!({"input": {"x": [1, 2]}})),
            "{name}"
        );
        assert!(s.threads.runs("r1", &owner("b")).await.unwrap().is_none());
        assert!(s.threads.remove("r1", &a).await.unwrap().is_some());
        assert!(
            s.threads.runs("r1", &sys).await.unwrap().is_none(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn store_prefix_search_and_namespaces_apply_filters() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let ns = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let places = [
            (
                ns(&["u1", "notes"]),
                "k1",
                json!({"text": "Hello World", "n": 1}),
            ),
            (
                ns(&["u1", "notes"]),
                "k2",
                json!({"text": "bye", "tags": ["a"]}),
            ),
            (ns(&["u1", "x", "notes"]), "k3", json!({"text": "deep"})),
            (ns(&["u2", "notes"]), "k1", json!({"text": "hello other"})),
            (ns(&["u1a", "notes"]), "k1", json!({"text": "neighbour"})),
        ];
        for (n, k, v) in places {
            let put = s.items.put(&sys, n, k.into(), meta(v)).await.unwrap();
            assert!(put.is_some(), "{name}");
        }
        let u1 = Access::for_tests(Some(Filter::contains("namespace", "u1")));
        // get / put / delete of another's item: refused, kept
        assert!(
            s.items
                .get(&u1, &ns(&["u2", "notes"]), "k1")
                .await
                .unwrap()
                .is_none()
        );
        let put = s
            .items
            .put(&u1, ns(&["u2", "notes"]), "k1".into(), Object::new());
        assert!(put.await.unwrap().is_none(), "{name}");
        assert_eq!(
            s.items
                .delete(&u1, &ns(&["u2", "notes"]), "k1")
                .await
                .unwrap(),
            None
        );
        let other = s
            .items
            .get(&sys, &ns(&["u2", "notes"]), "k1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(other.value["text"], "hello other", "{name}");
        assert_eq!(
            s.items
                .delete(&u1, &ns(&["u1", "nope"]), "k")
                .await
                .unwrap(),
            Some(false)
        );
        // search: prefix, filter, value filter, words
        let keys = |items: Vec<crate::model::Item>| {
            let mut out: Vec<String> = items
                .iter()
                .map(|i| format!("{}/{}", i.namespace.join("."), i.key))
                .collect();
            out.sort();
            out
        };
        let all = ItemSearch::default();
        let found = s
            .items
            .search(
                &u1,
                &ns(&["u1"]),
                &all,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(
            keys(found),
            ["u1.notes/k1", "u1.notes/k2", "u1.x.notes/k3"],
            "{name}"
        );
        let found = s
            .items
            .search(
                &u1,
                &[],
                &all,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(keys(found).len(), 3, "{name}");
        let found = s
            .items
            .search(
                &sys,
                &[],
                &all,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(keys(found).len(), 5, "{name}");
        let tagged = ItemSearch {
            filter: Some(meta(json!({"tags": ["a"]}))),
            words: Vec::new(),
        };
        let found = s
            .items
            .search(
                &sys,
                &[],
                &tagged,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(keys(found), ["u1.notes/k2"], "{name}");
        let hello = ItemSearch {
            filter: None,
            words: vec!["hello".into()],
        };
        let found = s
            .items
            .search(
                &u1,
                &[],
                &hello,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(keys(found), ["u1.notes/k1"], "{name}");
        let found = s
            .items
            .search(
                &sys,
                &ns(&["u1"]),
                &all,
                1,
                1,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{name}");
        // namespaces
        let list = |scope: Access, prefix: Vec<String>, suffix: Vec<String>, depth| {
            let s = s.clone();
            async move {
                s.items
                    .list_namespaces(&scope, &prefix, &suffix, depth, 100, 0)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            list(u1.clone(), vec![], vec![], None).await,
            [ns(&["u1", "notes"]), ns(&["u1", "x", "notes"])],
            "{name}"
        );
        assert_eq!(
            list(sys.clone(), vec![], vec![], None).await,
            [
                ns(&["u1", "notes"]),
                ns(&["u1", "x", "notes"]),
                ns(&["u1a", "notes"]),
                ns(&["u2", "notes"])
            ],
            "{name}"
        );
        assert_eq!(
            list(sys.clone(), ns(&["u1"]), vec![], Some(1)).await,
            [ns(&["u1"])],
            "{name}"
        );
        assert_eq!(
            list(sys.clone(), vec![], ns(&["x", "notes"]), None).await,
            [ns(&["u1", "x", "notes"])],
            "{name}"
        );
        assert_eq!(
            list(sys.clone(), vec![], ns(&["notes"]), Some(2)).await,
            [
                ns(&["u1", "notes"]),
                ns(&["u1", "x"]),
                ns(&["u1a", "notes"]),
                ns(&["u2", "notes"])
            ],
            "{name}"
        );
        assert_eq!(
            list(u1, ns(&["u2"]), vec![], None).await,
            Vec::<Vec<String>>::new()
        );
        // put keeps created_at, changes updated_at
        let before = s
            .items
            .get(&sys, &ns(&["u1", "notes"]), "k1")
            .await
            .unwrap()
            .unwrap();
        let after = s
            .items
            .put(
                &sys,
                ns(&["u1", "notes"]),
                "k1".into(),
                meta(json!({"v": 2})),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.created_at, before.created_at, "{name}");
        let read = s
            .items
            .get(&sys, &ns(&["u1", "notes"]), "k1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, after, "{name}");
    })
    .await;
}

#[tokio::test]
async fn assistants_and_crons_round_trip() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let v1 = crate::model::AssistantVersion {
            assistant_id: "as1".into(),
            graph_id: "agent".into(),
            config: json!({"configurable": {}}),
            context: json!({}),
            metadata: meta(json!({"owner": "a"})),
            version: 1,
            name: "First one".into(),
            description: None,
            created_at: "2025-01-01T00:00:00.000000+00:00".into(),
        };
        let assistant = crate::model::Assistant {
            current: v1.clone(),
            updated_at: v1.created_at.clone(),
            versions: vec![v1.clone()],
            system: false,
        };
        s.assistants
            .insert(assistant.clone(), IfExists::Raise, &sys)
            .await
            .unwrap();
        let got = s.assistants.get("as1", &owner("a")).await.unwrap().unwrap();
        assert_eq!(got, assistant, "{name}");
        assert!(
            s.assistants
                .get("as1", &owner("b"))
                .await
                .unwrap()
                .is_none()
        );
        let change: Modifier<'_, crate::model::Assistant> = Box::new(|a| {
            let mut v2 = a.current.clone();
            v2.version = 2;
            v2.name = "Second".into();
            v2.created_at = "2025-01-02T00:00:00.000000+00:00".into();
            a.versions.push(v2.clone());
            a.current = v2;
            a.updated_at = "2025-01-02T00:00:00.000000+00:00".into();
            Ok(())
        });
        let changed = s
            .assistants
            .modify("as1", &owner("a"), change)
            .await
            .unwrap()
            .unwrap();
        let got = s.assistants.get("as1", &sys).await.unwrap().unwrap();
        assert_eq!(got, changed, "{name}");
        assert_eq!(got.versions.len(), 2, "{name}");
        let q = Query {
            conditions: vec![
                Condition::Holds(Column::Name, "eco".into()),
                Condition::Equals(Column::GraphId, "agent".into()),
            ],
            ..Query::new(&sys)
        };
        assert_eq!(s.assistants.search(q).await.unwrap().total, 1, "{name}");
        let q = Query {
            conditions: vec![Condition::Holds(Column::Name, "First".into())],
            ..Query::new(&sys)
        };
        assert_eq!(s.assistants.search(q).await.unwrap().total, 0, "{name}");
        let q = Query {
            conditions: vec![Condition::Equals(Column::Status, "idle".into())],
            ..Query::new(&sys)
        };
        let e = s.assistants.search(q).await.unwrap_err();
        assert!(matches!(e, StoreError::Internal(_)), "{name}: {e:?}");

        let cron = crate::model::Cron {
            cron_id: "c1".into(),
            assistant_id: "as1".into(),
            thread_id: None,
            schedule: "* * * * *".into(),
            end_time: Value::Null,
            payload: meta(json!({"input": {}})),
            user_id: Some("a".into()),
            metadata: meta(json!({"owner": "a"})),
            enabled: true,
            timezone: None,
            on_run_completed: json!("delete"),
            next_run_date: json!("2025-01-01T00:01:00.000000+00:00"),
            owner: None,
            created_at: crate::util::now(),
            updated_at: crate::util::now(),
        };
        s.crons
            .insert(cron.clone(), IfExists::Raise, &sys)
            .await
            .unwrap();
        assert_eq!(
            s.crons.get("c1", &owner("a")).await.unwrap(),
            Some(cron),
            "{name}"
        );
        let q = Query {
            conditions: vec![Condition::Equals(Column::ThreadId, "t".into())],
            ..Query::new(&sys)
        };
        assert_eq!(s.crons.search(q).await.unwrap().total, 0, "{name}");
        let a = owner("a");
        let q = Query {
            conditions: vec![Condition::Equals(Column::AssistantId, "as1".into())],
            ..Query::new(&a)
        };
        assert_eq!(s.crons.search(q).await.unwrap().total, 1, "{name}");
        assert!(s.crons.remove("c1", &owner("b")).await.unwrap().is_none());
        assert!(s.crons.remove("c1", &owner("a")).await.unwrap().is_some());
    })
    .await;
}

/// Concurrent changes to one row lose nothing: each finds the row, changes it and writes it
/// back in one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_lose_nothing() {
    on_every_backend(|name, s| async move {
        let sys = system();
        s.threads
            .insert(
                thread("c", json!({"owner": "a", "n": 0})),
                IfExists::Raise,
                &sys,
            )
            .await
            .unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let scope = owner("a");
                    if i % 2 == 0 {
                        let change: Modifier<'_, Thread> = Box::new(|t| {
                            let n = t.metadata["n"].as_i64().unwrap_or(0);
                            t.metadata.insert("n".into(), (n + 1).into());
                            Ok(())
                        });
                        s.threads
                            .modify("c", &scope, change)
                            .await
                            .unwrap()
                            .unwrap();
                    } else {
                        let change: ThreadChange<'_> = Box::new(|tx| {
                            let n = tx.thread.metadata["n"].as_i64().unwrap_or(0);
                            tx.thread.metadata.insert("n".into(), (n + 1).into());
                            tx.push_checkpoint(
                                Values::from_json(json!({"n": n + 1})),
                                Object::new(),
                            );
                            Ok(())
                        });
                        s.threads
                            .transact("c", &scope, change)
                            .await
                            .unwrap()
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let t = s.threads.get("c", &sys).await.unwrap().unwrap();
        assert_eq!(t.metadata["n"], json!(16), "{name}");
        let page = HistoryPage {
            limit: 100,
            ..HistoryPage::default()
        };
        let history = s
            .threads
            .history("c", &sys, page, &crate::storage::Deadline::unlimited())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(history.len(), 8, "{name}");
        let steps: Vec<i64> = history.iter().map(|c| crate::storage::step_of(c)).collect();
        assert_eq!(steps, (-1..7).rev().collect::<Vec<_>>(), "{name}");
    })
    .await;
}

/// Inserts that arrive together (SQLite commits them as one group): each new id is created
/// once, a taken id is answered as taken (or as the existing row, which only its owner sees),
/// and every created row is there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_are_each_answered_once() {
    on_every_backend(|name, s| async move {
        // 40 ids, each inserted three times at once: by its owner twice, by another user once.
        let tasks: Vec<_> = (0..120)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let id = format!("g{}", i % 40);
                    let who = if i >= 80 { "b" } else { "a" };
                    let t = thread(&id, json!({"owner": "a", "try": i}));
                    let answer = s.threads.insert(t, IfExists::DoNothing, &owner(who)).await;
                    (id, who, answer)
                })
            })
            .collect();
        let mut created = std::collections::HashMap::new();
        for task in tasks {
            let (id, who, answer) = task.await.unwrap();
            match answer {
                Ok(Inserted::Created(t)) => {
                    assert_eq!(t.thread_id, id, "{name}");
                    *created.entry(id).or_insert(0) += 1;
                }
                Ok(Inserted::Existing(t)) => {
                    assert_eq!(who, "a", "{name}: {id} shown to the other user");
                    assert_eq!(t.metadata["owner"], json!("a"), "{name}");
                }
                Err(e) => {
                    assert_eq!(who, "b", "{name}: {id}: {e:?}");
                    assert!(
                        matches!(&e, StoreError::Exists { kind: "Thread", id: taken } if *taken == id),
                        "{name}: {e:?}"
                    );
                }
            }
        }
        assert_eq!(created.len(), 40, "{name}: {created:?}");
        assert!(created.values().all(|&n| n == 1), "{name}: {created:?}");
        let a = owner("a");
        let (ids, total) = up_to_100(&s, &a).await;
        assert_eq!((ids.len(), total), (40, 40), "{name}");
        // The owner's own search, which the filter implies, and another owner's, which it
        // contradicts.
        for (wanted, expected) in [("a", 40), ("b", 0)] {
            let wanted = meta(json!({"owner": wanted}));
            let q = Query {
                metadata: Some(&wanted),
                limit: 100,
                ..Query::new(&a)
            };
            assert_eq!(ids_of(&s, q).await.1, expected, "{name}");
        }
    })
    .await;
}

/// A search nested deeper than a database renders is 422 on every backend, never an answer on
/// one and an error on another.
#[tokio::test]
async fn too_deep_searches_are_refused_alike() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let mut deep = json!(1);
        for _ in 0..=auth::sql::MAX_VALUE_DEPTH {
            deep = json!([deep]);
        }
        let wanted = meta(json!({"a": deep}));
        let q = Query {
            metadata: Some(&wanted),
            ..Query::new(&sys)
        };
        let e = s.threads.search(q).await.unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidSearch(auth::sql::SqlError::TooDeep)),
            "{name}: {e:?}"
        );
        let q = Query {
            conditions: vec![Condition::ValuesContain(wanted.clone())],
            ..Query::new(&sys)
        };
        let e = s.threads.search(q).await.unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidSearch(auth::sql::SqlError::TooDeep)),
            "{name}: {e:?}"
        );
        let search = ItemSearch {
            filter: Some(wanted.clone()),
            words: Vec::new(),
        };
        let e = s
            .items
            .search(
                &sys,
                &[],
                &search,
                10,
                0,
                &crate::storage::Deadline::unlimited(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidSearch(auth::sql::SqlError::TooDeep)),
            "{name}: {e:?}"
        );
        s.threads
            .insert(thread("d", json!({})), IfExists::Raise, &sys)
            .await
            .unwrap();
        let page = HistoryPage {
            limit: 1,
            before: None,
            metadata: Some(&wanted),
        };
        let e = s
            .threads
            .history("d", &sys, page, &crate::storage::Deadline::unlimited())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidSearch(auth::sql::SqlError::TooDeep)),
            "{name}: {e:?}"
        );
        // One level less is a search like any other.
        let mut shallow = json!(1);
        for _ in 0..auth::sql::MAX_VALUE_DEPTH {
            shallow = json!([shallow]);
        }
        let wanted = meta(json!({"a": shallow}));
        let q = Query {
            metadata: Some(&wanted),
            ..Query::new(&sys)
        };
        assert_eq!(s.threads.search(q).await.unwrap().total, 0, "{name}");
    })
    .await;
}

/// The differential test: the same generated operations on memory, SQLite and PostgreSQL give
/// every user the same answers (ids in order and totals), with searches by metadata
/// containment, values, status, ids, sort column and direction, limit and offset.
mod differential {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use super::*;
    use crate::util::format_rfc3339;

    const USERS: usize = 3;

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize, Object),
        Update(usize, usize, Object, Option<Value>, Option<&'static str>),
        Delete(usize, usize),
        Search {
            user: usize,
            wanted: Option<Object>,
            values: Option<Object>,
            status: Option<&'static str>,
            ids: Option<Vec<usize>>,
            sort: Column,
            limit: usize,
            offset: usize,
            descending: bool,
        },
    }

    impl Op {
        fn user(&self) -> usize {
            match self {
                Op::Create(u, _) | Op::Update(u, ..) | Op::Delete(u, _) => *u,
                Op::Search { user, .. } => *user,
            }
        }
    }

    /// Values where containment, equality and number types differ.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => Just(json!("x")),
            3 => Just(json!(["x"])),
            1 => Just(json!("y")),
            1 => Just(json!(["x", "y"])),
            1 => Just(json!([["x"], "y"])),
            1 => Just(json!(1)),
            1 => Just(json!(1.0)),
            1 => Just(json!(1.5)),
            1 => Just(json!([1])),
            1 => Just(json!(true)),
            1 => Just(json!(null)),
            1 => Just(json!({"x": 1})),
            1 => Just(json!({"x": {"y": [1, "x"]}})),
            1 => Just(json!("quote\" 'and\\ percent% _")),
        ]
    }

    fn object(min: usize) -> impl Strategy<Value = Object> {
        proptest::collection::btree_map(
            prop_oneof![3 => Just("project"), 1 => Just("tagz"), 1 => Just("x")],
            value(),
            min..3,
        )
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn op() -> impl Strategy<Value = Op> {
        let user = 0..USERS;
        let status = proptest::option::weighted(0.3, prop_oneof![Just("idle"), Just("busy")]);
        prop_oneof![
            3 => (user.clone(), object(0)).prop_map(|(u, m)| Op::Create(u, m)),
            2 => (
                user.clone(),
                0..8usize,
                object(0),
                proptest::option::weighted(0.5, object(0).prop_map(Value::Object)),
                status.clone(),
            )
                .prop_map(|(u, i, m, v, s)| Op::Update(u, i, m, v, s)),
            1 => (user.clone(), 0..8usize).prop_map(|(u, i)| Op::Delete(u, i)),
            4 => (
                user,
                proptest::option::weighted(0.6, object(1)),
                proptest::option::weighted(0.2, object(1)),
                status,
                proptest::option::weighted(0.2, proptest::collection::vec(0..60usize, 0..6)),
                prop_oneof![
                    Just(Column::CreatedAt),
                    Just(Column::UpdatedAt),
                    Just(Column::Id),
                    Just(Column::Status)
                ],
                0..6usize,
                0..3usize,
                any::<bool>(),
            )
                .prop_map(
                    |(user, wanted, values, status, ids, sort, limit, offset, descending)| {
                        Op::Search {
                            user,
                            wanted,
                            values,
                            status,
                            ids,
                            sort,
                            limit,
                            offset,
                            descending,
                        }
                    }
                ),
        ]
    }

    /// Runs `ops` of case `case` on `store`; each answer in order.
    async fn answers(store: &Storage, case: u64, ops: &[Op]) -> Vec<(usize, Vec<String>, usize)> {
        let owner = |u: usize| format!("c{case}-u{u}");
        let scopes: Vec<Access> = (0..USERS)
            .map(|u| Access::for_tests(Some(Filter::eq("owner", owner(u)))))
            .collect();
        let id = |at: usize| format!("c{case}-t{at:04}");
        let mut mine: Vec<Vec<String>> = vec![Vec::new(); USERS];
        let mut out = Vec::new();
        for (at, op) in ops.iter().enumerate() {
            let u = op.user();
            let scope = &scopes[u];
            // Times fixed by the operation's place: every backend sorts the same.
            let time = format_rfc3339(1_700_000_000 + at as u64, 0);
            match op {
                Op::Create(_, m) => {
                    let mut m = m.clone();
                    m.insert("owner".into(), owner(u).into());
                    let mut t = new_thread(id(at), m);
                    t.created_at = time.clone();
                    t.updated_at = time;
                    store
                        .threads
                        .insert(t, IfExists::Raise, scope)
                        .await
                        .unwrap();
                    mine[u].push(id(at));
                }
                Op::Update(_, i, patch, values, status) => {
                    // Another user's thread, now and then: hidden, so untouched.
                    let target = if i % 3 == 0 {
                        mine[(u + 1) % USERS].first().cloned()
                    } else {
                        mine[u].get(i % mine[u].len().max(1)).cloned()
                    };
                    if let Some(target) = target {
                        let (patch, values, status) = (patch.clone(), values.clone(), *status);
                        let change: Modifier<'_, Thread> = Box::new(move |t| {
                            t.metadata.extend(patch);
                            if let Some(v) = values {
                                t.values = Values::from_json(v);
                            }
                            if let Some(s) = status {
                                t.status = s.parse().unwrap();
                            }
                            t.updated_at = time;
                            Ok(())
                        });
                        let done = store.threads.modify(&target, scope, change).await.unwrap();
                        out.push((u, done.into_iter().map(|t| t.thread_id).collect(), 0));
                    }
                }
                Op::Delete(_, i) => {
                    if !mine[u].is_empty() {
                        let at = i % mine[u].len();
                        let target = mine[u].remove(at);
                        let gone = store.threads.remove(&target, scope).await.unwrap();
                        out.push((u, gone.into_iter().map(|t| t.thread_id).collect(), 0));
                    }
                }
                Op::Search {
                    wanted,
                    values,
                    status,
                    ids,
                    sort,
                    limit,
                    offset,
                    descending,
                    ..
                } => {
                    let ids: Option<Vec<String>> =
                        ids.as_ref().map(|ids| ids.iter().map(|&i| id(i)).collect());
                    let mut conditions = Vec::new();
                    if let Some(s) = status {
                        conditions.push(Condition::Equals(Column::Status, (*s).into()));
                    }
                    if let Some(v) = values {
                        conditions.push(Condition::ValuesContain(v.clone()));
                    }
                    let page = store
                        .threads
                        .search(Query {
                            metadata: wanted.as_ref(),
                            ids: ids.as_deref(),
                            conditions,
                            sort: *sort,
                            limit: *limit,
                            offset: *offset,
                            descending: *descending,
                            ..Query::new(scope)
                        })
                        .await
                        .unwrap();
                    let got = page.items.iter().map(|t| t.thread_id.clone()).collect();
                    out.push((u, got, page.total));
                }
            }
        }
        out
    }

    #[derive(Debug, Clone)]
    enum StoreOp {
        Put(usize, usize, Vec<&'static str>, &'static str, Object),
        Delete(usize, usize, Vec<&'static str>, &'static str),
        Get(usize, usize, Vec<&'static str>, &'static str),
        Search(usize, usize, Option<Object>, Vec<&'static str>),
        List {
            user: usize,
            prefix: usize,
            suffix: Vec<&'static str>,
            depth: Option<usize>,
            limit: usize,
            offset: usize,
        },
    }

    fn labels() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("a b"),
                Just("%_"),
                Just("x\u{1}y")
            ],
            0..3,
        )
    }

    fn store_op() -> impl Strategy<Value = StoreOp> {
        let user = 0..USERS;
        // Whose namespace an operation addresses: mostly the user's own.
        let whose = 0..USERS + 2;
        let key = prop_oneof![Just("k1"), Just("k2")];
        let words = proptest::collection::vec(prop_oneof![Just("hello"), Just("x")], 0..2);
        prop_oneof![
            4 => (user.clone(), whose.clone(), labels(), key.clone(), object(0))
                .prop_map(|(u, w, l, k, v)| StoreOp::Put(u, w, l, k, v)),
            1 => (user.clone(), whose.clone(), labels(), key.clone())
                .prop_map(|(u, w, l, k)| StoreOp::Delete(u, w, l, k)),
            1 => (user.clone(), whose.clone(), labels(), key)
                .prop_map(|(u, w, l, k)| StoreOp::Get(u, w, l, k)),
            2 => (user.clone(), 0..3usize, proptest::option::weighted(0.4, object(1)), words)
                .prop_map(|(u, p, f, w)| StoreOp::Search(u, p, f, w)),
            2 => (
                user,
                0..3usize,
                proptest::collection::vec(prop_oneof![Just("a"), Just("b")], 0..2),
                proptest::option::of(1..4usize),
                1..5usize,
                0..3usize,
            )
                .prop_map(|(user, prefix, suffix, depth, limit, offset)| StoreOp::List {
                    user,
                    prefix,
                    suffix,
                    depth,
                    limit,
                    offset,
                }),
        ]
    }

    /// Runs the store operations `ops` of case `case`; each answer, as text.
    async fn store_answers(store: &Storage, case: u64, ops: &[StoreOp]) -> Vec<String> {
        let owner = |u: usize| format!("s{case}-u{u}");
        let scopes: Vec<Access> = (0..USERS)
            .map(|u| Access::for_tests(Some(Filter::contains("namespace", owner(u)))))
            .collect();
        let place = |whose: usize, labels: &[&str]| {
            let mut ns = vec![format!("s{case}"), owner(whose)];
            ns.extend(labels.iter().map(|l| (*l).to_owned()));
            ns
        };
        let prefix_of = |u: usize, p: usize| match p {
            0 => vec![format!("s{case}")],
            1 => vec![format!("s{case}"), owner(u)],
            _ => vec![format!("s{case}"), owner(u), "a".to_owned()],
        };
        let mut out = Vec::new();
        for op in ops {
            let answer = match op {
                StoreOp::Put(u, w, l, k, v) => {
                    let put = store
                        .items
                        .put(&scopes[*u], place(*w, l), (*k).into(), v.clone());
                    format!(
                        "{:?}",
                        put.await.unwrap().map(|i| (i.namespace, i.key, i.value))
                    )
                }
                StoreOp::Delete(u, w, l, k) => {
                    format!(
                        "{:?}",
                        store
                            .items
                            .delete(&scopes[*u], &place(*w, l), k)
                            .await
                            .unwrap()
                    )
                }
                StoreOp::Get(u, w, l, k) => {
                    let got = store
                        .items
                        .get(&scopes[*u], &place(*w, l), k)
                        .await
                        .unwrap();
                    format!("{:?}", got.map(|i| (i.namespace, i.key, i.value)))
                }
                StoreOp::Search(u, p, filter, words) => {
                    let search = ItemSearch {
                        filter: filter.clone(),
                        words: words.iter().map(|w| (*w).to_owned()).collect(),
                    };
                    let found = store
                        .items
                        .search(
                            &scopes[*u],
                            &prefix_of(*u, *p),
                            &search,
                            100,
                            0,
                            &crate::storage::Deadline::unlimited(),
                        )
                        .await
                        .unwrap();
                    // Newest first, and times are the backends' own: compared as a set.
                    let mut found: Vec<String> = found
                        .iter()
                        .map(|i| format!("{:?}/{}", i.namespace, i.key))
                        .collect();
                    found.sort();
                    format!("{found:?}")
                }
                StoreOp::List {
                    user,
                    prefix,
                    suffix,
                    depth,
                    limit,
                    offset,
                } => {
                    let suffix: Vec<String> = suffix.iter().map(|l| (*l).to_owned()).collect();
                    let listed = store
                        .items
                        .list_namespaces(
                            &scopes[*user],
                            &prefix_of(*user, *prefix),
                            &suffix,
                            *depth,
                            *limit,
                            *offset,
                        )
                        .await
                        .unwrap();
                    format!("{listed:?}")
                }
            };
            out.push(answer);
        }
        out
    }

    /// Runs `SQL_DIFF_CASES` (48 by default) random sequences of 1 to 39 operations from `op`
    /// on a fresh in-memory storage, on SQLite and on PostgreSQL (when reachable): fails when
    /// `answers` (given the runtime, the storage, the case number and the operations) on a
    /// database differs from memory's.
    async fn answer_alike<S, R>(
        op: fn() -> S,
        answers: impl Fn(&tokio::runtime::Handle, &Storage, u64, &[S::Value]) -> R + Send + 'static,
    ) where
        S: Strategy + 'static,
        S::Value: Send + 'static,
        R: PartialEq + std::fmt::Debug,
    {
        let file = TempFile::new();
        let sqlite = Storage::connect(&file.url()).await.expect("sqlite");
        let pg = PgDb::create().await;
        let postgres = match &pg {
            Some(db) => Some(Storage::connect(&db.url).await.expect("postgres")),
            None => None,
        };
        let cases: u32 = std::env::var("SQL_DIFF_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(48);
        let rt = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut runner = TestRunner::new(Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            });
            let case = std::sync::atomic::AtomicU64::new(0);
            runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let expected = answers(&rt, &Storage::in_memory(), n, &ops);
                let lite = answers(&rt, &sqlite, n, &ops);
                if lite != expected {
                    return Err(TestCaseError::fail(format!(
                        "sqlite: {lite:?}\nmemory: {expected:?}"
                    )));
                }
                if let Some(pg) = &postgres {
                    let got = answers(&rt, pg, n, &ops);
                    if got != expected {
                        return Err(TestCaseError::fail(format!(
                            "postgres: {got:?}\nmemory: {expected:?}"
                        )));
                    }
                }
                Ok(())
            })
        })
        .await
        .expect("the runner");
        if let Some(db) = pg {
            db.drop_db().await;
        }
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn store_answers_alike() {
        answer_alike(store_op, |rt, store, n, ops| {
            rt.block_on(store_answers(store, n, ops))
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_sqlite_and_postgres_answer_alike() {
        answer_alike(op, |rt, store, n, ops| rt.block_on(answers(store, n, ops))).await;
    }
}

/// An assistant as the contract's tests store it: `id`, metadata `metadata`, one version.
fn assistant(id: &str, metadata: Value, system: bool) -> crate::model::Assistant {
    let v1 = crate::model::AssistantVersion {
        assistant_id: id.into(),
        graph_id: "agent".into(),
        config: json!({}),
        context: json!({}),
        metadata: meta(metadata),
        version: 1,
        name: "agent".into(),
        description: None,
        created_at: "2025-01-01T00:00:00.000000+00:00".into(),
    };
    crate::model::Assistant {
        current: v1.clone(),
        updated_at: v1.created_at.clone(),
        versions: vec![v1],
        system,
    }
}

/// A graph's default assistant is the server's: a property of its row that only system work
/// writes. A user's scope (even one without a filter, as an uncovered pair gives) can neither
/// create such a row, nor change or remove one, nor make its own assistant one; a filter that
/// hides it still answers "absent". The property reads back from every backend, by id and in
/// searches.
#[tokio::test]
async fn the_servers_assistants_are_written_by_its_own_work_only() {
    on_every_backend(|name, s| async move {
        let sys = system();
        let anyone = Access::for_tests(None);
        let refused = |e: StoreError, id: &str| {
            assert!(
                matches!(&e, StoreError::SystemOwned { kind: "Assistant", id: i } if i == id),
                "{name}: {e:?}"
            );
        };
        // A user cannot create one.
        let e = s
            .assistants
            .insert(assistant("d1", json!({}), true), IfExists::Raise, &anyone)
            .await
            .unwrap_err();
        refused(e, "d1");
        assert!(
            s.assistants.get("d1", &sys).await.unwrap().is_none(),
            "{name}"
        );
        // The server can, and it reads back as the server's.
        s.assistants
            .insert(
                assistant("d1", json!({"created_by": "system"}), true),
                IfExists::Raise,
                &sys,
            )
            .await
            .unwrap();
        let stored = s.assistants.get("d1", &anyone).await.unwrap().unwrap();
        assert!(stored.system, "{name}");
        let found = s.assistants.search(Query::new(&anyone)).await.unwrap();
        assert!(found.items.iter().all(|a| a.system), "{name}");
        // A user's change or removal is refused, and leaves it as it was.
        let change: Modifier<'_, crate::model::Assistant> = Box::new(|a| {
            a.current.config = json!({"configurable": {"model": "mine"}});
            Ok(())
        });
        refused(
            s.assistants
                .modify("d1", &anyone, change)
                .await
                .unwrap_err(),
            "d1",
        );
        refused(s.assistants.remove("d1", &anyone).await.unwrap_err(), "d1");
        let targets = [("d1".to_owned(), anyone.clone())];
        refused(s.assistants.remove_all(&targets).await.unwrap_err(), "d1");
        assert_eq!(
            s.assistants.get("d1", &sys).await.unwrap().unwrap(),
            stored,
            "{name}"
        );
        // A filter that hides it answers "absent", as for any assistant.
        let change: Modifier<'_, crate::model::Assistant> = Box::new(|_| Ok(()));
        assert!(
            s.assistants
                .modify("d1", &owner("a"), change)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.assistants
                .remove("d1", &owner("a"))
                .await
                .unwrap()
                .is_none()
        );
        // A user's own assistant cannot become the server's.
        s.assistants
            .insert(
                assistant("u1", json!({"owner": "a"}), false),
                IfExists::Raise,
                &owner("a"),
            )
            .await
            .unwrap();
        let promote: Modifier<'_, crate::model::Assistant> = Box::new(|a| {
            a.system = true;
            Ok(())
        });
        refused(
            s.assistants
                .modify("u1", &owner("a"), promote)
                .await
                .unwrap_err(),
            "u1",
        );
        let mine = s.assistants.get("u1", &owner("a")).await.unwrap().unwrap();
        assert!(!mine.system, "{name}");
        // The server's own work may change it; it stays the server's.
        let change: Modifier<'_, crate::model::Assistant> = Box::new(|a| {
            a.current.name = "renamed".into();
            Ok(())
        });
        let changed = s
            .assistants
            .modify("d1", &sys, change)
            .await
            .unwrap()
            .unwrap();
        assert!(changed.system, "{name}");
        assert!(
            s.assistants.get("d1", &sys).await.unwrap().unwrap().system,
            "{name}"
        );
        assert!(
            s.assistants
                .remove("u1", &owner("a"))
                .await
                .unwrap()
                .is_some(),
            "{name}"
        );
    })
    .await;
}
