#[broker_core::event(topic = "/t")]
struct Ping {
    n: u64,
}

#[broker_core::handler]
fn on_ping(ping: &Ping) {
    let _ = ping.n;
}

#[broker_core::handler]
fn on_any<T>(event: T) {
    let _ = event;
}

fn main() {}
