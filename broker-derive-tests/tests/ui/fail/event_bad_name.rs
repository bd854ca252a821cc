#[broker_core::event(topic = "/t", name = "Demo::ping-pong")]
struct Ping {
    n: u64,
}

#[broker_core::event(topic = "/t", name = "Demo::")]
struct Pong {
    n: u64,
}

fn main() {}
