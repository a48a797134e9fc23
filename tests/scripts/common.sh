# Sourced by the member-failure scripts (run inside unshare -m by tests/failure.rs).
# Env: P S CFG LIB CTL T.
fail() {
    echo "FAILED: $*" >&2
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
