#[broker_core::event(topic = "zeek/<$>/events")]
struct Ping {
    n: u64,
}

fn main() {}
