//! Every example runs to completion and reports success; the demo checks
//! its own counts.

use std::process::Command;

#[test]
fn cluster_demo_runs_and_its_counts_match() {
    let out = Command::new(env!("CARGO_BIN_EXE_cluster"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("counts match"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    // The live view: a line per node, and the threshold change.
    for role in ["manager", "logger", "worker-1", "worker-2"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(role) && l.contains("messages in")),
            "no live line for {role}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("lowered Demo::scan_threshold to 30"),
        "{stdout}"
    );
}

/// Runs an example binary with `args` and returns its stdout, asserting it
/// exited 0.
fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn ping_pong_measures_round_trips() {
    let stdout = run(env!("CARGO_BIN_EXE_ping_pong"), &["200"]);
    assert!(
        stdout.starts_with("200 round trips over TLS: p50 "),
        "{stdout}"
    );
}

#[test]
fn config_sync_reaches_the_other_process() {
    let stdout = run(env!("CARGO_BIN_EXE_config_sync"), &[]);
    assert!(
        stdout.contains("sensor: version 3: watching 22/tcp, 23/tcp, 3389/tcp"),
        "{stdout}"
    );
    assert!(stdout.ends_with("config in sync\n"), "{stdout}");
}

#[test]
fn log_consumer_prints_typed_records_and_zeek_columns() {
    let stdout = run(env!("CARGO_BIN_EXE_log_consumer"), &[]);
    assert!(stdout.contains("typed: C0002demo 10.0.0.1 -> 192.0.2.7 service=Some(\"ssl\")"));
    assert!(stdout.contains(
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes"
    ));
    assert!(stdout.contains(
        "1700000000.001000\tC0001demo\t10.0.0.1\t49153\t192.0.2.7\t443\ttcp\t-\t0.003000\t100"
    ));
    assert!(stdout.contains("consumed 5 records (5 sent)"), "{stdout}");
}

#[test]
fn zeek_interop_runs_against_its_stand_in_and_prints_the_zeek_declarations() {
    let stdout = run(env!("CARGO_BIN_EXE_zeek_interop"), &[]);
    assert!(
        stdout.contains("pong 3 (\"hello #3\") from stand-in for zeek"),
        "{stdout}"
    );
    let schema = run(env!("CARGO_BIN_EXE_zeek_interop"), &["--print-schema"]);
    // The declarations in the example's comment are the generated ones.
    let source = include_str!("../src/bin/zeek_interop.rs");
    for line in schema.lines().filter(|l| l.starts_with("global ")) {
        assert!(
            source.contains(&format!("//! {line}")),
            "{line} not in the comment"
        );
    }
}

#[test]
fn raw_data_exchanges_events_without_macros() {
    let stdout = run(env!("CARGO_BIN_EXE_raw_data"), &[]);
    assert!(
        stdout.contains("Demo::conn_seen from 10.0.0.1: 2 ports"),
        "{stdout}"
    );
    assert!(stdout.contains("demo/raw/count: 42 (count)"), "{stdout}");
}
