#!/bin/bash
# Run by tests/databases.rs: Redis with its directory under /shadow, under the shim, an
# append-only file fsynced at every write, clients outside the shim.
#   1. writes; BGSAVE and BGREWRITEAOF (a forked child writes a temporary file and the
#      parent renames it into place, while the parent goes on appending); deletes; a clean
#      shutdown: no `libshadow:` line, shadowctl verify finds the members identical.
#   2. The server again under a write load, killed with SIGKILL; shadowctl recover; the
#      members identical.
#   3. A Redis started (natively) on a copy of each member loads the same data set.
# Env: P S CFG LIB CTL T (T: a scratch directory).
set -u
source "$(dirname "$0")/common.sh"
command -v redis-server >/dev/null || { echo "FAILED: no redis-server (make test-deps installs it)" >&2; exit 1; }
cli() { local sock=$1; shift; redis-cli -s "$sock" "$@"; }
up() {
	for _ in $(seq 300); do cli "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
	fail "the server never answered on $1"
}
# Waits until no BGSAVE or AOF rewrite runs.
settled() {
	for _ in $(seq 300); do
		cli "$1" info persistence | grep -qE '^(rdb_bgsave_in_progress|aof_rewrite_in_progress):1' || return 0
		sleep 0.1
	done
	fail "a background save never ended"
}
server_args=(--port 0 --appendonly yes --appendfsync always --save "" --daemonize no)
start() {
	SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" redis-server "${server_args[@]}" --dir /shadow/redis --unixsocket "$T/sock" >>"$T/server.log" 2>&1 &
	server=$!
	up "$T/sock"
}
shim mkdir /shadow/redis || fail "mkdir"

# 1.
start
for i in $(seq 3000); do echo "SET k$i v$i"; done | cli "$T/sock" >/dev/null || fail "SET"
cli "$T/sock" bgsave >/dev/null && settled "$T/sock"
cli "$T/sock" bgrewriteaof >/dev/null
for i in $(seq 3000); do echo "INCR c"; echo "LPUSH l $i"; done | cli "$T/sock" >/dev/null || fail "INCR, LPUSH"
settled "$T/sock"
cli "$T/sock" bgrewriteaof >/dev/null && settled "$T/sock"
for i in $(seq 500); do echo "DEL k$i"; done | cli "$T/sock" >/dev/null || fail "DEL"
cli "$T/sock" bgsave >/dev/null && settled "$T/sock"
cli "$T/sock" shutdown >/dev/null 2>&1
wait "$server"
if grep -h 'libshadow:' "$T/server.log"; then fail "the shim reported something"; fi
"$CTL" verify -c "$CFG" >"$T/verify1.log" 2>&1 || fail "members differ after a clean shutdown"
echo "redis: writes, two BGSAVEs, two AOF rewrites, clean shutdown, members identical"

# 2.
start
{ for j in $(seq 200000); do echo "SET w$j $j"; echo "INCR c"; done; } | cli "$T/sock" >/dev/null 2>&1 &
load=$!
sleep 1
cli "$T/sock" bgrewriteaof >/dev/null 2>&1
sleep 1
# Stopped first, so that it forks no more; its rewriting or saving child, which would
# outlive it, is killed too, as a machine crash would.
kill -STOP "$server"
pkill -9 -P "$server"
kill -9 "$server"
wait "$load" "$server" 2>/dev/null
repaired=$(recovered_after_kill) || exit 1
echo "redis: killed under load, recovered ($repaired paths repaired), members identical"

# 3. The append-only file may end in a half-written command: each copy is loaded the way
# Redis loads one after a crash (aof-load-truncated, the default).
for m in primary secondary; do
	copy_member $m redis
	redis-server "${server_args[@]}" --dir "$T/copy-$m" --unixsocket "$T/sock-$m" >"$T/copy-$m.log" 2>&1 &
	copy=$!
	up "$T/sock-$m"
	{ cli "$T/sock-$m" dbsize; cli "$T/sock-$m" get c; cli "$T/sock-$m" llen l; cli "$T/sock-$m" get k3000; } >"$T/data-$m" || fail "reading the copy of the $m"
	cli "$T/sock-$m" shutdown nosave >/dev/null 2>&1
	wait "$copy"
done
[ -s "$T/data-primary" ] || fail "no data read from the primary's copy"
cmp -s "$T/data-primary" "$T/data-secondary" || fail "the members' copies read different data: $(tr '\n' ' ' <"$T/data-primary") / $(tr '\n' ' ' <"$T/data-secondary")"
echo "redis: copies of both members load the same data ($(tr '\n' ' ' <"$T/data-primary"))"
