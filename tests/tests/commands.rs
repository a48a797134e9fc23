//! Every command line the documentation and the tools print is run as printed: the ones in
//! README's code and in its inline code that are complete (no placeholder), `--help` of every
//! shadowctl command, and the command the shim tells the user to run after a crash. Options
//! go before or after the command name (`shadowctl -c CONFIG recover`).

use shadow_tests::{bin_dir, lib_path, ShadowSet};
use std::process::{Command, Output};

/// README's command lines: each shell code block that runs shadowctl or shadow-run, whole
/// (continuations joined, comments cut: a block is a sequence, like the online backup), and
/// inline code that starts with them and names nothing to fill in.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let ours = |c: &str| c.starts_with("shadowctl ") || c.starts_with("shadow-run ") || c.starts_with("SHADOW_CONFIG=");
    let placeholder = |c: &str| c.contains('[') || c.contains('|') || c.split_whitespace().any(|w| w.len() > 1 && w.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_' || ch == '.' || ch == '…'));
    let mut out = Vec::new();
    let mut block: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(lines) if lines.iter().any(|l| ours(l)) => out.push(lines.join("\n")),
                Some(_) => {}
                None => block = Some(Vec::new()),
            }
            continue;
        }
        match &mut block {
            Some(lines) => {
                let code = line.split(" #").next().unwrap_or("").trim();
                if code.starts_with('#') {
                    continue;
                }
                pending.push_str(code.trim_end_matches('\\'));
                if code.ends_with('\\') {
                    pending.push(' ');
                    continue;
                }
                lines.push(std::mem::take(&mut pending).trim().to_string());
            }
            None => out.extend(line.split('`').skip(1).step_by(2).map(|c| c.trim().to_string()).filter(|c| ours(c) && !placeholder(c))),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs a printed command line in bash on a fresh set, with the example paths it names
/// turned into the set's; a program that would run forever is stopped after a second.
fn run_printed(line: &str) -> (Output, ShadowSet) {
    let s = ShadowSet::new();
    let cfg = s.config().display().to_string();
    let line = line
        .replace("/etc/shadow/myprogram.toml", &cfg)
        .replace("/etc/shadow/app.toml", &cfg)
        .replace("/path/app.toml", &cfg)
        .replace("/disk1/app", &s.primary().display().to_string())
        .replace("/mnt/nfs/app", &s.secondary().display().to_string())
        .replace("/var/lib/app-shadow", &s.state().display().to_string())
        .replace("/usr/local/lib/libshadow.so", &lib_path().display().to_string())
        .replace("myprogram args…", "true")
        .replace("myprogram", "true")
        .replace("/mnt/secondary", &s.secondary().display().to_string())
        .replace("/backup/app", &s.scratch().join("backup").display().to_string());
    let out = Command::new("timeout")
        .args(["5", "bash", "-c", &line])
        .env("PATH", format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default()))
        .env("SHADOW_CONFIG", s.config())
        .env("LIBSHADOW", lib_path())
        .output()
        .unwrap();
    (out, s)
}

/// A command line the parser did not take (clap's own words), as opposed to a refusal.
fn usage_error(out: &Output) -> Option<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    let clap = ["error: unexpected argument", "error: unrecognized subcommand", "error: invalid value", "error: the following required arguments", "Usage: "];
    clap.iter().any(|w| err.contains(w)).then(|| err.into_owned())
}

#[test]
fn every_command_line_in_readme_runs_as_printed() {
    let cmds = readme_commands();
    assert!(cmds.len() >= 8, "README's command lines were not found: {cmds:?}");
    for line in &cmds {
        let (out, _set) = run_printed(line);
        if let Some(err) = usage_error(&out) {
            panic!("README's `{line}` is not taken as printed:\n{err}");
        }
        let code = out.status.code().unwrap_or(-1);
        // 124: a monitor stopped by the timeout; 1: verify or wait saying "not now".
        assert!(matches!(code, 0 | 1 | 124), "README's `{line}` failed ({code}):\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn global_options_go_before_or_after_the_command() {
    let s = ShadowSet::new();
    let ctl = bin_dir().join("shadowctl");
    let cfg = s.config();
    for args in [vec!["-c", cfg.to_str().unwrap(), "status"], vec!["status", "-c", cfg.to_str().unwrap()], vec!["--json", "-c", cfg.to_str().unwrap(), "status"], vec!["-c", cfg.to_str().unwrap(), "recover", "--quiet"], vec!["--quiet", "recover", "--config", cfg.to_str().unwrap()]] {
        let out = Command::new(&ctl).args(&args).env_remove("SHADOW_CONFIG").output().unwrap();
        assert!(out.status.success(), "shadowctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(&ctl).args(["--json", "-c", cfg.to_str().unwrap(), "history"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json does not apply to `history`"));
}

#[test]
fn every_help_prints() {
    let ctl = bin_dir().join("shadowctl");
    let top = Command::new(&ctl).arg("--help").output().unwrap();
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    let commands: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1).take_while(|l| l.starts_with("  ")).filter_map(|l| l.split_whitespace().next()).filter(|c| *c != "help").collect();
    assert!(commands.len() >= 12, "{text}");
    for c in commands {
        let out = Command::new(&ctl).args([c, "--help"]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("-c, --config"), "shadowctl {c} --help:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let run = Command::new(bin_dir().join("shadow-run")).arg("--help").output().unwrap();
    assert!(run.status.success() && String::from_utf8_lossy(&run.stdout).contains("--prefix"));
}

#[test]
fn the_command_the_shim_prints_after_a_crash_runs_as_printed() {
    let s = ShadowSet::new();
    s.kill_9_when_ready("exec 3>/shadow/held; echo x >&3; : > /shadow/ready; sleep 60; true");
    // The next program is told what to run.
    let out = s.command("/bin/true").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let printed = err.split('`').nth(1).unwrap_or_else(|| panic!("no command in: {err}")).to_string();
    assert!(printed.starts_with("shadowctl -c "), "{printed}");
    let run = Command::new("bash").args(["-c", &printed]).env("PATH", format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default())).output().unwrap();
    assert!(run.status.success(), "`{printed}`: {}", String::from_utf8_lossy(&run.stderr));
    s.assert_members_and_history(|l| l.starts_with("00101 ") || l.starts_with("00100 "));
}
