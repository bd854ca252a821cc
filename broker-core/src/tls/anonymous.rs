//! Broker's default TLS on OpenSSL: anonymous ECDH, as Broker's
//! `ssl_context_from_cfg` sets it up when no certificate option is given.
//!
//! What Broker configures (libbroker `internal/connector.cc`, one context for
//! both roles): `TLS_method()` with a minimum of TLS 1.2, `SSL_VERIFY_NONE`,
//! the group list `P-384`, and the cipher list `AECDH-AES256-SHA@SECLEVEL=0`
//! (`TLS_ECDH_anon_WITH_AES_256_CBC_SHA`, which OpenSSL 1.1+ only allows at
//! security level 0). A server without a certificate cannot negotiate TLS 1.3,
//! so two Broker endpoints always end up on TLS 1.2 with that one suite.
//!
//! Our server context is exactly that, with the maximum version pinned to
//! TLS 1.2 as well (anonymous suites do not exist in TLS 1.3). Our client
//! context offers what Broker's client offers (TLS 1.3's suites and
//! `AECDH-AES256-SHA`), and additionally holds the endpoint's ephemeral
//! certificate, presented only when a server asks for one: that is how it also
//! reaches broker-rs endpoints built without OpenSSL, whose rustls server picks
//! TLS 1.3 and asks every client for a certificate. Against Broker the
//! certificate is never sent (Broker's server asks for none).

use std::pin::Pin;

use openssl::dh::Dh;
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use tokio::io::BufWriter;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::TlsError;

/// Broker's cipher list in the unauthenticated mode (OpenSSL ≥ 1.1).
pub const CIPHER_LIST: &str = "AECDH-AES256-SHA@SECLEVEL=0";
/// What our contexts offer: an anonymous AEAD suite first
/// (`TLS_DH_anon_WITH_AES_256_GCM_SHA384`), then Broker's list. Broker offers
/// and accepts only its own suite, so a session with Broker or Zeek is
/// exactly Broker's; two broker-rs endpoints agree on AES-GCM, which this
/// machine runs three to four times as fast as AES-CBC with HMAC-SHA1 (see
/// security.md).
pub(crate) const OFFERED_CIPHER_LIST: &str = "ADH-AES256-GCM-SHA384:AECDH-AES256-SHA@SECLEVEL=0";
/// The finite-field group of the AEAD suite's key exchange: RFC 7919's
/// `ffdhe3072` (anonymous suites have no elliptic-curve AEAD variant).
const FFDHE3072: &[u8] = b"-----BEGIN DH PARAMETERS-----
MIIBiAKCAYEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEfz9zeNVs7ZRkDW7w09N75nAI4YbRvydbmyQd62R0mkff3
7lmMsPrBhtkcrv4TCYUTknC0EwyTvEN5RPT9RFLi103TZPLiHnH1S/9croKrnJ32
nuhtK8UiNjoNq8Uhl5sN6todv5pC1cRITgq80Gv6U93vPBsg7j/VnXwl5B0rZsYu
N///////////AgEC
-----END DH PARAMETERS-----
";
/// Broker's ECDH group list in the unauthenticated mode.
pub const GROUPS: &str = "P-384";
/// `TLS_ECDH_anon_WITH_AES_256_CBC_SHA`, the one suite of [`CIPHER_LIST`].
pub(crate) const AECDH_AES256_SHA: u16 = 0xC019;

/// An anonymous-TLS connection. OpenSSL writes each record with a write
/// call of its own; the buffer gathers the records of one `write_all` into
/// as few system calls as plain TCP needs (OpenSSL flushes it at the end of
/// each handshake flight, and the connection's writer after each chunk).
pub(crate) type Stream = SslStream<BufWriter<TcpStream>>;

/// `SSL_OP_NO_ENCRYPT_THEN_MAC` (OpenSSL 1.1.0 and later; the openssl crate
/// has no name for it).
const SSL_OP_NO_ENCRYPT_THEN_MAC: u64 = 1 << 19;

/// How many bytes of records are gathered before a system call.
const WRITE_BUFFER: usize = 64 * 1024;

/// The client and server contexts of the anonymous mode.
pub(crate) struct Anonymous {
    client: SslContext,
    server: SslContext,
}

impl Anonymous {
    /// Builds both contexts; `certificate` and `key` (DER) are the endpoint's
    /// ephemeral certificate, for servers that ask the client for one.
    pub(crate) fn new(certificate: &[u8], key: &[u8]) -> Result<Anonymous, TlsError> {
        let error = |what: &str, e: ErrorStack| TlsError::Config {
            reason: format!("OpenSSL: {what}: {}", describe_stack(&e)),
        };
        let mut client = broker_context(SslMethod::tls_client()).map_err(|e| error("client", e))?;
        let certificate = X509::from_der(certificate).map_err(|e| error("certificate", e))?;
        let key = PKey::private_key_from_der(key).map_err(|e| error("key", e))?;
        client
            .set_certificate(&certificate)
            .and_then(|()| client.set_private_key(&key))
            .and_then(|()| client.check_private_key())
            .map_err(|e| error("client certificate", e))?;
        let mut server = broker_context(SslMethod::tls_server()).map_err(|e| error("server", e))?;
        server
            .set_max_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| error("server", e))?;
        Ok(Anonymous {
            client: client.build(),
            server: server.build(),
        })
    }

    /// The client side of a handshake over `stream`.
    pub(crate) async fn connect(&self, stream: TcpStream) -> Result<Stream, String> {
        let mut tls = self.stream(&self.client, stream)?;
        Pin::new(&mut tls)
            .connect()
            .await
            .map_err(|e| describe_error(&e))?;
        Ok(tls)
    }

    /// The server side of a handshake over an accepted `stream`.
    pub(crate) async fn accept(&self, stream: TcpStream) -> Result<Stream, String> {
        let mut tls = self.stream(&self.server, stream)?;
        Pin::new(&mut tls)
            .accept()
            .await
            .map_err(|e| describe_error(&e))?;
        Ok(tls)
    }

    /// [`Anonymous::connect`] on a blocking socket.
    pub(crate) fn connect_blocking(
        &self,
        stream: std::net::TcpStream,
    ) -> std::io::Result<openssl::ssl::SslStream<std::net::TcpStream>> {
        Ssl::new(&self.client)
            .map_err(|e| std::io::Error::other(describe_stack(&e)))?
            .connect(stream)
            .map_err(|e| std::io::Error::other(describe_handshake(&e)))
    }

    /// [`Anonymous::accept`] on a blocking socket.
    pub(crate) fn accept_blocking(
        &self,
        stream: std::net::TcpStream,
    ) -> std::io::Result<openssl::ssl::SslStream<std::net::TcpStream>> {
        Ssl::new(&self.server)
            .map_err(|e| std::io::Error::other(describe_stack(&e)))?
            .accept(stream)
            .map_err(|e| std::io::Error::other(describe_handshake(&e)))
    }

    fn stream(&self, context: &SslContext, stream: TcpStream) -> Result<Stream, String> {
        let buffered = BufWriter::with_capacity(WRITE_BUFFER, stream);
        Ssl::new(context)
            .and_then(|ssl| SslStream::new(ssl, buffered))
            .map_err(|e| describe_stack(&e))
    }
}

/// A context with Broker's unauthenticated settings.
fn broker_context(method: SslMethod) -> Result<SslContextBuilder, ErrorStack> {
    let mut builder = SslContext::builder(method)?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_verify(SslVerifyMode::NONE);
    // Read as many records as the socket has at once (no read per record
    // header and per record body).
    builder.set_read_ahead(true);
    builder.set_options(SslOptions::from_bits_retain(SSL_OP_NO_ENCRYPT_THEN_MAC));
    builder.set_groups_list(GROUPS)?;
    builder.set_tmp_dh(&*Dh::params_from_pem(FFDHE3072)?)?;
    builder.set_cipher_list(OFFERED_CIPHER_LIST)?;
    Ok(builder)
}

/// The text of a failed blocking handshake.
fn describe_handshake<S>(e: &openssl::ssl::HandshakeError<S>) -> String {
    match e {
        openssl::ssl::HandshakeError::SetupFailure(stack) => describe_stack(stack),
        openssl::ssl::HandshakeError::Failure(mid)
        | openssl::ssl::HandshakeError::WouldBlock(mid) => describe_error(mid.error()),
    }
}

/// The reason of the first error on an OpenSSL error stack, or the stack.
fn describe_stack(stack: &ErrorStack) -> String {
    match stack.errors().first() {
        Some(first) => first
            .reason()
            .map_or_else(|| first.to_string(), ToOwned::to_owned),
        None => "unknown OpenSSL error".into(),
    }
}

/// The text of a failed handshake or read: OpenSSL's reason ("no shared
/// cipher", "sslv3 alert handshake failure"), with a hint where the reason
/// has a usual cause.
pub(crate) fn describe_error(e: &openssl::ssl::Error) -> String {
    if let Some(stack) = e.ssl_error() {
        let reason = describe_stack(stack);
        let hint = if reason.contains("wrong version number") || reason.contains("packet length") {
            " (is SSL disabled on the peer?)"
        } else if reason.contains("no shared cipher") || reason.contains("handshake failure") {
            " (the peer does not speak Broker's anonymous TLS: does it use certificates \
             (ssl_* options)?)"
        } else if reason.contains("certificate required") || reason.contains("unknown ca") {
            " (the peer requires authentication: set ssl_certificate and ssl_cafile here too)"
        } else {
            ""
        };
        return format!("{reason}{hint}");
    }
    match e.io_error() {
        Some(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the TLS handshake".into()
        }
        Some(io) => io.to_string(),
        None if e.code() == openssl::ssl::ErrorCode::SYSCALL => {
            "the peer closed the connection during the TLS handshake".into()
        }
        None => e.to_string(),
    }
}
