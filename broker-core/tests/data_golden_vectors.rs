//! The codecs against golden vectors produced by a real Broker build
//! (`testdata/broker-vectors/`, see its README for provenance).

use std::path::PathBuf;

use broker_core::data::bin::{self, DecodeError};
use broker_core::data::view::DataBuf;
use broker_core::data::{Data, Timestamp, json};
use broker_core::zeek::Message;
use serde_json::Value;

fn vectors(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/broker-vectors")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{file} has no vectors");
    lines
}

fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing {key} in {v}"))
}

/// Whether Broker's JSON for this value is lossy or not valid JSON, so that
/// our output deliberately differs (see docs/zeek-compatibility.md).
fn broker_json_differs(data: &Data) -> bool {
    match data {
        Data::Real(_) => true,
        Data::String(s) => s.as_str().is_none_or(|t| t.chars().any(char::is_control)),
        Data::Timestamp(t) => t.as_nanos() < 0,
        Data::Vector(items) => items.iter().any(broker_json_differs),
        Data::Set(items) => items.iter().any(broker_json_differs),
        Data::Table(t) => t
            .iter()
            .any(|(k, v)| broker_json_differs(k) || broker_json_differs(v)),
        _ => false,
    }
}

/// The value as JSON can carry it: timestamps at millisecond precision.
fn json_precision(data: &Data) -> Data {
    match data {
        Data::Timestamp(t) => Data::Timestamp(Timestamp::from_nanos(
            t.as_nanos().div_euclid(1_000_000) * 1_000_000,
        )),
        Data::Vector(items) => Data::Vector(items.iter().map(json_precision).collect()),
        Data::Set(items) => Data::Set(items.iter().map(json_precision).collect()),
        Data::Table(t) => Data::Table(
            t.iter()
                .map(|(k, v)| (json_precision(k), json_precision(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn every_golden_value_decodes_and_reencodes_to_the_same_bytes() {
    for v in vectors("bin-v1-values.jsonl") {
        let name = field(&v, "name");
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        let data = bin::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bin::encode(&data), bytes, "{name}");
        let mut appended = vec![0xaa];
        bin::encode_into(&data, &mut appended);
        assert_eq!(appended[1..], bytes[..], "{name}");
    }
}

#[test]
fn broker_json_decodes_to_the_same_value_where_it_is_lossless() {
    let mut checked = 0;
    for v in vectors("bin-v1-values.jsonl") {
        let name = field(&v, "name");
        if v["checks"]["json_v1_decode"] != "same_bytes" || v["json_v1"].is_null() {
            continue;
        }
        let data = json::from_json(&v["json_v1"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode(bin::encode(&data)),
            field(&v, "bin_v1_hex"),
            "{name}"
        );
        // The text form too, byte for byte as Broker wrote it.
        let from_text = json::from_json_str(field(&v, "json_v1_text")).unwrap();
        assert_eq!(from_text, data, "{name}");
        checked += 1;
    }
    assert!(checked > 70, "only {checked} lossless JSON vectors");
}

#[test]
fn our_json_equals_brokers_except_where_brokers_is_lossy() {
    let mut identical = 0;
    for v in vectors("bin-v1-values.jsonl") {
        let name = field(&v, "name");
        let data = bin::decode(&hex::decode(field(&v, "bin_v1_hex")).unwrap()).unwrap();
        let ours = json::to_json_string(&data);
        if broker_json_differs(&data) {
            // Ours must be valid JSON that reads back as the value (at JSON's
            // millisecond precision; invalid UTF-8 is replaced).
            let back = json::from_json_str(&ours).unwrap_or_else(|e| panic!("{name}: {e}"));
            let lossless = data_is_utf8(&data);
            if lossless {
                assert_eq!(back, json_precision(&data), "{name}");
            }
        } else {
            assert_eq!(Some(ours.as_str()), v["json_v1_text"].as_str(), "{name}");
            identical += 1;
        }
    }
    assert!(identical > 50, "only {identical} identical JSON texts");
}

fn data_is_utf8(data: &Data) -> bool {
    match data {
        Data::String(s) => s.as_str().is_some(),
        Data::Vector(items) => items.iter().all(data_is_utf8),
        Data::Set(items) => items.iter().all(data_is_utf8),
        Data::Table(t) => t.iter().all(|(k, v)| data_is_utf8(k) && data_is_utf8(v)),
        _ => true,
    }
}

#[test]
fn zeek_messages_in_the_vectors_parse_and_rebuild_identically() {
    let mut count = 0;
    for v in vectors("bin-v1-values.jsonl") {
        let name = field(&v, "name");
        if !name.starts_with("zeek ") || name.starts_with("zeek record") {
            continue;
        }
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        let data = bin::decode(&bytes).unwrap();
        let message = Message::from_data(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bin::encode(&message.into_data()), bytes, "{name}");
        count += 1;
    }
    assert_eq!(count, 9);
}

#[test]
fn every_golden_value_reads_the_same_through_a_view() {
    for v in vectors("bin-v1-values.jsonl") {
        let name = field(&v, "name");
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        let buf = DataBuf::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Ok(buf.to_data()), bin::decode(&bytes), "{name}");
        assert_eq!(buf.as_bytes(), &bytes[..], "{name}");
    }
}

#[test]
fn every_invalid_vector_is_refused_by_a_view_with_the_decoders_error() {
    for v in vectors("bin-v1-invalid.jsonl") {
        let name = field(&v, "name");
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        let decoded = bin::decode(&bytes).expect_err(name);
        assert_eq!(DataBuf::parse(&bytes).expect_err(name), decoded, "{name}");
    }
}

#[test]
fn every_invalid_vector_is_rejected() {
    for v in vectors("bin-v1-invalid.jsonl") {
        let name = field(&v, "name");
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        assert!(bin::decode(&bytes).is_err(), "{name} was accepted");
    }
}

/// What we do with each input that Broker accepts although it is malformed.
/// `Ok(hex)`: accepted, re-encoded as `hex`. `Err(kind)`: rejected.
fn lenient_verdict(name: &str) -> Result<&'static str, fn(&DecodeError) -> bool> {
    match name {
        // Varbytes: we accept at most 5 bytes and values up to u32::MAX.
        n if n.starts_with("varbyte of") => {
            Err(|e| matches!(e, DecodeError::VarbyteTooLong { .. }))
        }
        n if n.starts_with("varbyte 5 bytes encoding 2^32") => {
            Err(|e| matches!(e, DecodeError::VarbyteOverflow { .. }))
        }
        // Same as Broker.
        "boolean byte 0x02" | "boolean byte 0xff" => Ok("0101"),
        "set not in sorted order {count 2, count 1}" => {
            Ok("0c02020000000000000001020000000000000002")
        }
        "table not in sorted key order" => {
            Ok("0d02050161020000000000000002050162020000000000000001")
        }
        "real IEEE +inf bits 7ff0000000000000 (is -inf in CAF mapping)" => Ok("047ff0000000000000"),
        "string non-minimal varbyte length 8100 (=1)" => Ok("050161"),
        // Different from Broker: host bits are masked, as every Subnet is valid.
        "subnet v4 with host bits 192.168.1.7/24 (raw len 120)" => {
            Ok("0700000000000000000000ffffc0a8010078")
        }
        "subnet v4 raw length 8 (<96)" => Ok("070000000000000000000000000000000008"),
        "subnet raw length 200 (>128)" => {
            Err(|e| matches!(e, DecodeError::InvalidSubnetLength { .. }))
        }
        // Different from Broker: IEEE NaN bits stay NaN (Broker reads +inf),
        // IEEE subnormals keep their value (Broker reads a tiny normal).
        "real IEEE NaN bits 7ff8000000000000" => Ok("04ffffffffffffffff"),
        "real IEEE subnormal bits 0000000000000001" => Ok("040000000000000001"),
        other => panic!("no verdict for lenient vector {other:?}"),
    }
}

#[test]
fn lenient_vectors_get_the_documented_verdict() {
    for v in vectors("bin-v1-lenient.jsonl") {
        let name = field(&v, "name");
        let bytes = hex::decode(field(&v, "bin_v1_hex")).unwrap();
        match (lenient_verdict(name), bin::decode(&bytes)) {
            (Ok(expected), Ok(data)) => {
                assert_eq!(hex::encode(bin::encode(&data)), expected, "{name}");
            }
            (Err(is_expected), Err(e)) => assert!(is_expected(&e), "{name}: {e:?}"),
            (verdict, got) => panic!("{name}: expected {:?}, got {got:?}", verdict.ok()),
        }
    }
}

/// JSON inputs where we deliberately answer differently from Broker.
fn json_divergence(name: &str) -> Option<Result<&'static str, &'static str>> {
    Some(match name {
        // Not valid JSON; serde_json cannot read bare words.
        "real: bare nan" => Err("invalid_json"),
        // A prefix longer than the address is an error, not `::/0`.
        "subnet: 10.0.0.0/33 (invalid prefix)" => Err("type_clash"),
        // Port numbers do not wrap around.
        "port: 70000/tcp (overflow)" => Err("type_clash"),
        // Too large for a count: the number is not an integer we can hold.
        "count: 2^64 (overflow)" => Err("type_clash"),
        // Days are accepted (zeekpy and the old Broker docs use them).
        "timespan: 1d" => Ok("0a00004e94914f0000"),
        // Correctly rounded (Python and serde_json agree); Broker's parser is
        // one unit in the last place low.
        "real: 1.5e-300" => Ok("0401b01297d23ab683"),
        // `\/` is `/` in JSON; Broker's parser yields `?`.
        "string: \\/ escape" => Ok("0503612f62"),
        // `\v` is not a JSON escape; Broker's parser takes it.
        "string: \\v escape (Broker's own output)" => Err("invalid_json"),
        _ => return None,
    })
}

#[test]
fn json_inputs_get_brokers_verdict_except_documented_divergences() {
    for v in vectors("json-v1-decode.jsonl") {
        let name = field(&v, "name");
        let input = field(&v, "json_v1_text");
        let broker = if v["broker_result"] == "accepted" {
            Ok(field(&v, "bin_v1_hex"))
        } else {
            Err(field(&v, "error"))
        };
        let expected = json_divergence(name).unwrap_or(broker);
        let ours = match serde_json::from_str::<Value>(input) {
            Err(_) => Err("invalid_json"),
            Ok(value) => {
                let decoded = if value.get("topic").is_some() {
                    json::data_message_from_json(&value).map(|(_, d)| d)
                } else {
                    json::from_json(&value)
                };
                decoded.map_err(|e| e.broker_error_name())
            }
        };
        let ours = ours.map(|d| hex::encode(bin::encode(&d)));
        assert_eq!(ours.as_deref().map_err(|e| *e), expected, "{name}: {input}");
        // The streaming decoder gives the same verdicts.
        let streamed = if input.contains("\"topic\"") {
            json::data_message_from_json_str(input).map(|(_, d)| d)
        } else {
            json::from_json_str(input)
        };
        let streamed = streamed
            .map(|d| hex::encode(bin::encode(&d)))
            .map_err(|e| e.broker_error_name());
        assert_eq!(
            streamed.as_deref().map_err(|e| *e),
            expected,
            "streamed {name}: {input}"
        );
    }
}
