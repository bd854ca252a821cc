//! Duplicate event names and published ids across modules (or crates) are
//! reported when an endpoint starts its handlers; the compiler cannot see
//! them. This file is its own test binary, so its registry holds exactly
//! these registrations.

use broker_core::prelude::*;
use broker_core::typed::{RegistryError, Schema, TypedError};

mod one {
    #[broker_core::event(topic = "/dup", name = "Dup::event")]
    pub(crate) struct First {
        pub(crate) n: u64,
    }

    #[broker_core::published_id(topic = "/dup", name = "Dup::id")]
    pub(crate) static A: broker_core::typed::Published<u64> = broker_core::typed::Published::new(1);
}

mod two {
    #[broker_core::event(topic = "/dup", name = "Dup::event")]
    pub(crate) struct Second {
        pub(crate) s: String,
    }

    #[broker_core::published_id(topic = "/dup", name = "Dup::id")]
    pub(crate) static B: broker_core::typed::Published<u64> = broker_core::typed::Published::new(2);
}

#[test]
fn duplicate_event_names_are_reported_when_handlers_start() {
    let endpoint = Endpoint::new(Options {
        disable_ssl: true,
        ..Options::default()
    })
    .unwrap();
    let err = endpoint.block_on(endpoint.start_handlers()).unwrap_err();
    let TypedError::Registry(RegistryError::DuplicateEvent {
        name,
        first,
        second,
    }) = err
    else {
        panic!("expected a duplicate event error, got {err:?}");
    };
    assert_eq!(name, "Dup::event");
    assert_eq!(first, "typed_duplicates::one::First");
    assert_eq!(second, "typed_duplicates::two::Second");
    assert_eq!(
        Schema::collect().unwrap_err().to_string(),
        "duplicate event name Dup::event: declared by typed_duplicates::one::First and \
         typed_duplicates::two::Second"
    );
    // Raising fails the same way rather than guessing which type is meant.
    let raised = endpoint.block_on(endpoint.raise(one::First { n: 1 }));
    assert!(matches!(raised, Err(TypedError::Registry(_))));
    let _ = (
        one::A.get(),
        two::B.get(),
        two::Second { s: String::new() }.s,
    );
}
