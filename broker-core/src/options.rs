//! Endpoint options: every redefinable option of Zeek's `Broker::` module,
//! plus the knobs of this implementation, with environment overrides.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::{EndpointId, OverflowPolicy};

/// Endpoint configuration.
///
/// Field names follow the Zeek script options (`Broker::default_port` is
/// `default_port`). [`Options::default`] has the seed's defaults;
/// [`Options::from_env`] applies the environment overrides that Zeek honours:
///
/// | variable | option |
/// |---|---|
/// | `ZEEK_DEFAULT_LISTEN_RETRY`, `BRO_DEFAULT_LISTEN_RETRY` | `default_listen_retry` (seconds) |
/// | `ZEEK_DEFAULT_CONNECT_RETRY`, `BRO_DEFAULT_CONNECT_RETRY` | `default_connect_retry` (seconds) |
/// | `ZEEK_DEFAULT_LISTEN_ADDRESS`, `BRO_DEFAULT_LISTEN_ADDRESS` | `default_listen_address` |
/// | `ZEEK_BROKER_MAX_THREADS`, `BRO_BROKER_MAX_THREADS` | `max_threads` |
///
/// ```
/// use broker_core::options::Options;
/// use std::time::Duration;
///
/// let options = Options { forward_messages: true, ..Options::default() };
/// assert_eq!(options.default_port, 9999);
/// assert_eq!(options.default_connect_retry, Duration::from_secs(30));
/// ```
///
/// Build options with `..Options::default()` as above: fields may be added
/// in minor releases.
#[derive(Clone, Debug)]
pub struct Options {
    /// Port used when none is given (`9999/tcp`).
    pub default_port: u16,
    /// Address to listen on when none is given (`""`: all interfaces).
    pub default_listen_address: String,
    /// Interval between attempts to listen on a busy port (30 s; 0: no retry).
    pub default_listen_retry: Duration,
    /// Interval between connection attempts and redials (30 s).
    pub default_connect_retry: Duration,
    /// Plain TCP instead of TLS.
    pub disable_ssl: bool,
    /// CA certificate file (PEM).
    pub ssl_cafile: String,
    /// Directory of CA certificates (PEM).
    pub ssl_capath: String,
    /// Our certificate chain (PEM).
    pub ssl_certificate: String,
    /// Our private key (PEM).
    pub ssl_keyfile: String,
    /// Passphrase of an encrypted private key.
    pub ssl_passphrase: String,
    /// What TLS speaks when no `ssl_*` option is set (unauthenticated):
    /// Broker's anonymous TLS on OpenSSL (the default with the `openssl`
    /// feature), or rustls with ephemeral certificates (the default without
    /// it, and the only choice then). See [`crate::tls`].
    pub unauthenticated_tls: UnauthenticatedTls,
    /// With certificates, also check that the peer's certificate is valid for
    /// the host name (or IP address) given to `peer`. Off by default, as in
    /// Broker, which only checks the chain; on is stricter than Broker.
    pub ssl_verify_hostname: bool,
    /// Relay messages between peers (`Broker::forward_messages`).
    pub forward_messages: bool,
    /// Threads of the endpoint's runtime (1: a single-threaded runtime).
    pub max_threads: usize,
    /// Capacity of each local subscriber's queue, in messages.
    pub congestion_queue_size: usize,
    /// Prefix of log topics (`bro/logs/` as in the seed; Zeek now uses `zeek/logs/`).
    pub default_log_topic_prefix: String,
    /// The topic of each log write (`Broker::log_topic`); `None` uses
    /// [`Options::default_log_topic`]. Log stream announcements
    /// (`LogCreate`) always go to the default topic, as in Zeek.
    pub log_topic: Option<LogTopicFn>,
    /// Log records per stream that trigger sending the stream's pending
    /// batches (`Broker::log_batch_size`, 400; 0 sends every record at once).
    pub log_batch_size: usize,
    /// Interval at which pending log batches are sent
    /// (`Broker::log_batch_interval`, 1 s).
    pub log_batch_interval: Duration,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub aggressive_interval: u64,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub aggressive_polls: u64,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub moderate_interval: u64,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub moderate_polls: u64,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub moderate_sleep: Duration,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub relaxed_interval: u64,
    /// CAF work-stealing knob; no tokio counterpart (accepted and ignored).
    pub relaxed_sleep: Duration,

    /// Messages queued per peer before `overflow_policy` applies (8192, as
    /// Zeek 7.2+).
    pub peer_buffer_size: usize,
    /// Bytes queued per peer before `overflow_policy` applies (64 MiB; not a
    /// Zeek option). The queue is full at either limit, so large messages
    /// cannot make it hold `peer_buffer_size` times their size.
    pub peer_buffer_bytes: usize,
    /// What to do when a peer's queue is full (drop the oldest, as Zeek 7.2+).
    pub overflow_policy: OverflowPolicy,
    /// How long a peer whose queue is full may hold local publishers back;
    /// after that it counts as stalled and its queue follows
    /// `overflow_policy` (5 s).
    pub peer_stall_timeout: Duration,
    /// Connections (peerings and handshakes in progress) beyond which
    /// inbound connections are closed at once (1,024; not a Zeek option).
    pub max_connections: usize,
    /// Bytes of partly received frames that all peers together may hold
    /// (1 GiB; not a Zeek option): the connection that goes past it is
    /// closed, so many peers each sending most of a large frame cannot
    /// exhaust memory.
    pub max_input_buffer: usize,
    /// The largest frame accepted from a peer (64 MiB).
    pub max_frame_size: usize,
    /// A peer that does not finish the handshake in this time is dropped
    /// (10 s). With TLS it bounds the TLS handshake and then, again, Broker's
    /// handshake.
    pub handshake_timeout: Duration,
    /// How long an unpeer waits for the peer's goodbye.
    pub unpeer_timeout: Duration,
    /// Timeout of one TCP connection attempt.
    pub connect_timeout: Duration,
    /// A fixed endpoint id instead of a random one.
    pub endpoint_id: Option<EndpointId>,
    /// Highest protocol version offered: 2 (default) adds duplicate
    /// suppression between broker-rs endpoints; 1 is exactly Broker's.
    pub max_protocol_version: u8,
    /// After any work, keep polling for more for this long before letting
    /// the endpoint's thread sleep (zero, the default: never). Polling
    /// finds a message from a peer without the wakeup of a sleeping thread
    /// (tens of microseconds when the sender runs on another core), at the
    /// cost of up to this much CPU time per burst of work. Not a Zeek
    /// option; see `docs/performance.md`. Takes effect on a current-thread
    /// runtime or with `max_threads: 1`.
    pub busy_poll: Duration,
    /// Serve the endpoint's metrics at `http://metrics_address:port/metrics`
    /// from the start (Zeek's `Telemetry::metrics_port`; `None`, the
    /// default: not served; port 0: the OS picks, see
    /// [`Endpoint::metrics_port`](crate::runtime::Endpoint::metrics_port)).
    /// Not a Broker option. See `docs/operations.md`.
    pub metrics_port: Option<u16>,
    /// The address `metrics_port` is served on (`127.0.0.1`: this host only;
    /// `""`: all interfaces).
    pub metrics_address: String,
}

/// What an endpoint's TLS speaks in the default, unauthenticated mode (no
/// `ssl_*` option set). Either way the traffic is encrypted and nobody is
/// authenticated: an active man in the middle can read and change it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnauthenticatedTls {
    /// Broker's default: TLS 1.2 with anonymous ECDH (`AECDH-AES256-SHA`,
    /// OpenSSL security level 0, curve P-384), no certificates. Peers with
    /// Zeek and Broker in their default configuration, and with every
    /// broker-rs endpoint; two broker-rs endpoints agree on the faster
    /// anonymous AEAD suite `ADH-AES256-GCM-SHA384` instead, which Broker
    /// never offers. Needs the `openssl` feature (on by default).
    #[cfg_attr(feature = "openssl", default)]
    Anonymous,
    /// rustls with a self-signed certificate generated at start; any peer
    /// certificate whose key signed the handshake is accepted. Peers with
    /// broker-rs endpoints and accepts Broker's clients, but cannot dial a
    /// Broker or Zeek listener.
    #[cfg_attr(not(feature = "openssl"), default)]
    EphemeralCertificates,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            default_port: 9999,
            default_listen_address: String::new(),
            default_listen_retry: Duration::from_secs(30),
            default_connect_retry: Duration::from_secs(30),
            disable_ssl: false,
            ssl_cafile: String::new(),
            ssl_capath: String::new(),
            ssl_certificate: String::new(),
            ssl_keyfile: String::new(),
            ssl_passphrase: String::new(),
            unauthenticated_tls: UnauthenticatedTls::default(),
            ssl_verify_hostname: false,
            forward_messages: false,
            max_threads: 1,
            congestion_queue_size: 200,
            default_log_topic_prefix: "bro/logs/".into(),
            log_topic: None,
            log_batch_size: 400,
            log_batch_interval: Duration::from_secs(1),
            aggressive_interval: 4,
            aggressive_polls: 5,
            moderate_interval: 2,
            moderate_polls: 5,
            moderate_sleep: Duration::from_millis(16),
            relaxed_interval: 1,
            relaxed_sleep: Duration::from_millis(64),
            peer_buffer_size: 8192,
            peer_buffer_bytes: crate::proto::DEFAULT_PEER_BUFFER_BYTES,
            overflow_policy: OverflowPolicy::DropOldest,
            peer_stall_timeout: Duration::from_secs(5),
            max_connections: 1024,
            max_input_buffer: crate::proto::DEFAULT_MAX_INPUT_BUFFER,
            max_frame_size: crate::proto::wire::DEFAULT_MAX_FRAME_SIZE,
            handshake_timeout: Duration::from_secs(10),
            unpeer_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            endpoint_id: None,
            max_protocol_version: crate::proto::wire::PROTOCOL_VERSION_2,
            busy_poll: Duration::ZERO,
            metrics_port: None,
            metrics_address: "127.0.0.1".into(),
        }
    }
}

/// Why an option value is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// An environment variable has a value we cannot read.
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An option has an invalid value.
    #[error("option {name}: {reason}")]
    Invalid {
        /// The option.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Options {
    /// The defaults with the environment overrides applied.
    pub fn from_env() -> Result<Options, OptionsError> {
        Options::default().with_env(|name| std::env::var(name).ok())
    }

    /// These options with overrides read through `get` (for tests).
    pub fn with_env(
        mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Options, OptionsError> {
        let var = |suffix: &str| {
            [format!("ZEEK_{suffix}"), format!("BRO_{suffix}")]
                .into_iter()
                .find_map(|name| get(&name).map(|value| (name, value)))
        };
        if let Some((name, value)) = var("DEFAULT_LISTEN_RETRY") {
            self.default_listen_retry = parse_interval(&name, &value)?;
        }
        if let Some((name, value)) = var("DEFAULT_CONNECT_RETRY") {
            self.default_connect_retry = parse_interval(&name, &value)?;
        }
        if let Some((_, value)) = var("DEFAULT_LISTEN_ADDRESS") {
            self.default_listen_address = value;
        }
        if let Some((name, value)) = var("BROKER_MAX_THREADS") {
            self.max_threads =
                value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(OptionsError::Env {
                        name,
                        value,
                        reason: "expected a positive number of threads",
                    })?;
        }
        Ok(self)
    }

    /// Checks values that would make an endpoint unusable.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let invalid = |name, reason| Err(OptionsError::Invalid { name, reason });
        if self.max_threads == 0 {
            return invalid("max_threads", "must be at least 1");
        }
        if self.congestion_queue_size == 0 {
            return invalid("congestion_queue_size", "must be at least 1");
        }
        if self.peer_buffer_size == 0 {
            return invalid("peer_buffer_size", "must be at least 1");
        }
        if self.max_input_buffer < self.max_frame_size {
            return invalid("max_input_buffer", "must be at least max_frame_size");
        }
        if self.max_connections == 0 {
            return invalid("max_connections", "must be at least 1");
        }
        if self.peer_buffer_bytes == 0 {
            return invalid("peer_buffer_bytes", "must be at least 1");
        }
        if !(1..=2).contains(&self.max_protocol_version) {
            return invalid("max_protocol_version", "must be 1 or 2");
        }
        if self.max_frame_size < 64 {
            return invalid("max_frame_size", "must be at least 64 bytes");
        }
        if self.log_batch_interval.is_zero() {
            return invalid("log_batch_interval", "must be positive");
        }
        Ok(())
    }

    /// The seed's `Broker::default_log_topic`: the prefix followed by the
    /// stream id, e.g. `bro/logs/Conn::LOG` (the path is not used).
    ///
    /// ```
    /// use broker_core::options::Options;
    ///
    /// let options = Options::default();
    /// assert_eq!(options.default_log_topic("Conn::LOG", "conn"), "bro/logs/Conn::LOG");
    /// ```
    pub fn default_log_topic(&self, stream_id: &str, _path: &str) -> String {
        format!("{}{stream_id}", self.default_log_topic_prefix)
    }

    /// The topic of a log write on `stream_id` to `path`: [`Options::log_topic`]
    /// if set, else [`Options::default_log_topic`].
    ///
    /// ```
    /// use broker_core::options::{LogTopicFn, Options};
    ///
    /// let options = Options {
    ///     log_topic: Some(LogTopicFn::new(|stream, path| format!("logs/{path}/{stream}"))),
    ///     ..Options::default()
    /// };
    /// assert_eq!(options.log_topic("Conn::LOG", "conn"), "logs/conn/Conn::LOG");
    /// ```
    pub fn log_topic(&self, stream_id: &str, path: &str) -> String {
        match &self.log_topic {
            Some(f) => f.call(stream_id, path),
            None => self.default_log_topic(stream_id, path),
        }
    }

    /// Whether any CAF polling knob differs from its default (they have no
    /// effect here; the endpoint logs a warning once).
    pub fn polling_knobs_changed(&self) -> bool {
        let d = Options::default();
        (
            self.aggressive_interval,
            self.aggressive_polls,
            self.moderate_interval,
            self.moderate_polls,
            self.moderate_sleep,
            self.relaxed_interval,
            self.relaxed_sleep,
        ) != (
            d.aggressive_interval,
            d.aggressive_polls,
            d.moderate_interval,
            d.moderate_polls,
            d.moderate_sleep,
            d.relaxed_interval,
            d.relaxed_sleep,
        )
    }

    /// Whether TLS with certificates is configured (any SSL file option set).
    pub fn authentication_enabled(&self) -> bool {
        [
            &self.ssl_cafile,
            &self.ssl_capath,
            &self.ssl_certificate,
            &self.ssl_keyfile,
            &self.ssl_passphrase,
        ]
        .iter()
        .any(|s| !s.is_empty())
    }
}

/// A user-supplied `Broker::log_topic`: maps a stream id (`Conn::LOG`) and a
/// path (`conn`) to the topic of the stream's log writes.
#[derive(Clone)]
pub struct LogTopicFn(Arc<TopicFn>);

/// The function behind a [`LogTopicFn`].
type TopicFn = dyn Fn(&str, &str) -> String + Send + Sync;

impl LogTopicFn {
    /// Wraps `f(stream_id, path)`.
    pub fn new(f: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> LogTopicFn {
        LogTopicFn(Arc::new(f))
    }

    /// The topic for `stream_id` and `path`.
    pub fn call(&self, stream_id: &str, path: &str) -> String {
        (self.0)(stream_id, path)
    }
}

impl fmt::Debug for LogTopicFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogTopicFn(..)")
    }
}

/// Seconds as Zeek writes intervals in the environment: `30`, `1.5`, `2s`,
/// `2sec`, `2secs`, `500ms`, `500msec(s)`.
fn parse_interval(name: &str, value: &str) -> Result<Duration, OptionsError> {
    let err = |reason| OptionsError::Env {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let text = value.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| err("expected a number of seconds"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" | "msec" | "msecs" => 0.001,
        "min" | "mins" => 60.0,
        _ => return Err(err("unknown unit (use s or ms)")),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|_| err("out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn environment_overrides_zeek_before_bro() {
        let o = Options::default()
            .with_env(env(&[
                ("ZEEK_DEFAULT_CONNECT_RETRY", "1"),
                ("BRO_DEFAULT_CONNECT_RETRY", "7"),
                ("BRO_DEFAULT_LISTEN_RETRY", "2.5sec"),
                ("ZEEK_BROKER_MAX_THREADS", "4"),
                ("ZEEK_DEFAULT_LISTEN_ADDRESS", "127.0.0.1"),
            ]))
            .unwrap();
        assert_eq!(o.default_connect_retry, Duration::from_secs(1));
        assert_eq!(o.default_listen_retry, Duration::from_millis(2500));
        assert_eq!(o.max_threads, 4);
        assert_eq!(o.default_listen_address, "127.0.0.1");
    }

    #[test]
    fn bad_environment_values_are_errors() {
        assert!(
            Options::default()
                .with_env(env(&[("ZEEK_BROKER_MAX_THREADS", "0")]))
                .is_err()
        );
        assert!(
            Options::default()
                .with_env(env(&[("ZEEK_DEFAULT_CONNECT_RETRY", "soon")]))
                .is_err()
        );
        assert!(
            Options::default()
                .with_env(env(&[("BRO_DEFAULT_LISTEN_RETRY", "3 fortnights")]))
                .is_err()
        );
    }

    #[test]
    fn limits_that_would_refuse_legitimate_input_are_errors() {
        for bad in [
            Options {
                max_input_buffer: 1 << 20,
                ..Options::default()
            },
            Options {
                max_connections: 0,
                ..Options::default()
            },
            Options {
                peer_buffer_bytes: 0,
                ..Options::default()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }

    #[test]
    fn defaults_are_the_seeds() {
        let o = Options::default();
        assert_eq!(o.default_port, 9999);
        assert_eq!(o.congestion_queue_size, 200);
        assert_eq!(o.default_listen_retry, Duration::from_secs(30));
        assert!(!o.forward_messages);
        assert_eq!(o.max_threads, 1);
        assert_eq!(o.default_log_topic_prefix, "bro/logs/");
        assert_eq!(o.log_batch_size, 400);
        assert_eq!(o.log_batch_interval, Duration::from_secs(1));
        assert_eq!(o.log_topic("Conn::LOG", "conn"), "bro/logs/Conn::LOG");
        assert!(!o.polling_knobs_changed());
        assert!(o.validate().is_ok());
        let knobs = Options {
            relaxed_sleep: Duration::from_millis(1),
            ..Options::default()
        };
        assert!(knobs.polling_knobs_changed());
    }

    #[test]
    fn zero_log_batch_interval_is_invalid() {
        let o = Options {
            log_batch_interval: Duration::ZERO,
            ..Options::default()
        };
        assert_eq!(
            o.validate(),
            Err(OptionsError::Invalid {
                name: "log_batch_interval",
                reason: "must be positive"
            })
        );
    }
}
