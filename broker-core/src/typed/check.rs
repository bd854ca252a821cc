//! The run-time counterpart of `#[event(zeek = "…")]`: a program's
//! registered events and published ids compared with Zeek scripts, for CI
//! of repositories that hold both (`broker schema --check site.zeek`).

use std::fmt;
use std::path::Path;

use zeek_script::{Declarations, Location, Type};

use super::RegistryError;
use super::schema::Schema;
use crate::data::ZeekType;
use crate::data::schema::{EnumType, RecordType};

/// What the check is about: an event, a published id, a record or an enum
/// type, by its Zeek name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// An `#[event]`.
    Event(String),
    /// A `#[published_id]`.
    Id(String),
    /// A record type used by an event or id.
    Record(String),
    /// An enum type used by an event or id.
    Enum(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Event(name) => write!(f, "event {name}"),
            Subject::Id(name) => write!(f, "published id {name}"),
            Subject::Record(name) => write!(f, "record {name}"),
            Subject::Enum(name) => write!(f, "enum {name}"),
        }
    }
}

/// How the Rust side and the scripts disagree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// The scripts do not declare it; the names they declare that are
    /// nearest to it come first.
    NotDeclared {
        /// Declared names of the same kind, nearest first (at most five).
        nearest: Vec<String>,
    },
    /// A published id declared without a type (only an initializer).
    Untyped,
    /// A different number of arguments or fields.
    Count {
        /// In the scripts.
        declared: usize,
        /// In Rust.
        rust: usize,
    },
    /// Argument or field `index` has another name.
    Name {
        /// Its position, from 0.
        index: usize,
        /// Its name in the scripts.
        declared: String,
        /// Its name in Rust.
        rust: String,
    },
    /// Another type.
    Type {
        /// The argument or field name (`None` for a published id).
        name: Option<String>,
        /// The type the scripts declare.
        declared: String,
        /// The Zeek type of the Rust type.
        rust: String,
    },
    /// A record field that is `&optional` on one side only.
    Optional {
        /// The field.
        name: String,
        /// Whether the scripts declare it `&optional`.
        declared: bool,
    },
    /// An enum value of the Rust type that the scripts' enum lacks.
    UnknownValue {
        /// The value.
        value: String,
    },
}

/// One disagreement, with the place of the declaration if there is one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mismatch {
    /// What it is about.
    pub subject: Subject,
    /// What is wrong.
    pub problem: Problem,
    /// Where the scripts declare the subject.
    pub location: Option<Location>,
}

impl fmt::Display for Mismatch {
    /// One line: `site.zeek:12:8: event Site::alarm: argument 1 (n): the
    /// scripts declare count, the Rust type is int`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}: ", self.subject)?;
        match &self.problem {
            Problem::NotDeclared { nearest } if nearest.is_empty() => {
                f.write_str("not declared in the scripts")
            }
            Problem::NotDeclared { nearest } => write!(
                f,
                "not declared in the scripts (nearest: {})",
                nearest.join(", ")
            ),
            Problem::Untyped => f.write_str("declared without a type, so it cannot be checked"),
            Problem::Count { declared, rust } => {
                let what = match self.subject {
                    Subject::Record(_) => "fields",
                    _ => "arguments",
                };
                write!(
                    f,
                    "the scripts declare {declared} {what}, the Rust type has {rust}"
                )
            }
            Problem::Name {
                index,
                declared,
                rust,
            } => write!(
                f,
                "position {index} is `{declared}` in the scripts, `{rust}` in Rust"
            ),
            Problem::Type {
                name,
                declared,
                rust,
            } => {
                if let Some(name) = name {
                    write!(f, "`{name}`: ")?;
                }
                write!(
                    f,
                    "the scripts declare `{declared}`, the Rust type is `{rust}`"
                )
            }
            Problem::Optional { name, declared } => {
                if *declared {
                    write!(
                        f,
                        "`{name}` is `&optional` in the scripts but not an `Option`"
                    )
                } else {
                    write!(
                        f,
                        "`{name}` is an `Option` but not `&optional` in the scripts"
                    )
                }
            }
            Problem::UnknownValue { value } => {
                write!(f, "the scripts' enum has no value `{value}`")
            }
        }
    }
}

/// Why [`check_scripts`] could not compare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The program's registry has duplicate names.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A script cannot be read or parsed.
    #[error(transparent)]
    Scripts(#[from] zeek_script::Error),
}

/// Reads the Zeek scripts at `paths` (in order, as Zeek loads them) and
/// compares this program's registered events and published ids with them:
/// the same checks as `#[event(zeek = "…")]`, at run time. An empty list
/// means they agree.
///
/// ```rust,standalone_crate
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// #[broker_core::event(topic = "/site", name = "Site::heartbeat")]
/// struct Heartbeat;
///
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../broker-derive-tests/zeek/");
/// let mismatches = broker_core::typed::check_scripts([format!("{dir}site.zeek")])?;
/// assert!(mismatches.is_empty(), "{mismatches:?}");
/// # Ok(())
/// # }
/// ```
pub fn check_scripts<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
) -> Result<Vec<Mismatch>, CheckError> {
    let decls = zeek_script::load(paths)?;
    Ok(Schema::collect()?.check(&decls))
}

impl Schema {
    /// Compares these events and published ids (and the records and enums
    /// they use) with the declarations of Zeek scripts: names, argument
    /// and field counts, order and types, `&optional` against `Option`,
    /// enum values. A record or enum that the scripts do not declare is
    /// compared by name only (its declaration may be in a script that was
    /// not given); a script's `any` needs a Rust `Data`, and a Rust `Data`
    /// accepts any declared type.
    pub fn check(&self, scripts: &Declarations) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut named: Vec<&ZeekType> = Vec::new();
        for event in &self.events {
            let subject = Subject::Event(event.name.clone());
            let Some(declared) = scripts.event(&event.name) else {
                out.push(not_declared(
                    subject,
                    &event.name,
                    scripts.events().map(|e| e.name.as_str()),
                ));
                continue;
            };
            let location = Some(declared.location.clone());
            if declared.params.len() != event.args.len() {
                out.push(Mismatch {
                    subject,
                    problem: Problem::Count {
                        declared: declared.params.len(),
                        rust: event.args.len(),
                    },
                    location,
                });
                continue;
            }
            for (index, ((name, ty), param)) in event.args.iter().zip(&declared.params).enumerate()
            {
                // Tuple structs have positional names, never checked.
                let positional = *name == format!("arg{index}");
                if !positional && *name != param.name {
                    out.push(Mismatch {
                        subject: subject.clone(),
                        problem: Problem::Name {
                            index,
                            declared: param.name.clone(),
                            rust: name.clone(),
                        },
                        location: location.clone(),
                    });
                } else if !matches(ty, &param.ty) {
                    out.push(Mismatch {
                        subject: subject.clone(),
                        problem: Problem::Type {
                            name: Some(param.name.clone()),
                            declared: param.ty.to_string(),
                            rust: ty.to_string(),
                        },
                        location: location.clone(),
                    });
                }
            }
            named.extend(event.args.iter().map(|(_, ty)| ty));
        }
        for id in &self.ids {
            let subject = Subject::Id(id.name.clone());
            let Some(declared) = scripts.global(&id.name) else {
                out.push(not_declared(
                    subject,
                    &id.name,
                    scripts.globals().map(|g| g.name.as_str()),
                ));
                continue;
            };
            let location = Some(declared.location.clone());
            match &declared.ty {
                None => out.push(Mismatch {
                    subject,
                    problem: Problem::Untyped,
                    location,
                }),
                Some(ty) if !matches(&id.ty, ty) => out.push(Mismatch {
                    subject,
                    problem: Problem::Type {
                        name: None,
                        declared: ty.to_string(),
                        rust: id.ty.to_string(),
                    },
                    location,
                }),
                Some(_) => {}
            }
            named.push(&id.ty);
        }
        let mut seen = std::collections::BTreeSet::new();
        for ty in named {
            visit_named(ty, &mut |named| match named {
                ZeekType::Record(record) if seen.insert(record.name.clone()) => {
                    check_record(record, scripts, &mut out);
                }
                ZeekType::Enum(en) if seen.insert(en.name.clone()) => {
                    check_enum(en, scripts, &mut out);
                }
                _ => {}
            });
        }
        out
    }
}

/// A record used by the Rust side against the scripts' record of that
/// name, if they declare one.
fn check_record(record: &RecordType, scripts: &Declarations, out: &mut Vec<Mismatch>) {
    let Some(declared) = scripts.record(&record.name) else {
        return;
    };
    // A record the scripts only extend is compared by name only.
    let Some(location) = declared.location.clone() else {
        return;
    };
    let subject = Subject::Record(record.name.clone());
    if declared.fields.len() != record.fields.len() {
        out.push(Mismatch {
            subject,
            problem: Problem::Count {
                declared: declared.fields.len(),
                rust: record.fields.len(),
            },
            location: Some(location),
        });
        return;
    }
    for (index, (field, decl)) in record.fields.iter().zip(&declared.fields).enumerate() {
        let problem = if field.name != decl.name {
            Problem::Name {
                index,
                declared: decl.name.clone(),
                rust: field.name.clone(),
            }
        } else if field.optional != decl.is_optional() {
            Problem::Optional {
                name: field.name.clone(),
                declared: decl.is_optional(),
            }
        } else if !matches(&field.ty, &decl.ty) {
            Problem::Type {
                name: Some(field.name.clone()),
                declared: decl.ty.to_string(),
                rust: field.ty.to_string(),
            }
        } else {
            continue;
        };
        out.push(Mismatch {
            subject: subject.clone(),
            problem,
            location: Some(decl.location.clone()),
        });
    }
}

/// An enum used by the Rust side: each of its values must be declared.
fn check_enum(en: &EnumType, scripts: &Declarations, out: &mut Vec<Mismatch>) {
    let Some(declared) = scripts.enum_type(&en.name) else {
        return;
    };
    for value in &en.values {
        if !declared.has_value(value) {
            out.push(Mismatch {
                subject: Subject::Enum(en.name.clone()),
                problem: Problem::UnknownValue {
                    value: value.clone(),
                },
                location: declared.location.clone(),
            });
        }
    }
}

fn not_declared<'a>(
    subject: Subject,
    name: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Mismatch {
    let nearest = zeek_script::nearest(name, names)
        .into_iter()
        .take(5)
        .map(str::to_owned)
        .collect();
    Mismatch {
        subject,
        problem: Problem::NotDeclared { nearest },
        location: None,
    }
}

/// Whether a Rust value of Zeek type `rust` may stand where the scripts
/// declare `declared`: records and enums by name, `any` on the Rust side
/// accepting anything (as `ZeekTypeExpr::matches` at compile time).
fn matches(rust: &ZeekType, declared: &Type) -> bool {
    match (rust, declared) {
        (ZeekType::Any, _) => true,
        (ZeekType::Bool, Type::Bool)
        | (ZeekType::Count, Type::Count)
        | (ZeekType::Int, Type::Int)
        | (ZeekType::Double, Type::Double)
        | (ZeekType::String, Type::String)
        | (ZeekType::Addr, Type::Addr)
        | (ZeekType::Subnet, Type::Subnet)
        | (ZeekType::Port, Type::Port)
        | (ZeekType::Time, Type::Time)
        | (ZeekType::Interval, Type::Interval) => true,
        (ZeekType::Record(r), Type::Named(name)) => r.name == *name,
        (ZeekType::Enum(e), Type::Named(name)) => e.name == *name,
        (ZeekType::Vector(a), Type::Vector(b)) => matches(a, b),
        (ZeekType::Set(a), Type::Set(b)) => all_match(a, b),
        (ZeekType::Table(a, v), Type::Table(b, w)) => all_match(a, b) && matches(v, w),
        _ => false,
    }
}

fn all_match(rust: &[ZeekType], declared: &[Type]) -> bool {
    rust.len() == declared.len() && rust.iter().zip(declared).all(|(r, d)| matches(r, d))
}

/// Calls `visit` on every record and enum inside `ty`, outer first.
fn visit_named<'a>(ty: &'a ZeekType, visit: &mut impl FnMut(&'a ZeekType)) {
    match ty {
        ZeekType::Record(record) => {
            visit(ty);
            for field in &record.fields {
                visit_named(&field.ty, visit);
            }
        }
        ZeekType::Enum(_) => visit(ty),
        ZeekType::Vector(inner) => visit_named(inner, visit),
        ZeekType::Set(index) => index.iter().for_each(|t| visit_named(t, visit)),
        ZeekType::Table(index, value) => {
            index.iter().for_each(|t| visit_named(t, visit));
            visit_named(value, visit);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::RecordField;
    use crate::typed::{EventSchema, IdSchema};

    fn scripts() -> Declarations {
        Declarations::parse(
            "site.zeek",
            "module Site;
             export {
                 type Level: enum { LOW, HIGH };
                 type Info: record { n: count; note: string &optional; level: Level; };
                 global alarm: event(info: Info, hosts: set[addr]);
                 global ping: event(n: count);
                 global threshold: count &redef;
                 option quiet = F;
             }",
        )
        .unwrap()
    }

    fn info(fields: Vec<RecordField>) -> ZeekType {
        ZeekType::Record(RecordType {
            name: "Site::Info".into(),
            fields,
        })
    }

    fn field(name: &str, ty: ZeekType, optional: bool) -> RecordField {
        RecordField {
            name: name.into(),
            ty,
            optional,
        }
    }

    fn level(values: &[&str]) -> ZeekType {
        ZeekType::Enum(EnumType {
            name: "Site::Level".into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        })
    }

    fn event(name: &str, args: Vec<(&str, ZeekType)>) -> EventSchema {
        EventSchema {
            name: name.into(),
            topic: "/t".into(),
            rust_type: "t::E".into(),
            args: args.into_iter().map(|(n, t)| (n.to_owned(), t)).collect(),
        }
    }

    fn id(name: &str, ty: ZeekType) -> IdSchema {
        IdSchema {
            name: name.into(),
            topic: "/t".into(),
            ty,
        }
    }

    fn good_info() -> ZeekType {
        info(vec![
            field("n", ZeekType::Count, false),
            field("note", ZeekType::String, true),
            field("level", level(&["Site::LOW", "Site::HIGH"]), false),
        ])
    }

    #[test]
    fn a_matching_schema_has_no_mismatches() {
        let schema = Schema {
            events: vec![
                event(
                    "Site::alarm",
                    vec![
                        ("info", good_info()),
                        ("hosts", ZeekType::Set(vec![ZeekType::Addr])),
                    ],
                ),
                // Positional names of a tuple struct, and `any` accepting a count.
                event("Site::ping", vec![("arg0", ZeekType::Any)]),
            ],
            ids: vec![id("Site::threshold", ZeekType::Count)],
        };
        assert_eq!(schema.check(&scripts()), Vec::new());
    }

    #[test]
    fn every_kind_of_mismatch_is_reported_with_its_place() {
        let schema = Schema {
            events: vec![
                event(
                    "Site::alarm",
                    vec![
                        (
                            "info",
                            info(vec![
                                field("n", ZeekType::Int, false),
                                field("note", ZeekType::String, false),
                                field("level", level(&["Site::LOW", "Site::MEDIUM"]), false),
                            ]),
                        ),
                        ("hosts", ZeekType::Vector(Box::new(ZeekType::Addr))),
                    ],
                ),
                event("Site::ping", vec![("count", ZeekType::Count)]),
                event("Site::pong", vec![]),
                event("Site::alarm2", vec![]),
            ],
            ids: vec![
                id("Site::threshold", ZeekType::Int),
                id("Site::quiet", ZeekType::Bool),
                id("Site::thresold", ZeekType::Count),
            ],
        };
        let lines: Vec<String> = schema
            .check(&scripts())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "site.zeek:5:25: event Site::alarm: `hosts`: the scripts declare `set[addr]`, the Rust type is `vector of addr`",
                "site.zeek:6:25: event Site::ping: position 0 is `n` in the scripts, `count` in Rust",
                "event Site::pong: not declared in the scripts (nearest: Site::ping, Site::alarm)",
                "event Site::alarm2: not declared in the scripts (nearest: Site::alarm, Site::ping)",
                "site.zeek:7:25: published id Site::threshold: the scripts declare `count`, the Rust type is `int`",
                "site.zeek:8:25: published id Site::quiet: declared without a type, so it cannot be checked",
                "published id Site::thresold: not declared in the scripts (nearest: Site::threshold, Site::quiet)",
                "site.zeek:4:38: record Site::Info: `n`: the scripts declare `count`, the Rust type is `int`",
                "site.zeek:4:48: record Site::Info: `note` is `&optional` in the scripts but not an `Option`",
                "site.zeek:3:23: enum Site::Level: the scripts' enum has no value `Site::MEDIUM`",
            ]
        );
        let counts = Schema {
            events: vec![event("Site::ping", vec![])],
            ids: vec![],
        };
        assert_eq!(
            counts.check(&scripts())[0].problem,
            Problem::Count {
                declared: 1,
                rust: 0
            }
        );
    }
}
