#[broker_core::event(topic = "/t")]
struct Generic<T> {
    value: T,
}

#[broker_core::event(topic = "/t")]
struct Borrowed<'a> {
    text: &'a str,
}

fn main() {}
