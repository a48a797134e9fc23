//! Directories and the cwd: opendir/closedir/scandir, chdir/fchdir/getcwd, realpath.
//! The program sees virtual paths; the kernel works in the primary.

use super::path_hook;
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::{raw, Errno, Res};
use crate::resolve::{self, Rel};
use crate::set;
use libc::{c_char, c_int, c_void, size_t};

/// opendir(3): the primary's directory; its fd is linked so `*at` calls on dirfd(dir)
/// resolve inside the prefix.
#[no_mangle]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    path_hook(
        libc::AT_FDCWD,
        path,
        |rel| {
            let dir = raw::opendir(super::lead_path(&rel).as_ptr()).into_res()?;
            super::open::adopt_new_fd(libc::dirfd(dir), rel, libc::O_RDONLY | libc::O_DIRECTORY, 0, None);
            Ok(dir)
        },
        |p| raw::opendir(p),
    )
}

/// closedir(3): glibc closes the fd internally, so the link goes first.
#[no_mangle]
pub unsafe extern "C" fn closedir(dir: *mut libc::DIR) -> c_int {
    if dir.is_null() || !fdtable::is_shadowed(libc::dirfd(dir)) {
        return raw::closedir(dir);
    }
    boundary::hook(
        || {
            drop(fdtable::unlink(libc::dirfd(dir)));
            raw::closedir(dir).into_res()
        },
        || raw::closedir(dir),
    )
}

macro_rules! scandir_hooks {
    ($($name:ident),*) => {$(
        /// scandir(3): the primary's directory.
        #[no_mangle]
        pub unsafe extern "C" fn $name(path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int {
            let call = |path: *const c_char| raw::$name(path, list, filter, cmp);
            path_hook(libc::AT_FDCWD, path, |rel| call(super::lead_path(&rel).as_ptr()).into_res(), call)
        }
    )*};
}
scandir_hooks!(scandir, scandir64);

/// chdir(2): into the prefix, the kernel's cwd is the primary's directory and the shim
/// remembers the virtual one.
#[no_mangle]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    let call = |p: *const c_char| {
        let r = raw::chdir(p);
        if r == 0 && set::is_active() {
            resolve::set_cwd_real();
        }
        r
    };
    path_hook(
        libc::AT_FDCWD,
        path,
        |rel| {
            raw::chdir(super::lead_path(&rel).as_ptr()).into_res()?;
            resolve::set_cwd_virtual(&rel);
            Ok(0)
        },
        call,
    )
}

/// fchdir(2)
#[no_mangle]
pub unsafe extern "C" fn fchdir(fd: c_int) -> c_int {
    boundary::hook(
        || {
            raw::fchdir(fd).into_res()?;
            match fdtable::dir_rel(fd) {
                Some(rel) => resolve::set_cwd_virtual(&rel),
                None => resolve::set_cwd_real(),
            }
            Ok(0)
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
pub unsafe extern "C" fn getcwd(buf: *mut c_char, size: size_t) -> *mut c_char {
    boundary::hook(
        || match resolve::virtual_cwd() {
            Some(rel) => return_path(&resolve::virtual_path(&rel), buf, Some(size)),
            None => raw::getcwd(buf, size).into_res(),
        },
        || raw::getcwd(buf, size),
    )
}

/// get_current_dir_name(3)
#[no_mangle]
pub unsafe extern "C" fn get_current_dir_name() -> *mut c_char {
    getcwd(std::ptr::null_mut(), 0)
}

unsafe fn realpath_core(rel: Rel, out: *mut c_char) -> Res<*mut c_char> {
    let p = raw::realpath(super::lead_path(&rel).as_ptr(), std::ptr::null_mut()).into_res()?;
    let resolved = super::to_virtual(std::ffi::CStr::from_ptr(p).to_bytes());
    libc::free(p.cast());
    return_path(&resolved, out, (!out.is_null()).then_some(libc::PATH_MAX as size_t))
}

/// realpath(3): symlinks resolved by the primary, the answer a virtual path.
#[no_mangle]
pub unsafe extern "C" fn realpath(path: *const c_char, out: *mut c_char) -> *mut c_char {
    path_hook(libc::AT_FDCWD, path, |rel| realpath_core(rel, out), |p| raw::realpath(p, out))
}

/// canonicalize_file_name(3)
#[no_mangle]
pub unsafe extern "C" fn canonicalize_file_name(path: *const c_char) -> *mut c_char {
    path_hook(libc::AT_FDCWD, path, |rel| realpath_core(rel, std::ptr::null_mut()), |p| raw::canonicalize_file_name(p))
}
