#!/bin/bash
# Run inside unshare -m by tests/failure.rs: the secondary is a tmpfs, which refuses
# fallocate's collapse-range (EOPNOTSUPP) that the primary's ext4 takes, so the file is
# reported insecure and its intent kept for `recover`. The file is then moved to another
# directory once closed. `recover` must find it there (by its inode) and repair it: before,
# it compared the old directory only, repaired nothing and exited 0, the members left
# different. Twice: the same program, and another process moving it after the first died.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

mount -t tmpfs -o size=64m tmpfs "$S" || fail "cannot mount a tmpfs on $S"
chmod --reference="$P" "$S" && chown --reference="$P" "$S"
shim sh -c 'mkdir /shadow/d1 /shadow/d2 /shadow/d3 && head -c 16384 /dev/urandom > /shadow/d1/f &&
    head -c 16384 /dev/urandom > /shadow/d1/g &&
    fallocate -c -o 0 -l 4096 /shadow/d1/f && fallocate -c -o 0 -l 4096 /shadow/d1/g &&
    mv /shadow/d1/f /shadow/d2/f' 2>"$T/program.log" || fail "the program"
grep -q '^libshadow: 00020 .*d1/f\].*fallocate' "$T/program.log" || fail "the refused collapse was not reported"
shim mv /shadow/d1/g /shadow/d3/g || fail "moving g"
"$CTL" verify -c "$CFG" >/dev/null 2>&1 && fail "the members were expected to differ before recover"
"$CTL" recover -c "$CFG" >"$T/recover.log" 2>&1 || fail "shadowctl recover"
grep -q '^repaired /shadow/d2/f$' "$T/recover.log" || fail "recover did not repair d2/f: $(cat "$T/recover.log")"
"$CTL" verify -c "$CFG" >"$T/verify.log" 2>&1 || fail "members differ after recover: $(cat "$T/verify.log")"
