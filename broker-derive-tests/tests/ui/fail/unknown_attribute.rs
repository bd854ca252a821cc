#[derive(broker_core::Data)]
#[broker(colour = "blue")]
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
