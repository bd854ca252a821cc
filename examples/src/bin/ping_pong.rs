//! Ping-pong with latency: two endpoints over loopback TLS; a typed
//! `#[handler]` answers every `Demo::ping` with a `Demo::pong`, the pinger
//! measures round trips one at a time and prints the percentiles.
//!
//! `cargo run --release -p broker-examples --bin ping_pong [-- COUNT]`

use std::time::{Duration, Instant};

use broker_core::prelude::*;

#[event(topic = "demo/ping", name = "Demo::ping")]
struct Ping {
    seq: u64,
    sent: Timestamp,
}

#[event(topic = "demo/pong", name = "Demo::pong")]
struct Pong {
    seq: u64,
    sent: Timestamp,
}

/// The answering side: runs on the endpoint that started its handlers on
/// `demo/ping`.
#[handler]
async fn on_ping(ping: Ping, ctx: Context) {
    let pong = Pong {
        seq: ping.seq,
        sent: ping.sent,
    };
    if let Err(e) = ctx.endpoint().publish_event(&pong).await {
        eprintln!("cannot answer ping {}: {e}", ping.seq);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map_or(Ok(2_000), |n| n.parse())?;
    // Broker's default: TLS, encrypted (each endpoint makes a certificate).
    let ponger = Endpoint::new(Options::default())?;
    let pinger = Endpoint::new(Options::default())?;
    pinger.block_on(async {
        let port = ponger.listen("127.0.0.1", 0).await?;
        ponger.start_handlers_on(["demo/ping"]).await?;
        // The pinger reads pongs from a plain subscriber, typed on arrival.
        let mut pongs = pinger.subscribe([Pong::TOPIC]).await?;
        pinger
            .peer_and_wait("127.0.0.1", port, Duration::from_secs(1))
            .await?;

        let mut rtts = Vec::with_capacity(count);
        for seq in 0..count as u64 {
            let start = Instant::now();
            pinger
                .publish_event(&Ping {
                    seq,
                    sent: Timestamp::now(),
                })
                .await?;
            let msg = pongs
                .recv_timeout(Duration::from_secs(10))
                .await
                .ok_or("no pong within 10 s")?;
            let broker_core::zeek::Message::Event(event) =
                broker_core::zeek::Message::from_data(&msg.data)?
            else {
                return Err("not an event".into());
            };
            let pong = Pong::from_event(&event)?;
            if pong.seq != seq {
                return Err(format!("pong {} for ping {seq}", pong.seq).into());
            }
            rtts.push(start.elapsed());
        }
        rtts.sort();
        let pct = |p: usize| rtts[(rtts.len() * p / 100).min(rtts.len() - 1)].as_micros();
        println!(
            "{count} round trips over TLS: p50 {} µs, p99 {} µs, max {} µs",
            pct(50),
            pct(99),
            rtts.last().map_or(0, |d| d.as_micros())
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
