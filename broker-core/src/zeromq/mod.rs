//! Zeek's ZeroMQ cluster backend (Zeek 7.1+, zeekctl's default since 8.1).
//!
//! [`wire`] holds the messages as pure functions over frames. The roles,
//! behind the default feature `zeromq` (they link libzmq), are built on the
//! endpoint's public runtime as the WebSocket gateway is:
//!
//! * a **node** joins a cluster through its central XPUB/XSUB proxy;
//! * the **proxy** is that central forwarder;
//! * a **logger** receives Zeek's log batches on a PULL socket, and a node
//!   can push a [`Logger`](crate::logs::Logger)'s records to Zeek's loggers.
//!
//! `docs/zeromq.md` explains how to point a cluster at them.

pub mod wire;
