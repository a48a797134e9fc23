//! Data I/O on shadowed fds: the write family, truncation, allocation, syncing, in-kernel
//! copies, clone ioctls, shared writable mappings and POSIX AIO. Reads are not hooked at
//! all: the program's fd is the primary's, so they cost nothing.

use crate::beside::Flush;
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::ocb::{self, Landing, Ocb, Payload};
use crate::real::{self, raw, Errno, Res};
use libc::{c_int, c_uint, c_void, iovec, off64_t, size_t, ssize_t};
use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

unsafe fn bytes<'a>(buf: *const c_void, n: usize) -> &'a [u8] {
    if n == 0 || buf.is_null() { &[] } else { std::slice::from_raw_parts(buf.cast(), n) }
}

/// Writes the first `n` bytes an iovec array describes at `at`, from the program's own
/// buffers: no copy, and an O_DIRECT follower gets the alignment the lead accepted. No
/// allocation either (the write-behind queue calls it on whichever thread drains it): up to
/// 64 pieces a call, from a copy on the stack trimmed to what is left.
pub unsafe fn pwritev_all(fd: c_int, iov: *const iovec, cnt: c_int, n: usize, at: i64) -> Res<()> {
    pwritev_counted(fd, iov, cnt, n, at, 0).1
}

/// `pwritev_all`, saying how many bytes were written, all or up to an error; `rwf`:
/// pwritev2 flags for each write.
pub unsafe fn pwritev_counted(fd: c_int, iov: *const iovec, cnt: c_int, n: usize, mut at: i64, rwf: c_int) -> (usize, Res<()>) {
    const PIECES: usize = 64;
    let all = if cnt <= 0 || iov.is_null() { &[][..] } else { std::slice::from_raw_parts(iov, cnt as usize) };
    let mut pieces = [iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; PIECES];
    // Written so far: `left` bytes to go, from byte `skip` of entry `next`.
    let (mut next, mut skip, mut left) = (0, 0, n);
    while left > 0 {
        let (mut k, mut want) = (0, 0);
        let (mut j, mut from) = (next, skip);
        while k < PIECES && j < all.len() && want < left {
            let take = (all[j].iov_len - from).min(left - want);
            if take > 0 {
                pieces[k] = iovec { iov_base: (all[j].iov_base as *mut u8).add(from).cast(), iov_len: take };
                k += 1;
                want += take;
            }
            j += 1;
            from = 0;
        }
        if k == 0 {
            // The vector describes fewer than `n` bytes.
            return (n - left, Err(Errno(libc::EIO)));
        }
        let written = if rwf == 0 { raw::pwritev64(fd, pieces.as_ptr(), k as c_int, at) } else { raw::pwritev2(fd, pieces.as_ptr(), k as c_int, at, rwf) };
        let mut done = match written.into_res() {
            Ok(0) => return (n - left, Err(Errno(libc::EIO))),
            Ok(w) => w as usize,
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => return (n - left, Err(e)),
        };
        at += done as i64;
        left -= done;
        while done > 0 {
            let rest = all[next].iov_len - skip;
            if done < rest {
                skip += done;
                done = 0;
            } else {
                done -= rest;
                next += 1;
                skip = 0;
            }
        }
    }
    (n, Ok(()))
}

/// Writes all of `buf` through the mirroring path (report lines, stdio cookies, dprintf).
pub fn write_all(fd: c_int, mut buf: &[u8]) -> Res<usize> {
    let total = buf.len();
    while !buf.is_empty() {
        match write_core(fd, buf) {
            Ok(0) => return Err(Errno(libc::EIO)),
            Ok(n) => buf = &buf[n..],
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// write(2) on any fd: mirrored when shadowed.
pub fn write_core(fd: c_int, buf: &[u8]) -> Res<usize> {
    fdtable::with_link(fd, |ocb| ocb.mirrored_write("write", fd, Landing::Position, Payload::Bytes(buf), 0, |b| real::write(fd, b.map_or(buf, |s| s.bytes())).map(|n| n as isize)).map(|n| n as usize), || real::write(fd, buf))
}

/// The bytes an iovec array describes, when the shim may read the array (the kernel
/// answers EFAULT or EINVAL otherwise; then the bytes are named after the lead's write,
/// which has checked it).
unsafe fn iov_payload<'a>(iov: *const iovec, cnt: c_int) -> Payload<'a> {
    let whole = (0..=libc::UIO_MAXIOV).contains(&cnt) && (cnt == 0 || crate::mem::readable(iov.cast(), cnt as usize * std::mem::size_of::<iovec>()));
    let n = if whole { (0..cnt as usize).try_fold(0usize, |n, i| n.checked_add((*iov.add(i)).iov_len)).filter(|&n| n <= isize::MAX as usize) } else { None };
    Payload::Iov(iov, cnt, n.unwrap_or(usize::MAX))
}

/// Declares hooks on fd-first functions: untouched fds go straight to libc after one bitmap
/// test; shadowed ones run `$core` with their OCB, through `$boundary` (`hook`, or
/// `hook_write` for the data writes, which need not wait for the write-behind queue).
/// "cancellation points": glibc's functions are, so the hooks act on a pending request first
/// (`boundary::cancellation_point`).
macro_rules! fd_hooks {
    (via $boundary:ident; $($hooks:tt)*) => {
        fd_hooks!(@ $boundary, {}; $($hooks)*);
    };
    (via $boundary:ident, cancellation points; $($hooks:tt)*) => {
        fd_hooks!(@ $boundary, { boundary::cancellation_point() }; $($hooks)*);
    };
    (@ $boundary:ident, $first:block; $( $(#[$doc:meta])* fn $name:ident($fd:ident: c_int $(, $arg:ident: $ty:ty)*) -> $ret:ty => |$ocb:ident| $core:expr; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($fd: c_int $(, $arg: $ty)*) -> $ret {
            if let Some(r) = fdtable::straight_on($fd, false, || raw::$name($fd $(, $arg)*)) {
                return r;
            }
            $first
            boundary::$boundary(
                || fdtable::with_link($fd, |$ocb| $core, || raw::$name($fd $(, $arg)*).into_res()),
                || raw::$name($fd $(, $arg)*),
            )
        }
    )*};
}

fd_hooks! {
    via hook_write, cancellation points;
    /// write(2)
    fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t => |ocb| ocb.mirrored_write("write", fd, Landing::Position, Payload::Bytes(bytes(buf, n)), 0, |b| b.map_or_else(|| raw::write(fd, buf, n), |s| raw::write(fd, s.bytes().as_ptr().cast(), s.bytes().len())).into_res());
    /// pwrite(2)
    fn pwrite(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t => |ocb| pwrite_core(&ocb, fd, buf, n, off);
    /// pwrite64(2)
    fn pwrite64(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t => |ocb| pwrite_core(&ocb, fd, buf, n, off);
    /// writev(2)
    fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t => |ocb| ocb.mirrored_write("writev", fd, Landing::Position, iov_payload(iov, cnt), 0, |b| with_iov(b, iov, cnt, |v, c| raw::writev(fd, v, c)).into_res());
    /// pwritev(2)
    fn pwritev(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t => |ocb| pwritev_core(&ocb, fd, iov, cnt, off, None, |v, c| raw::pwritev(fd, v, c, off));
    /// pwritev64(2)
    fn pwritev64(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t) -> ssize_t => |ocb| pwritev_core(&ocb, fd, iov, cnt, off, None, |v, c| raw::pwritev64(fd, v, c, off));
    /// pwritev2(2), RWF_APPEND and offset -1 included
    fn pwritev2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t => |ocb| pwritev_core(&ocb, fd, iov, cnt, off, Some(flags), |v, c| raw::pwritev2(fd, v, c, off, flags));
    /// pwritev64v2(2)
    fn pwritev64v2(fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t => |ocb| pwritev_core(&ocb, fd, iov, cnt, off, Some(flags), |v, c| raw::pwritev64v2(fd, v, c, off, flags));
}

super::aliases! {
    __write => write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t;
    __pwrite64 => pwrite64(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t;
}

/// lseek on any fd: only writable shadowed files' go through the shim (their writes learn
/// where they landed from the position: `Ocb::seek`); every other fd pays one bitmap test.
pub fn seek(fd: c_int, off: off64_t, whence: c_int) -> Res<off64_t> {
    fdtable::with_link(fd, |ocb| ocb.seek(fd, || real::lseek(fd, off, whence)), || real::lseek(fd, off, whence))
}

macro_rules! lseek_hooks {
    ($($name:ident),*) => {$(
        /// lseek(2) (glibc's four names for it).
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(fd: c_int, off: off64_t, whence: c_int) -> off64_t {
            if !fdtable::seek_hooked(fd) {
                return raw::lseek64(fd, off, whence);
            }
            if fdtable::seeks_alone(fd) {
                // As for fstat: a member change not taken up yet left the fd on the old lead.
                crate::members::take_up_change();
                return raw::lseek64(fd, off, whence);
            }
            boundary::hook_write(|| seek(fd, off, whence), || raw::lseek64(fd, off, whence))
        }
    )*};
}
lseek_hooks!(lseek, lseek64, __lseek, llseek);

fd_hooks! {
    via hook, cancellation points;
    /// fallocate(2)
    fn fallocate(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int => |ocb| fallocate_core(&ocb, fd, mode, off, len);
    /// fallocate64(2)
    fn fallocate64(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int => |ocb| fallocate_core(&ocb, fd, mode, off, len);
    /// fsync(2)
    fn fsync(fd: c_int) -> c_int => |ocb| flush_core(&ocb, fd, "fsync", Flush::All);
    /// fdatasync(2)
    fn fdatasync(fd: c_int) -> c_int => |ocb| flush_core(&ocb, fd, "fdatasync", Flush::Data);
    /// sync_file_range(2)
    fn sync_file_range(fd: c_int, off: off64_t, n: off64_t, flags: c_uint) -> c_int => |ocb| flush_core(&ocb, fd, "sync_file_range", Flush::Range(off, n, flags));
}

/// A flush through a shadowed fd, of both members' files, each through its own fd at once
/// (`Ocb::flushed`). A read-only fd's OCB has no follower fd: the follower's file is
/// flushed by name (`sync FILE` opens it read-only; before, its flush reached the primary
/// alone, and a power failure could take from the secondary what the program had made
/// durable).
fn flush_core(ocb: &Arc<Ocb>, fd: c_int, what: &str, flush: Flush) -> Res<c_int> {
    if ocb.secondary_fd().is_some() {
        return ocb.flushed(what, fd, flush, || flush.call(fd).into_res());
    }
    super::meta::flush_on_fd(fd, what, |f| flush.call(f), |path| {
        let Ok(f) = real::open(unsafe { std::ffi::CStr::from_ptr(path) }, libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK, 0) else { return -1 };
        let r = flush.call(f);
        let kept = Errno::last();
        crate::hooks::lock::close_temporary(f, None);
        kept.set();
        r
    })
}

fd_hooks! {
    via hook;
    /// syncfs(2): the file systems of both members' files, the follower's queued writes
    /// first (write-behind); before, the primary's alone.
    fn syncfs(fd: c_int) -> c_int => |ocb| flush_core(&ocb, fd, "syncfs", Flush::FileSystem);
    /// ftruncate(2)
    fn ftruncate(fd: c_int, len: off64_t) -> c_int => |ocb| ftruncate_core(&ocb, fd, len, raw::ftruncate);
    /// ftruncate64(2)
    fn ftruncate64(fd: c_int, len: off64_t) -> c_int => |ocb| ftruncate_core(&ocb, fd, len, raw::ftruncate64);
    /// posix_fallocate(3): returns an error number instead of setting errno.
    fn posix_fallocate(fd: c_int, off: off64_t, len: off64_t) -> c_int => |ocb| posix_fallocate_core(&ocb, fd, off, len, raw::posix_fallocate);
    /// posix_fallocate64(3)
    fn posix_fallocate64(fd: c_int, off: off64_t, len: off64_t) -> c_int => |ocb| posix_fallocate_core(&ocb, fd, off, len, raw::posix_fallocate64);
    /// ioctl(2): FICLONE and FICLONERANGE change the destination's contents in the kernel;
    /// the secondary gets the same bytes copied from the primary.
    fn ioctl(fd: c_int, req: libc::c_ulong, arg: *mut c_void) -> c_int => |ocb| ioctl_core(&ocb, fd, req, arg);
}

/// fallocate on both members. One the lead fails may have done part of its work first
/// (`Ocb::follow_failed_lead`).
fn fallocate_core(ocb: &Ocb, fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> Res<c_int> {
    let r = ocb.mirrored("fallocate", fd, || unsafe { raw::fallocate(fd, mode, off, len) }.into_res(), |sfd, _| unsafe { raw::fallocate(sfd, mode, off, len) }.into_res().map(drop));
    allocated(ocb, fd, r.as_ref().err().copied(), mode, off, len);
    r
}

/// posix_fallocate's error number, as fallocate_core.
fn posix_fallocate_core(ocb: &Ocb, fd: c_int, off: off64_t, len: off64_t, call: unsafe fn(c_int, off64_t, off64_t) -> c_int) -> Res<c_int> {
    let r = ocb.mirrored("posix_fallocate", fd, || Ok(unsafe { call(fd, off, len) }), |sfd, &r| errno_result(if r == 0 { unsafe { call(sfd, off, len) } } else { 0 }));
    allocated(ocb, fd, r.as_ref().ok().filter(|&&e| e != 0).map(|&e| Errno(e)), 0, off, len);
    r
}

/// After an fallocate of `mode` the lead `failed`: one stopped partway through its work
/// (no room, a signal, the device) has the follower made like the lead (its size, and the
/// bytes of the range for the modes that change contents); one refused gives it the lead's
/// times only.
fn allocated(ocb: &Ocb, fd: c_int, failed: Option<Errno>, mode: c_int, off: off64_t, len: off64_t) {
    match failed {
        // Not made on this open (fdtable::with_link makes it again).
        Some(fdtable::RELINKED) => {}
        Some(Errno(libc::ENOSPC | libc::EDQUOT | libc::EINTR | libc::EIO | libc::ENOMEM)) => ocb.follow_failed_lead(fd, changed_range(mode, off, len)),
        Some(_) => ocb.follow_lead_times(fd),
        None => {}
    }
}

/// The bytes an fallocate of `mode` changes, where it changes contents.
fn changed_range(mode: c_int, off: off64_t, len: off64_t) -> Option<(i64, i64)> {
    if mode & (libc::FALLOC_FL_COLLAPSE_RANGE | libc::FALLOC_FL_INSERT_RANGE) != 0 {
        Some((off, -1))
    } else if mode & (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_ZERO_RANGE) != 0 {
        Some((off, len))
    } else {
        None
    }
}

/// ftruncate on both members; the furthest end of this open's writes is forgotten (see
/// `Ocb::cut_short`).
fn ftruncate_core(ocb: &Ocb, fd: c_int, len: off64_t, call: unsafe fn(c_int, off64_t) -> c_int) -> Res<c_int> {
    let r = truncated(ocb.mirrored("ftruncate", fd, || unsafe { call(fd, len) }.into_res(), |sfd, _| real::ftruncate(sfd, len).map(drop)));
    ocb.cut_short();
    r
}

/// A file cut short: pages of a mapping of it past its new end fault now (SIGBUS), so the
/// pages seen readable are forgotten (mem.rs), and a write from them is the kernel's EFAULT.
pub(crate) fn truncated<T>(r: Res<T>) -> Res<T> {
    crate::mem::forget_pages();
    r
}

fn errno_result(r: c_int) -> Res<()> {
    if r == 0 { Ok(()) } else { Err(Errno(r)) }
}

/// Without a copy of the bytes (the shim could not read them), the lead's write is made with
/// the program's own buffer and count, as `write`'s is, so that the kernel answers EFAULT
/// (before, a NULL buffer became an empty one: 0 bytes written where natively EFAULT).
unsafe fn pwrite_core(ocb: &Arc<Ocb>, fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> Res<ssize_t> {
    ocb.mirrored_write("pwrite", fd, Landing::Offset(off), Payload::Bytes(bytes(buf, n)), 0, |b| {
        b.map_or_else(|| raw::pwrite64(fd, buf, n, off), |s| raw::pwrite64(fd, s.bytes().as_ptr().cast(), s.bytes().len(), off)).into_res()
    })
}

/// `flags`: pwritev2's, None for pwritev (which takes no offset -1).
unsafe fn pwritev_core(ocb: &Arc<Ocb>, fd: c_int, iov: *const iovec, cnt: c_int, off: off64_t, flags: Option<c_int>, call: impl Fn(*const iovec, c_int) -> ssize_t) -> Res<ssize_t> {
    // At the position (pwritev2 at offset -1), at the end (RWF_APPEND, which at -1 moves
    // the position there), or where asked (even on an appending fd with RWF_NOAPPEND, at
    // -1 too: before, such a write through a readable appending fd of a threaded program
    // was taken to land at the end, and the follower got it there).
    let v2 = flags.is_some();
    let flags = flags.unwrap_or(0);
    let landing = match (off, flags & libc::RWF_APPEND != 0) {
        (_, true) => Landing::End { moves_position: off == -1 },
        (-1, false) if v2 && flags & libc::RWF_NOAPPEND != 0 => Landing::PositionExactly,
        (-1, false) if v2 => Landing::Position,
        (_, false) if flags & libc::RWF_NOAPPEND != 0 => Landing::Exactly(off),
        (_, false) => Landing::Offset(off),
    };
    ocb.mirrored_write("pwritev", fd, landing, iov_payload(iov, cnt), flags, |b| with_iov(b, iov, cnt, &call).into_res())
}

/// An iovec call made with the copy's array when given (see ocb::Snapshot), else with the
/// program's.
fn with_iov(copy: Option<&ocb::Snapshot>, iov: *const iovec, cnt: c_int, call: impl Fn(*const iovec, c_int) -> ssize_t) -> ssize_t {
    match copy.map(ocb::Snapshot::iov) {
        Some((v, c)) => call(v, c),
        None => call(iov, cnt),
    }
}

const FICLONE: libc::c_ulong = 0x4004_9409;
const FICLONERANGE: libc::c_ulong = 0x4020_940d;
const FIDEDUPERANGE: libc::c_ulong = 0xc018_9436;
/// The XFS-born space ioctls every Linux file system takes (fs/ioctl.c): each is an
/// fallocate with FALLOC_FL_KEEP_SIZE on a range given relative to SEEK_SET/CUR/END.
const FS_IOC_RESVSP: libc::c_ulong = 0x4030_5828;
const FS_IOC_UNRESVSP: libc::c_ulong = 0x4030_5829;
const FS_IOC_RESVSP64: libc::c_ulong = 0x4030_582a;
const FS_IOC_UNRESVSP64: libc::c_ulong = 0x4030_582b;
const FS_IOC_ZERO_RANGE: libc::c_ulong = 0x4030_5839;
/// Inode flags and extended attributes (chattr): the same call on the follower.
const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
const FS_IOC_FSSETXATTR: libc::c_ulong = 0x401c_5820;

#[repr(C)]
struct FileCloneRange {
    src_fd: i64,
    src_offset: u64,
    src_length: u64,
    dest_offset: u64,
}

/// `struct space_resv`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SpaceResv {
    l_type: i16,
    l_whence: i16,
    l_start: i64,
    l_len: i64,
    l_sysid: i32,
    l_pid: u32,
    l_pad: [i32; 4],
}

/// The follower's part of an attribute ioctl. FS_IOC_SETFLAGS takes the whole flag word as
/// the program read it from the lead, flags its file system sets for itself among them
/// (ext4's `e`, extents), which another file system refuses (tmpfs: EOPNOTSUPP, and the
/// file was reported insecure for every `chattr` on a mixed set): the follower gets the
/// chattr flags it asks for (tree::INODE_FLAGS) over its own others.
///
/// An append-only or immutable file takes no times, root's included, so its last close
/// could not give the follower the lead's (`lead`'s file) times: they are given when the
/// flag goes (before, the members' mtimes stayed apart: `c-tests/append_only.c` in CI).
unsafe fn follower_attr_ioctl(f: c_int, req: libc::c_ulong, arg: *mut c_void, lead: c_int) -> c_int {
    if req != FS_IOC_SETFLAGS || !crate::mem::readable(arg.cast(), std::mem::size_of::<c_int>()) {
        return raw::ioctl(f, req, arg);
    }
    let mut own: c_int = 0;
    if raw::ioctl(f, FS_IOC_GETFLAGS, (&mut own as *mut c_int).cast()) != 0 {
        return raw::ioctl(f, req, arg);
    }
    let asked = *(arg as *const c_int) as u32;
    let compared = shadow_core::tree::compared;
    let mut next = ((own as u32 & !compared(u32::MAX)) | compared(asked)) as c_int;
    let r = raw::ioctl(f, req, (&mut next as *mut c_int).cast());
    const NO_TIMES: c_int = 0x10 | 0x20; // FS_IMMUTABLE_FL, FS_APPEND_FL
    if r == 0 && own & NO_TIMES != 0 && next & NO_TIMES == 0 {
        let saved = Errno::last();
        let _ = real::fstat(lead).and_then(|st| real::futimens(f, &crate::ocb::times_of(&st)));
        saved.set();
    }
    r
}

/// ioctl(2) on a shadowed fd. Calls that change a file's data, size or attributes are made
/// on the follower too (clones copied, space calls as the fallocate they are, attribute
/// calls repeated); any other call that turns out to have changed the file (its size or
/// times moved) marks it insecure: never a change on one member without a report.
unsafe fn ioctl_core(ocb: &Ocb, fd: c_int, req: libc::c_ulong, arg: *mut c_void) -> Res<c_int> {
    let call = || raw::ioctl(fd, req, arg).into_res();
    match req {
        FICLONE => ocb.mirrored("clone", fd, call, |sfd, _| ocb.copy_range(fd, sfd, 0, -1)),
        FICLONERANGE if crate::mem::readable(arg.cast(), std::mem::size_of::<FileCloneRange>()) => {
            let r = &*(arg as *const FileCloneRange);
            let len = if r.src_length == 0 { -1 } else { r.src_length as i64 };
            let at = r.dest_offset as i64;
            ocb.mirrored("clone", fd, call, |sfd, _| ocb.copy_range(fd, sfd, at, if len < 0 { i64::MAX - at } else { len }))
        }
        FS_IOC_RESVSP | FS_IOC_UNRESVSP | FS_IOC_RESVSP64 | FS_IOC_UNRESVSP64 | FS_IOC_ZERO_RANGE if crate::mem::readable(arg.cast(), std::mem::size_of::<SpaceResv>()) => {
            let sr = *(arg as *const SpaceResv);
            let start = match sr.l_whence as c_int {
                libc::SEEK_SET => 0,
                libc::SEEK_CUR => real::lseek(fd, 0, libc::SEEK_CUR)?,
                libc::SEEK_END => real::fstat(fd)?.st_size,
                _ => return call(),
            } + sr.l_start;
            let mode = libc::FALLOC_FL_KEEP_SIZE
                | match req {
                    FS_IOC_UNRESVSP | FS_IOC_UNRESVSP64 => libc::FALLOC_FL_PUNCH_HOLE,
                    FS_IOC_ZERO_RANGE => libc::FALLOC_FL_ZERO_RANGE,
                    _ => 0,
                };
            let r = ocb.mirrored("space ioctl", fd, call, |sfd, _| raw::fallocate(sfd, mode, start, sr.l_len).into_res().map(drop));
            allocated(ocb, fd, r.as_ref().err().copied(), mode, start, sr.l_len);
            r
        }
        // As fchmod: through the follower's fd, or for a read-only fd (chattr opens files so)
        // the follower's file by name, held, while it is still the fd's (before, the lead's
        // flags alone changed).
        FS_IOC_SETFLAGS | FS_IOC_FSSETXATTR => super::meta::on_fd(
            fd,
            "attribute ioctl",
            |f| if f == fd { raw::ioctl(f, req, arg) } else { follower_attr_ioctl(f, req, arg, fd) },
            |p| match real::open(std::ffi::CStr::from_ptr(p), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY, 0) {
                Ok(f) => {
                    let r = follower_attr_ioctl(f, req, arg, fd);
                    crate::hooks::lock::close_temporary(f, None);
                    r
                }
                Err(e) => {
                    e.set();
                    -1
                }
            },
        ),
        // Same bytes, shared extents: nothing the follower's contents need.
        FIDEDUPERANGE => call(),
        _ if ocb.secondary_fd().is_some() || crate::members::tracking() => {
            let before = real::fstat(fd).ok();
            let r = call()?;
            let after = real::fstat(fd).ok();
            let moved = |a: &libc::stat64, b: &libc::stat64| (a.st_size, a.st_mtime, a.st_mtime_nsec, a.st_ctime, a.st_ctime_nsec) != (b.st_size, b.st_mtime, b.st_mtime_nsec, b.st_ctime, b.st_ctime_nsec);
            if let (Some(b), Some(a)) = (before, after) {
                if moved(&b, &a) {
                    match ocb.secondary_fd() {
                        Some(sfd) => {
                            ocb.begin_intent(Some(sfd));
                            ocb.mark_insecure(&format!("ioctl {req:#x} changed the file on the lead only"), Errno(libc::EOPNOTSUPP));
                        }
                        // The member away gets the lead's file when it comes back.
                        None => crate::members::record_change(crate::members::Changed::Open { ocb, fd: Some(fd), once: false }),
                    }
                }
            }
            Ok(r)
        }
        _ => call(),
    }
}

/// Runs an in-kernel copy into a shadowed `out` fd, then gives the secondary the bytes that
/// landed in the primary. `explicit` is the caller's output offset pointer, if any.
fn copy_into(out: c_int, explicit: *mut off64_t, copy: impl Fn() -> ssize_t) -> Res<ssize_t> {
    fdtable::with_link(out, |ocb| copy_into_shadowed(&ocb, out, explicit, &copy), || copy().into_res())
}

fn copy_into_shadowed(ocb: &Ocb, out: c_int, explicit: *mut off64_t, copy: &impl Fn() -> ssize_t) -> Res<ssize_t> {
    ocb.mirrored(
        "copy",
        out,
        || {
            let start = if explicit.is_null() { real::lseek(out, 0, libc::SEEK_CUR).unwrap_or(0) } else { unsafe { *explicit } };
            let n = copy().into_res()?;
            ocb.forget_position();
            Ok((n, start))
        },
        |sfd, &(n, start)| {
            let at = ocb.landed_at(out, start, n as usize)?;
            ocb.copy_range(out, sfd, at, n as i64)
        },
    )
    .map(|(n, _)| n)
}

/// sync(2): this process's queued follower writes first (write-behind), then every file
/// system, both members' among them. Before, the queue was left as it was: a `sync` let
/// the program believe durable what the secondary did not have yet.
#[no_mangle]
pub unsafe extern "C-unwind" fn sync() {
    boundary::drain_queue();
    raw::sync()
}

/// copy_file_range(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn copy_file_range(fin: c_int, offin: *mut off64_t, fout: c_int, offout: *mut off64_t, n: size_t, flags: c_uint) -> ssize_t {
    let call = || raw::copy_file_range(fin, offin, fout, offout, n, flags);
    if let Some(r) = fdtable::straight_on(fout, false, call) {
        return r;
    }
    boundary::cancellation_point();
    boundary::hook(|| copy_into(fout, offout, call), call)
}

macro_rules! sendfile_hooks {
    ($($name:ident),*) => {$(
        /// sendfile(2) into a shadowed fd.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(out: c_int, fin: c_int, off: *mut off64_t, n: size_t) -> ssize_t {
            let call = || raw::$name(out, fin, off, n);
            if let Some(r) = fdtable::straight_on(out, false, call) {
                return r;
            }
            boundary::hook(|| copy_into(out, std::ptr::null_mut(), call), call)
        }
    )*};
}
sendfile_hooks!(sendfile, sendfile64);

/// splice(2) into a shadowed fd. Its input is a pipe, which may stay empty for as long as
/// its writers like: the splice waits for it outside the shim (`wait_for_pipe`), and the
/// one made inside does not wait. Before, it waited inside, holding the fork lock and the
/// file's order: another thread's fork and another process's write to the file waited
/// with it, for ever when the pipe's writer was to be that fork's child.
#[no_mangle]
pub unsafe extern "C-unwind" fn splice(fin: c_int, offin: *mut off64_t, fout: c_int, offout: *mut off64_t, n: size_t, flags: c_uint) -> ssize_t {
    let call = |flags| raw::splice(fin, offin, fout, offout, n, flags);
    if let Some(r) = fdtable::straight_on(fout, false, || call(flags)) {
        return r;
    }
    boundary::cancellation_point();
    // What the kernel answers at once is not waited for: nothing to move, an input offset
    // (a pipe has none: ESPIPE), an output the splice cannot write (read-only, appending).
    let writable = |f: c_int| f & libc::O_ACCMODE != libc::O_RDONLY && f & libc::O_APPEND == 0;
    let answers_at_once = n == 0 || !offin.is_null() || !fdtable::get(fout).is_some_and(|o| writable(o.flags()));
    loop {
        let waited = if answers_at_once { Ok(false) } else { wait_for_pipe(fin, flags) };
        let inside = match waited {
            Ok(true) => flags | libc::SPLICE_F_NONBLOCK,
            Ok(false) => flags,
            Err(e) => {
                e.set();
                return -1;
            }
        };
        let r = boundary::hook(|| copy_into(fout, offout, || call(inside)), || call(flags));
        // Another reader took the bytes meanwhile: wait again.
        if r == -1 && inside != flags && Errno::last() == Errno(libc::EAGAIN) {
            continue;
        }
        return r;
    }
}

/// Waits until the pipe `fin` has bytes for a splice with `flags`; `Ok(true)` when it has
/// (the splice need not wait), `Ok(false)` when the splice is to be made as asked (no
/// writers left, a pipe that does not wait, no pipe at all: it answers for itself), and
/// the splice's own error when the wait ends with one (EINTR for a handler without
/// SA_RESTART). A `tee` of one byte into a pipe of the shim's waits exactly as the
/// splice would wait, and takes nothing from `fin`.
fn wait_for_pipe(fin: c_int, flags: c_uint) -> Res<bool> {
    let Some([scratch_in, scratch_out]) = scratch_pipe() else { return Ok(false) };
    match real::tee(fin, scratch_out, 1, flags & libc::SPLICE_F_NONBLOCK) {
        Ok(0) => Ok(false),
        Ok(_) => {
            // Not acted upon here (read is a cancellation point). The read end does not wait,
            // and takes whatever is there: a byte another process sharing the pipe (a fork
            // child) left when it died between its tee and its read is gone with it.
            let _no_cancel = boundary::NoCancel::hold();
            let _ = real::read(scratch_in, &mut [0; 64]);
            Ok(true)
        }
        Err(Errno(libc::EINTR)) => Err(Errno(libc::EINTR)),
        Err(_) => Ok(false),
    }
}

/// The shim's pipe for `wait_for_pipe` (read end, write end), made at the first wait; a
/// fork child shares it, harmlessly: every `tee` into it is followed by a read that empties
/// it. Only the read end is non-blocking (a tee whose output end is waits no more).
fn scratch_pipe() -> Option<[c_int; 2]> {
    static SCRATCH: once_cell::sync::OnceCell<[c_int; 2]> = once_cell::sync::OnceCell::new();
    SCRATCH
        .get_or_try_init(|| {
            boundary::prepare(|| {
                let ends = real::pipe().ok()?.map(crate::ocb::make_internal);
                real::fcntl(ends[0], libc::F_SETFL, libc::O_NONBLOCK as libc::c_long).ok()?;
                Some(ends)
            })
            .ok_or(())
        })
        .ok()
        .copied()
}

/// A shared mapping of a shadowed file open for writing: the kernel writes the primary's
/// pages directly, so the mapped bytes are copied to the secondary at msync, munmap and
/// exit, from the mapping itself, once it is writable (mapped so, or made so by mprotect).
struct Mapping {
    addr: usize,
    len: usize,
    offset: i64,
    ocb: Arc<Ocb>,
    /// An O_PATH fd on the primary file that outlives the program's fd, for the file's size
    /// (closing it never touches the program's POSIX locks, as closing a readable one would).
    handle: c_int,
    /// Mapped writable, or made so since: its pages are copied.
    writable: bool,
}

static MAPPINGS: Lazy<Mutex<Vec<Mapping>>> = Lazy::new(|| Mutex::new(Vec::new()));
static ANY_MAPPING: AtomicBool = AtomicBool::new(false);

/// The table now holds `maps` (called with it locked): the hooks' fast test, and the count
/// `shadowctl` reads before it changes the lead.
fn mapped(maps: &[Mapping]) {
    ANY_MAPPING.store(!maps.is_empty(), Ordering::Relaxed);
    crate::members::publish_mappings(maps.len());
}

fn overlap(m: &Mapping, addr: usize, len: usize) -> Option<(i64, i64)> {
    let (lo, hi) = (addr.max(m.addr), addr.saturating_add(len).min(m.addr + m.len));
    (lo < hi).then(|| (m.offset + (lo - m.addr) as i64, (hi - lo) as i64))
}

/// What becomes of the mapped ranges overlapping `[addr, addr+len)`.
#[derive(Clone, Copy, PartialEq)]
enum Range {
    /// Copied (msync, exit, a shrink's tail before it goes).
    Copied,
    /// Copied, and the follower's file flushed (msync with MS_SYNC: before, the follower's
    /// copy stayed in its page cache while the lead's pages were made durable).
    Synced,
    /// Copied, then no longer the file's (munmap, a mapping put over it).
    CopiedAndGone,
    /// No longer the file's here, its pages moved elsewhere (mremap).
    Moved,
}

/// Copies every writable mapped range overlapping `[addr, addr+len)`, and forgets the part of
/// each mapping that range took away: a mapping covered entirely is dropped, one covered in
/// part keeps what is left on each side (two mappings, the second on a handle of its own).
/// Left whole, a mapping's former range went on being copied at exit, from whatever the
/// process mapped there next (another file's pages, its heap) into the file's secondary.
fn sync_mappings(addr: usize, len: usize, what: Range) {
    let mut maps = MAPPINGS.lock().unwrap_or_else(|e| e.into_inner());
    let end = addr.saturating_add(len);
    let mut kept = Vec::with_capacity(maps.len() + 1);
    for m in maps.drain(..) {
        let Some((off, n)) = overlap(&m, addr, len) else {
            kept.push(m);
            continue;
        };
        if m.writable && what != Range::Moved {
            let from = m.addr + (off - m.offset) as usize;
            m.ocb.copy_memory_to_follower(from, off, n, Some(m.handle), what == Range::Synced);
        }
        if matches!(what, Range::Copied | Range::Synced) {
            kept.push(m);
            continue;
        }
        let (left, right) = (addr.saturating_sub(m.addr), (m.addr + m.len).saturating_sub(end));
        // The tail left past the range, on a handle of its own when the head stays too.
        let tail = (right > 0).then(|| if left > 0 { ocb::dup_internal(m.handle) } else { Ok(m.handle) });
        match tail {
            Some(Ok(handle)) => {
                if left > 0 {
                    m.ocb.hold();
                }
                kept.push(Mapping { addr: end, len: right, offset: m.offset + (end - m.addr) as i64, ocb: m.ocb.clone(), handle, writable: m.writable });
            }
            Some(Err(e)) => m.ocb.mark_insecure("munmap", e),
            None => {}
        }
        if left > 0 {
            kept.push(Mapping { len: left, ..m });
        } else if !matches!(tail, Some(Ok(_))) {
            let_go_mapping(m);
        }
    }
    mapped(&kept);
    *maps = kept;
}

/// A mapping the program no longer has: the last hold on a file the program closed before
/// it unmapped it (Python's mmap left to the collector) settles it, as its last close would
/// have. Before, its write intent stayed open and `status` said recover was due.
fn let_go_mapping(m: Mapping) {
    let order = m.ocb.order_for_close();
    if m.ocb.held_once() {
        m.ocb.settle_in_order(m.handle, &order);
    }
    m.ocb.release();
    drop(order);
    ocb::close_internal(m.handle);
}

/// One of the shim's fds moved from `old` to `new`: the mappings' handles and the files of
/// mappings and AIO writes the program no longer holds an fd on.
pub fn relocate_deferred(old: c_int, new: c_int) {
    for m in MAPPINGS.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
        if m.handle == old {
            m.handle = new;
        }
        m.ocb.relocate(old, new);
    }
    for p in PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        p.ocb.relocate(old, new);
    }
}

/// From `_exit` (async-signal-safe: no allocation, no wait without end): the mappings
/// still in place are copied to the follower straight from their pages, as at exit (a
/// Python multiprocessing worker leaves by `os._exit` with its mapping in place: the
/// secondary's copy of the file stayed as it was), each under its file's order among
/// processes: another process's write of the file that reached the lead before the
/// program's stores reaches the follower before the copy (before, one still queued by
/// write-behind, or between its lead's and follower's parts, landed after it: fio's mmap
/// jobs, `c-tests/mmap_exit_ordered.c`). False when another thread held the table, or a
/// file's order was not to be had within EXIT_PATIENCE: the files are then left to
/// `recover` (their intents stay open).
pub fn sync_mappings_on_exit() -> bool {
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return true;
    }
    let Ok(maps) = MAPPINGS.try_lock() else { return false };
    for m in maps.iter().filter(|m| m.writable) {
        let Some(_order) = m.ocb.hold_stripe_now(EXIT_PATIENCE) else { return false };
        let Some(sfd) = m.ocb.secondary_fd() else {
            // The member away gets the file when it comes back.
            if crate::members::tracking() {
                crate::members::record_on_exit(m.handle);
            }
            continue;
        };
        let Ok(st) = real::fstat(m.handle) else { continue };
        let len = (m.len as i64).min(st.st_size - m.offset).max(0) as usize;
        // SAFETY: the mapping is in place (the table holds only live ones); a page the
        // process may not read makes the kernel's copy fail with EFAULT, never a fault here.
        let pages = unsafe { std::slice::from_raw_parts(m.addr as *const u8, len) };
        if ocb::pwrite_all(sfd, pages, m.offset).is_ok() {
            let _ = ocb::lead_times_to(m.handle, sfd);
        }
    }
    true
}

/// From `_exit` when the process could not apply the set's last change (allocation-free):
/// each file it maps writable is named in the change list, for a member that may be away.
pub fn record_mappings_on_exit() {
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return;
    }
    match MAPPINGS.try_lock() {
        Ok(maps) => maps.iter().filter(|m| m.writable).for_each(|m| crate::members::record_on_exit(m.handle)),
        Err(_) => crate::members::shared().state.mark_changes_lost(),
    }
}

/// How long `_exit` waits for a mapped file's order (as behind::drain_on_exit for the
/// process's own queue).
const EXIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Each mapping's OCB (and its handle on the lead's file), without waiting for the table
/// (from `_exit` and exit: a file the program mapped and closed is held by its mapping
/// alone, and its intent must end too).
pub fn for_each_mapped_ocb_now(mut f: impl FnMut(c_int, &Ocb)) {
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(maps) = MAPPINGS.try_lock() {
        for m in maps.iter() {
            f(m.handle, &m.ocb);
        }
    }
}

/// Whether a shared mapping of `ocb`'s open may be written through: its stores reach the
/// file with no call the shim sees, so a part of the open in an outage names it whole
/// (outage.rs). Without waiting for the table, which a mapping's copy holds while it waits
/// for the file's order (the caller may hold it): true where it cannot be looked at.
pub fn mapped_for_writing(ocb: &Ocb) -> bool {
    ANY_MAPPING.load(Ordering::Relaxed) && MAPPINGS.try_lock().map_or(true, |maps| maps.iter().any(|m| m.writable && std::ptr::eq(Arc::as_ptr(&m.ocb), ocb)))
}

/// At exit: mappings still in place, and AIO writes whose results were never collected.
pub fn sync_all_deferred() {
    if ANY_MAPPING.load(Ordering::Relaxed) {
        sync_mappings(0, usize::MAX, Range::Copied);
    }
    let pending = std::mem::take(&mut *PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner()));
    for p in pending {
        p.copy_written(p.len);
    }
}

macro_rules! mmap_hooks {
    ($($name:ident),*) => {$(
        /// mmap(2): shared mappings of shadowed files open for writing are remembered (one
        /// mapped read-only may be made writable by mprotect).
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off64_t) -> *mut c_void {
            let call = || raw::$name(addr, len, prot, flags, fd, off);
            if flags & libc::MAP_FIXED != 0 {
                // Pages there may be readable no more (mem.rs remembers which are).
                crate::mem::forget_pages();
                unmapping(addr as usize, len);
            }
            if !fdtable::is_shadowed(fd) || flags & libc::MAP_SHARED == 0 {
                // One of the shim's numbers is not open to the program (see
                // fdtable::straight_on): a shared mapping of it would write the journal.
                if flags & libc::MAP_ANONYMOUS == 0 && super::open::programs_probe_of_ours(fd) {
                    Errno(libc::EBADF).set();
                    return libc::MAP_FAILED;
                }
                return call();
            }
            boundary::hook(
                || {
                    let path = std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")).unwrap_or_default();
                    // The pages, the handle on their file and the open it is looked up by are
                    // one file's, whatever another thread's dup2 onto the number does (before,
                    // the pages could be copied to the other file's follower).
                    let ((p, handle), open) = fdtable::with_open(fd, || {
                        let p = call();
                        let saved = Errno::last();
                        let handle = (p != libc::MAP_FAILED).then(|| real::open(&path, libc::O_PATH | libc::O_CLOEXEC, 0));
                        saved.set();
                        (p, handle)
                    });
                    if p == libc::MAP_FAILED {
                        return Err(Errno::last());
                    }
                    let Some(handle) = handle else { return Ok(MappedPtr(p)) };
                    match open.filter(|o| o.wants_secondary()) {
                        None => {
                            if let Ok(h) = handle {
                                let _ = real::close(h);
                            }
                        }
                        Some(ocb) => match handle {
                            Ok(h) => {
                                let writable = prot & libc::PROT_WRITE != 0;
                                if writable {
                                    // The kernel writes the primary's pages from now on: in doubt until synced.
                                    ocb.begin_intent(ocb.secondary_fd());
                                    // A member away gets the whole file (outage.rs).
                                    crate::members::record_change(crate::members::Changed::Open { ocb: &ocb, fd: Some(fd), once: true });
                                }
                                let handle = ocb::make_internal(h);
                                ocb.hold();
                                let mut maps = MAPPINGS.lock().unwrap_or_else(|e| e.into_inner());
                                maps.push(Mapping { addr: p as usize, len, offset: off, ocb, handle, writable });
                                mapped(&maps);
                            }
                            Err(e) => ocb.mark_insecure("mmap", e),
                        },
                    }
                    Ok(MappedPtr(p))
                },
                || MappedPtr(call()),
            )
            .0
        }
    )*};
}
mmap_hooks!(mmap, mmap64);

/// mmap returns MAP_FAILED, not NULL, on failure.
#[derive(Clone, Copy, PartialEq)]
struct MappedPtr(*mut c_void);
impl FfiReturn for MappedPtr {
    const FAILED: Self = MappedPtr(libc::MAP_FAILED);
}

/// munmap(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    crate::mem::forget_pages();
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return raw::munmap(addr, len);
    }
    boundary::hook(
        || {
            sync_mappings(addr as usize, len, Range::CopiedAndGone);
            raw::munmap(addr, len).into_res()
        },
        || raw::munmap(addr, len),
    )
}

/// A mapping about to be put over `[addr, addr+len)` (MAP_FIXED, mremap's MREMAP_FIXED)
/// unmaps what is there: our pages there are copied first, as at munmap.
fn unmapping(addr: usize, len: usize) {
    if ANY_MAPPING.load(Ordering::Relaxed) {
        boundary::prepare(|| {
            sync_mappings(addr, len, Range::CopiedAndGone);
            Some(())
        });
    }
}

/// mprotect(2) changes which pages can be read: the shim's record of pages it has seen
/// readable (for the program's path pointers) starts afresh. A shared mapping of ours made
/// writable is copied from then on (before, its writes reached the primary alone).
#[no_mangle]
pub unsafe extern "C-unwind" fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int {
    crate::mem::forget_pages();
    let r = raw::mprotect(addr, len, prot);
    if r == 0 && prot & libc::PROT_WRITE != 0 && ANY_MAPPING.load(Ordering::Relaxed) {
        boundary::prepare(|| {
            let mut made_writable = Vec::new();
            for m in MAPPINGS.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().filter(|m| !m.writable && overlap(m, addr as usize, len).is_some()) {
                m.ocb.begin_intent(m.ocb.secondary_fd());
                m.writable = true;
                made_writable.push(m.ocb.clone());
            }
            // A member away gets the whole file (outage.rs).
            for ocb in made_writable {
                crate::members::record_change(crate::members::Changed::Open { ocb: &ocb, fd: None, once: true });
            }
            Some(())
        });
    }
    r
}

/// mremap(2): a mapping of ours grown, shrunk or moved is copied where it now is, as long
/// as it now is. The pages a shrink drops are copied before they go, and a range moved away
/// is no longer the file's at its old place.
#[no_mangle]
pub unsafe extern "C-unwind" fn mremap(old: *mut c_void, old_len: size_t, new_len: size_t, flags: c_int, new: *mut c_void) -> *mut c_void {
    crate::mem::forget_pages();
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return raw::mremap(old, old_len, new_len, flags, new);
    }
    let (old, new_at) = (old as usize, new as usize);
    if flags & libc::MREMAP_FIXED != 0 {
        unmapping(new_at, new_len);
    }
    let moved = boundary::prepare(|| {
        if new_len < old_len {
            sync_mappings(old + new_len, old_len - new_len, Range::Copied);
        }
        let maps = MAPPINGS.lock().unwrap_or_else(|e| e.into_inner());
        let m = maps.iter().find(|m| m.addr <= old && old < m.addr + m.len)?;
        let handle = ocb::dup_internal(m.handle).ok()?;
        // Held before the old range may go (below), so that the file is not settled between.
        m.ocb.hold();
        Some(Mapping { addr: 0, len: new_len, offset: m.offset + (old - m.addr) as i64, ocb: m.ocb.clone(), handle, writable: m.writable })
    });
    let p = raw::mremap(old as *mut c_void, old_len, new_len, flags, new);
    let Some(mut moved) = moved else { return p };
    if p == libc::MAP_FAILED {
        let saved = Errno::last();
        // At the boundary, as every piece of shim logic (it takes the file's order).
        let mut moved = Some(moved);
        boundary::prepare(|| moved.take().map(let_go_mapping));
        if let Some(m) = moved {
            // Not let go of there (inside another hook): released without settling.
            m.ocb.release();
            ocb::close_internal(m.handle);
        }
        saved.set();
        return p;
    }
    moved.addr = p as usize;
    let saved = Errno::last();
    boundary::prepare(|| {
        // old_len 0 makes a second mapping of the same pages, and MREMAP_DONTUNMAP leaves the
        // old range mapped (to the file, for a shared mapping): the first stays.
        if old_len > 0 && flags & libc::MREMAP_DONTUNMAP == 0 {
            sync_mappings(old, old_len, Range::Moved);
        }
        let mut maps = MAPPINGS.lock().unwrap_or_else(|e| e.into_inner());
        maps.push(moved);
        mapped(&maps);
        Some(())
    });
    saved.set();
    p
}

/// msync(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn msync(addr: *mut c_void, len: size_t, flags: c_int) -> c_int {
    if !ANY_MAPPING.load(Ordering::Relaxed) {
        return raw::msync(addr, len, flags);
    }
    boundary::cancellation_point();
    boundary::hook(
        || {
            let r = raw::msync(addr, len, flags).into_res()?;
            sync_mappings(addr as usize, len, if flags & libc::MS_SYNC != 0 { Range::Synced } else { Range::Copied });
            Ok(r)
        },
        || raw::msync(addr, len, flags),
    )
}

/// A POSIX AIO write to a shadowed fd, in flight: glibc performs it on a thread of its own
/// with internal calls, so its bytes are copied from the primary once its result is known.
struct PendingAio {
    cb: usize,
    fd: c_int,
    offset: i64,
    len: i64,
    ocb: Arc<Ocb>,
}

impl PendingAio {
    /// Copies the `len` bytes written from the primary's file (the program may already
    /// have reused its buffer), through the program's fd while it is still this open file;
    /// once the program closed or reused the number, the file is in doubt instead.
    fn copy_written(&self, len: i64) {
        // The number is checked under the file's order, which a close or dup2 onto it takes
        // first: before, it was looked at before, and a dup2 between the look and the copy
        // copied another file's bytes (helper-51).
        if !self.ocb.copy_range_from_primary(self.fd, self.offset, len) {
            self.ocb.mark_insecure("aio write after close", Errno(libc::EBADF));
        }
    }
}
static PENDING_AIO: Lazy<Mutex<Vec<PendingAio>>> = Lazy::new(|| Mutex::new(Vec::new()));

/// The AIO writes to `fd` queued before now, each waited for (they are made in the order
/// queued) and its bytes copied to the follower as `aio_return` would (which then finds
/// nothing left to copy).
unsafe fn copy_queued_aio_writes(fd: c_int) {
    let queued: Vec<PendingAio> = {
        let mut p = PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others) = std::mem::take(&mut *p).into_iter().partition(|x| x.fd == fd);
        *p = others;
        mine
    };
    for w in queued {
        let cb = w.cb as *mut libc::aiocb;
        let list = [cb as *const libc::aiocb];
        while libc::aio_error(cb) == libc::EINPROGRESS {
            libc::aio_suspend(list.as_ptr(), 1, std::ptr::null());
        }
        // A failed write wrote nothing; a short one leaves the rest of the range as it was
        // on both members.
        if libc::aio_error(cb) == 0 {
            w.copy_written(w.len);
        }
    }
}

macro_rules! aio_hooks {
    ($($write:ident / $ret:ident / $fsync:ident),*) => {$(
        /// aio_write(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $write(cb: *mut libc::aiocb) -> c_int {
            if cb.is_null() || !fdtable::is_shadowed((*cb).aio_fildes) {
                return raw::$write(cb);
            }
            boundary::hook(
                || {
                    let fd = (*cb).aio_fildes;
                    // In doubt from the moment the write is queued, not once it is copied.
                    if let Some(ocb) = fdtable::get(fd) {
                        ocb.begin_intent(ocb.secondary_fd());
                    }
                    let r = raw::$write(cb).into_res()?;
                    if let Some(ocb) = fdtable::get(fd) {
                        let pending = PendingAio { cb: cb as usize, fd, offset: (*cb).aio_offset, len: (*cb).aio_nbytes as i64, ocb };
                        PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner()).push(pending);
                    }
                    Ok(r)
                },
                || raw::$write(cb),
            )
        }

        /// aio_return(3): the write's result is final; mirror what it wrote.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $ret(cb: *mut libc::aiocb) -> ssize_t {
            boundary::hook(
                || {
                    let r = raw::$ret(cb).into_res()?;
                    let done = {
                        let mut p = PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner());
                        p.iter().position(|x| x.cb == cb as usize).map(|i| p.swap_remove(i))
                    };
                    if let Some(p) = done {
                        if r > 0 {
                            p.copy_written((r as i64).min(p.len));
                        }
                    }
                    Ok(r)
                },
                || raw::$ret(cb),
            )
        }

        /// aio_fsync(3): glibc's thread flushes the primary's file alone, and the follower
        /// has an AIO write's bytes only once its result is taken. So the writes queued
        /// before are waited for and copied now, and both members' files flushed, before
        /// the request is made (it then finds the primary flushed). Before, a program that
        /// waited for its aio_fsync had on the secondary neither the flush nor, until it
        /// took each write's result, the bytes.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $fsync(op: c_int, cb: *mut libc::aiocb) -> c_int {
            if cb.is_null() || !fdtable::is_shadowed((*cb).aio_fildes) {
                return raw::$fsync(op, cb);
            }
            boundary::hook(
                || {
                    let fd = (*cb).aio_fildes;
                    copy_queued_aio_writes(fd);
                    fdtable::with_link(fd, |ocb| flush_core(&ocb, fd, "aio_fsync", if op == libc::O_DSYNC { Flush::Data } else { Flush::All }), || Ok(0))?;
                    raw::$fsync(op, cb).into_res()
                },
                || raw::$fsync(op, cb),
            )
        }
    )*};
}
aio_hooks!(aio_write / aio_return / aio_fsync, aio_write64 / aio_return64 / aio_fsync64);

macro_rules! lio_hooks {
    ($($name:ident),*) => {$(
        /// lio_listio(3): LIO_WRITE entries on shadowed fds are tracked like aio_write; with
        /// LIO_WAIT they are complete on return and copied at once.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(mode: c_int, list: *const *mut libc::aiocb, n: c_int, sig: *mut libc::sigevent) -> c_int {
            let call = || raw::$name(mode, list, n, sig);
            if list.is_null() || !crate::set::is_active() {
                return call();
            }
            boundary::hook(
                || {
                    let mut writes = Vec::new();
                    for i in 0..n.max(0) as usize {
                        let cb = *list.add(i);
                        if !cb.is_null() && (*cb).aio_lio_opcode == libc::LIO_WRITE {
                            if let Some(ocb) = fdtable::get((*cb).aio_fildes) {
                                ocb.begin_intent(ocb.secondary_fd());
                                writes.push(PendingAio { cb: cb as usize, fd: (*cb).aio_fildes, offset: (*cb).aio_offset, len: (*cb).aio_nbytes as i64, ocb });
                            }
                        }
                    }
                    let r = call();
                    if mode == libc::LIO_WAIT {
                        for p in &writes {
                            p.copy_written(p.len);
                        }
                    } else {
                        PENDING_AIO.lock().unwrap_or_else(|e| e.into_inner()).extend(writes);
                    }
                    r.into_res()
                },
                call,
            )
        }
    )*};
}
lio_hooks!(lio_listio, lio_listio64);

/// liburing's set-up functions, when the program links liburing dynamically: while a set is
/// active they fail with -ENOSYS (liburing's convention), so the program uses plain I/O the
/// shim can mirror. Raw `io_uring_setup` syscalls from a static liburing cannot be seen.
macro_rules! refuse_io_uring {
    ($($name:ident($($arg:ident: $ty:ty),*)),*) => {$(
        /// liburing set-up, refused while a shadow set is active.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> c_int {
            if crate::set::is_active() {
                return -libc::ENOSYS;
            }
            type Real = unsafe extern "C-unwind" fn($($ty),*) -> c_int;
            let p = libc::dlsym(libc::RTLD_NEXT, concat!(stringify!($name), "\0").as_ptr().cast());
            if p.is_null() {
                return -libc::ENOSYS;
            }
            std::mem::transmute::<*mut c_void, Real>(p)($($arg),*)
        }
    )*};
}
refuse_io_uring!(
    io_uring_queue_init(entries: libc::c_uint, ring: *mut c_void, flags: libc::c_uint),
    io_uring_queue_init_params(entries: libc::c_uint, ring: *mut c_void, params: *mut c_void),
    io_uring_setup(entries: libc::c_uint, params: *mut c_void)
);
