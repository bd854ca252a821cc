//! CURVE keys, as Zeek 8.2's ZeroMQ backend and zeekctl use them.

use std::fmt;

use super::ZmqError;

/// The environment variables Zeek reads the keys from.
pub const ENV_SERVER_PUBLIC: &str = "ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_SERVER_PUBLICKEY";
/// See [`ENV_SERVER_PUBLIC`].
pub const ENV_SERVER_SECRET: &str = "ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_SERVER_SECRETKEY";
/// See [`ENV_SERVER_PUBLIC`].
pub const ENV_CLIENT_PUBLIC: &str = "ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_CLIENT_PUBLICKEY";
/// See [`ENV_SERVER_PUBLIC`].
pub const ENV_CLIENT_SECRET: &str = "ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_CLIENT_SECRETKEY";

/// The 85 characters of Z85 (ZeroMQ RFC 32).
const Z85_ALPHABET: &str =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// A CURVE key: 32 bytes, written as 40 characters of Z85.
///
/// ```
/// use broker_core::zeromq::{CurveKey, CurveKeys};
///
/// let keys = CurveKeys::generate().unwrap();
/// let text = keys.server_public.as_ref().unwrap().to_z85();
/// assert_eq!(text.len(), 40);
/// let key = CurveKey::from_z85("server public key", &text).unwrap();
/// assert_eq!(Some(key), keys.server_public);
/// assert!(CurveKey::from_z85("key", "too short").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKey([u8; 32]);

impl CurveKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> CurveKey {
        CurveKey(bytes)
    }

    /// The key from Z85 text; `name` names it in the error.
    pub fn from_z85(name: &'static str, text: &str) -> Result<CurveKey, ZmqError> {
        let text = text.trim();
        if text.len() != 40 {
            return Err(ZmqError::InvalidKey {
                name,
                reason: format!("{} characters, expected 40 of Z85", text.len()),
            });
        }
        if let Some(c) = text.chars().find(|c| !Z85_ALPHABET.contains(*c)) {
            return Err(ZmqError::InvalidKey {
                name,
                reason: format!("{c:?} is not a Z85 character"),
            });
        }
        let bytes = zmq::z85_decode(text).map_err(|e| ZmqError::InvalidKey {
            name,
            reason: format!("not Z85 ({e})"),
        })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| ZmqError::InvalidKey {
            name,
            reason: "not 32 bytes".into(),
        })?;
        Ok(CurveKey(bytes))
    }

    /// The key as Z85 text.
    pub fn to_z85(&self) -> String {
        // 32 bytes are a multiple of 4: encoding cannot fail.
        zmq::z85_encode(&self.0).unwrap_or_default()
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys may be secret: never printed.
        f.write_str("CurveKey(..)")
    }
}

/// A cluster's CURVE keys (zeekctl's four): nodes are clients with the
/// client key pair and the server public key; the proxy and loggers are
/// servers with the server secret key and accept only the client public
/// key. Every process of the cluster shares both pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurveKeys {
    /// The server's public key (clients need it).
    pub server_public: Option<CurveKey>,
    /// The server's secret key (the proxy and loggers need it).
    pub server_secret: Option<CurveKey>,
    /// The client public key (clients use it; servers accept only it).
    pub client_public: Option<CurveKey>,
    /// The client secret key (clients need it).
    pub client_secret: Option<CurveKey>,
}

/// What a client socket needs.
pub(crate) struct ClientKeys {
    pub(crate) server_public: CurveKey,
    pub(crate) client_public: CurveKey,
    pub(crate) client_secret: CurveKey,
}

/// What a server socket needs.
pub(crate) struct ServerKeys {
    pub(crate) server_secret: CurveKey,
    pub(crate) client_public: CurveKey,
}

impl CurveKeys {
    /// The keys in Zeek's `ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_*` variables;
    /// `None` if none is set.
    pub fn from_env() -> Result<Option<CurveKeys>, ZmqError> {
        let read = |var: &str, name: &'static str| -> Result<Option<CurveKey>, ZmqError> {
            match std::env::var(var) {
                Ok(text) if !text.is_empty() => CurveKey::from_z85(name, &text).map(Some),
                _ => Ok(None),
            }
        };
        let keys = CurveKeys {
            server_public: read(ENV_SERVER_PUBLIC, "server public key")?,
            server_secret: read(ENV_SERVER_SECRET, "server secret key")?,
            client_public: read(ENV_CLIENT_PUBLIC, "client public key")?,
            client_secret: read(ENV_CLIENT_SECRET, "client secret key")?,
        };
        Ok((keys != CurveKeys::default()).then_some(keys))
    }

    /// Two fresh key pairs (server and client), as zeekctl makes them.
    pub fn generate() -> Result<CurveKeys, ZmqError> {
        if zmq::has("curve") != Some(true) {
            return Err(ZmqError::NoCurve);
        }
        let pair = || zmq::CurveKeyPair::new().map_err(|_| ZmqError::NoCurve);
        let (server, client) = (pair()?, pair()?);
        Ok(CurveKeys {
            server_public: Some(CurveKey(server.public_key)),
            server_secret: Some(CurveKey(server.secret_key)),
            client_public: Some(CurveKey(client.public_key)),
            client_secret: Some(CurveKey(client.secret_key)),
        })
    }

    /// The keys of a client (a node's XPUB, XSUB and PUSH), checked.
    pub(crate) fn client(&self) -> Result<ClientKeys, ZmqError> {
        check_curve()?;
        let keys = ClientKeys {
            server_public: self
                .server_public
                .clone()
                .ok_or(ZmqError::MissingKey("server public key"))?,
            client_public: self
                .client_public
                .clone()
                .ok_or(ZmqError::MissingKey("client public key"))?,
            client_secret: self
                .client_secret
                .clone()
                .ok_or(ZmqError::MissingKey("client secret key"))?,
        };
        if super::sys::curve_public(&keys.client_secret)? != keys.client_public {
            return Err(ZmqError::InvalidKey {
                name: "client public key",
                reason: "it does not belong to the client secret key".into(),
            });
        }
        Ok(keys)
    }

    /// The keys of a server (the proxy, a logger's PULL), checked: the
    /// server public key, when given, must belong to the secret key, so a
    /// server with keys from another cluster refuses to start rather than
    /// fail every node's handshake (Zeek nodes exit on that).
    pub(crate) fn server(&self) -> Result<ServerKeys, ZmqError> {
        check_curve()?;
        let keys = ServerKeys {
            server_secret: self
                .server_secret
                .clone()
                .ok_or(ZmqError::MissingKey("server secret key"))?,
            client_public: self
                .client_public
                .clone()
                .ok_or(ZmqError::MissingKey("client public key"))?,
        };
        if let Some(public) = &self.server_public
            && super::sys::curve_public(&keys.server_secret)? != *public
        {
            return Err(ZmqError::KeyMismatch);
        }
        if let Some(secret) = &self.client_secret
            && super::sys::curve_public(secret)? != keys.client_public
        {
            return Err(ZmqError::InvalidKey {
                name: "client public key",
                reason: "it does not belong to the client secret key".into(),
            });
        }
        Ok(keys)
    }
}

fn check_curve() -> Result<(), ZmqError> {
    if zmq::has("curve") == Some(true) {
        Ok(())
    } else {
        Err(ZmqError::NoCurve)
    }
}

/// Makes `socket` a CURVE client with `keys`.
pub(crate) fn apply_client(socket: &zmq::Socket, keys: &ClientKeys) -> Result<(), ZmqError> {
    let set = |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("CURVE client keys", e));
    set(socket.set_curve_serverkey(keys.server_public.as_bytes()))?;
    set(socket.set_curve_publickey(keys.client_public.as_bytes()))?;
    set(socket.set_curve_secretkey(keys.client_secret.as_bytes()))
}

/// Makes `socket` a CURVE server with `keys` (ZAP checks the client key).
pub(crate) fn apply_server(socket: &zmq::Socket, keys: &ServerKeys) -> Result<(), ZmqError> {
    let set = |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("CURVE server keys", e));
    set(socket.set_curve_server(true))?;
    set(socket.set_curve_secretkey(keys.server_secret.as_bytes()))?;
    set(socket.set_zap_domain("zeek"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_pass_both_checks() {
        let keys = CurveKeys::generate().unwrap();
        keys.client().unwrap();
        keys.server().unwrap();
    }

    #[test]
    fn a_server_with_another_clusters_secret_refuses() {
        let keys = CurveKeys::generate().unwrap();
        let other = CurveKeys::generate().unwrap();
        let mixed = CurveKeys {
            server_secret: other.server_secret,
            ..keys.clone()
        };
        assert!(matches!(mixed.server(), Err(ZmqError::KeyMismatch)));
        let no_client = CurveKeys {
            client_public: None,
            ..keys
        };
        assert!(matches!(
            no_client.server(),
            Err(ZmqError::MissingKey("client public key"))
        ));
    }

    #[test]
    fn keys_must_be_forty_z85_characters() {
        assert!(matches!(
            CurveKey::from_z85("k", "abc"),
            Err(ZmqError::InvalidKey { name: "k", .. })
        ));
        // 40 characters, but a quote is not in Z85's alphabet.
        assert!(CurveKey::from_z85("k", &"\"".repeat(40)).is_err());
        let keys = CurveKeys::generate().unwrap();
        let text = keys.server_public.as_ref().unwrap().to_z85();
        assert_eq!(
            CurveKey::from_z85("k", &text).unwrap(),
            keys.server_public.unwrap()
        );
    }

    #[test]
    fn keys_do_not_print() {
        let keys = CurveKeys::generate().unwrap();
        let text = format!("{keys:?}");
        assert!(!text.contains(&keys.server_secret.unwrap().to_z85()));
    }
}
