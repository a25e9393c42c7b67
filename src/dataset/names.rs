//! Safe, unique file names for columns whose names come from a CSV header.
//!
//! A header is user data: a column may be called `../../etc/passwd`, `a/b`, `CON`, `.` or
//! nothing at all, and two columns may share a name. Every name is mapped to a file name made
//! only of ASCII letters, digits, `_`, `-` and `.`, that is not a hidden file, not a reserved
//! device name on Windows, at most [`MAX_STEM`] bytes before `.npy`, and unique among the
//! dataset's files even on a case-insensitive file system.
//!
//! Before that, [`unique_names`] gives every column a unique name as pandas' `read_csv` does
//! (`a`, `a.1`, `a.2`, …; `Unnamed: N` for an empty one): the name every command addresses the
//! column by. The header's own text is kept beside it in the manifest.

use std::collections::{HashMap, HashSet};

/// Longest file stem kept from a column name (bytes, before any `_N` suffix and `.npy`).
pub(crate) const MAX_STEM: usize = 64;

/// Device names Windows reserves whatever the extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The endings of a column's companion files' stems.
const COMPANIONS: [&str; 3] = [".valid", ".offsets", ".categories"];

/// The file stem for one column name, before uniqueness is enforced.
fn stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' })
        .collect();
    // No hidden files, no `.`/`..`, no trailing dots (Windows drops them).
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    while s.ends_with('.') {
        s.pop();
        s.push('_');
    }
    s.truncate(MAX_STEM);
    if s.is_empty() {
        s = "column".to_string();
    }
    // A column's companion files are `STEM.valid.npy`, `STEM.offsets.npy`,
    // `STEM.categories.npy` and `STEM.categories.offsets.npy`: no column's own stem may end
    // like one, so no file can be another column's.
    while let Some(suffix) = COMPANIONS.iter().find(|x| s.to_ascii_lowercase().ends_with(*x)) {
        let dot = s.len() - suffix.len();
        s.replace_range(dot..=dot, "_");
    }
    let base = s.split('.').next().unwrap_or("").to_ascii_uppercase();
    if RESERVED.contains(&base.as_str()) {
        s.insert(0, '_');
    }
    s
}

/// The column names pandas' `read_csv` gives the header `headers` (its `mangle_dupe_names`,
/// pandas 2.1 and later): an empty name becomes `Unnamed: N`, N its 0-based position; a
/// repeated name becomes `NAME.1`, `NAME.2`, …, skipping any such name the header holds
/// itself (`a,a,a.1` gives `a`, `a.2`, `a.1`), the named columns before the unnamed ones.
pub(crate) fn unique_names(headers: &[String]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| if h.is_empty() { format!("Unnamed: {i}") } else { h.clone() })
        .collect();
    // How often each name is in `names` now (pandas' `col in names`).
    let mut present: HashMap<String, usize> = HashMap::new();
    for n in &names {
        *present.entry(n.clone()).or_default() += 1;
    }
    let unnamed = |i: &usize| headers[*i].is_empty();
    let order: Vec<usize> =
        (0..names.len()).filter(|i| !unnamed(i)).chain((0..names.len()).filter(unnamed)).collect();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for i in order {
        let old = names[i].clone();
        let mut col = old.clone();
        let mut cur = counts.get(&col).copied().unwrap_or(0);
        while cur > 0 {
            counts.insert(old.clone(), cur + 1);
            col = format!("{old}.{cur}");
            if present.get(&col).is_some_and(|&n| n > 0) {
                cur += 1;
            } else {
                cur = counts.get(&col).copied().unwrap_or(0);
            }
        }
        if col != old {
            if let Some(n) = present.get_mut(&old) {
                *n -= 1;
            }
            *present.entry(col.clone()).or_default() += 1;
        }
        counts.insert(col.clone(), cur + 1);
        names[i] = col;
    }
    names
}

/// Maps each column name to a unique, safe `.npy` file name, in order.
pub(crate) fn file_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let base = stem(name);
        let mut candidate = base.clone();
        let mut n = 2u64;
        while !taken.insert(candidate.to_ascii_lowercase()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.push(format!("{candidate}.npy"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_names_become_safe_unique_files() {
        let names = ["../../x", "a/b", "", "", "CON", "con.txt", ".", "..", "A", "a", "ok"];
        let files = file_names(names);
        assert_eq!(
            files,
            [
                "_._.._x.npy",
                "a_b.npy",
                "column.npy",
                "column_2.npy",
                "_CON.npy",
                "_con.txt.npy",
                "_.npy",
                "__.npy",
                "A.npy",
                "a_2.npy",
                "ok.npy"
            ]
        );
    }

    #[test]
    fn no_column_file_looks_like_a_validity_file() {
        let files = file_names(["x", "x.valid", "y.VALID", "z.valid_"]);
        assert_eq!(files, ["x.npy", "x_valid.npy", "y_VALID.npy", "z.valid_.npy"]);
        let files = file_names(["u.offsets", "u.categories", "u.categories.offsets", "v.Offsets"]);
        assert_eq!(
            files,
            ["u_offsets.npy", "u_categories.npy", "u.categories_offsets.npy", "v_Offsets.npy"]
        );
    }

    fn unique(h: &[&str]) -> Vec<String> {
        unique_names(&h.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn unique_names_are_pandas_names() {
        // Each as pandas 3.1 `read_csv` names the header.
        assert_eq!(unique(&["a", "a", "a"]), ["a", "a.1", "a.2"]);
        assert_eq!(unique(&["a", "a", "a.1"]), ["a", "a.2", "a.1"]);
        assert_eq!(unique(&["a.1", "a", "a"]), ["a.1", "a", "a.2"]);
        assert_eq!(unique(&["a", "a.1", "a"]), ["a", "a.1", "a.2"]);
        assert_eq!(unique(&["", "g", ""]), ["Unnamed: 0", "g", "Unnamed: 2"]);
        assert_eq!(
            unique(&["a", "", "a", "Unnamed: 1"]),
            ["a", "Unnamed: 1.1", "a.1", "Unnamed: 1"]
        );
        assert_eq!(unique(&["x", "x.1", "x", "x.1"]), ["x", "x.1", "x.2", "x.1.1"]);
        assert_eq!(unique(&["-3", "-3"]), ["-3", "-3.1"]);
        assert_eq!(unique(&[" ", " "]), [" ", " .1"]);
        assert_eq!(unique(&["A", "a", "A"]), ["A", "a", "A.1"]);
    }

    proptest! {
        #[test]
        fn unique_names_are_unique_and_keep_unique_headers(
            headers in proptest::collection::vec("[ab.1]{0,3}", 1..30)
        ) {
            let names = unique_names(&headers);
            prop_assert_eq!(names.len(), headers.len());
            let set: HashSet<&String> = names.iter().collect();
            prop_assert_eq!(set.len(), names.len());
            for (i, (h, n)) in headers.iter().zip(&names).enumerate() {
                if h.is_empty() {
                    let unnamed = format!("Unnamed: {i}");
                    prop_assert!(n.starts_with(&unnamed));
                } else {
                    prop_assert!(n.starts_with(h.as_str()));
                    if headers.iter().filter(|x| *x == h).count() == 1 {
                        prop_assert_eq!(n, h);
                    }
                }
            }
        }


        #[test]
        fn file_names_are_plain_unique_and_short(names in proptest::collection::vec(".{0,80}", 1..20)) {
            let files = file_names(names.iter().map(String::as_str));
            let mut seen = HashSet::new();
            for f in &files {
                prop_assert!(f.len() > 4 && &f[f.len() - 4..] == ".npy");
                prop_assert!(!f.starts_with('.'));
                prop_assert!(f.len() <= MAX_STEM + 30);
                prop_assert!(f.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)));
                prop_assert!(seen.insert(f.to_ascii_lowercase()));
            }
        }
    }
}
