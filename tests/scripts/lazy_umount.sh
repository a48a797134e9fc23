#!/bin/bash
# Run inside unshare -m by tests/failure.rs: the secondary's file system is lazily unmounted
# (`umount -l`) under a running writer, as an operator or an automounter might do to a hung
# NFS mount. Afterwards fds the shim already holds keep writing into the detached file
# system, while every new open under $S lands in the directory underneath the mount point:
# ENOENT for anything in a subdirectory, and a silent create for a name at the member root.
# Required, as for a member that fills up: the writer finishes without an error, the primary
# holds every byte, the secondary is marked failed (00080) before anything is written into
# the directory under the mount point, and once a file system is mounted there again the
# member is rebuilt until verify reports no difference.
#   1. A small tmpfs on $S is lazily unmounted; a new, empty tmpfs is mounted; `enable
#      --update all` fills it (its old content is gone, a change-list rebuild cannot do).
#   2. $S is a bind mount of a tmpfs that stays mounted elsewhere; the bind is lazily
#      unmounted and later bound again (the same content comes back); `shadowctl watch`
#      rebuilds it from the change list.
# In each case the writer's first operation after the unmount is an append to a file in a
# subdirectory (its secondary open fails with ENOENT), then one at the member root.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"
H=$(dirname "$CFG")/state/history.log
printf 'retry = 1\nstatus_interval = 1\n' >> "$CFG"

# The writer: an appending logger (one open per line, in d/ and at the root), a file held
# open across the unmount, and a 1 MiB copy after it. $1 is the line after which the member
# is unmounted, $2 the tag of the file names.
writer() {
    shim sh -c "exec 3>>/shadow/d/held-$2; echo held-before >&3
        i=0; while [ \$i -lt 200 ]; do
            echo \"d line \$i\" >> /shadow/d/dlog-$2; echo \"log line \$i\" >> /shadow/log-$2
            if [ \$i = $1 ]; then umount -l '$S' || exit 9; fi
            i=\$((i+1))
        done
        echo held-after >&3; exec 3>&-
        cp '$T/big' /shadow/d/big-$2"
}
check_primary() {
    cmp "$T/big" "$P/d/big-$1" || fail "case $1: primary lost bytes of big"
    [ "$(wc -l < "$P/d/dlog-$1")" = 200 ] || fail "case $1: primary d/dlog incomplete"
    [ "$(wc -l < "$P/log-$1")" = 200 ] || fail "case $1: primary log incomplete"
    [ "$(cat "$P/d/held-$1")" = "$(printf 'held-before\nheld-after')" ] || fail "case $1: primary held file: $(cat "$P/d/held-$1")"
}
check_failed() {
    [ "$(grep -c '^00080 .*secondary failed' "$H")" = "$2" ] || fail "case $1: the secondary was not marked failed (no new 00080 ... secondary failed record)"
    "$CTL" status -c "$CFG" --json | grep -q '"member":"secondary","state":"failed"' || fail "case $1: status does not show the secondary failed"
    # Nothing may have been written into the directory under the mount point.
    [ -z "$(ls -A "$S")" ] || fail "case $1: written into the directory under the unmounted member: $(ls -lA "$S")"
}

head -c 1048576 /dev/urandom > "$T/big"

# 1. A tmpfs directly on $S, lazily unmounted; a new empty tmpfs takes its place.
small_tmpfs "$S" "$P"
mount -o remount,size=8m "$S" || fail "remount bigger"
shim sh -c 'mkdir /shadow/d && echo small > /shadow/d/small' || fail "small write"
"$CTL" verify -c "$CFG" > /dev/null || fail "members differ before the unmount"
writer 50 1 || fail "case 1: the writer saw an error when the secondary was lazily unmounted"
check_primary 1
check_failed 1 1
shim sh -c 'echo degraded > /shadow/d/after-1' || fail "case 1: write while degraded"
small_tmpfs "$S" "$P"
mount -o remount,size=8m "$S" || fail "remount bigger"
out=$("$CTL" enable -c "$CFG" --update all secondary 2>&1) || fail "case 1: enable --update all: $out"
"$CTL" verify -c "$CFG" || fail "case 1: members differ after the rebuild onto a new tmpfs"
umount "$S" || fail "case 1: umount the new tmpfs"

# 2. $S is a bind mount of a tmpfs mounted at $T/fs; the bind is lazily unmounted and bound
#    again later: the member comes back with its content, and watch rebuilds it.
mkdir "$T/fs" && mount -t tmpfs -o size=8m tmpfs "$T/fs" || fail "cannot mount a tmpfs on $T/fs"
chmod --reference="$P" "$T/fs" && chown --reference="$P" "$T/fs"
cp -a "$P/." "$T/fs/" || fail "copy the primary to the new member"
mount --bind "$T/fs" "$S" || fail "bind $T/fs on $S"
"$CTL" verify -c "$CFG" > /dev/null || fail "members differ before the second unmount"
"$CTL" watch -c "$CFG" 2> "$T/watch.err" &
watch=$!
trap 'kill "$watch" 2>/dev/null' EXIT
sleep 0.5
writer 120 2 || fail "case 2: the writer saw an error when the secondary was lazily unmounted"
check_primary 2
check_failed 2 2
shim sh -c 'echo degraded > /shadow/d/after-2; rm /shadow/d/small' || fail "case 2: writes while degraded"
# The member stays away for a few of watch's probes: they must not find the bare mount
# point usable and "rebuild" into it.
sleep 3
[ -z "$(ls -A "$S")" ] || fail "case 2: written into the directory under the unmounted member while it was away: $(ls -lA "$S")"
"$CTL" status -c "$CFG" --json | grep -q '"member":"secondary","state":"failed"' || fail "case 2: the secondary is no longer failed while its file system is away"
"$CTL" wait -c "$CFG" --event MemberRecovered --timeout 20 > "$T/wait.out" &
waiter=$!
trap 'kill "$watch" "$waiter" 2>/dev/null' EXIT
sleep 0.2
mount --bind "$T/fs" "$S" || fail "bind $T/fs on $S again"
wait "$waiter" || fail "case 2: shadowctl wait did not see MemberRecovered within 20 s"
grep -q '^MemberRecovered secondary ' "$T/wait.out" || fail "case 2: wait printed: $(cat "$T/wait.out")"
"$CTL" verify -c "$CFG" || fail "case 2: members differ after watch rebuilt the secondary"
kill -TERM "$watch"
wait "$watch" || fail "watch did not exit cleanly on SIGTERM"
echo "lazy umount scenarios passed"
