//! `broker node` as a process: two nodes exchanging JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_broker");
const LIMIT: Duration = Duration::from_secs(60);

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("broker-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Waits for the ready file and returns the port in it.
fn wait_ready(path: &Path, child: &mut Child) -> u16 {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(port) = text.lines().next().and_then(|l| l.parse().ok())
        {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("node exited early: {status}");
        }
        assert!(start.elapsed() < LIMIT, "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a process with a time limit, killing it if it overruns.
fn wait_output(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("process did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A listening node; its stdout goes to a file (a pipe nobody reads would
/// fill up and stall it), returned by `finish`.
struct Listener {
    child: Option<Child>,
    stdout: PathBuf,
}

impl Listener {
    fn finish(mut self) -> (std::process::ExitStatus, Vec<u8>) {
        let out = wait_output(self.child.take().expect("not finished yet"));
        (out.status, std::fs::read(&self.stdout).unwrap())
    }
}

/// A test that fails half-way does not leave its node running.
impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn listener(name: &str, extra: &[&str]) -> (Listener, u16) {
    listener_with(name, &["--disable-ssl"], extra)
}

fn listener_with(name: &str, conn: &[&str], extra: &[&str]) -> (Listener, u16) {
    let ready = temp_path(name);
    let stdout = temp_path(&format!("{name}.out"));
    let _ = std::fs::remove_file(&ready);
    let mut child = Command::new(BIN)
        .arg("node")
        .args(conn)
        .args(["--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = wait_ready(&ready, &mut child);
    (
        Listener {
            child: Some(child),
            stdout,
        },
        port,
    )
}

fn publisher(port: u16, lines: &str) -> Output {
    publisher_with(&["--disable-ssl"], port, lines)
}

fn publisher_with(conn: &[&str], port: u16, lines: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("node")
        .args(conn)
        .args(["--exit-on-eof", "--peer"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = lines.to_owned();
    let writer = std::thread::spawn(move || {
        stdin.write_all(text.as_bytes()).unwrap();
    });
    let out = wait_output(child);
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
    let mut child = Command::new(BIN)
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
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(LIMIT).expect("an error line in time");
    let _ = child.kill();
    let _ = child.wait();
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
    let out = Command::new(BIN)
        .args(["node", "--listen", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["node", "--frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A busy port with no retry is a runtime failure.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .args(["node", "--disable-ssl", "--retry", "0", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("broker: cannot listen"), "{stderr}");
}

#[test]
fn help_shows_examples() {
    let out = Command::new(BIN).args(["node", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Examples:"));
    assert!(text.contains("--ready-file"));
}
