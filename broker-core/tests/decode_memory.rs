//! Hostile input cannot make the decoder allocate much more than its size,
//! and dropping a value frees all it holds. A counting allocator measures
//! the heap use of each case.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use broker_core::data::{bin, json};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap growth while running `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

/// The counters are global, so the cases run one after another in one test.
#[test]
fn hostile_inputs_allocate_little() {
    nested_vectors_claiming_huge_counts_do_not_reserve_memory_per_level();
    a_claimed_huge_string_is_not_allocated();
    json_with_data_before_its_type_is_not_expanded();
    nil_vectors_do_not_grow_32_fold();
    dropping_values_frees_everything();
}

/// Sets and tables skip the destructor of elements that own no memory; the
/// ones that do (long strings and enum names, containers) must still be
/// freed, in every form a container takes and on every path that drops one.
fn dropping_values_frees_everything() {
    use broker_core::data::{Data, EnumValue, Set, Table};
    let long = |i: usize| Data::from(format!("a string longer than twenty-two bytes {i}"));
    let short = |i: usize| Data::from(format!("s{i}"));
    let build = || {
        let mixed: Set = (0..50)
            .flat_map(|i| [long(i), short(i), Data::Count(i as u64)])
            .chain([Data::EnumValue(EnumValue::new(
                "Some::VERY_LONG_ENUM_NAME_HERE",
            ))])
            .collect();
        let mut table = Table::new();
        for i in 0..20 {
            table.insert(long(i), Data::Set(mixed.clone()));
            table.insert(short(i), Data::Vector(vec![long(i), short(i)]));
        }
        // Past the size where inserting in the middle makes a B-tree.
        let mut tree = Set::new();
        for i in (0..600).rev() {
            tree.insert(long(i));
        }
        let nested: Set = [Data::Set(mixed.clone()), Data::Table(table.clone())].into();
        Data::Vector(vec![
            Data::Set(mixed),
            Data::Table(table),
            Data::Set(tree),
            Data::Set(nested),
        ])
    };
    let base = CURRENT.load(Ordering::SeqCst);
    let value = build();
    let bytes = bin::encode(&value);
    let decoded = bin::decode(&bytes).expect("decodes");
    assert_eq!(decoded, value);
    drop(decoded);
    drop(value);
    // Half-consumed iterators drop the rest.
    if let Data::Vector(items) = build() {
        for item in items {
            match item {
                Data::Set(set) => drop(set.into_iter().take(3).collect::<Vec<_>>()),
                Data::Table(table) => drop(table.into_iter().take(3).collect::<Vec<_>>()),
                _ => {}
            }
        }
    }
    // A value that fails to decode halfway drops what it decoded.
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() / 2);
    assert!(bin::decode(&cut).is_err());
    drop(bytes);
    drop(cut);
    assert_eq!(
        CURRENT.load(Ordering::SeqCst),
        base,
        "bytes still allocated"
    );
}

fn json_with_data_before_its_type_is_not_expanded() {
    // 4 MB of small objects before `@data-type`: buffered as a parsed
    // `serde_json::Value` this took about 60 times its size.
    let items = vec![r#"{"a":0}"#; 500_000].join(",");
    for text in [
        format!(r#"{{"data":[{items}],"@data-type":"vector","topic":"/x"}}"#),
        format!(r#"{{"type":[{items}],"topic":"/x","@data-type":"count","data":1}}"#),
        format!(r#"{{"topic":"/x","data":[{items}],"@data-type":"vector"}}"#),
    ] {
        let peak = peak_during(|| {
            assert!(json::data_message_from_json_str(&text).is_err());
        });
        assert!(
            peak < 2 * text.len() + (1 << 20),
            "decoding {} bytes peaked at {peak} bytes",
            text.len()
        );
    }
}

fn nil_vectors_do_not_grow_32_fold() {
    let n = 4_000_000;
    let mut input = vec![0x0e];
    bin::encode_varbyte(n, &mut input);
    input.resize(input.len() + n, 0);
    let peak = peak_during(|| {
        assert!(bin::decode(&input).is_err());
    });
    assert!(
        peak < 8 << 20,
        "decoding {} bytes peaked at {peak} bytes",
        input.len()
    );
}

fn nested_vectors_claiming_huge_counts_do_not_reserve_memory_per_level() {
    // 99 nested vectors, each claiming as many elements as bytes remain
    // (about 1 MiB), then filler that is no valid value.
    let mut input = Vec::new();
    for _ in 0..99 {
        input.extend_from_slice(&[0x0e, 0xff, 0xff, 0x3f]);
    }
    input.resize(input.len() + (1 << 20), 0xff);
    let peak = peak_during(|| {
        assert!(bin::decode(&input).is_err());
    });
    // Before the fix each level reserved 32 bytes per claimed element: 3 GB.
    assert!(peak < 8 << 20, "decoding 1 MiB peaked at {peak} bytes");
}

fn a_claimed_huge_string_is_not_allocated() {
    let input = [0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, b'x'];
    let peak = peak_during(|| {
        assert!(bin::decode(&input).is_err());
    });
    assert!(peak < 4096, "peaked at {peak} bytes");
}
