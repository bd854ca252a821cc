//! The parser: winnow combinators over a [`LocatingSlice`], so every error
//! and every declaration knows its byte offset, turned into line and column
//! at the end.
//!
//! Declarations are parsed; everything else a script may hold at the top
//! level (function, event and hook bodies, `redef`s of values,
//! initializers, attribute values) is skipped by [`skip`], which balances
//! brackets and steps over strings, comments and `/pattern/` literals.

use winnow::combinator::{alt, cut_err, opt, peek, preceded};
use winnow::error::{AddContext, ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location as _, Offset as _, Stream};
use winnow::token::{any, literal, none_of, one_of, take_till, take_while};

use crate::ast::{Attribute, Field, GlobalKind, Item, Location, Script, Type, full_name};
use crate::error::ParseError;

/// The stream: the rest of the file, knowing its offset from the start.
type Input<'a> = LocatingSlice<&'a str>;

/// A parse result; `Cut` errors stop the whole parse.
type PResult<T> = Result<T, ErrMode<Fail>>;

/// How deeply types (`vector of vector of …`) and skipped brackets may nest.
pub(crate) const MAX_DEPTH: usize = 64;

/// Parses `source`, naming it `file` in locations and errors.
pub(crate) fn parse(file: &str, source: &str) -> Result<Script, ParseError> {
    let mut parser = FileParser {
        file,
        lines: LineIndex::new(source),
        module: crate::ast::GLOBAL.to_owned(),
    };
    let mut input = LocatingSlice::new(source);
    match parser.items(&mut input, false) {
        Ok(items) => Ok(Script {
            file: file.to_owned(),
            items,
        }),
        Err(ErrMode::Backtrack(fail) | ErrMode::Cut(fail)) => Err(parser.error(source, &fail)),
        // `Incomplete` needs a partial stream; ours is complete.
        Err(ErrMode::Incomplete(_)) => Err(parser.error(
            source,
            &Fail {
                offset: source.len(),
                expected: None,
            },
        )),
    }
}

/// Where the parse failed and what it expected there.
#[derive(Debug)]
pub(crate) struct Fail {
    offset: usize,
    expected: Option<&'static str>,
}

impl<'a> ParserError<Input<'a>> for Fail {
    type Inner = Self;

    fn from_input(input: &Input<'a>) -> Self {
        Fail {
            offset: input.current_token_start(),
            expected: None,
        }
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }

    /// Of two failed alternatives, the one that got further explains more.
    fn or(self, other: Self) -> Self {
        if other.offset >= self.offset {
            other
        } else {
            self
        }
    }
}

impl<'a> AddContext<Input<'a>, &'static str> for Fail {
    /// The innermost description wins: it is the most precise.
    fn add_context(
        mut self,
        _input: &Input<'a>,
        _start: &<Input<'a> as Stream>::Checkpoint,
        expected: &'static str,
    ) -> Self {
        self.expected.get_or_insert(expected);
        self
    }
}

/// A failure at the current position that stops the parse.
fn cut<T>(input: &Input<'_>, expected: &'static str) -> PResult<T> {
    Err(ErrMode::Cut(Fail {
        offset: input.current_token_start(),
        expected: Some(expected),
    }))
}

/// The per-file state: the module in force and the line index.
struct FileParser<'f, 's> {
    file: &'f str,
    lines: LineIndex<'s>,
    module: String,
}

impl FileParser<'_, '_> {
    /// Declarations until the end of the file, or until the `}` that closes
    /// an `export {` block.
    fn items(&mut self, i: &mut Input<'_>, in_export: bool) -> PResult<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            ws(i)?;
            match i.peek_token() {
                None if in_export => return cut(i, "`}` to close `export {`"),
                None => return Ok(items),
                Some('}') if in_export => {
                    any.parse_next(i)?;
                    return Ok(items);
                }
                Some(';') => {
                    any.parse_next(i)?;
                    continue;
                }
                Some(_) => {}
            }
            let start = i.checkpoint();
            let word = cut_err(ident).context(DECLARATION).parse_next(i)?;
            match word {
                "module" if !in_export => {
                    ws(i)?;
                    self.module = cut_err(name).context("a module name").parse_next(i)?;
                    expect(i, ";", "`;` after the module name")?;
                }
                "export" if !in_export => {
                    expect(i, "{", "`{` after `export`")?;
                    items.extend(self.items(i, true)?);
                }
                "type" => items.push(self.type_decl(i)?),
                "redef" => items.extend(self.redef(i)?),
                "global" => items.push(self.global(i, GlobalKind::Global)?),
                "const" => items.push(self.global(i, GlobalKind::Const)?),
                "option" => items.push(self.global(i, GlobalKind::Option)?),
                "event" | "function" | "hook" => skip_definition(i)?,
                _ => {
                    i.reset(&start);
                    return cut(i, DECLARATION);
                }
            }
        }
    }

    /// `type N: record { … };`, `type N: enum { … };` or `type N: T;`.
    fn type_decl(&mut self, i: &mut Input<'_>) -> PResult<Item> {
        ws(i)?;
        let (name, location) = self.declared_name(i, "a type name")?;
        expect(i, ":", "`:` after the type name")?;
        ws(i)?;
        let module = self.module.clone();
        let item = if keyword_then(i, "record", '{')? {
            let fields = self.fields(i)?;
            Item::Record {
                name,
                fields,
                module,
                location,
            }
        } else if keyword_then(i, "enum", '{')? {
            let values = self.enum_values(i)?;
            Item::Enum {
                name,
                values,
                module,
                location,
            }
        } else {
            let ty = self.ty(i, 0)?;
            Item::Alias {
                name,
                ty,
                module,
                location,
            }
        };
        attributes(i)?;
        expect(i, ";", "`;` after the type declaration")?;
        Ok(item)
    }

    /// `redef record N += { … };`, `redef enum N += { … };`, or any other
    /// `redef …;`, which is skipped.
    fn redef(&mut self, i: &mut Input<'_>) -> PResult<Option<Item>> {
        ws(i)?;
        let start = i.checkpoint();
        let word = opt(ident).parse_next(i)?;
        let module = self.module.clone();
        match word {
            Some("record") => {
                ws(i)?;
                let location = self.location(i);
                let target = cut_err(name).context("a record type name").parse_next(i)?;
                ws(i)?;
                if opt(literal("+=")).parse_next(i)?.is_none() {
                    // `redef record R$field -= &log;` and the like.
                    skip_statement(i)?;
                    return Ok(None);
                }
                expect(i, "{", "`{` after `+=`")?;
                let fields = self.fields(i)?;
                attributes(i)?;
                expect(i, ";", "`;` after the record extension")?;
                Ok(Some(Item::RedefRecord {
                    target,
                    fields,
                    module,
                    location,
                }))
            }
            Some("enum") => {
                ws(i)?;
                let location = self.location(i);
                let target = cut_err(name).context("an enum type name").parse_next(i)?;
                expect(i, "+=", "`+=` after the enum type name")?;
                expect(i, "{", "`{` after `+=`")?;
                let values = self.enum_values(i)?;
                attributes(i)?;
                expect(i, ";", "`;` after the enum extension")?;
                Ok(Some(Item::RedefEnum {
                    target,
                    values,
                    module,
                    location,
                }))
            }
            _ => {
                i.reset(&start);
                skip_statement(i)?;
                Ok(None)
            }
        }
    }

    /// `global n: T = init &attrs;` (and `const`, `option`); an `event(…)`
    /// type makes an event declaration.
    fn global(&mut self, i: &mut Input<'_>, kind: GlobalKind) -> PResult<Item> {
        ws(i)?;
        let (name, location) = self.declared_name(i, "an identifier")?;
        ws(i)?;
        let module = self.module.clone();
        let mut ty = None;
        if opt(':').parse_next(i)?.is_some() {
            ws(i)?;
            if kind == GlobalKind::Global && keyword_then(i, "event", '(')? {
                let params = self.params(i)?;
                attributes(i)?;
                expect(i, ";", "`;` after the event declaration")?;
                return Ok(Item::Event {
                    name,
                    params,
                    module,
                    location,
                });
            }
            ty = Some(self.ty(i, 0)?);
            ws(i)?;
        }
        if opt(alt(("=", "+=", "-="))).parse_next(i)?.is_some() {
            skip_expression(i)?;
        } else if ty.is_none() {
            return cut(i, "`:` and a type, or `=` and an initial value");
        }
        let attributes = attributes(i)?;
        expect(i, ";", "`;` after the declaration")?;
        Ok(Item::Global {
            name,
            kind,
            ty,
            attributes,
            module,
            location,
        })
    }

    /// A record body after its `{`: `name: T &attrs;` up to `}`.
    fn fields(&mut self, i: &mut Input<'_>) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            ws(i)?;
            if opt('}').parse_next(i)?.is_some() {
                return Ok(fields);
            }
            let field = self.field(i, "a field name or `}`")?;
            expect(i, ";", "`;` after the field")?;
            fields.push(field);
        }
    }

    /// A parameter list after its `(`: `name: T, …` up to `)` (Zeek also
    /// accepts `;` between parameters).
    fn params(&mut self, i: &mut Input<'_>) -> PResult<Vec<Field>> {
        let mut params = Vec::new();
        ws(i)?;
        if opt(')').parse_next(i)?.is_some() {
            return Ok(params);
        }
        loop {
            params.push(self.field(i, "a parameter name")?);
            ws(i)?;
            match cut_err(one_of([',', ';', ')']))
                .context("`,` or `)` after the parameter")
                .parse_next(i)?
            {
                ')' => return Ok(params),
                _ => ws(i)?,
            }
        }
    }

    /// `name: T &attrs` (a field or a parameter).
    fn field(&mut self, i: &mut Input<'_>, what: &'static str) -> PResult<Field> {
        ws(i)?;
        let location = self.location(i);
        let name = cut_err(ident).context(what).parse_next(i)?.to_owned();
        expect(i, ":", "`:` after the name")?;
        let ty = self.ty(i, 0)?;
        let attributes = attributes(i)?;
        Ok(Field {
            name,
            ty,
            attributes,
            location,
        })
    }

    /// An enum body after its `{`: `A, B = 3, C` with an optional trailing
    /// comma, up to `}`; the values qualified by the module in force.
    fn enum_values(&mut self, i: &mut Input<'_>) -> PResult<Vec<(String, Location)>> {
        let mut values = Vec::new();
        loop {
            ws(i)?;
            if opt('}').parse_next(i)?.is_some() {
                return Ok(values);
            }
            let (value, location) = self.declared_name(i, "an enum value or `}`")?;
            values.push((value, location));
            ws(i)?;
            if opt('=').parse_next(i)?.is_some() {
                ws(i)?;
                cut_err(take_while(1.., |c: char| c.is_ascii_alphanumeric()))
                    .context("a number after `=`")
                    .parse_next(i)?;
                ws(i)?;
            }
            if opt(',').parse_next(i)?.is_none() {
                expect(i, "}", "`,` or `}` after the enum value")?;
                return Ok(values);
            }
        }
    }

    /// A type; `depth` counts the enclosing types.
    fn ty(&mut self, i: &mut Input<'_>, depth: usize) -> PResult<Type> {
        ws(i)?;
        if depth >= MAX_DEPTH {
            return cut(i, "a less deeply nested type");
        }
        let start = i.checkpoint();
        let word = cut_err(name).context("a type").parse_next(i)?;
        let ty = match word.as_str() {
            "vector" => {
                expect_keyword(i, "of", "`of` after `vector`")?;
                Type::Vector(Box::new(self.ty(i, depth + 1)?))
            }
            "set" => {
                expect(i, "[", "`[` after `set`")?;
                Type::Set(self.index(i, depth)?)
            }
            "table" => {
                expect(i, "[", "`[` after `table`")?;
                let index = self.index(i, depth)?;
                expect_keyword(i, "of", "`of` after the table index")?;
                Type::Table(index, Box::new(self.ty(i, depth + 1)?))
            }
            "event" | "hook" | "function" => {
                expect(i, "(", "`(` after the keyword")?;
                self.params(i)?;
                if word == "function" {
                    ws(i)?;
                    if opt(':').parse_next(i)?.is_some() {
                        self.ty(i, depth + 1)?;
                    }
                }
                other(i, &start)
            }
            "file" => {
                ws(i)?;
                if opt(keyword("of")).parse_next(i)?.is_some() {
                    self.ty(i, depth + 1)?;
                }
                other(i, &start)
            }
            "opaque" => {
                expect_keyword(i, "of", "`of` after `opaque`")?;
                ws(i)?;
                cut_err(ident)
                    .context("an opaque type name")
                    .parse_next(i)?;
                other(i, &start)
            }
            "record" => {
                expect(i, "{", "`{` after `record`")?;
                self.fields(i)?;
                other(i, &start)
            }
            "enum" => {
                expect(i, "{", "`{` after `enum`")?;
                self.enum_values(i)?;
                other(i, &start)
            }
            "void" => Type::Other(word),
            _ => Type::basic(&word).unwrap_or(Type::Named(word)),
        };
        Ok(ty)
    }

    /// The types of a `set[…]` or `table[…]` index, after the `[`, up to `]`.
    fn index(&mut self, i: &mut Input<'_>, depth: usize) -> PResult<Vec<Type>> {
        let mut types = vec![self.ty(i, depth + 1)?];
        loop {
            ws(i)?;
            match cut_err(one_of([',', ']']))
                .context("`,` or `]` in the index")
                .parse_next(i)?
            {
                ']' => return Ok(types),
                _ => types.push(self.ty(i, depth + 1)?),
            }
        }
    }

    /// A name being declared, qualified by the module in force, and where
    /// it is.
    fn declared_name(
        &mut self,
        i: &mut Input<'_>,
        what: &'static str,
    ) -> PResult<(String, Location)> {
        ws(i)?;
        let location = self.location(i);
        let written = cut_err(name).context(what).parse_next(i)?;
        Ok((full_name(&self.module, &written), location))
    }

    /// The location of the next token.
    fn location(&self, i: &Input<'_>) -> Location {
        let (line, column) = self.lines.position(i.current_token_start());
        Location {
            file: self.file.to_owned(),
            line,
            column,
        }
    }

    /// The error for `fail`: its location and what was expected there.
    fn error(&self, source: &str, fail: &Fail) -> ParseError {
        let offset = fail.offset.min(source.len());
        let (line, column) = self.lines.position(offset);
        let found = describe(source.get(offset..).unwrap_or(""));
        let message = match fail.expected {
            Some(expected) => format!("expected {expected}, found {found}"),
            None => format!("unexpected {found}"),
        };
        ParseError {
            location: Location {
                file: self.file.to_owned(),
                line,
                column,
            },
            message,
        }
    }
}

/// What the top level accepts, for errors.
const DECLARATION: &str = "a declaration (`module`, `export`, `type`, `redef`, `global`, `const`, \
                           `option`, or an `event`, `function` or `hook` body)";

/// `Type::Other` with the source text from `start`, whitespace collapsed.
fn other<'a>(i: &mut Input<'a>, start: &<Input<'a> as Stream>::Checkpoint) -> Type {
    let end = i.checkpoint();
    i.reset(start);
    let len = end.offset_from(start);
    let text = i.next_slice(len);
    Type::Other(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `&name` or `&name = value`, any number, the values skipped.
fn attributes(i: &mut Input<'_>) -> PResult<Vec<Attribute>> {
    let mut attributes = Vec::new();
    loop {
        ws(i)?;
        if opt(('&', peek(one_of(is_ident_start))))
            .parse_next(i)?
            .is_none()
        {
            return Ok(attributes);
        }
        let name = ident.parse_next(i)?.to_owned();
        ws(i)?;
        let value = if opt(('=', peek(none_of('=')))).parse_next(i)?.is_some() {
            // The `=` was consumed; the peeked character was not.
            Some(skip_expression(i)?.trim().to_owned())
        } else {
            None
        };
        attributes.push(Attribute { name, value });
    }
}

/// Skips whitespace, `#` comments and `@` directive lines. The lines of an
/// `@else` branch are skipped up to its `@endif`: conditions are not
/// evaluated, the first branch is read.
fn ws(i: &mut Input<'_>) -> PResult<()> {
    loop {
        take_while(0.., char::is_whitespace).parse_next(i)?;
        match i.peek_token() {
            Some('#') => {
                take_till(0.., '\n').parse_next(i)?;
            }
            Some('@') => {
                let directive = preceded('@', take_while(0.., is_ident_char)).parse_next(i)?;
                take_till(0.., '\n').parse_next(i)?;
                if directive == "else" {
                    skip_else_branch(i)?;
                }
            }
            _ => return Ok(()),
        }
    }
}

/// The lines after `@else` up to and including the matching `@endif`.
fn skip_else_branch(i: &mut Input<'_>) -> PResult<()> {
    let mut depth = 0usize;
    loop {
        if i.peek_token().is_none() {
            return cut(i, "`@endif` after `@else`");
        }
        let line = take_till(0.., '\n').parse_next(i)?;
        opt('\n').parse_next(i)?;
        let word = line
            .trim_start()
            .strip_prefix('@')
            .map(|rest| rest.split(|c: char| !is_ident_char(c)).next().unwrap_or(""));
        match word {
            Some("if" | "ifdef" | "ifndef") => depth += 1,
            Some("endif") if depth == 0 => return Ok(()),
            Some("endif") => depth -= 1,
            _ => {}
        }
    }
}

/// An identifier: a letter or `_`, then letters, digits and `_`.
fn ident<'a>(i: &mut Input<'a>) -> PResult<&'a str> {
    (one_of(is_ident_start), take_while(0.., is_ident_char))
        .take()
        .parse_next(i)
}

/// A possibly qualified name: `x`, `A::x`, `::x`, `GLOBAL::x`.
fn name(i: &mut Input<'_>) -> PResult<String> {
    (
        opt(("::", peek(one_of(is_ident_start)))),
        ident,
        winnow::combinator::repeat::<_, _, (), _, _>(
            0..,
            ("::", peek(one_of(is_ident_start)), ident),
        ),
    )
        .take()
        .map(str::to_owned)
        .parse_next(i)
}

/// The keyword `word`, not followed by an identifier character.
fn keyword<'a>(word: &'static str) -> impl Parser<Input<'a>, &'a str, ErrMode<Fail>> {
    (literal(word), peek(opt(one_of(is_ident_char))))
        .verify(|(_, next)| next.is_none())
        .map(|(word, _)| word)
}

/// Consumes keyword `word` and an opening `open` after it, if both are
/// there; else consumes nothing.
fn keyword_then(i: &mut Input<'_>, word: &'static str, open: char) -> PResult<bool> {
    let start = i.checkpoint();
    if opt(keyword(word)).parse_next(i)?.is_some() {
        ws(i)?;
        if opt(open).parse_next(i)?.is_some() {
            return Ok(true);
        }
    }
    i.reset(&start);
    Ok(false)
}

/// Whitespace, then the literal `token`, else a cut error.
fn expect(i: &mut Input<'_>, token: &'static str, what: &'static str) -> PResult<()> {
    ws(i)?;
    cut_err(literal(token)).context(what).void().parse_next(i)
}

/// Whitespace, then the keyword `word`, else a cut error.
fn expect_keyword(i: &mut Input<'_>, word: &'static str, what: &'static str) -> PResult<()> {
    ws(i)?;
    cut_err(keyword(word)).context(what).void().parse_next(i)
}

/// `name(…) …{ … }` after `event`, `function` or `hook` at the top level:
/// a handler or function body, skipped.
fn skip_definition(i: &mut Input<'_>) -> PResult<()> {
    ws(i)?;
    cut_err(name).context("a name").parse_next(i)?;
    expect(i, "(", "`(` after the name")?;
    skip(i, Stop::Close)?;
    expect(i, ")", "`)` after the parameters")?;
    // A return type and attributes, up to the body.
    skip(i, Stop::OpenBrace)?;
    expect(i, "{", "`{` to open the body")?;
    skip(i, Stop::Close)?;
    expect(i, "}", "`}` to close the body")
}

/// Skips an expression up to a `;`, `,`, closing bracket or attribute at
/// its own level; fails if it is empty.
fn skip_expression<'a>(i: &mut Input<'a>) -> PResult<&'a str> {
    ws(i)?;
    let start = i.checkpoint();
    skip(i, Stop::Expression)?;
    let len = i.checkpoint().offset_from(&start);
    if len == 0 {
        return cut(i, "an expression");
    }
    i.reset(&start);
    Ok(i.next_slice(len))
}

/// Skips a statement up to and including its `;`.
fn skip_statement(i: &mut Input<'_>) -> PResult<()> {
    skip(i, Stop::Semicolon)?;
    expect(i, ";", "`;` to end the statement")
}

/// Where [`skip`] stops (at its own bracket level; the stop character is
/// not consumed). Every mode also stops before a closing bracket it did not
/// open and at the end of the input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Before `;`, `,` or an attribute (`&name`).
    Expression,
    /// Before `;`.
    Semicolon,
    /// Before `{`.
    OpenBrace,
    /// Only before an unopened closing bracket.
    Close,
}

/// Steps over source text, keeping brackets balanced and stepping over
/// string literals, `# comments` and `/pattern/` literals (a `/` starts a
/// pattern where an operand is expected: at the start or after an operator
/// or opening bracket). Fails on a mismatched bracket, an unterminated
/// literal, or brackets nested deeper than [`MAX_DEPTH`].
fn skip(i: &mut Input<'_>, stop: Stop) -> PResult<()> {
    let mut open: Vec<char> = Vec::new();
    // The last character that was not whitespace or a comment.
    let mut last: Option<char> = None;
    while let Some(c) = i.peek_token() {
        let top = open.is_empty();
        match c {
            ';' | ',' if top && stop == Stop::Expression => return Ok(()),
            ';' if top && stop == Stop::Semicolon => return Ok(()),
            '{' if top && stop == Stop::OpenBrace => return Ok(()),
            '&' if top && stop == Stop::Expression && last != Some('&') => {
                let rest: &str = i;
                if rest.chars().nth(1).is_some_and(is_ident_start) {
                    return Ok(());
                }
                any.parse_next(i)?;
            }
            '(' | '[' | '{' => {
                if open.len() >= MAX_DEPTH {
                    return cut(i, "less deeply nested brackets");
                }
                open.push(c);
                any.parse_next(i)?;
            }
            ')' | ']' | '}' => {
                let Some(opened) = open.pop() else {
                    return Ok(());
                };
                if closing(opened) != c {
                    return cut(
                        i,
                        match opened {
                            '(' => "`)`",
                            '[' => "`]`",
                            _ => "`}`",
                        },
                    );
                }
                any.parse_next(i)?;
            }
            '"' => string_literal(i)?,
            '#' => {
                take_till(0.., '\n').parse_next(i)?;
                continue;
            }
            '/' if last.is_none_or(|l| "=(,{[|&!?:+-*%<>~".contains(l)) => {
                pattern_literal(i)?;
            }
            c if c.is_whitespace() => {
                any.parse_next(i)?;
                continue;
            }
            _ => {
                any.parse_next(i)?;
            }
        }
        last = Some(c);
    }
    if let Some(opened) = open.last() {
        return cut(
            i,
            match opened {
                '(' => "`)` before the end of the file",
                '[' => "`]` before the end of the file",
                _ => "`}` before the end of the file",
            },
        );
    }
    Ok(())
}

/// The closing bracket of `open`.
fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// `"…"` with `\` escapes.
fn string_literal(i: &mut Input<'_>) -> PResult<()> {
    '"'.parse_next(i)?;
    loop {
        match i.peek_token() {
            None => return cut(i, "`\"` to end the string"),
            Some('"') => {
                any.parse_next(i)?;
                return Ok(());
            }
            Some('\\') => {
                any.parse_next(i)?;
                opt(any).parse_next(i)?;
            }
            Some(_) => {
                take_till(1.., ['"', '\\']).parse_next(i)?;
            }
        }
    }
}

/// `/…/` with `\` escapes and an optional `i` flag.
fn pattern_literal(i: &mut Input<'_>) -> PResult<()> {
    '/'.parse_next(i)?;
    loop {
        match i.peek_token() {
            None | Some('\n') => return cut(i, "`/` to end the pattern"),
            Some('/') => {
                any.parse_next(i)?;
                opt('i').parse_next(i)?;
                return Ok(());
            }
            Some('\\') => {
                any.parse_next(i)?;
                opt(none_of('\n')).parse_next(i)?;
            }
            Some(_) => {
                take_till(1.., ['/', '\\', '\n']).parse_next(i)?;
            }
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The next token of `rest`, for "found …" in errors.
fn describe(rest: &str) -> String {
    let rest = rest.trim_start_matches([' ', '\t']);
    let Some(first) = rest.chars().next() else {
        return "the end of the file".to_owned();
    };
    if first == '\n' || first == '\r' {
        return "the end of the line".to_owned();
    }
    let token = if is_ident_char(first) {
        // A name, with its `::` parts.
        let mut end = 0;
        loop {
            end += rest[end..]
                .find(|c: char| !is_ident_char(c))
                .unwrap_or(rest.len() - end);
            let after = &rest[end..];
            if after.starts_with("::") && after[2..].starts_with(is_ident_char) {
                end += 2;
            } else {
                break;
            }
        }
        rest[..end].chars().take(40).collect()
    } else {
        first.to_string()
    };
    format!("`{token}`")
}

/// Byte offsets of line starts, for offsets → line and column.
struct LineIndex<'s> {
    starts: Vec<usize>,
    source: &'s str,
}

impl<'s> LineIndex<'s> {
    fn new(source: &'s str) -> LineIndex<'s> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts, source }
    }

    /// 1-based line and character column of byte `offset`.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(exact) => exact,
            Err(next) => next - 1,
        };
        let start = self.starts[line];
        let column = self
            .source
            .get(start..offset)
            .map_or(0, |text| text.chars().count());
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(column + 1).unwrap_or(u32::MAX),
        )
    }
}
