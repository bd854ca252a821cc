// The struct has an argument the script does not declare.
#[broker_core::event(topic = "/site", name = "Site::scan_detected", zeek = "zeek/site.zeek")]
struct ScanDetected {
    src: std::net::IpAddr,
    ports: Vec<broker_core::data::Port>,
    first_seen: broker_core::data::Timestamp,
    worker: String,
}

fn main() {}
