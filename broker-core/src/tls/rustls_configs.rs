//! rustls configurations: the default mode's ephemeral certificates (when
//! the endpoint does not speak Broker's anonymous TLS) and the authenticated
//! mode, with the certificate, key and CA loading they need.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::{PLACEHOLDER_SERVER_NAME, TlsError, config_error};
use crate::options::Options;

// ---- default mode ---------------------------------------------------------

/// A self-signed certificate generated for this endpoint's lifetime, and its
/// key (PKCS#8).
pub(super) struct Ephemeral {
    pub(super) certificate: CertificateDer<'static>,
    pub(super) key: PrivatePkcs8KeyDer<'static>,
}

impl Ephemeral {
    pub(super) fn generate() -> Result<Ephemeral, TlsError> {
        let generated =
            rcgen::generate_simple_self_signed(vec![PLACEHOLDER_SERVER_NAME.to_owned()])
                .map_err(config_error)?;
        Ok(Ephemeral {
            certificate: generated.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()),
        })
    }
}

/// The default mode on rustls: each side presents `ephemeral` and accepts any
/// certificate whose key signed the handshake. The server asks for a client
/// certificate but does not insist, so clients without one (Broker's
/// anonymous client offers TLS 1.3 too) are served as well.
pub(super) fn unauthenticated(
    provider: &Arc<CryptoProvider>,
    ephemeral: &Ephemeral,
) -> Result<(ClientConfig, ServerConfig, ServerConfig), TlsError> {
    let chain = vec![ephemeral.certificate.clone()];
    let key = PrivateKeyDer::Pkcs8(ephemeral.key.clone_key());
    let any = Arc::new(AcceptAnyCertificate(provider.clone()));
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .dangerous()
        .with_custom_certificate_verifier(any.clone())
        .with_client_auth_cert(chain.clone(), key.clone_key())
        .map_err(config_error)?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_client_cert_verifier(any)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(config_error)?;
    let websocket_server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_error)?;
    Ok((client, server, websocket_server))
}

/// Accepts any certificate, but checks that the peer signed the handshake
/// with the certificate's key (default mode, both directions).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl AcceptAnyCertificate {
    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for AcceptAnyCertificate {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

// ---- authenticated mode -----------------------------------------------------

pub(super) fn authenticated(
    options: &Options,
    provider: &Arc<CryptoProvider>,
) -> Result<(ClientConfig, ServerConfig), TlsError> {
    if options.ssl_certificate.is_empty() {
        return Err(TlsError::MissingOption {
            option: "ssl_certificate",
            why: "both sides of a connection present a certificate",
        });
    }
    if options.ssl_cafile.is_empty() && options.ssl_capath.is_empty() {
        return Err(TlsError::MissingOption {
            option: "ssl_cafile or ssl_capath",
            why: "peer certificates are checked against these CAs",
        });
    }
    let cert_path = PathBuf::from(&options.ssl_certificate);
    // Without ssl_keyfile, the key is looked for in the certificate file.
    let key_path = if options.ssl_keyfile.is_empty() {
        cert_path.clone()
    } else {
        PathBuf::from(&options.ssl_keyfile)
    };
    let chain = load_certificates(&cert_path)?;
    let key = load_key(&key_path, &options.ssl_passphrase)?;
    // Check the key once here, to name the files in the error.
    match CertifiedKey::from_der(chain.clone(), key.clone_key(), provider) {
        Ok(_) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::KeyMismatch {
                key: key_path,
                certificate: cert_path,
            });
        }
        Err(e) => {
            return Err(TlsError::InvalidKey {
                path: key_path,
                reason: e.to_string(),
            });
        }
    }
    let roots = Arc::new(load_roots(options)?);

    let inner = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(config_error)?;
    let server_verifier: Arc<dyn ServerCertVerifier> = if options.ssl_verify_hostname {
        inner
    } else {
        Arc::new(ChainOnlyVerifier(inner))
    };
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .dangerous()
        .with_custom_certificate_verifier(server_verifier)
        .with_client_auth_cert(chain.clone(), key.clone_key())
        .map_err(config_error)?;

    let client_verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(config_error)?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)
        .map_err(config_error)?;
    Ok((client, server))
}

/// The stock verifier without the host-name check (Broker's behaviour):
/// the chain must still lead to a trusted CA, be valid now, and allow server
/// authentication.
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The PEM certificates of `text`; an error names `path`.
fn parse_certificates(path: &Path, text: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(text)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| TlsError::InvalidCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// A PEM certificate chain, leaf first.
fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = parse_certificates(path, &read_file(path)?)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// A PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), or PKCS#8 encrypted
/// with `passphrase` (PBES2; PBKDF2 or scrypt, AES or 3DES).
fn load_key(path: &Path, passphrase: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file(path)?;
    let invalid = |reason: String| TlsError::InvalidKey {
        path: path.to_owned(),
        reason,
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Some(start) = text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        if passphrase.is_empty() {
            return Err(TlsError::MissingPassphrase {
                path: path.to_owned(),
            });
        }
        let end_marker = "-----END ENCRYPTED PRIVATE KEY-----";
        let end = text[start..]
            .find(end_marker)
            .map(|i| start + i + end_marker.len())
            .ok_or_else(|| invalid("unterminated ENCRYPTED PRIVATE KEY section".into()))?;
        let (label, document) = pkcs8::SecretDocument::from_pem(&text[start..end])
            .map_err(|e| invalid(format!("bad PEM: {e}")))?;
        if label != "ENCRYPTED PRIVATE KEY" {
            return Err(invalid(format!("unexpected PEM label {label:?}")));
        }
        let encrypted = pkcs8::EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
            .map_err(|e| invalid(format!("bad encrypted key structure: {e}")))?;
        let plain = encrypted
            .decrypt(passphrase)
            .map_err(|_| TlsError::WrongPassphrase {
                path: path.to_owned(),
            })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(invalid(
            "legacy OpenSSL-encrypted PEM is not supported; convert it with \
             `openssl pkcs8 -topk8 -in OLD -out NEW`"
                .into(),
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            invalid("no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section".into())
        }
        e => invalid(e.to_string()),
    })
}

/// The trust store: every certificate of `ssl_cafile` and of the files in
/// `ssl_capath`.
fn load_roots(options: &Options) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    if !options.ssl_cafile.is_empty() {
        let path = PathBuf::from(&options.ssl_cafile);
        for cert in load_certificates(&path)? {
            roots.add(cert).map_err(|e| TlsError::InvalidCertificate {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    if !options.ssl_capath.is_empty() {
        let dir = PathBuf::from(&options.ssl_capath);
        let read_err = |source| TlsError::Read {
            path: dir.clone(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(read_err)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut added = 0usize;
        for file in files {
            // As OpenSSL's hashed directories, the directory may hold other
            // files: skip what is not PEM certificates.
            let Ok(bytes) = std::fs::read(&file) else {
                tracing::warn!("skipping unreadable file {} in ssl_capath", file.display());
                continue;
            };
            let Ok(certs) = parse_certificates(&file, &bytes) else {
                tracing::warn!("skipping {} in ssl_capath: not PEM", file.display());
                continue;
            };
            let (ok, ignored) = roots.add_parsable_certificates(certs);
            if ignored > 0 {
                tracing::warn!(
                    "ignored {ignored} unusable certificate(s) in {}",
                    file.display()
                );
            }
            added += ok;
        }
        if added == 0 {
            return Err(TlsError::EmptyCaDir { path: dir });
        }
    }
    Ok(roots)
}
