//! Talking to a real Zeek: typed events to and from a Zeek script.
//!
//! Run Zeek with the script below, then this program with Zeek's address:
//!
//! ```text
//! zeek -b interop.zeek &
//! cargo run --release -p broker-examples --bin zeek_interop -- 127.0.0.1:9999
//! ```
//!
//! `interop.zeek` (the declarations are what
//! `broker_core::typed::Schema::collect()` prints for the events below):
//!
//! ```zeek
//! redef Broker::disable_ssl = T;   # or configure the same TLS on both sides
//!
//! global Interop::ping: event(n: count, note: string);
//! global Interop::pong: event(n: count, note: string, seen_by: string);
//!
//! event zeek_init()
//!     {
//!     Broker::subscribe("zeek/interop/ping");
//!     Broker::listen("127.0.0.1", 9999/tcp);
//!     }
//!
//! event Interop::ping(n: count, note: string)
//!     {
//!     Broker::publish("zeek/interop/pong", Interop::pong, n, note, "zeek");
//!     }
//! ```
//!
//! Without an address, the program starts a stand-in that plays the Zeek
//! script's part with Broker's plain `Data` API (what the script does, value
//! for value), so the example runs anywhere; with `--print-schema` it prints
//! the Zeek declarations of its events and exits.

use std::time::Duration;

use broker_core::data::Data;
use broker_core::prelude::*;
use broker_core::typed::Schema;
use broker_core::zeek;

#[event(topic = "zeek/interop/ping", name = "Interop::ping")]
struct InteropPing {
    n: u64,
    note: String,
}

#[event(topic = "zeek/interop/pong", name = "Interop::pong")]
#[derive(Debug)]
struct InteropPong {
    n: u64,
    note: String,
    seen_by: String,
}

const PINGS: u64 = 3;

/// The Zeek script's part, with `Data` only: answer each ping with a pong.
async fn stand_in() -> Result<(Endpoint, u16), Box<dyn std::error::Error>> {
    let zeek_side = Endpoint::new(Options {
        disable_ssl: true,
        ..Options::default()
    })?;
    let port = zeek_side.listen("127.0.0.1", 0).await?;
    let mut pings = zeek_side.subscribe(["zeek/interop/ping"]).await?;
    let answer = zeek_side.clone();
    zeek_side.runtime_handle().spawn(async move {
        while let Some(msg) = pings.recv().await {
            if let Ok(zeek::Message::Event(ping)) = zeek::Message::from_data(&msg.data) {
                let mut args = ping.args;
                args.push(Data::from("stand-in for zeek"));
                let pong = zeek::Event::new("Interop::pong", args).into_data();
                let _ = answer.publish("zeek/interop/pong", pong).await;
            }
        }
    });
    Ok((zeek_side, port))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--print-schema") {
        print!("{}", Schema::collect()?);
        return Ok(());
    }
    let us = Endpoint::new(Options {
        disable_ssl: true,
        ..Options::default()
    })?;
    us.block_on(async {
        let (_stand_in, host, port) = match &arg {
            Some(address) => {
                let (host, port) = address.rsplit_once(':').ok_or("expected HOST:PORT")?;
                (None, host.to_owned(), port.parse()?)
            }
            None => {
                let (endpoint, port) = stand_in().await?;
                (Some(endpoint), "127.0.0.1".to_owned(), port)
            }
        };
        let mut pongs = us.subscribe([InteropPong::TOPIC]).await?;
        us.peer_and_wait(&host, port, Duration::from_secs(1))
            .await?;
        for n in 1..=PINGS {
            us.publish_event(&InteropPing {
                n,
                note: format!("hello #{n}"),
            })
            .await?;
            let msg = pongs
                .recv_timeout(Duration::from_secs(10))
                .await
                .ok_or("no pong")?;
            let zeek::Message::Event(event) = zeek::Message::from_data(&msg.data)? else {
                return Err("not an event".into());
            };
            let pong = InteropPong::from_event(&event)?;
            println!("pong {} ({:?}) from {}", pong.n, pong.note, pong.seen_by);
            if pong.n != n {
                return Err(format!("pong {} for ping {n}", pong.n).into());
            }
        }
        println!("{PINGS} typed round trips with {host}:{port}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
