#[broker_core::event(topic = "/t")]
union Bits {
    int: u64,
    real: f64,
}

fn main() {}
