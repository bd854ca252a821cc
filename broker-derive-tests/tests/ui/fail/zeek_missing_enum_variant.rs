// A variant whose Zeek value the script's enum does not have.
#[derive(broker_core::Data)]
#[broker(module = "Site", rename_all = "SCREAMING_SNAKE_CASE", zeek = "zeek/site.zeek")]
enum Level {
    Low,
    Medum,
    #[broker(rename = "SEVERE")]
    High,
}

fn main() {}
