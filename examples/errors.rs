//! What larder says when something is wrong: each case matched on the `Error` variant its
//! documentation names, with the message printed.
//!
//! ```text
//! cargo run --example errors
//! ```

use std::io::ErrorKind;
use std::path::Path;

use larder::ndarray::Array1;
use larder::{Error, MmapArray, compute};

/// A version 1.0 `.npy` file with header dict `dict` and `data` after it, as numpy lays it out.
fn npy(path: &Path, dict: &str, data: &[u8]) -> std::io::Result<()> {
    let mut header = format!("{{{dict}, }}");
    header += &" ".repeat(63 - (10 + header.len()) % 64);
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(u16::try_from(header.len() + 1).unwrap_or(0).to_le_bytes());
    bytes.extend(header.bytes().chain([b'\n']).chain(data.iter().copied()));
    std::fs::write(path, bytes)
}

/// Prints `case` and its error if `result` failed as `expected` says, or says what happened.
fn expect<T>(
    case: &str,
    result: larder::Result<T>,
    expected: fn(&Error) -> bool,
) -> Result<(), String> {
    match result {
        Err(e) if expected(&e) => {
            println!("{case}: {e}");
            Ok(())
        }
        Err(e) => Err(format!("{case}: unexpected {e:?}")),
        Ok(_) => Err(format!("{case}: no error")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let p = |name: &str| dir.path().join(name);
    let ints = Array1::from_iter(0..1000i32);
    larder::write_npy(p("i4.npy"), &ints)?;

    expect(
        "missing file (Io, NotFound)",
        MmapArray::<f32>::open(p("nope.npy")),
        |e| matches!(e, Error::Io { source, .. } if source.kind() == ErrorKind::NotFound),
    )?;

    let whole = std::fs::read(p("i4.npy"))?;
    std::fs::write(p("short.npy"), &whole[..whole.len() - 3900])?;
    expect("truncated data (Truncated)", MmapArray::<i32>::open(p("short.npy")), |e| {
        matches!(e, Error::Truncated { needed: 4000, available: 100, .. })
    })?;
    std::fs::write(p("head.npy"), &whole[..40])?;
    expect("truncated header (Format)", MmapArray::<i32>::open(p("head.npy")), |e| {
        matches!(e, Error::Format { offset: 8, .. })
    })?;
    expect(
        "dtype mismatch (DTypeMismatch)",
        MmapArray::<f64>::open(p("i4.npy")),
        |e| matches!(e, Error::DTypeMismatch { expected, found, .. } if expected == "<f8" && found == "<i4"),
    )?;
    println!("  read_header says what to reopen with: {}", larder::read_header(p("i4.npy"))?.dtype);

    let fields = "'fortran_order': False, 'shape': (2,)";
    for (name, descr) in [("object", "'|O'"), ("structured", "[('a', '<i4')]"), ("<U2", "'<U2'")] {
        npy(&p("odd.npy"), &format!("'descr': {descr}, {fields}"), &[0; 16])?;
        expect(name, MmapArray::<i32>::open(p("odd.npy")), |e| {
            matches!(e, Error::UnsupportedDType { .. })
        })?;
    }

    npy(&p("be.npy"), &format!("'descr': '>i4', {fields}"), &[0, 0, 0, 1, 0, 0, 0, 2])?;
    let be = MmapArray::<i32>::open(p("be.npy"))?;
    expect("big-endian view (NotViewable)", be.view(), |e| matches!(e, Error::NotViewable { .. }))?;
    assert_eq!(be.read_all()?.as_slice(), Some(&[1, 2][..]));
    assert_eq!(compute::summary(&be.read_all()?)?.sum, compute::Number::Int(3));

    let mut clone = MmapArray::<i32>::open_cow(p("i4.npy"))?;
    clone.view_mut()?[7] = -7;
    clone.save_delta(p("run.delta"))?;
    drop(clone);
    MmapArray::<i32>::open_mut(p("i4.npy"))?.view_mut()?[8] = -8; // the base changes
    expect(
        "stale delta (StaleBase)",
        MmapArray::<i32>::open_with_delta(p("i4.npy"), p("run.delta")),
        |e| matches!(e, Error::StaleBase { .. }),
    )?;

    let reader = MmapArray::<i32>::open(p("i4.npy"))?;
    expect("lock held here (Locked)", MmapArray::<i32>::open_mut(p("i4.npy")), |e| {
        matches!(e, Error::Locked { this_process: true, .. })
    })?;
    drop(reader);
    MmapArray::<i32>::open_mut(p("i4.npy"))?; // free again once the reader is gone
    Ok(())
}
