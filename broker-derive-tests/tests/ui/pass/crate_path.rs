// `#[broker(crate = "...")]` points the generated code at a renamed crate.
use broker_core as bc;

#[derive(bc::Data)]
#[broker(crate = "bc")]
struct Record {
    a: u64,
}

#[derive(bc::Data)]
#[broker(crate = "bc", module = "M")]
enum E {
    A,
}

fn main() {
    use bc::data::ToData;
    assert_eq!(Record { a: 1 }.to_data().to_string(), "(1)");
    assert_eq!(E::A.to_data().to_string(), "M::A");
}
