// The script does not exist (paths are relative to CARGO_MANIFEST_DIR).
#[broker_core::event(topic = "/site", name = "Site::e", zeek = "zeek/nonexistent.zeek")]
struct E {
    n: u64,
}

fn main() {}
