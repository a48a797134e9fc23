//! Processes: fork keeps mirroring through inherited fds (the table is copied; atfork
//! handlers mark every OCB shared). vfork becomes fork, because a vfork child's dup2 would
//! otherwise rewrite its parent's table. exec and posix_spawn keep the shim in the child's
//! environment; the new image adopts inherited fds that point into the primary (adopt.rs).

use super::{resolve_arg, Arg};
use crate::boundary::{self, FfiReturn};
use crate::real::{raw, Errno};
use crate::resolve::Rel;
use crate::set;
use libc::{c_char, c_int, mode_t, pid_t};
use once_cell::sync::Lazy;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

extern "C" {
    static environ: *const *const c_char;
}

/// _exit(2) and _Exit(3) run no atexit handlers, so not the shim's either: the write intents
/// it holds are ended here (dash, for one, always leaves by `_exit`), as `_exit` itself must
/// be: async-signal-safe, no allocation, no waiting, no panic escaping.
#[no_mangle]
pub unsafe extern "C" fn _exit(status: c_int) -> ! {
    if set::is_initialised() {
        let _ = std::panic::catch_unwind(crate::members::end_intents_on_exit);
    }
    crate::real::exit_group(status)
}

#[no_mangle]
pub unsafe extern "C" fn _Exit(status: c_int) -> ! {
    _exit(status)
}

/// vfork(2) as fork(2).
#[no_mangle]
pub unsafe extern "C" fn vfork() -> pid_t {
    raw::fork()
}

/// An environment with LD_PRELOAD and SHADOW_CONFIG as this process has them.
struct Env {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

unsafe fn env_with_shim(envp: *const *const c_char) -> Option<Env> {
    let s = set::get();
    let lib = s.lib_path.as_ref()?;
    let config = [b"SHADOW_CONFIG=".as_slice(), s.config_path.to_bytes()].concat();
    let mut ptrs = Vec::new();
    let mut owned = Vec::new();
    let (mut has_config, mut has_lib) = (false, false);
    let mut i = 0;
    while !envp.is_null() && !(*envp.add(i)).is_null() {
        let e = *envp.add(i);
        let bytes = CStr::from_ptr(e).to_bytes();
        i += 1;
        if let Some(v) = bytes.strip_prefix(b"LD_PRELOAD=") {
            if v.split(|&b| b == b':' || b == b' ').any(|x| x == lib.to_bytes()) {
                has_lib = true;
            } else {
                owned.push(CString::new([b"LD_PRELOAD=", lib.to_bytes(), b":", v].concat()).ok()?);
                has_lib = true;
                continue;
            }
        } else if bytes.starts_with(b"SHADOW_CONFIG=") {
            has_config = bytes == config.as_slice();
            if !has_config {
                continue;
            }
        }
        ptrs.push(e);
    }
    if has_config && has_lib && owned.is_empty() {
        return None;
    }
    if !has_lib {
        owned.push(CString::new([b"LD_PRELOAD=", lib.to_bytes()].concat()).ok()?);
    }
    if !has_config {
        owned.push(CString::new(config).ok()?);
    }
    ptrs.extend(owned.iter().map(|c| c.as_ptr()));
    ptrs.push(std::ptr::null());
    Some(Env { _owned: owned, ptrs })
}

/// Runs an exec-like call with a program path resolved and the environment completed.
unsafe fn exec_with(path: *const c_char, envp: *const *const c_char, by_path: bool, call: impl Fn(*const c_char, *const *const c_char) -> c_int) -> c_int {
    if !set::is_active() {
        return call(path, envp);
    }
    boundary::hook(
        || {
            let env = env_with_shim(envp);
            let envp = env.as_ref().map_or(envp, |e| e.ptrs.as_ptr());
            let has_slash = !path.is_null() && CStr::from_ptr(path).to_bytes().contains(&b'/');
            let arg = if path.is_null() {
                Arg::Keep
            } else if by_path || has_slash {
                resolve_arg(libc::AT_FDCWD, path)
            } else {
                search_shadowed_path(CStr::from_ptr(path)).map_or(Arg::Keep, Arg::Path)
            };
            let target = match arg {
                Arg::Shadowed(rel) => super::lead_path(&rel),
                Arg::Path(p) => p,
                Arg::Keep => CString::default(),
            };
            let p = if target.as_bytes().is_empty() { path } else { target.as_ptr() };
            crate::members::retire_unused_intents();
            crate::members::not_in_flight(|| call(p, envp)).into_res()
        },
        || call(path, envp),
    )
}

/// execvp's PATH search when PATH has a directory inside the prefix: libc would look for
/// `/shadow/bin/prog` literally. Returns the real path of the first executable match, or
/// None to let libc search (no shadowed directory in PATH, or nothing found).
fn search_shadowed_path(file: &CStr) -> Option<CString> {
    let path = std::env::var_os("PATH")?;
    use std::os::unix::ffi::OsStrExt;
    let dirs: Vec<&[u8]> = path.as_bytes().split(|&b| b == b':').collect();
    let mut any_shadowed = false;
    let mut candidates = Vec::new();
    for dir in dirs {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let full = CString::new([dir, b"/", file.to_bytes()].concat()).ok()?;
        let real = match resolve_arg(libc::AT_FDCWD, full.as_ptr()) {
            Arg::Shadowed(rel) => {
                any_shadowed = true;
                super::lead_path(&rel)
            }
            Arg::Path(p) => p,
            Arg::Keep => full,
        };
        candidates.push(real);
    }
    if !any_shadowed {
        return None;
    }
    candidates.into_iter().find(|c| unsafe { raw::access(c.as_ptr(), libc::X_OK) } == 0)
}

/// execve(2)
#[no_mangle]
pub unsafe extern "C" fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(path, envp, true, |p, e| raw::execve(p, argv, e))
}

/// execv(3)
#[no_mangle]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    exec_with(path, environ, true, |p, e| raw::execve(p, argv, e))
}

/// execvpe(3)
#[no_mangle]
pub unsafe extern "C" fn execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(file, envp, false, |p, e| raw::execvpe(p, argv, e))
}

/// execvp(3)
#[no_mangle]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    exec_with(file, environ, false, |p, e| raw::execvpe(p, argv, e))
}

/// fexecve(3)
#[no_mangle]
pub unsafe extern "C" fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(std::ptr::null(), envp, false, |_, e| raw::fexecve(fd, argv, e))
}

/// An open that a posix_spawn file action will make in the child with glibc-internal
/// calls: the child gets the primary's path; creation and truncation are applied to the
/// secondary by the parent just before the spawn, and the child's shim adopts the fd.
struct SpawnOpen {
    actions: usize,
    rel: Rel,
    flags: c_int,
    mode: mode_t,
}
static SPAWN_OPENS: Lazy<Mutex<Vec<SpawnOpen>>> = Lazy::new(|| Mutex::new(Vec::new()));

/// posix_spawn_file_actions_addopen(3)
#[no_mangle]
pub unsafe extern "C" fn posix_spawn_file_actions_addopen(fa: *mut libc::posix_spawn_file_actions_t, fd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    let call = |p: *const c_char| raw::posix_spawn_file_actions_addopen(fa, fd, p, flags, mode);
    if !set::is_active() {
        return call(path);
    }
    // Returns an error number, not -1/errno.
    boundary::hook(
        || match resolve_arg(libc::AT_FDCWD, path) {
            Arg::Shadowed(rel) => {
                let r = call(super::lead_path(&rel).as_ptr());
                if r == 0 {
                    SPAWN_OPENS.lock().unwrap_or_else(|e| e.into_inner()).push(SpawnOpen { actions: fa as usize, rel, flags, mode });
                }
                Ok(r)
            }
            other => Ok(call(other.ptr(path))),
        },
        || call(path),
    )
}

/// posix_spawn_file_actions_addchdir_np(3): the child's chdir happens with internal calls.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn_file_actions_addchdir_np(fa: *mut libc::posix_spawn_file_actions_t, path: *const c_char) -> c_int {
    let call = |p: *const c_char| raw::posix_spawn_file_actions_addchdir_np(fa, p);
    if !set::is_active() {
        return call(path);
    }
    boundary::hook(
        || match resolve_arg(libc::AT_FDCWD, path) {
            Arg::Shadowed(rel) => Ok(call(super::lead_path(&rel).as_ptr())),
            other => Ok(call(other.ptr(path))),
        },
        || call(path),
    )
}

fn prepare_spawn_opens(fa: *const libc::posix_spawn_file_actions_t) {
    let mut opens = SPAWN_OPENS.lock().unwrap_or_else(|e| e.into_inner());
    opens.retain(|o| {
        if o.actions != fa as usize {
            return true;
        }
        if o.flags & (libc::O_CREAT | libc::O_TRUNC) != 0 && o.flags & libc::O_ACCMODE != libc::O_RDONLY {
            let flags = (o.flags & (libc::O_CREAT | libc::O_TRUNC)) | libc::O_WRONLY | libc::O_CLOEXEC;
            if let Some(path) = super::follower_path(&o.rel) {
                if let Ok(fd) = crate::real::open(&path, flags, o.mode) {
                    let _ = crate::real::close(fd);
                }
            }
        }
        false
    });
}

macro_rules! spawn_hooks {
    ($($name:ident by_path $by_path:expr),*) => {$(
        /// posix_spawn(3) / posix_spawnp(3); returns an error number.
        #[no_mangle]
        pub unsafe extern "C" fn $name(pid: *mut pid_t, path: *const c_char, fa: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int {
            let call = |p: *const c_char, e: *const *const c_char| raw::$name(pid, p, fa, attr, argv, e as *const *mut c_char);
            if !set::is_active() {
                return call(path, envp as _);
            }
            let result = std::cell::Cell::new(0);
            let r = exec_with(path, envp as _, $by_path, |p, e| {
                if !fa.is_null() {
                    prepare_spawn_opens(fa);
                }
                result.set(call(p, e));
                0
            });
            if r != 0 { Errno::last().0 } else { result.get() }
        }
    )*};
}
spawn_hooks!(posix_spawn by_path true, posix_spawnp by_path false);

