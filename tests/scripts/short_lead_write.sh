#!/bin/bash
# Run inside unshare -m by tests/failure.rs: both members are small tmpfs, the primary the
# smaller, so a large write made on both members at once (shim/src/beside.rs) is taken
# short by the lead while the follower takes more of it, then fails for want of room too.
# The program must see the lead's count, the follower must be made to match the lead (the
# same size and bytes), and nothing is reported: the follower's failure past what the lead
# took is not a member failure. A write both refuse (offset -1) changes nothing.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

small_tmpfs "$P" "$S"
mount -t tmpfs -o size=512k tmpfs "$S" || fail "cannot mount a tmpfs on $S"
chmod --reference="$P" "$S" && chown --reference="$P" "$S"
BEHIND=$(grep -x 'write_behind = true' "$CFG") shim python3 - <<'EOF' || fail "the writer"
import os, threading, sys
# A program with threads: the shim's thread starts at its first large write.
t = threading.Thread(target=lambda: None); t.start(); t.join()
big = bytes(range(256)) * (4 << 12)  # 4 MiB, larger than the primary

def check(name, n, head=b""):
    """The file holds what the program was told it wrote, on each member (looked at
    directly: the file is removed next, to make room for the next one)."""
    if not 0 < n < len(big):
        sys.exit(f"{name}: the write took {n} bytes; want a short write")
    for member in ("/shadow", os.environ["P"], os.environ["S"]):
        with open(f"{member}/{name}", "rb") as f:
            got = f.read()
        if got != head + big[:n]:
            sys.exit(f"{member}/{name}: {len(got)} bytes, not the {len(head) + n} written")
    os.unlink(f"/shadow/{name}")

def beside():
    me = f"/proc/{os.getpid()}/task"
    return any(open(f"{me}/{t}/comm").read().strip() == "libshadow-sync" for t in os.listdir(me))

fd = os.open("/shadow/at_position", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
n = os.write(fd, big)
# Under write-behind (SHADOW_TEST_WRITE_BEHIND=1) the write is queued instead.
if beside() == os.environ["BEHIND"].startswith("write_behind"):
    sys.exit(f"the shim's thread running: {beside()}, under write-behind: {os.environ['BEHIND']!r}")
os.close(fd)
check("at_position", n)

fd = os.open("/shadow/at_offset", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"head")
n = os.pwrite(fd, big, 4)
os.close(fd)
check("at_offset", n, b"head")

fd = os.open("/shadow/vector", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
n = os.writev(fd, [big[:1000], big[1000:]])
os.close(fd)
check("vector", n)

fd = os.open("/shadow/refused", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    os.pwrite(fd, big, -1)
    sys.exit("pwrite at offset -1 succeeded")
except OSError as e:
    if e.errno != 22:
        sys.exit(f"pwrite at offset -1: {e}; want EINVAL")
os.close(fd)
sizes = [os.stat(f"{m}/refused").st_size for m in ("/shadow", os.environ["P"], os.environ["S"])]
if sizes != [0, 0, 0]:
    sys.exit(f"refused: sizes {sizes}")
EOF
"$CTL" verify -c "$CFG" || fail "members differ after short lead writes"
hist="$(dirname "$CFG")/state/history.log"
[ ! -s "$hist" ] || fail "short writes were reported: $(cat "$hist")"
echo "short lead write scenario passed"
