//! Logs over ZeroMQ: a PULL socket that receives Zeek's log batches (a
//! logger node), and PUSH sockets that ship a [`Logger`](crate::logs::Logger)'s
//! records to Zeek's loggers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::keys::{self, CurveKeys};
use super::monitor::{HandshakeFailure, Monitor, SocketKind};
use super::sys::{Stop, WakeFd, Waker, Zap, recv_bounded, wake_pair};
use super::wire::{LogBatch, LogBatchHead, LogMessage, WireError, log_frames};
use super::{Limits, ZmqError};
use crate::data::{EnumValue, Timestamp};
use crate::logs::format::encode_value;
use crate::logs::writer::{LogTaps, TapMessage};
use crate::proto::OverflowPolicy;
use crate::runtime::{Endpoint, EndpointInfo, ErrorEvent, LocalClient, NetworkInfo, Transport};
use crate::status::ErrorCode;
use crate::topic::Topic;
use crate::zeek::{Batch, LogCreate, LogWrite, Message, WriterInfo};

/// Settings of a logger's PULL socket.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoggerOptions {
    /// Where to bind, e.g. `tcp://127.0.0.1:27762` (the `$p` of the logger's
    /// entry in Zeek's cluster layout); port 0 lets the OS choose (see
    /// [`ZmqLogger::endpoint`]).
    pub listen: String,
    /// CURVE: the server secret key and the client public key (clients with
    /// any other key are refused). `None`: plain TCP.
    pub curve: Option<CurveKeys>,
    /// Bounds.
    pub limits: Limits,
}

impl LoggerOptions {
    /// Plain TCP on `listen`, with default limits.
    pub fn new(listen: impl Into<String>) -> LoggerOptions {
        LoggerOptions {
            listen: listen.into(),
            curve: None,
            limits: Limits::default(),
        }
    }
}

/// Counters of a [`ZmqLogger`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggerStats {
    /// Batches received and handed to the endpoint.
    pub batches: u64,
    /// Records in those batches.
    pub records: u64,
    /// Bytes received (all frames).
    pub bytes: u64,
    /// Messages that did not decode (reported as error events).
    pub errors: u64,
    /// Batches dropped because the endpoint did not keep up.
    pub dropped: u64,
    /// CURVE clients refused by the ZAP handler.
    pub refused: u64,
}

#[derive(Default, Debug)]
struct LoggerCounters {
    batches: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
}

/// A running logger (see [`Endpoint::zeromq_logger`]); it stops when
/// dropped or when the endpoint shuts down.
#[derive(Debug)]
pub struct ZmqLogger {
    endpoint: String,
    counters: Arc<LoggerCounters>,
    stop: Stop,
}

impl ZmqLogger {
    /// The bound endpoint, with the port the OS chose.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The counters now.
    pub fn stats(&self) -> LoggerStats {
        let c = &self.counters;
        LoggerStats {
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ZmqLogger {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// What the PULL thread hands to the endpoint.
enum Pulled {
    Batch(LogBatch),
    Error(String),
}

impl Endpoint {
    /// Acts as a logger node of a Zeek ZeroMQ cluster: binds a PULL socket
    /// on `options.listen` and hands every log batch to the endpoint as
    /// Broker's log messages (a `LogCreate` on the stream's default log
    /// topic, then a batch of `LogWrite`s on its `log_topic`), so that
    /// [`LogSubscriber`](crate::logs::LogSubscriber),
    /// [`TypedLogSubscriber`](crate::logs::TypedLogSubscriber) and Broker
    /// peers get the same rows as from Zeek's Broker backend.
    ///
    /// Messages that do not decode are dropped and reported as error events
    /// (`deserialization_failed`). With CURVE keys that cannot work (missing,
    /// malformed, or a server public key that is not the secret key's) the
    /// logger refuses to start.
    pub async fn zeromq_logger(&self, options: LoggerOptions) -> Result<ZmqLogger, ZmqError> {
        let server_keys = options.curve.as_ref().map(CurveKeys::server).transpose()?;
        let (link, _, runtime) = self.gateway_parts();
        let client = link
            .attach(
                Transport::ZeroMq,
                Vec::new(),
                1,
                usize::MAX,
                OverflowPolicy::DropNewest,
            )
            .await?;
        let (waker, wake_fd) = wake_pair()?;
        let stop = Stop::new(Some(Arc::new(waker)));
        let counters = Arc::new(LoggerCounters::default());
        let (tx, rx) = mpsc::channel(options.limits.queue_size.max(1));
        let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
        let thread_stop = stop.clone();
        let thread_counters = counters.clone();
        let limits = options.limits.clone();
        let listen = options.listen.clone();
        std::thread::Builder::new()
            .name("broker-zmq-pull".into())
            .spawn(move || {
                let setup =
                    || -> Result<(zmq::Context, zmq::Socket, Option<Zap>, String), ZmqError> {
                        let ctx = zmq::Context::new();
                        let zap = match &server_keys {
                            Some(keys) => Some(Zap::bind(&ctx, &keys.client_public)?),
                            None => None,
                        };
                        let pull = ctx
                            .socket(zmq::PULL)
                            .map_err(|e| ZmqError::socket("PULL", e))?;
                        let opt =
                            |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("PULL options", e));
                        opt(pull.set_rcvhwm(limits.hwm))?;
                        opt(pull.set_maxmsgsize(limits.maxmsgsize()))?;
                        opt(pull.set_linger(0))?;
                        if let Some(keys) = &server_keys {
                            keys::apply_server(&pull, keys)?;
                        }
                        pull.bind(&listen)
                            .map_err(|e| ZmqError::socket(&format!("bind {listen}"), e))?;
                        let bound = pull
                            .get_last_endpoint()
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or_else(|| listen.clone());
                        Ok((ctx, pull, zap, bound))
                    };
                match setup() {
                    Ok((_ctx, pull, zap, bound)) => {
                        let _ = bound_tx.send(Ok(bound));
                        pull_loop(
                            &pull,
                            zap.as_ref(),
                            &wake_fd,
                            &thread_stop,
                            &thread_counters,
                            &tx,
                        );
                    }
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                    }
                }
            })
            .map_err(ZmqError::Thread)?;
        let bound = tokio::task::spawn_blocking(move || bound_rx.recv())
            .await
            .map_err(|e| ZmqError::Thread(std::io::Error::other(e)))?
            .map_err(|_| ZmqError::Thread(std::io::Error::other("the I/O thread ended")))??;
        let endpoint = self.downgrade();
        let task_stop = stop.clone();
        let at = bound.clone();
        runtime.spawn(async move {
            deliver_batches(client, rx, endpoint, &at).await;
            task_stop.stop();
        });
        let watch_stop = stop.clone();
        runtime.spawn(async move {
            link.closed().await;
            watch_stop.stop();
        });
        Ok(ZmqLogger {
            endpoint: bound,
            counters,
            stop,
        })
    }
}

fn pull_loop(
    pull: &zmq::Socket,
    zap: Option<&Zap>,
    wake: &super::sys::WakeFd,
    stop: &Stop,
    counters: &LoggerCounters,
    tx: &mpsc::Sender<Pulled>,
) {
    while !stop.is_stopped() {
        let mut items = vec![
            pull.as_poll_item(zmq::POLLIN),
            zmq::PollItem::from_fd(wake.fd(), zmq::POLLIN),
        ];
        if let Some(zap) = zap {
            items.push(zap.socket().as_poll_item(zmq::POLLIN));
        }
        if zmq::poll(&mut items, 1000).is_err() {
            continue;
        }
        wake.drain();
        if let Some(zap) = zap {
            counters.refused.fetch_add(zap.serve(), Ordering::Relaxed);
        }
        // Drain the socket, a bounded number per round for fairness.
        for _ in 0..100 {
            let Some(msg) = recv_bounded(pull, 4) else {
                break;
            };
            counters
                .bytes
                .fetch_add(msg.bytes as u64, Ordering::Relaxed);
            let decoded = if msg.count == 4 {
                LogMessage::decode(&msg.frames)
            } else {
                Err(WireError::FrameCount {
                    expected: 4,
                    found: msg.count,
                })
            };
            let pulled = match decoded {
                Ok(msg) => {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters
                        .records
                        .fetch_add(msg.batch.records.len() as u64, Ordering::Relaxed);
                    Pulled::Batch(msg.batch)
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    Pulled::Error(format!("dropped a log message: {e}"))
                }
            };
            if tx.try_send(pulled).is_err() {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Turns batches into Broker log messages published by the logger's client.
async fn deliver_batches(
    client: LocalClient,
    mut rx: mpsc::Receiver<Pulled>,
    endpoint: crate::runtime::WeakEndpoint,
    at: &str,
) {
    while let Some(pulled) = rx.recv().await {
        let Some(ep) = endpoint.upgrade() else {
            return;
        };
        match pulled {
            Pulled::Error(message) => {
                tracing::warn!("zeromq logger {at}: {message}");
                ep.report_error(ErrorEvent {
                    code: ErrorCode::DeserializationFailed,
                    endpoint: EndpointInfo {
                        id: None,
                        network: Some(NetworkInfo {
                            address: at.to_owned(),
                            port: 0,
                        }),
                    },
                    message,
                });
            }
            Pulled::Batch(batch) => {
                let options = ep.options().clone();
                drop(ep);
                match batch_messages(&batch, &options) {
                    Ok(messages) => {
                        for (topic, data) in messages {
                            if client.publish(topic, data).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(message) => tracing::warn!("zeromq logger {at}: {message}"),
                }
            }
        }
    }
}

/// The Broker messages of a batch: its `LogCreate` on the stream's default
/// topic, then its records as one batch of `LogWrite`s on its log topic.
pub(crate) fn batch_messages(
    batch: &LogBatch,
    options: &crate::options::Options,
) -> Result<Vec<(Topic, crate::data::Data)>, String> {
    let stream = EnumValue::new(&batch.stream);
    let writer = EnumValue::new(&batch.writer);
    let create = LogCreate {
        stream_id: stream.clone(),
        writer_id: writer.clone(),
        writer_info: WriterInfo {
            path: batch.path.clone(),
            rotation_base: 0.0,
            rotation_interval: 0.0,
            network_time: Timestamp::now().as_secs_f64(),
            config: Default::default(),
            post_proc_func: String::new(),
        },
        fields: batch.fields.clone(),
    };
    let create_topic = Topic::new(options.default_log_topic(&batch.stream, &batch.path))
        .map_err(|e| e.to_string())?;
    let write_topic =
        Topic::new(options.log_topic(&batch.stream, &batch.path)).map_err(|e| e.to_string())?;
    let mut writes = Vec::with_capacity(batch.records.len());
    for record in &batch.records {
        let mut serial = Vec::with_capacity(16 * record.len() + 4);
        // The count fits: a batch has at most MAX_FIELDS columns.
        serial.extend_from_slice(&(record.len() as i32).to_be_bytes());
        for value in record {
            encode_value(value, &mut serial).map_err(|e| e.to_string())?;
        }
        writes.push(Message::LogWrite(LogWrite {
            stream_id: stream.clone(),
            writer_id: writer.clone(),
            path: batch.path.clone(),
            serial_data: serial.into(),
        }));
    }
    let mut out = vec![(create_topic, Message::LogCreate(create).into_data())];
    if !writes.is_empty() {
        out.push((write_topic, Message::Batch(Batch(writes)).into_data()));
    }
    Ok(out)
}

/// Settings of a log pusher.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogPusherOptions {
    /// The loggers' PULL endpoints (one PUSH socket connects to all; ZeroMQ
    /// hands batches out round-robin, as in Zeek).
    pub connect: Vec<String>,
    /// The node id sent in frame 1.
    pub node_id: String,
    /// The filter name Zeek's loggers match (`default`).
    pub filter: String,
    /// CURVE: the server public key and the client key pair. `None`: plain.
    pub curve: Option<CurveKeys>,
    /// Bounds (`hwm` is the PUSH socket's send high-water mark).
    pub limits: Limits,
}

impl LogPusherOptions {
    /// Plain TCP to `connect`, as node `node_id`.
    pub fn new(connect: Vec<String>, node_id: impl Into<String>) -> LogPusherOptions {
        LogPusherOptions {
            connect,
            node_id: node_id.into(),
            filter: "default".into(),
            curve: None,
            limits: Limits::default(),
        }
    }
}

/// A running log pusher (see [`Endpoint::zeromq_log_pusher`]); stops when
/// dropped or when the endpoint shuts down.
#[derive(Debug)]
pub struct ZmqLogPusher {
    stats: Arc<PusherCounters>,
    stop: Stop,
    failure: Arc<Mutex<Option<HandshakeFailure>>>,
}

#[derive(Default, Debug)]
struct PusherCounters {
    batches: AtomicU64,
    records: AtomicU64,
    dropped: AtomicU64,
    handshakes_failed: AtomicU64,
}

impl ZmqLogPusher {
    /// Batches sent, records sent, and records dropped (a full tap queue,
    /// or a full PUSH socket: Zeek's "HWM reached").
    pub fn stats(&self) -> (u64, u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.records.load(Ordering::Relaxed),
            self.stats.dropped.load(Ordering::Relaxed),
        )
    }

    /// The first handshake failure that keeps the PUSH socket away from a
    /// logger for good (a refused CURVE client key, CURVE on one side
    /// only: see [`HandshakeFailure::is_fatal`]); `None` so far. Every
    /// failure is also reported as an error event (`peer_unavailable`);
    /// batches for an unreachable logger wait in the socket up to its
    /// high-water mark, then are dropped and counted.
    pub fn handshake_failure(&self) -> Option<HandshakeFailure> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ZmqLogPusher {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// A batch for the PUSH thread.
type Frames = [Vec<u8>; 4];

impl Endpoint {
    /// Ships this endpoint's log records (every
    /// [`Logger`](crate::logs::Logger) stream) to Zeek loggers' PULL
    /// sockets, in Zeek's batch format: one batch per stream and path with
    /// up to `log_batch_size` records, sent when full and at every
    /// `log_batch_interval` or `flush_logs`. Records are shipped whether or
    /// not the endpoint has Broker peers.
    ///
    /// A Zeek logger accepts a batch only if its stream, filter and columns
    /// are exactly those of its own stream (see `docs/zeromq.md`).
    pub async fn zeromq_log_pusher(
        &self,
        options: LogPusherOptions,
    ) -> Result<ZmqLogPusher, ZmqError> {
        let client_keys = options.curve.as_ref().map(CurveKeys::client).transpose()?;
        let (waker, wake) = wake_pair()?;
        let waker = Arc::new(waker);
        let stop = Stop::new(Some(waker.clone()));
        let stats = Arc::new(PusherCounters::default());
        let failure = Arc::new(Mutex::new(None));
        let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel::<(Frames, u64)>(64);
        let (failures_tx, failures_rx) = mpsc::channel(64);
        let ctx = zmq::Context::new();
        let push = ctx
            .socket(zmq::PUSH)
            .map_err(|e| ZmqError::socket("PUSH", e))?;
        let opt = |r: zmq::Result<()>| r.map_err(|e| ZmqError::socket("PUSH options", e));
        opt(push.set_sndhwm(options.limits.hwm))?;
        opt(push.set_linger(500))?;
        if let Some(keys) = &client_keys {
            keys::apply_client(&push, keys)?;
        }
        // Before connecting: events before the monitor's PAIR connects are
        // lost.
        let monitor = Monitor::attach(&ctx, &push, SocketKind::Push, client_keys.is_some())?;
        for endpoint in &options.connect {
            push.connect(endpoint)
                .map_err(|e| ZmqError::socket(&format!("connect {endpoint}"), e))?;
        }
        let io = PushIo {
            _ctx: ctx,
            push,
            monitor,
            wake,
            stop: stop.clone(),
            frames: frames_rx,
            stats: stats.clone(),
            failure: failure.clone(),
            failures: failures_tx,
        };
        std::thread::Builder::new()
            .name("broker-zmq-push".into())
            .spawn(move || io.run())
            .map_err(ZmqError::Thread)?;
        let (tap_tx, tap_rx) = mpsc::channel(options.limits.queue_size.max(1));
        self.extension(LogTaps::default).add(tap_tx);
        let batch_size = self.options().log_batch_size.max(1);
        let (link, _, runtime) = self.gateway_parts();
        let task_stats = stats.clone();
        let task_stop = stop.clone();
        runtime.spawn(async move {
            let batches = push_batches(tap_rx, frames_tx, waker, options, batch_size, &task_stats);
            tokio::select! {
                () = batches => {}
                () = link.closed() => {}
                () = wait_stopped(&task_stop) => {}
            }
            task_stop.stop();
        });
        runtime.spawn(report_failures(failures_rx, self.downgrade()));
        Ok(ZmqLogPusher {
            stats,
            stop,
            failure,
        })
    }
}

/// The log pusher's I/O thread: sends the batches handed over and watches
/// the PUSH socket's handshakes.
struct PushIo {
    _ctx: zmq::Context,
    push: zmq::Socket,
    monitor: Monitor,
    wake: WakeFd,
    stop: Stop,
    frames: std::sync::mpsc::Receiver<(Frames, u64)>,
    stats: Arc<PusherCounters>,
    failure: Arc<Mutex<Option<HandshakeFailure>>>,
    failures: mpsc::Sender<HandshakeFailure>,
}

impl PushIo {
    fn run(mut self) {
        loop {
            let mut items = [
                self.monitor.socket().as_poll_item(zmq::POLLIN),
                zmq::PollItem::from_fd(self.wake.fd(), zmq::POLLIN),
            ];
            if zmq::poll(&mut items, 1000).is_err() {
                continue;
            }
            let monitored = items[0].is_readable();
            self.wake.drain();
            if monitored {
                self.read_monitor();
            }
            // Ends when the batching task drops its sender.
            loop {
                match self.frames.try_recv() {
                    Ok((frames, records)) => self.send(frames, records),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                }
            }
            if self.stop.is_stopped() {
                return;
            }
        }
    }

    fn send(&self, frames: Frames, records: u64) {
        if self.push.send_multipart(frames, zmq::DONTWAIT).is_ok() {
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats.records.fetch_add(records, Ordering::Relaxed);
        } else {
            tracing::warn!("zeromq: failed to send a log batch (HWM reached?)");
            self.stats.dropped.fetch_add(records, Ordering::Relaxed);
        }
    }

    fn read_monitor(&mut self) {
        let mut failures = Vec::new();
        self.monitor
            .drain(&self.stats.handshakes_failed, |f| failures.push(f));
        for failure in failures {
            if failure.is_fatal() {
                self.failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(|| failure.clone());
            }
            let _ = self.failures.try_send(failure);
        }
    }
}

/// The log pusher's handshake failures, as error events.
async fn report_failures(
    mut rx: mpsc::Receiver<HandshakeFailure>,
    endpoint: crate::runtime::WeakEndpoint,
) {
    while let Some(failure) = rx.recv().await {
        // Nobody waits on a pusher: a fatal failure is logged as an error.
        if failure.is_fatal() {
            tracing::error!("zeromq log pusher: {failure}");
        } else {
            tracing::warn!("zeromq log pusher: {failure}");
        }
        let Some(ep) = endpoint.upgrade() else {
            return;
        };
        ep.report_error(super::node::handshake_error(&failure));
    }
}

async fn wait_stopped(stop: &Stop) {
    while !stop.is_stopped() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Records of one stream and path waiting to be sent.
struct Pending {
    create: Arc<LogCreate>,
    records: Vec<Vec<u8>>,
}

async fn push_batches(
    mut rx: mpsc::Receiver<TapMessage>,
    tx: std::sync::mpsc::SyncSender<(Frames, u64)>,
    waker: Arc<Waker>,
    options: LogPusherOptions,
    batch_size: usize,
    stats: &PusherCounters,
) {
    let mut pending: HashMap<(String, String, String), Pending> = HashMap::new();
    let send = |p: &mut Pending| {
        if p.records.is_empty() {
            return;
        }
        let head = LogBatchHead {
            stream: p.create.stream_id.name(),
            writer: p.create.writer_id.name(),
            filter: &options.filter,
            path: &p.create.writer_info.path,
            fields: &p.create.fields,
        };
        let records: Vec<&[u8]> = p.records.iter().map(Vec::as_slice).collect();
        let n = records.len() as u64;
        match LogBatch::encode_serialized(&head, &records) {
            Ok(batch) => {
                let frames = log_frames(options.node_id.as_bytes(), batch);
                if tx.try_send((frames, n)).is_err() {
                    stats.dropped.fetch_add(n, Ordering::Relaxed);
                }
                waker.wake();
            }
            Err(e) => {
                tracing::warn!("zeromq: cannot encode a log batch: {e}");
                stats.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
        p.records.clear();
    };
    while let Some(msg) = rx.recv().await {
        match msg {
            TapMessage::Write(create, serial) => {
                let key = (
                    create.stream_id.name().to_owned(),
                    create.writer_id.name().to_owned(),
                    create.writer_info.path.clone(),
                );
                let entry = pending.entry(key).or_insert_with(|| Pending {
                    create: create.clone(),
                    records: Vec::new(),
                });
                entry.create = create;
                entry.records.push(serial);
                if entry.records.len() >= batch_size {
                    send(entry);
                }
            }
            TapMessage::Flush => {
                for p in pending.values_mut() {
                    send(p);
                }
            }
        }
    }
}
