//! Interop with real libzmq peers driven from Python (pyzmq, as `.ci/run`
//! installs it in a virtualenv): a pyzmq proxy (Zeek's configuration) with a
//! broker-rs node, a broker-rs proxy between two pyzmq nodes, and a
//! broker-rs logger fed by a pyzmq PUSH socket, each plain and with CURVE.
//!
//! The tests need a Python with pyzmq (`BROKER_TEST_PYTHON`; see
//! `tests/interop/mod.rs`); without one they print "skipped: ..." and pass,
//! unless `BROKER_REQUIRE_INTEROP` is set, as in CI.

#![cfg(feature = "zeromq")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use broker_core::data::{Data, bin};
use broker_core::logs::TypedLogSubscriber;
use broker_core::prelude::{Context, event, handler};
use broker_core::zeek::{Event, Message};
use broker_core::zeromq::{
    ClusterEvent, CurveKeys, HandshakeCause, LoggerOptions, NodeOptions, ProxyOptions, ZmqError,
    ZmqProxy,
};
use serde_json::Value;

mod interop;
mod zeromq_common;
use zeromq_common::{CaptureInfo, Color, endpoint};

const WAIT: Duration = Duration::from_secs(20);

/// The Python to run, or `None` (and a printed reason) to skip; see
/// `tests/interop/mod.rs` (`.ci/run` requires it, with pyzmq).
fn python(test: &str) -> Option<PathBuf> {
    let python = interop::python(&["zmq"]);
    if python.is_none() {
        println!("skipped: {test}");
    }
    python
}

fn testdata(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/zeek-zeromq")
        .join(file)
        .display()
        .to_string()
}

/// A Python child, killed when dropped, whose JSON lines arrive on a channel.
struct Py {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Py {
    fn spawn(python: &Path, args: &[&str], keys: Option<&CurveKeys>) -> Py {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zeromq_interop.py");
        let mut cmd = Command::new(python);
        cmd.arg(script).args(args);
        if let Some(keys) = keys {
            cmd.arg("--curve");
            let z = |k: &Option<broker_core::zeromq::CurveKey>| k.as_ref().unwrap().to_z85();
            cmd.env(
                broker_core::zeromq::ENV_SERVER_PUBLIC,
                z(&keys.server_public),
            )
            .env(
                broker_core::zeromq::ENV_SERVER_SECRET,
                z(&keys.server_secret),
            )
            .env(
                broker_core::zeromq::ENV_CLIENT_PUBLIC,
                z(&keys.client_public),
            )
            .env(
                broker_core::zeromq::ENV_CLIENT_SECRET,
                z(&keys.client_secret),
            );
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("python: {line}"),
                }
            }
        });
        Py { child, lines }
    }

    /// The next line for which `want` holds (others are skipped).
    fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) if want(&v) => return v,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        panic!("python: no {what}");
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex_frames(v: &Value) -> Vec<Vec<u8>> {
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| hex::decode(f.as_str().unwrap()).unwrap())
        .collect()
}

#[event(topic = "zeek.capture.", name = "ZmqCapture::pong")]
#[derive(Clone, Debug, PartialEq)]
struct Pong {
    seq: u64,
    msg: String,
}

static PONGS: std::sync::Mutex<Vec<(u64, String)>> = std::sync::Mutex::new(Vec::new());

#[handler]
fn on_pong(pong: Pong, _context: Context) {
    PONGS.lock().unwrap().push((pong.seq, pong.msg));
}

fn pyzmq_proxy_with_a_broker_rs_node(curve: bool) {
    let test = "pyzmq_proxy_with_a_broker_rs_node";
    let Some(python) = python(test) else { return };
    let keys = curve.then(|| CurveKeys::generate().unwrap());
    let proxy = Py::spawn(&python, &["proxy", "--seconds", "60"], keys.as_ref());
    let ready = proxy.wait_for("proxy endpoints", |v| v["role"] == "proxy");
    let (xsub, xpub) = (
        ready["xsub"].as_str().unwrap(),
        ready["xpub"].as_str().unwrap(),
    );
    let ep = endpoint();
    ep.block_on(async {
        let mut options = NodeOptions::new(xsub, xpub, "rust-1");
        options.id = Some("broker-rs_rust-1_test".into());
        options.curve = keys.clone();
        if !curve {
            ep.start_handlers().await.unwrap();
        }
        let mut inbox = ep.subscribe(["zeek.capture."]).await.unwrap();
        let node = ep.join_zeromq(options).await.unwrap();
        node.wait_ready(WAIT).await.unwrap();
        let mut events = node.cluster_events();
        let file = testdata("worker-node.jsonl");
        let zeek = Py::spawn(
            &python,
            &[
                "node",
                "--xsub",
                xsub,
                "--xpub",
                xpub,
                "--name",
                "worker-1",
                "--id",
                "zeromq_worker-1_py",
                "--subscribe",
                "zeek.rust.",
                "--print",
                "zeek.rust.",
                "--file",
                &file,
                "--send",
                "zeek-event-ZmqCapture::pong",
            ],
            keys.as_ref(),
        );
        // The hello handshake, both ways.
        let up = zeek.wait_for("node_up", |v| v["event"] == "node_up");
        assert_eq!(up["name"], "rust-1");
        assert_eq!(up["id"], "broker-rs_rust-1_test");
        assert_eq!(
            events.recv_timeout(WAIT).await,
            Some(ClusterEvent::NodeUp {
                name: "worker-1".into(),
                id: "zeromq_worker-1_py".into()
            })
        );
        // Zeek's captured pong reaches the subscriber (and the handler).
        let msg = inbox.recv_timeout(WAIT).await.expect("the pong");
        assert_eq!(msg.topic.as_str(), "zeek.capture.pong");
        let Ok(Message::Event(ev)) = Message::from_data(&msg.data) else {
            panic!("not an event: {:?}", msg.data);
        };
        assert_eq!(ev.args, [Data::Count(1), Data::from("valid ping")]);
        if !curve {
            let deadline = Instant::now() + WAIT;
            while PONGS.lock().unwrap().is_empty() {
                assert!(Instant::now() < deadline, "the typed handler did not run");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(PONGS.lock().unwrap()[0], (1, "valid ping".to_owned()));
        }
        // What we publish reaches the pyzmq node framed as Zeek frames it.
        let hi = Event::new("Rust::hi", vec![Data::Count(42), Data::from("x")]).into_data();
        ep.publish("zeek.rust.hi", hi.clone()).await.unwrap();
        let got = zeek.wait_for("our event", |v| v["event"] == "message");
        assert_eq!(
            hex_frames(&got),
            [
                b"zeek.rust.hi".to_vec(),
                b"broker-rs_rust-1_test".to_vec(),
                b"broker-bin-v1".to_vec(),
                bin::encode(&hi)
            ]
        );
        // The pyzmq node leaves: its id topic goes away, node_down.
        drop(zeek);
        assert_eq!(
            events.recv_timeout(WAIT).await,
            Some(ClusterEvent::NodeDown {
                name: Some("worker-1".into()),
                id: "zeromq_worker-1_py".into()
            })
        );
    });
}

#[test]
fn pyzmq_proxy_carries_a_broker_rs_node() {
    pyzmq_proxy_with_a_broker_rs_node(false);
}

#[test]
fn pyzmq_curve_proxy_carries_a_broker_rs_curve_node() {
    pyzmq_proxy_with_a_broker_rs_node(true);
}

fn broker_rs_proxy_with_two_pyzmq_nodes(curve: bool) {
    let test = "broker_rs_proxy_with_two_pyzmq_nodes";
    let Some(python) = python(test) else { return };
    let keys = curve.then(|| CurveKeys::generate().unwrap());
    let mut options = ProxyOptions::new("tcp://127.0.0.1:0", "tcp://127.0.0.1:0");
    options.curve = keys.clone();
    let proxy = ZmqProxy::start(options).unwrap();
    let (xsub, xpub) = (proxy.xsub_endpoint(), proxy.xpub_endpoint());
    let file = testdata("worker-node.jsonl");
    let a = Py::spawn(
        &python,
        &[
            "node",
            "--xsub",
            xsub,
            "--xpub",
            xpub,
            "--name",
            "worker-1",
            "--id",
            "py_a",
            "--subscribe",
            "zeek.capture.",
            "--print",
            "zeek.capture.",
        ],
        keys.as_ref(),
    );
    let b = Py::spawn(
        &python,
        &[
            "node",
            "--xsub",
            xsub,
            "--xpub",
            xpub,
            "--name",
            "worker-2",
            "--id",
            "py_b",
            "--file",
            &file,
            "--send",
            "zeek-event-ZmqCapture::pong",
        ],
        keys.as_ref(),
    );
    let up = a.wait_for("node_up", |v| v["event"] == "node_up");
    assert_eq!(up["name"], "worker-2");
    b.wait_for("node_up", |v| v["event"] == "node_up");
    // Zeek's captured frames arrive byte for byte.
    let got = a.wait_for("the pong", |v| v["event"] == "message");
    let captured = zeromq_common::capture("worker-node.jsonl", "zeek-event-ZmqCapture::pong");
    assert_eq!(hex_frames(&got), captured);
    // b leaves: our proxy produces the unsubscription of its id topic.
    drop(b);
    let down = a.wait_for("node_down", |v| v["event"] == "node_down");
    assert_eq!(down["name"], "worker-2");
    let stats = proxy.stats();
    assert!(stats.messages_forwarded >= 5, "{stats:?}");
    assert!(stats.subscriptions_forwarded >= 7, "{stats:?}");
    assert_eq!(stats.clients_refused, 0);
}

/// A broker-rs node that Zeek's proxy (pyzmq, CURVE on) cannot accept:
/// another cluster's client key, or no CURVE at all. `wait_ready` says why
/// at once (it used to run into its timeout).
#[test]
fn pyzmq_curve_proxy_refuses_broker_rs_nodes_with_a_typed_error() {
    let test = "pyzmq_curve_proxy_refuses_broker_rs_nodes_with_a_typed_error";
    let Some(python) = python(test) else { return };
    let keys = CurveKeys::generate().unwrap();
    let proxy = Py::spawn(&python, &["proxy", "--seconds", "60"], Some(&keys));
    let ready = proxy.wait_for("proxy endpoints", |v| v["role"] == "proxy");
    let (xsub, xpub) = (
        ready["xsub"].as_str().unwrap(),
        ready["xpub"].as_str().unwrap(),
    );
    let mut wrong = CurveKeys::generate().unwrap();
    wrong.server_public = keys.server_public.clone();
    let ep = endpoint();
    ep.block_on(async {
        for (curve, expected) in [
            (Some(wrong), HandshakeCause::AuthRefused { status: 400 }),
            (None, HandshakeCause::MechanismMismatch),
        ] {
            let mut options = NodeOptions::new(xsub, xpub, "rust-refused");
            options.curve = curve;
            let node = ep.join_zeromq(options).await.unwrap();
            let start = Instant::now();
            let result = node.wait_ready(WAIT).await;
            assert!(start.elapsed() < Duration::from_secs(3), "{result:?}");
            match result {
                Err(ZmqError::Handshake(failure)) => {
                    assert_eq!(failure.cause, expected);
                    assert!([xsub, xpub].contains(&failure.endpoint.as_str()));
                }
                other => panic!("{other:?}"),
            }
        }
    });
}

#[test]
fn broker_rs_proxy_carries_two_pyzmq_nodes() {
    broker_rs_proxy_with_two_pyzmq_nodes(false);
}

#[test]
fn broker_rs_curve_proxy_carries_two_pyzmq_curve_nodes() {
    broker_rs_proxy_with_two_pyzmq_nodes(true);
}

fn broker_rs_logger_with_pyzmq_push(curve: bool) {
    let test = "broker_rs_logger_with_pyzmq_push";
    let Some(python) = python(test) else { return };
    let keys = curve.then(|| CurveKeys::generate().unwrap());
    let ep = endpoint();
    ep.block_on(async {
        let mut typed = TypedLogSubscriber::<CaptureInfo>::new(&ep).await.unwrap();
        let mut options = LoggerOptions::new("tcp://127.0.0.1:0");
        options.curve = keys.clone();
        let logger = ep.zeromq_logger(options).await.unwrap();
        let file = testdata("worker-node.jsonl");
        let push = Py::spawn(
            &python,
            &[
                "push",
                "--connect",
                logger.endpoint(),
                "--file",
                &file,
                "--send",
                "zeek-log-write-ZmqCapture::LOG",
            ],
            keys.as_ref(),
        );
        push.wait_for("sent", |v| v["event"] == "sent");
        let first = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(first.uid, "CuidA1");
        assert_eq!(first.color, Color::Red);
        assert_eq!(first.nums, [1, 2, 3]);
        let second = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(second.uid, "CuidB2");
        let third = typed.recv_timeout(WAIT).await.unwrap().unwrap();
        assert_eq!(third.uid, "CuidC3");
        assert_eq!(logger.stats().records, 3);
    });
}

#[test]
fn broker_rs_logger_takes_a_batch_from_pyzmq_push() {
    broker_rs_logger_with_pyzmq_push(false);
}

#[test]
fn broker_rs_curve_logger_takes_a_batch_from_pyzmq_curve_push() {
    broker_rs_logger_with_pyzmq_push(true);
}
