"""Running one contender process and measuring it.

Each run is a separate process. Wall time is taken around spawn and reap; peak RSS comes from
the kernel (`wait4` rusage, `ru_maxrss`), which is exact; the split of resident memory into
private (anonymous) and file-backed (page cache mapped into the process) pages is sampled from
`/proc/PID/status` every few milliseconds, so it is a lower bound of the true peaks.

The contender is not a direct child of this (large) Python process: Linux carries the parent's
RSS high-water mark into a forked child's `ru_maxrss` across exec, so every contender would show
at least the harness's own RSS. A small C program (spawn.c, compiled on first use) forks the
contender, joins it to the memory cgroup if asked, waits for it with `wait4` and reports the
contender's own rusage and wall time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
SAMPLE_INTERVAL_S = 0.005


@dataclass
class RunResult:
    """What one process run did."""

    wall_s: float
    returncode: int
    maxrss_bytes: int
    user_s: float
    sys_s: float
    rss_anon_peak: int = 0
    rss_file_peak: int = 0
    stdout: str = ""
    stderr: str = ""
    cgroup_peak_bytes: int | None = None
    cgroup_oom_kills: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def killed_by(self) -> str | None:
        """Name of the signal that ended the process, if one did."""
        if self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


_SPAWN: str | None = None


def spawn_binary() -> str:
    """Compiles harnesslib/spawn.c (once per source version) and returns the binary's path."""
    global _SPAWN
    if _SPAWN:
        return _SPAWN
    import hashlib

    src = Path(__file__).with_name("spawn.c")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("HOME", "/tmp")) / ".cache/larder/bench-spawn"
    cache.mkdir(parents=True, exist_ok=True)
    exe = cache / f"spawn-{digest}"
    if not exe.exists():
        tmp = cache / f".spawn-{digest}.{os.getpid()}"
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-O2", "-Wall", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, exe)
    _SPAWN = str(exe)
    return _SPAWN


def _child_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def _read_status(pid: int) -> tuple[int, int]:
    anon = file_ = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    anon = int(line.split()[1]) * 1024
                elif line.startswith(b"RssFile:"):
                    file_ = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return anon, file_


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.anon = 0
        self.file = 0

    def run(self) -> None:
        child = None
        while not self.stop.is_set():
            if child is None:
                child = _child_of(self.pid)
                if child is None:
                    self.stop.wait(0.0005)
                    continue
            anon, file_ = _read_status(child)
            self.anon = max(self.anon, anon)
            self.file = max(self.file, file_)
            self.stop.wait(SAMPLE_INTERVAL_S)


class MemoryCgroup:
    """A cgroup v1 memory group with a hard limit, created for one run and removed after."""

    def __init__(self, limit_bytes: int) -> None:
        self.path = CGROUP_MEMORY_ROOT / f"larder-bench-{os.getpid()}-{time.monotonic_ns()}"
        self.path.mkdir()
        try:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            swap = self.path / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    swap.write_text(str(limit_bytes))
                except OSError:
                    pass
        except OSError:
            self.remove()
            raise
        self.limit = limit_bytes

    @property
    def procs(self) -> str:
        return str(self.path / "cgroup.procs")

    def peak(self) -> int | None:
        try:
            return int((self.path / "memory.max_usage_in_bytes").read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int | None:
        try:
            for line in (self.path / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def cgroup_support() -> str | None:
    """None if memory-capped runs work here, else the reason they do not."""
    if not (CGROUP_MEMORY_ROOT / "cgroup.procs").exists():
        return f"no cgroup v1 memory controller at {CGROUP_MEMORY_ROOT}"
    try:
        g = MemoryCgroup(64 << 20)
    except OSError as e:
        return f"cannot create a memory cgroup: {e}"
    try:
        r = run(["/bin/true"], env=dict(os.environ), group=g)
        if r.returncode != 0:
            return f"cannot move a process into a memory cgroup: {r.stderr.strip()}"
    finally:
        g.remove()
    return None


def drop_caches_support() -> str | None:
    """None if the page cache can be dropped here, else the reason it cannot."""
    try:
        drop_caches()
    except OSError as e:
        return f"not permitted ({DROP_CACHES}: {e.strerror})"
    return None


def drop_caches() -> None:
    """`sync; echo 1 > /proc/sys/vm/drop_caches`."""
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("1\n")


def run(
    argv: list[str],
    env: dict[str, str],
    cwd: str | None = None,
    cap_bytes: int | None = None,
    timeout_s: float | None = None,
    group: MemoryCgroup | None = None,
) -> RunResult:
    """Runs `argv` to completion and measures it. `cap_bytes` runs it in a fresh memory cgroup."""
    own_group = group is None and cap_bytes is not None
    if own_group:
        group = MemoryCgroup(cap_bytes)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="larder-spawn-") as res:
        try:
            full_argv = [spawn_binary(), res.name, group.procs if group else "-", *argv]
            p = subprocess.Popen(full_argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env=env, cwd=cwd, start_new_session=True)
            sampler = _Sampler(p.pid)
            sampler.start()
            timer = None
            timed_out = threading.Event()

            def kill_contender():
                # Kill the contender, not spawn, so that spawn still reports its rusage.
                timed_out.set()
                child = _child_of(p.pid)
                try:
                    if child is not None:
                        os.kill(child, signal.SIGKILL)
                    else:
                        os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

            if timeout_s is not None:
                timer = threading.Timer(timeout_s, kill_contender)
                timer.start()
            p.wait()
            if timer:
                timer.cancel()
            if timed_out.is_set():
                try:  # whatever the contender started
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sampler.stop.set()
            sampler.join()
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
            fields = dict(kv.split("=", 1) for kv in Path(res.name).read_text().split())
            if not fields:
                raise RuntimeError(f"spawn failed (exit {p.returncode}): {stderr[-500:]}")
            result = RunResult(
                wall_s=int(fields["wall_ns"]) / 1e9,
                returncode=int(fields["status"]),
                maxrss_bytes=int(fields["maxrss_kb"]) * 1024,
                user_s=int(fields["utime_us"]) / 1e6,
                sys_s=int(fields["stime_us"]) / 1e6,
                rss_anon_peak=sampler.anon,
                rss_file_peak=sampler.file,
                stdout=stdout,
                stderr=stderr,
            )
            if timed_out.is_set():
                result.extra["timed_out_after_s"] = timeout_s
            if group:
                result.cgroup_peak_bytes = group.peak()
                result.cgroup_oom_kills = group.oom_kills()
            return result
        finally:
            if own_group:
                group.remove()


def evict(paths: list[Path]) -> None:
    """Asks the kernel to drop the clean cached pages of `paths` (used before cold runs too)."""
    files = []
    for p in paths:
        files += [p] if not p.is_dir() else sorted(x for x in p.rglob("*") if x.is_file())
    for p in files:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def prewarm(paths: list[Path]) -> None:
    """Reads `paths` once so that warm runs find them in the page cache."""
    buf = bytearray(16 << 20)
    view = memoryview(buf)
    for p in paths:
        targets = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        for t in targets:
            with open(t, "rb", buffering=0) as f:
                while f.readinto(view):
                    pass
