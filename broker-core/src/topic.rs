//! Topics: the strings that messages are published on and subscribed to.
//!
//! Matching is pure byte-prefix, as in Broker: a subscription to `a` receives
//! `alice` and `amy`; `zeek/events` receives `zeek/events/errors`.

use std::fmt;
use std::sync::Arc;

/// The longest topic the wire format can carry (a `u16` length).
pub const MAX_TOPIC_LEN: usize = u16::MAX as usize;

/// A topic string: UTF-8 text of at most [`MAX_TOPIC_LEN`] bytes.
///
/// The empty topic is valid as a subscription prefix (it matches
/// everything); publishing requires a non-empty topic.
///
/// ```
/// use broker_core::topic::Topic;
///
/// let t = Topic::new("zeek/events/errors").unwrap();
/// assert!(Topic::new("zeek/events").unwrap().is_prefix_of(&t));
/// assert!(Topic::new("a").unwrap().is_prefix_of(&Topic::new("alice").unwrap()));
/// assert!(Topic::new("x".repeat(70_000)).is_err());
/// ```
/// Topics are shared, immutable strings: cloning one is a reference count
/// increment, so a topic can travel with every message cheaply.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(Arc<str>);

impl Default for Topic {
    fn default() -> Topic {
        Topic(Arc::from(""))
    }
}

/// Why a string is not a valid topic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic is longer than the wire format allows.
    #[error("topic of {0} bytes is longer than {MAX_TOPIC_LEN} bytes")]
    TooLong(usize),
    /// The topic bytes are not UTF-8.
    #[error("topic is not valid UTF-8")]
    InvalidUtf8,
}

impl Topic {
    /// The topic `name`, if it is short enough for the wire.
    pub fn new(name: impl Into<String>) -> Result<Topic, TopicError> {
        let name = name.into();
        if name.len() > MAX_TOPIC_LEN {
            return Err(TopicError::TooLong(name.len()));
        }
        Ok(Topic(Arc::from(name)))
    }

    /// The topic from wire bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Topic, TopicError> {
        let text = std::str::from_utf8(bytes).map_err(|_| TopicError::InvalidUtf8)?;
        Topic::new(text)
    }

    /// The topic text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self`, as a subscription prefix, matches `topic`.
    pub fn is_prefix_of(&self, topic: &Topic) -> bool {
        topic.0.as_bytes().starts_with(self.0.as_bytes())
    }

    /// Whether this is the empty topic.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Values that name a topic: `&str`, `String`, `&Topic` and `Topic`.
pub trait IntoTopic {
    /// The topic, if the value is a valid one.
    fn into_topic(self) -> Result<Topic, TopicError>;
}

impl IntoTopic for Topic {
    fn into_topic(self) -> Result<Topic, TopicError> {
        Ok(self)
    }
}

impl IntoTopic for &Topic {
    fn into_topic(self) -> Result<Topic, TopicError> {
        Ok(self.clone())
    }
}

impl IntoTopic for &str {
    fn into_topic(self) -> Result<Topic, TopicError> {
        Topic::new(self)
    }
}

impl IntoTopic for String {
    fn into_topic(self) -> Result<Topic, TopicError> {
        Topic::new(self)
    }
}

impl IntoTopic for &String {
    fn into_topic(self) -> Result<Topic, TopicError> {
        Topic::new(self.as_str())
    }
}

impl TryFrom<&str> for Topic {
    type Error = TopicError;

    fn try_from(s: &str) -> Result<Topic, TopicError> {
        Topic::new(s)
    }
}

impl TryFrom<String> for Topic {
    type Error = TopicError;

    fn try_from(s: String) -> Result<Topic, TopicError> {
        Topic::new(s)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matching_is_bytewise_not_componentwise() {
        let t = |s: &str| Topic::new(s).unwrap();
        assert!(t("alice/dogs").is_prefix_of(&t("alice/dogsarecool/x")));
        assert!(!t("alice/dogs").is_prefix_of(&t("alice/dog")));
        assert!(t("").is_prefix_of(&t("anything")));
    }

    #[test]
    fn topic_length_is_limited_by_the_wire() {
        assert!(Topic::new("x".repeat(MAX_TOPIC_LEN)).is_ok());
        assert_eq!(
            Topic::new("x".repeat(MAX_TOPIC_LEN + 1)),
            Err(TopicError::TooLong(MAX_TOPIC_LEN + 1))
        );
        assert_eq!(Topic::from_bytes(&[0xff]), Err(TopicError::InvalidUtf8));
    }
}
