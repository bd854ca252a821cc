#[derive(broker_core::Data)]
#[broker(name = "Notice::Action")]
enum Action {
    #[broker(alias = "LOG")]
    Log,
}

#[derive(broker_core::Data)]
struct S {
    #[broker(default)]
    a: u64,
}

fn main() {}
