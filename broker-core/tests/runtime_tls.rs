//! TLS between endpoints over loopback TCP: Broker's SSL test matrix, with
//! certificates generated at test time, plus a relay that checks the default
//! mode really encrypts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_core::data::Data;
use broker_core::options::{Options, UnauthenticatedTls};
use broker_core::runtime::{Endpoint, EndpointError, ErrorEvent, StatusEvent};
use broker_core::status::ErrorCode;
use broker_core::tls::TlsError;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a rejection may take: failures must be prompt, not timeouts.
const PROMPT: Duration = Duration::from_secs(5);
const WAIT: Duration = Duration::from_secs(10);

// ---- files and certificates -------------------------------------------------

/// A directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "broker-tls-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` and its key (PKCS#8 PEM).
    fn leaf(&self, names: &[&str]) -> (String, KeyPair) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "peer");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key)
    }
}

/// `key` as an encrypted PKCS#8 PEM (PBKDF2-SHA256, 2048 rounds, AES-256-CBC,
/// as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes).
fn encrypted_pem(key: &KeyPair, passphrase: &str) -> String {
    let der = key.serialize_der();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
    let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
        2048,
        b"0123456789abcdef",
        [7u8; 16],
    )
    .unwrap();
    let doc = info.encrypt_with_params(params, passphrase).unwrap();
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

const NAMES: &[&str] = &["localhost", "127.0.0.1"];

// ---- endpoints ----------------------------------------------------------------

fn base() -> Options {
    Options {
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    }
}

fn plain() -> Options {
    Options {
        disable_ssl: true,
        ..base()
    }
}

/// Authenticated options with a certificate signed by `ca`, written to `dir`
/// under `name`.
fn signed_by(dir: &TempDir, name: &str, ca: &Ca) -> Options {
    let (cert, key) = ca.leaf(NAMES);
    Options {
        ssl_certificate: dir.write(&format!("{name}.pem"), &cert),
        ssl_keyfile: dir.write(&format!("{name}.key"), &key.serialize_pem()),
        ssl_cafile: dir.write(&format!("{name}-ca.pem"), &ca.pem),
        ..base()
    }
}

/// Authenticated options with a self-signed certificate that is also the CA.
fn self_signed(dir: &TempDir, name: &str) -> Options {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.write(&format!("{name}.pem"), &generated.cert.pem());
    Options {
        ssl_certificate: cert.clone(),
        ssl_keyfile: dir.write(
            &format!("{name}.key"),
            &generated.signing_key.serialize_pem(),
        ),
        ssl_cafile: cert,
        ..base()
    }
}

/// Peers a client with a listening server; both endpoints and the result.
async fn try_peer(
    server: Options,
    client: Options,
) -> (Endpoint, Endpoint, Result<(), EndpointError>) {
    let server = Endpoint::new(server).unwrap();
    let client = Endpoint::new(client).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let result = tokio::time::timeout(
        WAIT,
        client.peer_and_wait("127.0.0.1", port, Duration::ZERO),
    )
    .await
    .expect("peering finished in time");
    let result = match result {
        Ok(_) => server.await_peer(client.node_id(), WAIT).await,
        Err(e) => Err(e),
    };
    (server, client, result)
}

/// Peers, then checks that a message goes through.
async fn assert_peers_and_delivers(server: Options, client: Options) {
    let (server, client, result) = try_peer(server, client).await;
    result.unwrap();
    let mut sub = server.subscribe(["/tls"]).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !client
        .peer_subscriptions()
        .await
        .unwrap()
        .iter()
        .any(|t| t.as_str() == "/tls")
    {
        assert!(Instant::now() < deadline, "subscription never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.publish("/tls/x", Data::from("hello")).await.unwrap();
    let msg = sub.recv_timeout(WAIT).await.expect("the message arrives");
    assert_eq!(msg.topic.as_str(), "/tls/x");
    assert_eq!(msg.data, Data::from("hello"));
}

/// The next error event, at most `PROMPT` away.
async fn next_error(sub: &mut broker_core::runtime::StatusSubscriber) -> Option<ErrorEvent> {
    let deadline = tokio::time::Instant::now() + PROMPT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match sub.recv_timeout(left).await? {
            StatusEvent::Error(e) => return Some(e),
            StatusEvent::Status(_) => {}
        }
    }
}

/// Peering `client` with `server` fails promptly on both sides, and nobody
/// ends up peered. Returns the client's error code and message. When
/// `server_reports`, the server must raise an error event too.
async fn assert_rejected(
    server: Options,
    client: Options,
    server_reports: bool,
) -> (ErrorCode, String) {
    let server = Endpoint::new(server).unwrap();
    let mut server_errors = server.status_subscriber(false).await.unwrap();
    let client = Endpoint::new(client).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        PROMPT,
        client.peer_and_wait("127.0.0.1", port, Duration::ZERO),
    )
    .await
    .expect("the rejection is prompt");
    let (code, message) = match result {
        Err(EndpointError::Peer { code, message, .. }) => (code, message),
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert!(started.elapsed() < PROMPT);
    if server_reports {
        let event = next_error(&mut server_errors)
            .await
            .expect("the server reports the failed inbound handshake");
        assert_eq!(event.code, ErrorCode::PeerUnavailable, "{event:?}");
        assert!(
            event.message.starts_with("TLS handshake failed: "),
            "{event:?}"
        );
        let network = event.endpoint.network.expect("the remote address");
        assert_eq!(network.address, "127.0.0.1");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.peers().await.unwrap().is_empty());
    assert!(client.peers().await.unwrap().is_empty());
    (code, message)
}

/// A rejection between two TLS endpoints: both sides name the TLS failure.
async fn assert_tls_rejected(server: Options, client: Options) -> String {
    let (code, message) = assert_rejected(server, client, true).await;
    assert_eq!(code, ErrorCode::PeerUnavailable, "{message}");
    assert!(message.starts_with("TLS handshake failed: "), "{message}");
    message
}

// ---- the matrix -----------------------------------------------------------------

#[tokio::test]
async fn both_ca_signed_peer_and_deliver() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    assert_peers_and_delivers(
        signed_by(&dir, "server", &ca),
        signed_by(&dir, "client", &ca),
    )
    .await;
}

#[tokio::test]
async fn encrypted_keys_with_passphrases_peer() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let ca_file = dir.write("ca.pem", &ca.pem);
    let mut sides = Vec::new();
    for (name, pass) in [("server", "server secret"), ("client", "client secret")] {
        let (cert, key) = ca.leaf(NAMES);
        sides.push(Options {
            ssl_certificate: dir.write(&format!("{name}.pem"), &cert),
            ssl_keyfile: dir.write(&format!("{name}.key"), &encrypted_pem(&key, pass)),
            ssl_passphrase: pass.into(),
            ssl_cafile: ca_file.clone(),
            ..base()
        });
    }
    let client = sides.pop().unwrap();
    let server = sides.pop().unwrap();
    assert_peers_and_delivers(server, client).await;
}

#[tokio::test]
async fn self_signed_certificate_as_its_own_ca_on_both_sides_peers() {
    let dir = TempDir::new();
    let options = self_signed(&dir, "shared");
    assert_peers_and_delivers(options.clone(), options).await;
}

#[tokio::test]
async fn ca_directory_instead_of_ca_file_peers() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let cadir = TempDir::new();
    cadir.write("ca.pem", &ca.pem);
    cadir.write("README", "not a certificate");
    let with_dir = |o: Options| Options {
        ssl_cafile: String::new(),
        ssl_capath: cadir.0.display().to_string(),
        ..o
    };
    assert_peers_and_delivers(
        with_dir(signed_by(&dir, "server", &ca)),
        with_dir(signed_by(&dir, "client", &ca)),
    )
    .await;
}

#[tokio::test]
async fn default_mode_peers_and_delivers() {
    assert_peers_and_delivers(base(), base()).await;
}

#[tokio::test]
async fn ca_signed_server_rejects_self_signed_client() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let message =
        assert_tls_rejected(signed_by(&dir, "server", &ca), self_signed(&dir, "client")).await;
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[tokio::test]
async fn self_signed_server_rejects_ca_signed_client() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let message =
        assert_tls_rejected(self_signed(&dir, "server"), signed_by(&dir, "client", &ca)).await;
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[tokio::test]
async fn different_cas_reject_each_other() {
    let dir = TempDir::new();
    let (ours, theirs) = (Ca::new("our CA"), Ca::new("their CA"));
    assert_tls_rejected(
        signed_by(&dir, "server", &ours),
        signed_by(&dir, "client", &theirs),
    )
    .await;
}

#[tokio::test]
async fn authenticated_server_rejects_default_client() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    // TLS 1.3: the client learns of the rejection after its side of the
    // handshake completed, from the server's alert.
    assert_tls_rejected(signed_by(&dir, "server", &ca), base()).await;
}

#[tokio::test]
async fn default_server_rejected_by_authenticated_client() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let message = assert_tls_rejected(base(), signed_by(&dir, "client", &ca)).await;
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[tokio::test]
async fn tls_client_and_plain_server_fail_promptly() {
    let (code, message) = assert_rejected(plain(), base(), false).await;
    assert_eq!(code, ErrorCode::PeerUnavailable, "{message}");
    assert!(message.starts_with("TLS handshake failed: "), "{message}");
    assert!(message.contains("SSL disabled on the peer"), "{message}");
}

#[tokio::test]
async fn plain_client_and_tls_server_fail_promptly() {
    // The plain side cannot know the other speaks TLS; it only sees the
    // connection fail during the handshake (and guess why).
    let (_, message) = assert_rejected(base(), plain(), true).await;
    assert!(message.contains("seems to speak TLS"), "{message}");
}

#[tokio::test]
async fn strict_host_name_check_is_optional() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    // A certificate for another name: fine as in Broker ...
    let other_name = |name: &str| {
        let (cert, key) = ca.leaf(&["elsewhere.invalid"]);
        Options {
            ssl_certificate: dir.write(&format!("{name}.pem"), &cert),
            ssl_keyfile: dir.write(&format!("{name}.key"), &key.serialize_pem()),
            ssl_cafile: dir.write("ca.pem", &ca.pem),
            ..base()
        }
    };
    assert_peers_and_delivers(other_name("s1"), other_name("c1")).await;
    // ... but not with ssl_verify_hostname.
    let strict = Options {
        ssl_verify_hostname: true,
        ..other_name("c2")
    };
    let message = assert_tls_rejected(other_name("s2"), strict).await;
    assert!(message.contains("not valid for name"), "{message}");
    // A certificate that names 127.0.0.1 passes the strict check.
    let strict = Options {
        ssl_verify_hostname: true,
        ..signed_by(&dir, "c3", &ca)
    };
    assert_peers_and_delivers(signed_by(&dir, "s3", &ca), strict).await;
}

#[tokio::test]
async fn rejected_tls_peering_is_retried_at_the_retry_interval() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let server = Endpoint::new(signed_by(&dir, "server", &ca)).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let client = Endpoint::new(base()).unwrap();
    let mut errors = client.status_subscriber(false).await.unwrap();
    client
        .peer("127.0.0.1", port, Duration::from_millis(200))
        .await
        .unwrap();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Some(event) = errors
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        let StatusEvent::Error(e) = event else {
            continue;
        };
        assert_eq!(e.code, ErrorCode::PeerUnavailable, "{e:?}");
        assert!(e.message.starts_with("TLS handshake failed"), "{e:?}");
        seen += 1;
    }
    // About one attempt per 200 ms: retried, and not spinning.
    assert!((2..=8).contains(&seen), "{seen} failed attempts in 1 s");
    assert!(
        client
            .peers()
            .await
            .unwrap()
            .iter()
            .all(|p| p.peer.id.is_none())
    );
}

#[tokio::test]
async fn silent_peers_hit_the_tls_handshake_timeout() {
    let quick = Options {
        handshake_timeout: Duration::from_millis(300),
        ..base()
    };
    // Outbound: a server that accepts TCP and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let client = Endpoint::new(quick.clone()).unwrap();
    let err = tokio::time::timeout(
        PROMPT,
        client.peer_and_wait("127.0.0.1", port, Duration::ZERO),
    )
    .await
    .expect("prompt")
    .unwrap_err();
    let EndpointError::Peer { code, message, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(code, ErrorCode::PeerUnavailable);
    assert!(message.contains("timed out"), "{message}");

    // Inbound: a client that connects and says nothing.
    let server = Endpoint::new(quick).unwrap();
    let mut errors = server.status_subscriber(false).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let _mute = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let event = next_error(&mut errors).await.expect("an error event");
    assert!(event.message.contains("timed out"), "{event:?}");
}

// ---- configuration errors ----------------------------------------------------------

fn build_error(options: Options) -> TlsError {
    match Endpoint::new(options) {
        Err(EndpointError::Tls(e)) => e,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn wrong_passphrase_is_a_typed_error_naming_the_file() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let (cert, key) = ca.leaf(NAMES);
    let keyfile = dir.write("enc.key", &encrypted_pem(&key, "right"));
    let options = Options {
        ssl_certificate: dir.write("cert.pem", &cert),
        ssl_keyfile: keyfile.clone(),
        ssl_passphrase: "wrong".into(),
        ssl_cafile: dir.write("ca.pem", &ca.pem),
        ..base()
    };
    let err = build_error(options.clone());
    assert!(
        matches!(&err, TlsError::WrongPassphrase { path } if path == Path::new(&keyfile)),
        "{err:?}"
    );
    assert!(err.to_string().contains(&keyfile), "{err}");
    // No passphrase at all.
    let err = build_error(Options {
        ssl_passphrase: String::new(),
        ..options
    });
    assert!(matches!(err, TlsError::MissingPassphrase { .. }), "{err:?}");
}

#[test]
fn missing_key_file_is_a_typed_error_naming_the_file() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let missing = dir.path("missing.key");
    let options = Options {
        ssl_keyfile: missing.clone(),
        ..signed_by(&dir, "x", &ca)
    };
    let err = build_error(options);
    assert!(
        matches!(&err, TlsError::Read { path, .. } if path == Path::new(&missing)),
        "{err:?}"
    );
    assert!(err.to_string().contains(&missing), "{err}");
}

#[test]
fn other_configuration_errors_are_typed() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let good = signed_by(&dir, "good", &ca);
    // A key that is not the certificate's.
    let other_key = dir.write("other.key", &KeyPair::generate().unwrap().serialize_pem());
    let err = build_error(Options {
        ssl_keyfile: other_key,
        ..good.clone()
    });
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    // A key file without a key.
    let err = build_error(Options {
        ssl_keyfile: good.ssl_certificate.clone(),
        ..good.clone()
    });
    assert!(matches!(err, TlsError::InvalidKey { .. }), "{err:?}");
    // A certificate file without a certificate.
    let err = build_error(Options {
        ssl_certificate: good.ssl_keyfile.clone(),
        ..good.clone()
    });
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    // An empty CA directory.
    let empty = TempDir::new();
    let err = build_error(Options {
        ssl_cafile: String::new(),
        ssl_capath: empty.0.display().to_string(),
        ..good.clone()
    });
    assert!(matches!(err, TlsError::EmptyCaDir { .. }), "{err:?}");
    // A CA but no certificate.
    let err = build_error(Options {
        ssl_certificate: String::new(),
        ssl_keyfile: String::new(),
        ..good
    });
    assert!(matches!(err, TlsError::MissingOption { .. }), "{err:?}");
}

// ---- is it really encrypted? --------------------------------------------------------

/// The bytes a relay saw, per direction.
#[derive(Default)]
struct Captured {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

impl Captured {
    fn both(&self) -> Vec<u8> {
        [self.to_server.as_slice(), self.to_client.as_slice()].concat()
    }
}

/// Relays one connection to `target`, recording every byte both ways.
async fn recording_relay(target: u16) -> (u16, Arc<Mutex<Captured>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Captured::default()));
    let record = seen.clone();
    tokio::spawn(async move {
        let (inbound, _) = listener.accept().await.unwrap();
        let outbound = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
        let (in_rd, in_wr) = inbound.into_split();
        let (out_rd, out_wr) = outbound.into_split();
        let copy = |mut from: tokio::net::tcp::OwnedReadHalf,
                    mut to: tokio::net::tcp::OwnedWriteHalf,
                    record: Arc<Mutex<Captured>>,
                    upstream: bool| async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match from.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        {
                            let mut seen = record.lock().unwrap();
                            let side = if upstream {
                                &mut seen.to_server
                            } else {
                                &mut seen.to_client
                            };
                            side.extend_from_slice(&buf[..n]);
                        }
                        if to.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown().await;
        };
        let up = tokio::spawn(copy(in_rd, out_wr, record.clone(), true));
        let down = tokio::spawn(copy(out_rd, in_wr, record, false));
        let _ = tokio::join!(up, down);
    });
    (port, seen)
}

/// Sends a message from a `client` endpoint to a `server` endpoint through a
/// recording relay; returns the bytes seen.
async fn captured_exchange(server: Options, client: Options) -> Captured {
    const TOPIC: &str = "/secret/topic-xyzzy";
    const PAYLOAD: &str = "payload-plugh-4711";
    let server = Endpoint::new(server).unwrap();
    let mut sub = server.subscribe([TOPIC]).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let (relay, seen) = recording_relay(port).await;
    let client = Endpoint::new(client).unwrap();
    client
        .peer_and_wait("127.0.0.1", relay, Duration::ZERO)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while client.peer_subscriptions().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "subscription never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .publish(format!("{TOPIC}/x"), Data::from(PAYLOAD))
        .await
        .unwrap();
    let msg = sub.recv_timeout(WAIT).await.expect("delivered");
    assert_eq!(msg.data, Data::from(PAYLOAD));
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!seen.to_server.is_empty() && !seen.to_client.is_empty());
    seen
}

/// The server's first flight, read off the wire: the negotiated version and
/// cipher suite (from the ServerHello), and the types of the plaintext
/// handshake messages that follow it in the same records.
#[derive(Debug)]
struct ServerFlight {
    version: u16,
    cipher_suite: u16,
    messages: Vec<u8>,
    /// The ServerHello's extension types.
    extensions: Vec<u16>,
}

fn server_flight(bytes: &[u8]) -> ServerFlight {
    // Handshake records (type 22) until the first record of another type.
    let mut handshake = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() && bytes[at] == 0x16 {
        let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        handshake.extend_from_slice(&bytes[at + 5..at + 5 + len]);
        at += 5 + len;
    }
    let mut messages = Vec::new();
    let mut at = 0;
    while at + 4 <= handshake.len() {
        messages.push(handshake[at]);
        let len = u32::from_be_bytes([0, handshake[at + 1], handshake[at + 2], handshake[at + 3]]);
        at += 4 + len as usize;
    }
    assert_eq!(messages.first(), Some(&2), "a ServerHello first");
    let hello_len = u32::from_be_bytes([0, handshake[1], handshake[2], handshake[3]]) as usize;
    let hello = &handshake[4..4 + hello_len];
    let session_id = usize::from(hello[34]);
    let suite_at = 35 + session_id;
    let mut version = u16::from_be_bytes([hello[0], hello[1]]);
    // TLS 1.3 says so in the supported_versions extension (43).
    let mut ext = suite_at + 3 + 2;
    let mut extensions = Vec::new();
    while ext + 4 <= hello.len() {
        let kind = u16::from_be_bytes([hello[ext], hello[ext + 1]]);
        extensions.push(kind);
        let len = usize::from(u16::from_be_bytes([hello[ext + 2], hello[ext + 3]]));
        if kind == 43 && len == 2 {
            version = u16::from_be_bytes([hello[ext + 4], hello[ext + 5]]);
        }
        ext += 4 + len;
    }
    ServerFlight {
        version,
        cipher_suite: u16::from_be_bytes([hello[suite_at], hello[suite_at + 1]]),
        messages,
        extensions,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn assert_encrypted(seen: &Captured) {
    let bytes = seen.both();
    assert!(!contains(&bytes, "topic-xyzzy"));
    assert!(!contains(&bytes, "payload-plugh"));
}

#[tokio::test]
async fn default_mode_is_really_encrypted() {
    assert_encrypted(&captured_exchange(base(), base()).await);
}

#[tokio::test]
async fn plain_mode_is_readable_on_the_wire() {
    // The control for the tests above: the relay does see plain text.
    let bytes = captured_exchange(plain(), plain()).await.both();
    assert!(contains(&bytes, "topic-xyzzy"));
    assert!(contains(&bytes, "payload-plugh"));
}

#[tokio::test]
async fn ephemeral_certificates_mode_is_really_encrypted() {
    let seen = captured_exchange(ephemeral(), ephemeral()).await;
    assert_encrypted(&seen);
    // TLS 1.3: after the ServerHello everything, certificates included, is
    // encrypted.
    let flight = server_flight(&seen.to_client);
    assert_eq!(flight.version, 0x0304, "{flight:?}");
    assert!(
        (0x1301..=0x1303).contains(&flight.cipher_suite),
        "{flight:?}"
    );
    assert_eq!(flight.messages, [2], "{flight:?}");
    // An ephemeral (EC)DHE key share in the ServerHello itself.
    assert!(flight.extensions.contains(&51), "{flight:?}");
}

// ---- Broker's anonymous TLS (OpenSSL) ---------------------------------------------

/// The default mode on rustls, as in a build without the `openssl` feature.
fn ephemeral() -> Options {
    Options {
        unauthenticated_tls: UnauthenticatedTls::EphemeralCertificates,
        ..base()
    }
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn two_default_endpoints_agree_on_anonymous_aes_gcm() {
    assert_eq!(
        Options::default().unauthenticated_tls,
        UnauthenticatedTls::Anonymous
    );
    let seen = captured_exchange(base(), base()).await;
    assert_encrypted(&seen);
    let flight = server_flight(&seen.to_client);
    // TLS 1.2, TLS_DH_anon_WITH_AES_256_GCM_SHA384 (our client offers it
    // before Broker's suite), and a first flight of ServerHello,
    // ServerKeyExchange, ServerHelloDone: no Certificate (11) and no
    // CertificateRequest (13).
    assert_eq!(flight.version, 0x0303, "{flight:?}");
    assert_eq!(flight.cipher_suite, 0x00A7, "{flight:?}");
    assert_eq!(flight.messages[..3], [2, 12, 14], "{flight:?}");
}

/// The handshake of a client configured as Broker configures its default
/// mode (only `AECDH-AES256-SHA`, curve P-384, no verification) with the
/// listener at `port`; returns the negotiated suite's name.
#[cfg(feature = "openssl")]
async fn broker_like_handshake(port: u16) -> String {
    use openssl::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode, SslVersion};
    use std::pin::Pin;
    let mut context = SslContext::builder(SslMethod::tls_client()).unwrap();
    context
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .unwrap();
    context.set_verify(SslVerifyMode::NONE);
    context.set_groups_list("P-384").unwrap();
    context
        .set_cipher_list("AECDH-AES256-SHA@SECLEVEL=0")
        .unwrap();
    let ssl = Ssl::new(&context.build()).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
    tokio::time::timeout(WAIT, Pin::new(&mut tls).connect())
        .await
        .expect("handshake in time")
        .expect("handshake");
    tls.ssl().current_cipher().unwrap().name().to_owned()
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn a_broker_like_client_gets_brokers_anonymous_suite_on_the_wire() {
    let server = Endpoint::new(base()).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let (relay, seen) = recording_relay(port).await;
    assert_eq!(broker_like_handshake(relay).await, "AECDH-AES256-SHA");
    let flight = server_flight(&seen.lock().unwrap().to_client);
    // TLS 1.2, TLS_ECDH_anon_WITH_AES_256_CBC_SHA, the same first flight.
    assert_eq!(flight.version, 0x0303, "{flight:?}");
    assert_eq!(flight.cipher_suite, 0xC019, "{flight:?}");
    assert_eq!(flight.messages[..3], [2, 12, 14], "{flight:?}");
    // No encrypt_then_mac (22): MAC-then-encrypt lets OpenSSL use its
    // stitched AES-CBC-HMAC-SHA1 (see security.md).
    assert!(!flight.extensions.contains(&22), "{flight:?}");
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn anonymous_client_peers_with_an_ephemeral_certificates_server() {
    // rustls serves: TLS 1.3, where the OpenSSL client presents the
    // endpoint's ephemeral certificate when asked.
    assert_peers_and_delivers(ephemeral(), base()).await;
    let seen = captured_exchange(ephemeral(), base()).await;
    assert_encrypted(&seen);
    let flight = server_flight(&seen.to_client);
    assert_eq!(flight.version, 0x0304, "{flight:?}");
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn ephemeral_certificates_client_peers_with_an_anonymous_server() {
    // The listener sees no anonymous suite in the ClientHello and hands the
    // connection to rustls.
    assert_peers_and_delivers(base(), ephemeral()).await;
    let seen = captured_exchange(base(), ephemeral()).await;
    assert_encrypted(&seen);
    let flight = server_flight(&seen.to_client);
    assert_eq!(flight.version, 0x0304, "{flight:?}");
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn authenticated_client_and_anonymous_server_reject_each_other() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let message = assert_tls_rejected(base(), signed_by(&dir, "client", &ca)).await;
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[cfg(feature = "openssl")]
#[tokio::test]
async fn anonymous_client_and_authenticated_server_reject_each_other() {
    let dir = TempDir::new();
    let ca = Ca::new("test CA");
    let message = assert_tls_rejected(signed_by(&dir, "server", &ca), base()).await;
    assert!(message.contains("authentication"), "{message}");
}

#[cfg(not(feature = "openssl"))]
#[test]
fn anonymous_tls_needs_the_openssl_feature() {
    let options = Options {
        unauthenticated_tls: UnauthenticatedTls::Anonymous,
        ..base()
    };
    assert!(matches!(
        build_error(options),
        TlsError::AnonymousUnavailable
    ));
}
