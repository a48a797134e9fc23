#!/bin/bash
# Run inside unshare -m by tests/failure.rs: the PRIMARY is a small tmpfs that fills up under
# a running writer. The secondary must take over (every byte there, reads and stat from it),
# the writer must not notice, and `shadowctl enable primary` must bring the primary back.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

small_tmpfs "$P" "$S"
shim sh -c 'mkdir /shadow/d && echo small > /shadow/d/small' || fail "small write"

head -c 1048576 /dev/urandom > "$T/big"
shim sh -c "exec 3>>/shadow/log; echo before >&3; cp $T/big /shadow/d/big && echo after >&3 && cat /shadow/d/big > $T/readback && stat -c %s /shadow/d/big > $T/size" \
    || fail "the writer saw an error when the primary filled up"
cmp "$T/big" "$S/d/big" || fail "the secondary does not hold every byte"
cmp "$T/big" "$T/readback" || fail "reads after the takeover do not come from the survivor"
[ "$(cat "$T/size")" = 1048576 ] || fail "stat after the takeover: $(cat "$T/size")"
[ "$(cat "$S/log")" = "$(printf 'before\nafter')" ] || fail "log on the survivor: $(cat "$S/log")"
grep -q '^00080 .*primary failed, the other member takes over' "$(dirname "$CFG")/state/history.log" || fail "no takeover record"
"$CTL" status -c "$CFG" --json | grep -q '"member":"primary","state":"failed"' || fail "status does not show the primary failed"

mount -o remount,size=8m "$P" || fail "remount bigger"
out=$("$CTL" enable -c "$CFG" primary 2>&1) || fail "enable primary: $out"
"$CTL" verify -c "$CFG" || fail "members differ after the primary came back"
shim sh -c 'echo again >> /shadow/log' || fail "write after the primary came back"
[ "$(tail -n 1 "$P/log")" = again ] || fail "the primary is not written again"
"$CTL" verify -c "$CFG" || fail "members differ after writing again"

# The primary fills again, under a write through a directory link that is then pointed
# elsewhere: the change the survivor took over is recorded by the file's name (before, by
# the link's: the enable made e/new from nothing and left d/new empty on the primary,
# unreported).
shim sh -c 'mkdir /shadow/e && ln -s d /shadow/dl' || fail "mkdir e, ln -s d dl"
head -c 16777216 /dev/zero > "$P/filler" 2>/dev/null
shim sh -c 'echo data > /shadow/dl/new' || fail "the writer through dl saw an error when the primary filled up"
"$CTL" status -c "$CFG" --json | grep -q '"member":"primary","state":"failed"' || fail "the primary did not fail under the write through dl"
rm "$P/filler"
shim ln -sfn e /shadow/dl || fail "retarget dl"
out=$("$CTL" enable -c "$CFG" primary 2>&1) || fail "enable primary again: $out"
[ "$(cat "$P/d/new")" = data ] || fail "d/new on the primary: '$(cat "$P/d/new")'"
"$CTL" verify -c "$CFG" || fail "members differ after the primary came back again"
echo "primary failure scenario passed"
