#[derive(broker_core::Data)]
struct Conn {
    #[broker(rename = "id.orig_h")]
    orig_h: String,
}

fn main() {}
