//! `broker node --websocket` as a process, with a WebSocket client
//! (tokio-tungstenite): stdin lines reach the client when it is the only
//! receiver, and the client's publications reach the node's stdout.

mod common;

use std::io::Write;

use std::process::{ChildStdin, Stdio};

use common::{LIMIT, Proc, TempPath, broker, temp_path};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws = WebSocketStream<TcpStream>;

/// A `broker node` serving WebSocket clients; killed when dropped.
struct Node {
    proc: Proc,
    stdin: Option<ChildStdin>,
    stdout: TempPath,
    ws_port: u16,
}

impl Node {
    fn start(name: &str, extra: &[&str]) -> Node {
        let ready = temp_path(name);
        let stdout = temp_path(&format!("{name}.out"));
        let _ = std::fs::remove_file(&ready);
        let mut proc = Proc::spawn(
            broker()
                .args(["node", "--disable-ssl", "--websocket", "127.0.0.1:0"])
                .arg("--ready-file")
                .arg(&ready)
                .args(extra)
                .stdin(Stdio::piped())
                .stdout(std::fs::File::create(&stdout).unwrap())
                .stderr(Stdio::null()),
        );
        let stdin = proc.child().stdin.take();
        // The second line is the WebSocket port (the first, the peering
        // port, is empty without `--listen`).
        let ws_port = proc.wait_ready(&ready, 1);
        Node {
            proc,
            stdin,
            stdout,
            ws_port,
        }
    }

    fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin, waits for the node to exit by itself and returns its
    /// stdout.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let status = self.proc.finish().status;
        (status, std::fs::read_to_string(&self.stdout).unwrap())
    }
}

/// Connects, subscribes to `subscriptions` and reads the ack.
async fn connect(port: u16, subscriptions: &str) -> Ws {
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = tokio::time::timeout(LIMIT, tokio_tungstenite::client_async(url, tcp))
        .await
        .expect("connected in time")
        .unwrap();
    ws.send(WsMessage::text(subscriptions.to_owned()))
        .await
        .unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ws
}

/// The next text frame as JSON (pings skipped; reading answers them).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("an open connection")
            .expect("a valid frame");
        match frame {
            WsMessage::Text(text) => return serde_json::from_str(&text).unwrap(),
            WsMessage::Close(c) => panic!("closed: {c:?}"),
            _ => continue,
        }
    }
}

fn line(topic: &str, n: u64) -> String {
    format!("{{\"topic\":\"{topic}\",\"@data-type\":\"count\",\"data\":{n}}}\n")
}

#[tokio::test]
async fn stdin_lines_reach_a_websocket_client_without_native_peers() {
    let mut node = Node::start("ready-stdin", &[]);
    // Lines written before anyone is there wait for a receiver (nothing
    // is published into the void) ...
    node.write_stdin(&(line("/demo/a", 1) + &line("/demo/a", 2)));
    let mut ws = connect(node.ws_port, r#"["/demo"]"#).await;
    // ... and go to the WebSocket client, the only receiver, once it is.
    node.write_stdin(&(line("/other", 3) + &line("/demo/b", 4)));
    let mut got = Vec::new();
    for _ in 0..3 {
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["type"], "data-message", "{msg}");
        got.push((
            msg["topic"].as_str().unwrap().to_owned(),
            msg["data"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        got,
        [
            ("/demo/a".to_owned(), 1),
            ("/demo/a".to_owned(), 2),
            ("/demo/b".to_owned(), 4)
        ]
    );
}

#[tokio::test]
async fn websocket_publication_appears_on_stdout() {
    let node = Node::start(
        "ready-ws-pub",
        &["--subscribe", "/demo", "--exit-after", "2"],
    );
    let mut ws = connect(node.ws_port, "[]").await;
    for text in [
        r#"{"type":"data-message","topic":"/demo/x","@data-type":"string","data":"hi"}"#,
        r#"{"topic":"/elsewhere","@data-type":"count","data":0}"#,
        r#"{"data":5,"@data-type":"count","topic":"/demo/y"}"#,
    ] {
        ws.send(WsMessage::text(text)).await.unwrap();
    }
    let (status, stdout) = tokio::task::spawn_blocking(move || node.finish())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"type":"data-message","topic":"/demo/x","@data-type":"string","data":"hi"}"#,
            r#"{"type":"data-message","topic":"/demo/y","@data-type":"count","data":5}"#,
        ]
    );
}
