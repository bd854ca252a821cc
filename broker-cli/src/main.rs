//! The `broker` command-line tool.
//!
//! Not built yet: peering (`broker node`), publish/subscribe and the
//! benchmarks arrive with the peering issue. Until then the tool says so and
//! exits with status 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "broker: not yet implemented (this build has the data model and codecs only; \
         `broker node` arrives with peering)"
    );
    ExitCode::from(1)
}
