struct NotData;

#[broker_core::event(topic = "/t")]
struct Bad {
    ok: u64,
    bad: NotData,
}

fn main() {}
