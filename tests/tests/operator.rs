//! What an operator gets: man pages and completions from `make install`, a Debian package
//! that installs and runs, and metrics in the Prometheus text format (parsed here with the
//! Prometheus project's own Python parser).

use shadow_tests::{bin_dir, lib_path, ShadowSet};
use std::fs;
use std::path::Path;
use std::process::Command;

fn root_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn ok(what: &str, c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn make_install_puts_man_pages_completions_and_the_unit_where_they_are_found() {
    let dest = tempfile::tempdir().unwrap();
    ok("make install-files", Command::new("make").current_dir(root_dir()).args(["-s", "install-files", "PREFIX=/usr/local"]).arg(format!("DESTDIR={}", dest.path().display())));
    let share = dest.path().join("usr/local/share");
    for page in ["shadowctl", "shadowctl-verify", "shadowctl-recover", "shadow-run", "shadow.toml"] {
        let text = ok(&format!("man {page}"), Command::new("man").arg("-M").arg(share.join("man")).arg(page).env("MANPAGER", "cat").env("MANWIDTH", "100"));
        assert!(text.contains("NAME") && text.to_lowercase().contains(page), "man {page}:\n{text}");
    }
    let toml = ok("man shadow.toml", Command::new("man").arg("-M").arg(share.join("man")).args(["5", "shadow.toml"]).env("MANPAGER", "cat"));
    for (key, _) in shadow_core::config::KEYS {
        assert!(toml.contains(key), "shadow.toml(5) lacks {key}");
    }
    assert!(toml.contains("00120") && toml.contains("metrics.prom"), "{toml}");
    let completion = share.join("bash-completion/completions/shadowctl");
    let loaded = ok("bash completion", Command::new("bash").arg("-c").arg(format!("source {}; complete -p shadowctl; COMP_WORDS=(shadowctl ver); COMP_CWORD=1; _shadowctl shadowctl ver shadowctl; echo \"${{COMPREPLY[@]}}\"", completion.display())));
    assert!(loaded.contains("complete") && loaded.contains("verify"), "{loaded}");
    let unit = fs::read_to_string(dest.path().join("usr/local/lib/systemd/system/shadowctl-watch@.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/shadowctl watch"), "{unit}");
}

#[test]
fn the_package_installs_and_shadow_run_runs_from_it() {
    ok("make package-files", Command::new("make").current_dir(root_dir()).args(["-s", "package-files"]));
    let deb = fs::read_dir(root_dir().join("target")).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "deb")).expect("no .deb in target/");
    let root = tempfile::tempdir().unwrap();
    ok("dpkg -x", Command::new("dpkg").arg("-x").arg(&deb).arg(root.path()));
    let s = ShadowSet::new();
    let usr = root.path().join("usr");
    let script = "echo packaged > /shadow/p && cat /shadow/p";
    let out = ok(
        "shadow-run from the package",
        Command::new(usr.join("bin/shadow-run"))
            .args(["--prefix", "/shadow", "--primary"])
            .arg(s.primary())
            .arg("--secondary")
            .arg(s.secondary())
            .arg("--state-dir")
            .arg(s.scratch().join("state"))
            .args(["--", "sh", "-c", script])
            .env("LIBSHADOW", usr.join("lib/libshadow.so")),
    );
    assert_eq!(out, "packaged\n");
    assert_eq!(fs::read(s.secondary().join("p")).unwrap(), b"packaged\n");
    let page = ok("man -l", Command::new("man").arg("-l").arg(usr.join("share/man/man8/shadowctl.8.gz")).env("MANPAGER", "cat"));
    assert!(page.contains("shadowctl"));
}

/// Parses Prometheus text with prometheus_client (`make test-deps`); prints `name labels value`.
const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(s.name, labels, s.value)
"#;

fn parsed(text: &str) -> Vec<(String, String, f64)> {
    let mut child = Command::new("python3").args(["-c", PARSE]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not Prometheus text format: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            (it.next().unwrap().to_string(), it.next().unwrap().to_string(), it.next().unwrap().parse().unwrap())
        })
        .collect()
}

fn value(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
    samples.iter().find(|(n, l, _)| n == name && l == labels).unwrap_or_else(|| panic!("no {name}{{{labels}}} in {samples:?}")).2
}

#[test]
fn status_and_watch_speak_prometheus() {
    let s = ShadowSet::new();
    s.sh("echo x > /shadow/f");
    let m = parsed(&s.ctl_ok(&["status", "--prometheus"]));
    assert_eq!(value(&m, "libshadow_member_state", "member=secondary,set=/shadow,state=enabled"), 1.0);
    assert_eq!(value(&m, "libshadow_member_generation", "member=primary,set=/shadow"), 1.0);
    assert!(value(&m, "libshadow_journal_bytes", "set=/shadow") > 0.0);
    s.ctl_ok(&["disable", "secondary"]);
    let m = parsed(&s.ctl_ok(&["status", "--prometheus"]));
    assert_eq!(value(&m, "libshadow_member_state", "member=secondary,set=/shadow,state=disabled"), 1.0);
    assert_eq!(value(&m, "libshadow_member_state", "member=secondary,set=/shadow,state=enabled"), 0.0);
    // watch rewrites STATE_DIR/metrics.prom at every status rewrite.
    let mut watch = Command::new(bin_dir().join("shadowctl")).args(["watch", "--interval", "1", "-c"]).arg(s.config()).spawn().unwrap();
    let file = s.state().join("metrics.prom");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !file.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) };
    assert!(watch.wait().unwrap().success());
    let m = parsed(&fs::read_to_string(&file).unwrap());
    assert_eq!(value(&m, "libshadow_member_state", "member=secondary,set=/shadow,state=disabled"), 1.0);
    assert_eq!(value(&m, "libshadow_processes", "set=/shadow"), 0.0);
}

#[test]
fn a_failed_member_shows_how_long_it_has_been_failed() {
    if unsafe { libc::geteuid() } != 0 || !Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must run this as root with unshare -m");
        eprintln!("\n*** NOT RUN: needs root and `unshare -m` to fill a tmpfs secondary (CI runs it) ***\n");
        return;
    }
    let s = ShadowSet::new();
    // A secondary that fills up: the write that finds it full fails the member.
    let script = format!(
        "set -e; mount -t tmpfs -o size=64k tmpfs {sec}; SHADOW_CONFIG={cfg} LD_PRELOAD={lib} sh -c 'head -c 200000 /dev/zero > /shadow/big'; {ctl} status --prometheus -c {cfg}",
        sec = s.secondary().display(),
        cfg = s.config().display(),
        lib = lib_path().display(),
        ctl = bin_dir().join("shadowctl").display()
    );
    let out = ok("fill the secondary", Command::new("unshare").args(["-m", "--propagation", "private", "bash", "-c", &script]));
    let m = parsed(&out);
    assert_eq!(value(&m, "libshadow_member_state", "member=secondary,set=/shadow,state=failed"), 1.0);
    let since = value(&m, "libshadow_member_failed_seconds", "member=secondary,set=/shadow");
    assert!((0.0..60.0).contains(&since), "{since}");
    assert_eq!(value(&m, "libshadow_member_failed_seconds", "member=primary,set=/shadow"), 0.0);
}
