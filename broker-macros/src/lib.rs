//! Procedural macros for `broker-core`.
//!
//! The macros (`#[event]`, `#[derive(Data)]`, `#[handler]`,
//! `#[published_id]`) are not built yet; this crate is a placeholder in the
//! workspace so the layout matches the design. See the project's issue list.
