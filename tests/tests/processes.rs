//! Many processes on one set: SQLite in WAL mode with several writers and readers,
//! thousands of processes that `disable` must all wait for, programs whose malloc is
//! jemalloc, tcmalloc or mimalloc (rustc among them), a cargo build, git's whole life cycle
//! (lock files renamed into place, packs, gc, clone, a repack with a worker per core).
//! After each, the members are compared.

use shadow_tests::{lib_path, ShadowSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writers insert, readers count, all at once for `secs`, each in its own process.
const SQLITE_WORKER: &str = r#"
import os, sqlite3, sys, time
db, role, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + secs
c = sqlite3.connect(db, timeout=60)
n = 0
while time.time() < end:
    try:
        if role == "w":
            c.execute("INSERT INTO t(v) VALUES (?)", (os.urandom(64).hex(),))
            c.commit()
        else:
            c.execute("SELECT count(*), max(id) FROM t").fetchone()
        n += 1
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
# One write(2) per line: under PYTHONUNBUFFERED print() writes its pieces one by one, and
# six processes share the pipe.
os.write(1, f"{role} {n}\n".encode())
"#;

#[test]
fn sqlite_wal_four_writers_two_readers() {
    let s = ShadowSet::new();
    let worker = s.scratch().join("worker.py");
    fs::write(&worker, SQLITE_WORKER).unwrap();
    let secs = std::env::var("SHADOW_SQLITE_SECONDS").unwrap_or_else(|_| "30".into());
    let script = format!(
        "set -e
python3 -c 'import sqlite3; c = sqlite3.connect(\"/shadow/db\"); c.execute(\"PRAGMA journal_mode=WAL\"); c.execute(\"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)\"); c.commit()'
pids=
for role in w w w w r r; do python3 {w} /shadow/db $role {secs} & pids=\"$pids $!\"; done
for p in $pids; do wait $p; done",
        w = worker.display()
    );
    let out = s.bash(&script);
    let text = stdout_of(&out) + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("libshadow:"), "the shim reported: {text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("w ")).count(), 4, "every writer finished (no SIGBUS): {text}");
    // Compared first, then each member checked on a copy: when the last two connections
    // close at once, each sees the other's lock and neither checkpoints (SQLite's own
    // race, natively too), and the WAL is left; sqlite3 run on a member itself then
    // checkpoints it there, and the two runs, one after the other, stamped the members'
    // databases with different times (CI of 5775cf7: mtimes 88 ms apart).
    s.assert_mirrored();
    for member in [s.primary(), s.secondary()] {
        let copy = s.scratch().join(format!("check-{}", member.file_name().unwrap().to_string_lossy()));
        fs::create_dir(&copy).unwrap();
        for entry in fs::read_dir(&member).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
        let check = Command::new("sqlite3").arg(copy.join("db")).arg("PRAGMA integrity_check;").output().unwrap();
        assert_eq!(stdout_of(&check), "ok\n", "{}", member.display());
    }
}

/// Forks N processes that each append a line to their own file, report ready, and append
/// another line once told to.
const MANY: &str = r#"
import os, sys
n = int(sys.argv[1])
go_r, go_w = os.pipe()
ready_r, ready_w = os.pipe()
os.makedirs("/shadow/procs", exist_ok=True)
kids = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        f = open(f"/shadow/procs/p{i}", "a", buffering=1)
        f.write("before\n")
        os.write(ready_w, b"x")
        os.read(go_r, 1)
        f.write("after\n")
        f.close()
        os._exit(0)
    kids.append(pid)
got = 0
while got < n:
    got += len(os.read(ready_r, 4096))
print("ready", flush=True)
sys.stdin.readline()
os.close(go_w)
failed = sum(1 for k in kids if os.waitpid(k, 0)[1] != 0)
print("failed", failed, flush=True)
"#;

#[test]
fn thousands_of_processes_are_all_waited_for_by_disable() {
    let n = 2000;
    let s = ShadowSet::new();
    let script = s.scratch().join("many.py");
    fs::write(&script, MANY).unwrap();
    let mut child = s.command("python3").arg(&script).arg(n.to_string()).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    let registered = st["processes"].as_array().unwrap().len();
    assert!(registered > n, "every process has a registry slot: {registered} registered");
    // After disable returns, no process may write the secondary any more.
    s.ctl_ok(&["disable", "secondary"]);
    writeln!(child.stdin.take().unwrap()).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "failed 0");
    assert!(child.wait().unwrap().success());
    for i in 0..n {
        let rel = format!("procs/p{i}");
        assert_eq!(fs::read(s.primary().join(&rel)).unwrap(), b"before\nafter\n", "{rel} on the primary");
        assert_eq!(fs::read(s.secondary().join(&rel)).unwrap(), b"before\n", "{rel} on the secondary, frozen at disable");
    }
    s.ctl_ok(&["enable", "secondary"]);
    s.assert_identical();
}

/// Malloc implementations the Debian packages install (`make test-deps`).
const ALLOCATORS: [&str; 3] = ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"];

#[test]
fn programs_with_another_malloc_start_with_and_without_a_config() {
    let s = ShadowSet::new();
    let shim = shadow_tests::lib_path();
    for alloc in ALLOCATORS {
        assert!(Path::new(alloc).exists(), "{alloc} is missing: run `make test-deps`");
        for preload in [format!("{}:{alloc}", shim.display()), format!("{alloc}:{}", shim.display())] {
            let name = Path::new(alloc).file_name().unwrap().to_string_lossy().replace('.', "_");
            let run = |config: bool| {
                let mut c = Command::new("timeout");
                c.args(["20", "sh", "-c"]).env("LD_PRELOAD", &preload);
                if config {
                    c.env("SHADOW_CONFIG", s.config()).arg(format!("echo {name} >> /shadow/allocators && python3 -c 'import json; print(json.dumps([1]))'"));
                } else {
                    c.env_remove("SHADOW_CONFIG").arg("echo plain | cat");
                }
                let out = c.output().unwrap();
                assert!(out.status.success(), "{preload} (config: {config}): {} {}", out.status, String::from_utf8_lossy(&out.stderr));
            };
            run(false);
            run(true);
        }
    }
    assert_eq!(fs::read_to_string(s.primary().join("allocators")).unwrap().lines().count(), 6);
    s.assert_mirrored();
}

#[test]
fn cargo_builds_a_crate_with_its_target_directory_under_the_prefix() {
    let s = ShadowSet::new();
    let krate = s.scratch().join("hello");
    fs::create_dir_all(krate.join("src")).unwrap();
    fs::write(krate.join("Cargo.toml"), "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n").unwrap();
    fs::write(krate.join("src/main.rs"), "fn main() { println!(\"built under the shim\"); }\n").unwrap();
    // rustc's own malloc is jemalloc: it hung at start-up under the shim.
    let out = s
        .command("timeout")
        .args(["300", "cargo", "build", "-q", "--offline"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", "/shadow/target")
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo build: {}", String::from_utf8_lossy(&out.stderr));
    let run = s.sh("/shadow/target/debug/hello");
    assert_eq!(stdout_of(&run), "built under the shim\n");
    s.assert_mirrored();
}

/// cargo new and cargo add in a workspace under the prefix: cargo rewrites the manifests
/// through `tempfile`, whose rename into place rustix makes without the C library (a
/// `syscall` instruction in cargo's own code). The kernel's syscall user dispatch traps it
/// into the shim (shim/src/sud.rs). Before, both commands failed with ENOENT: the kernel
/// was handed the virtual path.
#[test]
fn cargo_new_and_add_in_a_workspace_under_the_prefix() {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release.trim().split(['.', '-']).map(|x| x.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    assert!((major, minor) >= (6, 17), "kernel {release}: no inclusive syscall user dispatch (Linux 6.17+): the test cannot run");
    let s = ShadowSet::new();
    s.sh("mkdir /shadow/ws && printf '[workspace]\\nresolver = \"2\"\\nmembers = []\\n' > /shadow/ws/Cargo.toml");
    s.sh("cd /shadow/ws && timeout 120 cargo new --vcs none --offline member");
    s.sh("cd /shadow/ws/member && timeout 120 cargo add --offline libc");
    let workspace = String::from_utf8(s.read("ws/Cargo.toml")).unwrap();
    assert!(workspace.contains("members = [\"member\"]"), "{workspace}");
    let member = String::from_utf8(s.read("ws/member/Cargo.toml")).unwrap();
    assert!(member.contains("libc = "), "{member}");
    s.assert_mirrored();
}

#[test]
fn git_commits_branches_merges_packs_and_clones_under_the_prefix() {
    let s = ShadowSet::new();
    let script = r#"set -e
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
export GIT_CONFIG_NOSYSTEM=1 HOME=/shadow/home
mkdir -p /shadow/home
git config --global init.defaultBranch main
git config --global core.fsync all
git init -q /shadow/repo
cd /shadow/repo
for i in $(seq 1 40); do seq 1 $((i * 50)) > f$i; done
mkdir -p sub/deep && echo deep > sub/deep/file && ln -s ../f1 sub/link && chmod +x f2
git add -A && git commit -qm first
git checkout -qb side
for i in $(seq 1 40 3); do echo side >> f$i; done
git rm -q f40 && git mv f39 sub/f39 && git commit -qam side
git checkout -q main
echo main >> f2 && git commit -qam main
git merge -q --no-edit side
git tag -a v1 -m v1
git gc -q --aggressive
git repack -q -a -d --threads=2
git clone -q /shadow/repo /shadow/clone
cd /shadow/clone && git fsck --strict --no-progress && git log --oneline | wc -l
git -C /shadow/repo fsck --strict --no-progress
git -C /shadow/repo status --porcelain | wc -l"#;
    let out = s.bash(script);
    let text = stdout_of(&out);
    assert_eq!(text.lines().collect::<Vec<_>>(), ["4", "0"], "commits in the clone, then changes left in the work tree: {text}");
    s.assert_mirrored();
    // Each member on its own is a sound repository with the same history (compared
    // first: nothing run on a member itself may change what is compared).
    for member in [s.primary(), s.secondary()] {
        let fsck = Command::new("git").args(["-C", &member.join("repo").display().to_string(), "fsck", "--strict", "--no-progress"]).env("GIT_CONFIG_NOSYSTEM", "1").env("HOME", member.join("home")).output().unwrap();
        assert!(fsck.status.success(), "git fsck in {}: {}", member.display(), String::from_utf8_lossy(&fsck.stderr));
    }
}

#[test]
fn an_insecure_file_leaves_recover_due_and_recover_levels_it() {
    let s = ShadowSet::new();
    s.sh("echo original > /shadow/f");
    // The secondary's file cannot be opened (a directory in its place): the program's
    // writes reach the primary only, the file is insecure.
    fs::remove_file(s.secondary().join("f")).unwrap();
    fs::create_dir(s.secondary().join("f")).unwrap();
    let out = s.command("/bin/sh").arg("-c").arg("echo changed > /shadow/f").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("00020"), "reported insecure: {}", String::from_utf8_lossy(&out.stderr));
    // A clean exit, yet recover is due: the file's write intent was kept.
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert!(!st["recover_needed"].as_array().unwrap().is_empty(), "{st}");
    fs::remove_dir(s.secondary().join("f")).unwrap();
    let out = s.ctl_ok(&["recover"]);
    assert!(out.contains("repaired /shadow/f"), "{out}");
    s.assert_members_and_history(|l| l.starts_with("00020 ") || l.starts_with("00100 ") || l.starts_with("00101 "));
}

/// `program`, a C source, built with threads in a temporary directory (kept while the
/// first value lives) as `name`.
fn compiled(program: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let build = tempfile::tempdir().unwrap();
    let (src, exe) = (build.path().join(format!("{name}.c")), build.path().join(name));
    fs::write(&src, program).unwrap();
    assert!(Command::new("gcc").args(["-O2", "-pthread", "-o"]).arg(&exe).arg(&src).status().unwrap().success());
    (build, exe)
}

/// A thread makes entries relative to a directory number (openat O_CREAT, mkdirat,
/// symlinkat) while the main thread closes the number and opens another directory
/// under the prefix, which the kernel gives the same number. A call the shim found relative
/// to no directory of its own, made outside it, may land in the directory being opened: it
/// changed that directory's lead alone. Such a directory is reported and `recover` levels
/// it. Before, helper-50's F2 repro left 1-19 entries a run on one member, unreported, and
/// `recover` found nothing to do. The window is a thread descheduled inside the hook, so
/// the program runs in eight sets of its own beside two spinning threads: c7b350b's build
/// left entries unreported in 5 of 120 such runs (a call that reached a directory opened
/// in flight, which another open at the number then hid; an entry made in two directories
/// when the number closed as its lead's side was held), a CI run in one of about six.
#[test]
fn a_directory_number_reused_under_a_thread_making_entries_is_reported_and_recovered() {
    let program = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int number;
static atomic_int stop;
static void *maker(void *arg) {
    (void)arg;
    char name[32];
    for (unsigned long k = 0; !atomic_load(&stop); k++) {
        /* A name of its own each: no later mirrored call meets a difference and reports it. */
        snprintf(name, sizeof name, "n%lu", k);
        /* Each may fail (EBADF while the number is closed): as natively. */
        switch (k % 3) {
        case 0: { int fd = openat(number, name, O_WRONLY | O_CREAT | O_EXCL, 0644); if (fd >= 0) { (void)!write(fd, name, strlen(name)); close(fd); } } break;
        case 1: mkdirat(number, name, 0755); break;
        case 2: symlinkat("target", number, name); break;
        }
    }
    return NULL;
}
int main(void) {
    char p[64];
    for (int i = 0; i < 4; i++) { snprintf(p, sizeof p, "/shadow/d%d", i); if (mkdir(p, 0755)) return 2; }
    number = open("/shadow/d0", O_RDONLY | O_DIRECTORY);
    if (number < 0) return 3;
    pthread_t t;
    pthread_create(&t, NULL, maker, NULL);
    for (int i = 1; i < 1000; i++) {
        snprintf(p, sizeof p, "/shadow/d%d", i % 4);
        close(number);
        int fd = open(p, O_RDONLY | O_DIRECTORY);
        if (fd != number) { dup2(fd, number); close(fd); }
        usleep(100);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}
"#;
    let (_build, exe) = compiled(program, "dirnumber");
    // Stopped when the test ends, failed or not.
    struct Spinning(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Spinning {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let spinning = Spinning(Default::default());
    for _ in 0..2 {
        let stop = spinning.0.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
    }
    for _ in 0..8 {
        // A set each: a later run's fall-back to a full verify must not level an earlier's.
        let s = ShadowSet::new();
        let out = s.command(exe.to_str().unwrap()).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        // Whatever reached one member alone was reported: recover finds it and levels it.
        s.ctl_ok(&["recover"]);
        s.assert_members_and_history(|l| ["00020 ", "00030 ", "00100 ", "00101 "].iter().any(|c| l.starts_with(c)));
    }
    drop(spinning);
}

/// A thread closes a range of numbers with close_range (a program that closes numbers its
/// other thread still uses) and opens a file outside the set, which the kernel gives one of
/// them, while the main thread opens, writes and closes files under the prefix. An open
/// whose number the range closed before the shim took it, and the outside file then got,
/// is not taken for the open's file, nor is a link the open made just before the range
/// closed its number left standing. Before, close_range left no mark that it freed the
/// number (close and dup2 do), and closed numbers an open linked after its look: the shim
/// took the outside file for the file it had opened, mirrored writes to it into the
/// follower's file, and at its last close copied the outside file whole into the follower
/// (a 34-42 KB follower file beside an empty primary, and up to a thousand reports a run;
/// 5fe7282's build failed this test 4 runs of 4).
#[test]
fn a_number_close_range_freed_under_an_open_is_not_taken_for_its_file() {
    let program = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static atomic_int stop;
static int lowest;
static const char *outside;
static void *closer(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        close_range(lowest, lowest + 7, 0);
        /* Left open: the next close_range closes it. */
        (void)open(outside, O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    return NULL;
}
int main(int argc, char **argv) {
    if (argc != 2 || mkdir("/shadow/d", 0755)) return 2;
    outside = argv[1];
    lowest = dup(0);
    close(lowest);
    pthread_t t;
    pthread_create(&t, NULL, closer, NULL);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "/shadow/d/f%d", i % 50);
        /* Each may fail (EBADF) or reach the outside file: as natively. */
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { (void)!write(fd, name, strlen(name)); close(fd); }
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}
"#;
    let (_build, exe) = compiled(program, "closerange");
    for _ in 0..3 {
        let s = ShadowSet::new();
        let outside = s.scratch().join("outside");
        let out = s.command(exe.to_str().unwrap()).arg(&outside).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        // A file under the prefix only ever gets its own name, written once after O_TRUNC
        // (the main thread opens one file at a time); the outside file gets all the rest.
        for member in [s.primary(), s.secondary()] {
            for e in fs::read_dir(member.join("d")).unwrap() {
                let e = e.unwrap();
                let len = e.metadata().unwrap().len();
                assert!(len <= "/shadow/d/f49".len() as u64, "{:?}: {len} bytes, more than its name:\n{}", e.path(), String::from_utf8_lossy(&out.stderr));
            }
        }
        // The calls on numbers closed under them are reported; recover levels what they left.
        s.ctl_ok(&["recover"]);
        s.assert_members_and_history(|l| ["00020 ", "00030 ", "00100 ", "00101 "].iter().any(|c| l.starts_with(c)));
    }
}

/// Threads that make files by paths in buffers on their own stacks: the shim reads such
/// paths without asking the kernel whether the memory is readable (`mem::on_own_stack`).
/// Before, each new thread's first path on its fresh stack cost a process_vm_readv, which
/// takes the address space's lock every thread creation takes for writing (e500254's build:
/// 107 for this test's 40 threads; 428 for 300, each 2 ms under strace against others
/// starting; now 2). 1,000 threads started at once had taken 21 s, against 0.6 s natively
/// (helper-49, 2026-12-06).
#[test]
fn paths_on_a_threads_own_stack_are_read_without_asking_the_kernel() {
    let program = r#"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void *work(void *arg) {
    char path[64];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/shadow/t%ld-%d", (long)arg, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, path, 8) != 8) exit(3);
        close(fd);
    }
    return NULL;
}
int main(void) {
    /* All alive at once: each has a stack of its own (glibc reuses an ended thread's). */
    pthread_t t[40];
    for (long i = 0; i < 40; i++)
        if (pthread_create(&t[i], NULL, work, (void *)i)) return 2;
    for (int i = 0; i < 40; i++)
        pthread_join(t[i], NULL);
    return 0;
}
"#;
    let (_build, exe) = compiled(program, "stackpaths");
    let s = ShadowSet::new();
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=process_vm_readv", "-o"])
        .arg(s.scratch().join("trace"))
        .arg(&exe)
        .env("SHADOW_CONFIG", s.config())
        .env("LD_PRELOAD", lib_path())
        .output()
        .expect("strace is needed (make test installs it)");
    assert!(out.status.success(), "{out:?}");
    let trace = fs::read_to_string(s.scratch().join("trace")).unwrap();
    let looks = trace.lines().filter(|l| l.contains("process_vm_readv(")).count();
    // Pages the process had before its threads (the program's strings, the main thread's
    // stack) may be looked at once each; a look per thread is what must not be.
    assert!(looks < 20, "{looks} looks at readable memory for 40 threads:\n{trace}");
    assert_eq!(fs::read_dir(s.primary()).unwrap().count(), 120);
    s.assert_members_and_history(|_| false);
}

/// A process whose main thread ended (`pthread_exit` from `main`) while another thread
/// writes is alive, although the kernel shows its pid a zombie: listed among the processes,
/// not as one needing recover, and waited for like any. Before, shadowctl took it for gone
/// (a state change did not wait for its operations; recover took its changes in flight for
/// a crash's).
#[test]
fn a_process_whose_main_thread_ended_is_alive() {
    let s = ShadowSet::new();
    let dir = s.scratch();
    fs::write(
        dir.join("leader.c"),
        "#include <fcntl.h>\n#include <pthread.h>\n#include <stdio.h>\n#include <string.h>\n#include <sys/mman.h>\n#include <unistd.h>\n\
         static void *work(void *a) {\n\
             int fd = open(\"/shadow/f\", O_WRONLY | O_CREAT | O_TRUNC, 0644);\n\
             if (write(fd, \"x\\n\", 2) != 2) return a;\n\
             close(open(\"/shadow/ready\", O_WRONLY | O_CREAT, 0644));\n\
             sleep(2);\n\
             if (write(fd, \"y\\n\", 2) != 2) return a;\n\
             close(fd);\n\
             int d = open(\"/shadow\", O_RDONLY | O_DIRECTORY);\n\
             int g = openat(d, \"g\", O_WRONLY | O_CREAT, 0644);\n\
             if (g < 0 || write(g, \"g\\n\", 2) != 2 || renameat(d, \"g\", d, \"h\") != 0) _exit(3);\n\
             close(g);\n\
             int m = open(\"/shadow/m\", O_RDWR | O_CREAT, 0644);\n\
             char *p = m < 0 || ftruncate(m, 4096) ? MAP_FAILED : mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);\n\
             if (p == MAP_FAILED) _exit(4);\n\
             memcpy(p, \"mapped\", 6);\n\
             munmap(p, 4096);\n\
             close(m);\n\
             return a;\n\
         }\n\
         int main(void) { pthread_t t; pthread_create(&t, 0, work, 0); pthread_exit(0); }\n",
    )
    .unwrap();
    let exe = dir.join("leader");
    assert!(Command::new("gcc").arg("-pthread").arg("-o").arg(&exe).arg(dir.join("leader.c")).status().unwrap().success());
    let mut child = s.command(exe.to_str().unwrap()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.primary().join("ready").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id();
    let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(state.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'), "the main thread has ended: {state}");
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert_eq!(st["recover_needed"], serde_json::json!([]), "{st}");
    assert!(st["processes"].as_array().unwrap().iter().any(|p| p["pid"] == pid), "listed among the live processes: {st}");
    assert!(child.wait().unwrap().success());
    assert_eq!(s.read("f"), b"x\ny\n");
    assert_eq!(s.read("h"), b"g\n");
    assert_eq!(&s.read("m")[..6], b"mapped");
    assert!(s.history().is_empty(), "{}", s.history());
    s.assert_identical();
}

/// A program that drops privileges and then execs a helper (varnishd's VCL compiler,
/// squid's log daemon, Postfix's pipe delivery as nobody): the helper writes the set's
/// state files too. They take the state directory's read and write bits, so a directory
/// every user may write lets it run, mirrored; one it may not write stops it before it
/// runs, with a message that says why. Before, the files were always 0644 and the helper
/// always stopped (found by a helper's hunt: a Postfix pipe delivery bounced).
#[test]
fn a_helper_run_as_another_user_writes_the_set_where_the_state_directory_lets_it() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test runs a helper as user nobody: run it as root (CI does)");
    let helper = "import os, sys\nos.setgid(65534)\nos.setuid(65534)\nos.execvp('sh', ['sh', '-c', 'echo hello > /shadow/d/' + sys.argv[1]])\n";
    for (mode, runs) in [(0o1777, true), (0o755, false)] {
        let s = ShadowSet::new();
        fs::create_dir_all(s.state()).unwrap();
        fs::set_permissions(s.state(), std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        s.sh("mkdir /shadow/d && chmod 777 /shadow/d");
        let out = s.command("python3").args(["-c", helper, "x"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if runs {
            assert!(out.status.success(), "state directory {mode:o}: {err}");
            for member in [s.primary(), s.secondary()] {
                assert_eq!(fs::read_to_string(member.join("d/x")).unwrap(), "hello\n");
            }
            s.assert_identical();
        } else {
            assert_eq!(out.status.code(), Some(125), "state directory {mode:o}: {err}");
            assert!(err.contains("uid 65534") && err.contains("State directory"), "{err}");
        }
    }
}

/// Files root made, written and closed by a process that dropped privileges (Postfix's
/// daemons and their lock files): the writer may not give the follower the lead's exact
/// times, so each member keeps the stamp its kernel gave it. Wherever the two differ, the
/// file is reported and left to `recover`, which levels it. Before, the mtimes stayed
/// apart, unreported, no recover due (found by a helper's hunt: 2 to 52 of 200 files).
#[test]
fn times_a_writer_may_not_set_are_never_silently_apart() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test writes as user nobody: run it as root (CI does)");
    let s = ShadowSet::new();
    let writer = r#"
import os
fds = [os.open(f"/shadow/f{i}", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(200)]
os.setgid(65534)
os.setuid(65534)
for fd in fds:
    os.write(fd, b"x" * (512 << 10))
    os.close(fd)
"#;
    let out = s.command("python3").args(["-c", writer]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let history = s.history();
    let mtime = |dir: &Path, i: usize| {
        let m = fs::metadata(dir.join(format!("f{i}"))).unwrap();
        (std::os::unix::fs::MetadataExt::mtime(&m), std::os::unix::fs::MetadataExt::mtime_nsec(&m))
    };
    let apart: Vec<usize> = (0..200).filter(|&i| mtime(&s.primary(), i) != mtime(&s.secondary(), i)).collect();
    for i in &apart {
        assert!(history.lines().any(|l| l.starts_with("00020 ") && l.contains(&format!("/f{i}]")) && l.contains("times")), "f{i}: mtimes apart, not reported: {history}");
    }
    println!("{} of 200 files had mtimes apart, each reported", apart.len());
    if !apart.is_empty() {
        assert!(s.ctl_ok(&["status"]).contains("recover needed"));
        s.ctl_ok(&["recover"]);
    }
    s.assert_members_and_history(|l| (l.starts_with("00020 ") && l.contains("times")) || l.starts_with("00100 "));
}

/// Four processes making random namespace calls on one tree at once
/// (tests/scripts/namespace_fuzz.py `shared`: renames, links, symlinks, creating opens,
/// metadata by name and through held fds, openat2, forked children), twenty rounds on
/// trees of their own: no difference between the members may go unreported. Its first runs
/// (2026-12-07) found a change through a final symlink racing a rename onto the name it
/// leads to, and two processes changing one file's metadata by two routes, both silent
/// (c-tests/final_link_races.c, one_file_two_routes.c); what is still not ordered, and so
/// may differ but is reported, is in README ("Not ordered").
#[test]
fn processes_making_random_namespace_calls_on_one_tree_leave_no_silent_difference() {
    let set = ShadowSet::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/namespace_fuzz.py");
    for round in 1..=20 {
        let root = format!("/shadow/round{round}");
        let children: Vec<_> = (1..=4)
            .map(|i| set.command("python3").arg(&script).arg(&root).arg((round * 10 + i).to_string()).arg("400").arg("shared").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // A round whose tree differs must have a report naming a path in it.
    let diffs: Vec<String> = shadow_core::tree::compare(&set.primary(), &set.secondary()).unwrap().iter().map(|d| d.to_string()).collect();
    let history = set.history();
    let reports: Vec<&str> = history.lines().filter(|l| l.starts_with("00020") || l.starts_with("00030")).collect();
    let round_of = |text: &str| text.split("round").nth(1).and_then(|t| t.split('/').next()).map(str::to_owned);
    let silent: Vec<&String> = diffs.iter().filter(|d| round_of(d).is_none_or(|r| !reports.iter().any(|l| round_of(l).as_ref() == Some(&r)))).collect();
    assert!(silent.is_empty(), "members differ in a round where nothing was reported:\n  {}\nreports:\n{}", silent.iter().map(|d| d.as_str()).collect::<Vec<_>>().join("\n  "), reports.join("\n"));
    eprintln!("{} difference(s), {} report(s)", diffs.len(), reports.len());
}
