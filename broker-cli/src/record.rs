//! `broker record` and `broker replay`: a captured message stream as a CBOR
//! sequence file.
//!
//! The file is a sequence of CBOR items (RFC 8742): a header map
//! `{"format": "broker-recording", "version": 1, "started_ns": …}`, then one
//! map per message, `{"t_ns": …, "topic": "…", "data": …}`, where `t_ns` is
//! the time since the recording started and `data` is the value in the
//! serde form of `broker_core::data::Data` (see docs/cli.md).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use broker_core::data::Data;
use broker_core::runtime::Endpoint;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::args::{PeerAddr, parse_peer};
use crate::node::{ConnArgs, shutdown_signal, topic, topics};

/// The format name in the header.
const FORMAT: &str = "broker-recording";
/// The version this build writes and reads.
const VERSION: u32 = 1;
/// Nesting limit when reading a recording (values are at most 100 deep on
/// the wire; each level is a few CBOR levels).
const RECURSION_LIMIT: usize = 512;

#[derive(Serialize, Deserialize, Debug)]
struct Header {
    format: String,
    version: u32,
    started_ns: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Entry {
    t_ns: u64,
    topic: String,
    data: Data,
}

/// `broker record`.
#[derive(Args, Debug)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The endpoint to record from.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    peer: PeerAddr,
    /// The recording to write (replaced if it exists).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
    /// Stop after N messages.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after S seconds.
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Topic prefixes to record.
    #[arg(required = true)]
    prefixes: Vec<String>,
}

/// `broker replay`.
#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The endpoint to publish to.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    peer: PeerAddr,
    /// Publish as fast as flow control allows instead of at the recorded pace.
    #[arg(long)]
    fast: bool,
    /// The recording to read.
    input: PathBuf,
}

pub(crate) const RECORD_EXAMPLES: &str = "\
Examples:
  broker record --disable-ssl --peer 127.0.0.1:9999 --output capture.cbor zeek/events
  broker record --peer 127.0.0.1:9999 -o capture.cbor --count 1000 --seconds 60 /

Writes a CBOR sequence: a header, then {t_ns, topic, data} per message.
Ends on SIGINT/SIGTERM, after --count messages or after --seconds.";

pub(crate) const REPLAY_EXAMPLES: &str = "\
Examples:
  broker replay --disable-ssl --peer 127.0.0.1:9999 capture.cbor
  broker replay --disable-ssl --peer 127.0.0.1:9999 --fast capture.cbor

Prints {\"replayed\":N,\"seconds\":S} when every message has been handed to the peer.";

pub(crate) async fn run_record(args: RecordArgs) -> anyhow::Result<()> {
    let options = args.conn.options()?;
    let retry = options.default_connect_retry;
    let prefixes = topics(&args.prefixes)?;
    if let Some(s) = args.seconds
        && !(s.is_finite() && s >= 0.0)
    {
        return Err(crate::args::UsageError(format!("invalid --seconds {s}")).into());
    }
    let file = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut out = BufWriter::new(file);
    let started_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    write_item(
        &mut out,
        &Header {
            format: FORMAT.into(),
            version: VERSION,
            started_ns,
        },
    )?;
    out.flush()?;

    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    let mut sub = ep.subscribe(prefixes).await?;
    ep.peer(&args.peer.host, args.peer.port, retry).await?;
    let start = Instant::now();
    let deadline = args.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut written = 0u64;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    while args.count.is_none_or(|n| written < n) {
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut signal => break,
            _ = sleep => break,
            msg = sub.recv() => {
                let Some(msg) = msg else { break };
                let entry = Entry {
                    t_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
                    topic: msg.topic.as_str().to_owned(),
                    data: msg.data,
                };
                write_item(&mut out, &entry)?;
                written += 1;
            }
        }
    }
    out.flush()?;
    eprintln!(
        "broker: recorded {written} messages to {}",
        args.output.display()
    );
    ep.shutdown().await?;
    Ok(())
}

pub(crate) async fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let options = args.conn.options()?;
    let file =
        File::open(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut input = BufReader::new(file);
    let header: Header =
        read_item(&mut input)?.with_context(|| format!("{} is empty", args.input.display()))?;
    if header.format != FORMAT {
        bail!("{} is not a broker recording", args.input.display());
    }
    if header.version != VERSION {
        bail!(
            "{} is a version {} recording; this build reads version {VERSION}",
            args.input.display(),
            header.version
        );
    }
    let ep = Endpoint::new_in(options, tokio::runtime::Handle::current())?;
    ep.peer_and_wait(&args.peer.host, args.peer.port, Duration::ZERO)
        .await?;
    let start = Instant::now();
    let mut replayed = 0u64;
    let mut index = 0u64;
    while let Some(entry) = read_item::<Entry>(&mut input)
        .with_context(|| format!("{}: message {}", args.input.display(), index + 1))?
    {
        index += 1;
        if !args.fast {
            tokio::time::sleep_until((start + Duration::from_nanos(entry.t_ns)).into()).await;
        }
        ep.publish(topic(&entry.topic)?, entry.data).await?;
        replayed += 1;
    }
    ep.flush(Duration::from_secs(60)).await?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{{\"replayed\":{replayed},\"seconds\":{seconds:.3}}}");
    ep.shutdown().await?;
    Ok(())
}

fn write_item<T: Serialize>(out: &mut impl std::io::Write, item: &T) -> anyhow::Result<()> {
    ciborium::into_writer(item, out).context("cannot write the recording")
}

/// The next item, or `None` at a clean end of file.
fn read_item<T: for<'de> Deserialize<'de>>(
    input: &mut BufReader<File>,
) -> anyhow::Result<Option<T>> {
    use std::io::BufRead as _;
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    ciborium::de::from_reader_with_recursion_limit(input, RECURSION_LIMIT)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("not a valid recording entry: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_cbor() {
        let entry = Entry {
            t_ns: 42,
            topic: "/t".into(),
            data: Data::Vector(vec![Data::Count(1), Data::from("x"), Data::None]),
        };
        let mut bytes = Vec::new();
        write_item(&mut bytes, &entry).unwrap();
        let back: Entry = ciborium::from_reader(&bytes[..]).unwrap();
        assert_eq!(back, entry);
    }
}
