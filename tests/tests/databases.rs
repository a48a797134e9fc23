//! Databases other than PostgreSQL (postgres.rs) with their files under the prefix, each
//! run, stopped cleanly, run again and killed with SIGKILL under load, recovered, and then
//! started natively on a copy of each member: MariaDB (InnoDB: a doublewrite buffer, a redo
//! log, a binary log, tables rebuilt and renamed) and Redis (an fsync-always append-only
//! file, rewritten and snapshotted by forked children). The work is in
//! `scripts/mariadb.sh` and `scripts/redis.sh`; `make test-deps` installs both servers.

use shadow_tests::ShadowSet;

fn run(script: &str) {
    let s = ShadowSet::new();
    let out = s.script(script, &[]).output().unwrap();
    let text = format!("--- stdout\n{}\n--- stderr\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed:\n{text}");
    eprintln!("{text}");
}

#[test]
fn mariadb_transactions_clean_stop_then_kill_9_and_recover() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the MariaDB test runs the server as user mysql: run it as root (CI does)");
    run("mariadb.sh");
}

#[test]
fn redis_aof_and_snapshots_clean_stop_then_kill_9_and_recover() {
    run("redis.sh");
}
