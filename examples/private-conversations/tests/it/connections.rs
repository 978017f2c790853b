//! Every request on a kept-alive connection gets an answer (issue 26, "connections dropped
//! without an answer"), spoken over a raw TCP connection so that the timing of the body is the
//! test's: a request refused before its body is read (401 from authentication, 422 for a
//! malformed id, 404 for an unknown path), with the body arriving after the answer, must not
//! leave the connection to be closed under the client's next request.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tutorial_policy::Policy;

use crate::common::Server;

/// One HTTP/1.1 response read from `stream`: its head (lower-cased) and body, or `None` when
/// the server closed the connection (or reset it) before answering.
async fn read_response(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the server answers within 10 s");
        match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    Some((head, body))
}

/// Sends `head` (a request's head, with its `content-length`), waits, then sends `body`, reads
/// the answer; then asks `GET /ok` on the same connection, as a client's pool does, and returns
/// both answers' heads (the second `None` when the connection was closed without an answer).
async fn refused_then_reused(base: &str, head: &str, body: &str) -> (String, Option<String>) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The head alone: the server answers before the body is there.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let (first, _) = read_response(&mut stream)
        .await
        .expect("the refused request is answered");
    let ok_head = format!("GET /ok HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    if first.contains("connection: close") {
        // The server said it closes: a client opens a new connection, as this one does.
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        fresh.write_all(ok_head.as_bytes()).await.unwrap();
        let second = read_response(&mut fresh).await.map(|(h, _)| h);
        return (first, second);
    }
    // Kept alive: the client's pool sends its next request on it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = match stream.write_all(ok_head.as_bytes()).await {
        Ok(()) => read_response(&mut stream).await.map(|(h, _)| h),
        Err(_) => None,
    };
    (first, second)
}

#[tokio::test]
async fn a_request_refused_before_its_body_is_read_leaves_a_usable_connection() {
    let server = Server::start(Policy::Scoped).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let body = r#"{"metadata": {"k": "v"}}"#;
    let cases = [
        // Authentication refuses the token before the route reads the body.
        ("401", "POST /threads", "Bearer not-a-token"),
        // The path's id is malformed: answered before the body is read.
        ("422", "POST /threads/not-a-uuid/runs", "Bearer user1-token"),
        // No such route.
        ("404", "POST /no/such/route", "Bearer user1-token"),
    ];
    let mut lost = Vec::new();
    for (status, request, authorization) in cases {
        let head = format!(
            "{request} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {authorization}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let (first, second) = refused_then_reused(&server.base, &head, body).await;
        assert!(
            first.starts_with(&format!("http/1.1 {status} ")),
            "{request}: {first}"
        );
        match second {
            Some(second) => assert!(second.starts_with("http/1.1 200 "), "{request}: {second}"),
            None => lost.push(format!("{request} (answered {status})")),
        }
    }
    assert!(
        lost.is_empty(),
        "the next request on the connection got no answer after: {lost:?} (the server closed \
         the connection after answering without `connection: close`)"
    );
}

/// A body the server will not wait for (larger than the body limit, never sent) or one the
/// client withholds until told to go on (`expect: 100-continue`): the refusal says
/// `connection: close`, so the client does not send its next request on that connection.
#[tokio::test]
async fn a_body_not_worth_waiting_for_closes_the_connection_saying_so() {
    let server = Server::start(Policy::Scoped).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    for (what, extra, length, status) in [
        ("larger than the limit", "", 64 * 1024 * 1024, "401"),
        ("withheld", "expect: 100-continue\r\n", 16, "401"),
    ] {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /threads HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer not-a-token\r\n\
             content-type: application/json\r\n{extra}content-length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (first, body) = read_response(&mut stream)
            .await
            .unwrap_or_else(|| panic!("{what}: the refusal is answered"));
        assert!(
            first.starts_with(&format!("http/1.1 {status} ")),
            "{what}: {first}"
        );
        assert!(first.contains("connection: close"), "{what}: {first}");
        assert!(body.contains("detail"), "{what}: {body}");
        let mut fresh = TcpStream::connect(&addr).await.unwrap();
        let ok = format!("GET /ok HTTP/1.1\r\nhost: {addr}\r\n\r\n");
        fresh.write_all(ok.as_bytes()).await.unwrap();
        let (second, _) = read_response(&mut fresh).await.unwrap();
        assert!(second.starts_with("http/1.1 200 "), "{what}: {second}");
    }
}

/// A graph whose drawing panics: `GET /assistants/{id}/graph` runs it in the route.
struct PanickingDrawing;

#[async_trait::async_trait]
impl agent_server::graph::Graph for PanickingDrawing {
    fn drawing(&self, _graph_id: &str) -> serde_json::Value {
        panic!("the drawing of this graph panics");
    }

    async fn run(
        &self,
        _run: agent_server::graph::RunInput,
    ) -> Result<agent_server::graph::GraphStream, String> {
        Err("this graph does not run".into())
    }
}

/// A panic in the server's own code (here a graph's drawing, called by the route) is a 500
/// `{"detail": …}` that does not name the panic, and the server keeps serving on the same
/// connection; before, the connection was closed without an answer.
#[tokio::test]
async fn a_panic_in_a_route_is_a_500_with_a_detail() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // No handlers: every request is the anonymous user, every event allowed.
    let auth = auth::Auth::builder().build().unwrap();
    let app = agent_server::Server::new(auth)
        .quiet(true)
        .graph("boom", PanickingDrawing);
    let task = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let reply = http
        .get(format!("{base}/assistants/boom/graph"))
        .send()
        .await
        .expect("the panic is answered");
    assert_eq!(reply.status(), 500);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"detail": "Internal server error"}));
    let schemas = http
        .get(format!("{base}/assistants/boom/schemas"))
        .send()
        .await
        .unwrap();
    assert_eq!(schemas.status(), 200, "the server serves on");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
