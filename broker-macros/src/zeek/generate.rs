//! `zeek_types!`: Rust types from a Zeek script.
