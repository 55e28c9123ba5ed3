//! Falco's rule selection (`rules:` in `falco.yaml`, Falco ≥ 0.38): `enable` / `disable`
//! items by rule name (wildcard `*`) or by tag, applied in order after the files are
//! loaded, over the rules' own `enabled` flags.

/// What an item selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Rule names matching the pattern (`*` matches any run of characters).
    Rule(String),
    /// Rules carrying the tag.
    Tag(String),
}

/// One `- enable: {…}` / `- disable: {…}` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectItem {
    pub enable: bool,
    pub target: Target,
}

/// `*` matches any run of characters (also none); everything else itself.
pub fn matches_wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether a rule is enabled after the items (`enabled`: its own flag).
pub fn apply<'a>(
    items: &[SelectItem],
    name: &str,
    tags: impl Iterator<Item = &'a String> + Clone,
    enabled: bool,
) -> bool {
    let mut on = enabled;
    for it in items {
        let hit = match &it.target {
            Target::Rule(p) => matches_wildcard(p, name),
            Target::Tag(t) => tags.clone().any(|x| x == t),
        };
        if hit {
            on = it.enable;
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches_wildcard("*", ""));
        assert!(matches_wildcard("*", "abc"));
        assert!(matches_wildcard("a*", "abc"));
        assert!(matches_wildcard("*c", "abc"));
        assert!(matches_wildcard("*b*", "abc"));
        assert!(matches_wildcard("a*b*c", "aXbYc"));
        assert!(!matches_wildcard("a*b*c", "aXcYb"));
        assert!(!matches_wildcard("ab*ba", "aba"));
        assert!(matches_wildcard("abc", "abc"));
        assert!(!matches_wildcard("abc", "abcd"));
    }

    #[test]
    fn items_apply_in_order() {
        let tags = ["net".to_string()];
        let d = |t: Target| SelectItem {
            enable: false,
            target: t,
        };
        let e = |t: Target| SelectItem {
            enable: true,
            target: t,
        };
        let items = [d(Target::Rule("*".into())), e(Target::Tag("net".into()))];
        assert!(
            apply(&items, "R", tags.iter(), false),
            "enabled over the file's flag"
        );
        assert!(!apply(&items, "R", [].iter(), true));
        let items = [e(Target::Tag("net".into())), d(Target::Rule("R*".into()))];
        assert!(!apply(&items, "Rx", tags.iter(), true));
        assert!(apply(&[], "R", [].iter(), true));
    }
}
