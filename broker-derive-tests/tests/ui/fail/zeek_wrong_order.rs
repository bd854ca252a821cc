// The same arguments as the script, in another order; and a field whose
// name the script does not have at that position.
#[broker_core::event(topic = "/site", name = "Site::scan_detected", zeek = "zeek/site.zeek")]
struct ScanDetected {
    ports: Vec<broker_core::data::Port>,
    src: std::net::IpAddr,
    first: broker_core::data::Timestamp,
}

fn main() {}
