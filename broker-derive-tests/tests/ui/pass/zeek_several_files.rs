//! `zeek = "a.zeek, b.zeek"`: a record declared in one script and extended
//! in another (`redef record Notice::Info += { site_tag: … }` in
//! site.zeek), read in order as Zeek loads them.

use std::collections::BTreeSet;

use broker_core::data::{Data, Port, Timespan, Timestamp};

#[derive(broker_core::Data)]
#[broker(name = "Notice::Info", zeek = "zeek/notice.zeek, zeek/site.zeek")]
struct NoticeInfo {
    ts: Option<Timestamp>,
    uid: Option<String>,
    id: Option<Data>,
    conn: Option<Data>,
    f: Option<Data>,
    fuid: Option<String>,
    file_mime_type: Option<String>,
    file_desc: Option<String>,
    proto: Option<Data>,
    note: Data,
    msg: Option<String>,
    sub: Option<String>,
    src: Option<std::net::IpAddr>,
    dst: Option<std::net::IpAddr>,
    p: Option<Port>,
    n: Option<u64>,
    peer_name: Option<String>,
    peer_descr: Option<String>,
    actions: BTreeSet<Data>,
    email_dest: BTreeSet<String>,
    email_body_sections: Option<Vec<String>>,
    email_delay_tokens: Option<BTreeSet<String>>,
    identifier: Option<String>,
    suppress_for: Timespan,
    // From site.zeek.
    site_tag: Option<String>,
}

fn main() {
    let _ = std::mem::size_of::<NoticeInfo>();
}
