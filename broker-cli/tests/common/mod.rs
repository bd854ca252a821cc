//! Helpers shared by the process tests of the `broker` binary: every child
//! is bounded in time and killed when its test ends, however it ends.

#![allow(dead_code)] // each test binary uses a part of this

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any child process may take.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// A `broker` command to add arguments to.
pub(crate) fn broker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_broker"))
}

/// A file name of this test process's own in the system's temp dir
/// (`broker-cli-test-<pid>-<name>`); the file is removed when this is
/// dropped, so tests leave nothing behind however they end.
pub(crate) struct TempPath(PathBuf);

impl std::ops::Deref for TempPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempPath {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `name` as a [`TempPath`] of this test process.
pub(crate) fn temp_path(name: &str) -> TempPath {
    let file = format!("broker-cli-test-{}-{name}", std::process::id());
    TempPath(std::env::temp_dir().join(file))
}

/// A child process, killed when dropped.
pub(crate) struct Proc(Option<Child>);

impl Proc {
    pub(crate) fn spawn(command: &mut Command) -> Proc {
        Proc(Some(command.spawn().unwrap()))
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }

    /// Waits for the exit within [`LIMIT`] and collects the piped output.
    pub(crate) fn finish(mut self) -> Output {
        let mut child = self.0.take().expect("running");
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

    /// Waits until line `line` (from 0) of the ready file `path` holds a
    /// port, and returns it.
    pub(crate) fn wait_ready(&mut self, path: &Path, line: usize) -> u16 {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(path)
                && let Some(port) = text.lines().nth(line).and_then(|l| l.parse().ok())
            {
                return port;
            }
            if let Ok(Some(status)) = self.child().try_wait() {
                panic!("exited before it was ready: {status}");
            }
            assert!(start.elapsed() < LIMIT, "no ready file");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `broker <args>` with empty stdin, run to completion within [`LIMIT`].
pub(crate) fn run(args: &[&str]) -> Output {
    Proc::spawn(
        broker()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .finish()
}
