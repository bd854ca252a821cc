//! Shared by the ZeroMQ tests: an endpoint, the captures, and the capture
//! script's log record.

#![allow(dead_code)] // each test binary uses a part of this

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use broker_core::data::{Port, Subnet, Timespan, Timestamp};
use broker_core::options::Options;
use broker_core::runtime::Endpoint;
use serde_json::Value;

pub(crate) fn endpoint() -> Endpoint {
    Endpoint::new(Options {
        disable_ssl: true,
        ..Options::default()
    })
    .unwrap()
}

/// The frames of a capture in `testdata/zeek-zeromq/<file>`.
pub(crate) fn capture(file: &str, name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/zeek-zeromq")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["name"] == name {
            return v["frames_hex"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| hex::decode(f.as_str().unwrap()).unwrap())
                .collect();
        }
    }
    panic!("no capture {name}");
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[broker(module = "ZmqCapture", rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Color {
    Red,
    Green,
    Blue,
}

/// The capture script's `ZmqCapture::Info`.
#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[broker(name = "ZmqCapture::Info")]
#[log(stream = "ZmqCapture::LOG", path = "zmq_capture")]
pub(crate) struct CaptureInfo {
    pub(crate) ts: Timestamp,
    pub(crate) uid: String,
    pub(crate) orig: IpAddr,
    pub(crate) net: Subnet,
    pub(crate) p: Port,
    pub(crate) n: u64,
    pub(crate) i: i64,
    pub(crate) d: f64,
    pub(crate) iv: Timespan,
    pub(crate) b: bool,
    pub(crate) color: Color,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) nums: Vec<u64>,
    pub(crate) note: Option<String>,
}
