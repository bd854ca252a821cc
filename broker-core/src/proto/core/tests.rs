//! Tests of the core: replays of real Broker transcripts, and simulations of
//! several endpoints wired together in memory on virtual time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;
use crate::data::Data;
use crate::proto::wire::Envelope;

// ---- transcript replay ----------------------------------------------------

fn vectors(file: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/broker-vectors")
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn session(file: &str) -> (EndpointId, EndpointId) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/broker-vectors/handshake-sessions.json");
    let sessions: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let s = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file"] == file)
        .unwrap();
    (
        s["a_id"].as_str().unwrap().parse().unwrap(),
        s["b_id"].as_str().unwrap().parse().unwrap(),
    )
}

fn topic(s: &str) -> Topic {
    Topic::new(s).unwrap()
}

/// Plays side `role` ("a" = the dialer, "b" = the listener) of a recorded
/// Broker session with our core, and checks that every frame our side sends
/// equals the recorded one byte for byte (ping tokens excepted: they are
/// local counters).
fn replay(file: &str, role: &str) {
    let frames = vectors(file);
    let (a, b) = session(file);
    let me = if role == "a" { a } else { b };
    let mut config = Config::new(me);
    config.max_version = 1;
    let mut core = Core::new(config);
    let conn = ConnectionId(1);
    let from_me = if role == "a" { "a->b" } else { "b->a" };
    // Our initial subscriptions are what our syn or syn-ack carried.
    if let Some(f) = frames.iter().find(|f| {
        f["dir"] == from_me && (f["kind"] == "originator_syn" || f["kind"] == "responder_syn_ack")
    }) {
        for t in f["notes"]["filter"].as_array().unwrap() {
            core.subscribe(SubscriberId(1), topic(t.as_str().unwrap()));
        }
    }
    let direction = if role == "a" {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let now = Instant::now();
    core.handle_connect(conn, direction, now);
    let mut delivered = 0;
    for f in frames.iter().filter(|f| f["conn"] == 1) {
        let bytes = hex::decode(f["frame_hex"].as_str().unwrap()).unwrap();
        let kind = f["kind"].as_str().unwrap();
        let notes = &f["notes"];
        if f["dir"] != from_me {
            core.handle_bytes(conn, &bytes);
            while let Some(event) = core.poll_event() {
                if let Event::Deliver { data, .. } = event {
                    assert_eq!(
                        hex::encode(crate::data::bin::encode(&data)),
                        notes["value_bin_v1_hex"].as_str().unwrap()
                    );
                    delivered += 1;
                }
            }
            continue;
        }
        match kind {
            "data" => {
                let payload = hex::decode(notes["value_bin_v1_hex"].as_str().unwrap()).unwrap();
                core.publish_encoded(&topic(notes["topic"].as_str().unwrap()), &payload);
            }
            "routing_update" => {
                for t in notes["filter"].as_array().unwrap() {
                    core.subscribe(SubscriberId(2), topic(t.as_str().unwrap()));
                }
            }
            "ping" => assert!(core.unpeer(conn, now)),
            _ => {}
        }
        let mut out = Vec::new();
        assert_eq!(
            core.poll_transmit(conn, &mut out, 0),
            1,
            "{file} {role}: no frame for seq {} ({kind})",
            f["seq"]
        );
        if kind == "ping" {
            // Same header and length; the token is ours.
            assert_eq!(out.len(), bytes.len());
            assert_eq!(out[..4 + 37 + 3], bytes[..4 + 37 + 3], "{file} {role} ping");
        } else {
            assert_eq!(
                hex::encode(&out),
                hex::encode(&bytes),
                "{file} {role}: seq {} ({kind})",
                f["seq"]
            );
        }
    }
    let mut rest = Vec::new();
    core.poll_transmit(conn, &mut rest, usize::MAX);
    assert!(rest.is_empty(), "{file} {role}: unexpected extra frames");
    let expected_deliveries = frames
        .iter()
        .filter(|f| f["dir"] != from_me && f["kind"] == "data")
        .count();
    assert_eq!(delivered, expected_deliveries, "{file} {role}");
}

#[test]
fn replays_connector_smaller_id_in_both_roles() {
    replay("handshake-connector-smaller-id.jsonl", "a");
    replay("handshake-connector-smaller-id.jsonl", "b");
}

#[test]
fn replays_connector_larger_id_in_both_roles() {
    replay("handshake-connector-larger-id.jsonl", "a");
    replay("handshake-connector-larger-id.jsonl", "b");
}

#[test]
fn replays_raw_peer_sessions_in_both_roles() {
    for file in [
        "handshake-raw-peer-originator.jsonl",
        "handshake-raw-peer-responder.jsonl",
    ] {
        replay(file, "a");
        replay(file, "b");
    }
}

/// Feeds the dialer's frames to our listener and returns what we sent.
fn listener_answers(file: &str) -> (Vec<u8>, Vec<Event>) {
    let frames = vectors(file);
    let (_, b) = session(file);
    let mut core = Core::new(Config::new(b));
    let conn = ConnectionId(1);
    core.handle_connect(conn, Direction::Inbound, Instant::now());
    for f in frames.iter().filter(|f| f["dir"] == "a->b") {
        core.handle_bytes(
            conn,
            &hex::decode(f["frame_hex"].as_str().unwrap()).unwrap(),
        );
    }
    let mut out = Vec::new();
    core.poll_transmit(conn, &mut out, usize::MAX);
    let events = std::iter::from_fn(|| core.poll_event()).collect();
    (out, events)
}

fn recorded(file: &str, dir: &str) -> Vec<u8> {
    vectors(file)
        .iter()
        .filter(|f| f["dir"] == dir)
        .flat_map(|f| hex::decode(f["frame_hex"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn peer_answers_unsupported_versions_with_drop_conn_2() {
    let file = "handshake-version-mismatch.jsonl";
    let (out, events) = listener_answers(file);
    assert_eq!(hex::encode(out), hex::encode(recorded(file, "b->a")));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Close {
            reason: CloseReason::HandshakeFailed(ErrorCode::PeerIncompatible),
            ..
        }
    )));
}

#[test]
fn peer_rejects_hello_with_wrong_magic() {
    let file = "handshake-wrong-magic.jsonl";
    let (out, events) = listener_answers(file);
    assert_eq!(hex::encode(out), hex::encode(recorded(file, "b->a")));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Error {
            code: ErrorCode::WrongMagicNumber,
            ..
        }
    )));
}

#[test]
fn fixed_id_frames_match_brokers_encoder() {
    use super::wire::HandshakeMessage;
    for f in vectors("frames-v1-fixed-ids.jsonl") {
        let name = f["name"].as_str().unwrap();
        let bytes = hex::decode(f["frame_hex"].as_str().unwrap()).unwrap();
        let payload = bytes[4..].to_vec();
        let mut out = Vec::new();
        match f["kind"].as_str().unwrap() {
            "data" | "routing_update" | "ping" | "pong" => {
                Envelope::decode(Bytes::from(payload), 1)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .encode_frame(1, &mut out);
            }
            _ => HandshakeMessage::decode(&payload)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .encode_frame(&mut out),
        }
        assert_eq!(hex::encode(out), hex::encode(&bytes), "{name}");
    }
}

// ---- simulation -------------------------------------------------------------

/// Endpoints wired together in memory, on virtual time.
struct Net {
    nodes: Vec<Core>,
    /// (node, conn) -> (node, conn) for every open link.
    links: HashMap<(usize, ConnectionId), (usize, ConnectionId)>,
    next_conn: u64,
    now: Instant,
    /// Received (topic, data) per node.
    received: Vec<Vec<(String, Data)>>,
    /// Received as views (topic, value, subscribers) per node.
    viewed: Vec<Vec<(String, Data, Vec<SubscriberId>)>>,
    statuses: Vec<Vec<(StatusCode, EndpointId)>>,
    errors: Vec<Vec<ErrorCode>>,
    /// Frames moved, to tell whether traffic stopped.
    frames_moved: usize,
}

fn id(n: u8) -> EndpointId {
    EndpointId::from_random_bytes([n; 16])
}

impl Net {
    fn new(count: u8, forward: bool) -> Net {
        let nodes = (1..=count)
            .map(|n| {
                let mut cfg = Config::new(id(n));
                cfg.forward = forward;
                Core::new(cfg)
            })
            .collect();
        Net {
            nodes,
            links: HashMap::new(),
            next_conn: 0,
            now: Instant::now(),
            received: vec![Vec::new(); count as usize],
            viewed: vec![Vec::new(); count as usize],
            statuses: vec![Vec::new(); count as usize],
            errors: vec![Vec::new(); count as usize],
            frames_moved: 0,
        }
    }

    /// Node `from` dials node `to`.
    fn connect(&mut self, from: usize, to: usize) -> (ConnectionId, ConnectionId) {
        self.next_conn += 1;
        let a = ConnectionId(self.next_conn);
        self.next_conn += 1;
        let b = ConnectionId(self.next_conn);
        self.links.insert((from, a), (to, b));
        self.links.insert((to, b), (from, a));
        self.nodes[to].handle_connect(b, Direction::Inbound, self.now);
        self.nodes[from].handle_connect(a, Direction::Outbound, self.now);
        (a, b)
    }

    fn subscribe(&mut self, node: usize, prefix: &str) {
        self.nodes[node].subscribe(SubscriberId(0), topic(prefix));
    }

    fn publish(&mut self, node: usize, t: &str, data: Data) {
        self.nodes[node].publish(&topic(t), &data);
    }

    /// Moves bytes until nothing moves; fails on a livelock.
    fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for n in 0..self.nodes.len() {
                self.drain_events(n);
                let pending = self.nodes[n].pending_transmits();
                for conn in pending {
                    let mut out = Vec::new();
                    self.frames_moved += self.nodes[n].poll_transmit(conn, &mut out, usize::MAX);
                    if let Some(&(peer, peer_conn)) = self.links.get(&(n, conn)) {
                        self.nodes[peer].handle_bytes(peer_conn, &out);
                        moved = true;
                    }
                }
                self.drain_events(n);
            }
            if !moved {
                return;
            }
        }
        panic!("network did not settle: livelock");
    }

    fn drain_events(&mut self, n: usize) {
        while let Some(event) = self.nodes[n].poll_event() {
            match event {
                Event::Deliver { topic, data, .. } => {
                    self.received[n].push((topic.as_str().to_owned(), data));
                }
                Event::DeliverView {
                    topic,
                    value,
                    subscribers,
                } => {
                    let data = value.to_data();
                    self.viewed[n].push((topic.as_str().to_owned(), data, subscribers));
                }
                Event::Status { code, peer, .. } => self.statuses[n].push((code, peer)),
                Event::Error { code, .. } => self.errors[n].push(code),
                Event::Close { conn, .. } => {
                    // Flush what the core queued (a drop_conn), then close.
                    let mut out = Vec::new();
                    self.nodes[n].poll_transmit(conn, &mut out, usize::MAX);
                    if let Some((peer, peer_conn)) = self.links.remove(&(n, conn)) {
                        self.links.remove(&(peer, peer_conn));
                        if !out.is_empty() {
                            self.nodes[peer].handle_bytes(peer_conn, &out);
                        }
                        self.nodes[peer].handle_closed(peer_conn);
                    }
                }
                Event::Peered { .. } => {}
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for node in &mut self.nodes {
            node.handle_timeout(self.now);
        }
        self.drive();
    }

    fn peers_of(&self, n: usize) -> usize {
        self.nodes[n].peers().count()
    }

    fn topics(&self, n: usize) -> Vec<&str> {
        self.received[n].iter().map(|(t, _)| t.as_str()).collect()
    }
}

#[test]
fn pair_peers_with_brokers_status_sequence() {
    let mut net = Net::new(2, false);
    net.connect(0, 1);
    net.drive();
    for (n, other) in [(0, 1u8), (1, 0)] {
        assert_eq!(
            net.statuses[n],
            [
                (StatusCode::EndpointDiscovered, id(other + 1)),
                (StatusCode::PeerAdded, id(other + 1))
            ]
        );
    }
}

#[test]
fn subscriber_receives_event_published_under_prefix() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "a");
    net.connect(0, 1);
    net.drive();
    net.publish(0, "alice", Data::Count(1));
    net.publish(0, "bob", Data::Count(2));
    net.publish(0, "amy", Data::Count(3));
    net.drive();
    assert_eq!(net.topics(1), ["alice", "amy"]);
    // No self-delivery, even when subscribed to one's own topic.
    net.subscribe(0, "a");
    net.publish(0, "alice", Data::Count(4));
    net.drive();
    assert!(net.received[0].is_empty());
}

#[test]
fn three_endpoints_in_a_line_deliver_by_prefix() {
    // mercury(0) peers with venus(1) and earth(2).
    let mut net = Net::new(3, false);
    net.subscribe(1, "zeek/events");
    net.subscribe(2, "zeek/events/errors");
    net.connect(0, 1);
    net.connect(0, 2);
    net.drive();
    for t in [
        "zeek/events/errors",
        "zeek/events/data",
        "zeek/events/errors",
        "zeek/events/data",
    ] {
        net.publish(0, t, Data::from(t));
    }
    net.drive();
    assert_eq!(net.received[1].len(), 4);
    assert_eq!(net.topics(2), ["zeek/events/errors", "zeek/events/errors"]);
    assert!(net.received[0].is_empty());
}

#[test]
fn subscription_after_peering_sends_a_routing_update() {
    let mut net = Net::new(2, false);
    net.connect(0, 1);
    net.drive();
    net.publish(0, "/late/topic/x", Data::Count(1));
    net.subscribe(1, "/late/topic");
    net.drive();
    net.publish(0, "/late/topic/x", Data::Count(7));
    net.drive();
    assert_eq!(
        net.received[1],
        [("/late/topic/x".to_owned(), Data::Count(7))]
    );
}

#[test]
fn unsubscribe_shrinks_the_advertised_filter() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    net.nodes[1].unsubscribe(SubscriberId(0), &topic("/t"));
    net.drive();
    assert!(net.nodes[0].peer_filter(id(2)).is_empty());
    let before = net.frames_moved;
    net.publish(0, "/t/x", Data::Count(1));
    net.drive();
    assert_eq!(
        net.frames_moved, before,
        "nothing is sent to a peer that unsubscribed"
    );
}

#[test]
fn chain_forwards_in_both_directions() {
    // A–B–C–D, all subscribed to /test/, forwarding on.
    let mut net = Net::new(4, true);
    for n in 0..4 {
        net.subscribe(n, "/test/");
    }
    net.connect(0, 1);
    net.connect(1, 2);
    net.connect(2, 3);
    net.drive();
    net.publish(0, "/test/from-a", Data::Count(1));
    net.publish(3, "/test/from-d", Data::Count(2));
    net.drive();
    assert_eq!(net.topics(3), ["/test/from-a"]);
    assert_eq!(net.topics(0), ["/test/from-d"]);
    assert_eq!(net.topics(1).len(), 2);
    assert_eq!(net.topics(2).len(), 2);
}

#[test]
fn forwarder_that_only_forwards_relays_between_leaves() {
    let mut net = Net::new(3, true);
    net.nodes[1].forward(topic("/test"));
    net.subscribe(2, "/test");
    net.connect(0, 1);
    net.connect(1, 2);
    net.drive();
    net.publish(0, "/test/x", Data::Count(1));
    net.drive();
    assert_eq!(net.topics(2), ["/test/x"]);
    assert!(
        net.received[1].is_empty(),
        "forward() does not deliver locally"
    );
}

#[test]
fn without_forwarding_messages_stop_at_the_first_hop() {
    let mut net = Net::new(3, false);
    for n in 0..3 {
        net.subscribe(n, "/t");
    }
    net.connect(0, 1);
    net.connect(1, 2);
    net.drive();
    net.publish(0, "/t", Data::Count(1));
    net.drive();
    assert_eq!(net.received[1].len(), 1);
    assert!(net.received[2].is_empty());
}

#[test]
fn star_delivers_from_the_hub_to_every_leaf() {
    let mut net = Net::new(5, false);
    for leaf in 1..5 {
        net.subscribe(leaf, "/s");
        net.connect(leaf, 0);
    }
    net.drive();
    assert_eq!(net.peers_of(0), 4);
    net.publish(0, "/s/x", Data::Count(9));
    net.drive();
    for leaf in 1..5 {
        assert_eq!(net.received[leaf].len(), 1);
    }
}

#[test]
fn full_mesh_discovers_every_peer() {
    let mut net = Net::new(4, false);
    for a in 0..4 {
        for b in a + 1..4 {
            net.connect(a, b);
        }
    }
    net.drive();
    for n in 0..4 {
        assert_eq!(net.peers_of(n), 3);
        let added = net.statuses[n]
            .iter()
            .filter(|(c, _)| *c == StatusCode::PeerAdded)
            .count();
        assert_eq!(added, 3);
    }
}

#[test]
fn ring_with_forwarding_delivers_once_and_traffic_stops() {
    let mut net = Net::new(5, true);
    for n in 0..5 {
        net.subscribe(n, "/ring");
    }
    for n in 0..5 {
        net.connect(n, (n + 1) % 5);
    }
    net.drive();
    for i in 0..10 {
        net.publish(i % 5, "/ring/x", Data::Count(i as u64));
    }
    net.drive(); // would panic on a forwarding loop
    for n in 0..5 {
        assert_eq!(
            net.received[n].len(),
            8,
            "node {n}: each message once, none of its own"
        );
    }
    let before = net.frames_moved;
    net.drive();
    assert_eq!(net.frames_moved, before, "traffic stopped");
}

#[test]
fn ring_of_broker_version_peers_is_bounded_by_ttl() {
    // Version 1 (as Broker) has no origin ids: the TTL alone ends the loop.
    let mut net = Net::new(3, true);
    for node in &mut net.nodes {
        node.config.max_version = 1;
    }
    for n in 0..3 {
        net.subscribe(n, "/ring");
    }
    for n in 0..3 {
        net.connect(n, (n + 1) % 3);
    }
    net.drive();
    net.publish(0, "/ring", Data::Count(1));
    net.drive();
    // Each hop decrements; the message dies after 16 hops.
    let total: usize = net.received.iter().map(Vec::len).sum();
    assert!(
        total > 0 && total <= 2 * usize::from(DEFAULT_TTL),
        "{total}"
    );
}

#[test]
fn unpeer_gives_removed_and_lost() {
    let mut net = Net::new(2, false);
    let (a, _) = net.connect(0, 1);
    net.drive();
    assert!(net.nodes[0].unpeer(a, net.now));
    net.drive();
    let last = |n: usize| {
        net.statuses[n][2..]
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        last(0),
        [StatusCode::PeerRemoved, StatusCode::EndpointUnreachable]
    );
    assert_eq!(
        last(1),
        [StatusCode::PeerLost, StatusCode::EndpointUnreachable]
    );
    assert_eq!(net.peers_of(0), 0);
    assert_eq!(net.peers_of(1), 0);
}

#[test]
fn unpeer_without_answer_closes_after_the_timeout() {
    let mut net = Net::new(2, false);
    let (a, _) = net.connect(0, 1);
    net.drive();
    // Cut the link silently: the goodbye is never answered.
    net.links.clear();
    assert!(net.nodes[0].unpeer(a, net.now));
    net.drive();
    assert_eq!(net.statuses[0].len(), 2);
    net.advance(Duration::from_secs(4));
    assert_eq!(net.statuses[0][2].0, StatusCode::PeerRemoved);
}

#[test]
fn redundant_connection_is_dropped_and_the_first_keeps_working() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    // The larger id (node 1) dials again; node 0 leads and refuses.
    net.connect(1, 0);
    net.drive();
    assert_eq!(net.peers_of(0), 1);
    assert_eq!(net.peers_of(1), 1);
    assert!(net.errors.iter().all(Vec::is_empty), "{:?}", net.errors);
    assert_eq!(
        net.statuses[0].len(),
        2,
        "no status events for the redundant one"
    );
    net.publish(0, "/t", Data::Count(5));
    net.drive();
    assert_eq!(net.received[1].len(), 1);
    // And the other way round: the smaller id dials again.
    net.connect(0, 1);
    net.drive();
    assert_eq!(net.peers_of(0), 1);
    assert_eq!(net.statuses[1].len(), 2);
}

#[test]
fn simultaneous_dials_end_with_one_peering() {
    let mut net = Net::new(2, false);
    net.subscribe(0, "/t");
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.connect(1, 0);
    net.drive();
    assert_eq!(net.peers_of(0), 1);
    assert_eq!(net.peers_of(1), 1);
    net.publish(0, "/t", Data::Count(1));
    net.publish(1, "/t", Data::Count(2));
    net.drive();
    assert_eq!(net.received[0].len(), 1);
    assert_eq!(net.received[1].len(), 1);
}

#[test]
fn partition_and_reconnect() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    let (a, b) = net.connect(0, 1);
    net.drive();
    // The link breaks.
    net.links.clear();
    net.nodes[0].handle_closed(a);
    net.nodes[1].handle_closed(b);
    net.drive();
    assert_eq!(net.peers_of(0), 0);
    assert!(net.statuses[0].contains(&(StatusCode::PeerLost, id(2))));
    net.publish(0, "/t", Data::Count(1));
    net.drive();
    net.connect(0, 1);
    net.drive();
    net.publish(0, "/t", Data::Count(2));
    net.drive();
    assert_eq!(net.received[1], [("/t".to_owned(), Data::Count(2))]);
}

#[test]
fn handshake_that_never_completes_times_out() {
    let mut net = Net::new(1, false);
    let conn = ConnectionId(99);
    net.nodes[0].handle_connect(conn, Direction::Inbound, net.now);
    net.advance(Duration::from_secs(11));
    assert_eq!(net.errors[0], [ErrorCode::PeerTimeout]);
    assert!(net.nodes[0].poll_timeout().is_none());
}

#[test]
fn garbage_and_oversized_frames_close_only_that_connection() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    // Garbage on a fresh inbound connection of node 1.
    let bad = ConnectionId(500);
    net.nodes[1].handle_connect(bad, Direction::Inbound, net.now);
    net.nodes[1].handle_bytes(bad, &[0, 0, 0, 3, 0xde, 0xad, 0xbe]);
    // A 4 GiB length header on another.
    let huge = ConnectionId(501);
    net.nodes[1].handle_connect(huge, Direction::Inbound, net.now);
    net.nodes[1].handle_bytes(huge, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    net.drive();
    let closes = net.errors[1].len();
    assert_eq!(closes, 2, "{:?}", net.errors[1]);
    net.publish(0, "/t", Data::Count(1));
    net.drive();
    assert_eq!(net.received[1].len(), 1, "the good peer is unaffected");
}

#[test]
fn a_stream_split_anywhere_delivers_the_same_messages() {
    // Whole frames are read where they arrive and split ones are buffered:
    // every way of cutting the stream must give the same deliveries.
    let values: Vec<Data> = (0..12u64)
        .map(|i| match i % 3 {
            0 => Data::Count(i),
            1 => Data::from("x".repeat(i as usize * 40)),
            _ => Data::Vector((0..i).map(Data::Count).collect()),
        })
        .collect();
    for chunk in [1, 2, 3, 4, 5, 7, 13, 64, 333, usize::MAX] {
        let mut net = Net::new(2, false);
        net.subscribe(1, "/t");
        let (a, b) = net.connect(0, 1);
        net.drive();
        for v in &values {
            net.publish(0, "/t", v.clone());
        }
        let mut out = Vec::new();
        net.nodes[0].poll_transmit(a, &mut out, usize::MAX);
        assert!(out.len() > 500, "{}", out.len());
        for piece in out.chunks(chunk.min(out.len())) {
            net.nodes[1].handle_bytes(b, piece);
        }
        net.drain_events(1);
        let got: Vec<&Data> = net.received[1].iter().map(|(_, d)| d).collect();
        assert_eq!(got, values.iter().collect::<Vec<_>>(), "chunks of {chunk}");
        assert!(net.errors[1].is_empty(), "chunks of {chunk}");
    }
}

#[test]
fn an_oversized_length_split_across_reads_is_still_refused() {
    let mut net = Net::new(2, false);
    net.connect(0, 1);
    net.drive();
    let conn = ConnectionId(500);
    net.nodes[1].handle_connect(conn, Direction::Inbound, net.now);
    net.nodes[1].handle_bytes(conn, &[0xff, 0xff]);
    net.nodes[1].handle_bytes(conn, &[0xff]);
    net.drain_events(1);
    assert!(net.errors[1].is_empty(), "nothing to judge yet");
    net.nodes[1].handle_bytes(conn, &[0xff, 1, 2, 3]);
    net.drive();
    assert_eq!(net.errors[1].len(), 1, "{:?}", net.errors[1]);
    assert_eq!(net.peers_of(1), 1, "the good peer stays");
}

#[test]
fn malformed_value_from_a_peer_is_dropped_with_an_error() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    net.nodes[0].publish_encoded(&topic("/t"), &[0x0f]);
    net.publish(0, "/t", Data::Count(2));
    net.drive();
    assert_eq!(net.errors[1], [ErrorCode::DeserializationFailed]);
    assert_eq!(net.received[1], [("/t".to_owned(), Data::Count(2))]);
    assert_eq!(net.peers_of(1), 1);
}

#[test]
fn a_forwarder_that_subscribed_relays_only_well_formed_values() {
    // Node 1 decodes what it delivers; a value it cannot decode goes no
    // further, while the good one reaches node 2 as well, with its topic.
    let mut net = Net::new(3, true);
    net.subscribe(1, "/t");
    net.subscribe(2, "/t");
    net.connect(0, 1);
    net.connect(1, 2);
    net.drive();
    net.nodes[0].publish_encoded(&topic("/t/bad"), &[0x0f]);
    net.nodes[0].publish_encoded(&topic("/t/trailing"), &[0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0]);
    net.publish(0, "/t/good", Data::Count(2));
    net.drive();
    assert_eq!(
        net.errors[1],
        [
            ErrorCode::DeserializationFailed,
            ErrorCode::DeserializationFailed
        ]
    );
    assert_eq!(net.received[1], [("/t/good".to_owned(), Data::Count(2))]);
    assert_eq!(net.received[2], [("/t/good".to_owned(), Data::Count(2))]);
    assert!(net.errors[2].is_empty());
}

#[test]
fn a_view_subscriber_gets_checked_views_and_the_others_values() {
    let mut net = Net::new(2, false);
    let view = SubscriberId(7);
    net.nodes[1].subscribe(view, topic("/t"));
    net.nodes[1].add_view_subscriber(view);
    net.connect(0, 1);
    net.drive();
    let table = crate::payloads::table(3);
    net.publish(0, "/t/a", table.clone());
    net.nodes[0].publish_encoded(&topic("/t/bad"), &[0x0c, 0x02, 0x00, 0x00]);
    net.drive();
    // Views only: nothing decoded, the repeated set element refused.
    assert!(net.received[1].is_empty());
    assert_eq!(
        net.viewed[1],
        [("/t/a".to_owned(), table.clone(), vec![view])]
    );
    assert_eq!(net.errors[1], [ErrorCode::DeserializationFailed]);
    assert_eq!(net.nodes[1].counters().malformed_values, 1);
    // With a subscriber of values as well, each gets its own kind.
    net.subscribe(1, "/t");
    net.publish(0, "/t/b", Data::Count(5));
    net.drive();
    assert_eq!(net.received[1], [("/t/b".to_owned(), Data::Count(5))]);
    assert_eq!(
        net.viewed[1][1],
        ("/t/b".to_owned(), Data::Count(5), vec![view])
    );
    // Removed, it gets nothing more.
    net.nodes[1].remove_subscriber(view, &[topic("/t")]);
    net.publish(0, "/t/c", Data::Count(6));
    net.drive();
    assert_eq!(net.viewed[1].len(), 2);
    assert_eq!(net.received[1].len(), 2);
}

#[test]
fn a_forwarder_with_a_view_subscriber_relays_only_well_formed_values() {
    let mut net = Net::new(3, true);
    let view = SubscriberId(7);
    net.nodes[1].subscribe(view, topic("/t"));
    net.nodes[1].add_view_subscriber(view);
    net.subscribe(2, "/t");
    net.connect(0, 1);
    net.connect(1, 2);
    net.drive();
    net.nodes[0].publish_encoded(&topic("/t/bad"), &[0x0f]);
    net.nodes[0].publish_encoded(&topic("/t/trailing"), &[0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0]);
    net.publish(0, "/t/good", Data::Count(2));
    net.drive();
    assert_eq!(net.errors[1].len(), 2, "{:?}", net.errors[1]);
    assert_eq!(
        net.viewed[1],
        [("/t/good".to_owned(), Data::Count(2), vec![view])]
    );
    assert_eq!(net.received[2], [("/t/good".to_owned(), Data::Count(2))]);
    assert!(net.errors[2].is_empty());
}

#[test]
fn full_queue_applies_the_overflow_policy() {
    for (policy, expect_peers, expect_queued) in [
        (OverflowPolicy::DropOldest, 1, 4),
        (OverflowPolicy::DropNewest, 1, 4),
        (OverflowPolicy::Disconnect, 0, 0),
    ] {
        let mut net = Net::new(2, false);
        net.nodes[0].config.peer_buffer_size = 4;
        net.nodes[0].config.overflow_policy = policy;
        net.subscribe(1, "/t");
        let (a, _) = net.connect(0, 1);
        net.drive();
        for i in 0..10 {
            net.publish(0, "/t", Data::Count(i));
        }
        assert_eq!(net.peers_of(0), expect_peers, "{policy:?}");
        let queued = net.nodes[0].stats(a).map_or(0, |s| s.queued);
        assert_eq!(queued, expect_queued, "{policy:?}");
        net.drive();
        let got: Vec<Data> = net.received[1].iter().map(|(_, d)| d.clone()).collect();
        match policy {
            OverflowPolicy::DropOldest => {
                assert_eq!(got, (6..10).map(Data::Count).collect::<Vec<_>>())
            }
            OverflowPolicy::DropNewest => {
                assert_eq!(got, (0..4).map(Data::Count).collect::<Vec<_>>())
            }
            OverflowPolicy::Disconnect => {
                assert!(got.is_empty());
                assert!(net.statuses[0].contains(&(StatusCode::PeerRemoved, id(2))));
            }
        }
    }
}

#[test]
fn a_full_queue_holds_publishers_back_until_the_peer_is_stalled() {
    let mut net = Net::new(2, false);
    net.nodes[0].config.peer_buffer_size = 4;
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    let t0 = net.now;
    assert!(net.nodes[0].can_publish(t0));
    for i in 0..4 {
        net.publish(0, "/t", Data::Count(i));
    }
    assert!(!net.nodes[0].can_publish(t0), "full: publishers wait");
    assert!(!net.nodes[0].can_publish(t0 + Duration::from_secs(4)));
    assert!(
        net.nodes[0].can_publish(t0 + Duration::from_secs(6)),
        "stalled: no longer holds others back"
    );
    net.drive();
    assert!(net.nodes[0].can_publish(t0 + Duration::from_secs(6)));
    assert_eq!(net.received[1].len(), 4);
}

#[test]
fn ping_is_answered_with_a_pong_carrying_the_same_payload() {
    let mut net = Net::new(2, false);
    let (a, _) = net.connect(0, 1);
    net.drive();
    // An unpeer's goodbye is a ping; the pong comes back and closes.
    assert!(net.nodes[0].unpeer(a, net.now));
    let mut ping = Vec::new();
    net.nodes[0].poll_transmit(a, &mut ping, usize::MAX);
    let b = net.links[&(0, a)].1;
    net.nodes[1].handle_bytes(b, &ping);
    let mut pong = Vec::new();
    net.nodes[1].poll_transmit(b, &mut pong, usize::MAX);
    assert_eq!(pong.len(), ping.len());
    assert_eq!(&pong[4 + 37..], &ping[4 + 37..]);
    assert_eq!(pong[4 + 32], EnvelopeType::Pong as u8);
    assert_eq!(pong[4..20], ping[20..36], "sender and receiver swapped");
}

#[test]
fn version_2_is_chosen_between_our_endpoints_and_1_with_broker() {
    let mut net = Net::new(2, false);
    net.nodes[1].config.max_version = 1;
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    net.publish(0, "/t", Data::Count(1));
    net.drive();
    assert_eq!(net.received[1].len(), 1);
}

// ---- clients (peers attached without the native protocol) -------------------

fn delivered_to(events: &[Event]) -> Vec<(String, Vec<SubscriberId>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Deliver {
                topic, subscribers, ..
            } => Some((topic.as_str().to_owned(), subscribers.clone())),
            _ => None,
        })
        .collect()
}

fn drain(core: &mut Core) -> Vec<Event> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

#[test]
fn client_receives_local_publications_but_plain_subscribers_do_not() {
    let mut core = Core::new(Config::new(id(1)));
    let (plain, client) = (SubscriberId(1), SubscriberId(2));
    core.subscribe(plain, topic("/t"));
    core.subscribe(client, topic("/t"));
    core.add_client(client);
    core.publish(&topic("/t/x"), &Data::Count(1));
    core.publish(&topic("/other"), &Data::Count(2));
    assert_eq!(
        delivered_to(&drain(&mut core)),
        [("/t/x".into(), vec![client])]
    );
}

#[test]
fn client_publication_reaches_peers_and_local_subscribers_but_not_its_source() {
    let mut net = Net::new(2, false);
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    let (plain, a, b) = (SubscriberId(10), SubscriberId(11), SubscriberId(12));
    for sub in [plain, a, b] {
        net.nodes[0].subscribe(sub, topic("/t"));
    }
    net.nodes[0].add_client(a);
    net.nodes[0].add_client(b);
    let value = Data::Count(7);
    let payload = crate::data::bin::encode(&value);
    assert_eq!(
        net.nodes[0].publish_from(a, &topic("/t/x"), &payload, value.clone()),
        1
    );
    assert_eq!(
        delivered_to(&drain(&mut net.nodes[0])),
        [("/t/x".into(), vec![plain, b])]
    );
    net.drive();
    assert_eq!(net.received[1], [("/t/x".to_owned(), value)]);
    // A removed client gets nothing more; the other one still does.
    net.nodes[0].remove_subscriber(b, &[topic("/t")]);
    net.nodes[0].publish(&topic("/t/y"), &Data::Count(8));
    assert_eq!(
        delivered_to(&drain(&mut net.nodes[0])),
        [("/t/y".into(), vec![a])]
    );
}

#[test]
fn the_queue_is_also_bounded_in_bytes() {
    // Room for 1,000 messages but only about 3 KiB: messages of 1,000
    // bytes fill it after three or four, whichever limit comes first.
    let big = |i: u64| Data::Vector(vec![Data::Count(i), Data::from("x".repeat(1000))]);
    for policy in [OverflowPolicy::DropOldest, OverflowPolicy::DropNewest] {
        let mut net = Net::new(2, false);
        net.nodes[0].config.peer_buffer_size = 1000;
        net.nodes[0].config.peer_buffer_bytes = 3000;
        net.nodes[0].config.overflow_policy = policy;
        net.subscribe(1, "/t");
        let (a, _) = net.connect(0, 1);
        net.drive();
        let t0 = net.now;
        assert!(net.nodes[0].can_publish(t0));
        for i in 0..10 {
            net.publish(0, "/t", big(i));
        }
        assert!(!net.nodes[0].can_publish(t0), "{policy:?}: full by bytes");
        let stats = net.nodes[0].stats(a).unwrap();
        assert_eq!(stats.queued, 3, "{policy:?}");
        assert_eq!(stats.overflows, 7, "{policy:?}");
        assert!(stats.queued_bytes >= 3000, "{policy:?}: {stats:?}");
        // Seven messages lost either way: the seven newest, or seven of the
        // oldest to make room; three queued copies of data were counted.
        let counters = *net.nodes[0].counters();
        assert_eq!(counters.dropped, 7, "{policy:?}");
        let sent_data = counters.sent.data;
        net.drive();
        assert_eq!(
            net.nodes[1].counters().received.data,
            3,
            "{policy:?}: received"
        );
        assert_eq!(
            sent_data,
            10 - if policy == OverflowPolicy::DropNewest {
                7
            } else {
                0
            },
            "{policy:?}"
        );
        let got: Vec<Data> = net.received[1].iter().map(|(_, d)| d.clone()).collect();
        let expected: Vec<Data> = match policy {
            OverflowPolicy::DropOldest => (7..10).map(big).collect(),
            _ => (0..3).map(big).collect(),
        };
        assert_eq!(got, expected, "{policy:?}");
        assert!(net.nodes[0].can_publish(t0), "{policy:?}: drained");
    }
}

#[test]
fn a_message_larger_than_the_byte_limit_still_goes_out() {
    let mut net = Net::new(2, false);
    net.nodes[0].config.peer_buffer_bytes = 100;
    net.subscribe(1, "/t");
    net.connect(0, 1);
    net.drive();
    net.publish(0, "/t", Data::from("y".repeat(5000)));
    net.drive();
    assert_eq!(net.received[1].len(), 1);
}

/// An envelope frame from node 1 to node 0 on their link, as node 1 would
/// write it (protocol version 2 between our endpoints).
fn frame_from_1(kind: EnvelopeType, payload: &[u8]) -> Vec<u8> {
    let topic = Topic::new("<$>").unwrap();
    let mut frame = Vec::new();
    wire::encode_envelope_frame(
        &mut frame,
        wire::EnvelopeHeader {
            sender: id(2),
            receiver: id(1),
            kind,
            ttl: 16,
            topic: &topic,
            origin: None,
        },
        PROTOCOL_VERSION_2,
        payload,
    );
    frame
}

#[test]
fn large_pings_and_pings_to_a_full_queue_get_no_pong() {
    let mut net = Net::new(2, false);
    let (a, _) = net.connect(0, 1);
    net.drive();
    let mut out = Vec::new();
    net.nodes[0].poll_transmit(a, &mut out, usize::MAX);

    // A small ping is answered.
    net.nodes[0].handle_bytes(a, &frame_from_1(EnvelopeType::Ping, b"hi"));
    assert!(net.nodes[0].has_transmit(a), "small ping answered");
    out.clear();
    net.nodes[0].poll_transmit(a, &mut out, usize::MAX);

    // One over the limit is not: pongs echo the payload.
    let big = vec![7u8; MAX_PING_PAYLOAD + 1];
    net.nodes[0].handle_bytes(a, &frame_from_1(EnvelopeType::Ping, &big));
    assert!(!net.nodes[0].has_transmit(a), "large ping ignored");
    assert_eq!(net.peers_of(0), 1, "the peering stays");

    // Nor is any ping while the queue is full (the peer does not read).
    net.nodes[0].config.peer_buffer_size = 2;
    net.subscribe(1, "/t");
    net.drive();
    out.clear();
    net.nodes[0].poll_transmit(a, &mut out, usize::MAX);
    net.publish(0, "/t", Data::Count(1));
    net.publish(0, "/t", Data::Count(2));
    let queued = net.nodes[0].stats(a).unwrap().queued;
    for _ in 0..100 {
        net.nodes[0].handle_bytes(a, &frame_from_1(EnvelopeType::Ping, b"hi"));
    }
    assert_eq!(net.nodes[0].stats(a).unwrap().queued, queued);
}

#[test]
fn a_routing_update_with_too_many_topics_closes_the_connection() {
    let mut net = Net::new(2, false);
    let (a, _) = net.connect(0, 1);
    net.drive();
    let mut payload = Vec::new();
    crate::data::bin::encode_varbyte(wire::MAX_FILTER_SIZE + 1, &mut payload);
    // Well-formed otherwise: every entry is there.
    payload.extend(std::iter::repeat_n([1u8, b'x'], wire::MAX_FILTER_SIZE + 1).flatten());
    net.nodes[0].handle_bytes(a, &frame_from_1(EnvelopeType::RoutingUpdate, &payload));
    net.drive();
    assert_eq!(net.peers_of(0), 0);
    assert!(net.errors[0].contains(&ErrorCode::InvalidMessage));
}

#[test]
fn partial_frames_of_all_peers_stay_within_the_input_buffer_limit() {
    let mut net = Net::new(3, false);
    net.nodes[0].config.max_input_buffer = 3 << 20;
    let (a, _) = net.connect(0, 1);
    let (b, _) = net.connect(0, 2);
    net.drive();
    assert_eq!(net.peers_of(0), 2);
    // Each claims a 2 MiB frame and sends most of it.
    let partial = |sent: usize| {
        let mut bytes = (2u32 << 20).to_be_bytes().to_vec();
        bytes.resize(4 + sent, 0);
        bytes
    };
    net.nodes[0].handle_bytes(a, &partial(1_500_000));
    net.nodes[0].handle_bytes(b, &partial(1_000_000));
    assert_eq!(net.peers_of(0), 2, "3 MiB in all: within the limit");
    net.nodes[0].handle_bytes(b, &vec![0; 700_000]);
    net.drive();
    assert_eq!(
        net.peers_of(0),
        1,
        "the connection that went past it is closed"
    );
    assert!(net.errors[0].contains(&ErrorCode::InvalidMessage));
    assert!(net.nodes[0].stats(a).is_some(), "the other stays");
}
