//! TLS for peerings, from Broker's SSL options: Broker's anonymous TLS on
//! OpenSSL (the `openssl` feature, on by default) and certificates on rustls
//! with the *ring* provider.
//!
//! The configuration is built once, when the endpoint is built
//! ([`Endpoint::new`](crate::runtime::Endpoint::new)), so that every
//! configuration mistake (a missing file, a wrong passphrase, a key that does
//! not match its certificate) surfaces there as a [`TlsError`] naming the file,
//! and never later during a handshake.
//!
//! Three modes, chosen as Broker chooses them:
//!
//! * `disable_ssl`: plain TCP; no TLS configuration is built at all.
//! * **Default** (no `ssl_*` option set): encrypted but **not authenticated**:
//!   confidential against passive listeners, open to an active man in the
//!   middle, exactly like Broker's default. What it speaks is
//!   [`Options::unauthenticated_tls`]:
//!   - [`UnauthenticatedTls::Anonymous`] (the default with the `openssl`
//!     feature): Broker's own settings, TLS 1.2 with anonymous ECDH
//!     (`AECDH-AES256-SHA`, security level 0, curve P-384) and no
//!     certificates, so it peers with Zeek and Broker as they are configured
//!     by default. A listener looks at each ClientHello: a client offering
//!     Broker's anonymous suite gets OpenSSL, any other client gets the rustls
//!     side below, so broker-rs endpoints built without OpenSSL still peer.
//!   - [`UnauthenticatedTls::EphemeralCertificates`] (the default without the
//!     feature): rustls, which has no anonymous suites. Each endpoint
//!     generates a self-signed certificate when it starts, presents it, and
//!     accepts any peer certificate whose key signed the handshake. Peers with
//!     every broker-rs endpoint and accepts Broker's clients (they negotiate
//!     TLS 1.3 and do not check the certificate), but cannot dial a Broker
//!     listener, which only speaks the anonymous suite.
//! * **Authenticated** (any of `ssl_cafile`, `ssl_capath`, `ssl_certificate`,
//!   `ssl_keyfile`, `ssl_passphrase` set): mutual TLS on every connection; each
//!   side's chain must lead to a certificate of `ssl_cafile`/`ssl_capath`. Host
//!   names are not checked, as in Broker, unless `ssl_verify_hostname` is set.

#[cfg(feature = "openssl")]
mod anonymous;
#[cfg(feature = "openssl")]
mod client_hello;
mod rustls_configs;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tokio::net::TcpStream;

use crate::options::{Options, UnauthenticatedTls};
use rustls_configs::{Ephemeral, authenticated, unauthenticated};
pub use transport::{BlockingTlsConnection, TlsConnection};

#[cfg(feature = "openssl")]
pub use anonymous::{CIPHER_LIST as ANONYMOUS_CIPHER_LIST, GROUPS as ANONYMOUS_GROUPS};

/// The server name sent when the dialed host is not a DNS name and host
/// names are not checked (the name then has no meaning).
pub(crate) const PLACEHOLDER_SERVER_NAME: &str = "broker";

/// A TLS configuration that cannot be used. Every variant that concerns a
/// file names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Authentication is on but a needed option is empty.
    #[error(
        "TLS authentication is enabled (an ssl_* option is set) but {option} is not set: {why}"
    )]
    MissingOption {
        /// The option (or options) to set.
        option: &'static str,
        /// Why it is needed.
        why: &'static str,
    },
    /// A file or directory cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate file holds no PEM certificate.
    #[error("no PEM certificate found in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A certificate cannot be parsed or used.
    #[error("invalid certificate in {}: {reason}", path.display())]
    InvalidCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A CA directory holds no usable certificate.
    #[error("no CA certificate found in directory {}", path.display())]
    EmptyCaDir {
        /// The directory.
        path: PathBuf,
    },
    /// A private key cannot be read (no key, unsupported format, bad encoding).
    #[error("cannot read the private key in {}: {reason}", path.display())]
    InvalidKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A private key is encrypted and no passphrase was given.
    #[error("the private key in {} is encrypted but ssl_passphrase is empty", path.display())]
    MissingPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// A private key cannot be decrypted with the passphrase.
    #[error(
        "cannot decrypt the private key in {}: wrong passphrase (or unsupported encryption)",
        path.display()
    )]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The private key is not the certificate's.
    #[error(
        "the private key in {} does not match the certificate in {}",
        key.display(),
        certificate.display()
    )]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        certificate: PathBuf,
    },
    /// [`UnauthenticatedTls::Anonymous`] was asked for in a build without the
    /// `openssl` feature.
    #[error(
        "Broker's anonymous TLS needs the `openssl` feature, which this build lacks; \
         use UnauthenticatedTls::EphemeralCertificates (peers with broker-rs only)"
    )]
    AnonymousUnavailable,
    /// The TLS library refused the configuration, or the ephemeral
    /// certificate could not be generated.
    #[error("cannot build the TLS configuration: {reason}")]
    Config {
        /// What went wrong.
        reason: String,
    },
}

pub(crate) fn config_error(e: impl fmt::Display) -> TlsError {
    TlsError::Config {
        reason: e.to_string(),
    }
}

/// Which kind of TLS an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Encrypted but not authenticated (Broker's default); what it speaks is
    /// [`TlsConfig::unauthenticated_tls`].
    Unauthenticated,
    /// Mutual TLS with certificates chaining to the configured CAs.
    Authenticated,
}

/// The TLS side of an endpoint: client and server configurations built from
/// [`Options`].
#[derive(Clone)]
pub struct TlsConfig {
    mode: TlsMode,
    /// rustls: peering in the authenticated mode and with ephemeral
    /// certificates; the WebSocket client always.
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// The WebSocket gateway's server side: in the default mode it asks for
    /// no client certificate (third-party clients have none); otherwise the
    /// same mutual TLS as peering.
    websocket_server: Arc<ServerConfig>,
    /// Broker's anonymous TLS, in the default mode with
    /// [`UnauthenticatedTls::Anonymous`].
    #[cfg(feature = "openssl")]
    anonymous: Option<Arc<anonymous::Anonymous>>,
    verify_hostname: bool,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("mode", &self.mode)
            .field("unauthenticated_tls", &self.unauthenticated_tls())
            .field("verify_hostname", &self.verify_hostname)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The crypto provider, in one place (rustls 0.24 moves providers into
/// separate crates).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS connection over TCP, on either TLS stack.
pub(crate) enum TlsStream {
    /// rustls, client or server side.
    Rustls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// OpenSSL (Broker's anonymous TLS).
    #[cfg(feature = "openssl")]
    OpenSsl(Box<anonymous::Stream>),
}

impl TlsConfig {
    /// The configuration `options` ask for; `None` with `disable_ssl`.
    pub fn from_options(options: &Options) -> Result<Option<TlsConfig>, TlsError> {
        if options.disable_ssl {
            return Ok(None);
        }
        let provider = provider();
        if options.authentication_enabled() {
            let (client, server) = authenticated(options, &provider)?;
            let server = Arc::new(server);
            return Ok(Some(TlsConfig {
                mode: TlsMode::Authenticated,
                client: Arc::new(client),
                server: server.clone(),
                websocket_server: server,
                #[cfg(feature = "openssl")]
                anonymous: None,
                verify_hostname: options.ssl_verify_hostname,
                handshake_timeout: options.handshake_timeout,
            }));
        }
        if options.ssl_verify_hostname {
            return Err(TlsError::MissingOption {
                option: "ssl_cafile or ssl_capath",
                why: "ssl_verify_hostname needs certificates to check names against",
            });
        }
        let ephemeral = Ephemeral::generate()?;
        let (client, server, websocket_server) = unauthenticated(&provider, &ephemeral)?;
        #[cfg(feature = "openssl")]
        let anonymous = match options.unauthenticated_tls {
            UnauthenticatedTls::Anonymous => Some(Arc::new(anonymous::Anonymous::new(
                &ephemeral.certificate,
                ephemeral.key.secret_pkcs8_der(),
            )?)),
            UnauthenticatedTls::EphemeralCertificates => None,
        };
        #[cfg(not(feature = "openssl"))]
        if options.unauthenticated_tls == UnauthenticatedTls::Anonymous {
            return Err(TlsError::AnonymousUnavailable);
        }
        Ok(Some(TlsConfig {
            mode: TlsMode::Unauthenticated,
            client: Arc::new(client),
            server: Arc::new(server),
            websocket_server: Arc::new(websocket_server),
            #[cfg(feature = "openssl")]
            anonymous,
            verify_hostname: false,
            handshake_timeout: options.handshake_timeout,
        }))
    }

    /// The mode.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// What the unauthenticated mode speaks; `None` in the authenticated
    /// mode.
    pub fn unauthenticated_tls(&self) -> Option<UnauthenticatedTls> {
        match self.mode {
            TlsMode::Authenticated => None,
            #[cfg(feature = "openssl")]
            TlsMode::Unauthenticated if self.anonymous.is_some() => {
                Some(UnauthenticatedTls::Anonymous)
            }
            TlsMode::Unauthenticated => Some(UnauthenticatedTls::EphemeralCertificates),
        }
    }

    /// The name to present for `host`: the host itself when host names are
    /// checked (an IP address then has to be in the certificate's IP SANs),
    /// otherwise the host if it is a DNS name, or a placeholder.
    fn server_name(&self, host: &str) -> Result<ServerName<'static>, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match ServerName::try_from(host.to_owned()) {
            Ok(name) if self.verify_hostname => Ok(name),
            Err(e) if self.verify_hostname => Err(format!("invalid host name {host:?}: {e}")),
            Ok(name @ ServerName::DnsName(_)) => Ok(name),
            _ => Ok(ServerName::DnsName(
                PLACEHOLDER_SERVER_NAME
                    .try_into()
                    .map_err(|e| format!("{e}"))?,
            )),
        }
    }

    /// Runs the client side of a peering's handshake over `stream` (dialed to
    /// `host`), within the handshake timeout. The error text names the cause.
    pub(crate) async fn connect(&self, host: &str, stream: TcpStream) -> Result<TlsStream, String> {
        self.bounded(async {
            #[cfg(feature = "openssl")]
            if let Some(anonymous) = &self.anonymous {
                let tls = anonymous.connect(stream).await?;
                return Ok(TlsStream::OpenSsl(Box::new(tls)));
            }
            let tls = self.connect_rustls(host, stream).await?;
            Ok(TlsStream::Rustls(Box::new(tls.into())))
        })
        .await
    }

    /// Runs the client side of a handshake on rustls (a peering without
    /// Broker's anonymous TLS, or a WebSocket connection), within the
    /// handshake timeout.
    pub(crate) async fn connect_rustls(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = self.server_name(host)?;
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        self.bounded(async {
            connector
                .connect(name, stream)
                .await
                .map_err(|e| self.describe_io_error(&e))
        })
        .await
    }

    /// Runs the server side of a peering's handshake over an accepted
    /// `stream`, within the handshake timeout. With Broker's anonymous TLS, a
    /// client that offers the anonymous suite gets OpenSSL and any other gets
    /// rustls. The error text names the cause.
    pub(crate) async fn accept(&self, stream: TcpStream) -> Result<TlsStream, String> {
        self.bounded(async {
            #[cfg(feature = "openssl")]
            if let Some(anonymous) = &self.anonymous
                && offers_anonymous_suite(&stream).await?
            {
                let tls = anonymous.accept(stream).await?;
                return Ok(TlsStream::OpenSsl(Box::new(tls)));
            }
            let tls = self.accept_rustls(self.server.clone(), stream).await?;
            Ok(TlsStream::Rustls(Box::new(tls.into())))
        })
        .await
    }

    /// Like [`TlsConfig::accept`], for a WebSocket client (always rustls).
    pub(crate) async fn accept_websocket(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        self.bounded(self.accept_rustls(self.websocket_server.clone(), stream))
            .await
    }

    async fn accept_rustls(
        &self,
        config: Arc<ServerConfig>,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        tokio_rustls::TlsAcceptor::from(config)
            .accept(stream)
            .await
            .map_err(|e| self.describe_io_error(&e))
    }

    /// `handshake`, or a timeout error after the handshake timeout.
    async fn bounded<T>(
        &self,
        handshake: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {:?}", self.handshake_timeout)))
    }

    /// The text of an I/O error from a rustls stream: the rustls error where
    /// there is one ("invalid peer certificate: UnknownIssuer"), with a hint
    /// where the usual cause is a peer in another mode.
    fn describe_io_error(&self, e: &std::io::Error) -> String {
        use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible};
        let Some(tls) = rustls_error(e) else {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the peer closed the connection during the TLS handshake".into()
            } else {
                e.to_string()
            };
        };
        let hint = match (tls, self.mode) {
            (Error::InvalidMessage(InvalidMessage::InvalidContentType), _) => {
                " (is SSL disabled on the peer?)"
            }
            (Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon), mode)
            | (Error::AlertReceived(AlertDescription::HandshakeFailure), mode) => match mode {
                TlsMode::Authenticated => {
                    " (the peer may speak Broker's anonymous TLS: it has no ssl_* options set, \
                     this endpoint does)"
                }
                TlsMode::Unauthenticated => {
                    " (the peer may speak Broker's anonymous TLS, which rustls cannot: use a \
                     build with the `openssl` feature and UnauthenticatedTls::Anonymous)"
                }
            },
            _ => "",
        };
        format!("{tls}{hint}")
    }
}

/// Whether the ClientHello waiting on `stream` offers Broker's anonymous
/// suite; the bytes stay in the socket for the handshake that follows.
#[cfg(feature = "openssl")]
async fn offers_anonymous_suite(stream: &TcpStream) -> Result<bool, String> {
    use client_hello::{MAX_PEEK, Peeked, offers_suite};
    let mut buf = vec![0u8; 2048];
    let mut seen = 0;
    loop {
        let n = stream.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the peer closed the connection during the TLS handshake".into());
        }
        match offers_suite(&buf[..n], anonymous::AECDH_AES256_SHA) {
            Peeked::Hello { offered } => return Ok(offered),
            Peeked::NotHello => return Ok(false),
            Peeked::NeedMore if n == buf.len() && n < MAX_PEEK => buf.resize(MAX_PEEK, 0),
            Peeked::NeedMore if n == buf.len() => return Ok(false),
            // Part of the hello is here and the socket stays readable until it
            // is read: wait a little for the rest instead of spinning.
            Peeked::NeedMore if n == seen => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Peeked::NeedMore => seen = n,
        }
    }
}

/// The text of the error that ended reading a TLS connection, if it was a
/// TLS error (a peer rejecting our certificate shows up here, after the TLS
/// 1.3 handshake looked complete to us).
pub(crate) fn read_error(e: &std::io::Error) -> Option<String> {
    if let Some(tls) = rustls_error(e) {
        return Some(tls.to_string());
    }
    #[cfg(feature = "openssl")]
    if let Some(ssl) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<openssl::ssl::Error>())
    {
        return Some(anonymous::describe_error(ssl));
    }
    None
}

/// The rustls error inside an I/O error, if any.
fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_build_an_unauthenticated_config() {
        let tls = TlsConfig::from_options(&Options::default())
            .unwrap()
            .unwrap();
        assert_eq!(tls.mode(), TlsMode::Unauthenticated);
    }

    #[test]
    fn disable_ssl_builds_nothing() {
        let options = Options {
            disable_ssl: true,
            ..Options::default()
        };
        assert!(TlsConfig::from_options(&options).unwrap().is_none());
    }

    #[test]
    fn authentication_needs_a_certificate_and_a_ca() {
        let options = Options {
            ssl_cafile: "/nonexistent/ca.pem".into(),
            ..Options::default()
        };
        assert!(matches!(
            TlsConfig::from_options(&options),
            Err(TlsError::MissingOption {
                option: "ssl_certificate",
                ..
            })
        ));
        let options = Options {
            ssl_verify_hostname: true,
            ..Options::default()
        };
        assert!(matches!(
            TlsConfig::from_options(&options),
            Err(TlsError::MissingOption { .. })
        ));
    }

    #[test]
    fn server_names() {
        let mut tls = TlsConfig::from_options(&Options::default())
            .unwrap()
            .unwrap();
        let dns = |n: &str| ServerName::try_from(n.to_owned()).unwrap();
        assert_eq!(tls.server_name("example.org").unwrap(), dns("example.org"));
        assert_eq!(tls.server_name("127.0.0.1").unwrap(), dns("broker"));
        assert_eq!(tls.server_name("::1").unwrap(), dns("broker"));
        tls.verify_hostname = true;
        assert_eq!(tls.server_name("127.0.0.1").unwrap(), dns("127.0.0.1"));
        assert_eq!(tls.server_name("[::1]").unwrap(), dns("::1"));
        assert!(tls.server_name("not a name").is_err());
    }
}
