//! Why a JSON text is not a Broker value, and the nesting limit.

use crate::data::DataType;

/// The deepest nesting of values [`from_json`](super::from_json) accepts.
pub const MAX_DEPTH: usize = 100;

/// Why JSON does not describe a Broker value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// A value is not a JSON object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// An object has no `@data-type` string.
    #[error("missing @data-type")]
    MissingDataType,
    /// The `@data-type` is not one of the fifteen type names.
    #[error("unknown @data-type {0:?}")]
    UnknownDataType(String),
    /// An object has no `data` (only `none` may omit it).
    #[error("missing data for {0}")]
    MissingData(DataType),
    /// The `data` has the wrong JSON type for the `@data-type`.
    #[error("{data_type} needs {expected}")]
    WrongPayload {
        /// The declared type.
        data_type: DataType,
        /// What its payload must be.
        expected: &'static str,
    },
    /// The payload has the right JSON type but an invalid value.
    #[error("invalid {data_type} {text}: {reason}")]
    InvalidValue {
        /// The declared type.
        data_type: DataType,
        /// The offending payload, as JSON text.
        text: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A table entry is not an object with `key` and `value`.
    #[error("table entry needs \"key\" and \"value\"")]
    InvalidTableEntry,
    /// A set holds the same element twice.
    #[error("duplicate set element")]
    DuplicateSetElement,
    /// A table holds the same key twice.
    #[error("duplicate table key")]
    DuplicateTableKey,
    /// Values are nested deeper than [`MAX_DEPTH`].
    #[error("values nested deeper than {MAX_DEPTH}")]
    DepthLimitExceeded,
    /// A data message has no `topic`.
    #[error("no topic in data message")]
    MissingTopic,
    /// A data message's `topic` is not a non-empty string of valid length.
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    /// A message's `type` is not `data-message`.
    #[error("unexpected message type {0}")]
    WrongMessageType(String),
}

impl JsonError {
    /// The name of the Broker error code Broker reports for this problem:
    /// `invalid_json`, `deserialization_failed` (repeated set elements or
    /// table keys) or `type_clash` (anything else).
    pub fn broker_error_name(&self) -> &'static str {
        match self {
            JsonError::Syntax(_) => "invalid_json",
            JsonError::DuplicateSetElement | JsonError::DuplicateTableKey => {
                "deserialization_failed"
            }
            _ => "type_clash",
        }
    }
}
