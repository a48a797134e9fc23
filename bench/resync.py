"""The resync rows of `make bench`: how long `shadowctl enable` takes to rebuild a member,
and the longest stall a program writing the set sees meanwhile.  Run by run.py (workload
name `resync`); standard library only.

One shadow set per bench run, under the bench's temporary directory:

1. `bench tree` builds a tree of FILES files of 4 KiB in 20 x 10 directories through the
   shim (both members enabled, so both start identical).
2. Each cycle (repetition x update mode, modes interleaved: all, newer, all, newer, ...):
   - `shadowctl disable secondary`;
   - through the shim, rewrite 10 % of the files, delete 0.5 % and create as many new ones
     (a different tenth each cycle; the changed data is known);
   - `sync`, then start `bench stallwriter` under the shim (64-byte O_APPEND records,
     100 us pause between writes, every gap between the starts of two write() calls
     recorded with its time); once it has written, wait LEAD seconds and run
     `shadowctl enable secondary --update MODE --json`; LEAD seconds after it returns,
     stop the writer (SIGTERM);
   - `shadowctl verify` must exit 0, the rebuilt secondary must hold exactly the expected
     files (names, sizes, index and generation in each header) and the writer's file must
     hold its records (count x 64 bytes, sequence 0..n-1, intact) in both members;
   - baseline: `sync`, the same writer with no resync running, over a window as long as
     the enable took, with a `shadowctl status` started where the enable was (starting
     any process costs the writer a few ms now and then on a 2-core machine); its file
     is checked the same way.
   Window statistics are over the gaps that overlap the window (the enable's run, or the
   baseline's), from the writer's raw gap dump; CLOCK_MONOTONIC is time.monotonic().  "At
   the freeze" is the enable's last freeze_ms + 5 ms (shadowctl returns right after it).

Any failed command or check is a failure (run.py exits 1); the numbers never are.
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import statistics
import struct
import subprocess
import threading
import time
from pathlib import Path

TREE_FILE = 4096
TREE_DIRS = (20, 10)  # tree/dAA/eB/fNNNNNN
RECORD = 64
REWRITE_EVERY = 10  # rewrite 1 in 10 files per cycle
CHURN_EVERY = 200  # delete (and create) 1 in 200 per cycle
SLEEP_US = 100
LEAD = 0.2  # seconds of writing before and after the window
FULL_FILES, QUICK_FILES = 20000, 2000
UPDATES = ("all", "newer")

# (key, label, unit) in display order, per update mode
ROWS = [
    ("enable_seconds", "enable seconds", "s"),
    ("freeze_ms", "freeze_ms (writers held, shadowctl's figure)", "ms"),
    ("writer_max_gap_ms", "writer longest stall (ms)", "ms"),
    ("writer_freeze_gap_ms", "writer longest gap at the freeze", "ms"),
    ("writer_p99_gap_ms", "writer p99 gap", "ms"),
    ("writer_median_gap_ms", "writer median gap", "ms"),
    ("baseline_max_gap_ms", "baseline longest gap (no resync, same duration)", "ms"),
    ("baseline_p99_gap_ms", "baseline p99 gap", "ms"),
    ("files_copied", "files copied", "files"),
    ("copied_mib", "data copied", "MiB"),
    ("changed_mib", "data changed while disabled", "MiB"),
    ("rebuild_mib_s", "rebuild rate (data copied / enable seconds)", "MiB/s"),
    ("changed_mib_s", "changed data / enable seconds", "MiB/s"),
]
FREEZE_MARGIN_MS = 5  # "at the freeze": the enable's last freeze_ms + this


def tree_path(i: int) -> str:
    return f"tree/d{i % TREE_DIRS[0]:02d}/e{(i // TREE_DIRS[0]) % TREE_DIRS[1]}/f{i:06d}"


def fnv64(b: bytes) -> int:
    s = 1469598103934665603
    for x in b:
        s = ((s ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return s


class Failed(Exception):
    pass


# what ends the resync rows as a failure (the run then exits 1), not as a crash of run.py
ERRORS = (Failed, OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError)


class Resync:
    def __init__(self, a, base: Path, clean_env):
        self.a = a
        self.files = a.resync_files or int((QUICK_FILES if a.quick else FULL_FILES) * a.scale)
        self.files = max(self.files, 200)
        self.reps = a.reps
        self.root = base / f"resync-{os.urandom(4).hex()}"
        self.primary, self.secondary = self.root / "primary", self.root / "secondary"
        self.state, self.aux = self.root / "state", self.root / "plain"
        self.config = self.root / "shadow.toml"
        for d in (self.root, self.primary, self.secondary, self.state, self.aux):
            d.mkdir()
        q = json.dumps
        self.config.write_text(f"prefix = {q(a.prefix)}\nprimary = {q(str(self.primary))}\n"
                               f"secondary = {q(str(self.secondary))}\n"
                               f"state_dir = {q(str(self.state))}\n")
        self.env = clean_env()
        self.shim_env = dict(self.env, LD_PRELOAD=str(a.lib_abs), SHADOW_CONFIG=str(self.config))
        self.expected: dict[int, int] = {}  # index -> generation
        self.next_index = 0
        self.cycles: list[dict] = []
        self.failures: list[dict] = []
        self.log: list[dict] = []  # every command run: argv, rc, seconds, stdout/stderr tails

    # ------------------------------------------------------------ commands

    def cmd(self, argv: list[str], shim: bool = False, stdin: str | None = None,
            ok=(0,)) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, env=self.shim_env if shim else self.env, input=stdin,
                               capture_output=True, text=True, timeout=self.a.timeout)
        except subprocess.TimeoutExpired:
            raise Failed(f"{' '.join(argv[:4])}: timed out after {self.a.timeout:.0f} s")
        self.log.append({"argv": argv, "rc": p.returncode,
                         "seconds": round(time.monotonic() - t0, 4),
                         "stdout": p.stdout[-2000:], "stderr": p.stderr[-2000:]})
        if p.returncode not in ok:
            raise Failed(f"{' '.join(str(x) for x in argv[:4])} exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()[-500:]}")
        return p

    def ctl(self, *args: str, ok=(0,)) -> subprocess.CompletedProcess:
        return self.cmd([str(self.a.shadowctl_abs), *args, "-c", str(self.config)], ok=ok)

    def tree_ops(self, ops: list[str]) -> dict:
        p = self.cmd([str(self.a.bench_abs), "tree", "shadowed", self.a.prefix], shim=True,
                     stdin="\n".join(ops) + "\n")
        return json.loads(p.stdout.strip().splitlines()[-1])

    def verify(self) -> None:
        p = self.ctl("verify", ok=(0, 1))
        if p.returncode != 0:
            raise Failed("shadowctl verify found differences: "
                         + (p.stdout or p.stderr).strip()[-600:])

    # -------------------------------------------------------------- writer

    def start_writer(self, name: str):
        gaps = self.aux / f"{name}.gaps"
        argv = [str(self.a.bench_abs), "stallwriter", "shadowed", self.a.prefix,
                "--file", name, "--sleep-us", str(SLEEP_US), "--gaps-out", str(gaps),
                "--seconds", str(self.a.timeout + 60)]
        p = subprocess.Popen(argv, env=self.shim_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([p.stdout], [], [], 30)
        line = p.stdout.readline() if ready else ""
        if '"ready"' not in line:
            p.kill()
            _, err = p.communicate()
            raise Failed(f"stallwriter did not start: {line.strip()[:200]} {err.strip()[-300:]}")
        return p, gaps

    def stop_writer(self, p, gaps: Path, name: str) -> dict:
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Failed(f"stallwriter {name} did not stop within 60 s of SIGTERM")
        if p.returncode != 0:
            raise Failed(f"stallwriter {name} exited {p.returncode}: {err.strip()[-400:]}")
        res = json.loads(out.strip().splitlines()[-1])
        raw = array.array("Q")
        raw.frombytes(gaps.read_bytes())
        gaps.unlink()
        res["pairs"] = raw
        if err.strip():
            res["stderr"] = err[-2000:]
        return res

    @staticmethod
    def window(w: dict, t0: float, t1: float) -> dict:
        """Gap statistics over the gaps that overlap [t0, t1] (seconds, CLOCK_MONOTONIC)."""
        pairs, s0, s1 = w["pairs"], int(t0 * 1e9), int(t1 * 1e9)
        sel = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)
               if pairs[i] < s1 and pairs[i] + pairs[i + 1] > s0]
        if not sel:
            return {"gaps": 0}
        g = sorted(x[1] for x in sel)
        at, longest = max(sel, key=lambda x: x[1])
        pct = lambda q: g[int(q * (len(g) - 1) + 0.5)] / 1e6  # noqa: E731
        return {"gaps": len(g), "window_s": round(t1 - t0, 6), "median_ms": pct(0.5),
                "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": g[-1] / 1e6,
                # where the longest gap sits: its start and end relative to the window end
                "max_start_from_end_ms": round((at - s1) / 1e6, 3),
                "max_end_from_end_ms": round((at + longest - s1) / 1e6, 3),
                "top_ms": [round(x / 1e6, 3) for x in g[-5:][::-1]]}

    def check_writer_file(self, name: str, records: int) -> None:
        """count x 64 bytes, sequence 0..n-1, magic, constant filler, monotonic times, and
        the checksum of every 64th record and the last one; in both members."""
        body = None
        for m in (self.primary, self.secondary):
            data = (m / name).read_bytes()
            if len(data) != records * RECORD:
                raise Failed(f"{m.name}/{name}: {len(data)} bytes, the writer wrote "
                             f"{records} records of {RECORD} = {records * RECORD}")
            if body is None:
                body = data
            elif data != body:
                raise Failed(f"{name}: the members' copies differ")
        filler, last_t = body[24:56], 0
        for i, (magic, seq, t, fill, _) in enumerate(struct.iter_unpack("<8sQQ32sQ", body)):
            if magic != b"STALLREC" or seq != i or fill != filler or t < last_t:
                raise Failed(f"{name}: record {i} is wrong (magic {magic!r}, seq {seq})")
            last_t = t
        for i in list(range(0, records, 64)) + [records - 1]:
            r = body[i * RECORD:(i + 1) * RECORD]
            if fnv64(r[:56]) != struct.unpack("<Q", r[56:])[0]:
                raise Failed(f"{name}: record {i}: bad checksum")

    def check_tree(self) -> None:
        """The rebuilt secondary holds exactly the expected files, each 4 KiB with its index
        and generation (verify has said the primary is the same)."""
        seen = 0
        for dirpath, _, filenames in os.walk(self.secondary / "tree"):
            for n in filenames:
                i = int(n[1:])
                p = Path(dirpath) / n
                if i not in self.expected or str(p.relative_to(self.secondary)) != tree_path(i):
                    raise Failed(f"secondary: unexpected file {p.relative_to(self.secondary)}")
                with open(p, "rb") as f:
                    head = f.read(24)
                    size = os.fstat(f.fileno()).st_size
                magic, idx, gen = struct.unpack("<8sQQ", head)
                if size != TREE_FILE or magic != b"TREEFILE" or idx != i or gen != self.expected[i]:
                    raise Failed(f"secondary: {tree_path(i)}: size {size}, index {idx}, "
                                 f"generation {gen}; expected {self.expected[i]}")
                seen += 1
        if seen != len(self.expected):
            raise Failed(f"secondary: {seen} tree files, expected {len(self.expected)}")

    # -------------------------------------------------------------- phases

    def build(self) -> dict:
        ops = ["m tree"]
        for d in range(TREE_DIRS[0]):
            ops.append(f"m tree/d{d:02d}")
            ops += [f"m tree/d{d:02d}/e{e}" for e in range(TREE_DIRS[1])]
        for i in range(self.files):
            ops.append(f"w {i} 0 {tree_path(i)}")
            self.expected[i] = 0
        self.next_index = self.files
        return self.tree_ops(ops)

    def change(self, k: int, gen: int) -> tuple[dict, int]:
        live = sorted(self.expected)
        ops, changed = [], 0
        for j, i in enumerate(live):
            if j % REWRITE_EVERY == k % REWRITE_EVERY:
                ops.append(f"w {i} {gen} {tree_path(i)}")
                self.expected[i] = gen
                changed += 1
            elif j % CHURN_EVERY == 5 + k % REWRITE_EVERY:
                ops.append(f"u {tree_path(i)}")
                del self.expected[i]
                i = self.next_index
                self.next_index += 1
                ops.append(f"w {i} {gen} {tree_path(i)}")
                self.expected[i] = gen
                changed += 1
        return self.tree_ops(ops), changed * TREE_FILE

    def cycle(self, rep: int, update: str, k: int) -> dict:
        c: dict = {"rep": rep, "update": update, "error": None}
        self.cycles.append(c)
        self.ctl("disable", "secondary")
        ch, c["changed_bytes"] = self.change(k, k + 1)
        c["change_seconds"] = ch["seconds"]
        os.sync()

        # the resync, with the writer running
        name = f"stall-{update}-{rep}.dat"
        w, gaps = self.start_writer(name)
        try:
            time.sleep(LEAD)
            argv = [str(self.a.shadowctl_abs), "enable", "secondary", "-c", str(self.config),
                    "--update", update, "--json"]
            t0 = time.monotonic()
            e = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            watchdog = threading.Timer(self.a.timeout, e.kill)
            watchdog.start()
            progress, final = [], None
            for line in e.stdout:  # progress lines, each with its arrival time
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "member" in obj:
                    final = obj
                else:
                    progress.append({**obj, "at_s": round(time.monotonic() - t0, 4)})
            err = e.stderr.read()
            e.wait()
            t1 = time.monotonic()
            watchdog.cancel()
            time.sleep(LEAD)
        finally:
            res = self.stop_writer(w, gaps, name)
        self.log.append({"argv": argv, "rc": e.returncode, "seconds": round(t1 - t0, 4),
                         "stdout": json.dumps(final), "stderr": err[-2000:]})
        c["progress"] = progress
        if e.returncode != 0 or final is None:
            why = " (killed: timed out)" if t1 - t0 >= self.a.timeout else ""
            raise Failed(f"shadowctl enable --update {update} exited {e.returncode}{why}: "
                         f"{err.strip()[-500:]}")
        c["enable"] = final
        c["enable_wall_seconds"] = round(t1 - t0, 4)
        c["writer"] = {k: v for k, v in res.items() if k != "pairs"}
        c["writer_window"] = self.window(res, t0, t1)
        # shadowctl returns right after the freeze (a history line, the JSON): the gaps
        # overlapping its last freeze_ms + 5 ms are the ones the freeze can have caused
        c["freeze_window"] = self.window(
            res, t1 - (final["freeze_ms"] + FREEZE_MARGIN_MS) / 1e3, t1)
        self.verify()
        self.check_writer_file(name, res["records"])
        self.check_tree()

        # baseline: the same writer for as long as the enable took, with no resync; a
        # `shadowctl status` is started at the same point as the enable was, since
        # starting any process costs this 2-core machine's writer a few ms now and then
        os.sync()
        name = f"stall-base-{update}-{rep}.dat"
        w, gaps = self.start_writer(name)
        try:
            time.sleep(LEAD)
            b0 = time.monotonic()
            st = subprocess.run([str(self.a.shadowctl_abs), "status", "-c", str(self.config)],
                                env=self.env, capture_output=True, text=True,
                                timeout=self.a.timeout)
            time.sleep(max(0.0, b0 + (t1 - t0) - time.monotonic()))
            b1 = time.monotonic()
            time.sleep(LEAD)
        finally:
            res = self.stop_writer(w, gaps, name)
        if st.returncode != 0:
            raise Failed(f"shadowctl status exited {st.returncode}: {st.stderr.strip()[-300:]}")
        c["baseline_writer"] = {k: v for k, v in res.items() if k != "pairs"}
        c["baseline_window"] = self.window(res, b0, b1)
        self.check_writer_file(name, res["records"])
        return c

    def run(self, progress_line) -> dict:
        t_start = time.monotonic()
        build = None
        why = lambda ex: str(ex) if isinstance(ex, Failed) else f"{type(ex).__name__}: {ex}"  # noqa: E731
        try:
            build = self.build()
            k = 0
            for rep in range(self.reps):
                for update in UPDATES:
                    try:
                        self.cycle(rep, update, k)
                    except ERRORS as ex:
                        self.cycles[-1]["error"] = why(ex)
                        self.failures.append({"workload": "resync", "mode": update, "rep": rep,
                                              "error": why(ex), "stderr": ""})
                        progress_line(f"  resync {update} rep {rep}: FAILED: {why(ex)[:300]}")
                        return self.doc(build, t_start)  # the set's state is unknown now
                    k += 1
        except ERRORS as ex:
            self.failures.append({"workload": "resync", "mode": "build", "rep": -1,
                                  "error": why(ex), "stderr": ""})
            progress_line(f"  resync build: FAILED: {why(ex)[:300]}")
        return self.doc(build, t_start)

    # ------------------------------------------------------------- results

    def doc(self, build: dict | None, t_start: float) -> dict:
        ok = [c for c in self.cycles if not c["error"] and "baseline_window" in c]
        rows = []
        for update in UPDATES:
            cs = [c for c in ok if c["update"] == update]
            if not cs:
                continue
            per = {key: [] for key, _, _ in ROWS}
            for c in cs:
                e, ww, bw = c["enable"], c["writer_window"], c["baseline_window"]
                per["enable_seconds"].append(e["seconds"])
                per["freeze_ms"].append(e["freeze_ms"])
                per["writer_max_gap_ms"].append(ww.get("max_ms", 0))
                per["writer_freeze_gap_ms"].append(c["freeze_window"].get("max_ms", 0))
                per["writer_p99_gap_ms"].append(ww.get("p99_ms", 0))
                per["writer_median_gap_ms"].append(ww.get("median_ms", 0))
                per["baseline_max_gap_ms"].append(bw.get("max_ms", 0))
                per["baseline_p99_gap_ms"].append(bw.get("p99_ms", 0))
                per["files_copied"].append(e["files"])
                per["copied_mib"].append(e["bytes"] / (1 << 20))
                per["changed_mib"].append(c["changed_bytes"] / (1 << 20))
                per["rebuild_mib_s"].append(e["bytes"] / (1 << 20) / max(e["seconds"], 1e-6))
                per["changed_mib_s"].append(c["changed_bytes"] / (1 << 20)
                                            / max(e["seconds"], 1e-6))
            for key, label, unit in ROWS:
                v = sorted(per[key])
                q1, q3 = (statistics.quantiles(v, n=4, method="inclusive")[::2]
                          if len(v) >= 2 else (v[0], v[0]))
                rows.append({"update": update, "key": key, "label": label, "unit": unit,
                             "summary": {"values": per[key], "n": len(v),
                                         "median": statistics.median(v), "min": v[0],
                                         "max": v[-1], "q1": q1, "q3": q3}})
        # Expected: the longest stall is about the freeze plus one ordinary gap.  Longer
        # than the freeze plus twice the baseline's longest gap points at the shim (at the
        # freeze) or at the machine (during the copy, where writers are not held): list them.
        odd = []
        for c in ok:
            ww, bw, f = c["writer_window"], c["baseline_window"], c["enable"]["freeze_ms"]
            if ww.get("max_ms", 0) > f + 2 * bw.get("max_ms", 0):
                odd.append({"update": c["update"], "rep": c["rep"], "stall_ms": ww["max_ms"],
                            "freeze_ms": f, "baseline_max_ms": bw.get("max_ms", 0),
                            "stall_end_from_enable_end_ms": ww["max_end_from_end_ms"],
                            "at_freeze": ww["max_ms"] <= c["freeze_window"].get("max_ms", 0)})
        files_mib = self.files * TREE_FILE / (1 << 20)
        return {
            "about": "absolute times of `shadowctl enable` rebuilding the secondary while a "
                     "program writes, and the writer's gaps (not ratios)",
            "setup": {"files": self.files, "file_bytes": TREE_FILE,
                      "tree_mib": round(files_mib, 2),
                      "dirs": 1 + TREE_DIRS[0] * (1 + TREE_DIRS[1]),
                      "rewrite_fraction": 1 / REWRITE_EVERY, "churn_fraction": 1 / CHURN_EVERY,
                      "writer_record_bytes": RECORD, "writer_sleep_us": SLEEP_US,
                      "lead_seconds": LEAD, "reps": self.reps, "updates": list(UPDATES),
                      "build_seconds": build and build["seconds"]},
            "rows": rows,
            "stalls_beyond_freeze": odd,
            "cycles": self.cycles,
            "failures": self.failures,
            "commands": self.log,
            "elapsed_seconds": round(time.monotonic() - t_start, 1),
        }


def run(a, base: Path, clean_env, progress_line) -> dict:
    return Resync(a, base, clean_env).run(progress_line)


# ------------------------------------------------------------------ output


def fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v:.3f}s"
    if unit == "ms":
        return f"{v:.2f}ms" if v < 100 else f"{v:.0f}ms"
    if unit == "files":
        return f"{v:.0f}"
    if unit in ("MiB", "MiB/s"):
        return f"{v:.1f}{unit}"
    return f"{v:g}"


def print_section(doc: dict | None) -> None:
    if not doc or not doc["rows"]:
        if doc and doc["failures"]:
            print("\nresync: no complete cycle (see FAILED RUNS)")
        return
    s = doc["setup"]
    print()
    print(f"resync (absolute, not ratios): {s['files']} files x 4 KiB = {s['tree_mib']:.1f} MiB "
          f"in {s['dirs']} dirs; per cycle {s['rewrite_fraction']:.0%} rewritten and "
          f"{s['churn_fraction']:.1%} deleted + created while the secondary was disabled;")
    print(f"  writer: {s['writer_record_bytes']} B O_APPEND writes, {s['writer_sleep_us']} us "
          f"apart, gaps between write() starts during the enable; baseline: same writer, no "
          f"resync (a shadowctl status), same duration.")
    print(f"  median [min-max] over {s['reps']} cycles per mode; absolute times, compare a "
          f"stall with freeze_ms and the baseline")
    w = max(len(f"resync/{r['update']}: {r['label']}") for r in doc["rows"])
    last = None
    for r in doc["rows"]:
        if last and r["update"] != last:
            print()
        last = r["update"]
        sm = r["summary"]
        cell = fmt(sm["median"], r["unit"])
        if sm["n"] > 1:
            cell += f" [{fmt(sm['min'], r['unit'])}-{fmt(sm['max'], r['unit'])}]"
        print(f"  {('resync/' + r['update'] + ': ' + r['label']).ljust(w)}  {cell}")
    for o in doc["stalls_beyond_freeze"]:
        where = ("AT THE FREEZE: points at the shim" if o["at_freeze"] else
                 "during the copy, when writers are not held: the machine (CPU, writeback)?")
        print(f"  note: {o['update']} rep {o['rep']}: longest writer gap {o['stall_ms']:.2f} ms "
              f"> freeze {o['freeze_ms']:.2f} ms + 2 x baseline longest "
              f"{o['baseline_max_ms']:.2f} ms; it ended "
              f"{-o['stall_end_from_enable_end_ms']:.1f} ms before the enable returned, {where}")


def csv_rows(doc: dict | None, width: int) -> list[list]:
    """Rows for results.csv: workload "resync", phase "UPDATE/KEY", metric = unit, the
    statistics in the native_* columns (like the memory block)."""
    out = []
    for r in (doc or {}).get("rows", []):
        s = r["summary"]
        row = ["resync", f"{r['update']}/{r['key']}", r["unit"],
               s["median"], s["min"], s["max"], s["q1"], s["q3"], s["n"]]
        out.append(row + [""] * (width - len(row)))
    return out
