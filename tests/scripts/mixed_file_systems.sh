#!/bin/bash
# Run inside unshare -m by tests/failure.rs: members on different file systems (the primary
# on this disk, the secondary a tmpfs), which give a directory different sizes (4096 on
# ext4, 40 + its entries on tmpfs). A directory fsynced (SQLite, PostgreSQL and git do it
# after a create or rename) and closed is no difference: before, its close tried to copy
# the "missing bytes", failed EISDIR, and reported the directory insecure (00020) with
# recover due, on every such fsync.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

mount -t tmpfs -o size=16m tmpfs "$S" || fail "cannot mount a tmpfs on $S"
chmod --reference="$P" "$S" && chown --reference="$P" "$S"
shim python3 - <<'PY' || fail "the program"
import os
os.makedirs("/shadow/d/e")
for i in range(40):
    with open(f"/shadow/d/f{i}", "w") as f:
        f.write("x" * i)
for d in ("/shadow/d", "/shadow/d/e", "/shadow"):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
os.rename("/shadow/d/f1", "/shadow/d/e/f1")
fd = os.open("/shadow/d/e", os.O_RDONLY)
os.fsync(fd)
os.close(fd)
PY
# chattr reads the lead's whole flag word (ext4's `e`, extents, among it) and writes it
# back changed: the tmpfs follower refused that word (EOPNOTSUPP), and every chattr on a
# mixed set reported the file insecure, its flags left different.
shim sh -c 'chattr +a /shadow/d/f2 && chattr +d /shadow/d/f3' || fail "chattr under the shim"
[ "$(lsattr -d "$S/d/f2" | cut -c1-22 | tr -d -)" = a ] || fail "the secondary's flags: $(lsattr -d "$S/d/f2")"
[ "$(stat -c %s "$P/d")" != "$(stat -c %s "$S/d")" ] || fail "the members' directories have one size: the test shows nothing"
"$CTL" verify -c "$CFG" || fail "members differ"
hist="$(dirname "$CFG")/state/history.log"
[ ! -s "$hist" ] || fail "directory fsyncs were reported: $(cat "$hist")"
"$CTL" status -c "$CFG" | grep -qi 'recover needed' && fail "status says recover is due"
shim chattr -a /shadow/d/f2 || fail "chattr -a under the shim"
echo "mixed file systems scenario passed"
