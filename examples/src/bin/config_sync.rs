//! Configuration kept in step across processes with `#[published_id]`.
//!
//! The program starts a copy of itself as a "sensor" process; the "config
//! server" (the process you started) changes the set of watched ports three
//! times and publishes it with `publish_id`; the sensor's `Published` value
//! follows, and the sensor prints each version it sees. Zeek does the same
//! with `Broker::publish_id` on a `global`.
//!
//! `cargo run --release -p broker-examples --bin config_sync`

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::prelude::*;

/// The ports every sensor watches (Zeek: `global Site::watched_ports: set[port];`).
#[published_id(topic = "demo/config", name = "Site::watched_ports")]
static WATCHED_PORTS: Published<BTreeSet<Port>> = Published::new(BTreeSet::new());

const VERSIONS: [&[u16]; 3] = [&[22], &[22, 23], &[22, 23, 3389]];

type Error = Box<dyn std::error::Error>;

fn ports(numbers: &[u16]) -> BTreeSet<Port> {
    numbers
        .iter()
        .map(|n| Port::new(*n, Protocol::Tcp))
        .collect()
}

/// The sensor: peers with the server and prints every new value.
fn sensor(port: u16) -> Result<(), Error> {
    let endpoint = Endpoint::new(Options::default())?;
    endpoint.block_on(async {
        endpoint
            .start_handlers_on([WATCHED_PORTS.topic().unwrap_or("demo/config")])
            .await?;
        endpoint
            .peer_and_wait("127.0.0.1", port, Duration::from_secs(1))
            .await?;
        println!("sensor: peered");
        let (mut seen, start) = (0, Instant::now());
        while seen < VERSIONS.len() as u64 {
            if WATCHED_PORTS.version() > seen {
                seen = WATCHED_PORTS.version();
                let now: Vec<String> = WATCHED_PORTS
                    .get()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("sensor: version {seen}: watching {}", now.join(", "));
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err("the configuration did not arrive".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = ports(VERSIONS[VERSIONS.len() - 1]);
        if WATCHED_PORTS.get() != last {
            return Err("the sensor ended with another value".into());
        }
        endpoint.shutdown().await?;
        Ok(())
    })
}

fn main() -> Result<(), Error> {
    if let Some(port) = std::env::args().nth(1) {
        return sensor(port.parse()?);
    }
    let server = Endpoint::new(Options::default())?;
    let port = server.block_on(server.listen("127.0.0.1", 0))?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    // Wait until the sensor has peered (its subscription travels with it).
    for line in lines.by_ref() {
        let line = line?;
        println!("{line}");
        if line == "sensor: peered" {
            break;
        }
    }
    server.block_on(async {
        // Publish once the sensor's subscription has reached us (updates
        // go only to peers that subscribed to their topic).
        let start = Instant::now();
        while !server
            .peer_subscriptions()
            .await?
            .iter()
            .any(|t| t.as_str() == "demo/config")
        {
            if start.elapsed() > Duration::from_secs(20) {
                return Err("the sensor never subscribed".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for version in VERSIONS {
            WATCHED_PORTS.set(ports(version));
            server.publish_id(&WATCHED_PORTS).await?;
            println!("server: published {version:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok::<(), Error>(())
    })?;
    for line in lines {
        println!("{}", line?);
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("the sensor failed: {status}").into());
    }
    println!("config in sync");
    Ok(())
}
