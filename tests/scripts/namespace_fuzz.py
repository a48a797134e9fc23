"""Random sequences of namespace calls (mkdir, rmdir, unlink, rename and renameat2's
RENAME_NOREPLACE / RENAME_EXCHANGE, link with and without following, symlink, mkfifo,
creating opens with O_EXCL / O_TRUNC / O_NOFOLLOW / O_DIRECTORY, stat with and without
following, readlink, listings, chmod, utime, truncate, access) through directory fds held
across the changes (renamed or removed under them) and through the cwd (fchdir), on short
paths over four names with "." and ".." inside them (some absolute, into the tree), so
that names collide, symlinks chain and loop, and directories are busy. Prints one line per call: what was asked and what came
back (the result, or the errno's name); then the tree. Run natively and under the shim
with the same seed, the two transcripts must be the same (tests/tests/paths.rs).

usage: namespace_fuzz.py ROOT SEED STEPS   (ROOT must not exist; made here)

Nothing climbs above ROOT/top, where the calls start: ".." only follows a name within a
path, and symlink targets only descend (a loop is ELOOP), relative or absolute into
ROOT/top (shown as <ROOT>), so the transcripts compare the same tree natively and in a
member.
"""

import ctypes
import errno
import os
import random
import stat
import sys

NAMES = ["a", "b", "c", "d"]
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]


def main() -> None:
    root, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    os.mkdir(root)
    os.mkdir(os.path.join(root, "top"))
    os.chdir(os.path.join(root, "top"))
    top = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    dirfds = [top]
    out = []

    def path() -> str:
        parts, depth = [], 0
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            pick = rng.random()
            if pick < 0.1 and depth > 0:
                parts.append("..")
                depth -= 1
            elif pick < 0.15:
                parts.append(".")
            else:
                parts.append(rng.choice(NAMES))
                depth += 1
        if parts[-1] in (".", "..") and rng.random() < 0.7:
            parts.append(rng.choice(NAMES))
        # Absolute ones too, into the tree (the dir fd is then ignored, as by the kernel).
        return f"{root}/top/" + "/".join(parts) if rng.random() < 0.1 else "/".join(parts)

    def target() -> str:
        rel = "/".join(rng.choice(NAMES + ["."]) for _ in range(rng.choice([1, 1, 2])))
        # Absolute ones too, into the tree: under the shim, links into the prefix, which a
        # member's kernel cannot follow itself (it would take them to a real /shadow).
        return f"{root}/top/{rel}" if rng.random() < 0.25 else rel

    def shown(text) -> str:
        return str(text).replace(root, "<ROOT>")

    def dirfd():
        # The cwd (None) or a held directory; which one, by its place in the list.
        i = rng.randrange(len(dirfds) + 1)
        return (None, "cwd") if i == len(dirfds) else (dirfds[i], f"fd{i}")

    def describe(st: os.stat_result) -> str:
        kind = stat.S_IFMT(st.st_mode)
        # Not a symlink's: an absolute target's length is ROOT's (the tree lines show it).
        size = f" size={st.st_size}" if stat.S_ISREG(kind) else ""
        return f"mode={st.st_mode:o} nlink={st.st_nlink}{size}"

    def call(what: str, fn):
        try:
            r = fn()
            out.append(shown(f"{what} -> ok{'' if r is None else ' ' + str(r)}"))
        except OSError as e:
            out.append(shown(f"{what} -> {errno.errorcode.get(e.errno, e.errno)}"))

    def renameat2(a, fa, b, fb, flags):
        fa = -100 if fa is None else fa
        fb = -100 if fb is None else fb
        if libc.renameat2(fa, a.encode(), fb, b.encode(), flags) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def create(p, fd, flags):
        f = os.open(p, flags, 0o640, dir_fd=fd)
        try:
            if flags & os.O_DIRECTORY:
                return "dir"
            n = os.write(f, b"x" * rng.randrange(1, 300))
            return n
        finally:
            os.close(f)

    def opendir(p, fd):
        f = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        if len(dirfds) >= 4:
            os.close(dirfds.pop(1))
        dirfds.append(f)
        return len(dirfds) - 1

    for step in range(steps):
        op = rng.randrange(20)
        fd, fdn = dirfd()
        p = path()
        w = f"{step} "
        if op == 0:
            call(w + f"mkdir {fdn} {p}", lambda: os.mkdir(p, 0o750, dir_fd=fd))
        elif op == 1:
            call(w + f"rmdir {fdn} {p}", lambda: os.rmdir(p, dir_fd=fd))
        elif op == 2:
            call(w + f"unlink {fdn} {p}", lambda: os.unlink(p, dir_fd=fd))
        elif op in (3, 4):
            fd2, fdn2 = dirfd()
            q = path()
            flags = rng.choice([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE])
            call(w + f"rename {fdn} {p} {fdn2} {q} {flags}", lambda: renameat2(p, fd, q, fd2, flags))
        elif op == 5:
            fd2, fdn2 = dirfd()
            q = path()
            follow = rng.random() < 0.5
            call(w + f"link {fdn} {p} {fdn2} {q} follow={follow}",
                 lambda: os.link(p, q, src_dir_fd=fd, dst_dir_fd=fd2, follow_symlinks=follow))
        elif op == 6:
            t = target()
            call(w + f"symlink {t} {fdn} {p}", lambda: os.symlink(t, p, dir_fd=fd))
        elif op in (7, 8):
            # O_NONBLOCK: a FIFO's open for writing fails ENXIO instead of waiting for a reader.
            flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK
            for extra in (os.O_EXCL, os.O_TRUNC, os.O_NOFOLLOW, os.O_APPEND):
                if rng.random() < 0.25:
                    flags |= extra
            if rng.random() < 0.08:
                flags = os.O_RDONLY | os.O_DIRECTORY | (os.O_CREAT if rng.random() < 0.5 else 0)
            call(w + f"open {fdn} {p} {flags:o}", lambda: create(p, fd, flags))
        elif op in (9, 10):
            follow = rng.random() < 0.5
            call(w + f"stat {fdn} {p} follow={follow}", lambda: describe(os.stat(p, dir_fd=fd, follow_symlinks=follow)))
        elif op == 11:
            call(w + f"readlink {fdn} {p}", lambda: os.readlink(p, dir_fd=fd))
        elif op == 12:
            def listing():
                f = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                try:
                    return " ".join(sorted(os.listdir(f)))
                finally:
                    os.close(f)
            call(w + f"list {fdn} {p}", listing)
        elif op == 13:
            call(w + f"opendir {fdn} {p}", lambda: opendir(p, fd))
        elif op == 14:
            mode = rng.choice([0o700, 0o644, 0o755, 0o600])
            call(w + f"chmod {fdn} {p} {mode:o}", lambda: os.chmod(p, mode, dir_fd=fd))
        elif op == 15:
            ns = rng.randrange(1, 2**40) * 1000
            follow = rng.random() < 0.5
            call(w + f"utime {fdn} {p} {ns} follow={follow}",
                 lambda: os.utime(p, ns=(ns, ns), dir_fd=fd, follow_symlinks=follow))
            call(w + f"  mtime {fdn} {p}", lambda: os.stat(p, dir_fd=fd, follow_symlinks=follow).st_mtime_ns)
        elif op == 16:
            n = rng.randrange(0, 500)
            call(w + f"truncate cwd {p} {n}", lambda: os.truncate(p, n))
        elif op == 17:
            call(w + f"access {fdn} {p}", lambda: os.access(p, os.W_OK, dir_fd=fd))
        elif op == 18:
            call(w + f"mkfifo {fdn} {p}", lambda: os.mkfifo(p, 0o600, dir_fd=fd))
        else:
            i = rng.randrange(len(dirfds))
            call(w + f"fchdir fd{i}", lambda: os.fchdir(dirfds[i]))

    # The tree as it ends, from ROOT.
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(base, name)
            st = os.lstat(full)
            link = f" -> {os.readlink(full)}" if stat.S_ISLNK(st.st_mode) else ""
            out.append(shown(f"tree {os.path.relpath(full, root)} {describe(st)}{link}"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
