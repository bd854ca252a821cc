#[broker_core::published_id(topic = "/config")]
const LIMIT: broker_core::typed::Published<u64> = broker_core::typed::Published::new(1);

fn main() {}
