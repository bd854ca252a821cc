// `#[derive(Log)]` needs `#[log(...)]` with both a stream id and a path.

#[derive(broker_core::Data, broker_core::Log)]
struct NoAttribute {
    uid: String,
}

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = "Conn::LOG")]
struct NoPath {
    uid: String,
}

#[derive(broker_core::Data, broker_core::Log)]
#[log(path = "conn")]
struct NoStream {
    uid: String,
}

fn main() {}
