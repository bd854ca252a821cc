// Each mistake in `#[log(...)]` is reported where it was written.

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = "", path = "conn", path = "conn2")]
struct EmptyAndDuplicate {
    uid: String,
}

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = "Conn::LOG", path = "conn", rotate = "1h")]
struct UnknownKey {
    uid: String,
}

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = Conn::LOG, path = "conn")]
struct NotAString {
    uid: String,
}

fn main() {}
