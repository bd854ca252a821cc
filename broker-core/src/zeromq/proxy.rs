//! The central proxy of a ZeroMQ cluster: an XSUB and an XPUB, bound, with
//! data forwarded XSUB → XPUB and subscriptions XPUB → XSUB, on a dedicated
//! thread.
//!
//! Unlike Zeek's proxy (libzmq's `zmq_proxy_steerable` with `XPUB_NODROP`),
//! a subscriber that stops reading stalls the others for at most
//! [`ProxyOptions::stall_timeout`]: each subscriber's queue holds at most
//! `hwm` messages; when one is full, forwarding waits (the publishers feel
//! it, as with Zeek's proxy) until it has room or the stall timeout passes;
//! then the proxy forwards without waiting for [`LOSSY_PERIOD`], which drops
//! for the full subscriber only, and tries again. The stalls and the
//! messages forwarded meanwhile are counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::keys::{self, CurveKeys};
use super::sys::{Frame, Stop, WakeFd, Zap, set_int_option, wake_pair};
use super::wire::Subscription;
use super::{Limits, ZmqError};

/// Messages moved per socket per poll round, for fairness between them.
const READ_BATCH: usize = 1000;

/// How long the proxy forwards without waiting for a full subscriber once
/// one has stalled, before it waits for full queues again.
pub const LOSSY_PERIOD: Duration = Duration::from_millis(500);

/// The default of [`ProxyOptions::stall_timeout`].
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_millis(50);

/// Settings of a proxy.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProxyOptions {
    /// Where to bind the XSUB that nodes' XPUBs connect to (Zeek's
    /// `listen_xsub_endpoint`, default `tcp://127.0.0.1:5556`).
    pub xsub: String,
    /// Where to bind the XPUB that nodes' XSUBs connect to (Zeek's
    /// `listen_xpub_endpoint`, default `tcp://127.0.0.1:5555`).
    pub xpub: String,
    /// CURVE: the server secret key and the cluster's client public key
    /// (nodes with another key are refused). `None`: plain TCP.
    pub curve: Option<CurveKeys>,
    /// Bounds: `hwm` is each subscriber's queue in the XPUB,
    /// `max_message_size` the largest message accepted from a node, and
    /// `max_cluster_topics` the most distinct topics forwarded upstream.
    pub limits: Limits,
    /// libzmq I/O threads (Zeek's `proxy_io_threads`, 2).
    pub io_threads: i32,
    /// How long forwarding waits for a subscriber whose queue is full before
    /// it drops for that subscriber (default 50 ms; Zeek's proxy waits
    /// forever).
    pub stall_timeout: Duration,
}

impl ProxyOptions {
    /// Plain TCP on these endpoints, with default limits.
    pub fn new(xsub: impl Into<String>, xpub: impl Into<String>) -> ProxyOptions {
        ProxyOptions {
            xsub: xsub.into(),
            xpub: xpub.into(),
            curve: None,
            limits: Limits::default(),
            io_threads: 2,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// Counters of a [`ZmqProxy`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Messages forwarded from publishers (XSUB) to subscribers (XPUB).
    pub messages_forwarded: u64,
    /// Their bytes (all frames).
    pub bytes_forwarded: u64,
    /// Times a subscriber's full queue held forwarding up for the whole
    /// stall timeout (then the proxy forwarded without waiting for a while).
    pub stalls: u64,
    /// Messages forwarded without waiting for full queues, after a stall:
    /// a subscriber whose queue was full lost those of them it subscribed
    /// to (libzmq does not say which ones; the others got them all).
    pub messages_lossy: u64,
    /// Subscription messages forwarded from subscribers to publishers.
    pub subscriptions_forwarded: u64,
    /// Their bytes.
    pub subscription_bytes: u64,
    /// Subscriptions to new topics not forwarded beyond
    /// `max_cluster_topics`.
    pub subscriptions_refused: u64,
    /// CURVE clients refused by the ZAP handler.
    pub clients_refused: u64,
}

#[derive(Default, Debug)]
struct Counters {
    messages_forwarded: AtomicU64,
    bytes_forwarded: AtomicU64,
    stalls: AtomicU64,
    messages_lossy: AtomicU64,
    subscriptions_forwarded: AtomicU64,
    subscription_bytes: AtomicU64,
    subscriptions_refused: AtomicU64,
    clients_refused: AtomicU64,
}

/// A running proxy; it stops when dropped (or at [`ZmqProxy::stop`]).
#[derive(Debug)]
pub struct ZmqProxy {
    xsub: String,
    xpub: String,
    counters: Arc<Counters>,
    stop: Stop,
    thread: Option<JoinHandle<()>>,
}

impl ZmqProxy {
    /// Binds both sockets and starts forwarding. Fails, without binding
    /// anything for long, when an endpoint is busy or the CURVE keys cannot
    /// work (a Zeek node exits when its CURVE handshake fails, so a proxy
    /// with wrong keys must not start).
    pub fn start(options: ProxyOptions) -> Result<ZmqProxy, ZmqError> {
        let server_keys = options.curve.as_ref().map(CurveKeys::server).transpose()?;
        let ctx = zmq::Context::new();
        ctx.set_io_threads(options.io_threads.max(1))
            .map_err(|e| ZmqError::socket("io threads", e))?;
        let zap = match &server_keys {
            Some(keys) => Some(Zap::bind(&ctx, &keys.client_public)?),
            None => None,
        };
        let limits = &options.limits;
        let xsub = ctx
            .socket(zmq::XSUB)
            .map_err(|e| ZmqError::socket("XSUB", e))?;
        let mut xpub = ctx
            .socket(zmq::XPUB)
            .map_err(|e| ZmqError::socket("XPUB", e))?;
        let opt = |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("socket options", e));
        opt(xsub.set_linger(0))?;
        opt(xsub.set_maxmsgsize(limits.maxmsgsize()))?;
        opt(xsub.set_rcvhwm(limits.hwm))?;
        opt(xpub.set_linger(0))?;
        opt(xpub.set_maxmsgsize(limits.maxmsgsize()))?;
        opt(xpub.set_sndhwm(limits.hwm))?;
        set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_VERBOSER, 1)?;
        set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 1)?;
        if let Some(keys) = &server_keys {
            keys::apply_server(&xsub, keys)?;
            keys::apply_server(&xpub, keys)?;
        }
        let bind = |socket: &zmq::Socket, at: &str| -> Result<String, ZmqError> {
            socket
                .bind(at)
                .map_err(|e| ZmqError::socket(&format!("bind {at}"), e))?;
            Ok(socket
                .get_last_endpoint()
                .ok()
                .and_then(Result::ok)
                .unwrap_or_else(|| at.to_owned()))
        };
        let xsub_at = bind(&xsub, &options.xsub)?;
        let xpub_at = bind(&xpub, &options.xpub)?;
        let (waker, wake) = wake_pair()?;
        let stop = Stop::new(Some(Arc::new(waker)));
        let counters = Arc::new(Counters::default());
        let io = ProxyIo {
            _ctx: ctx,
            xsub,
            xpub,
            zap,
            wake,
            stop: stop.clone(),
            counters: counters.clone(),
            topics: HashMap::new(),
            max_topics: limits.max_cluster_topics,
            stall_timeout: options.stall_timeout,
            lossy_until: None,
            frame: Frame::new(),
        };
        let thread = std::thread::Builder::new()
            .name("broker-zmq-proxy".into())
            .spawn(move || io.run())
            .map_err(ZmqError::Thread)?;
        Ok(ZmqProxy {
            xsub: xsub_at,
            xpub: xpub_at,
            counters,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound XSUB endpoint (with the port the OS chose for port 0).
    pub fn xsub_endpoint(&self) -> &str {
        &self.xsub
    }

    /// The bound XPUB endpoint.
    pub fn xpub_endpoint(&self) -> &str {
        &self.xpub
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyStats {
            messages_forwarded: get(&c.messages_forwarded),
            bytes_forwarded: get(&c.bytes_forwarded),
            stalls: get(&c.stalls),
            messages_lossy: get(&c.messages_lossy),
            subscriptions_forwarded: get(&c.subscriptions_forwarded),
            subscription_bytes: get(&c.subscription_bytes),
            subscriptions_refused: get(&c.subscriptions_refused),
            clients_refused: get(&c.clients_refused),
        }
    }

    /// Stops forwarding, closes the sockets and waits for the thread.
    pub fn stop(mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ZmqProxy {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

struct ProxyIo {
    _ctx: zmq::Context,
    xsub: zmq::Socket,
    xpub: zmq::Socket,
    zap: Option<Zap>,
    wake: WakeFd,
    stop: Stop,
    counters: Arc<Counters>,
    /// Subscribed topics with their subscription counts (every subscribe
    /// and unsubscribe reaches us: `XPUB_VERBOSER`).
    topics: HashMap<Vec<u8>, u64>,
    max_topics: usize,
    stall_timeout: Duration,
    /// Set after a stall: until then, `XPUB_NODROP` is off and sends never
    /// wait.
    lossy_until: Option<Instant>,
    /// The frame on its way from the XSUB to the XPUB: received into and
    /// sent from, never copied.
    frame: Frame,
}

impl ProxyIo {
    fn run(mut self) {
        while !self.stop.is_stopped() {
            let zap = self.zap.as_ref().map(|zap| zap.socket());
            let mut items = [
                self.xsub.as_poll_item(zmq::POLLIN),
                self.xpub.as_poll_item(zmq::POLLIN),
                zmq::PollItem::from_fd(self.wake.fd(), zmq::POLLIN),
                // Without ZAP, the wakeup again (not polled).
                match zap {
                    Some(zap) => zap.as_poll_item(zmq::POLLIN),
                    None => zmq::PollItem::from_fd(self.wake.fd(), zmq::POLLIN),
                },
            ];
            let polled = if zap.is_some() { 4 } else { 3 };
            if zmq::poll(&mut items[..polled], 1000).is_err() {
                continue;
            }
            let ready = |i: usize| i < polled && items[i].is_readable();
            let (data, subs, woken, auth) = (ready(0), ready(1), ready(2), ready(3));
            if woken {
                self.wake.drain();
            }
            if auth && let Some(zap) = &self.zap {
                let refused = zap.serve();
                self.counters
                    .clients_refused
                    .fetch_add(refused, Ordering::Relaxed);
            }
            if subs {
                self.forward_subscriptions();
            }
            if data {
                self.forward_data();
            }
        }
    }

    /// Publishers' messages to subscribers, frame by frame as libzmq's own
    /// proxy moves them (no copy). The first frame may wait for a full
    /// subscriber (see [`ProxyIo::send_first`]); a message that cannot be
    /// sent is read to its end and dropped.
    fn forward_data(&mut self) {
        let (mut messages, mut bytes) = (0u64, 0u64);
        for _ in 0..READ_BATCH {
            if self.frame.recv(&mut self.xsub, zmq::DONTWAIT).is_err() {
                break;
            }
            let mut more = self.frame.more();
            let mut size = self.frame.len();
            let sent = self.send_first(more);
            // The other frames of a message arrive with its first, and go
            // out once its first has (libzmq sends a message whole).
            while more {
                if self.frame.recv(&mut self.xsub, zmq::DONTWAIT).is_err() {
                    // Only when libzmq shuts down: end what was started.
                    if sent {
                        let _ = Frame::new().send(&mut self.xpub, zmq::DONTWAIT);
                    }
                    break;
                }
                more = self.frame.more();
                size += self.frame.len();
                if sent {
                    let flags = zmq::DONTWAIT | if more { zmq::SNDMORE } else { 0 };
                    let _ = self.frame.send(&mut self.xpub, flags);
                }
            }
            if sent {
                messages += 1;
                bytes += size as u64;
            }
        }
        // Counted once per batch: the counters are read rarely.
        if messages > 0 {
            let c = &self.counters;
            c.messages_forwarded.fetch_add(messages, Ordering::Relaxed);
            c.bytes_forwarded.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Sends the frame just received, the first of a message. Normally
    /// `XPUB_NODROP` is on: the send fails with `EAGAIN` while a matching
    /// subscriber's queue is full, and is retried (the frame keeps its
    /// content; subscriptions keep flowing meanwhile) for up to the stall
    /// timeout. After that, `XPUB_NODROP` goes off for [`LOSSY_PERIOD`]:
    /// libzmq then delivers to everyone with room and drops for the full
    /// subscriber.
    fn send_first(&mut self, more: bool) -> bool {
        if self.lossy_until.is_some_and(|t| Instant::now() >= t) {
            self.lossy_until = None;
            let _ = set_int_option(&mut self.xpub, zmq_sys::ZMQ_XPUB_NODROP, 1);
        }
        if self.lossy_until.is_some() {
            self.counters.messages_lossy.fetch_add(1, Ordering::Relaxed);
        }
        let flags = zmq::DONTWAIT | if more { zmq::SNDMORE } else { 0 };
        let mut stalled_since: Option<Instant> = None;
        loop {
            match self.frame.send(&mut self.xpub, flags) {
                Ok(()) => return true,
                Err(zmq::Error::EAGAIN) => {}
                Err(_) => return false,
            }
            let since = *stalled_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.stall_timeout || self.stop.is_stopped() {
                self.counters.stalls.fetch_add(1, Ordering::Relaxed);
                self.counters.messages_lossy.fetch_add(1, Ordering::Relaxed);
                let _ = set_int_option(&mut self.xpub, zmq_sys::ZMQ_XPUB_NODROP, 0);
                self.lossy_until = Some(Instant::now() + LOSSY_PERIOD);
                continue;
            }
            // Wait a little for room; keep subscriptions going.
            let _ = self.xpub.poll(zmq::POLLIN, 1);
            self.forward_subscriptions();
        }
    }

    /// Subscribers' (un)subscriptions to publishers, unchanged.
    fn forward_subscriptions(&mut self) {
        for _ in 0..READ_BATCH {
            let Ok(frame) = self.xpub.recv_bytes(zmq::DONTWAIT) else {
                return;
            };
            // A multi-frame message is not a subscription: drop the rest.
            while self.xpub.get_rcvmore().unwrap_or(false) {
                let _ = self.xpub.recv_bytes(zmq::DONTWAIT);
            }
            match Subscription::decode(&frame) {
                Ok(Some(Subscription::Subscribe(topic))) => {
                    if !self.topics.contains_key(&topic) && self.topics.len() >= self.max_topics {
                        self.counters
                            .subscriptions_refused
                            .fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    *self.topics.entry(topic).or_default() += 1;
                }
                Ok(Some(Subscription::Unsubscribe(topic))) => {
                    let Some(count) = self.topics.get_mut(&topic) else {
                        // Never forwarded (refused), or not ours to cancel.
                        continue;
                    };
                    *count -= 1;
                    if *count == 0 {
                        self.topics.remove(&topic);
                    }
                }
                Ok(None) | Err(_) => continue,
            }
            let len = frame.len();
            if self.xsub.send(frame, zmq::DONTWAIT).is_ok() {
                self.counters
                    .subscriptions_forwarded
                    .fetch_add(1, Ordering::Relaxed);
                self.counters
                    .subscription_bytes
                    .fetch_add(len as u64, Ordering::Relaxed);
            }
        }
    }
}
