//! The peering handshake as a state machine whose states are types.
//!
//! Whoever opened the TCP connection sends `hello` at once; the accepting side
//! sends `probe`. The endpoint with the smaller id is the *originator*,
//! whoever dialed: it sends `version_select` and `originator_syn` (its filter),
//! the responder answers `responder_syn_ack` (its filter), and the originator
//! finishes with `originator_ack`.
//!
//! Each state is a struct; [`Handshake::handle`] consumes the state and
//! returns the next one, so a message can only be handled by the state that
//! expects it.

use super::EndpointId;
use super::wire::{HandshakeMessage, PROTOCOL_VERSION_1};
use crate::status::ErrorCode;
use crate::topic::Topic;

/// What a handshake needs to know about its own endpoint.
pub struct Context<'a> {
    /// Our id.
    pub id: EndpointId,
    /// The highest protocol version we speak (1 or 2).
    pub max_version: u8,
    /// Our current filter.
    pub filter: &'a [Topic],
    /// Whether we are peered with (or already handshaking on another
    /// connection with) this endpoint.
    pub is_known: &'a dyn Fn(EndpointId) -> bool,
}

/// A handshake in progress.
#[derive(Debug)]
pub enum Handshake {
    /// Waiting for the peer's `hello` (or, after our own `hello`, for its
    /// `version_select` if it leads).
    AwaitHello(AwaitHello),
    /// We are the responder and wait for the originator's `version_select`.
    AwaitVersionSelect(AwaitVersionSelect),
    /// We are the responder and wait for `originator_syn`.
    AwaitOriginatorSyn(AwaitOriginatorSyn),
    /// We are the originator and wait for `responder_syn_ack`.
    AwaitSynAck(AwaitSynAck),
    /// We are the responder and wait for `originator_ack`.
    AwaitAck(AwaitAck),
}

/// The first state.
#[derive(Debug)]
pub struct AwaitHello {
    sent_hello: bool,
}

/// Responder, hellos exchanged.
#[derive(Debug)]
pub struct AwaitVersionSelect {
    remote: EndpointId,
}

/// Responder, version agreed.
#[derive(Debug)]
pub struct AwaitOriginatorSyn {
    remote: EndpointId,
    version: u8,
}

/// Originator, our filter sent.
#[derive(Debug)]
pub struct AwaitSynAck {
    remote: EndpointId,
    version: u8,
}

/// Responder, our filter sent.
#[derive(Debug)]
pub struct AwaitAck {
    remote: EndpointId,
    version: u8,
    remote_filter: Vec<Topic>,
}

/// The result of handling one message.
#[derive(Debug)]
pub enum Step {
    /// Send these messages and keep going.
    Continue(Handshake, Vec<HandshakeMessage>),
    /// Send these messages; the handshake is complete.
    Done {
        /// Messages to send first.
        send: Vec<HandshakeMessage>,
        /// The peer.
        remote: EndpointId,
        /// The version spoken from now on.
        version: u8,
        /// The peer's filter.
        remote_filter: Vec<Topic>,
    },
    /// We refuse: send `drop_conn` with this code and close.
    Refuse {
        /// Why.
        code: ErrorCode,
        /// The text sent in `drop_conn`.
        description: &'static str,
        /// The peer, if known.
        remote: Option<EndpointId>,
    },
    /// The peer refused with `drop_conn`.
    Refused {
        /// The peer.
        remote: EndpointId,
        /// Its code.
        code: ErrorCode,
        /// Its text.
        description: String,
    },
}

/// Text of `drop_conn` for unsupported versions, as Broker writes it.
pub const UNSUPPORTED_VERSIONS: &str = "unsupported versions offered";
/// Text of `drop_conn` for a redundant connection, as Broker writes it.
pub const REDUNDANT_CONNECTION: &str = "redundant connection";
/// Text of `drop_conn` for a wrong magic number, as Broker writes it.
pub const WRONG_MAGIC: &str = "wrong magic number";
/// Text of `drop_conn` for a message out of order.
pub const UNEXPECTED_MESSAGE: &str = "unexpected handshake message";
/// Text of `drop_conn` for a malformed message.
pub const INVALID_MESSAGE: &str = "invalid message";

impl Handshake {
    /// The handshake of a connection we opened: send `hello` at once.
    pub fn connect(ctx: &Context<'_>) -> (Handshake, Vec<HandshakeMessage>) {
        (
            Handshake::AwaitHello(AwaitHello { sent_hello: true }),
            vec![hello(ctx)],
        )
    }

    /// The handshake of a connection we accepted: send `probe` at once.
    pub fn accept() -> (Handshake, Vec<HandshakeMessage>) {
        (
            Handshake::AwaitHello(AwaitHello { sent_hello: false }),
            vec![HandshakeMessage::Probe],
        )
    }

    /// The peer's id, once known.
    pub fn remote(&self) -> Option<EndpointId> {
        match self {
            Handshake::AwaitHello(_) => None,
            Handshake::AwaitVersionSelect(s) => Some(s.remote),
            Handshake::AwaitOriginatorSyn(s) => Some(s.remote),
            Handshake::AwaitSynAck(s) => Some(s.remote),
            Handshake::AwaitAck(s) => Some(s.remote),
        }
    }

    /// Handles one message from the peer.
    pub fn handle(self, msg: HandshakeMessage, ctx: &Context<'_>) -> Step {
        if let HandshakeMessage::DropConn {
            sender,
            code,
            description,
        } = msg
        {
            return Step::Refused {
                remote: sender,
                code: ErrorCode::from_u8(code),
                description,
            };
        }
        match self {
            Handshake::AwaitHello(s) => s.handle(msg, ctx),
            Handshake::AwaitVersionSelect(s) => s.handle(msg, ctx),
            Handshake::AwaitOriginatorSyn(s) => s.handle(msg, ctx),
            Handshake::AwaitSynAck(s) => s.handle(msg),
            Handshake::AwaitAck(s) => s.handle(msg),
        }
    }
}

fn hello(ctx: &Context<'_>) -> HandshakeMessage {
    HandshakeMessage::Hello {
        sender: ctx.id,
        min_version: PROTOCOL_VERSION_1,
        max_version: ctx.max_version,
    }
}

fn unexpected(remote: Option<EndpointId>) -> Step {
    Step::Refuse {
        code: ErrorCode::UnexpectedHandshakeMessage,
        description: UNEXPECTED_MESSAGE,
        remote,
    }
}

fn incompatible(remote: Option<EndpointId>) -> Step {
    Step::Refuse {
        code: ErrorCode::PeerIncompatible,
        description: UNSUPPORTED_VERSIONS,
        remote,
    }
}

impl AwaitHello {
    fn handle(self, msg: HandshakeMessage, ctx: &Context<'_>) -> Step {
        match msg {
            HandshakeMessage::Probe => Step::Continue(Handshake::AwaitHello(self), vec![]),
            HandshakeMessage::Hello {
                sender,
                min_version,
                max_version,
            } => {
                if min_version > PROTOCOL_VERSION_1 || max_version < PROTOCOL_VERSION_1 {
                    return incompatible(Some(sender));
                }
                if sender == ctx.id {
                    return Step::Refuse {
                        code: ErrorCode::InvalidPeeringRequest,
                        description: "cannot peer with itself",
                        remote: Some(sender),
                    };
                }
                if ctx.id < sender {
                    // We lead; a second connection to a known peer is refused.
                    if (ctx.is_known)(sender) {
                        return Step::Refuse {
                            code: ErrorCode::RedundantConnection,
                            description: REDUNDANT_CONNECTION,
                            remote: Some(sender),
                        };
                    }
                    let version = max_version.min(ctx.max_version);
                    let send = vec![
                        HandshakeMessage::VersionSelect {
                            sender: ctx.id,
                            version,
                        },
                        HandshakeMessage::OriginatorSyn {
                            filter: ctx.filter.to_vec(),
                        },
                    ];
                    Step::Continue(
                        Handshake::AwaitSynAck(AwaitSynAck {
                            remote: sender,
                            version,
                        }),
                        send,
                    )
                } else {
                    let send = if self.sent_hello {
                        vec![]
                    } else {
                        vec![hello(ctx)]
                    };
                    Step::Continue(
                        Handshake::AwaitVersionSelect(AwaitVersionSelect { remote: sender }),
                        send,
                    )
                }
            }
            // The peer leads and answered our hello directly.
            HandshakeMessage::VersionSelect { sender, version } if self.sent_hello => {
                AwaitVersionSelect { remote: sender }.select(sender, version, ctx)
            }
            _ => unexpected(None),
        }
    }
}

impl AwaitVersionSelect {
    fn handle(self, msg: HandshakeMessage, ctx: &Context<'_>) -> Step {
        match msg {
            HandshakeMessage::Probe => Step::Continue(Handshake::AwaitVersionSelect(self), vec![]),
            HandshakeMessage::VersionSelect { sender, version } => {
                self.select(sender, version, ctx)
            }
            _ => unexpected(Some(self.remote)),
        }
    }

    fn select(self, sender: EndpointId, version: u8, ctx: &Context<'_>) -> Step {
        if sender != self.remote && !self.remote.is_nil() {
            return unexpected(Some(self.remote));
        }
        if sender >= ctx.id {
            // The larger id must not lead.
            return unexpected(Some(sender));
        }
        if version < PROTOCOL_VERSION_1 || version > ctx.max_version {
            return incompatible(Some(sender));
        }
        Step::Continue(
            Handshake::AwaitOriginatorSyn(AwaitOriginatorSyn {
                remote: sender,
                version,
            }),
            vec![],
        )
    }
}

impl AwaitOriginatorSyn {
    fn handle(self, msg: HandshakeMessage, ctx: &Context<'_>) -> Step {
        match msg {
            HandshakeMessage::OriginatorSyn { filter } => Step::Continue(
                Handshake::AwaitAck(AwaitAck {
                    remote: self.remote,
                    version: self.version,
                    remote_filter: filter,
                }),
                vec![HandshakeMessage::ResponderSynAck {
                    filter: ctx.filter.to_vec(),
                }],
            ),
            _ => unexpected(Some(self.remote)),
        }
    }
}

impl AwaitSynAck {
    fn handle(self, msg: HandshakeMessage) -> Step {
        match msg {
            HandshakeMessage::ResponderSynAck { filter } => Step::Done {
                send: vec![HandshakeMessage::OriginatorAck],
                remote: self.remote,
                version: self.version,
                remote_filter: filter,
            },
            HandshakeMessage::Probe => Step::Continue(Handshake::AwaitSynAck(self), vec![]),
            _ => unexpected(Some(self.remote)),
        }
    }
}

impl AwaitAck {
    fn handle(self, msg: HandshakeMessage) -> Step {
        match msg {
            HandshakeMessage::OriginatorAck => Step::Done {
                send: vec![],
                remote: self.remote,
                version: self.version,
                remote_filter: self.remote_filter,
            },
            _ => unexpected(Some(self.remote)),
        }
    }
}
