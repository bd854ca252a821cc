//! TLS for peerings, from Broker's SSL options, on rustls with the *ring*
//! provider (TLS 1.2 and 1.3).
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
//! * **Default** (no `ssl_*` option set): encrypted but **not authenticated**.
//!   Broker uses anonymous ECDH (`AECDH-AES256-SHA`) here, which rustls does not
//!   offer; instead each endpoint generates a self-signed certificate when it
//!   starts, both sides present their certificate (the server asks the client
//!   for one, so the two directions are symmetric), and each side accepts any
//!   certificate while still checking that the peer holds its private key (the
//!   handshake signature). Confidential against passive listeners, open to an
//!   active man in the middle, exactly like Broker's default — and it only
//!   peers with broker-rs endpoints.
//! * **Authenticated** (any of `ssl_cafile`, `ssl_capath`, `ssl_certificate`,
//!   `ssl_keyfile`, `ssl_passphrase` set): mutual TLS on every connection; each
//!   side's chain must lead to a certificate of `ssl_cafile`/`ssl_capath`. Host
//!   names are not checked, as in Broker, unless `ssl_verify_hostname` is set.

mod rustls_configs;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tokio::net::TcpStream;

use crate::options::Options;
use rustls_configs::{authenticated, unauthenticated};

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
    /// rustls refused the configuration, or the ephemeral certificate could
    /// not be generated.
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
    /// Encrypted with ephemeral self-signed certificates; any peer certificate
    /// is accepted.
    Unauthenticated,
    /// Mutual TLS with certificates chaining to the configured CAs.
    Authenticated,
}

/// The TLS side of an endpoint: client and server configurations built from
/// [`Options`].
#[derive(Clone)]
pub struct TlsConfig {
    mode: TlsMode,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// The WebSocket gateway's server side: in the default mode it asks for
    /// no client certificate (third-party clients have none); otherwise the
    /// same mutual TLS as peering.
    websocket_server: Arc<ServerConfig>,
    verify_hostname: bool,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("mode", &self.mode)
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

impl TlsConfig {
    /// The configuration `options` ask for; `None` with `disable_ssl`.
    pub fn from_options(options: &Options) -> Result<Option<TlsConfig>, TlsError> {
        if options.disable_ssl {
            return Ok(None);
        }
        let provider = provider();
        let (mode, client, server, websocket_server) = if options.authentication_enabled() {
            let (client, server) = authenticated(options, &provider)?;
            let server = Arc::new(server);
            (TlsMode::Authenticated, client, server.clone(), server)
        } else {
            if options.ssl_verify_hostname {
                return Err(TlsError::MissingOption {
                    option: "ssl_cafile or ssl_capath",
                    why: "ssl_verify_hostname needs certificates to check names against",
                });
            }
            let (client, server, websocket_server) = unauthenticated(&provider)?;
            (
                TlsMode::Unauthenticated,
                client,
                Arc::new(server),
                Arc::new(websocket_server),
            )
        };
        Ok(Some(TlsConfig {
            mode,
            client: Arc::new(client),
            server,
            websocket_server,
            verify_hostname: options.ssl_verify_hostname,
            handshake_timeout: options.handshake_timeout,
        }))
    }

    /// The mode.
    pub fn mode(&self) -> TlsMode {
        self.mode
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

    /// Runs the client side of a handshake over `stream` (dialed to `host`),
    /// within the handshake timeout. The error text names the cause.
    pub(crate) async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = self.server_name(host)?;
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        match tokio::time::timeout(self.handshake_timeout, connector.connect(name, stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => Err(describe_io_error(&e)),
            Err(_) => Err(format!("timed out after {:?}", self.handshake_timeout)),
        }
    }

    /// Runs the server side of a handshake over an accepted `stream`, within
    /// the handshake timeout. The error text names the cause.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        self.accept_with(self.server.clone(), stream).await
    }

    /// Like [`TlsConfig::accept`], for a WebSocket client.
    pub(crate) async fn accept_websocket(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        self.accept_with(self.websocket_server.clone(), stream)
            .await
    }

    async fn accept_with(
        &self,
        config: Arc<ServerConfig>,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => Err(describe_io_error(&e)),
            Err(_) => Err(format!("timed out after {:?}", self.handshake_timeout)),
        }
    }
}

/// The text of an I/O error from a TLS stream: the rustls error where there is
/// one ("invalid peer certificate: UnknownIssuer"), else the I/O error.
pub(crate) fn describe_io_error(e: &std::io::Error) -> String {
    match tls_error(e) {
        Some(tls @ rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            format!("{tls} (is SSL disabled on the peer?)")
        }
        Some(tls) => tls.to_string(),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the TLS handshake".into()
        }
        None => e.to_string(),
    }
}

/// The rustls error inside an I/O error, if any.
pub(crate) fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
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
