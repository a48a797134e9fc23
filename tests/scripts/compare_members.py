#!/usr/bin/env python3
"""compare_members.py PRIMARY SECONDARY: compare two member trees entry by entry.

What `shadowctl verify` checks, again, independently (a second implementation, so a bug in
the project's own comparison cannot hide a divergence): the same entries, and for each the
type, mode, owner, link count (not of directories), extended attributes (but each member's
own stamp), size, symlink target, device number, contents, and the modification
time of everything but directories, FIFOs and sockets, as `verify` does (README says why:
see "Times"; a write through a FIFO stamps the lead's FIFO alone, and a suite that writes
through one was reported different). Exit 0 when identical, 1 with one line per difference.
"""
import errno
import os
import stat
import sys


def entries(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = full
    return out


def same_contents(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 16), fb.read(1 << 16)
            if x != y:
                return False
            if not x:
                return True


STAMP = "user.libshadow.stamp"


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.ENOSYS):
            return {}
        raise
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names if n != STAMP}


def describe(st):
    return stat.filemode(st.st_mode)


def compare(p, s):
    problems = []
    ep, es = entries(p), entries(s)
    for rel in sorted(set(ep) ^ set(es)):
        where = "primary" if rel in ep else "secondary"
        problems.append(f"{rel}: only in the {where}")
    for rel in [""] + sorted(set(ep) & set(es)):
        a = ep.get(rel, p)
        b = es.get(rel, s)
        sa, sb = os.lstat(a), os.lstat(b)
        name = rel or "."
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            problems.append(f"{name}: type {describe(sa)} vs {describe(sb)}")
            continue
        if sa.st_mode != sb.st_mode:
            problems.append(f"{name}: mode {oct(sa.st_mode)} vs {oct(sb.st_mode)}")
        if (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            problems.append(f"{name}: owner {sa.st_uid}:{sa.st_gid} vs {sb.st_uid}:{sb.st_gid}")
        if not stat.S_ISDIR(sa.st_mode) and sa.st_nlink != sb.st_nlink:
            problems.append(f"{name}: link count {sa.st_nlink} vs {sb.st_nlink}")
        xa, xb = xattrs(a), xattrs(b)
        for key in sorted(set(xa) | set(xb)):
            if xa.get(key) != xb.get(key):
                problems.append(f"{name}: xattr {key} {xa.get(key)!r} vs {xb.get(key)!r}")
        if stat.S_ISLNK(sa.st_mode):
            if os.readlink(a) != os.readlink(b):
                problems.append(f"{name}: symlink {os.readlink(a)!r} vs {os.readlink(b)!r}")
        elif stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size:
                problems.append(f"{name}: size {sa.st_size} vs {sb.st_size}")
            elif not same_contents(a, b):
                problems.append(f"{name}: contents differ")
        elif stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev:
                problems.append(f"{name}: device {sa.st_rdev} vs {sb.st_rdev}")
        timed = not (stat.S_ISDIR(sa.st_mode) or stat.S_ISFIFO(sa.st_mode) or stat.S_ISSOCK(sa.st_mode))
        if rel and timed and sa.st_mtime_ns != sb.st_mtime_ns:
            problems.append(f"{name}: mtime {sa.st_mtime_ns} vs {sb.st_mtime_ns}")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    problems = compare(sys.argv[1], sys.argv[2])
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
