//! Receiving logs: rows from `LogCreate`s and `LogWrite`s, typed or not.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::data::schema::{RecordType, ZeekType};
use crate::data::{Data, EnumValue};
use crate::runtime::{Endpoint, Subscriber};
use crate::topic::IntoTopic;
use crate::zeek::{LogField, Message};

use super::format::{LogValue, TypeTag, decode_record};
use super::schema::{Column, columns, nest_values};
use super::writer::tag_name;
use super::{Log, LogError, SchemaError};

/// One received log record: its stream, path, the stream's columns (if its
/// `LogCreate` was seen) and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRow {
    /// The stream id, e.g. `Conn::LOG`.
    pub stream_id: EnumValue,
    /// The writer, e.g. `Log::WRITER_ASCII`.
    pub writer_id: EnumValue,
    /// The path, e.g. `conn`.
    pub path: String,
    /// The columns from the stream's `LogCreate`; `None` if it was not
    /// received (it is sent when a stream starts and to each new peer).
    pub fields: Option<Arc<[LogField]>>,
    /// The values, one per column.
    pub values: Vec<LogValue>,
}

impl LogRow {
    /// The value of the column `name`, if the columns are known.
    pub fn get(&self, name: &str) -> Option<&LogValue> {
        let fields = self.fields.as_ref()?;
        let i = fields.iter().position(|f| f.name == name)?;
        self.values.get(i)
    }

    /// The row as a Broker vector of its column values (unset values are
    /// `none`).
    pub fn to_data(&self) -> Result<Data, LogError> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.to_data().map_err(|source| LogError::Value {
                    column: self.column_name(i),
                    source,
                })
            })
            .collect::<Result<_, _>>()
            .map(Data::Vector)
    }

    fn column_name(&self, i: usize) -> String {
        self.fields
            .as_ref()
            .and_then(|f| f.get(i))
            .map_or_else(|| format!("#{i}"), |f| f.name.clone())
    }
}

/// The most streams and paths a [`LogSubscriber`] remembers columns for;
/// further `LogCreate`s (from a peer inventing paths) are reported as
/// [`LogError::TooManyStreams`] and their rows arrive without columns.
pub const MAX_STREAMS: usize = 4096;

/// The most columns a `LogCreate` may announce (Zeek's logs have tens) and
/// the most a [`LogSubscriber`] remembers over all streams; beyond either,
/// the `LogCreate` is reported as [`LogError::TooManyFields`] and its rows
/// arrive without columns.
pub const MAX_FIELDS: usize = 1024;

/// See [`MAX_FIELDS`].
pub const MAX_REMEMBERED_FIELDS: usize = 1 << 18;

/// Log rows from a subscription: `LogCreate`s are remembered per stream and
/// path, and each `LogWrite` (alone or in a batch) becomes a [`LogRow`].
/// Other messages on the topics are skipped.
#[derive(Debug)]
pub struct LogSubscriber {
    sub: Subscriber,
    streams: HashMap<(EnumValue, String), Arc<[LogField]>>,
    /// Columns remembered in `streams`, all streams together.
    remembered: usize,
    pending: VecDeque<Result<LogRow, LogError>>,
}

impl LogSubscriber {
    /// Subscribes to `prefixes` (e.g. `bro/logs/`) on `endpoint`.
    pub async fn new<T: IntoTopic>(
        endpoint: &Endpoint,
        prefixes: impl IntoIterator<Item = T>,
    ) -> Result<LogSubscriber, LogError> {
        Ok(LogSubscriber::from_subscriber(
            endpoint.subscribe(prefixes).await?,
        ))
    }

    /// Reads log rows from an existing subscriber.
    pub fn from_subscriber(sub: Subscriber) -> LogSubscriber {
        LogSubscriber {
            sub,
            streams: HashMap::new(),
            remembered: 0,
            pending: VecDeque::new(),
        }
    }

    /// The next row, or the error of a malformed message; `None` once the
    /// endpoint has shut down.
    pub async fn recv(&mut self) -> Option<Result<LogRow, LogError>> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Some(row);
            }
            let msg = self.sub.recv().await?;
            self.handle(&msg.data);
        }
    }

    /// [`LogSubscriber::recv`], or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Result<LogRow, LogError>> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .ok()
            .flatten()
    }

    /// The columns of `stream_id` at `path`, if its `LogCreate` was seen.
    pub fn fields(&self, stream_id: &str, path: &str) -> Option<&Arc<[LogField]>> {
        self.streams
            .get(&(EnumValue::new(stream_id), path.to_owned()))
    }

    fn handle(&mut self, data: &Data) {
        match Message::from_data(data) {
            Ok(message) => self.handle_message(message),
            // Not a Zeek message: not ours to judge.
            Err(crate::zeek::MessageError::NotAMessage(_)) => {}
            Err(e) => self.pending.push_back(Err(e.into())),
        }
    }

    fn handle_message(&mut self, message: Message) {
        match message {
            Message::LogCreate(create) => {
                let key = (create.stream_id, create.writer_info.path);
                if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&key) {
                    self.pending.push_back(Err(LogError::TooManyStreams {
                        stream: key.0.name().to_owned(),
                        path: key.1,
                    }));
                    return;
                }
                let replaced = self.streams.get(&key).map_or(0, |f| f.len());
                let fields = create.fields.len();
                if fields > MAX_FIELDS
                    || self.remembered - replaced + fields > MAX_REMEMBERED_FIELDS
                {
                    self.pending.push_back(Err(LogError::TooManyFields {
                        stream: key.0.name().to_owned(),
                        path: key.1,
                        fields,
                    }));
                    return;
                }
                self.remembered = self.remembered - replaced + fields;
                self.streams.insert(key, create.fields.into());
            }
            Message::LogWrite(write) => {
                let row = decode_record(write.serial_data.as_bytes())
                    .map(|values| LogRow {
                        fields: self
                            .streams
                            .get(&(write.stream_id.clone(), write.path.clone()))
                            .cloned(),
                        stream_id: write.stream_id.clone(),
                        writer_id: write.writer_id,
                        path: write.path,
                        values,
                    })
                    .map_err(|source| LogError::Decode {
                        stream: write.stream_id.name().to_owned(),
                        source,
                    });
                self.pending.push_back(row);
            }
            Message::Batch(batch) => {
                for message in batch.0 {
                    self.handle_message(message);
                }
            }
            Message::Event(_) | Message::IdentifierUpdate(_) => {}
        }
    }
}

/// Typed log records of stream `T::STREAM` (any path). Rows of other streams
/// are skipped.
///
/// With the stream's `LogCreate` seen, columns are matched by name: extra
/// columns are ignored, a missing column is `none` (fine for an `Option`
/// field), and a column of another type is an error. Without it, the values
/// must match the Rust fields one to one, checked by their type tags.
#[derive(Debug)]
pub struct TypedLogSubscriber<T> {
    inner: LogSubscriber,
    record: RecordType,
    columns: Vec<Column>,
    _marker: PhantomData<fn() -> T>,
}

impl<T: Log> TypedLogSubscriber<T> {
    /// Subscribes on `endpoint` to the stream's default topic
    /// (`default_log_topic_prefix` + `T::STREAM`, where its `LogCreate`s
    /// go) and to the endpoint's own `log_topic` for it.
    pub async fn new(endpoint: &Endpoint) -> Result<TypedLogSubscriber<T>, LogError> {
        let options = endpoint.options();
        let mut topics = vec![options.default_log_topic(T::STREAM, T::PATH)];
        let custom = options.log_topic(T::STREAM, T::PATH);
        if !topics.contains(&custom) {
            topics.push(custom);
        }
        TypedLogSubscriber::with_prefixes(endpoint, topics).await
    }

    /// Subscribes on `endpoint` to `prefixes`, for writers whose
    /// `log_topic` is not the receiver's.
    pub async fn with_prefixes<P: IntoTopic>(
        endpoint: &Endpoint,
        prefixes: impl IntoIterator<Item = P>,
    ) -> Result<TypedLogSubscriber<T>, LogError> {
        let (record, columns) = record_columns::<T>()?;
        Ok(TypedLogSubscriber {
            inner: LogSubscriber::new(endpoint, prefixes).await?,
            record,
            columns,
            _marker: PhantomData,
        })
    }

    /// The next record of the stream, or the error of a row that does not
    /// convert; `None` once the endpoint has shut down.
    pub async fn recv(&mut self) -> Option<Result<T, LogError>> {
        loop {
            match self.inner.recv().await? {
                Ok(row) if row.stream_id.name() != T::STREAM => continue,
                Ok(row) => return Some(self.convert(&row)),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// [`TypedLogSubscriber::recv`], or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Result<T, LogError>> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .ok()
            .flatten()
    }

    /// The record in `row`.
    pub fn convert(&self, row: &LogRow) -> Result<T, LogError> {
        row_to_record::<T>(&self.record, &self.columns, row)
    }
}

fn record_columns<T: Log>() -> Result<(RecordType, Vec<Column>), LogError> {
    let ty = T::zeek_type();
    let cols = columns(&ty)?;
    match ty {
        ZeekType::Record(record) => Ok((record, cols)),
        other => Err(SchemaError::NotARecord(other.to_string()).into()),
    }
}

fn row_to_record<T: Log>(
    record: &RecordType,
    columns: &[Column],
    row: &LogRow,
) -> Result<T, LogError> {
    let stream = || row.stream_id.name().to_owned();
    let type_error = |col: &Column, found: String| LogError::ColumnType {
        stream: stream(),
        column: col.name.clone(),
        expected: describe(col.tag.as_u64(), col.subtag.as_u64()),
        found,
    };
    let mut datas = Vec::with_capacity(columns.len());
    let mut push = |col: &Column, value: &LogValue| -> Result<(), LogError> {
        if value.type_tag() != col.tag {
            return Err(type_error(col, value.type_tag().to_string()));
        }
        let data = value.to_data().map_err(|source| LogError::Value {
            column: col.name.clone(),
            source,
        })?;
        datas.push(data);
        Ok(())
    };
    match &row.fields {
        Some(fields) => {
            if fields.len() != row.values.len() {
                return Err(LogError::ColumnCount {
                    stream: stream(),
                    expected: fields.len(),
                    found: row.values.len(),
                });
            }
            for col in columns {
                match fields.iter().position(|f| f.name == col.name) {
                    Some(i) => {
                        let field = &fields[i];
                        let container = matches!(col.tag, TypeTag::Table | TypeTag::Vector);
                        if field.type_tag != col.tag.as_u64()
                            || (container && field.subtype_tag != col.subtag.as_u64())
                        {
                            return Err(type_error(
                                col,
                                describe(field.type_tag, field.subtype_tag),
                            ));
                        }
                        push(col, &row.values[i])?;
                    }
                    None if col.optional => push(col, &LogValue::Unset(col.tag))?,
                    None => {
                        return Err(LogError::MissingColumn {
                            stream: stream(),
                            column: col.name.clone(),
                        });
                    }
                }
            }
        }
        None => {
            if columns.len() != row.values.len() {
                return Err(LogError::ColumnCount {
                    stream: stream(),
                    expected: columns.len(),
                    found: row.values.len(),
                });
            }
            for (col, value) in columns.iter().zip(&row.values) {
                push(col, value)?;
            }
        }
    }
    let data = nest_values(record, &mut datas.into_iter());
    T::from_data(&data).map_err(|source| LogError::Convert {
        stream: stream(),
        source,
    })
}

/// `count`, or `set[string]` / `vector[count]` for containers.
fn describe(tag: u64, subtag: u64) -> String {
    match TypeTag::from_u64(tag) {
        Some(TypeTag::Table) => format!("set[{}]", tag_name(subtag)),
        Some(TypeTag::Vector) => format!("vector[{}]", tag_name(subtag)),
        _ => tag_name(tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ByteString;
    use crate::options::Options;
    use crate::zeek::{Batch, LogCreate, LogWrite, WriterInfo};

    async fn subscriber() -> (Endpoint, LogSubscriber) {
        let endpoint = Endpoint::new(Options {
            disable_ssl: true,
            ..Options::default()
        })
        .unwrap();
        let sub = LogSubscriber::new(&endpoint, ["bro/logs/"]).await.unwrap();
        (endpoint, sub)
    }

    fn create(path: &str) -> Message {
        Message::LogCreate(LogCreate {
            stream_id: EnumValue::new("A::LOG"),
            writer_id: EnumValue::new("Log::WRITER_ASCII"),
            writer_info: WriterInfo {
                path: path.into(),
                rotation_base: 0.0,
                rotation_interval: 0.0,
                network_time: 0.0,
                config: Default::default(),
                post_proc_func: String::new(),
            },
            fields: vec![LogField {
                name: "n".into(),
                secondary_name: None,
                type_tag: 3,
                subtype_tag: 0,
                optional: false,
            }],
        })
    }

    fn write(path: &str, serial: Vec<u8>) -> Message {
        Message::LogWrite(LogWrite {
            stream_id: EnumValue::new("A::LOG"),
            writer_id: EnumValue::new("Log::WRITER_ASCII"),
            path: path.into(),
            serial_data: ByteString::from(serial),
        })
    }

    #[tokio::test]
    async fn batches_become_rows_with_the_announced_columns() {
        let (_endpoint, mut sub) = subscriber().await;
        let record = crate::logs::encode_record(&[LogValue::Count(5)]).unwrap();
        let batch = Message::Batch(Batch(vec![
            write("a", record.clone()),
            create("a"),
            write("a", record),
            write("a", vec![0, 0, 0, 9]),
        ]));
        sub.handle(&batch.into_data());
        let rows: Vec<_> = sub.pending.drain(..).collect();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.fields, None, "written before its LogCreate");
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second.get("n"), Some(&LogValue::Count(5)));
        assert!(matches!(rows[2], Err(LogError::Decode { .. })));
    }

    #[tokio::test]
    async fn events_are_skipped_and_bad_messages_reported() {
        let (_endpoint, mut sub) = subscriber().await;
        sub.handle(&crate::zeek::Event::new("e", vec![]).into_data());
        sub.handle(&Data::Count(1));
        assert!(sub.pending.is_empty());
        let bad_version = Data::Vector(vec![Data::Count(2), Data::Count(3), Data::Vector(vec![])]);
        sub.handle(&bad_version);
        assert!(matches!(
            sub.pending.pop_front(),
            Some(Err(LogError::Message(_)))
        ));
    }

    #[tokio::test]
    async fn remembered_columns_are_bounded() {
        let (_endpoint, mut sub) = subscriber().await;
        let wide = |path: &str, n: usize| {
            let Message::LogCreate(mut c) = create(path) else {
                unreachable!("a LogCreate")
            };
            c.fields = vec![c.fields[0].clone(); n];
            Message::LogCreate(c).into_data()
        };
        sub.handle(&wide("wide", MAX_FIELDS + 1));
        assert!(matches!(
            sub.pending.pop_front(),
            Some(Err(LogError::TooManyFields { fields, .. })) if fields == MAX_FIELDS + 1
        ));
        // Streams of the most columns fill the total, then are refused.
        let fit = MAX_REMEMBERED_FIELDS / MAX_FIELDS;
        for i in 0..fit {
            sub.handle(&wide(&format!("p{i}"), MAX_FIELDS));
        }
        assert!(sub.pending.is_empty());
        sub.handle(&wide("one-more", MAX_FIELDS));
        assert!(matches!(
            sub.pending.pop_front(),
            Some(Err(LogError::TooManyFields { .. }))
        ));
        // Announcing a known stream again replaces its columns.
        sub.handle(&wide("p0", 1));
        sub.handle(&wide("one-more", MAX_FIELDS - 1));
        assert!(sub.pending.is_empty());
        assert_eq!(sub.remembered, MAX_REMEMBERED_FIELDS);
    }

    #[tokio::test]
    async fn remembered_streams_are_bounded() {
        let (_endpoint, mut sub) = subscriber().await;
        for i in 0..MAX_STREAMS {
            sub.handle(&create(&format!("p{i}")).into_data());
        }
        assert!(sub.pending.is_empty());
        // A known stream may be announced again; a new one is refused.
        sub.handle(&create("p0").into_data());
        assert!(sub.pending.is_empty());
        sub.handle(&create("one-too-many").into_data());
        assert!(matches!(
            sub.pending.pop_front(),
            Some(Err(LogError::TooManyStreams { .. }))
        ));
        assert_eq!(sub.streams.len(), MAX_STREAMS);
    }
}
