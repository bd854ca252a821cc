//! The benchmark payloads of Broker's own tools, for side-by-side measurements.
//!
//! Broker's `broker-throughput` (`-t 1/2/3`) and its serialization
//! micro-benchmarks use three values; these functions build values of the same
//! shape and sizes (string contents come from our own deterministic generator,
//! so bytes differ but lengths match):
//!
//! | payload | shape |
//! |---|---|
//! | [`tiny`] | `[integer 42, string "test"]` |
//! | [`conn`] | an 18-field conn.log-like record: timestamp, 10-char uid, `[addr, port, addr, port]`, enum `tcp`, 10-char service, timespan 3.14 s, 2 counts, 5-char state, 2 booleans, count, 10-char history, 4 counts, set of 2 10-char strings |
//! | [`table`] | `[timestamp, table of 100 15-char keys → set of 10 5-char strings]` |
//!
//! `broker-throughput` wraps the arguments in a Zeek event named `event_1`,
//! `event_2` or `event_3` ([`event`]) and publishes on [`THROUGHPUT_TOPIC`].
//!
//! ```
//! use broker_core::payloads;
//!
//! assert_eq!(payloads::tiny().to_string(), "(42, test)");
//! assert_eq!(payloads::conn(1).as_vector().unwrap().len(), 18);
//! ```

use crate::data::{Address, Data, EnumValue, Port, Protocol, Set, Table, Timespan, Timestamp};
use crate::zeek::Event;

/// The topic `broker-throughput` publishes its events on.
pub const THROUGHPUT_TOPIC: &str = "/benchmark/events";

/// The topic Broker's serialization micro-benchmarks use.
pub const MICRO_TOPIC: &str = "/micro/benchmark";

/// Which payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Payload {
    /// [`tiny`]: `broker-throughput -t 1`.
    Tiny,
    /// [`conn`]: `broker-throughput -t 2`.
    Conn,
    /// [`table`]: `broker-throughput -t 3`.
    Table,
}

impl Payload {
    /// All three, in Broker's numbering.
    pub const ALL: [Payload; 3] = [Payload::Tiny, Payload::Conn, Payload::Table];

    /// The lower-case name (`tiny`, `conn`, `table`).
    pub fn name(self) -> &'static str {
        match self {
            Payload::Tiny => "tiny",
            Payload::Conn => "conn",
            Payload::Table => "table",
        }
    }

    /// The arguments, generated from `seed`.
    pub fn args(self, seed: u64) -> Data {
        match self {
            Payload::Tiny => tiny(),
            Payload::Conn => conn(seed),
            Payload::Table => table(seed),
        }
    }
}

/// `[integer 42, string "test"]`.
pub fn tiny() -> Data {
    Data::Vector(vec![Data::Integer(42), Data::from("test")])
}

/// A conn.log-like record of 18 fields.
pub fn conn(seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let addr = |s: &str| Data::Address(s.parse::<Address>().unwrap_or_default());
    let mut counts = (1..=7u64).map(|i| Data::Count(seed.wrapping_mul(7).wrapping_add(i)));
    let mut next_count = || counts.next().unwrap_or(Data::Count(0));
    Data::Vector(vec![
        Data::Timestamp(Timestamp::from_nanos(1_700_000_000_000_000_000)),
        rng.string(10),
        Data::Vector(vec![
            addr("1.2.3.4"),
            Data::Port(Port::new(4567, Protocol::Tcp)),
            addr("3.4.5.6"),
            Data::Port(Port::new(80, Protocol::Tcp)),
        ]),
        Data::EnumValue(EnumValue::new("tcp")),
        rng.string(10),
        Data::Timespan(Timespan::from_millis(3140)),
        next_count(),
        next_count(),
        rng.string(5),
        Data::Boolean(true),
        Data::Boolean(false),
        next_count(),
        rng.string(10),
        next_count(),
        next_count(),
        next_count(),
        next_count(),
        Data::Set([rng.string(10), rng.string(10)].into_iter().collect()),
    ])
}

/// `[timestamp, table of 100 keys → sets of 10 strings]`.
pub fn table(seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let mut table = Table::new();
    while table.len() < 100 {
        let mut set = Set::new();
        while set.len() < 10 {
            set.insert(rng.string(5));
        }
        table.insert(rng.string(15), Data::Set(set));
    }
    Data::Vector(vec![
        Data::Timestamp(Timestamp::from_nanos(1_700_000_000_000_000_000)),
        Data::Table(table),
    ])
}

/// The Zeek event `broker-throughput` sends: `event_1`, `event_2` or `event_3`.
pub fn event(payload: Payload, seed: u64) -> Event {
    let name = match payload {
        Payload::Tiny => "event_1",
        Payload::Conn => "event_2",
        Payload::Table => "event_3",
    };
    let args = match payload.args(seed) {
        Data::Vector(args) => args,
        other => vec![other],
    };
    Event::new(name, args)
}

/// A small deterministic generator (xorshift64*), enough for test strings.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn string(&mut self, len: usize) -> Data {
        const CHARSET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let bytes: Vec<u8> = (0..len)
            .map(|_| CHARSET[(self.next() % CHARSET.len() as u64) as usize])
            .collect();
        Data::String(bytes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_100_keys_of_10_element_sets() {
        let value = table(3);
        let Data::Table(t) = &value.as_vector().unwrap()[1] else {
            panic!("not a table");
        };
        assert_eq!(t.len(), 100);
        assert!(t.keys().all(|k| k.as_bytes().unwrap().len() == 15));
        assert!(t.values().all(|v| v.as_set().unwrap().len() == 10));
    }

    #[test]
    fn payloads_are_deterministic_per_seed() {
        assert_eq!(conn(5), conn(5));
        assert_ne!(conn(5), conn(6));
        assert_eq!(event(Payload::Tiny, 0).name, "event_1");
        assert_eq!(event(Payload::Tiny, 0).args.len(), 2);
    }
}
