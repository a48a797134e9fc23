#!/bin/bash
# Run inside unshare -m by tests/failure.rs: the primary is a small ext4 (a loop image), where
# an fallocate that runs out of room fails ENOSPC but keeps the blocks it allocated and the
# size they reach (tmpfs gives them back; ext4 does not). The program must see ENOSPC, as
# natively, and the follower must be made to match the lead (size and bytes) at once, not
# only at the last close: a member change while the file is open must not change its size
# under the program. Nothing is reported. ENOSPC is taken off `failure_errors`, so that the lead's refusal is the
# program's answer (by default a full lead is a failed member, and the secondary takes over).
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

truncate -s 16M "$T/primary.img" && mkfs.ext4 -q "$T/primary.img" || fail "cannot make an ext4 image"
mount -o loop "$T/primary.img" "$P" || fail "cannot mount an ext4 loop image on $P (loop devices needed)"
rmdir "$P/lost+found"
chmod --reference="$S" "$P" && chown --reference="$S" "$P"
echo 'failure_errors = ["EIO"]' >> "$CFG"
shim python3 - <<'PY' || fail "the program"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
FALLOC_FL_ZERO_RANGE = 0x10
big = 64 << 20

def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) == 0:
        sys.exit(f"fallocate({mode:#x}, {off}, {length}) on a 16 MiB ext4 succeeded")
    if ctypes.get_errno() != errno.ENOSPC:
        sys.exit(f"fallocate({mode:#x}): {os.strerror(ctypes.get_errno())}; want ENOSPC")

def check(fd, name, head=b""):
    """Each member holds the lead's size, `head` and zeros, checked directly while `fd` is
    open; then the file is closed and removed, to give the room back."""
    sizes = {m: os.stat(f"{m}/{name}").st_size for m in (os.environ["P"], os.environ["S"])}
    if len(set(sizes.values())) != 1 or sizes[os.environ["P"]] <= len(head):
        sys.exit(f"{name}: sizes {sizes}; want the lead's partial size on both")
    for m in sizes:
        with open(f"{m}/{name}", "rb") as f:
            got = f.read()
        if got[:len(head)] != head or got[len(head):].count(0) != len(got) - len(head):
            sys.exit(f"{m}/{name}: not the head and zeros")
    os.close(fd)
    os.unlink(f"/shadow/{name}")

fd = os.open("/shadow/allocated", os.O_RDWR | os.O_CREAT, 0o644)
fallocate(fd, 0, 0, big)
check(fd, "allocated")

fd = os.open("/shadow/posix", os.O_RDWR | os.O_CREAT, 0o644)
try:
    os.posix_fallocate(fd, 0, big)
    sys.exit("posix_fallocate on a 16 MiB ext4 succeeded")
except OSError as e:
    if e.errno != errno.ENOSPC:
        sys.exit(f"posix_fallocate: {e}; want ENOSPC")
check(fd, "posix")

fd = os.open("/shadow/zeroed", os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"head" * 1024)
fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, big)
check(fd, "zeroed", b"head" * 1024)
PY
"$CTL" verify -c "$CFG" || fail "members differ after fallocate ran out of room on the lead"
hist="$(dirname "$CFG")/state/history.log"
[ ! -s "$hist" ] || fail "the lead's ENOSPC was reported: $(cat "$hist")"
echo "failed lead fallocate scenario passed"
