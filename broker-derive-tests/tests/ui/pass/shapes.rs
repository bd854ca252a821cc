use broker_core::prelude::*;

#[derive(Data, Clone, Debug, PartialEq)]
#[broker(module = "Notice", rename_all = "SCREAMING_SNAKE_CASE")]
enum Action {
    ActionLog,
    #[broker(rename = "ACTION_ALARM")]
    Alarm,
}

#[derive(Data, Debug, PartialEq)]
struct Info {
    ts: Timestamp,
    uid: String,
    action: Action,
    note: Option<String>,
}

#[derive(Data, Debug, PartialEq)]
struct Pair(u64, String);

#[derive(Data, Debug, PartialEq)]
struct Id(u64);

#[derive(Data, Debug, PartialEq)]
struct Wrapper<T, U>
where
    U: Clone,
{
    first: T,
    second: Vec<U>,
}

fn main() {
    let info = Info {
        ts: Timestamp::EPOCH,
        uid: "C1".to_owned(),
        action: Action::Alarm,
        note: None,
    };
    assert_eq!(Info::from_data(&info.to_data()).unwrap(), info);
    let pair = Pair(1, "x".to_owned());
    assert_eq!(Pair::from_data(&pair.to_data()).unwrap(), pair);
    assert_eq!(Id(3).to_data(), Data::Count(3));
    let w = Wrapper {
        first: Id(1),
        second: vec![Action::ActionLog],
    };
    assert_eq!(Wrapper::from_data(&w.to_data()).unwrap(), w);
}
