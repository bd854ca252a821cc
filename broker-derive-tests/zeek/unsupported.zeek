# Types broker-rs has no Rust type for: only a `Data` can hold them.
global matched: event(p: pattern, check: function(n: count): bool, n: count);
