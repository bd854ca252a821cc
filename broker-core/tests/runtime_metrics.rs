//! The endpoint's metrics change when their events happen: peers added and
//! lost, messages and bytes by type, drops under overflow, malformed input,
//! handshake failures by cause, subscriptions, WebSocket clients; and the
//! HTTP endpoint serves them in Prometheus's text format.

mod interop;

use std::time::{Duration, Instant};

use broker_core::data::Data;
use broker_core::options::Options;
use broker_core::proto::OverflowPolicy;
use broker_core::runtime::{Endpoint, HandshakeFailure, Metrics, Transport};
use broker_core::status::ErrorCode;
use broker_core::websocket::{ClientOptions, WebSocketClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn options() -> Options {
    Options {
        disable_ssl: true,
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    }
}

/// Polls `endpoint`'s metrics until `done` holds (at most `WAIT`).
async fn metrics_until(
    endpoint: &Endpoint,
    what: &str,
    done: impl Fn(&Metrics) -> bool,
) -> Metrics {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = endpoint.metrics().await.unwrap();
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: {m:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `endpoint` knows a peer's subscription.
async fn await_subscription(endpoint: &Endpoint) {
    let deadline = Instant::now() + WAIT;
    while endpoint.peer_subscriptions().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no subscription arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_peer_added_and_lost_moves_the_peer_gauges() {
    let server = Endpoint::new(options()).unwrap();
    let client = Endpoint::new(options()).unwrap();
    let before = server.metrics().await.unwrap();
    assert_eq!(before.connections, 0);
    assert_eq!(before.peers_in(Transport::Native, "peered"), 0);

    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    let m = metrics_until(&server, "peered", |m| {
        m.peers_in(Transport::Native, "peered") == 1
    })
    .await;
    assert_eq!(m.connections, 1);
    assert_eq!(m.peer_queues.len(), 1);
    assert_eq!(m.peer_queues[0].peer, client.node_id());
    assert!(m.received.routing_update + m.sent.routing_update < 10);

    drop(client);
    let m = metrics_until(&server, "peer lost", |m| m.connections == 0).await;
    assert_eq!(m.peers_in(Transport::Native, "peered"), 0);
    assert!(m.peer_queues.is_empty());
}

#[tokio::test]
async fn messages_and_bytes_are_counted_by_type_and_direction() {
    let server = Endpoint::new(options()).unwrap();
    let client = Endpoint::new(options()).unwrap();
    let mut sub = server.subscribe(["/m"]).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    await_subscription(&client).await;
    let before_server = server.metrics().await.unwrap();
    let before_client = client.metrics().await.unwrap();
    for i in 0..100u64 {
        client.publish("/m/x", Data::Count(i)).await.unwrap();
    }
    for _ in 0..100 {
        sub.recv_timeout(WAIT).await.expect("delivered");
    }
    let s = server.metrics().await.unwrap();
    let c = metrics_until(&client, "sent", |m| {
        m.sent.data >= before_client.sent.data + 100
    })
    .await;
    assert_eq!(s.received.data - before_server.received.data, 100);
    assert_eq!(c.sent.data - before_client.sent.data, 100);
    // Each data frame is at least its 37-byte envelope and a 9-byte count.
    assert!(s.received_bytes - before_server.received_bytes >= 100 * 46);
    assert!(c.sent_bytes - before_client.sent_bytes >= 100 * 46);
    assert_eq!(s.subscriptions, 1);
    assert_eq!(s.subscribers, 1);
}

#[tokio::test]
async fn drops_under_overflow_are_counted_with_the_policy() {
    // The receiver's only subscriber never reads: its driver stops reading
    // from the peer, TCP fills, and the sender's 4-message queue overflows.
    let server = Endpoint::new(Options {
        congestion_queue_size: 1,
        ..options()
    })
    .unwrap();
    let client = Endpoint::new(Options {
        peer_buffer_size: 4,
        overflow_policy: OverflowPolicy::DropNewest,
        peer_stall_timeout: Duration::from_millis(20),
        ..options()
    })
    .unwrap();
    let _stuck = server.subscribe(["/big"]).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    await_subscription(&client).await;
    let payload = Data::from("x".repeat(256 * 1024));
    for _ in 0..200 {
        client.publish("/big/x", payload.clone()).await.unwrap();
    }
    let m = metrics_until(&client, "drops", |m| m.dropped > 0).await;
    assert_eq!(m.overflow_policy, OverflowPolicy::DropNewest);
    assert!(m.peer_queues[0].overflows > 0, "{m:#?}");
    assert!(m.peer_queues[0].messages <= 4, "{m:#?}");
    let text = m.to_prometheus_text();
    assert!(
        text.contains(&format!(
            "broker_dropped_messages_total{{transport=\"native\",policy=\"drop_newest\"}} {}",
            m.dropped
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_frame_counts_as_malformed_and_as_a_failed_handshake() {
    let server = Endpoint::new(options()).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // A hello frame with a wrong magic number.
    let mut frame = vec![0, 0, 0, 23, 6, 0xde, 0xad, 0xbe, 0xef];
    frame.extend([0u8; 16]);
    frame.extend([1, 1]);
    raw.write_all(&frame).await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut sink)).await;
    let m = metrics_until(&server, "malformed", |m| m.malformed_frames == 1).await;
    assert_eq!(m.handshake_failures_for(HandshakeFailure::Malformed), 1);
    assert_eq!(m.errors_with(ErrorCode::WrongMagicNumber), 1);
}

#[tokio::test]
async fn handshake_failures_are_counted_by_cause() {
    // Nobody listens on a port we just had and closed: connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let client = Endpoint::new(options()).unwrap();
    let _ = client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await;
    let m = metrics_until(&client, "connect", |m| {
        m.handshake_failures_for(HandshakeFailure::Connect) == 1
    })
    .await;
    assert_eq!(m.errors_with(ErrorCode::PeerUnavailable), 1);

    // TLS against plain TCP: tls on the TLS side.
    let plain = Endpoint::new(options()).unwrap();
    let port = plain.listen("127.0.0.1", 0).await.unwrap();
    let tls = Endpoint::new(Options {
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    })
    .unwrap();
    let _ = tls.peer_and_wait("127.0.0.1", port, Duration::ZERO).await;
    metrics_until(&tls, "tls", |m| {
        m.handshake_failures_for(HandshakeFailure::Tls) == 1
    })
    .await;
}

#[tokio::test]
async fn websocket_clients_are_peers_with_their_traffic() {
    let endpoint = Endpoint::new(options()).unwrap();
    let port = endpoint.listen_websocket("127.0.0.1", 0).await.unwrap();
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    let mut client = WebSocketClient::connect(&url, ["/ws"], ClientOptions::default())
        .await
        .unwrap();
    let m = metrics_until(&endpoint, "attached", |m| {
        m.peers_in(Transport::WebSocket, "peered") == 1
    })
    .await;
    assert_eq!(m.client_traffic(Transport::WebSocket).sent, 0);
    client.publish("/elsewhere", 1u64).await.unwrap();
    endpoint.publish("/ws/x", 2u64).await.unwrap();
    client.recv_message().await.expect("delivered");
    let m = metrics_until(&endpoint, "traffic", |m| {
        m.client_traffic(Transport::WebSocket).received == 1
    })
    .await;
    assert_eq!(m.client_traffic(Transport::WebSocket).sent, 1);
    client.close().await;
    metrics_until(&endpoint, "detached", |m| {
        m.peers_in(Transport::WebSocket, "peered") == 0
    })
    .await;
}

/// One HTTP request to `port`; the status line and the body.
async fn http(port: u16, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[tokio::test]
async fn the_http_endpoint_serves_the_metrics() {
    let endpoint = Endpoint::new(options()).unwrap();
    let _sub = endpoint.subscribe(["/a", "/b"]).await.unwrap();
    let port = endpoint.serve_metrics("127.0.0.1", 0).await.unwrap();
    let (status, body) = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("# TYPE broker_connections gauge\n"), "{body}");
    assert!(body.contains("broker_subscriptions 2\n"), "{body}");
    assert!(
        body.contains("broker_processed_messages_total{type=\"data\"} 0\n"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let (status, body) = http(port, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.is_empty());
    assert_eq!(
        http(port, "GET / HTTP/1.1\r\n\r\n").await.0,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        http(port, "POST /metrics HTTP/1.1\r\n\r\n").await.0,
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        http(port, "\u{1}\u{2} nonsense\r\n\r\n").await.0,
        "HTTP/1.1 400 Bad Request"
    );
    // A head that never ends is cut at 8 KiB.
    let endless = format!("GET /metrics HTTP/1.1\r\nX: {}", "y".repeat(20_000));
    assert_eq!(
        http(port, &endless).await.0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[tokio::test]
async fn the_metrics_parse_with_prometheus_own_python_client() {
    let Some(python) = interop::python(&["prometheus_client"]) else {
        return;
    };
    let server = Endpoint::new(options()).unwrap();
    let client = Endpoint::new(options()).unwrap();
    let mut sub = server.subscribe(["/p"]).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    await_subscription(&client).await;
    for i in 0..7u64 {
        client.publish("/p/x", i).await.unwrap();
    }
    for _ in 0..7 {
        sub.recv_timeout(WAIT).await.expect("delivered");
    }
    let http_port = server
        .serve_metrics("127.0.0.1", 0)
        .await
        .unwrap()
        .to_string();
    let script = interop::Script::spawn(&python, "parse_metrics.py", &[&http_port]);
    let families = script.next("families");
    let sample = |family: &str, labels: &[(&str, &str)]| -> f64 {
        let samples = families[family]["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no family {family}: {families}"));
        samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
            })
            .unwrap_or_else(|| panic!("no sample {labels:?} in {family}: {families}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(families["broker_connections"]["type"], "gauge");
    assert_eq!(sample("broker_connections", &[]), 1.0);
    assert_eq!(families["broker_processed_messages"]["type"], "counter");
    assert_eq!(
        sample("broker_processed_messages", &[("type", "data")]),
        7.0
    );
    assert_eq!(
        sample(
            "broker_peers",
            &[("transport", "native"), ("state", "peered")]
        ),
        1.0
    );
    assert_eq!(families["broker_received_bytes"]["unit"], "bytes");
    assert!(sample("broker_received_bytes", &[]) > 0.0);
    assert_eq!(sample("broker_errors", &[("code", "type_clash")]), 0.0);
    script.finish();
}

#[test]
fn the_http_endpoint_outlives_the_runtime_that_opened_it() {
    let endpoint = Endpoint::new(options()).unwrap();
    let port = {
        let opener = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        opener
            .block_on(endpoint.serve_metrics("127.0.0.1", 0))
            .unwrap()
    };
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, _) = client.block_on(http(port, "GET /metrics HTTP/1.1\r\n\r\n"));
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn the_metrics_option_serves_from_the_start() {
    let endpoint = Endpoint::new(Options {
        metrics_port: Some(0),
        ..options()
    })
    .unwrap();
    let port = endpoint.metrics_port().expect("served");
    let (status, body) = http(port, "GET /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("broker_connections 0\n"), "{body}");
    assert_eq!(Endpoint::new(options()).unwrap().metrics_port(), None);
    // A port in use fails at once, naming it.
    let err = Endpoint::new(Options {
        metrics_port: Some(port),
        ..options()
    })
    .expect_err("the port is taken");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}
