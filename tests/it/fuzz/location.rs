//! The `location` kind: location texts (`s3://bucket/key`, `store.zarr:/node`, and near-misses
//! of them) through the parser that tells object storage from local paths.
//!
//! Mutations splice in near-miss schemes (`s3:/`, `S3://`, `s3:`, `file://`, `gs:/`), odd
//! characters (the ASCII punctuation S3 clients encode, spaces, UTF-8, control characters),
//! empty, `.` and `..` segments and `.zarr:/` inner paths. The library must parse every text
//! without a panic and keep its rules: a text with a scheme, or a near-miss, is never a local
//! path, and what parses prints back to what it was. The binary copies a local array to the
//! text and back, against a port where nothing listens, and must fail clearly, or write
//! locally only for a plain local path.

use std::path::Path;

use super::Kind;
use super::rng::Rng;
use super::run::Case;

/// The file of a case that holds the location text.
pub(crate) const TARGET: &str = "loc.txt";

const SEEDS: [&str; 12] = [
    "s3://bkt/a.npy",
    "s3://bkt/dir/a.zarr",
    "s3://bkt/s.zarr:/g/x",
    "s3://bkt",
    "s3:/bkt/typo.zarr",
    "S3://bkt/x.npy",
    "file:///tmp/x.npy",
    "local.zarr:/g/x",
    "out.npy",
    "s3://bkt/enc/café~1 [x]#?%41*.npy",
    "gs://b/a.zarr",
    "s3:bkt/x.h5",
];

const PIECES: [&str; 28] = [
    "s3://", "s3:/", "S3://", "s3:", "file://", "gs:/", "HTTP:/", "://", ":/", "/", "//", ".",
    "..", ".zarr:/", ".ZARR:/", ".npy", ".h5", "~", "#", "?", "%", "%2F", "[", "]", "*", "\\", " ",
    "é",
];

pub(crate) fn seeds() -> Vec<Case> {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.npy");
    larder::write_npy(&a, &ndarray::arr1(&[1.0f64, 2.0, 3.0])).unwrap();
    let npy = std::fs::read(&a).unwrap();
    SEEDS
        .iter()
        .map(|s| Case {
            kind: Kind::Location,
            files: [
                (TARGET.to_string(), s.as_bytes().to_vec()),
                ("a.npy".to_string(), npy.clone()),
            ]
            .into(),
        })
        .collect()
}

pub(crate) fn mutate(rng: &mut Rng, case: &mut Case) {
    let text = String::from_utf8_lossy(&case.files[TARGET]).into_owned();
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(6) {
            0..=2 => {
                let piece = *rng.pick(&PIECES);
                chars.splice(at..at, piece.chars());
            }
            3 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(4)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            4 => {
                let c = *rng.pick(&['\u{1}', '\t', '\u{7f}', '\u{fffd}', '日', '\u{0}']);
                chars.insert(at, c);
            }
            _ => {
                // Another seed's head or tail spliced on.
                let other: Vec<char> = rng.pick(&SEEDS).chars().collect();
                let cut = rng.below(other.len() + 1);
                chars.splice(at..at, other[..cut].iter().copied());
            }
        }
    }
    case.files.insert(TARGET.to_string(), chars.into_iter().collect::<String>().into_bytes());
}

/// The text of a case (lossy: invalid UTF-8 never reaches here, the mutations write chars).
pub(crate) fn text(dir: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join(TARGET)).unwrap_or_default()).into_owned()
}

/// Whether `text` must never be taken for a local path.
fn object_like(text: &str) -> bool {
    larder::remote::scheme_of(text).is_some() || larder::remote::near_miss(text).is_some()
}

/// The library pass: the parser's rules, checked (a broken rule panics, which the suite
/// reports as a finding).
pub(crate) fn library(dir: &Path) {
    let text = text(dir);
    let place = larder::Place::parse(Path::new(&text));
    if object_like(&text) {
        assert!(
            !matches!(place, Ok(larder::Place::Local(_))),
            "{text:?} was taken for a local path"
        );
    }
    if let Ok(url) = larder::remote::ObjectUrl::parse(&text) {
        let again = larder::remote::ObjectUrl::parse(&url.to_string());
        assert_eq!(again.as_ref().ok(), Some(&url), "{text:?} does not print back to itself");
        assert!(!url.key().chars().any(char::is_control), "{text:?}: a control character kept");
    }
}

/// The binary's commands: a copy to the text and one from it (the case's own `a.npy` is the
/// local array).
pub(crate) fn commands(dir: &Path) -> Vec<Vec<String>> {
    let text = text(dir);
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let s3 = ["--endpoint", "http://127.0.0.1:1", "--retries", "0"];
    let mut to = v(&["copy", "a.npy", &text, "-q"]);
    to.extend(v(&s3));
    let mut from = v(&["copy", &text, "out.npy", "-q"]);
    from.extend(v(&s3));
    vec![to, from]
}

/// After the binary ran in `dir`: an object-like text left nothing local behind.
pub(crate) fn check_nothing_local(dir: &Path) -> Option<String> {
    let text = text(dir);
    if !object_like(&text) {
        return None;
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n != TARGET && n != "a.npy")
        .collect();
    names.sort();
    (!names.is_empty()).then(|| format!("{text:?}: written locally as {names:?}"))
}
