// A record with a wrong field type, a field too many, and one in the wrong
// place; a tuple struct cannot be checked.
#[derive(broker_core::Data)]
#[broker(name = "Site::Scan", zeek = "zeek/site.zeek")]
struct Scan {
    src: std::net::IpAddr,
    ports: Vec<broker_core::data::Port>,
    first: broker_core::data::Timestamp,
    duration: Option<broker_core::data::Timespan>,
    note: u64,
}

#[derive(broker_core::Data)]
#[broker(name = "Site::Scan", zeek = "zeek/site.zeek")]
struct Longer {
    src: std::net::IpAddr,
    ports: std::collections::BTreeSet<broker_core::data::Port>,
    first: broker_core::data::Timestamp,
    duration: Option<broker_core::data::Timespan>,
    note: String,
    extra: u64,
}

#[derive(broker_core::Data)]
#[broker(name = "Site::Scan", zeek = "zeek/site.zeek")]
struct Swapped {
    ports: std::collections::BTreeSet<broker_core::data::Port>,
    src: std::net::IpAddr,
    first: broker_core::data::Timestamp,
    duration: Option<broker_core::data::Timespan>,
    note: String,
}

#[derive(broker_core::Data)]
#[broker(zeek = "zeek/site.zeek")]
struct Pair(u64, u64);

fn main() {}
