//! Real programs under the shim; after each, the members must be identical (byte for byte
//! and metadata for metadata) and the program must have seen what it would without the shim.

use shadow_tests::ShadowSet;
use std::fs;
use std::os::unix::fs::MetadataExt;

#[test]
fn bash_redirections() {
    let s = ShadowSet::new();
    s.bash("echo one > /shadow/out; echo two >> /shadow/out; exec 3>/shadow/fd3; echo via3 >&3; (echo child >&3); /bin/echo exec-child >&3; exec 3>&-; printf 'a\\nb\\n' > /shadow/p && cat /shadow/p >> /shadow/out");
    assert_eq!(s.read("out"), b"one\ntwo\na\nb\n");
    assert_eq!(s.read("fd3"), b"via3\nchild\nexec-child\n");
    s.assert_mirrored();
}

#[test]
fn sh_redirect_then_exec() {
    let s = ShadowSet::new();
    s.sh("ls / > /shadow/ls.out; ls /shadow >> /shadow/ls.out 2>&1");
    assert!(String::from_utf8_lossy(&s.read("ls.out")).contains("ls.out"));
    s.assert_mirrored();
}

#[test]
fn cp_a_of_a_tree_mv_and_rm_r() {
    let s = ShadowSet::new();
    let src = s.scratch().join("tree");
    fs::create_dir_all(src.join("a/b/c")).unwrap();
    for (i, p) in ["a/f1", "a/b/f2", "a/b/c/f3", "top"].iter().enumerate() {
        fs::write(src.join(p), vec![b'x' + i as u8; 1000 * (i + 1)]).unwrap();
    }
    std::os::unix::fs::symlink("b/f2", src.join("a/link")).unwrap();
    s.sh(&format!("cp -a {} /shadow/tree && cp -a /shadow/tree /shadow/copy2", src.display()));
    s.assert_mirrored();
    let orig = fs::metadata(src.join("a/b/f2")).unwrap();
    let copy = fs::metadata(s.primary().join("tree/a/b/f2")).unwrap();
    assert_eq!(orig.mtime(), copy.mtime(), "cp -a keeps mtime");
    let sec = fs::metadata(s.secondary().join("tree/a/b/f2")).unwrap();
    assert_eq!((copy.mtime(), copy.mtime_nsec()), (sec.mtime(), sec.mtime_nsec()), "members' mtimes");
    s.sh("mv /shadow/tree/a /shadow/moved && mv /shadow/moved/f1 /shadow/f1-renamed && rm -r /shadow/copy2");
    assert!(s.primary().join("moved/b/c/f3").exists());
    assert!(!s.primary().join("copy2").exists());
    s.assert_mirrored();
}

#[test]
fn mv_into_the_prefix_from_outside_copies() {
    let s = ShadowSet::new();
    let f = s.scratch().join("outside");
    fs::write(&f, b"moved in").unwrap();
    s.sh(&format!("mv {} /shadow/inside", f.display()));
    assert!(!f.exists());
    assert_eq!(s.read("inside"), b"moved in");
    s.assert_mirrored();
}

#[test]
fn ln_s_touch_d_chmod_dd() {
    let s = ShadowSet::new();
    s.sh("echo data > /shadow/target && ln -s target /shadow/link && ln /shadow/target /shadow/hard \
          && touch -d '2001-02-03 04:05:06' /shadow/target && chmod 640 /shadow/target \
          && dd if=/dev/urandom of=/shadow/dd.bin bs=4096 count=64 status=none \
          && dd if=/dev/zero of=/shadow/dd.bin bs=512 seek=3 count=2 conv=notrunc status=none \
          && test \"$(readlink /shadow/link)\" = target && cat /shadow/link > /shadow/via-link");
    let p = fs::metadata(s.primary().join("target")).unwrap();
    let q = fs::metadata(s.secondary().join("target")).unwrap();
    assert_eq!(p.mtime(), 981173106, "touch -d sets the time the program asked for");
    assert_eq!((p.mtime(), p.mtime_nsec()), (q.mtime(), q.mtime_nsec()));
    assert_eq!(p.mode() & 0o777, 0o640);
    assert_eq!(q.nlink(), 2, "hard link mirrored");
    assert_eq!(s.read("via-link"), b"data\n");
    assert_eq!(fs::metadata(s.primary().join("dd.bin")).unwrap().len(), 64 * 4096);
    s.assert_mirrored();
}

#[test]
fn tar_extract() {
    let s = ShadowSet::new();
    let scratch = s.scratch();
    let src = scratch.join("src");
    fs::create_dir_all(src.join("d/e")).unwrap();
    fs::write(src.join("d/e/file"), b"in a tarball").unwrap();
    fs::write(src.join("d/big"), vec![7u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("e/file", src.join("d/sl")).unwrap();
    let tarball = scratch.join("t.tar");
    let st = std::process::Command::new("tar").arg("-C").arg(&src).arg("-cf").arg(&tarball).arg("d").status().unwrap();
    assert!(st.success());
    s.sh(&format!("mkdir /shadow/x && tar -C /shadow/x -xpf {}", tarball.display()));
    assert_eq!(s.read("x/d/e/file"), b"in a tarball");
    s.assert_mirrored();
}

/// Tcl copies and deletes directories with glibc's fts (`file copy`, `file delete
/// -force`), which found nothing under the prefix (its calls are internal): "error copying
/// ... no such file or directory".
#[test]
fn tcl_copies_renames_and_deletes_trees() {
    let s = ShadowSet::new();
    let script = s.scratch().join("t.tcl");
    fs::write(
        &script,
        "file mkdir /shadow/t/a/b\n\
         set f [open /shadow/t/a/b/x w]; puts $f hello; close $f\n\
         file link -symbolic /shadow/t/a/l b/x\n\
         file copy /shadow/t /shadow/t2\n\
         file rename /shadow/t2 /shadow/t3\n\
         file delete -force /shadow/t\n\
         puts [lsort [glob -directory /shadow/t3/a *]]\n\
         puts [file exists /shadow/t]\n",
    )
    .unwrap();
    let out = s.command("tclsh").arg(&script).output().expect("tclsh is needed (make test-deps installs tcl)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/shadow/t3/a/b /shadow/t3/a/l\n0\n");
    assert_eq!(s.read("t3/a/b/x"), b"hello\n");
    s.assert_mirrored();
}

#[test]
fn python_open_and_os_replace() {
    let s = ShadowSet::new();
    let out = s
        .command("python3")
        .arg("-c")
        .arg(
            "import os\n\
             os.makedirs('/shadow/py/sub', exist_ok=True)\n\
             with open('/shadow/py/sub/data.tmp', 'w') as f:\n    f.write('x' * 100000)\n    f.flush(); os.fsync(f.fileno())\n\
             os.replace('/shadow/py/sub/data.tmp', '/shadow/py/data')\n\
             with open('/shadow/py/data', 'a') as f:\n    f.write('tail')\n\
             with open('/shadow/py/data', 'r+b') as f:\n    f.seek(10); f.write(b'HOLE')\n\
             print(len(open('/shadow/py/data').read()), sorted(os.listdir('/shadow/py')))\n",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "100004 ['data', 'sub']");
    s.assert_mirrored();
}

#[test]
fn nothing_happens_without_shadow_config() {
    let s = ShadowSet::new();
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("echo x > /shadow/nope")
        .env("LD_PRELOAD", shadow_tests::lib_path())
        .env_remove("SHADOW_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "without a config /shadow is just a missing directory");
    assert!(fs::read_dir(s.primary()).unwrap().next().is_none());
}

#[test]
fn broken_config_stops_the_program_before_it_runs() {
    let s = ShadowSet::new();
    let cases = [
        (s.config_text().replace("secondary", "secundary"), "unknown key `secundary`"),
        (s.config_text().replace(&s.secondary().display().to_string(), "relative/dir"), "key `secondary`: must be an absolute path"),
        (s.config_text().replace(&s.secondary().display().to_string(), &s.primary().display().to_string()), "key `secondary`: is the same directory as primary"),
        (s.config_text().replace(&s.secondary().display().to_string(), "/nonexistent/dir"), "key `secondary`: /nonexistent/dir"),
        (s.config_text().replace("prefix = \"/shadow\"", ""), "key `prefix`: missing"),
    ];
    for (text, expect) in cases {
        fs::write(s.config(), &text).unwrap();
        let out = s.command("/bin/sh").arg("-c").arg("echo ran > /tmp/should-not-run-$$; echo ran").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "config {text:?}: {err}");
        assert!(out.stdout.is_empty(), "the program must not run");
        assert!(err.contains(expect) && err.contains(&s.config().display().to_string()), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

/// A program built under the prefix with its library directory there as RUNPATH (what CMake
/// gives every build-tree executable) or RPATH: the loader cannot see the prefix, so before,
/// such a program failed to start ("cannot open shared object file") under the shim while
/// it ran natively. And the program sees its own LD_LIBRARY_PATH: none, or the one it had.
#[test]
fn a_program_finds_its_libraries_by_a_runpath_under_the_prefix() {
    let s = ShadowSet::new();
    let out = s.sh(
        "set -e; unset LD_LIBRARY_PATH; mkdir -p /shadow/lib /shadow/bin; cd /shadow
        echo 'int x(void){return 42;}' > x.c
        cat > m.c <<'EOC'
#include <stdio.h>
#include <stdlib.h>
int x(void);
int main(void) { const char *p = getenv(\"LD_LIBRARY_PATH\"); printf(\"%d %s\\n\", x(), p ? p : \"(unset)\"); return 0; }
EOC
        cc -shared -fPIC -o lib/libx.so x.c
        cc -o bin/runpath m.c -Llib -lx -Wl,-rpath,/shadow/lib -Wl,--enable-new-dtags
        cc -o bin/rpath m.c -Llib -lx -Wl,-rpath,/shadow/lib -Wl,--disable-new-dtags
        cd /
        /shadow/bin/runpath; /shadow/bin/rpath
        LD_LIBRARY_PATH=/opt/own /shadow/bin/runpath
        (cd /shadow/bin && ./rpath)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "42 (unset)\n42 (unset)\n42 /opt/own\n42 (unset)\n");
    s.assert_mirrored();
}

/// A library built under the prefix and preloaded by name there (a project's test suite
/// preloading the library it just built): the loader cannot see the prefix and ignored it
/// ("cannot be preloaded"), so the program ran without it.
#[test]
fn a_library_under_the_prefix_in_ld_preload_is_preloaded() {
    let s = ShadowSet::new();
    let out = s.sh(
        "set -e; mkdir -p /shadow/lib; cd /shadow
        cat > mark.c <<'EOC'
#include <stdio.h>
__attribute__((constructor)) static void mark(void) { fputs(\"preloaded\\n\", stderr); }
EOC
        cc -shared -fPIC -o lib/libmark.so mark.c
        cd /
        LD_PRELOAD=/shadow/lib/libmark.so /bin/true
        LD_PRELOAD='/shadow/lib/libmark.so /nonexistent/libnone.so' /bin/true 2>&1 | grep -cx preloaded",
    );
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout} {stderr}");
    assert_eq!(stderr.matches("preloaded\n").count(), 1, "{stderr}");
    assert!(!stderr.contains("libmark.so") , "the loader ignored it: {stderr}");
    assert_eq!(stdout.trim(), "1", "a space-separated list: {stdout}");
    s.assert_mirrored();
}

/// A tree whose links name the prefix absolutely (`current -> /shadow/data`, as release
/// directories and Python's test suite make them): coreutils, find and Python work through
/// them as they do natively, with the same output, and the members stay identical. Each
/// member's kernel alone looks for a real `/shadow` and fails ENOENT.
#[test]
fn programs_work_through_absolute_symlinks_into_the_prefix() {
    let script = "set -e; cd /; mkdir -p $R/data/sub; echo hi > $R/data/sub/f; ln -s $R/data $R/current; ln -s $R/current/sub/f $R/f-link; \
                  ln -s $R/data/new $R/dangling; \
                  cat $R/current/sub/f $R/f-link; cp $R/current/sub/f $R/current/sub/g; mv $R/current/sub/g $R/current/h; \
                  echo more >> $R/f-link; echo made > $R/dangling; chmod 600 $R/f-link; ls -l $R/f-link | cut -c1-10; \
                  ls $R/current/ $R/current/sub; (cd $R/current/sub && pwd -P && ls); find $R/current/ | sort; \
                  R=$R python3 -c \"import os, pathlib, shutil; r = os.environ['R']; p = pathlib.Path(r + '/current/sub'); (p / 'py').write_text('x'); \
                  os.makedirs(r + '/current/deep/er'); shutil.copytree(r + '/current/sub', r + '/current/copy'); os.rename(r + '/current/copy', r + '/current/deep/er/copy'); \
                  print(sorted(os.listdir(r + '/current')), os.path.realpath(r + '/f-link'), os.path.exists(r + '/current/nothing'))\"; \
                  rm -r $R/current/deep; cat $R/data/sub/f $R/data/new";
    let s = ShadowSet::new();
    let native_root = s.scratch().join("native");
    fs::create_dir(&native_root).unwrap();
    let native = std::process::Command::new("/bin/sh").arg("-c").arg(script).env("R", &native_root).output().unwrap();
    assert!(native.status.success(), "natively: {}", String::from_utf8_lossy(&native.stderr));
    let shimmed = s.command("/bin/sh").arg("-c").arg(script).env("R", "/shadow").output().unwrap();
    assert!(shimmed.status.success(), "under the shim: {}", String::from_utf8_lossy(&shimmed.stderr));
    let expected = String::from_utf8_lossy(&native.stdout).replace(native_root.to_str().unwrap(), "/shadow");
    assert_eq!(String::from_utf8_lossy(&shimmed.stdout), expected);
    assert_eq!(s.read("data/sub/f"), b"hi\nmore\n");
    assert_eq!(fs::read_link(s.secondary().join("current")).unwrap(), std::path::Path::new("/shadow/data"), "the link as the program wrote it");
    s.assert_mirrored();
}
