//! The WebSocket client's closing handshake, seen by an independent server
//! (Python's `websockets`, which records the Close frame it received): an
//! explicit close sends status 1000 and waits for the server's Close; a
//! dropped client closes the same way in the background; never an abnormal
//! closure (1006) or a Close without a status code (1005).

mod interop;

use std::time::Duration;

use broker_core::websocket::{ClientOptions, Closed, WebSocketClient};
use interop::Script;
use serde_json::Value;

const SCRIPT: &str = "ws_close_server.py";

/// The recording server and its URL, or `None` to skip.
fn server() -> Option<(Script, String)> {
    let python = interop::python(&["websockets"])?;
    let server = Script::spawn(&python, SCRIPT, &[]);
    let port = server.next("port");
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    Some((server, url))
}

async fn connect(url: &str, tag: &str) -> WebSocketClient {
    WebSocketClient::connect(url, [tag], ClientOptions::default())
        .await
        .expect("connected to the recording server")
}

/// The server's record of the connection tagged `tag`.
fn record(server: &Script, tag: &str) -> Value {
    let line = server.line();
    assert_eq!(line["tag"], tag, "{line}");
    line
}

#[tokio::test]
async fn explicit_close_sends_1000_and_waits_for_the_servers_close() {
    let Some((server, url)) = server() else {
        return;
    };
    let client = connect(&url, "/explicit").await;
    for i in 0..3u64 {
        client.publish("/explicit/x", i).await.unwrap();
    }
    // The server answered our Close before `close` returned: the TCP
    // connection was closed only after both Close frames.
    assert_eq!(client.close().await, Closed::Clean { code: Some(1000) });
    let seen = record(&server, "/explicit");
    assert_eq!(seen["frames"], 3, "publications before the close: {seen}");
    assert_eq!(seen["client_code"], 1000, "{seen}");
    assert_eq!(seen["close_code"], 1000, "{seen}");
    assert_eq!(seen["client_closed_first"], true, "{seen}");
}

#[tokio::test]
async fn close_with_sends_the_code_and_reason_given() {
    let Some((server, url)) = server() else {
        return;
    };
    let client = connect(&url, "/going-away").await;
    assert_eq!(
        client.close_with(1001, "shutting down").await,
        Closed::Clean { code: Some(1001) }
    );
    let seen = record(&server, "/going-away");
    assert_eq!(seen["client_code"], 1001, "{seen}");
    assert_eq!(seen["client_reason"], "shutting down", "{seen}");
}

// Two worker threads: the test blocks one reading the server's output while
// the background close runs on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_client_still_closes_with_1000() {
    let Some((server, url)) = server() else {
        return;
    };
    let client = connect(&url, "/dropped").await;
    client.publish("/dropped/x", 1u64).await.unwrap();
    drop(client);
    // The runtime keeps running, so the background close completes.
    let seen = record(&server, "/dropped");
    assert_eq!(seen["frames"], 1, "{seen}");
    assert_eq!(seen["client_code"], 1000, "{seen}");
    assert_eq!(seen["close_code"], 1000, "{seen}");
}

#[tokio::test]
async fn closing_after_the_server_went_away_reports_it() {
    let Some((server, url)) = server() else {
        return;
    };
    let client = WebSocketClient::connect(
        &url,
        ["/gone"],
        ClientOptions::default().close_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap();
    drop(server); // killed: the connection breaks without a Close
    tokio::time::sleep(Duration::from_millis(200)).await;
    let outcome = client.close().await;
    assert!(
        matches!(outcome, Closed::NotConnected | Closed::TimedOut),
        "{outcome:?}"
    );
}
