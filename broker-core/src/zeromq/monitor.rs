//! Failed ZeroMQ handshakes, as libzmq's socket monitor reports them.
//!
//! Zeek 8.2 watches its XPUB, XSUB and PUSH sockets with a socket monitor and
//! exits on `HANDSHAKE_FAILED_PROTOCOL` or `HANDSHAKE_FAILED_AUTH`, warning
//! only on `HANDSHAKE_FAILED_NO_DETAIL`. libzmq does not redial after the
//! first two (the connection is given up for good), so a node that sees one
//! can never join. The roles here watch the same sockets on their own I/O
//! thread: each monitored socket gets an inproc PAIR that its thread polls
//! with the others, and [`HandshakeWatch`] turns the events into
//! [`HandshakeFailure`]s.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::mem::Discriminant;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ZmqError;
use super::sys::recv_bounded;

/// One of a role's sockets, as named in a [`HandshakeFailure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketKind {
    /// A node's XPUB (it connects to the proxy's XSUB endpoint).
    Xpub,
    /// A node's XSUB (it connects to the proxy's XPUB endpoint).
    Xsub,
    /// A log pusher's PUSH (it connects to loggers' PULL endpoints).
    Push,
}

impl fmt::Display for SocketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketKind::Xpub => "XPUB",
            SocketKind::Xsub => "XSUB",
            SocketKind::Push => "PUSH",
        })
    }
}

/// Why a ZeroMQ handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeCause {
    /// The server's ZAP handler refused us (`HANDSHAKE_FAILED_AUTH`): with
    /// CURVE, the server does not accept our client key. `status` is the
    /// ZAP status code (300 temporary, 400 refused, 500 handler error).
    /// Fatal.
    AuthRefused {
        /// The ZAP status code.
        status: u32,
    },
    /// The two sides use different security mechanisms: CURVE on one side
    /// only (`HANDSHAKE_FAILED_PROTOCOL` with
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`). Fatal.
    MechanismMismatch,
    /// Another ZMTP protocol error (`HANDSHAKE_FAILED_PROTOCOL`), with
    /// libzmq's `ZMQ_PROTOCOL_ERROR_*` code. Fatal.
    Protocol {
        /// libzmq's protocol error code.
        code: u32,
    },
    /// The handshake failed without detail (`HANDSHAKE_FAILED_NO_DETAIL`),
    /// mostly because the peer closed the connection during it; `errno`
    /// is the system error libzmq saw (0 if none). A CURVE client sees this
    /// when the server public key is wrong (the server cannot read our
    /// hello and hangs up). libzmq redials: a warning only.
    NoDetail {
        /// The system error number, 0 if none.
        errno: i32,
    },
    /// The connection closed before the handshake ended and libzmq reported
    /// no handshake event (with CURVE on, the peer may not speak ZMTP at
    /// all). A warning only.
    Closed,
}

impl HandshakeCause {
    /// Whether Zeek 8.2 exits on this cause: libzmq gives the connection
    /// up, so the socket never reaches its peer.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            HandshakeCause::AuthRefused { .. }
                | HandshakeCause::MechanismMismatch
                | HandshakeCause::Protocol { .. }
        )
    }
}

/// A failed ZeroMQ handshake of one of a role's sockets.
///
/// ```
/// use broker_core::zeromq::{HandshakeCause, HandshakeFailure, SocketKind};
///
/// let failure = HandshakeFailure::new(
///     SocketKind::Xpub,
///     "tcp://127.0.0.1:5556",
///     HandshakeCause::AuthRefused { status: 400 },
///     true,
/// );
/// assert!(failure.is_fatal());
/// assert_eq!(
///     failure.to_string(),
///     "CURVE handshake of the XPUB with tcp://127.0.0.1:5556 failed: \
///      authentication refused (ZAP status 400: wrong client key?)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeFailure {
    /// The socket whose handshake failed.
    pub socket: SocketKind,
    /// The endpoint it connects to, as libzmq names it.
    pub endpoint: String,
    /// Why.
    pub cause: HandshakeCause,
    /// Whether the socket uses CURVE (or plain ZMTP).
    pub curve: bool,
}

impl HandshakeFailure {
    /// A failure of `socket`'s handshake with `endpoint`; `curve` says
    /// whether the socket uses CURVE.
    pub fn new(
        socket: SocketKind,
        endpoint: impl Into<String>,
        cause: HandshakeCause,
        curve: bool,
    ) -> HandshakeFailure {
        HandshakeFailure {
            socket,
            endpoint: endpoint.into(),
            cause,
            curve,
        }
    }

    /// Whether the socket can never reach this peer (see
    /// [`HandshakeCause::is_fatal`]).
    pub fn is_fatal(&self) -> bool {
        self.cause.is_fatal()
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mechanism = if self.curve { "CURVE" } else { "ZMTP" };
        write!(
            f,
            "{mechanism} handshake of the {} with {} failed: ",
            self.socket, self.endpoint
        )?;
        match &self.cause {
            HandshakeCause::AuthRefused { status: 400 } => {
                f.write_str("authentication refused (ZAP status 400: wrong client key?)")
            }
            HandshakeCause::AuthRefused { status: 300 } => {
                f.write_str("authentication failed for now (ZAP status 300)")
            }
            HandshakeCause::AuthRefused { status } => write!(
                f,
                "authentication failed (ZAP status {status}: the server's handler failed)"
            ),
            HandshakeCause::MechanismMismatch if self.curve => {
                f.write_str("security mechanism mismatch (the peer does not use CURVE)")
            }
            HandshakeCause::MechanismMismatch => f.write_str(
                "security mechanism mismatch (the peer uses CURVE: give this node the keys)",
            ),
            HandshakeCause::Protocol { code } => {
                write!(f, "{} (ZMTP error {code:#x})", protocol_error(*code))
            }
            HandshakeCause::NoDetail { errno } => {
                f.write_str("the peer closed the connection during the handshake")?;
                if *errno != 0 {
                    write!(f, " ({})", std::io::Error::from_raw_os_error(*errno))?;
                }
                if self.curve {
                    f.write_str("; wrong server public key?")?;
                }
                Ok(())
            }
            HandshakeCause::Closed => {
                f.write_str("the connection closed during the handshake (not a ZeroMQ peer?)")
            }
        }
    }
}

impl std::error::Error for HandshakeFailure {}

/// What libzmq's `ZMQ_PROTOCOL_ERROR_*` codes mean.
fn protocol_error(code: u32) -> &'static str {
    match code {
        0x1000_0001 => "unexpected ZMTP command",
        0x1000_0002 => "invalid ZMTP command sequence",
        0x1000_0003 => "key exchange failed",
        0x1000_0011..=0x1000_0018 => "malformed ZMTP command",
        0x1100_0001 => "cryptographic error (wrong server public key?)",
        0x1100_0002 => "security mechanism mismatch",
        0x2000_0000..=0x2000_00ff => "the server's ZAP handler answered badly",
        _ => "ZMTP protocol error",
    }
}

// libzmq's monitor events (zmq.h, stable since 4.3).
const EVENT_CONNECTED: u16 = 0x0001;
const EVENT_DISCONNECTED: u16 = 0x0200;
const EVENT_HANDSHAKE_FAILED_NO_DETAIL: u16 = 0x0800;
const EVENT_HANDSHAKE_SUCCEEDED: u16 = 0x1000;
const EVENT_HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;
const EVENT_HANDSHAKE_FAILED_AUTH: u16 = 0x4000;
/// The events watched.
const EVENTS: u16 = EVENT_CONNECTED
    | EVENT_DISCONNECTED
    | EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | EVENT_HANDSHAKE_SUCCEEDED
    | EVENT_HANDSHAKE_FAILED_PROTOCOL
    | EVENT_HANDSHAKE_FAILED_AUTH;
/// `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`.
const MECHANISM_MISMATCH: u32 = 0x1100_0002;
/// The longest endpoint kept from an event.
const MAX_ENDPOINT: usize = 1024;

/// One monitor event: libzmq sends two frames, the event number (u16) and
/// its value (u32) in the host's byte order, then the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MonitorEvent {
    pub(crate) event: u16,
    pub(crate) value: u32,
    pub(crate) endpoint: String,
}

/// Why a monitor message did not decode.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MonitorError {
    #[error("a monitor event of {0} frames, expected 2")]
    FrameCount(usize),
    #[error("a monitor event whose first frame has {0} bytes, expected 6")]
    EventSize(usize),
}

impl MonitorEvent {
    /// Decodes a monitor message (libzmq's version-1 monitor format).
    pub(crate) fn decode(frames: &[Vec<u8>], count: usize) -> Result<MonitorEvent, MonitorError> {
        if count != 2 || frames.len() != 2 {
            return Err(MonitorError::FrameCount(count));
        }
        let head: [u8; 6] = frames[0]
            .as_slice()
            .try_into()
            .map_err(|_| MonitorError::EventSize(frames[0].len()))?;
        let endpoint = &frames[1][..frames[1].len().min(MAX_ENDPOINT)];
        Ok(MonitorEvent {
            event: u16::from_ne_bytes([head[0], head[1]]),
            value: u32::from_ne_bytes([head[2], head[3], head[4], head[5]]),
            endpoint: String::from_utf8_lossy(endpoint).into_owned(),
        })
    }
}

/// The handshakes of one socket, from its monitor events: which
/// connections are mid-handshake, and which failures were reported since
/// the last success (each is reported once until a handshake with that
/// endpoint succeeds; libzmq redials every 100 ms after `NO_DETAIL`).
#[derive(Debug)]
pub(crate) struct HandshakeWatch {
    socket: SocketKind,
    curve: bool,
    /// Endpoints with a connection whose handshake has not ended.
    pending: HashSet<String>,
    /// Kinds of failures reported and not yet cleared by a success (the
    /// errno of `NO_DETAIL` varies from one attempt to the next).
    reported: HashMap<String, HashSet<Discriminant<HandshakeCause>>>,
}

impl HandshakeWatch {
    pub(crate) fn new(socket: SocketKind, curve: bool) -> HandshakeWatch {
        HandshakeWatch {
            socket,
            curve,
            pending: HashSet::new(),
            reported: HashMap::new(),
        }
    }

    /// Handles one event. Returns the failure it is, if any, and whether it
    /// is new (not reported since the last successful handshake).
    pub(crate) fn handle(&mut self, event: &MonitorEvent) -> Option<(HandshakeFailure, bool)> {
        let endpoint = &event.endpoint;
        let cause = match event.event {
            EVENT_CONNECTED => {
                if self.pending.len() < MAX_PENDING {
                    self.pending.insert(endpoint.clone());
                }
                return None;
            }
            EVENT_HANDSHAKE_SUCCEEDED => {
                self.pending.remove(endpoint);
                self.reported.remove(endpoint);
                return None;
            }
            EVENT_DISCONNECTED => {
                if !self.pending.remove(endpoint) {
                    return None;
                }
                HandshakeCause::Closed
            }
            EVENT_HANDSHAKE_FAILED_AUTH => HandshakeCause::AuthRefused {
                status: event.value,
            },
            EVENT_HANDSHAKE_FAILED_PROTOCOL if event.value == MECHANISM_MISMATCH => {
                HandshakeCause::MechanismMismatch
            }
            EVENT_HANDSHAKE_FAILED_PROTOCOL => HandshakeCause::Protocol { code: event.value },
            EVENT_HANDSHAKE_FAILED_NO_DETAIL => HandshakeCause::NoDetail {
                errno: i32::try_from(event.value).unwrap_or(0),
            },
            _ => return None,
        };
        self.pending.remove(endpoint);
        let new = if self.reported.len() < MAX_PENDING || self.reported.contains_key(endpoint) {
            self.reported
                .entry(endpoint.clone())
                .or_default()
                .insert(std::mem::discriminant(&cause))
        } else {
            false
        };
        Some((
            HandshakeFailure::new(self.socket, endpoint.clone(), cause, self.curve),
            new,
        ))
    }
}

/// The most endpoints a watch tracks (a socket connects to a few).
const MAX_PENDING: usize = 1024;

/// A socket's monitor: the PAIR its events arrive on, and their watch.
pub(crate) struct Monitor {
    socket: zmq::Socket,
    watch: HandshakeWatch,
}

impl Monitor {
    /// Starts monitoring `socket` (call before it connects: events before
    /// the PAIR is connected are lost). The inproc endpoint is unique in
    /// `ctx` per kind: one monitor per kind and context.
    pub(crate) fn attach(
        ctx: &zmq::Context,
        socket: &zmq::Socket,
        kind: SocketKind,
        curve: bool,
    ) -> Result<Monitor, ZmqError> {
        let at = format!("inproc://broker-zmq-monitor-{kind}");
        socket
            .monitor(&at, i32::from(EVENTS))
            .map_err(|e| ZmqError::socket("socket monitor", e))?;
        let pair = ctx
            .socket(zmq::PAIR)
            .map_err(|e| ZmqError::socket("monitor PAIR", e))?;
        pair.set_linger(0)
            .map_err(|e| ZmqError::socket("monitor PAIR", e))?;
        pair.connect(&at)
            .map_err(|e| ZmqError::socket("connect the monitor PAIR", e))?;
        Ok(Monitor {
            socket: pair,
            watch: HandshakeWatch::new(kind, curve),
        })
    }

    /// The PAIR to poll.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Reads every waiting event; hands each new failure to `report`, and
    /// counts every failure in `failed`.
    pub(crate) fn drain(&mut self, failed: &AtomicU64, mut report: impl FnMut(HandshakeFailure)) {
        // Bounded per round, as every socket is read.
        for _ in 0..1000 {
            let Some(msg) = recv_bounded(&self.socket, 2) else {
                return;
            };
            let event = match MonitorEvent::decode(&msg.frames, msg.count) {
                Ok(event) => event,
                Err(e) => {
                    tracing::debug!("zeromq: {e}");
                    continue;
                }
            };
            if let Some((failure, new)) = self.watch.handle(&event) {
                failed.fetch_add(1, Ordering::Relaxed);
                if new {
                    report(failure);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: u16, value: u32, endpoint: &str) -> MonitorEvent {
        MonitorEvent {
            event,
            value,
            endpoint: endpoint.into(),
        }
    }

    fn frames(event: u16, value: u32, endpoint: &str) -> Vec<Vec<u8>> {
        let mut head = event.to_ne_bytes().to_vec();
        head.extend_from_slice(&value.to_ne_bytes());
        vec![head, endpoint.as_bytes().to_vec()]
    }

    #[test]
    fn a_monitor_event_decodes() {
        let f = frames(EVENT_HANDSHAKE_FAILED_AUTH, 400, "tcp://127.0.0.1:5556");
        assert_eq!(
            MonitorEvent::decode(&f, 2).unwrap(),
            event(EVENT_HANDSHAKE_FAILED_AUTH, 400, "tcp://127.0.0.1:5556")
        );
    }

    #[test]
    fn a_monitor_event_with_the_wrong_frame_count_is_refused() {
        let mut f = frames(EVENT_CONNECTED, 7, "tcp://x:1");
        assert_eq!(
            MonitorEvent::decode(&f[..1], 1),
            Err(MonitorError::FrameCount(1))
        );
        // Three frames on the wire, two kept.
        assert_eq!(
            MonitorEvent::decode(&f, 3),
            Err(MonitorError::FrameCount(3))
        );
        f[0].pop();
        assert_eq!(MonitorEvent::decode(&f, 2), Err(MonitorError::EventSize(5)));
    }

    #[test]
    fn a_monitor_event_keeps_a_bounded_endpoint() {
        let long = "x".repeat(5000);
        let decoded = MonitorEvent::decode(&frames(EVENT_CONNECTED, 0, &long), 2).unwrap();
        assert_eq!(decoded.endpoint.len(), MAX_ENDPOINT);
    }

    #[test]
    fn auth_and_protocol_failures_are_fatal_and_no_detail_is_not() {
        let mut watch = HandshakeWatch::new(SocketKind::Xsub, true);
        let at = "tcp://127.0.0.1:5555";
        let (auth, new) = watch
            .handle(&event(EVENT_HANDSHAKE_FAILED_AUTH, 400, at))
            .unwrap();
        assert!(new && auth.is_fatal());
        assert_eq!(auth.cause, HandshakeCause::AuthRefused { status: 400 });
        assert_eq!(auth.socket, SocketKind::Xsub);
        let (mismatch, _) = watch
            .handle(&event(
                EVENT_HANDSHAKE_FAILED_PROTOCOL,
                MECHANISM_MISMATCH,
                at,
            ))
            .unwrap();
        assert_eq!(mismatch.cause, HandshakeCause::MechanismMismatch);
        assert!(mismatch.is_fatal());
        let (other, _) = watch
            .handle(&event(EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x1000_0003, at))
            .unwrap();
        assert_eq!(other.cause, HandshakeCause::Protocol { code: 0x1000_0003 });
        assert!(other.is_fatal());
        let (no_detail, _) = watch
            .handle(&event(EVENT_HANDSHAKE_FAILED_NO_DETAIL, 32, at))
            .unwrap();
        assert_eq!(no_detail.cause, HandshakeCause::NoDetail { errno: 32 });
        assert!(!no_detail.is_fatal());
        assert!(
            no_detail.to_string().contains("wrong server public key?"),
            "{no_detail}"
        );
    }

    #[test]
    fn a_repeated_failure_is_new_again_only_after_a_success() {
        let mut watch = HandshakeWatch::new(SocketKind::Xpub, false);
        let at = "tcp://127.0.0.1:5556";
        let fail = event(EVENT_HANDSHAKE_FAILED_NO_DETAIL, 104, at);
        assert!(watch.handle(&fail).unwrap().1);
        assert!(!watch.handle(&fail).unwrap().1);
        let other_errno = event(EVENT_HANDSHAKE_FAILED_NO_DETAIL, 32, at);
        assert!(!watch.handle(&other_errno).unwrap().1);
        assert!(
            watch
                .handle(&event(
                    EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                    104,
                    "tcp://other:1"
                ))
                .unwrap()
                .1
        );
        assert_eq!(watch.handle(&event(EVENT_HANDSHAKE_SUCCEEDED, 0, at)), None);
        assert!(watch.handle(&fail).unwrap().1);
    }

    #[test]
    fn a_connection_closed_mid_handshake_without_an_event_is_reported() {
        let mut watch = HandshakeWatch::new(SocketKind::Xpub, true);
        let at = "tcp://127.0.0.1:5556";
        assert_eq!(watch.handle(&event(EVENT_CONNECTED, 9, at)), None);
        let (closed, new) = watch.handle(&event(EVENT_DISCONNECTED, 9, at)).unwrap();
        assert!(new);
        assert_eq!(closed.cause, HandshakeCause::Closed);
        assert!(!closed.is_fatal());
        // A failure with an event, then the disconnect: one report.
        watch.handle(&event(EVENT_CONNECTED, 9, at));
        assert!(
            watch
                .handle(&event(EVENT_HANDSHAKE_FAILED_AUTH, 400, at))
                .is_some()
        );
        assert_eq!(watch.handle(&event(EVENT_DISCONNECTED, 9, at)), None);
        // A disconnect after a successful handshake is no failure.
        watch.handle(&event(EVENT_CONNECTED, 9, at));
        watch.handle(&event(EVENT_HANDSHAKE_SUCCEEDED, 0, at));
        assert_eq!(watch.handle(&event(EVENT_DISCONNECTED, 9, at)), None);
    }

    #[test]
    fn failures_read_as_their_cause() {
        let at = "tcp://127.0.0.1:5556";
        let text =
            |cause, curve| HandshakeFailure::new(SocketKind::Xpub, at, cause, curve).to_string();
        assert_eq!(
            text(HandshakeCause::MechanismMismatch, false),
            "ZMTP handshake of the XPUB with tcp://127.0.0.1:5556 failed: security mechanism \
             mismatch (the peer uses CURVE: give this node the keys)"
        );
        assert!(
            text(HandshakeCause::MechanismMismatch, true)
                .ends_with("(the peer does not use CURVE)")
        );
        assert!(
            text(HandshakeCause::Protocol { code: 0x1100_0001 }, true).contains("cryptographic")
        );
        assert!(text(HandshakeCause::AuthRefused { status: 500 }, true).contains("status 500"));
        assert!(text(HandshakeCause::Closed, true).contains("not a ZeroMQ peer?"));
    }

    #[test]
    fn the_monitor_reports_a_refused_client_over_real_sockets() {
        // A CURVE server whose ZAP handler refuses everyone.
        let ctx = zmq::Context::new();
        let zap = ctx.socket(zmq::REP).unwrap();
        zap.bind("inproc://zeromq.zap.01").unwrap();
        let server_keys = zmq::CurveKeyPair::new().unwrap();
        let server = ctx.socket(zmq::XSUB).unwrap();
        server.set_curve_server(true).unwrap();
        server.set_curve_secretkey(&server_keys.secret_key).unwrap();
        server.bind("tcp://127.0.0.1:0").unwrap();
        let at = server.get_last_endpoint().unwrap().unwrap();
        let client_keys = zmq::CurveKeyPair::new().unwrap();
        let client = ctx.socket(zmq::XPUB).unwrap();
        client.set_linger(0).unwrap();
        client.set_curve_serverkey(&server_keys.public_key).unwrap();
        client.set_curve_publickey(&client_keys.public_key).unwrap();
        client.set_curve_secretkey(&client_keys.secret_key).unwrap();
        let mut monitor = Monitor::attach(&ctx, &client, SocketKind::Xpub, true).unwrap();
        client.connect(&at).unwrap();
        let request = zap.recv_multipart(0).unwrap();
        let reply: [&[u8]; 6] = [b"1.0", &request[1], b"400", b"no", b"", b""];
        zap.send_multipart(reply, 0).unwrap();
        let failed = AtomicU64::new(0);
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got.is_empty() && std::time::Instant::now() < deadline {
            let _ = monitor.socket().poll(zmq::POLLIN, 100);
            monitor.drain(&failed, |f| got.push(f));
        }
        assert_eq!(
            got,
            [HandshakeFailure::new(
                SocketKind::Xpub,
                at,
                HandshakeCause::AuthRefused { status: 400 },
                true
            )]
        );
        assert_eq!(failed.load(Ordering::Relaxed), 1);
    }
}
