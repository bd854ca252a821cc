//! Failed ZeroMQ handshakes are reported, as Zeek 8.2's socket monitor does:
//! a node or log pusher with the wrong CURVE client key, or with CURVE on
//! one side only, fails promptly with a typed error instead of waiting
//! forever; a wrong server key (which libzmq retries) is a warning.

#![cfg(feature = "zeromq")]

use std::time::{Duration, Instant};

use broker_core::data::Timestamp;
use broker_core::logs::Logger;
use broker_core::runtime::{Endpoint, StatusEvent, StatusSubscriber};
use broker_core::status::ErrorCode;
use broker_core::zeromq::{
    ClusterEvent, CurveKeys, HandshakeCause, HandshakeFailure, LogPusherOptions, LoggerOptions,
    NodeOptions, ProxyOptions, SocketKind, ZmqError, ZmqNode, ZmqProxy,
};

mod zeromq_common;
use zeromq_common::endpoint;

/// What the tests wait for at most.
const WAIT: Duration = Duration::from_secs(10);
/// How soon a failure must be reported: well under the timeouts callers
/// used to run into (`broker node` waited for a day, the tests for `WAIT`).
const PROMPT: Duration = Duration::from_secs(3);

fn proxy_with(curve: Option<CurveKeys>) -> ZmqProxy {
    let mut options = ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    options.curve = curve;
    ZmqProxy::start(options).unwrap()
}

async fn join_with(ep: &Endpoint, xsub: &str, xpub: &str, curve: Option<CurveKeys>) -> ZmqNode {
    let mut options = NodeOptions::new(xsub, xpub, "monitored");
    options.curve = curve;
    ep.join_zeromq(options).await.unwrap()
}

/// The client keys of another cluster, with this cluster's server key.
fn wrong_client(keys: &CurveKeys) -> CurveKeys {
    let mut wrong = CurveKeys::generate().unwrap();
    wrong.server_public = keys.server_public.clone();
    wrong
}

/// The proxy endpoint a node's socket connects to.
fn proxy_endpoint(proxy: &ZmqProxy, socket: SocketKind) -> &str {
    match socket {
        SocketKind::Xpub => proxy.xsub_endpoint(),
        SocketKind::Xsub => proxy.xpub_endpoint(),
        other => panic!("a node has no {other} socket"),
    }
}

/// `wait_ready`'s failure, checking that it came promptly.
async fn prompt_failure(node: &ZmqNode) -> HandshakeFailure {
    let start = Instant::now();
    let result = node.wait_ready(WAIT).await;
    let took = start.elapsed();
    assert!(took < PROMPT, "reported after {took:?}");
    match result {
        Err(ZmqError::Handshake(failure)) => failure,
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

/// The next error event.
async fn next_error(errors: &mut StatusSubscriber) -> broker_core::runtime::ErrorEvent {
    loop {
        match errors.recv_timeout(WAIT).await {
            Some(StatusEvent::Error(e)) => return e,
            Some(_) => continue,
            None => panic!("no error event"),
        }
    }
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn a_node_with_a_wrong_client_key_fails_promptly() {
    let keys = CurveKeys::generate().unwrap();
    let proxy = proxy_with(Some(keys.clone()));
    let ep = endpoint();
    ep.block_on(async {
        let mut errors = ep.status_subscriber(false).await.unwrap();
        let node = join_with(
            &ep,
            proxy.xsub_endpoint(),
            proxy.xpub_endpoint(),
            Some(wrong_client(&keys)),
        )
        .await;
        assert_send(&node.wait_ready(WAIT));
        let failure = prompt_failure(&node).await;
        assert_eq!(failure.cause, HandshakeCause::AuthRefused { status: 400 });
        assert!(failure.curve && failure.is_fatal());
        assert_eq!(failure.endpoint, proxy_endpoint(&proxy, failure.socket));
        assert_eq!(
            failure.to_string(),
            format!(
                "CURVE handshake of the {} with {} failed: authentication refused \
                 (ZAP status 400: wrong client key?)",
                failure.socket, failure.endpoint
            )
        );
        // Sticky: asked again, the same first failure, at once.
        assert_eq!(node.handshake_failure(), Some(failure.clone()));
        let again = node.wait_ready(Duration::from_millis(1)).await;
        assert!(matches!(again, Err(ZmqError::Handshake(f)) if f == failure));
        // The endpoint's error stream has it too.
        let error = next_error(&mut errors).await;
        assert_eq!(error.code, ErrorCode::PeerUnavailable);
        assert!(error.message.contains("wrong client key?"), "{error:?}");
        assert!(node.stats().handshakes_failed >= 1);
        assert!(proxy.stats().clients_refused >= 1);
    });
}

#[test]
fn curve_on_one_side_only_fails_promptly_both_ways() {
    let keys = CurveKeys::generate().unwrap();
    let ep = endpoint();
    ep.block_on(async {
        // A CURVE node, a plain proxy.
        let plain = proxy_with(None);
        let node = join_with(
            &ep,
            plain.xsub_endpoint(),
            plain.xpub_endpoint(),
            Some(keys.clone()),
        )
        .await;
        let failure = prompt_failure(&node).await;
        assert_eq!(failure.cause, HandshakeCause::MechanismMismatch);
        assert!(failure.curve && failure.is_fatal());
        assert_eq!(failure.endpoint, proxy_endpoint(&plain, failure.socket));
        assert!(
            failure
                .to_string()
                .ends_with("(the peer does not use CURVE)"),
            "{failure}"
        );
        // A plain node, a CURVE proxy.
        let curve = proxy_with(Some(keys.clone()));
        let node = join_with(&ep, curve.xsub_endpoint(), curve.xpub_endpoint(), None).await;
        let failure = prompt_failure(&node).await;
        assert_eq!(failure.cause, HandshakeCause::MechanismMismatch);
        assert!(!failure.curve);
        assert_eq!(failure.endpoint, proxy_endpoint(&curve, failure.socket));
        assert!(
            failure.to_string().contains("the peer uses CURVE"),
            "{failure}"
        );
    });
}

/// A loopback port nobody listens on (for a proxy that starts later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn both_sockets_failures_reach_the_cluster_events() {
    let keys = CurveKeys::generate().unwrap();
    let (xsub, xpub) = (
        format!("tcp://127.0.0.1:{}", free_port()),
        format!("tcp://127.0.0.1:{}", free_port()),
    );
    let ep = endpoint();
    ep.block_on(async {
        // The node dials before the proxy is there, so that nothing can
        // happen before we listen.
        let node = join_with(&ep, &xsub, &xpub, Some(keys.clone())).await;
        let mut events = node.cluster_events();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(node.handshake_failure(), None);
        let _plain = ZmqProxy::start(ProxyOptions::new(&xsub, &xpub)).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match events.recv_timeout(WAIT).await {
                Some(ClusterEvent::HandshakeFailed(f)) if f.is_fatal() => {
                    assert_eq!(f.cause, HandshakeCause::MechanismMismatch);
                    seen.push((f.socket, f.endpoint));
                }
                // When the proxy reads our greeting first, it hangs up
                // before we read its own: a broken pipe, and libzmq
                // redials.
                Some(ClusterEvent::HandshakeFailed(f)) => {
                    assert!(matches!(f.cause, HandshakeCause::NoDetail { .. }), "{f:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        seen.sort_by_key(|(socket, _)| *socket == SocketKind::Xsub);
        assert_eq!(
            seen,
            [
                (SocketKind::Xpub, xsub.clone()),
                (SocketKind::Xsub, xpub.clone())
            ]
        );
        assert!(matches!(
            node.wait_ready(Duration::from_millis(1)).await,
            Err(ZmqError::Handshake(_))
        ));
    });
}

#[test]
fn a_wrong_server_key_is_a_warning_and_the_node_keeps_trying() {
    let keys = CurveKeys::generate().unwrap();
    let proxy = proxy_with(Some(keys.clone()));
    let mut wrong_server = keys.clone();
    wrong_server.server_public = CurveKeys::generate().unwrap().server_public;
    let ep = endpoint();
    ep.block_on(async {
        let mut errors = ep.status_subscriber(false).await.unwrap();
        let node = join_with(
            &ep,
            proxy.xsub_endpoint(),
            proxy.xpub_endpoint(),
            Some(wrong_server),
        )
        .await;
        // The server cannot read our hello and hangs up; libzmq redials.
        let error = next_error(&mut errors).await;
        assert_eq!(error.code, ErrorCode::PeerUnavailable);
        assert!(
            error.message.contains("wrong server public key?"),
            "{error:?}"
        );
        assert!(matches!(
            node.wait_ready(Duration::from_millis(500)).await,
            Err(ZmqError::Timeout)
        ));
        assert_eq!(node.handshake_failure(), None);
        // Reported once per socket, counted every time.
        let deadline = Instant::now() + WAIT;
        while node.stats().handshakes_failed < 4 {
            assert!(Instant::now() < deadline, "libzmq stopped redialing");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut reported = 1;
        while let Some(StatusEvent::Error(_)) =
            errors.recv_timeout(Duration::from_millis(300)).await
        {
            reported += 1;
        }
        assert!(reported <= 2, "{reported} reports");
    });
}

#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[broker(name = "Test::Info")]
#[log(stream = "Test::LOG", path = "test")]
struct TestInfo {
    ts: Timestamp,
    msg: String,
}

#[test]
fn a_log_pusher_with_a_wrong_client_key_reports_it() {
    let keys = CurveKeys::generate().unwrap();
    let (sender, receiver) = (endpoint(), endpoint());
    sender.block_on(async {
        let mut errors = sender.status_subscriber(false).await.unwrap();
        let mut options = LoggerOptions::new("tcp://127.0.0.1:0");
        options.curve = Some(keys.clone());
        let pull = receiver.zeromq_logger(options).await.unwrap();
        let mut bad = LogPusherOptions::new(vec![pull.endpoint().to_owned()], "intruder");
        bad.curve = Some(wrong_client(&keys));
        let start = Instant::now();
        let pusher = sender.zeromq_log_pusher(bad).await.unwrap();
        let error = next_error(&mut errors).await;
        assert!(start.elapsed() < PROMPT);
        assert_eq!(error.code, ErrorCode::PeerUnavailable);
        assert_eq!(
            error.message,
            format!(
                "CURVE handshake of the PUSH with {} failed: authentication refused \
                 (ZAP status 400: wrong client key?)",
                pull.endpoint()
            )
        );
        assert_eq!(
            pusher.handshake_failure(),
            Some(HandshakeFailure::new(
                SocketKind::Push,
                pull.endpoint(),
                HandshakeCause::AuthRefused { status: 400 },
                true
            ))
        );
        // Still usable: records it cannot ship are written, and dropped
        // later by the socket's high-water mark as before.
        let logger = Logger::new(&sender).await.unwrap();
        logger
            .stream::<TestInfo>()
            .unwrap()
            .write(&TestInfo {
                ts: Timestamp::from_nanos(0),
                msg: "lost".into(),
            })
            .await
            .unwrap();
        logger.flush_logs().await.unwrap();
    });
}
