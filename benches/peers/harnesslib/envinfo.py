"""Machine description and versions, recorded with every result."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

PEER_PACKAGES = ["numpy", "pandas", "polars", "duckdb", "pyarrow", "zarr", "numcodecs", "h5py",
                 "dask", "matplotlib", "threadpoolctl"]


def _cmd(argv: list[str], cwd: str | None = None) -> str | None:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    return (r.stdout or r.stderr).strip()


def machine(data_dir: Path) -> dict:
    info: dict = {"cores": os.cpu_count(), "kernel": platform.release(),
                  "os": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
        flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
        info["avx2"] = " avx2" in flags
        info["avx512f"] = " avx512f" in flags
    except OSError:
        info["cpu"] = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_bytes"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    fs = _cmd(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--target", str(data_dir)])
    if fs:
        parts = fs.split()
        info["data_dir_device"] = parts[0]
        info["data_dir_fs"] = parts[1] if len(parts) > 1 else None
        dev = Path(parts[0]).name
        base = dev.rstrip("0123456789") if not dev.startswith("nvme") else dev.split("p")[0]
        sysblock = Path("/sys/block") / base
        if sysblock.exists():
            rot = (sysblock / "queue" / "rotational")
            info["disk_rotational"] = rot.read_text().strip() == "1" if rot.exists() else None
            model = sysblock / "device" / "model"
            info["disk_model"] = model.read_text().strip() if model.exists() else None
            size = sysblock / "size"
            if size.exists():
                info["disk_bytes"] = int(size.read_text()) * 512
            if (sysblock / "device" / "vendor").exists():
                info["disk_vendor"] = (sysblock / "device" / "vendor").read_text().strip()
            info["disk_virtual"] = base.startswith(("vd", "xvd"))
    st = os.statvfs(data_dir)
    info["data_dir_free_bytes"] = st.f_bavail * st.f_frsize
    return info


def versions(repo: Path, larder: str, python: str) -> dict:
    v: dict = {}
    rev = _cmd(["git", "rev-parse", "HEAD"], cwd=str(repo))
    dirty = _cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=str(repo))
    v["larder_git"] = (rev or "unknown") + (" (uncommitted changes)" if dirty else "")
    v["larder"] = _cmd([larder, "--version"])
    profile = Path(larder).parent.name
    v["larder_build"] = profile + ("" if profile == "release" else " (not for timing)")
    v["rustc"] = _cmd(["rustc", "-V"])
    v["cargo"] = _cmd(["cargo", "-V"])
    v["python"] = platform.python_version()
    v["python_executable"] = python
    for pkg in PEER_PACKAGES:
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v[pkg] = None
    dd = _cmd(["dd", "--version"])
    v["dd"] = dd.splitlines()[0] if dd else None
    try:
        import h5py

        v["libhdf5"] = h5py.version.hdf5_version
    except ImportError:
        pass
    return v


def threadpools(python: str, env: dict[str, str]) -> list[dict] | str:
    """What threadpoolctl reports for numpy's BLAS in `env` (the numpy contenders' env)."""
    code = ("import json, numpy, threadpoolctl;"
            "print(json.dumps(threadpoolctl.threadpool_info()))")
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"threadpoolctl failed: {e}"
    if r.returncode != 0:
        return f"threadpoolctl failed: {r.stderr.strip()[-300:]}"
    keep = ("internal_api", "user_api", "architecture", "num_threads", "version", "prefix")
    return [{k: d.get(k) for k in keep} for d in json.loads(r.stdout)]
