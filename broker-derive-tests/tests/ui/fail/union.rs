#[derive(broker_core::Data)]
union U {
    a: u64,
    b: i64,
}

fn main() {}
