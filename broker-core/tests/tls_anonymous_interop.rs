//! Broker's anonymous TLS against an independent TLS stack: Python's `ssl`
//! module (OpenSSL) configured as Broker configures its default mode
//! (`AECDH-AES256-SHA@SECLEVEL=0`, P-384, no certificate), running Broker's
//! peering handshake and exchanging one data message each way, in both
//! directions (Python dials us, we dial Python) and both handshake roles
//! (the smaller endpoint id is the originator).
//!
//! Needs Python (see `tests/interop/mod.rs` for how it is found).
#![cfg(feature = "openssl")]

mod interop;

use std::time::Duration;

use broker_core::data::Data;
use broker_core::options::{Options, UnauthenticatedTls};
use broker_core::proto::EndpointId;
use broker_core::runtime::{Endpoint, EndpointError, Subscriber};
use broker_core::status::ErrorCode;
use interop::{Script, WAIT};

/// Smaller than any random (version 4) id: Python is the originator.
const SMALL_ID: &str = "00000000000000000000000000000001";
/// Larger than any random id: we are the originator.
const LARGE_ID: &str = "ffffffffffffffffffffffffffffff01";
const SCRIPT: &str = "broker_anonymous_tls.py";

fn python() -> Option<std::path::PathBuf> {
    interop::python(&["ssl"])
}

fn endpoint(unauthenticated_tls: UnauthenticatedTls) -> Endpoint {
    Endpoint::new(Options {
        default_listen_retry: Duration::ZERO,
        unauthenticated_tls,
        ..Options::default()
    })
    .expect("an endpoint in the default mode")
}

/// Checks what Python saw of TLS: Broker's anonymous suite on TLS 1.2, no
/// certificate from us.
fn check_anonymous_tls(side: &Script) {
    let tls = side.next("tls");
    assert_eq!(tls["version"], "TLSv1.2", "{tls}");
    assert_eq!(tls["cipher"], "AECDH-AES256-SHA", "{tls}");
    assert_eq!(tls["peer_certificate"], false, "{tls}");
}

/// After the handshake: the peering exists on our side under Python's id, a
/// message from Python arrives, and ours reaches Python.
async fn exchange(ours: &Endpoint, sub: &mut Subscriber, side: &Script, python_id: &str) {
    let peered = side.next("peered");
    assert_eq!(
        peered.as_str(),
        Some(hex(ours.node_id().as_bytes()).as_str())
    );
    let id = EndpointId::from_bytes(hex_to_bytes(python_id).try_into().expect("16 bytes"));
    ours.await_peer(id, WAIT).await.expect("peered with python");
    let msg = sub.recv_timeout(WAIT).await.expect("python's message");
    assert_eq!(msg.topic.as_str(), "/rust/from-python");
    assert_eq!(msg.data, Data::from("hello from python"));
    ours.publish("/python/from-rust", Data::from("hello from rust"))
        .await
        .unwrap();
    let received = side.next("received");
    assert_eq!(received["topic"], "/python/from-rust");
    assert_eq!(received["text"], "hello from rust");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_to_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

async fn python_dials_us(python_id: &str, extra: &[&str]) {
    let Some(python) = python() else { return };
    let ours = endpoint(UnauthenticatedTls::Anonymous);
    // Subscribed before Python can peer: it sends right after the handshake.
    let mut sub = ours.subscribe(["/rust"]).await.unwrap();
    let port = ours.listen("127.0.0.1", 0).await.unwrap().to_string();
    let mut args = vec!["connect", "--port", &port, "--id", python_id];
    args.extend(extra);
    let side = Script::spawn(&python, SCRIPT, &args);
    check_anonymous_tls(&side);
    exchange(&ours, &mut sub, &side, python_id).await;
    ours.shutdown().await.unwrap();
    assert_eq!(side.next("done"), true);
    side.finish();
}

async fn we_dial_python(python_id: &str, extra: &[&str]) {
    let Some(python) = python() else { return };
    let mut args = vec!["listen", "--id", python_id];
    args.extend(extra);
    let side = Script::spawn(&python, SCRIPT, &args);
    let port = side.next("port").as_u64().expect("a port");
    let ours = endpoint(UnauthenticatedTls::Anonymous);
    // Subscribed before Python can peer: it sends right after the handshake.
    let mut sub = ours.subscribe(["/rust"]).await.unwrap();
    ours.peer("127.0.0.1", u16::try_from(port).unwrap(), Duration::ZERO)
        .await
        .unwrap();
    check_anonymous_tls(&side);
    exchange(&ours, &mut sub, &side, python_id).await;
    ours.shutdown().await.unwrap();
    assert_eq!(side.next("done"), true);
    side.finish();
}

#[tokio::test]
async fn broker_like_client_peers_with_us_as_originator() {
    python_dials_us(SMALL_ID, &["--tls12-only"]).await;
}

#[tokio::test]
async fn broker_like_client_peers_with_us_as_responder() {
    python_dials_us(LARGE_ID, &["--tls12-only"]).await;
}

#[tokio::test]
async fn broker_like_client_offering_tls13_too_still_gets_anonymous_tls12() {
    // Broker's own client context has no maximum version, so it offers TLS
    // 1.3 as well; the anonymous suite must still win.
    python_dials_us(SMALL_ID, &[]).await;
}

#[tokio::test]
async fn we_peer_with_a_broker_like_listener_as_responder() {
    we_dial_python(SMALL_ID, &["--tls12-only"]).await;
}

#[tokio::test]
async fn we_peer_with_a_broker_like_listener_as_originator() {
    we_dial_python(LARGE_ID, &["--tls12-only"]).await;
}

#[tokio::test]
async fn we_peer_with_a_broker_like_listener_without_a_maximum_version() {
    we_dial_python(LARGE_ID, &[]).await;
}

#[tokio::test]
async fn broker_like_client_reaches_an_ephemeral_certificates_endpoint_over_tls13() {
    // Without Broker's anonymous TLS (a build without OpenSSL), a Broker
    // client still gets in: it offers TLS 1.3 too, rustls picks it, asks for
    // a client certificate without insisting, and the client does not check
    // ours. (Dialing a Broker listener is what such a build cannot do.)
    let Some(python) = python() else { return };
    let ours = endpoint(UnauthenticatedTls::EphemeralCertificates);
    let mut sub = ours.subscribe(["/rust"]).await.unwrap();
    let port = ours.listen("127.0.0.1", 0).await.unwrap().to_string();
    let side = Script::spawn(
        &python,
        SCRIPT,
        &["connect", "--port", &port, "--id", SMALL_ID],
    );
    let tls = side.next("tls");
    assert_eq!(tls["version"], "TLSv1.3", "{tls}");
    assert_eq!(tls["peer_certificate"], true, "{tls}");
    exchange(&ours, &mut sub, &side, SMALL_ID).await;
    ours.shutdown().await.unwrap();
    assert_eq!(side.next("done"), true);
    side.finish();
}

#[tokio::test]
async fn ephemeral_certificates_endpoint_dialing_a_broker_like_listener_fails_promptly() {
    let Some(python) = python() else { return };
    let side = Script::spawn(&python, SCRIPT, &["listen", "--id", SMALL_ID]);
    let port = side.next("port").as_u64().expect("a port");
    let ours = endpoint(UnauthenticatedTls::EphemeralCertificates);
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        WAIT,
        ours.peer_and_wait("127.0.0.1", u16::try_from(port).unwrap(), Duration::ZERO),
    )
    .await
    .expect("the failure is prompt");
    match result {
        Err(EndpointError::Peer { code, message, .. }) => {
            assert_eq!(code, ErrorCode::PeerUnavailable, "{message}");
            assert!(
                message.starts_with("TLS handshake failed: received fatal alert: HandshakeFailure"),
                "{message}"
            );
            assert!(message.contains("Broker's anonymous TLS"), "{message}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}
