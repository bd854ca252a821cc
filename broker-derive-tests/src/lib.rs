//! Tests for the `broker-macros` derives, run through `broker_core`'s
//! re-exports as users see them: behaviour tests
//! (`tests/derive_behaviour.rs`), a `#![no_implicit_prelude]` compile test
//! (`tests/derive_no_prelude.rs`) and trybuild UI suites (`tests/ui.rs`).

/// The examples in `docs/macros.md`, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/macros.md")]
pub struct MacrosDocDoctests;
