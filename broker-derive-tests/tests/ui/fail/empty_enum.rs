#[derive(broker_core::Data)]
enum Never {}

fn main() {}
