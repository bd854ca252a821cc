//! `broker bench … --raw`: the floor. The same frames as a Broker peering
//! carries (envelopes of the bench events, pre-encoded once), pushed through
//! the same kind of loopback TCP sockets with no Broker logic at all — no
//! handshake, routing, encoding or decoding — so that every figure of
//! `broker bench` can be stated as a fraction of what the machine does at all.
//!
//! The raw protocol: length-prefixed frames as Broker's. A frame whose
//! payload starts with `PING` is echoed at once; `SYNC` is answered with an
//! 8-byte count of the frames received before it; anything else is counted.
//! `--blocking` runs the ping (and the server) on blocking sockets and OS
//! threads instead of tokio, the lowest latency there is.
//!
//! Over TLS (the default, as for every bench command; `--disable-ssl` for
//! plain TCP) the sockets carry the same TLS as a peering of the same options
//! (`TlsConfig::connect_stream` and friends): the handshake and the record
//! layer, nothing else.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use broker_core::data::bin;
use broker_core::payloads::{self, Payload, THROUGHPUT_TOPIC};
use broker_core::proto::EndpointId;
use broker_core::proto::wire::{self, EnvelopeHeader, EnvelopeType};
use broker_core::tls::TlsConfig;
use broker_core::topic::Topic;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The same chunk size the runtime hands its writers.
const WRITE_CHUNK: usize = 256 * 1024;
const PING: &[u8] = b"PING";
const SYNC: &[u8] = b"SYNC";
/// Why a raw client got no answer, as far as it can tell.
const NO_ANSWER: &str = "no answer from the raw server (do both sides speak the same transport: --disable-ssl on both or neither?)";
/// The largest raw frame accepted.
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// The frame a peering carries for one bench event of `payload`.
pub(crate) fn event_frame(payload: Payload) -> anyhow::Result<Vec<u8>> {
    let data = payloads::event(payload, 1).into_data();
    let topic = Topic::new(THROUGHPUT_TOPIC)?;
    let header = EnvelopeHeader {
        sender: EndpointId::from_bytes([1; 16]),
        receiver: EndpointId::NIL,
        kind: EnvelopeType::Data,
        ttl: 16,
        topic: &topic,
        origin: None,
    };
    let mut frame = Vec::new();
    wire::encode_envelope_frame(&mut frame, header, 1, &bin::encode(&data));
    Ok(frame)
}

fn control_frame(tag: &[u8], seq: u64) -> Vec<u8> {
    let mut frame = Vec::with_capacity(16);
    frame.extend_from_slice(&12u32.to_be_bytes());
    frame.extend_from_slice(tag);
    frame.extend_from_slice(&seq.to_be_bytes());
    frame
}

// ---- server ---------------------------------------------------------------------

/// Serves raw connections on `listener` (tokio) until killed.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<Arc<TlsConfig>>,
) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = match tls {
                Some(tls) => match tls.accept_stream(stream).await {
                    Ok(stream) => serve_connection(stream).await,
                    Err(e) => Err(e.into()),
                },
                None => serve_connection(stream).await,
            };
        });
    }
}

async fn serve_connection(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut count = 0u64;
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some((payload, next)) = next_frame(&buf, at)? {
            if payload.starts_with(PING) {
                stream.write_all(&buf[at..next]).await?;
                stream.flush().await?;
            } else if payload.starts_with(SYNC) {
                stream.write_all(&count.to_be_bytes()).await?;
                stream.flush().await?;
            } else {
                count += 1;
            }
            at = next;
        }
        buf.drain(..at);
    }
}

/// The payload of the frame at `at` and where the next one starts, if the
/// whole frame is in `buf`.
fn next_frame(buf: &[u8], at: usize) -> anyhow::Result<Option<(&[u8], usize)>> {
    let Some(head) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        bail!("bad raw frame length {len}");
    }
    Ok(buf
        .get(at + 4..at + 4 + len)
        .map(|payload| (payload, at + 4 + len)))
}

/// Serves raw connections with blocking sockets, a thread each.
pub(crate) fn serve_blocking(
    listener: std::net::TcpListener,
    tls: Option<Arc<TlsConfig>>,
) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept()?;
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        std::thread::spawn(move || {
            let _ = match tls {
                Some(tls) => match tls.accept_blocking(stream) {
                    Ok(stream) => serve_blocking_connection(stream),
                    Err(e) => Err(e.into()),
                },
                None => serve_blocking_connection(stream),
            };
        });
    }
}

fn serve_blocking_connection(mut stream: impl Read + Write) -> anyhow::Result<()> {
    let mut head = [0u8; 4];
    let mut payload = Vec::new();
    let mut count = 0u64;
    loop {
        if stream.read_exact(&mut head).is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes(head) as usize;
        if len == 0 || len > MAX_FRAME {
            bail!("bad raw frame length {len}");
        }
        payload.resize(len, 0);
        stream.read_exact(&mut payload)?;
        if payload.starts_with(PING) {
            let mut frame = head.to_vec();
            frame.extend_from_slice(&payload);
            stream.write_all(&frame)?;
            stream.flush()?;
        } else if payload.starts_with(SYNC) {
            stream.write_all(&count.to_be_bytes())?;
            stream.flush()?;
        } else {
            count += 1;
        }
    }
}

// ---- the client side ----------------------------------------------------------------

/// Where a raw client goes, and over what.
pub(crate) struct Target<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) tls: Option<&'a TlsConfig>,
}

impl Target<'_> {
    /// The error of a failed dial.
    fn unreachable(&self) -> String {
        format!("cannot reach the raw server at {}:{}", self.host, self.port)
    }
}

/// Runs `run` over a tokio connection to `target`, TLS or not.
macro_rules! with_stream {
    ($target:expr, |$stream:ident| $run:expr) => {{
        let target = $target;
        let tcp = TcpStream::connect((target.host, target.port))
            .await
            .with_context(|| target.unreachable())?;
        tcp.set_nodelay(true)?;
        match target.tls {
            Some(tls) => {
                let $stream = tls
                    .connect_stream(target.host, tcp)
                    .await
                    .context("TLS handshake with the raw server")?;
                $run
            }
            None => {
                let $stream = tcp;
                $run
            }
        }
    }};
}

// ---- send -------------------------------------------------------------------------

/// Sends `events` pre-encoded frames (or for `seconds`), then asks for the
/// count; prints the bench's JSON line.
pub(crate) async fn send(
    target: Target<'_>,
    payload: Payload,
    events: u64,
    seconds: Option<f64>,
) -> anyhow::Result<()> {
    let frame = event_frame(payload)?;
    let (received, sent, elapsed) = with_stream!(target, |stream| send_frames(
        stream, &frame, events, seconds
    )
    .await)?;
    let mut result =
        crate::bench::send_result(received, elapsed, frame.len() as u64, received == sent);
    result["raw"] = json!(true);
    println!("{result}");
    Ok(())
}

/// Writes copies of `frame`; returns what the server counted, what was sent
/// and how long it took.
async fn send_frames(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    frame: &[u8],
    events: u64,
    seconds: Option<f64>,
) -> anyhow::Result<(u64, u64, Duration)> {
    let per_chunk = (WRITE_CHUNK / frame.len()).max(1);
    let chunk = frame.repeat(per_chunk);
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < events && deadline.is_none_or(|d| Instant::now() < d) {
        let n = (events - sent).min(per_chunk as u64) as usize;
        stream.write_all(&chunk[..n * frame.len()]).await?;
        stream.flush().await?;
        sent += n as u64;
    }
    stream.write_all(&control_frame(SYNC, 0)).await?;
    stream.flush().await?;
    let mut count = [0u8; 8];
    stream.read_exact(&mut count).await.context(NO_ANSWER)?;
    Ok((u64::from_be_bytes(count), sent, start.elapsed()))
}

// ---- ping -------------------------------------------------------------------------

/// Round trips of one small frame at a time over tokio sockets.
pub(crate) async fn ping(target: Target<'_>, count: u64) -> anyhow::Result<Vec<Duration>> {
    with_stream!(target, |stream| ping_over(stream, count).await)
}

async fn ping_over(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    count: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut rtts = Vec::with_capacity(count as usize);
    let mut echo = [0u8; 16];
    for seq in 0..count {
        let frame = control_frame(PING, seq);
        let start = Instant::now();
        stream.write_all(&frame).await?;
        stream.flush().await?;
        stream.read_exact(&mut echo).await.context(NO_ANSWER)?;
        rtts.push(start.elapsed());
        if echo[..] != frame[..] {
            bail!("the raw server echoed something else");
        }
    }
    Ok(rtts)
}

/// Round trips on a blocking socket (no runtime at all).
pub(crate) fn ping_blocking(target: Target<'_>, count: u64) -> anyhow::Result<Vec<Duration>> {
    let tcp = std::net::TcpStream::connect((target.host, target.port))
        .with_context(|| target.unreachable())?;
    tcp.set_nodelay(true)?;
    match target.tls {
        Some(tls) => ping_blocking_over(
            tls.connect_blocking(target.host, tcp)
                .context("TLS handshake with the raw server")?,
            count,
        ),
        None => ping_blocking_over(tcp, count),
    }
}

fn ping_blocking_over(mut stream: impl Read + Write, count: u64) -> anyhow::Result<Vec<Duration>> {
    let mut rtts = Vec::with_capacity(count as usize);
    let mut echo = [0u8; 16];
    for seq in 0..count {
        let frame = control_frame(PING, seq);
        let start = Instant::now();
        stream.write_all(&frame)?;
        stream.flush()?;
        stream.read_exact(&mut echo).context(NO_ANSWER)?;
        rtts.push(start.elapsed());
        if echo[..] != frame[..] {
            bail!("the raw server echoed something else");
        }
    }
    Ok(rtts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_where_their_lengths_say() {
        let mut buf = control_frame(PING, 7);
        buf.extend(control_frame(SYNC, 0));
        buf.extend_from_slice(&[0, 0, 0]); // a partial head
        let (first, next) = next_frame(&buf, 0).unwrap().unwrap();
        assert!(first.starts_with(PING));
        let (second, end) = next_frame(&buf, next).unwrap().unwrap();
        assert!(second.starts_with(SYNC));
        assert_eq!(next_frame(&buf, end).unwrap(), None);
        assert!(next_frame(&[0, 0, 0, 0], 0).is_err());
    }

    #[test]
    fn the_event_frame_is_a_broker_envelope() {
        let frame = event_frame(Payload::Tiny).unwrap();
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len + 4, frame.len());
        // Envelope type data (1) after the two endpoint ids.
        assert_eq!(frame[4 + 32], 1);
    }
}
