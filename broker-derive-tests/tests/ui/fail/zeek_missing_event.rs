// No such event in the script: the error lists what it declares, nearest
// name first.
#[broker_core::event(topic = "/site", name = "Site::scan_detcted", zeek = "zeek/site.zeek")]
struct ScanDetected {
    src: std::net::IpAddr,
}

// The default name is the struct's, unqualified.
#[broker_core::event(topic = "/site", zeek = "zeek/readme.zeek")]
#[allow(non_camel_case_types)]
struct scan_detected {
    src: std::net::IpAddr,
}

fn main() {}
