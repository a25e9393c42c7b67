//! SQL `LIKE` patterns: `%` any run of characters (none included), `_` exactly one
//! character; everything else matches itself, case-sensitively. There is no escape
//! character. Common shapes (`'abc'`, `'abc%'`, `'%abc'`, `'%abc%'`) take a fast path.

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Part {
    Char(char),
    One,
    Run,
}

/// A compiled `LIKE` pattern.
#[derive(Clone, Debug)]
pub(super) enum Pattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    General(Vec<Part>),
}

impl Pattern {
    pub(super) fn new(p: &str) -> Pattern {
        let plain = |s: &str| !s.contains(['%', '_']);
        let inner = p.strip_prefix('%').and_then(|s| s.strip_suffix('%'));
        if plain(p) {
            Pattern::Exact(p.to_string())
        } else if let Some(s) = p.strip_suffix('%').filter(|s| plain(s)) {
            Pattern::Prefix(s.to_string())
        } else if let Some(s) = p.strip_prefix('%').filter(|s| plain(s)) {
            Pattern::Suffix(s.to_string())
        } else if let Some(s) = inner.filter(|s| plain(s)) {
            Pattern::Contains(s.to_string())
        } else {
            let mut parts: Vec<Part> = Vec::new();
            for c in p.chars() {
                let part = match c {
                    '%' => Part::Run,
                    '_' => Part::One,
                    c => Part::Char(c),
                };
                // `%%` is `%`.
                if !(part == Part::Run && parts.last() == Some(&Part::Run)) {
                    parts.push(part);
                }
            }
            Pattern::General(parts)
        }
    }

    pub(super) fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(p) => s == p,
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
            Pattern::Suffix(p) => s.ends_with(p.as_str()),
            Pattern::Contains(p) => s.contains(p.as_str()),
            Pattern::General(parts) => general(parts, s),
        }
    }
}

/// Wildcard matching with one backtrack point (the last `%`): O(len(s) * len(parts)) at
/// worst, never exponential.
fn general(parts: &[Part], s: &str) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(part) = parts.get(pi) {
            let next = s[si..].chars().next();
            match (part, next) {
                (Part::Run, _) => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                (Part::One, Some(c)) => {
                    (pi, si) = (pi + 1, si + c.len_utf8());
                    continue;
                }
                (Part::Char(p), Some(c)) if *p == c => {
                    (pi, si) = (pi + 1, si + c.len_utf8());
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // A mismatch: let the last `%` take one more character, or fail.
        let Some((sp, ss)) = star else { return false };
        let Some(c) = s[ss..].chars().next() else { return false };
        star = Some((sp, ss + c.len_utf8()));
        (pi, si) = (sp + 1, ss + c.len_utf8());
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn like_patterns_match_as_sql_does() {
        let m = |p: &str, s: &str| Pattern::new(p).matches(s);
        assert!(m("abc", "abc") && !m("abc", "abcd"));
        assert!(m("ab%", "ab") && m("ab%", "abz") && !m("ab%", "a"));
        assert!(m("%bc", "abc") && !m("%bc", "bca"));
        assert!(m("%b%", "abc") && !m("%b%", "ac"));
        assert!(m("a_c", "abc") && m("a_c", "aéc") && !m("a_c", "ac") && !m("a_c", "abbc"));
        assert!(m("%a%b_", "xxaxxbz") && !m("%a%b_", "xxaxxb"));
        assert!(m("%", "") && m("%%", "x") && !m("_", ""));
        assert!(m("a%b%c", "abc") && m("a%b%c", "a12b34c") && !m("a%b%c", "a12c34b"));
        assert!(!m("A%", "abc"), "case-sensitive");
        // No exponential backtracking: this finishes at once.
        let s = "a".repeat(5000);
        assert!(!m(&format!("{}b", "%a".repeat(50)), &s));
    }
}
