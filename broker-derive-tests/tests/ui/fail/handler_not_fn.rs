#[broker_core::handler]
struct Handler {
    n: u64,
}

fn main() {}
