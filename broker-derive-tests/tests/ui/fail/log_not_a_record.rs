// Zeek logs records: `#[derive(Log)]` needs a struct with named fields.

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = "Conn::LOG", path = "conn")]
enum Proto {
    Tcp,
    Udp,
}

#[derive(broker_core::Data, broker_core::Log)]
#[log(stream = "Conn::LOG", path = "conn")]
struct Tuple(String, u64);

fn main() {}
