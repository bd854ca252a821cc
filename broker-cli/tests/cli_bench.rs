//! `broker bench` as processes: short runs that check the counts and the
//! output format, never the speed (speed lives in `docs/performance.md`).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Proc, broker, run, temp_path};
use serde_json::Value;

/// A `broker` that listens on an OS-chosen port.
struct Server {
    _proc: Proc,
    port: u16,
}

impl Server {
    /// `broker <args> --listen 127.0.0.1:0 --ready-file F`, once F names the port.
    fn start(name: &str, args: &[&str]) -> Server {
        let ready = temp_path(name);
        let _ = std::fs::remove_file(&ready);
        let mut proc = Proc::spawn(
            broker()
                .args(args)
                .args(["--listen", "127.0.0.1:0", "--ready-file"])
                .arg(&ready)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let port = proc.wait_ready(&ready, 0);
        Server { _proc: proc, port }
    }

    fn peer(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The one JSON line a bench client prints, checked for success.
fn result(args: &[&str]) -> Value {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "broker {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of output: {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

fn send(server: &Server, extra: &[&str]) -> Value {
    let peer = server.peer();
    let mut args = vec!["bench", "send", "--peer", &peer];
    args.extend_from_slice(extra);
    result(&args)
}

#[test]
fn send_counts_every_payload_the_server_confirms() {
    let server = Server::start("serve-plain", &["bench", "serve", "--disable-ssl"]);
    for (payload, events) in [("tiny", "5000"), ("conn", "2000"), ("table", "300")] {
        let out = send(
            &server,
            &["--disable-ssl", "--payload", payload, "--events", events],
        );
        assert_eq!(out["events"].to_string(), events, "{payload}: {out}");
        assert_eq!(out["confirmed"], true, "{payload}: {out}");
        for key in ["seconds", "events_per_sec", "bytes_per_sec"] {
            assert!(
                out[key].as_f64().unwrap() > 0.0,
                "{payload}: {key} in {out}"
            );
        }
    }
    // The server counts across runs; each run reports only its own events.
    let out = send(&server, &["--disable-ssl", "--events", "1000"]);
    assert_eq!(out["events"], 1000);
}

#[test]
fn send_over_default_tls_and_with_a_time_bound() {
    let server = Server::start("serve-tls", &["bench", "serve"]);
    let out = send(&server, &["--events", "3000"]);
    assert_eq!(out["events"], 3000);
    assert_eq!(out["confirmed"], true);
    // Unlimited events, bounded by --seconds: the run ends by itself and
    // counts what the server confirmed.
    let start = Instant::now();
    let out = send(&server, &["--seconds", "0.3"]);
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(out["events"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(out["confirmed"], true);
}

#[test]
fn send_to_a_peer_that_is_not_a_bench_server_counts_what_it_wrote() {
    let node = Server::start(
        "node",
        &["node", "--disable-ssl", "--subscribe", "/benchmark"],
    );
    let out = send(&node, &["--disable-ssl", "--events", "2000"]);
    assert_eq!(out["events"], 2000);
    assert_eq!(out["confirmed"], false);
    // A time bound counts from the first event, not from the question the
    // node never answers (3 s): the run sends for its full second.
    let out = send(&node, &["--disable-ssl", "--seconds", "1"]);
    assert!(out["events"].as_u64().unwrap() > 0, "{out}");
    assert!(out["seconds"].as_f64().unwrap() >= 0.9, "{out}");
    assert_eq!(out["confirmed"], false);
}

#[test]
fn ping_measures_every_round_trip_with_and_without_busy_polling() {
    let server = Server::start(
        "serve-ping",
        &["bench", "serve", "--disable-ssl", "--busy-poll", "50"],
    );
    let peer = server.peer();
    for extra in [&[][..], &["--busy-poll", "100"][..]] {
        let mut args = vec![
            "bench",
            "ping",
            "--disable-ssl",
            "--peer",
            &peer,
            "--count",
            "300",
        ];
        args.extend_from_slice(extra);
        let out = result(&args);
        assert_eq!(out["count"], 300, "{out}");
        let (p50, p99, max) = (
            out["p50_us"].as_f64().unwrap(),
            out["p99_us"].as_f64().unwrap(),
            out["max_us"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{out}");
    }
}

#[test]
fn the_raw_floor_counts_frames_and_echoes_pings_in_every_mode() {
    let transports: [(&str, &[&str]); 3] = [
        ("plain", &["--disable-ssl"]),
        ("anonymous", &[]),
        ("rustls", &["--unauthenticated-tls", "certificates"]),
    ];
    for (transport, tls) in transports {
        for (threads, blocking) in [("tokio", &[][..]), ("blocking", &["--blocking"][..])] {
            let name = format!("serve-raw-{transport}-{threads}");
            let mut args = vec!["bench", "serve", "--raw"];
            args.extend_from_slice(blocking);
            args.extend_from_slice(tls);
            let server = Server::start(&name, &args);
            let mut extra = vec!["--raw", "--payload", "conn", "--events", "20000"];
            extra.extend_from_slice(tls);
            let out = send(&server, &extra);
            assert_eq!(out["events"], 20000, "{name}: {out}");
            assert_eq!(out["confirmed"], true, "{name}: {out}");
            assert_eq!(out["raw"], true, "{name}: {out}");
            let peer = server.peer();
            let mut args = vec!["bench", "ping", "--raw", "--peer", &peer, "--count", "200"];
            args.extend_from_slice(blocking);
            args.extend_from_slice(tls);
            let out = result(&args);
            assert_eq!(out["count"], 200, "{name}: {out}");
            let (p50, p99) = (
                out["p50_us"].as_f64().unwrap(),
                out["p99_us"].as_f64().unwrap(),
            );
            assert!(0.0 < p50 && p50 <= p99, "{name}: {out}");
        }
    }
}

/// The raw floor speaks TLS unless told not to, like every bench command: a
/// TLS client and a plain server (or the other way round) do not get along.
#[test]
fn the_raw_floor_speaks_the_transport_it_is_given() {
    let plain = Server::start(
        "raw-plain-only",
        &["bench", "serve", "--raw", "--disable-ssl"],
    );
    let tls = Server::start("raw-tls-only", &["bench", "serve", "--raw"]);
    let cases: [(&Server, &[&str], &str); 2] = [
        (&plain, &[], "TLS handshake with the raw server"),
        (&tls, &["--disable-ssl"], "the same transport"),
    ];
    for (server, flags, says) in cases {
        let peer = server.peer();
        let mut args = vec!["bench", "ping", "--raw", "--peer", &peer, "--count", "5"];
        args.extend_from_slice(flags);
        let start = Instant::now();
        let out = run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(start.elapsed() < Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_bench_arguments_are_usage_errors() {
    for args in [
        &[
            "bench",
            "ping",
            "--peer",
            "127.0.0.1:1",
            "--busy-poll",
            "-5",
        ][..],
        &[
            "bench",
            "ping",
            "--peer",
            "127.0.0.1:1",
            "--busy-poll",
            "2000000",
        ][..],
        &[
            "bench",
            "send",
            "--peer",
            "127.0.0.1:1",
            "--payload",
            "huge",
        ][..],
        &["bench", "send", "--peer", "nowhere"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
