//! `broker zmq-proxy` and `broker node --zeromq-*` as processes: a cluster
//! of two CLI nodes through a CLI proxy, a logger, and the flags' errors.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{LIMIT, Proc, broker, run, temp_path};
use serde_json::Value;

/// Waits until the ready file `path` has `lines` lines, and returns them.
fn ready_lines(proc: &mut Proc, path: &Path, lines: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let got: Vec<String> = text.lines().map(str::to_owned).collect();
            if got.len() >= lines {
                return got;
            }
        }
        if let Ok(Some(status)) = proc.child().try_wait() {
            panic!("exited before it was ready: {status}");
        }
        assert!(start.elapsed() < LIMIT, "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON lines of a child's stdout, read on a thread.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// The next line for which `want` holds.
fn wait_for(rx: &mpsc::Receiver<Value>, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if want(&v) => return v,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    panic!("no line: {what}");
}

/// A CLI proxy with `flags`, and its XSUB and XPUB endpoints; `name` names
/// its ready file (tests run in parallel).
fn proxy_with(name: &str, flags: &[String]) -> (Proc, String, String) {
    let ready = temp_path(&format!("{name}-ready"));
    let _ = std::fs::remove_file(&ready);
    let mut proc = Proc::spawn(
        broker()
            .args([
                "zmq-proxy",
                "--xsub",
                "tcp://127.0.0.1:0",
                "--xpub",
                "tcp://127.0.0.1:0",
            ])
            .args(flags)
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let lines = ready_lines(&mut proc, &ready, 2);
    (proc, lines[0].clone(), lines[1].clone())
}

fn proxy(name: &str) -> (Proc, String, String) {
    proxy_with(name, &[])
}

#[test]
fn two_cli_nodes_exchange_events_through_a_cli_proxy() {
    let (_proxy, xsub, xpub) = proxy("two-nodes-proxy");
    let connect = format!("{xsub},{xpub}");
    let mut receiver = Proc::spawn(
        broker()
            .args([
                "node",
                "--disable-ssl",
                "--status",
                "--subscribe",
                "zeek.demo.",
            ])
            .args([
                "--zeromq-connect",
                &connect,
                "--zeromq-node",
                "cli-receiver",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let received = lines(receiver.child().stdout.take().unwrap());
    let mut sender = Proc::spawn(
        broker()
            .args(["node", "--disable-ssl", "--status"])
            .args(["--zeromq-connect", &connect, "--zeromq-node", "cli-sender"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let sent = lines(sender.child().stdout.take().unwrap());
    // The hello handshake: each sees the other come up.
    let up = wait_for(&received, "node_up", |v| v["event"] == "node_up");
    assert_eq!(up["name"], "cli-sender");
    wait_for(&sent, "node_up", |v| v["event"] == "node_up");
    // Publish until the receiver's subscription has reached the sender.
    let mut stdin = sender.child().stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let msg = loop {
        assert!(Instant::now() < deadline, "nothing arrived");
        writeln!(
            stdin,
            r#"{{"topic":"zeek.demo.x","@data-type":"count","data":42}}"#
        )
        .unwrap();
        stdin.flush().unwrap();
        if let Ok(v) = received.recv_timeout(Duration::from_millis(200))
            && v["type"] == "data-message"
        {
            break v;
        }
    };
    assert_eq!(msg["topic"], "zeek.demo.x");
    assert_eq!(msg["data"], 42);
    // The sender leaves: the receiver sees it go down.
    drop(stdin);
    drop(sender);
    let down = wait_for(&received, "node_down", |v| v["event"] == "node_down");
    assert_eq!(down["name"], "cli-sender");
}

#[test]
fn a_cli_logger_prints_zeeks_log_rows() {
    let ready = temp_path("zmq-logger-ready");
    let _ = std::fs::remove_file(&ready);
    let mut logger = Proc::spawn(
        broker()
            .args(["node", "--disable-ssl", "--subscribe", "bro/logs/"])
            .args(["--zeromq-logger", "tcp://127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let out = lines(logger.child().stdout.take().unwrap());
    let lines = ready_lines(&mut logger, &ready, 3);
    assert_eq!(lines[0], "");
    assert!(lines[2].starts_with("tcp://127.0.0.1:"), "{lines:?}");
    // Zeek's captured batch, pushed as Zeek does.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/zeek-zeromq/worker-node.jsonl"),
    )
    .unwrap();
    let frames: Vec<Vec<u8>> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"] == "zeek-log-write-ZmqCapture::LOG")
        .unwrap()["frames_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.as_str().unwrap();
            (0..f.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect();
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(1000).unwrap();
    push.connect(&lines[2]).unwrap();
    push.send_multipart(&frames, 0).unwrap();
    let create = wait_for(&out, "the LogCreate", |v| {
        v["topic"] == "bro/logs/ZmqCapture::LOG" && v["data"][1]["data"] == 2
    });
    assert_eq!(create["type"], "data-message");
    let batch = wait_for(&out, "the LogWrites", |v| v["data"][1]["data"] == 5);
    assert_eq!(batch["data"][2]["data"].as_array().unwrap().len(), 3);
}

#[test]
fn zeromq_flag_errors_are_usage_errors() {
    // --zeromq-connect needs --zeromq-node, and a pair of endpoints.
    let out = run(&[
        "node",
        "--zeromq-connect",
        "tcp://127.0.0.1:1,tcp://127.0.0.1:2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["node", "--zeromq-connect", "tcp://x", "--zeromq-node", "n"]);
    assert_eq!(out.status.code(), Some(2));
    // A node name with a dot is a runtime error with one clear line.
    let out = run(&[
        "node",
        "--disable-ssl",
        "--zeromq-connect",
        "tcp://127.0.0.1:1,tcp://127.0.0.1:2",
        "--zeromq-node",
        "a.b",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid node name"), "{err}");
    // A malformed CURVE key.
    let out = run(&[
        "zmq-proxy",
        "--xsub",
        "tcp://127.0.0.1:0",
        "--xpub",
        "tcp://127.0.0.1:0",
        "--zeromq-curve-server-secretkey",
        "short",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server secret key"));
}

#[test]
fn a_curve_proxy_with_mismatched_keys_refuses_to_start() {
    let keys = || {
        let pair = zmq::CurveKeyPair::new().unwrap();
        (
            zmq::z85_encode(&pair.public_key).unwrap(),
            zmq::z85_encode(&pair.secret_key).unwrap(),
        )
    };
    let (server_public, _) = keys();
    let (_, other_secret) = keys();
    let (client_public, _) = keys();
    let out = run(&[
        "zmq-proxy",
        "--xsub",
        "tcp://127.0.0.1:0",
        "--xpub",
        "tcp://127.0.0.1:0",
        "--zeromq-curve-server-publickey",
        &server_public,
        "--zeromq-curve-server-secretkey",
        &other_secret,
        "--zeromq-curve-client-publickey",
        &client_public,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not belong to the server secret key"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `zmq-proxy --stall-timeout MS`: how long a subscriber that stopped
/// reading holds forwarding up before the proxy drops for it. With 0 the
/// others never wait; with ten minutes they wait (Zeek's proxy waits
/// forever).
#[test]
fn the_stall_timeout_decides_whether_a_stopped_subscriber_holds_the_others_up() {
    const N: usize = 3000;
    for (timeout, held) in [("0", false), ("600000", true)] {
        let flags = ["--stall-timeout".to_string(), timeout.to_string()];
        let (_proxy, xsub, xpub) = proxy_with(&format!("stall-{timeout}"), &flags);
        let ctx = zmq::Context::new();
        let publisher = ctx.socket(zmq::PUB).unwrap();
        publisher.set_sndhwm(0).unwrap();
        publisher.connect(&xsub).unwrap();
        let healthy = ctx.socket(zmq::SUB).unwrap();
        healthy.set_rcvtimeo(100).unwrap();
        healthy.connect(&xpub).unwrap();
        healthy.set_subscribe(b"t").unwrap();
        let stopped = ctx.socket(zmq::SUB).unwrap();
        stopped.set_rcvhwm(1).unwrap();
        stopped.set_rcvbuf(4096).unwrap();
        stopped.connect(&xpub).unwrap();
        stopped.set_subscribe(b"t").unwrap();
        // Until the subscriptions have come through: probes, then time for
        // the stopped one's (sent when it connected, as the healthy one's).
        let deadline = Instant::now() + LIMIT;
        loop {
            publisher.send_multipart([&b"t"[..], b"probe"], 0).unwrap();
            if healthy.recv_multipart(0).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "no subscription came through");
        }
        std::thread::sleep(Duration::from_millis(300));
        while healthy.recv_multipart(0).is_ok() {}
        // The healthy one reads as the messages come (counting until two
        // seconds pass without one), so only the stopped one falls behind.
        let reader = std::thread::spawn(move || {
            let mut got = 0;
            let mut quiet = Instant::now();
            while got < N && quiet.elapsed() < Duration::from_secs(2) {
                if healthy.recv_multipart(0).is_ok() {
                    got += 1;
                    quiet = Instant::now();
                }
            }
            got
        });
        let payload = vec![7u8; 16 * 1024];
        for i in 0..N {
            publisher
                .send_multipart([&b"t"[..], i.to_string().as_bytes(), &payload], 0)
                .unwrap();
            if i % 10 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let got = reader.join().unwrap();
        if held {
            assert!(
                got < N,
                "held up behind the stopped subscriber: {got} of {N}"
            );
        } else {
            assert_eq!(got, N, "never held up");
        }
        drop(stopped);
    }
}

#[test]
fn a_bad_stall_timeout_is_refused() {
    for bad in ["-1", "soon", "3600001"] {
        let out = run(&["zmq-proxy", &format!("--stall-timeout={bad}")]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--stall-timeout"), "{err}");
    }
}

#[test]
fn a_burst_of_stdin_lines_reaches_the_cluster_completely() {
    const N: usize = 20_000;
    // The receiver must not lose lines to the proxy's stall timeout when
    // the machine is busy: a long one (this test is about the sender).
    let flags = ["--stall-timeout".to_string(), "60000".to_string()];
    let (_proxy, xsub, xpub) = proxy_with("burst-proxy", &flags);
    let connect = format!("{xsub},{xpub}");
    let mut receiver = Proc::spawn(
        broker()
            .args(["node", "--disable-ssl", "--subscribe", "zeek.burst."])
            .args([
                "--zeromq-connect",
                &connect,
                "--zeromq-node",
                "burst-receiver",
            ])
            .args(["--exit-after", &N.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let received = lines(receiver.child().stdout.take().unwrap());
    let mut sender = Proc::spawn(
        broker()
            .args(["node", "--disable-ssl", "--status", "--exit-on-eof"])
            .args([
                "--zeromq-connect",
                &connect,
                "--zeromq-node",
                "burst-sender",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let statuses = lines(sender.child().stdout.take().unwrap());
    wait_for(&statuses, "node_up", |v| v["event"] == "node_up");
    // The receiver's subscription travels apart from its hello: give it time.
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = sender.child().stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            writeln!(
                stdin,
                r#"{{"topic":"zeek.burst.x","@data-type":"count","data":{i}}}"#
            )
            .unwrap();
        }
    });
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < N {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(v) if v["type"] == "data-message" => {
                assert_eq!(v["data"], seen, "in order, none lost");
                seen += 1;
            }
            Ok(_) => {}
            Err(_) => panic!("{seen} of {N} lines arrived"),
        }
    }
    writer.join().unwrap();
    let out = receiver.finish();
    assert!(out.status.success());
    assert!(sender.finish().status.success());
}

/// A Z85 CURVE key pair: (public, secret).
fn key_pair() -> (String, String) {
    let pair = zmq::CurveKeyPair::new().unwrap();
    (
        zmq::z85_encode(&pair.public_key).unwrap(),
        zmq::z85_encode(&pair.secret_key).unwrap(),
    )
}

/// A CLI proxy with CURVE on: the server key pair and the cluster's client
/// public key (as `--flag=KEY`: Z85 keys may start with `-`).
fn curve_proxy(
    name: &str,
    server: &(String, String),
    client_public: &str,
) -> (Proc, String, String) {
    proxy_with(
        name,
        &[
            format!("--zeromq-curve-server-publickey={}", server.0),
            format!("--zeromq-curve-server-secretkey={}", server.1),
            format!("--zeromq-curve-client-publickey={client_public}"),
        ],
    )
}

/// How soon `broker node` must give up on a failed handshake (it used to
/// wait forever).
const PROMPT: Duration = Duration::from_secs(10);

#[test]
fn a_node_whose_curve_handshake_fails_exits_1_with_one_line() {
    let server = key_pair();
    let client = key_pair();
    let (_proxy, xsub, xpub) = curve_proxy("wrong-key-proxy", &server, &client.0);
    let connect = format!("{xsub},{xpub}");
    let wrong = key_pair();
    let start = Instant::now();
    let out = run(&[
        "node",
        "--disable-ssl",
        "--status",
        "--zeromq-connect",
        &connect,
        "--zeromq-node",
        "intruder",
        &format!("--zeromq-curve-server-publickey={}", server.0),
        &format!("--zeromq-curve-client-publickey={}", wrong.0),
        &format!("--zeromq-curve-client-secretkey={}", wrong.1),
    ]);
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let line = lines[0];
    assert!(
        line.starts_with("broker: CURVE handshake of the X")
            && line.ends_with("failed: authentication refused (ZAP status 400: wrong client key?)"),
        "{line}"
    );
    assert!(line.contains(&xsub) || line.contains(&xpub), "{line}");
    // With --status, the same failure as an error event on stdout.
    let message = line.strip_prefix("broker: ").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let error = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "error" && v["message"] == message)
        .unwrap_or_else(|| panic!("no error line: {stdout}"));
    assert_eq!(error["code"], "peer_unavailable");
}

#[test]
fn a_plain_node_against_a_curve_proxy_exits_1() {
    let server = key_pair();
    let client = key_pair();
    let (_proxy, xsub, xpub) = curve_proxy("plain-node-proxy", &server, &client.0);
    let connect = format!("{xsub},{xpub}");
    let start = Instant::now();
    let out = run(&[
        "node",
        "--disable-ssl",
        "--zeromq-connect",
        &connect,
        "--zeromq-node",
        "plain",
    ]);
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("broker: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].ends_with(
            "security mechanism mismatch (the peer uses CURVE: give this node the keys)"
        ),
        "{err}"
    );
}

#[test]
fn bench_proxy_starts_once_every_subscriber_is_connected() {
    // Three subscribers: the run starts only when each subscription has
    // come through the proxy, so every one gets every event.
    let (_proxy, xsub, xpub) = proxy("bench-proxy");
    let result = bench_proxy(&format!("{xsub},{xpub}"), "20000", "3");
    assert_eq!(result["subscribers"], 3, "{result}");
    assert_eq!(result["received"], 20000, "{result}");
}

/// `broker bench proxy` through the proxy at `connect`; its JSON line.
fn bench_proxy(connect: &str, events: &str, subscribers: &str) -> Value {
    let out = run(&[
        "bench",
        "proxy",
        "--zeromq-connect",
        connect,
        "--events",
        events,
        "--subscribers",
        subscribers,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn bench_proxy_through_a_proxy_that_passes_a_topic_once_still_counts_every_event() {
    // libzmq's plain proxy (no XPUB_VERBOSER) passes a topic upstream once,
    // however many subscribe: the publisher sees one subscription of three
    // and starts after its 2 s grace. The subscribers wait for the first
    // event longer than that.
    let ctx = zmq::Context::new();
    let mut xsub = ctx.socket(zmq::XSUB).unwrap();
    xsub.bind("tcp://127.0.0.1:0").unwrap();
    let mut xpub = ctx.socket(zmq::XPUB).unwrap();
    // No send limit: an XPUB drops what goes past its high-water mark, and a
    // 2000-event burst can outrun a subscriber's connection (a CI run lost
    // 440 events that way). What is tested is the subscription count.
    xpub.set_sndhwm(0).unwrap();
    xpub.bind("tcp://127.0.0.1:0").unwrap();
    let connect = format!(
        "{},{}",
        xsub.get_last_endpoint().unwrap().unwrap(),
        xpub.get_last_endpoint().unwrap().unwrap()
    );
    let control = ctx.socket(zmq::PAIR).unwrap();
    control.bind("inproc://bench-proxy-control").unwrap();
    let mut steer = ctx.socket(zmq::PAIR).unwrap();
    steer.connect("inproc://bench-proxy-control").unwrap();
    let proxy = std::thread::spawn(move || {
        let _ = zmq::proxy_steerable(&mut xsub, &mut xpub, &mut steer);
    });
    let result = bench_proxy(&connect, "2000", "3");
    control.send("TERMINATE", 0).unwrap();
    proxy.join().unwrap();
    assert_eq!(result["received"], 2000, "{result}");
}
