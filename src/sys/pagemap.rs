//! Reading `/proc/self/pagemap` (Linux): one little-endian `u64` per virtual page.
//!
//! A page of a private file mapping that has only been read maps the file's page-cache page:
//! pagemap reports it present with bit 61 ("file page or shared anonymous") set. The first
//! write replaces it with an anonymous copy owned by this process: present, bit 61 clear; and
//! if that copy is later swapped out, bit 62 ("swapped") is set. So a page is written exactly
//! when it is (present and not a file page) or swapped. Bit 56 ("exclusively mapped") is no
//! help: a page-cache page read by one process only is exclusively mapped too.
use std::io;

/// Bit 63: the page is in RAM.
const PRESENT: u64 = 1 << 63;
/// Bit 62: the page is swapped out (only anonymous pages are).
const SWAPPED: u64 = 1 << 62;
/// Bit 61: a file page or a shared anonymous page.
const FILE: u64 = 1 << 61;

/// A pagemap entry: the kernel writes them in the machine's byte order.
#[cfg(target_os = "linux")]
#[allow(clippy::host_endian_bytes)] // a kernel interface, not a file format
fn host_u64(e: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&e[..8]);
    u64::from_ne_bytes(b)
}

/// True if the pagemap entry `e` of a private file mapping is a page this process wrote.
pub(super) fn is_written(e: u64) -> bool {
    (e & PRESENT != 0 && e & FILE == 0) || e & SWAPPED != 0
}

#[cfg(target_os = "linux")]
pub(super) fn written_pages(bytes: &[u8]) -> io::Result<Option<Vec<usize>>> {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;

    static WORKS: OnceLock<bool> = OnceLock::new();
    if !*WORKS.get_or_init(probe) {
        return Ok(None);
    }
    let ps = super::page_size();
    let pages = bytes.len().div_ceil(ps);
    let first = bytes.as_ptr() as usize / ps;
    let Ok(file) = File::open("/proc/self/pagemap") else { return Ok(None) };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8 * 8192];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(8192);
        let offset = ((first + done) as u64) * 8;
        file.read_exact_at(&mut buf[..8 * n], offset)?;
        for (i, e) in buf[..8 * n].chunks_exact(8).enumerate() {
            if is_written(host_u64(e)) {
                out.push(done + i);
            }
        }
        done += n;
    }
    Ok(Some(out))
}

/// Checks once that pagemap reports a freshly written heap page as present and anonymous;
/// where it does not (an emulated `/proc`), the callers fall back to comparing bytes.
#[cfg(target_os = "linux")]
fn probe() -> bool {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    let ps = super::page_size();
    let mut block = vec![0u8; 2 * ps];
    let addr = block.as_mut_ptr() as usize;
    let inside = addr.div_ceil(ps) * ps;
    let i = inside - addr;
    block[i] = 1;
    std::hint::black_box(&mut block);
    let Ok(file) = File::open("/proc/self/pagemap") else { return false };
    let mut e = [0u8; 8];
    if file.read_exact_at(&mut e, (inside / ps) as u64 * 8).is_err() {
        return false;
    }
    let ok = is_written(host_u64(&e));
    drop(block);
    ok
}

#[cfg(not(target_os = "linux"))]
pub(super) fn written_pages(_bytes: &[u8]) -> io::Result<Option<Vec<usize>>> {
    Ok(None)
}
