//! Typed events, handlers and published ids between two endpoints peered
//! over loopback in one process.
//!
//! Every test uses its own event types and topics: the registry is
//! program-wide, and each test starts handlers on its own endpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use broker_core::data::{ByteString, Data, Subnet};
use broker_core::prelude::*;
use broker_core::proto::EndpointId;
use broker_core::runtime::{StatusEvent, StatusSubscriber};
use broker_core::status::ErrorCode;
use broker_core::typed::Schema;
use broker_core::zeek;

// The handler-only crate must be named once to be linked (inventory's rule).
use broker_test_handlers as _;

const WAIT: Duration = Duration::from_secs(10);

fn endpoint() -> Endpoint {
    Endpoint::new(Options {
        disable_ssl: true,
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    })
    .unwrap()
}

/// Two peered endpoints: (listener, dialer).
async fn pair() -> (Endpoint, Endpoint) {
    let server = endpoint();
    let client = endpoint();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    server.await_peer(client.node_id(), WAIT).await.unwrap();
    (server, client)
}

/// Waits until `endpoint`'s peers subscribe to `topic`.
async fn await_subscription(endpoint: &Endpoint, topic: &str) {
    let start = Instant::now();
    while !endpoint
        .peer_subscriptions()
        .await
        .unwrap()
        .iter()
        .any(|t| topic.starts_with(t.as_str()))
    {
        assert!(start.elapsed() < WAIT, "no peer subscribed to {topic}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `done` holds.
async fn await_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn next_error(sub: &mut StatusSubscriber) -> (ErrorCode, String) {
    loop {
        match sub
            .recv_timeout(WAIT)
            .await
            .expect("an error event in time")
        {
            StatusEvent::Error(e) => return (e.code, e.message),
            StatusEvent::Status(_) => continue,
        }
    }
}

// ---- every field type -------------------------------------------------------

#[derive(Data, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[broker(module = "Typed", rename_all = "SCREAMING_SNAKE_CASE")]
enum Level {
    Low,
    High,
}

#[derive(Data, Clone, Debug, PartialEq)]
#[broker(name = "Typed::Inner")]
struct Inner {
    label: String,
    note: Option<String>,
}

#[event(topic = "/typed/all", name = "Typed::all_types")]
#[derive(Clone, Debug, PartialEq)]
struct AllTypes {
    flag: bool,
    count: u64,
    small: u16,
    integer: i64,
    real: f64,
    text: String,
    bytes: ByteString,
    addr: IpAddr,
    net: Subnet,
    port: Port,
    time: Timestamp,
    span: Timespan,
    level: Level,
    inner: Inner,
    missing: Option<u64>,
    present: Option<u64>,
    list: Vec<String>,
    ports: BTreeSet<Port>,
    table: BTreeMap<String, u64>,
    any: Data,
}

static ALL_RECEIVED: Mutex<Vec<(EndpointId, AllTypes, Option<String>)>> = Mutex::new(Vec::new());

#[handler]
async fn on_all_types(event: AllTypes, context: Context) {
    let topic = context.topic().map(|t| t.as_str().to_owned());
    ALL_RECEIVED
        .lock()
        .unwrap()
        .push((context.endpoint().node_id(), event, topic));
}

#[tokio::test]
async fn events_with_every_field_type_arrive_intact_in_handlers() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    await_subscription(&client, "/typed/all").await;
    let sent = AllTypes {
        flag: true,
        count: u64::MAX,
        small: 443,
        integer: -7,
        real: 2.5,
        text: "héllo".into(),
        bytes: ByteString::from(&b"\xff\x00raw"[..]),
        addr: "2001:db8::1".parse().unwrap(),
        net: "10.0.0.0/8".parse().unwrap(),
        port: "53/udp".parse().unwrap(),
        time: Timestamp::from_nanos(1_700_000_000_123_456_789),
        span: Timespan::from_nanos(-1_500),
        level: Level::High,
        inner: Inner {
            label: "x".into(),
            note: None,
        },
        missing: None,
        present: Some(3),
        list: vec!["a".into(), "b".into()],
        ports: ["80/tcp".parse().unwrap(), "443/tcp".parse().unwrap()].into(),
        table: [("k".to_owned(), 1), ("l".to_owned(), 2)].into(),
        any: Data::Vector(vec![Data::None, Data::from("nested")]),
    };
    client.publish_event(&sent).await.unwrap();
    await_until("the event", || !ALL_RECEIVED.lock().unwrap().is_empty()).await;
    let received = ALL_RECEIVED.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (at, event, topic) = &received[0];
    assert_eq!(*at, server.node_id());
    assert_eq!(event, &sent);
    assert_eq!(topic.as_deref(), Some("/typed/all"));
}

// ---- auto-publish on a local raise --------------------------------------------

#[event(topic = "/typed/alarm", name = "Typed::alarm")]
struct Alarm {
    level: u64,
}

static ALARMS: Mutex<Vec<(EndpointId, bool, u64)>> = Mutex::new(Vec::new());

#[handler]
fn on_alarm(alarm: Alarm, context: Context) {
    ALARMS.lock().unwrap().push((
        context.endpoint().node_id(),
        context.is_local(),
        alarm.level,
    ));
}

#[tokio::test]
async fn a_local_raise_calls_local_handlers_and_auto_publishes() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    client.start_handlers().await.unwrap();
    await_subscription(&client, "/typed/alarm").await;
    let mut extra = server.subscribe(["/typed/extra"]).await.unwrap();
    await_subscription(&client, "/typed/extra").await;

    client.raise(Alarm { level: 1 }).await.unwrap();
    await_until("both handler calls", || ALARMS.lock().unwrap().len() == 2).await;
    {
        let alarms = ALARMS.lock().unwrap();
        assert!(alarms.contains(&(client.node_id(), true, 1)), "{alarms:?}");
        assert!(alarms.contains(&(server.node_id(), false, 1)), "{alarms:?}");
    }

    // Runtime changes: publish on an extra topic instead of the event's own.
    assert!(client.auto_publish::<Alarm>("/typed/extra").unwrap());
    assert!(!client.auto_publish::<Alarm>("/typed/extra").unwrap());
    assert!(client.auto_unpublish::<Alarm>("/typed/alarm").unwrap());
    client.raise(Alarm { level: 2 }).await.unwrap();
    let msg = extra
        .recv_timeout(WAIT)
        .await
        .expect("the auto-published event");
    assert_eq!(msg.topic.as_str(), "/typed/extra");
    let event = zeek::Message::from_data(&msg.data).unwrap();
    assert_eq!(
        event,
        zeek::Message::Event(zeek::Event::new("Typed::alarm", vec![Data::Count(2)]))
    );
    // The local handler ran; the server's handler did not get level 2 (the
    // event's own topic is no longer published to).
    await_until("the local call", || ALARMS.lock().unwrap().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alarms = ALARMS.lock().unwrap();
    assert!(alarms.contains(&(client.node_id(), true, 2)));
    assert!(
        !alarms.contains(&(server.node_id(), false, 2)),
        "{alarms:?}"
    );
}

// ---- published ids ----------------------------------------------------------

#[published_id(topic = "/typed/config", name = "Typed::threshold")]
static THRESHOLD: Published<u64> = Published::new(25);

#[tokio::test]
async fn published_ids_are_updated_from_peers_and_published() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    let mut status = server.status_subscriber(false).await.unwrap();
    await_subscription(&client, "/typed/config").await;
    assert_eq!(THRESHOLD.get(), 25);

    // An update as Zeek's Broker::publish_id sends it.
    let update = |value: Data| {
        zeek::Message::IdentifierUpdate(zeek::IdentifierUpdate {
            name: "Typed::threshold".into(),
            value,
        })
        .into_data()
    };
    client
        .publish("/typed/config", update(Data::Count(50)))
        .await
        .unwrap();
    await_until("the update", || THRESHOLD.get() == 50).await;

    // A value of the wrong type is a type clash and changes nothing.
    client
        .publish("/typed/config", update(Data::from("many")))
        .await
        .unwrap();
    let (code, message) = next_error(&mut status).await;
    assert_eq!(code, ErrorCode::TypeClash);
    assert_eq!(
        message,
        "identifier Typed::threshold: expected count, found string"
    );
    assert_eq!(THRESHOLD.get(), 50);

    // publish_id sends the current value to the peers.
    let mut raw = client.subscribe(["/typed/config"]).await.unwrap();
    await_subscription(&server, "/typed/config").await;
    server.publish_id(&THRESHOLD).await.unwrap();
    let msg = raw.recv_timeout(WAIT).await.expect("the identifier update");
    assert_eq!(msg.data, update(Data::Count(50)));
}

// ---- wrong events -----------------------------------------------------------

#[event(topic = "/typed/strict", name = "Typed::strict")]
struct Strict {
    n: u64,
    name: String,
}

static STRICT_CALLS: AtomicU64 = AtomicU64::new(0);

#[handler]
fn on_strict(strict: Strict) {
    assert_eq!(strict.name, "ok");
    STRICT_CALLS.fetch_add(strict.n, Ordering::SeqCst);
}

#[tokio::test]
async fn a_wrong_event_is_a_type_clash_and_the_handler_is_not_called() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    let clashes_before = server
        .metrics()
        .await
        .unwrap()
        .errors_with(ErrorCode::TypeClash);
    let mut status = server.status_subscriber(false).await.unwrap();
    await_subscription(&client, "/typed/strict").await;
    let send = |args: Vec<Data>| {
        let client = client.clone();
        async move {
            client
                .publish(
                    "/typed/strict",
                    zeek::Event::new("Typed::strict", args).into_data(),
                )
                .await
                .unwrap();
        }
    };

    send(vec![Data::Count(1)]).await;
    assert_eq!(
        next_error(&mut status).await,
        (
            ErrorCode::TypeClash,
            "event Typed::strict: expected 2 arguments, found 1".into()
        )
    );
    send(vec![Data::from("1"), Data::from("ok")]).await;
    assert_eq!(
        next_error(&mut status).await,
        (
            ErrorCode::TypeClash,
            "event Typed::strict: argument 0 (n): expected count, found string".into()
        )
    );
    send(vec![
        Data::Count(1),
        Data::String(ByteString::from(&b"\xffbad"[..])),
    ])
    .await;
    assert_eq!(
        next_error(&mut status).await,
        (
            ErrorCode::TypeClash,
            "event Typed::strict: argument 1 (name): string is not valid UTF-8".into()
        )
    );
    // Each clash is counted in the endpoint's metrics.
    let clashes = server
        .metrics()
        .await
        .unwrap()
        .errors_with(ErrorCode::TypeClash);
    assert_eq!(clashes - clashes_before, 3);
    // Nothing else is disturbed: the next good event is handled.
    send(vec![Data::Count(5), Data::from("ok")]).await;
    await_until("the good event", || {
        STRICT_CALLS.load(Ordering::SeqCst) == 5
    })
    .await;
    assert_eq!(STRICT_CALLS.load(Ordering::SeqCst), 5);
}

// ---- a panicking handler ----------------------------------------------------

#[event(topic = "/typed/fragile", name = "Typed::fragile")]
struct Fragile {
    explode: bool,
}

static FRAGILE_OK: AtomicU64 = AtomicU64::new(0);

#[handler]
fn on_fragile(fragile: Fragile) {
    assert!(!fragile.explode, "this handler panics on purpose");
    FRAGILE_OK.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test]
async fn a_panicking_handler_loses_only_its_own_call() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    await_subscription(&client, "/typed/fragile").await;
    client
        .publish_event(&Fragile { explode: true })
        .await
        .unwrap();
    client
        .publish_event(&Fragile { explode: false })
        .await
        .unwrap();
    await_until("the second event", || {
        FRAGILE_OK.load(Ordering::SeqCst) == 1
    })
    .await;
}

// ---- handlers from another crate, and the schema ----------------------------

#[tokio::test]
async fn a_crate_that_only_registers_handlers_works_when_named() {
    let (server, client) = pair().await;
    server.start_handlers().await.unwrap();
    await_subscription(&client, "/typed/remote-crate").await;
    client
        .publish(
            "/typed/remote-crate",
            zeek::Event::new("Remote::hello", vec![Data::Count(4)]).into_data(),
        )
        .await
        .unwrap();
    await_until("the other crate's handler", || {
        broker_test_handlers::HELLOS.load(Ordering::SeqCst) == 4
    })
    .await;
}

#[test]
fn the_schema_lists_every_registered_event_and_id_as_zeek_script() {
    let schema = Schema::collect().unwrap().to_string();
    for line in [
        "type Typed::Level: enum { Typed::LOW, Typed::HIGH };",
        "type Typed::Inner: record { label: string; note: string &optional; };",
        "global Typed::all_types: event(flag: bool, count: count, small: count, integer: int, \
         real: double, text: string, bytes: string, addr: addr, net: subnet, port: port, \
         time: time, span: interval, level: Typed::Level, inner: Typed::Inner, missing: count, \
         present: count, list: vector of string, ports: set[port], table: table[string] of count, \
         any: any);",
        "global Typed::alarm: event(level: count);",
        "global Remote::hello: event(n: count);",
        "global Typed::threshold: count;",
    ] {
        assert!(
            schema.lines().any(|l| l == line),
            "missing {line:?} in\n{schema}"
        );
    }
}

// ---- typed events over the WebSocket API ------------------------------------

#[event(topic = "/typed/ws/question", name = "Typed::question")]
#[derive(Debug, PartialEq)]
struct Question {
    n: u64,
    text: String,
}

#[event(topic = "/typed/ws/answer", name = "Typed::answer")]
#[derive(Debug, PartialEq)]
struct Answer {
    n: u64,
    by: String,
}

#[handler]
async fn on_question(question: Question, ctx: Context) {
    let answer = Answer {
        n: question.n * 2,
        by: ctx.endpoint().node_id().to_string(),
    };
    ctx.endpoint().publish_event(&answer).await.unwrap();
}

#[tokio::test]
async fn a_websocket_client_exchanges_typed_events_with_handlers() {
    use broker_core::websocket::{ClientOptions, WebSocketClient};
    let server = endpoint();
    server.start_handlers().await.unwrap();
    let port = server.listen_websocket("127.0.0.1", 0).await.unwrap();
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    let mut client = WebSocketClient::connect(&url, [Answer::TOPIC], ClientOptions::default())
        .await
        .unwrap();
    client
        .publish_event(&Question {
            n: 21,
            text: "why".into(),
        })
        .await
        .unwrap();
    let answer = tokio::time::timeout(WAIT, client.recv_event::<Answer>())
        .await
        .expect("an answer in time")
        .expect("the client is running")
        .unwrap();
    assert_eq!(
        answer,
        Answer {
            n: 42,
            by: server.node_id().to_string()
        }
    );
}

// ---- throughput (a measurement, not a test: run with --ignored) -------------

#[event(topic = "/typed/bench", name = "Typed::bench")]
struct Bench {
    n: u64,
    text: String,
}

static BENCH_SEEN: AtomicU64 = AtomicU64::new(0);

#[handler]
fn on_bench(bench: Bench) {
    BENCH_SEEN.fetch_add(1, Ordering::Relaxed);
    std::hint::black_box(bench.text);
}

/// Typed events per second from `publish_event` on one endpoint to a
/// `#[handler]` on another, over loopback (plain TCP), one process.
/// `cargo test --release -p broker-derive-tests --test typed_events -- --ignored --nocapture typed_throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn typed_throughput() {
    const EVENTS: u64 = 500_000;
    let (server, client) = pair().await;
    server.start_handlers_on(["/typed/bench"]).await.unwrap();
    await_subscription(&client, "/typed/bench").await;
    let start = Instant::now();
    for n in 0..EVENTS {
        let text = "test".to_owned();
        client.publish_event(&Bench { n, text }).await.unwrap();
    }
    while BENCH_SEEN.load(Ordering::Relaxed) < EVENTS {
        assert!(start.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "typed events: {EVENTS} in {secs:.2} s = {:.0} events/s",
        EVENTS as f64 / secs
    );
}
