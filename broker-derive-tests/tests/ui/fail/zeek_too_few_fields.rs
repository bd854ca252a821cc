// The script declares arguments the struct lacks (an argument added in the
// script), and a tuple struct with too few fields.
#[broker_core::event(topic = "/site", name = "Site::scan_detected", zeek = "zeek/site.zeek")]
struct ScanDetected {
    src: std::net::IpAddr,
}

#[broker_core::event(topic = "/site", name = "Site::tagged", zeek = "zeek/site.zeek")]
struct Tagged(u64);

fn main() {}
