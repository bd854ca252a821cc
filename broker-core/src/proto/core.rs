//! The protocol core of one endpoint: connections, handshakes, filters,
//! routing and forwarding, without any I/O.
//!
//! The driver (the tokio runtime, or a test simulation) feeds the core with
//! `handle_*` calls — bytes from a connection, a closed connection, a timer,
//! a local publish or subscribe — and takes its outputs with `poll_*` calls:
//! bytes to write per connection, events (deliveries, statuses, errors,
//! connections to close) and the next deadline. Time always comes in as
//! `now`; the core never reads a clock, a socket or a random source.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::EndpointId;
use super::dedup::Dedup;
use super::filter::PrefixIndex;
use super::handshake::{self, Context, Handshake, Step};
use super::queue::Outbound;
use super::routes::Routes;
pub use super::types::{
    ByType, CloseReason, Config, ConnectionId, Counters, Direction, Event, OverflowPolicy,
    PeerStats, SubscriberId,
};
use super::wire::{
    self, CONTROL_TOPIC, DEFAULT_TTL, EnvelopeHeader, EnvelopeRef, EnvelopeType, FrameDecoder,
    HandshakeMessage, Origin, PROTOCOL_VERSION_2, WireError,
};
use crate::data::view::DataBuf;
use crate::data::{Data, bin};
use crate::status::{ErrorCode, StatusCode};
use crate::topic::Topic;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A connection holding more than this of a partial frame checks the total
/// against [`Config::max_input_buffer`].
const INPUT_BUFFER_CHECK_FROM: usize = 1 << 20;

/// The largest ping payload answered with a pong (Broker's own pings carry
/// a few bytes).
const MAX_PING_PAYLOAD: usize = 64 * 1024;

enum ConnState {
    Handshake(Handshake),
    Peered(Peering),
    /// A goodbye was sent; waiting for the pong or the deadline.
    Closing(Peering),
}

struct Peering {
    remote: EndpointId,
    version: u8,
    filter: PrefixIndex<()>,
    /// The BYE token we sent, while unpeering.
    bye: Option<Vec<u8>>,
}

struct Connection {
    direction: Direction,
    state: Option<ConnState>,
    frames: FrameDecoder,
    outbound: Outbound,
    deadline: Option<Instant>,
    stats: PeerStats,
    /// A second completed connection to a peer we already have.
    duplicate: bool,
    /// The filter our syn or syn-ack carried.
    sent_filter: Option<Vec<Topic>>,
    /// Since when the queue has been full.
    full_since: Option<Instant>,
    /// The topic of the last envelope received, reused for runs of one topic.
    last_topic: Option<Topic>,
    /// Full for longer than the stall timeout.
    stalled: bool,
}

/// The protocol core of one endpoint.
pub struct Core {
    config: Config,
    conns: HashMap<ConnectionId, Connection>,
    /// Established peerings by peer id.
    peers: HashMap<EndpointId, ConnectionId>,
    /// Local subscribers, clients and forwards, and the filter we
    /// advertise.
    routes: Routes,
    events: VecDeque<Event>,
    next_seq: u64,
    dedup: Dedup,
    bye_counter: u64,
    /// Frames still to write on connections the core has let go of (a
    /// `drop_conn`, say), until the driver takes them and closes.
    draining: HashMap<ConnectionId, Outbound>,
    /// Reused for the list of connections a message goes to.
    scratch: Vec<ConnectionId>,
    /// Reused for the frames of a message.
    frame_scratch: Vec<u8>,
    counters: Counters,
    /// Local subscribers that take values as views ([`Event::DeliverView`]).
    views: Vec<SubscriberId>,
}

impl Core {
    /// A core with this configuration and no connections.
    pub fn new(config: Config) -> Core {
        Core {
            config,
            conns: HashMap::default(),
            peers: HashMap::default(),
            routes: Routes::new(),
            events: VecDeque::new(),
            next_seq: 0,
            dedup: Dedup::default(),
            bye_counter: 0,
            draining: HashMap::default(),
            scratch: Vec::new(),
            frame_scratch: Vec::new(),
            counters: Counters::default(),
            views: Vec::new(),
        }
    }

    /// Our id.
    pub fn id(&self) -> EndpointId {
        self.config.id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The filter we advertise to peers.
    pub fn filter(&mut self) -> &[Topic] {
        self.sync_filter();
        self.routes.filter()
    }

    /// The peers we are peered with, and their connections.
    pub fn peers(&self) -> impl Iterator<Item = (EndpointId, ConnectionId)> + '_ {
        self.peers.iter().map(|(id, conn)| (*id, *conn))
    }

    /// The peer on a connection, once the handshake told us.
    pub fn remote_of(&self, conn: ConnectionId) -> Option<EndpointId> {
        match self.conns.get(&conn)?.state.as_ref()? {
            ConnState::Handshake(h) => h.remote(),
            ConnState::Peered(p) | ConnState::Closing(p) => Some(p.remote),
        }
    }

    /// Who opened the connection.
    pub fn direction(&self, conn: ConnectionId) -> Option<Direction> {
        self.conns.get(&conn).map(|c| c.direction)
    }

    /// Whether the connection has completed its handshake.
    pub fn is_peered(&self, conn: ConnectionId) -> bool {
        matches!(
            self.conns.get(&conn).and_then(|c| c.state.as_ref()),
            Some(ConnState::Peered(_))
        )
    }

    /// The filter a peer advertised, as prefixes.
    pub fn peer_filter(&self, peer: EndpointId) -> Vec<Topic> {
        let Some(conn) = self.peers.get(&peer).and_then(|c| self.conns.get(c)) else {
            return Vec::new();
        };
        match &conn.state {
            Some(ConnState::Peered(p) | ConnState::Closing(p)) => {
                let mut prefixes: Vec<Topic> = p
                    .filter
                    .prefixes()
                    .filter_map(|b| Topic::from_bytes(b).ok())
                    .collect();
                prefixes.sort();
                prefixes
            }
            _ => Vec::new(),
        }
    }

    /// Queue statistics of a connection.
    pub fn stats(&self, conn: ConnectionId) -> Option<PeerStats> {
        self.conns.get(&conn).map(|c| PeerStats {
            queued: c.outbound.len(),
            queued_bytes: c.outbound.bytes(),
            ..c.stats
        })
    }

    /// What the core has counted so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// How many connections the core knows (handshakes and peerings).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Whether local publishers may go on: false while some peer's queue is
    /// full. A peer whose queue stays full for [`Config::stall_timeout`] is
    /// stalled and no longer holds publishers back; its queue then follows
    /// the overflow policy, so one stuck peer cannot stop the others.
    pub fn can_publish(&mut self, now: Instant) -> bool {
        let stall = self.config.stall_timeout;
        let mut open = true;
        for c in self.conns.values_mut() {
            if !matches!(c.state, Some(ConnState::Peered(_))) {
                continue;
            }
            if !c.outbound.is_full(&self.config) {
                c.full_since = None;
                c.stalled = false;
                continue;
            }
            let since = *c.full_since.get_or_insert(now);
            c.stalled = now.saturating_duration_since(since) >= stall;
            if !c.stalled {
                open = false;
            }
        }
        open
    }

    // ---- inputs -------------------------------------------------------

    /// A transport connection is up: start the handshake.
    pub fn handle_connect(&mut self, conn: ConnectionId, direction: Direction, now: Instant) {
        let (handshake, send) = match direction {
            Direction::Outbound => Handshake::connect(&self.context_without_known()),
            Direction::Inbound => Handshake::accept(),
        };
        let mut c = Connection {
            direction,
            state: Some(ConnState::Handshake(handshake)),
            frames: FrameDecoder::new(self.config.max_frame_size),
            outbound: Outbound::default(),
            deadline: Some(now + self.config.handshake_timeout),
            stats: PeerStats::default(),
            duplicate: false,
            sent_filter: None,
            full_since: None,
            last_topic: None,
            stalled: false,
        };
        for msg in send {
            push_handshake(&mut c, &msg);
        }
        self.conns.insert(conn, c);
    }

    /// Bytes arrived on a connection.
    pub fn handle_bytes(&mut self, conn: ConnectionId, mut bytes: &[u8]) {
        // Frames that arrive whole are read where they are; the connection's
        // buffer only collects a frame split across reads, and takes no more
        // than that frame's bytes.
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.frames.buffered() == 0 {
                match c.frames.whole_frame(bytes) {
                    Ok(Some(payload)) => {
                        let frame = &bytes[payload.clone()];
                        bytes = &bytes[payload.end..];
                        self.handle_frame(conn, frame);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.protocol_error(conn, &e);
                        return;
                    }
                }
            }
            if bytes.is_empty() {
                return;
            }
            let (head, rest) = bytes.split_at(c.frames.missing().min(bytes.len()));
            bytes = rest;
            c.frames.extend(head);
            if !self.handle_buffered(conn) {
                return;
            }
        }
    }

    /// Handles the complete frames in `conn`'s buffer; false if the
    /// connection is gone.
    fn handle_buffered(&mut self, conn: ConnectionId) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        // The frames are read in place from a decoder taken out of the
        // connection (handling a frame needs the whole core) and put back
        // unless the connection was closed meanwhile.
        let mut frames = std::mem::replace(&mut c.frames, FrameDecoder::new(0));
        loop {
            if !self.conns.contains_key(&conn) {
                return false;
            }
            match frames.next_frame_in_place() {
                Ok(Some(frame)) => self.handle_frame(conn, frame),
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(conn, &e);
                    return false;
                }
            }
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        frames.compact();
        let buffered = frames.buffered();
        c.frames = frames;
        // Partly received frames of all connections together stay within
        // `max_input_buffer`: the connection that goes past it is closed.
        // Summed only while this one holds a large part of a frame.
        if buffered > INPUT_BUFFER_CHECK_FROM {
            let total: usize = self.conns.values().map(|c| c.frames.buffered()).sum();
            if total > self.config.max_input_buffer {
                let error = WireError::InputBufferExceeded {
                    total,
                    max: self.config.max_input_buffer,
                };
                self.protocol_error(conn, &error);
                return false;
            }
        }
        true
    }

    /// The transport connection closed or broke.
    pub fn handle_closed(&mut self, conn: ConnectionId) {
        self.draining.remove(&conn);
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        match c.state {
            Some(ConnState::Peered(p)) if !c.duplicate => {
                self.lose_peer(
                    conn,
                    p.remote,
                    StatusCode::PeerLost,
                    "lost connection to remote peer",
                );
                self.events.push_back(Event::Close {
                    conn,
                    reason: CloseReason::Lost,
                });
            }
            Some(ConnState::Closing(p)) if !c.duplicate => {
                self.lose_peer(
                    conn,
                    p.remote,
                    StatusCode::PeerRemoved,
                    "removed connection to remote peer",
                );
                self.events.push_back(Event::Close {
                    conn,
                    reason: CloseReason::Unpeered,
                });
            }
            Some(ConnState::Handshake(h)) => {
                self.events.push_back(Event::Error {
                    conn: Some(conn),
                    peer: h.remote(),
                    code: ErrorCode::PeerDisconnectDuringHandshake,
                    message: "peer disconnected during the handshake".into(),
                });
                self.events.push_back(Event::Close {
                    conn,
                    reason: CloseReason::HandshakeFailed(ErrorCode::PeerDisconnectDuringHandshake),
                });
            }
            _ => self.events.push_back(Event::Close {
                conn,
                reason: CloseReason::Lost,
            }),
        }
    }

    /// Time passed: expire handshakes and unpeers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<ConnectionId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for conn in expired {
            let Some(c) = self.conns.get(&conn) else {
                continue;
            };
            match &c.state {
                Some(ConnState::Handshake(h)) => {
                    let peer = h.remote();
                    self.events.push_back(Event::Error {
                        conn: Some(conn),
                        peer,
                        code: ErrorCode::PeerTimeout,
                        message: "handshake timed out".into(),
                    });
                    self.remove_conn(conn);
                    self.events.push_back(Event::Close {
                        conn,
                        reason: CloseReason::HandshakeFailed(ErrorCode::PeerTimeout),
                    });
                }
                Some(ConnState::Closing(_)) => self.finish_unpeer(conn),
                _ => {}
            }
        }
    }

    /// The prefixes this endpoint wants from the network on behalf of
    /// everyone but the subscriber `except` (a client that bridges another
    /// network: the ZeroMQ node): local subscriptions, forwards, other
    /// clients' subscriptions and the filters of peers, sorted and unique.
    pub fn wanted_except(&self, except: SubscriberId) -> Vec<Topic> {
        let mut out: Vec<Topic> = self.routes.wanted_except(except).cloned().collect();
        for conn in self.peers.values() {
            if let Some(ConnState::Peered(p)) = self.conns.get(conn).and_then(|c| c.state.as_ref())
            {
                out.extend(
                    p.filter
                        .prefixes()
                        .filter_map(|b| Topic::from_bytes(b).ok()),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// A number that changes whenever [`Core::wanted_except`] may give
    /// another answer.
    pub fn wanted_generation(&self) -> u64 {
        self.routes.generation()
    }

    /// How many prefixes the filter we advertise holds.
    pub fn advertised_filter_len(&self) -> usize {
        self.routes.advertised_len()
    }

    /// Subscribes a local subscriber to a prefix.
    pub fn subscribe(&mut self, sub: SubscriberId, prefix: Topic) {
        self.routes.subscribe(sub, prefix);
    }

    /// Removes one subscription of a local subscriber.
    pub fn unsubscribe(&mut self, sub: SubscriberId, prefix: &Topic) {
        self.routes.unsubscribe(sub, prefix);
    }

    /// Removes every subscription of a local subscriber.
    pub fn remove_subscriber(&mut self, sub: SubscriberId, prefixes: &[Topic]) {
        self.routes.remove_subscriber(sub, prefixes);
        self.views.retain(|v| *v != sub);
    }

    /// Makes a local subscriber take values as views: its messages come as
    /// [`Event::DeliverView`], checked and indexed instead of decoded (see
    /// [`DataBuf`]). A message for views only is never decoded.
    pub fn add_view_subscriber(&mut self, sub: SubscriberId) {
        if !self.views.contains(&sub) {
            self.views.push(sub);
        }
    }

    /// Makes a local subscriber a *client*: a peer that is attached to this
    /// endpoint without the native protocol (a WebSocket client). Besides
    /// what peers send, it receives this endpoint's own publications, and it
    /// publishes with [`Core::publish_from`]. Its subscriptions are made with
    /// [`Core::subscribe`] and become part of the advertised filter, and
    /// [`Core::remove_subscriber`] removes it.
    pub fn add_client(&mut self, sub: SubscriberId) {
        self.routes.add_client(sub);
    }

    /// Asks peers for messages on `prefix` without delivering them locally
    /// (they are relayed when forwarding is on).
    pub fn forward(&mut self, prefix: Topic) {
        self.routes.forward(prefix);
    }

    /// Undoes one [`Core::forward`].
    pub fn unforward(&mut self, prefix: &Topic) {
        self.routes.unforward(prefix);
    }

    /// Publishes a value to every peer whose filter matches. Returns the
    /// number of peers it was queued for. Local subscribers never receive
    /// their own endpoint's publications.
    pub fn publish(&mut self, topic: &Topic, data: &Data) -> usize {
        let payload = bin::encode(data);
        self.publish_encoded(topic, &payload)
    }

    /// Like [`Core::publish`], with the value already in bin v1. Clients
    /// (see [`Core::add_client`]) whose subscriptions match receive it too.
    pub fn publish_encoded(&mut self, topic: &Topic, payload: &[u8]) -> usize {
        let n = self.publish_to_peers(topic, payload);
        if self.routes.has_clients() {
            let clients = self.routes.matches(topic, None, true);
            // Our own encoding: it decodes, or nobody local can read it.
            if !clients.is_empty()
                && let Ok(data) = bin::decode(payload)
            {
                self.events.push_back(Event::Deliver {
                    topic: topic.clone(),
                    data,
                    size: payload.len(),
                    subscribers: clients,
                });
            }
        }
        n
    }

    /// Publishes on behalf of the client `source`: to every peer whose
    /// filter matches, and to every local subscriber and client whose
    /// subscriptions match, except `source` itself. `payload` is `data` in
    /// bin v1. Returns the number of peers it was queued for.
    pub fn publish_from(
        &mut self,
        source: SubscriberId,
        topic: &Topic,
        payload: &[u8],
        data: Data,
    ) -> usize {
        let n = self.publish_to_peers(topic, payload);
        let mut local = self.routes.matches(topic, Some(source), false);
        let views = self.take_views(&mut local);
        if !views.is_empty()
            && let Ok(value) = DataBuf::parse(payload)
        {
            self.events.push_back(Event::DeliverView {
                topic: topic.clone(),
                value,
                subscribers: views,
            });
        }
        if !local.is_empty() {
            self.events.push_back(Event::Deliver {
                topic: topic.clone(),
                data,
                size: payload.len(),
                subscribers: local,
            });
        }
        n
    }

    /// Moves the view subscribers out of `subscribers` (the whole list,
    /// without a new one, when all are views).
    fn take_views(&self, subscribers: &mut Vec<SubscriberId>) -> Vec<SubscriberId> {
        if self.views.is_empty() {
            return Vec::new();
        }
        if subscribers.iter().all(|s| self.views.contains(s)) {
            return std::mem::take(subscribers);
        }
        let mut views = Vec::new();
        subscribers.retain(|s| {
            let view = self.views.contains(s);
            if view {
                views.push(*s);
            }
            !view
        });
        views
    }

    /// Queues a message of ours for every peer whose filter matches.
    fn publish_to_peers(&mut self, topic: &Topic, payload: &[u8]) -> usize {
        self.next_seq += 1;
        let origin = Origin {
            endpoint: self.config.id,
            seq: self.next_seq,
        };
        let header = EnvelopeHeader {
            sender: self.config.id,
            receiver: EndpointId::NIL,
            kind: EnvelopeType::Data,
            ttl: self.config.ttl,
            topic,
            origin: Some(origin),
        };
        let mut targets = std::mem::take(&mut self.scratch);
        targets.clear();
        targets.extend(
            self.peers
                .values()
                .copied()
                .filter(|conn| self.peer_matches(*conn, topic)),
        );
        self.send_to(&targets, header, payload);
        let n = targets.len();
        self.scratch = targets;
        n
    }

    /// Sends a value to one peer only (Broker's unicast publish).
    pub fn publish_to(&mut self, peer: EndpointId, topic: &Topic, data: &Data) -> bool {
        let Some(conn) = self.peers.get(&peer).copied() else {
            return false;
        };
        self.next_seq += 1;
        let header = EnvelopeHeader {
            sender: self.config.id,
            receiver: peer,
            kind: EnvelopeType::Data,
            ttl: self.config.ttl,
            topic,
            origin: Some(Origin {
                endpoint: self.config.id,
                seq: self.next_seq,
            }),
        };
        self.send_to(&[conn], header, &bin::encode(data));
        true
    }

    /// Starts a graceful unpeer: a goodbye ping, then close on its pong or
    /// after the unpeer timeout. False if the connection is not a peering.
    pub fn unpeer(&mut self, conn: ConnectionId, now: Instant) -> bool {
        let id = self.config.id;
        let timeout = self.config.unpeer_timeout;
        self.bye_counter += 1;
        let mut token = b"BYE".to_vec();
        token.extend_from_slice(&self.bye_counter.to_le_bytes());
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let Some(ConnState::Peered(mut p)) = c.state.take() else {
            return false;
        };
        let frame = control_frame(id, p.remote, EnvelopeType::Ping, p.version, &token);
        c.outbound.push(&frame);
        self.counters.sent.add(EnvelopeType::Ping);
        p.bye = Some(token);
        c.deadline = Some(now + timeout);
        if self.peers.get(&p.remote) == Some(&conn) {
            self.peers.remove(&p.remote);
            self.routes.touch();
        }
        c.state = Some(ConnState::Closing(p));
        true
    }

    /// Closes a connection at once (used when shutting down or when a
    /// connection must go without a goodbye).
    pub fn close(&mut self, conn: ConnectionId, reason: CloseReason) {
        // Unsent messages are dropped with the connection.
        if let Some(c) = self.conns.remove(&conn) {
            self.end_peering(
                conn,
                &c,
                StatusCode::PeerRemoved,
                "removed connection to remote peer",
            );
            self.events.push_back(Event::Close { conn, reason });
        }
    }

    // ---- outputs ------------------------------------------------------

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Takes queued frames of `conn` as one chunk of about `max_bytes` (at
    /// least one frame), without copying them, with the number of frames.
    pub fn poll_transmit_chunk(
        &mut self,
        conn: ConnectionId,
        max_bytes: usize,
    ) -> Option<(Bytes, usize)> {
        self.sync_filter();
        let queue = match self.conns.get_mut(&conn) {
            Some(c) => &mut c.outbound,
            None => self.draining.get_mut(&conn)?,
        };
        let chunk = queue.take(max_bytes);
        if queue.is_empty() {
            self.draining.remove(&conn);
        }
        chunk
    }

    /// Like [`Core::poll_transmit_chunk`], appending the frames to `out`.
    /// Returns the number of frames moved.
    pub fn poll_transmit(
        &mut self,
        conn: ConnectionId,
        out: &mut Vec<u8>,
        max_bytes: usize,
    ) -> usize {
        let room = max_bytes.saturating_sub(out.len());
        match self.poll_transmit_chunk(conn, room) {
            Some((chunk, frames)) => {
                out.extend_from_slice(&chunk);
                frames
            }
            None => 0,
        }
    }

    /// Whether `conn` has bytes to send.
    pub fn has_transmit(&self, conn: ConnectionId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| !c.outbound.is_empty())
            || self.draining.contains_key(&conn)
    }

    /// The connections with bytes to send (after queuing any routing
    /// updates that subscription changes made necessary).
    pub fn pending_transmits(&mut self) -> Vec<ConnectionId> {
        self.sync_filter();
        self.conns
            .iter()
            .filter(|(_, c)| !c.outbound.is_empty())
            .map(|(id, _)| *id)
            .chain(self.draining.keys().copied())
            .collect()
    }

    /// Whether any connection has bytes to send.
    pub fn is_idle(&self) -> bool {
        !self.routes.is_dirty()
            && self.draining.is_empty()
            && self.conns.values().all(|c| c.outbound.is_empty())
    }

    /// The earliest deadline the driver must call [`Core::handle_timeout`] at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stall = self.config.stall_timeout;
        self.conns
            .values()
            .flat_map(|c| {
                let stall_at = c.full_since.filter(|_| !c.stalled).map(|t| t + stall);
                [c.deadline, stall_at]
            })
            .flatten()
            .min()
    }

    // ---- internals ----------------------------------------------------

    /// Forgets a connection, keeping its unsent frames for the driver.
    fn remove_conn(&mut self, conn: ConnectionId) -> Option<Connection> {
        let mut c = self.conns.remove(&conn)?;
        if !c.outbound.is_empty() {
            self.draining.insert(conn, std::mem::take(&mut c.outbound));
        }
        Some(c)
    }

    fn context_without_known(&self) -> Context<'_> {
        Context {
            id: self.config.id,
            max_version: self.config.max_version,
            filter: self.routes.filter(),
            is_known: &|_| false,
        }
    }

    fn handle_frame(&mut self, conn: ConnectionId, frame: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // A peering's frames leave the state where it is (moving it out and
        // back copied 120 bytes each way per message); only a handshake
        // takes it.
        let version = match &c.state {
            Some(ConnState::Peered(p) | ConnState::Closing(p)) => p.version,
            Some(ConnState::Handshake(_)) => {
                let Some(ConnState::Handshake(h)) = c.state.take() else {
                    return;
                };
                let msg = match HandshakeMessage::decode(frame) {
                    Ok(msg) => msg,
                    Err(e) => {
                        c.state = Some(ConnState::Handshake(h));
                        self.refuse_malformed(conn, &e);
                        return;
                    }
                };
                self.handle_handshake(conn, h, msg);
                return;
            }
            None => return,
        };
        match EnvelopeRef::decode_cached(frame, version, &mut c.last_topic) {
            Ok(env) => self.handle_envelope(conn, env),
            Err(e) => self.protocol_error(conn, &e),
        }
    }

    fn handle_handshake(&mut self, conn: ConnectionId, h: Handshake, msg: HandshakeMessage) {
        self.sync_filter();
        let step = {
            let peers = &self.peers;
            let conns = &self.conns;
            let is_known = |id: EndpointId| {
                peers.contains_key(&id)
                    || conns.iter().any(|(other, c)| {
                        *other != conn
                            && matches!(&c.state, Some(ConnState::Handshake(h)) if h.remote() == Some(id))
                    })
            };
            let ctx = Context {
                id: self.config.id,
                max_version: self.config.max_version,
                filter: self.routes.filter(),
                is_known: &is_known,
            };
            h.handle(msg, &ctx)
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match step {
            Step::Continue(next, send) => {
                for msg in &send {
                    push_handshake(c, msg);
                }
                c.state = Some(ConnState::Handshake(next));
            }
            Step::Done {
                send,
                remote,
                version,
                remote_filter,
            } => {
                for msg in &send {
                    push_handshake(c, msg);
                }
                c.deadline = None;
                c.state = Some(ConnState::Peered(Peering {
                    remote,
                    version,
                    filter: PrefixIndex::from_filter(&remote_filter),
                    bye: None,
                }));
                if self.peers.contains_key(&remote) {
                    // A second connection completed (simultaneous dials).
                    // The originator keeps the first and closes this one.
                    c.duplicate = true;
                    if self.config.id < remote {
                        self.remove_conn(conn);
                        self.events.push_back(Event::Close {
                            conn,
                            reason: CloseReason::Redundant,
                        });
                    }
                    return;
                }
                self.peers.insert(remote, conn);
                self.routes.touch();
                self.events.push_back(Event::Peered { conn, peer: remote });
                self.events.push_back(Event::Status {
                    conn,
                    peer: remote,
                    code: StatusCode::EndpointDiscovered,
                    message: "found a new peer in the network".into(),
                });
                self.events.push_back(Event::Status {
                    conn,
                    peer: remote,
                    code: StatusCode::PeerAdded,
                    message: "handshake successful".into(),
                });
                // Our filter may have changed while the handshake ran.
                if c.sent_filter.as_deref() != Some(self.routes.filter()) {
                    self.send_routing_update(conn);
                }
            }
            Step::Refuse {
                code,
                description,
                remote,
            } => {
                push_handshake(
                    c,
                    &HandshakeMessage::DropConn {
                        sender: self.config.id,
                        code: code as u8,
                        description: description.into(),
                    },
                );
                self.remove_conn(conn);
                let reason = if code == ErrorCode::RedundantConnection {
                    CloseReason::Redundant
                } else {
                    self.events.push_back(Event::Error {
                        conn: Some(conn),
                        peer: remote,
                        code,
                        message: description.into(),
                    });
                    CloseReason::HandshakeFailed(code)
                };
                self.events.push_back(Event::Close { conn, reason });
            }
            Step::Refused {
                remote,
                code,
                description,
            } => {
                self.remove_conn(conn);
                let reason = if code == ErrorCode::RedundantConnection {
                    CloseReason::Redundant
                } else {
                    self.events.push_back(Event::Error {
                        conn: Some(conn),
                        peer: Some(remote),
                        code,
                        message: format!("peer refused the connection: {description}"),
                    });
                    CloseReason::HandshakeFailed(code)
                };
                self.events.push_back(Event::Close { conn, reason });
            }
        }
    }

    fn handle_envelope(&mut self, conn: ConnectionId, env: EnvelopeRef<'_>) {
        self.counters.received.add(env.kind);
        match env.kind {
            EnvelopeType::RoutingUpdate => match wire::decode_filter_payload(env.payload) {
                Ok(filter) => {
                    if let Some(Connection {
                        state: Some(ConnState::Peered(p) | ConnState::Closing(p)),
                        ..
                    }) = self.conns.get_mut(&conn)
                    {
                        p.filter = PrefixIndex::from_filter(&filter);
                        self.routes.touch();
                    }
                }
                Err(e) => self.protocol_error(conn, &e),
            },
            EnvelopeType::Ping => {
                // Pongs echo the payload: answer only small pings, and only
                // while the peer reads what we send, so that pings cannot
                // make us queue without bound.
                let room = self
                    .conns
                    .get(&conn)
                    .is_some_and(|c| !c.outbound.is_full(&self.config));
                if (env.receiver == self.config.id || env.receiver.is_nil())
                    && env.payload.len() <= MAX_PING_PAYLOAD
                    && room
                {
                    self.reply_pong(conn, &env);
                }
            }
            EnvelopeType::Pong => {
                let done = matches!(
                    self.conns.get(&conn).and_then(|c| c.state.as_ref()),
                    Some(ConnState::Closing(p)) if p.bye.as_deref() == Some(env.payload)
                );
                if done {
                    self.finish_unpeer(conn);
                }
            }
            EnvelopeType::Data | EnvelopeType::Command => self.route(conn, env),
        }
    }

    fn route(&mut self, conn: ConnectionId, env: EnvelopeRef<'_>) {
        let id = self.config.id;
        if let Some(origin) = env.origin.filter(|o| !o.endpoint.is_nil()) {
            if origin.endpoint == id {
                return; // Our own message came back around a loop.
            }
            if !self.dedup.first_sight(origin) {
                return; // Already seen through another path.
            }
        }
        let for_us = env.receiver.is_nil() || env.receiver == id;
        let subscribers = if env.kind == EnvelopeType::Data && for_us {
            self.routes.matches(&env.topic, None, false)
        } else {
            Vec::new()
        };
        let relaying = self.relay_targets(conn, &env);
        if subscribers.is_empty() {
            if relaying {
                self.relay(&env);
            }
            return;
        }
        // A malformed value is neither delivered nor relayed. The topic
        // moves into the delivery unless the relay needs it too.
        if relaying {
            if self.deliver(conn, env.topic.clone(), env.payload, subscribers) {
                self.relay(&env);
            }
        } else {
            self.deliver(conn, env.topic, env.payload, subscribers);
        }
    }

    /// Queues the delivery of a received message and decodes its value
    /// straight into the queued event: decoding into a local and moving it
    /// read the freshly written value back in other sizes, a
    /// store-forwarding stall per message. A malformed value becomes an
    /// error event instead (false).
    fn deliver(
        &mut self,
        conn: ConnectionId,
        topic: Topic,
        payload: &[u8],
        mut subscribers: Vec<SubscriberId>,
    ) -> bool {
        let views = self.take_views(&mut subscribers);
        if !views.is_empty() {
            match DataBuf::parse(payload) {
                Ok(value) => self.events.push_back(Event::DeliverView {
                    topic: topic.clone(),
                    value,
                    subscribers: views,
                }),
                Err(e) => {
                    self.malformed(conn, &topic, &e);
                    return false;
                }
            }
            if subscribers.is_empty() {
                return true;
            }
        }
        self.events.push_back(Event::Deliver {
            size: payload.len(),
            topic,
            data: Data::None,
            subscribers,
        });
        let decoded = match self.events.back_mut() {
            Some(Event::Deliver { data, .. }) => bin::decode_in_place(payload, data),
            _ => Ok(()),
        };
        let Err(e) = decoded else { return true };
        if let Some(Event::Deliver { topic, .. }) = self.events.pop_back() {
            self.malformed(conn, &topic, &e);
        }
        false
    }

    /// Counts and reports a received value that does not decode.
    fn malformed(&mut self, conn: ConnectionId, topic: &Topic, e: &bin::DecodeError) {
        self.counters.malformed_values += 1;
        self.events.push_back(Event::Error {
            conn: Some(conn),
            peer: self.remote_of(conn),
            code: ErrorCode::DeserializationFailed,
            message: format!("dropped a message on {topic} with a malformed value: {e}"),
        });
    }

    /// Collects into `scratch` the peers a received message goes on to
    /// (those that want it, but not the last hop); whether there are any.
    fn relay_targets(&mut self, conn: ConnectionId, env: &EnvelopeRef<'_>) -> bool {
        let id = self.config.id;
        self.scratch.clear();
        if !self.config.forward || env.receiver == id || env.ttl <= 1 {
            return false;
        }
        let last_hop = self.remote_of(conn);
        let mut targets = std::mem::take(&mut self.scratch);
        if env.receiver.is_nil() {
            targets.extend(
                self.peers
                    .iter()
                    .filter(|(peer, _)| Some(**peer) != last_hop)
                    .map(|(_, c)| *c)
                    .filter(|c| self.peer_matches(*c, &env.topic)),
            );
        } else {
            targets.extend(self.peers.get(&env.receiver).copied());
        }
        self.scratch = targets;
        !self.scratch.is_empty()
    }

    /// Sends a received message on to the peers [`Core::relay_targets`]
    /// collected.
    fn relay(&mut self, env: &EnvelopeRef<'_>) {
        let targets = std::mem::take(&mut self.scratch);
        let header = EnvelopeHeader {
            sender: self.config.id,
            receiver: env.receiver,
            kind: env.kind,
            ttl: env.ttl - 1,
            topic: &env.topic,
            origin: env.origin,
        };
        self.send_to(&targets, header, env.payload);
        self.scratch = targets;
    }

    fn peer_matches(&self, conn: ConnectionId, topic: &Topic) -> bool {
        matches!(
            self.conns.get(&conn).and_then(|c| c.state.as_ref()),
            Some(ConnState::Peered(p)) if p.filter.any_match(topic.as_str().as_bytes())
        )
    }

    /// Queues one message for several connections, encoding each protocol
    /// version's header once.
    fn send_to(&mut self, targets: &[ConnectionId], header: EnvelopeHeader<'_>, payload: &[u8]) {
        // Each protocol version's frame header, encoded once into a reused
        // buffer; each peer's queue gets the header and the payload, so the
        // payload is copied once per peer and never into a frame first.
        let mut encoded = std::mem::take(&mut self.frame_scratch);
        let mut spans: [Option<std::ops::Range<usize>>; 2] = [None, None];
        encoded.clear();
        let mut overflowed = Vec::new();
        for &conn in targets {
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let version = match &c.state {
                Some(ConnState::Peered(p)) => p.version,
                _ => continue,
            };
            let slot = usize::from(version >= PROTOCOL_VERSION_2);
            let span = spans[slot]
                .get_or_insert_with(|| {
                    let start = encoded.len();
                    wire::encode_envelope_prefix(&mut encoded, header, version, payload.len());
                    start..encoded.len()
                })
                .clone();
            let head = &encoded[span];
            if c.outbound.is_full(&self.config) {
                c.stats.overflows += 1;
                match self.config.overflow_policy {
                    OverflowPolicy::DropNewest => {
                        self.counters.dropped += 1;
                        continue;
                    }
                    OverflowPolicy::DropOldest => {
                        while c.outbound.is_full(&self.config) && c.outbound.pop() {
                            self.counters.dropped += 1;
                        }
                    }
                    OverflowPolicy::Disconnect => {
                        self.counters.dropped += 1 + c.outbound.len() as u64;
                        overflowed.push(conn);
                        continue;
                    }
                }
            }
            c.outbound.push_parts(head, payload);
            self.counters.sent.add(header.kind);
        }
        self.frame_scratch = encoded;
        for conn in overflowed {
            self.close(conn, CloseReason::Overflow);
        }
    }

    fn reply_pong(&mut self, conn: ConnectionId, ping: &EnvelopeRef<'_>) {
        let id = self.config.id;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let version = match &c.state {
            Some(ConnState::Peered(p) | ConnState::Closing(p)) => p.version,
            _ => return,
        };
        let mut frame = Vec::new();
        wire::encode_envelope_frame(
            &mut frame,
            EnvelopeHeader {
                sender: id,
                receiver: ping.sender,
                kind: EnvelopeType::Pong,
                ttl: ping.ttl,
                topic: &ping.topic,
                origin: None,
            },
            version,
            ping.payload,
        );
        c.outbound.push(&frame);
        self.counters.sent.add(EnvelopeType::Pong);
    }

    fn finish_unpeer(&mut self, conn: ConnectionId) {
        if let Some(c) = self.remove_conn(conn) {
            self.end_peering(
                conn,
                &c,
                StatusCode::PeerRemoved,
                "removed connection to remote peer",
            );
            self.events.push_back(Event::Close {
                conn,
                reason: CloseReason::Unpeered,
            });
        }
    }

    /// Emits the statuses of a peering that ended, unless it was a duplicate.
    fn end_peering(&mut self, conn: ConnectionId, c: &Connection, code: StatusCode, message: &str) {
        if let Some(ConnState::Peered(p) | ConnState::Closing(p)) = &c.state
            && !c.duplicate
        {
            self.lose_peer(conn, p.remote, code, message);
        }
    }

    fn lose_peer(&mut self, conn: ConnectionId, peer: EndpointId, code: StatusCode, message: &str) {
        if self.peers.get(&peer) == Some(&conn) {
            self.peers.remove(&peer);
            self.routes.touch();
        }
        self.events.push_back(Event::Status {
            conn,
            peer,
            code,
            message: message.into(),
        });
        self.events.push_back(Event::Status {
            conn,
            peer,
            code: StatusCode::EndpointUnreachable,
            message: "lost the last path".into(),
        });
    }

    fn refuse_malformed(&mut self, conn: ConnectionId, error: &WireError) {
        self.counters.malformed_frames += 1;
        let (code, text) = match error {
            WireError::WrongMagic(_) => (ErrorCode::WrongMagicNumber, handshake::WRONG_MAGIC),
            _ => (ErrorCode::InvalidMessage, handshake::INVALID_MESSAGE),
        };
        let id = self.config.id;
        if let Some(c) = self.conns.get_mut(&conn) {
            push_handshake(
                c,
                &HandshakeMessage::DropConn {
                    sender: id,
                    code: code as u8,
                    description: text.into(),
                },
            );
        }
        let peer = self.remote_of(conn);
        self.remove_conn(conn);
        self.events.push_back(Event::Error {
            conn: Some(conn),
            peer,
            code,
            message: format!("handshake failed: {error}"),
        });
        self.events.push_back(Event::Close {
            conn,
            reason: CloseReason::HandshakeFailed(code),
        });
    }

    fn protocol_error(&mut self, conn: ConnectionId, error: &WireError) {
        let handshaking = matches!(
            self.conns.get(&conn).and_then(|c| c.state.as_ref()),
            Some(ConnState::Handshake(_))
        );
        if handshaking {
            self.refuse_malformed(conn, error);
            return;
        }
        self.counters.malformed_frames += 1;
        let peer = self.remote_of(conn);
        self.events.push_back(Event::Error {
            conn: Some(conn),
            peer,
            code: ErrorCode::InvalidMessage,
            message: format!("closing connection after a malformed message: {error}"),
        });
        if let Some(c) = self.conns.remove(&conn) {
            self.end_peering(
                conn,
                &c,
                StatusCode::PeerRemoved,
                "removed connection to remote peer (malformed message)",
            );
        }
        self.events.push_back(Event::Close {
            conn,
            reason: CloseReason::ProtocolError(ErrorCode::InvalidMessage),
        });
    }

    /// Brings the advertised filter up to date and tells peers if it
    /// changed. Subscription changes only mark it dirty, so a burst of them
    /// costs one update.
    fn sync_filter(&mut self) {
        if !self.routes.sync() {
            return;
        }
        let peered: Vec<ConnectionId> = self.peers.values().copied().collect();
        for conn in peered {
            self.send_routing_update(conn);
        }
    }

    fn send_routing_update(&mut self, conn: ConnectionId) {
        let id = self.config.id;
        let mut payload = Vec::new();
        wire::encode_filter(self.routes.filter(), &mut payload);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(ConnState::Peered(p)) = &c.state else {
            return;
        };
        let frame = control_frame(
            id,
            p.remote,
            EnvelopeType::RoutingUpdate,
            p.version,
            &payload,
        );
        c.outbound.push(&frame);
        self.counters.sent.add(EnvelopeType::RoutingUpdate);
    }
}

/// A frame on the control topic `<$>`, addressed to one peer.
fn control_frame(
    sender: EndpointId,
    receiver: EndpointId,
    kind: EnvelopeType,
    version: u8,
    payload: &[u8],
) -> Bytes {
    let topic = control_topic();
    let mut frame = Vec::new();
    let header = EnvelopeHeader {
        sender,
        receiver,
        kind,
        ttl: DEFAULT_TTL,
        topic: &topic,
        origin: None,
    };
    wire::encode_envelope_frame(&mut frame, header, version, payload);
    Bytes::from(frame)
}

fn control_topic() -> Topic {
    // "<$>" is three bytes, far below the topic length limit.
    Topic::new(CONTROL_TOPIC).unwrap_or_default()
}

fn push_handshake(c: &mut Connection, msg: &HandshakeMessage) {
    if let HandshakeMessage::OriginatorSyn { filter }
    | HandshakeMessage::ResponderSynAck { filter } = msg
    {
        c.sent_filter = Some(filter.clone());
    }
    let mut frame = Vec::new();
    msg.encode_frame(&mut frame);
    c.outbound.push(&frame);
}

#[cfg(test)]
mod tests;
