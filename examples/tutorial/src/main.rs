//! Runs LangGraph's "Making Conversations Private" tutorial in process: Alice and Bob send
//! requests to a tiny in-memory thread store guarded by the tutorial's two policies, and each
//! expected outcome prints a ✅ line (an unexpected one prints ❌ and the program fails).
//!
//! The policies are those the server enforces, from the crate `tutorial-policy`: variant A is
//! `Policy::Global` (authentication and one global handler), variant B `Policy::Scoped` (the
//! scoped handlers on top).
//!
//! `cargo run -p tutorial`

use std::collections::BTreeMap;
use std::process::ExitCode;

use auth::types::{
    AssistantsCreate, AssistantsSearch, AuthValue, ThreadsCreate, ThreadsRead, ThreadsSearch,
};
use auth::{Auth, AuthUser, HttpException, Request};
use serde_json::{Map, Value};
use tutorial_policy::Policy;

/// Threads by id, with their metadata: the storage that applies the policy's filters.
#[derive(Default)]
struct Server {
    threads: BTreeMap<String, Map<String, Value>>,
}

impl Server {
    async fn user(&self, auth: &Auth, token: &str) -> Result<AuthUser, HttpException> {
        let header = format!("Bearer {token}");
        let headers = [("Authorization", header.as_str())];
        auth.authenticate(&Request::new("POST", "/threads").with_headers(&headers))
            .await
    }

    async fn create_thread(
        &mut self,
        auth: &Auth,
        user: &AuthUser,
    ) -> Result<String, HttpException> {
        let id = format!("thread-{}", self.threads.len() + 1);
        let mut value = AuthValue::from({
            let mut built = ThreadsCreate::default();
            built.thread_id = Some(id.clone());
            built
        });
        auth.authorize(user, &mut value).await?;
        let metadata = value.metadata().cloned().unwrap_or_default();
        self.threads.insert(id.clone(), metadata);
        Ok(id)
    }

    async fn get_thread(
        &self,
        auth: &Auth,
        user: &AuthUser,
        id: &str,
    ) -> Result<&Map<String, Value>, HttpException> {
        let mut value = AuthValue::from({
            let mut built = ThreadsRead::default();
            built.thread_id = Some(id.into());
            built
        });
        let filter = auth.authorize(user, &mut value).await?;
        match self.threads.get(id) {
            Some(metadata) if filter.as_ref().is_none_or(|f| f.matches(metadata)) => Ok(metadata),
            _ => Err(HttpException::new(404).with_detail(format!("Thread with ID {id} not found"))),
        }
    }

    async fn search_threads(
        &self,
        auth: &Auth,
        user: &AuthUser,
    ) -> Result<Vec<&str>, HttpException> {
        let mut value = AuthValue::from(ThreadsSearch::default());
        let filter = auth.authorize(user, &mut value).await?;
        Ok(self
            .threads
            .iter()
            .filter(|(_, m)| filter.as_ref().is_none_or(|f| f.matches(m)))
            .map(|(id, _)| id.as_str())
            .collect())
    }

    async fn create_assistant(&self, auth: &Auth, user: &AuthUser) -> Result<(), HttpException> {
        let mut value = AuthValue::from({
            let mut built = AssistantsCreate::default();
            built.graph_id = Some("agent".into());
            built
        });
        auth.authorize(user, &mut value).await.map(drop)
    }

    async fn search_assistants(&self, auth: &Auth, user: &AuthUser) -> Result<(), HttpException> {
        let mut value = AuthValue::from(AssistantsSearch::default());
        auth.authorize(user, &mut value).await.map(drop)
    }
}

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&self, line: impl std::fmt::Display) {
        println!("✅ {line}");
    }
    fn fail(&mut self, line: impl std::fmt::Display) {
        self.failures += 1;
        println!("❌ {line}");
    }
}

async fn common_steps(auth: &Auth, report: &mut Report) -> Result<(), HttpException> {
    let mut server = Server::default();
    let alice = server.user(auth, "user1-token").await?;
    let bob = server.user(auth, "user2-token").await?;

    let alice_thread = server.create_thread(auth, &alice).await?;
    report.ok(format!("Alice created thread: {alice_thread}"));

    match server.get_thread(auth, &bob, &alice_thread).await {
        Ok(_) => report.fail("Bob shouldn't see Alice's thread!"),
        Err(e) => report.ok(format!(
            "Bob correctly denied access: {} {}",
            e.status(),
            e.detail()
        )),
    }

    let bob_thread = server.create_thread(auth, &bob).await?;
    report.ok(format!("Bob created his own thread: {bob_thread}"));

    for (name, user, own) in [("Alice", &alice, &alice_thread), ("Bob", &bob, &bob_thread)] {
        let seen = server.search_threads(auth, user).await?;
        if seen == [own.as_str()] {
            report.ok(format!("{name} sees {} thread", seen.len()));
        } else {
            report.fail(format!("{name} sees {seen:?}"));
        }
    }
    match server.user(auth, "not-a-token").await {
        Ok(_) => report.fail("an unknown token was accepted"),
        Err(e) => report.ok(format!(
            "An unknown token is refused: {} {}",
            e.status(),
            e.detail()
        )),
    }
    Ok(())
}

async fn run(report: &mut Report) -> Result<(), Box<dyn std::error::Error>> {
    let variant_a = Policy::Global.build()?;
    let variant_b = Policy::Scoped.build()?;

    println!("Part 1: one global handler");
    for h in variant_a.handlers() {
        println!("   handler {h}");
    }
    let server = Server::default();
    let alice = server.user(&variant_a, "user1-token").await?;
    match server.create_assistant(&variant_a, &alice).await {
        Ok(()) => report.ok("Alice created assistant"),
        Err(e) => report.fail(format!("Alice could not create an assistant: {e}")),
    }
    common_steps(&variant_a, report).await?;

    println!("\nPart 2: scoped handlers");
    for h in variant_b.handlers() {
        println!("   handler {h}");
    }
    common_steps(&variant_b, report).await?;
    match server.create_assistant(&variant_b, &alice).await {
        Ok(()) => report.fail("Alice shouldn't be able to create assistants!"),
        Err(e) => report.ok(format!(
            "Alice correctly denied access: {} {}",
            e.status(),
            e.detail()
        )),
    }
    match server.search_assistants(&variant_b, &alice).await {
        Ok(()) => report.fail("Alice shouldn't be able to search assistants!"),
        Err(e) => report.ok(format!(
            "Alice correctly denied access to searching assistants: {} {}",
            e.status(),
            e.detail()
        )),
    }
    let mut server = Server::default();
    let thread = server.create_thread(&variant_b, &alice).await?;
    report.ok(format!("Alice created thread: {thread}"));
    let uncovered: Vec<String> = variant_b
        .uncovered()
        .iter()
        .map(|(r, a)| format!("{r}.{a}"))
        .collect();
    println!(
        "\nVariant B leaves no pair uncovered: {}",
        if uncovered.is_empty() {
            "yes".to_string()
        } else {
            uncovered.join(", ")
        }
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut report = Report { failures: 0 };
    if let Err(e) = run(&mut report).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if report.failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
