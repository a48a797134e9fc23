"""Random sequences of namespace calls (mkdir, rmdir, unlink, rename and renameat2's
RENAME_NOREPLACE / RENAME_EXCHANGE, link with and without following, symlink, mkfifo,
creating opens with O_EXCL / O_TRUNC / O_NOFOLLOW / O_DIRECTORY, stat with and without
following, readlink, listings, chmod, chown, utime, truncate, access, extended attributes, openat2
with RESOLVE_BENEATH / IN_ROOT / NO_SYMLINKS) through directory fds held across the
changes (renamed or removed under them) and through the cwd (fchdir), on short paths over
four names with "." and ".." inside them (some absolute, into the tree), so that names
collide, symlinks chain and loop, and directories are busy. Files are held open too
(O_TMPFILE ones among them) and changed through their fds after their names changed:
writes, truncation, fchmod, fsetxattr, fsync, new names by linkat(AT_EMPTY_PATH) and
/proc/self/fd; and a forked child makes a few calls of its own on the same fds and cwd,
ending with _exit. Prints one line per call: what was asked and what came back (the
result, or the errno's name); then the tree (with each file's contents and extended
attributes, digested). Run natively and under the shim with the same seed, the two
transcripts must be the same (tests/tests/paths.rs).

usage: namespace_fuzz.py ROOT SEED STEPS [shared]   (ROOT must not exist; made here)

With `shared`, several runs share one ROOT at once (made by whichever comes first): their
transcripts mean nothing, but the members must end identical (tests/tests/processes.rs);
the tree is not printed.

Nothing climbs above ROOT/top, where the calls start: ".." only follows a name within a
path, and symlink targets only descend (a loop is ELOOP), relative or absolute into
ROOT/top (shown as <ROOT>), so the transcripts compare the same tree natively and in a
member.
"""

import ctypes
import errno
import hashlib
import os
import random
import stat
import sys

NAMES = ["a", "b", "c", "d"]
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_EMPTY_PATH, AT_SYMLINK_FOLLOW = 0x1000, 0x400
SYS_OPENAT2 = 437
# openat2's RESOLVE_* flags but RESOLVE_NO_XDEV (the native tree and the members need not
# sit on the same mounts) and RESOLVE_NO_MAGICLINKS (no /proc here).
RESOLVE = {"no_symlinks": 0x04, "beneath": 0x08, "in_root": 0x10}
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
libc.syscall.restype = ctypes.c_long


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def checked(r: int) -> int:
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:10]


def main() -> None:
    root, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    shared = sys.argv[4:] == ["shared"]
    rng = random.Random(seed)
    os.makedirs(os.path.join(root, "top"), exist_ok=shared)
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
        return f"mode={st.st_mode:o} nlink={st.st_nlink} own={st.st_uid}:{st.st_gid}{size}"

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

    def one(w: str) -> None:
        nonlocal rng
        op = rng.randrange(34)
        fd, fdn = dirfd()
        p = path()
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
        elif op == 19:
            i = rng.randrange(len(dirfds))
            call(w + f"fchdir fd{i}", lambda: os.fchdir(dirfds[i]))
        else:
            more(op - 20, w, fd, fdn, p)


    files = []  # file fds held across the changes (O_TMPFILE ones among them)

    def hold(f: int) -> str:
        if len(files) >= 4:
            os.close(files.pop(0))
        files.append(f)
        return f"file{len(files) - 1}"

    def held():
        i = rng.randrange(len(files))
        return files[i], f"file{i}"

    def xattrs(p: str, follow: bool) -> str:
        names = sorted(os.listxattr(p, follow_symlinks=follow))
        return " ".join(f"{n}={digest(os.getxattr(p, n, follow_symlinks=follow))}" for n in names)

    def openat2(p, fd, flags, resolve):
        how = OpenHow(flags, 0o640 if flags & os.O_CREAT else 0, resolve)
        f = checked(libc.syscall(SYS_OPENAT2, -100 if fd is None else fd, p.encode(), ctypes.byref(how), 24))
        try:
            return describe(os.fstat(f))
        finally:
            os.close(f)

    def child(w: str) -> None:
        # A second process on the same tree: the dir fds, the cwd and the held files'
        # descriptions (their offsets) are shared with it; it ends with _exit, as a forked
        # child of a real program does.
        nonlocal rng
        r, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            rng = random.Random(rng.random())
            out.clear()
            for k in range(rng.randrange(1, 8)):
                one(f"{w.strip()}.{k} ")
            os.write(wr, "\n".join(out).encode())
            os._exit(0)
        os.close(wr)
        text = b""
        while chunk := os.read(r, 65536):
            text += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        rng.random()
        out.extend(text.decode().split("\n") if text else [])
        out.append(f"{w}child exit {os.waitstatus_to_exitcode(status)}")

    def through_file(w: str) -> None:
        f, fn = held()
        what = rng.randrange(9)
        if what == 0:
            data = rng.randbytes(rng.randrange(1, 300))
            call(w + f"write {fn} {len(data)}", lambda: os.write(f, data))
        elif what == 1:
            data, at = rng.randbytes(rng.randrange(1, 300)), rng.randrange(0, 600)
            call(w + f"pwrite {fn} {len(data)} at {at}", lambda: os.pwrite(f, data, at))
        elif what == 2:
            n = rng.randrange(0, 600)
            call(w + f"ftruncate {fn} {n}", lambda: os.ftruncate(f, n))
        elif what == 3:
            mode = rng.choice([0o700, 0o644, 0o600])
            call(w + f"fchmod {fn} {mode:o}", lambda: os.fchmod(f, mode))
        elif what == 4:
            call(w + f"fstat {fn}", lambda: describe(os.fstat(f)))
        elif what == 5:
            call(w + f"read {fn}", lambda: digest(os.pread(f, 4096, 0)))
        elif what == 6:
            name, value = "user." + rng.choice("xyz"), rng.randbytes(rng.randrange(0, 40))
            call(w + f"fsetxattr {fn} {name} {digest(value)}", lambda: os.setxattr(f, name, value))
        elif what == 7:
            call(w + f"fxattrs {fn}", lambda: xattrs(f, True))
        else:
            call(w + f"fsync {fn}", lambda: os.fsync(f))

    def more(k: int, w: str, fd, fdn: str, p: str) -> None:
        follow = rng.random() < 0.5
        if k == 0:
            # No dir fd in Python's xattr calls: relative to the cwd.
            name, value = "user." + rng.choice("xyz"), rng.randbytes(rng.randrange(0, 40))
            flags = rng.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE])
            call(w + f"setxattr cwd {p} {name} {digest(value)} {flags} follow={follow}",
                 lambda: os.setxattr(p, name, value, flags, follow_symlinks=follow))
        elif k == 1:
            call(w + f"xattrs cwd {p} follow={follow}", lambda: xattrs(p, follow))
        elif k == 2:
            name = "user." + rng.choice("xyz")
            call(w + f"removexattr cwd {p} {name} follow={follow}",
                 lambda: os.removexattr(p, name, follow_symlinks=follow))
        elif k == 3:
            data = rng.randbytes(rng.randrange(0, 300))
            flags = os.O_TMPFILE | rng.choice([os.O_RDWR, os.O_WRONLY])

            def tmpfile():
                f = os.open(p, flags, 0o600, dir_fd=fd)
                os.write(f, data)
                return hold(f)
            call(w + f"tmpfile {fdn} {p} {flags:o} {len(data)}", tmpfile)
        elif k in (4, 5):
            flags = rng.choice([os.O_RDWR | os.O_CREAT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, os.O_RDONLY, os.O_RDWR])
            call(w + f"hold {fdn} {p} {flags:o}", lambda: hold(os.open(p, flags | os.O_NONBLOCK, 0o640, dir_fd=fd)))
        elif k in (6, 7, 8) and files:
            through_file(w)
        elif k == 9 and files:
            f, fn = held()
            d = -100 if fd is None else fd
            if follow:
                call(w + f"link /proc/self/fd/{fn} {fdn} {p}",
                     lambda: checked(libc.linkat(-100, f"/proc/self/fd/{f}".encode(), d, p.encode(), AT_SYMLINK_FOLLOW)))
            else:
                call(w + f"link {fn} empty {fdn} {p}", lambda: checked(libc.linkat(f, b"", d, p.encode(), AT_EMPTY_PATH)))
        elif k == 10:
            chosen = [n for n in RESOLVE if rng.random() < 0.4]
            resolve = sum(RESOLVE[n] for n in chosen)
            flags = rng.choice([os.O_RDONLY, os.O_WRONLY | os.O_CREAT, os.O_RDONLY | os.O_DIRECTORY, os.O_RDONLY | os.O_NOFOLLOW])
            call(w + f"openat2 {fdn} {p} {flags:o} {'+'.join(chosen) or '-'}", lambda: openat2(p, fd, flags | os.O_NONBLOCK, resolve))
        elif k == 11:
            uid, gid = rng.choice([0, 1000]), rng.choice([0, 1000])
            call(w + f"chown {fdn} {p} {uid}:{gid} follow={follow}",
                 lambda: os.chown(p, uid, gid, dir_fd=fd, follow_symlinks=follow))
        elif k == 12 and rng.random() < 0.5:
            child(w)
        elif k == 13 and files:
            f, fn = held()
            call(w + f"close {fn}", lambda: os.close(files.pop(files.index(f))))

    for step in range(steps):
        one(f"{step} ")

    if shared:
        return
    # The tree as it ends, from ROOT.
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(base, name)
            st = os.lstat(full)
            link = f" -> {os.readlink(full)}" if stat.S_ISLNK(st.st_mode) else ""
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    link = f" data={digest(f.read())}"
            attrs = xattrs(full, False)
            out.append(shown(f"tree {os.path.relpath(full, root)} {describe(st)}{link}{' ' + attrs if attrs else ''}"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
