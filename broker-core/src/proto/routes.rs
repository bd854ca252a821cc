//! Who on this endpoint wants which topics: local subscribers and clients
//! by prefix, forwarded prefixes, and the filter advertised to peers.
//!
//! Changes only mark the advertised filter dirty; [`Routes::sync`] rebuilds
//! it once per burst of changes, so the core sends one routing update for
//! many subscriptions. A generation number changes with every change that
//! may alter what the endpoint wants from the network.

use super::SubscriberId;
use super::filter::{LocalFilter, PrefixIndex};
use crate::topic::Topic;

type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The local side of routing.
pub(super) struct Routes {
    subscriptions: PrefixIndex<SubscriberId>,
    /// Subscribers that act as peers (WebSocket clients, the ZeroMQ node):
    /// they also receive this endpoint's own publications.
    clients: HashSet<SubscriberId>,
    /// The normalized union of subscriptions and forwards, with counts.
    local_filter: LocalFilter,
    /// `local_filter` as last advertised.
    filter: Vec<Topic>,
    dirty: bool,
    generation: u64,
    /// The last answer of [`Routes::matches`]: messages come in runs of
    /// one topic. Cleared by every change of subscriptions or clients.
    last_match: Option<LastMatch>,
}

struct LastMatch {
    topic: Topic,
    except: Option<SubscriberId>,
    clients_only: bool,
    subscribers: Vec<SubscriberId>,
}

impl Routes {
    pub(super) fn new() -> Routes {
        Routes {
            subscriptions: PrefixIndex::new(),
            clients: HashSet::default(),
            local_filter: LocalFilter::default(),
            filter: Vec::new(),
            dirty: false,
            generation: 0,
            last_match: None,
        }
    }

    /// The filter as last advertised (see [`Routes::sync`]).
    pub(super) fn filter(&self) -> &[Topic] {
        &self.filter
    }

    /// Whether the advertised filter may be out of date.
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Rebuilds the advertised filter if something changed; true if it is
    /// different now (peers need a routing update).
    pub(super) fn sync(&mut self) -> bool {
        if !self.dirty {
            return false;
        }
        self.dirty = false;
        let filter = self.local_filter.to_vec();
        if filter == self.filter {
            return false;
        }
        self.filter = filter;
        true
    }

    /// How many prefixes the advertised filter holds (counted without
    /// rebuilding it).
    pub(super) fn advertised_len(&self) -> usize {
        self.local_filter.advertised_len()
    }

    /// The generation: it changes whenever what the endpoint wants may
    /// have changed.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Something outside (the set of peers or their filters) changed what
    /// the endpoint wants.
    pub(super) fn touch(&mut self) {
        self.generation += 1;
    }

    pub(super) fn subscribe(&mut self, sub: SubscriberId, prefix: Topic) {
        self.last_match = None;
        self.generation += 1;
        self.subscriptions.insert(prefix.as_str(), sub);
        self.dirty |= self.local_filter.add(prefix);
    }

    pub(super) fn unsubscribe(&mut self, sub: SubscriberId, prefix: &Topic) {
        self.last_match = None;
        self.generation += 1;
        if self.subscriptions.remove(prefix.as_str(), &sub) {
            self.dirty |= self.local_filter.remove(prefix);
        }
    }

    pub(super) fn remove_subscriber(&mut self, sub: SubscriberId, prefixes: &[Topic]) {
        self.last_match = None;
        for prefix in prefixes {
            self.unsubscribe(sub, prefix);
        }
        self.clients.remove(&sub);
    }

    pub(super) fn add_client(&mut self, sub: SubscriberId) {
        self.last_match = None;
        self.clients.insert(sub);
    }

    pub(super) fn has_clients(&self) -> bool {
        !self.clients.is_empty()
    }

    pub(super) fn forward(&mut self, prefix: Topic) {
        self.generation += 1;
        self.dirty |= self.local_filter.add(prefix);
    }

    pub(super) fn unforward(&mut self, prefix: &Topic) {
        self.generation += 1;
        self.dirty |= self.local_filter.remove(prefix);
    }

    /// The local subscribers matching `topic` (only clients if
    /// `clients_only`), without `except`, sorted and unique.
    pub(super) fn matches(
        &mut self,
        topic: &Topic,
        except: Option<SubscriberId>,
        clients_only: bool,
    ) -> Vec<SubscriberId> {
        if let Some(last) = &self.last_match
            && last.except == except
            && last.clients_only == clients_only
            && last.topic == *topic
        {
            return last.subscribers.clone();
        }
        let mut subs: Vec<SubscriberId> = self
            .subscriptions
            .matches(topic.as_str().as_bytes())
            .copied()
            .filter(|s| Some(*s) != except && (!clients_only || self.clients.contains(s)))
            .collect();
        subs.sort_unstable();
        subs.dedup();
        self.last_match = Some(LastMatch {
            topic: topic.clone(),
            except,
            clients_only,
            subscribers: subs.clone(),
        });
        subs
    }

    /// The advertised prefixes that someone besides `except` wants.
    pub(super) fn wanted_except(&self, except: SubscriberId) -> impl Iterator<Item = &Topic> {
        self.local_filter
            .counts()
            .filter(move |(topic, n)| *n > self.subscriptions.count_of(topic.as_str(), &except))
            .map(|(topic, _)| topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(s: &str) -> Topic {
        Topic::new(s).unwrap()
    }

    #[test]
    fn the_remembered_match_follows_every_change() {
        let (a, b) = (SubscriberId(1), SubscriberId(2));
        let t = topic("zeek/events/x");
        let mut routes = Routes::new();
        routes.subscribe(a, topic("zeek/events"));
        assert_eq!(routes.matches(&t, None, false), vec![a]);
        // Asked again: the same answer (from the remembered match).
        assert_eq!(routes.matches(&t, None, false), vec![a]);
        assert_eq!(routes.matches(&t, Some(a), false), vec![]);
        routes.subscribe(b, topic("zeek"));
        assert_eq!(routes.matches(&t, None, false), vec![a, b]);
        assert_eq!(routes.matches(&t, None, true), vec![]);
        routes.add_client(b);
        assert_eq!(routes.matches(&t, None, true), vec![b]);
        routes.unsubscribe(a, &topic("zeek/events"));
        assert_eq!(routes.matches(&t, None, false), vec![b]);
        routes.remove_subscriber(b, &[topic("zeek")]);
        assert_eq!(routes.matches(&t, None, false), vec![]);
        assert_eq!(routes.matches(&topic("other"), None, false), vec![]);
    }
}
