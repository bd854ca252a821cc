//! A parser for the declaration subset of [Zeek](https://zeek.org) script.
//!
//! Zeek scripts are where a Zeek deployment declares the events it
//! exchanges, the records they carry and the identifiers it publishes. This
//! crate reads those declarations, so that programs in other languages can
//! check their own types against them (broker-rs does it at compile time,
//! in its `#[event(zeek = "…")]` macros) or generate types from them.
//!
//! It reads, with the names qualified as Zeek qualifies them:
//!
//! - `module X;` and `export { … }`;
//! - `type N: record { f: T &attrs; … };`, `type N: enum { A, B };` and
//!   type aliases `type N: T;`;
//! - `redef record N += { … };` and `redef enum N += { … };`;
//! - `global n: event(a: T, …);`;
//! - `global n: T &redef;`, `const n: T = … &redef;`, `option n: T = …;`;
//! - the types `bool count int double time interval string addr subnet
//!   port pattern any`, `vector of T`, `set[T, …]`, `table[K, …] of V`,
//!   records, enums and aliases by name (other types, such as `function(…)`
//!   or `opaque of x`, are kept as [`Type::Other`]).
//!
//! It steps over everything else a script holds at the top level (event
//! handler, function and hook bodies, `redef`s of values, initializers and
//! attribute values), over comments, and over `@load`, `@if` and other
//! directive lines; of an `@if … @else … @endif`, the conditions are not
//! evaluated and the first branch is read. Anything else at the top level
//! (a `print` statement, say) is a syntax error. Errors name the file, line
//! and column:
//!
//! ```
//! let err = zeek_script::parse("site.zeek", "module Site;\ntype Info: record { n count; };")
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "site.zeek:2:23: expected `:` after the name, found `count`");
//! ```
//!
//! [`parse`] gives the declarations of one file in order ([`Script`]);
//! [`Declarations`] merges files, applies `redef` extensions and resolves
//! names and aliases:
//!
//! ```
//! use zeek_script::{Declarations, Type};
//!
//! let decls = Declarations::parse(
//!     "notice.zeek",
//!     "module Notice;
//!      export {
//!          type Action: enum { ACTION_NONE, ACTION_LOG };
//!          type ActionSet: set[Notice::Action];
//!          type Info: record { note: string; actions: ActionSet &default=ActionSet(); };
//!      }
//!      redef record Info += { extra: count &optional; };",
//! )
//! .unwrap();
//! let info = decls.record("Notice::Info").unwrap();
//! let fields: Vec<String> = info.fields.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect();
//! assert_eq!(fields, ["note: string", "actions: set[Notice::Action]", "extra: count"]);
//! ```
//!
//! The parser is fuzzed (`fuzz/fuzz_targets/zeek_script.rs` in broker-rs):
//! any input gives a value or an error, never a panic, and nesting is
//! bounded.

mod ast;
mod decls;
mod error;
mod parser;

use std::path::Path;

pub use ast::{Attribute, Field, GLOBAL, GlobalKind, Item, Location, Script, Type, full_name};
pub use decls::{Declarations, Enum, Event, Global, Record, TypeKind, nearest};
pub use error::{Error, ParseError, ResolveError};

/// Parses the script `source`, naming it `file` in locations and errors.
pub fn parse(file: &str, source: &str) -> Result<Script, ParseError> {
    parser::parse(file, source)
}

/// Reads, parses and resolves the files at `paths`, in order (as Zeek would
/// `@load` them); locations name each file as its path is written.
pub fn load<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Declarations, Error> {
    let mut scripts = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        scripts.push(parse(&path.display().to_string(), &source)?);
    }
    Ok(Declarations::resolve(scripts)?)
}
