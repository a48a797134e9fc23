# Sourced by the member-failure scripts (run inside unshare -m by tests/failure.rs) and the
# database scripts (postgres.rs, databases.rs).
# Env: P S CFG LIB CTL T.
fail() {
    echo "FAILED: $*" >&2
    for f in "$T"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    "$CTL" status -c "$CFG" >&2
    cat "$(dirname "$CFG")/state/history.log" >&2
    [ -f "$T/watch.err" ] && cat "$T/watch.err" >&2
    exit 1
}
shim() { SHADOW_CONFIG=$CFG LD_PRELOAD=$LIB "$@"; }
# A small tmpfs on a member directory, with the other member's mode and owner (verify
# compares the roots too).
small_tmpfs() {
    mount -t tmpfs -o size=256k tmpfs "$1" || fail "cannot mount a tmpfs on $1"
    chmod --reference="$2" "$1" && chown --reference="$2" "$1"
}
# After a SIGKILL of the set's processes: waits until its registry lists none (by the
# registry, not by name: servers' children retitle themselves, and other servers may run on
# the machine; a process killed in the middle of disk I/O goes once the I/O ends: up to
# 10 s), then runs `shadowctl recover` and `shadowctl verify`; prints how many paths
# recover repaired.
recovered_after_kill() {
    local left
    for _ in $(seq 50); do
        left=$("$CTL" status -c "$CFG" --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["processes"]))')
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    [ "$left" = 0 ] || fail "$left process(es) of the set outlived SIGKILL"
    "$CTL" recover -c "$CFG" >"$T/recover.log" 2>&1 || fail "shadowctl recover"
    "$CTL" verify -c "$CFG" >"$T/verify-recovered.log" 2>&1 || fail "members differ after kill -9 and recover"
    grep -c '^repaired' "$T/recover.log" || true
}

# copy_member MEMBER DIR: copies DIR of MEMBER (primary or secondary) to $T/copy-MEMBER, for
# a server started natively on each member's data after a crash and recover.
copy_member() {
	local src=$P
	[ "$1" = secondary ] && src=$S
	cp -a "$src/$2" "$T/copy-$1"
}
