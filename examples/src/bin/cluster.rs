//! The demo cluster: a manager, a logger and two workers, each its own
//! endpoint, peered over loopback.
//!
//! What the finished demo will be (typed `#[handler]`s, `#[published_id]`
//! config, typed logs) is not built yet. This version shows what works
//! today, honestly: real peering over loopback TLS (Broker's default,
//! encrypted mode) with Zeek events built from `Data`, and it checks its own
//! counts (a mismatch exits non-zero).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use broker_core::data::{Data, FromData};
use broker_core::options::Options;
use broker_core::runtime::{Endpoint, Subscriber};
use broker_core::zeek::{Event, Message};

const EVENTS_PER_WORKER: u64 = 5_000;

fn endpoint() -> Result<Endpoint, Box<dyn std::error::Error>> {
    Ok(Endpoint::new(Options::default())?)
}

/// Counts `Cluster::scan_seen` events and sums their port counts.
async fn count_events(mut sub: Subscriber, expected: u64) -> Result<(u64, u64), String> {
    let (mut events, mut ports) = (0, 0);
    while events < expected {
        let msg = sub
            .recv_timeout(Duration::from_secs(10))
            .await
            .ok_or_else(|| format!("only {events} of {expected} events arrived"))?;
        let Ok(Message::Event(event)) = Message::from_data(&msg.data) else {
            return Err(format!("not a Zeek event: {}", msg.data));
        };
        let (_src, n): (String, u64) =
            FromData::from_data(&Data::Vector(event.args)).map_err(|e| e.to_string())?;
        events += 1;
        ports += n;
    }
    Ok((events, ports))
}

fn main() -> ExitCode {
    println!(
        "broker-rs demo — what works today: peering, routing and Zeek events over loopback TLS."
    );
    println!("Not yet: typed #[handler]s, #[published_id] config and typed logs (see README).");
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manager = endpoint()?;
    let logger = endpoint()?;
    let workers = [endpoint()?, endpoint()?];
    let start = Instant::now();
    manager.block_on(async {
        let port = manager.listen("127.0.0.1", 0).await?;
        let log_port = logger.listen("127.0.0.1", 0).await?;
        let scans = manager.subscribe(["zeek/cluster/scans"]).await?;
        let logs = logger.subscribe(["zeek/logs/"]).await?;
        for (i, worker) in workers.iter().enumerate() {
            worker
                .peer_and_wait("127.0.0.1", port, Duration::ZERO)
                .await?;
            worker
                .peer_and_wait("127.0.0.1", log_port, Duration::ZERO)
                .await?;
            println!("worker-{} peered with the manager and the logger", i + 1);
        }
        let expected = EVENTS_PER_WORKER * workers.len() as u64;
        let manager_task = tokio::spawn(count_events(scans, expected));
        let logger_task = tokio::spawn(count_events(logs, expected));
        let mut sent_ports = 0;
        for (w, worker) in workers.iter().enumerate() {
            for i in 0..EVENTS_PER_WORKER {
                let ports = i % 7;
                sent_ports += ports;
                let args = vec![
                    Data::from(format!("10.0.{w}.{}", i % 250)),
                    Data::Count(ports),
                ];
                let event = Event::new("Cluster::scan_seen", args).into_data();
                worker.publish("zeek/cluster/scans", event.clone()).await?;
                worker.publish("zeek/logs/Scan::LOG", event).await?;
            }
        }
        let (events, ports) = manager_task.await??;
        let (logged, _) = logger_task.await??;
        let elapsed = start.elapsed();
        println!(
            "manager: {events} events ({ports} ports); logger: {logged} records; {:.2} s",
            elapsed.as_secs_f64()
        );
        if events != expected || logged != expected || ports != sent_ports {
            return Err(format!(
                "counts differ: sent {expected} events / {sent_ports} ports, \
                 manager saw {events} / {ports}, logger {logged}"
            )
            .into());
        }
        println!("summary: all {expected} events arrived once, counts match");
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
