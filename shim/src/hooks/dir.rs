//! Directories and the cwd: opendir/closedir/scandir, chdir/fchdir/getcwd, realpath.
//! The program sees virtual paths; the kernel works in the primary.

use super::namespace::via_abs;
use super::open::{adopt_new_fd, Twin};
use super::path_hook;
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::{raw, Errno, Res};
use crate::resolve::{self, Spath, Target};
use crate::set;
use libc::{c_char, c_int, c_void, size_t, ssize_t};

/// opendir(3): the lead's directory; its fd is linked (with a handle on the follower's
/// twin) so `*at` calls on dirfd(dir) resolve inside the prefix.
#[no_mangle]
pub unsafe extern "C-unwind" fn opendir(path: *const c_char) -> *mut libc::DIR {
    path_hook(
        libc::AT_FDCWD,
        path,
        |sp| {
            let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_DIRECTORY | libc::O_CLOEXEC;
            // The follower's twin must be the same directory (see names.rs).
            let _name = crate::names::hold(&[sp.rel()]);
            let _counted = crate::fdtable::NumberInFlight::begin();
            let fd = super::on_lead(&sp, "opendir", |a| raw::openat64(a.fd, a.path.as_ptr(), flags, 0))?;
            let dir = raw::fdopendir(fd);
            if dir.is_null() {
                let e = Errno::last();
                raw::close(fd);
                return Err(e);
            }
            adopt_new_fd(fd, sp.rel().clone(), libc::O_RDONLY | libc::O_DIRECTORY, 0, Twin::Path(&sp), Some(super::open::Opened { intent: 0, since: None }));
            Ok(dir)
        },
        |p| fd_listing::noted(p, raw::opendir(p)),
    )
}

/// The program's listings of its own fds (`/proc/self/fd`, `/dev/fd`) leave out the
/// shim's (member roots, the cwd on each member, follower files, the journal: numbers from
/// 1024 down, or among the program's own under a low `RLIMIT_NOFILE`), as if they were
/// not there. Before, a program that listed its fds saw eight or more it never opened
/// (CPython's test_subprocess `test_pass_fds_redirected`), and one that closes what it
/// finds listed closed nothing of the shim's (the close hook refuses those) but counted
/// them. Streams opened by `opendir`, and `scandir`'s lists: a raw getdents64 still sees
/// them.
mod fd_listing {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The streams open on such a listing (0: a free slot); past eight, a listing is not
    /// filtered.
    static OPEN: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
    /// How many slots hold one: a readdir of any other stream costs this one load.
    static ANY: AtomicUsize = AtomicUsize::new(0);

    fn names_own_fds(path: &[u8]) -> bool {
        let p = &path[..path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1)];
        match p {
            b"/proc/self/fd" | b"/dev/fd" | b"/proc/thread-self/fd" => true,
            _ => p.strip_prefix(b"/proc/").and_then(|p| p.strip_suffix(b"/fd")).is_some_and(|pid| pid == std::process::id().to_string().as_bytes()),
        }
    }

    /// `dir`, just opened by `path`, noted when it lists the process's own fds.
    pub(super) fn noted(path: *const libc::c_char, dir: *mut libc::DIR) -> *mut libc::DIR {
        if dir.is_null() || !crate::set::is_active() || !names_own_fds(unsafe { super::super::cstr(path) }) {
            return dir;
        }
        if OPEN.iter().any(|s| s.compare_exchange(0, dir as usize, Ordering::AcqRel, Ordering::Relaxed).is_ok()) {
            ANY.fetch_add(1, Ordering::Release);
        }
        dir
    }

    /// `dir` is being closed.
    pub(super) fn forget(dir: *mut libc::DIR) {
        if ANY.load(Ordering::Acquire) == 0 {
            return;
        }
        if OPEN.iter().any(|s| s.compare_exchange(dir as usize, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok()) {
            ANY.fetch_sub(1, Ordering::Release);
        }
    }

    /// scandir's `n` entries in `*list` (malloc'd, each and the array), those of the
    /// shim's fds left out and freed where `path` lists the process's fds.
    pub(super) unsafe fn listed(path: *const libc::c_char, list: *mut *mut *mut libc::dirent, n: libc::c_int) -> libc::c_int {
        if n <= 0 || list.is_null() || !crate::set::is_active() || !names_own_fds(super::super::cstr(path)) {
            return n;
        }
        let entries = std::slice::from_raw_parts_mut(*list, n as usize);
        let mut kept = 0;
        for i in 0..entries.len() {
            let name = std::ffi::CStr::from_ptr((*entries[i]).d_name.as_ptr()).to_bytes();
            if super::super::fd_number(name).is_some_and(crate::fdtable::is_internal) {
                libc::free(entries[i].cast());
            } else {
                entries[kept] = entries[i];
                kept += 1;
            }
        }
        kept as libc::c_int
    }

    /// The next entry of `dir` as `next` reads it, past the shim's own fds where `dir`
    /// lists the process's fds.
    pub(super) unsafe fn next<E>(dir: *mut libc::DIR, next: impl Fn() -> *mut E, name: impl Fn(&E) -> &[libc::c_char; 256]) -> *mut E {
        if ANY.load(Ordering::Acquire) == 0 || !OPEN.iter().any(|s| s.load(Ordering::Acquire) == dir as usize) {
            return next();
        }
        loop {
            let e = next();
            let Some(entry) = e.as_ref() else { return e };
            let shown = std::ffi::CStr::from_ptr(name(entry).as_ptr()).to_bytes();
            if !super::super::fd_number(shown).is_some_and(crate::fdtable::is_internal) {
                return e;
            }
        }
    }
}

/// readdir(3): see `fd_listing`.
#[no_mangle]
pub unsafe extern "C-unwind" fn readdir(dir: *mut libc::DIR) -> *mut libc::dirent {
    fd_listing::next(dir, || raw::readdir(dir), |e| &e.d_name)
}

/// readdir64(3): see `fd_listing`.
#[no_mangle]
pub unsafe extern "C-unwind" fn readdir64(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    fd_listing::next(dir, || raw::readdir64(dir), |e| &e.d_name)
}

/// closedir(3): glibc closes the fd internally, so the link goes first, settled as at a
/// close (an fsync of the directory's fd, as dpkg makes, began an intent that only the
/// settle ends: every such run left `recover` due).
#[no_mangle]
pub unsafe extern "C-unwind" fn closedir(dir: *mut libc::DIR) -> c_int {
    fd_listing::forget(dir);
    if dir.is_null() || !fdtable::is_shadowed(libc::dirfd(dir)) {
        if !dir.is_null() {
            fdtable::closed_unshadowed(libc::dirfd(dir));
        }
        return raw::closedir(dir);
    }
    boundary::hook(
        || {
            super::open::close_through(libc::dirfd(dir), || raw::closedir(dir).into_res())
        },
        || raw::closedir(dir),
    )
}

/// The lead's place for a shadowed path, as an absolute path for a libc call that walks it
/// outside the boundary: the directory it goes through (a member root of this view, the cwd
/// held on the lead, a directory fd's OCB) is kept open until the call is over.
struct LeadPath {
    abs: resolve::AbsPath,
    _through: (Spath, std::sync::Arc<crate::members::View>),
}

unsafe fn lead_path(dirfd: c_int, path: *const c_char) -> Option<LeadPath> {
    boundary::prepare(|| {
        let Target::Shadowed(sp) = resolve::resolve(dirfd, crate::mem::path(path)?) else { return None };
        let Target::Shadowed(sp) = super::followable(sp) else { return None };
        let v = crate::members::view();
        let abs = sp.at_lead(&v).ok()?.abs().ok()?;
        Some(LeadPath { abs, _through: (sp, v) })
    })
}

/// Runs `call` on the lead's place for a shadowed path (`translated` true), or on the
/// program's path, outside the boundary; the place is let go of inside it afterwards (the last
/// reference to an OCB may go with it).
unsafe fn outside<T>(dirfd: c_int, path: *const c_char, call: impl FnOnce(*const c_char, bool) -> T) -> T {
    let Some(held) = lead_path(dirfd, path) else { return call(path, false) };
    let r = call(held.abs.as_ptr(), true);
    // errno stays the call's: the boundary keeps it.
    boundary::prepare(move || {
        drop(held);
        None::<()>
    });
    r
}

macro_rules! scandir_hooks {
    ($($name:ident),*) => {$(
        /// scandir(3): the lead's directory. The walk runs outside the shim's boundary, so
        /// the program's filter and compare functions see the hooks as usual.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int {
            let n = outside(libc::AT_FDCWD, path, |p, _| raw::$name(p, list, filter, cmp));
            fd_listing::listed(path, list.cast(), n)
        }
    )*};
}
scandir_hooks!(scandir, scandir64);

/// chdir(2): into the prefix, the kernel's cwd is the lead's directory and the shim
/// remembers the virtual one, with the follower's twin.
#[no_mangle]
pub unsafe extern "C-unwind" fn chdir(path: *const c_char) -> c_int {
    let call = |p: *const c_char| {
        if !set::is_active() {
            return raw::chdir(p);
        }
        resolve::changing_cwd(|| {
            let r = raw::chdir(p);
            if r == 0 {
                resolve::set_cwd_real();
            }
            r
        })
    };
    path_hook(
        libc::AT_FDCWD,
        path,
        |sp| {
            resolve::chdir_virtual(&sp)?;
            Ok(0)
        },
        call,
    )
}

/// fchdir(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn fchdir(fd: c_int) -> c_int {
    let marks = crate::fdtable::marks();
    // One of the shim's fds (a member's root, a follower's directory) is not open to the
    // program: natively EBADF. Before, the kernel's cwd moved into that member, and the
    // program's relative calls then reached it alone.
    if super::open::programs_probe_of_ours(fd) {
        return crate::fdtable::not_the_programs();
    }
    boundary::hook(
        || {
            resolve::changing_cwd(|| {
                // The kernel's cwd and the open the shim follows it by are one directory's,
                // whatever another thread's dup2 onto the number does.
                let (r, open) = fdtable::with_open(fd, || raw::fchdir(fd).into_res());
                r?;
                match open.filter(|o| o.is_dir()) {
                    Some(dir) => resolve::fchdir_virtual(fd, &dir),
                    None => resolve::set_cwd_after_fchdir(fd, marks),
                }
                Ok(0)
            })
        },
        || raw::fchdir(fd),
    )
}

/// Copies `s` into the caller's buffer, or a malloc'd one when `buf` is NULL (the caller
/// frees it with free(3), as with libc's own result).
unsafe fn return_path(s: &[u8], buf: *mut c_char, size: Option<size_t>) -> Res<*mut c_char> {
    let need = s.len() + 1;
    let out = if buf.is_null() {
        let n = size.filter(|&n| n > 0).unwrap_or(need).max(need);
        let p = libc::malloc(n) as *mut c_char;
        if p.is_null() {
            return Err(Errno(libc::ENOMEM));
        }
        p
    } else {
        if size.is_some_and(|n| n < need) {
            return Err(Errno(libc::ERANGE));
        }
        buf
    };
    std::ptr::copy_nonoverlapping(s.as_ptr(), out as *mut u8, s.len());
    *out.add(s.len()) = 0;
    Ok(out)
}

/// getcwd(3): the virtual path while the cwd is inside the prefix.
#[no_mangle]
pub unsafe extern "C-unwind" fn getcwd(buf: *mut c_char, size: size_t) -> *mut c_char {
    boundary::hook(
        || match resolve::virtual_cwd_now()? {
            Some(rel) => return_path(&resolve::virtual_path(&rel), buf, Some(size)),
            None => raw::getcwd(buf, size).into_res(),
        },
        || raw::getcwd(buf, size),
    )
}

/// get_current_dir_name(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn get_current_dir_name() -> *mut c_char {
    getcwd(std::ptr::null_mut(), 0)
}

unsafe fn realpath_core(sp: Spath, out: *mut c_char) -> Res<*mut c_char> {
    let p = super::on_lead(&sp, "realpath", |a| via_abs(a, |p| raw::realpath(p, std::ptr::null_mut())))?;
    let resolved = super::to_virtual(std::ffi::CStr::from_ptr(p).to_bytes());
    libc::free(p.cast());
    return_path(&resolved, out, (!out.is_null()).then_some(libc::PATH_MAX as size_t))
}

/// realpath(3): symlinks resolved by the lead, the answer a virtual path; so is the answer
/// for a /proc link to a file in a member (`/proc/self/exe` of a program started from the
/// prefix, `/proc/self/cwd`, `/proc/self/fd/N`).
#[no_mangle]
pub unsafe extern "C-unwind" fn realpath(path: *const c_char, out: *mut c_char) -> *mut c_char {
    if names_proc(path) {
        return boundary::hook(
            || {
                let p = raw::realpath(path, std::ptr::null_mut()).into_res()?;
                let resolved = super::to_virtual(std::ffi::CStr::from_ptr(p).to_bytes());
                libc::free(p.cast());
                return_path(&resolved, out, (!out.is_null()).then_some(libc::PATH_MAX as size_t))
            },
            || raw::realpath(path, out),
        );
    }
    path_hook(libc::AT_FDCWD, path, |sp| realpath_core(sp, out), |p| raw::realpath(p, out))
}

/// A path under /proc (only while a set is active).
fn names_proc(path: *const c_char) -> bool {
    set::is_active_for(path) && crate::mem::path(path).is_some_and(|p| p.to_bytes().starts_with(b"/proc/"))
}

/// readlink(2) and readlinkat(2): under the prefix, the lead's link; a /proc link into a
/// member is answered with the virtual path (truncated to the buffer as readlink does).
unsafe fn readlink_core(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t {
    let call = |p: *const c_char| raw::readlinkat(dirfd, p, buf, n);
    if names_proc(path) {
        return boundary::hook(
            || {
                let mut real = vec![0u8; libc::PATH_MAX as usize];
                let len = raw::readlinkat(dirfd, path, real.as_mut_ptr().cast(), real.len()).into_res()?;
                let answer = super::to_virtual(&real[..len as usize]);
                let k = answer.len().min(n);
                std::ptr::copy_nonoverlapping(answer.as_ptr(), buf as *mut u8, k);
                Ok(k as ssize_t)
            },
            || call(path),
        );
    }
    path_hook(dirfd, path, |sp| super::on_lead(&sp, "readlink", |a| raw::readlinkat(a.fd, a.path.as_ptr(), buf, n)), call)
}

/// readlink(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn readlink(path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t {
    readlink_core(libc::AT_FDCWD, path, buf, n)
}

/// readlinkat(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t {
    readlink_core(dirfd, path, buf, n)
}

/// The fortified forms (`-D_FORTIFY_SOURCE`) call libc's readlink, realpath and getcwd
/// internally, out of the hooks' sight: they check the buffer, then take the hooked path.
#[no_mangle]
pub unsafe extern "C-unwind" fn __readlink_chk(path: *const c_char, buf: *mut c_char, n: size_t, buflen: size_t) -> ssize_t {
    if n > buflen {
        return raw::__readlink_chk(path, buf, n, buflen);
    }
    readlink_core(libc::AT_FDCWD, path, buf, n)
}

#[no_mangle]
pub unsafe extern "C-unwind" fn __readlinkat_chk(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t, buflen: size_t) -> ssize_t {
    if n > buflen {
        return raw::__readlinkat_chk(dirfd, path, buf, n, buflen);
    }
    readlink_core(dirfd, path, buf, n)
}

#[no_mangle]
pub unsafe extern "C-unwind" fn __realpath_chk(path: *const c_char, out: *mut c_char, outlen: size_t) -> *mut c_char {
    if outlen < libc::PATH_MAX as size_t {
        return raw::__realpath_chk(path, out, outlen);
    }
    realpath(path, out)
}

#[no_mangle]
pub unsafe extern "C-unwind" fn __getcwd_chk(buf: *mut c_char, size: size_t, buflen: size_t) -> *mut c_char {
    if size > buflen {
        return raw::__getcwd_chk(buf, size, buflen);
    }
    getcwd(buf, size)
}

/// getwd(3), obsolete: a PATH_MAX buffer.
#[no_mangle]
pub unsafe extern "C-unwind" fn getwd(buf: *mut c_char) -> *mut c_char {
    getcwd(buf, libc::PATH_MAX as size_t)
}

/// canonicalize_file_name(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn canonicalize_file_name(path: *const c_char) -> *mut c_char {
    if path.is_null() {
        return raw::canonicalize_file_name(path);
    }
    realpath(path, std::ptr::null_mut())
}

/// scandirat(3): the lead's directory, walked outside the boundary (see scandir).
macro_rules! scandirat_hooks {
    ($($name:ident),*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(dirfd: c_int, path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int {
            outside(dirfd, path, |p, translated| raw::$name(if translated { libc::AT_FDCWD } else { dirfd }, p, list, filter, cmp))
        }
    )*};
}
scandirat_hooks!(scandirat, scandirat64);

/// inotify_add_watch(2): watches the lead's file.
#[no_mangle]
pub unsafe extern "C-unwind" fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int {
    let call = |p: *const c_char| raw::inotify_add_watch(fd, p, mask);
    path_hook(libc::AT_FDCWD, path, |sp| super::on_lead(&sp, "inotify_add_watch", |a| via_abs(a, call)), call)
}

/// name_to_handle_at(2): the lead's file.
#[no_mangle]
pub unsafe extern "C-unwind" fn name_to_handle_at(dirfd: c_int, path: *const c_char, handle: *mut c_void, mount_id: *mut c_int, flags: c_int) -> c_int {
    let call = |p: *const c_char| raw::name_to_handle_at(dirfd, p, handle, mount_id, flags);
    path_hook(dirfd, path, |sp| super::on_lead(&sp, "name_to_handle_at", |a| raw::name_to_handle_at(a.fd, a.path.as_ptr(), handle, mount_id, flags)), call)
}

/// open_by_handle_at(2): the kernel opens the lead's file by its handle, unseen by the path
/// hooks; the fd is adopted as a received one (its follower's file opened by the name
/// /proc shows, held, while that name is still the file), so writes through it are
/// mirrored (before, they reached the primary alone). Emptying it (O_TRUNC) reached the
/// lead alone: reported.
#[no_mangle]
pub unsafe extern "C-unwind" fn open_by_handle_at(mount_fd: c_int, handle: *mut c_void, flags: c_int) -> c_int {
    let fd = raw::open_by_handle_at(mount_fd, handle, flags);
    if fd >= 0 && crate::set::is_active() {
        let saved = Errno::last();
        boundary::prepare(|| {
            crate::adopt::adopt_fds(&[fd]);
            if let Some(ocb) = fdtable::get(fd).filter(|_| flags & libc::O_TRUNC != 0) {
                ocb.mark_insecure("emptied by open_by_handle_at(O_TRUNC), on the lead alone", Errno(libc::EIO));
            }
            Some(())
        });
        saved.set();
    }
    fd
}

/// fanotify_mark(2): marks the lead's file (a NULL path means the directory fd itself).
#[no_mangle]
pub unsafe extern "C-unwind" fn fanotify_mark(fd: c_int, flags: libc::c_uint, mask: u64, dirfd: c_int, path: *const c_char) -> c_int {
    let call = |p: *const c_char| raw::fanotify_mark(fd, flags, mask, dirfd, p);
    if path.is_null() {
        return call(path);
    }
    path_hook(dirfd, path, |sp| super::on_lead(&sp, "fanotify_mark", |a| raw::fanotify_mark(fd, flags, mask, a.fd, a.path.as_ptr())), call)
}

/// The error for `what`, a call with no mirrored form, when one of `paths` (absolute, or
/// relative to the cwd; NULL ones are no path) is under the prefix: it is refused
/// (reported; ENOSYS for the program). Made on the lead's directory it would change the
/// primary alone: a mount there showed on one member, a chroot left every later absolute
/// path outside the prefix as the shim sees it. A path that names nothing gets the kernel's
/// answer for it (ENOENT, ENOTDIR), unreported: before, `os.chroot("/shadow/missing")`
/// failed ENOSYS with a report (helper-55, CPython's test_os).
pub(crate) fn refusal(what: &str, paths: &[*const c_char]) -> Option<Errno> {
    if !set::is_active() {
        return None;
    }
    let (path, found) = boundary::prepare(|| {
        paths.iter().copied().filter(|p| !p.is_null()).find_map(|p| match super::resolve_arg(libc::AT_FDCWD, p)? {
            super::Arg::Shadowed(sp) => Some((p, super::on_lead_res(&sp, what, |a| crate::real::fstatat(a.fd, &a.path, 0)))),
            _ => None,
        })
    })?;
    match found {
        Err(e) if matches!(e.0, libc::ENOENT | libc::ENOTDIR) => Some(e),
        _ => {
            crate::report::refused(what, path);
            Some(Errno(libc::ENOSYS))
        }
    }
}

/// The paths a mount(2) acts on: its target, and its source when that is a directory it
/// binds or moves (otherwise a device, or a name such as "none").
pub(crate) fn mount_paths(source: *const c_char, target: *const c_char, flags: libc::c_ulong) -> [*const c_char; 2] {
    let binds = flags & (libc::MS_BIND | libc::MS_MOVE) != 0;
    [target, if binds { source } else { std::ptr::null() }]
}

/// Declares hooks of calls with no mirrored form, refused on a path under the prefix (see
/// `refusal`); the same calls made through syscall(2) are refused alike (variadic.rs).
macro_rules! refused_under_prefix {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) on $paths:expr; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> c_int {
            if let Some(e) = refusal(stringify!($name), &$paths) {
                e.set();
                return -1;
            }
            raw::$name($($arg),*)
        }
    )*};
}

refused_under_prefix! {
    /// chroot(2): refused into a directory under the prefix. Made in the lead's directory,
    /// everything the program then wrote reached the primary alone, unreported (rsync's
    /// daemon, `use chroot = yes`, with a module under the prefix).
    fn chroot(path: *const c_char) on [path];
    /// mount(2): glibc's wrapper, which programs call (mount(8), a Python ctypes call):
    /// before, only syscall(SYS_mount) was refused, and this one, with the cwd under the
    /// prefix, mounted on the primary's directory alone.
    fn mount(source: *const c_char, target: *const c_char, fstype: *const c_char, flags: libc::c_ulong, data: *const c_void) on mount_paths(source, target, flags);
    /// umount(2)
    fn umount(target: *const c_char) on [target];
    /// umount2(2)
    fn umount2(target: *const c_char, flags: c_int) on [target];
    /// swapon(2)
    fn swapon(path: *const c_char, flags: c_int) on [path];
    /// swapoff(2)
    fn swapoff(path: *const c_char) on [path];
    /// acct(2): the kernel would append to the lead's file alone.
    fn acct(path: *const c_char) on [path];
}

/// unshare(2) of the working directory (CLONE_FS, and CLONE_NEWNS and CLONE_NEWUSER, which
/// imply it) or of the fd table (CLONE_FILES) in a process that has had a second thread:
/// refused (`super::refused_in_threads`). The shim follows one working directory and one
/// fd table per process; a thread with its own working directory that then changed it
/// moved the shim's, and the other threads' relative paths went where the kernel does not
/// put them: a file the main thread made in its working directory under the prefix was
/// made in the other thread's, on both members (and with the other thread's outside the
/// prefix, the main thread's writes would have reached the primary alone). A thread with
/// its own fd table would close, and number, fds the others still have otherwise. Samba's
/// per-thread working directories fall back to one when the call fails. A single-threaded
/// process's unshare is the kernel's: no other thread shares the shim with it.
#[no_mangle]
pub unsafe extern "C-unwind" fn unshare(flags: c_int) -> c_int {
    if flags & (libc::CLONE_FS | libc::CLONE_NEWNS | libc::CLONE_NEWUSER | libc::CLONE_FILES) != 0 {
        if let Some(refused) = super::refused_in_threads("unshare of the working directory or the fd table") {
            return refused;
        }
    }
    raw::unshare(flags)
}
