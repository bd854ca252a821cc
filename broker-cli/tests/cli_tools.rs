//! `broker schema`, `broker record` and `broker replay` as processes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{LIMIT, Proc, TempPath, broker, temp_path};
use serde_json::Value;

/// `broker <args>` with stderr piped.
fn spawn(args: &[&str], stdin: Stdio, stdout: Stdio) -> Proc {
    Proc::spawn(
        broker()
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped()),
    )
}

/// A plain-TCP node listening on an OS-chosen port.
fn node(name: &str, extra: &[&str], stdin: Stdio, stdout: Stdio) -> (Proc, u16) {
    let ready = temp_path(name);
    let _ = std::fs::remove_file(&ready);
    let ready_arg = ready.display().to_string();
    let mut args = vec![
        "node",
        "--disable-ssl",
        "--listen",
        "127.0.0.1:0",
        "--ready-file",
        &ready_arg,
    ];
    args.extend_from_slice(extra);
    let mut proc = spawn(&args, stdin, stdout);
    let port = proc.wait_ready(&ready, 0);
    (proc, port)
}

#[test]
fn schema_prints_the_zeek_declarations_of_the_bench_protocol() {
    let out = spawn(&["schema"], Stdio::null(), Stdio::piped()).finish();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "global event_1: event(n: count, s: string);",
        "global bench_ack: event(token: count, received: count);",
        "global bench_ping: event(seq: count);",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// The bench protocol as a Zeek script declares it.
const BENCH_ZEEK: &str = "\
# The events of `broker bench`, as a Zeek script declares them.
global event_1: event(n: count, s: string);
global bench_sync: event(token: count);
global bench_ack: event(token: count, received: count);
global bench_ping: event(seq: count);
global bench_pong: event(seq: count);
";

/// `broker schema --check <files>` with `files` written first.
fn check(files: &[(&str, &str)]) -> (bool, String, String) {
    let mut args = vec!["schema".to_owned(), "--check".to_owned()];
    // Kept until the check has run (dropping one removes its file).
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = temp_path(name);
        std::fs::write(&path, text).unwrap();
        args.push(path.display().to_string());
        paths.push(path);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = spawn(&args, Stdio::null(), Stdio::piped()).finish();
    (
        out.status.code() == Some(0),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn schema_check_accepts_scripts_that_declare_the_same_events() {
    let (ok, stdout, stderr) = check(&[("bench.zeek", BENCH_ZEEK)]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ok: 5 events and 0 published ids agree with "),
        "{stdout}"
    );
    // Two files read in order: the second may extend the first.
    let (ok, stdout, _) = check(&[
        (
            "split-a.zeek",
            "global event_1: event(n: count, s: string);\nglobal bench_sync: event(token: count);",
        ),
        (
            "split-b.zeek",
            &BENCH_ZEEK
                .replace("global event_1: event(n: count, s: string);\n", "")
                .replace("global bench_sync: event(token: count);\n", ""),
        ),
    ]);
    assert!(ok, "{stdout}");
}

#[test]
fn schema_check_prints_one_line_per_mismatch_and_exits_1() {
    let drifted = BENCH_ZEEK
        .replace(
            "bench_ping: event(seq: count)",
            "bench_ping: event(seq: int)",
        )
        .replace(
            "event_1: event(n: count, s: string)",
            "event_1: event(n: count, s: string, extra: bool)",
        )
        .replace("global bench_pong: event(seq: count);\n", "");
    let (ok, stdout, stderr) = check(&[("drifted.zeek", &drifted)]);
    assert!(!ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].ends_with("drifted.zeek:5:8: event bench_ping: `seq`: the scripts declare `int`, the Rust type is `count`"), "{stdout}");
    assert_eq!(
        lines[1],
        "event bench_pong: not declared in the scripts (nearest: bench_ping, bench_sync, bench_ack, event_1)"
    );
    assert!(
        lines[2].ends_with(
            "drifted.zeek:2:8: event event_1: the scripts declare 3 arguments, the Rust type has 2"
        ),
        "{stdout}"
    );
    let stderr: Vec<&str> = stderr.lines().collect();
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0].starts_with("broker: 3 mismatches between the registered types and "),
        "{stderr:?}"
    );
}

#[test]
fn schema_check_reports_unreadable_and_invalid_scripts_on_one_line() {
    let missing = temp_path("no-such-script.zeek");
    let out = spawn(
        &["schema", "--check", &missing.display().to_string()],
        Stdio::null(),
        Stdio::piped(),
    )
    .finish();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("broker: cannot read "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let (ok, _, stderr) = check(&[("syntax.zeek", "global bench_ping: event(seq count);")]);
    assert!(!ok);
    assert!(
        stderr
            .trim_end()
            .ends_with("syntax.zeek:1:30: expected `:` after the name, found `count`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

const LINES: [&str; 3] = [
    r#"{"topic":"/rec/a","@data-type":"count","data":1}"#,
    r#"{"topic":"/rec/b","@data-type":"string","data":"two"}"#,
    r#"{"topic":"/rec/c","@data-type":"vector","data":[{"@data-type":"address","data":"10.0.0.1"},{"@data-type":"none","data":{}}]}"#,
];

/// Records LINES published by a node (the last one 400 ms after the
/// others) and returns the recording.
fn record() -> TempPath {
    let output = temp_path("capture.cbor");
    let (mut source, port) = node("source", &["--status"], Stdio::piped(), Stdio::piped());
    let peer = format!("127.0.0.1:{port}");
    let out = output.display().to_string();
    let recorder = spawn(
        &[
            "record",
            "--disable-ssl",
            "--peer",
            &peer,
            "--output",
            &out,
            "--count",
            "3",
            "/rec",
        ],
        Stdio::null(),
        Stdio::null(),
    );
    // The recorder's subscription is known once the source reports the peer.
    let stdout = source.child().stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let start = Instant::now();
    loop {
        let line = lines.next().expect("source stdout").unwrap();
        if line.contains("peer_added") {
            break;
        }
        assert!(start.elapsed() < LIMIT);
    }
    let mut stdin = source.child().stdin.take().unwrap();
    writeln!(stdin, "{}", LINES[0]).unwrap();
    writeln!(stdin, "{}", LINES[1]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    writeln!(stdin, "{}", LINES[2]).unwrap();
    stdin.flush().unwrap();
    let out = recorder.finish();
    assert!(
        out.status.success(),
        "record failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded 3 messages"));
    drop(stdin);
    output
}

/// Replays `recording` to a subscribing node and returns what the node
/// printed and the replay's summary.
fn replay(recording: &Path, fast: bool) -> (Vec<Value>, Value) {
    let (sink, port) = node(
        if fast { "sink-fast" } else { "sink-paced" },
        &["--subscribe", "/rec", "--exit-after", "3"],
        Stdio::null(),
        Stdio::piped(),
    );
    let peer = format!("127.0.0.1:{port}");
    let file = recording.display().to_string();
    let mut args = vec!["replay", "--disable-ssl", "--peer", &peer];
    if fast {
        args.push("--fast");
    }
    args.push(&file);
    let out = spawn(&args, Stdio::null(), Stdio::piped()).finish();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sink_out = sink.finish();
    assert!(sink_out.status.success());
    let received = String::from_utf8(sink_out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (received, summary)
}

#[test]
fn record_then_replay_at_the_recorded_pace_and_fast() {
    let recording = record();
    let expected: Vec<Value> = LINES
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["type"] = Value::from("data-message");
            v
        })
        .collect();
    let normalise = |mut v: Value| {
        v["type"] = Value::from("data-message");
        v
    };

    let (received, summary) = replay(&recording, false);
    assert_eq!(summary["replayed"], 3);
    assert_eq!(
        received.into_iter().map(normalise).collect::<Vec<_>>(),
        expected
    );
    // The last message was recorded at least 400 ms after the recording began.
    assert!(summary["seconds"].as_f64().unwrap() >= 0.4, "{summary}");

    let (received, summary) = replay(&recording, true);
    assert_eq!(summary["replayed"], 3);
    assert_eq!(
        received.into_iter().map(normalise).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn replay_rejects_a_file_that_is_not_a_recording() {
    let bogus = temp_path("bogus.cbor");
    std::fs::write(&bogus, b"\xa1\x61x\x01").unwrap();
    let file = bogus.display().to_string();
    let out = spawn(
        &["replay", "--disable-ssl", "--peer", "127.0.0.1:1", &file],
        Stdio::null(),
        Stdio::piped(),
    )
    .finish();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("broker: "), "{stderr}");
}

#[test]
fn publish_reaches_a_subscribing_node() {
    let (sink, port) = node(
        "publish-sink",
        &["--subscribe", "/demo", "--exit-after", "1"],
        Stdio::null(),
        Stdio::piped(),
    );
    let peer = format!("127.0.0.1:{port}");
    let out = spawn(
        &[
            "publish",
            "--disable-ssl",
            "--peer",
            &peer,
            "--topic",
            "/demo/x",
            "Demo::ping",
            "42",
            "hi",
            "-3",
            r#"{"@data-type":"address","data":"10.0.0.1"}"#,
        ],
        Stdio::null(),
        Stdio::piped(),
    )
    .finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sink_out = sink.finish();
    assert!(sink_out.status.success());
    let line: Value = serde_json::from_slice(&sink_out.stdout).unwrap();
    assert_eq!(line["topic"], "/demo/x");
    // The Zeek event [1, 1, [name, args]] in JSON v1.
    let content = &line["data"][2]["data"];
    assert_eq!(content[0]["data"], "Demo::ping");
    let args = &content[1]["data"];
    assert_eq!(
        args[0],
        serde_json::json!({"@data-type": "count", "data": 42})
    );
    assert_eq!(
        args[1],
        serde_json::json!({"@data-type": "string", "data": "hi"})
    );
    assert_eq!(
        args[2],
        serde_json::json!({"@data-type": "integer", "data": -3})
    );
    assert_eq!(
        args[3],
        serde_json::json!({"@data-type": "address", "data": "10.0.0.1"})
    );
}

#[test]
fn every_command_has_help_with_examples() {
    for command in [
        &["node"][..],
        &["publish"],
        &["subscribe"],
        &["bench"],
        &["bench", "serve"],
        &["bench", "send"],
        &["bench", "ping"],
        &["record"],
        &["replay"],
        &["schema"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = broker().args(&args).output().unwrap();
        assert!(out.status.success(), "{command:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Examples:"),
            "no examples in {command:?} --help"
        );
    }
}
