//! Sending logs: the per-endpoint [`Logger`], stream handles, batching.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::data::schema::RecordType;
use crate::data::{Data, EnumValue, Timestamp};
use crate::options::Options;
use crate::proto::EndpointId;
use crate::runtime::{Endpoint, EndpointError, StatusEvent, StatusSubscriber, WeakEndpoint};
use crate::status::{PeerStatus, StatusCode};
use crate::topic::Topic;
use crate::zeek::{Batch, LogCreate, LogField, LogWrite, Message, WriterInfo};

use super::format::{LogValue, TypeTag, encode_record};
use super::schema::{columns, flatten_values};
use super::{Log, LogError, WRITER_ASCII};

/// An endpoint's log streams: batching, `flush_logs`, and the stream
/// announcements sent to new peers.
///
/// Every `Logger` of one endpoint shares the same state (Zeek has one log
/// manager per process). Cloning is cheap.
#[derive(Clone)]
pub struct Logger {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").finish_non_exhaustive()
    }
}

impl Logger {
    /// The endpoint's logger. The first call starts its background task
    /// (on the endpoint's runtime) that sends pending batches every
    /// `log_batch_interval` and announces the streams to new peers.
    pub async fn new(endpoint: &Endpoint) -> Result<Logger, LogError> {
        let cell = endpoint.extension(tokio::sync::OnceCell::<Arc<Shared>>::new);
        let shared = cell
            .get_or_try_init(|| async {
                // Subscribe before asking for the peers, so that no peering
                // change falls between the two.
                let status = endpoint.status_subscriber(true).await?;
                let peers = endpoint.peers().await?;
                let sink = EndpointSink {
                    endpoint: endpoint.downgrade(),
                    peers: Mutex::new(
                        peers
                            .iter()
                            .filter(|p| p.status == PeerStatus::Peered)
                            .filter_map(|p| p.peer.id)
                            .collect(),
                    ),
                };
                let mut shared = Shared::new(Sink::Endpoint(sink), endpoint.options());
                shared.taps = endpoint.extension(LogTaps::default);
                let shared = Arc::new(shared);
                endpoint
                    .runtime_handle()
                    .spawn(run(shared.clone(), Some(status)));
                Ok::<_, LogError>(shared)
            })
            .await?;
        Ok(Logger {
            shared: shared.clone(),
        })
    }

    /// A handle to write records of type `T` to stream `T::STREAM` at path
    /// `T::PATH` with Zeek's ASCII writer. Fails if `T` cannot be logged
    /// (a field of a type Zeek does not log).
    pub fn stream<T: Log>(&self) -> Result<LogStream<T>, LogError> {
        let ty = T::zeek_type();
        let cols = columns(&ty)?;
        let crate::data::schema::ZeekType::Record(record) = ty else {
            // `columns` accepts records only.
            return Err(super::SchemaError::NotARecord(ty.to_string()).into());
        };
        let raw = self.raw_stream(
            T::STREAM,
            T::PATH,
            cols.iter().map(super::Column::to_log_field).collect(),
        );
        Ok(LogStream {
            raw,
            record: Arc::new(record),
            _marker: PhantomData,
        })
    }

    /// A handle to write records given as [`LogValue`]s, one per field, to
    /// `stream_id` at `path` with Zeek's ASCII writer.
    pub fn raw_stream(&self, stream_id: &str, path: &str, fields: Vec<LogField>) -> RawLogStream {
        RawLogStream {
            shared: self.shared.clone(),
            create: Arc::new(LogCreate {
                stream_id: EnumValue::new(stream_id),
                writer_id: EnumValue::new(WRITER_ASCII),
                writer_info: writer_info(path),
                fields,
            }),
        }
    }

    /// Sends every pending batch now (`Broker::flush_logs`) and returns the
    /// number of records sent.
    pub async fn flush_logs(&self) -> Result<usize, LogError> {
        self.shared.flush_all().await
    }
}

/// A typed log stream: records of `T` to one stream and path.
pub struct LogStream<T> {
    raw: RawLogStream,
    record: Arc<RecordType>,
    _marker: PhantomData<fn(&T)>,
}

impl<T> Clone for LogStream<T> {
    fn clone(&self) -> Self {
        LogStream {
            raw: self.raw.clone(),
            record: self.record.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for LogStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("stream", &self.raw.create.stream_id)
            .field("path", &self.raw.create.writer_info.path)
            .finish()
    }
}

impl<T: Log> LogStream<T> {
    /// The same stream writing to another path (Zeek's filters can split a
    /// stream into several paths; each gets its own `LogCreate`).
    pub fn with_path(self, path: &str) -> LogStream<T> {
        let mut create = (*self.raw.create).clone();
        create.writer_info = writer_info(path);
        LogStream {
            raw: RawLogStream {
                shared: self.raw.shared,
                create: Arc::new(create),
            },
            record: self.record,
            _marker: PhantomData,
        }
    }

    /// The path written to.
    pub fn path(&self) -> &str {
        self.raw.path()
    }

    /// The stream's columns, as announced in its `LogCreate`.
    pub fn fields(&self) -> &[LogField] {
        self.raw.fields()
    }

    /// Writes one record: it is sent with the stream's next batch. Waits
    /// only when a batch is due and the endpoint's publish queue is full.
    pub async fn write(&self, record: &T) -> Result<(), LogError> {
        let data = record.to_data();
        let mut values = Vec::with_capacity(self.raw.create.fields.len());
        flatten_values(&self.record, &data, &mut values)
            .map_err(|(column, source)| LogError::Value { column, source })?;
        self.raw.write_values(&values).await
    }
}

/// An untyped log stream: records as [`LogValue`]s.
#[derive(Clone)]
pub struct RawLogStream {
    shared: Arc<Shared>,
    create: Arc<LogCreate>,
}

impl std::fmt::Debug for RawLogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLogStream")
            .field("create", &self.create)
            .finish()
    }
}

impl RawLogStream {
    /// The path written to.
    pub fn path(&self) -> &str {
        &self.create.writer_info.path
    }

    /// The stream's columns.
    pub fn fields(&self) -> &[LogField] {
        &self.create.fields
    }

    /// Writes one record, one value per field, each of its field's type (or
    /// unset).
    pub async fn write_values(&self, values: &[LogValue]) -> Result<(), LogError> {
        let stream = || self.create.stream_id.name().to_owned();
        let fields = &self.create.fields;
        if values.len() != fields.len() {
            return Err(LogError::ColumnCount {
                stream: stream(),
                expected: fields.len(),
                found: values.len(),
            });
        }
        for (field, value) in fields.iter().zip(values) {
            if value.type_tag().as_u64() != field.type_tag {
                return Err(LogError::ColumnType {
                    stream: stream(),
                    column: field.name.clone(),
                    expected: tag_name(field.type_tag),
                    found: value.type_tag().to_string(),
                });
            }
        }
        let serial = encode_record(values)?;
        self.shared.write(&self.create, serial).await
    }
}

pub(super) fn tag_name(tag: u64) -> String {
    TypeTag::from_u64(tag).map_or_else(|| format!("type {tag}"), |t| t.to_string())
}

fn writer_info(path: &str) -> WriterInfo {
    WriterInfo {
        path: path.to_owned(),
        rotation_base: 0.0,
        rotation_interval: 0.0,
        network_time: Timestamp::now().as_secs_f64(),
        config: Default::default(),
        post_proc_func: String::new(),
    }
}

/// Where log messages go: the endpoint, or a test's channel.
pub(crate) enum Sink {
    Endpoint(EndpointSink),
    #[cfg(test)]
    Test(tokio::sync::mpsc::UnboundedSender<(Topic, Data)>),
}

pub(crate) struct EndpointSink {
    endpoint: WeakEndpoint,
    /// The peers we know of, kept up to date from status events.
    peers: Mutex<HashSet<EndpointId>>,
}

impl Sink {
    fn has_peers(&self) -> bool {
        match self {
            Sink::Endpoint(s) => !s
                .peers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty(),
            #[cfg(test)]
            Sink::Test(_) => true,
        }
    }

    async fn publish(&self, topic: Topic, data: Data) -> Result<(), EndpointError> {
        match self {
            Sink::Endpoint(s) => {
                let endpoint = s.endpoint.upgrade().ok_or(EndpointError::Closed)?;
                endpoint.publish(topic, data).await
            }
            #[cfg(test)]
            Sink::Test(tx) => tx.send((topic, data)).map_err(|_| EndpointError::Closed),
        }
    }

    /// Updates the peer set; true if a peer was added.
    fn on_status(&self, event: &StatusEvent) -> bool {
        let (Sink::Endpoint(s), StatusEvent::Status(status)) = (self, event) else {
            return false;
        };
        let Some(id) = status.endpoint.id else {
            return false;
        };
        let mut peers = s.peers.lock().unwrap_or_else(PoisonError::into_inner);
        match status.code {
            StatusCode::PeerAdded => peers.insert(id),
            StatusCode::PeerLost | StatusCode::PeerRemoved => {
                peers.remove(&id);
                false
            }
            _ => false,
        }
    }
}

/// Where an endpoint's log writes go besides Broker peers (the ZeroMQ PUSH
/// side): each tap gets every record with its stream's `LogCreate`, whether
/// or not there are peers, without ever making the writer wait.
#[derive(Default)]
pub(crate) struct LogTaps {
    taps: Mutex<Vec<tokio::sync::mpsc::Sender<TapMessage>>>,
}

/// What a log tap receives.
#[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
pub(crate) enum TapMessage {
    /// One record (serialized as for a `LogWrite`) of the stream `create`.
    Write(Arc<LogCreate>, Vec<u8>),
    /// `flush_logs` was called: send what is pending.
    Flush,
}

impl LogTaps {
    /// Adds a tap.
    #[cfg_attr(not(feature = "zeromq"), allow(dead_code))] // used by the ZeroMQ roles
    pub(crate) fn add(&self, tap: tokio::sync::mpsc::Sender<TapMessage>) {
        self.taps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tap);
    }

    /// Offers a message to every tap; a full tap loses it (the tap counts
    /// its own drops), a closed one is removed.
    fn offer(&self, make: impl Fn() -> TapMessage) {
        let mut taps = self.taps.lock().unwrap_or_else(PoisonError::into_inner);
        if taps.is_empty() {
            return;
        }
        taps.retain(|tap| {
            !matches!(
                tap.try_send(make()),
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_))
            )
        });
    }
}

/// The state behind a [`Logger`].
pub(crate) struct Shared {
    sink: Sink,
    /// Where writes also go (see [`LogTaps`]).
    taps: Arc<LogTaps>,
    options: Options,
    /// Held while batches are taken *and* published, so that batches leave
    /// in the order they were filled.
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every stream and path written so far, announced to new peers.
    writers: Vec<Arc<LogCreate>>,
    /// Pending writes per stream.
    buffers: Vec<StreamBuffer>,
}

struct StreamBuffer {
    stream: EnumValue,
    /// Records pending in all topics.
    count: usize,
    /// Pending writes per topic, topics in first-use order.
    topics: Vec<(Topic, Vec<Message>)>,
}

impl Shared {
    pub(crate) fn new(sink: Sink, options: &Options) -> Shared {
        Shared {
            sink,
            taps: Arc::default(),
            options: options.clone(),
            state: tokio::sync::Mutex::default(),
        }
    }

    async fn write(&self, create: &Arc<LogCreate>, serial: Vec<u8>) -> Result<(), LogError> {
        let stream = &create.stream_id;
        let path = &create.writer_info.path;
        let mut state = self.state.lock().await;
        self.taps
            .offer(|| TapMessage::Write(create.clone(), serial.clone()));
        let peers = self.sink.has_peers();
        let known = state.writers.iter().any(|w| {
            w.stream_id == *stream && w.writer_id == create.writer_id && w.writer_info.path == *path
        });
        if !known {
            state.writers.push(create.clone());
            if peers {
                self.publish_create(create).await?;
            }
        }
        if !peers {
            // Zeek drops log writes while it has no peers.
            return Ok(());
        }
        let topic = Topic::new(self.options.log_topic(stream.name(), path))?;
        let index = match state.buffers.iter().position(|b| b.stream == *stream) {
            Some(i) => i,
            None => {
                state.buffers.push(StreamBuffer {
                    stream: stream.clone(),
                    count: 0,
                    topics: Vec::new(),
                });
                state.buffers.len() - 1
            }
        };
        let buffer = &mut state.buffers[index];
        let message = Message::LogWrite(LogWrite {
            stream_id: stream.clone(),
            writer_id: create.writer_id.clone(),
            path: path.clone(),
            serial_data: serial.into(),
        });
        match buffer.topics.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, pending)) => pending.push(message),
            None => buffer.topics.push((topic, vec![message])),
        }
        buffer.count += 1;
        if buffer.count >= self.options.log_batch_size {
            let batches = take(buffer);
            self.publish_batches(batches).await?;
        }
        Ok(())
    }

    async fn flush_all(&self) -> Result<usize, LogError> {
        self.taps.offer(|| TapMessage::Flush);
        let mut state = self.state.lock().await;
        let mut sent = 0;
        for buffer in &mut state.buffers {
            sent += buffer.count;
            let batches = take(buffer);
            self.publish_batches(batches).await?;
        }
        Ok(sent)
    }

    async fn announce_all(&self) -> Result<(), LogError> {
        let state = self.state.lock().await;
        for create in &state.writers {
            self.publish_create(create).await?;
        }
        Ok(())
    }

    async fn publish_create(&self, create: &LogCreate) -> Result<(), LogError> {
        // As in Zeek, announcements go to the default topic, whatever
        // `log_topic` says.
        let topic = Topic::new(
            self.options
                .default_log_topic(create.stream_id.name(), &create.writer_info.path),
        )?;
        let data = Message::LogCreate(create.clone()).into_data();
        Ok(self.sink.publish(topic, data).await?)
    }

    async fn publish_batches(&self, batches: Vec<(Topic, Vec<Message>)>) -> Result<(), LogError> {
        for (topic, messages) in batches {
            let data = Message::Batch(Batch(messages)).into_data();
            self.sink.publish(topic, data).await?;
        }
        Ok(())
    }
}

fn take(buffer: &mut StreamBuffer) -> Vec<(Topic, Vec<Message>)> {
    buffer.count = 0;
    std::mem::take(&mut buffer.topics)
}

/// The background task: sends pending batches every `log_batch_interval`
/// and announces every stream when a peer is added. Ends with the endpoint.
pub(crate) async fn run(shared: Arc<Shared>, mut status: Option<StatusSubscriber>) {
    let interval: Duration = shared.options.log_batch_interval;
    let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = next_status(&mut status) => {
                let Some(event) = event else { break };
                if !shared.sink.on_status(&event) {
                    continue;
                }
                if let Err(e) = shared.announce_all().await {
                    if closed(&e) {
                        break;
                    }
                    tracing::warn!("cannot announce log streams to a new peer: {e}");
                }
            }
            _ = tick.tick() => {
                if let Err(e) = shared.flush_all().await {
                    if closed(&e) {
                        break;
                    }
                    tracing::warn!("cannot send pending logs: {e}");
                }
            }
        }
    }
}

fn closed(e: &LogError) -> bool {
    matches!(e, LogError::Endpoint(EndpointError::Closed))
}

async fn next_status(status: &mut Option<StatusSubscriber>) -> Option<StatusEvent> {
    match status {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn create(stream: &str, path: &str) -> Arc<LogCreate> {
        Arc::new(LogCreate {
            stream_id: EnumValue::new(stream),
            writer_id: EnumValue::new(WRITER_ASCII),
            writer_info: writer_info(path),
            fields: vec![],
        })
    }

    fn shared(options: Options) -> (Arc<Shared>, mpsc::UnboundedReceiver<(Topic, Data)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(Shared::new(Sink::Test(tx), &options)), rx)
    }

    /// The number of log writes in each batch received, with its topic, and
    /// the number of LogCreates.
    fn drain(rx: &mut mpsc::UnboundedReceiver<(Topic, Data)>) -> (usize, Vec<(String, usize)>) {
        let mut creates = 0;
        let mut batches = Vec::new();
        while let Ok((topic, data)) = rx.try_recv() {
            match Message::from_data(&data).unwrap() {
                Message::LogCreate(_) => creates += 1,
                Message::Batch(Batch(items)) => {
                    assert!(items.iter().all(|m| matches!(m, Message::LogWrite(_))));
                    batches.push((topic.as_str().to_owned(), items.len()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (creates, batches)
    }

    #[tokio::test]
    async fn batch_is_sent_when_batch_size_records_accumulate() {
        let (shared, mut rx) = shared(Options {
            log_batch_size: 3,
            ..Options::default()
        });
        let conn = create("Conn::LOG", "conn");
        for _ in 0..7 {
            shared.write(&conn, vec![0, 0, 0, 0]).await.unwrap();
        }
        let (creates, batches) = drain(&mut rx);
        assert_eq!(creates, 1, "one announcement before the first write");
        assert_eq!(
            batches,
            [
                ("bro/logs/Conn::LOG".into(), 3),
                ("bro/logs/Conn::LOG".into(), 3)
            ]
        );
        assert_eq!(shared.flush_all().await.unwrap(), 1);
        assert_eq!(drain(&mut rx).1, [("bro/logs/Conn::LOG".into(), 1)]);
        assert_eq!(shared.flush_all().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn streams_batch_separately_and_topics_within_a_stream() {
        let (shared, mut rx) = shared(Options {
            log_batch_size: 3,
            log_topic: Some(crate::options::LogTopicFn::new(|stream, path| {
                format!("t/{stream}/{path}")
            })),
            ..Options::default()
        });
        let a = create("A::LOG", "a");
        let a2 = create("A::LOG", "a2");
        let b = create("B::LOG", "b");
        shared.write(&a, vec![0, 0, 0, 0]).await.unwrap();
        shared.write(&b, vec![0, 0, 0, 0]).await.unwrap();
        shared.write(&a2, vec![0, 0, 0, 0]).await.unwrap();
        assert_eq!(drain(&mut rx), (3, vec![]));
        // The third record of stream A flushes both of A's topics.
        shared.write(&a, vec![0, 0, 0, 0]).await.unwrap();
        assert_eq!(
            drain(&mut rx),
            (0, vec![("t/A::LOG/a".into(), 2), ("t/A::LOG/a2".into(), 1)])
        );
        assert_eq!(shared.flush_all().await.unwrap(), 1);
        assert_eq!(drain(&mut rx), (0, vec![("t/B::LOG/b".into(), 1)]));
    }

    #[tokio::test(start_paused = true)]
    async fn pending_batches_are_sent_every_batch_interval() {
        let (shared, mut rx) = shared(Options::default());
        tokio::spawn(run(shared.clone(), None));
        let conn = create("Conn::LOG", "conn");
        let start = Instant::now();
        for _ in 0..5 {
            shared.write(&conn, vec![0, 0, 0, 0]).await.unwrap();
        }
        assert_eq!(drain(&mut rx), (1, vec![]));
        tokio::time::sleep_until(start + Duration::from_millis(999)).await;
        assert_eq!(drain(&mut rx), (0, vec![]), "nothing before the interval");
        tokio::time::sleep_until(start + Duration::from_millis(1001)).await;
        assert_eq!(drain(&mut rx), (0, vec![("bro/logs/Conn::LOG".into(), 5)]));
        shared.write(&conn, vec![0, 0, 0, 0]).await.unwrap();
        tokio::time::sleep_until(start + Duration::from_millis(1999)).await;
        assert_eq!(drain(&mut rx), (0, vec![]));
        tokio::time::sleep_until(start + Duration::from_millis(2001)).await;
        assert_eq!(drain(&mut rx), (0, vec![("bro/logs/Conn::LOG".into(), 1)]));
    }

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn handles_and_futures_are_send() {
        assert_send_sync::<Logger>();
        assert_send_sync::<RawLogStream>();
        let (shared, _rx) = shared(Options::default());
        let raw = RawLogStream {
            shared,
            create: create("A::LOG", "a"),
        };
        assert_send(&raw.write_values(&[]));
    }

    #[tokio::test]
    async fn raw_stream_checks_values_against_its_fields() {
        let (shared, mut rx) = shared(Options::default());
        let mut with_fields = (*create("A::LOG", "a")).clone();
        with_fields.fields = vec![LogField {
            name: "n".into(),
            secondary_name: None,
            type_tag: TypeTag::Count.as_u64(),
            subtype_tag: 0,
            optional: true,
        }];
        let raw = RawLogStream {
            shared: shared.clone(),
            create: Arc::new(with_fields),
        };
        assert!(matches!(
            raw.write_values(&[]).await,
            Err(LogError::ColumnCount {
                expected: 1,
                found: 0,
                ..
            })
        ));
        match raw.write_values(&[LogValue::Int(1)]).await {
            Err(LogError::ColumnType {
                column,
                expected,
                found,
                ..
            }) => assert_eq!(
                (column.as_str(), expected.as_str(), found.as_str()),
                ("n", "count", "int")
            ),
            other => panic!("expected a column type error, got {other:?}"),
        }
        raw.write_values(&[LogValue::Count(1)]).await.unwrap();
        raw.write_values(&[LogValue::Unset(TypeTag::Count)])
            .await
            .unwrap();
        assert_eq!(shared.flush_all().await.unwrap(), 2);
        assert_eq!(drain(&mut rx), (1, vec![("bro/logs/A::LOG".into(), 2)]));
    }

    #[tokio::test]
    async fn each_path_of_a_stream_is_announced_once() {
        let (shared, mut rx) = shared(Options::default());
        let a = create("A::LOG", "a");
        let other_path = create("A::LOG", "a-archive");
        for _ in 0..3 {
            shared.write(&a, vec![0, 0, 0, 0]).await.unwrap();
            shared.write(&other_path, vec![0, 0, 0, 0]).await.unwrap();
        }
        shared.announce_all().await.unwrap();
        let (creates, _) = drain(&mut rx);
        assert_eq!(creates, 2 + 2, "two paths, announced again for a new peer");
    }

    #[test]
    fn peer_set_follows_added_lost_and_removed_statuses() {
        use crate::runtime::{EndpointInfo, Status};
        let endpoint = Endpoint::new(Options {
            disable_ssl: true,
            ..Options::default()
        })
        .unwrap();
        let sink = Sink::Endpoint(EndpointSink {
            endpoint: endpoint.downgrade(),
            peers: Mutex::default(),
        });
        let event = |code, byte| {
            StatusEvent::Status(Status {
                code,
                endpoint: EndpointInfo {
                    id: Some(EndpointId::from_random_bytes([byte; 16])),
                    network: None,
                },
                message: String::new(),
            })
        };
        assert!(!sink.has_peers());
        assert!(sink.on_status(&event(StatusCode::PeerAdded, 1)));
        assert!(sink.on_status(&event(StatusCode::PeerAdded, 2)));
        assert!(
            !sink.on_status(&event(StatusCode::PeerAdded, 2)),
            "known peer"
        );
        assert!(!sink.on_status(&event(StatusCode::PeerLost, 1)));
        assert!(sink.has_peers());
        assert!(!sink.on_status(&event(StatusCode::PeerRemoved, 2)));
        assert!(!sink.has_peers());
    }

    #[tokio::test]
    async fn zero_batch_size_sends_every_record() {
        let (shared, mut rx) = shared(Options {
            log_batch_size: 0,
            ..Options::default()
        });
        let conn = create("Conn::LOG", "conn");
        shared.write(&conn, vec![0, 0, 0, 0]).await.unwrap();
        shared.write(&conn, vec![0, 0, 0, 0]).await.unwrap();
        assert_eq!(drain(&mut rx).1.len(), 2);
    }
}
