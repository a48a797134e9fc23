//! Members failing under a running program, on real file systems: a tmpfs secondary that
//! fills up and one that goes read-only, a tmpfs lazily unmounted, a network member (sshfs
//! over a private sshd on loopback) whose sshfs or sshd dies. Needs root and a private mount
//! namespace (and sshfs, openssh-server, /dev/fuse for the network member: `make test-deps`);
//! CI runs as root. Where that is impossible the test says so loudly, and fails under CI.

use shadow_tests::ShadowSet;
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
    run_script_with(name, &[], None);
}

/// Runs a script with extra environment; `limit` (seconds) bounds the whole run with
/// `timeout`, for scripts whose file systems could hang.
fn run_script_with(name: &str, env: &[(&str, &str)], limit: Option<u32>) {
    let s = ShadowSet::new();
    let limit = limit.map(|secs| secs.to_string());
    let mut runner = match &limit {
        Some(secs) => vec!["timeout", "-k", "30", secs.as_str()],
        None => Vec::new(),
    };
    runner.extend(["unshare", "-m", "--propagation", "private"]);
    let out = s.script(name, &runner).envs(env.iter().copied()).output().unwrap();
    assert!(
        out.status.success(),
        "{name} failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_insecure_file_moved_to_another_directory_is_found_by_recover() {
    if can_mount() {
        run_script("insecure_moved.sh");
    }
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
fn a_large_write_the_full_primary_takes_short_is_taken_back_on_the_secondary() {
    if can_mount() {
        run_script("short_lead_write.sh");
    }
}

#[test]
fn an_fallocate_the_full_primary_fails_partway_leaves_the_members_alike() {
    if can_mount() {
        run_script("failed_lead_fallocate.sh");
    }
}

#[test]
fn directories_fsynced_on_members_of_different_file_systems_are_no_difference() {
    if can_mount() {
        run_script("mixed_file_systems.sh");
    }
}

#[test]
fn watch_rebuilds_a_member_that_comes_back_and_notifies() {
    if can_mount() {
        run_script("watch_rebuild.sh");
    }
}

/// sshfs, sshd and /dev/fuse for the network member (`make test-deps` installs the tools).
fn can_mount_sshfs() -> bool {
    if !can_mount() {
        return false;
    }
    let sshfs = Command::new("sh").args(["-c", "command -v sshfs"]).output().is_ok_and(|o| o.status.success());
    let sshd = std::path::Path::new("/usr/sbin/sshd").exists();
    let fuse = std::path::Path::new("/dev/fuse").exists();
    let ok = sshfs && sshd && fuse;
    if !ok {
        let missing: Vec<&str> = [(sshfs, "sshfs"), (sshd, "/usr/sbin/sshd"), (fuse, "/dev/fuse")].iter().filter(|m| !m.0).map(|m| m.1).collect();
        assert!(std::env::var_os("CI").is_none(), "CI must run the network member test: missing {missing:?} (make test-deps)");
        eprintln!("\n*** NOT RUN: network member test needs {missing:?} (make test-deps installs openssh-server sshfs) ***\n");
    }
    ok
}

fn network_member(env: &[(&str, &str)]) {
    if can_mount_sshfs() {
        let mut all = vec![("NEW_PROGRAMS_WHILE_DOWN", "0"), ("GAP", "")];
        all.extend_from_slice(env);
        run_script_with("network_member.sh", &all, Some(240));
    }
}

#[test]
fn network_member_dies_under_running_writers_and_is_rebuilt() {
    network_member(&[]);
}

#[test]
fn network_primary_dies_under_running_writers_and_the_secondary_takes_over() {
    network_member(&[("GAP", "primary")]);
}

#[test]
fn network_member_down_new_programs_and_shadowctl_still_run() {
    network_member(&[("NEW_PROGRAMS_WHILE_DOWN", "1")]);
}

#[test]
fn network_primary_dies_under_a_write_in_flight() {
    network_member(&[("GAP", "inflight_abort")]);
}

#[test]
fn network_primary_dies_before_the_last_close() {
    network_member(&[("GAP", "primary_dies_before_close")]);
}

#[test]
fn network_secondary_stalls_under_write_behind() {
    network_member(&[("GAP", "stall")]);
}

/// A member that hangs instead of failing: watch declares it failed after member_timeout
/// and aborts its FUSE connection, so the writer waiting on it carries on.
#[test]
fn network_secondary_hangs_under_a_synchronous_writer() {
    network_member(&[("GAP", "hang")]);
}

#[test]
fn network_primary_hangs_under_a_synchronous_writer() {
    network_member(&[("GAP", "hang_primary")]);
}

/// watch started (by a supervisor, say) while a member already hangs.
#[test]
fn network_secondary_hangs_before_watch_starts() {
    network_member(&[("GAP", "hang_late")]);
}

/// A member out of service that hangs hangs nothing else.
#[test]
fn a_hung_member_out_of_service_hangs_no_program() {
    network_member(&[("GAP", "hang_disabled")]);
}

#[test]
fn mv_onto_an_sshfs_member() {
    network_member(&[("GAP", "mv")]);
}

#[test]
fn secondary_lazily_unmounted_degrades_and_rebuilds() {
    if can_mount() {
        run_script("lazy_umount.sh");
    }
}
