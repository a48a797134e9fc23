#!/bin/bash
# Run inside unshare -m by tests/failure.rs: `shadowctl watch` sees the secondary fail
# (a full tmpfs), probes it, rebuilds it once it is usable again, and reports every event
# to the notify program and to `shadowctl wait`. SIGTERM stops it cleanly.
# Env: P S CFG LIB CTL T.
set -u
. "$(dirname "$0")/common.sh"

cat > "$T/notify.sh" <<'NOTIFY'
#!/bin/sh
echo "$1 $2 $3 $4 [$SHADOW_EVENT]" >> "$(dirname "$0")/notify.log"
NOTIFY
chmod +x "$T/notify.sh"
printf 'notify = "%s"\nretry = 1\nstatus_interval = 1\n' "$T/notify.sh" >> "$CFG"

small_tmpfs "$S" "$P"
shim sh -c 'echo start > /shadow/a' || fail "first write"

"$CTL" watch -c "$CFG" 2> "$T/watch.err" &
watch=$!
"$CTL" wait -c "$CFG" --event MemberRecovered --timeout 60 > "$T/wait.out" &
waiter=$!
# Never leave the monitor behind (it would keep the test's output pipe open).
trap 'kill "$watch" "$waiter" 2>/dev/null' EXIT
sleep 0.5

head -c 1048576 /dev/urandom > "$T/big"
shim sh -c "cp $T/big /shadow/big" || fail "writer saw the failure"
for _ in $(seq 1 50); do grep -q '^00081 ' "$(dirname "$CFG")/state/history.log" && break; sleep 0.1; done
grep -q '^00081 .*secondary failed: running on one member' "$(dirname "$CFG")/state/history.log" || fail "watch did not report Degraded"
shim sh -c 'echo while-degraded > /shadow/b' || fail "write while degraded"

mount -o remount,size=8m "$S" || fail "remount bigger"
wait "$waiter" || fail "shadowctl wait did not see MemberRecovered"
grep -q '^MemberRecovered secondary ' "$T/wait.out" || fail "wait printed: $(cat "$T/wait.out")"
"$CTL" verify -c "$CFG" || fail "members differ after the automatic rebuild"

for ev in MemberFailed Degraded RebuildStarted RebuildFinished MemberRecovered; do
    grep -q "^$ev /shadow secondary $S[^ ]* \[$ev\]$" "$T/notify.log" || fail "notify program not called for $ev: $(cat "$T/notify.log")"
done
for _ in $(seq 1 30); do grep -q "Sec Enabled	Y" "$(dirname "$CFG")/state/status" 2>/dev/null && break; sleep 0.1; done
grep -q "Sec Enabled	Y" "$(dirname "$CFG")/state/status" || fail "status file not rewritten"
kill -TERM "$watch"
wait "$watch" || fail "watch did not exit cleanly on SIGTERM"
grep -q "stopping" "$T/watch.err" || fail "watch did not log its stop"
echo "watch scenario passed"
