//! What a script declares, as parsed: one [`Item`] per declaration, in
//! file order, with the names it declares already qualified by the module
//! in force (see [`full_name`]).

use std::fmt;

/// A place in a script: the file as given to the parser, 1-based line and
/// column (columns count characters, not bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file name as given to [`parse`](crate::parse).
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1, in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A Zeek type as written in a declaration.
///
/// In a parsed [`Script`], [`Type::Named`] holds the name as written; in
/// [`Declarations`](crate::Declarations) it holds the resolved, fully
/// qualified name of a record or enum type (aliases are replaced by what
/// they stand for).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Type {
    /// `any`.
    Any,
    /// `bool`.
    Bool,
    /// `count`.
    Count,
    /// `int`.
    Int,
    /// `double`.
    Double,
    /// `time`.
    Time,
    /// `interval`.
    Interval,
    /// `string`.
    String,
    /// `addr`.
    Addr,
    /// `subnet`.
    Subnet,
    /// `port`.
    Port,
    /// `pattern`.
    Pattern,
    /// `vector of T`.
    Vector(Box<Type>),
    /// `set[T, …]`.
    Set(Vec<Type>),
    /// `table[K, …] of V`.
    Table(Vec<Type>, Box<Type>),
    /// A record, enum or alias, by name.
    Named(String),
    /// A type the declaration subset does not model, as written (with
    /// whitespace collapsed): `function(…)`, `event(…)`, `hook(…)`,
    /// `file of T`, `opaque of x`, an inline `record { … }` or
    /// `enum { … }`, `void`.
    Other(String),
}

impl fmt::Display for Type {
    /// The type in Zeek script syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::Bool => f.write_str("bool"),
            Type::Count => f.write_str("count"),
            Type::Int => f.write_str("int"),
            Type::Double => f.write_str("double"),
            Type::Time => f.write_str("time"),
            Type::Interval => f.write_str("interval"),
            Type::String => f.write_str("string"),
            Type::Addr => f.write_str("addr"),
            Type::Subnet => f.write_str("subnet"),
            Type::Port => f.write_str("port"),
            Type::Pattern => f.write_str("pattern"),
            Type::Vector(inner) => write!(f, "vector of {inner}"),
            Type::Set(index) => write!(f, "set[{}]", Joined(index)),
            Type::Table(index, value) => write!(f, "table[{}] of {value}", Joined(index)),
            Type::Named(name) | Type::Other(name) => f.write_str(name),
        }
    }
}

/// Types separated by `, `.
struct Joined<'a>(&'a [Type]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ty) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{ty}")?;
        }
        Ok(())
    }
}

impl Type {
    /// The basic type spelled `name` (`count`, `addr`, …), if it is one.
    pub fn basic(name: &str) -> Option<Type> {
        Some(match name {
            "any" => Type::Any,
            "bool" => Type::Bool,
            "count" => Type::Count,
            "int" => Type::Int,
            "double" => Type::Double,
            "time" => Type::Time,
            "interval" => Type::Interval,
            "string" => Type::String,
            "addr" => Type::Addr,
            "subnet" => Type::Subnet,
            "port" => Type::Port,
            "pattern" => Type::Pattern,
            _ => return None,
        })
    }

    /// Calls `f` on every type inside `self`, `self` included, outer first.
    pub fn walk(&self, f: &mut impl FnMut(&Type)) {
        f(self);
        match self {
            Type::Vector(inner) => inner.walk(f),
            Type::Set(index) => index.iter().for_each(|t| t.walk(f)),
            Type::Table(index, value) => {
                index.iter().for_each(|t| t.walk(f));
                value.walk(f);
            }
            _ => {}
        }
    }
}

/// An attribute: `&optional`, `&default = …`, `&log`, `&redef`, …
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The name without `&`.
    pub name: String,
    /// The value's source text (trimmed), for `&name = value`.
    pub value: Option<String>,
}

/// `name: type &attributes` in a record body or a parameter list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field or parameter name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Its attributes, in order.
    pub attributes: Vec<Attribute>,
    /// Where the name is.
    pub location: Location,
}

impl Field {
    /// Whether it carries `&name`.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name == name)
    }

    /// Whether it is `&optional` (may be absent from a record value).
    pub fn is_optional(&self) -> bool {
        self.has_attribute("optional")
    }
}

/// How a global identifier is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlobalKind {
    /// `global`.
    Global,
    /// `const`.
    Const,
    /// `option`.
    Option,
}

impl fmt::Display for GlobalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GlobalKind::Global => "global",
            GlobalKind::Const => "const",
            GlobalKind::Option => "option",
        })
    }
}

/// One declaration of a script, in file order. Declared names are fully
/// qualified; type references are as written (resolve them with
/// [`Declarations`](crate::Declarations)), and `module` says which module
/// was in force, for that resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// `type N: record { … };`
    Record {
        /// The qualified name.
        name: String,
        /// The fields, in order.
        fields: Vec<Field>,
        /// The module in force.
        module: String,
        /// Where the name is.
        location: Location,
    },
    /// `type N: enum { A, B };`
    Enum {
        /// The qualified name.
        name: String,
        /// The qualified value names, in order.
        values: Vec<(String, Location)>,
        /// The module in force.
        module: String,
        /// Where the name is.
        location: Location,
    },
    /// `type N: T;` for any other `T` (a type alias).
    Alias {
        /// The qualified name.
        name: String,
        /// What it stands for.
        ty: Type,
        /// The module in force.
        module: String,
        /// Where the name is.
        location: Location,
    },
    /// `redef record N += { … };`
    RedefRecord {
        /// The record as written.
        target: String,
        /// The added fields.
        fields: Vec<Field>,
        /// The module in force.
        module: String,
        /// Where the record name is.
        location: Location,
    },
    /// `redef enum N += { … };`
    RedefEnum {
        /// The enum as written.
        target: String,
        /// The added values, qualified.
        values: Vec<(String, Location)>,
        /// The module in force.
        module: String,
        /// Where the enum name is.
        location: Location,
    },
    /// `global n: event(…);`
    Event {
        /// The qualified name.
        name: String,
        /// The parameters, in order.
        params: Vec<Field>,
        /// The module in force.
        module: String,
        /// Where the name is.
        location: Location,
    },
    /// `global`, `const` or `option` with a type other than `event(…)`.
    Global {
        /// The qualified name.
        name: String,
        /// How it is declared.
        kind: GlobalKind,
        /// The declared type; `None` when only an initializer gives it.
        ty: Option<Type>,
        /// Its attributes (`&redef`, …).
        attributes: Vec<Attribute>,
        /// The module in force.
        module: String,
        /// Where the name is.
        location: Location,
    },
}

/// One parsed file: its declarations in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The file name as given to [`parse`](crate::parse).
    pub file: String,
    /// The declarations.
    pub items: Vec<Item>,
}

/// Zeek's name for `name` declared while `module` is in force: the name
/// itself in the `GLOBAL` module or when it is already qualified, else
/// `module::name`; a `GLOBAL::` (or bare `::`) prefix is dropped.
///
/// ```
/// use zeek_script::full_name;
///
/// assert_eq!(full_name("Site", "Info"), "Site::Info");
/// assert_eq!(full_name("GLOBAL", "Info"), "Info");
/// assert_eq!(full_name("Site", "Notice::Info"), "Notice::Info");
/// assert_eq!(full_name("Site", "GLOBAL::conn_id"), "conn_id");
/// assert_eq!(full_name("Site", "::conn_id"), "conn_id");
/// ```
pub fn full_name(module: &str, name: &str) -> String {
    if let Some(pos) = name.rfind("::") {
        let (head, tail) = (&name[..pos], &name[pos + 2..]);
        if head.is_empty() || head == GLOBAL {
            return tail.to_owned();
        }
        return name.to_owned();
    }
    if module.is_empty() || module == GLOBAL {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// The name of Zeek's global module.
pub const GLOBAL: &str = "GLOBAL";
