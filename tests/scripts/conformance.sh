#!/usr/bin/env bash
# conformance.sh: the file-system world's own suites, run with their files under the prefix.
#
#   tests/scripts/conformance.sh [--suite DIR] [--out DIR] [--keep] [--jobs N] [--write-behind] [pjdfstest|fsx|fsstress]... [-- PATTERN...]
#
#   pjdfstest  every tests/*/*.t file twice: natively (in a scratch directory on the same file
#              system) and under the shim (working directory /shadow/w, a fresh set per file).
#              A file fails when an assertion that passes natively fails under the shim, when a
#              `libshadow:` line is printed, or when the members differ afterwards.
#   fsx        xfstests' exerciser on one file under the prefix (buffered, and O_DIRECT -Z).
#   fsstress   4 processes x 3,000 operations in one tree, 3 seeds.
# After every run: `shadowctl verify` and compare_members.py (an independent comparison with
# mtimes). PATTERN limits pjdfstest to files whose path (e.g. chmod/00.t) matches.
# --write-behind: every set is configured with `write_behind = true`.
# Exit 0 when everything passed, 1 when something failed, 2 when the suites cannot be built.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=$root/../shared/third-party
out=$root/target/third-party
keep=${CONFORMANCE_KEEP:-0}
behind=${CONFORMANCE_WRITE_BEHIND:-0}
jobs=4
one=
suites=()
patterns=()
while [ $# -gt 0 ]; do
	case $1 in
	--suite) suite=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--write-behind) behind=1; shift ;;
	--jobs) jobs=$2; shift 2 ;;
	--pjd-one) one=$2; shift 2 ;;
	-h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
	--) shift; patterns=("$@"); break ;;
	pjdfstest | fsx | fsstress) suites+=("$1"); shift ;;
	*) echo "conformance.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ ${#suites[@]} -gt 0 ] || suites=(pjdfstest fsx fsstress)
lib=$root/target/release/libshadow.so
ctl=$root/target/release/shadowctl
[ -x "$ctl" ] && [ -f "$lib" ] || { echo "conformance.sh: build first (make)" >&2; exit 2; }
# A clone (CI's) finds the suites beside the repository it was cloned from.
if [ ! -x "$suite/build.sh" ]; then
	origin=$(git -C "$root" config --get remote.origin.url 2>/dev/null || true)
	case $origin in /*) [ -x "$origin/../shared/third-party/build.sh" ] && suite=$(cd "$origin/../shared/third-party" && pwd) ;; esac
fi
[ -x "$suite/build.sh" ] || { echo "conformance.sh: NOT RUN: no third-party suites at $suite (set THIRD_PARTY=DIR)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "conformance.sh: pjdfstest and fsstress need root; run as root" >&2; exit 2; }
if [ -z "$one" ]; then
	bash "$suite/build.sh" "$out" >/dev/null || { echo "conformance.sh: building the suites failed" >&2; exit 2; }
	work=$(mktemp -d /var/tmp/conformance.XXXXXX)
	# Members are usually reachable by everyone up to their roots; pjdfstest switches to uid 65534.
	chmod 755 "$work"
	export CONFORMANCE_WORK=$work CONFORMANCE_KEEP=$keep CONFORMANCE_WRITE_BEHIND=$behind
else
	work=$CONFORMANCE_WORK
fi
failures=0
failed_names=()

# A fresh set in $1 (primary, secondary, state, app.toml).
new_set() {
	mkdir -p "$1/primary" "$1/secondary" "$1/state"
	printf 'prefix = "/shadow"\nprimary = "%s"\nsecondary = "%s"\nstate_dir = "%s"\n' \
		"$1/primary" "$1/secondary" "$1/state" >"$1/app.toml"
	[ "$behind" = 1 ] && echo 'write_behind = true' >>"$1/app.toml"
	return 0
}
shim() { local cfg=$1; shift; SHADOW_CONFIG=$cfg LD_PRELOAD=$lib "$@"; }

# Members of the set in $1 identical? Prints the differences.
members_identical() {
	local ok=0
	"$ctl" verify -c "$1/app.toml" >"$1/verify.log" 2>&1 || { ok=1; sed 's/^/    verify: /' "$1/verify.log" | head -20; }
	python3 "$here/compare_members.py" "$1/primary" "$1/secondary" >"$1/compare.log" 2>&1 || { ok=1; sed 's/^/    compare: /' "$1/compare.log" | head -20; }
	return $ok
}

fail() {
	failures=$((failures + 1))
	failed_names+=("$1")
}

# Whether every shim report of the run in $1 is the one pjdfstest's uid-65534 writers of
# root's files may cause by design: such a writer may not give the follower the lead's exact
# times, so where a clock tick fell between the members' writes the file is reported and its
# intent left to `recover` (then its process "ended with changes in flight"). Accepted only
# when that report is there, nothing else is, and `recover` (as root) then succeeds.
NON_OWNER_TIMES="its times could not be made the lead's: the writer does not own the file"
expected_times_report() {
	grep 'libshadow:' "$1/shim.tap" >"$1/reports.log"
	grep -qF "$NON_OWNER_TIMES" "$1/reports.log" || return 1
	! grep -vF -e "$NON_OWNER_TIMES" -e "ended with changes in flight" "$1/reports.log" >/dev/null || return 1
	"$ctl" recover -c "$1/app.toml" >"$1/recover.log" 2>&1
}

# The "not ok" assertion numbers of a TAP stream, TODO ones left out.
not_ok() { grep -E '^not ok' "$1" | grep -v '# TODO' | awk '{print $3}' | sort; }

# One pjdfstest file: natively, then under the shim on a fresh set, then the members.
# Prints what went wrong (nothing when it passed); exit status 1 when it failed.
pjd_one() {
	local t=$1 name d native shimmed worse bad=0
	name=${t#"$out/tests/"}
	d=$work/pjd/${name//\//_}
	mkdir -p "$d/native"
	new_set "$d"
	(cd "$d/native" && timeout 300 sh "$t" >"$d/native.tap" 2>&1)
	shim "$d/app.toml" timeout 300 sh -c 'mkdir -p /shadow/w && cd /shadow/w && exec sh "$1"' sh "$t" >"$d/shim.tap" 2>&1
	native=$(not_ok "$d/native.tap")
	shimmed=$(not_ok "$d/shim.tap")
	worse=$(comm -13 <(echo "$native") <(echo "$shimmed") | grep . || true)
	if [ -n "$worse" ] || ! grep -q '^ok\|^not ok' "$d/shim.tap"; then
		bad=1
		echo "  $name: assertions failing under the shim only: $(echo $worse)"
		for n in $worse; do grep -E "^not ok $n( |$)" "$d/shim.tap" | head -1 | cut -c1-300 | sed 's/^/    /'; done
	fi
	if grep -q 'libshadow:' "$d/shim.tap"; then
		if expected_times_report "$d"; then
			echo "  $name: accepted: a non-owner's write left the members' mtimes a clock tick apart (README, Times); recover levelled them"
		else
			bad=1
			echo "  $name: the shim reported:"
			grep 'libshadow:' "$d/shim.tap" | head -5 | sed 's/^/    /'
		fi
	fi
	if ! members_identical "$d" >"$d/members.log"; then
		bad=1
		echo "  $name: members differ:"
		cat "$d/members.log"
	fi
	[ $bad = 0 ] && [ $keep = 0 ] && rm -rf "$d"
	return $bad
}

run_pjdfstest() {
	local t name total passed
	local files=()
	while IFS= read -r t; do
		name=${t#"$out/tests/"}
		if [ ${#patterns[@]} -gt 0 ]; then
			local hit=0 p
			for p in "${patterns[@]}"; do [[ $name == *$p* ]] && hit=1; done
			[ $hit = 1 ] || continue
		fi
		files+=("$t")
	done < <(find "$out/tests" -name '*.t' | sort)
	total=${#files[@]}
	echo "pjdfstest: $total files, $jobs at a time"
	mkdir -p "$work/pjd"
	# The files mostly sleep (ctime checks): several at once, each on its own set.
	printf '%s\0' "${files[@]}" | xargs -0 -P "$jobs" -I{} "$0" --suite "$suite" --out "$out" --pjd-one {} >"$work/pjd.log" 2>&1
	cat "$work/pjd.log"
	passed=$((total - $(grep -c '^FAILED ' "$work/pjd.log")))
	while read -r _ name; do fail "pjdfstest/$name"; done < <(grep '^FAILED ' "$work/pjd.log")
	echo "pjdfstest: $passed of $total files pass under the shim as they do natively, members identical"
}

# One run of an exerciser on a fresh set in $1 (named $2): `shim` runs the rest of the
# arguments; it must succeed without a report from the shim and leave identical members.
exercise() {
	local d=$1 name=$2
	shift 2
	new_set "$d"
	if ! shim "$d/app.toml" "$@" >"$d/run.log" 2>&1; then
		echo "  $name failed:"; tail -20 "$d/run.log" | sed 's/^/    /'
		fail "$name"; return
	fi
	if grep -q 'libshadow:' "$d/run.log"; then
		echo "  $name: the shim reported:"; grep 'libshadow:' "$d/run.log" | head -5 | sed 's/^/    /'
		fail "$name"; return
	fi
	if ! members_identical "$d"; then
		echo "  $name: members differ"; fail "$name"; return
	fi
	echo "  $name: ok"
	[ $keep = 1 ] || rm -rf "$d"
}

run_fsx() {
	local seed mode args
	for mode in buffered direct; do
		for seed in 1 2 3; do
			args=(-q -N 20000 -S "$seed")
			# O_DIRECT needs a file system that has it (tmpfs does not): the set is on ext4 here.
			[ $mode = direct ] && args+=(-Z -r 4096 -t 4096 -w 4096)
			exercise "$work/fsx-$mode-$seed" "fsx-$mode-$seed" sh -c 'mkdir -p /shadow/f && exec "$@"' sh "$out/fsx" "${args[@]}" /shadow/f/file
		done
	done
}

run_fsstress() {
	local seed
	for seed in 1 2 3; do
		exercise "$work/fsstress-$seed" "fsstress-$seed" "$out/fsstress" -d /shadow/fss -n 3000 -p 4 -s "$seed"
	done
}

if [ -n "$one" ]; then
	pjd_one "$one" && exit 0
	echo "FAILED ${one#"$out/tests/"}"
	exit 1
fi
for s in "${suites[@]}"; do
	echo "== $s"
	"run_$s"
done
if [ $failures -gt 0 ]; then
	echo "conformance: $failures failed: ${failed_names[*]}"
	echo "conformance: kept in $work"
	exit 1
fi
[ $keep = 1 ] && echo "conformance: kept in $work" || rm -rf "$work"
echo "conformance: everything passed"
