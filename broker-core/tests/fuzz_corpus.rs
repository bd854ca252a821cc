//! Replays the cargo-fuzz corpora in `fuzz/corpus/` on stable Rust.
//!
//! Every file in `fuzz/corpus/<target>/` goes through the same checks as the
//! fuzz target of that name (see `fuzz/fuzz_targets/`): no panics, and the
//! round-trip properties hold. The corpora must exist and be non-empty, so
//! this cannot pass vacuously.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The files of `fuzz/corpus/<target>/`, sorted by name, with their bytes.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    assert!(
        dir.is_dir(),
        "corpus directory {} does not exist",
        dir.display()
    );
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes =
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    assert!(
        !files.is_empty(),
        "corpus directory {} holds no files",
        dir.display()
    );
    files.sort();
    files
}

/// Runs `check` on every file of the corpus of `target` and fails with the
/// list of files whose check panicked.
fn replay(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    let failures: Vec<String> = files
        .iter()
        .filter(|(_, bytes)| panic::catch_unwind(AssertUnwindSafe(|| check(bytes))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} {target} corpus files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn bin_decode_corpus_replays_without_panics() {
    replay("bin_decode", check_bin_decode);
}

#[test]
fn json_decode_corpus_replays_without_panics() {
    replay("json_decode", check_json_decode);
}

#[test]
fn zeek_message_corpus_replays_without_panics() {
    replay("zeek_message", check_zeek_message);
}

/// The crash `bin_decode` found (fuzz/README.md): a NaN other than the one
/// `pack_real` writes must decode to the canonical NaN, so that re-encoding
/// gives back the same value under `total_cmp` equality.
#[test]
fn bin_decode_noncanonical_nan_reencodes_to_same_value() {
    check_bin_decode(&[0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10]);
}

/// A consequence of the same bug: two NaNs with different bits must not be
/// two set elements, or the set re-encodes to bytes that `decode` rejects as
/// a duplicate.
#[test]
fn bin_decode_set_of_distinct_nans_reencodes_to_valid_set() {
    let mut input = vec![0x0c, 0x02, 0x04];
    input.extend_from_slice(&0xffff_ffff_ffff_fff0_u64.to_be_bytes());
    input.push(0x04);
    input.extend_from_slice(&0x7ff8_0000_0000_0001_u64.to_be_bytes());
    check_bin_decode(&input);
}

/// The crash `zeek_message` found (fuzz/README.md): a `log_create` whose
/// writer info has a NaN `rotation_interval`. `WriterInfo` derives
/// `PartialEq` over plain `f64` fields, so the message is not equal to
/// itself.
#[test]
fn zeek_message_log_create_with_nan_rotation_interval_round_trips() {
    let input = hex::decode(concat!(
        "0e030200000000000000010200000000000000020e040b09436f6e6e3a3a4c4f",
        "470b114c6f673a3a5752495445525f41534349490e060504636f6e6e04000000",
        "000000000004ffffffffffffff1e0441da9f7fade000000d0005000e010e0505",
        "027473000200000000000000080200000000000000000100",
    ))
    .expect("valid hex");
    check_zeek_message(&input);
}

include!("../../fuzz/checks/bin_decode.rs");
include!("../../fuzz/checks/json_decode.rs");
include!("../../fuzz/checks/zeek_message.rs");
include!("../../fuzz/checks/peer_input.rs");

#[test]
fn peer_input_corpus_replays_without_panics() {
    replay("peer_input", check_peer_input);
}

include!("../../fuzz/checks/zeromq_frames.rs");

#[test]
fn zeromq_frames_corpus_replays_without_panics() {
    replay("zeromq_frames", check_zeromq_frames);
}
