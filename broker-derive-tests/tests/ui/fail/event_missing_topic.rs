#[broker_core::event(name = "Demo::ping")]
struct Ping {
    n: u64,
}

fn main() {}
