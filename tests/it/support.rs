//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use larder::Element;
use larder::convert::{FaultPlan, Step};

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

/// A mapped `.npy` of the element type its header declares, for tests that check every
/// element type against numpy's fixtures one variant at a time.
#[derive(Debug)]
pub(crate) enum AnyNpy {
    Bool(larder::MmapArray<bool>),
    U8(larder::MmapArray<u8>),
    U16(larder::MmapArray<u16>),
    U32(larder::MmapArray<u32>),
    U64(larder::MmapArray<u64>),
    I8(larder::MmapArray<i8>),
    I16(larder::MmapArray<i16>),
    I32(larder::MmapArray<i32>),
    I64(larder::MmapArray<i64>),
    F16(larder::MmapArray<larder::f16>),
    F32(larder::MmapArray<f32>),
    F64(larder::MmapArray<f64>),
    C64(larder::MmapArray<larder::Complex<f32>>),
    C128(larder::MmapArray<larder::Complex<f64>>),
}

impl AnyNpy {
    /// Opens `path` read-only with the element type its header declares.
    pub(crate) fn open(path: impl AsRef<Path>) -> larder::Result<AnyNpy> {
        use larder::{ElementType as E, MmapArray as M};
        let path = path.as_ref();
        Ok(match larder::read_header(path)?.dtype.element() {
            E::Bool => AnyNpy::Bool(M::open(path)?),
            E::U8 => AnyNpy::U8(M::open(path)?),
            E::U16 => AnyNpy::U16(M::open(path)?),
            E::U32 => AnyNpy::U32(M::open(path)?),
            E::U64 => AnyNpy::U64(M::open(path)?),
            E::I8 => AnyNpy::I8(M::open(path)?),
            E::I16 => AnyNpy::I16(M::open(path)?),
            E::I32 => AnyNpy::I32(M::open(path)?),
            E::I64 => AnyNpy::I64(M::open(path)?),
            E::F16 => AnyNpy::F16(M::open(path)?),
            E::F32 => AnyNpy::F32(M::open(path)?),
            E::F64 => AnyNpy::F64(M::open(path)?),
            E::C64 => AnyNpy::C64(M::open(path)?),
            E::C128 => AnyNpy::C128(M::open(path)?),
        })
    }

    /// The shape.
    pub(crate) fn shape(&self) -> Vec<usize> {
        self.header().shape
    }

    /// The stored dtype.
    pub(crate) fn dtype(&self) -> larder::DType {
        self.header().dtype
    }

    /// The memory order.
    pub(crate) fn order(&self) -> larder::Order {
        if self.header().fortran_order { larder::Order::F } else { larder::Order::C }
    }

    /// The parsed header.
    pub(crate) fn header(&self) -> larder::npy::Header {
        larder::read_header(self.path()).expect("the header parsed when the file was opened")
    }

    fn path(&self) -> &Path {
        match self {
            AnyNpy::Bool(a) => a.path(),
            AnyNpy::U8(a) => a.path(),
            AnyNpy::U16(a) => a.path(),
            AnyNpy::U32(a) => a.path(),
            AnyNpy::U64(a) => a.path(),
            AnyNpy::I8(a) => a.path(),
            AnyNpy::I16(a) => a.path(),
            AnyNpy::I32(a) => a.path(),
            AnyNpy::I64(a) => a.path(),
            AnyNpy::F16(a) => a.path(),
            AnyNpy::F32(a) => a.path(),
            AnyNpy::F64(a) => a.path(),
            AnyNpy::C64(a) => a.path(),
            AnyNpy::C128(a) => a.path(),
        }
    }
}

/// Runs the interop script `tests/interop/NAME` with `python` and `args`, and asserts it
/// passes, showing its output otherwise.
pub(crate) fn run_interop(python: &Path, name: &str, args: &[&std::ffi::OsStr]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop").join(name);
    let o = std::process::Command::new(python).arg(script).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{name}:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Counts the durable steps of a conversion (or an append) by kind, failing none.
#[derive(Debug, Default)]
pub(crate) struct CountSteps(pub(crate) std::sync::Mutex<std::collections::HashMap<Step, u64>>);

impl FaultPlan for CountSteps {
    fn before(&self, step: Step, _path: &Path) -> std::io::Result<()> {
        *self.0.lock().unwrap().entry(step).or_default() += 1;
        Ok(())
    }
}

/// Fails the `n`-th durable step of kind `step` (from 1), as a crash just before it would.
#[derive(Debug)]
pub(crate) struct FailAt {
    step: Step,
    n: u64,
    seen: AtomicU64,
}

impl FailAt {
    pub(crate) fn new(step: Step, n: u64) -> std::sync::Arc<FailAt> {
        std::sync::Arc::new(FailAt { step, n, seen: AtomicU64::new(0) })
    }
}

impl FaultPlan for FailAt {
    fn before(&self, step: Step, _path: &Path) -> std::io::Result<()> {
        if step == self.step && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            return Err(std::io::Error::other("injected failure"));
        }
        Ok(())
    }
}

/// A small deterministic generator (xorshift64*) for tests' random data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (0 for `n` = 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    /// Uniform in `-2^(bits-1) .. 2^(bits-1)`.
    pub(crate) fn int(&mut self, bits: u32) -> i64 {
        ((self.next() >> (64 - bits)) as i64) - (1i64 << (bits - 1))
    }
}
