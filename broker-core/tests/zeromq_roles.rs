//! The ZeroMQ roles over real libzmq sockets (in-process): the logger's
//! PULL and PUSH sides, the node, the proxy, CURVE, and the bridge to Broker
//! peers. Python-driven interop is in `zeromq_interop.rs`.

#![cfg(feature = "zeromq")]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use broker_core::data::{Port, Protocol, Subnet, Timestamp};
use broker_core::logs::{LogSubscriber, LogValue, Logger, TypedLogSubscriber};
use broker_core::runtime::{Endpoint, StatusEvent};
use broker_core::status::ErrorCode;
use broker_core::zeromq::{CurveKeys, LogPusherOptions, LoggerOptions, ZmqError};

const WAIT: Duration = Duration::from_secs(10);

mod zeromq_common;
use broker_core::options::Options;
use zeromq_common::{CaptureInfo, Color, capture, endpoint};

fn push_socket(endpoint: &str) -> (zmq::Context, zmq::Socket) {
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(1000).unwrap();
    push.connect(endpoint).unwrap();
    (ctx, push)
}

#[test]
fn the_logger_hands_a_captured_zeek_batch_to_log_subscribers() {
    let ep = endpoint();
    ep.block_on(async {
        let prefix = ep.options().default_log_topic_prefix.clone();
        let mut rows = LogSubscriber::new(&ep, [prefix.as_str()]).await.unwrap();
        let mut typed = TypedLogSubscriber::<CaptureInfo>::new(&ep).await.unwrap();
        let logger = ep
            .zeromq_logger(LoggerOptions::new("tcp://127.0.0.1:0"))
            .await
            .unwrap();
        assert!(logger.endpoint().starts_with("tcp://127.0.0.1:"));
        let (_ctx, push) = push_socket(logger.endpoint());
        let frames = capture("worker-node.jsonl", "zeek-log-write-ZmqCapture::LOG");
        push.send_multipart(&frames, 0).unwrap();

        let first = rows.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(first.stream_id.name(), "ZmqCapture::LOG");
        assert_eq!(first.path, "zmq_capture");
        assert_eq!(first.get("uid"), Some(&LogValue::String("CuidA1".into())));
        assert_eq!(
            first.get("p"),
            Some(&LogValue::Port(Port::new(53, Protocol::Udp)))
        );
        for _ in 0..2 {
            rows.recv_timeout(WAIT).await.unwrap().unwrap();
        }

        let a = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(a.uid, "CuidA1");
        assert_eq!(a.orig, "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(a.net, "10.1.0.0/16".parse::<Subnet>().unwrap());
        assert_eq!(a.color, Color::Red);
        assert_eq!(a.tags, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
        assert_eq!(a.nums, [1, 2, 3]);
        assert_eq!(a.note.as_deref(), Some("first"));
        let b = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!((b.uid.as_str(), b.n, b.note), ("CuidB2", u64::MAX, None));
        let c = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(c.color, Color::Blue);
        let stats = logger.stats();
        assert_eq!((stats.batches, stats.records, stats.errors), (1, 3, 0));
    });
}

#[test]
fn the_logger_reports_bad_batches_and_keeps_going() {
    let ep = endpoint();
    ep.block_on(async {
        let mut errors = ep.status_subscriber(false).await.unwrap();
        let mut typed = TypedLogSubscriber::<CaptureInfo>::new(&ep).await.unwrap();
        let logger = ep
            .zeromq_logger(LoggerOptions::new("tcp://127.0.0.1:0"))
            .await
            .unwrap();
        let (_ctx, push) = push_socket(logger.endpoint());
        for bad in [
            "logger-reject-wrong-format",
            "logger-reject-three-frames",
            "logger-reject-truncated",
        ] {
            push.send_multipart(capture("logger-pull.jsonl", bad), 0)
                .unwrap();
        }
        // Garbage of every shape: one frame, an empty batch frame.
        push.send(&b"x"[..], 0).unwrap();
        push.send_multipart([&b"log-write"[..], b"", b"zeek-bin-serializer", b""], 0)
            .unwrap();
        push.send_multipart(
            capture(
                "logger-pull.jsonl",
                "logger-inject-log-write-any-type-frame",
            ),
            0,
        )
        .unwrap();
        for _ in 0..5 {
            match errors.recv_timeout(WAIT).await.unwrap() {
                StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::DeserializationFailed),
                other => panic!("{other:?}"),
            }
        }
        // The good batch after the bad ones still arrives.
        let row = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(row.uid, "CuidA1");
        assert_eq!(logger.stats().errors, 5);
    });
}

#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[broker(name = "Test::Info")]
#[log(stream = "Test::LOG", path = "test")]
struct TestInfo {
    ts: Timestamp,
    msg: String,
    n: Option<u64>,
}

#[test]
fn a_logger_ships_records_over_push_to_a_pull_logger() {
    let (sender, receiver) = (endpoint(), endpoint());
    sender.block_on(async {
        let mut typed = TypedLogSubscriber::<TestInfo>::new(&receiver)
            .await
            .unwrap();
        let pull = receiver
            .zeromq_logger(LoggerOptions::new("tcp://127.0.0.1:0"))
            .await
            .unwrap();
        let pusher = sender
            .zeromq_log_pusher(LogPusherOptions::new(
                vec![pull.endpoint().to_owned()],
                "rust-sender",
            ))
            .await
            .unwrap();
        let logger = Logger::new(&sender).await.unwrap();
        let stream = logger.stream::<TestInfo>().unwrap();
        let records: Vec<TestInfo> = (0..3)
            .map(|i| TestInfo {
                ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + i),
                msg: format!("record {i}"),
                n: (i % 2 == 0).then_some(i as u64),
            })
            .collect();
        for r in &records {
            stream.write(r).await.unwrap();
        }
        // No Broker peers: Broker drops them, the pusher ships them.
        assert_eq!(logger.flush_logs().await.unwrap(), 0);
        for r in &records {
            let got = typed.recv_timeout(WAIT).await.unwrap().unwrap();
            assert_eq!(got.msg, r.msg);
            assert_eq!(got.n, r.n);
        }
        assert_eq!(pull.stats().batches, 1, "one batch of three");
        eventually("the pusher counted", || pusher.stats().1 == 3).await;
    });
}

#[test]
fn a_curve_logger_accepts_only_the_cluster_client_key() {
    let keys = CurveKeys::generate().unwrap();
    let (sender, receiver) = (endpoint(), endpoint());
    sender.block_on(async {
        let mut typed = TypedLogSubscriber::<TestInfo>::new(&receiver)
            .await
            .unwrap();
        let mut options = LoggerOptions::new("tcp://127.0.0.1:0");
        options.curve = Some(keys.clone());
        let pull = receiver.zeromq_logger(options).await.unwrap();
        // A client with another key pair is refused by ZAP.
        let mut wrong = CurveKeys::generate().unwrap();
        wrong.server_public = keys.server_public.clone();
        let mut bad = LogPusherOptions::new(vec![pull.endpoint().to_owned()], "intruder");
        bad.curve = Some(wrong);
        let _bad_pusher = sender.zeromq_log_pusher(bad).await.unwrap();
        let mut good = LogPusherOptions::new(vec![pull.endpoint().to_owned()], "rust");
        good.curve = Some(keys.clone());
        let _pusher = sender.zeromq_log_pusher(good).await.unwrap();
        let logger = Logger::new(&sender).await.unwrap();
        let stream = logger.stream::<TestInfo>().unwrap();
        stream
            .write(&TestInfo {
                ts: Timestamp::from_nanos(0),
                msg: "secret".into(),
                n: None,
            })
            .await
            .unwrap();
        logger.flush_logs().await.unwrap();
        let got = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(got.msg, "secret");
        // Exactly one copy: the intruder's never got through.
        assert!(
            typed
                .recv_timeout(Duration::from_millis(500))
                .await
                .is_none()
        );
        let deadline = std::time::Instant::now() + WAIT;
        while pull.stats().refused == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(pull.stats().refused >= 1);
    });
}

#[test]
fn a_curve_logger_with_mismatched_keys_refuses_to_start() {
    let keys = CurveKeys::generate().unwrap();
    let other = CurveKeys::generate().unwrap();
    let ep = endpoint();
    ep.block_on(async {
        let mut options = LoggerOptions::new("tcp://127.0.0.1:0");
        let mut mixed = keys.clone();
        mixed.server_secret = other.server_secret.clone();
        options.curve = Some(mixed);
        let err = ep.zeromq_logger(options).await.unwrap_err();
        assert!(matches!(err, ZmqError::KeyMismatch), "{err}");
        let mut options = LoggerOptions::new("tcp://127.0.0.1:0");
        let mut missing = keys.clone();
        missing.server_secret = None;
        options.curve = Some(missing);
        let err = ep.zeromq_logger(options).await.unwrap_err();
        assert!(
            matches!(err, ZmqError::MissingKey("server secret key")),
            "{err}"
        );
    });
}

#[test]
fn a_busy_logger_endpoint_is_a_clear_error() {
    let ep = endpoint();
    ep.block_on(async {
        let first = ep
            .zeromq_logger(LoggerOptions::new("tcp://127.0.0.1:0"))
            .await
            .unwrap();
        let err = ep
            .zeromq_logger(LoggerOptions::new(first.endpoint()))
            .await
            .unwrap_err();
        assert!(matches!(err, ZmqError::Socket { .. }), "{err}");
        assert!(err.to_string().contains("bind"), "{err}");
    });
}

// ---------------------------------------------------------------------------
// Nodes and the proxy.

use broker_core::data::Data;
use broker_core::zeromq::{ClusterEvent, NodeOptions, ProxyOptions, ZmqNode, ZmqProxy};

fn proxy() -> ZmqProxy {
    ZmqProxy::start(ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0")).unwrap()
}

async fn join(ep: &Endpoint, proxy: &ZmqProxy, name: &str) -> ZmqNode {
    let mut options = NodeOptions::new(proxy.xsub_endpoint(), proxy.xpub_endpoint(), name);
    options.id = Some(format!("{name}_test"));
    let node = ep.join_zeromq(options).await.unwrap();
    node.wait_ready(WAIT).await.unwrap();
    node
}

/// Waits until `check` holds, polling.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn two_nodes_say_hello_and_exchange_events_through_the_proxy() {
    let proxy = proxy();
    let (a, b) = (endpoint(), endpoint());
    a.block_on(async {
        let node_a = join(&a, &proxy, "rust-a").await;
        let mut events = node_a.cluster_events();
        let mut inbox = a.subscribe(["/demo"]).await.unwrap();
        let node_b = join(&b, &proxy, "rust-b").await;
        assert_eq!(
            events.recv_timeout(WAIT).await,
            Some(ClusterEvent::NodeUp {
                name: "rust-b".into(),
                id: "rust-b_test".into()
            })
        );
        eventually("b sees a", || node_b.nodes_up().len() == 1).await;
        // b learns a's subscription, then publishes.
        for i in 0..50u64 {
            b.publish("/demo/x", Data::Count(i)).await.unwrap();
            if let Some(msg) = inbox.recv_timeout(Duration::from_millis(100)).await {
                assert_eq!(msg.topic.as_str(), "/demo/x");
                break;
            }
            assert!(i < 49, "nothing arrived");
        }
        // Unsubscribing shrinks the cluster subscription: b's publications
        // stop going out.
        drop(inbox);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = node_b.stats().messages_out;
        for i in 0..10u64 {
            b.publish("/demo/x", Data::Count(i)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            node_b.stats().messages_out,
            sent,
            "no subscriber: nothing sent"
        );
        // b leaves: a sees it go down.
        drop(node_b);
        drop(b);
        assert_eq!(
            events.recv_timeout(WAIT).await,
            Some(ClusterEvent::NodeDown {
                name: Some("rust-b".into()),
                id: "rust-b_test".into()
            })
        );
        assert!(proxy.stats().messages_forwarded > 0);
        assert!(proxy.stats().subscriptions_forwarded > 0);
    });
}

#[test]
fn node_names_and_ids_with_dots_are_refused() {
    let proxy = proxy();
    let ep = endpoint();
    ep.block_on(async {
        let options = NodeOptions::new(proxy.xsub_endpoint(), proxy.xpub_endpoint(), "a.b");
        assert!(matches!(
            ep.join_zeromq(options).await,
            Err(ZmqError::InvalidName { what: "name", .. })
        ));
    });
}

/// A Zeek-like node made of raw libzmq sockets.
struct RawNode {
    _ctx: zmq::Context,
    xpub: zmq::Socket,
    xsub: zmq::Socket,
}

impl RawNode {
    fn connect(proxy: &ZmqProxy, keys: Option<&CurveKeys>) -> RawNode {
        let ctx = zmq::Context::new();
        let xpub = ctx.socket(zmq::XPUB).unwrap();
        let xsub = ctx.socket(zmq::XSUB).unwrap();
        xpub.set_xpub_verbose(true).unwrap();
        for s in [&xpub, &xsub] {
            s.set_linger(0).unwrap();
            if let Some(keys) = keys {
                let k = |k: &Option<broker_core::zeromq::CurveKey>| *k.as_ref().unwrap().as_bytes();
                s.set_curve_serverkey(&k(&keys.server_public)).unwrap();
                s.set_curve_publickey(&k(&keys.client_public)).unwrap();
                s.set_curve_secretkey(&k(&keys.client_secret)).unwrap();
            }
        }
        xpub.connect(proxy.xsub_endpoint()).unwrap();
        xsub.connect(proxy.xpub_endpoint()).unwrap();
        RawNode {
            _ctx: ctx,
            xpub,
            xsub,
        }
    }

    /// Waits (blocking) until some node subscribed to `prefix`.
    fn await_subscription(&self, prefix: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        let mut want = vec![1u8];
        want.extend_from_slice(prefix.as_bytes());
        while std::time::Instant::now() < deadline {
            if self.xpub.poll(zmq::POLLIN, 100).unwrap() > 0 {
                let frame = self.xpub.recv_bytes(0).unwrap();
                if frame == want {
                    return;
                }
            }
        }
        panic!("nobody subscribed to {prefix}");
    }

    fn subscribe(&self, prefix: &str) {
        let mut frame = vec![1u8];
        frame.extend_from_slice(prefix.as_bytes());
        self.xsub.send(frame, 0).unwrap();
    }

    /// The next 4-frame message, if one comes within `timeout`.
    fn recv(&self, timeout: Duration) -> Option<Vec<Vec<u8>>> {
        let ms = i64::try_from(timeout.as_millis()).unwrap();
        (self.xsub.poll(zmq::POLLIN, ms).unwrap() > 0).then(|| self.xsub.recv_multipart(0).unwrap())
    }
}

use broker_core::prelude::{Context, Published, event, handler, published_id};
use std::sync::Mutex;

#[event(topic = "zeek.capture.", name = "ZmqCapture::pong")]
#[derive(Clone, Debug, PartialEq)]
struct Pong {
    seq: u64,
    msg: String,
}

static PONGS: Mutex<Vec<(u64, String, String)>> = Mutex::new(Vec::new());

#[handler]
fn on_pong(pong: Pong, context: Context) {
    let topic = context
        .topic()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    PONGS.lock().unwrap().push((pong.seq, pong.msg, topic));
}

#[published_id(topic = "zeek.capture.config", name = "ZmqCapture::limit")]
static LIMIT: Published<u64> = Published::new(1);

#[test]
fn typed_handlers_and_published_ids_are_fed_over_zeromq() {
    let proxy = proxy();
    let ep = endpoint();
    ep.block_on(async {
        ep.start_handlers().await.unwrap();
        let _node = join(&ep, &proxy, "rust-typed").await;
        let zeek = RawNode::connect(&proxy, None);
        zeek.await_subscription("zeek.capture.");
        // Zeek's own pong, byte for byte as captured.
        let frames = capture("worker-node.jsonl", "zeek-event-ZmqCapture::pong");
        zeek.xpub.send_multipart(&frames, 0).unwrap();
        eventually("the handler ran", || !PONGS.lock().unwrap().is_empty()).await;
        assert_eq!(
            PONGS.lock().unwrap()[0],
            (1, "valid ping".into(), "zeek.capture.pong".into())
        );
        // An identifier update, as a broker-rs node would publish it.
        let update =
            broker_core::zeek::Message::IdentifierUpdate(broker_core::zeek::IdentifierUpdate {
                name: "ZmqCapture::limit".into(),
                value: Data::Count(99),
            })
            .into_data();
        let msg =
            broker_core::zeromq::wire::EventMessage::new("zeek.capture.config", "zeek", update)
                .unwrap();
        zeek.xpub.send_multipart(msg.encode(), 0).unwrap();
        eventually("the id was updated", || LIMIT.get() == 99).await;
    });
}

#[test]
fn the_node_reports_bad_messages_and_goes_on() {
    let proxy = proxy();
    let ep = endpoint();
    ep.block_on(async {
        let mut errors = ep.status_subscriber(false).await.unwrap();
        let mut inbox = ep.subscribe(["zeek.bad."]).await.unwrap();
        let node = join(&ep, &proxy, "rust-bad").await;
        let zeek = RawNode::connect(&proxy, None);
        zeek.await_subscription("zeek.bad.");
        let good = broker_core::zeromq::wire::EventMessage::new("zeek.bad.ok", "z", Data::Count(7))
            .unwrap()
            .encode();
        let t = b"zeek.bad.x".to_vec();
        let bad: Vec<Vec<Vec<u8>>> = vec![
            vec![t.clone(), b"z".to_vec(), b"broker-bin-v1".to_vec()],
            vec![
                t.clone(),
                b"z".to_vec(),
                b"broker-bin-v1".to_vec(),
                vec![0x0e],
                vec![],
            ],
            vec![
                t.clone(),
                b"z".to_vec(),
                b"zeek-bin-serializer".to_vec(),
                vec![2, 0],
            ],
            vec![
                t.clone(),
                b"z".to_vec(),
                b"broker-bin-v1".to_vec(),
                vec![0xff; 64],
            ],
            vec![
                t.clone(),
                b"z".to_vec(),
                b"broker-json-v1".to_vec(),
                b"{".to_vec(),
            ],
            // Many frames: counted and discarded, not kept.
            std::iter::once(t.clone())
                .chain(std::iter::repeat_n(vec![0u8; 16], 999))
                .collect(),
        ];
        for frames in &bad {
            zeek.xpub.send_multipart(frames, 0).unwrap();
        }
        zeek.xpub.send_multipart(&good, 0).unwrap();
        for _ in 0..6 {
            match errors.recv_timeout(WAIT).await.unwrap() {
                StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::DeserializationFailed),
                other => panic!("{other:?}"),
            }
        }
        let msg = inbox.recv_timeout(WAIT).await.unwrap();
        assert_eq!(msg.data, Data::Count(7));
        assert_eq!(node.stats().errors, 6);
        // Our own id in the sender frame: dropped silently, as Zeek does.
        let mut echo = good.to_vec();
        echo[1] = node.id().as_bytes().to_vec();
        zeek.xpub.send_multipart(&echo, 0).unwrap();
        eventually("the echo was counted", || node.stats().echoes == 1).await;
        assert!(
            inbox
                .recv_timeout(Duration::from_millis(200))
                .await
                .is_none()
        );
    });
}

#[test]
fn a_flood_of_cluster_subscriptions_is_bounded() {
    let proxy = proxy();
    let (ep, peer) = (endpoint(), endpoint());
    ep.block_on(async {
        let port = ep.listen("127.0.0.1", 0).await.unwrap();
        peer.peer_and_wait("127.0.0.1", port, Duration::ZERO)
            .await
            .unwrap();
        let mut options =
            NodeOptions::new(proxy.xsub_endpoint(), proxy.xpub_endpoint(), "rust-flood");
        options.limits.max_cluster_topics = 100;
        let node = ep.join_zeromq(options).await.unwrap();
        node.wait_ready(WAIT).await.unwrap();
        let zeek = RawNode::connect(&proxy, None);
        for i in 0..500 {
            zeek.subscribe(&format!("flood.{i}."));
        }
        eventually("the rest was refused", || node.stats().topics_refused > 0).await;
        // What the endpoint advertises to its Broker peer stays bounded:
        // at most 100 cluster topics (the node's own among them).
        let mut advertised = 0;
        let deadline = std::time::Instant::now() + WAIT;
        while advertised < 100 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            advertised = peer.peer_subscriptions().await.unwrap().len();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let advertised = peer.peer_subscriptions().await.unwrap().len();
        assert_eq!(advertised, 100);
    });
}

#[test]
fn a_stopped_subscriber_does_not_stall_the_others() {
    let mut options = ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    options.limits.hwm = 1000;
    let proxy = ZmqProxy::start(options).unwrap();
    let publisher = RawNode::connect(&proxy, None);
    let healthy = RawNode::connect(&proxy, None);
    let stopped = RawNode::connect(&proxy, None);
    stopped.xsub.set_rcvhwm(1).unwrap();
    stopped.xsub.set_rcvbuf(4096).unwrap();
    healthy.subscribe("t");
    stopped.subscribe("t");
    let deadline = std::time::Instant::now() + WAIT;
    while proxy.stats().subscriptions_forwarded < 2 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    publisher.await_subscription("t");
    const N: usize = 3000;
    let payload = vec![7u8; 16 * 1024];
    let expected = payload.clone();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < N {
            match healthy.recv(Duration::from_secs(5)) {
                // Whole and in order, stalls or not (a first frame that
                // waited for room is sent again unchanged).
                Some(frames) => {
                    let want = [
                        b"t".to_vec(),
                        got.to_string().into_bytes(),
                        b"broker-bin-v1".to_vec(),
                        expected.clone(),
                    ];
                    assert!(frames == want, "message {got} differs");
                    got += 1;
                }
                None => break,
            }
        }
        got
    });
    publisher.xpub.set_sndhwm(0).unwrap();
    for i in 0..N {
        let seq = i.to_string();
        publisher
            .xpub
            .send_multipart([b"t", seq.as_bytes(), b"broker-bin-v1", &payload], 0)
            .unwrap();
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let got = reader.join().unwrap();
    assert_eq!(got, N, "the healthy subscriber got everything");
    let stats = proxy.stats();
    assert_eq!(stats.messages_forwarded, N as u64);
    assert!(
        stats.stalls > 0 && stats.messages_lossy > 0,
        "drops for the stopped one: {stats:?}"
    );
    drop(stopped);
}

#[test]
fn curve_nodes_join_a_curve_proxy_and_wrong_keys_stay_out() {
    let keys = CurveKeys::generate().unwrap();
    let mut options = ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    options.curve = Some(keys.clone());
    let proxy = ZmqProxy::start(options).unwrap();
    let (a, b) = (endpoint(), endpoint());
    a.block_on(async {
        let join_curve = |ep: &Endpoint, name: &str, keys: CurveKeys| {
            let mut options = NodeOptions::new(proxy.xsub_endpoint(), proxy.xpub_endpoint(), name);
            options.curve = Some(keys);
            let ep = ep.clone();
            async move { ep.join_zeromq(options).await.unwrap() }
        };
        let node_a = join_curve(&a, "curve-a", keys.clone()).await;
        node_a.wait_ready(WAIT).await.unwrap();
        let mut inbox = a.subscribe(["curve.topic"]).await.unwrap();
        let node_b = join_curve(&b, "curve-b", keys.clone()).await;
        node_b.wait_ready(WAIT).await.unwrap();
        eventually("hello over CURVE", || node_a.nodes_up().len() == 1).await;
        for i in 0..50u64 {
            b.publish("curve.topic", Data::Count(i)).await.unwrap();
            if inbox
                .recv_timeout(Duration::from_millis(100))
                .await
                .is_some()
            {
                break;
            }
            assert!(i < 49);
        }
        // A node with its own key pair is refused by ZAP and never joins;
        // it says so (see `a_node_with_a_wrong_client_key_fails_promptly`).
        let intruder = endpoint();
        let mut wrong = CurveKeys::generate().unwrap();
        wrong.server_public = keys.server_public.clone();
        let node_c = join_curve(&intruder, "curve-c", wrong).await;
        assert!(matches!(
            node_c.wait_ready(WAIT).await,
            Err(ZmqError::Handshake(_))
        ));
        assert!(proxy.stats().clients_refused > 0);
    });
    // A proxy with another cluster's server secret refuses to start.
    let other = CurveKeys::generate().unwrap();
    let mut options = ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    let mut mixed = keys;
    mixed.server_secret = other.server_secret;
    options.curve = Some(mixed);
    assert!(matches!(
        ZmqProxy::start(options),
        Err(ZmqError::KeyMismatch)
    ));
}

#[test]
fn a_bridge_forwards_between_broker_peers_and_the_cluster_once() {
    let proxy = proxy();
    let (bridge, peer, member) = (endpoint(), endpoint(), endpoint());
    bridge.block_on(async {
        // The Broker peer, peered with the bridge.
        let port = bridge.listen("127.0.0.1", 0).await.unwrap();
        peer.peer_and_wait("127.0.0.1", port, Duration::ZERO)
            .await
            .unwrap();
        let mut at_peer = peer.subscribe(["bridge.to-peer"]).await.unwrap();
        // The bridge and a ZeroMQ member of the cluster.
        let bridge_node = join(&bridge, &proxy, "bridge").await;
        let member_node = join(&member, &proxy, "member").await;
        let mut at_member = member.subscribe(["bridge.to-member"]).await.unwrap();
        // Cluster → Broker peer: the member publishes until the peer's
        // subscription has made it through the bridge to the cluster.
        let mut got = None;
        for i in 0..100u64 {
            member
                .publish("bridge.to-peer", Data::Count(i))
                .await
                .unwrap();
            if let Some(msg) = at_peer.recv_timeout(Duration::from_millis(100)).await {
                got = Some(msg);
                break;
            }
        }
        assert!(got.is_some(), "nothing reached the Broker peer");
        // Broker peer → cluster.
        let mut got = None;
        for i in 0..100u64 {
            peer.publish("bridge.to-member", Data::Count(1000 + i))
                .await
                .unwrap();
            if let Some(msg) = at_member.recv_timeout(Duration::from_millis(100)).await {
                got = Some(msg);
                break;
            }
        }
        assert!(got.is_some(), "nothing reached the cluster member");
        // Now both directions are set up: one message each way, and each
        // arrives exactly once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while at_peer.try_recv().is_some() {}
        while at_member.try_recv().is_some() {}
        member
            .publish("bridge.to-peer", Data::from("once"))
            .await
            .unwrap();
        peer.publish("bridge.to-member", Data::from("once"))
            .await
            .unwrap();
        let a = at_peer.recv_timeout(WAIT).await.unwrap();
        let b = at_member.recv_timeout(WAIT).await.unwrap();
        assert_eq!((a.data, b.data), (Data::from("once"), Data::from("once")));
        assert!(
            at_peer
                .recv_timeout(Duration::from_millis(500))
                .await
                .is_none()
        );
        assert!(at_member.try_recv().is_none());
        assert!(member_node.stats().echoes <= bridge_node.stats().messages_out);
        drop(member_node);
    });
}

#[test]
fn a_bridge_serves_websocket_clients_from_the_cluster() {
    use broker_core::websocket::{ClientEvent, ClientOptions, WebSocketClient};
    let proxy = proxy();
    let (bridge, member) = (endpoint(), endpoint());
    bridge.block_on(async {
        let port = bridge.listen_websocket("127.0.0.1", 0).await.unwrap();
        let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
        let mut ws = WebSocketClient::connect(&url, ["ws.from-cluster"], ClientOptions::default())
            .await
            .unwrap();
        let _bridge_node = join(&bridge, &proxy, "ws-bridge").await;
        let _member_node = join(&member, &proxy, "ws-member").await;
        let mut at_member = member.subscribe(["ws.to-cluster"]).await.unwrap();
        // Cluster → WebSocket client.
        let mut got = false;
        for i in 0..100u64 {
            member
                .publish("ws.from-cluster", Data::Count(i))
                .await
                .unwrap();
            if let Ok(Some(ClientEvent::Message(msg))) =
                tokio::time::timeout(Duration::from_millis(100), ws.recv()).await
            {
                assert_eq!(msg.topic.as_str(), "ws.from-cluster");
                got = true;
                break;
            }
        }
        assert!(got, "nothing reached the WebSocket client");
        // WebSocket client → cluster.
        let mut got = false;
        for i in 0..100u64 {
            ws.publish("ws.to-cluster", Data::Count(i)).await.unwrap();
            if at_member
                .recv_timeout(Duration::from_millis(100))
                .await
                .is_some()
            {
                got = true;
                break;
            }
        }
        assert!(got, "nothing reached the cluster member");
    });
}

#[test]
fn what_the_node_queue_drops_is_counted_and_the_rest_arrives() {
    let proxy = proxy();
    let ep = Endpoint::new(Options {
        disable_ssl: true,
        peer_buffer_size: 8,
        ..Options::default()
    })
    .unwrap();
    ep.block_on(async {
        let node = join(&ep, &proxy, "rust-burst").await;
        let zeek = RawNode::connect(&proxy, None);
        zeek.xsub.set_rcvhwm(0).unwrap();
        zeek.subscribe("burst.");
        // Wait until the node forwards under the topic.
        let mut i = 0u64;
        loop {
            ep.publish("burst.probe", Data::Count(i)).await.unwrap();
            i += 1;
            if zeek.recv(Duration::from_millis(50)).is_some() {
                break;
            }
            assert!(i < 200, "the subscription never arrived");
        }
        while zeek.recv(Duration::from_millis(100)).is_some() {}
        let before = node.stats();
        const N: u64 = 20_000;
        for i in 0..N {
            ep.publish("burst.x", Data::Count(i)).await.unwrap();
        }
        ep.flush(WAIT).await.unwrap();
        node.flush(WAIT).await.unwrap();
        let mut received = 0u64;
        while zeek.recv(Duration::from_millis(500)).is_some() {
            received += 1;
        }
        let after = node.stats();
        let dropped = after.dropped_out - before.dropped_out;
        assert_eq!(
            received + dropped,
            N,
            "received {received}, dropped {dropped}"
        );
        assert_eq!(after.messages_out - before.messages_out, received);
    });
}

#[test]
fn a_publisher_that_waits_for_room_loses_nothing() {
    // The default queue (8,192 messages): half of it is more than what can
    // be on its way to the node when `wait_for_room` returns.
    let proxy = proxy();
    let ep = endpoint();
    ep.block_on(async {
        let node = join(&ep, &proxy, "rust-room").await;
        let zeek = RawNode::connect(&proxy, None);
        zeek.xsub.set_rcvhwm(0).unwrap();
        zeek.subscribe("room.");
        let mut i = 0u64;
        loop {
            ep.publish("room.probe", Data::Count(i)).await.unwrap();
            i += 1;
            if zeek.recv(Duration::from_millis(50)).is_some() {
                break;
            }
            assert!(i < 200, "the subscription never arrived");
        }
        while zeek.recv(Duration::from_millis(100)).is_some() {}
        let before = node.stats().dropped_out;
        const N: u64 = 100_000;
        for i in 0..N {
            node.wait_for_room().await;
            ep.publish("room.x", Data::Count(i)).await.unwrap();
        }
        ep.flush(WAIT).await.unwrap();
        node.flush(WAIT).await.unwrap();
        let mut received = 0u64;
        while zeek.recv(Duration::from_millis(500)).is_some() {
            received += 1;
        }
        assert_eq!(node.stats().dropped_out - before, 0);
        assert_eq!(received, N);
    });
}
