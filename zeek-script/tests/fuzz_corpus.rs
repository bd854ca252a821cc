//! Replays the cargo-fuzz corpus of the `zeek_script` target
//! (`fuzz/corpus/zeek_script/`) on stable Rust with the target's checks, so
//! the corpus is a regression test without nightly. The corpus must exist
//! and be non-empty.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

include!("../../fuzz/checks/zeek_script.rs");

#[test]
fn zeek_script_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/zeek_script");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no files", dir.display());
    let failures: Vec<String> = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("read a corpus file");
            panic::catch_unwind(AssertUnwindSafe(|| check_zeek_script(&bytes))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The checks hold for the fixtures and for text cut at every position.
#[test]
fn fuzz_checks_hold_for_fixture_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../broker-derive-tests/zeek");
    for entry in std::fs::read_dir(&dir).expect("read the fixtures") {
        let text = std::fs::read(entry.expect("entry").path()).expect("read a fixture");
        check_zeek_script(&text);
        for end in (0..text.len()).step_by(7) {
            check_zeek_script(&text[..end]);
        }
    }
}
