"""The pgbench row of the libshadow benchmarks (run.py's workload `pgbench`).

PostgreSQL from the distribution (/usr/lib/postgresql/*/bin, `make test-deps` installs it),
its data directory natively in a plain directory, under the shim (synchronous mirroring),
under the shim with write-behind, and under the shim with the secondary on a tmpfs
("tmpfs": synchronous, but the follower's flushes cost nothing, so what remains is the
shim's own cost; on this one-disk machine the other shadowed modes also queue two flushes
per commit on one device, which members on two disks would not): `pgbench -i -s SCALE`,
then `pgbench -c 8 -j 2 -T SECONDS` on a quiet machine and again beside a CPU hog (one busy
process per CPU), each cluster in turn, so that the modes see the same machine. The server runs as user
postgres (so this needs root), its clients outside the shim. After its runs each shadowed
cluster is stopped cleanly and its members compared byte for byte.

Ratios are of TPS (higher is better): shadowed / native quiet (target >= 0.95) and busy
(>= 0.90), write-behind / native quiet (>= 0.98). A full run takes 60 s per pgbench run
(about 8 minutes); a quick run 2 s at scale 1 (CI: it shows the rows run, it measures nothing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from members import member_differences  # noqa: E402  (bench/members.py)

MODES = ("native", "shadowed", "behind", "tmpfs")
LOADS = ("quiet", "busy")
TARGETS = {("shadowed", "quiet"): 0.95, ("shadowed", "busy"): 0.90, ("behind", "quiet"): 0.98,
           # No target of its own: the shim's cost without the second device flush, to read
           # the shadowed rows by.
           ("tmpfs", "quiet"): None, ("tmpfs", "busy"): None}


class Failed(Exception):
    pass


def server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: [int(x) if x.isdigit() else x for x in p.parts[-3].split(".")])
    return found[-1].parent if found else None


def why_not() -> str | None:
    """None when the row can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (the server runs as user postgres)"
    if server_bin() is None:
        return "no PostgreSQL under /usr/lib/postgresql (make test-deps installs it)"
    if shutil.which("runuser") is None:
        return "runuser missing"
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "no user postgres"
    return None


class Cluster:
    """One data directory (native, or under /shadow with its own shadow set)."""

    def __init__(self, mode: str, root: Path, lib: Path, port: int, env: dict, timeout: float):
        self.mode, self.root, self.port, self.timeout = mode, root, port, timeout
        self.bin = server_bin()
        self.sock = root / "sock"
        self.log = root / "server.log"
        for d in (root, self.sock):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self.env = dict(env)
        self.mounted = False
        if mode == "native":
            self.data = root / "pgdata"
        else:
            self.primary, self.secondary, state = root / "primary", root / "secondary", root / "state"
            for d in (self.primary, self.secondary, state):
                d.mkdir()
            self.mounted = mode == "tmpfs"
            if self.mounted:
                subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(self.secondary)], check=True, timeout=60)
            self.config = root / "shadow.toml"
            q = json.dumps
            self.config.write_text(
                f"prefix = \"/shadow\"\nprimary = {q(str(self.primary))}\n"
                f"secondary = {q(str(self.secondary))}\nstate_dir = {q(str(state))}\n"
                + ("write_behind = true\n" if mode == "behind" else ""))
            self.data = Path("/shadow/pgdata")
            self.env.update(LD_PRELOAD=str(lib), SHADOW_CONFIG=str(self.config))
        subprocess.run(["chown", "-R", "postgres:", str(root)], check=True, timeout=60)

    def server(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run(["runuser", "-u", "postgres", "--", "env",
                            *(f"{k}={v}" for k, v in self.env.items() if k in ("LD_PRELOAD", "SHADOW_CONFIG")),
                            str(self.bin / argv[0]), *argv[1:]],
                           env={k: v for k, v in self.env.items() if k not in ("LD_PRELOAD", "SHADOW_CONFIG")},
                           capture_output=True, text=True, timeout=self.timeout)
        if check and p.returncode != 0:
            raise Failed(f"{self.mode}: {argv[0]} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}")
        return p

    def client(self, *argv: str) -> str:
        p = subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / argv[0]),
                            "-h", str(self.sock), "-p", str(self.port), *argv[1:]],
                           env={k: v for k, v in self.env.items() if k not in ("LD_PRELOAD", "SHADOW_CONFIG")},
                           capture_output=True, text=True, timeout=self.timeout)
        if p.returncode != 0:
            raise Failed(f"{self.mode}: {argv[0]} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}")
        return p.stdout

    def init(self, scale: int) -> None:
        self.server("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        conf = (f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\n"
                f"port = {self.port}\n")
        # The configuration is appended through the shim, like every other write to the cluster.
        p = subprocess.run(["runuser", "-u", "postgres", "--", "env",
                            *(f"{k}={v}" for k, v in self.env.items() if k in ("LD_PRELOAD", "SHADOW_CONFIG")),
                            "sh", "-c", f"cat >> '{self.data}/postgresql.conf'"],
                           input=conf, text=True, capture_output=True, timeout=self.timeout)
        if p.returncode != 0:
            raise Failed(f"{self.mode}: configuring: {p.stderr.strip()[-300:]}")
        self.start()
        self.client("pgbench", "-q", "-i", "-s", str(scale), "postgres")
        self.stop()

    def start(self) -> None:
        self.server("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "start")

    def stop(self) -> None:
        self.server("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def tps(self, seconds: int) -> float:
        out = self.client("pgbench", "-c", "8", "-j", "2", "-T", str(seconds), "postgres")
        if not re.search(r"number of failed transactions: 0\b", out):
            raise Failed(f"{self.mode}: pgbench reported failed transactions")
        m = re.search(r"tps = ([0-9.]+)", out)
        if not m:
            raise Failed(f"{self.mode}: no tps in pgbench's output: {out[-300:]}")
        return float(m.group(1))

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.secondary)], timeout=60)
            self.mounted = False

    def check_members(self) -> list[str]:
        if self.mode == "native":
            return []
        reports = [ln for ln in self.log.read_text(errors="replace").splitlines() if "libshadow:" in ln]
        return [f"{self.mode}: the shim reported: {r[:200]}" for r in reports[:3]] + \
            [f"{self.mode}: members differ: {d}" for d in member_differences(self.primary / "pgdata", self.secondary / "pgdata")]


class Hog:
    """One busy process per CPU, for the runs beside a CPU hog."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      for _ in range(os.cpu_count() or 1)]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def run(a, base: Path, clean_env, progress_line) -> dict:
    t0 = time.monotonic()
    doc = {"skipped": why_not(), "failures": [], "tps": {}, "ratios": {}, "setup": {}}
    if doc["skipped"]:
        return doc
    seconds, scale = (2, 1) if a.quick else (60, 10)
    doc["setup"] = {"seconds": seconds, "scale": scale, "clients": 8, "threads": 2,
                    "hog_processes": os.cpu_count() or 1}
    root = base / "pgbench"
    root.mkdir()
    os.chmod(base, 0o755)
    port = 20000 + os.getpid() % 20000
    clusters = {}
    try:
        for i, mode in enumerate(MODES):
            progress_line(f"  pgbench          {mode}: initdb, pgbench -i -s {scale}")
            c = Cluster(mode, root / mode, a.lib_abs, port + i, clean_env(), a.timeout)
            clusters[mode] = c
            c.init(scale)
        for load in LOADS:
            for mode in MODES:
                c = clusters[mode]
                progress_line(f"  pgbench          {mode}, {load}: {seconds} s")
                c.start()
                try:
                    if load == "busy":
                        with Hog():
                            doc["tps"].setdefault(mode, {})[load] = c.tps(seconds)
                    else:
                        doc["tps"].setdefault(mode, {})[load] = c.tps(seconds)
                finally:
                    c.stop()
        for c in clusters.values():
            doc["failures"] += [{"workload": "pgbench", "mode": c.mode, "rep": 0, "error": e, "stderr": ""}
                                for e in c.check_members()]
    except (Failed, OSError, subprocess.SubprocessError) as e:
        doc["failures"].append({"workload": "pgbench", "mode": "", "rep": 0, "error": str(e), "stderr": ""})
        for c in clusters.values():
            c.server("pg_ctl", "-D", str(c.data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        for c in clusters.values():
            c.unmount()
    native = doc["tps"].get("native", {})
    for (mode, load), limit in TARGETS.items():
        got, ref = doc["tps"].get(mode, {}).get(load), native.get(load)
        if got and ref:
            r = got / ref
            doc["ratios"][f"{mode}/native {load}"] = {"ratio": r, "target": limit, "pass": None if limit is None else r >= limit}
    doc["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    return doc


def print_section(doc: dict | None) -> None:
    if not doc:
        return
    print()
    if doc["skipped"]:
        print(f"pgbench: NOT RUN ({doc['skipped']})")
        return
    s = doc["setup"]
    print(f"pgbench (TPS, higher is better): -c {s['clients']} -j {s['threads']} -T {s['seconds']}, "
          f"scale {s['scale']}; busy = beside {s['hog_processes']} busy processes")
    for mode in MODES:
        t = doc["tps"].get(mode, {})
        cells = "  ".join(f"{load} {t[load]:.0f}" for load in LOADS if load in t)
        print(f"  {mode:<9} {cells}")
    for name, r in doc["ratios"].items():
        verdict = ("(no target: the shim without a second flush on the same disk)" if r["target"] is None
                   else f"target >= {r['target']:.2f}  {'pass' if r['pass'] else 'MISS'}")
        print(f"  {name:<22} {r['ratio']:.3f}  {verdict}")


def csv_rows(doc: dict | None, width: int) -> list[list]:
    """Rows for results.csv: workload "pgbench", phase "MODE/LOAD", metric "tps"."""
    out = []
    for mode, loads in (doc or {}).get("tps", {}).items():
        for load, v in loads.items():
            row = ["pgbench", f"{mode}/{load}", "tps", v, v, v, v, v, 1]
            out.append(row + [""] * (width - len(row)))
    return out
