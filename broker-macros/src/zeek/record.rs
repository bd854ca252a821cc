//! `#[derive(Data)]` with `#[broker(zeek = "…")]`: records and enums against the script.
