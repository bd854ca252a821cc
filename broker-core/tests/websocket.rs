//! The WebSocket JSON API over real loopback sockets: our server with raw
//! WebSocket clients (tungstenite) and with our client, native peers on the
//! same endpoint, every error case of the spec, pipelining, a slow client,
//! TLS and reconnection.

use std::time::Duration;

use broker_core::data::{Data, json};
use broker_core::options::Options;
use broker_core::proto::OverflowPolicy;
use broker_core::runtime::{Endpoint, Subscriber};
use broker_core::tls::TlsConfig;
use broker_core::topic::Topic;
use broker_core::websocket::{
    ClientEvent, ClientOptions, ServerOptions, WebSocketClient, WebSocketServer,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};

const WAIT: Duration = Duration::from_secs(10);

type Raw = WebSocketStream<TcpStream>;

fn options() -> Options {
    Options {
        disable_ssl: true,
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    }
}

fn endpoint() -> Endpoint {
    Endpoint::new(options()).unwrap()
}

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/v1/messages/json")
}

/// A raw client at `path`, with optional extra headers.
async fn raw_at(port: u16, path: &str, app_name: Option<&str>) -> Raw {
    let mut request = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .unwrap();
    if let Some(name) = app_name {
        request
            .headers_mut()
            .insert("X-Application-Name", name.parse().unwrap());
    }
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    ws
}

/// The next text frame as JSON (pings and pongs skipped).
async fn next_json(ws: &mut Raw) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
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

/// The close code the server ends with (after any text frames).
async fn close_code(ws: &mut Raw) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.ok()?? {
            Ok(WsMessage::Close(frame)) => return frame.map(|f| f.code),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

async fn send(ws: &mut Raw, text: &str) {
    ws.send(WsMessage::text(text.to_owned())).await.unwrap();
}

/// A raw client at the right path, subscribed, past the ack.
async fn raw_client(port: u16, subscriptions: &str) -> Raw {
    let mut ws = raw_at(port, "/v1/messages/json", None).await;
    send(&mut ws, subscriptions).await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ws
}

/// Waits until `ep` sees a peer filter containing `prefix`.
async fn await_peer_filter(ep: &Endpoint, prefix: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let filter = ep.peer_subscriptions().await.unwrap();
        if filter.iter().any(|t| t.as_str() == prefix) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no peer filter {prefix}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn recv(sub: &mut Subscriber) -> (String, Data) {
    let msg = sub.recv_timeout(WAIT).await.expect("a message in time");
    (msg.topic.as_str().to_owned(), msg.data)
}

async fn next_message(client: &mut WebSocketClient) -> (String, Data) {
    let msg = tokio::time::timeout(WAIT, client.recv_message())
        .await
        .expect("a message in time")
        .expect("a running client");
    (msg.topic.as_str().to_owned(), msg.data)
}

/// One value of every type, in the JSON v1 form (values that survive the
/// JSON form exactly: millisecond timestamps, UTF-8 strings).
fn every_type() -> Vec<Data> {
    [
        r#"{"@data-type":"none","data":{}}"#,
        r#"{"@data-type":"boolean","data":true}"#,
        r#"{"@data-type":"count","data":18446744073709551615}"#,
        r#"{"@data-type":"integer","data":-9223372036854775808}"#,
        r#"{"@data-type":"real","data":-7.25}"#,
        r#"{"@data-type":"string","data":"Hello \u00e9 \ud83d\ude00 \n\u0001"}"#,
        r#"{"@data-type":"address","data":"2001:db8::1"}"#,
        r#"{"@data-type":"address","data":"192.168.0.1"}"#,
        r#"{"@data-type":"subnet","data":"10.0.0.0/8"}"#,
        r#"{"@data-type":"port","data":"8080/tcp"}"#,
        r#"{"@data-type":"port","data":"0/?"}"#,
        r#"{"@data-type":"timestamp","data":"2022-04-10T07:00:00.125"}"#,
        r#"{"@data-type":"timespan","data":"1500ms"}"#,
        r#"{"@data-type":"enum-value","data":"Interop::GREEN"}"#,
        r#"{"@data-type":"set","data":[{"@data-type":"string","data":"bar"},{"@data-type":"string","data":"foo"}]}"#,
        r#"{"@data-type":"table","data":[{"key":{"@data-type":"string","data":"first-name"},"value":{"@data-type":"string","data":"John"}},{"key":{"@data-type":"count","data":2},"value":{"@data-type":"vector","data":[]}}]}"#,
        r#"{"@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1},{"@data-type":"vector","data":[{"@data-type":"string","data":"ping"},{"@data-type":"vector","data":[{"@data-type":"string","data":"fourty-two"},{"@data-type":"count","data":42}]}]}]}"#,
    ]
    .iter()
    .map(|text| json::from_json_str(text).unwrap())
    .collect()
}

/// A server endpoint with a WebSocket and a native listener, and a native
/// peer subscribed to `/native`: (server, native, ws port).
async fn server_with_native_peer() -> (Endpoint, Endpoint, Subscriber, u16) {
    let server = endpoint();
    let native = endpoint();
    let ws_port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let native_sub = native.subscribe(["/native"]).await.unwrap();
    native
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    server.await_peer(native.node_id(), WAIT).await.unwrap();
    await_peer_filter(&server, "/native").await;
    (server, native, native_sub, ws_port)
}

// ---- routing ------------------------------------------------------------------

#[tokio::test]
async fn ws_client_and_native_peer_exchange_every_data_type() {
    let (_server, native, mut native_sub, ws_port) = server_with_native_peer().await;
    let mut client = WebSocketClient::connect(&url(ws_port), ["/ws"], ClientOptions::default())
        .await
        .unwrap();
    await_peer_filter(&native, "/ws").await;
    for value in every_type() {
        client.publish("/native/in", value.clone()).await.unwrap();
        assert_eq!(
            recv(&mut native_sub).await,
            ("/native/in".into(), value.clone())
        );
        native.publish("/ws/out", value.clone()).await.unwrap();
        assert_eq!(next_message(&mut client).await, ("/ws/out".into(), value));
    }
}

#[tokio::test]
async fn raw_client_frames_reach_the_native_peer_in_any_key_order() {
    let (_server, _native, mut native_sub, ws_port) = server_with_native_peer().await;
    let mut ws = raw_client(ws_port, r#"["/nothing"]"#).await;
    // zeekpy's order, zeek-client's sorted order, no type, another type,
    // and a timestamp with a zone.
    send(
        &mut ws,
        r#"{"topic": "/native/1", "type": "data-message", "@data-type": "count", "data": 1}"#,
    )
    .await;
    send(
        &mut ws,
        r#"{"@data-type":"count","data":2,"topic":"/native/2","type":"data-message"}"#,
    )
    .await;
    send(
        &mut ws,
        r#"{"topic":"/native/3","@data-type":"count","data":3}"#,
    )
    .await;
    send(
        &mut ws,
        r#"{"type":"event","topic":"/native/4","@data-type":"count","data":4}"#,
    )
    .await;
    send(
        &mut ws,
        r#"{"topic":"/native/5","@data-type":"timestamp","data":"2022-04-10T09:00:00.125+02:00"}"#,
    )
    .await;
    for n in 1..=4u64 {
        assert_eq!(
            recv(&mut native_sub).await,
            (format!("/native/{n}"), Data::Count(n))
        );
    }
    let expected =
        json::from_json_str(r#"{"@data-type":"timestamp","data":"2022-04-10T07:00:00.125"}"#)
            .unwrap();
    assert_eq!(recv(&mut native_sub).await, ("/native/5".into(), expected));
}

#[tokio::test]
async fn server_emits_canonical_data_messages() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_client(port, r#"["/t"]"#).await;
    let value = json::from_json_str(r#"{"@data-type":"timespan","data":"90000ms"}"#).unwrap();
    server.publish("/t/x", value).await.unwrap();
    let frame = next_json(&mut ws).await;
    assert_eq!(
        frame.to_string(),
        r#"{"type":"data-message","topic":"/t/x","@data-type":"timespan","data":"90s"}"#
    );
}

#[tokio::test]
async fn clients_receive_each_others_and_local_publications_but_never_their_own() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut local = server.subscribe(["/t"]).await.unwrap();
    let mut a = WebSocketClient::connect(&url(port), ["/t"], ClientOptions::default())
        .await
        .unwrap();
    let mut b = WebSocketClient::connect(&url(port), ["/t"], ClientOptions::default())
        .await
        .unwrap();
    a.publish("/t/from-a", Data::Count(1)).await.unwrap();
    assert_eq!(
        next_message(&mut b).await,
        ("/t/from-a".into(), Data::Count(1))
    );
    assert_eq!(recv(&mut local).await, ("/t/from-a".into(), Data::Count(1)));
    // A local publication reaches both clients (and not the local subscriber).
    server.publish("/t/local", Data::Count(2)).await.unwrap();
    assert_eq!(
        next_message(&mut a).await,
        ("/t/local".into(), Data::Count(2))
    );
    assert_eq!(
        next_message(&mut b).await,
        ("/t/local".into(), Data::Count(2))
    );
    // a's first message after its own publication is the local one: it
    // never got its own. Prefix matching is by bytes: /t matches /tx.
    b.publish("/tx", Data::Count(3)).await.unwrap();
    assert_eq!(next_message(&mut a).await, ("/tx".into(), Data::Count(3)));
    assert_eq!(recv(&mut local).await, ("/tx".into(), Data::Count(3)));
}

#[tokio::test]
async fn publish_only_client_receives_nothing() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_client(port, "[]").await;
    server.publish("/anything", Data::Count(1)).await.unwrap();
    ws.send(WsMessage::Ping(Bytes::from_static(b"x")))
        .await
        .unwrap();
    // The only frame that comes back is the pong.
    let frame = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(frame, WsMessage::Pong(Bytes::from_static(b"x")));
}

// ---- handshake errors -------------------------------------------------------------

#[tokio::test]
async fn wrong_path_gets_invalid_uri_then_close_1008() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_at(port, "/v1/messages/binary", None).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "invalid_uri");
    assert_eq!(error["context"], "Invalid URI - use /v1/messages/json");
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));
}

#[tokio::test]
async fn bad_application_name_gets_an_error_then_close_1008() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_at(port, "/v1/messages/json", Some("bad name!")).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["code"], "invalid_application_name");
    assert_eq!(error["context"], "Invalid X-Application-Name");
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));
    // A valid name is accepted.
    let mut ws = raw_at(port, "/v1/messages/json", Some("zeek-client/1.5")).await;
    send(&mut ws, "[]").await;
    assert_eq!(next_json(&mut ws).await["type"], "ack");
}

#[tokio::test]
async fn bad_subscriptions_get_errors_and_no_ack_and_the_connection_stays_open() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_at(port, "/v1/messages/json", None).await;
    for (frame, context) in [
        (r#"{"topics":["/a"]}"#, "subscriptions not an array"),
        ("How is it going?", "subscriptions not an array"),
        (r#"["/a", 42]"#, "individual subscription not a string"),
        (
            &serde_json::to_string(&vec!["/a"; 10_001]).unwrap(),
            "more than 10000 subscriptions",
        ),
        (
            &serde_json::to_string(&vec!["x".repeat(70_000); 16]).unwrap(),
            "subscriptions larger than 1048576 bytes",
        ),
    ] {
        send(&mut ws, frame).await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], "deserialization_failed", "{frame}");
        assert_eq!(error["context"], context, "{frame}");
    }
    // Still open: a valid array now subscribes.
    send(&mut ws, r#"["/a"]"#).await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "ack");
    assert!(ack["endpoint"].as_str().unwrap().contains("-websocket-"));
    assert!(ack["version"].is_string());
}

// ---- data message errors ------------------------------------------------------------

#[tokio::test]
async fn bad_data_messages_get_errors_and_later_messages_still_flow() {
    let (_server, _native, mut native_sub, ws_port) = server_with_native_peer().await;
    let mut ws = raw_client(ws_port, "[]").await;
    for (frame, context_start) in [
        ("How is it going?", "failed to decode JSON object (input #1"),
        ("[1, 2]", "failed to decode JSON object (input #2"),
        (
            r#"{"topic":"/native","@data-type":"bogus","data":1}"#,
            "failed to decode JSON object (input #3",
        ),
        (
            r#"{"topic":"/native","@data-type":"count","data":1.0}"#,
            "failed to decode JSON object (input #4",
        ),
        (
            r#"{"topic":"/native","@data-type":"real","data":2}"#,
            "failed to decode JSON object (input #5",
        ),
        (
            r#"{"topic":"/native","@data-type":"timespan","data":"5parsecs"}"#,
            "failed to decode JSON object (input #6",
        ),
        (
            r#"{"topic":"/native","@data-type":"set","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1}]}"#,
            "failed to decode JSON object (input #7",
        ),
        (
            r#"{"@data-type":"count","data":1}"#,
            "no topic in top-level JSON object",
        ),
        (
            r#"{"topic":"","@data-type":"count","data":1}"#,
            "failed to decode JSON object (input #9",
        ),
    ] {
        send(&mut ws, frame).await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], "deserialization_failed", "{frame}");
        let context = error["context"].as_str().unwrap();
        assert!(context.starts_with(context_start), "{frame}: {context}");
    }
    ws.send(WsMessage::Binary(Bytes::from_static(&[0xff, 0xfe])))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["code"], "deserialization_failed");
    // Binary frames with JSON text are read like text (as Zeek does).
    let good = r#"{"topic":"/native/ok","@data-type":"count","data":7}"#;
    ws.send(WsMessage::Binary(Bytes::from_static(good.as_bytes())))
        .await
        .unwrap();
    send(&mut ws, good).await;
    assert_eq!(
        recv(&mut native_sub).await,
        ("/native/ok".into(), Data::Count(7))
    );
    assert_eq!(
        recv(&mut native_sub).await,
        ("/native/ok".into(), Data::Count(7))
    );
}

#[tokio::test]
async fn oversized_message_closes_with_1009() {
    let server = endpoint();
    let mut settings = ServerOptions::from_options(server.options());
    settings.max_message_size = 1024;
    let port = server
        .listen_websocket_with("127.0.0.1", 0, settings)
        .await
        .unwrap();
    let mut ws = raw_client(port, "[]").await;
    let big = format!(
        r#"{{"topic":"/t","@data-type":"string","data":"{}"}}"#,
        "x".repeat(4096)
    );
    send(&mut ws, &big).await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
}

#[tokio::test]
async fn connections_beyond_max_clients_are_closed() {
    let server = endpoint();
    let mut settings = ServerOptions::from_options(server.options());
    settings.max_clients = 2;
    let port = server
        .listen_websocket_with("127.0.0.1", 0, settings)
        .await
        .unwrap();
    let first = raw_client(port, "[]").await;
    let second = raw_at(port, "/v1/messages/json", None).await;
    // The third gets no upgrade: its connection is closed on accept.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let third = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(url(port), tcp),
    )
    .await
    .expect("refused in time");
    assert!(third.is_err());
    // A slot frees when a client goes.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // `raw_client` waits for the ack: the new client is served.
    let _again = raw_client(port, "[]").await;
    drop(second);
}

#[tokio::test]
async fn clients_cannot_grow_the_endpoints_filter_past_what_peers_accept() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let topics = |client: usize| {
        let topics: Vec<String> = (0..10_000).map(|j| format!("/c{client}/{j:05}/")).collect();
        serde_json::to_string(&topics).unwrap()
    };
    // 26 clients of 10,000 distinct topics fit under 262,144.
    let mut clients = Vec::new();
    for i in 0..26 {
        clients.push(raw_client(port, &topics(i)).await);
    }
    let mut ws = raw_at(port, "/v1/messages/json", None).await;
    send(&mut ws, &topics(26)).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["context"], "too many subscriptions on this endpoint");
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Policy));
    // Once a client goes, there is room again.
    drop(clients.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _again = raw_client(port, &topics(27)).await;
}

// ---- pipelining, pings ------------------------------------------------------------------

#[tokio::test]
async fn frames_pipelined_before_the_ack_are_published_in_order() {
    let (_server, _native, mut native_sub, ws_port) = server_with_native_peer().await;
    let mut ws = raw_at(ws_port, "/v1/messages/json", None).await;
    // Subscriptions and 200 data messages in one burst, without waiting.
    ws.feed(WsMessage::text(r#"["/back"]"#)).await.unwrap();
    for n in 0..200u64 {
        let text = format!(r#"{{"topic":"/native/p","@data-type":"count","data":{n}}}"#);
        ws.feed(WsMessage::text(text)).await.unwrap();
    }
    ws.flush().await.unwrap();
    // The ack is the first frame.
    assert_eq!(next_json(&mut ws).await["type"], "ack");
    for n in 0..200u64 {
        assert_eq!(
            recv(&mut native_sub).await,
            ("/native/p".into(), Data::Count(n))
        );
    }
}

#[tokio::test]
async fn pings_are_answered_before_and_after_the_handshake() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_at(port, "/v1/messages/json", None).await;
    for payload in [&b"before"[..], &b"after"[..]] {
        ws.send(WsMessage::Ping(Bytes::copy_from_slice(payload)))
            .await
            .unwrap();
        let pong = loop {
            match tokio::time::timeout(WAIT, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                WsMessage::Pong(p) => break p,
                WsMessage::Text(t) => assert!(t.contains("ack"), "{t}"),
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(&pong[..], payload);
        if payload == b"before" {
            send(&mut ws, "[]").await;
        }
    }
}

// ---- keepalive ---------------------------------------------------------------------------

/// A server pinging every 100 ms that drops clients silent for 2.1 s (wide
/// enough that a loaded CI machine does not starve a client that answers).
async fn keepalive_server(server: &Endpoint) -> WebSocketServer {
    let settings = ServerOptions::from_options(server.options())
        .keepalive(Duration::from_millis(100), Duration::from_secs(2));
    server
        .websocket_server("127.0.0.1", 0, settings)
        .await
        .unwrap()
}

/// Waits (bounded) until `condition` holds.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn keepalive_defaults_to_zeeks_five_seconds() {
    let settings = ServerOptions::from_options(&options());
    assert_eq!(settings.ping_interval, Duration::from_secs(5));
    assert!(!settings.ping_timeout.is_zero());
}

#[tokio::test]
async fn client_that_never_answers_pings_is_dropped() {
    let server = endpoint();
    let ws_server = keepalive_server(&server).await;
    // A native peer sees the client's subscription in the server's filter.
    let native = endpoint();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    native
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    // The client reads its ack and then nothing: tungstenite answers pings
    // only while reading, so it never does.
    let mut silent = raw_client(ws_server.port(), r#"["/keepalive"]"#).await;
    assert!(ws_server.wait_for_client().await);
    await_peer_filter(&native, "/keepalive").await;
    // Dropped: detached (its queue and subscription gone) ...
    eventually("the silent client is detached", || async {
        ws_server.clients() == 0
    })
    .await;
    eventually("its subscription is gone", || async {
        let filter = native.peer_subscriptions().await.unwrap();
        !filter.iter().any(|t| t.as_str() == "/keepalive")
    })
    .await;
    // ... after pings it did not answer, with close code 1011.
    let mut pings = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, silent.next()).await {
            Ok(Some(Ok(WsMessage::Ping(_)))) => pings += 1,
            Ok(Some(Ok(WsMessage::Close(frame)))) => break frame.map(|f| f.code),
            Ok(Some(Ok(other))) => panic!("unexpected {other:?}"),
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert!(pings > 0);
    assert_eq!(code, Some(CloseCode::Error));
}

#[tokio::test]
async fn client_that_never_subscribes_is_dropped_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = endpoint();
    let ws_server = keepalive_server(&server).await;
    // A WebSocket upgrade by hand, then silence: raw bytes are read, so
    // nothing ever answers the pings.
    let mut tcp = TcpStream::connect(("127.0.0.1", ws_server.port()))
        .await
        .unwrap();
    tcp.write_all(
        b"GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    // The server ends the connection (after its close frame) by itself.
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut received))
        .await
        .expect("the server hangs up in time")
        .unwrap();
    let reason = b"ping timeout";
    let mut close = vec![0x88, 2 + reason.len() as u8, 0x03, 0xf3]; // 1011
    close.extend_from_slice(reason);
    assert!(
        received.windows(close.len()).any(|w| w == close),
        "no close 1011 in {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(received.windows(2).any(|w| w == [0x89, 0x00]), "no ping");
    assert_eq!(ws_server.clients(), 0);
}

#[tokio::test]
async fn client_that_answers_pings_stays() {
    let server = endpoint();
    let ws_server = keepalive_server(&server).await;
    let mut ws = raw_client(ws_server.port(), r#"["/keepalive"]"#).await;
    // Reading answers the pings (tungstenite queues the pongs and sends
    // them as it reads on).
    let (pings, mut texts) = {
        let (pings_tx, pings_rx) = tokio::sync::watch::channel(0u32);
        let (texts_tx, texts_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                match frame {
                    WsMessage::Ping(_) => pings_tx.send_modify(|n| *n += 1),
                    WsMessage::Text(text) => {
                        let _ = texts_tx.send(text.to_string());
                    }
                    _ => {}
                }
            }
        });
        (pings_rx, texts_rx)
    };
    // 40 pings take 4 s, past the 2.1 s limit: the client was kept
    // because it answered.
    let mut seen = pings.clone();
    tokio::time::timeout(WAIT, seen.wait_for(|n| *n >= 40))
        .await
        .expect("pings in time")
        .unwrap();
    assert_eq!(ws_server.clients(), 1);
    server
        .publish("/keepalive/x", Data::Count(1))
        .await
        .unwrap();
    let text = tokio::time::timeout(WAIT, texts.recv())
        .await
        .expect("a message in time")
        .unwrap();
    let (topic, data) = json::data_message_from_json_str(&text).unwrap();
    assert_eq!((topic.as_str(), data), ("/keepalive/x", Data::Count(1)));
}

// ---- slow clients --------------------------------------------------------------------------

/// Publishes `count` messages of `size` bytes on `/slow/<n>` from the
/// server endpoint itself.
async fn flood(server: &Endpoint, count: u64, size: usize) {
    let payload = "y".repeat(size);
    for n in 0..count {
        let value = Data::Vector(vec![Data::Count(n), Data::from(payload.as_str())]);
        tokio::time::timeout(WAIT, server.publish("/slow/x", value))
            .await
            .expect("publishing never waits for a client")
            .unwrap();
    }
}

#[tokio::test]
async fn slow_client_queue_stays_bounded_and_keeps_the_newest_messages() {
    let server = endpoint();
    let mut settings = ServerOptions::from_options(server.options());
    settings.queue_size = 16;
    settings.overflow_policy = OverflowPolicy::DropOldest;
    let port = server
        .listen_websocket_with("127.0.0.1", 0, settings)
        .await
        .unwrap();
    let mut slow = raw_client(port, r#"["/slow"]"#).await;
    // 2,000 messages of 64 KiB (125 MiB) for a client that reads nothing.
    const COUNT: u64 = 2000;
    flood(&server, COUNT, 64 * 1024).await;
    // Let the server write what the socket takes, then read it all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut received = Vec::new();
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_millis(500), slow.next()).await
    {
        if let WsMessage::Text(text) = frame {
            let (_, data) = json::data_message_from_json_str(&text).unwrap();
            let Data::Vector(items) = data else {
                panic!("not a vector")
            };
            let Data::Count(n) = items[0] else {
                panic!("no count")
            };
            received.push(n);
        }
    }
    // What arrived is what the queue (16) and the socket buffers held: far
    // less than was published, in order, ending with the newest message.
    assert!(!received.is_empty());
    assert!(
        received.len() < 400,
        "{} messages were buffered",
        received.len()
    );
    assert!(received.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(received.last(), Some(&(COUNT - 1)));
}

#[tokio::test]
async fn slow_client_is_disconnected_under_the_disconnect_policy() {
    let server = endpoint();
    let mut settings = ServerOptions::from_options(server.options());
    settings.queue_size = 8;
    settings.overflow_policy = OverflowPolicy::Disconnect;
    let port = server
        .listen_websocket_with("127.0.0.1", 0, settings)
        .await
        .unwrap();
    let mut slow = raw_client(port, r#"["/slow"]"#).await;
    flood(&server, 500, 64 * 1024).await;
    assert_eq!(close_code(&mut slow).await, Some(CloseCode::Policy));
    // The endpoint goes on serving other clients.
    let mut fresh = raw_client(port, r#"["/slow"]"#).await;
    server.publish("/slow/after", Data::Count(1)).await.unwrap();
    assert_eq!(next_json(&mut fresh).await["topic"], "/slow/after");
}

// ---- our client -----------------------------------------------------------------------------

#[tokio::test]
async fn client_surfaces_server_errors_as_events() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut client = WebSocketClient::connect(&url(port), ["/t"], ClientOptions::default())
        .await
        .unwrap();
    assert!(client.ack().0.contains("-websocket-"));
    client.send_text("not json").await.unwrap();
    loop {
        match client.recv_timeout(WAIT).await.expect("an event") {
            ClientEvent::Error { code, .. } => {
                assert_eq!(code, "deserialization_failed");
                break;
            }
            ClientEvent::Connected { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn client_reports_a_refused_handshake() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let wrong = format!("ws://127.0.0.1:{port}/v1/other");
    let err = WebSocketClient::connect(&wrong, ["/t"], ClientOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_uri"), "{err}");
    let err = WebSocketClient::connect(
        &url(port),
        ["/t"],
        ClientOptions::default().app_name("no spaces allowed"),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        broker_core::websocket::ClientError::InvalidAppName(_)
    ));
}

#[tokio::test]
async fn client_reconnects_and_resubscribes_after_the_server_restarts() {
    let first = endpoint();
    let port = first.listen_websocket("127.0.0.1", 0).await.unwrap();
    let options = ClientOptions::default().retry(Duration::from_millis(50));
    let mut client = WebSocketClient::connect(&url(port), ["/r"], options)
        .await
        .unwrap();
    first.shutdown().await.unwrap();
    drop(first);
    let mut saw_disconnect = false;
    let second = endpoint();
    second.listen_websocket("127.0.0.1", port).await.unwrap();
    loop {
        match client.recv_timeout(WAIT).await.expect("an event") {
            ClientEvent::Disconnected { .. } => saw_disconnect = true,
            ClientEvent::Connected { .. } if saw_disconnect => break,
            _ => {}
        }
    }
    second.publish("/r/again", Data::Count(5)).await.unwrap();
    assert_eq!(
        next_message(&mut client).await,
        ("/r/again".into(), Data::Count(5))
    );
}

#[tokio::test]
async fn wss_with_the_default_tls_mode() {
    let tls_options = Options {
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    };
    let server = Endpoint::new(tls_options.clone()).unwrap();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let tls = TlsConfig::from_options(&tls_options).unwrap().unwrap();
    let wss = format!("wss://127.0.0.1:{port}/v1/messages/json");
    let mut client = WebSocketClient::connect(&wss, ["/tls"], ClientOptions::default().tls(tls))
        .await
        .unwrap();
    server
        .publish("/tls/x", Data::from("secret"))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut client).await,
        ("/tls/x".into(), Data::from("secret"))
    );
    // Plain WebSocket against a TLS listener fails the upgrade.
    let err = WebSocketClient::connect(&url(port), ["/tls"], ClientOptions::default()).await;
    assert!(err.is_err());
}

#[tokio::test]
async fn clients_end_when_the_endpoint_shuts_down() {
    let server = endpoint();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let mut ws = raw_client(port, r#"["/t"]"#).await;
    server.shutdown().await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Away));
    // The port is free again.
    let again = endpoint();
    assert_eq!(
        again.listen_websocket("127.0.0.1", port).await.unwrap(),
        port
    );
}

#[test]
fn topics_of_the_api_are_plain_prefixes() {
    // The client API takes any IntoTopic; an over-long prefix is refused
    // before connecting.
    let long = "x".repeat(70_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(WebSocketClient::connect(
            "ws://127.0.0.1:1/v1/messages/json",
            [long.as_str()],
            ClientOptions::default(),
        ))
        .unwrap_err();
    assert!(matches!(err, broker_core::websocket::ClientError::Topic(_)));
    assert!(Topic::new("/ok").is_ok());
}

// ---- throughput (run by hand, see docs/performance.md) --------------------------------

/// Messages per second from one WebSocket client through the server to one
/// native peer. Ignored by default; run with
/// `cargo test --release -p broker-core --test websocket -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput_ws_client_to_native_peer() {
    const COUNT: u64 = 200_000;
    let (_server, _native, mut native_sub, ws_port) = server_with_native_peer().await;
    let client = WebSocketClient::connect(
        &url(ws_port),
        Vec::<String>::new(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    // Broker's `tiny` payload: an event with arguments [42, "test"].
    let tiny = broker_core::payloads::event(broker_core::payloads::Payload::Tiny, 0).into_data();
    let start = std::time::Instant::now();
    let receiver = tokio::spawn(async move {
        for _ in 0..COUNT {
            native_sub
                .recv_timeout(WAIT)
                .await
                .expect("every message arrives");
        }
    });
    for _ in 0..COUNT {
        client.publish("/native/bench", tiny.clone()).await.unwrap();
    }
    receiver.await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"messages\":{COUNT},\"seconds\":{secs:.3},\"messages_per_sec\":{:.0}}}",
        COUNT as f64 / secs
    );
    assert!(secs > 0.0);
}

#[test]
fn a_websocket_listener_outlives_the_runtime_that_opened_it() {
    let endpoint = Endpoint::new(options()).unwrap();
    let port = {
        let opener = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        opener
            .block_on(endpoint.listen_websocket("127.0.0.1", 0))
            .unwrap()
    }; // the runtime that asked is gone; the endpoint's own serves on
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        let connected = tokio::time::timeout(
            WAIT,
            WebSocketClient::connect(&url(port), ["/t"], ClientOptions::default()),
        )
        .await
        .expect("accepted in time");
        assert!(connected.is_ok(), "{connected:?}");
    });
}
