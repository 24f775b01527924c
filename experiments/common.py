"""Shared helpers for the benchmark scripts."""
import os
import platform
import resource
import time

import torch


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"{cpu}; {os.cpu_count()} cores; GPU {gpu}; torch {torch.__version__}"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t


def run_measured(cmd, interval=0.2):
    """Run ``cmd`` (a list); return (exit code, seconds, peak RSS in MB of the whole process tree)."""
    import subprocess
    import threading

    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = [0.0]
    done = threading.Event()

    def watch():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root] + root.children(recursive=True)
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            done.wait(interval)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    rc = proc.wait()
    done.set()
    th.join()
    return rc, time.perf_counter() - t0, peak[0]


def named_programs(parser, specs):
    """{name: program string} from ``--program NAME=PROGRAM`` arguments (a malformed one is
    the parser's error, naming it)."""
    out = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep or not name:
            parser.error(f"--program {spec!r}: expected NAME=PROGRAM")
        out[name] = text
    return out
