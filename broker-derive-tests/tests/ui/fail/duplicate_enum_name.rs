#[derive(broker_core::Data)]
#[broker(rename_all = "SCREAMING_SNAKE_CASE")]
enum Action {
    ActionLog,
    #[broker(rename = "ACTION_LOG")]
    Log,
}

fn main() {}
