// Shared by the fuzz target of the same name and by
// zeek-script/tests/fuzz_corpus.rs (through `include!`), so the fuzzer and
// the replay test check the same things.

/// The `zeek_script` fuzz target: UTF-8 text as a Zeek script (other input
/// is skipped). Parsing and resolving never panic; an error points inside
/// the text; every type the parser read prints as Zeek script that parses
/// back to the same type.
fn check_zeek_script(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let script = match zeek_script::parse("fuzz.zeek", text) {
        Ok(script) => script,
        Err(error) => {
            let lines = text.split('\n').count();
            let line = usize::try_from(error.location.line).expect("a line fits usize");
            assert!(line >= 1 && line <= lines, "error line {line} of {lines}: {error}");
            let length = text.split('\n').nth(line - 1).map_or(0, |l| l.chars().count());
            let column = usize::try_from(error.location.column).expect("a column fits usize");
            assert!(column >= 1 && column <= length + 1, "error column {column} of {length}: {error}");
            return;
        }
    };
    let mut types = Vec::new();
    for item in &script.items {
        match item {
            zeek_script::Item::Record { fields, .. } | zeek_script::Item::RedefRecord { fields, .. } => {
                types.extend(fields.iter().map(|f| f.ty.clone()));
            }
            zeek_script::Item::Event { params, .. } => types.extend(params.iter().map(|p| p.ty.clone())),
            zeek_script::Item::Alias { ty, .. } => types.push(ty.clone()),
            zeek_script::Item::Global { ty: Some(ty), .. } => types.push(ty.clone()),
            _ => {}
        }
    }
    for ty in types {
        let mut plain = true;
        ty.walk(&mut |t| plain &= !matches!(t, zeek_script::Type::Other(_)));
        if !plain {
            continue;
        }
        let again = zeek_script::parse("again.zeek", &format!("global x: {ty};"))
            .unwrap_or_else(|e| panic!("`{ty}` does not parse back: {e}"));
        match &again.items[..] {
            [zeek_script::Item::Global { ty: Some(back), .. }] => {
                assert_eq!(back, &ty, "`{ty}` parses back differently");
            }
            other => panic!("`{ty}` parses back as {other:?}"),
        }
    }
    let _ = zeek_script::Declarations::resolve([script]);
}
