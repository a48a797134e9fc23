"""The network-member row of `make bench`: the secondary on sshfs over loopback.  How much
of the two members' latencies adds up when the shim writes a local primary and a secondary
on a network file system, one after the other.  Run by run.py; standard library only.

Needs root, `unshare -m`, /usr/sbin/sshd, sshfs, fusermount and /dev/fuse; without them the
row is left out with a loud line naming what is missing (`skipped`), which is not a failure.

Everything runs in a private mount namespace (`unshare -m --propagation private`; this file
runs itself there as `sshfs.py --inner JOBFILE`), set up as tests/scripts/network_member.sh
does: a private sshd as root on a random port of 127.0.0.1 (generated keys, StrictModes no,
/run/sshd on a private tmpfs /run where it is missing) exports a directory (a tmpfs: the
remote node's storage is not the local disk, whose flushes would otherwise serialise with
the primary's on one device), sshfs mounts it
(`-o reconnect,ServerAliveInterval=1,ServerAliveCountMax=2`).  Then per repetition, the
modes interleaved (their order rotated each repetition), each run on fresh directories:

    local     bench fsync native LOCALDIR
    sshfs     bench fsync native DIR-ON-THE-SSHFS-MOUNT
    shadowed  bench fsync shadowed /shadow under the shim: primary local, secondary a
              directory on the sshfs mount
    behind    the same with write_behind = true

(the fsync workload: O_APPEND, 200 B write + fdatasync, 5,000 times; 500 quick).  After each
shadowed and behind run the two member trees (the secondary read from the exported
directory, the bytes sshd wrote) must be identical: names, kinds, sizes, bytes; a
difference is a failure.  Reported: each mode's time, and per repetition shadowed /
max(local, sshfs) (target <= 1.1: the slower member alone sets the pace), shadowed /
(local + sshfs) (1.0: the two latencies add up), behind / max(local, sshfs).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from failover import summary  # noqa: E402  (bench/failover.py)
from members import manifest, member_differences  # noqa: E402  (bench/members.py)

MODES = ("local", "sshfs", "shadowed", "behind")
PHASE = "append_200b_fdatasync"
FULL_SCALE, QUICK_SCALE, QUICK_REPS = 1.0, 0.1, 3
LIMIT = 1.1  # shadowed / max(local, sshfs)
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
SSHFS_OPTS = "ServerAliveInterval=1,ServerAliveCountMax=2,ConnectTimeout=5,reconnect"
RATIOS = [  # (key, label, numerator, how the references combine, target)
    ("shadowed_over_max", "shadowed / max(local, sshfs)", "shadowed", max, LIMIT),
    ("shadowed_over_sum", "shadowed / (local + sshfs)", "shadowed", lambda a, b: a + b, None),
    ("behind_over_max", "behind / max(local, sshfs)", "behind", max, None),
]


class Failed(Exception):
    pass


class Stop(Exception):
    """SIGTERM in the inner run (the outer side's deadline): clean up, report what ran."""


ERRORS = (Failed, OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError)


def err(ex: BaseException) -> str:
    return str(ex) if isinstance(ex, Failed) else f"{type(ex).__name__}: {ex}"


# ------------------------------------------------------------ prerequisites


def fusermount() -> str | None:
    return shutil.which("fusermount3") or shutil.which("fusermount")


def missing() -> str | None:
    """None when everything the row needs is here, else what is missing."""
    need = []
    if os.geteuid() != 0:
        need.append("root (a private sshd and an sshfs mount in a private mount namespace)")
    for path, what in ((SSHD, "/usr/sbin/sshd (openssh-server)"),
                       (SFTP_SERVER, f"{SFTP_SERVER} (openssh-sftp-server)")):
        if not os.access(path, os.X_OK):
            need.append(what)
    for prog in ("sshfs", "ssh-keygen"):
        if not shutil.which(prog):
            need.append(prog)
    if not fusermount():
        need.append("fusermount3 or fusermount (fuse3)")
    try:
        if not stat.S_ISCHR(os.stat("/dev/fuse").st_mode):
            need.append("/dev/fuse (not a character device)")
    except OSError:
        need.append("/dev/fuse")
    if not need:
        try:
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                               capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                need.append(f"unshare -m (it failed: {p.stderr.strip()[:200]})")
        except (OSError, subprocess.SubprocessError) as e:
            need.append(f"unshare -m ({e})")
    return "needs " + "; ".join(need) if need else None


# ------------------------------------------------------------------- inner


def bounded(argv, timeout: float, **kw) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout that holds even if the killed process cannot exit
    (stuck on a dead mount): it is left behind rather than waited for."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("preexec_fn", die_with_parent)
    p = subprocess.Popen([str(x) for x in argv], text=True, **kw)
    try:
        out, errout = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        try:
            out, errout = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out, errout = "", "(did not exit after SIGKILL)"
        raise Failed(f"{' '.join(str(x) for x in argv[:3])} timed out after {timeout:.0f} s: "
                     f"{(errout or '').strip()[-300:]}")
    except BaseException:  # Stop (SIGTERM), KeyboardInterrupt: no child left running
        p.kill()
        raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, errout)


def die_with_parent() -> None:
    """preexec_fn: SIGKILL when the inner run dies, whatever kills it (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                line = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(line[line.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid: int) -> list[int]:
    """Pids below pid, deepest first."""
    kids, out = children_map(), []

    def walk(p):
        for c in kids.get(p, []):
            walk(c)
            out.append(c)
    walk(pid)
    return out


def mounts_field(path: str) -> str:
    """path as /proc/mounts writes it."""
    return (path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
            .replace("\n", "\\012"))


def mount_line(mp: str) -> str | None:
    f = mounts_field(mp)
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[1] == f:
            return line
    return None


class Inner:
    """In the private mount namespace: sshd, the sshfs mount, the runs."""

    def __init__(self, job: dict):
        self.job = job
        self.root = Path(job["root"])
        self.ssh = self.root / "ssh"
        self.export = self.root / "export"
        self.mnt = self.root / "mnt"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("LD_PRELOAD", "SHADOW_CONFIG")}
        self.sshd: subprocess.Popen | None = None
        self.sshfs: subprocess.Popen | None = None
        self.mounted = False
        self.port = 0
        self.runs: list[dict] = []
        self.failures: list[dict] = []
        self.notes: list[str] = []
        self.info: dict = {}
        self.current = ("setup", -1)  # (mode, rep) under way, for a failure report

    # ---- setup

    def start_sshd(self) -> None:
        if not Path("/run/sshd").is_dir():
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs", "/run"],
                           check=True, capture_output=True, timeout=30)
            os.mkdir("/run/sshd", 0o755)
            self.info["private_run"] = True
        self.ssh.mkdir(mode=0o700)
        for name, comment in (("host_key", "shadow-bench-host"), ("id", "shadow-bench-client")):
            p = bounded(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                         "-f", self.ssh / name], 30)
            if p.returncode != 0:
                raise Failed(f"ssh-keygen {name}: {p.stderr.strip()[-300:]}")
        shutil.copy(self.ssh / "id.pub", self.ssh / "authorized_keys")
        log = self.root / "sshd.log"
        for _ in range(10):
            self.port = 20000 + int.from_bytes(os.urandom(2), "little") % 40000
            (self.ssh / "sshd_config").write_text(
                f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.ssh / 'host_key'}\n"
                f"PidFile none\nAuthorizedKeysFile {self.ssh / 'authorized_keys'}\n"
                "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                f"StrictModes no\nSubsystem sftp {SFTP_SERVER}\n")
            with open(log, "w") as lf:
                self.sshd = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(self.ssh / "sshd_config")],
                    stdin=subprocess.DEVNULL, stdout=lf, stderr=lf, env=self.env,
                    start_new_session=True, preexec_fn=die_with_parent)
            for _ in range(50):
                if "Server listening" in log.read_text() or self.sshd.poll() is not None:
                    break
                time.sleep(0.1)
            if self.sshd.poll() is None and "Server listening" in log.read_text():
                key = (self.ssh / "host_key.pub").read_text().split()[:2]
                (self.ssh / "known_hosts").write_text(
                    f"[127.0.0.1]:{self.port} {' '.join(key)}\n")
                return
            self.stop_sshd()
        raise Failed(f"sshd did not start: {log.read_text().strip()[-400:]}")

    def mount_sshfs(self) -> None:
        self.export.mkdir()
        # The served directory is a tmpfs: the remote node's storage is its own, as a real
        # network member's is. On the local disk both members' flushes would queue on one
        # device, and no mirror could overlap them.
        p = bounded(["mount", "-t", "tmpfs", "-o", "size=512m,mode=755", "tmpfs", str(self.export)], 30)
        if p.returncode != 0:
            raise Failed(f"mount tmpfs on {self.export}: {p.stderr.strip()[-300:]}")
        self.mnt.mkdir()
        log = self.root / "sshfs.log"
        argv = ["sshfs", "-f", "-F", "/dev/null", "-p", str(self.port),
                "-o", f"IdentityFile={self.ssh / 'id'},IdentitiesOnly=yes,BatchMode=yes",
                "-o", f"UserKnownHostsFile={self.ssh / 'known_hosts'},StrictHostKeyChecking=yes",
                "-o", SSHFS_OPTS, f"root@127.0.0.1:{self.export}", str(self.mnt)]
        self.info["sshfs_argv"] = argv
        with open(log, "w") as lf:
            self.sshfs = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                          env=self.env, start_new_session=True,
                                          preexec_fn=die_with_parent)
        for _ in range(100):
            if mount_line(str(self.mnt)):
                self.mounted = True
                try:
                    if bounded(["stat", f"{self.mnt}/."], 10).returncode == 0:
                        self.info["mount"] = mount_line(str(self.mnt))
                        return
                except Failed:
                    pass
            if self.sshfs.poll() is not None:
                break
            time.sleep(0.1)
        raise Failed(f"sshfs did not mount {self.export} on {self.mnt}: "
                     f"{log.read_text().strip()[-400:]}")

    # ---- cleanup (always; by pid, never by name)

    def stop_sshfs(self) -> None:
        if self.mounted:
            fm = fusermount()
            ok = False
            for argv in ([fm, "-u", str(self.mnt)] if fm else None,
                         [fm, "-u", "-z", str(self.mnt)] if fm else None,
                         ["umount", "-l", str(self.mnt)]):
                if argv is None:
                    continue
                try:
                    ok = bounded(argv, 15).returncode == 0
                except (Failed, OSError):
                    ok = False
                if ok or not mount_line(str(self.mnt)):
                    break
            if mount_line(str(self.mnt)):
                self.notes.append(f"could not unmount {self.mnt} (the namespace drops it)")
            self.mounted = False
        p, self.sshfs = self.sshfs, None
        if p is not None:
            self.kill(p, descendants(p.pid))

    def stop_sshd(self) -> None:
        p, self.sshd = self.sshd, None
        if p is not None:  # the listener's sessions and sftp-servers first
            self.kill(p, descendants(p.pid), hard=True)

    @staticmethod
    def kill(p: subprocess.Popen, below: list[int], hard: bool = False) -> None:
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if p.poll() is None:
            p.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    # ---- runs

    def mkdir_on_mount(self, path: Path) -> None:
        p = bounded(["mkdir", "-p", path], 30)
        if p.returncode != 0:
            raise Failed(f"mkdir {path} on the sshfs mount: {p.stderr.strip()[-300:]}")

    def one(self, mode: str, rep: int, order: int) -> dict:
        j = self.job
        tag = f"{order:03d}-{mode}"
        run = self.root / "runs" / tag
        aux, state = run / "plain", run / "state"
        for d in (run, aux, state):
            d.mkdir(parents=True)
        env = dict(self.env)
        argv = [j["bench"], "fsync"]
        primary = secondary = secondary_real = None
        if mode == "local":
            target = run / "dir"
            target.mkdir()
            argv += ["native", str(target)]
        elif mode == "sshfs":
            target = self.mnt / tag / "dir"
            self.mkdir_on_mount(target)
            argv += ["native", str(target)]
        else:
            primary = run / "primary"
            primary.mkdir()
            secondary = self.mnt / tag / "secondary"
            secondary_real = self.export / tag / "secondary"
            self.mkdir_on_mount(secondary)
            config = run / "shadow.toml"
            q = json.dumps
            config.write_text(f"prefix = {q(j['prefix'])}\nprimary = {q(str(primary))}\n"
                              f"secondary = {q(str(secondary))}\nstate_dir = {q(str(state))}\n"
                              + ("write_behind = true\n" if mode == "behind" else ""))
            argv += ["shadowed", j["prefix"]]
            env.update(LD_PRELOAD=j["lib"], SHADOW_CONFIG=str(config))
        argv += ["--scale", repr(j["scale"]), "--aux", str(aux)]
        rec = {"mode": mode, "rep": rep, "order": order, "argv": argv, "seconds": None,
               "stderr": ""}
        # The previous run's pages are on disk before this one starts (the local file
        # system only: a sync that reached the mount could hang with it).
        bounded(["sync", "-f", str(self.root)], 60)
        t0 = time.monotonic()
        p = bounded(argv, j["timeout"], env=env)
        rec["wall_seconds"] = time.monotonic() - t0
        rec["returncode"] = p.returncode
        rec["stderr"] = p.stderr[-4000:]
        if p.returncode != 0:
            why = {2: "failed syscall or usage", 3: "CONTENT CHECK FAILED"}.get(
                p.returncode, "crashed" if p.returncode < 0 else "failed")
            raise Failed(f"bench exit {p.returncode}: {why}: {p.stderr.strip()[-500:]}")
        phases = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        ph = next((x for x in phases if x.get("phase") == PHASE), None)
        if ph is None:
            raise Failed(f"bench reported no {PHASE} phase: {p.stdout.strip()[-300:]}")
        rec.update(seconds=ph["seconds"], ops=ph["ops"], bytes=ph["bytes"])
        if p.stderr.strip():
            self.notes.append(f"{mode} rep {rep} succeeded but wrote to stderr: "
                              f"{p.stderr.strip().splitlines()[0][:200]}")
        if primary is not None:
            diffs = member_differences(primary, secondary_real)
            if diffs:
                raise Failed("members differ after the run: " + "; ".join(diffs))
            if not (primary / "log.dat").is_file():
                raise Failed("the primary holds no log.dat after the run")
            rec["primary_files"] = sorted(manifest(primary))
            hist = state / "history.log"
            history = hist.read_text() if hist.exists() else ""
            if history.strip():  # sshfs should be a faithful member: nothing to report
                rec["history"] = history[-2000:]
                self.notes.append(f"{mode} rep {rep}: the shim wrote to its history: "
                                  f"{history.strip().splitlines()[0][:200]}")
        return rec

    def fail(self, msg: str) -> None:
        """A failure of the (mode, rep) under way: recorded, and a progress line outside."""
        mode, rep = self.current
        self.failures.append({"workload": "sshfs", "mode": mode, "rep": rep, "error": msg,
                              "stderr": ""})
        print(f"progress:  sshfs {mode} rep {rep}: FAILED: {msg[:300]}", flush=True)

    def measure(self) -> None:
        order = 0
        for rep in range(self.job["reps"]):
            k = rep % len(MODES)
            for mode in MODES[k:] + MODES[:k]:
                self.current = (mode, rep)
                try:
                    self.runs.append(self.one(mode, rep, order))
                except ERRORS as ex:
                    self.fail(err(ex))
                    if self.sshfs is None or self.sshfs.poll() is not None:
                        raise Failed("sshfs exited: " + (self.root / "sshfs.log")
                                     .read_text().strip()[-300:])
                order += 1

    def main(self) -> dict:
        t0 = time.monotonic()
        try:
            try:
                v = bounded(["sshfs", "-V"], 10)
                self.info["sshfs_version"] = (v.stdout + v.stderr).strip().splitlines()
            except (Failed, OSError):
                pass
            self.start_sshd()
            self.mount_sshfs()
            self.measure()
        except Stop:
            self.fail(f"stopped by SIGTERM (the outer side's deadline of "
                      f"{self.job['deadline']:.0f} s, or a kill)")
        except ERRORS as ex:
            self.fail(err(ex))
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stop_sshfs()
            self.stop_sshd()
        return {"runs": self.runs, "failures": self.failures, "notes": self.notes,
                "info": {**self.info, "port": self.port},
                "inner_seconds": round(time.monotonic() - t0, 1)}


def inner_main(jobfile: str) -> int:
    def on_term(signum, frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)
    try:
        result = Inner(json.loads(Path(jobfile).read_text())).main()
    except (Stop, *ERRORS) as ex:
        result = {"error": err(ex)}
    print(json.dumps(result), flush=True)
    return 0


# ------------------------------------------------------------------- outer


def paired(runs: list[dict], num: str, combine) -> list[float]:
    by = {}
    for r in runs:
        by.setdefault(r["rep"], {})[r["mode"]] = r["seconds"]
    out = []
    for rep in sorted(by):
        m = by[rep]
        if num in m and "local" in m and "sshfs" in m:
            den = combine(m["local"], m["sshfs"])
            if den:
                out.append(m[num] / den)
    return out


def run(a, base: Path, clean_env, progress_line) -> dict:
    t0 = time.monotonic()
    reps = min(a.reps, QUICK_REPS) if a.quick else a.reps
    scale = QUICK_SCALE if a.quick else FULL_SCALE
    setup = {"reps": reps, "scale": scale, "ops": round(5000 * scale),
             "record_bytes": 200, "modes": list(MODES), "limit": LIMIT,
             "sshfs_options": SSHFS_OPTS}
    doc = {"about": "bench fsync (append 200 B + fdatasync) with the secondary on sshfs over "
                    "loopback (a private sshd on 127.0.0.1): the shim's time against the "
                    "local and the sshfs directory alone",
           "skipped": None, "setup": setup, "modes": {}, "ratios": [], "runs": [],
           "failures": [], "notes": [], "info": {}}
    why = missing()
    if why:
        doc["skipped"] = why
        progress_line(f"  sshfs: SKIPPED: {why}")
        doc["elapsed_seconds"] = round(time.monotonic() - t0, 1)
        return doc
    deadline = reps * len(MODES) * (a.timeout + 30) + 120  # the whole inner run
    root = base / f"sshfs-{os.urandom(4).hex()}"
    root.mkdir()
    job = {"root": str(root), "bench": str(a.bench_abs), "lib": str(a.lib_abs),
           "prefix": getattr(a, "prefix", None) or "/shadow", "scale": scale, "reps": reps,
           "timeout": a.timeout, "deadline": deadline}
    jobfile = root / "job.json"
    jobfile.write_text(json.dumps(job))
    errlog = root / "inner.stderr"
    argv = ["unshare", "-m", "--propagation", "private", sys.executable,
            str(Path(__file__).resolve()), "--inner", str(jobfile)]
    out = None
    with open(errlog, "w") as ef:
        p = subprocess.Popen(argv, env=clean_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=ef, text=True)

        def stop():  # SIGTERM: the inner side cleans up and reports; then SIGKILL
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
        timer = threading.Timer(deadline, stop)
        timer.daemon = True
        timer.start()
        try:
            for line in p.stdout:
                if line.startswith("progress:"):
                    progress_line(line[len("progress:"):].rstrip("\n"))
                elif line.strip():
                    out = line
            p.wait()
        except KeyboardInterrupt:
            stop()
            raise
        finally:
            timer.cancel()
    try:
        res = json.loads(out or "")
    except json.JSONDecodeError:
        res = {"error": f"inner run exited {p.returncode}: "
                        f"{errlog.read_text().strip()[-500:]}"}
    if "error" in res:
        doc["failures"].append({"workload": "sshfs", "mode": "setup", "rep": -1,
                                "error": res["error"], "stderr": ""})
        progress_line(f"  sshfs: FAILED: {res['error'][:300]}")
        res = {}
    runs = res.get("runs", [])
    doc["runs"] = runs
    doc["failures"] += res.get("failures", [])
    doc["notes"] = res.get("notes", [])
    doc["info"] = res.get("info", {})
    for mode in MODES:
        v = [r["seconds"] for r in runs if r["mode"] == mode]
        if v:
            s = summary(v)
            ops = next(r["ops"] for r in runs if r["mode"] == mode)
            doc["modes"][mode] = {"summary": s, "ops": ops,
                                  "per_op_us": s["median"] / ops * 1e6}
    for key, label, num, combine, limit in RATIOS:
        v = paired(runs, num, combine)
        if v:
            s = summary(v)
            doc["ratios"].append({"key": key, "label": label, "summary": s, "limit": limit,
                                  "pass": None if limit is None else s["median"] <= limit})
    doc["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    return doc


# ------------------------------------------------------------------ output


def fmt_s(v: float) -> str:
    return f"{v:.3f}s" if v < 10 else f"{v:.2f}s"


MODE_LABELS = {
    "local": "native, a local dir",
    "sshfs": "native, a dir on the sshfs mount",
    "shadowed": "the shim: primary local, secondary on sshfs",
    "behind": "the same with write_behind = true",
}


def print_section(doc: dict | None) -> None:
    if not doc:
        return
    print()
    if doc["skipped"]:
        print(f"sshfs: SKIPPED, NOT MEASURED (the secondary on sshfs over loopback): "
              f"{doc['skipped']}")
        return
    if not doc["modes"]:
        print("sshfs: no complete run (see FAILED RUNS)")
        return
    s = doc["setup"]
    print(f"sshfs (absolute and paired ratios): the secondary on sshfs over loopback (a "
          f"private sshd on 127.0.0.1); bench fsync, {s['ops']} x (append "
          f"{s['record_bytes']} B + fdatasync);")
    print(f"  median [min-max] over {s['reps']} reps, modes interleaved; ratios per rep, "
          f"shadowed / max: the slower member alone would be 1.0, / sum: 1.0 when the two "
          f"latencies add up")
    lw = max(len(f"{m:<9} {lab}") for m, lab in MODE_LABELS.items())
    lw = max([lw] + [len(r["label"]) for r in doc["ratios"]])
    for mode in MODES:
        m = doc["modes"].get(mode)
        label = f"{mode:<9} {MODE_LABELS[mode]}".ljust(lw)
        if not m:
            print(f"  {label}  -")
            continue
        sm = m["summary"]
        cell = fmt_s(sm["median"])
        if sm["n"] > 1 and sm["min"] != sm["max"]:
            cell += f" [{fmt_s(sm['min'])}-{fmt_s(sm['max'])}]"
        print(f"  {label}  {cell:<26} {m['per_op_us']:7.1f} us per op")
    for r in doc["ratios"]:
        sm = r["summary"]
        cell = f"{sm['median']:.3f}"
        if sm["n"] > 1:
            cell += f" [{sm['min']:.3f}-{sm['max']:.3f}]"
        tgt = ""
        if r["limit"] is not None:
            tgt = f"target <= {r['limit']:.2f}  {'pass' if r['pass'] else 'MISS'}"
        print(f"  {r['label'].ljust(lw)}  {cell:<26} {tgt}".rstrip())
    for n in doc["notes"]:
        print(f"  note: {n}")
    if doc["failures"]:
        print(f"  {len(doc['failures'])} run(s) FAILED (see FAILED RUNS); their numbers are "
              f"left out")


def csv_rows(doc: dict | None, width: int) -> list[list]:
    """Rows for results.csv: workload "sshfs", phase "MODE/append_200b_fdatasync" (metric
    seconds) and "ratio/KEY" (metric x), the statistics in the native_* columns (like the
    failover rows); the ratio with a target fills the last three columns (run.py's
    target_reference, target_limit, target_pass)."""
    out = []
    if not doc:
        return out
    for mode in MODES:
        m = doc["modes"].get(mode)
        if m:
            s = m["summary"]
            row = ["sshfs", f"{mode}/{PHASE}", "seconds",
                   s["median"], s["min"], s["max"], s["q1"], s["q3"], s["n"]]
            out.append(row + [""] * (width - len(row)))
    for r in doc["ratios"]:
        s = r["summary"]
        row = ["sshfs", f"ratio/{r['key']}", "x",
               s["median"], s["min"], s["max"], s["q1"], s["q3"], s["n"]]
        row += [""] * (width - len(row))
        if r["limit"] is not None and width >= 12:
            row[-3:] = ["max(local,sshfs)", r["limit"], "pass" if r["pass"] else "miss"]
        out.append(row)
    return out


# -------------------------------------------------------------------- main


def manual() -> int:
    import argparse
    import tempfile
    ap = argparse.ArgumentParser(description="The sshfs row alone (run.py runs it too).")
    ap.add_argument("--bench", default="build/bench")
    ap.add_argument("--lib", default="../target/release/libshadow.so")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--prefix", default="/shadow")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.reps = a.reps or (3 if a.quick else 5)
    a.timeout = a.timeout or (120 if a.quick else 900)
    a.bench_abs = Path(a.bench).resolve()
    a.lib_abs = Path(a.lib).resolve()
    for p in (a.bench_abs, a.lib_abs):
        if not p.is_file():
            print(f"sshfs.py: {p} not found", file=sys.stderr)
            return 2
    base = Path(tempfile.mkdtemp(prefix="libshadow-sshfs-", dir=a.tmpdir))
    shutil.copy2(a.lib_abs, base / a.lib_abs.name)  # as run.py: a rebuild must not mix in
    a.lib_abs = base / a.lib_abs.name

    def clean_env():
        return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "SHADOW_CONFIG")}
    try:
        doc = run(a, base, clean_env, lambda msg: print(msg, flush=True))
    finally:
        if a.keep:
            print(f"sshfs.py: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print_section(doc)
    print(json.dumps(doc, indent=1))
    return 1 if doc["failures"] else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        sys.exit(inner_main(sys.argv[2]))
    sys.exit(manual())
