//! Status and error codes, with Broker's numbers.

use std::fmt;

/// Broker's error codes (`broker::ec`; Zeek's `Broker::ErrorCode` shares 1–14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No error.
    None = 0,
    /// An unspecified error.
    Unspecified = 1,
    /// The peer speaks an incompatible protocol version.
    PeerIncompatible = 2,
    /// The peer is unknown (e.g. unpeering from a peer we have no peering with).
    PeerInvalid = 3,
    /// A connection attempt failed.
    PeerUnavailable = 4,
    /// The peer disconnected during the handshake.
    PeerDisconnectDuringHandshake = 5,
    /// The peer did not answer in time.
    PeerTimeout = 6,
    /// A master with that name exists already.
    MasterExists = 7,
    /// No master with that name exists.
    NoSuchMaster = 8,
    /// No such key in a store.
    NoSuchKey = 9,
    /// A request timed out.
    RequestTimeout = 10,
    /// A value has the wrong type.
    TypeClash = 11,
    /// A value is invalid.
    InvalidData = 12,
    /// A store backend failed.
    BackendFailure = 13,
    /// Store data is stale.
    StaleData = 14,
    /// A file could not be opened.
    CannotOpenFile = 15,
    /// A file could not be written.
    CannotWriteFile = 16,
    /// An invalid topic key.
    InvalidTopicKey = 17,
    /// End of file.
    EndOfFile = 18,
    /// An invalid tag.
    InvalidTag = 19,
    /// A malformed message.
    InvalidMessage = 20,
    /// An invalid status.
    InvalidStatus = 21,
    /// A conversion failed.
    ConversionFailed = 22,
    /// A consumer exists already.
    ConsumerExists = 23,
    /// A connection timed out.
    ConnectionTimeout = 24,
    /// A member function was called at a bad time.
    BadMemberFunctionCall = 25,
    /// A request id was repeated.
    RepeatedRequestId = 26,
    /// A clone is broken.
    BrokenClone = 27,
    /// The endpoint is shutting down.
    ShuttingDown = 28,
    /// An invalid peering request.
    InvalidPeeringRequest = 29,
    /// A repeated peering handshake request.
    RepeatedPeeringHandshakeRequest = 30,
    /// An unexpected handshake message.
    UnexpectedHandshakeMessage = 31,
    /// An invalid handshake state.
    InvalidHandshakeState = 32,
    /// No path to the peer.
    NoPathToPeer = 33,
    /// No connector available.
    NoConnectorAvailable = 34,
    /// A resource could not be opened.
    CannotOpenResource = 35,
    /// Serialization failed.
    SerializationFailed = 36,
    /// Deserialization failed.
    DeserializationFailed = 37,
    /// A handshake message had the wrong magic number.
    WrongMagicNumber = 38,
    /// A second connection to a peer we are connected to already.
    RedundantConnection = 39,
    /// An internal logic error.
    LogicError = 40,
    /// Invalid JSON.
    InvalidJson = 41,
}

const ERROR_NAMES: [&str; 42] = [
    "none",
    "unspecified",
    "peer_incompatible",
    "peer_invalid",
    "peer_unavailable",
    "peer_disconnect_during_handshake",
    "peer_timeout",
    "master_exists",
    "no_such_master",
    "no_such_key",
    "request_timeout",
    "type_clash",
    "invalid_data",
    "backend_failure",
    "stale_data",
    "cannot_open_file",
    "cannot_write_file",
    "invalid_topic_key",
    "end_of_file",
    "invalid_tag",
    "invalid_message",
    "invalid_status",
    "conversion_failed",
    "consumer_exists",
    "connection_timeout",
    "bad_member_function_call",
    "repeated_request_id",
    "broken_clone",
    "shutting_down",
    "invalid_peering_request",
    "repeated_peering_handshake_request",
    "unexpected_handshake_message",
    "invalid_handshake_state",
    "no_path_to_peer",
    "no_connector_available",
    "cannot_open_resource",
    "serialization_failed",
    "deserialization_failed",
    "wrong_magic_number",
    "redundant_connection",
    "logic_error",
    "invalid_json",
];

impl ErrorCode {
    /// The code with this number; unknown numbers are `Unspecified`, as in Broker.
    pub fn from_u8(n: u8) -> ErrorCode {
        use ErrorCode::*;
        const ALL: [ErrorCode; 42] = [
            None,
            Unspecified,
            PeerIncompatible,
            PeerInvalid,
            PeerUnavailable,
            PeerDisconnectDuringHandshake,
            PeerTimeout,
            MasterExists,
            NoSuchMaster,
            NoSuchKey,
            RequestTimeout,
            TypeClash,
            InvalidData,
            BackendFailure,
            StaleData,
            CannotOpenFile,
            CannotWriteFile,
            InvalidTopicKey,
            EndOfFile,
            InvalidTag,
            InvalidMessage,
            InvalidStatus,
            ConversionFailed,
            ConsumerExists,
            ConnectionTimeout,
            BadMemberFunctionCall,
            RepeatedRequestId,
            BrokenClone,
            ShuttingDown,
            InvalidPeeringRequest,
            RepeatedPeeringHandshakeRequest,
            UnexpectedHandshakeMessage,
            InvalidHandshakeState,
            NoPathToPeer,
            NoConnectorAvailable,
            CannotOpenResource,
            SerializationFailed,
            DeserializationFailed,
            WrongMagicNumber,
            RedundantConnection,
            LogicError,
            InvalidJson,
        ];
        ALL.get(usize::from(n)).copied().unwrap_or(Unspecified)
    }

    /// Broker's snake_case name, e.g. `peer_unavailable`.
    pub fn name(self) -> &'static str {
        ERROR_NAMES[self as usize]
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Broker's status codes (`broker::sc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum StatusCode {
    /// Something else.
    Unspecified = 0,
    /// A peering was established.
    PeerAdded = 1,
    /// We removed a peering (unpeer, overload).
    PeerRemoved = 2,
    /// The remote side closed or the connection broke.
    PeerLost = 3,
    /// A new endpoint became reachable.
    EndpointDiscovered = 4,
    /// An endpoint is no longer reachable.
    EndpointUnreachable = 5,
}

impl StatusCode {
    /// Broker's snake_case name, e.g. `peer_added`.
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Unspecified => "unspecified",
            StatusCode::PeerAdded => "peer_added",
            StatusCode::PeerRemoved => "peer_removed",
            StatusCode::PeerLost => "peer_lost",
            StatusCode::EndpointDiscovered => "endpoint_discovered",
            StatusCode::EndpointUnreachable => "endpoint_unreachable",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of a peering (Zeek's `Broker::PeerStatus`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum PeerStatus {
    /// Created, nothing happened yet.
    Initializing = 0,
    /// Connecting or handshaking.
    Connecting = 1,
    /// Handshake done, peering being installed.
    Connected = 2,
    /// Peered: messages flow.
    Peered = 3,
    /// The connection is gone.
    Disconnected = 4,
    /// Waiting to redial after a loss.
    Reconnecting = 5,
}

impl PeerStatus {
    /// Zeek's name, e.g. `PEERED`.
    pub fn name(self) -> &'static str {
        match self {
            PeerStatus::Initializing => "INITIALIZING",
            PeerStatus::Connecting => "CONNECTING",
            PeerStatus::Connected => "CONNECTED",
            PeerStatus::Peered => "PEERED",
            PeerStatus::Disconnected => "DISCONNECTED",
            PeerStatus::Reconnecting => "RECONNECTING",
        }
    }
}

impl fmt::Display for PeerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_have_brokers_numbers_and_names() {
        for n in 0..=41u8 {
            let code = ErrorCode::from_u8(n);
            assert_eq!(code as u8, n);
        }
        assert_eq!(ErrorCode::from_u8(200), ErrorCode::Unspecified);
        assert_eq!(ErrorCode::RedundantConnection as u8, 39);
        assert_eq!(ErrorCode::WrongMagicNumber.name(), "wrong_magic_number");
        assert_eq!(ErrorCode::InvalidJson.name(), "invalid_json");
        assert_eq!(ErrorCode::TypeClash as u8, 11);
    }

    #[test]
    fn status_and_peer_status_numbers() {
        assert_eq!(StatusCode::EndpointUnreachable as u8, 5);
        assert_eq!(PeerStatus::Reconnecting as u8, 5);
        assert_eq!(PeerStatus::Peered.to_string(), "PEERED");
    }
}
