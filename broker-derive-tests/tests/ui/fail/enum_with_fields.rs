#[derive(broker_core::Data)]
enum E {
    Unit,
    Tuple(u64),
    Struct { a: u64 },
}

fn main() {}
