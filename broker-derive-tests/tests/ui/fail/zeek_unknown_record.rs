// The Zeek name of the record or enum is not declared by the script (or is
// declared as the other kind).
#[derive(broker_core::Data)]
#[broker(name = "Site::Scans", zeek = "zeek/site.zeek")]
struct Scan {
    src: std::net::IpAddr,
}

#[derive(broker_core::Data)]
#[broker(module = "Site", zeek = "zeek/site.zeek")]
enum Levels {
    LOW,
}

#[derive(broker_core::Data)]
#[broker(name = "Site::Level", zeek = "zeek/site.zeek")]
struct NotARecord {
    n: u64,
}

// Notice::Info is only extended there.
#[derive(broker_core::Data)]
#[broker(name = "Notice::Info", zeek = "zeek/site.zeek")]
struct NoticeInfo {
    site_tag: Option<String>,
}

fn main() {}
