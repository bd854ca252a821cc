//! `Data` without macros: Broker's stringly-typed API, for completeness.
//!
//! An event is a name and a vector of values; a receiver matches on the
//! values itself. Compare with the typed examples: everything checked by hand
//! here is checked by the compiler and `#[handler]` there.
//!
//! `cargo run --release -p broker-examples --bin raw_data`

use std::time::Duration;

use broker_core::data::{Data, Port, Protocol, Set, Timestamp};
use broker_core::options::Options;
use broker_core::runtime::Endpoint;
use broker_core::zeek::{Event, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Endpoint::new(Options::default())?;
    let b = Endpoint::new(Options::default())?;
    a.block_on(async {
        let port = a.listen("127.0.0.1", 0).await?;
        let mut sub = a.subscribe(["demo/raw/"]).await?;
        b.peer_and_wait("127.0.0.1", port, Duration::from_secs(1))
            .await?;

        // Build Zeek's `Demo::conn_seen(src: addr, ports: set[port], ts: time)` by hand.
        let ports: Set = [22, 80]
            .into_iter()
            .map(|n| Data::Port(Port::new(n, Protocol::Tcp)))
            .collect();
        let event = Event::new(
            "Demo::conn_seen",
            vec![
                Data::from("10.0.0.1".parse::<std::net::IpAddr>()?),
                Data::Set(ports),
                Data::Timestamp(Timestamp::now()),
            ],
        );
        b.publish("demo/raw/conns", event.into_data()).await?;
        // Any value can be published, not only events.
        b.publish("demo/raw/count", Data::Count(42)).await?;

        for _ in 0..2 {
            let msg = sub
                .recv_timeout(Duration::from_secs(10))
                .await
                .ok_or("nothing arrived")?;
            match Message::from_data(&msg.data) {
                Ok(Message::Event(event)) => match event.args.as_slice() {
                    [Data::Address(src), Data::Set(ports), Data::Timestamp(_)] => {
                        println!("{} from {src}: {} ports", event.name, ports.len());
                    }
                    other => return Err(format!("unexpected arguments {other:?}").into()),
                },
                _ => println!("{}: {} ({})", msg.topic, msg.data, msg.data.data_type()),
            }
        }
        println!("raw data exchanged");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
