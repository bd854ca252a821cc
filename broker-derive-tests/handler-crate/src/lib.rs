//! Registers one event and one handler and nothing else. A program that
//! depends on it must name it once (`use broker_test_handlers as _;`) or the
//! linker leaves it out together with its registrations.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many `Remote::hello` events the handler has seen.
pub static HELLOS: AtomicU64 = AtomicU64::new(0);

/// An event declared in another crate.
#[broker_core::event(topic = "/typed/remote-crate", name = "Remote::hello")]
pub struct Hello {
    /// Added to [`HELLOS`].
    pub n: u64,
}

#[broker_core::handler]
fn on_hello(hello: Hello) {
    HELLOS.fetch_add(hello.n, Ordering::SeqCst);
}
