//! Socket tasks: listeners, dialers, and per-connection reader and writer
//! tasks that only move bytes between a socket and the driver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use crate::proto::ConnectionId;
use crate::tls::{self, TlsConfig, TlsStream};

/// How much a reader reads at once.
const READ_CHUNK: usize = 64 * 1024;
/// Inbound TLS handshakes in progress at once per listener; further
/// connections wait in the kernel's backlog.
const MAX_PENDING_HANDSHAKES: usize = 64;

/// A connected stream, ready for Broker's handshake.
pub(crate) enum PeerStream {
    /// Plain TCP (`disable_ssl`).
    Plain(TcpStream),
    /// TLS over TCP, handshake done.
    Tls(TlsStream),
}

/// Events from socket tasks to the driver.
pub(crate) enum IoEvent {
    /// A listener accepted a connection.
    Accepted {
        stream: PeerStream,
        remote: SocketAddr,
    },
    /// An inbound TLS handshake failed.
    AcceptFailed { remote: SocketAddr, message: String },
    /// A dial succeeded.
    Connected {
        request: u64,
        stream: PeerStream,
        remote: SocketAddr,
    },
    /// A dial (TCP or TLS) failed; `message` says why.
    ConnectFailed { request: u64, message: String },
    /// A redial is due.
    RedialDue { request: u64 },
    /// Writing to a connection failed.
    Closed { conn: ConnectionId },
    /// A writer finished its chunk and can take the next.
    Drained { conn: ConnectionId },
}

/// Bytes read from a connection; `None` when the peer closed it. Closing
/// travels on the same channel as the bytes so that it arrives after them.
pub(crate) struct Input {
    pub(crate) conn: ConnectionId,
    pub(crate) data: Option<Bytes>,
    /// With `data: None`: the TLS error that ended reading, if one did (a
    /// peer rejecting our certificate shows up here, after the TLS 1.3
    /// handshake looked complete to us).
    pub(crate) tls_error: Option<String>,
}

/// The driver's side of a connection's tasks.
pub(crate) struct ConnTasks {
    /// Chunks to write; dropping it closes the write side after the last chunk.
    pub(crate) writer: mpsc::Sender<Bytes>,
    /// How the driver writes to the connection itself while the writer has
    /// nothing (see [`spawn_plain_connection`] and [`Direct`]).
    pub(crate) direct: Option<Direct>,
    reader: AbortHandle,
}

impl ConnTasks {
    /// Stops reading; the writer finishes what it was given, then closes.
    pub(crate) fn close(self) {
        self.reader.abort();
    }
}

/// Starts the reader and writer tasks of a connection.
pub(crate) fn spawn_connection<S>(
    stream: S,
    conn: ConnectionId,
    input: mpsc::Sender<Input>,
    events: mpsc::UnboundedSender<IoEvent>,
) -> ConnTasks
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let wr = Arc::new(SharedWriter(std::sync::Mutex::new(wr)));
    let (writer, mut chunks) = mpsc::channel::<Bytes>(2);
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut tls_error = None;
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => break,
                Err(e) => {
                    tls_error = tls::read_error(&e);
                    break;
                }
                Ok(_) => {
                    let data = Some(buf.split().freeze());
                    let msg = Input {
                        conn,
                        data,
                        tls_error: None,
                    };
                    if input.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
        let msg = Input {
            conn,
            data: None,
            tls_error,
        };
        let _ = input.send(msg).await;
    })
    .abort_handle();
    let direct = Arc::clone(&wr);
    tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            // A TLS stream may keep records buffered after a write (when the
            // socket was full, or OpenSSL's write buffer): flush them. An
            // empty chunk asks for only that (see `SharedWriter::write_now`).
            if wr.write_all(&chunk).await.is_err() || wr.flush().await.is_err() {
                let _ = events.send(IoEvent::Closed { conn });
                return;
            }
            if chunks.is_empty() {
                let _ = events.send(IoEvent::Drained { conn });
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    ConnTasks {
        writer,
        direct: Some(Direct::Stream(direct)),
        reader,
    }
}

/// How the driver writes to a connection itself while the connection's
/// writer task is idle.
pub(crate) enum Direct {
    /// Plain TCP: `try_write` on the shared socket.
    Plain(Arc<TcpStream>),
    /// TLS: the write half, polled once without waiting.
    Stream(Arc<dyn WriteNow>),
}

impl Direct {
    /// Writes what of `chunk` can leave now without waiting; returns how many
    /// bytes of it were taken, and what is left for the writer task: the
    /// rest of the chunk, or an empty chunk when all of it was taken but
    /// some of it still waits in the stream's buffers to be flushed.
    pub(crate) fn write_now(&self, chunk: Bytes) -> (usize, Option<Bytes>) {
        match self {
            Direct::Plain(socket) => write_now(socket, chunk),
            Direct::Stream(stream) => stream.write_now(chunk),
        }
    }
}

/// A write half the driver and the writer task share (see [`Direct`]).
pub(crate) trait WriteNow: Send + Sync {
    /// See [`Direct::write_now`].
    fn write_now(&self, chunk: Bytes) -> (usize, Option<Bytes>);
}

/// The write half of a TLS stream, shared by the writer task (which polls
/// it with its own waker, a poll at a time) and the driver (which polls it
/// once, with a waker that does nothing, only while the writer is idle and
/// so waits on its channel, not on the socket: a `Pending` the driver sees
/// is polled again by the writer, which then registers its own waker).
struct SharedWriter<S>(std::sync::Mutex<tokio::io::WriteHalf<S>>);

impl<S: AsyncWrite> SharedWriter<S> {
    fn poll<T>(
        &self,
        cx: &mut std::task::Context<'_>,
        op: impl FnOnce(
            std::pin::Pin<&mut tokio::io::WriteHalf<S>>,
            &mut std::task::Context<'_>,
        ) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        let mut half = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        op(std::pin::Pin::new(&mut *half), cx)
    }

    async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n =
                std::future::poll_fn(|cx| self.poll(cx, |w, cx| w.poll_write(cx, bytes))).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[n..];
        }
        Ok(())
    }

    async fn flush(&self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.poll(cx, |w, cx| w.poll_flush(cx))).await
    }

    async fn shutdown(&self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| self.poll(cx, |w, cx| w.poll_shutdown(cx))).await
    }
}

impl<S: AsyncWrite + Send> WriteNow for SharedWriter<S> {
    fn write_now(&self, mut chunk: Bytes) -> (usize, Option<Bytes>) {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut taken = 0;
        while taken < chunk.len() {
            match self.poll(&mut cx, |w, cx| w.poll_write(cx, &chunk[taken..])) {
                std::task::Poll::Ready(Ok(n)) if n > 0 => taken += n,
                // Full, failed or closed: the writer task waits, or reports.
                _ => break,
            }
        }
        if taken < chunk.len() {
            let _ = chunk.split_to(taken);
            return (taken, Some(chunk));
        }
        match self.poll(&mut cx, |w, cx| w.poll_flush(cx)) {
            std::task::Poll::Ready(Ok(())) => (taken, None),
            _ => (taken, Some(Bytes::new())),
        }
    }
}

/// Reads what the socket holds into `buf`'s spare capacity. A read that
/// leaves room in `buf` took everything there was, so the socket's read
/// readiness is cleared as a `WouldBlock` would: the next wait goes to the
/// runtime at once instead of after one more `recv` that finds nothing (a
/// system call per message at low rates, such as a ping and its answer).
/// Clearing is safe: tokio clears only the readiness it saw before the read;
/// bytes arriving after it raise a new event.
fn read_available(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    let room = buf.capacity() - buf.len();
    let mut got = None;
    let outcome = stream.try_io(tokio::io::Interest::READABLE, || {
        let n = stream.try_read_buf(buf)?;
        got = Some(n);
        if n > 0 && n < room {
            // Not an error: `got` holds the count; this only clears readiness.
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match got {
        Some(n) => Ok(n),
        None => outcome,
    }
}

/// Starts the reader and writer tasks of a plain TCP connection, which share
/// the socket with the driver: while the writer has nothing to do, the
/// driver writes what fits at once itself (`try_write`), and only the rest
/// goes to the writer task. A chunk that leaves at once then costs no task
/// switch and no `Drained` round trip, which is most of them below
/// saturation (a ping's answer, a trickle of events).
pub(crate) fn spawn_plain_connection(
    stream: TcpStream,
    conn: ConnectionId,
    input: mpsc::Sender<Input>,
    events: mpsc::UnboundedSender<IoEvent>,
) -> ConnTasks {
    let stream = Arc::new(stream);
    let (writer, mut chunks) = mpsc::channel::<Bytes>(2);
    let rd = stream.clone();
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let read = match rd.readable().await {
                Ok(()) => read_available(&rd, &mut buf),
                Err(e) => Err(e),
            };
            match read {
                Ok(0) => break,
                Ok(_) => {
                    let msg = Input {
                        conn,
                        data: Some(buf.split().freeze()),
                        tls_error: None,
                    };
                    if input.send(msg).await.is_err() {
                        return;
                    }
                }
                // Readiness can be stale; `try_read_buf` cleared it.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        let msg = Input {
            conn,
            data: None,
            tls_error: None,
        };
        let _ = input.send(msg).await;
    })
    .abort_handle();
    let wr = stream.clone();
    tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            if write_all_shared(&wr, &chunk).await.is_err() {
                let _ = events.send(IoEvent::Closed { conn });
                return;
            }
            if chunks.is_empty() {
                let _ = events.send(IoEvent::Drained { conn });
            }
        }
        // The driver's handle and the reader's may outlive this task: end
        // the write side now, after the last chunk, as closing would.
        let _ = socket2::SockRef::from(&*wr).shutdown(std::net::Shutdown::Write);
    });
    ConnTasks {
        writer,
        direct: Some(Direct::Plain(stream)),
        reader,
    }
}

/// Writes what of `chunk` fits into the socket's buffer now, without
/// waiting; returns how many bytes that was, and the rest if any (all of
/// it when the socket is full or failed: the writer task then waits, or
/// reports the error).
pub(crate) fn write_now(socket: &TcpStream, mut chunk: Bytes) -> (usize, Option<Bytes>) {
    match socket.try_write(&chunk) {
        Ok(n) if n == chunk.len() => (n, None),
        Ok(n) => {
            let _ = chunk.split_to(n);
            (n, Some(chunk))
        }
        Err(_) => (0, Some(chunk)),
    }
}

/// Writes all of `bytes` to a shared socket.
async fn write_all_shared(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Binds a listening socket with `SO_REUSEADDR`. An empty address means all
/// interfaces (dual-stack where the system allows it).
pub(crate) async fn bind(address: &str, port: u16) -> std::io::Result<TcpListener> {
    let candidates: Vec<SocketAddr> = if address.is_empty() {
        vec![
            SocketAddr::from(([0u16; 8], port)),
            SocketAddr::from(([0u8; 4], port)),
        ]
    } else {
        tokio::net::lookup_host((address, port)).await?.collect()
    };
    let mut last = std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind");
    for addr in candidates {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        };
        let attempt = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(1024)
        });
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Accepts connections until the task running it is aborted. With TLS, each
/// handshake runs in a task of its own (at most `MAX_PENDING_HANDSHAKES` at
/// once), owned by this one, so aborting the listener aborts them too.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    events: mpsc::UnboundedSender<IoEvent>,
    tls: Option<Arc<TlsConfig>>,
) {
    let mut handshakes = JoinSet::new();
    loop {
        while handshakes.try_join_next().is_some() {}
        if handshakes.len() >= MAX_PENDING_HANDSHAKES {
            handshakes.join_next().await;
            continue;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = handshakes.join_next() => continue,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                let Some(tls) = &tls else {
                    let stream = PeerStream::Plain(stream);
                    if events.send(IoEvent::Accepted { stream, remote }).is_err() {
                        return;
                    }
                    continue;
                };
                let tls = tls.clone();
                let events = events.clone();
                handshakes.spawn(async move {
                    let event = match tls.accept(stream).await {
                        Ok(stream) => IoEvent::Accepted {
                            stream: PeerStream::Tls(stream),
                            remote,
                        },
                        Err(e) => {
                            let message = format!("TLS handshake failed: {e}");
                            tracing::warn!("inbound connection from {remote}: {message}");
                            IoEvent::AcceptFailed { remote, message }
                        }
                    };
                    let _ = events.send(event);
                });
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                // Out of file descriptors and the like: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Dials `address:port` once, after `delay`, then runs the TLS handshake
/// (with `tls`) in the same task.
pub(crate) fn spawn_dial(
    request: u64,
    address: String,
    port: u16,
    delay: Duration,
    timeout: Duration,
    tls: Option<Arc<TlsConfig>>,
    events: mpsc::UnboundedSender<IoEvent>,
) -> AbortHandle {
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = tokio::time::timeout(timeout, async {
            let mut last = None;
            for addr in tokio::net::lookup_host((address.as_str(), port)).await? {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return Ok((stream, addr)),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address found")
            }))
        })
        .await;
        let event = match result {
            Ok(Ok((stream, remote))) => {
                let _ = stream.set_nodelay(true);
                match tls {
                    None => IoEvent::Connected {
                        request,
                        stream: PeerStream::Plain(stream),
                        remote,
                    },
                    Some(tls) => match tls.connect(&address, stream).await {
                        Ok(stream) => IoEvent::Connected {
                            request,
                            stream: PeerStream::Tls(stream),
                            remote,
                        },
                        Err(e) => IoEvent::ConnectFailed {
                            request,
                            message: format!("TLS handshake failed: {e}"),
                        },
                    },
                }
            }
            Ok(Err(e)) => IoEvent::ConnectFailed {
                request,
                message: format!("unable to connect to remote peer: {e}"),
            },
            Err(_) => IoEvent::ConnectFailed {
                request,
                message: "unable to connect to remote peer: connection attempt timed out".into(),
            },
        };
        let _ = events.send(event);
    })
    .abort_handle()
}

/// Signals that a redial is due after `delay`.
pub(crate) fn spawn_redial_timer(
    request: u64,
    delay: Duration,
    events: mpsc::UnboundedSender<IoEvent>,
) -> AbortHandle {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = events.send(IoEvent::RedialDue { request });
    })
    .abort_handle()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn shared<S: AsyncRead + AsyncWrite>(stream: S) -> SharedWriter<S> {
        SharedWriter(std::sync::Mutex::new(tokio::io::split(stream).1))
    }

    /// A stream with room for everything takes the whole chunk, and the
    /// peer reads it.
    #[tokio::test]
    async fn a_stream_write_that_fits_leaves_at_once() {
        let (ours, mut peer) = tokio::io::duplex(1024);
        let writer = shared(ours);
        let chunk = Bytes::from_static(b"a whole chunk");
        assert_eq!(writer.write_now(chunk.clone()), (chunk.len(), None));
        let mut got = vec![0u8; chunk.len()];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, chunk);
    }

    /// A stream with room for part of the chunk: the rest, in order, is
    /// left for the writer task.
    #[tokio::test]
    async fn a_stream_write_that_fills_the_stream_leaves_the_rest() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let writer = shared(ours);
        let chunk: Bytes = (0..200u8).collect::<Vec<u8>>().into();
        let (taken, rest) = writer.write_now(chunk.clone());
        assert_eq!(taken, 64);
        assert_eq!(rest.as_deref(), Some(&chunk[64..]));
        // Nothing more fits until the peer reads.
        let (taken, rest) = writer.write_now(rest.unwrap());
        assert_eq!((taken, rest.map(|r| r.len())), (0, Some(136)));
        let mut got = vec![0u8; 64];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, chunk[..64]);
    }

    /// A buffered stream (OpenSSL's records wait in a write buffer) that
    /// takes the whole chunk but cannot flush it all: an empty chunk asks
    /// the writer task to flush, and the flush delivers every byte.
    #[tokio::test]
    async fn a_stream_write_left_in_a_buffer_asks_for_a_flush() {
        let (ours, mut peer) = tokio::io::duplex(16);
        let writer = shared(tokio::io::BufWriter::with_capacity(256, ours));
        let chunk: Bytes = (0..100u8).collect::<Vec<u8>>().into();
        let (taken, rest) = writer.write_now(chunk.clone());
        assert_eq!(taken, 100);
        assert_eq!(rest, Some(Bytes::new()));
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; 100];
            peer.read_exact(&mut got).await.unwrap();
            got
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), writer.flush())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reader.await.unwrap(), chunk);
    }

    /// A connected loopback pair: ours, and the peer's end.
    async fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        (socket, peer)
    }

    #[tokio::test]
    async fn a_direct_write_leaves_what_does_not_fit_for_the_writer_in_order() {
        let (socket, mut peer) = tcp_pair().await;
        // A small send buffer, and nobody reading yet: a large chunk cannot
        // fit at once.
        let sock = socket2::SockRef::from(&socket);
        sock.set_send_buffer_size(4096).unwrap();
        let chunk: Vec<u8> = (0..8_000_000u32).map(|i| (i % 251) as u8).collect();
        let (written, rest) = write_now(&socket, Bytes::from(chunk.clone()));
        let rest = rest.expect("a rest");
        assert!(written < chunk.len(), "{written}");
        assert_eq!(written + rest.len(), chunk.len());
        assert_eq!(&rest[..], &chunk[written..]);
        // The writer's part, while the peer reads: the bytes arrive whole
        // and in order.
        sock.set_send_buffer_size(1 << 20).unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.unwrap();
            got
        });
        write_all_shared(&socket, &rest).await.unwrap();
        drop(socket);
        let got = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("read in time")
            .unwrap();
        assert!(got == chunk, "{} bytes arrived", got.len());
    }

    /// Whether the stream reports read readiness without waiting.
    async fn ready_now(stream: &TcpStream) -> bool {
        tokio::time::timeout(Duration::ZERO, stream.readable())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_read_that_leaves_room_clears_readiness_and_loses_nothing() {
        use tokio::io::AsyncWriteExt;
        let (socket, mut peer) = tcp_pair().await;
        let wait = |s| tokio::time::timeout(Duration::from_secs(10), s);

        // A short read: readiness is gone without a second `recv`.
        peer.write_all(b"0123456789").await.unwrap();
        wait(socket.readable()).await.unwrap().unwrap();
        let mut buf = BytesMut::with_capacity(1024);
        assert_eq!(read_available(&socket, &mut buf).unwrap(), 10);
        assert!(
            !ready_now(&socket).await,
            "readiness left after a short read"
        );

        // What comes next raises readiness again, and arrives.
        peer.write_all(b"abc").await.unwrap();
        wait(socket.readable()).await.unwrap().unwrap();
        assert_eq!(read_available(&socket, &mut buf).unwrap(), 3);
        assert_eq!(&buf[..], b"0123456789abc");

        // A read that fills the buffer may have left bytes: readiness stays,
        // and the rest is read next.
        let more: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        peer.write_all(&more).await.unwrap();
        let mut small = BytesMut::with_capacity(1000);
        let mut got = Vec::new();
        wait(socket.readable()).await.unwrap().unwrap();
        while got.len() < more.len() {
            let room = small.capacity() - small.len();
            let n = read_available(&socket, &mut small).unwrap();
            if n == room {
                assert!(ready_now(&socket).await, "readiness lost after a full read");
            }
            got.extend_from_slice(&small.split());
            small.reserve(1000);
            if got.len() < more.len() {
                wait(socket.readable()).await.unwrap().unwrap();
            }
        }
        assert_eq!(got, more);

        // End of stream still reads as 0.
        drop(peer);
        wait(socket.readable()).await.unwrap().unwrap();
        let mut end = BytesMut::with_capacity(64);
        assert_eq!(read_available(&socket, &mut end).unwrap(), 0);
    }
}
