//! Events, published ids and the README's event checked against Zeek
//! scripts at compile time; every declaration matches.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use broker_core::data::{Data, Port, Subnet, Timespan, Timestamp};
use broker_core::typed::Published;

// The README's event, against what the Zeek side declares.
#[broker_core::event(topic = "zeek/alerts", name = "Alerts::scan_detected", zeek = "zeek/readme.zeek")]
struct ReadmeScan {
    src: IpAddr,
    ports: Vec<Port>,
}

#[broker_core::event(topic = "/site", name = "Site::scan_detected", zeek = "zeek/site.zeek")]
struct ScanDetected {
    src: IpAddr,
    ports: Vec<Port>,
    // `Option<T>` may stand for `T`: `none` is sent when unset.
    first_seen: Option<Timestamp>,
}

#[derive(broker_core::Data)]
#[broker(name = "Site::Scan")]
struct Scan {
    src: broker_core::data::Address,
    ports: BTreeSet<Port>,
    first: Timestamp,
    duration: Option<Timespan>,
    note: String,
}

#[derive(broker_core::Data)]
#[broker(module = "Site", rename_all = "SCREAMING_SNAKE_CASE")]
enum Level {
    Low,
    High,
}

#[broker_core::event(topic = "/site", name = "Site::scan_summary", zeek = "zeek/site.zeek")]
struct ScanSummary {
    scan: Scan,
    level: Level,
    hosts: BTreeMap<IpAddr, u32>,
}

// A unit struct for an event without arguments, a tuple struct checked by
// position, a tuple as a composite set index.
#[broker_core::event(topic = "/site", name = "Site::heartbeat", zeek = "zeek/site.zeek")]
struct Heartbeat;

#[broker_core::event(topic = "/site", name = "Site::tagged", zeek = "zeek/site.zeek")]
struct Tagged(u64, BTreeSet<(String, u64)>);

// A `Data` accepts any declared type.
#[broker_core::event(topic = "/mgmt", name = "Management::Controller::API::deploy_response", zeek = "zeek/management.zeek")]
struct DeployResponse {
    reqid: String,
    results: Data,
}

// `pattern` and `function(…)` have no Rust type: a `Data` holds them.
#[broker_core::event(topic = "/other", name = "matched", zeek = "zeek/unsupported.zeek")]
struct Matched {
    p: Data,
    check: Data,
    n: u64,
}

#[broker_core::published_id(topic = "/site/config", name = "Site::scan_threshold", zeek = "zeek/site.zeek")]
static SCAN_THRESHOLD: Published<u64> = Published::new(25);

#[broker_core::published_id(topic = "/site/config", name = "Site::watched", zeek = "zeek/site.zeek")]
static WATCHED: Published<BTreeSet<Subnet>> = Published::new(BTreeSet::new());

fn main() {
    use broker_core::typed::TypedEvent;
    assert_eq!(ReadmeScan::NAME, "Alerts::scan_detected");
    assert_eq!(ScanDetected::arg_types().len(), 3);
    assert_eq!(ScanSummary::arg_types()[2].1.to_string(), "table[addr] of count");
    assert!(Heartbeat::arg_types().is_empty());
    assert_eq!(Tagged::arg_types()[1].1.to_string(), "set[string, count]");
    assert_eq!(DeployResponse::NAME, "Management::Controller::API::deploy_response");
    assert_eq!(Matched::arg_types()[0].1.to_string(), "any");
    assert_eq!(SCAN_THRESHOLD.get(), 25);
    assert!(WATCHED.get().is_empty());
    let _ = (Level::Low, Level::High);
}
