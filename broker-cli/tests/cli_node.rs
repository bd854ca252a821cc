//! `broker node` as a process: two nodes exchanging JSON lines.

mod common;

use std::io::{BufRead, BufReader, Write};

use std::process::{Output, Stdio};

use common::{LIMIT, Proc, TempPath, broker, run, temp_path};
use serde_json::Value;

/// A listening node; its stdout goes to a file (a pipe nobody reads would
/// fill up and stall it), returned by `finish`.
struct Listener {
    proc: Proc,
    stdout: TempPath,
}

impl Listener {
    fn finish(self) -> (std::process::ExitStatus, Vec<u8>) {
        let out = self.proc.finish();
        (out.status, std::fs::read(&self.stdout).unwrap())
    }
}

fn listener(name: &str, extra: &[&str]) -> (Listener, u16) {
    listener_with(name, &["--disable-ssl"], extra)
}

fn listener_with(name: &str, conn: &[&str], extra: &[&str]) -> (Listener, u16) {
    let ready = temp_path(name);
    let stdout = temp_path(&format!("{name}.out"));
    let _ = std::fs::remove_file(&ready);
    let mut proc = Proc::spawn(
        broker()
            .arg("node")
            .args(conn)
            .args(["--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(Stdio::piped()),
    );
    let port = proc.wait_ready(&ready, 0);
    (Listener { proc, stdout }, port)
}

fn publisher(port: u16, lines: &str) -> Output {
    publisher_with(&["--disable-ssl"], port, lines)
}

fn publisher_with(conn: &[&str], port: u16, lines: &str) -> Output {
    let mut proc = Proc::spawn(
        broker()
            .arg("node")
            .args(conn)
            .args(["--exit-on-eof", "--peer"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut stdin = proc.child().stdin.take().unwrap();
    let text = lines.to_owned();
    let writer = std::thread::spawn(move || {
        stdin.write_all(text.as_bytes()).unwrap();
    });
    let out = proc.finish();
    writer.join().unwrap();
    out
}

#[test]
fn two_nodes_exchange_json_lines() {
    let (sub, port) = listener(
        "ready-exchange",
        &["--subscribe", "/demo", "--exit-after", "3"],
    );
    let input = concat!(
        r#"{"topic":"/demo/x","@data-type":"count","data":1}"#,
        "\n",
        "this is not json\n",
        r#"{"topic":"/other","@data-type":"count","data":2}"#,
        "\n",
        r#"{"type":"data-message","topic":"/demo/y","@data-type":"string","data":"hi"}"#,
        "\n",
        r#"{"data":-3,"@data-type":"integer","topic":"/demo/z"}"#,
        "\n",
    );
    let out = publisher(port, input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("stdin line 2"), "{stderr}");
    let (status, stdout) = sub.finish();
    assert!(status.success());
    let lines: Vec<&str> = std::str::from_utf8(&stdout).unwrap().lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"type":"data-message","topic":"/demo/x","@data-type":"count","data":1}"#,
            r#"{"type":"data-message","topic":"/demo/y","@data-type":"string","data":"hi"}"#,
            r#"{"type":"data-message","topic":"/demo/z","@data-type":"integer","data":-3}"#,
        ]
    );
}

#[test]
fn two_nodes_exchange_over_default_tls() {
    let (sub, port) = listener_with(
        "ready-tls",
        &[],
        &["--subscribe", "/tls", "--exit-after", "1"],
    );
    let out = publisher_with(
        &[],
        port,
        "{\"topic\":\"/tls/x\",\"@data-type\":\"count\",\"data\":7}\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, stdout) = sub.finish();
    assert!(status.success());
    assert_eq!(
        String::from_utf8_lossy(&stdout).trim(),
        r#"{"type":"data-message","topic":"/tls/x","@data-type":"count","data":7}"#
    );
    // Each endpoint says once that its TLS authenticates nobody.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("TLS without authentication (Broker's anonymous ECDH)")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn rustls_and_openssl_nodes_peer_in_the_default_mode() {
    let (sub, port) = listener_with(
        "ready-mixed-tls",
        &[],
        &["--subscribe", "/tls", "--exit-after", "1"],
    );
    let out = publisher_with(
        &["--unauthenticated-tls", "certificates"],
        port,
        "{\"topic\":\"/tls/y\",\"@data-type\":\"count\",\"data\":8}\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TLS without authentication (ephemeral certificates)"),
        "{stderr}"
    );
    let (status, stdout) = sub.finish();
    assert!(status.success());
    assert_eq!(
        String::from_utf8_lossy(&stdout).trim(),
        r#"{"type":"data-message","topic":"/tls/y","@data-type":"count","data":8}"#
    );
}

#[test]
fn plain_tcp_makes_no_tls_warning() {
    let out = run(&["node", "--disable-ssl", "--exit-on-eof"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("TLS without authentication"), "{stderr}");
}

#[test]
fn a_burst_of_twenty_thousand_lines_arrives_completely() {
    const N: usize = 20_000;
    let (sub, port) = listener(
        "ready-burst",
        &["--subscribe", "/b", "--exit-after", &N.to_string()],
    );
    let input: String = (0..N)
        .map(|i| format!("{{\"topic\":\"/b\",\"@data-type\":\"count\",\"data\":{i}}}\n"))
        .collect();
    let out = publisher(port, &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, stdout) = sub.finish();
    assert!(status.success());
    let values: Vec<u64> = BufReader::new(&stdout[..])
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(&l.unwrap()).unwrap()["data"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(values, (0..N as u64).collect::<Vec<_>>());
}

#[test]
fn error_lines_have_the_contract_format() {
    // Nothing listens on port 1: a peer_unavailable error line appears.
    let mut proc = Proc::spawn(
        broker()
            .args([
                "node",
                "--disable-ssl",
                "--status",
                "--retry",
                "0",
                "--peer",
                "127.0.0.1:1",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = proc.child().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(LIMIT).expect("an error line in time");
    drop(proc);
    let first: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(first["type"], "error");
    assert_eq!(first["code"], "peer_unavailable");
    assert!(first["message"].is_string());
}

#[test]
fn peer_added_status_names_endpoint_address_and_port() {
    let (sub, port) = listener(
        "ready-added",
        &["--status", "--exit-after", "1", "--subscribe", "/s"],
    );
    let out = publisher(port, "{\"topic\":\"/s\",\"@data-type\":\"none\"}\n");
    assert!(out.status.success());
    let (_, stdout) = sub.finish();
    let text = String::from_utf8_lossy(&stdout);
    let added: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["code"] == "peer_added")
        .expect("a peer_added line");
    assert_eq!(added["type"], "status");
    assert_eq!(added["address"], "127.0.0.1");
    assert!(added["port"].is_u64());
    assert!(added["endpoint"].as_str().unwrap().len() == 36);
    assert_eq!(added["message"], "handshake successful");
}

#[test]
fn usage_errors_exit_2_and_runtime_failures_exit_1() {
    let out = run(&["node", "--listen", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["node", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    // A busy port with no retry is a runtime failure.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let out = run(&["node", "--disable-ssl", "--retry", "0", "--listen", &listen]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("broker: cannot listen"), "{stderr}");
}

#[test]
fn help_shows_examples() {
    let out = run(&["node", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Examples:"));
    assert!(text.contains("--ready-file"));
}

#[test]
fn metrics_are_served_over_http_and_named_in_the_ready_file() {
    let ready = temp_path("ready-metrics");
    let _ = std::fs::remove_file(&ready);
    let mut proc = Proc::spawn(
        broker()
            .args(["node", "--disable-ssl", "--listen", "127.0.0.1:0"])
            .args([
                "--subscribe",
                "/m",
                "--metrics",
                "127.0.0.1:0",
                "--ready-file",
            ])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    // Line 4: the metrics port (lines 2 and 3, WebSocket and ZeroMQ
    // logger, are empty).
    let port = proc.wait_ready(&ready, 3);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("broker_subscriptions 1\n"), "{response}");
    assert!(response.contains("broker_connections 0\n"), "{response}");
    drop(proc);
}
