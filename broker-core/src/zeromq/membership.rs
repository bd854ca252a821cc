//! The hello handshake of Zeek's ZeroMQ backend (`zeromq/main.zeek` and
//! `cluster/main.zeek`), as a state machine without I/O: inputs are the
//! subscriptions seen on the node's XPUB and the hello events received,
//! outputs the hellos to publish and the nodes that came up or went down.

use std::collections::{HashMap, HashSet};

use super::HandshakeFailure;
use crate::data::Data;
use crate::zeek::Event;

/// The prefix of a node id's topic (`zeek.cluster.nodeid.<id>.`).
pub(crate) const NODEID_PREFIX: &str = "zeek.cluster.nodeid.";
/// Zeek's backend hello: `Cluster::Backend::ZeroMQ::hello(name, id)`.
pub(crate) const ZEROMQ_HELLO: &str = "Cluster::Backend::ZeroMQ::hello";
/// The cluster framework's hello: `Cluster::hello(name, id)`.
pub(crate) const CLUSTER_HELLO: &str = "Cluster::hello";

/// The most nodes whose subscriptions or hellos are remembered while their
/// handshake is incomplete (a flood of node ids cannot grow memory).
const MAX_PENDING: usize = 4096;

/// A node's type in Zeek's cluster layout: its topics follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum NodeType {
    /// A worker (`zeek.cluster.worker`, pool `zeek.cluster.pool.worker`).
    #[default]
    Worker,
    /// A proxy node (not the ZeroMQ proxy).
    Proxy,
    /// A logger.
    Logger,
    /// The manager (no pool).
    Manager,
}

impl NodeType {
    /// The type's name in topics: `worker`, `proxy`, `logger`, `manager`.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::Worker => "worker",
            NodeType::Proxy => "proxy",
            NodeType::Logger => "logger",
            NodeType::Manager => "manager",
        }
    }

    /// The topics a node of this type, named `name` with id `id`,
    /// subscribes to (`setup-subscriptions.zeek`).
    pub fn topics(self, name: &str, id: &str) -> Vec<String> {
        let mut topics = vec![
            nodeid_topic(id),
            format!("zeek.cluster.node.{name}."),
            format!("zeek.cluster.{}", self.name()),
        ];
        if self != NodeType::Manager {
            topics.push(format!("zeek.cluster.pool.{}", self.name()));
        }
        topics
    }
}

/// A change in the cluster a node sees.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// A node said `Cluster::hello` to us (Zeek's `Cluster::node_up`).
    NodeUp {
        /// Its name in the cluster layout.
        name: String,
        /// Its id.
        id: String,
    },
    /// A node's id topic was unsubscribed: its XSUB went away (Zeek's
    /// `Cluster::node_down`).
    NodeDown {
        /// Its name, if it had said hello.
        name: Option<String>,
        /// Its id.
        id: String,
    },
    /// A handshake of one of the node's sockets with the proxy failed (see
    /// [`HandshakeFailure::is_fatal`]: after a fatal one, the socket never
    /// reaches the proxy, and Zeek exits).
    HandshakeFailed(HandshakeFailure),
}

/// What the state machine asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Output {
    /// Publish `event` on `topic` to the cluster (and nowhere else).
    Publish { topic: String, event: Event },
    /// Tell the user.
    Event(ClusterEvent),
}

/// The `zeek.cluster.nodeid.<id>.` topic of a node id.
pub(crate) fn nodeid_topic(id: &str) -> String {
    format!("{NODEID_PREFIX}{id}.")
}

/// The id in a nodeid topic (Zeek strips the prefix and the last
/// character).
fn id_of(topic: &[u8]) -> Option<String> {
    let rest = topic.strip_prefix(NODEID_PREFIX.as_bytes())?;
    let id = rest.strip_suffix(b".")?;
    (!id.is_empty()).then(|| String::from_utf8_lossy(id).into_owned())
}

/// The hello handshake of one node.
#[derive(Debug)]
pub(crate) struct Membership {
    name: String,
    id: String,
    /// Nodes whose id subscription we saw.
    seen: HashSet<String>,
    /// Nodes whose `ZeroMQ::hello` we received: id → name.
    hellos: HashMap<String, String>,
    /// Nodes that said `Cluster::hello`: id → name.
    up: HashMap<String, String>,
}

impl Membership {
    pub(crate) fn new(name: &str, id: &str) -> Membership {
        Membership {
            name: name.to_owned(),
            id: id.to_owned(),
            seen: HashSet::new(),
            hellos: HashMap::new(),
            up: HashMap::new(),
        }
    }

    /// The nodes that are up: (id, name).
    #[cfg(test)]
    pub(crate) fn up(&self) -> impl Iterator<Item = (&str, &str)> {
        self.up.iter().map(|(i, n)| (i.as_str(), n.as_str()))
    }

    fn hello(&self, name: &str, topic: String) -> Output {
        Output::Publish {
            topic,
            event: Event {
                name: name.to_owned(),
                args: vec![Data::from(self.name.as_str()), Data::from(self.id.as_str())],
                metadata: None,
            },
        }
    }

    /// A `0x01 topic` seen on the XPUB.
    pub(crate) fn on_subscribe(&mut self, topic: &[u8]) -> Vec<Output> {
        let Some(id) = id_of(topic) else {
            return Vec::new();
        };
        if id == self.id {
            return Vec::new();
        }
        let topic = nodeid_topic(&id);
        let mut out = vec![self.hello(ZEROMQ_HELLO, topic.clone())];
        if self.hellos.contains_key(&id) {
            out.push(self.hello(CLUSTER_HELLO, topic));
        }
        if self.seen.len() < MAX_PENDING || self.seen.contains(&id) {
            self.seen.insert(id);
        }
        out
    }

    /// A `0x00 topic` seen on the XPUB.
    pub(crate) fn on_unsubscribe(&mut self, topic: &[u8]) -> Vec<Output> {
        let Some(id) = id_of(topic) else {
            return Vec::new();
        };
        if id == self.id {
            return Vec::new();
        }
        let was_seen = self.seen.remove(&id);
        self.hellos.remove(&id);
        let name = self.up.remove(&id);
        if was_seen || name.is_some() {
            vec![Output::Event(ClusterEvent::NodeDown { name, id })]
        } else {
            Vec::new()
        }
    }

    /// An event received on our nodeid topic (any other is ignored).
    pub(crate) fn on_event(&mut self, event: &Event) -> Vec<Output> {
        let (Some(Data::String(name)), Some(Data::String(id)), 2) =
            (event.args.first(), event.args.get(1), event.args.len())
        else {
            return Vec::new();
        };
        let (name, id) = (name.to_string(), id.to_string());
        if id == self.id {
            return Vec::new();
        }
        match event.name.as_str() {
            ZEROMQ_HELLO => {
                let mut out = Vec::new();
                // A name that came back with another id never said goodbye.
                let stale: Vec<String> = self
                    .up
                    .iter()
                    .filter(|(i, n)| **n == name && **i != id)
                    .map(|(i, _)| i.clone())
                    .collect();
                for old in stale {
                    self.up.remove(&old);
                    out.push(Output::Event(ClusterEvent::NodeDown {
                        name: Some(name.clone()),
                        id: old,
                    }));
                }
                if self.seen.contains(&id) {
                    out.push(self.hello(CLUSTER_HELLO, nodeid_topic(&id)));
                }
                if self.hellos.len() < MAX_PENDING || self.hellos.contains_key(&id) {
                    self.hellos.insert(id, name);
                }
                out
            }
            CLUSTER_HELLO => {
                if self.up.get(&id) == Some(&name) {
                    return Vec::new();
                }
                if self.up.len() >= MAX_PENDING && !self.up.contains_key(&id) {
                    return Vec::new();
                }
                self.up.insert(id.clone(), name.clone());
                vec![Output::Event(ClusterEvent::NodeUp { name, id })]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, node: &str, id: &str) -> Event {
        Event {
            name: name.into(),
            args: vec![Data::from(node), Data::from(id)],
            metadata: None,
        }
    }

    fn published(out: &[Output]) -> Vec<(String, String)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Publish { topic, event } => Some((topic.clone(), event.name.clone())),
                Output::Event(_) => None,
            })
            .collect()
    }

    #[test]
    fn the_handshake_follows_zeeks_order() {
        let mut m = Membership::new("rust-1", "R");
        // Our own subscription comes back: nothing.
        assert!(m.on_subscribe(b"zeek.cluster.nodeid.R.").is_empty());
        // Zeek's appears: we say ZeroMQ::hello to it.
        let out = m.on_subscribe(b"zeek.cluster.nodeid.Z.");
        assert_eq!(
            published(&out),
            [("zeek.cluster.nodeid.Z.".into(), ZEROMQ_HELLO.into())]
        );
        let Output::Publish { event, .. } = &out[0] else {
            panic!()
        };
        assert_eq!(event.args, [Data::from("rust-1"), Data::from("R")]);
        // Its ZeroMQ::hello: now we say Cluster::hello.
        let out = m.on_event(&ev(ZEROMQ_HELLO, "worker-1", "Z"));
        assert_eq!(
            published(&out),
            [("zeek.cluster.nodeid.Z.".into(), CLUSTER_HELLO.into())]
        );
        // Its Cluster::hello: it is up.
        let out = m.on_event(&ev(CLUSTER_HELLO, "worker-1", "Z"));
        assert_eq!(
            out,
            [Output::Event(ClusterEvent::NodeUp {
                name: "worker-1".into(),
                id: "Z".into()
            })]
        );
        assert_eq!(m.up().collect::<Vec<_>>(), [("Z", "worker-1")]);
        // Its id topic goes away: down.
        let out = m.on_unsubscribe(b"zeek.cluster.nodeid.Z.");
        assert_eq!(
            out,
            [Output::Event(ClusterEvent::NodeDown {
                name: Some("worker-1".into()),
                id: "Z".into()
            })]
        );
    }

    #[test]
    fn a_hello_before_the_subscription_waits_for_it() {
        let mut m = Membership::new("rust-1", "R");
        assert!(m.on_event(&ev(ZEROMQ_HELLO, "worker-1", "Z")).is_empty());
        let out = m.on_subscribe(b"zeek.cluster.nodeid.Z.");
        assert_eq!(
            published(&out),
            [
                ("zeek.cluster.nodeid.Z.".into(), ZEROMQ_HELLO.into()),
                ("zeek.cluster.nodeid.Z.".into(), CLUSTER_HELLO.into())
            ]
        );
    }

    #[test]
    fn a_name_with_a_new_id_means_the_old_one_is_down() {
        let mut m = Membership::new("rust-1", "R");
        m.on_event(&ev(CLUSTER_HELLO, "worker-1", "Z1"));
        let out = m.on_event(&ev(ZEROMQ_HELLO, "worker-1", "Z2"));
        assert_eq!(
            out,
            [Output::Event(ClusterEvent::NodeDown {
                name: Some("worker-1".into()),
                id: "Z1".into()
            })]
        );
    }

    #[test]
    fn other_topics_and_malformed_hellos_are_ignored() {
        let mut m = Membership::new("rust-1", "R");
        assert!(m.on_subscribe(b"zeek.cluster.worker").is_empty());
        assert!(m.on_subscribe(b"zeek.cluster.nodeid.").is_empty());
        assert!(m.on_unsubscribe(b"zeek.cluster.nodeid.unknown.").is_empty());
        let bad = Event {
            name: CLUSTER_HELLO.into(),
            args: vec![Data::Count(1)],
            metadata: None,
        };
        assert!(m.on_event(&bad).is_empty());
    }

    #[test]
    fn a_flood_of_node_ids_stays_bounded() {
        let mut m = Membership::new("rust-1", "R");
        for i in 0..(MAX_PENDING + 100) {
            m.on_subscribe(format!("zeek.cluster.nodeid.n{i}.").as_bytes());
            m.on_event(&ev(CLUSTER_HELLO, "x", &format!("n{i}")));
        }
        assert_eq!(m.seen.len(), MAX_PENDING);
        assert_eq!(m.up.len(), MAX_PENDING);
    }

    #[test]
    fn topics_follow_the_node_type() {
        assert_eq!(
            NodeType::Worker.topics("w-1", "I"),
            [
                "zeek.cluster.nodeid.I.",
                "zeek.cluster.node.w-1.",
                "zeek.cluster.worker",
                "zeek.cluster.pool.worker"
            ]
        );
        assert_eq!(NodeType::Manager.topics("m", "I").len(), 3);
    }
}
