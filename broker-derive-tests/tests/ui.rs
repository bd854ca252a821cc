//! trybuild suites: `ui/pass` must compile and run, `ui/fail` must fail with
//! the recorded `.stderr`. Re-bless with `TRYBUILD=overwrite` after a
//! deliberate change (and on a new rustc, whose formatting may differ).

use std::path::Path;

#[test]
fn ui() {
    copy_zeek_scripts();
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// trybuild compiles the cases in its own crate,
/// `<target>/tests/trybuild/broker-derive-tests/`, so `CARGO_MANIFEST_DIR`
/// is that directory when the macros read `zeek = "zeek/site.zeek"`: the
/// scripts of `zeek/` are copied there first, so that the cases name them
/// as the integration tests (and users) do.
fn copy_zeek_scripts() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    let to = target.join("tests/trybuild/broker-derive-tests/zeek");
    std::fs::create_dir_all(&to).expect("create the trybuild crate's zeek directory");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("zeek");
    for entry in std::fs::read_dir(&from).expect("read zeek/") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, to.join(name)).expect("copy a Zeek script");
    }
}
