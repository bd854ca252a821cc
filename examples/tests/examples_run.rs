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
