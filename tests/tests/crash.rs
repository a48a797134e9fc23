//! kill -9 at random moments: writers of several kinds (an appending logger, random
//! in-place rewrites, a stream of small writes to one held file, rename-into-place,
//! create/unlink churn, a sqlite3 database) run under the shim and are killed mid-flight;
//! `shadowctl recover` must then leave the members identical, every time.
//! SHADOW_FAULT_ITERATIONS sets the count (default 200); `make test` runs it a second time
//! with SHADOW_TEST_WRITE_BEHIND=1, where the stream's writes are often still queued for the
//! secondary when the kill comes. The iterations are shared by two tests, each on its own set,
//! which the test threads run side by side: an iteration mostly waits (for processes to start,
//! die, and for recover and verify), so two sets take the time of one.

use shadow_tests::ShadowSet;
use std::os::unix::process::CommandExt;
use std::time::Duration;

const WRITERS: &str = r#"
mkdir -p /shadow/churn
sqlite3 /shadow/db.sqlite 'create table if not exists t (i integer, v text)' || exit 1
(i=0; while :; do echo "log $i $$" >> /shadow/log; i=$((i+1)); done) &
(while :; do dd if=/dev/urandom of=/shadow/rand bs=4096 count=1 seek=$((RANDOM % 64)) conv=notrunc status=none; done) &
(while :; do dd if=/dev/urandom of=/shadow/stream bs=512 count=4000 status=none; done) &
(i=0; while :; do echo "v$i" > /shadow/cur.tmp && mv /shadow/cur.tmp /shadow/current; i=$((i+1)); done) &
(i=0; while :; do echo x > /shadow/churn/f$i; rm -f /shadow/churn/f$((i-3)); i=$((i+1)); done) &
(i=0; while :; do sqlite3 /shadow/db.sqlite "insert into t values ($i, hex(randomblob(64)))"; i=$((i+1)); done) &
wait
"#;

#[test]
fn kill_9_at_random_moments_then_recover_leaves_identical_members() {
    kill_9_rounds(0);
}

#[test]
fn kill_9_at_random_moments_then_recover_leaves_identical_members_on_a_second_set() {
    kill_9_rounds(1);
}

/// Half of the iterations (`half` 0 takes the odd one), on a set of its own.
fn kill_9_rounds(half: u32) {
    let all: u32 = std::env::var("SHADOW_FAULT_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let iterations = all / 2 + if half == 0 { all % 2 } else { 0 };
    assert!(std::process::Command::new("sqlite3").arg("-version").output().is_ok_and(|o| o.status.success()), "sqlite3 is needed (make test installs it)");
    let s = ShadowSet::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64 ^ (u64::from(half) << 32);
    let mut repaired_total = 0;
    for i in 0..iterations {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let child = s.command("/bin/bash").arg("-c").arg(WRITERS).process_group(0).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(15 + seed % 60));
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let mut child = child;
        child.wait().unwrap();
        // Stragglers of the group (a forked dd or sqlite3 mid-exec) die with it; wait until gone.
        for _ in 0..100 {
            if unsafe { libc::kill(-(child.id() as i32), 0) } != 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let (code, out, err) = s.ctl(&["recover", "--json"]);
        assert_eq!(code, 0, "iteration {i}: recover failed:\n{out}\n{err}");
        let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("iteration {i}: {e}: {out}"));
        repaired_total += r["repaired"].as_array().unwrap().len();
        let (code, out, err) = s.ctl(&["verify"]);
        assert_eq!(code, 0, "iteration {i}: members differ after recover:\n{out}\n{err}\nrecover said: {r}");
    }
    let log = s.read("log");
    assert!(!log.is_empty(), "the writers did write");
    println!("crash test (set {half}): {iterations} kill -9 iterations, members identical after every recover ({repaired_total} in-flight paths repaired)");
}
