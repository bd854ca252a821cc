//! UI tests for the `broker-macros` crate (trybuild). The macros are not
//! built yet, so there is nothing to test here so far.
