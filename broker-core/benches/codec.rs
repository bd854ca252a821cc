//! Codec benchmarks (placeholder until the payloads land).
fn main() {}
