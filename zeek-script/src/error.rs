//! The errors: a syntax error, a declaration that contradicts another, a
//! file that cannot be read.

use std::path::PathBuf;

use crate::ast::Location;

/// A syntax error, at the place where the parser gave up.
///
/// Its `Display` is `file:line:column: message`, as compilers print it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ParseError {
    /// Where the parse failed.
    pub location: Location,
    /// What was expected there and what was found.
    pub message: String,
}

/// Declarations that parse but contradict each other (a type declared
/// twice, an alias that refers to itself, …).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ResolveError {
    /// The offending declaration.
    pub location: Location,
    /// What is wrong, naming the other declaration's location if any.
    pub message: String,
}

/// Why [`load`](crate::load) or [`Declarations::parse`](crate::Declarations::parse) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A syntax error.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Contradicting declarations.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}
