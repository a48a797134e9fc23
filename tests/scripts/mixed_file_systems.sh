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
[ "$(stat -c %s "$P/d")" != "$(stat -c %s "$S/d")" ] || fail "the members' directories have one size: the test shows nothing"
"$CTL" verify -c "$CFG" || fail "members differ"
hist="$(dirname "$CFG")/state/history.log"
[ ! -s "$hist" ] || fail "directory fsyncs were reported: $(cat "$hist")"
"$CTL" status -c "$CFG" | grep -qi 'recover needed' && fail "status says recover is due"
echo "mixed file systems scenario passed"
