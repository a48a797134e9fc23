#!/usr/bin/env bash
# run.sh - builds and runs the libshadow C tests, each in a fresh shadow set.
# See c-tests/README.md for the expectation headers a test can carry.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
lib=$root/target/release/libshadow.so
ctl=$root/target/release/shadowctl
keep=0
extra=
jobs=1

usage() {
	cat <<EOF
usage: c-tests/run.sh [--lib PATH] [--ctl PATH] [--keep] [--write-behind] [-j N] [TEST...]
  --lib PATH   shim to preload (default: target/release/libshadow.so)
  --ctl PATH   shadowctl used to compare members (default: target/release/shadowctl)
  --keep       keep every test's temp dir, not only failing ones
  --write-behind  run every test with write_behind = true in its config
  -j N         run N tests at once (default 1); each still has a set of its own, and
               its report is printed whole when it ends
  TEST         test names (c-tests/NAME.c); default: all of them
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--lib) [ $# -ge 2 ] || { usage >&2; exit 2; }; lib=$2; shift 2 ;;
	--ctl) [ $# -ge 2 ] || { usage >&2; exit 2; }; ctl=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--write-behind) extra='write_behind = true'; shift ;;
	-j) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: -j needs a number of tests to run at once" >&2; exit 2; }; jobs=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done

# LD_PRELOAD needs a path that still works after we cd into the temp dir.
lib=$(realpath -e -- "$lib" 2>/dev/null) || { echo "run.sh: shim not found (build it with 'make' at the repo root)" >&2; exit 2; }
ctl=$(realpath -e -- "$ctl" 2>/dev/null) || { echo "run.sh: shadowctl not found (build it with 'make' at the repo root)" >&2; exit 2; }

make -s -C "$here" all || { echo "run.sh: building the tests failed" >&2; exit 2; }

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do
		t=${t##*/}
		tests+=("${t%.c}")
	done
else
	tests=()
	for src in "$here"/*.c; do
		t=${src##*/}
		tests+=("${t%.c}")
	done
fi

# Prints everything that helps to see why a test failed.
show_failure() {
	local t=$1 P=$2 S=$3
	echo "---- test output"
	tail -n 60 "$t/test.log" 2>/dev/null
	if [ -s "$t/setup.log" ]; then
		echo "---- setup output"
		cat "$t/setup.log"
	fi
	echo "---- shadowctl verify"
	cat "$t/verify.log" 2>/dev/null
	echo "---- history.log"
	cat "$t/state/history.log" 2>/dev/null
	echo "---- ls -lR primary"
	ls -lR "$P"
	echo "---- ls -lR secondary"
	ls -lR "$S"
	echo "---- diff -r primary secondary"
	diff -r --no-dereference "$P" "$S"
	echo "---- kept in $t"
}

# Checks state/history.log against the test's "// expect-history: REGEX" lines:
# every line must match some regex and every regex must match some line.
# With no regexes, the log must be empty or absent.  Prints the problems.
check_history() {
	local log=$1
	shift
	local line re hit
	if [ ! -s "$log" ]; then
		for re in "$@"; do
			echo "history.log has no line matching /$re/"
		done
		return
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		hit=0
		for re in "$@"; do
			if printf '%s\n' "$line" | grep -Eq -- "$re"; then
				hit=1
				break
			fi
		done
		[ $hit = 1 ] || echo "unexpected history line: $line"
	done <"$log"
	for re in "$@"; do
		grep -Eq -- "$re" "$log" || echo "history.log has no line matching /$re/"
	done
}

run_one() {
	local name=$1
	local src=$here/$name.c bin=$here/build/$name
	local t P S cfg rc vrc tmo verify_expect recover_expect problems=()
	local -a hist_re

	if [ ! -f "$src" ] || [ ! -x "$bin" ]; then
		echo "FAIL $name: no such test ($src)"
		return 1
	fi

	t=$(mktemp -d "${TMPDIR:-/tmp}/libshadow-ctest.$name.XXXXXX")
	P=$t/primary
	S=$t/secondary
	cfg=$t/app.toml
	mkdir "$P" "$S"
	# A test's own config lines (// config: KEY = VALUE) stand instead of --write-behind's.
	local own
	own=$(sed -n 's|^// config: ||p' "$src")
	cat >"$cfg" <<EOF
prefix = "/shadow"
primary = "$P"
secondary = "$S"
state_dir = "$t/state"
${own:-$extra}
EOF

	mapfile -t hist_re < <(sed -n 's|^// expect-history: ||p' "$src")
	verify_expect=identical
	grep -q '^// expect-verify: differ$' "$src" && verify_expect=differ
	recover_expect=none
	grep -q '^// expect-recover: needed$' "$src" && recover_expect=needed
	tmo=$(sed -n 's|^// timeout: \([0-9][0-9]*\)$|\1|p' "$src" | head -n 1)
	tmo=${tmo:-60}

	if [ -f "$here/$name.setup" ]; then
		if ! (export P S T="$t" && cd "$t" && set -e && . "$here/$name.setup") >"$t/setup.log" 2>&1; then
			problems+=("setup $name.setup failed")
		fi
	fi

	if [ ${#problems[@]} -eq 0 ]; then
		(cd "$t" && timeout -k 5 "$tmo" env SHADOW_CONFIG="$cfg" LD_PRELOAD="$lib" SHADOW_TEST_TMP="$t" "$bin") \
			>"$t/test.log" 2>&1 </dev/null
		rc=$?
		case $rc in
		0) ;;
		124 | 137) problems+=("timed out after ${tmo}s") ;;
		*) problems+=("exit status $rc") ;;
		esac

		timeout 60 "$ctl" verify -c "$cfg" >"$t/verify.log" 2>&1
		vrc=$?
		case $verify_expect:$vrc in
		identical:0 | differ:1) ;;
		identical:1) problems+=("shadowctl verify: members differ") ;;
		differ:0) problems+=("shadowctl verify: members identical, expected them to differ") ;;
		*) problems+=("shadowctl verify: error (exit $vrc)") ;;
		esac

		# A process that ended normally leaves no write intent behind: `status` must not
		# say recover is due (a test that crashes on purpose says so in its header).
		local due
		local status
		status=$("$ctl" status --json -c "$cfg" 2>&1 | tr -d ' \n')
		due=$(sed -n 's/.*"recover_needed":\[\([0-9,]*\)\].*/\1/p' <<<"$status")
		grep -q '"journal_incomplete":true' <<<"$status" && due="${due:+$due,}journal"
		case $recover_expect:$due in
		none: | needed:?*) ;;
		none:*) problems+=("shadowctl status: recover needed for $due (intents left open or unrecorded)") ;;
		needed:) problems+=("shadowctl status: recover not needed, expected it to be") ;;
		esac

		while IFS= read -r line; do
			problems+=("$line")
		done < <(check_history "$t/state/history.log" "${hist_re[@]}")
	fi

	if [ ${#problems[@]} -eq 0 ]; then
		echo "PASS $name"
		if [ $keep = 1 ]; then
			echo "     kept in $t"
		else
			# A member the setup put elsewhere (a symlink to it) goes with the test.
			for m in "$P" "$S"; do
				[ -L "$m" ] && rm -rf "$(readlink "$m")"
			done
			rm -rf "$t"
		fi
		return 0
	fi
	echo "FAIL $name:"
	printf '     %s\n' "${problems[@]}"
	show_failure "$t" "$P" "$S" | sed 's/^/     | /'
	return 1
}

passed=0
failed=0
failed_names=()
# Tally of one finished test: its report (printed whole, so that reports of tests run
# at once never interleave) and its status.
tally() {
	local name=$1 rc=$2 report=$3
	cat "$report"
	rm -f "$report"
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
}
reports=$(mktemp -d "${TMPDIR:-/tmp}/libshadow-ctest-reports.XXXXXX")
declare -A running=()
# Waits for one of the tests running at once to end and tallies it.
reap() {
	local pid rc
	wait -n -p pid "${!running[@]}"
	rc=$?
	tally "${running[$pid]}" "$rc" "$reports/${running[$pid]}"
	unset "running[$pid]"
}
for name in "${tests[@]}"; do
	if [ "$jobs" -eq 1 ]; then
		run_one "$name" >"$reports/$name" 2>&1
		tally "$name" $? "$reports/$name"
		continue
	fi
	[ ${#running[@]} -lt "$jobs" ] || reap
	run_one "$name" >"$reports/$name" 2>&1 &
	running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do
	reap
done
rmdir "$reports"

[ $failed -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
