
#[broker_core::event(topic = "/t")]
struct Ping {
    n: u64,
}

#[broker_core::handler]
fn on_ping(ping: Ping, context: broker_core::typed::Context, extra: u64) {
    let _ = (ping.n, context, extra);
}

#[broker_core::handler]
fn on_nothing() {}

fn main() {}
