// A field whose Zeek type is not the one the script declares: `first_seen`
// is a `time`, `ports` a `vector of port`.
#[broker_core::event(topic = "/site", name = "Site::scan_detected", zeek = "zeek/site.zeek")]
struct ScanDetected {
    src: std::net::IpAddr,
    ports: Vec<u16>,
    first_seen: f64,
}

// A `pattern` needs a `Data`.
#[broker_core::event(topic = "/other", name = "matched", zeek = "zeek/unsupported.zeek")]
struct Matched {
    p: String,
    check: broker_core::data::Data,
    n: u64,
}

fn main() {}
