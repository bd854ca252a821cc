#[broker_core::event(topic = "/t", colour = "red")]
struct A {
    n: u64,
}

#[broker_core::event(topic = "/t", topic = "/u")]
struct B {
    n: u64,
}

fn main() {}
