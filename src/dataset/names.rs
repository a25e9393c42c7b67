//! Safe, unique file names for columns whose names come from a CSV header.
//!
//! A header is user data: a column may be called `../../etc/passwd`, `a/b`, `CON`, `.` or
//! nothing at all, and two columns may share a name. Every name is mapped to a file name made
//! only of ASCII letters, digits, `_`, `-` and `.`, that is not a hidden file, not a reserved
//! device name on Windows, at most [`MAX_STEM`] bytes before `.npy`, and unique among the
//! dataset's files even on a case-insensitive file system.

use std::collections::HashSet;

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

    proptest! {
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
