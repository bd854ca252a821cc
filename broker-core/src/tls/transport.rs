//! TLS connections outside an endpoint: the handshake and record layer a
//! peering of this configuration uses, over a socket the caller owns and
//! with no Broker protocol on top. `broker bench --raw` measures the
//! transport with them (what TLS itself costs on a machine); they also serve
//! tools that need Broker's TLS settings without an endpoint.

use std::fmt;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::{ClientConnection, ServerConnection, StreamOwned};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{TlsConfig, TlsStream};

/// A TLS connection on tokio, handshake done (see [`TlsConfig::connect_stream`]).
pub struct TlsConnection(TlsStream);

impl fmt::Debug for TlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            TlsStream::Rustls(_) => "TlsConnection(rustls)",
            #[cfg(feature = "openssl")]
            TlsStream::OpenSsl(_) => "TlsConnection(OpenSSL)",
        })
    }
}

/// Forwards a poll to the stream of either TLS stack.
macro_rules! either {
    ($self:ident, $s:ident => $e:expr) => {
        match &mut $self.get_mut().0 {
            TlsStream::Rustls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            #[cfg(feature = "openssl")]
            TlsStream::OpenSsl($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_shutdown(cx))
    }
}

/// A TLS connection on a blocking socket, handshake done (see
/// [`TlsConfig::connect_blocking`]). Writes are sent when written: each
/// `write` is a record of its own and `flush` does nothing more.
pub struct BlockingTlsConnection(Blocking);

enum Blocking {
    RustlsClient(Box<StreamOwned<ClientConnection, std::net::TcpStream>>),
    RustlsServer(Box<StreamOwned<ServerConnection, std::net::TcpStream>>),
    #[cfg(feature = "openssl")]
    OpenSsl(Box<openssl::ssl::SslStream<std::net::TcpStream>>),
}

impl fmt::Debug for BlockingTlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Blocking::RustlsClient(_) | Blocking::RustlsServer(_) => {
                "BlockingTlsConnection(rustls)"
            }
            #[cfg(feature = "openssl")]
            Blocking::OpenSsl(_) => "BlockingTlsConnection(OpenSSL)",
        })
    }
}

impl Read for BlockingTlsConnection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Blocking::RustlsClient(s) => s.read(buf),
            Blocking::RustlsServer(s) => s.read(buf),
            #[cfg(feature = "openssl")]
            Blocking::OpenSsl(s) => s.read(buf),
        }
    }
}

impl Write for BlockingTlsConnection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            // rustls queues the record; flushing sends it, so that every
            // write leaves at once on both stacks.
            Blocking::RustlsClient(s) => s.write(buf).and_then(|n| s.flush().map(|()| n)),
            Blocking::RustlsServer(s) => s.write(buf).and_then(|n| s.flush().map(|()| n)),
            #[cfg(feature = "openssl")]
            Blocking::OpenSsl(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Blocking::RustlsClient(s) => s.flush(),
            Blocking::RustlsServer(s) => s.flush(),
            #[cfg(feature = "openssl")]
            Blocking::OpenSsl(s) => s.flush(),
        }
    }
}

impl TlsConfig {
    /// Runs the client side of the handshake a peering dialing `host` runs,
    /// within the handshake timeout, and returns the connection.
    pub async fn connect_stream(&self, host: &str, stream: TcpStream) -> io::Result<TlsConnection> {
        self.connect(host, stream)
            .await
            .map(TlsConnection)
            .map_err(io::Error::other)
    }

    /// Runs the server side of the handshake a listener runs (with Broker's
    /// anonymous TLS: OpenSSL for a client that offers its suite, rustls for
    /// any other), within the handshake timeout.
    pub async fn accept_stream(&self, stream: TcpStream) -> io::Result<TlsConnection> {
        self.accept(stream)
            .await
            .map(TlsConnection)
            .map_err(io::Error::other)
    }

    /// [`TlsConfig::connect_stream`] on a blocking socket; the handshake
    /// timeout bounds each read and write of the handshake.
    pub fn connect_blocking(
        &self,
        host: &str,
        stream: std::net::TcpStream,
    ) -> io::Result<BlockingTlsConnection> {
        self.bounded_blocking(stream, |stream| {
            #[cfg(feature = "openssl")]
            if let Some(anonymous) = &self.anonymous {
                return Ok(Blocking::OpenSsl(Box::new(
                    anonymous.connect_blocking(stream)?,
                )));
            }
            let name = self.server_name(host).map_err(io::Error::other)?;
            let conn =
                ClientConnection::new(Arc::clone(&self.client), name).map_err(io::Error::other)?;
            Ok(Blocking::RustlsClient(Box::new(handshake(conn, stream)?)))
        })
    }

    /// [`TlsConfig::accept_stream`] on a blocking socket; the handshake
    /// timeout bounds each read and write of the handshake.
    pub fn accept_blocking(
        &self,
        stream: std::net::TcpStream,
    ) -> io::Result<BlockingTlsConnection> {
        self.bounded_blocking(stream, |stream| {
            #[cfg(feature = "openssl")]
            if let Some(anonymous) = &self.anonymous
                && offers_anonymous_suite_blocking(&stream, self.handshake_timeout)?
            {
                return Ok(Blocking::OpenSsl(Box::new(
                    anonymous.accept_blocking(stream)?,
                )));
            }
            let conn = ServerConnection::new(Arc::clone(&self.server)).map_err(io::Error::other)?;
            Ok(Blocking::RustlsServer(Box::new(handshake(conn, stream)?)))
        })
    }

    /// Runs `handshake` with the socket's timeouts set to the handshake
    /// timeout, then clears them.
    fn bounded_blocking(
        &self,
        stream: std::net::TcpStream,
        handshake: impl FnOnce(std::net::TcpStream) -> io::Result<Blocking>,
    ) -> io::Result<BlockingTlsConnection> {
        let socket = stream.try_clone()?;
        socket.set_read_timeout(Some(self.handshake_timeout))?;
        socket.set_write_timeout(Some(self.handshake_timeout))?;
        let tls = handshake(stream)?;
        socket.set_read_timeout(None)?;
        socket.set_write_timeout(None)?;
        Ok(BlockingTlsConnection(tls))
    }
}

/// Runs a rustls handshake to its end on a blocking socket.
fn handshake<C, D>(
    conn: C,
    stream: std::net::TcpStream,
) -> io::Result<StreamOwned<C, std::net::TcpStream>>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    let mut tls = StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Whether the ClientHello waiting on `stream` offers Broker's anonymous
/// suite (the blocking form of the listener's check), within `timeout`.
#[cfg(feature = "openssl")]
fn offers_anonymous_suite_blocking(
    stream: &std::net::TcpStream,
    timeout: std::time::Duration,
) -> io::Result<bool> {
    use super::client_hello::{MAX_PEEK, Peeked, offers_suite};
    let deadline = std::time::Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_PEEK];
    loop {
        // `peek` waits (up to the socket's read timeout) only while nothing
        // is there; a hello that stops halfway is bounded here.
        if std::time::Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out after {timeout:?} waiting for the TLS ClientHello"),
            ));
        }
        let n = stream.peek(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection during the TLS handshake",
            ));
        }
        match offers_suite(&buf[..n], super::anonymous::AECDH_AES256_SHA) {
            Peeked::Hello { offered } => return Ok(offered),
            Peeked::NotHello => return Ok(false),
            Peeked::NeedMore if n == buf.len() => return Ok(false),
            // `peek` returns at once while bytes wait: give the rest of the
            // hello a moment to arrive.
            Peeked::NeedMore => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::options::{Options, UnauthenticatedTls};

    fn config(unauthenticated_tls: UnauthenticatedTls) -> Arc<TlsConfig> {
        let options = Options {
            unauthenticated_tls,
            handshake_timeout: Duration::from_secs(5),
            ..Options::default()
        };
        Arc::new(TlsConfig::from_options(&options).unwrap().unwrap())
    }

    fn modes() -> Vec<(UnauthenticatedTls, &'static str)> {
        let mut modes = vec![(UnauthenticatedTls::EphemeralCertificates, "rustls")];
        if cfg!(feature = "openssl") {
            modes.push((UnauthenticatedTls::Anonymous, "OpenSSL"));
        }
        modes
    }

    /// An echo of one message over a connection made with `connect_stream`
    /// and `accept_stream`, on the stack the mode names.
    #[tokio::test]
    async fn async_connections_carry_bytes_both_ways() {
        for (mode, stack) in modes() {
            let tls = config(mode);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server_tls = Arc::clone(&tls);
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut conn = server_tls.accept_stream(tcp).await.unwrap();
                let kind = format!("{conn:?}");
                let mut buf = [0u8; 5];
                conn.read_exact(&mut buf).await.unwrap();
                conn.write_all(&buf).await.unwrap();
                conn.flush().await.unwrap();
                kind
            });
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut conn = tls.connect_stream("127.0.0.1", tcp).await.unwrap();
            assert!(format!("{conn:?}").contains(stack), "{conn:?}");
            conn.write_all(b"hello").await.unwrap();
            conn.flush().await.unwrap();
            let mut echo = [0u8; 5];
            tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut echo))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&echo, b"hello");
            let server_kind = server.await.unwrap();
            assert!(server_kind.contains(stack), "{server_kind}");
        }
    }

    /// The blocking forms against each other and against the async forms.
    #[test]
    fn blocking_connections_talk_to_blocking_and_async_peers() {
        for (mode, stack) in modes() {
            let tls = config(mode);
            // Blocking on both sides.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let server_tls = Arc::clone(&tls);
            let server = std::thread::spawn(move || {
                let (tcp, _) = listener.accept().unwrap();
                let mut conn = server_tls.accept_blocking(tcp).unwrap();
                let mut buf = [0u8; 4];
                conn.read_exact(&mut buf).unwrap();
                conn.write_all(&buf).unwrap();
                format!("{conn:?}")
            });
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut conn = tls.connect_blocking("127.0.0.1", tcp).unwrap();
            conn.write_all(b"ping").unwrap();
            let mut echo = [0u8; 4];
            conn.read_exact(&mut echo).unwrap();
            assert_eq!(&echo, b"ping");
            assert!(format!("{conn:?}").contains(stack), "{conn:?}");
            assert!(server.join().unwrap().contains(stack));

            // A blocking client against an async server.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let server_tls = Arc::clone(&tls);
            let client_tls = Arc::clone(&tls);
            let client = std::thread::spawn(move || {
                let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut conn = client_tls.connect_blocking("127.0.0.1", tcp).unwrap();
                conn.write_all(b"pong").unwrap();
                let mut echo = [0u8; 4];
                conn.read_exact(&mut echo).unwrap();
                echo
            });
            rt.block_on(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut conn = server_tls.accept_stream(tcp).await.unwrap();
                let mut buf = [0u8; 4];
                conn.read_exact(&mut buf).await.unwrap();
                conn.write_all(&buf).await.unwrap();
                conn.flush().await.unwrap();
            });
            assert_eq!(&client.join().unwrap(), b"pong");
        }
    }

    /// A configuration whose handshakes give up after 300 ms.
    fn quick_to_give_up(unauthenticated_tls: UnauthenticatedTls) -> TlsConfig {
        let options = Options {
            unauthenticated_tls,
            handshake_timeout: Duration::from_millis(300),
            ..Options::default()
        };
        TlsConfig::from_options(&options).unwrap().unwrap()
    }

    /// A client that says nothing, one whose hello stops halfway, and one
    /// that sends garbage: the blocking accept gives up after the handshake
    /// timeout, or at once, with an error each time.
    #[test]
    fn a_blocking_accept_is_bounded_and_refuses_garbage() {
        for (mode, _) in modes() {
            let tls = quick_to_give_up(mode);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            // How long a blocking accept of a client that sends `bytes` takes
            // to fail.
            let refused_after = |bytes: &[u8]| {
                let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                client.write_all(bytes).unwrap();
                let (accepted, _) = listener.accept().unwrap();
                let start = std::time::Instant::now();
                assert!(tls.accept_blocking(accepted).is_err());
                let took = start.elapsed();
                assert!(took < Duration::from_secs(10), "{took:?}");
                took
            };
            let silent = refused_after(&[]);
            // A record header announcing 200 bytes of handshake, and 10 of them.
            let partial = refused_after(&[0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3, 0, 0, 0, 0]);
            for took in [silent, partial] {
                assert!(took >= Duration::from_millis(250), "{took:?}");
            }
            refused_after(b"\x16\x03\x01\x00\x05\x01\x02\x03\x04\x05GET / HTTP/1.1\r\n\r\n");
        }
    }

    /// A server that never answers the ClientHello: the blocking handshake
    /// gives up after the handshake timeout with an error.
    #[test]
    fn a_blocking_handshake_is_bounded_by_the_handshake_timeout() {
        for (mode, _) in modes() {
            let tls = quick_to_give_up(mode);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _silent = listener.accept().unwrap();
            let start = std::time::Instant::now();
            assert!(tls.connect_blocking("127.0.0.1", tcp).is_err());
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(250) && took < Duration::from_secs(10),
                "{took:?}"
            );
        }
    }
}
