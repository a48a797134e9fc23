#!/usr/bin/env python3
"""Run the libshadow benchmarks: every workload native, shadowed and ideal, interleaved.

    python3 run.py --bench build/bench --lib ../target/release/libshadow.so [--quick]

Then (workload `resync`, resync.py) rebuilds a member with `shadowctl enable` while a
program writes, and reports the rebuild time and the writer's longest stall; then
(workloads `failover` and `rebuild`, failover.py) the latency of the write in which a member
fails, and the time of `shadowctl enable --update dirty` per amount of changed data.

Writes <out>/results.json, results.csv and ratios.svg and prints a table.  Exit status:
0 when every run finished and every content check passed (whatever the numbers say),
1 when a run crashed, timed out, failed a content check or left the two members
different, 2 on a usage or setup error.  Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import fcntl
import hashlib
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import resync  # noqa: E402  (bench/resync.py)
import failover  # noqa: E402  (bench/failover.py)
from members import manifest, member_differences  # noqa: E402  (bench/members.py)
import pgbench  # noqa: E402  (bench/pgbench.py)
import sshfs  # noqa: E402  (bench/sshfs.py)

EXTRA = ("resync", "failover", "rebuild", "pgbench", "sshfs")  # rows after the workloads
# The extra rows run by a module of their own: run(a, base, clean_env, progress) -> doc
# with "skipped" (why not, or None) and "failures"; print_section(doc); csv_rows(doc, width).
MODULES = {"pgbench": pgbench, "sshfs": sshfs}

MODES = ("native", "shadowed", "ideal", "behind")
BIG_FILE = 1 << 20  # Dirs.next_run() deletes files this big at once, smaller ones at the end
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


@dataclass
class Workload:
    name: str
    about: str
    full_scale: float  # --scale passed to the program in a full run
    quick_scale: float  # ... and in a quick run
    scalable: bool = True  # False: fixed size (the DiskShadow tests)
    max_reps: int | None = None  # cap on repetitions (slow and steady workloads)
    spread: bool = False  # each run's directories in a fresh block group (see Dirs)
    warm: bool = False  # grow the page cache to what a mirror needs before each run (warm_cache)


WORKLOADS = [
    Workload("disktester", "Disk Tester: 500 x 512 B create/read/rewrite", 1, 1, False),
    Workload("disktester_sync", "Disk Tester with the sync flag (O_SYNC)", 1, 1, False),
    Workload("bigfile", "big-file test: 5 x (5 x 65520 B, read back 5 B at a time)", 1, 1, False),
    Workload("interpose", "1M calls on fds the shim does not mirror", 1, 0.05),
    Workload("read", "4 KiB sequential reads on a shadowed fd, 64 MiB x 4", 1, 1 / 8),
    Workload("randwrite", "4 KiB pwrite at random offsets, 64 MiB file", 1, 1 / 8),
    Workload("stream", "1 GiB in 1 MiB writes + fsync", 1, 1 / 16, warm=True),
    Workload("fsync", "append 200 B + fdatasync, 5,000 times; 2,000 O_DSYNC appends", 1, 0.1),
    Workload("concurrency", "8 threads: own files; one O_APPEND file", 1, 1 / 8),
    Workload("memory", "RSS with 10,000 shadowed files open", 1, 0.1, max_reps=3, spread=True),
    Workload("metadata", "create/write/rename/stat/unlink 10,000 files", 1, 0.05, spread=True),
    Workload("scale", "64 Ki x 512 B writes: 1 vs 64 threads, 1 vs 10,000 open files, "
             "1 vs 100 processes", 1, 1 / 16, spread=True),
    Workload("exec", "process start: 2,000 posix_spawn and 2,000 fork + exec of /bin/true",
             1, 0.1),
]
BY_NAME = {w.name: w for w in WORKLOADS}

# (workload, phase) -> (reference mode, limit, what the target says)
TARGETS: dict[tuple[str, str], tuple[str, float, str]] = {
    ("read", "seq_read_4k"): ("native", 1.03, "reads on shadowed fds"),
    ("interpose", "devnull_write_1b"): ("native", 1.02, "untouched fds"),
    ("interpose", "fstat_plain"): ("native", 1.02, "untouched fds"),
    ("interpose", "lseek_plain"): ("native", 1.02, "untouched fds"),
    ("interpose", "devnull_write_1b_after_fsync"): ("native", 1.02, "untouched fds"),
    ("stream", "total"): ("ideal", 1.10, "streaming"),
    # Issue 13's (the design's were 2.3 x native and 1.1 x ideal).
    ("metadata", "total"): ("native", 2.10, "metadata storm"),
    ("fsync", "append_200b_fdatasync"): ("native", 1.25, "fsync-heavy"),
}
DT_READS = ("read_seq", "read_random", "read_butterfly")
DT_WRITES = ("create", "rewrite_seq", "rewrite_random", "rewrite_butterfly")
for _dt in ("disktester", "disktester_sync"):
    for _p in DT_READS:
        TARGETS[(_dt, _p)] = ("native", 1.03, "Disk Tester reads")
    for _p in DT_WRITES:
        TARGETS[(_dt, _p)] = ("ideal", 1.10, "Disk Tester writes")
    TARGETS[(_dt, "writes_512b_sum")] = ("ideal", 1.10, "512-byte writes")

SCALE_LIMIT = 1.2  # a write's cost at scale over its cost with 1 thread/file/process
SCALE_PAIRS = (("threads_1", "threads_64"), ("files_1", "files_"), ("procs_1", "procs_100"))

SHIM_FIXED_LIMIT = 2 * 1024 * 1024  # bytes
SHIM_PER_FILE_LIMIT = 256  # bytes per open shadowed file

PUBLISHED = {
    "disktester": {"shadowed_s": 7.40, "native_s": 6.47, "ratio": 1.14,
                   "what": "standard file, both members local"},
    "disktester_sync": {"shadowed_s": 158.58, "native_s": 154.68, "ratio": 1.03,
                        "what": "shared file, sync flag set"},
}


# ---------------------------------------------------------------- arguments


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default="build/bench", help="the benchmark program")
    ap.add_argument("--lib", default="../target/release/libshadow.so", help="libshadow.so")
    ap.add_argument("--shadowctl", default=None,
                    help="shadowctl for the resync, failover and rebuild rows "
                         "(default: next to --lib)")
    ap.add_argument("--failwriter", default="build/failwriter",
                    help="the failover rows' writer program")
    ap.add_argument("--resync-files", type=int, default=None,
                    help="files in the resync and rebuild trees (default 20000, quick 2000, "
                         "x --scale)")
    ap.add_argument("--out", default="../target/bench", help="directory for results")
    ap.add_argument("--tmpdir", default=None,
                    help="where to make the members (default: $TMPDIR or /tmp); "
                         "both members are made side by side, on one file system")
    ap.add_argument("--prefix", default="/shadow", help="virtual prefix (default /shadow)")
    ap.add_argument("--quick", action="store_true",
                    help="scaled-down run for CI: small sizes, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions of each (workload, mode) (default 5, quick 3)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every scalable workload's size by this")
    ap.add_argument("--stream-mib", type=int, default=None,
                    help="streaming size in MiB (default 1024, quick 64)")
    ap.add_argument("--only", default=None,
                    help="comma-separated workloads to run (default: all): "
                         + ",".join([w.name for w in WORKLOADS] + list(EXTRA)))
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated modes (default: native,shadowed,ideal,behind; behind "
                         "is shadowed with write_behind = true)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds allowed per run (default 900, quick 120)")
    ap.add_argument("--rotate", action="store_true",
                    help="rotate the mode order each repetition (N,S,I / S,I,N / I,N,S) to "
                         "cancel position effects such as the previous run's writeback")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    a = ap.parse_args()
    a.reps = a.reps or (3 if a.quick else 5)
    a.timeout = a.timeout or (120 if a.quick else 900)
    a.modes = [m for m in a.modes.split(",") if m]
    if any(m not in MODES for m in a.modes) or not a.modes:
        ap.error(f"--modes takes some of {','.join(MODES)}")
    names = a.only.split(",") if a.only else [w.name for w in WORKLOADS] + list(EXTRA)
    unknown = [n for n in names if n not in BY_NAME and n not in EXTRA]
    if unknown:
        ap.error(f"unknown workload(s): {', '.join(unknown)}")
    a.workloads = [BY_NAME[n] for n in names if n not in EXTRA]
    # these rows need the shim: they run when asked for (or by default) with shadowed
    for x in EXTRA:
        setattr(a, x, x in names and "shadowed" in a.modes)
        if a.only and x in names and not getattr(a, x):
            print(f"run.py: {x} needs the shadowed mode; left out", file=sys.stderr)
    a.needs_ctl = a.resync or a.failover or a.rebuild
    if a.resync_files is not None and a.resync_files < 200:
        ap.error("--resync-files must be at least 200")
    if a.reps < 1:
        ap.error("--reps must be at least 1")
    return a


def workload_reps(w: Workload, a: argparse.Namespace) -> int:
    return min(a.reps, w.max_reps or a.reps)


def workload_scale(w: Workload, a: argparse.Namespace) -> float:
    if not w.scalable:
        return 1.0
    if w.name == "stream" and a.stream_mib:
        return a.stream_mib / 1024
    return (w.quick_scale if a.quick else w.full_scale) * a.scale


# ---------------------------------------------------------- run directories


def set_topdir(d: Path) -> bool:
    """Best effort `chattr +T d` (ext2/3/4): new subdirectories of d are spread over the
    block groups instead of packed near d.  False where the file system has no such flag."""
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8))[:4])[0]
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_TOPDIR_FL) + bytes(4))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class Dirs:
    """Per run, a fresh directory base/WORKLOAD-T/run-NNN-T (T random) holding the primary/secondary
    pair (native uses the primary, ideal both), the shim's state dir, a plain scratch
    dir and the config file.

    Where the directories land matters on ext4 (seen on the development VM, ext4 without
    a journal):
    - creating files within about a minute of deleting many near them is slow (ext4
      skips recently deleted inodes; `recently_deleted` in perf).  Reusing one directory
      charged each metadata run for the previous run's 10,000-20,000 unlinks (0.5 s
      native alone, 4 s after an ideal run);
    - the first writes in a block group nobody used lately are slow too (the Disk
      Tester's create phase: 100 ms in a fresh group, 27 ms in a warm one).
    So base and each WORKLOAD dir get `chattr +T` where the workload creates and deletes
    many files (`spread`): each of its runs lands in its own block group.  The other
    workloads' runs stay together in one warm group.  Small files are left in place until
    the end; big ones are deleted before the next run."""

    def __init__(self, base: Path, prefix: str):
        self.base = base
        self.prefix = prefix
        self.topdir = set_topdir(base)
        # ext4 picks the block group of a +T child from a hash of its name: names new to
        # each invocation keep it away from the groups the previous invocation emptied.
        self.token = os.urandom(4).hex()
        self.runs = 0
        self.root: Path | None = None

    def next_run(self, w: Workload) -> None:
        """Make the next run's directories.  The previous run's big files are deleted
        now (few inodes, much space), the rest with base at the end.  Then sync, so the
        previous run's dirty pages are not written back during the next run."""
        if self.root is not None:
            for dirpath, _, filenames in os.walk(self.root):
                for n in filenames:
                    p = Path(dirpath) / n
                    if p.lstat().st_size >= BIG_FILE:
                        p.unlink()
        self.runs += 1
        wdir = self.base / f"{w.name}-{self.token}"
        if not wdir.exists():
            wdir.mkdir()
            if w.spread:
                set_topdir(wdir)
        self.root = wdir / f"run-{self.runs:03d}-{self.token}"
        self.primary = self.root / "primary"
        self.secondary = self.root / "secondary"
        self.state = self.root / "state"
        self.aux = self.root / "plain"
        self.config = self.root / "shadow.toml"
        self.config_behind = self.root / "behind.toml"
        for d in (self.root, self.primary, self.secondary, self.state, self.aux):
            d.mkdir()
        q = json.dumps  # a JSON string is a valid TOML basic string for these paths
        self.config.write_text(
            f"prefix = {q(self.prefix)}\n"
            f"primary = {q(str(self.primary))}\n"
            f"secondary = {q(str(self.secondary))}\n"
            f"state_dir = {q(str(self.state))}\n")
        self.config_behind.write_text(self.config.read_text() + "write_behind = true\n")
        os.sync()


# -------------------------------------------------------------------- runs


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "SHADOW_CONFIG"):
        env.pop(k, None)
    return env


def warm_cache(dirs: Dirs, mib: int) -> None:
    """Writes and deletes `mib` MiB in the aux dir: the page cache has grown that far before
    the run.  On a VM whose host takes freed memory back, the first run to grow the cache
    past what the run before it used pays for every new page (`copy_folio_from_iter_atomic`
    2-5 x slower); with the modes rotated, a mirror mode (2 copies) mostly follows native
    (1 copy) and the ideal mirror follows the shim, which charged the shim alone."""
    chunk = bytes(1 << 20)
    scratch = dirs.aux / "warm.tmp"
    with open(scratch, "wb") as f:
        for _ in range(mib):
            f.write(chunk)
    scratch.unlink()
    os.sync()  # the scratch file's writeback and freed blocks settle before the timed run


def run_one(a, dirs: Dirs, w: Workload, mode: str, rep: int, order: int,
            native_manifest: dict | None) -> dict:
    """One invocation of the program; returns the run record (phases or an error)."""
    dirs.next_run(w)
    if w.warm:
        warm_cache(dirs, int(2 * 1024 * workload_scale(w, a)))
    argv = [str(a.bench_abs), w.name, mode]
    env = clean_env()
    if mode == "native":
        argv += [str(dirs.primary)]
    elif mode in ("shadowed", "behind"):
        argv[2] = "shadowed"
        argv += [dirs.prefix]
        env["LD_PRELOAD"] = str(a.lib_abs)
        env["SHADOW_CONFIG"] = str(dirs.config if mode == "shadowed" else dirs.config_behind)
    else:
        argv += [str(dirs.primary), str(dirs.secondary)]
    argv += ["--scale", repr(workload_scale(w, a)), "--aux", str(dirs.aux)]
    rec = {"workload": w.name, "mode": mode, "rep": rep, "order": order,
           "argv": argv, "env": {k: env[k] for k in ("LD_PRELOAD", "SHADOW_CONFIG") if k in env},
           "phases": [], "error": None, "stderr": ""}
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired as e:
        rec["wall_seconds"] = time.monotonic() - t0
        rec["error"] = f"timed out after {a.timeout:.0f} s"
        rec["stderr"] = (e.stderr or b"").decode(errors="replace")[-4000:] \
            if isinstance(e.stderr, bytes) else (e.stderr or "")[-4000:]
        return rec
    rec["wall_seconds"] = time.monotonic() - t0
    rec["returncode"] = p.returncode
    rec["stderr"] = p.stderr[-4000:]
    for line in p.stdout.splitlines():
        try:
            rec["phases"].append(json.loads(line))
        except json.JSONDecodeError:
            rec["error"] = f"unparsable output line: {line[:200]!r}"
    if p.returncode != 0:
        why = {2: "failed syscall or usage", 3: "CONTENT CHECK FAILED"}.get(
            p.returncode, "crashed" if p.returncode < 0 else "failed")
        sig = f" (signal {-p.returncode})" if p.returncode < 0 else ""
        rec["error"] = f"exit {p.returncode}{sig}: {why}: {p.stderr.strip()[-500:]}"
        return rec
    if not rec["phases"]:
        rec["error"] = rec["error"] or "no phases reported"
        return rec
    # Both members must hold the same tree, and the same names as the native run.
    if mode in ("shadowed", "ideal", "behind"):
        diffs = member_differences(dirs.primary, dirs.secondary)
        if diffs:
            rec["error"] = "members differ after the run: " + "; ".join(diffs)
        elif native_manifest is not None and manifest(dirs.primary) != native_manifest:
            got = manifest(dirs.primary)
            extra = sorted(set(got) - set(native_manifest))[:5]
            missing = sorted(set(native_manifest) - set(got))[:5]
            rec["error"] = (f"primary tree differs from the native run's: "
                            f"extra {extra}, missing {missing}")
    rec["manifest"] = manifest(dirs.primary) if mode == "native" else None
    return rec


# ------------------------------------------------------------------- stats


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    v = sorted(values)
    q1, q3 = (statistics.quantiles(v, n=4, method="inclusive")[::2]
              if len(v) >= 2 else (v[0], v[0]))
    return {"values": values, "n": len(v), "median": statistics.median(v),
            "min": v[0], "max": v[-1], "q1": q1, "q3": q3}


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def paired_ratios(num: dict[int, float], den: dict[int, float]) -> dict | None:
    """Per-repetition ratios (shadowed rep i / reference rep i): their spread."""
    r = [num[i] / den[i] for i in sorted(num) if i in den and den[i]]
    return {"min": min(r), "median": statistics.median(r), "max": max(r)} if r else None


def collect(runs: list[dict]) -> dict[tuple[str, str], dict]:
    """(workload, phase) -> {metric, mode -> {rep -> value}}, derived rows added."""
    table: dict[tuple[str, str], dict] = {}
    for r in runs:
        if r["error"]:
            continue
        for ph in r["phases"]:
            metric = "seconds" if "seconds" in ph else "rss_bytes"
            row = table.setdefault((r["workload"], ph["phase"]), {"metric": metric, "by_mode": {}})
            row["by_mode"].setdefault(r["mode"], {})[r["rep"]] = ph[metric]
            if "files" in ph:
                row["files"] = ph["files"]
    for dt in ("disktester", "disktester_sync"):
        parts = [table.get((dt, p)) for p in DT_WRITES]
        if all(parts):
            by_mode = {}
            for m in MODES:
                reps = set.intersection(*(set(p["by_mode"].get(m, {})) for p in parts))
                if reps:
                    by_mode[m] = {i: sum(p["by_mode"][m][i] for p in parts) for i in reps}
            table[(dt, "writes_512b_sum")] = {"metric": "seconds", "by_mode": by_mode}
    return table


def memory_rows(table: dict) -> list[dict]:
    """Shim memory from the memory workload, paired by repetition."""
    base, opened = table.get(("memory", "rss_baseline")), table.get(("memory", "rss_open"))
    if not base or not opened:
        return []
    n = opened.get("files") or 1
    bn, bs = base["by_mode"].get("native", {}), base["by_mode"].get("shadowed", {})
    on, os_ = opened["by_mode"].get("native", {}), opened["by_mode"].get("shadowed", {})
    reps = sorted(set(bn) & set(bs) & set(on) & set(os_))
    if not reps:
        return []
    fixed = [bs[i] - bn[i] for i in reps]
    per_file = [((os_[i] - bs[i]) - (on[i] - bn[i])) / n for i in reps]
    total = [os_[i] - on[i] for i in reps]
    limit = SHIM_FIXED_LIMIT + SHIM_PER_FILE_LIMIT * n
    med = statistics.median
    return [
        {"name": "shim RSS at start (shadowed - native)", "unit": "bytes",
         "summary": summary(fixed), "limit": SHIM_FIXED_LIMIT,
         "pass": med(fixed) <= SHIM_FIXED_LIMIT, "target": "<= 2 MiB"},
        {"name": f"shim RSS per open file (growth over {n} files, minus native's)",
         "unit": "bytes", "summary": summary(per_file), "limit": SHIM_PER_FILE_LIMIT,
         "pass": med(per_file) <= SHIM_PER_FILE_LIMIT, "target": "<= 256 B/file"},
        {"name": f"(shadowed - native) RSS / {n} files", "unit": "bytes",
         "summary": summary([t / n for t in total]), "limit": None, "pass": None,
         "target": ""},
        {"name": f"shim RSS with {n} files open (shadowed - native)", "unit": "bytes",
         "summary": summary(total), "limit": limit, "pass": med(total) <= limit,
         "target": f"<= 2 MiB + 256 B x {n}"},
    ]


def scale_rows(table: dict) -> list[dict]:
    """The scale workload: each mode's cost of a write at scale over its cost at 1, paired
    by repetition (the same number of writes in both phases)."""
    out = []
    for one, many_prefix in SCALE_PAIRS:
        many = next((ph for (wl, ph) in table if wl == "scale" and ph.startswith(many_prefix)
                     and ph != one), None)
        if ("scale", one) not in table or many is None:
            continue
        a, b = table[("scale", one)]["by_mode"], table[("scale", many)]["by_mode"]
        factors = {m: paired_ratios(b.get(m, {}), a.get(m, {})) for m in MODES}
        sh = factors["shadowed"]
        out.append({"name": f"{many} / {one}", "factors": factors, "limit": SCALE_LIMIT,
                    "pass": None if sh is None else sh["median"] <= SCALE_LIMIT})
    return out


def results(table: dict, workloads: list[Workload]) -> list[dict]:
    order = {w.name: i for i, w in enumerate(workloads)}
    out = []
    # workloads in run order; phases in the order the program printed them, derived last
    for (wl, phase), row in sorted(table.items(), key=lambda kv: order.get(kv[0][0], 99)):
        s = {m: summary(list(row["by_mode"].get(m, {}).values())) for m in MODES}
        res = {"workload": wl, "phase": phase, "metric": row["metric"],
               **{m: s[m] for m in MODES},
               "ratio_shadowed_native": ratio(s["shadowed"], s["native"]),
               "ratio_shadowed_ideal": ratio(s["shadowed"], s["ideal"]),
               "ratio_behind_native": ratio(s["behind"], s["native"]),
               "paired_shadowed_native": paired_ratios(row["by_mode"].get("shadowed", {}),
                                                       row["by_mode"].get("native", {})),
               "paired_shadowed_ideal": paired_ratios(row["by_mode"].get("shadowed", {}),
                                                      row["by_mode"].get("ideal", {})),
               "target": None}
        t = TARGETS.get((wl, phase))
        if t:
            ref, limit, what = t
            r = res[f"ratio_shadowed_{ref}"]
            res["target"] = {"what": what, "reference": ref, "limit": limit,
                             "pass": None if r is None else r <= limit}
        out.append(res)
    return out


# ----------------------------------------------------------------- output


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f}s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f}ms"
    return f"{s * 1e6:.0f}us"


def fmt_bytes(b: float) -> str:
    if abs(b) >= 1 << 20:
        return f"{b / (1 << 20):.2f}MiB"
    if abs(b) >= 1 << 10:
        return f"{b / (1 << 10):.1f}KiB"
    return f"{b:.0f}B"


def fmt_cell(s: dict | None, metric: str) -> str:
    if not s:
        return "-"
    f = fmt_time if metric == "seconds" else fmt_bytes
    if s["n"] == 1:
        return f(s["median"])
    return f"{f(s['median'])} [{f(s['min'])}-{f(s['max'])}]"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3f}"


def print_table(res: list[dict], mem: list[dict], runs: list[dict], a,
                rs: dict | None = None, fo: dict | None = None,
                rb: dict | None = None, sc: list[dict] | None = None,
                extra: dict[str, dict] | None = None) -> None:
    print()
    if res:
        print_main_rows(res, mem, a)
    if sc:
        print()
        print(f"scale (a write's cost at scale / at 1, paired by repetition; "
              f"target: shadowed <= {SCALE_LIMIT}):")
        for r in sc:
            verdict = "" if r["pass"] is None else ("pass" if r["pass"] else "MISS")
            cells = "  ".join(f"{m} {fmt_ratio(r['factors'][m] and r['factors'][m]['median'])}"
                              for m in MODES if r["factors"][m])
            print(f"  {r['name']:<24} {cells}  {verdict}")
    resync.print_section(rs)
    failover.print_sections(fo, rb)
    for name, doc in (extra or {}).items():
        MODULES[name].print_section(doc)
    if res:
        print_published(res)
    print_problems(runs, rs, fo, rb, *(extra or {}).values())


def print_main_rows(res: list[dict], mem: list[dict], a) -> None:
    head = ["workload/phase", "native", "shadowed", "ideal", "behind", "S/N", "S/I", "B/N", "target", ""]
    rows = []
    for r in res:
        t = r["target"]
        tgt = f"S/{t['reference'][0].upper()}<={t['limit']:.2f}" if t else ""
        verdict = "" if not t else ("n/a" if t["pass"] is None else
                                    ("pass" if t["pass"] else "MISS"))
        rows.append([f"{r['workload']}/{r['phase']}",
                     *(fmt_cell(r[m], r["metric"]) for m in MODES),
                     fmt_ratio(r["ratio_shadowed_native"]),
                     fmt_ratio(r["ratio_shadowed_ideal"]),
                     fmt_ratio(r["ratio_behind_native"]), tgt, verdict])
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(wd) for h, wd in zip(head, widths))
    print(f"libshadow benchmarks: median [min-max] over {a.reps} repetitions "
          f"(memory: {workload_reps(BY_NAME['memory'], a)}); S/N = shadowed/native, S/I = shadowed/ideal, B/N = behind (write-behind)/native (ratios of medians)")
    print(line)
    print("-" * len(line))
    last_wl = None
    for r, cells in zip(res, rows):
        if last_wl is not None and r["workload"] != last_wl:
            print()
        last_wl = r["workload"]
        print("  ".join(c.ljust(wd) for c, wd in zip(cells, widths)).rstrip())
    if mem:
        print()
        print("shim memory (memory workload, VmRSS, paired by repetition):")
        for m in mem:
            verdict = "" if m["pass"] is None else ("pass" if m["pass"] else "MISS")
            print(f"  {m['name']:<62} {fmt_cell(m['summary'], 'bytes'):<30} "
                  f"{m['target']:<24} {verdict}")


def print_published(res: list[dict]) -> None:
    print()
    print("DiskShadow's published totals (QNX, both members local) beside ours (total phase):")
    for dt, pub in PUBLISHED.items():
        ours = next((r for r in res if r["workload"] == dt and r["phase"] == "total"), None)
        mine = "not run"
        if ours and ours["shadowed"] and ours["native"]:
            mine = (f"{fmt_time(ours['shadowed']['median'])} / "
                    f"{fmt_time(ours['native']['median'])} = "
                    f"{ours['ratio_shadowed_native']:.2f}")
        print(f"  {dt:<16} DiskShadow {pub['shadowed_s']:.2f}s / {pub['native_s']:.2f}s = "
              f"{pub['ratio']:.2f} ({pub['what']});  libshadow {mine}")


def print_problems(runs: list[dict], *extra: dict | None) -> None:
    bad = [r for r in runs if r["error"]] + [f for d in extra if d for f in d["failures"]]
    noisy = [r for r in runs if not r["error"] and r["stderr"].strip()]
    if noisy:
        seen: dict[str, list[str]] = {}
        for r in noisy:
            first = r["stderr"].strip().splitlines()[0][:200]
            seen.setdefault(first, []).append(f"{r['workload']}/{r['mode']}")
        print()
        print(f"{len(noisy)} successful run(s) wrote to stderr (all kept in results.json):")
        for first, where in list(seen.items())[:6]:
            print(f"  {len(where)}x ({', '.join(sorted(set(where)))}): {first}")
    if bad:
        print()
        print(f"FAILED RUNS ({len(bad)}; their numbers are left out of the table):")
        for r in bad:
            print(f"  {r['workload']} {r['mode']} rep {r['rep']}: {r['error'][:400]}")


def write_csv(path: Path, res: list[dict], mem: list[dict], rs: dict | None = None,
              fo: dict | None = None, rb: dict | None = None,
              extra: dict[str, dict] | None = None) -> None:
    stats = ("median", "min", "max", "q1", "q3", "n")
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "phase", "metric",
                     *(f"{m}_{s}" for m in MODES for s in stats),
                     "ratio_shadowed_native", "ratio_shadowed_ideal",
                     "target_reference", "target_limit", "target_pass"])
        for r in res:
            t = r["target"] or {}
            wr.writerow([r["workload"], r["phase"], r["metric"],
                         *((r[m] or {}).get(s, "") for m in MODES for s in stats),
                         "" if r["ratio_shadowed_native"] is None else f"{r['ratio_shadowed_native']:.6f}",
                         "" if r["ratio_shadowed_ideal"] is None else f"{r['ratio_shadowed_ideal']:.6f}",
                         t.get("reference", ""), t.get("limit", ""),
                         "" if t.get("pass") is None else ("pass" if t["pass"] else "miss")])
        for m in mem:
            s = m["summary"]
            wr.writerow(["memory", m["name"], "bytes", s["median"], s["min"], s["max"],
                         s["q1"], s["q3"], s["n"], *([""] * (6 * (len(MODES) - 1))), "", "",
                         "native", m["limit"] if m["limit"] is not None else "",
                         "" if m["pass"] is None else ("pass" if m["pass"] else "miss")])
        for row in resync.csv_rows(rs, 3 + 6 * len(MODES) + 5):
            wr.writerow(row)
        for row in failover.csv_rows([("failover", fo), ("rebuild", rb)], 3 + 6 * len(MODES) + 5):
            wr.writerow(row)
        for name, doc in (extra or {}).items():
            for row in MODULES[name].csv_rows(doc, 3 + 6 * len(MODES) + 5):
                wr.writerow(row)


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path: Path, res: list[dict]) -> None:
    """Horizontal bars: shadowed/native and shadowed/ideal per timed row, with the
    target drawn as a tick.  Ratios beyond 4 are clipped and labelled."""
    rows = [r for r in res if r["metric"] == "seconds"
            and (r["ratio_shadowed_native"] or r["ratio_shadowed_ideal"])]
    label_w, plot_w, row_h, top = 290, 520, 26, 48
    xmax = 4.0
    height = top + row_h * len(rows) + 40
    x = lambda v: label_w + plot_w * min(v, xmax) / xmax  # noqa: E731
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 80}" '
         f'height="{height}" font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="10" y="18" font-size="14">libshadow: shadowed / native '
         f'(blue) and shadowed / ideal (orange), medians</text>',
         f'<text x="10" y="34" fill="#555">black tick: target; dashed line: 1.0</text>']
    for g in range(0, int(xmax) + 1):
        o.append(f'<line x1="{x(g)}" y1="{top - 6}" x2="{x(g)}" y2="{height - 34}" '
                 f'stroke="#ddd"/>')
        o.append(f'<text x="{x(g)}" y="{height - 20}" text-anchor="middle">{g}</text>')
    for i, r in enumerate(rows):
        y = top + i * row_h
        o.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                 f'{esc(r["workload"] + "/" + r["phase"])}</text>')
        for j, (key, colour) in enumerate((("ratio_shadowed_native", "#4a7bd0"),
                                            ("ratio_shadowed_ideal", "#e8903a"))):
            v = r[key]
            if v is None:
                continue
            yy = y + 3 + j * 10
            o.append(f'<rect x="{label_w}" y="{yy}" width="{x(v) - label_w:.1f}" '
                     f'height="9" fill="{colour}"/>')
            o.append(f'<text x="{x(v) + 3:.1f}" y="{yy + 8}" font-size="9">'
                     f'{v:.2f}{"+" if v > xmax else ""}</text>')
        t = r["target"]
        if t:
            yy = y + 3 + (0 if t["reference"] == "native" else 10)
            o.append(f'<line x1="{x(t["limit"]):.1f}" y1="{yy - 2}" x2="{x(t["limit"]):.1f}" '
                     f'y2="{yy + 11}" stroke="black" stroke-width="2"/>')
    o.append(f'<line x1="{x(1)}" y1="{top - 6}" x2="{x(1)}" y2="{height - 34}" '
             f'stroke="#333" stroke-dasharray="4 3"/>')
    o.append("</svg>")
    path.write_text("\n".join(o) + "\n")


def sha256(p: Path) -> str | None:
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError:
        return None


def fs_type(p: Path) -> str:
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(p).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def git_commit(repo: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# -------------------------------------------------------------------- main


def main() -> int:
    a = parse_args()
    a.bench_abs = Path(a.bench).resolve()
    a.lib_abs = Path(a.lib).resolve()
    if not a.bench_abs.is_file():
        print(f"run.py: benchmark program {a.bench} not found (make -C bench)", file=sys.stderr)
        return 2
    a.shimmed = any(m in a.modes for m in ("shadowed", "behind"))
    if a.shimmed and not a.lib_abs.is_file():
        print(f"run.py: {a.lib} not found; build the shim first (make at the repo root), "
              f"or pass --modes native,ideal", file=sys.stderr)
        return 2
    a.shadowctl_abs = Path(a.shadowctl or a.lib_abs.parent / "shadowctl").resolve()
    if a.needs_ctl and not a.shadowctl_abs.is_file():
        print(f"run.py: {a.shadowctl_abs} not found (the resync, failover and rebuild rows "
              f"need it); build it (make at the repo root), pass --shadowctl, or leave them "
              f"out of --only", file=sys.stderr)
        return 2
    a.failwriter_abs = Path(a.failwriter).resolve()
    if a.failover and not a.failwriter_abs.is_file():
        print(f"run.py: failover writer {a.failwriter} not found (make -C bench)",
              file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmproot = Path(a.tmpdir or tempfile.gettempdir()).resolve()
    base = Path(tempfile.mkdtemp(prefix="libshadow-bench-", dir=tmproot))
    dirs = Dirs(base, a.prefix)
    if a.shimmed:
        # preload a copy: a rebuild of the shim during the run must not mix versions
        a.lib_built = a.lib_abs
        a.lib_abs = base / a.lib_built.name
        shutil.copy2(a.lib_built, a.lib_abs)
        lib_sha = sha256(a.lib_abs)
    else:
        a.lib_built, lib_sha = a.lib_abs, None
    ctl_sha = None
    if a.needs_ctl:  # a copy too, taken with the shim's: the two must be of one build
        a.shadowctl_built = a.shadowctl_abs
        a.shadowctl_abs = base / "shadowctl"
        shutil.copy2(a.shadowctl_built, a.shadowctl_abs)
        ctl_sha = sha256(a.shadowctl_abs)

    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.monotonic()
    total = sum(workload_reps(w, a) for w in a.workloads) * len(a.modes)
    print(f"bench: {len(a.workloads)} workloads x {a.reps} reps x {len(a.modes)} modes "
          f"(memory: at most 3 reps) = {total} runs"
          f"{f' + resync ({a.reps} x all/newer)' if a.resync else ''}"
          f"{' + failover' if a.failover else ''}{' + rebuild' if a.rebuild else ''} in {base} "
          f"({fs_type(base)}); lib {a.lib_built}", flush=True)
    runs: list[dict] = []
    rs = fo = rb = None
    extra: dict[str, dict] = {}
    order = 0
    try:
        for w in a.workloads:
            t_w = time.monotonic()
            native_manifest = None  # the native tree, the same every repetition
            for rep in range(workload_reps(w, a)):
                k = rep % len(a.modes) if a.rotate else 0
                for mode in a.modes[k:] + a.modes[:k]:  # native, shadowed, ideal, native, ...
                    rec = run_one(a, dirs, w, mode, rep, order, native_manifest)
                    order += 1
                    if mode == "native" and not rec["error"]:
                        native_manifest = rec["manifest"]
                    rec.pop("manifest", None)
                    runs.append(rec)
                    if rec["error"]:
                        print(f"  {w.name} {mode} rep {rep}: FAILED: {rec['error'][:300]}",
                              flush=True)
            print(f"  {w.name:<16} done in {time.monotonic() - t_w:6.1f}s "
                  f"(scale {workload_scale(w, a):g})", flush=True)
        if a.resync:
            t_w = time.monotonic()
            rs = resync.run(a, base, clean_env, lambda msg: print(msg, flush=True))
            print(f"  {'resync':<16} done in {time.monotonic() - t_w:6.1f}s "
                  f"({rs['setup']['files']} files)", flush=True)
        if a.failover:
            t_w = time.monotonic()
            fo = failover.run_failover(a, base, clean_env, lambda msg: print(msg, flush=True))
            print(f"  {'failover':<16} done in {time.monotonic() - t_w:6.1f}s", flush=True)
        if a.rebuild:
            t_w = time.monotonic()
            rb = failover.run_rebuild(a, base, clean_env, lambda msg: print(msg, flush=True))
            print(f"  {'rebuild':<16} done in {time.monotonic() - t_w:6.1f}s "
                  f"({rb['setup']['files']} files)", flush=True)
        for name, module in MODULES.items():
            if getattr(a, name):
                t_w = time.monotonic()
                extra[name] = module.run(a, base, clean_env, lambda msg: print(msg, flush=True))
                why = extra[name]["skipped"]
                print(f"  {name:<16} {'NOT RUN: ' + why if why else 'done'} in "
                      f"{time.monotonic() - t_w:6.1f}s", flush=True)
    except KeyboardInterrupt:
        print("bench: interrupted; writing what was measured", file=sys.stderr)
        runs.append({"workload": "-", "mode": "-", "rep": -1, "order": order,
                     "error": "interrupted", "phases": [], "stderr": ""})
    finally:
        if a.keep:
            print(f"bench: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    table = collect(runs)
    res = results(table, a.workloads)
    mem = memory_rows(table)
    sc = scale_rows(table)
    failures = [r for r in runs if r["error"]] + [f for d in (rs, fo, rb, *extra.values()) if d
                                                  for f in d["failures"]]
    repo = Path(__file__).resolve().parent.parent
    doc = {
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "elapsed_seconds": round(time.monotonic() - t_start, 1),
            "quick": a.quick, "reps": a.reps, "modes": a.modes, "rotate": a.rotate,
            "workloads": {w.name: {"about": w.about, "scale": workload_scale(w, a),
                                   "reps": workload_reps(w, a)}
                          for w in a.workloads},
            "host": platform.node(), "kernel": platform.release(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "tmpdir": str(tmproot), "fs_type": fs_type(tmproot), "prefix": a.prefix,
            "topdir_flag": dirs.topdir,
            "lib": str(a.lib_built), "lib_sha256": lib_sha,
            "shadowctl": str(a.shadowctl_built) if a.needs_ctl else None,
            "shadowctl_sha256": ctl_sha,
            "failwriter_sha256": sha256(a.failwriter_abs) if a.failover else None,
            "bench_sha256": sha256(a.bench_abs), "repo_commit": git_commit(repo),
            "python": platform.python_version(),
        },
        "results": res,
        "memory": mem,
        "scale": sc,
        "published": PUBLISHED,
        "resync": rs,
        "failover": fo,
        "rebuild": rb,
        **extra,
        "failures": [{k: r.get(k) for k in ("workload", "mode", "rep", "error", "stderr")}
                     for r in failures],
        "runs": runs,
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_csv(out / "results.csv", res, mem, rs, fo, rb, extra)
    write_svg(out / "ratios.svg", res)
    print_table(res, mem, runs, a, rs, fo, rb, sc, extra)
    print(f"\nwrote {out / 'results.json'}, {out / 'results.csv'}, {out / 'ratios.svg'} "
          f"({time.monotonic() - t_start:.0f}s)")
    if failures:
        print(f"bench: {len(failures)} run(s) failed (see above); exit 1", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
