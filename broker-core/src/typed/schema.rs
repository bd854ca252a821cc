//! The Zeek declarations of the registered events and published ids, so that
//! the Zeek side can be written from the Rust types.

use std::fmt;

use super::RegistryError;
use super::registry::Registry;
use crate::data::ZeekType;
use crate::data::schema::declarations;

/// Every registered event and published id, sorted by name. Its
/// `Display` is Zeek script:
///
/// ```text
/// type Notice::Action: enum { Notice::ACTION_LOG };
/// global Alerts::scan_detected: event(src: addr, ports: vector of port);
/// global Site::scan_threshold: count;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// The events.
    pub events: Vec<EventSchema>,
    /// The published identifiers.
    pub ids: Vec<IdSchema>,
}

/// One event: its name, topic and typed arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSchema {
    /// The Zeek event name.
    pub name: String,
    /// Its topic.
    pub topic: String,
    /// The Rust type.
    pub rust_type: String,
    /// Argument names and types.
    pub args: Vec<(String, ZeekType)>,
}

/// One published identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdSchema {
    /// The Zeek identifier.
    pub name: String,
    /// Its topic.
    pub topic: String,
    /// Its type.
    pub ty: ZeekType,
}

impl Schema {
    /// The schema of everything this program registered.
    pub fn collect() -> Result<Schema, RegistryError> {
        let registry = Registry::get()?;
        Ok(Schema {
            events: registry
                .events
                .values()
                .map(|e| EventSchema {
                    name: e.name.to_owned(),
                    topic: e.topic.to_owned(),
                    rust_type: e.rust_type.to_owned(),
                    args: (e.args)()
                        .into_iter()
                        .map(|(name, ty)| (name.to_owned(), ty))
                        .collect(),
                })
                .collect(),
            ids: registry
                .ids
                .values()
                .map(|i| IdSchema {
                    name: i.name.to_owned(),
                    topic: i.topic.to_owned(),
                    ty: (i.zeek_type)(),
                })
                .collect(),
        })
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types = self
            .events
            .iter()
            .flat_map(|e| e.args.iter().map(|(_, ty)| ty))
            .chain(self.ids.iter().map(|i| &i.ty));
        f.write_str(&declarations(types))?;
        for event in &self.events {
            write!(
                f,
                "# {} on topic \"{}\"\nglobal {}: event(",
                event.rust_type, event.topic, event.name
            )?;
            for (i, (name, ty)) in event.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{name}: {ty}")?;
            }
            f.write_str(");\n")?;
        }
        for id in &self.ids {
            writeln!(
                f,
                "# published on topic \"{}\"\nglobal {}: {};",
                id.topic, id.name, id.ty
            )?;
        }
        Ok(())
    }
}
