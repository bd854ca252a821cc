//! The demo cluster: a manager, a logger and two workers exchanging typed
//! events over loopback TLS.
//!
//! Not built yet: it needs peering, TLS and the typed-event macros. Until then
//! this program says so honestly and exits with status 0, after showing what
//! the finished foundation can already do: a Zeek event encoded in Broker's
//! binary and JSON formats.

use broker_core::data::{Data, bin, json};
use broker_core::zeek::Event;

fn main() {
    println!("broker-rs demo: not yet — the cluster demo needs peering, TLS and typed events.");
    println!("What exists today is the data model and its codecs, for example:");
    let event = Event::new("ping", vec![Data::from("hi"), Data::Count(42)]).into_data();
    let bytes = bin::encode(&event);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "  event ping(\"hi\", 42) as bin v1 ({} bytes): {hex}",
        bytes.len()
    );
    println!("  as JSON v1: {}", json::to_json_string(&event));
}
