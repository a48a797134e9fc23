//! Tree walkers that glibc runs with internal calls: glob, nftw, ftw, fts. The walk is done
//! in the primary; every path handed back to the program is rewritten to the virtual path
//! the program asked about. The walk itself runs outside the boundary so the program's
//! callbacks see the hooks as usual. A walker that changes directory (nftw's FTW_CHDIR,
//! fts) does so with internal calls, behind the shim's back, which walks the program's
//! relative paths from the cwd it knows: nftw's callbacks learn the cwd anew, and fts
//! walks without changing directory while the cwd is inside the prefix.

use crate::boundary;
use crate::real::raw;
use crate::resolve::{self, Target};
use libc::{c_char, c_int, c_void};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The real path to walk instead of an absolute path under the prefix.
fn real_root(path: *const c_char) -> Option<CString> {
    if path.is_null() || unsafe { *path } != b'/' as c_char {
        // Relative paths: with a virtual cwd the kernel's cwd is already the primary's.
        return None;
    }
    boundary::prepare(|| match resolve::resolve(libc::AT_FDCWD, crate::mem::path(path)?) {
        Target::Shadowed(sp) => Some(super::lead_file(&sp)),
        _ => None,
    })
}

macro_rules! glob_hooks {
    ($($name:ident),*) => {$(
        /// glob(3) on an absolute pattern under the prefix.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(pattern: *const c_char, flags: c_int, errfunc: *mut c_void, g: *mut libc::glob_t) -> c_int {
            let Some((real, shown)) = glob_root(pattern) else { return raw::$name(pattern, flags, errfunc, g) };
            let r = raw::$name(real.as_ptr(), flags, errfunc, g);
            if !g.is_null() {
                boundary::prepare(|| Some(virtualize_glob(&mut *g, &shown)));
            }
            r
        }
    )*};
}
glob_hooks!(glob, glob64);

/// A glob pattern to run in the lead instead of an absolute pattern under the prefix, and
/// how its matches are shown: the directory the pattern names before its first wildcard is
/// looked up (through the symlinks members cannot follow, see `super::lead_file`), and a
/// match in it is shown under the program's own spelling of it, as native glob shows it
/// (`/shadow/abs/f` with `abs` a symlink to `/shadow/d`, not `/shadow/d/f`). None: not ours.
fn glob_root(pattern: *const c_char) -> Option<(CString, Option<(Vec<u8>, Vec<u8>)>)> {
    let whole = real_root(pattern)?;
    let p = unsafe { CStr::from_ptr(pattern) }.to_bytes();
    let fixed = &p[..p.iter().position(|b| b"*?[{\\".contains(b)).unwrap_or(p.len())];
    let cut = fixed.iter().rposition(|&b| b == b'/').filter(|&c| c > 0);
    let dir = cut.and_then(|c| real_root(CString::new(&p[..c]).ok()?.as_ptr()));
    match (cut, dir) {
        (Some(c), Some(dir)) => {
            let real = CString::new([dir.as_bytes(), &p[c..]].concat()).ok()?;
            Some((real, Some((dir.into_bytes(), p[..c].to_vec()))))
        }
        _ => Some((whole, None)),
    }
}

/// Matches as the program would see them: under its own spelling of the pattern's
/// directory (`shown`: the real directory and that spelling), else by their virtual path.
unsafe fn virtualize_glob(g: &mut libc::glob_t, shown: &Option<(Vec<u8>, Vec<u8>)>) {
    for i in 0..g.gl_offs + g.gl_pathc {
        let slot = g.gl_pathv.add(i);
        if (*slot).is_null() {
            continue;
        }
        let old = CStr::from_ptr(*slot).to_bytes();
        let beneath = shown.as_ref().and_then(|(real, own)| Some([own.as_slice(), old.strip_prefix(real.as_slice()).filter(|r| r.first() == Some(&b'/'))?].concat()));
        let new = beneath.unwrap_or_else(|| super::to_virtual(old));
        if new != old {
            let p = libc::malloc(new.len() + 1) as *mut u8;
            if p.is_null() {
                continue;
            }
            std::ptr::copy_nonoverlapping(new.as_ptr(), p, new.len());
            *p.add(new.len()) = 0;
            libc::free(*slot as *mut c_void);
            *slot = p as *mut c_char;
        }
    }
}

/// <ftw.h>: nftw changes directory as it walks.
const FTW_CHDIR: c_int = 4;

#[repr(C)]
#[derive(Clone, Copy)]
struct Ftw {
    base: c_int,
    level: c_int,
}

type NftwFn = unsafe extern "C-unwind" fn(*const c_char, *const libc::stat, c_int, *mut Ftw) -> c_int;
type FtwFn = unsafe extern "C-unwind" fn(*const c_char, *const libc::stat, c_int) -> c_int;

/// One walk in progress on this thread (walks may nest from callbacks).
struct Walk {
    user: *mut c_void,
    real_len: usize,
    /// The caller's own spelling of the root: native nftw prefixes every path with it.
    shown_root: Vec<u8>,
    follows_cwd: bool,
}

thread_local! {
    static WALKS: RefCell<Vec<Walk>> = const { RefCell::new(Vec::new()) };
}

/// The path to show the program, the user callback, and the shift of basename offsets.
fn translate(fpath: *const c_char) -> Option<(CString, *mut c_void, c_int, bool)> {
    WALKS.with(|w| {
        let w = w.borrow();
        let walk = w.last()?;
        let real = unsafe { CStr::from_ptr(fpath) }.to_bytes();
        let tail = real.get(walk.real_len..)?;
        let shown = CString::new([walk.shown_root.as_slice(), tail].concat()).ok()?;
        let shift = walk.shown_root.len() as c_int - walk.real_len as c_int;
        Some((shown, walk.user, shift, walk.follows_cwd))
    })
}

unsafe extern "C-unwind" fn nftw_trampoline(fpath: *const c_char, sb: *const libc::stat, kind: c_int, ftw: *mut Ftw) -> c_int {
    let Some((shown, user, shift, follows_cwd)) = translate(fpath) else { return 0 };
    if follows_cwd {
        // FTW_CHDIR: nftw changed directory with an internal call.
        boundary::prepare(|| {
            resolve::set_cwd_real();
            Some(())
        });
    }
    let mut f = *ftw;
    f.base += shift;
    let user: NftwFn = std::mem::transmute(user);
    user(shown.as_ptr(), sb, kind, &mut f)
}

unsafe extern "C-unwind" fn ftw_trampoline(fpath: *const c_char, sb: *const libc::stat, kind: c_int) -> c_int {
    let Some((shown, user, _, _)) = translate(fpath) else { return 0 };
    let user: FtwFn = std::mem::transmute(user);
    user(shown.as_ptr(), sb, kind)
}

unsafe fn walk(dir: *const c_char, user: *mut c_void, follows_cwd: bool, run: impl FnOnce(*const c_char) -> c_int) -> Option<c_int> {
    let real = match real_root(dir) {
        Some(real) => real,
        // Walked as asked (outside the prefix, or relative), but still through the
        // callback that learns each directory the walk moves to.
        None if follows_cwd && !dir.is_null() => CStr::from_ptr(dir).to_owned(),
        None => return None,
    };
    let shown_root = CStr::from_ptr(dir).to_bytes().to_vec();
    WALKS.with(|w| w.borrow_mut().push(Walk { user, real_len: real.as_bytes().len(), shown_root, follows_cwd }));
    let r = run(real.as_ptr());
    WALKS.with(|w| w.borrow_mut().pop());
    if follows_cwd {
        boundary::prepare(|| {
            resolve::set_cwd_real();
            Some(())
        });
    }
    Some(r)
}

macro_rules! nftw_hooks {
    ($($name:ident),*) => {$(
        /// nftw(3) under the prefix.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(dir: *const c_char, f: *mut c_void, nopenfd: c_int, flags: c_int) -> c_int {
            let tramp = nftw_trampoline as NftwFn as *mut c_void;
            walk(dir, f, flags & FTW_CHDIR != 0, |real| raw::$name(real, tramp, nopenfd, flags))
                .unwrap_or_else(|| raw::$name(dir, f, nopenfd, flags))
        }
    )*};
}
nftw_hooks!(nftw, nftw64);

macro_rules! ftw_hooks {
    ($($name:ident),*) => {$(
        /// ftw(3) under the prefix.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(dir: *const c_char, f: *mut c_void, nopenfd: c_int) -> c_int {
            let tramp = ftw_trampoline as FtwFn as *mut c_void;
            walk(dir, f, false, |real| raw::$name(real, tramp, nopenfd)).unwrap_or_else(|| raw::$name(dir, f, nopenfd))
        }
    )*};
}
ftw_hooks!(ftw, ftw64);

/// <fts.h>: fts does not change directory.
const FTS_NOCHDIR: c_int = 0x0004;

// NetBSD's fts, built in (src/fts): it walks with calls the shim sees.
extern "C" {
    fn shadow_fts_open(paths: *const *mut c_char, options: c_int, compar: *mut c_void) -> *mut c_void;
    fn shadow_fts_read(fts: *mut c_void) -> *mut c_void;
    fn shadow_fts_children(fts: *mut c_void, options: c_int) -> *mut c_void;
    fn shadow_fts_set(fts: *mut c_void, entry: *mut c_void, instr: c_int) -> c_int;
    fn shadow_fts_close(fts: *mut c_void) -> c_int;
}

/// The walks the built-in fts makes (their FTS handles, 0 for a free slot), and how many:
/// the other fts calls go to glibc's without a look at the slots while none is open. No
/// lock: a fork in another thread must not leave the child one it can never take.
static OURS: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];
static OURS_OPEN: AtomicUsize = AtomicUsize::new(0);

fn is_ours(fts: *mut c_void) -> bool {
    OURS_OPEN.load(Ordering::Acquire) != 0 && OURS.iter().any(|slot| slot.load(Ordering::Acquire) == fts as usize)
}

/// Registers a walk of the built-in fts; false when every slot is taken.
fn register(fts: *mut c_void) -> bool {
    let taken = OURS.iter().any(|slot| slot.compare_exchange(0, fts as usize, Ordering::AcqRel, Ordering::Relaxed).is_ok());
    if taken {
        OURS_OPEN.fetch_add(1, Ordering::Release);
    }
    taken
}

fn unregister(fts: *mut c_void) {
    if let Some(slot) = OURS.iter().find(|slot| slot.load(Ordering::Acquire) == fts as usize) {
        slot.store(0, Ordering::Release);
        OURS_OPEN.fetch_sub(1, Ordering::Release);
    }
}

/// Whether a root of `paths` (a NULL-ended array) is an absolute path under the prefix.
unsafe fn virtual_root_in(paths: *const *mut c_char) -> bool {
    let mut at = paths;
    while !at.is_null() && !(*at).is_null() {
        if real_root(*at).is_some() {
            return true;
        }
        at = at.add(1);
    }
    false
}

macro_rules! fts_hooks {
    ($open:ident, $read:ident, $children:ident, $set:ident, $close:ident) => {
        /// fts_open(3). A walk with a virtual root (absolute, under the prefix) is the
        /// built-in fts's: glibc's would find nothing there, its internal calls passing
        /// the shim by. Otherwise glibc's, and while the cwd is inside the prefix it does
        /// not change directory (FTS_NOCHDIR), or the program's calls on each
        /// `fts_accpath` (a name in the directory the walk moved to) would be walked from
        /// the cwd it left, in another directory on both members. Every `fts_accpath` is
        /// then the entry's path from the cwd the walk began in, as fts documents for
        /// FTS_NOCHDIR.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $open(paths: *const *mut c_char, options: c_int, compar: *mut c_void) -> *mut c_void {
            if virtual_root_in(paths) {
                let fts = shadow_fts_open(paths, options, compar);
                if fts.is_null() || register(fts) {
                    return fts;
                }
                // 64 walks of virtual roots open at once: this one is glibc's (ENOENT).
                shadow_fts_close(fts);
            }
            let inside = boundary::prepare(|| Some(resolve::virtual_cwd().is_some())).unwrap_or(false);
            raw::$open(paths, if inside { options | FTS_NOCHDIR } else { options }, compar)
        }

        /// fts_read(3): the built-in fts's for its walks.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $read(fts: *mut c_void) -> *mut c_void {
            if is_ours(fts) { shadow_fts_read(fts) } else { raw::$read(fts) }
        }

        /// fts_children(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $children(fts: *mut c_void, options: c_int) -> *mut c_void {
            if is_ours(fts) { shadow_fts_children(fts, options) } else { raw::$children(fts, options) }
        }

        /// fts_set(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $set(fts: *mut c_void, entry: *mut c_void, instr: c_int) -> c_int {
            if is_ours(fts) { shadow_fts_set(fts, entry, instr) } else { raw::$set(fts, entry, instr) }
        }

        /// fts_close(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $close(fts: *mut c_void) -> c_int {
            if !is_ours(fts) {
                return raw::$close(fts);
            }
            unregister(fts);
            shadow_fts_close(fts)
        }
    };
}
fts_hooks!(fts_open, fts_read, fts_children, fts_set, fts_close);
fts_hooks!(fts64_open, fts64_read, fts64_children, fts64_set, fts64_close);
