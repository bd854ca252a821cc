//! Every frame captured from Zeek 8.2.2's ZeroMQ backend
//! (`testdata/zeek-zeromq/`) decodes to the expected message, and the
//! encoders write the same bytes back.

use std::path::Path;

use broker_core::data::{Data, EnumValue, Port, Protocol, Subnet, Timespan, Timestamp};
use broker_core::logs::{LogValue, TypeTag};
use broker_core::zeek::{Event, Message};
use broker_core::zeromq::wire::{EventFormat, EventMessage, LogMessage, Subscription, WireError};
use serde_json::Value;

struct Capture {
    file: String,
    name: String,
    socket: String,
    frames: Vec<Vec<u8>>,
}

fn captures() -> Vec<Capture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/zeek-zeromq");
    let mut out = Vec::new();
    for file in [
        "worker-node.jsonl",
        "manager-proxy.jsonl",
        "logger-pull.jsonl",
        "worker-network-timestamp.jsonl",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let frames = v["frames_hex"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| hex::decode(f.as_str().unwrap()).unwrap())
                .collect();
            out.push(Capture {
                file: file.into(),
                name: v["name"].as_str().unwrap().into(),
                socket: v["socket"].as_str().unwrap().into(),
                frames,
            });
        }
    }
    assert_eq!(out.len(), 129, "all captured messages");
    out
}

fn find(file: &str, name: &str) -> Capture {
    captures()
        .into_iter()
        .find(|c| c.file == file && c.name == name)
        .unwrap_or_else(|| panic!("no capture {file}:{name}"))
}

/// Messages that are broken on purpose at the frame level, and why.
fn expected_failure(name: &str) -> Option<fn(&WireError) -> bool> {
    Some(match name {
        "reject-three-frames" | "logger-reject-three-frames" => |e| {
            matches!(
                e,
                WireError::FrameCount {
                    expected: 4,
                    found: 3
                }
            )
        },
        "reject-five-frames" => |e| {
            matches!(
                e,
                WireError::FrameCount {
                    expected: 4,
                    found: 5
                }
            )
        },
        // The format frame says JSON but the payload is bin v1.
        "reject-wrong-format" => |e| matches!(e, WireError::Json(_)),
        "reject-truncated-payload" => |e| matches!(e, WireError::Bin(_)),
        "logger-reject-wrong-format" => {
            |e| matches!(e, WireError::WrongLogFormat(f) if f == "broker-bin-v1")
        }
        "logger-reject-truncated" => |e| matches!(e, WireError::LogBatch(_)),
        _ => return None,
    })
}

#[test]
fn every_captured_frame_decodes_and_reencodes_to_the_same_bytes() {
    let (mut subs, mut events, mut logs, mut rejected) = (0, 0, 0, 0);
    for c in captures() {
        let what = format!("{}:{}", c.file, c.name);
        let result = match c.socket.as_str() {
            "xsub" => {
                assert_eq!(c.frames.len(), 1, "{what}");
                let sub = Subscription::decode(&c.frames[0])
                    .unwrap_or_else(|e| panic!("{what}: {e}"))
                    .unwrap_or_else(|| panic!("{what}: not a subscription"));
                assert_eq!(sub.encode(), c.frames[0], "{what}");
                subs += 1;
                continue;
            }
            "xpub" => EventMessage::decode(&c.frames).map(|m| {
                assert_eq!(m.encode().to_vec(), c.frames, "{what}");
                events += 1;
            }),
            "push" => LogMessage::decode(&c.frames).map(|m| {
                // Frame 0 is re-encoded as `log-write`, whatever it was.
                let mut frames = m.encode().unwrap().to_vec();
                frames[0] = c.frames[0].clone();
                assert_eq!(frames, c.frames, "{what}");
                logs += 1;
            }),
            other => panic!("{what}: unknown socket {other}"),
        };
        match (result, expected_failure(&c.name)) {
            (Ok(()), None) => {}
            (Err(e), Some(check)) => {
                assert!(check(&e), "{what}: unexpected error {e:?}");
                rejected += 1;
            }
            (Ok(()), Some(_)) => panic!("{what}: decoded, but should fail"),
            (Err(e), None) => panic!("{what}: {e}"),
        }
    }
    assert_eq!((subs, events, logs, rejected), (45, 64, 9, 11));
}

#[test]
fn every_bin_payload_decodes_and_reencodes() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/zeek-zeromq/bin-payloads.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (name, hex) = line.split_once('\t').unwrap();
        let bytes = hex::decode(hex).unwrap();
        match EventFormat::BinV1.decode(&bytes) {
            Ok(data) => assert_eq!(EventFormat::BinV1.encode(&data), bytes, "{name}"),
            Err(e) => {
                // A truncated event, and a log batch labelled bin v1.
                assert!(
                    name.ends_with("reject-truncated-payload")
                        || name.ends_with("logger-reject-wrong-format"),
                    "{name}: {e}"
                );
            }
        }
        n += 1;
    }
    assert_eq!(n, 67);
}

fn event(c: &Capture) -> (EventMessage, Event) {
    let msg = EventMessage::decode(&c.frames).unwrap();
    let Message::Event(ev) = Message::from_data(&msg.data).unwrap() else {
        panic!("not an event");
    };
    (msg, ev)
}

#[test]
fn zeeks_hello_names_the_node_and_its_id() {
    let c = find(
        "worker-node.jsonl",
        "zeek-event-Cluster::Backend::ZeroMQ::hello",
    );
    let (msg, ev) = event(&c);
    assert_eq!(
        msg.topic.as_str(),
        "zeek.cluster.nodeid.pyzmq_manager_capture."
    );
    assert_eq!(msg.sender, b"zeromq_worker-1_vm_20622_N5a5cw2zcYJYUVrcqa");
    assert_eq!(ev.name, "Cluster::Backend::ZeroMQ::hello");
    assert_eq!(
        ev.args,
        vec![
            Data::from("worker-1"),
            Data::from("zeromq_worker-1_vm_20622_N5a5cw2zcYJYUVrcqa")
        ]
    );
    assert_eq!(ev.metadata, None, "Zeek 8.2 sends no metadata by default");
}

#[test]
fn all_types_decodes_to_the_broker_values() {
    let c = find("worker-node.jsonl", "zeek-event-ZmqCapture::all_types");
    let (msg, ev) = event(&c);
    assert_eq!(msg.topic.as_str(), "zeek.capture.all-types");
    assert_eq!(ev.name, "ZmqCapture::all_types");
    let a = &ev.args;
    assert_eq!(a.len(), 17);
    assert_eq!(a[0], Data::Count(42));
    assert_eq!(a[1], Data::Integer(-7));
    assert_eq!(a[2], Data::Real(3.5));
    assert_eq!(a[3], Data::from("hello, zeromq"));
    assert_eq!(a[6], Data::Subnet("10.0.0.0/8".parse::<Subnet>().unwrap()));
    assert_eq!(a[8], Data::Port(Port::new(443, Protocol::Tcp)));
    assert_eq!(
        a[9],
        Data::Timestamp(Timestamp::from_nanos(1_700_000_000_500_000_000))
    );
    assert_eq!(a[10], Data::Timespan(Timespan::from_nanos(1_500_000_000)));
    assert_eq!(a[11], Data::Boolean(true));
    assert_eq!(
        a[15],
        Data::Vector(vec![Data::Count(7), Data::from("inner"), Data::None])
    );
    assert_eq!(a[16], Data::EnumValue(EnumValue::new("ZmqCapture::BLUE")));
}

#[test]
fn network_timestamps_arrive_as_metadata() {
    let c = find("worker-node.jsonl", "inject-ping-with-network-timestamp");
    let (_, ev) = event(&c);
    assert_eq!(
        ev.metadata,
        Some(vec![(
            1,
            Data::Timestamp(Timestamp::from_nanos(1_700_000_000_500_000_000))
        )])
    );
}

#[test]
fn an_empty_sender_frame_is_accepted() {
    let c = find("worker-node.jsonl", "inject-ping-empty-sender");
    assert!(EventMessage::decode(&c.frames).unwrap().sender.is_empty());
}

#[test]
fn the_spec_hello_vectors_match_our_encoding() {
    let hello = Message::Event(Event {
        name: "Cluster::hello".into(),
        args: vec![Data::from("logger-1"), Data::from("rid")],
        metadata: None,
    })
    .into_data();
    assert_eq!(
        hex::encode(EventFormat::BinV1.encode(&hello)),
        "0e0302000000000000000102000000000000000\
         10e02050e436c75737465723a3a68656c6c6f0e020508\
         6c6f676765722d3105037269\
         64"
    );
    assert_eq!(
        String::from_utf8(EventFormat::JsonV1.encode(&hello)).unwrap(),
        r#"{"@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1},{"@data-type":"vector","data":[{"@data-type":"string","data":"Cluster::hello"},{"@data-type":"vector","data":[{"@data-type":"string","data":"logger-1"},{"@data-type":"string","data":"rid"}]}]}]}"#
    );
    assert_eq!(
        EventFormat::JsonV1
            .decode(&EventFormat::JsonV1.encode(&hello))
            .unwrap(),
        hello
    );
}

#[test]
fn the_captured_log_batch_has_zeeks_rows() {
    let c = find("worker-node.jsonl", "zeek-log-write-ZmqCapture::LOG");
    let msg = LogMessage::decode(&c.frames).unwrap();
    let b = &msg.batch;
    assert_eq!(
        (&*b.stream, &*b.writer, &*b.filter, &*b.path),
        (
            "ZmqCapture::LOG",
            "Log::WRITER_ASCII",
            "default",
            "zmq_capture"
        )
    );
    let names: Vec<&str> = b.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ts", "uid", "orig", "net", "p", "n", "i", "d", "iv", "b", "color", "tags", "nums",
            "note"
        ]
    );
    assert_eq!((b.fields[11].type_tag, b.fields[11].subtype_tag), (14, 7));
    assert!(b.fields[13].optional);
    assert_eq!(b.records.len(), 3);
    let first = &b.records[0];
    assert_eq!(first[0], LogValue::Time(1_700_000_000.25));
    assert_eq!(first[1], LogValue::String("CuidA1".into()));
    assert_eq!(first[3], LogValue::Subnet("10.1.0.0/16".parse().unwrap()));
    assert_eq!(first[4], LogValue::Port(Port::new(53, Protocol::Udp)));
    assert_eq!(first[10], LogValue::Enum("ZmqCapture::RED".into()));
    assert_eq!(
        first[11],
        LogValue::Set(vec![
            LogValue::String("b".into()),
            LogValue::String("a".into())
        ])
    );
    assert_eq!(b.records[1][5], LogValue::Count(u64::MAX));
    assert_eq!(b.records[1][13], LogValue::Unset(TypeTag::String));
}

#[test]
fn the_logger_accepts_any_first_and_second_frame() {
    let c = find(
        "logger-pull.jsonl",
        "logger-inject-log-write-any-type-frame",
    );
    let msg = LogMessage::decode(&c.frames).unwrap();
    assert!(msg.sender.is_empty());
    assert_eq!(msg.batch.records.len(), 3);
}

#[test]
fn the_own_subscriptions_of_zeek_decode() {
    let c = find("worker-node.jsonl", "zeek-unsubscribe#2");
    assert_eq!(
        Subscription::decode(&c.frames[0]).unwrap(),
        Some(Subscription::Unsubscribe(
            b"zeek.cluster.nodeid.zeromq_worker-1_vm_20622_N5a5cw2zcYJYUVrcqa.".to_vec()
        ))
    );
}
