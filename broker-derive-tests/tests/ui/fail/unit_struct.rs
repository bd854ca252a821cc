#[derive(broker_core::Data)]
struct Marker;

fn main() {}
