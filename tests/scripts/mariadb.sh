#!/bin/bash
# Run by tests/databases.rs: MariaDB (InnoDB, a binary log) with its data directory under
# /shadow, the server run by user mysql under the shim, clients outside it. MariaDB is
# refused io_uring and Linux AIO under the shim (see README) and falls back to its own
# threads, so this also runs that fallback.
#   1. mariadb-install-db; transactions of inserts, updates and deletes; OPTIMIZE (a table
#      rebuilt: a new file renamed over the old); ALTER TABLE; FLUSH LOGS (a new binlog);
#      a clean shutdown: no `libshadow:` line, shadowctl verify finds the members identical.
#   2. The server again under an insert load, killed with SIGKILL; shadowctl recover; the
#      members identical.
#   3. A MariaDB started (natively) on a copy of each member recovers and reads the same
#      data; CHECK TABLE finds each copy clean.
# Env: P S CFG LIB CTL T (T: a scratch directory).
set -u
source "$(dirname "$0")/common.sh"
id mysql >/dev/null 2>&1 && command -v mariadbd >/dev/null || { echo "FAILED: no mariadbd or no user mysql (make test-deps installs mariadb-server)" >&2; exit 1; }
set_dir=$(dirname "$CFG")
run=$T/run
mkdir -p "$run" "$set_dir/state"
chmod 755 "$set_dir" "$T"
chown -R mysql: "$P" "$S" "$run" "$T" "$set_dir/state"

# Relative binlog names: the index then names no /shadow path, and a copy starts natively.
server_args=(--no-defaults --skip-networking --log-bin=binlog --server-id=1 --innodb-buffer-pool-size=64M)
shim_db() { runuser -u mysql -- env SHADOW_CONFIG="$CFG" LD_PRELOAD="$LIB" "$@"; }
q() { local sock=$1; shift; mariadb --no-defaults -S "$sock" -uroot "$@"; }
up() {
	for _ in $(seq 300); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "the server never made its socket $1"
}
start() {
	shim_db mariadbd "${server_args[@]}" --datadir=/shadow/db --socket="$run/sock" >>"$T/server.log" 2>&1 &
	server=$!
	up "$run/sock"
	# runuser's child, named by its own socket (the test's scratch directory is unique).
	server_pid=$(pgrep -u mysql -f "mariadbd .*--socket=$run/sock\$") || fail "no server process found"
}
no_reports() {
	if grep -h 'libshadow:' "$T"/*.log; then fail "the shim reported something ($1)"; fi
}

# 1.
shim_db mariadb-install-db --no-defaults --datadir=/shadow/db --auth-root-authentication-method=normal >"$T/install.log" 2>&1 || fail "mariadb-install-db"
start
q "$run/sock" -e "create database t; create table t.a (id int primary key auto_increment, v varchar(200), n int, key(n)) engine=innodb" || fail "create table"
for j in $(seq 20); do
	{
		echo "begin;"
		for i in $(seq 200); do echo "insert into t.a (v, n) values (repeat('x', $((i % 150))), $i);"; done
		echo "update t.a set n = n + 1 where id % 7 = $((j % 7));"
		echo "delete from t.a where id % 13 = $((j % 13)) and id < $((j * 150));"
		echo "commit;"
	} | q "$run/sock" || fail "transaction $j"
done
q "$run/sock" -e "optimize table t.a; alter table t.a add column w int default 3; flush logs" >"$T/maintenance.log" 2>&1 || fail "optimize, alter, flush logs"
q "$run/sock" -e "shutdown" || fail "shutdown"
wait "$server"
no_reports "install, transactions, a clean shutdown"
"$CTL" verify -c "$CFG" >"$T/verify1.log" 2>&1 || fail "members differ after a clean shutdown"
echo "mariadb: 20 transactions, optimize, alter, clean shutdown, members identical"

# 2.
start
sleep 1
{
	for j in $(seq 100000); do
		echo "insert into t.a (v, n, w) values (repeat('y', $((j % 150))), $j, $j);"
		[ $((j % 50)) = 0 ] && echo "update t.a set n = n + 1 where id % 11 = $((j % 11));"
	done
} | q "$run/sock" >/dev/null 2>&1 &
load=$!
sleep 4
kill -9 "$server_pid"
wait "$load" "$server" 2>/dev/null
repaired=$(recovered_after_kill) || exit 1
echo "mariadb: killed under load, recovered ($repaired paths repaired), members identical"

# 3.
query="select count(*), sum(n), sum(length(v)), sum(w) from t.a"
for m in primary secondary; do
	copy_member $m db
	runuser -u mysql -- mariadbd "${server_args[@]}" --datadir="$T/copy-$m" --socket="$run/sock-$m" >"$T/copy-$m.log" 2>&1 &
	copy=$!
	up "$run/sock-$m"
	q "$run/sock-$m" -N -e "$query" >"$T/data-$m" 2>&1 || fail "query on the copy of the $m"
	q "$run/sock-$m" -N -e "check table t.a" >"$T/check-$m" 2>&1 || fail "check table on the copy of the $m"
	grep -q "status.OK" "$T/check-$m" || fail "check table on the copy of the $m: $(cat "$T/check-$m")"
	q "$run/sock-$m" -e "shutdown"
	wait "$copy"
done
[ -s "$T/data-primary" ] || fail "no data read from the primary's copy"
cmp -s "$T/data-primary" "$T/data-secondary" || fail "the members' copies read different data: $(cat "$T/data-primary") / $(cat "$T/data-secondary")"
echo "mariadb: copies of both members read the same data ($(cat "$T/data-primary")), check table clean"
