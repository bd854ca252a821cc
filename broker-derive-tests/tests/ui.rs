//! trybuild suites: `ui/pass` must compile and run, `ui/fail` must fail with
//! the recorded `.stderr`. Re-bless with `TRYBUILD=overwrite` after a
//! deliberate change (and on a new rustc, whose formatting may differ).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
