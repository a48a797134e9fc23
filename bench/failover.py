"""The failover and rebuild rows of `make bench` (issue 5): how long a writer is held up
at the moment a member fails, and how long `shadowctl enable --update dirty` takes to
rebuild a member for a given amount of changed data.  Run by run.py (workload names
`failover` and `rebuild`); standard library only.

failover (needs root and `unshare -m`; left out with a note otherwise)
    Per scenario (`secondary`, `primary`) and repetition, a fresh shadow set whose FAILING
    member directory is a tmpfs of TMPFS bytes, mounted in a private mount namespace
    (`unshare -m --propagation private`; this file runs itself there as `failover.py inner`).
    `failwriter` (failwriter.c) appends RECORDS records of RECORD bytes to /shadow/log under
    the shim, back to back, timing every write() (CLOCK_MONOTONIC).  The tmpfs fills at
    record TMPFS / RECORD: the shim marks the member failed (`secondary`: the primary carries
    on; `primary`: the secondary takes over, the writer's fd moves to it) and the writer goes
    on.  The failing write is record k = (bytes the failed member holds) / RECORD: the first
    one it did not get.  Reported: that write's latency, the median write before (both
    members) and after (one member), and the longest other write.  Checks (a failure makes
    the bench exit 1): the writer saw no error; the survivor holds every record, the failed
    member a prefix of them; history has the 00080 record and status shows the member
    failed; after a remount with room, `shadowctl enable MEMBER` (dirty) and `shadowctl
    verify` succeed.

rebuild
    One shadow set: `bench tree` builds FILES files of 4 KiB (as the resync rows) plus
    BIG_FILES files of BIG_BYTES in tree/big.  Each cycle (kinds interleaved, repetitions):
    `shadowctl disable secondary`; through the shim rewrite C files (1 % or 10 % of the
    small files, or the big files); `sync`; time `shadowctl enable secondary --update MODE
    --json` (dirty; and `all` after the 1 % change, for scale); `shadowctl verify` must exit
    0.  For dirty, the files copied should equal C (issue 4): a `note:` line says otherwise.
"""

from __future__ import annotations

import array
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import resync  # tree_path, TREE_FILE, TREE_DIRS: the same tree as the resync rows

# failover
RECORDS, RECORD = 2048, 4096
TMPFS = 2 << 20  # the failing member: fills at record 512
TMPFS_AFTER = 64 << 20  # remounted with room before the rebuild
SCENARIOS = ("secondary", "primary")
# rebuild
FULL_FILES, QUICK_FILES = 20000, 2000
BIG_FILES = 16
FULL_BIG, QUICK_BIG = 4 << 20, 512 << 10
KINDS = (  # (name, update mode, what changes)
    ("dirty 1%", "dirty", "small:100"),
    ("dirty 10%", "dirty", "small:10"),
    ("dirty big", "dirty", "big"),
    ("all 1%", "all", "small:100"),
)

FAILOVER_ROWS = [  # (key, label, unit)
    ("fail_ms", "failing write (the member fails in it)", "ms"),
    ("median_before_us", "median write before (both members)", "us"),
    ("p99_before_us", "p99 write before", "us"),
    ("median_after_us", "median write after (one member)", "us"),
    ("fail_over_median", "failing write / median write before", "x"),
    ("max_other_ms", "longest other write (machine noise: see the note)", "ms"),
    ("fail_index", "failing write's index (of %d)" % RECORDS, "n"),
    ("enable_s", "rebuild after (enable, dirty: the log, %d MiB)" % (RECORDS * RECORD >> 20), "s"),
]
REBUILD_ROWS = [
    ("changed_files", "files changed while disabled", "n"),
    ("changed_mib", "data changed while disabled", "MiB"),
    ("enable_s", "enable seconds (shadowctl's)", "s"),
    ("wall_s", "enable wall seconds (start to exit)", "s"),
    ("files", "files copied", "n"),
    ("copied_mib", "data copied", "MiB"),
    ("changed_rate", "changed data / enable seconds", "MiB/s"),
    ("copy_rate", "data copied / enable seconds", "MiB/s"),
    ("per_file_ms", "enable seconds per file copied", "ms"),
]


class Failed(Exception):
    pass


ERRORS = (Failed, OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError)


def new_set(root: Path, prefix: str, spread: bool = False) -> dict:
    """A shadow set's directories and config under root.  `spread`: best effort `chattr
    +T root`, so that on ext4 the members land in block groups of their own (creating
    many files near many recently deleted ones is slow there: see Dirs in run.py)."""
    d = {k: root / k for k in ("primary", "secondary", "state", "plain")}
    root.mkdir()
    if spread:
        try:
            subprocess.run(["chattr", "+T", str(root)], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            pass
    for p in d.values():
        p.mkdir()
    d["config"] = root / "shadow.toml"
    q = json.dumps
    d["config"].write_text(f"prefix = {q(prefix)}\nprimary = {q(str(d['primary']))}\n"
                           f"secondary = {q(str(d['secondary']))}\n"
                           f"state_dir = {q(str(d['state']))}\n")
    return {k: str(v) for k, v in d.items()}


def summary(v: list[float]) -> dict:
    s = sorted(v)
    q1, q3 = (statistics.quantiles(s, n=4, method="inclusive")[::2]
              if len(s) >= 2 else (s[0], s[0]))
    return {"values": v, "n": len(s), "median": statistics.median(s), "min": s[0],
            "max": s[-1], "q1": q1, "q3": q3}


def can_mount() -> str | None:
    """None when tmpfs mounts in a private namespace work, else why not."""
    if os.geteuid() != 0:
        return "needs root (a tmpfs member mounted in a private mount namespace)"
    try:
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"unshare -m: {e}"
    return None if p.returncode == 0 else f"unshare -m failed: {p.stderr.strip()[:200]}"


# ------------------------------------------------------------ failover: inner


def inner(job: dict) -> dict:
    """In a private mount namespace: the failing member on a small tmpfs, the writer, the
    checks that need the tmpfs, the rebuild.  Returns what the outer side reports."""
    member, other = job["member"], "primary" if job["member"] == "secondary" else "secondary"
    fail_dir, live_dir = Path(job[member]), Path(job[other])
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "SHADOW_CONFIG")}
    shim_env = dict(env, LD_PRELOAD=job["lib"], SHADOW_CONFIG=job["config"])

    def ctl(*args, ok=(0,)):
        p = subprocess.run([job["shadowctl"], *args, "-c", job["config"]], env=env,
                           capture_output=True, text=True, timeout=job["timeout"])
        if p.returncode not in ok:
            raise Failed(f"shadowctl {' '.join(args)} exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()[-400:]}")
        return p

    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={job['tmpfs']}", "tmpfs",
                    str(fail_dir)], check=True, capture_output=True, timeout=30)
    st = live_dir.stat()  # verify compares the roots too
    os.chmod(fail_dir, st.st_mode & 0o7777)
    os.chown(fail_dir, st.st_uid, st.st_gid)
    w = subprocess.run([job["failwriter"], job["prefix"] + "/log", str(job["records"]),
                        str(job["record"]), job["lat_out"]], env=shim_env,
                       capture_output=True, text=True, timeout=job["timeout"])
    if w.returncode != 0:
        raise Failed(f"the writer saw an error when the {member} filled up (exit "
                     f"{w.returncode}): {w.stderr.strip()[-400:]}")
    writer = json.loads(w.stdout.strip().splitlines()[-1])
    survivor = (live_dir / "log").read_bytes()
    failed_copy = (fail_dir / "log").read_bytes()
    n, rec = job["records"], job["record"]
    if len(survivor) != n * rec:
        raise Failed(f"{other}/log: {len(survivor)} bytes, the writer wrote {n * rec}")
    for i in range(n):
        head = survivor[i * rec:i * rec + 16]
        if head[:8] != b"FAILREC\0" or int.from_bytes(head[8:], "little") != i:
            raise Failed(f"{other}/log: record {i} is wrong")
    if survivor[:len(failed_copy)] != failed_copy:
        raise Failed(f"{member}/log is not a prefix of {other}/log")
    if len(failed_copy) >= n * rec:
        raise Failed(f"the {member} did not fill up ({len(failed_copy)} bytes on it)")
    history = (Path(job["state"]) / "history.log").read_text()
    if not any(line.startswith("00080 ") and f"{member} failed" in line
               for line in history.splitlines()):
        raise Failed(f"no 00080 '{member} failed' record in the history: {history[-400:]}")
    status = json.loads(ctl("status", "--json").stdout)
    states = {m["member"]: m["state"] for m in status["members"]}
    if states.get(member) != "failed":
        raise Failed(f"status shows the {member} {states.get(member)}, not failed")
    subprocess.run(["mount", "-o", f"remount,size={job['tmpfs_after']}", str(fail_dir)],
                   check=True, capture_output=True, timeout=30)
    e = ctl("enable", member, "--json")
    enable = json.loads(e.stdout.strip().splitlines()[-1])
    v = ctl("verify", ok=(0, 1))
    if v.returncode != 0:
        raise Failed(f"members differ after the {member} was rebuilt: {v.stdout.strip()[-400:]}")
    return {"writer": writer, "failed_member_bytes": len(failed_copy),
            "partial_record": len(failed_copy) % rec != 0, "enable": enable,
            "writer_stderr": w.stderr[-1000:]}


# ------------------------------------------------------------ failover: outer


class Failover:
    def __init__(self, a, base: Path, clean_env):
        self.a, self.env = a, clean_env()
        self.root = base / f"failover-{os.urandom(4).hex()}"
        self.root.mkdir()
        self.reps = a.reps
        self.runs: list[dict] = []
        self.failures: list[dict] = []

    def one(self, member: str, rep: int) -> dict:
        s = new_set(self.root / f"{member}-{rep}", self.a.prefix)
        lat_out = str(Path(s["plain"]) / "lat.bin")
        job = {**s, "member": member, "lib": str(self.a.lib_abs),
               "shadowctl": str(self.a.shadowctl_abs), "failwriter": str(self.a.failwriter_abs),
               "prefix": self.a.prefix, "records": RECORDS, "record": RECORD, "tmpfs": TMPFS,
               "tmpfs_after": TMPFS_AFTER, "lat_out": lat_out, "timeout": self.a.timeout}
        argv = ["unshare", "-m", "--propagation", "private", sys.executable,
                str(Path(__file__).resolve()), "inner", json.dumps(job)]
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                           timeout=self.a.timeout + 30)
        try:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise Failed(f"inner run exited {p.returncode}: {p.stderr.strip()[-500:]}")
        if "error" in out:
            raise Failed(out["error"])
        lat = array.array("Q")
        lat.frombytes(Path(lat_out).read_bytes())
        k = out["failed_member_bytes"] // RECORD
        before, after = sorted(lat[:k]), sorted(lat[k + 1:])
        others = [x for i, x in enumerate(lat) if i != k]
        med = statistics.median
        return {"member": member, "rep": rep, "fail_index": k, "fail_ms": lat[k] / 1e6,
                "median_before_us": med(before) / 1e3, "median_after_us": med(after) / 1e3,
                "fail_over_median": lat[k] / med(before), "max_other_ms": max(others) / 1e6,
                "max_other_index": others.index(max(others)) + (others.index(max(others)) >= k),
                "p99_before_us": before[int(0.99 * (len(before) - 1) + 0.5)] / 1e3,
                "enable_s": out["enable"]["seconds"], "enable": out["enable"],
                "partial_record": out["partial_record"], "writer": out["writer"],
                "writer_stderr": out["writer_stderr"]}

    def notes(self) -> list[str]:
        longer = [r for r in self.runs if r["max_other_ms"] > r["fail_ms"]]
        if not longer:
            return []
        worst = max(longer, key=lambda r: r["max_other_ms"])
        return [f"in {len(longer)} of {len(self.runs)} runs another write took longer than the "
                f"failing one (at most {worst['max_other_ms']:.2f} ms: {worst['member']} rep "
                f"{worst['rep']}, write {worst['max_other_index']}, the failure at "
                f"{worst['fail_index']}); a gap anywhere in the run is the machine (other "
                f"processes, writeback), one at the failing write is the shim"]

    def run(self, progress_line) -> dict:
        t0 = time.monotonic()
        why_not = can_mount()
        if why_not:
            progress_line(f"  failover: not run: {why_not}")
        else:
            for rep in range(self.reps):
                for member in SCENARIOS:
                    try:
                        self.runs.append(self.one(member, rep))
                    except ERRORS as ex:
                        msg = str(ex) if isinstance(ex, Failed) else f"{type(ex).__name__}: {ex}"
                        self.failures.append({"workload": "failover", "mode": member,
                                              "rep": rep, "error": msg, "stderr": ""})
                        progress_line(f"  failover {member} rep {rep}: FAILED: {msg[:300]}")
        rows = []
        for member in SCENARIOS:
            rs = [r for r in self.runs if r["member"] == member]
            if rs:
                rows += [{"group": member, "key": k, "label": lab, "unit": u,
                          "summary": summary([r[k] for r in rs])} for k, lab, u in FAILOVER_ROWS]
        return {
            "about": "latency of the write in which a member fails (a tmpfs member filling "
                     "up under an appending writer) against the writer's other writes",
            "not_run": why_not,
            "setup": {"records": RECORDS, "record_bytes": RECORD, "tmpfs_bytes": TMPFS,
                      "reps": self.reps, "scenarios": list(SCENARIOS)},
            "rows": rows, "runs": self.runs, "failures": self.failures,
            "notes": self.notes(),
            "elapsed_seconds": round(time.monotonic() - t0, 1),
        }


# ------------------------------------------------------------------ rebuild

# Writes the big files: `BIG_WRITER SIZE GEN ROOT... -- REL...`, each REL under every ROOT
# with the same contents (a header naming it and GEN, then random bytes).
BIG_WRITER = r"""
import os, sys
size, gen = int(sys.argv[1]), int(sys.argv[2])
cut = sys.argv.index("--")
roots, rels = sys.argv[3:cut], sys.argv[cut + 1:]
body = os.urandom(size)
for rel in rels:
    head = f"BIGFILE {rel} {gen}\n".encode()
    for root in roots:
        with open(os.path.join(root, rel), "wb") as f:
            f.write(head + body[len(head):])
"""


def same_times(src: Path, dst: Path) -> None:
    """Gives every entry below `dst` the times of its twin below `src` (written directly
    into both, a moment apart; verify compares mtimes)."""
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            a = Path(dirpath) / name
            st = a.lstat()
            os.utime(dst / a.relative_to(src), ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


class Rebuild:
    def __init__(self, a, base: Path, clean_env):
        self.a = a
        self.files = max(200, a.resync_files or int((QUICK_FILES if a.quick else FULL_FILES)
                                                    * a.scale))
        self.big = QUICK_BIG if a.quick else FULL_BIG
        self.s = new_set(base / f"rebuild-{os.urandom(4).hex()}", a.prefix, spread=True)
        self.env = clean_env()
        self.shim_env = dict(self.env, LD_PRELOAD=str(a.lib_abs), SHADOW_CONFIG=self.s["config"])
        self.cycles: list[dict] = []
        self.failures: list[dict] = []
        self.gen = 0

    def cmd(self, argv, shim=False, stdin=None, ok=(0,)):
        p = subprocess.run([str(x) for x in argv], env=self.shim_env if shim else self.env,
                           input=stdin, capture_output=True, text=True, timeout=self.a.timeout)
        if p.returncode not in ok:
            raise Failed(f"{' '.join(str(x) for x in argv[:4])} exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()[-400:]}")
        return p

    def ctl(self, *args, ok=(0,)):
        return self.cmd([self.a.shadowctl_abs, *args, "-c", self.s["config"]], ok=ok)

    def write_big(self, gen: int, *roots: str, shim: bool) -> None:
        rels = [f"tree/big/b{i:02d}" for i in range(BIG_FILES)]
        self.cmd([sys.executable, "-c", BIG_WRITER, self.big, gen, *roots, "--", *rels],
                 shim=shim)

    def build(self) -> float:
        """The tree, written into both members directly (`bench tree ideal`: no shim, so
        no journal fdatasync per file); shadowctl verify must find them identical."""
        t0 = time.monotonic()
        ops = ["m tree", "m tree/big"]
        for d in range(resync.TREE_DIRS[0]):
            ops.append(f"m tree/d{d:02d}")
            ops += [f"m tree/d{d:02d}/e{e}" for e in range(resync.TREE_DIRS[1])]
        ops += [f"w {i} 0 {resync.tree_path(i)}" for i in range(self.files)]
        self.cmd([self.a.bench_abs, "tree", "ideal", self.s["primary"], self.s["secondary"]],
                 stdin="\n".join(ops) + "\n")
        self.write_big(0, self.s["primary"], self.s["secondary"], shim=False)
        same_times(Path(self.s["primary"]), Path(self.s["secondary"]))
        self.verify()
        return time.monotonic() - t0

    def verify(self) -> None:
        p = self.ctl("verify", ok=(0, 1))
        if p.returncode != 0:
            raise Failed("shadowctl verify found differences: " + p.stdout.strip()[-500:])

    def change(self, what: str, k: int) -> tuple[int, int]:
        """Rewrites files through the shim; returns (files, bytes) changed."""
        self.gen += 1
        if what == "big":
            self.write_big(self.gen, self.a.prefix, shim=True)
            return BIG_FILES, BIG_FILES * self.big
        every = int(what.split(":")[1])
        idx = [i for i in range(self.files) if i % every == k % every]
        self.cmd([self.a.bench_abs, "tree", "shadowed", self.a.prefix], shim=True,
                 stdin="".join(f"w {i} {self.gen} {resync.tree_path(i)}\n" for i in idx))
        return len(idx), len(idx) * resync.TREE_FILE

    def cycle(self, rep: int, name: str, update: str, what: str, k: int) -> dict:
        c = {"rep": rep, "kind": name, "update": update}
        self.ctl("disable", "secondary")
        c["changed_files"], changed = self.change(what, k)
        c["changed_mib"] = changed / (1 << 20)
        os.sync()
        t0 = time.monotonic()
        p = self.ctl("enable", "secondary", "--update", update, "--json")
        c["wall_s"] = time.monotonic() - t0
        e = json.loads(p.stdout.strip().splitlines()[-1])
        if e.get("update") != update:
            raise Failed(f"enable ran update {e.get('update')}, not {update}: {p.stderr.strip()}")
        self.verify()
        c["enable"] = e
        c["enable_s"] = e["seconds"]
        c["files"] = e["files"]
        c["copied_mib"] = e["bytes"] / (1 << 20)
        c["changed_rate"] = c["changed_mib"] / max(e["seconds"], 1e-6)
        c["copy_rate"] = c["copied_mib"] / max(e["seconds"], 1e-6)
        c["per_file_ms"] = e["seconds"] * 1e3 / max(e["files"], 1)
        return c

    def run(self, progress_line) -> dict:
        t0 = time.monotonic()
        build_s, step = None, ("build", -1)
        try:
            build_s = self.build()
            for rep in range(self.a.reps):
                for name, update, what in KINDS:
                    step = (name, rep)
                    self.cycles.append(self.cycle(rep, name, update, what, rep))
        except ERRORS as ex:  # the set's state is unknown now: stop
            msg = str(ex) if isinstance(ex, Failed) else f"{type(ex).__name__}: {ex}"
            self.failures.append({"workload": "rebuild", "mode": step[0], "rep": step[1],
                                  "error": msg, "stderr": ""})
            progress_line(f"  rebuild {step[0]} rep {step[1]}: FAILED: {msg[:300]}")
        rows = []
        for name, _, _ in KINDS:
            cs = [c for c in self.cycles if c["kind"] == name]
            if cs:  # dirty: data copied = data changed, one rate says it
                rows += [{"group": name, "key": key, "label": lab, "unit": u,
                          "summary": summary([c[key] for c in cs])} for key, lab, u in REBUILD_ROWS
                         if not (key == "copy_rate" and cs[0]["update"] == "dirty")]
        tree_mib = (self.files * resync.TREE_FILE + BIG_FILES * self.big) / (1 << 20)
        return {
            "about": "shadowctl enable --update dirty after C files were rewritten with the "
                     "secondary disabled, against a full --update all of the same tree",
            "setup": {"files": self.files, "file_bytes": resync.TREE_FILE,
                      "big_files": BIG_FILES, "big_bytes": self.big,
                      "tree_mib": round(tree_mib, 2), "reps": self.a.reps,
                      "kinds": [list(x) for x in KINDS], "build_seconds": build_s},
            "rows": rows, "cycles": self.cycles, "failures": self.failures,
            "notes": [f"{c['kind']} rep {c['rep']}: {c['files']} files copied for "
                      f"{c['changed_files']} changed"
                      for c in self.cycles if c["update"] == "dirty"
                      and c["files"] != c["changed_files"]],
            "elapsed_seconds": round(time.monotonic() - t0, 1),
        }


def run_failover(a, base: Path, clean_env, progress_line) -> dict:
    return Failover(a, base, clean_env).run(progress_line)


def run_rebuild(a, base: Path, clean_env, progress_line) -> dict:
    return Rebuild(a, base, clean_env).run(progress_line)


# ------------------------------------------------------------------- output


def fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v:.3f}s"
    if unit == "ms":
        return f"{v:.3f}ms" if v < 10 else f"{v:.1f}ms"
    if unit == "us":
        return f"{v:.1f}us"
    if unit == "x":
        return f"{v:.0f}x"
    if unit == "n":
        return f"{v:.0f}"
    if unit in ("MiB", "MiB/s"):
        return f"{v:.1f}{unit}" if v >= 10 else f"{v:.2f}{unit}"
    return f"{v:g}"


def print_rows(tag: str, rows: list[dict]) -> None:
    w = max(len(f"{tag}/{r['group']}: {r['label']}") for r in rows)
    last = None
    for r in rows:
        if last and r["group"] != last:
            print()
        last = r["group"]
        sm = r["summary"]
        cell = fmt(sm["median"], r["unit"])
        if sm["n"] > 1 and sm["min"] != sm["max"]:
            cell += f" [{fmt(sm['min'], r['unit'])}-{fmt(sm['max'], r['unit'])}]"
        print(f"  {(tag + '/' + r['group'] + ': ' + r['label']).ljust(w)}  {cell}")


def print_sections(fo: dict | None, rb: dict | None) -> None:
    if fo:
        print()
        if fo["not_run"]:
            print(f"failover: not run ({fo['not_run']})")
        elif fo["rows"]:
            s = fo["setup"]
            print(f"failover (absolute): a writer appends {s['records']} x {s['record_bytes']} B "
                  f"back to back under the shim; the failing member is a {s['tmpfs_bytes'] >> 20} "
                  f"MiB tmpfs that fills up in the middle (secondary: the primary carries on; "
                  f"primary: the secondary takes over);")
            print(f"  per-write latency (CLOCK_MONOTONIC around write()); median [min-max] over "
                  f"{s['reps']} runs per scenario")
            print_rows("failover", fo["rows"])
            for n in fo["notes"]:
                print(f"  note: {n}")
        elif fo["failures"]:
            print("failover: no complete run (see FAILED RUNS)")
    if rb:
        print()
        if rb["rows"]:
            s = rb["setup"]
            print(f"rebuild (absolute): tree of {s['files']} files x 4 KiB + {s['big_files']} x "
                  f"{s['big_bytes'] >> 10} KiB = {s['tree_mib']:.1f} MiB; the secondary disabled, "
                  f"C files rewritten, sync, then shadowctl enable secondary --update MODE;")
            print(f"  no writer running; median [min-max] over {s['reps']} cycles per kind")
            print_rows("rebuild", rb["rows"])
            for n in rb["notes"]:
                print(f"  note: {n} (dirty should copy each changed file once)")
        elif rb["failures"]:
            print("rebuild: no complete cycle (see FAILED RUNS)")


def csv_rows(docs: list[tuple[str, dict | None]], width: int) -> list[list]:
    """Rows for results.csv: workload "failover"/"rebuild", phase "GROUP/KEY", metric =
    unit, the statistics in the native_* columns (like the resync rows)."""
    out = []
    for wl, doc in docs:
        for r in (doc or {}).get("rows", []):
            s = r["summary"]
            row = [wl, f"{r['group']}/{r['key']}", r["unit"],
                   s["median"], s["min"], s["max"], s["q1"], s["q3"], s["n"]]
            out.append(row + [""] * (width - len(row)))
    return out


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "inner":
    try:
        result = inner(json.loads(sys.argv[2]))
    except ERRORS as ex:
        result = {"error": str(ex) if isinstance(ex, Failed) else f"{type(ex).__name__}: {ex}"}
    print(json.dumps(result))
    sys.exit(0)
