// zeek_types! needs a topic, known keys, and a readable script.
mod a {
    broker_core::zeek_types!("zeek/site.zeek");
}

mod b {
    broker_core::zeek_types!("zeek/site.zeek", topic = "/t", colour = "red");
}

mod c {
    broker_core::zeek_types!("zeek/nonexistent.zeek", topic = "/t");
}

mod d {
    broker_core::zeek_types!("zeek/broken.zeek", topic = "/t");
}

fn main() {}
