#!/bin/bash
# Run inside unshare -m by tests/failure.rs: the PRIMARY is a small tmpfs, so a large write,
# made on both members at once (shim/src/beside.rs), is taken short by the lead while the
# follower, on the disk, takes it whole. The program must see the lead's count and the
# follower must be made to match the lead: the same size and bytes, nothing reported.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

small_tmpfs "$P" "$S"
shim python3 - <<'EOF' || fail "the writer"
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
if not beside():
    sys.exit("the shim's thread is not running: the write was not made beside the lead's")
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
EOF
"$CTL" verify -c "$CFG" || fail "members differ after short lead writes"
hist="$(dirname "$CFG")/state/history.log"
[ ! -s "$hist" ] || fail "short writes were reported: $(cat "$hist")"
echo "short lead write scenario passed"
