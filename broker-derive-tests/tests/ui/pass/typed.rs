//! The typed-event attributes with the crate path overridden, run.

extern crate broker_core as my_broker;

use my_broker::typed::{Published, TypedEvent};

#[my_broker::event(topic = "/pass", name = "Pass::ping", crate = "my_broker")]
struct Ping(u64, String);

#[my_broker::handler(topic = "/pass/", crate = "my_broker")]
async fn on_ping(ping: Ping, context: my_broker::typed::Context) {
    let _ = (ping.0, context.topic());
}

#[my_broker::published_id(topic = "/pass", crate = "my_broker")]
static LIMIT: Published<u64> = Published::new(7);

fn main() {
    let args = Ping(1, "x".into()).into_args();
    let back = Ping::from_args(&args).unwrap();
    assert_eq!((back.0, back.1.as_str()), (1, "x"));
    assert_eq!(Ping::arg_types()[1].0, "arg1");
    assert_eq!(LIMIT.get(), 7);
    let schema = my_broker::typed::Schema::collect().unwrap().to_string();
    assert!(schema.contains("global Pass::ping: event(arg0: count, arg1: string);"), "{schema}");
    assert!(schema.contains("global LIMIT: count;"), "{schema}");
}
