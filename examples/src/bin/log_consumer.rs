//! A log consumer: receives Zeek log streams the way a Zeek logger node
//! would, typed (`TypedLogSubscriber<Conn>`) and untyped (`LogSubscriber`:
//! rows of Zeek log values with the stream's column names), and prints them
//! in the layout of Zeek's ASCII logs.
//!
//! Here a second endpoint plays the Zeek worker that ships `conn` records;
//! point the consumer at a real Zeek (which publishes its logs on
//! `zeek/logs/` with `Broker::default_log_topic_prefix`) by subscribing to
//! that prefix instead.
//!
//! `cargo run --release -p broker-examples --bin log_consumer`

use std::net::IpAddr;
use std::time::Duration;

use broker_core::logs::{LogSubscriber, LogValue, Logger, TypedLogSubscriber};
use broker_core::prelude::*;

#[derive(Data, Clone, Debug, PartialEq)]
#[broker(name = "conn_id")]
struct ConnId {
    orig_h: IpAddr,
    orig_p: Port,
    resp_h: IpAddr,
    resp_p: Port,
}

#[derive(Data, broker_core::Log, Clone, Debug, PartialEq)]
#[broker(name = "Conn::Info")]
#[log(stream = "Conn::LOG", path = "conn")]
struct Conn {
    ts: Timestamp,
    uid: String,
    id: ConnId,
    proto: String,
    service: Option<String>,
    duration: Option<Timespan>,
    orig_bytes: Option<u64>,
}

const RECORDS: u64 = 5;

/// A value as Zeek's ASCII writer prints it: `-` when unset, `(empty)` for
/// an empty container, elements joined by commas, times as epoch seconds.
fn ascii(value: &LogValue) -> String {
    match value {
        LogValue::Unset(_) => "-".into(),
        LogValue::Bool(b) => if *b { "T" } else { "F" }.into(),
        LogValue::Int(i) => i.to_string(),
        LogValue::Count(c) => c.to_string(),
        LogValue::Double(d) | LogValue::Time(d) | LogValue::Interval(d) => format!("{d:.6}"),
        LogValue::String(s) | LogValue::File(s) | LogValue::Func(s) => s.to_string(),
        LogValue::Enum(e) => e.clone(),
        LogValue::Port(p) => p.number.to_string(),
        LogValue::Addr(a) => a.to_string(),
        LogValue::Subnet(s) => s.to_string(),
        LogValue::Set(items) | LogValue::Vector(items) if items.is_empty() => "(empty)".into(),
        LogValue::Set(items) | LogValue::Vector(items) => {
            items.iter().map(ascii).collect::<Vec<_>>().join(",")
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let consumer = Endpoint::new(Options::default())?;
    let worker = Endpoint::new(Options::default())?;
    consumer.block_on(async {
        let port = consumer.listen("127.0.0.1", 0).await?;
        let mut typed = TypedLogSubscriber::<Conn>::new(&consumer).await?;
        let mut rows = LogSubscriber::new(
            &consumer,
            [consumer.options().default_log_topic_prefix.as_str()],
        )
        .await?;
        worker
            .peer_and_wait("127.0.0.1", port, Duration::from_secs(1))
            .await?;
        consumer
            .await_peer(worker.node_id(), Duration::from_secs(5))
            .await?;

        // The worker's side: a typed stream, flushed at the end.
        let logger = Logger::new(&worker).await?;
        let conns = logger.stream::<Conn>()?;
        for i in 0..RECORDS {
            conns
                .write(&Conn {
                    ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
                    uid: format!("C{i:04}demo"),
                    id: ConnId {
                        orig_h: "10.0.0.1".parse()?,
                        orig_p: Port::new(49152 + i as u16, Protocol::Tcp),
                        resp_h: "192.0.2.7".parse()?,
                        resp_p: Port::new(443, Protocol::Tcp),
                    },
                    proto: "tcp".into(),
                    service: (i % 2 == 0).then(|| "ssl".to_owned()),
                    duration: Some(Timespan::from_nanos(1_500_000 * (i as i64 + 1))),
                    orig_bytes: (i > 0).then_some(i * 100),
                })
                .await?;
        }
        let sent = logger.flush_logs().await?;

        // Typed: the records as they were written.
        for _ in 0..RECORDS {
            let conn = typed
                .recv_timeout(Duration::from_secs(10))
                .await
                .ok_or("no record")??;
            println!(
                "typed: {} {} -> {} service={:?}",
                conn.uid, conn.id.orig_h, conn.id.resp_h, conn.service
            );
        }
        // Untyped: column names from the stream's LogCreate, values as Zeek logs them.
        let mut header = false;
        for _ in 0..RECORDS {
            let row = rows
                .recv_timeout(Duration::from_secs(10))
                .await
                .ok_or("no row")??;
            if !header {
                println!("#path\t{}", row.path);
                let fields = row.fields.as_deref().unwrap_or_default();
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                println!("#fields\t{}", names.join("\t"));
                header = true;
            }
            let cells: Vec<String> = row.values.iter().map(ascii).collect();
            println!("{}", cells.join("\t"));
        }
        println!("consumed {RECORDS} records ({sent} sent)");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
