//! The declarations of a set of scripts, merged and resolved: `redef`
//! extensions applied to their records and enums, type references turned
//! into fully qualified names as Zeek looks them up, aliases replaced by
//! what they stand for.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::ast::{Attribute, Field, GlobalKind, Item, Location, Script, Type, full_name};
use crate::error::ResolveError;
use crate::parser::MAX_DEPTH;

/// A record type: its fields in order, `redef record … +=` fields last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The qualified name.
    pub name: String,
    /// The fields, in wire order.
    pub fields: Vec<Field>,
    /// Where it is declared; `None` if the scripts only extend it (its
    /// declaration is in a file that was not read).
    pub location: Option<Location>,
}

/// An enum type: its values in order, `redef enum … +=` values last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum {
    /// The qualified name.
    pub name: String,
    /// The qualified value names and where each is declared.
    pub values: Vec<(String, Location)>,
    /// Where it is declared; `None` if the scripts only extend it.
    pub location: Option<Location>,
}

impl Enum {
    /// Whether `value` (qualified) is one of its values.
    pub fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|(v, _)| v == value)
    }
}

/// An event: `global name: event(params);`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The qualified name.
    pub name: String,
    /// The parameters, in order.
    pub params: Vec<Field>,
    /// Where it is declared.
    pub location: Location,
}

/// A `global`, `const` or `option` that is not an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// The qualified name.
    pub name: String,
    /// How it is declared.
    pub kind: GlobalKind,
    /// Its type; `None` when only an initializer gives it.
    pub ty: Option<Type>,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Where it is declared.
    pub location: Location,
}

/// What a type name stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    /// A record type.
    Record,
    /// An enum type.
    Enum,
}

/// Everything a set of scripts declares, resolved.
///
/// Names follow Zeek's rules: inside `module M;` a declared name `x` is
/// `M::x` (whether or not it is in `export { }`), a name that is already
/// qualified stays as it is, and `GLOBAL::x` is `x`. A type reference `x`
/// written inside module `M` is `M::x` if the scripts declare that, else the
/// global `x`. Type aliases (`type S: set[string];`) are replaced by their
/// definition wherever they are used.
///
/// ```
/// use zeek_script::{Declarations, Type};
///
/// let decls = Declarations::parse(
///     "site.zeek",
///     "module Site;
///      export {
///          type Level: enum { LOW, HIGH };
///          type Info: record { level: Level; hosts: set[addr] &optional; };
///          global alarm: event(info: Info, n: count);
///      }",
/// )
/// .unwrap();
/// let alarm = decls.event("Site::alarm").unwrap();
/// assert_eq!(alarm.params[0].ty, Type::Named("Site::Info".into()));
/// let info = decls.record("Site::Info").unwrap();
/// assert_eq!(info.fields[0].ty.to_string(), "Site::Level");
/// assert!(info.fields[1].is_optional());
/// assert!(decls.enum_type("Site::Level").unwrap().has_value("Site::HIGH"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declarations {
    records: BTreeMap<String, Record>,
    enums: BTreeMap<String, Enum>,
    aliases: BTreeMap<String, (Type, Location)>,
    events: BTreeMap<String, Event>,
    globals: BTreeMap<String, Global>,
}

impl Declarations {
    /// Parses one script and resolves its declarations.
    pub fn parse(file: &str, source: &str) -> Result<Declarations, crate::Error> {
        let script = crate::parse(file, source)?;
        Ok(Declarations::resolve([script])?)
    }

    /// Merges and resolves parsed scripts (in the order Zeek would load
    /// them).
    pub fn resolve(
        scripts: impl IntoIterator<Item = Script>,
    ) -> Result<Declarations, ResolveError> {
        let items: Vec<Item> = scripts.into_iter().flat_map(|s| s.items).collect();
        let mut decls = Declarations::default();
        // Pass 1: the names of declared types, so references can be
        // resolved whatever the order.
        let mut declared: BTreeMap<String, &Location> = BTreeMap::new();
        for item in &items {
            if let Item::Record { name, location, .. }
            | Item::Enum { name, location, .. }
            | Item::Alias { name, location, .. } = item
                && let Some(first) = declared.insert(name.clone(), location)
            {
                return Err(ResolveError {
                    location: location.clone(),
                    message: format!("type `{name}` is declared twice (first at {first})"),
                });
            }
        }
        let names = Names {
            declared: declared.keys().cloned().collect(),
        };
        // Pass 2: aliases, resolved to what they stand for.
        let raw_aliases: BTreeMap<&str, (&Type, &str, &Location)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Alias {
                    name,
                    ty,
                    module,
                    location,
                } => Some((name.as_str(), (ty, module.as_str(), location))),
                _ => None,
            })
            .collect();
        for (name, (ty, module, location)) in &raw_aliases {
            let mut budget = MAX_ALIAS_SIZE;
            let resolved = names.alias_free(ty, module, &raw_aliases, location, 0, &mut budget)?;
            decls
                .aliases
                .insert((*name).to_owned(), (resolved, (*location).clone()));
        }
        let resolve = |ty: &Type, module: &str| names.resolve(ty, module, &decls.aliases);
        let resolve_fields = |fields: &[Field], module: &str| -> Vec<Field> {
            fields
                .iter()
                .map(|f| Field {
                    ty: resolve(&f.ty, module),
                    ..f.clone()
                })
                .collect()
        };
        // Pass 3: declarations, then extensions in order.
        let mut records = BTreeMap::new();
        let mut enums = BTreeMap::new();
        let mut events: BTreeMap<String, Event> = BTreeMap::new();
        let mut globals: BTreeMap<String, Global> = BTreeMap::new();
        for item in &items {
            match item {
                Item::Record {
                    name,
                    fields,
                    module,
                    location,
                } => {
                    records.insert(
                        name.clone(),
                        Record {
                            name: name.clone(),
                            fields: resolve_fields(fields, module),
                            location: Some(location.clone()),
                        },
                    );
                }
                Item::Enum {
                    name,
                    values,
                    location,
                    ..
                } => {
                    enums.insert(
                        name.clone(),
                        Enum {
                            name: name.clone(),
                            values: values.clone(),
                            location: Some(location.clone()),
                        },
                    );
                }
                Item::Event {
                    name,
                    params,
                    module,
                    location,
                } => {
                    let event = Event {
                        name: name.clone(),
                        params: resolve_fields(params, module),
                        location: location.clone(),
                    };
                    check_not_global(&globals, name, location)?;
                    match events.entry(name.clone()) {
                        Entry::Vacant(slot) => {
                            slot.insert(event);
                        }
                        Entry::Occupied(first) if same_params(first.get(), &event) => {}
                        Entry::Occupied(first) => {
                            return Err(ResolveError {
                                location: location.clone(),
                                message: format!(
                                    "event `{name}` is declared again with other parameters (first at {})",
                                    first.get().location
                                ),
                            });
                        }
                    }
                }
                Item::Global {
                    name,
                    kind,
                    ty,
                    attributes,
                    module,
                    location,
                } => {
                    if let Some(event) = events.get(name) {
                        return Err(ResolveError {
                            location: location.clone(),
                            message: format!(
                                "`{name}` is already declared as an event at {}",
                                event.location
                            ),
                        });
                    }
                    let global = Global {
                        name: name.clone(),
                        kind: *kind,
                        ty: ty.as_ref().map(|t| resolve(t, module)),
                        attributes: attributes.clone(),
                        location: location.clone(),
                    };
                    match globals.entry(name.clone()) {
                        Entry::Vacant(slot) => {
                            slot.insert(global);
                        }
                        Entry::Occupied(first)
                            if first.get().ty == global.ty && first.get().kind == global.kind => {}
                        Entry::Occupied(first) => {
                            return Err(ResolveError {
                                location: location.clone(),
                                message: format!(
                                    "`{name}` is declared again differently (first at {})",
                                    first.get().location
                                ),
                            });
                        }
                    }
                }
                Item::Alias { .. } | Item::RedefRecord { .. } | Item::RedefEnum { .. } => {}
            }
        }
        for item in &items {
            match item {
                Item::RedefRecord {
                    target,
                    fields,
                    module,
                    ..
                } => {
                    let name = names.type_name(target, module);
                    records
                        .entry(name.clone())
                        .or_insert_with(|| Record {
                            name,
                            fields: Vec::new(),
                            location: None,
                        })
                        .fields
                        .extend(resolve_fields(fields, module));
                }
                Item::RedefEnum {
                    target,
                    values,
                    module,
                    ..
                } => {
                    let name = names.type_name(target, module);
                    enums
                        .entry(name.clone())
                        .or_insert_with(|| Enum {
                            name,
                            values: Vec::new(),
                            location: None,
                        })
                        .values
                        .extend(values.iter().cloned());
                }
                _ => {}
            }
        }
        decls.records = records;
        decls.enums = enums;
        decls.events = events;
        decls.globals = globals;
        Ok(decls)
    }

    /// The record type `name` (qualified).
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.get(name)
    }

    /// The enum type `name` (qualified).
    pub fn enum_type(&self, name: &str) -> Option<&Enum> {
        self.enums.get(name)
    }

    /// The event `name` (qualified).
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.events.get(name)
    }

    /// The `global`, `const` or `option` `name` (qualified).
    pub fn global(&self, name: &str) -> Option<&Global> {
        self.globals.get(name)
    }

    /// What the alias `name` stands for.
    pub fn alias(&self, name: &str) -> Option<&Type> {
        self.aliases.get(name).map(|(ty, _)| ty)
    }

    /// Whether `name` is a record or an enum type the scripts declare or
    /// extend.
    pub fn kind(&self, name: &str) -> Option<TypeKind> {
        if self.records.contains_key(name) {
            Some(TypeKind::Record)
        } else if self.enums.contains_key(name) {
            Some(TypeKind::Enum)
        } else {
            None
        }
    }

    /// The records, by name.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// The enums, by name.
    pub fn enums(&self) -> impl Iterator<Item = &Enum> {
        self.enums.values()
    }

    /// The events, by name.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.values()
    }

    /// The globals, constants and options, by name.
    pub fn globals(&self) -> impl Iterator<Item = &Global> {
        self.globals.values()
    }
}

/// The declared type names, for resolving references.
struct Names {
    declared: std::collections::BTreeSet<String>,
}

impl Names {
    /// The full name of a type reference `written` inside `module`: Zeek
    /// looks up `module::written` first, then the global `written`.
    fn type_name(&self, written: &str, module: &str) -> String {
        let local = full_name(module, written);
        if local != written && !self.declared.contains(&local) {
            // Not declared in this module: the global name (or, if already
            // qualified, the name itself).
            return full_name(crate::ast::GLOBAL, written);
        }
        local
    }

    /// `ty` with names qualified and (resolved) aliases substituted.
    fn resolve(
        &self,
        ty: &Type,
        module: &str,
        aliases: &BTreeMap<String, (Type, Location)>,
    ) -> Type {
        match ty {
            Type::Named(written) => {
                let name = self.type_name(written, module);
                match aliases.get(&name) {
                    Some((target, _)) => target.clone(),
                    None => Type::Named(name),
                }
            }
            Type::Vector(inner) => Type::Vector(Box::new(self.resolve(inner, module, aliases))),
            Type::Set(index) => Type::Set(
                index
                    .iter()
                    .map(|t| self.resolve(t, module, aliases))
                    .collect(),
            ),
            Type::Table(index, value) => Type::Table(
                index
                    .iter()
                    .map(|t| self.resolve(t, module, aliases))
                    .collect(),
                Box::new(self.resolve(value, module, aliases)),
            ),
            other => other.clone(),
        }
    }

    /// The definition of an alias with every alias inside substituted;
    /// fails on a cycle, and on a definition that grows beyond
    /// [`MAX_ALIAS_SIZE`] types (aliases of aliases can double at each step).
    fn alias_free(
        &self,
        ty: &Type,
        module: &str,
        raw: &BTreeMap<&str, (&Type, &str, &Location)>,
        location: &Location,
        depth: usize,
        budget: &mut usize,
    ) -> Result<Type, ResolveError> {
        if depth > MAX_DEPTH {
            return Err(ResolveError {
                location: location.clone(),
                message: "type alias refers to itself".to_owned(),
            });
        }
        if *budget == 0 {
            return Err(ResolveError {
                location: location.clone(),
                message: format!("type alias expands to more than {MAX_ALIAS_SIZE} types"),
            });
        }
        *budget -= 1;
        let recurse = |t: &Type, budget: &mut usize| {
            self.alias_free(t, module, raw, location, depth + 1, budget)
        };
        Ok(match ty {
            Type::Named(written) => {
                let name = self.type_name(written, module);
                match raw.get(name.as_str()) {
                    Some((target, target_module, _)) => {
                        self.alias_free(target, target_module, raw, location, depth + 1, budget)?
                    }
                    None => Type::Named(name),
                }
            }
            Type::Vector(inner) => Type::Vector(Box::new(recurse(inner, budget)?)),
            Type::Set(index) => Type::Set(
                index
                    .iter()
                    .map(|t| recurse(t, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Type::Table(index, value) => Type::Table(
                index
                    .iter()
                    .map(|t| recurse(t, budget))
                    .collect::<Result<_, _>>()?,
                Box::new(recurse(value, budget)?),
            ),
            other => other.clone(),
        })
    }
}

/// How many types an alias may stand for once the aliases inside it are
/// substituted.
const MAX_ALIAS_SIZE: usize = 4096;

/// Whether two declarations of one event agree.
fn same_params(a: &Event, b: &Event) -> bool {
    a.params.len() == b.params.len()
        && a.params
            .iter()
            .zip(&b.params)
            .all(|(x, y)| x.name == y.name && x.ty == y.ty)
}

/// An event may not reuse a global's name.
fn check_not_global(
    globals: &BTreeMap<String, Global>,
    name: &str,
    location: &Location,
) -> Result<(), ResolveError> {
    match globals.get(name) {
        Some(global) => Err(ResolveError {
            location: location.clone(),
            message: format!(
                "`{name}` is already declared as a {} at {}",
                global.kind, global.location
            ),
        }),
        None => Ok(()),
    }
}

/// The candidates closest to `name`, nearest first (by edit distance, then
/// alphabetically), for "did you mean" lists; names that share nothing
/// with `name` come last.
///
/// ```
/// let names = ["Site::alarm", "Site::alert", "Other::thing"];
/// assert_eq!(
///     zeek_script::nearest("Site::alrm", names),
///     ["Site::alarm", "Site::alert", "Other::thing"]
/// );
/// ```
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().map(|(_, c)| c).collect()
}
