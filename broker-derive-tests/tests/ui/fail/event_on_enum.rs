#[broker_core::event(topic = "/t")]
enum Shape {
    Circle(f64),
    Square { side: f64 },
}

fn main() {}
