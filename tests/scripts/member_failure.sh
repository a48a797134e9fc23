#!/bin/bash
# Run inside a private mount namespace (unshare -m) by tests/failure.rs. The secondary is a
# small tmpfs; it fills up (ENOSPC), then is remounted read-only (EROFS). Each time the
# writer under the shim must finish without an error, the primary must hold every byte, the
# history must show the member failure, and `shadowctl enable` must rebuild the member from
# the change list until verify reports no difference.
# Env: P S CFG LIB CTL T (scratch dir).
set -u
. "$(dirname "$0")/common.sh"

small_tmpfs "$S" "$P"

# Files that fit, written while both members are fine.
shim sh -c 'mkdir /shadow/d && echo small > /shadow/d/small' || fail "small write"
"$CTL" verify -c "$CFG" > /dev/null || fail "members differ before the failure"

# 1. ENOSPC on the secondary: a 1 MiB copy and an appending logger.
head -c 1048576 /dev/urandom > "$T/big"
shim sh -c "cp $T/big /shadow/d/big && i=0; while [ \$i -lt 200 ]; do echo \"log line \$i\" >> /shadow/log; i=\$((i+1)); done" \
    || fail "the writer saw an error when the secondary filled up"
cmp "$T/big" "$P/d/big" || fail "primary lost bytes of big"
[ "$(wc -l < "$P/log")" = 200 ] || fail "primary log incomplete"
grep -q '^00080 .*secondary failed' "$(dirname "$CFG")/state/history.log" || fail "no member-failed record in history"
"$CTL" status -c "$CFG" --json | grep -q '"member":"secondary","state":"failed"' || fail "status does not show the secondary failed"
# Still degraded: more writes go to the primary only, recorded for the rebuild.
shim sh -c 'echo after > /shadow/d/after; rm /shadow/d/small' || fail "writes while degraded"

# The member comes back (more space); rebuild from the change list (the default: dirty).
mount -o remount,size=8m "$S" || fail "remount bigger"
out=$("$CTL" enable -c "$CFG" secondary 2>&1) || fail "enable after ENOSPC: $out"
echo "$out" | grep -q "update dirty" || fail "enable did not use the change list: $out"
"$CTL" verify -c "$CFG" || fail "members differ after the rebuild from ENOSPC"

# 2. EROFS: the secondary is remounted read-only under a running writer.
# (A file held open for writing would keep the remount from happening: append line by line.)
shim sh -c 'i=0; while [ $i -lt 300 ]; do echo "ro line $i" >> /shadow/log2; if [ $i = 100 ]; then mount -o remount,ro '"$S"' || exit 9; fi; i=$((i+1)); done' \
    || fail "the writer saw an error when the secondary went read-only"
[ "$(wc -l < "$P/log2")" = 300 ] || fail "primary log2 incomplete"
"$CTL" status -c "$CFG" --json | grep -q '"member":"secondary","state":"failed"' || fail "secondary not failed after EROFS"
mount -o remount,rw "$S" || fail "remount rw"
"$CTL" enable -c "$CFG" secondary > /dev/null 2>&1 || fail "enable after EROFS"
"$CTL" verify -c "$CFG" || fail "members differ after the rebuild from EROFS"
# 3. A change of names is the first call to find the secondary read-only: the rename's
# source name, the removal, must reach the change list too (before, a rename recorded its
# new name alone, and the rebuilt secondary kept the old one).
shim sh -c 'echo x > /shadow/x && echo z > /shadow/z && ln /shadow/z /shadow/z2' || fail "files for the renames"
mount -o remount,ro "$S" || fail "remount ro for the renames"
shim sh -c 'mv /shadow/x /shadow/y' || fail "the rename saw an error when the secondary was read-only"
shim sh -c 'rm /shadow/z' || fail "the removal saw an error"
"$CTL" status -c "$CFG" --json | grep -q '"member":"secondary","state":"failed"' || fail "secondary not failed by the rename"
mount -o remount,rw "$S" || fail "remount rw after the renames"
"$CTL" enable -c "$CFG" secondary > /dev/null 2>&1 || fail "enable after the renames"
"$CTL" verify -c "$CFG" || fail "members differ after the rebuild from a failed rename"
echo "member failure scenarios passed"
