#[derive(broker_core::Data)]
#[broker(module = "Notice")]
#[broker(module = "Other", rename_all = "camelCase")]
struct S {
    a: u64,
}

#[derive(broker_core::Data)]
#[broker(module = "Not a module")]
enum E {
    #[broker(rename = "")]
    A,
}

fn main() {}
