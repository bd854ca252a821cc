//! Every example runs to completion and reports success.

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
}
