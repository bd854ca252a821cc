//! Socket tasks: listeners, dialers, and per-connection reader and writer
//! tasks that only move bytes between a socket and the driver.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::proto::ConnectionId;

/// How much a reader reads at once.
const READ_CHUNK: usize = 64 * 1024;

/// Events from socket tasks to the driver.
pub(crate) enum IoEvent {
    /// A listener accepted a connection.
    Accepted {
        stream: TcpStream,
        remote: SocketAddr,
    },
    /// A dial succeeded.
    Connected {
        request: u64,
        stream: TcpStream,
        remote: SocketAddr,
    },
    /// A dial failed.
    ConnectFailed { request: u64, error: String },
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
}

/// The driver's side of a connection's tasks.
pub(crate) struct ConnTasks {
    /// Chunks to write; dropping it closes the write side after the last chunk.
    pub(crate) writer: mpsc::Sender<Vec<u8>>,
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
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (writer, mut chunks) = mpsc::channel::<Vec<u8>>(2);
    let reader = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let data = Some(buf.split().freeze());
                    if input.send(Input { conn, data }).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = input.send(Input { conn, data: None }).await;
    })
    .abort_handle();
    tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            if wr.write_all(&chunk).await.is_err() {
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
    ConnTasks { writer, reader }
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

/// Accepts connections until the task running it is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, events: mpsc::UnboundedSender<IoEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                if events.send(IoEvent::Accepted { stream, remote }).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                // Out of file descriptors and the like: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Dials `address:port` once, after `delay`.
pub(crate) fn spawn_dial(
    request: u64,
    address: String,
    port: u16,
    delay: Duration,
    timeout: Duration,
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
                IoEvent::Connected {
                    request,
                    stream,
                    remote,
                }
            }
            Ok(Err(e)) => IoEvent::ConnectFailed {
                request,
                error: e.to_string(),
            },
            Err(_) => IoEvent::ConnectFailed {
                request,
                error: "connection attempt timed out".into(),
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
