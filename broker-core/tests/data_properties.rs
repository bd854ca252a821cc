//! Property tests: codec round trips and the total order of `Data`.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use broker_core::data::view::{DataBuf, DataView};
use broker_core::data::{
    Address, Data, EnumValue, Port, Protocol, Subnet, Timespan, Timestamp, bin, json,
};
use proptest::prelude::*;

/// Reals of every kind, with NaN in its one canonical form (the wire has
/// only one NaN).
fn real() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_map(|x| if x.is_nan() { f64::NAN } else { x }),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(5e-324),
    ]
}

fn scalar(utf8_only: bool, ms_timestamps: bool) -> BoxedStrategy<Data> {
    let string = if utf8_only {
        any::<String>().prop_map(Data::from).boxed()
    } else {
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| Data::String(b.into()))
            .boxed()
    };
    let timestamp = if ms_timestamps {
        (-9_223_372_036_854i64..9_223_372_036_854)
            .prop_map(|ms| Data::Timestamp(Timestamp::from_nanos(ms * 1_000_000)))
            .boxed()
    } else {
        any::<i64>()
            .prop_map(|n| Data::Timestamp(Timestamp::from_nanos(n)))
            .boxed()
    };
    prop_oneof![
        Just(Data::None),
        any::<bool>().prop_map(Data::Boolean),
        any::<u64>().prop_map(Data::Count),
        any::<i64>().prop_map(Data::Integer),
        real().prop_map(Data::Real),
        string,
        any::<[u8; 16]>().prop_map(|b| Data::Address(Address::from_octets(b))),
        any::<u32>().prop_map(|v4| Data::Address(std::net::Ipv4Addr::from(v4).into())),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(b, len)| {
            Data::Subnet(Subnet::from_raw(Address::from_octets(b), len).unwrap())
        }),
        (any::<u16>(), 0u8..4)
            .prop_map(|(n, p)| { Data::Port(Port::new(n, Protocol::from_u8(p).unwrap())) }),
        timestamp,
        any::<i64>().prop_map(|n| Data::Timespan(Timespan::from_nanos(n))),
        "[A-Za-z:_]{0,16}".prop_map(|s| Data::EnumValue(EnumValue::new(s))),
    ]
    .boxed()
}

fn data(utf8_only: bool, ms_timestamps: bool) -> impl Strategy<Value = Data> {
    scalar(utf8_only, ms_timestamps).prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Data::Vector),
            proptest::collection::btree_set(inner.clone(), 0..8).prop_map(|s| Data::Set(s.into())),
            proptest::collection::btree_map(inner.clone(), inner, 0..8)
                .prop_map(|t| Data::Table(t.into())),
        ]
    })
}

fn hash_of(d: &Data) -> u64 {
    let mut h = DefaultHasher::new();
    d.hash(&mut h);
    h.finish()
}

/// Every accessor of `view` gives what `data` holds, containers element by
/// element (sets and tables from our encoder arrive sorted, as `Data`
/// iterates them).
fn assert_view_reads(view: DataView<'_>, data: &Data) {
    assert_eq!(view.data_type(), data.data_type());
    assert_eq!(view.to_data(), *data);
    assert_eq!(view.encoded(), bin::encode(data));
    match data {
        Data::None => assert!(view.is_none()),
        Data::Boolean(b) => assert_eq!(view.as_bool(), Some(*b)),
        Data::Count(n) => assert_eq!(view.as_count(), Some(*n)),
        Data::Integer(n) => assert_eq!(view.as_integer(), Some(*n)),
        Data::Real(x) => assert_eq!(view.as_real().map(f64::to_bits), Some(x.to_bits())),
        Data::String(s) => {
            assert_eq!(view.as_bytes(), Some(s.as_bytes()));
            assert_eq!(view.as_str(), s.as_str());
        }
        Data::Address(a) => assert_eq!(view.as_address(), Some(*a)),
        Data::Subnet(s) => assert_eq!(view.as_subnet(), Some(*s)),
        Data::Port(p) => assert_eq!(view.as_port(), Some(*p)),
        Data::Timestamp(t) => assert_eq!(view.as_timestamp(), Some(*t)),
        Data::Timespan(t) => assert_eq!(view.as_timespan(), Some(*t)),
        Data::EnumValue(e) => assert_eq!(view.as_enum(), Some(e.name())),
        Data::Vector(items) => {
            assert_eq!(view.len(), items.len());
            assert_eq!(view.iter().len(), items.len());
            for (i, item) in items.iter().enumerate() {
                assert_view_reads(view.get(i).expect("element"), item);
            }
            assert!(view.get(items.len()).is_none());
        }
        Data::Set(set) => {
            assert_eq!(view.len(), set.len());
            for (v, item) in view.iter().zip(set.iter()) {
                assert_view_reads(v, item);
            }
        }
        Data::Table(table) => {
            assert_eq!(view.len(), table.len());
            assert_eq!(view.entries().count(), table.len());
            for ((k, v), (key, value)) in view.entries().zip(table.iter()) {
                assert_view_reads(k, key);
                assert_view_reads(v, value);
            }
        }
    }
    if !matches!(data, Data::Vector(_) | Data::Set(_) | Data::Table(_)) {
        assert_eq!(view.len(), 0);
        assert_eq!(view.iter().count(), 0);
    }
}

/// `DataBuf::parse` and `bin::decode` on the same bytes: the same verdict,
/// the same error, the same value.
fn assert_view_agrees(bytes: &[u8]) -> Result<(), TestCaseError> {
    match (bin::decode(bytes), DataBuf::parse(bytes)) {
        (Ok(value), Ok(buf)) => prop_assert_eq!(buf.to_data(), value),
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        (a, b) => prop_assert!(false, "decode {:?}, view {:?} on {:02x?}", a, b, bytes),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_view_reads_every_value_as_decoding_does(value in data(false, false)) {
        let buf = DataBuf::parse(&bin::encode(&value)).expect("our own encoding parses");
        assert_view_reads(buf.root(), &value);
        prop_assert_eq!(buf.to_data(), value);
    }

    /// Sets and tables of two elements in either order, equal ones too:
    /// the view's quick order check (bytes for strings and counts) never
    /// lets a repeat through, and out-of-order input reads back sorted.
    #[test]
    fn a_view_orders_set_elements_and_table_keys_as_data_does(
        a in scalar(false, false),
        b in prop_oneof![scalar(false, false), any::<u64>().prop_map(Data::Count)],
        same in any::<bool>(),
    ) {
        let b = if same { a.clone() } else { b };
        for (first, second) in [(&a, &b), (&b, &a)] {
            let mut set = vec![12, 2];
            bin::encode_into(first, &mut set);
            bin::encode_into(second, &mut set);
            assert_view_agrees(&set)?;
            let mut table = vec![13, 2];
            for key in [first, second] {
                bin::encode_into(key, &mut table);
                bin::encode_into(&Data::Count(7), &mut table);
            }
            assert_view_agrees(&table)?;
        }
    }

    /// Strings of up to 17 bytes, one a prefix of the other or the same
    /// with zero bytes added, as set elements and table keys with enough
    /// input after them for the view's short-string comparison (one number
    /// per string of up to 15 bytes): repeats are refused, as decoding
    /// refuses them, and strings that differ only in trailing zeros are
    /// not taken for repeats.
    #[test]
    fn a_view_tells_short_strings_apart_as_data_does(
        a in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 0..17),
        extra in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..3),
        cut in 0usize..3,
        swap in any::<bool>(),
    ) {
        let mut b = a.clone();
        b.extend_from_slice(&extra);
        b.truncate(b.len().saturating_sub(cut));
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (a, b) = (Data::String(a.into()), Data::String(b.into()));
        let padding = Data::String(vec![b'p'; 20].into());
        let mut set = vec![14, 2, 12, 2];
        bin::encode_into(&a, &mut set);
        bin::encode_into(&b, &mut set);
        bin::encode_into(&padding, &mut set);
        assert_view_agrees(&set)?;
        let mut table = vec![14, 2, 13, 2];
        for key in [&a, &b] {
            bin::encode_into(key, &mut table);
            bin::encode_into(&Data::Boolean(true), &mut table);
        }
        bin::encode_into(&padding, &mut table);
        assert_view_agrees(&table)?;
    }

    /// Damaged input (cut, bytes changed, bytes inserted): the view refuses
    /// exactly what decoding refuses, with the same error.
    #[test]
    fn a_view_refuses_what_decoding_refuses(
        value in data(false, false),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = bin::encode(&value);
        for cut in 0..bytes.len() {
            assert_view_agrees(&bytes[..cut])?;
        }
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len().max(1));
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.push(byte),
            }
            assert_view_agrees(&bytes)?;
        }
    }

    #[test]
    fn bin_decode_inverts_encode(value in data(false, false)) {
        let bytes = bin::encode(&value);
        prop_assert_eq!(bin::decode(&bytes), Ok(value));
    }

    #[test]
    fn bin_decode_of_any_prefix_fails_cleanly(value in data(false, false)) {
        let bytes = bin::encode(&value);
        for cut in 0..bytes.len() {
            prop_assert!(bin::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn json_decode_inverts_encode_where_json_is_lossless(value in data(true, true)) {
        let text = json::to_json_string(&value);
        prop_assert_eq!(json::from_json_str(&text), Ok(value));
    }

    #[test]
    fn json_output_is_always_valid_json(value in data(false, false)) {
        let text = json::to_json_string(&value);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    /// With any timestamps (JSON keeps milliseconds only) the output still
    /// reads back. Strings must be UTF-8 here: two strings that differ only in
    /// invalid bytes both become U+FFFD, and a set holding both cannot be
    /// read back (see docs/zeek-compatibility.md).
    #[test]
    fn json_output_of_utf8_values_reads_back(value in data(true, false)) {
        let text = json::to_json_string(&value);
        prop_assert!(json::from_json_str(&text).is_ok());
    }

    #[test]
    fn streaming_json_decoder_agrees_with_the_value_decoder(value in data(false, false)) {
        let text = json::to_json_string(&value);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(json::from_json_str(&text), json::from_json(&parsed));
    }

    #[test]
    fn direct_json_writer_matches_the_value_form(value in data(false, false)) {
        prop_assert_eq!(json::to_json_string(&value), json::to_json(&value).to_string());
    }

    #[test]
    fn cbor_round_trip_through_ciborium(value in data(false, false)) {
        let mut bytes = Vec::new();
        ciborium::into_writer(&value, &mut bytes).unwrap();
        let back: Data = ciborium::from_reader(bytes.as_slice()).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn order_is_total_and_consistent_with_equality(
        a in data(false, false),
        b in data(false, false),
        c in data(false, false),
    ) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        prop_assert_eq!(a.partial_cmp(&b), Some(a.cmp(&b)));
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
        prop_assert_eq!(a.cmp(&a), Ordering::Equal);
        prop_assert_eq!(a.clone(), a.clone());
        if a == b {
            prop_assert_eq!(hash_of(&a), hash_of(&b));
        }
    }

    #[test]
    fn order_is_by_type_tag_first(a in data(false, false), b in data(false, false)) {
        let (ta, tb) = (a.data_type(), b.data_type());
        if ta != tb {
            prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
        }
    }
}

/// One change to a table (and the set of its keys).
#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u8),
    Remove(u16),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    // Keys from a range wide enough that containers grow past the size at
    // which a sorted vector turns into a B-tree, plus runs in order.
    let op = prop_oneof![
        4 => (0u16..2000, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (0u16..2000).prop_map(Op::Remove),
    ];
    (proptest::collection::vec(op, 0..1500), 0u16..600).prop_map(|(mut ops, run)| {
        ops.extend((0..run).map(|k| Op::Insert(k * 3, 1)));
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `Set` and `Table` behave like `BTreeSet` and `BTreeMap` under any
    /// sequence of inserts and removals, and compare, hash and encode the
    /// same as a container built at once from the final entries.
    #[test]
    fn set_and_table_match_the_std_containers(ops in ops()) {
        use std::collections::{BTreeMap, BTreeSet};
        use broker_core::data::{Set, Table};
        let mut table = Table::new();
        let mut set = Set::new();
        let mut model_table = BTreeMap::new();
        let mut model_set = BTreeSet::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let key = Data::Count(u64::from(k));
                    prop_assert_eq!(
                        table.insert(key.clone(), Data::Count(u64::from(v))),
                        model_table.insert(key.clone(), Data::Count(u64::from(v)))
                    );
                    prop_assert_eq!(set.insert(key.clone()), model_set.insert(key));
                }
                Op::Remove(k) => {
                    let key = Data::Count(u64::from(k));
                    prop_assert_eq!(table.remove(&key), model_table.remove(&key));
                    prop_assert_eq!(set.remove(&key), model_set.remove(&key));
                }
            }
        }
        prop_assert_eq!(table.len(), model_table.len());
        prop_assert!(table.iter().eq(model_table.iter()));
        prop_assert!(set.iter().eq(model_set.iter()));
        prop_assert!(table.iter().rev().eq(model_table.iter().rev()));
        let fresh_table = Table::from(model_table.clone());
        let fresh_set = Set::from(model_set.clone());
        let (table, set) = (Data::Table(table), Data::Set(set));
        prop_assert_eq!(&table, &Data::Table(fresh_table.clone()));
        prop_assert_eq!(hash_of(&table), hash_of(&Data::Table(fresh_table)));
        prop_assert_eq!(hash_of(&set), hash_of(&Data::Set(fresh_set)));
        prop_assert_eq!(bin::decode(&bin::encode(&table)).unwrap(), table.clone());
        prop_assert_eq!(BTreeMap::from(table.as_table().unwrap().clone()), model_table);
    }
}
