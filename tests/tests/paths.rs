//! Paths the kernel and the loader resolve themselves: a venv under the prefix with a C
//! extension and a console script, an autotools project with a shared library built and
//! checked under the prefix (libtool's wrappers use the library just built), and rsync into
//! the prefix. After each, the members are compared tree to tree, modes included. And
//! random namespace calls answered errno for errno as natively (namespace_fuzz.py).

use shadow_tests::ShadowSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A tool the test needs, or a loud failure saying how to get it (`make test-deps`).
fn need(tool: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().unwrap().status.success();
    assert!(found, "{tool} is not installed: run `make test-deps` (the Makefile installs it for `make test`)");
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Packs files into a wheel with nothing but the standard library (no `wheel` package):
/// `pack.py OUT NAME VERSION TAG [--entry-points TEXT] ARC=SRC...`.
const PACK_WHEEL: &str = r#"
import base64, hashlib, os, sys, zipfile
out, name, ver, tag = sys.argv[1:5]
args = sys.argv[5:]
entry = None
if args[:1] == ["--entry-points"]:
    entry, args = args[1], args[2:]
dist = f"{name}-{ver}.dist-info"
records = []
with zipfile.ZipFile(os.path.join(out, f"{name}-{ver}-{tag}.whl"), "w") as z:
    def add(arc, data):
        z.writestr(arc, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{arc},sha256={digest},{len(data)}")
    for pair in args:
        arc, src = pair.split("=", 1)
        add(arc, open(src, "rb").read())
    add(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n".encode())
    pure = "true" if tag.startswith("py3") else "false"
    add(f"{dist}/WHEEL", f"Wheel-Version: 1.0\nGenerator: libshadow-tests\nRoot-Is-Purelib: {pure}\nTag: {tag}\n".encode())
    if entry:
        add(f"{dist}/entry_points.txt", entry.encode())
    records.append(f"{dist}/RECORD,,")
    z.writestr(f"{dist}/RECORD", "\n".join(records) + "\n")
"#;

#[test]
fn venv_pip_installs_a_c_extension_and_a_console_script() {
    let s = ShadowSet::new();
    let src = s.scratch();
    write(&src.join("cext/setup.py"), "from setuptools import setup, Extension\nsetup(name='fastmod', version='1.0', ext_modules=[Extension('fastmod', ['fastmod.c'])])\n");
    write(
        &src.join("cext/fastmod.c"),
        "#include <Python.h>\nstatic PyObject *answer(PyObject *s, PyObject *a) { return PyLong_FromLong(42); }\n\
         static PyMethodDef m[] = {{\"answer\", answer, METH_NOARGS, 0}, {0}};\n\
         static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"fastmod\", 0, -1, m};\n\
         PyMODINIT_FUNC PyInit_fastmod(void) { return PyModule_Create(&d); }\n",
    );
    write(&src.join("cli/hellocli.py"), "import sys\ndef main():\n    print('hello from', sys.argv[0])\n");
    write(&src.join("pack.py"), PACK_WHEEL);
    // The venv, the extension compiled, both packed and installed: all under the prefix.
    let script = format!(
        r#"set -e
python3 -m venv /shadow/venv
cp -r {src}/cext {src}/cli {src}/pack.py /shadow/
cd /shadow/cext && /shadow/venv/bin/python setup.py -q build_ext --inplace
py=/shadow/venv/bin/python
ext=$($py -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
tag=$($py -c 'import sys, sysconfig; v="cp%d%d" % sys.version_info[:2]; print(v + "-" + v + "-" + sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
mkdir /shadow/wheels
$py /shadow/pack.py /shadow/wheels fastmod 1.0 "$tag" "fastmod$ext=/shadow/cext/fastmod$ext"
$py /shadow/pack.py /shadow/wheels hellocli 1.0 py3-none-any --entry-points $'[console_scripts]
hello-cli = hellocli:main
' hellocli.py=/shadow/cli/hellocli.py
/shadow/venv/bin/pip install -q --no-index /shadow/wheels/*.whl"#,
        src = src.display()
    );
    s.bash(&script);
    let out = s.bash("/shadow/venv/bin/hello-cli && /shadow/venv/bin/python -c 'import fastmod; print(fastmod.answer(), fastmod.__file__)'");
    let text = stdout_of(&out);
    assert!(text.contains("hello from /shadow/venv/bin/hello-cli"), "console script: {text}");
    assert!(text.contains("42 /shadow/venv/lib/"), "C extension: {text}");
    let wrapper = fs::read_to_string(s.primary().join("venv/bin/hello-cli")).unwrap();
    assert!(wrapper.starts_with("#!/shadow/venv/bin/python"), "pip wrote the virtual interpreter: {wrapper}");
    s.assert_mirrored();
}

#[test]
fn autotools_project_with_a_shared_library_builds_and_checks_under_the_prefix() {
    for tool in ["autoreconf", "libtoolize", "make", "gcc"] {
        need(tool);
    }
    let s = ShadowSet::new();
    let src = s.scratch().join("greet");
    write(&src.join("configure.ac"), "AC_INIT([greet],[2.0])\nAM_INIT_AUTOMAKE([foreign])\nLT_INIT\nAC_PROG_CC\nAC_CONFIG_FILES([Makefile])\nAC_OUTPUT\n");
    write(
        &src.join("Makefile.am"),
        "lib_LTLIBRARIES = libgreet.la\nlibgreet_la_SOURCES = greet.c\nbin_PROGRAMS = hello\nhello_SOURCES = hello.c\nhello_LDADD = libgreet.la\nTESTS = check.sh\nEXTRA_DIST = check.sh\n",
    );
    write(&src.join("greet.c"), "const char *greet(void) { return \"new library\"; }\n");
    write(&src.join("hello.c"), "#include <stdio.h>\nconst char *greet(void);\nint main(void) { puts(greet()); return 0; }\n");
    write(&src.join("check.sh"), "#!/bin/sh\n./hello | grep -qx 'new library'\n");
    fs::set_permissions(src.join("check.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    // An older libgreet where the loader would look if it could not see the prefix.
    let old = s.scratch().join("old");
    fs::create_dir_all(&old).unwrap();
    write(&old.join("old.c"), "const char *greet(void) { return \"OLD library\"; }\n");
    let built = Command::new("gcc").args(["-shared", "-fPIC", "-Wl,-soname,libgreet.so.0", "-o"]).arg(old.join("libgreet.so.0")).arg(old.join("old.c")).status().unwrap();
    assert!(built.success());
    let script = format!(
        "set -e; cp -r {} /shadow/greet; cd /shadow/greet; export LD_LIBRARY_PATH={}; autoreconf -fi >/dev/null 2>&1; ./configure -q; make -s >/dev/null 2>&1; make -s check >/dev/null 2>&1; ./hello",
        src.display(),
        old.display()
    );
    let out = s.bash(&script);
    assert_eq!(stdout_of(&out), "new library\n", "libtool's wrapper ran the library just built");
    // No member path was baked into anything the build generated.
    for member in [s.primary(), s.secondary()] {
        let grep = Command::new("grep").arg("-rlF").arg(member.to_str().unwrap()).arg(s.primary().join("greet")).output().unwrap();
        assert!(grep.stdout.is_empty(), "a member path in generated files: {}", stdout_of(&grep));
    }
    s.assert_mirrored();
}

#[test]
fn rsync_into_the_prefix_then_a_change_and_a_delete_pass() {
    need("rsync");
    let s = ShadowSet::new();
    let src = s.scratch().join("tree");
    for (i, (rel, mode)) in [("a/secret", 0o600), ("a/run.sh", 0o755), ("b/c/data", 0o640), ("b/c/d/deep", 0o444), ("top", 0o644)].iter().enumerate() {
        write(&src.join(rel), &"x".repeat(100 * (i + 1)));
        fs::set_permissions(src.join(rel), fs::Permissions::from_mode(*mode)).unwrap();
    }
    fs::set_permissions(src.join("b/c"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("../top", src.join("a/link")).unwrap();
    let rsync = format!("rsync -a {}/ /shadow/dest/", src.display());
    s.bash(&rsync);
    s.assert_mirrored();
    let mode = |root: &Path, rel: &str| fs::symlink_metadata(root.join("dest").join(rel)).unwrap().permissions().mode() & 0o7777;
    for (rel, want) in [("a/secret", 0o600), ("a/run.sh", 0o755), ("b/c", 0o700), ("b/c/d/deep", 0o444)] {
        assert_eq!(mode(&s.secondary(), rel), want, "{rel} on the secondary");
    }
    // A change, a removal, a new mode; then a second pass with --delete.
    fs::write(src.join("b/c/data"), "changed").unwrap();
    fs::remove_file(src.join("a/secret")).unwrap();
    fs::set_permissions(src.join("top"), fs::Permissions::from_mode(0o600)).unwrap();
    write(&src.join("new/file"), "new");
    s.bash(&format!("rsync -a --delete {}/ /shadow/dest/", src.display()));
    assert!(!s.secondary().join("dest/a/secret").exists());
    assert_eq!(fs::read(s.secondary().join("dest/b/c/data")).unwrap(), b"changed");
    assert_eq!(mode(&s.secondary(), "top"), 0o600);
    s.assert_mirrored();
    let diff = Command::new("diff").arg("-r").arg(&src).arg(s.secondary().join("dest")).output().unwrap();
    assert!(diff.status.success(), "the secondary holds what rsync copied: {}", stdout_of(&diff));
}

#[test]
fn scripts_under_the_prefix_write_next_to_themselves() {
    let s = ShadowSet::new();
    s.bash(
        "mkdir -p /shadow/tools && printf '#!/bin/bash\\necho \"$0\" > \"$(dirname \"$0\")/made-by-bash\"\\n' > /shadow/tools/b.sh && chmod +x /shadow/tools/b.sh \
         && printf '#!/usr/bin/env python3\\nimport os\\nopen(os.path.join(os.path.dirname(__file__), \"made-by-python\"), \"w\").write(__file__)\\n' > /shadow/tools/p.py && chmod +x /shadow/tools/p.py \
         && /shadow/tools/b.sh && cd /shadow/tools && ./p.py && python3 /shadow/tools/p.py",
    );
    assert_eq!(s.read("tools/made-by-bash"), b"/shadow/tools/b.sh\n");
    assert_eq!(s.read("tools/made-by-python"), b"/shadow/tools/p.py");
    s.assert_mirrored();
}

#[test]
fn the_loaders_own_messages_to_a_shadowed_stderr_reach_both_members() {
    let s = ShadowSet::new();
    // A program whose library is gone: the loader fails before the program (and its shim)
    // starts, writing its message into the inherited stderr.
    let dir = s.scratch();
    write(&dir.join("lib.c"), "int lib_answer(void) { return 42; }\n");
    write(&dir.join("prog.c"), "int lib_answer(void);\nint main(void) { return lib_answer() == 42 ? 0 : 1; }\n");
    let gcc = |args: &[&str]| assert!(Command::new("gcc").args(args).current_dir(&dir).status().unwrap().success());
    gcc(&["-shared", "-fPIC", "-o", "libgone.so", "lib.c"]);
    gcc(&["-o", "prog", "prog.c", "-L.", "-lgone"]);
    fs::remove_file(dir.join("libgone.so")).unwrap();
    // A warning the loader prints before the shim starts, then a fatal error.
    let script = format!("exec 2>>/shadow/err; echo start >&2; LD_PRELOAD=/nonexistent-libshadow-test.so:$LD_PRELOAD /bin/true; {}/prog; echo end >&2; true", dir.display());
    s.bash(&script);
    let err = String::from_utf8_lossy(&s.read("err")).into_owned();
    assert!(err.contains("cannot be preloaded") && err.contains("error while loading shared libraries"), "{err}");
    // The fatal case died before its shim started: recover is due and brings the members level.
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert!(!st["recover_needed"].as_array().unwrap().is_empty(), "{st}");
    s.ctl_ok(&["recover"]);
    s.assert_members_and_history(|l| l.starts_with("00100 ") && l.contains("/err]"));
}

#[test]
fn a_command_that_is_not_found_leaves_nothing_in_flight() {
    let s = ShadowSet::new();
    // bash forks, the child inherits the shadowed stderr and its exec fails: the intents the
    // child began for a new image end with it.
    s.bash("exec 2>>/shadow/err; for i in 1 2 3; do /no-such-dir/command-$i; done; echo done >&2");
    let st: serde_json::Value = serde_json::from_str(&s.ctl_ok(&["status", "--json"])).unwrap();
    assert!(st["recover_needed"].as_array().unwrap().is_empty(), "{st}");
    assert!(String::from_utf8_lossy(&s.read("err")).contains("command-3"));
    s.assert_mirrored();
}

/// Random namespace calls (tests/scripts/namespace_fuzz.py: renames with their flags, links,
/// symlinks relative and absolute into the tree, creating opens, stats, chmod, utime,
/// truncate, through directory fds held across the changes and through the cwd) made with
/// the same seed natively and under the shim answer the same, errno for errno, and leave
/// the same tree; the members compare identical. Its first runs (2026-12-07) found a
/// rename or link saying ELOOP where the kernel said ENOENT, a walk through an absolute
/// link into the prefix that skipped a missing or non-directory name (`gone/..`, `file/.`)
/// and folded a last `..` away (rename's EBUSY), utime through a symlink leaving the
/// follower's file its old times, and a directory opened through a symlink named by the
/// link after the link was replaced. Held files, xattrs, openat2 and a forked child
/// (added 2026-12-07, evening) found an openat2 O_CREAT of a file that was there reported
/// insecure (the follower's open given a mode without O_CREAT: EINVAL), linkat of
/// `/proc/self/fd/N` of a FIFO saying EXDEV, a read-only fd's file renamed since its open
/// linked on the lead alone (00030), and a destination through an absolute link into the
/// prefix refused ENOENT.
#[test]
fn random_namespace_calls_answer_as_natively_and_leave_identical_members() {
    let set = ShadowSet::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/namespace_fuzz.py");
    let native_root = set.scratch().join("native");
    fs::create_dir(&native_root).unwrap();
    for seed in 1..=40 {
        let transcript = |cmd: &mut Command, root: String| {
            let out = cmd.arg(&script).arg(&root).arg(seed.to_string()).arg("400").output().unwrap();
            assert!(out.status.success(), "seed {seed} ({root}): {}", String::from_utf8_lossy(&out.stderr));
            stdout_of(&out)
        };
        let native = transcript(&mut Command::new("python3"), format!("{}/{seed}", native_root.display()));
        let shadowed = transcript(&mut set.command("python3"), format!("/shadow/{seed}"));
        if let Some((n, s)) = native.lines().zip(shadowed.lines()).find(|(n, s)| n != s) {
            panic!("seed {seed}: natively `{n}`, under the shim `{s}` (rerun: namespace_fuzz.py ROOT {seed} 400)");
        }
        assert_eq!(native.lines().count(), shadowed.lines().count(), "seed {seed}: transcripts of different lengths");
    }
    set.assert_mirrored();
}
