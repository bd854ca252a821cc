// A published id against the script's global: wrong type, missing name,
// an event's name, an untyped option.
use broker_core::typed::Published;

#[broker_core::published_id(topic = "/c", name = "Site::scan_threshold", zeek = "zeek/site.zeek")]
static THRESHOLD: Published<i64> = Published::new(25);

#[broker_core::published_id(topic = "/c", name = "Site::scan_treshold", zeek = "zeek/site.zeek")]
static MISSPELT: Published<u64> = Published::new(25);

#[broker_core::published_id(topic = "/c", name = "Site::heartbeat", zeek = "zeek/site.zeek")]
static EVENT: Published<u64> = Published::new(0);

#[broker_core::published_id(topic = "/c", name = "Site::quiet", zeek = "zeek/site.zeek")]
static QUIET: Published<bool> = Published::new(false);

fn main() {}
