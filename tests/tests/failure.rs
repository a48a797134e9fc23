//! Members failing under a running program, on real file systems: a tmpfs secondary that
//! fills up and one that goes read-only. Needs root and a private mount namespace; CI runs as
//! root. Where that is impossible the test says so loudly, and fails under CI.

use shadow_tests::{bin_dir, lib_path, ShadowSet};
use std::process::Command;

fn can_mount() -> bool {
    let ok = unsafe { libc::geteuid() } == 0 && Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI must run the member-failure tests as root with unshare -m");
        eprintln!("\n*** NOT RUN: member failure tests need root and `unshare -m` (CI runs them) ***\n");
    }
    ok
}

fn run_script(name: &str) {
    let s = ShadowSet::new();
    let script = format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash", &script])
        .env("P", s.primary())
        .env("S", s.secondary())
        .env("CFG", s.config())
        .env("LIB", lib_path())
        .env("CTL", bin_dir().join("shadowctl"))
        .env("T", s.scratch())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn secondary_full_then_read_only_degrades_and_rebuilds() {
    if can_mount() {
        run_script("member_failure.sh");
    }
}

#[test]
fn primary_full_fails_over_to_the_secondary_and_comes_back() {
    if can_mount() {
        run_script("primary_failure.sh");
    }
}

#[test]
fn watch_rebuilds_a_member_that_comes_back_and_notifies() {
    if can_mount() {
        run_script("watch_rebuild.sh");
    }
}
