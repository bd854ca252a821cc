//! Records and enums with the shapes of Zeek's own `Conn::Info`,
//! `Notice::Info` and `Management::Result`, checked against fixtures
//! written from Zeek's documented field lists.

use std::collections::BTreeSet;
use std::net::IpAddr;

use broker_core::data::{Data, Port, Timespan, Timestamp, ToData};

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(name = "transport_proto", rename_all = "lowercase", zeek = "zeek/conn.zeek")]
enum TransportProto {
    #[broker(rename = "unknown_transport")]
    Unknown,
    Tcp,
    Udp,
    Icmp,
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "conn_id", zeek = "zeek/conn.zeek")]
struct ConnId {
    orig_h: IpAddr,
    orig_p: Port,
    resp_h: IpAddr,
    resp_p: Port,
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "Conn::Info", zeek = "zeek/conn.zeek")]
struct ConnInfo {
    ts: Timestamp,
    uid: String,
    id: ConnId,
    proto: TransportProto,
    service: Option<String>,
    duration: Option<Timespan>,
    orig_bytes: Option<u64>,
    resp_bytes: Option<u64>,
    conn_state: Option<String>,
    local_orig: Option<bool>,
    local_resp: Option<bool>,
    missed_bytes: u64,
    history: Option<String>,
    orig_pkts: Option<u64>,
    orig_ip_bytes: Option<u64>,
    resp_pkts: Option<u64>,
    resp_ip_bytes: Option<u64>,
    tunnel_parents: Option<BTreeSet<String>>,
}

#[broker_core::event(topic = "/conn", name = "Conn::log_conn", zeek = "zeek/conn.zeek")]
struct LogConn {
    rec: ConnInfo,
}

// A subset of the values: only these can be received.
#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[broker(module = "Notice", rename_all = "SCREAMING_SNAKE_CASE", zeek = "zeek/notice.zeek")]
enum Action {
    ActionNone,
    ActionLog,
    ActionEmail,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(name = "Notice::Type", zeek = "zeek/notice.zeek")]
enum NoticeType {
    #[broker(rename = "Notice::Tally")]
    Tally,
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "Notice::Info", zeek = "zeek/notice.zeek")]
struct NoticeInfo {
    ts: Option<Timestamp>,
    uid: Option<String>,
    id: Option<ConnId>,
    // The whole `connection` and `fa_file` records: kept untyped.
    conn: Option<Data>,
    f: Option<Data>,
    fuid: Option<String>,
    file_mime_type: Option<String>,
    file_desc: Option<String>,
    proto: Option<TransportProto>,
    note: NoticeType,
    msg: Option<String>,
    sub: Option<String>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    p: Option<Port>,
    n: Option<u64>,
    peer_name: Option<String>,
    peer_descr: Option<String>,
    // `ActionSet` is an alias of `set[Notice::Action]`.
    actions: BTreeSet<Action>,
    email_dest: BTreeSet<String>,
    email_body_sections: Option<Vec<String>>,
    email_delay_tokens: Option<BTreeSet<String>>,
    identifier: Option<String>,
    suppress_for: Timespan,
}

#[broker_core::event(topic = "/notice", name = "Notice::begin_suppression", zeek = "zeek/notice.zeek")]
struct BeginSuppression {
    ts: Timestamp,
    suppress_for: std::time::Duration,
    note: NoticeType,
    identifier: String,
}

#[broker_core::event(topic = "/notice", name = "Notice::suppressed", zeek = "zeek/notice.zeek")]
struct Suppressed {
    n: NoticeInfo,
}

#[derive(broker_core::Data, Clone, Debug, PartialEq)]
#[broker(name = "Management::Result", zeek = "zeek/management.zeek")]
struct ManagementResult {
    reqid: String,
    success: bool,
    instance: Option<String>,
    data: Option<Data>,
    error: Option<String>,
    node: Option<String>,
}

#[broker_core::event(
    topic = "/mgmt",
    name = "Management::Controller::API::get_instances_response",
    zeek = "zeek/management.zeek"
)]
struct GetInstancesResponse {
    reqid: String,
    result: ManagementResult,
}

#[broker_core::event(
    topic = "/mgmt",
    name = "Management::Controller::API::deploy_response",
    zeek = "zeek/management.zeek"
)]
struct DeployResponse {
    reqid: String,
    // `ResultVec` is an alias of `vector of Management::Result`.
    results: Vec<ManagementResult>,
}

#[derive(broker_core::Data, Clone, Copy, Debug, PartialEq)]
#[broker(module = "Management", rename_all = "UPPERCASE", zeek = "zeek/management.zeek")]
enum Role {
    None,
    Agent,
    Controller,
    Node,
}

fn main() {
    assert_eq!(Action::UNMAPPED_ZEEK_VALUES, ["Notice::ACTION_ALARM", "Notice::ACTION_DROP"]);
    assert!(Role::UNMAPPED_ZEEK_VALUES.is_empty());
    assert!(TransportProto::UNMAPPED_ZEEK_VALUES.is_empty());
    let result = ManagementResult {
        reqid: "r1".into(),
        success: true,
        instance: None,
        data: None,
        error: None,
        node: Some("worker-1".into()),
    };
    let _ = DeployResponse { reqid: "r1".into(), results: vec![result.clone()] };
    let _ = GetInstancesResponse { reqid: "r1".into(), result };
    let _ = (Role::None, Role::Agent, Role::Controller, Role::Node, NoticeType::Tally.to_data());
    let _ = (TransportProto::Unknown, TransportProto::Udp, TransportProto::Icmp);
    let _ = std::mem::size_of::<(LogConn, BeginSuppression, Suppressed)>();
}
