#!/bin/bash
# Run inside unshare -m by tests/failure.rs: a real network member. A private sshd
# (Debian's openssh-server) serves directories of the scratch dir over loopback; sshfs (FUSE)
# mounts them on the members. Mid-write the network member goes away:
#   1. the sshfs process on the secondary is killed (SIGKILL): every operation on the mount
#      fails with ENOTCONN; the mount is lazily unmounted and sshfs mounted again, `shadowctl
#      enable` rebuilds the secondary from the change list;
#   2. the sshd is killed (SIGKILL, the listener and every session with its sftp-server): the
#      mount stays but every operation fails with EIO until sshd runs again; sshd is
#      restarted, sshfs remounted, `shadowctl watch` rebuilds the secondary;
#   3. (GAP=primary, not among the default cases: it fails at random, see failure.rs) the
#      same as 1 for the PRIMARY (on sshfs, the secondary on sshfs too): the secondary takes
#      over, every byte is there, `shadowctl enable primary` brings the primary back.
# Each time the programs running under the shim (an appending logger, dd and cp writing
# files they opened before the failure and finish after it) must end without an error, the
# surviving member must hold every byte, the history must show the member failure (00080),
# and after the rebuild `shadowctl verify` must report no difference. Programs started
# while the member is failed (degraded writes, `shadowctl status`) run once its file system
# answers again, before the rebuild.
# NEW_PROGRAMS_WHILE_DOWN=1: those programs, and a cp started by the writer, run while the
#   member is still down (its root no longer answers stat), as they would in real life.
# GAP=primary: case 3 instead of cases 1 and 2.
# GAP=mv: instead of the cases, a coreutils mv onto the sshfs secondary (test
#   mv_onto_an_sshfs_member).
# GAP=inflight_abort: instead of the cases, the primary's sshfs dies under a write in
#   flight, with the default failure_errors.
# GAP=primary_dies_before_close: instead of the cases, the primary dies while a program
#   holds a file it wrote, and the program's next operation is the close.
# GAP=stall: instead of the cases, write-behind while the secondary's sshfs is stopped.
# GAP=hang: instead of the cases, the secondary's sshfs stopped under a synchronous writer
#   while watch runs with member_timeout = 2. GAP=hang_primary: the same for the primary.
#   GAP=hang_late: as hang, with watch started once the secondary hangs.
#   GAP=hang_disabled: the secondary disabled, then its sshfs stopped: programs and status.
#
# The sshfs setup, and why:
# - Everything runs as root: sshd allows root login by key only (a key generated in $T,
#   StrictModes off because $T lies under the world-writable /tmp), and sftp-server runs as
#   root, so chown/chmod on the mount act on the real files and the uid/gid sshfs reports
#   are the real ones (same host: no idmap needed; `verify` compares owner and mode). The
#   mounts are root's own, so no allow_other is needed either. The exported directories get
#   the other member's root mode and owner (verify compares the roots too).
# - `-o reconnect`: without it sshfs, on losing its connection (case 2), unmounts itself and
#   exits, so the member's path silently becomes the empty directory under the mount point;
#   that is the lazy-unmount case, tests/scripts/lazy_umount.sh. With it the mount stays and
#   answers EIO while sshd is down (the reconnect attempt is refused at once).
# - FUSE answers ECONNABORTED to requests in flight when the daemon dies (the operations
#   after that get ENOTCONN): it is among the default failure_errors for that reason.
# - ServerAliveInterval=1, ServerAliveCountMax=2: a server that stops answering is given up
#   within about 3 s instead of hanging the mount. Every command that touches a mount that
#   may be dead runs under `timeout`.
# - sshd needs its privilege-separation directory /run/sshd; where it is missing (no ssh
#   service ever ran), this mount namespace gets a private /run with one.
# - The port is picked at random (20000-59999) on 127.0.0.1 and retried if it is taken.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"
H=$(dirname "$CFG")/state/history.log
printf 'retry = 1\nstatus_interval = 1\n' >> "$CFG"
command -v sshfs > /dev/null && [ -x /usr/sbin/sshd ] || fail "sshfs or /usr/sbin/sshd missing (make test-deps installs openssh-server sshfs)"
[ -c /dev/fuse ] || fail "/dev/fuse missing"
FUSERMOUNT=$(command -v fusermount3 || command -v fusermount) || fail "fusermount missing"
# Anything that may touch a dead or hung mount gets a bounded time.
# (Background jobs call timeout directly, not through these functions, so that $! is the
# timeout process: killing it stops the command too.)
t() { timeout -k 5 60 "$@"; }
tshim() { t env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" "$@"; }

# Pids of the processes started here, for the cleanup (never by name).
SSHD=""
declare -A SSHFS=()
WATCH=""
WAITER=""
WRITER=""
# Pids of a process's descendants, deepest first.
descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1"); do descendants "$c"; echo "$c"; done
}
cleanup() {
    local p
    [ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null
    [ -n "$WAITER" ] && kill "$WAITER" 2>/dev/null
    [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
    [ -n "${FEEDERS:-}" ] && kill $FEEDERS 2>/dev/null
    for p in "${!SSHFS[@]}"; do
        timeout 10 "$FUSERMOUNT" -u -z "$p" 2>/dev/null
        kill -9 "${SSHFS[$p]}" 2>/dev/null
    done
    [ -n "$SSHD" ] && kill -9 $(descendants "$SSHD") "$SSHD" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' TERM INT

if [ ! -d /run/sshd ]; then
    mount -t tmpfs -o size=1m,mode=755 tmpfs /run && mkdir -m 755 /run/sshd || fail "cannot make /run/sshd"
fi
mkdir -m 700 "$T/ssh" || fail "mkdir $T/ssh"
ssh-keygen -q -t ed25519 -N '' -C shadow-test-host -f "$T/ssh/host_key" || fail "ssh-keygen host key"
ssh-keygen -q -t ed25519 -N '' -C shadow-test-client -f "$T/ssh/id" || fail "ssh-keygen client key"
cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"

# Starts sshd on $PORT (picks one the first time). Output goes to $T/sshd.log, never to
# the test's pipes (a leftover process would keep them open).
start_sshd() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        # A restart keeps the port the mounts know.
        if [ -z "${PORT_FIXED:-}" ]; then PORT=$((20000 + RANDOM % 40000)); elif [ "$try" -gt 1 ]; then break; fi
        cat > "$T/ssh/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host_key
PidFile none
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
        : > "$T/sshd.log"
        /usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" < /dev/null >> "$T/sshd.log" 2>&1 &
        SSHD=$!
        for _ in $(seq 1 50); do
            grep -q "Server listening" "$T/sshd.log" && break
            kill -0 "$SSHD" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SSHD" 2>/dev/null && grep -q "Server listening" "$T/sshd.log"; then
            PORT_FIXED=1
            disown "$SSHD" # no job notice on stderr when a case kills it
            echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/ssh/host_key.pub")" > "$T/ssh/known_hosts"
            return 0
        fi
        wait "$SSHD" 2>/dev/null
        SSHD=""
    done
    fail "sshd did not start: $(cat "$T/sshd.log")"
}

# mount_sshfs EXPORT MOUNTPOINT: mounts root@127.0.0.1:EXPORT, waits until it answers.
mount_sshfs() {
    sshfs -f -F /dev/null -p "$PORT" \
        -o IdentityFile="$T/ssh/id",IdentitiesOnly=yes,BatchMode=yes \
        -o UserKnownHostsFile="$T/ssh/known_hosts",StrictHostKeyChecking=yes \
        -o ServerAliveInterval=1,ServerAliveCountMax=2,ConnectTimeout=5,reconnect \
        "root@127.0.0.1:$1" "$2" < /dev/null >> "$T/sshfs.log" 2>&1 &
    SSHFS[$2]=$!
    disown "${SSHFS[$2]}"
    for _ in $(seq 1 100); do
        grep -q " $2 fuse.sshfs " /proc/self/mounts && t stat "$2/." > /dev/null 2>&1 && return 0
        kill -0 "${SSHFS[$2]}" 2>/dev/null || break
        sleep 0.1
    done
    fail "sshfs did not mount $1 on $2: $(cat "$T/sshfs.log")"
}
# remount_sshfs EXPORT MOUNTPOINT: drops the dead mount (lazily, it may still be busy) and
# mounts again. A down-probe the dying member created but could not remove goes too.
remount_sshfs() {
    t "$FUSERMOUNT" -u -z "$2" || fail "fusermount -u -z $2"
    kill -9 "${SSHFS[$2]}" 2>/dev/null
    rm -f "$1/.down-probe"
    mount_sshfs "$1" "$2"
}

# One failure under running writers. $1: case number (tag of the file names); $2: the
# member that fails (primary or secondary); $3: its directory; $4: the survivor's
# directory; $5: the command that makes the member fail.
# Under the shim, started before the failure and finishing after it: dd writing d/held-N
# and cp writing d/big-N (each fed through a FIFO by a feeder outside the shim: the first
# 4 MiB before the failure, the rest after it), and an appending logger (one open per
# line, builtins only) that goes on for 50 lines after the failure. The member is made to
# fail once the survivor holds 4 MiB of both files and 50 log lines, and the feeders go on
# only once the member's root no longer answers (the kernel's cached attributes are gone).
# With NEW_PROGRAMS_WHILE_DOWN=1 the writer then starts a new program (cp) while the member
# is still down.
fail_under_writer() {
    local n=$1 dir=$3 survivor=$4 f w feeders=""
    local extra=""
    [ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] && extra="cp '$T/big' /shadow/d/copy-$n || exit 5"
    for f in held big; do
        mkfifo "$T/$f-in-$n" || fail "mkfifo"
        timeout -k 5 60 bash -c 'exec > "$1"; head -c 4194304 "$2"
            for _ in $(seq 1 600); do [ -e "$3" ] && break; sleep 0.05; done
            [ -e "$3" ] && tail -c +4194305 "$2"' feeder "$T/$f-in-$n" "$T/big" "$T/down-$n" &
        feeders="$feeders $!"
    done
    FEEDERS=$feeders
    timeout -k 5 60 env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" sh -c "
        dd if='$T/held-in-$n' of=/shadow/d/held-$n bs=64k iflag=fullblock status=none & a=\$!
        cp '$T/big-in-$n' /shadow/d/big-$n & b=\$!
        i=0; end=-1
        while [ \$i != \$end ]; do
            echo \"log line \$i\" >> /shadow/d/log-$n
            i=\$((i+1))
            [ \$end = -1 ] && [ -e '$T/down-$n' ] && end=\$((i+50))
        done
        wait \$a || exit 8
        wait \$b || exit 6
        $extra" &
    w=$!
    WRITER=$w
    for _ in $(seq 1 600); do
        [ "$(stat -c %s "$survivor/d/held-$n" 2>/dev/null || echo 0)" -ge 4194304 ] &&
            [ "$(stat -c %s "$survivor/d/big-$n" 2>/dev/null || echo 0)" -ge 4194304 ] &&
            [ "$(wc -l < "$survivor/d/log-$n" 2>/dev/null || echo 0)" -ge 50 ] && break
        kill -0 "$w" 2>/dev/null || break
        sleep 0.05
    done
    [ "$(stat -c %s "$survivor/d/big-$n" 2>/dev/null || echo 0)" -ge 4194304 ] || fail "case $n: the writer did not get going"
    $5 || fail "case $n: could not make the $2 fail"
    # Down: creating a file there fails (sshfs may answer stat from its cache for a while).
    for _ in $(seq 1 100); do
        timeout 5 sh -c ': > "$1/.down-probe"' probe "$dir" 2> /dev/null || break
        rm -f "$dir/.down-probe"; sleep 0.1
    done
    timeout 5 sh -c ': > "$1/.down-probe"' probe "$dir" 2> /dev/null && fail "case $n: the $2 still takes writes 10 s after it was made to fail"
    if [ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ]; then
        # Until even the member's root no longer answers stat (sshfs caches it up to 20 s).
        for _ in $(seq 1 300); do timeout 5 stat "$dir/." > /dev/null 2>&1 || break; sleep 0.1; done
        timeout 5 stat "$dir/." > /dev/null 2>&1 && fail "case $n: the $2's root still answers stat 30 s after it was made to fail"
    fi
    : > "$T/down-$n"
    wait "$w" || fail "case $n: the writer saw an error (exit $?) when the $2 failed"
    WRITER=""
    wait $feeders
    FEEDERS=""
    cmp "$T/big" "$survivor/d/held-$n" || fail "case $n: $survivor lost bytes of held"
    cmp "$T/big" "$survivor/d/big-$n" || fail "case $n: $survivor lost bytes of big"
    [ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] && { cmp "$T/big" "$survivor/d/copy-$n" || fail "case $n: $survivor lost bytes of copy"; }
    local lines
    lines=$(wc -l < "$survivor/d/log-$n")
    [ "$lines" -ge 100 ] || fail "case $n: only $lines log lines"
    seq 0 $((lines - 1)) | sed 's/^/log line /' | cmp - "$survivor/d/log-$n" || fail "case $n: $survivor log incomplete"
    [ "$(grep -c "^00080 .*$2 failed" "$H")" = "$((${FAILED[$2]:-0} + 1))" ] || fail "case $n: no new 00080 ... $2 failed record in the history"
    FAILED[$2]=$((${FAILED[$2]:-0} + 1))
}
# The member is failed in the status, and a new program writes while it is: $1 case, $2
# member, $3 shell commands. Run while the member is still down with
# NEW_PROGRAMS_WHILE_DOWN=1, else once it answers again (before the rebuild).
degraded_writes() {
    t "$CTL" status -c "$CFG" --json | grep -q "\"member\":\"$2\",\"state\":\"failed\"" || fail "case $1: status does not show the $2 failed"
    tshim sh -c "$3" || fail "case $1: writes while the $2 is failed"
}

NEW_PROGRAMS_WHILE_DOWN=${NEW_PROGRAMS_WHILE_DOWN:-0}
declare -A FAILED=()
FEEDERS=""
head -c 8388608 /dev/urandom > "$T/big"
start_sshd
mkdir "$T/export-s" && chmod --reference="$P" "$T/export-s" && chown --reference="$P" "$T/export-s" || fail "export-s"
mount_sshfs "$T/export-s" "$S"

# sshfs is a faithful member: files, modes, owners, a symlink, a rename, a copy (cp uses
# copy_file_range); nothing reported. The rename is a plain rename(2), so the cases do not
# depend on this: coreutils mv uses renameat2(RENAME_NOREPLACE), which sshfs (like FUSE file
# systems without rename flags) refuses with EINVAL; GAP=mv checks that the shim copes.
tshim sh -c "mkdir /shadow/d && echo small > /shadow/d/small && chmod 640 /shadow/d/small && chown 1:2 /shadow/d/small &&
    ln -s small /shadow/d/link && echo x > /shadow/d/tmp && perl -e 'rename q(/shadow/d/tmp), q(/shadow/d/renamed) or die' &&
    cp '$T/big' /shadow/d/first" || fail "small writes"
t "$CTL" verify -c "$CFG" || fail "members differ before the failure"
grep -E '^000(20|30|60|80) ' "$H" && fail "sshfs is not a faithful member: records above in the history"

# The primary on sshfs, and a writer under the shim that holds /shadow/d/f open, gets going,
# then waits for $T/go before running the rest of its script ($1).
primary_on_sshfs_with_gated_writer() {
    mkdir "$T/export-p" && cp -a "$P/." "$T/export-p/" || fail "copy the primary to its export"
    mount_sshfs "$T/export-p" "$P"
    timeout -k 5 60 env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" sh -c "exec 3>>/shadow/d/f; echo one >&3; : > '$T/ready'
        n=0; while [ ! -e '$T/go' ]; do n=\$((n+1)); [ \$n -lt 10000000 ] || exit 7; done
        $1" &
    WRITER=$!
    for _ in $(seq 1 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
    [ -e "$T/ready" ] || fail "the writer did not get going"
}

# After the takeover: the record is there, the primary comes back, is rebuilt, and the members
# are identical. $1 names the case.
primary_comes_back() {
    grep -q '^00080 .*primary failed, the other member takes over' "$H" || fail "$1: no takeover record"
    remount_sshfs "$T/export-p" "$P"
    out=$(t "$CTL" enable -c "$CFG" primary 2>&1) || fail "$1: enable primary: $out"
    t "$CTL" verify -c "$CFG" || fail "$1: members differ after the primary came back"
    echo "$1 passed"
}

case "${GAP:-}" in
"" | primary) ;;
mv)
    # coreutils mv onto an sshfs secondary: both members must end up with the new name.
    tshim sh -c 'echo y > /shadow/d/mv-src && mv /shadow/d/mv-src /shadow/d/mv-dst' || fail "mv"
    t "$CTL" verify -c "$CFG" || fail "members differ after mv"
    grep -E '^000(20|30|60|80) ' "$H" && fail "mv: records above in the history"
    echo "mv onto sshfs passed"
    exit 0 ;;
primary_dies_before_close)
    # The primary (on sshfs) dies while a program holds a file it wrote; the program's next
    # operation is closing it, then it appends again. The primary must be the member marked
    # failed, the secondary must take over and get every byte, the program see no error.
    primary_on_sshfs_with_gated_writer "exec 3>&- || exit 2
        echo two >> /shadow/d/f || exit 3"
    kill -9 "${SSHFS[$P]}"
    # Until the kernel's cached attributes of the dead primary are gone.
    for _ in $(seq 1 100); do timeout 5 stat "$P/d/f" > /dev/null 2>&1 || break; sleep 0.1; done
    : > "$T/go"
    wait "$WRITER" || fail "the writer saw an error (exit $?) after the primary died"
    [ "$(cat "$S/d/f")" = "$(printf 'one\ntwo')" ] || fail "the secondary does not hold every line: $(cat "$S/d/f")"
    grep -q '^00080 .*secondary failed' "$H" && fail "the secondary (the survivor) was marked failed"
    t "$CTL" status -c "$CFG" --json | grep -q '"member":"primary","state":"failed"' || fail "status does not show the primary failed"
    primary_comes_back "primary dies before close"
    exit 0 ;;
inflight_abort)
    # A write is in flight on the primary (its sshfs stopped) when sshfs dies: the kernel
    # aborts the request with ECONNABORTED. With the default failure_errors the secondary
    # must still take over and the program see no error.
    primary_on_sshfs_with_gated_writer "echo two >&3 || exit 2
        exec 3>&- || exit 3
        echo three >> /shadow/d/f || exit 4"
    kill -STOP "${SSHFS[$P]}"
    : > "$T/go"
    sleep 1 # the write is now waiting for the stopped sshfs
    kill -9 "${SSHFS[$P]}"
    wait "$WRITER" || fail "the writer saw an error (exit $?) when the primary's sshfs died under its write"
    [ "$(cat "$S/d/f")" = "$(printf 'one\ntwo\nthree')" ] || fail "the secondary does not hold every line: $(cat "$S/d/f")"
    primary_comes_back "in-flight abort"
    exit 0 ;;
stall)
    # Write-behind (a 1 MiB queue): the secondary's sshfs stops answering (SIGSTOP) under a
    # writer that holds its file open. Its writes must still return (the queue has room),
    # the primary hold them, `status` show the queued bytes; once sshfs answers again the
    # close empties the queue and the members are identical, with nothing reported.
    sed -i '/^write_behind/d' "$CFG" && echo 'write_behind = 1048576' >> "$CFG" || fail "config"
    tshim perl -e 'open(my $f, ">", "/shadow/d/stall") or die "open: $!"; open(my $m, ">", "$ARGV[0]/opened") and close $m;
        for (1..600) { last if -e "$ARGV[0]/stopped"; select(undef, undef, undef, 0.05) }
        -e "$ARGV[0]/stopped" or exit 3;
        my $block = "b" x 65536; for (1..8) { syswrite($f, $block) == 65536 or exit 4 }
        open($m, ">", "$ARGV[0]/written") and close $m;
        for (1..1200) { last if -e "$ARGV[0]/go"; select(undef, undef, undef, 0.05) }
        close $f or exit 5' "$T" &
    WRITER=$!
    for _ in $(seq 1 100); do [ -e "$T/opened" ] && break; sleep 0.1; done
    [ -e "$T/opened" ] || fail "the writer did not open its file"
    kill -STOP "${SSHFS[$S]}"
    : > "$T/stopped"
    for _ in $(seq 1 100); do [ -e "$T/written" ] && break; sleep 0.1; done
    [ -e "$T/written" ] || { kill -CONT "${SSHFS[$S]}"; fail "the writes did not return while the secondary was stopped"; }
    [ "$(stat -c %s "$P/d/stall")" = 524288 ] || { kill -CONT "${SSHFS[$S]}"; fail "the primary does not hold the writes"; }
    # status reads the registry first, then the members' stamps (which wait for sshfs).
    timeout -k 5 60 "$CTL" status -c "$CFG" --json > "$T/status.json" 2>&1 &
    st=$!
    sleep 1
    kill -CONT "${SSHFS[$S]}"
    wait "$st" || fail "status failed: $(cat "$T/status.json")"
    grep -q '"queued_bytes":[1-9]' "$T/status.json" || fail "status does not show the queued bytes: $(cat "$T/status.json")"
    : > "$T/go"
    wait "$WRITER" || fail "the writer saw an error (exit $?)"
    WRITER=""
    t "$CTL" verify -c "$CFG" || fail "members differ after the queue emptied"
    grep -E '^000(20|30|60|80) ' "$H" && fail "stall: records above in the history"
    echo "secondary stalled under write-behind passed"
    exit 0 ;;
hang | hang_primary | hang_late)
    # A member's sshfs stops answering (SIGSTOP) under a writer in the default, synchronous
    # mode: its next write waits in the kernel for an answer that never comes. watch's probe
    # goes unanswered for member_timeout (2 s); watch declares the member failed and aborts
    # its FUSE connection, so the waiting write returns and the program finishes without an
    # error, the other member holding every line (hang: the secondary fails; hang_primary:
    # the primary, on sshfs with the secondary local, and the secondary takes over the write).
    # New programs run; once sshfs is mounted again watch rebuilds the member and the members
    # are identical. hang_late: as hang, but watch starts once the secondary hangs (a
    # supervisor restarting it then): checking the config looks at the members, and watch
    # hung there before it could declare anything.
    echo 'member_timeout = 2' >> "$CFG" || fail "config"
    if [ "$GAP" != hang_primary ]; then
        who=secondary hung=$S survivor=$P export=$T/export-s
    else
        who=primary hung=$P survivor=$S export=$T/export-p
        primary_on_sshfs_with_gated_writer "echo two >&3 || exit 2; echo three >&3 || exit 3; exec 3>&- || exit 4"
    fi
    start_watch() {
        "$CTL" watch -c "$CFG" 2> "$T/watch.err" &
        WATCH=$!
    }
    [ "$GAP" = hang_late ] || start_watch
    if [ "$GAP" != hang_primary ]; then
        tshim sh -c "exec 3>>/shadow/d/f; echo one >&3; : > '$T/ready'
            while [ ! -e '$T/go' ]; do sleep 0.05; done
            echo two >&3 || exit 2; echo three >&3 || exit 3; exec 3>&- || exit 4" &
        WRITER=$!
        for _ in $(seq 1 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
        [ -e "$T/ready" ] || fail "the writer did not get going"
    fi
    kill -STOP "${SSHFS[$hung]}"
    : > "$T/go"
    started=$(date +%s)
    if [ "$GAP" = hang_late ]; then
        sleep 1 # the writer now waits for the stopped sshfs
        start_watch
    fi
    wait "$WRITER"; rc=$?
    [ $rc = 0 ] || { kill -CONT "${SSHFS[$hung]}"; fail "the writer saw an error (exit $rc; 137: killed by its 60 s timeout) when the $who hung"; }
    WRITER=""
    echo "the writer finished $(( $(date +%s) - started )) s after the $who stopped answering"
    [ "$(cat "$survivor/d/f")" = "$(printf 'one\ntwo\nthree')" ] || fail "the survivor does not hold every line: $(cat "$survivor/d/f")"
    # The writes may not have waited for sshfs at all (the kernel took them into its cache:
    # seen twice in CI, the writer done 0 s after the stop), so watch's record may come after.
    hung_record="^00080 .*$who failed, no longer written: it has not answered for 2 s .*FUSE connection [0-9]* was aborted"
    for _ in $(seq 1 150); do grep -q "$hung_record" "$H" && break; sleep 0.1; done
    grep -q "$hung_record" "$H" ||
        fail "no record of the hung $who: $(cat "$H") / watch: $(cat "$T/watch.err")"
    tshim sh -c 'echo four >> /shadow/d/f' || fail "a new program while the $who is out"
    kill -CONT "${SSHFS[$hung]}"
    timeout -k 5 60 "$CTL" wait -c "$CFG" --event MemberRecovered --timeout 50 > "$T/wait.out" &
    WAITER=$!
    remount_sshfs "$export" "$hung"
    wait "$WAITER" || fail "watch did not rebuild the $who: $(cat "$T/watch.err")"
    WAITER=""
    t "$CTL" verify -c "$CFG" || fail "members differ after watch rebuilt the hung $who"
    [ "$(cat "$hung/d/f")" = "$(printf 'one\ntwo\nthree\nfour')" ] || fail "the rebuilt $who: $(cat "$hung/d/f")"
    kill -TERM "$WATCH"
    wait "$WATCH" || fail "watch did not exit cleanly on SIGTERM"
    WATCH=""
    echo "hung $who passed"
    exit 0 ;;
hang_disabled)
    # A member out of service that hangs (disabled here; one watch declared failed for
    # hanging is alike, on a file system whose waiting calls cannot be aborted) must hang
    # nothing: new programs start and write, status answers. Before, every program's config
    # check looked at it and its view resolved its path, and status read its stamp, so each
    # of them waited with it.
    t "$CTL" disable -c "$CFG" secondary || fail "disable"
    kill -STOP "${SSHFS[$S]}"
    sleep 2 # the kernel's cached attributes of the stopped mount expire
    timeout -k 2 20 env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" sh -c 'echo while-hung > /shadow/d/hung-out' ||
        { kill -CONT "${SSHFS[$S]}"; fail "a program waited for the hung, disabled secondary"; }
    timeout -k 2 20 "$CTL" status -c "$CFG" > "$T/status.out" 2>&1 ||
        { kill -CONT "${SSHFS[$S]}"; fail "status waited for the hung, disabled secondary: $(cat "$T/status.out")"; }
    kill -CONT "${SSHFS[$S]}"
    out=$(t "$CTL" enable -c "$CFG" secondary 2>&1) || fail "enable: $out"
    t "$CTL" verify -c "$CFG" || fail "members differ after the hung secondary came back"
    echo "hung disabled secondary passed"
    exit 0 ;;
*) fail "unknown GAP=$GAP" ;;
esac

if [ -z "${GAP:-}" ]; then
# 1. The sshfs process of the secondary is killed.
fail_under_writer 1 secondary "$S" "$P" "kill -9 ${SSHFS[$S]}"
W1='echo degraded > /shadow/d/after-1; rm /shadow/d/renamed'
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] && degraded_writes 1 secondary "$W1"
remount_sshfs "$T/export-s" "$S"
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] || degraded_writes 1 secondary "$W1"
out=$(t "$CTL" enable -c "$CFG" secondary 2>&1) || fail "case 1: enable: $out"
echo "$out" | grep -q "update dirty" || fail "case 1: enable did not use the change list: $out"
t "$CTL" verify -c "$CFG" || fail "case 1: members differ after the rebuild"

# 2. sshd dies, with every session and sftp-server; watch, running all along, sees the
#    member fail and rebuilds it once sshd is back and sshfs mounted again.
"$CTL" watch -c "$CFG" 2> "$T/watch.err" &
WATCH=$!
timeout -k 5 60 "$CTL" wait -c "$CFG" --event MemberRecovered --timeout 50 > "$T/wait.out" &
WAITER=$!
sleep 0.5
fail_under_writer 2 secondary "$S" "$P" "kill -9 $(echo $(descendants "$SSHD")) $SSHD"
for _ in $(seq 1 50); do grep -q '^00081 .*secondary failed' "$H" && break; sleep 0.1; done
grep -q '^00081 .*secondary failed' "$H" || fail "case 2: watch did not report the secondary failed"
sleep 2 # a couple of watch's probes find the member still down
grep -q '^00090 ' "$H" && fail "case 2: watch started a rebuild while sshd was down"
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] && degraded_writes 2 secondary 'echo degraded > /shadow/d/after-2; rm /shadow/d/after-1'
start_sshd
remount_sshfs "$T/export-s" "$S"
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] || tshim sh -c 'echo degraded > /shadow/d/after-2; rm /shadow/d/after-1' || fail "case 2: writes while sshd was restarted"
wait "$WAITER" || fail "case 2: shadowctl wait did not see MemberRecovered"
WAITER=""
grep -q '^MemberRecovered secondary ' "$T/wait.out" || fail "case 2: wait printed: $(cat "$T/wait.out")"
t "$CTL" verify -c "$CFG" || fail "case 2: members differ after watch rebuilt the secondary"
kill -TERM "$WATCH"
wait "$WATCH" || fail "watch did not exit cleanly on SIGTERM"
WATCH=""
fi

if [ "${GAP:-}" = primary ]; then
# 3. The primary on sshfs too; its sshfs process is killed: the secondary takes over.
mkdir "$T/export-p" && cp -a "$P/." "$T/export-p/" || fail "copy the primary to its export"
mount_sshfs "$T/export-p" "$P"
t "$CTL" verify -c "$CFG" || fail "members differ with the primary on sshfs"
fail_under_writer 3 primary "$P" "$S" "kill -9 ${SSHFS[$P]}"
grep -q '^00080 .*primary failed, the other member takes over' "$H" || fail "case 3: no takeover record"
W3='echo while-primary-away >> /shadow/d/log-3; cat /shadow/d/held-3 > '"$T"'/readback; stat -c %s /shadow/d/big-3 > '"$T"'/size'
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] && degraded_writes 3 primary "$W3"
remount_sshfs "$T/export-p" "$P"
[ "$NEW_PROGRAMS_WHILE_DOWN" = 1 ] || degraded_writes 3 primary "$W3"
cmp "$T/big" "$T/readback" || fail "case 3: reads after the takeover do not come from the survivor"
[ "$(cat "$T/size")" = 8388608 ] || fail "case 3: stat after the takeover: $(cat "$T/size")"
out=$(t "$CTL" enable -c "$CFG" primary 2>&1) || fail "case 3: enable primary: $out"
t "$CTL" verify -c "$CFG" || fail "case 3: members differ after the primary came back"
tshim sh -c 'echo again >> /shadow/d/log-3' || fail "case 3: write after the primary came back"
[ "$(tail -n 1 "$P/d/log-3")" = again ] || fail "case 3: the primary is not written again"
t "$CTL" verify -c "$CFG" || fail "case 3: members differ after writing again"
fi
echo "network member scenarios passed"
