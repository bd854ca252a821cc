//! `zeek_types!` generates Rust types from Zeek scripts, and what the
//! generated types declare (`Schema::collect()`, as `broker schema` prints
//! it) parses back to the same declarations.

use std::collections::BTreeSet;

use broker_core::data::{Data, FromData, Port, Protocol, Timestamp, ToData};
use broker_core::typed::{Schema, TypedEvent};
use zeek_script::{Declarations, Type};

mod zeek {
    broker_core::zeek_types!(
        "zeek/conn.zeek, zeek/site.zeek, zeek/management.zeek",
        topic = "/generated"
    );
}

use zeek::conn::Info as ConnInfo;
use zeek::management::{Result as MgmtResult, Role};
use zeek::site::{Level, Scan, ScanDetected, ScanSummary};
use zeek::{ConnId, TransportProto};

fn scripts() -> Declarations {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/zeek/");
    zeek_script::load(["conn.zeek", "site.zeek", "management.zeek"].map(|f| format!("{dir}{f}")))
        .expect("the fixtures parse")
}

#[test]
fn generated_types_follow_zeek_modules_names_and_types() {
    let scan = ScanDetected {
        src: "10.0.0.1".parse().unwrap(),
        ports: vec![Port::new(22, Protocol::Tcp)],
        first_seen: Timestamp::EPOCH,
    };
    assert_eq!(ScanDetected::NAME, "Site::scan_detected");
    assert_eq!(ScanDetected::TOPIC, "/generated");
    assert_eq!(ScanDetected::from_args(&scan.to_args()).unwrap(), scan);

    // Enum values keep their full Zeek names; `redef enum` values too.
    assert_eq!(
        Level::High.to_data(),
        Data::EnumValue(broker_core::data::EnumValue::new("Site::HIGH"))
    );
    assert_eq!(
        Level::from_data(&Level::Critical.to_data()).unwrap(),
        Level::Critical
    );
    assert_eq!(
        TransportProto::UnknownTransport.to_data().to_string(),
        "unknown_transport"
    );
    let _ = [Role::None, Role::Agent, Role::Controller, Role::Node];

    // `&optional` fields are `Option`s; others are plain.
    let record = Scan {
        src: "10.0.0.2".parse().unwrap(),
        ports: BTreeSet::from([Port::new(80, Protocol::Tcp)]),
        first: Timestamp::EPOCH,
        duration: None,
        note: String::new(),
    };
    assert_eq!(Scan::from_data(&record.to_data()).unwrap(), record);
    let summary = ScanSummary {
        scan: record,
        level: Level::Low,
        hosts: [("10.0.0.3".parse().unwrap(), 3)].into(),
    };
    assert_eq!(ScanSummary::from_args(&summary.to_args()).unwrap(), summary);

    // `any` is `Data`; records of other modules are referenced by path.
    let result = MgmtResult {
        reqid: "r".into(),
        success: true,
        instance: None,
        data: Some(Data::from(7u64)),
        error: None,
        node: None,
    };
    let response = zeek::management::controller::api::DeployResponse {
        reqid: "r".into(),
        results: vec![result],
    };
    assert_eq!(
        zeek::management::controller::api::DeployResponse::from_args(&response.to_args()).unwrap(),
        response
    );
    let info = ConnInfo {
        ts: Timestamp::EPOCH,
        uid: "C1".into(),
        id: ConnId {
            orig_h: "10.0.0.1".parse().unwrap(),
            orig_p: Port::new(1234, Protocol::Tcp),
            resp_h: "10.0.0.2".parse().unwrap(),
            resp_p: Port::new(80, Protocol::Tcp),
        },
        proto: TransportProto::Tcp,
        service: None,
        duration: None,
        orig_bytes: Some(1),
        resp_bytes: None,
        conn_state: None,
        local_orig: None,
        local_resp: None,
        missed_bytes: 0,
        history: None,
        orig_pkts: None,
        orig_ip_bytes: None,
        resp_pkts: None,
        resp_ip_bytes: None,
        tunnel_parents: None,
    };
    assert_eq!(ConnInfo::from_data(&info.to_data()).unwrap(), info);
    let _ = zeek::conn::LogConn { rec: info };
}

/// The fields of a record as `name: type` (with `&optional`).
fn fields(decls: &Declarations, name: &str) -> Vec<String> {
    decls
        .record(name)
        .unwrap_or_else(|| panic!("no record {name}"))
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.name,
                f.ty,
                if f.is_optional() { " &optional" } else { "" }
            )
        })
        .collect()
}

#[test]
fn generated_declarations_round_trip_through_broker_schema() {
    let original = scripts();
    // What `broker schema` prints for a program with the generated types.
    let printed = Schema::collect().unwrap().to_string();
    let back =
        Declarations::parse("schema.zeek", &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));

    let events: Vec<&str> = original.events().map(|e| e.name.as_str()).collect();
    assert_eq!(events.len(), 9, "{events:?}");
    assert_eq!(
        back.events().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        events
    );
    let mut named = BTreeSet::new();
    for event in original.events() {
        let again = back.event(&event.name).unwrap();
        let sig = |e: &zeek_script::Event| -> Vec<String> {
            e.params
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty))
                .collect()
        };
        assert_eq!(sig(again), sig(event), "{}", event.name);
        for param in &event.params {
            param.ty.walk(&mut |t| {
                if let Type::Named(n) = t {
                    named.insert(n.clone());
                }
            });
        }
    }
    // Every record and enum the events use, with its fields or values.
    let mut todo: Vec<String> = named.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(e) = original.enum_type(&name) {
            assert_eq!(
                back.enum_type(&name)
                    .unwrap()
                    .values
                    .iter()
                    .map(|v| &v.0)
                    .collect::<Vec<_>>(),
                e.values.iter().map(|v| &v.0).collect::<Vec<_>>(),
                "{name}"
            );
            continue;
        }
        assert_eq!(fields(&back, &name), fields(&original, &name), "{name}");
        for field in &original.record(&name).unwrap().fields {
            field.ty.walk(&mut |t| {
                if let Type::Named(n) = t {
                    todo.push(n.clone());
                }
            });
        }
    }
    assert!(
        seen.contains("Conn::Info") && seen.contains("conn_id") && seen.contains("transport_proto"),
        "{seen:?}"
    );
    assert!(
        seen.contains("Management::Result")
            && seen.contains("Site::Scan")
            && seen.contains("Site::Level"),
        "{seen:?}"
    );
}

#[test]
fn the_run_time_check_agrees_with_the_scripts_the_types_came_from() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/zeek/");
    let paths = ["conn.zeek", "site.zeek", "management.zeek"].map(|f| format!("{dir}{f}"));
    let mismatches = broker_core::typed::check_scripts(&paths).unwrap();
    assert!(mismatches.is_empty(), "{mismatches:#?}");

    // A script that drifted: `Site::Scan.note` became a count.
    let drifted = std::fs::read_to_string(format!("{dir}site.zeek"))
        .unwrap()
        .replace(
            "note:     string   &default=\"\";",
            "note:     count    &default=0;",
        );
    let mut scripts: Vec<zeek_script::Script> = Vec::new();
    for (file, source) in [
        ("conn.zeek", std::fs::read_to_string(&paths[0]).unwrap()),
        ("site.zeek", drifted),
        (
            "management.zeek",
            std::fs::read_to_string(&paths[2]).unwrap(),
        ),
    ] {
        scripts.push(zeek_script::parse(file, &source).unwrap());
    }
    let decls = Declarations::resolve(scripts).unwrap();
    let lines: Vec<String> = Schema::collect()
        .unwrap()
        .check(&decls)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "site.zeek:22:3: record Site::Scan: `note`: the scripts declare `count`, the Rust type is `string`"
        ]
    );
}
