"""Shared helpers for the benchmarks: machine header, timing with warm-up, medians."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from importlib import metadata


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(packages=("gridsim", "numpy", "numba", "pandas", "pandapower", "networkx", "simbench")) -> str:
    vers = []
    for p in packages:
        try:
            vers.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            vers.append(f"{p} -")
    lines = [
        f"date: {_dt.datetime.now().isoformat(timespec='seconds')}",
        f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}; " + ", ".join(vers),
        f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(default)')}",
    ]
    return "\n".join(lines)


def timeit(fn, *, repeat: int = 7, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median wall time in seconds of ``fn()`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    t_start = time.perf_counter()
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if min_time and time.perf_counter() - t_start > min_time and i >= 2:
            break
    return statistics.median(times)


def fmt_s(sec: float) -> str:
    if sec >= 1:
        return f"{sec:.2f} s"
    if sec >= 1e-3:
        return f"{sec * 1e3:.2f} ms"
    return f"{sec * 1e6:.1f} µs"
