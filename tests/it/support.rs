//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use larder::Element;

/// Path of a file under `fixtures/`.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// The bit patterns of a native value, one per component (two for complex), as unsigned
/// integers: the convention of `fixtures/npy/manifest.json`.
pub(crate) fn bits_of<T: Element>(v: T) -> Vec<u64> {
    let bytes = bytemuck::bytes_of(&v);
    let unit = T::TYPE.swap_unit();
    bytes
        .chunks(unit)
        .map(|c| {
            let mut b = [0u8; 8];
            if cfg!(target_endian = "little") {
                b[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(b)
            } else {
                b[8 - c.len()..].copy_from_slice(c);
                u64::from_be_bytes(b)
            }
        })
        .collect()
}

/// The venv python for interop checks, or `None` (after saying why) when the tests should skip.
/// With `LARDER_REQUIRE_PYTHON=1` a missing python is a failure instead.
pub(crate) fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LARDER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    assert!(
        std::env::var_os("LARDER_REQUIRE_PYTHON").is_none_or(|v| v != "1"),
        "LARDER_REQUIRE_PYTHON=1 but LARDER_PYTHON is not set"
    );
    eprintln!("skipped: LARDER_PYTHON not set (run scripts/python-env to make one)");
    None
}

/// The `larder` binary under test.
pub(crate) fn larder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_larder"))
}
