"""The member comparison every bench row makes after a mirrored run: the two member trees
must hold the same names, kinds, sizes and bytes. Standard library only."""

from __future__ import annotations

import os
from pathlib import Path


def manifest(root: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (kind, size) for everything under root."""
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            kind = "dir" if p.is_dir() and not p.is_symlink() else (
                "link" if p.is_symlink() else "file")
            out[str(p.relative_to(root))] = (kind, 0 if kind == "dir" else st.st_size)
    return out


def same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def member_differences(primary: Path, secondary: Path, limit: int = 8) -> list[str]:
    """What differs between the two member trees (names, kinds, sizes, bytes)."""
    mp, ms = manifest(primary), manifest(secondary)
    diffs = []
    for rel in sorted(set(mp) | set(ms)):
        if rel not in ms:
            diffs.append(f"{rel}: only in primary")
        elif rel not in mp:
            diffs.append(f"{rel}: only in secondary")
        elif mp[rel] != ms[rel]:
            diffs.append(f"{rel}: primary {mp[rel]}, secondary {ms[rel]}")
        elif mp[rel][0] == "file" and not same_bytes(primary / rel, secondary / rel):
            diffs.append(f"{rel}: contents differ")
        if len(diffs) >= limit:
            diffs.append("...")
            break
    return diffs
