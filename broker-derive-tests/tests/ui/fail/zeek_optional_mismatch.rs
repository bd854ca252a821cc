// `&optional` in the script must be `Option` in Rust, and only there.
#[derive(broker_core::Data)]
#[broker(name = "Site::Scan", zeek = "zeek/site.zeek")]
struct Scan {
    src: Option<std::net::IpAddr>,
    ports: std::collections::BTreeSet<broker_core::data::Port>,
    first: broker_core::data::Timestamp,
    duration: broker_core::data::Timespan,
    note: String,
}

fn main() {}
