//! `rename_all` rules, implemented here to keep the macro free of helpers.

/// A case conversion for variant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `ActionLog` → `ACTION_LOG`.
    ScreamingSnake,
    /// `ActionLog` → `action_log`.
    Snake,
    /// `ActionLog` → `actionlog`.
    Lower,
    /// `ActionLog` → `ACTIONLOG`.
    Upper,
}

impl RenameRule {
    /// The names accepted in `rename_all = "…"`.
    pub(crate) const NAMES: &'static str =
        "`SCREAMING_SNAKE_CASE`, `snake_case`, `lowercase`, `UPPERCASE`";

    /// The rule with this name.
    pub(crate) fn from_name(name: &str) -> Option<RenameRule> {
        Some(match name {
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "snake_case" => RenameRule::Snake,
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            _ => return None,
        })
    }

    /// `ident` (a Rust variant name, usually `PascalCase`) under this rule.
    pub(crate) fn apply(self, ident: &str) -> String {
        match self {
            RenameRule::ScreamingSnake => snake_words(ident).to_uppercase(),
            RenameRule::Snake => snake_words(ident).to_lowercase(),
            RenameRule::Lower => ident.to_lowercase(),
            RenameRule::Upper => ident.to_uppercase(),
        }
    }
}

/// Splits `ident` into words joined by `_`, keeping the case: a word starts
/// at an upper-case letter after a lower-case letter or digit, and at the last
/// capital of an acronym followed by a lower-case letter (`HTTPServer` →
/// `HTTP_Server`). Existing underscores are kept, not doubled.
fn snake_words(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_uppercase() && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::RenameRule;

    #[test]
    fn screaming_snake_case_splits_words_and_acronyms() {
        let rule = RenameRule::ScreamingSnake;
        assert_eq!(rule.apply("ActionLog"), "ACTION_LOG");
        assert_eq!(rule.apply("Log"), "LOG");
        assert_eq!(rule.apply("HTTPServer"), "HTTP_SERVER");
        assert_eq!(rule.apply("Ipv6Addr"), "IPV6_ADDR");
        assert_eq!(rule.apply("Already_Split"), "ALREADY_SPLIT");
    }

    #[test]
    fn snake_case_lowers_words() {
        assert_eq!(RenameRule::Snake.apply("ActionLog"), "action_log");
        assert_eq!(RenameRule::Snake.apply("DNSQuery"), "dns_query");
    }

    #[test]
    fn unknown_rule_name_is_rejected() {
        assert_eq!(RenameRule::from_name("camelCase"), None);
        assert_eq!(RenameRule::from_name("snake_case"), Some(RenameRule::Snake));
    }
}
