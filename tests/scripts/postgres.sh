#!/bin/bash
# Run by tests/postgres.rs: PostgreSQL (the distribution's) with its data directory under
# /shadow, the server run by user postgres under the shim, clients outside it.
#   1. initdb; pgbench -i -s 10 with parallel index builds; pgbench -c 8 -j 2 for PG_SECONDS;
#      clean stop: no `libshadow:` line anywhere, shadowctl verify finds the members identical.
#   2. The cluster again under load, then every server process killed with SIGKILL at once;
#      shadowctl recover; the members identical.
#   3. A PostgreSQL started (natively) on a copy of each member recovers and reads the same
#      data; pg_amcheck finds the secondary's copy clean.
# Env: P S CFG LIB CTL T (T: a scratch directory); PG_SECONDS (default 30: thousands of transactions on this machine; CI runs within 20 minutes).
set -u
source "$(dirname "$0")/common.sh"
secs=${PG_SECONDS:-30}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "FAILED: no PostgreSQL server under /usr/lib/postgresql (make test-deps installs it)" >&2; exit 1; }
set_dir=$(dirname "$CFG")
sock=$T/sock
port=5544
mkdir -p "$sock"
# The server runs as postgres: it must reach the members, the state directory and the socket.
chmod 755 "$set_dir" "$T"
chown -R postgres: "$P" "$S" "$sock" "$T"
mkdir -p "$set_dir/state" && chown postgres: "$set_dir/state"

shim_pg() { runuser -u postgres -- env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" "$@"; }
native_pg() { runuser -u postgres -- "$@"; }
client() { runuser -u postgres -- "$bin/$1" -h "$sock" -p "$port" "${@:2}"; }
start() { shim_pg "$bin/pg_ctl" -D /shadow/pgdata -l "$T/server.log" -w -t 120 start >>"$T/pg_ctl.log" 2>&1 || fail "pg_ctl start"; }
no_reports() {
	if grep -h 'libshadow:' "$T"/*.log; then fail "the shim reported something ($1)"; fi
}

# 1.
shim_pg "$bin/initdb" -D /shadow/pgdata -A trust -U postgres >"$T/initdb.log" 2>&1 || fail "initdb"
shim_pg sh -c 'cat >> /shadow/pgdata/postgresql.conf' <<EOF || fail "configuring"
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
max_parallel_maintenance_workers = 4
max_parallel_workers = 8
min_parallel_table_scan_size = 0
maintenance_work_mem = '16MB'
EOF
start
client pgbench -q -i -s 10 postgres >"$T/pgbench-init.log" 2>&1 || fail "pgbench -i"
client pgbench -c 8 -j 2 -T "$secs" postgres >"$T/pgbench.log" 2>&1 || fail "pgbench"
grep -q "number of failed transactions: 0" "$T/pgbench.log" || fail "pgbench had failed transactions"
shim_pg "$bin/pg_ctl" -D /shadow/pgdata -m fast -w stop >>"$T/pg_ctl.log" 2>&1 || fail "pg_ctl stop"
no_reports "initdb, pgbench, a clean stop"
"$CTL" verify -c "$CFG" >"$T/verify1.log" 2>&1 || fail "members differ after a clean stop"
echo "postgres: pgbench $(grep -o 'tps = [0-9.]*' "$T/pgbench.log" | head -1), clean stop, members identical"

# 2.
start
client pgbench -c 8 -j 2 -T 60 postgres >"$T/pgbench-killed.log" 2>&1 &
load=$!
sleep 10
pm=$(head -n 1 "$P/pgdata/postmaster.pid")
kill -9 $(pgrep -P "$pm") "$pm"
wait $load
sleep 1
repaired=$(recovered_after_kill) || exit 1
echo "postgres: killed under load, recovered ($repaired paths repaired), members identical"

# 3.
query="SELECT count(*), sum(abalance), (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts"
for m in primary secondary; do
	copy_member $m pgdata
	# The killed postmaster's lock file: its pid may still name a zombie this machine's
	# init has not reaped yet, which PostgreSQL takes for a server running on the copy
	# (a CI run: "lock file postmaster.pid already exists"). No server uses the copy. The
	# same for its socket's lock file (another CI run: "lock file .s.PGSQL.5544.lock
	# already exists ... Is another postmaster (PID ...) using socket file").
	rm -f "$T/copy-$m/postmaster.pid" "$sock/.s.PGSQL.$port" "$sock/.s.PGSQL.$port.lock"
	sed -i "s|^unix_socket_directories = .*|unix_socket_directories = '$sock'|; s|^port = .*|port = $port|" "$T/copy-$m/postgresql.conf"
	native_pg "$bin/pg_ctl" -D "$T/copy-$m" -l "$T/copy-$m.log" -w -t 120 start >>"$T/pg_ctl.log" 2>&1 || fail "a PostgreSQL on a copy of the $m"
	client psql -XAtc "$query" postgres >"$T/data-$m" 2>&1 || fail "query on the copy of the $m"
	if [ $m = secondary ]; then
		client pg_amcheck --install-missing --heapallindexed postgres >"$T/amcheck.log" 2>&1 || fail "pg_amcheck on the secondary's copy"
	fi
	native_pg "$bin/pg_ctl" -D "$T/copy-$m" -m fast -w stop >>"$T/pg_ctl.log" 2>&1
done
cmp -s "$T/data-primary" "$T/data-secondary" || fail "the members' copies read different data: $(cat "$T/data-primary") / $(cat "$T/data-secondary")"
echo "postgres: copies of both members read the same data ($(cat "$T/data-primary")), pg_amcheck clean"
