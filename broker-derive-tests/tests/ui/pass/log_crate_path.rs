// `#[derive(Log)]` honours `#[broker(crate = "...")]`.
use broker_core as bc;

#[derive(bc::Data, bc::Log)]
#[broker(crate = "bc", name = "Conn::Info")]
#[log(stream = "Conn::LOG", path = "conn")]
struct Conn {
    uid: String,
    orig_bytes: Option<u64>,
}

fn stream_of<T: bc::logs::Log>() -> (&'static str, &'static str) {
    (T::STREAM, T::PATH)
}

fn main() {
    assert_eq!(stream_of::<Conn>(), ("Conn::LOG", "conn"));
    let _ = Conn {
        uid: String::new(),
        orig_bytes: None,
    };
}
