//! Processes: fork keeps mirroring through inherited fds (the table is copied; atfork
//! handlers mark every OCB shared). vfork becomes fork, because a vfork child's dup2 would
//! otherwise rewrite its parent's table. exec and posix_spawn keep the shim in the child's
//! environment; the new image adopts inherited fds that point into the primary (adopt.rs).

use super::{lead_file, resolve_arg, Arg};
use crate::boundary::{self, FfiReturn};
use crate::real::{raw, Errno};
use crate::resolve::Spath;
use crate::set;
use shadow_core::history::Code;
use libc::{c_char, c_int, mode_t, pid_t};
use once_cell::sync::Lazy;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

extern "C" {
    static mut environ: *const *const c_char;
}

/// _exit(2) and _Exit(3) run no atexit handlers, so not the shim's either: the write intents
/// it holds are ended here (dash, for one, always leaves by `_exit`), as `_exit` itself must
/// be: async-signal-safe, no allocation, no waiting, no panic escaping.
#[no_mangle]
pub unsafe extern "C-unwind" fn _exit(status: c_int) -> ! {
    end_without_handlers();
    crate::real::exit_group(status)
}

/// What `_exit` does before the process ends; also after `quick_exit`'s handlers, which
/// glibc ends with an internal `_exit` no hook sees (before, a program that left by
/// `quick_exit` left its intents open: a false crash report, recover due).
pub(crate) extern "C-unwind" fn end_without_handlers() {
    // Intents of files whose queued writes did not reach the follower stay open: recover
    // brings them level.
    let _no_cancel = boundary::NoCancel::hold();
    if set::is_initialised() {
        boundary::quiesce_for_exit(EXIT_PATIENCE);
    }
    if set::is_initialised() && crate::behind::drain_on_exit() {
        let _ = std::panic::catch_unwind(|| {
            crate::handoff::end_all(false);
            if !crate::members::state_applied_now() {
                crate::members::leave_in_flight_now();
                // What its mappings hold may be news to a member away (whether one is, the
                // process cannot tell without applying the change): named for its enable.
                crate::hooks::data::record_mappings_on_exit();
                return;
            }
            // An operation cut short (another thread's, or this one's under a signal that
            // kills the process) may have changed the lead alone: its intent, and every
            // other, stays open for recover. Before, `_exit` ended it as done.
            if crate::members::operation_in_flight_now() {
                return;
            }
            // The kernel stamped each member at its own write (the follower's may have come
            // from the write-behind queue much later): the follower takes the lead's times.
            if crate::hooks::data::sync_mappings_on_exit() {
                // Every change's range is in its open's part, and what mappings hold is
                // named: each part ends as at a last close.
                crate::outage::end_all_now();
                crate::fdtable::for_each_link_now(|fd, ocb| {
                    ocb.check_tail_now(fd);
                    ocb.settle_times_now(fd);
                    ocb.report_insecure_now();
                });
                crate::members::end_intents_on_exit();
            }
        });
    }
}

/// How long the process's end waits for other threads' hooks to finish
/// (`boundary::quiesce_for_exit`).
pub const EXIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

extern "C" {
    fn at_quick_exit(f: extern "C-unwind" fn()) -> c_int;
}

/// Registered at the start, before the program's own: handlers run in the reverse order,
/// so the shim's ends the intents after the program's have written what they write.
pub fn end_at_quick_exit() {
    unsafe { at_quick_exit(end_without_handlers) };
}

#[no_mangle]
pub unsafe extern "C-unwind" fn _Exit(status: c_int) -> ! {
    _exit(status)
}

/// pthread_cancel(3): from the program's first, hooks act on pending requests at their
/// start and hold cancellation off inside, in a single-threaded process too (a thread
/// cancelling itself): see `boundary::NoCancel`.
#[no_mangle]
pub unsafe extern "C-unwind" fn pthread_cancel(thread: libc::pthread_t) -> c_int {
    boundary::note_cancel();
    raw::pthread_cancel(thread)
}

/// pthread_create(3): the new thread's system calls from the executable's code trap as its
/// creator's do (sud.rs: the kernel does not carry that over to a new thread).
#[no_mangle]
pub unsafe extern "C-unwind" fn pthread_create(thread: *mut libc::pthread_t, attr: *const libc::pthread_attr_t, start: ThreadStart, arg: *mut libc::c_void) -> c_int {
    if !crate::sud::on() {
        return raw::pthread_create(thread, attr, start, arg);
    }
    let job = Box::into_raw(Box::new((start, arg)));
    let r = raw::pthread_create(thread, attr, armed, job.cast());
    if r != 0 {
        drop(Box::from_raw(job));
    }
    r
}

/// A thread's start routine; "C-unwind": a program's thread may leave by `pthread_exit`
/// or a cancellation, which unwind through its caller.
type ThreadStart = extern "C-unwind" fn(*mut libc::c_void) -> *mut libc::c_void;

/// A program's thread, its dispatch set first (see `pthread_create`). Nothing to drop once
/// the program's function runs: a cancellation or `pthread_exit` unwinds through.
extern "C-unwind" fn armed(job: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: made by `pthread_create` above, for this thread alone.
    let (start, arg) = *unsafe { Box::from_raw(job.cast::<(ThreadStart, *mut libc::c_void)>()) };
    crate::sud::arm();
    start(arg)
}

/// daemon(3), made as glibc makes it but through the shim's hooks: glibc's own makes its
/// `_exit`, `chdir`, `open` and `dup2` with internal calls no hook sees, so the parent left
/// with its write intents open (a false crash report), the shim's cwd stayed where the
/// program was, and fds 1 and 2 stayed linked to a log under the prefix while the kernel
/// had pointed them at /dev/null: writes to /dev/null were repeated on the log's follower,
/// and at exit the follower took /dev/null's times (tmux's server; sshd, qemu-nbd).
#[no_mangle]
pub unsafe extern "C-unwind" fn daemon(nochdir: c_int, noclose: c_int) -> c_int {
    match raw::fork() {
        -1 => return -1,
        0 => {}
        _ => _exit(0),
    }
    if libc::setsid() < 0 {
        return -1;
    }
    if nochdir == 0 {
        let _ = super::dir::chdir(c"/".as_ptr());
    }
    if noclose == 0 {
        let fd = super::open::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0);
        if fd < 0 {
            return -1;
        }
        for std in 0..3 {
            super::open::dup2(fd, std);
        }
        if fd > 2 {
            super::open::close(fd);
        }
    }
    0
}

/// _Fork(3): a fork that runs no atfork handler; the shim's own still run (a child the
/// shim did not see would share its parent's registry slot and write through unordered fds).
#[no_mangle]
pub unsafe extern "C-unwind" fn _Fork() -> pid_t {
    boundary::fork_without_atfork(|| raw::_Fork())
}

/// vfork(2) as fork(2).
#[no_mangle]
pub unsafe extern "C-unwind" fn vfork() -> pid_t {
    raw::fork()
}

/// After a change of a resource limit (`r`: its result): a new RLIMIT_FSIZE is learnt, the
/// size the shim's own state files are written below (`real::state_write`).
fn limit_set(r: c_int, resource: c_int) -> c_int {
    if r == 0 && resource == libc::RLIMIT_FSIZE as c_int {
        crate::real::learn_file_size_limit();
    }
    r
}

/// setrlimit(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn setrlimit(resource: c_int, limit: *const libc::rlimit) -> c_int {
    limit_set(raw::setrlimit(resource, limit), resource)
}

/// setrlimit64(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn setrlimit64(resource: c_int, limit: *const libc::rlimit64) -> c_int {
    limit_set(raw::setrlimit64(resource, limit), resource)
}

/// prlimit(2), of this process or another (then nothing changed here, and nothing is lost
/// by looking again).
#[no_mangle]
pub unsafe extern "C-unwind" fn prlimit(pid: pid_t, resource: c_int, new: *const libc::rlimit, old: *mut libc::rlimit) -> c_int {
    limit_set(raw::prlimit(pid, resource, new, old), resource)
}

/// prlimit64(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn prlimit64(pid: pid_t, resource: c_int, new: *const libc::rlimit64, old: *mut libc::rlimit64) -> c_int {
    limit_set(raw::prlimit64(pid, resource, new, old), resource)
}

/// An environment with LD_PRELOAD and SHADOW_CONFIG as this process has them, and with
/// LD_LIBRARY_PATH entries under the prefix turned into the lead member's directories (the
/// loader cannot see the prefix); the child's shim puts the program's own value back.
struct Env {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

/// Where the child's shim finds the program's own LD_LIBRARY_PATH.
pub const SAVED_LIBRARY_PATH: &str = "SHADOW_LD_LIBRARY_PATH";

/// Where a new image finds the write intents its old image carried across exec.
pub const CARRIED_INTENTS: &str = "SHADOW_CARRIED_INTENTS";

/// Where a new image finds the follower's fds its old image kept open across exec for the
/// files it inherits: `program fd:follower fd`, comma-separated.
pub const CARRIED_FOLLOWERS: &str = "SHADOW_CARRIED_FOLLOWERS";
/// The moves of shared descriptions this process published, carried into the new image
/// (`handoff::carry_across_exec`).
pub const CARRIED_HANDOFFS: &str = "SHADOW_CARRIED_HANDOFFS";

/// Set in a new image's environment when the shim gave it an LD_LIBRARY_PATH it did not
/// have (see `LoaderPaths`): the child's shim removes it again.
pub const ADDED_LIBRARY_PATH: &str = "SHADOW_LD_LIBRARY_PATH_ADDED";

/// The new program's own DT_RPATH and DT_RUNPATH when they name directories under the
/// prefix, as the lead member's: the loader, which cannot see the prefix, finds them in
/// LD_LIBRARY_PATH, the RPATH before the program's LD_LIBRARY_PATH and the RUNPATH after
/// it, where it would have searched them. Before, a program built under the prefix with a
/// RUNPATH there (CMake's build-tree executables) failed to start: "cannot open shared
/// object file". A library's own RUNPATH under the prefix is not seen.
#[derive(Default)]
struct LoaderPaths {
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
}

impl LoaderPaths {
    fn of(file: &CStr) -> LoaderPaths {
        // O_NONBLOCK: the program may be a FIFO, which the exec refuses and an open would
        // wait on for ever (before, such an exec hung).
        let Ok(fd) = crate::real::open(file, libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK, 0) else { return LoaderPaths::default() };
        let found = shadow_core::exec::search_paths(|off, len| {
            let mut buf = vec![0; len];
            let n = crate::real::pread(fd, &mut buf, off as i64).ok()?;
            buf.truncate(n);
            Some(buf)
        });
        let _ = crate::real::close(fd);
        LoaderPaths { before: found.rpath.as_deref().and_then(library_path_in_members), after: found.runpath.as_deref().and_then(library_path_in_members) }
    }

    /// `middle` (the LD_LIBRARY_PATH the program passes on) with these around it; None
    /// when there are none.
    fn around(&self, middle: &[u8]) -> Option<Vec<u8>> {
        if self.before.is_none() && self.after.is_none() {
            return None;
        }
        let parts = [self.before.as_deref(), Some(middle), self.after.as_deref()];
        Some(parts.into_iter().flatten().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(&b':'))
    }
}

/// `extra`: variables to add (replacing any of the same name).
unsafe fn env_with_shim(envp: *const *const c_char, extra: Vec<CString>, loader: &LoaderPaths) -> Option<Env> {
    let s = set::get();
    let lib = s.lib_path.as_ref()?;
    let config = [b"SHADOW_CONFIG=".as_slice(), s.config_path.to_bytes()].concat();
    let mut ptrs = Vec::new();
    let mut owned = Vec::new();
    let (mut has_config, mut has_lib, mut has_library_path) = (false, false, false);
    let mut i = 0;
    while !envp.is_null() && !(*envp.add(i)).is_null() {
        let e = *envp.add(i);
        let bytes = CStr::from_ptr(e).to_bytes();
        i += 1;
        if let Some(v) = bytes.strip_prefix(b"LD_PRELOAD=") {
            has_lib = true;
            // Libraries under the prefix are the lead's files to the loader, which cannot
            // see the prefix (before, it ignored them: "cannot be preloaded").
            let real = paths_in_members(v, b": ", b"");
            let preload = real.as_deref().unwrap_or(v);
            if preload.split(|&b| b == b':' || b == b' ').any(|x| x == lib.to_bytes()) {
                if real.is_none() {
                    ptrs.push(e);
                    continue;
                }
                owned.push(CString::new([b"LD_PRELOAD=", preload].concat()).ok()?);
            } else {
                owned.push(CString::new([b"LD_PRELOAD=", lib.to_bytes(), b":", preload].concat()).ok()?);
            }
            continue;
        } else if bytes.starts_with(b"SHADOW_CONFIG=") {
            has_config = bytes == config.as_slice();
            if !has_config {
                continue;
            }
        } else if [SAVED_LIBRARY_PATH, ADDED_LIBRARY_PATH, CARRIED_INTENTS, CARRIED_FOLLOWERS, CARRIED_HANDOFFS].iter().any(|v| bytes.starts_with(v.as_bytes()) && bytes.get(v.len()) == Some(&b'=')) {
            continue;
        } else if let Some(v) = bytes.strip_prefix(b"LD_LIBRARY_PATH=") {
            has_library_path = true;
            let real = library_path_in_members(v);
            if let Some(path) = loader.around(real.as_deref().unwrap_or(v)).or(real) {
                owned.push(CString::new([b"LD_LIBRARY_PATH=", path.as_slice()].concat()).ok()?);
                owned.push(CString::new([SAVED_LIBRARY_PATH.as_bytes(), b"=", v].concat()).ok()?);
                continue;
            }
        }
        ptrs.push(e);
    }
    if let Some(path) = loader.around(b"").filter(|_| !has_library_path) {
        owned.push(CString::new([b"LD_LIBRARY_PATH=", path.as_slice()].concat()).ok()?);
        owned.push(CString::new([ADDED_LIBRARY_PATH.as_bytes(), b"=1"].concat()).ok()?);
    }
    owned.extend(extra);
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

/// A library search path with its directories under the prefix replaced by the lead
/// member's, or `None` when it names none.
fn library_path_in_members(v: &[u8]) -> Option<Vec<u8>> {
    paths_in_members(v, b":;", b".")
}

/// A list of paths (split at any of `separators`, joined again with ':') with those under
/// the prefix replaced by the lead member's files, or `None` when it names none. An empty
/// entry stands for `empty`.
fn paths_in_members(v: &[u8], separators: &[u8], empty: &[u8]) -> Option<Vec<u8>> {
    let mut any = false;
    let entries: Vec<Vec<u8>> = v
        .split(|b| separators.contains(b))
        .map(|d| {
            let c = CString::new(if d.is_empty() { empty } else { d }).ok().filter(|c| !c.is_empty());
            match c.and_then(|c| resolve_arg(libc::AT_FDCWD, c.as_ptr())) {
                Some(Arg::Shadowed(sp)) => {
                    any = true;
                    lead_file(&sp).into_bytes()
                }
                _ => d.to_vec(),
            }
        })
        .collect();
    any.then(|| entries.join(&b':'))
}

/// In a new image: the program's own LD_LIBRARY_PATH again, once the loader has used the
/// members' (see `env_with_shim`).
pub fn restore_library_path() {
    if let Some(v) = std::env::var_os(SAVED_LIBRARY_PATH) {
        std::env::set_var("LD_LIBRARY_PATH", v);
        std::env::remove_var(SAVED_LIBRARY_PATH);
    }
    if std::env::var_os(ADDED_LIBRARY_PATH).is_some() {
        std::env::remove_var("LD_LIBRARY_PATH");
        std::env::remove_var(ADDED_LIBRARY_PATH);
    }
}

/// In a new image: the ids of the write intents the old image carried across exec (see
/// `members::prepare_exec`), taken out of the environment.
/// In a new image: the moves the old image published, taken out of the environment and
/// made this image's (`handoff::take_carried`).
pub fn take_carried_handoffs() {
    if let Ok(text) = std::env::var(CARRIED_HANDOFFS) {
        std::env::remove_var(CARRIED_HANDOFFS);
        crate::handoff::take_carried(&text);
    }
}

pub fn take_carried_intents() -> Vec<u64> {
    let ids = std::env::var(CARRIED_INTENTS).unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).collect();
    std::env::remove_var(CARRIED_INTENTS);
    ids
}

/// In a new image: the follower's fds its old image kept open for the files it inherits
/// (program fd, follower fd), taken out of the environment, each the shim's own again
/// (close-on-exec, kept out of the program's sight). The pairs name fds this image holds
/// as it starts: a program cannot set the variable to reach others, since the shim's own
/// exec replaces it.
pub fn take_carried_followers() -> Vec<(c_int, c_int)> {
    let pairs: Vec<(c_int, c_int)> = std::env::var(CARRIED_FOLLOWERS).unwrap_or_default().split(',').filter_map(|p| p.split_once(':')).filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))).collect();
    std::env::remove_var(CARRIED_FOLLOWERS);
    let mut kept: Vec<(c_int, c_int)> = Vec::new();
    for (fd, sfd) in pairs {
        if kept.iter().any(|&(_, s)| s == sfd) || crate::real::fcntl(sfd, libc::F_SETFD, libc::FD_CLOEXEC as libc::c_long).is_ok() {
            crate::fdtable::set_internal(sfd, true);
            kept.push((fd, sfd));
        }
    }
    kept
}

/// The follower's fds of the files a new image or a spawned child inherits, kept open
/// across the exec (their close-on-exec flag cleared) and named to it (`CARRIED_FOLLOWERS`),
/// so that its follower's file is the same description as this one's, as its lead's is: a
/// flock or OFD lock it takes there stays the description's when it ends. Before, the new
/// image opened one of its own: the follower's copy of the lock flock(1) took for a shell
/// (`exec 9>>lock; flock -x 9`) went with flock(1), and while the shell slept through a
/// `disable primary`, another process was granted the lock on the new lead. Put back
/// when dropped: the spawn returned, or the exec failed.
struct FollowersAcross(Vec<c_int>);

/// Held for writing while a spawn or exec has follower's fds open across it, for reading by
/// any other: a child spawned by another thread then would inherit them unnamed.
static SPAWNING: std::sync::RwLock<()> = std::sync::RwLock::new(());

impl FollowersAcross {
    /// The variable naming `pairs` to the new image.
    fn named(pairs: &[(c_int, c_int)]) -> Option<CString> {
        let named = pairs.iter().map(|(fd, s)| format!("{fd}:{s}")).collect::<Vec<_>>().join(",");
        CString::new(format!("{CARRIED_FOLLOWERS}={named}")).ok()
    }

    /// Keeps the follower's fds of `pairs` open across the exec (a new image that finds one
    /// closed takes none for it: `take_carried_followers`).
    fn keep(pairs: &[(c_int, c_int)]) -> FollowersAcross {
        let mut fds: Vec<c_int> = pairs.iter().map(|&(_, s)| s).collect();
        fds.sort_unstable();
        fds.dedup();
        fds.retain(|&s| crate::real::fcntl(s, libc::F_SETFD, 0).is_ok());
        FollowersAcross(fds)
    }
}

impl Drop for FollowersAcross {
    fn drop(&mut self) {
        for &s in &self.0 {
            let _ = crate::real::fcntl(s, libc::F_SETFD, libc::FD_CLOEXEC as libc::c_long);
        }
    }
}

/// The program list of an exec that the shim starts itself: a `#!` script under the prefix,
/// or one whose interpreter is there. The kernel would hand the interpreter the member's
/// path of the script (or fail to find an interpreter under the prefix); the shim reads the
/// `#!` line as binfmt_script does and runs the interpreter with the script's virtual path.
struct Launch {
    file: CString,
    argv: Vec<CString>,
}

impl Launch {
    fn argv_ptrs(&self) -> Vec<*const c_char> {
        self.argv.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
    }
}

/// The first bytes of a file the kernel would exec, if it is executable and readable.
fn script_head(file: &CStr) -> Option<Vec<u8>> {
    if unsafe { raw::access(file.as_ptr(), libc::X_OK) } != 0 {
        return None;
    }
    let fd = crate::real::open(file, libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK, 0).ok()?;
    let mut head = vec![0u8; shadow_core::exec::HEAD];
    let n = unsafe { raw::read(fd, head.as_mut_ptr().cast(), head.len()) };
    let _ = crate::real::close(fd);
    head.truncate(usize::try_from(n).ok()?);
    Some(head)
}

/// Plans an exec of `shown` (the path as the program named it), found at `file` (the lead
/// member's file when `shadowed`). `None`: the kernel does it as asked.
unsafe fn plan_launch(shown: &[u8], mut file: CString, mut shadowed: bool, argv: *const *const c_char) -> Option<Launch> {
    let mut rest: Vec<Vec<u8>> = Vec::new();
    let mut i = 1;
    while !argv.is_null() && !(*argv.add(i - 1)).is_null() && !(*argv.add(i)).is_null() {
        rest.push(CStr::from_ptr(*argv.add(i)).to_bytes().to_vec());
        i += 1;
    }
    let mut shown = shown.to_vec();
    let mut args: Option<Vec<Vec<u8>>> = None;
    // Linux follows up to four interpreters that are scripts themselves.
    for _ in 0..4 {
        let Some(head) = script_head(&file) else { break };
        let Some((interp, arg)) = shadow_core::exec::shebang(&head) else { break };
        let interp_c = CString::new(interp).ok()?;
        let (interp_file, interp_shadowed) = match resolve_arg(libc::AT_FDCWD, interp_c.as_ptr()) {
            Some(Arg::Shadowed(sp)) => (lead_file(&sp), true),
            Some(Arg::Path(p)) => (p, false),
            _ => (interp_c.clone(), false),
        };
        if !shadowed && !interp_shadowed && args.is_none() {
            return None;
        }
        let all = shadow_core::exec::interpreter_args(interp, arg, &shown, &rest);
        rest = all[1..].to_vec();
        args = Some(all);
        shown = interp.to_vec();
        file = interp_file;
        shadowed = interp_shadowed;
    }
    let argv = args?.into_iter().map(|a| CString::new(a).ok()).collect::<Option<Vec<_>>>()?;
    Some(Launch { file, argv })
}

/// What an exec-like call starts: a new image of this process (exec), which ends this one,
/// or a child (posix_spawn, with its file actions).
#[derive(Clone, Copy)]
enum Starting {
    Image,
    Child(*const libc::posix_spawn_file_actions_t),
}

/// Runs an exec-like call with the program resolved and the environment completed. `call`
/// gets the file, the argument list and the environment.
unsafe fn exec_with(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    how: Find,
    starting: Starting,
    call: impl Fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int,
) -> c_int {
    if !set::is_active() {
        return call(path, argv, envp);
    }
    let replaces = matches!(starting, Starting::Image);
    // A signal deferred and still blocked would be carried, blocked, into the new image.
    let call = |file, argv, envp| crate::signals::launching(|| call(file, argv, envp));
    let hook = |body, passthrough| match replaces {
        true => crate::members::executing(|| boundary::hook(body, passthrough)),
        false => boundary::hook(body, passthrough),
    };
    hook(
        || {
            // The names a spawn's creating opens change, held until it returns. Taken here,
            // under the hook's hold on the fork lock, as every hook takes names: before,
            // they were taken first and the hold after, and a spawn waiting for its hold
            // behind a fork in another thread, which waited for a third thread's hook,
            // which waited for one of those names, hung all three (helper-49).
            let _names = match starting {
                Starting::Child(fa) if !fa.is_null() => prepare_spawn_opens(fa),
                _ => Vec::new(),
            };
            if replaces {
                // The image's shared mappings go with it, as at exit: copied now (a mapping
                // still in place at exec reached the primary alone).
                crate::hooks::data::sync_all_deferred();
            }
            let mut carried = if replaces { crate::members::prepare_exec() } else { Default::default() };
            // If the exec fails this image goes on: what it began for the new one is over.
            let _undo = ExecFailed(carried.begun);
            let carried_env = (!carried.ids.is_empty()).then(|| CString::new(format!("{CARRIED_INTENTS}={}", carried.ids.iter().map(u64::to_string).collect::<Vec<_>>().join(","))).unwrap_or_default());
            let name = crate::mem::path(path);
            let found = match (name, how) {
                (None, _) => None,
                (Some(n), Find::Search) if !n.to_bytes().contains(&b'/') => search_shadowed_path(n),
                (Some(n), Find::At(dirfd)) => match resolve_arg(dirfd, n.as_ptr()) {
                    Some(Arg::Shadowed(sp)) => Some((n.to_bytes().to_vec(), lead_file(&sp), true)),
                    Some(Arg::Path(p)) => Some((n.to_bytes().to_vec(), p, false)),
                    _ => Some((n.to_bytes().to_vec(), n.to_owned(), false)),
                },
                (Some(n), _) => match resolve_arg(libc::AT_FDCWD, n.as_ptr()) {
                    Some(Arg::Shadowed(sp)) => Some((n.to_bytes().to_vec(), lead_file(&sp), true)),
                    Some(Arg::Path(p)) => Some((n.to_bytes().to_vec(), p, false)),
                    _ => Some((n.to_bytes().to_vec(), n.to_owned(), false)),
                },
            };
            let launch = found.as_ref().and_then(|(shown, file, shadowed)| plan_launch(shown, file.clone(), *shadowed, argv));
            let searched = (found.is_none() && matches!(how, Find::Search)).then(|| name.and_then(program_in_path)).flatten();
            let program = launch.as_ref().map(|l| &l.file).or(found.as_ref().map(|f| &f.1)).or(searched.as_ref());
            // Looked at only when the new program could change something under the prefix
            // without the shim: files inherited open for writing, or a working directory
            // there (a stat and a few reads of the program).
            let cwd = crate::resolve::virtual_cwd();
            let followers = if replaces { std::mem::take(&mut carried.followers) } else { crate::members::inherited_followers() };
            let verdict = (!carried.files.is_empty() || cwd.is_some() || !followers.is_empty() || replaces && crate::handoff::pending()).then(|| program.and_then(|p| p.to_str().ok()).map(shadow_core::execcheck::runs_with_shim)).flatten();
            if let Some(Err(without)) = &verdict {
                if without.certain {
                    crate::members::exec_without_shim(&carried.files, &without.to_string());
                    if let Some(cwd) = cwd {
                        crate::report::record(Code::Unmirrored, &cwd, &format!("working directory of {without}: its changes by a relative path reach the primary alone"));
                    }
                }
            }
            // Only to a program certain to run under the shim, which takes them back: to any
            // other they would be fds it never opened. Nor to a child another thread spawns
            // meanwhile (a fork waits for this hook already).
            let carry = !followers.is_empty() && matches!(verdict, Some(Ok(())));
            let _carrying = carry.then(|| SPAWNING.write().unwrap_or_else(|e| e.into_inner()));
            let _spawning = (!carry).then(|| SPAWNING.read().unwrap_or_else(|e| e.into_inner()));
            let followers_env = carry.then(|| FollowersAcross::named(&followers)).flatten();
            let named = followers_env.is_some();
            // The moves this image published go on in a new image under the shim that gets
            // them named; in any other they end here (their fds close with the exec).
            let handoffs = (replaces && matches!(verdict, Some(Ok(())))).then(crate::handoff::carry_across_exec).flatten();
            let (handoffs_env, handoffs_kept) = handoffs.and_then(|(text, kept)| Some((CString::new(format!("{CARRIED_HANDOFFS}={text}")).ok()?, kept))).unzip();
            let env = env_with_shim(envp, carried_env.into_iter().chain(followers_env).chain(handoffs_env).collect(), &program.map(|p| LoaderPaths::of(p)).unwrap_or_default());
            let handoffs_kept = handoffs_kept.filter(|_| env.is_some());
            if replaces && handoffs_kept.is_none() {
                crate::handoff::end_all(true);
            }
            let _followers = FollowersAcross::keep(if named && env.is_some() { &followers } else { &[] });
            let envp = env.as_ref().map_or(envp, |e| e.ptrs.as_ptr());
            crate::members::retire_unused_intents();
            match (&launch, &found) {
                (Some(l), _) => {
                    let ptrs = l.argv_ptrs();
                    crate::members::not_in_flight(|| call(l.file.as_ptr(), ptrs.as_ptr(), envp)).into_res()
                }
                (None, Some((shown, file, shadowed))) => {
                    // The program's own pointer when nothing changed: execveat tells its
                    // dirfd-relative path from one the shim rewrote by it.
                    let file = if !shadowed && file.as_bytes() == shown.as_slice() { path } else { file.as_ptr() };
                    crate::members::not_in_flight(|| call(file, argv, envp)).into_res()
                }
                (None, None) => crate::members::not_in_flight(|| call(path, argv, envp)).into_res(),
            }
        },
        || call(path, argv, envp),
    )
}

/// Ends, when dropped (the exec returned: it failed), the intents begun for a new image.
struct ExecFailed(Vec<u64>);
impl Drop for ExecFailed {
    fn drop(&mut self) {
        for &id in &self.0 {
            crate::members::intent_end(id);
        }
    }
}

/// How an exec finds its program.
#[derive(Clone, Copy)]
enum Find {
    /// By the path given.
    Path,
    /// In PATH when the name has no slash (execvp).
    Search,
    /// Relative to a directory fd (execveat).
    At(c_int),
}

/// execvp's PATH search when PATH has a directory inside the prefix: libc would look for
/// `/shadow/bin/prog` literally. Returns the path as found (`dir/file`, which a script's
/// interpreter is given) and the file to run, or None to let libc search (no shadowed
/// directory in PATH, or nothing found).
fn search_shadowed_path(file: &CStr) -> Option<(Vec<u8>, CString, bool)> {
    let candidates = path_candidates(file)?;
    if !candidates.iter().any(|c| c.2) {
        return None;
    }
    candidates.into_iter().find(|c| unsafe { raw::access(c.1.as_ptr(), libc::X_OK) } == 0)
}

/// The program libc's own PATH search (no directory of it inside the prefix) will run: for
/// the look at whether it runs under the shim alone. Before, there was none, and an execvp
/// (`execlp("sh", ...)`) never carried the follower's fds of the files it inherits: a
/// child handed an O_TMPFILE file reported it insecure.
fn program_in_path(file: &CStr) -> Option<CString> {
    path_candidates(file)?.into_iter().map(|c| c.1).find(|p| unsafe { raw::access(p.as_ptr(), libc::X_OK) } == 0)
}

/// Each PATH directory's `dir/file`: as written, the file to run, whether it is under the
/// prefix.
fn path_candidates(file: &CStr) -> Option<Vec<(Vec<u8>, CString, bool)>> {
    let path = std::env::var_os("PATH")?;
    use std::os::unix::ffi::OsStrExt;
    let mut candidates = Vec::new();
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let full = CString::new([dir, b"/", file.to_bytes()].concat()).ok()?;
        let (real, shadowed) = match resolve_arg(libc::AT_FDCWD, full.as_ptr()) {
            Some(Arg::Shadowed(sp)) => (lead_file(&sp), true),
            Some(Arg::Path(p)) => (p, false),
            _ => (full.clone(), false),
        };
        candidates.push((full.into_bytes(), real, shadowed));
    }
    Some(candidates)
}

/// execve(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(path, argv, envp, Find::Path, Starting::Image, |p, a, e| raw::execve(p, a, e))
}

/// execv(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    exec_with(path, argv, environ, Find::Path, Starting::Image, |p, a, e| raw::execve(p, a, e))
}

/// execvpe(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(file, argv, envp, Find::Search, Starting::Image, |p, a, e| raw::execvpe(p, a, e))
}

/// execvp(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    exec_with(file, argv, environ, Find::Search, Starting::Image, |p, a, e| raw::execvpe(p, a, e))
}

/// fexecve(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    exec_with(std::ptr::null(), argv, envp, Find::Path, Starting::Image, |_, a, e| raw::fexecve(fd, a, e))
}

/// execveat(2): an empty path with AT_EMPTY_PATH is fexecve.
#[no_mangle]
pub unsafe extern "C-unwind" fn execveat(dirfd: c_int, path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, flags: c_int) -> c_int {
    let on_fd = flags & libc::AT_EMPTY_PATH != 0 && crate::mem::path(path).is_some_and(|p| p.is_empty());
    if on_fd {
        return exec_with(std::ptr::null(), argv, envp, Find::Path, Starting::Image, |_, a, e| raw::execveat(dirfd, path, a, e, flags));
    }
    exec_with(path, argv, envp, Find::At(dirfd), Starting::Image, |p, a, e| {
        if p == path {
            raw::execveat(dirfd, p, a, e, flags)
        } else {
            raw::execve(p, a, e)
        }
    })
}

/// An open that a posix_spawn file action will make in the child with glibc-internal
/// calls: the child gets the primary's path; creation and truncation are applied to the
/// secondary by the parent just before the spawn, and the child's shim adopts the fd.
struct SpawnOpen {
    actions: usize,
    sp: Spath,
    flags: c_int,
    mode: mode_t,
}
static SPAWN_OPENS: Lazy<Mutex<Vec<SpawnOpen>>> = Lazy::new(|| Mutex::new(Vec::new()));

/// posix_spawn_file_actions_addopen(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn posix_spawn_file_actions_addopen(fa: *mut libc::posix_spawn_file_actions_t, fd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    let call = |p: *const c_char| raw::posix_spawn_file_actions_addopen(fa, fd, p, flags, mode);
    if !set::is_active() {
        return call(path);
    }
    // Returns an error number, not -1/errno.
    boundary::hook(
        || match resolve_arg(libc::AT_FDCWD, path) {
            Some(Arg::Shadowed(sp)) => {
                let r = call(lead_file(&sp).as_ptr());
                if r == 0 {
                    SPAWN_OPENS.lock().unwrap_or_else(|e| e.into_inner()).push(SpawnOpen { actions: fa as usize, sp, flags, mode });
                }
                Ok(r)
            }
            Some(other) => Ok(call(other.ptr(path))),
            None => Ok(call(path)),
        },
        || call(path),
    )
}

/// posix_spawn_file_actions_addchdir_np(3): the child's chdir happens with internal calls.
#[no_mangle]
pub unsafe extern "C-unwind" fn posix_spawn_file_actions_addchdir_np(fa: *mut libc::posix_spawn_file_actions_t, path: *const c_char) -> c_int {
    let call = |p: *const c_char| raw::posix_spawn_file_actions_addchdir_np(fa, p);
    if !set::is_active() {
        return call(path);
    }
    boundary::hook(
        || match resolve_arg(libc::AT_FDCWD, path) {
            Some(Arg::Shadowed(sp)) => Ok(call(lead_file(&sp).as_ptr())),
            Some(other) => Ok(call(other.ptr(path))),
            None => Ok(call(path)),
        },
        || call(path),
    )
}

/// The actions list is used for every spawn made with it until it is destroyed (or
/// initialised again at the same address).
fn forget_spawn_opens(fa: *const libc::posix_spawn_file_actions_t) {
    if set::is_active() {
        boundary::prepare(|| {
            SPAWN_OPENS.lock().unwrap_or_else(|e| e.into_inner()).retain(|o| o.actions != fa as usize);
            Some(())
        });
    }
}

/// posix_spawn_file_actions_init(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn posix_spawn_file_actions_init(fa: *mut libc::posix_spawn_file_actions_t) -> c_int {
    forget_spawn_opens(fa);
    raw::posix_spawn_file_actions_init(fa)
}

/// posix_spawn_file_actions_destroy(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn posix_spawn_file_actions_destroy(fa: *mut libc::posix_spawn_file_actions_t) -> c_int {
    forget_spawn_opens(fa);
    raw::posix_spawn_file_actions_destroy(fa)
}

/// The follower's part of a spawn's opens that create or truncate, made before the child
/// makes the lead's: their names, and the files they empty, are held until the spawn has
/// returned (the child's opens are then made), so that no other process's change to them
/// falls between the two (see names.rs, ocb::hold_files).
fn prepare_spawn_opens(fa: *const libc::posix_spawn_file_actions_t) -> Vec<crate::stripes::Held> {
    let changing: Vec<(Spath, c_int, mode_t)> = SPAWN_OPENS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|o| o.actions == fa as usize && o.flags & (libc::O_CREAT | libc::O_TRUNC) != 0 && o.flags & libc::O_ACCMODE != libc::O_RDONLY)
        .map(|o| (o.sp.clone(), o.flags, o.mode))
        .collect();
    let mut held = crate::names::hold_each(changing.iter().map(|(sp, ..)| sp.rel()));
    let v = crate::members::view();
    let emptied: Vec<libc::stat64> = changing
        .iter()
        .filter(|(_, flags, _)| flags & libc::O_TRUNC != 0)
        .filter_map(|(sp, ..)| sp.at_lead(&v).and_then(|a| crate::real::fstatat(a.fd, &a.path, 0)).ok())
        .filter(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
        .collect();
    held.extend(crate::ocb::hold_files(&emptied));
    for (sp, flags, mode) in &changing {
        // O_NONBLOCK: a FIFO there would wait for a reader of the follower's, which never
        // comes (before, such a spawn hung); it carries nothing to create or empty anyway.
        // A file another process holds a lease on answers EWOULDBLOCK instead: opened again
        // as asked, which waits for the lease to be broken, as the child's open will.
        let flags = (flags & (libc::O_CREAT | libc::O_TRUNC)) | libc::O_WRONLY | libc::O_CLOEXEC;
        let open = |a: &crate::resolve::At, flags: c_int| unsafe { raw::openat64(a.fd, a.path.as_ptr(), flags, *mode) };
        let opened = super::on_follower(sp, |a| match open(a, flags | libc::O_NONBLOCK) {
            -1 if crate::real::Errno::last() == crate::real::Errno(libc::EWOULDBLOCK) => open(a, flags),
            fd => fd,
        });
        if let Some(Ok(fd)) = opened {
            let _ = crate::real::close(fd);
        }
    }
    held
}

macro_rules! spawn_hooks {
    ($($name:ident finds $how:expr),*) => {$(
        /// posix_spawn(3) / posix_spawnp(3); returns an error number.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(pid: *mut pid_t, path: *const c_char, fa: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int {
            let call = |p: *const c_char, a: *const *const c_char, e: *const *const c_char| raw::$name(pid, p, fa, attr, a as *const *mut c_char, e as *const *mut c_char);
            if !set::is_active() {
                return call(path, argv as _, envp as _);
            }
            let result = std::cell::Cell::new(0);
            mark_inherited_shared(!fa.is_null());
            let r = exec_with(path, argv as _, envp as _, $how, Starting::Child(fa), |p, a, e| {
                result.set(call(p, a, e));
                0
            });
            if r != 0 { Errno::last().0 } else { result.get() }
        }
    )*};
}
spawn_hooks!(posix_spawn finds Find::Path, posix_spawnp finds Find::Search);

fn mark_inherited_shared(with_cloexec: bool) {
    boundary::prepare(|| {
        crate::fdtable::mark_inherited_shared(with_cloexec);
        Some(())
    });
}

/// system(3): glibc spawns the shell with an internal posix_spawn no hook sees; the
/// shell inherits the program's fds (see `fdtable::mark_inherited_shared`), and is given
/// the shim's variables if the program's environment lost them (`with_shim_variables`).
#[no_mangle]
pub unsafe extern "C-unwind" fn system(command: *const c_char) -> c_int {
    mark_inherited_shared(false);
    match with_shim_variables(command) {
        Some(line) => raw::system(line.as_ptr()),
        None => raw::system(command),
    }
}

/// popen(3): as system(3).
#[no_mangle]
pub unsafe extern "C-unwind" fn popen(command: *const c_char, mode: *const c_char) -> crate::real::FileP {
    mark_inherited_shared(false);
    match with_shim_variables(command) {
        Some(line) => raw::popen(line.as_ptr(), mode),
        None => raw::popen(command, mode),
    }
}

/// wordexp(3): a command substitution's shell is started as `system`'s, in the program's
/// environment as it is and inheriting its fds (before, its writes through a shadowed fd
/// moved the offset under the program's next write, and after the program removed the
/// shim's variables they reached the primary alone). Without the variables, the call is
/// made with `environ` pointing to the environment an exec would be given, then put back
/// (also when a cancellation ends the call), unless the program changed it meanwhile: only
/// the shell sees the difference, and the words' own `$LD_PRELOAD`. Such calls are made
/// one at a time. wordexp may not run beside `setenv` (glibc: MT-Unsafe const:env), but
/// another thread's `getenv` may still be reading that environment after the call: it is
/// freed at the next such call.
#[no_mangle]
pub unsafe extern "C-unwind" fn wordexp(words: *const c_char, result: *mut libc::c_void, flags: c_int) -> c_int {
    const WRDE_NOCMD: c_int = 1 << 2;
    if flags & WRDE_NOCMD != 0 || words.is_null() || !runs_a_command(CStr::from_ptr(words).to_bytes()) {
        return raw::wordexp(words, result, flags);
    }
    mark_inherited_shared(false);
    let Some(env) = boundary::prepare(|| env_with_shim(environ, Vec::new(), &LoaderPaths::default())) else {
        return raw::wordexp(words, result, flags);
    };
    let mut kept = LAST_WORDEXP_ENV.lock().unwrap_or_else(|e| e.into_inner());
    let ours = env.ptrs.as_ptr();
    *kept = KeptEnv { _env: Some(env) };
    let _put_back = ProgramEnviron { program: environ, ours };
    environ = ours;
    raw::wordexp(words, result, flags)
}

/// Puts the program's `environ` back when dropped, if it still is the shim's copy.
struct ProgramEnviron {
    program: *const *const c_char,
    ours: *const *const c_char,
}
impl Drop for ProgramEnviron {
    fn drop(&mut self) {
        unsafe {
            if environ == self.ours {
                environ = self.program;
            }
        }
    }
}

struct KeptEnv {
    _env: Option<Env>,
}
// Only kept, never read: its pointers point into its own strings.
unsafe impl Send for KeptEnv {}
static LAST_WORDEXP_ENV: Mutex<KeptEnv> = Mutex::new(KeptEnv { _env: None });

/// Whether wordexp would start a shell for `words`: a command substitution, `$(` or a
/// backquote, quoted or not (an arithmetic `$((` counts too; it costs only the marking).
fn runs_a_command(words: &[u8]) -> bool {
    words.contains(&b'`') || words.windows(2).any(|w| w == b"$(")
}

/// glibc runs `system` and `popen` commands in the program's environment as it is: a
/// program that removed LD_PRELOAD or SHADOW_CONFIG from it (`unsetenv`, `clearenv`, as
/// daemons that clean their environment do) ran the shell without the shim, and the
/// shell's writes to the fds it inherited reached the primary alone, unreported. Then the
/// command goes to a shell that only puts the shim's variables back (as an exec by the
/// program would have them: `env_with_shim`) and execs the real one, which runs it:
/// `LD_PRELOAD='…' SHADOW_CONFIG='…' exec /bin/sh -c -- 'COMMAND'`. That first shell
/// writes nothing; the command sees `$0` as `/bin/sh` where glibc's gives `sh`. None when
/// the environment has what the shim needs (or there is no command).
unsafe fn with_shim_variables(command: *const c_char) -> Option<CString> {
    if command.is_null() {
        return None;
    }
    boundary::prepare(|| {
        let env = env_with_shim(environ, Vec::new(), &LoaderPaths::default())?;
        let quoted = |b: &[u8]| [b"'".as_slice(), &b.split(|&c| c == b'\'').collect::<Vec<_>>().join(b"'\\''".as_slice()), b"'"].concat();
        let mut line = Vec::new();
        for var in &env._owned {
            let (name, value) = var.to_bytes().split_at(var.to_bytes().iter().position(|&c| c == b'=')? + 1);
            line.extend_from_slice(name);
            line.extend(quoted(value));
            line.push(b' ');
        }
        line.extend_from_slice(b"exec /bin/sh -c -- ");
        line.extend(quoted(CStr::from_ptr(command).to_bytes()));
        CString::new(line).ok()
    })
}

/// Declares the calls that change the mode, owner or group the kernel gives a new entry
/// (the umask; the effective, file-system and supplementary ids, which also decide what
/// the follower's create may do), each made while no hook of the process is in flight
/// (`boundary::with_no_hook_in_flight`). Before, another thread's call between the lead's
/// create and the follower's gave the follower's entry another mode or group, unreported
/// (helper-52: Node's `process.umask()`, which reads the mask by setting it twice, while
/// its thread pool made directories: 55 to 234 entries apart a run; `setegid` likewise).
macro_rules! credential_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> $ret {
            boundary::with_no_hook_in_flight(|| raw::$name($($arg),*))
        }
    )*};
}

credential_hooks! {
    fn umask(mask: mode_t) -> mode_t;
    fn setuid(uid: libc::uid_t) -> c_int;
    fn setgid(gid: libc::gid_t) -> c_int;
    fn seteuid(uid: libc::uid_t) -> c_int;
    fn setegid(gid: libc::gid_t) -> c_int;
    fn setreuid(ruid: libc::uid_t, euid: libc::uid_t) -> c_int;
    fn setregid(rgid: libc::gid_t, egid: libc::gid_t) -> c_int;
    fn setresuid(ruid: libc::uid_t, euid: libc::uid_t, suid: libc::uid_t) -> c_int;
    fn setresgid(rgid: libc::gid_t, egid: libc::gid_t, sgid: libc::gid_t) -> c_int;
    fn setfsuid(uid: libc::uid_t) -> c_int;
    fn setfsgid(gid: libc::gid_t) -> c_int;
    fn setgroups(n: libc::size_t, groups: *const libc::gid_t) -> c_int;
}
