#[broker_core::event(topic = "")]
struct Ping {
    n: u64,
}

fn main() {}
