//! `zeek_types!` with the crate path overridden, on a script that uses
//! types it does not declare (`connection`, `fa_file`: kept as `Data`) and
//! an alias (`ActionSet`: a `BTreeSet` of the generated enum).

extern crate broker_core as my_broker;

mod generated {
    my_broker::zeek_types!("zeek/notice.zeek", topic = "/notice", crate = "my_broker");
}

use generated::notice::{Action, Info, Suppressed, Type};

fn connection(info: &Info) -> &Option<my_broker::data::Data> {
    &info.conn
}

fn actions(info: &Info) -> &std::collections::BTreeSet<Action> {
    &info.actions
}

fn main() {
    use my_broker::typed::TypedEvent;
    assert_eq!(Suppressed::NAME, "Notice::suppressed");
    assert_eq!(<Info as my_broker::data::ZeekTyped>::ZEEK_TYPE.to_string(), "Notice::Info");
    let (_, _): (fn(&Info) -> &Option<my_broker::data::Data>, fn(&Info) -> &_) = (connection, actions);
    let _ = (Type::Tally, Action::ActionNone, Action::ActionDrop);
}
