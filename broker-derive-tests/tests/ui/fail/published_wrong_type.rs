#[broker_core::published_id(topic = "/config")]
static LIMIT: u64 = 1;

fn main() {}
