//! The declaration subset, construct by construct, and where errors point.

use zeek_script::{Declarations, GlobalKind, Item, Type, TypeKind, parse};

fn decls(source: &str) -> Declarations {
    Declarations::parse("t.zeek", source).unwrap_or_else(|e| panic!("{e}"))
}

/// `file:line:col: message` of a script that must not parse.
fn error(source: &str) -> String {
    match Declarations::parse("t.zeek", source) {
        Ok(d) => panic!("parsed: {d:?}"),
        Err(e) => e.to_string(),
    }
}

fn field_types(d: &Declarations, record: &str) -> Vec<String> {
    d.record(record)
        .unwrap_or_else(|| panic!("no record {record}"))
        .fields
        .iter()
        .map(|f| {
            let optional = if f.is_optional() { " &optional" } else { "" };
            format!("{}: {}{optional}", f.name, f.ty)
        })
        .collect()
}

#[test]
fn every_basic_and_container_type_parses() {
    let d = decls(
        "type R: record {
            a: bool; b: count; c: int; d: double; e: time; f: interval;
            g: string; h: addr; i: subnet; j: port; k: any; l: pattern;
            m: vector of string; n: set[addr]; o: set[addr, port];
            p: table[string] of count; q: table[addr, port] of vector of set[string];
            r: vector of vector of count;
         };",
    );
    assert_eq!(
        field_types(&d, "R"),
        [
            "a: bool",
            "b: count",
            "c: int",
            "d: double",
            "e: time",
            "f: interval",
            "g: string",
            "h: addr",
            "i: subnet",
            "j: port",
            "k: any",
            "l: pattern",
            "m: vector of string",
            "n: set[addr]",
            "o: set[addr, port]",
            "p: table[string] of count",
            "q: table[addr, port] of vector of set[string]",
            "r: vector of vector of count",
        ]
    );
    let r = d.record("R").unwrap();
    assert_eq!(
        r.fields[16].ty,
        Type::Table(
            vec![Type::Addr, Type::Port],
            Box::new(Type::Vector(Box::new(Type::Set(vec![Type::String]))))
        )
    );
}

#[test]
fn module_and_export_qualify_declared_names() {
    let d = decls(
        "module Site;
         export {
             type Info: record { n: count; };
             type Level: enum { LOW, HIGH };
             global alarm: event(i: Info);
             global threshold: count &redef;
         }
         type Private: record { x: count; };
         global helper: event();",
    );
    assert!(d.record("Site::Info").is_some());
    assert!(
        d.record("Site::Private").is_some(),
        "not exported, still qualified"
    );
    assert_eq!(
        d.enum_type("Site::Level")
            .unwrap()
            .values
            .iter()
            .map(|(v, _)| v.as_str())
            .collect::<Vec<_>>(),
        ["Site::LOW", "Site::HIGH"]
    );
    assert!(d.event("Site::alarm").is_some());
    assert!(d.event("Site::helper").is_some());
    assert_eq!(d.global("Site::threshold").unwrap().ty, Some(Type::Count));
    assert!(d.event("alarm").is_none());
}

#[test]
fn global_module_and_qualified_names_follow_zeek() {
    let d = decls(
        "module Site;
         type GLOBAL::conn_like: record { x: count; };
         type Other::Thing: record { y: count; };
         module GLOBAL;
         type plain: record { z: count; };
         global Site::later: event(p: plain);",
    );
    assert!(d.record("conn_like").is_some());
    assert!(d.record("Other::Thing").is_some());
    assert!(d.record("plain").is_some());
    assert!(d.event("Site::later").is_some());
}

#[test]
fn module_names_may_be_qualified() {
    let d = decls(
        "module Management;
         export { type Result: record { reqid: string; }; }
         module Management::Controller::API;
         export {
             type Local: record { n: count; };
             global get_instances_response: event(reqid: string, result: Management::Result, l: Local);
         }",
    );
    let event = d
        .event("Management::Controller::API::get_instances_response")
        .unwrap();
    assert_eq!(event.params[1].ty, Type::Named("Management::Result".into()));
    assert_eq!(
        event.params[2].ty,
        Type::Named("Management::Controller::API::Local".into())
    );
}

#[test]
fn type_references_resolve_module_first_then_global() {
    let d = decls(
        "type Info: record { g: count; };
         type shared: record { s: count; };
         module Site;
         type Info: record { l: count; };
         global e: event(a: Info, b: shared, c: GLOBAL::Info, d: conn_id, e: Notice::Info);",
    );
    let names: Vec<String> = d
        .event("Site::e")
        .unwrap()
        .params
        .iter()
        .map(|p| p.ty.to_string())
        .collect();
    // `Info` is Site::Info (declared in the module), `shared` is global,
    // `GLOBAL::Info` the global one, undeclared names stay global or as
    // qualified.
    assert_eq!(
        names,
        ["Site::Info", "shared", "Info", "conn_id", "Notice::Info"]
    );
    assert_eq!(d.kind("Site::Info"), Some(TypeKind::Record));
    assert_eq!(d.kind("conn_id"), None);
}

#[test]
fn enums_take_trailing_commas_explicit_values_and_doc_comments() {
    let d = decls(
        "module Management;
         type Role: enum {
             NONE,       ##< no role
             AGENT = 3,  ##< an agent
             CONTROLLER, ##< the controller
         };",
    );
    let values: Vec<&str> = d
        .enum_type("Management::Role")
        .unwrap()
        .values
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(
        values,
        [
            "Management::NONE",
            "Management::AGENT",
            "Management::CONTROLLER"
        ]
    );
}

#[test]
fn redef_record_and_enum_append_in_order() {
    let d = decls(
        "module Notice;
         export {
             type Type: enum { Tally };
             type Info: record { note: Type; };
         }
         module Site;
         redef enum Notice::Type += { Scan, Sweep, };
         redef record Notice::Info += { extra: count &optional; more: string &default=\"x\"; };
         redef record Conn::Info += { tag: string &optional &log; };",
    );
    let values: Vec<&str> = d
        .enum_type("Notice::Type")
        .unwrap()
        .values
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(values, ["Notice::Tally", "Site::Scan", "Site::Sweep"]);
    assert_eq!(
        field_types(&d, "Notice::Info"),
        [
            "note: Notice::Type",
            "extra: count &optional",
            "more: string"
        ]
    );
    // Only extended here: kept, marked as not declared.
    let conn = d.record("Conn::Info").unwrap();
    assert!(conn.location.is_none());
    assert_eq!(field_types(&d, "Conn::Info"), ["tag: string &optional"]);
}

#[test]
fn globals_consts_and_options_with_initializers_and_attributes() {
    let d = decls(
        "module Site;
         export {
             global threshold: count = 25 &redef;
             const nets: set[subnet] = { 10.0.0.0/8, 192.168.0.0/16 } &redef;
             option pattern_opt: pattern = /a;b\\/c/i;
             option untyped = 1hrs;
             const mail_dest = \"\" &redef;
             global tbl: table[string, count] of time = {} &create_expire=0secs &expire_func=f;
             global cb: function(a: count, b: string): bool;
             global h: hook(n: count);
         }",
    );
    let threshold = d.global("Site::threshold").unwrap();
    assert_eq!(threshold.kind, GlobalKind::Global);
    assert_eq!(threshold.ty, Some(Type::Count));
    assert_eq!(threshold.attributes[0].name, "redef");
    let nets = d.global("Site::nets").unwrap();
    assert_eq!(nets.kind, GlobalKind::Const);
    assert_eq!(nets.ty, Some(Type::Set(vec![Type::Subnet])));
    assert_eq!(
        d.global("Site::pattern_opt").unwrap().kind,
        GlobalKind::Option
    );
    assert_eq!(d.global("Site::untyped").unwrap().ty, None);
    assert_eq!(d.global("Site::mail_dest").unwrap().ty, None);
    let tbl = d.global("Site::tbl").unwrap();
    assert_eq!(
        tbl.ty.as_ref().unwrap().to_string(),
        "table[string, count] of time"
    );
    let names: Vec<(&str, Option<&str>)> = tbl
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_deref()))
        .collect();
    assert_eq!(
        names,
        [("create_expire", Some("0secs")), ("expire_func", Some("f"))]
    );
    assert_eq!(
        d.global("Site::cb").unwrap().ty,
        Some(Type::Other("function(a: count, b: string): bool".into()))
    );
    assert_eq!(
        d.global("Site::h").unwrap().ty,
        Some(Type::Other("hook(n: count)".into()))
    );
}

#[test]
fn events_take_commas_or_semicolons_and_attributes() {
    let d = decls(
        "global a: event();
         global b: event(x: count; y: string);
         global c: event(x: count &default=3, y: vector of addr) &deprecated=\"use d\";",
    );
    assert!(d.event("a").unwrap().params.is_empty());
    assert_eq!(d.event("b").unwrap().params.len(), 2);
    let c = d.event("c").unwrap();
    assert_eq!(c.params[1].ty, Type::Vector(Box::new(Type::Addr)));
    assert!(c.params[0].has_attribute("default"));
}

#[test]
fn aliases_are_replaced_by_their_definition() {
    let d = decls(
        "module Notice;
         type Action: enum { ACTION_LOG };
         type ActionSet: set[Notice::Action];
         type Sets: vector of ActionSet;
         type Info: record { actions: ActionSet; all: Sets; };",
    );
    assert_eq!(
        field_types(&d, "Notice::Info"),
        [
            "actions: set[Notice::Action]",
            "all: vector of set[Notice::Action]"
        ]
    );
    assert_eq!(
        d.alias("Notice::Sets").unwrap().to_string(),
        "vector of set[Notice::Action]"
    );
    assert_eq!(d.kind("Notice::ActionSet"), None);
}

#[test]
fn bodies_comments_directives_and_value_redefs_are_skipped() {
    let d = decls(
        r#"##! A module doc comment.
@load base/frameworks/notice
@load-sigs ./sigs
@if ( Version::at_least("6.0") )
type InFirstBranch: record { a: count; };
@else
type InFirstBranch: record { b: count; };  # not read: first branch only
@if ( T )
@endif
@endif
module Site;

# A comment with { braces ( and "quotes
redef Site::local_nets += { 10.0.0.0/8 };
redef record Conn::Info$history -= &log;
redef Log::default_rotation_interval = 1hr;

event zeek_init() &priority=5
    {
    local s = "}{ \" ;";
    local p = /}[{]/;
    if ( /x}/ in s ) print "{";   # }
    local t: table[count] of string = { [1] = "a" };
    }

function f(a: count): table[string] of count
    {
    return table(["}"] = a / 2);
    }

hook Notice::policy(n: Notice::Info) { }

;;
export { global after: event(n: count); }
"#,
    );
    assert_eq!(d.record("InFirstBranch").unwrap().fields[0].name, "a");
    assert!(d.event("Site::after").is_some());
}

#[test]
fn scripts_merge_in_order_and_locations_name_their_file() {
    let base = parse(
        "base.zeek",
        "module Site;\nexport { type Info: record { a: count; }; }",
    )
    .unwrap();
    let site = parse(
        "site.zeek",
        "module Site;\n\nredef record Info += { b: string &optional; };\nglobal e: event(i: Info);",
    )
    .unwrap();
    assert!(matches!(&site.items[0], Item::RedefRecord { target, .. } if target == "Info"));
    let d = Declarations::resolve([base, site]).unwrap();
    assert_eq!(
        field_types(&d, "Site::Info"),
        ["a: count", "b: string &optional"]
    );
    let info = d.record("Site::Info").unwrap();
    assert_eq!(
        info.location.as_ref().unwrap().to_string(),
        "base.zeek:2:15"
    );
    assert_eq!(info.fields[1].location.to_string(), "site.zeek:3:24");
    assert_eq!(
        d.event("Site::e").unwrap().location.to_string(),
        "site.zeek:4:8"
    );
}

#[test]
fn other_types_are_kept_as_written() {
    let d = decls(
        "type R: record {
            f: file of string;
            o: opaque of md5;
            inline: record { a: count; };
            cb: function(x: count): string;
         };",
    );
    assert_eq!(
        field_types(&d, "R"),
        [
            "f: file of string",
            "o: opaque of md5",
            "inline: record { a: count; }",
            "cb: function(x: count): string",
        ]
    );
}

#[test]
fn syntax_errors_point_at_file_line_and_column() {
    let cases = [
        (
            "type Info: record { n count; };",
            "t.zeek:1:23: expected `:` after the name, found `count`",
        ),
        (
            "type Info: record { n: count }",
            "t.zeek:1:30: expected `;` after the field, found `}`",
        ),
        (
            "module Site;\n\nglobal e: event(a: count b: string);",
            "t.zeek:3:26: expected `,` or `)` after the parameter, found `b`",
        ),
        (
            "global x: vector count;",
            "t.zeek:1:18: expected `of` after `vector`, found `count`",
        ),
        (
            "global x: set[count;",
            "t.zeek:1:20: expected `,` or `]` in the index, found `;`",
        ),
        (
            "global x: table[count] string;",
            "t.zeek:1:24: expected `of` after the table index, found `string`",
        ),
        (
            "type E: enum { A B };",
            "t.zeek:1:18: expected `,` or `}` after the enum value, found `B`",
        ),
        (
            "print \"hi\";",
            "t.zeek:1:1: expected a declaration (`module`, `export`, `type`, `redef`, `global`, `const`, `option`, or an `event`, `function` or `hook` body), found `print`",
        ),
        (
            "export {\n  global x: count;\n",
            "t.zeek:3:1: expected `}` to close `export {`, found the end of the file",
        ),
        (
            "global x;",
            "t.zeek:1:9: expected `:` and a type, or `=` and an initial value, found `;`",
        ),
        (
            "global x: count = ;",
            "t.zeek:1:19: expected an expression, found `;`",
        ),
        (
            "const s = \"abc;",
            "t.zeek:1:16: expected `\"` to end the string, found the end of the file",
        ),
        (
            "event f() { if ( x ) { }",
            "t.zeek:1:25: expected `}` to close the body, found the end of the file",
        ),
        (
            "event f() { if ( x ) { ",
            "t.zeek:1:24: expected `}` before the end of the file, found the end of the file",
        ),
        (
            "event f() { x = (1]; }",
            "t.zeek:1:19: expected `)`, found `]`",
        ),
        (
            "@if ( T )\n@else\ntype X: record {};\n",
            "t.zeek:4:1: expected `@endif` after `@else`, found the end of the file",
        ),
        ("global x: 42;", "t.zeek:1:11: expected a type, found `42`"),
        (
            "  type Info: record {\n\tname: string;\n\tbad: ;\n};",
            "t.zeek:3:7: expected a type, found `;`",
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(error(source), expected, "source: {source:?}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = error("# é ü\ntype Ü: record {};");
    assert_eq!(err, "t.zeek:2:6: expected a type name, found `Ü`");
    let err = error("const s = \"éé\" &redef x;");
    assert_eq!(
        err,
        "t.zeek:1:23: expected `;` after the declaration, found `x`"
    );
}

#[test]
fn contradicting_declarations_are_errors_with_both_places() {
    assert_eq!(
        error("type A: record { a: count; };\ntype A: enum { X };"),
        "t.zeek:2:6: type `A` is declared twice (first at t.zeek:1:6)"
    );
    assert_eq!(
        error("global e: event(a: count);\nglobal e: event(a: string);"),
        "t.zeek:2:8: event `e` is declared again with other parameters (first at t.zeek:1:8)"
    );
    assert_eq!(
        error("global x: count;\nglobal x: event();"),
        "t.zeek:2:8: `x` is already declared as a global at t.zeek:1:8"
    );
    assert_eq!(
        error("type A: B;\ntype B: vector of A;"),
        "t.zeek:1:6: type alias refers to itself"
    );
    // The same event declared twice alike is fine (two files may do it).
    decls("global e: event(a: count);\nglobal e: event(a: count);");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("global x: {}count;", "vector of ".repeat(10_000));
    assert!(error(&deep).contains("expected a less deeply nested type"));
    let brackets = format!("const x = {}1{};", "(".repeat(10_000), ")".repeat(10_000));
    assert!(error(&brackets).contains("expected less deeply nested brackets"));
    let sets = format!(
        "global x: {}count{};",
        "set[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert!(error(&sets).contains("less deeply nested"));
}

/// A script with a bit of everything, for the prefix test.
const MIXED: &str = r#"##! Site declarations.
@load base/frameworks/notice
module Site;

export {
    type Level: enum { LOW, HIGH = 2, };
    type Info: record {
        ts: time &log;
        hosts: set[addr] &optional;
        note: string &default="n/a" &log;
    };
    global alarm: event(info: Info, levels: table[string, port] of vector of Level);
    const nets: set[subnet] = { 10.0.0.0/8 } &redef;
    option patterns: vector of pattern = vector(/a\/b/, /c/i);
}

redef enum Notice::Type += { Scan };
redef record Info += { extra: count &optional; };

event zeek_init() &priority=-5
    {
    local s = "}";  # {
    }
"#;

#[test]
fn aliases_that_double_at_each_step_are_an_error_not_an_explosion() {
    let mut script = String::from("type A0: count;\n");
    for i in 1..40 {
        script.push_str(&format!("type A{i}: table[A{}] of A{};\n", i - 1, i - 1));
    }
    let err = error(&script);
    assert!(
        err.contains("type alias expands to more than 4096 types"),
        "{err}"
    );
    // A handful of levels is fine.
    let small: String = script.lines().take(6).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        decls(&small)
            .alias("A5")
            .unwrap()
            .to_string()
            .matches("count")
            .count(),
        32
    );
}

#[test]
fn every_prefix_of_a_script_parses_or_fails_cleanly() {
    let full = decls(MIXED);
    assert_eq!(full.record("Site::Info").unwrap().fields.len(), 4);
    let mut failures = 0;
    for end in (0..MIXED.len()).filter(|i| MIXED.is_char_boundary(*i)) {
        if Declarations::parse("t.zeek", &MIXED[..end]).is_err() {
            failures += 1;
        }
    }
    // Most prefixes cut a declaration in half.
    assert!(failures > MIXED.len() / 2, "{failures}");
}
