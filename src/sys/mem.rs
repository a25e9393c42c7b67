//! Memory facts and allocator advice: the page size, the memory budget (`MemAvailable`, cgroup
//! limits), mappings left, peak RSS, glibc's allocator thresholds and transparent huge pages.

/// The system's page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value; _SC_PAGESIZE is always valid.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// The peak resident memory of this process so far, in bytes (`getrusage`'s `ru_maxrss`), or
/// `None` where the system does not report it.
pub fn peak_rss() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given, which points to memory
    // of that type and size that we own; RUSAGE_SELF is always a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: the memory was zeroed (a valid `rusage`: plain integers) and getrusage filled it.
    let usage = unsafe { usage.assume_init() };
    let max = u64::try_from(usage.ru_maxrss).ok().filter(|&m| m > 0)?;
    // Linux and the BSDs report KiB; macOS reports bytes.
    Some(if cfg!(target_os = "macos") { max } else { max * 1024 })
}

/// Bytes of memory this process can use without pushing other data out: the smaller of the
/// system's `MemAvailable` and the limit of its cgroup (v1 or v2), where they can be read.
pub(crate) fn memory_budget() -> Option<u64> {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let file = if controllers.split(',').any(|c| c == "memory") {
                format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
            } else if controllers.is_empty() {
                format!("/sys/fs/cgroup{path}/memory.max")
            } else {
                return None;
            };
            std::fs::read_to_string(file).ok()?.trim().parse::<u64>().ok()
        })
    });
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// How many more mappings this process may make before reaching the kernel's limit
/// (`vm.max_map_count` less the lines of `/proc/self/maps`); `None` where that cannot be read.
pub(crate) fn mappings_left() -> Option<usize> {
    let max: usize =
        std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()?;
    let used = std::fs::read_to_string("/proc/self/maps").ok()?.lines().count();
    Some(max.saturating_sub(used))
}

/// Makes glibc's allocator keep freed chunk-sized buffers for reuse instead of handing them back
/// to the kernel at every `free`, once per process.
///
/// Decoding a compressed chunk allocates two chunk-sized buffers (the encoded bytes and the
/// decoded ones). With glibc's defaults each is returned to the kernel when freed, so the next
/// chunk's buffers are fresh pages: every page faults and is zeroed again, which costs more
/// than decoding. Blocks up to 32 MiB are taken from the heap, and up to 64 MiB of freed heap is
/// kept, so a loop over chunks reuses warm pages. Other C libraries are left alone.
pub(crate) fn keep_freed_chunk_buffers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets allocator tuning parameters; both are documented options
        // with in-range values, and it is called once, before this process decodes chunks.
        // A refusal (return 0) leaves the defaults in place, which is harmless.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        }
    });
}

/// Asks the kernel to back the pages of `buf` with transparent huge pages, where the system
/// enables them on request (`/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise`).
///
/// Meant for a large buffer that was just allocated and not yet written: filling it then takes
/// one page fault per 2 MiB rather than per 4 KiB. numpy gives its large arrays the same advice.
/// Advice only: a refusal changes nothing.
pub(crate) fn advise_huge_pages<T>(buf: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        let page = page_size();
        let start = buf.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let first = start.next_multiple_of(page);
        let len = end.saturating_sub(first) / page * page;
        if len == 0 {
            return;
        }
        // SAFETY: the range is whole pages inside `buf`, which is borrowed mutably, so it is
        // mapped memory this process owns. MADV_HUGEPAGE only changes how the kernel backs
        // the range, never its contents; an error return is ignored on purpose.
        unsafe {
            libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

/// Raises this process's limit on open files (the soft `RLIMIT_NOFILE`) towards `want`, as far
/// as the hard limit allows; returns the limit in force afterwards (`u64::MAX`: none), or
/// `None` where it cannot be read.
pub(crate) fn raise_open_files(want: u64) -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes an `rlimit` into the pointer it is given, which points to one
    // we own; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } != 0 {
        return None;
    }
    let as_u64 = |v: libc::rlim_t| if v == libc::RLIM_INFINITY { u64::MAX } else { v };
    if as_u64(lim.rlim_cur) >= want {
        return Some(as_u64(lim.rlim_cur));
    }
    let raised = libc::rlimit { rlim_cur: want.min(as_u64(lim.rlim_max)), rlim_max: lim.rlim_max };
    // SAFETY: setrlimit reads the `rlimit` we pass, whose soft limit is at most its hard limit
    // (the one just read), so the call only raises the soft limit within what is allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } != 0 {
        return Some(as_u64(lim.rlim_cur));
    }
    Some(raised.rlim_cur)
}
