//! Issue #4: writes while a member is disabled, then `shadowctl enable --update dirty`.
//! On a tree of 10,000 files, a known set of changes is made through the shim with the
//! secondary disabled; the rebuild from the change list must leave identical members and
//! copy exactly the files that changed (and remove exactly what went away): its cost is
//! what changed, not the size of the tree. A full copy would report ~10,000 files.

use shadow_tests::ShadowSet;
use std::fs;
use std::path::Path;
use std::process::Command;

/// 100 directories x 100 files (`t/dNN/fNNN`, a line each) and two empty directories,
/// made directly in both members (the same names, contents and modes): through the shim
/// each of the 10,000 creates would also fdatasync the journal, for nothing this test
/// looks at.
fn build_tree(s: &ShadowSet) {
    let t = s.primary().join("t");
    fs::create_dir(&t).unwrap();
    for d in 0..100 {
        let dir = t.join(format!("d{d:02}"));
        fs::create_dir(&dir).unwrap();
        for i in 0..100 {
            fs::write(dir.join(format!("f{i:03}")), format!("file {d} {i}\n")).unwrap();
        }
    }
    fs::create_dir(t.join("empty0")).unwrap();
    fs::create_dir(t.join("empty1")).unwrap();
    // The same tree on the secondary, times and all.
    run_ok("cp -a", Command::new("cp").arg("-a").arg(&t).arg(s.secondary()));
}

/// Runs a command (under the shim or not) that must succeed; a short message on failure
/// (ShadowSet's own would list both 10,000-file trees).
fn run_ok(what: &str, c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python(s: &ShadowSet, what: &str, script: &str) {
    run_ok(what, s.command("python3").arg("-c").arg(script));
}

fn shell(s: &ShadowSet, what: &str, script: &str) {
    run_ok(what, s.command("/bin/sh").arg("-c").arg(format!("set -e\n{script}")));
}

fn member_state(s: &ShadowSet, member: usize) -> serde_json::Value {
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    st["members"][member].clone()
}

/// Files the rebuild must copy (regular files and symlinks: `files` counts both; `bytes`
/// only the regular files' contents) and entries it must remove.
#[derive(Default)]
struct Expected {
    copied: Vec<String>,
    /// Of those, files only written in place, with the bytes their writes changed.
    written: Vec<(String, u64)>,
    removed: u64,
}

impl Expected {
    fn copy(&mut self, rel: impl Into<String>) {
        self.copied.push(rel.into());
    }
    /// A file its opens only wrote, copied by the `bytes` they changed (README: "A write
    /// while the member is away names its bytes too").
    fn written(&mut self, rel: impl Into<String>, bytes: u64) {
        let rel = rel.into();
        self.copied.push(rel.clone());
        self.written.push((rel, bytes));
    }
    /// Bytes of the copied paths as the primary has them now (symlinks count 0), or as
    /// their writes changed them.
    fn bytes(&self, primary: &Path) -> u64 {
        self.copied
            .iter()
            .map(|rel| match self.written.iter().find(|(w, _)| w == rel) {
                Some((_, n)) => *n,
                None => {
                    let m = fs::symlink_metadata(primary.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
                    if m.file_type().is_symlink() { 0 } else { m.len() }
                }
            })
            .sum()
    }
}

/// The set for the 10,000-file tree: on /dev/shm when there is one. On this project's
/// ext4 (no journal) /tmp, creating files soon after many were deleted nearby (the other
/// tests' churn) is slow: 10,000 creates took 0.5 s on a quiet /tmp and 9-13 s right after
/// other tests ran (ext4 skips recently deleted inodes); on tmpfs they take 0.4 s.
fn big_tree_set() -> ShadowSet {
    let shm = Path::new("/dev/shm");
    let usable = fs::metadata(shm).is_ok_and(|m| m.is_dir()) && tempfile::tempdir_in(shm).is_ok();
    if usable { ShadowSet::new_in(shm) } else { ShadowSet::new() }
}

#[test]
fn degraded_writes_then_dirty_enable_copies_only_what_changed() {
    let s = big_tree_set();
    let t0 = std::time::Instant::now();

    // 10,000 files in both members; shadowctl must find them identical to start with.
    build_tree(&s);
    let (code, out, err) = s.ctl(&["verify"]);
    assert_eq!(code, 0, "members differ after the build:\n{out}\n{err}");
    assert!(err.contains("0 difference(s)"), "{err}");
    let t_build = t0.elapsed();
    let files_in_tree = walk_count(&s.secondary().join("t"));
    assert_eq!(files_in_tree, 10_000 + 100 + 2, "the secondary holds the whole tree");

    s.ctl_ok(&["disable", "secondary"]);
    assert_eq!(member_state(&s, 1)["state"], "disabled");

    // The changes, each counted as what bringing the secondary back must do. The sets of
    // paths are disjoint (one kind of change per directory), so nothing counts twice.
    let mut x = Expected::default();
    python(
        &s,
        "degraded changes (python)",
        r#"
import os
T = "/shadow/t"
for i in range(20):                       # rewritten (O_CREAT|O_TRUNC)
    with open(f"{T}/d00/f{i:03d}", "w") as f: f.write(f"rewritten {i}\n")
for i in range(20):                       # appended (O_APPEND)
    with open(f"{T}/d01/f{i:03d}", "a") as f: f.write("appended\n")
for i in range(10):                       # written in place: no O_CREAT, no O_TRUNC
    fd = os.open(f"{T}/d02/f{i:03d}", os.O_WRONLY)
    os.pwrite(fd, b"XY", 2)
    os.close(fd)
with open(f"{T}/d03/f000", "w") as f: f.write("first\n")    # changed three times
with open(f"{T}/d03/f000", "a") as f: f.write("second\n")
os.chmod(f"{T}/d03/f000", 0o640)
for i in range(30):                       # created in existing directories
    with open(f"{T}/d10/n{i:03d}", "w") as f: f.write(f"new {i}\n" * (i + 1))
with open(f"{T}/d10/transient", "w") as f: f.write("gone before the enable\n")
os.unlink(f"{T}/d10/transient")           # created and deleted: nothing to do
for i in range(20):                       # deleted
    os.unlink(f"{T}/d20/f{i:03d}")
"#,
    );
    (0..20).for_each(|i| x.copy(format!("t/d00/f{i:03}")));
    (0..20).for_each(|i| x.written(format!("t/d01/f{i:03}"), "appended\n".len() as u64));
    (0..10).for_each(|i| x.written(format!("t/d02/f{i:03}"), 2));
    x.copy("t/d03/f000"); // the change list holds a path once however often it changed
    (0..30).for_each(|i| x.copy(format!("t/d10/n{i:03}")));
    x.removed += 20;

    shell(
        &s,
        "degraded changes (coreutils)",
        r#"
T=/shadow/t
echo created > $T/d11/s000
dd if=/dev/zero of=$T/d04/f000 bs=1 count=3 seek=1 conv=notrunc,nocreat status=none
truncate -s 2 $T/d04/f001
touch -d 2001-01-01 $T/d04/f002
rm $T/d21/f000 $T/d21/f001 $T/d21/f002 $T/d21/f003 $T/d21/f004
mv $T/d30/f000 $T/d30/r000
mv $T/d30/f001 $T/d30/r001
mv $T/d30/f002 $T/d30/r002
mv $T/d30/f010 $T/d30/f011
mv $T/d99 $T/moved99
chmod 600 $T/d31/f000
mkdir $T/newdir1 $T/newdir2
rmdir $T/empty0 $T/empty1
mkdir $T/transient && rmdir $T/transient
ln -s f000 $T/d32/link0
ln -s ../d00 $T/d32/link1
"#,
    );
    x.copy("t/d11/s000");
    // Contents changed without O_TRUNC (its three bytes copied), size changed, only the
    // times changed (its metadata copied, no byte): each is a changed file, copied once.
    x.written("t/d04/f000", 3);
    x.copy("t/d04/f001");
    x.written("t/d04/f002", 0);
    x.removed += 5;
    // A rename is made again on the secondary (the file keeps its identity there), then
    // its new name is copied (one file), no removal; over an existing file (f010 -> f011)
    // the same.
    for new in ["r000", "r001", "r002", "f011"] {
        x.copy(format!("t/d30/{new}"));
    }
    // A renamed directory likewise, then copied whole under its new name (100 files), as
    // what changed in it is named by its old paths.
    (0..100).for_each(|i| x.copy(format!("t/moved99/f{i:03}")));
    // A chmod: the file's metadata copied (one file, no byte).
    x.written("t/d31/f000", 0);
    // New empty directories are created, not copied (`files` counts no directory); the two
    // removed ones are two removals; one made and removed meanwhile costs nothing.
    x.removed += 2;
    // Symlinks are copied as entries (one file each, no bytes).
    x.copy("t/d32/link0");
    x.copy("t/d32/link1");

    let t_changes = t0.elapsed();
    // The secondary really is behind (the changes reached the primary only).
    let (code, out, _) = s.ctl(&["verify"]);
    assert_eq!(code, 1, "verify must find the disabled secondary stale:\n{out}");
    assert!(out.contains("moved99"), "{out}");

    let t_stale = t0.elapsed();
    let (code, out, err) = s.ctl(&["enable", "secondary", "--update", "dirty", "--json"]);
    let t_enable = t0.elapsed();
    assert_eq!(code, 0, "enable failed:\n{out}\n{err}");
    assert!(!err.contains("newer"), "enable fell back to a full scan: {err}");
    let last = out.lines().last().unwrap_or_default();
    let r: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(r["member"], "secondary", "{out}");
    assert_eq!(r["update"], "dirty", "{out}");
    let changed = x.copied.len() as u64;
    assert_eq!(
        (r["files"].as_u64().unwrap(), r["removed"].as_u64().unwrap()),
        (changed, x.removed),
        "(files copied, entries removed) must be exactly what changed, of a {files_in_tree}-entry tree: {out}"
    );
    assert_eq!(r["bytes"].as_u64().unwrap(), x.bytes(&s.primary()), "bytes copied: the changed files' sizes, each copied once: {out}");

    let (code, out, err) = s.ctl(&["verify"]);
    assert_eq!(code, 0, "members differ after enable --update dirty:\n{out}\n{err}");
    let diffs = shadow_core::tree::compare(&s.primary(), &s.secondary()).unwrap();
    assert!(diffs.is_empty(), "{:?}", &diffs[..diffs.len().min(20)]);
    let (p, q) = (member_state(&s, 0), member_state(&s, 1));
    assert_eq!(q["state"], "enabled");
    assert_eq!(p["generation"], q["generation"]);
    let history = s.history();
    assert!(history.lines().all(|l| l.starts_with("00070 ")), "nothing but member changes in the history:\n{history}");
    // Both members written again.
    shell(&s, "writing after the enable", "echo back > /shadow/t/after");
    assert_eq!(fs::read(s.secondary().join("t/after")).unwrap(), b"back\n");
    eprintln!(
        "degraded: {files_in_tree}-entry tree, {changed} files copied and {} entries removed by enable --update dirty \
         (at {:.1?} built and verified, {:.1?} changed, {:.1?} found stale, {:.1?} enabled, {:.1?} in all)",
        x.removed,
        t_build,
        t_changes,
        t_stale,
        t_enable,
        t0.elapsed()
    );
}

/// Files created in a directory that was itself created while the secondary was away: the
/// change list names the directory and each file, and each file must be copied once.
#[test]
fn files_in_a_new_directory_are_copied_once() {
    let s = ShadowSet::new();
    s.sh("mkdir /shadow/old && echo a > /shadow/old/a");
    s.ctl_ok(&["disable", "secondary"]);
    s.sh("mkdir /shadow/new && for i in 1 2 3 4 5; do echo file$i > /shadow/new/f$i; done");
    let out = s.ctl_ok(&["enable", "secondary", "--update", "dirty", "--json"]);
    let r: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(s.ctl(&["verify"]).0, 0);
    assert_eq!((r["files"].as_u64(), r["bytes"].as_u64(), r["removed"].as_u64()), (Some(5), Some(30), Some(0)), "5 new files of 6 bytes, each copied once: {out}");
}

/// Entries (files and directories) below `dir`.
fn walk_count(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().map(|e| e.unwrap()).map(|e| 1 + if e.file_type().unwrap().is_dir() { walk_count(&e.path()) } else { 0 }).sum()
}
