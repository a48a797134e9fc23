//! Split brain: two hosts share the members (as over a network file system) but each has
//! its own state directory, and each lost sight of a different member. Both members are
//! then written while apart; the member stamps must say so, nothing may be copied over
//! either until `recover --prefer` decides, and the decision must leave them identical.

use shadow_tests::{bin_dir, lib_path, ShadowSet};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Another host: the same prefix and members, its own state directory (`state-NAME`).
fn other_host(s: &ShadowSet, name: &str) -> PathBuf {
    let cfg = s.dir.path().join(format!("host-{name}.toml"));
    let text = s.config_text().replace(&format!("\"{}\"", s.state().display()), &format!("\"{}\"", s.dir.path().join(format!("state-{name}")).display()));
    assert_ne!(text, s.config_text());
    fs::write(&cfg, text).unwrap();
    cfg
}

fn under(cfg: &PathBuf, script: &str) -> Output {
    Command::new("/bin/sh").arg("-c").arg(script).env("SHADOW_CONFIG", cfg).env("LD_PRELOAD", lib_path()).output().unwrap()
}

fn ctl(cfg: &PathBuf, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin_dir().join("shadowctl")).args(args).arg("-c").arg(cfg).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ok(out: Output) {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn both_members_written_apart_is_detected_and_settled_by_policy() {
    let s = ShadowSet::new();
    let a = s.config();
    let b = other_host(&s, "b");
    ok(under(&a, "echo base > /shadow/a; echo base > /shadow/b; echo base > /shadow/c; mkdir /shadow/d; echo keep > /shadow/d/k"));
    s.assert_identical();
    assert!(ctl(&b, &["status", "--json"]).1.contains("\"stamps\":\"in step\""), "host b sees the members in step");

    // Host A loses the secondary, host B the primary; each writes on.
    s.ctl_ok(&["disable", "secondary"]);
    ok(under(&a, "echo from-a > /shadow/a; echo a-only > /shadow/only-a"));
    assert_eq!(ctl(&b, &["disable", "primary"]).0, 0);
    ok(under(&b, "echo 'from b, longer than a' > /shadow/a; echo from-b > /shadow/b; rm /shadow/c; echo b-only > /shadow/only-b"));

    // A split brain: the event comes, nothing is copied over either member.
    let waiter = Command::new(bin_dir().join("shadowctl")).args(["wait", "--event", "SplitBrain", "--timeout", "20", "-c"]).arg(&a).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, _, err) = s.ctl(&["enable", "secondary"]);
    assert_eq!(code, 2, "enable must refuse: {err}");
    assert!(err.contains("split brain"), "{err}");
    let (code, _, err) = s.ctl(&["enable", "secondary", "--force", "--update", "all"]);
    assert_eq!(code, 2, "not even --force copies over a split brain: {err}");
    assert_eq!(fs::read_to_string(s.secondary().join("a")).unwrap(), "from b, longer than a\n");
    let w = waiter.wait_with_output().unwrap();
    assert!(w.status.success() && String::from_utf8_lossy(&w.stdout).starts_with("SplitBrain"), "wait: {w:?}");
    assert!(s.history().lines().any(|l| l.starts_with("00110 ")), "{}", s.history());

    // status lists the conflicts; recover without a policy lists them and touches nothing.
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert_eq!(st["stamps"], "split brain");
    let conflicts: Vec<String> = st["conflicts"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    for p in ["a:", "b:", "c:", "only-a:", "only-b:"] {
        assert!(conflicts.iter().any(|c| c.starts_with(p)), "{p} not among the conflicts {conflicts:?}");
    }
    assert!(!conflicts.iter().any(|c| c.starts_with("d")), "{conflicts:?}");
    let (code, out, _) = s.ctl(&["recover"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("conflict ")).count(), conflicts.len(), "{out}");
    assert_eq!(fs::read_to_string(s.primary().join("a")).unwrap(), "from-a\n");

    // A new program of a host that believes both members are written must not start.
    let c = other_host(&s, "c");
    let refused = under(&c, "echo should-not-run > /shadow/x");
    assert_eq!(refused.status.code(), Some(125), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("split brain"), "{refused:?}");
    assert!(!s.primary().join("x").exists() && !s.secondary().join("x").exists());

    // One path by one policy, then the rest by another.
    let (code, out, err) = s.ctl(&["recover", "--prefer", "secondary", "/shadow/b"]);
    assert_eq!(code, 1, "conflicts remain: {out}{err}");
    assert!(out.contains("settled /shadow/b: kept the secondary version"), "{out}");
    assert_eq!(fs::read_to_string(s.primary().join("b")).unwrap(), "from-b\n");
    let (code, out, err) = s.ctl(&["recover", "--prefer", "bigger", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["split_brain"], false, "{out}");
    // bigger: B's longer `a`; `c` exists on the primary only, and an existing version beats an absent one.
    assert_eq!(fs::read_to_string(s.primary().join("a")).unwrap(), "from b, longer than a\n");
    assert_eq!(fs::read_to_string(s.secondary().join("c")).unwrap(), "base\n");
    assert!(s.primary().join("only-b").exists() && s.secondary().join("only-a").exists());
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert_eq!(st["stamps"], "in step");
    assert!(st["members"].as_array().unwrap().iter().all(|m| m["state"] == "enabled"), "{st}");
    assert_eq!(s.ctl(&["verify"]).0, 0);

    // Whole again: programs write both members.
    ok(under(&a, "echo after > /shadow/after"));
    assert_eq!(fs::read_to_string(s.secondary().join("after")).unwrap(), "after\n");
    assert_eq!(s.ctl(&["verify"]).0, 0);
}

#[test]
fn a_member_written_alone_elsewhere_is_followed_not_overwritten() {
    let s = ShadowSet::new();
    let a = s.config();
    let b = other_host(&s, "b");
    ok(under(&a, "echo base > /shadow/f"));
    assert_eq!(ctl(&b, &["disable", "primary"]).0, 0);
    ok(under(&b, "echo newer > /shadow/f; echo b > /shadow/g"));

    // Host A still thinks both are written: its programs must not start and overwrite B's work.
    let refused = under(&a, "echo x > /shadow/f");
    assert_eq!(refused.status.code(), Some(125), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("secondary member"), "{refused:?}");
    assert_eq!(fs::read_to_string(s.secondary().join("f")).unwrap(), "newer\n");

    // recover follows the member that moved on.
    let (code, out, err) = s.ctl(&["recover"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("settled /shadow/f: kept the secondary version"), "{out}");
    assert_eq!(fs::read_to_string(s.primary().join("g")).unwrap(), "b\n");
    assert_eq!(s.ctl(&["verify"]).0, 0);
    ok(under(&a, "echo y > /shadow/h"));
    assert_eq!(s.ctl(&["verify"]).0, 0);
}

#[test]
fn a_damaged_stamp_is_reported_not_trusted() {
    let s = ShadowSet::new();
    s.sh("echo x > /shadow/x");
    let st = Command::new("setfattr").args(["-n", "user.libshadow.stamp", "-v", "garbage"]).arg(s.secondary()).status();
    if !st.is_ok_and(|s| s.success()) {
        // No setfattr: write the attribute with python3, which the machine has.
        let py = format!("import os; os.setxattr('{}', 'user.libshadow.stamp', b'garbage')", s.secondary().display());
        assert!(Command::new("python3").args(["-c", &py]).status().unwrap().success());
    }
    let (code, out, err) = s.ctl(&["recover"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("member stamp") && err.contains(&*s.secondary().to_string_lossy()), "names the member and the stamp: {err}");
    assert!(s.ctl_ok(&["status"]).contains("stamps: unreadable"), "status shows it");
    let refused = s.command("/bin/true").output().unwrap();
    assert_eq!(refused.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("member stamp"), "{refused:?}");
}

#[test]
fn recover_with_a_crash_in_the_journal_follows_the_member_written_elsewhere() {
    let s = ShadowSet::new();
    let a = s.config();
    let b = other_host(&s, "b");
    ok(under(&a, "mkdir /shadow/d; echo base > /shadow/d/f"));
    // A program of host A dies holding d/ in flight (both members written then).
    s.kill_9_when_ready("exec 3>>/shadow/d/f; echo more >&3; : > /shadow/ready; sleep 60; true");
    // Host B, which lost the primary, rewrites d/f on the secondary alone.
    assert_eq!(ctl(&b, &["disable", "primary"]).0, 0);
    ok(under(&b, "echo from-b > /shadow/d/f; echo b > /shadow/d/g"));
    // Host A's recover must repair d/ from the secondary (its stamp moved on), not from the
    // primary its own generations would pick: B's work is the newer.
    let (code, out, err) = s.ctl(&["recover"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fs::read_to_string(s.primary().join("d/f")).unwrap(), "from-b\n", "{out}{err}");
    assert_eq!(fs::read_to_string(s.primary().join("d/g")).unwrap(), "b\n");
    assert_eq!(s.ctl(&["verify"]).0, 0);
}
