//! Test harness: one temporary shadow set per test, programs run under libshadow.so, and
//! member trees compared with the same code `shadowctl verify` uses. On failure it prints
//! the command, its output, and both member trees.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the Makefile put libshadow.so (LIBSHADOW overrides).
pub fn lib_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LIBSHADOW") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let p = root.join("target/release/libshadow.so");
    assert!(p.exists(), "{} is missing: run `make` first (or set LIBSHADOW)", p.display());
    p
}

pub fn bin_dir() -> PathBuf {
    lib_path().parent().unwrap().to_path_buf()
}

/// Whether the tests run with write-behind on (SHADOW_TEST_WRITE_BEHIND=1).
pub fn write_behind() -> bool {
    std::env::var_os("SHADOW_TEST_WRITE_BEHIND").is_some_and(|v| v == "1")
}

pub struct ShadowSet {
    pub dir: tempfile::TempDir,
    pub prefix: String,
}

impl ShadowSet {
    pub fn new() -> ShadowSet {
        ShadowSet::new_in(&std::env::temp_dir())
    }

    /// Like `new`, with the set's directories made under `parent` (e.g. a tmpfs) instead of
    /// the default temporary directory.
    pub fn new_in(parent: &Path) -> ShadowSet {
        let dir = tempfile::Builder::new().prefix("shadow-test-").tempdir_in(parent).unwrap();
        for d in ["primary", "secondary"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        let set = ShadowSet { dir, prefix: "/shadow".into() };
        fs::write(set.config(), set.config_text()).unwrap();
        set
    }

    /// The set's config; with SHADOW_TEST_WRITE_BEHIND=1 in the environment (the Makefile
    /// runs the crash and failure tests so, a second time) write-behind is on.
    pub fn config_text(&self) -> String {
        let write_behind = if write_behind() { "write_behind = true\n" } else { "" };
        format!(
            "prefix = \"{}\"\nprimary = \"{}\"\nsecondary = \"{}\"\nstate_dir = \"{}\"\n{write_behind}",
            self.prefix,
            self.primary().display(),
            self.secondary().display(),
            self.state().display()
        )
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("app.toml")
    }
    pub fn primary(&self) -> PathBuf {
        self.dir.path().join("primary")
    }
    pub fn secondary(&self) -> PathBuf {
        self.dir.path().join("secondary")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    /// A scratch directory outside the set.
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// A command that runs under the shim with this set's config.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SHADOW_CONFIG", self.config()).env("LD_PRELOAD", lib_path());
        c
    }

    /// Runs `sh -c script` under the shim and requires success.
    pub fn sh(&self, script: &str) -> Output {
        let out = self.command("/bin/sh").arg("-c").arg(script).output().unwrap();
        if !out.status.success() {
            panic!("{}", self.explain(&format!("sh -c {script:?} failed: {}", out.status), Some(&out)));
        }
        out
    }

    /// Runs bash with a script under the shim and requires success.
    pub fn bash(&self, script: &str) -> Output {
        let out = self.command("/bin/bash").arg("-c").arg(script).output().unwrap();
        if !out.status.success() {
            panic!("{}", self.explain(&format!("bash -c {script:?} failed: {}", out.status), Some(&out)));
        }
        out
    }

    pub fn history(&self) -> String {
        fs::read_to_string(self.state().join("history.log")).unwrap_or_default()
    }

    /// Both members identical, and nothing reported in the history log.
    pub fn assert_mirrored(&self) {
        self.assert_members_and_history(|_| false);
    }

    /// Both members identical; history records other than `allowed` ones fail the test.
    pub fn assert_members_and_history(&self, allowed: impl Fn(&str) -> bool) {
        let diffs = shadow_core::tree::compare(&self.primary(), &self.secondary()).unwrap();
        if !diffs.is_empty() {
            let list: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
            panic!("{}", self.explain(&format!("members differ:\n  {}", list.join("\n  ")), None));
        }
        let history = self.history();
        let unexpected: Vec<&str> = history.lines().filter(|l| !allowed(l)).collect();
        assert!(unexpected.is_empty(), "{}", self.explain(&format!("unexpected history:\n{}", unexpected.join("\n")), None));
    }

    /// Reads a file through the primary member (what the program saw).
    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.primary().join(rel)).unwrap_or_else(|e| panic!("{}", self.explain(&format!("read {rel}: {e}"), None)))
    }

    fn explain(&self, what: &str, out: Option<&Output>) -> String {
        let mut s = format!("{what}\n");
        if let Some(o) = out {
            s += &format!("--- stdout\n{}\n--- stderr\n{}\n", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        }
        for (name, root) in [("primary", self.primary()), ("secondary", self.secondary())] {
            s += &format!("--- {name} ({})\n{}", root.display(), listing(&root));
        }
        s
    }
}

impl Default for ShadowSet {
    fn default() -> Self {
        ShadowSet::new()
    }
}

/// `ls -lR`-like listing for failure messages.
pub fn listing(root: &Path) -> String {
    let out = Command::new("ls").arg("-lAR").arg("--time-style=+").arg(root).output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => format!("(ls failed: {e})\n"),
    }
}

impl ShadowSet {
    /// Runs shadowctl with this set's config; returns (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(bin_dir().join("shadowctl"))
            .args(args)
            .arg("-c")
            .arg(self.config())
            .env_remove("LD_PRELOAD")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// shadowctl that must succeed.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 0, "shadowctl {args:?} failed:\n{out}\n{err}");
        out
    }

    /// Runs `script` under the shim in its own process group (bash itself stays the writer:
    /// the script ends in `; true`, so bash does not exec its last command), waits until it
    /// created /shadow/ready, and kill -9s the group. Returns the writer's pid.
    pub fn kill_9_when_ready(&self, script: &str) -> u32 {
        let mut victim = self.kill_9_unreaped(script);
        victim.wait().unwrap();
        victim.id()
    }

    /// `kill_9_when_ready`, the victim left a zombie (not waited for) until the caller waits.
    pub fn kill_9_unreaped(&self, script: &str) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let victim = self.command("/bin/bash").arg("-c").arg(script).process_group(0).spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.secondary().join("ready").exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        unsafe { libc::kill(-(victim.id() as i32), libc::SIGKILL) };
        victim
    }

    /// A script (in tests/scripts), run by bash under `runner` (a command prefix such as
    /// `unshare -m`, or none), with this set in its environment: P and S (the members), CFG,
    /// LIB (the shim), CTL (shadowctl) and T (a scratch directory).
    pub fn script(&self, name: &str, runner: &[&str]) -> Command {
        let mut c = match runner.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg("bash");
                c
            }
            None => Command::new("bash"),
        };
        c.arg(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR")))
            .env("P", self.primary())
            .env("S", self.secondary())
            .env("CFG", self.config())
            .env("LIB", lib_path())
            .env("CTL", bin_dir().join("shadowctl"))
            .env("T", self.scratch());
        c
    }

    /// Members identical (history may hold member-state records).
    pub fn assert_identical(&self) {
        self.assert_members_and_history(|l| l.starts_with("00070 "));
    }
}
