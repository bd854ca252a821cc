//! Shared by the interop tests that drive independent third-party stacks
//! written in Python (the scripts beside this file): finding an interpreter
//! that has the needed modules, and a child process that reports JSON lines.
//!
//! Without a usable interpreter a test says so and passes, unless
//! `BROKER_REQUIRE_INTEROP` is set (as `.ci/run` does): then it fails.
//! `BROKER_TEST_PYTHON` names the interpreter (default `python3`); `.ci/run`
//! points it at a virtualenv with the pinned packages.

#![allow(dead_code)] // each test binary uses a part of this

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any line or exit may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// An interpreter that can import every module of `modules`, or `None`
/// (after saying why) to skip.
pub(crate) fn python(modules: &[&str]) -> Option<PathBuf> {
    let candidate = std::env::var_os("BROKER_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let works = Command::new(&candidate)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("BROKER_REQUIRE_INTEROP").is_none(),
        "BROKER_REQUIRE_INTEROP is set but {} cannot import {modules:?}",
        candidate.display()
    );
    eprintln!(
        "skipped: {} cannot import {modules:?} (set BROKER_TEST_PYTHON)",
        candidate.display()
    );
    None
}

/// A Python script from `tests/interop`, killed on drop, with its stdout's
/// JSON lines on a channel.
pub(crate) struct Script {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Script {
    pub(crate) fn spawn(python: &PathBuf, script: &str, args: &[&str]) -> Script {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("interop")
            .join(script);
        let mut child = Command::new(python)
            .arg(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Script { child, lines }
    }

    /// The next line.
    pub(crate) fn line(&self) -> Value {
        self.lines
            .recv_timeout(WAIT)
            .expect("python said nothing in time")
    }

    /// The next line, which must have `key`; its value.
    pub(crate) fn next(&self, key: &str) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("python said nothing while we waited for {key:?}"));
        line.get(key)
            .unwrap_or_else(|| panic!("expected {key:?}, python said {line}"))
            .clone()
    }

    /// Waits for a successful exit.
    pub(crate) fn finish(mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "python failed: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "python did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
