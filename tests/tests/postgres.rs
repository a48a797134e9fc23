//! PostgreSQL with its data directory under the prefix: a benchmark run and a clean stop,
//! then every server process killed at once under load and `shadowctl recover`; a server
//! started on a copy of each member reads the same data. The work is in
//! `scripts/postgres.sh`; the server runs as user postgres (`make test-deps` installs it).

use shadow_tests::ShadowSet;

#[test]
fn postgres_pgbench_clean_stop_then_kill_9_and_recover() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the PostgreSQL test runs the server as user postgres: run it as root (CI does)");
    let s = ShadowSet::new();
    let out = s.script("postgres.sh", &[]).output().unwrap();
    let text = format!("--- stdout\n{}\n--- stderr\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "postgres.sh failed:\n{text}");
    eprintln!("{text}");
}
