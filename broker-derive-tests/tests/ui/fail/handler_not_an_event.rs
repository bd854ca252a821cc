struct NotAnEvent {
    n: u64,
}

#[broker_core::handler]
fn on_thing(thing: NotAnEvent) {
    let _ = thing.n;
}

fn main() {}
