// A syntax error in the script is reported at the path, with the script's
// file, line and column.
#[broker_core::event(topic = "/site", name = "Site::e", zeek = "zeek/broken.zeek")]
struct E {
    n: u64,
}

fn main() {}
