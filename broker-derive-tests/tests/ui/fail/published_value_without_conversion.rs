struct Opaque;

#[broker_core::published_id(topic = "/config")]
static LIMIT: broker_core::typed::Published<Opaque> = broker_core::typed::Published::new(Opaque);

fn main() {}
