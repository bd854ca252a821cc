//! Log streams: Zeek's log value serialization, typed records, batching,
//! `flush_logs`, `log_topic`, and shipping logs between two endpoints.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use broker_core::data::ZeekTyped;
use broker_core::data::{
    Address, ByteString, Data, EnumValue, Port, Protocol, Subnet, Timespan, Timestamp, bin,
};
use broker_core::logs::{
    DecodeErrorKind, LogError, LogSubscriber, LogValue, Logger, TypeTag, TypedLogSubscriber,
    decode_record, encode_record, log_fields,
};
use broker_core::options::{LogTopicFn, Options};
use broker_core::runtime::{Endpoint, Subscriber};
use broker_core::zeek::{LogField, LogWrite, Message};
use proptest::prelude::*;

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A conn.log-like record, as Zeek's `Conn::Info` (a subset of its columns).

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "conn_id")]
struct ConnId {
    orig_h: IpAddr,
    orig_p: Port,
    resp_h: IpAddr,
    resp_p: Port,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(name = "transport_proto")]
#[allow(non_camel_case_types)]
enum Proto {
    unknown_transport,
    tcp,
    udp,
    icmp,
}

#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[broker(name = "Conn::Info")]
#[log(stream = "Conn::LOG", path = "conn")]
struct Conn {
    ts: Timestamp,
    uid: String,
    id: ConnId,
    proto: Proto,
    service: Option<String>,
    duration: Option<Timespan>,
    orig_bytes: Option<u64>,
    resp_bytes: Option<u64>,
    conn_state: Option<String>,
    local_orig: Option<bool>,
    missed_bytes: u64,
    history: Option<String>,
    orig_pkts: Option<u64>,
    tunnel_parents: Option<BTreeSet<String>>,
}

fn conn(i: u64) -> Conn {
    Conn {
        ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
        uid: format!("C{i:017}"),
        id: ConnId {
            orig_h: IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
            orig_p: Port::new(49152 + (i % 1000) as u16, Protocol::Tcp),
            resp_h: "2001:db8::1".parse().unwrap(),
            resp_p: Port::new(443, Protocol::Tcp),
        },
        proto: if i.is_multiple_of(2) {
            Proto::tcp
        } else {
            Proto::udp
        },
        service: i.is_multiple_of(3).then(|| "ssl".to_owned()),
        duration: Some(Timespan::from_millis(i as i64)),
        orig_bytes: Some(i * 10),
        resp_bytes: None,
        conn_state: Some("SF".into()),
        local_orig: Some(i.is_multiple_of(5)),
        missed_bytes: 0,
        history: Some("ShADadFf".into()),
        orig_pkts: Some(i),
        tunnel_parents: i
            .is_multiple_of(7)
            .then(|| ["CXWfTK3LRdiuQxBbM6".to_owned()].into()),
    }
}

// ---------------------------------------------------------------------------
// Worked byte examples, derived by hand from Zeek's source:
//
// - `Manager::PublishLogWrite` (src/broker/Manager.cc) writes the number of
//   values with `Write(int)` and then calls `threading::Value::Write` for each.
// - `Value::Write` (src/threading/SerialTypes.cc) writes the type tag and
//   the subtype tag as `int`, the presence flag as `bool`, and, if present,
//   the body: bool and int as `int64`, count as `uint64`, double/time/interval
//   as `double`, string/enum/file/func as a length-prefixed string, port as
//   `uint64` number + `int` protocol, addr as a `char` family (4 or 6) and
//   the raw address, subnet as a `char` length, a `char` family and the raw
//   prefix, sets and vectors as an `int64` size and the elements (full
//   values).
// - `BinarySerializationFormat` (src/SerializationFormat.cc) writes `int`
//   as 4 bytes and `int64`/`uint64` as 8 bytes, big-endian; `double` with
//   `htond`, i.e. the IEEE-754 bits big-endian; `bool` as one byte 0/1;
//   `char` as one byte; strings as a 4-byte big-endian length and the bytes;
//   `in_addr`/`in6_addr` as their 4/16 bytes in network order.
// - The type tags are `TypeTag` in src/Type.h (bool 1, int 2, count 3,
//   double 4, time 5, interval 6, string 7, enum 9, port 10, addr 11,
//   subnet 12, table 14, vector 19). Logging never sets a subtype (0), and
//   an IPv4 subnet's length is stored IPv6-relative, plus 96
//   (`IPPrefix::ConvertToThreadingValue`; Zeek's formatter subtracts 96).

/// Header of a present value of type `tag`: tag, subtype 0, present.
fn present(tag: u8) -> Vec<u8> {
    vec![0, 0, 0, tag, 0, 0, 0, 0, 1]
}

#[test]
fn worked_example_count_42() {
    let bytes = encode_record(&[LogValue::Count(42)]).unwrap();
    #[rustfmt::skip]
    let expected = [
        0x00, 0x00, 0x00, 0x01, // one value (int)
        0x00, 0x00, 0x00, 0x03, // type: count (int 3)
        0x00, 0x00, 0x00, 0x00, // subtype: void (int 0)
        0x01,                   // present (bool)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // 42 (uint64)
    ];
    assert_eq!(bytes, expected);
    assert_eq!(decode_record(&expected).unwrap(), [LogValue::Count(42)]);
}

#[test]
fn worked_example_every_atomic_type() {
    let values = [
        LogValue::Bool(true),
        LogValue::Int(-1),
        LogValue::Double(0.25),
        LogValue::Time(1.5),
        LogValue::Interval(0.5),
        LogValue::String("C1".into()),
        LogValue::Enum("tcp".into()),
        LogValue::Port(Port::new(80, Protocol::Tcp)),
        LogValue::Addr(Address::from("10.0.0.1".parse::<IpAddr>().unwrap())),
        LogValue::Addr(Address::from("::1".parse::<IpAddr>().unwrap())),
        LogValue::Subnet("10.0.0.0/8".parse::<Subnet>().unwrap()),
        LogValue::Unset(TypeTag::String),
    ];
    let mut expected = vec![0, 0, 0, 12]; // twelve values
    // bool T: type 1, int64 1.
    expected.extend(present(1));
    expected.extend([0, 0, 0, 0, 0, 0, 0, 1]);
    // int -1: type 2, int64 two's complement.
    expected.extend(present(2));
    expected.extend([0xff; 8]);
    // double 0.25: type 4, IEEE-754 0x3FD0000000000000.
    expected.extend(present(4));
    expected.extend([0x3f, 0xd0, 0, 0, 0, 0, 0, 0]);
    // time 1.5 s: type 5, 0x3FF8000000000000.
    expected.extend(present(5));
    expected.extend([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    // interval 0.5 s: type 6, 0x3FE0000000000000.
    expected.extend(present(6));
    expected.extend([0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
    // string "C1": type 7, length 2, bytes.
    expected.extend(present(7));
    expected.extend([0, 0, 0, 2, b'C', b'1']);
    // enum tcp: type 9, the name as a string.
    expected.extend(present(9));
    expected.extend([0, 0, 0, 3, b't', b'c', b'p']);
    // port 80/tcp: type 10, uint64 80, int protocol 1 (TRANSPORT_TCP).
    expected.extend(present(10));
    expected.extend([0, 0, 0, 0, 0, 0, 0, 80, 0, 0, 0, 1]);
    // addr 10.0.0.1: type 11, family char 4, in_addr.
    expected.extend(present(11));
    expected.extend([4, 10, 0, 0, 1]);
    // addr ::1: type 11, family char 6, in6_addr.
    expected.extend(present(11));
    expected.push(6);
    expected.extend([0; 15]);
    expected.push(1);
    // subnet 10.0.0.0/8: type 12, length char 8 + 96 = 104, family 4, prefix.
    expected.extend(present(12));
    expected.extend([104, 4, 10, 0, 0, 0]);
    // unset string: type 7, subtype 0, present 0, no body.
    expected.extend([0, 0, 0, 7, 0, 0, 0, 0, 0]);

    assert_eq!(encode_record(&values).unwrap(), expected);
    assert_eq!(decode_record(&expected).unwrap(), values);
}

/// The conn-like example of docs/zeek-log-format.md, byte for byte.
#[test]
fn worked_example_conn_like_record() {
    let values = [
        LogValue::Time(1.5),
        LogValue::String("C1".into()),
        LogValue::Addr(Address::from("10.0.0.1".parse::<IpAddr>().unwrap())),
        LogValue::Port(Port::new(80, Protocol::Tcp)),
        LogValue::Subnet("10.0.0.0/8".parse::<Subnet>().unwrap()),
        LogValue::Unset(TypeTag::String),
    ];
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0x00, 0x00, 0x00, 0x06,
        0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x3f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x02, 0x43, 0x31,
        0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x04, 0x0a, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x68, 0x04, 0x0a, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(encode_record(&values).unwrap(), expected);
    assert_eq!(decode_record(expected).unwrap(), values);
}

#[test]
fn worked_example_set_and_vector() {
    let values = [
        LogValue::Set(vec![LogValue::String("a".into())]),
        LogValue::Vector(vec![LogValue::Count(1), LogValue::Unset(TypeTag::Count)]),
    ];
    let mut expected = vec![0, 0, 0, 2];
    // set[string] {"a"}: type 14 (table), int64 size 1, one full string value.
    expected.extend(present(14));
    expected.extend([0, 0, 0, 0, 0, 0, 0, 1]);
    expected.extend(present(7));
    expected.extend([0, 0, 0, 1, b'a']);
    // vector of count [1, <hole>]: type 19, int64 size 2, two full values.
    expected.extend(present(19));
    expected.extend([0, 0, 0, 0, 0, 0, 0, 2]);
    expected.extend(present(3));
    expected.extend([0, 0, 0, 0, 0, 0, 0, 1]);
    expected.extend([0, 0, 0, 3, 0, 0, 0, 0, 0]);

    assert_eq!(encode_record(&values).unwrap(), expected);
    assert_eq!(decode_record(&expected).unwrap(), values);
}

#[test]
fn decoding_accepts_a_zeek_written_subtype_but_rejects_a_bad_count() {
    // Zeek never reads the subtype; a value with one still decodes.
    let mut bytes = vec![0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 7, 0];
    assert_eq!(
        decode_record(&bytes).unwrap(),
        [LogValue::Unset(TypeTag::Count)]
    );
    bytes[3] = 2;
    assert_eq!(
        decode_record(&bytes).unwrap_err().kind,
        DecodeErrorKind::TooMany {
            what: "value count",
            value: 2,
            remaining: 9
        }
    );
}

// ---------------------------------------------------------------------------
// Round trips of every value type through a whole LogWrite message.

fn through_log_write(values: &[LogValue]) -> Vec<LogValue> {
    let write = LogWrite {
        stream_id: EnumValue::new("Test::LOG"),
        writer_id: EnumValue::new("Log::WRITER_ASCII"),
        path: "test".into(),
        serial_data: ByteString::from(encode_record(values).unwrap()),
    };
    let wire = bin::encode(&Message::LogWrite(write).into_data());
    let Message::LogWrite(back) = Message::from_data(&bin::decode(&wire).unwrap()).unwrap() else {
        panic!("not a log write");
    };
    decode_record(back.serial_data.as_bytes()).unwrap()
}

#[test]
fn every_log_value_type_round_trips_through_a_log_write() {
    let values = vec![
        LogValue::Bool(false),
        LogValue::Int(i64::MIN),
        LogValue::Count(u64::MAX),
        LogValue::Double(-7.5),
        LogValue::Double(f64::NAN),
        LogValue::Time(1_700_000_000.123_456),
        LogValue::Interval(-0.001),
        LogValue::String(ByteString::from(&[0xff, 0, b'x'][..])),
        LogValue::Enum("Notice::ACTION_LOG".into()),
        LogValue::Port(Port::new(65535, Protocol::Icmp)),
        LogValue::Port(Port::new(0, Protocol::Unknown)),
        LogValue::Addr(Address::from("192.168.1.1".parse::<IpAddr>().unwrap())),
        LogValue::Addr(Address::from("2001:db8::2".parse::<IpAddr>().unwrap())),
        LogValue::Subnet("0.0.0.0/0".parse().unwrap()),
        LogValue::Subnet("2001:db8::/32".parse().unwrap()),
        LogValue::Set(vec![]),
        LogValue::Set(vec![LogValue::Port(Port::new(53, Protocol::Udp))]),
        LogValue::Vector(vec![
            LogValue::String("x".into()),
            LogValue::Unset(TypeTag::String),
        ]),
        LogValue::File("/tmp/f".into()),
        LogValue::Func("function() : void".into()),
        LogValue::Unset(TypeTag::Subnet),
        LogValue::Unset(TypeTag::Vector),
    ];
    assert_eq!(through_log_write(&values), values);
    assert_eq!(through_log_write(&[]), []);
}

fn atomic_value() -> impl Strategy<Value = LogValue> {
    prop_oneof![
        any::<bool>().prop_map(LogValue::Bool),
        any::<i64>().prop_map(LogValue::Int),
        any::<u64>().prop_map(LogValue::Count),
        any::<f64>().prop_map(LogValue::Double),
        any::<f64>().prop_map(LogValue::Time),
        any::<f64>().prop_map(LogValue::Interval),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| LogValue::String(ByteString::from(b))),
        "[A-Za-z:_]{0,20}".prop_map(LogValue::Enum),
        (any::<u16>(), 0u8..4)
            .prop_map(|(n, p)| { LogValue::Port(Port::new(n, Protocol::from_u8(p).unwrap())) }),
        any::<[u8; 4]>().prop_map(|a| LogValue::Addr(Address::from(IpAddr::from(a)))),
        any::<[u8; 16]>().prop_map(|a| LogValue::Addr(Address::from(IpAddr::from(a)))),
        (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, l)| LogValue::Subnet(Subnet::new(IpAddr::from(a), l).unwrap())),
        (any::<[u8; 16]>(), 0u8..=128)
            .prop_map(|(a, l)| LogValue::Subnet(Subnet::new(IpAddr::from(a), l).unwrap())),
        prop_oneof![
            Just(TypeTag::Count),
            Just(TypeTag::Addr),
            Just(TypeTag::Table)
        ]
        .prop_map(LogValue::Unset),
    ]
}

fn log_value() -> impl Strategy<Value = LogValue> {
    prop_oneof![
        4 => atomic_value(),
        1 => proptest::collection::vec(atomic_value(), 0..5).prop_map(LogValue::Set),
        1 => proptest::collection::vec(atomic_value(), 0..5).prop_map(LogValue::Vector),
    ]
}

proptest! {
    #[test]
    fn any_record_round_trips(values in proptest::collection::vec(log_value(), 0..12)) {
        prop_assert_eq!(through_log_write(&values), values);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Either a record or a typed error; re-encoding a record gives the
        // same bytes unless the input held a non-zero subtype (ignored).
        if let Ok(values) = decode_record(&bytes) {
            prop_assert_eq!(decode_record(&encode_record(&values).unwrap()).unwrap(), values);
        }
    }

    #[test]
    fn truncating_a_record_is_an_error(values in proptest::collection::vec(log_value(), 1..6), cut in 1usize..8) {
        let bytes = encode_record(&values).unwrap();
        let cut = cut.min(bytes.len());
        prop_assert!(decode_record(&bytes[..bytes.len() - cut]).is_err());
    }
}

// ---------------------------------------------------------------------------
// Typed records.

#[test]
fn conn_record_announces_zeeks_column_types() {
    let fields = log_fields(&Conn::zeek_type()).unwrap();
    let summary: Vec<(&str, u64, u64, bool)> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.type_tag, f.subtype_tag, f.optional))
        .collect();
    assert_eq!(
        summary,
        [
            ("ts", 5, 0, false),
            ("uid", 7, 0, false),
            ("id.orig_h", 11, 0, false),
            ("id.orig_p", 10, 0, false),
            ("id.resp_h", 11, 0, false),
            ("id.resp_p", 10, 0, false),
            ("proto", 9, 0, false),
            ("service", 7, 0, true),
            ("duration", 6, 0, true),
            ("orig_bytes", 3, 0, true),
            ("resp_bytes", 3, 0, true),
            ("conn_state", 7, 0, true),
            ("local_orig", 1, 0, true),
            ("missed_bytes", 3, 0, false),
            ("history", 7, 0, true),
            ("orig_pkts", 3, 0, true),
            ("tunnel_parents", 14, 7, true),
        ]
    );
}

// ---------------------------------------------------------------------------
// Endpoints over loopback.

fn options() -> Options {
    Options {
        disable_ssl: true,
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    }
}

/// A receiver subscribed to `prefixes` before peering (so the sender knows
/// its filter at once) and a sender peered with it.
async fn pair(sender_options: Options, prefixes: &[&str]) -> (Endpoint, Endpoint, Subscriber) {
    let receiver = Endpoint::new(options()).unwrap();
    let sender = Endpoint::new(sender_options).unwrap();
    let sub = receiver.subscribe(prefixes.iter().copied()).await.unwrap();
    let port = receiver.listen("127.0.0.1", 0).await.unwrap();
    sender
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    receiver.await_peer(sender.node_id(), WAIT).await.unwrap();
    (receiver, sender, sub)
}

async fn next_message(sub: &mut Subscriber) -> (String, Message) {
    let msg = sub.recv_timeout(WAIT).await.expect("a message in time");
    (
        msg.topic.as_str().to_owned(),
        Message::from_data(&msg.data).unwrap(),
    )
}

fn batch_len(message: &Message) -> usize {
    match message {
        Message::Batch(batch) => {
            assert!(batch.0.iter().all(|m| matches!(m, Message::LogWrite(_))));
            batch.0.len()
        }
        other => panic!("expected a batch of log writes, got {other:?}"),
    }
}

#[tokio::test]
async fn writes_are_batched_by_size_and_flush_logs_sends_the_rest() {
    let sender_options = Options {
        // No timer flush during the test.
        log_batch_interval: Duration::from_secs(3600),
        ..options()
    };
    let (_receiver, sender, mut sub) = pair(sender_options, &["bro/logs/"]).await;
    let logger = Logger::new(&sender).await.unwrap();
    let stream = logger.stream::<Conn>().unwrap();
    for i in 0..1000 {
        stream.write(&conn(i)).await.unwrap();
    }
    let (topic, create) = next_message(&mut sub).await;
    assert_eq!(topic, "bro/logs/Conn::LOG");
    let Message::LogCreate(create) = create else {
        panic!("expected the stream's LogCreate first, got {create:?}");
    };
    assert_eq!(create.stream_id.name(), "Conn::LOG");
    assert_eq!(create.writer_id.name(), "Log::WRITER_ASCII");
    assert_eq!(create.writer_info.path, "conn");
    assert_eq!(create.fields, log_fields(&Conn::zeek_type()).unwrap());
    for _ in 0..2 {
        let (topic, batch) = next_message(&mut sub).await;
        assert_eq!(topic, "bro/logs/Conn::LOG");
        assert_eq!(batch_len(&batch), 400);
    }
    assert!(sub.recv_timeout(Duration::from_millis(300)).await.is_none());
    assert_eq!(logger.flush_logs().await.unwrap(), 200);
    assert_eq!(batch_len(&next_message(&mut sub).await.1), 200);
    assert_eq!(logger.flush_logs().await.unwrap(), 0);
}

#[tokio::test]
async fn pending_writes_go_out_after_the_batch_interval() {
    let sender_options = Options {
        log_batch_interval: Duration::from_millis(200),
        ..options()
    };
    let (_receiver, sender, mut sub) = pair(sender_options, &["bro/logs/"]).await;
    let logger = Logger::new(&sender).await.unwrap();
    let stream = logger.stream::<Conn>().unwrap();
    let start = tokio::time::Instant::now();
    for i in 0..3 {
        stream.write(&conn(i)).await.unwrap();
    }
    assert!(matches!(
        next_message(&mut sub).await.1,
        Message::LogCreate(_)
    ));
    assert_eq!(batch_len(&next_message(&mut sub).await.1), 3);
    // The timer runs on real time here (virtual-time tests are the unit
    // tests of logs::writer); the batch waited for it.
    assert!(start.elapsed() < WAIT);
    assert_eq!(logger.flush_logs().await.unwrap(), 0);
}

#[tokio::test]
async fn custom_log_topic_carries_the_writes_and_the_default_topic_the_create() {
    let sender_options = Options {
        log_topic: Some(LogTopicFn::new(|stream, path| {
            format!("custom/{path}/{}", stream.replace("::", "-"))
        })),
        ..options()
    };
    let (_receiver, sender, mut sub) = pair(sender_options, &["bro/logs/", "custom/"]).await;
    let logger = Logger::new(&sender).await.unwrap();
    let stream = logger.stream::<Conn>().unwrap();
    stream.write(&conn(1)).await.unwrap();
    assert_eq!(logger.flush_logs().await.unwrap(), 1);
    let (topic, create) = next_message(&mut sub).await;
    assert_eq!(topic, "bro/logs/Conn::LOG");
    assert!(matches!(create, Message::LogCreate(_)));
    let (topic, batch) = next_message(&mut sub).await;
    assert_eq!(topic, "custom/conn/Conn-LOG");
    assert_eq!(batch_len(&batch), 1);
}

#[tokio::test]
async fn default_log_topic_prefix_is_an_option() {
    let sender_options = Options {
        default_log_topic_prefix: "zeek/logs/".into(),
        ..options()
    };
    let (_receiver, sender, mut sub) = pair(sender_options, &["zeek/logs/"]).await;
    let logger = Logger::new(&sender).await.unwrap();
    logger
        .stream::<Conn>()
        .unwrap()
        .write(&conn(1))
        .await
        .unwrap();
    assert_eq!(logger.flush_logs().await.unwrap(), 1);
    assert_eq!(next_message(&mut sub).await.0, "zeek/logs/Conn::LOG");
    assert_eq!(next_message(&mut sub).await.0, "zeek/logs/Conn::LOG");
}

#[tokio::test]
async fn ten_thousand_conn_records_arrive_typed_and_in_order() {
    let receiver = Endpoint::new(options()).unwrap();
    // No timed flush: on a loaded machine the writer can take longer than
    // the default second, and a timed flush would cut a batch short.
    let sender = Endpoint::new(Options {
        log_batch_interval: Duration::from_secs(3600),
        ..options()
    })
    .unwrap();
    let mut conns = TypedLogSubscriber::<Conn>::new(&receiver).await.unwrap();
    let port = receiver.listen("127.0.0.1", 0).await.unwrap();
    sender
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    receiver.await_peer(sender.node_id(), WAIT).await.unwrap();

    const N: u64 = 10_000;
    let logger = Logger::new(&sender).await.unwrap();
    let stream = logger.stream::<Conn>().unwrap();
    let started = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        for i in 0..N {
            stream.write(&conn(i)).await.unwrap();
        }
        logger.flush_logs().await.unwrap()
    });
    let received = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 0..N {
            let record = conns.recv().await.expect("the stream goes on").unwrap();
            assert_eq!(record, conn(i), "record {i}");
        }
    })
    .await;
    assert!(received.is_ok(), "10,000 records within 60 s");
    // 10,000 is 25 full batches of 400: nothing was left to flush.
    assert_eq!(writer.await.unwrap(), 0);
    eprintln!("10,000 conn records shipped in {:?}", started.elapsed());
}

#[tokio::test]
async fn untyped_subscriber_gives_rows_with_the_announced_columns() {
    let (_receiver, sender, sub) = pair(options(), &["bro/logs/"]).await;
    let mut rows = LogSubscriber::from_subscriber(sub);
    let logger = Logger::new(&sender).await.unwrap();
    logger
        .stream::<Conn>()
        .unwrap()
        .write(&conn(3))
        .await
        .unwrap();
    logger.flush_logs().await.unwrap();
    let row = rows.recv_timeout(WAIT).await.unwrap().unwrap();
    assert_eq!(row.stream_id.name(), "Conn::LOG");
    assert_eq!(row.path, "conn");
    assert_eq!(
        row.get("uid"),
        Some(&LogValue::String("C00000000000000003".into()))
    );
    assert_eq!(
        row.get("id.resp_p"),
        Some(&LogValue::Port(Port::new(443, Protocol::Tcp)))
    );
    assert_eq!(
        row.get("resp_bytes"),
        Some(&LogValue::Unset(TypeTag::Count))
    );
    let Data::Vector(columns) = row.to_data().unwrap() else {
        panic!("a row is a vector");
    };
    assert_eq!(columns.len(), 17);
    assert_eq!(columns[1], Data::from("C00000000000000003"));
    assert_eq!(columns[6], Data::EnumValue(EnumValue::new("udp")));
    assert_eq!(columns[10], Data::None);
}

/// A record that disagrees with `Conn` about one column.
#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[log(stream = "Conn::LOG", path = "conn")]
struct WrongConn {
    ts: Timestamp,
    uid: u64,
}

/// A record that needs a column `Conn` does not have.
#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[log(stream = "Conn::LOG", path = "conn")]
struct ConnWithExtra {
    uid: String,
    ts: Timestamp,
    extra: String,
    maybe: Option<String>,
}

/// A record with a subset of `Conn`'s columns, in another order.
#[derive(broker_core::Data, broker_core::Log, Clone, Debug, PartialEq)]
#[log(stream = "Conn::LOG", path = "conn")]
struct ConnSummary {
    uid: String,
    ts: Timestamp,
    maybe: Option<String>,
}

fn row_of(record: &Conn, announced: bool) -> broker_core::logs::LogRow {
    let fields: Vec<LogField> = log_fields(&Conn::zeek_type()).unwrap();
    let values = through_log_write(&{
        let mut v = Vec::new();
        let data = broker_core::data::ToData::to_data(record);
        flatten_for_test(&data, &mut v);
        v
    });
    broker_core::logs::LogRow {
        stream_id: EnumValue::new("Conn::LOG"),
        writer_id: EnumValue::new("Log::WRITER_ASCII"),
        path: "conn".into(),
        fields: announced.then(|| fields.into()),
        values,
    }
}

/// Flattens a `Conn` value with the public conversion, column by column.
fn flatten_for_test(data: &Data, out: &mut Vec<LogValue>) {
    let broker_core::data::schema::ZeekType::Record(ty) = Conn::zeek_type() else {
        unreachable!()
    };
    let Data::Vector(items) = data else {
        unreachable!()
    };
    for (field, item) in ty.fields.iter().zip(items) {
        match (&field.ty, item) {
            (broker_core::data::schema::ZeekType::Record(inner), Data::Vector(inner_items)) => {
                for (f, d) in inner.fields.iter().zip(inner_items) {
                    out.push(broker_core::logs::to_log_value(&f.ty, d).unwrap());
                }
            }
            (ty, d) => out.push(broker_core::logs::to_log_value(ty, d).unwrap()),
        }
    }
}

#[tokio::test]
async fn typed_rows_match_columns_by_name_and_report_mismatches() {
    let endpoint = Endpoint::new(options()).unwrap();
    let record = conn(9);

    let conns = TypedLogSubscriber::<Conn>::new(&endpoint).await.unwrap();
    for announced in [true, false] {
        assert_eq!(conns.convert(&row_of(&record, announced)).unwrap(), record);
    }

    let summary = TypedLogSubscriber::<ConnSummary>::new(&endpoint)
        .await
        .unwrap();
    assert_eq!(
        summary.convert(&row_of(&record, true)).unwrap(),
        ConnSummary {
            uid: record.uid.clone(),
            ts: record.ts,
            maybe: None
        }
    );
    assert!(matches!(
        summary.convert(&row_of(&record, false)),
        Err(LogError::ColumnCount {
            expected: 3,
            found: 17,
            ..
        })
    ));

    let wrong = TypedLogSubscriber::<WrongConn>::new(&endpoint)
        .await
        .unwrap();
    match wrong.convert(&row_of(&record, true)) {
        Err(LogError::ColumnType {
            column,
            expected,
            found,
            ..
        }) => {
            assert_eq!(
                (column.as_str(), expected.as_str(), found.as_str()),
                ("uid", "count", "string")
            );
        }
        other => panic!("expected a column type error, got {other:?}"),
    }

    let extra = TypedLogSubscriber::<ConnWithExtra>::new(&endpoint)
        .await
        .unwrap();
    match extra.convert(&row_of(&record, true)) {
        Err(LogError::MissingColumn { column, .. }) => assert_eq!(column, "extra"),
        other => panic!("expected a missing column error, got {other:?}"),
    }
}

#[tokio::test]
async fn without_peers_records_are_dropped_as_zeek_does() {
    let lonely = Endpoint::new(options()).unwrap();
    let logger = Logger::new(&lonely).await.unwrap();
    let stream = logger.stream::<Conn>().unwrap();
    for i in 0..10 {
        stream.write(&conn(i)).await.unwrap();
    }
    assert_eq!(logger.flush_logs().await.unwrap(), 0);
}

#[tokio::test]
async fn streams_are_announced_to_each_new_peer() {
    let (_first, sender, _sub) = pair(options(), &["bro/logs/"]).await;
    let logger = Logger::new(&sender).await.unwrap();
    logger
        .stream::<Conn>()
        .unwrap()
        .write(&conn(1))
        .await
        .unwrap();
    assert_eq!(logger.flush_logs().await.unwrap(), 1);

    // A peer that arrives later gets the LogCreate without any new write.
    let late = Endpoint::new(options()).unwrap();
    let mut late_sub = late.subscribe(["bro/logs/"]).await.unwrap();
    let port = late.listen("127.0.0.1", 0).await.unwrap();
    sender
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    let (topic, create) = next_message(&mut late_sub).await;
    assert_eq!(topic, "bro/logs/Conn::LOG");
    let Message::LogCreate(create) = create else {
        panic!("expected a LogCreate, got {create:?}");
    };
    assert_eq!(create.fields.len(), 17);
}

#[test]
fn a_conn_value_converts_to_data_rows_and_back() {
    // `LogValue::to_data` gives Broker data: time as a timestamp, interval
    // as a timespan, enum as an enum value, set as a set.
    assert_eq!(
        LogValue::Time(1.5).to_data().unwrap(),
        Data::Timestamp(Timestamp::from_nanos(1_500_000_000))
    );
    assert_eq!(
        LogValue::Interval(0.25).to_data().unwrap(),
        Data::Timespan(Timespan::from_millis(250))
    );
    assert_eq!(
        LogValue::Set(vec![LogValue::Count(2), LogValue::Count(1)])
            .to_data()
            .unwrap(),
        Data::Set([Data::Count(1), Data::Count(2)].into())
    );
}

// ---------------------------------------------------------------------------
// The fuzz corpus of the `log_record` target, replayed on stable.

include!("../../fuzz/checks/log_record.rs");

#[test]
fn log_record_fuzz_corpus_replays_without_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/log_record");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no files", dir.display());
    let mut decoded = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        check_log_record(&bytes);
        decoded += usize::from(decode_record(&bytes).is_ok());
    }
    assert!(decoded >= 5, "the seeds decode");
}
