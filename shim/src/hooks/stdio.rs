//! stdio. glibc's FILE writes with internal calls that no hook sees, so a stream on a
//! shadowed file is a `fopencookie` stream whose write goes through the mirroring core and
//! whose `_fileno` is the real fd (fileno, fstat(fileno(f)) and fsync work as usual).
//! stdout/stderr are swapped for such a stream while fd 1/2 is shadowed (shell redirection
//! adopted at exec, dup2 onto 1, freopen), and swapped back when it no longer is.

use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::{self, raw, FileP, Res};
use crate::resolve::Spath;
use crate::set;
use libc::{c_char, c_int, c_void, size_t, ssize_t};
use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, Ordering};

extern "C" {
    static mut stdin: FileP;
    static mut stdout: FileP;
    static mut stderr: FileP;
    /// Bytes waiting in a stream's output buffer (stdio_ext.h; never hooked).
    fn __fpending(f: FileP) -> size_t;
}

/// The program's `stdout` now (the shim's stream while fd 1 is shadowed).
pub fn stdout_stream() -> FileP {
    unsafe { stdout }
}

/// The program's `stdin` now.
pub fn stdin_stream() -> FileP {
    unsafe { stdin }
}

/// Offset of `_fileno` in glibc's `struct _IO_FILE` on LP64 targets (checked by the C
/// tests through fileno()).
const FILENO_OFFSET: usize = 112;

/// The process's exit has settled its files: a stream written out after that (glibc's last
/// flush, after every destructor; buffers other threads filled meanwhile) settles its file
/// at once.
static LATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From the end of the exit's settling (lib.rs `shim_fini`).
pub fn settle_late_writes() {
    LATE.store(true, Ordering::Relaxed);
}

/// A stream's file written after the exit settled it: settled again (the follower takes
/// the lead's times, the write's intent ends). Before, the other threads' buffered lines
/// glibc wrote out at its last flush left the follower's times apart and the intent open:
/// verify found the mtimes different and status said recover was due (CI, 2026-12-06, in
/// `c-tests/exit_while_threads_write.c`).
fn settle_late(fd: c_int) {
    let _ = boundary::inside(|| {
        if let Some(ocb) = fdtable::get(fd) {
            ocb.settle(fd);
            crate::members::retire_unused_intents();
        }
        Ok(())
    });
}

/// glibc's `_offset` in `struct _IO_FILE` (LP64): the file position at the end of what the
/// stream has read or written, -1 when it does not know it.
const OFFSET_OFFSET: usize = 144;

/// A shim stream's cookie: its fd, and the stream itself (set once `fopencookie` made it),
/// whose `_offset` its writes move on.
struct Cookie {
    fd: c_int,
    stream: AtomicPtr<libc::FILE>,
}

fn cookie_fd(cookie: *mut c_void) -> c_int {
    // SAFETY: every cookie is a `Cookie` of `mirrored_stream`'s, freed only by `cookie_close`.
    unsafe { (*(cookie as *const Cookie)).fd }
}

/// After a write of the stream of `cookie` (`wrote`: how many bytes, None when it failed
/// partway): its `_offset` moves on as a file stream's does (`_IO_new_file_write`).
/// glibc's cookie streams leave it where it was (`_IO_cookie_write`), so a stream that had
/// read ahead and then wrote answered `ftell` and based `fseek(SEEK_CUR)` on the place
/// before the write: `"r+"` then `fseek(100)`, `fputs("REC")`, `fseek(0, SEEK_CUR)` left
/// the stream at 100, the next `getc` read the `R`, and later writes landed early
/// (helper-48; glibc does the same without the shim for any cookie stream).
unsafe fn wrote_through(cookie: *mut c_void, wrote: Option<usize>) {
    let f = (*(cookie as *const Cookie)).stream.load(Ordering::Relaxed);
    if f.is_null() {
        return;
    }
    let offset = (f as *mut u8).add(OFFSET_OFFSET) as *mut i64;
    match wrote {
        Some(n) if *offset >= 0 => *offset += n as i64,
        Some(_) => {}
        // Where the fd is now is the kernel's to say.
        None => *offset = -1,
    }
}

unsafe extern "C-unwind" fn cookie_read(cookie: *mut c_void, buf: *mut c_char, n: size_t) -> ssize_t {
    raw::read(cookie_fd(cookie), buf.cast(), n)
}

unsafe extern "C-unwind" fn cookie_write(cookie: *mut c_void, buf: *const c_char, n: size_t) -> ssize_t {
    // glibc's own stream writes its buffer out with a cancellable write.
    boundary::cancellation_point();
    let fd = cookie_fd(cookie);
    let data = std::slice::from_raw_parts(buf as *const u8, n);
    // A stream reopened onto a file outside the prefix or a FIFO (`reopen_own_stream`) writes
    // outside the shim, as glibc's own stream would, where a full FIFO may keep it.
    let written = if fdtable::is_shadowed(fd) { boundary::inside(|| super::data::write_all(fd, data)) } else { super::data::write_all(fd, data) };
    match written {
        Ok(n) => {
            wrote_through(cookie, Some(n));
            if LATE.load(Ordering::Relaxed) {
                settle_late(fd);
            }
            n as ssize_t
        }
        Err(e) => {
            wrote_through(cookie, None);
            e.set();
            -1
        }
    }
}

unsafe extern "C-unwind" fn cookie_seek(cookie: *mut c_void, off: *mut i64, whence: c_int) -> c_int {
    if !(whence == libc::SEEK_CUR && *off == 0) {
        super::wide::seeked(cookie_fd(cookie));
    }
    match boundary::inside(|| super::data::seek(cookie_fd(cookie), *off, whence)) {
        Ok(pos) => {
            *off = pos;
            0
        }
        Err(e) => {
            e.set();
            -1
        }
    }
}

unsafe extern "C-unwind" fn cookie_close(cookie: *mut c_void) -> c_int {
    let closed = boundary::inside(|| super::open::close_fd(cookie_fd(cookie)));
    // SAFETY: made by `mirrored_stream`; glibc calls this once, as it frees the stream.
    drop(Box::from_raw(cookie as *mut Cookie));
    match closed {
        Ok(r) => r,
        Err(e) => {
            e.set();
            -1
        }
    }
}

/// The fd of a stream, or -1 (a memory stream has none): glibc's `fileno` then sets errno
/// (EBADF), which a hook that goes on to succeed must not leave behind (fclose of an
/// `open_memstream` stream left EBADF, and a later `perror` said "Bad file descriptor").
unsafe fn fileno_of(f: FileP) -> c_int {
    let saved = real::Errno::last();
    let fd = raw::fileno(f);
    saved.set();
    fd
}

/// A stream over a shadowed fd whose writes are mirrored.
unsafe fn mirrored_stream(fd: c_int, mode: *const c_char) -> Res<FileP> {
    let funcs = real::CookieFunctions {
        read: Some(cookie_read),
        write: Some(cookie_write),
        seek: Some(cookie_seek),
        close: Some(cookie_close),
    };
    let wide = super::wide::of_mode(fd, super::cstr(mode))?;
    let cookie = Box::into_raw(Box::new(Cookie { fd, stream: AtomicPtr::new(std::ptr::null_mut()) }));
    let f = match raw::fopencookie(cookie.cast(), cookie_mode(super::cstr(mode)).as_ptr(), funcs).into_res() {
        Ok(f) => f,
        Err(e) => {
            drop(Box::from_raw(cookie));
            return Err(e);
        }
    };
    (*cookie).stream.store(f, Ordering::Relaxed);
    COOKIE_VTABLE.store(field(f, VTABLE_OFFSET), Ordering::Relaxed);
    *((f as *mut u8).add(FILENO_OFFSET) as *mut c_int) = fd;
    native_buffer(f, fd);
    super::wide::register(f, wide);
    Ok(f)
}

/// glibc's `_IO_USER_BUF` bit of a stream's `_flags` (its first field): the buffer is the
/// caller's, never freed by glibc.
const IO_USER_BUF: c_int = 1;
/// glibc's `_IO_UNBUFFERED` and `_IO_LINE_BUF` bits of `_flags`: the stream's buffering.
const IO_UNBUFFERED: c_int = 2;
const IO_LINE_BUF: c_int = 0x200;

/// Gives a new cookie stream the buffer size glibc gives a file stream: the file's
/// st_blksize where that is under BUFSIZ (`_IO_file_doallocate`; 4096 on ext4), where a
/// cookie stream gets BUFSIZ (8192) whatever the file. A program that mixed its stream
/// with reads of the fd saw other positions (an `fgetc` left the fd at 8192, not 4096),
/// and writes reached the file in other chunks. The buffer is then glibc's to free, as
/// one it allocated itself (from the same `malloc`).
unsafe fn native_buffer(f: FileP, fd: c_int) {
    let Ok(st) = real::fstat(fd) else { return };
    let size = st.st_blksize as usize;
    if size == 0 || size >= libc::BUFSIZ as usize || st.st_mode & libc::S_IFMT == libc::S_IFCHR {
        return;
    }
    give_buffer(f, libc::_IOFBF, size);
}

/// Gives stream `f` a buffer of `size` bytes in `mode`, glibc's to free as one it allocated
/// itself (from the same `malloc`).
unsafe fn give_buffer(f: FileP, mode: c_int, size: usize) {
    let buf = libc::malloc(size);
    if buf.is_null() {
        return;
    }
    if raw::setvbuf(f, buf.cast(), mode, size) != 0 {
        libc::free(buf);
        return;
    }
    *(f as *mut c_int) &= !IO_USER_BUF;
}

/// glibc's `_IO_buf_base` and `_IO_buf_end` in `struct _IO_FILE` (LP64): the stream's
/// buffer, once it has one.
const BUF_BASE_OFFSET: usize = 56;
const BUF_END_OFFSET: usize = 64;

/// The size of `f`'s buffer (0 before it has one).
unsafe fn buffer_size(f: FileP) -> usize {
    field(f, BUF_END_OFFSET).saturating_sub(field(f, BUF_BASE_OFFSET))
}

/// Gives `cookie`, swapped in for the program's standard stream `program`, that stream's
/// buffering: its mode (stderr is unbuffered until the program, or stdbuf's library before
/// it starts, says otherwise) and, where it has a buffer already (set by `setvbuf`, as
/// `stdbuf -o16` does, or allocated at its first output), its size. Natively the one
/// stream keeps both when fd 1 or 2 moves. Before, stderr was always unbuffered and the
/// size the file's (`stdbuf -eL prog 2>/shadow/log` and `stdbuf -o16 prog >/shadow/log`
/// wrote their output in other chunks, out of order with the program's plain writes).
unsafe fn like_program_stream(cookie: FileP, program: FileP) {
    let flags = *(program as *const c_int);
    let mode = match flags {
        _ if flags & IO_UNBUFFERED != 0 => libc::_IONBF,
        _ if flags & IO_LINE_BUF != 0 => libc::_IOLBF,
        _ => libc::_IOFBF,
    };
    match buffer_size(program) {
        _ if mode == libc::_IONBF => {
            raw::setvbuf(cookie, std::ptr::null_mut(), libc::_IONBF, 0);
        }
        0 if mode == libc::_IOLBF => {
            raw::setvbuf(cookie, std::ptr::null_mut(), libc::_IOLBF, 0);
        }
        0 => {}
        size => give_buffer(cookie, mode, size),
    }
}

/// Whether an fopen mode both reads and writes: a `+` among the letters after the first,
/// before any `,ccs=`.
fn reads_and_writes(mode: &[u8]) -> bool {
    mode.iter().skip(1).take_while(|&&c| c != b',').any(|&c| c == b'+')
}

/// The mode `fopencookie` is given for an fopen mode: its first letter, and `+` where the
/// mode has one anywhere among its letters. glibc's fopencookie looks for the `+` only
/// right after the first letter or after a `b` there: `"rbe+"` made a stream that could not
/// write, `"wbe+"` one that could not read (helper-48).
fn cookie_mode(mode: &[u8]) -> [c_char; 3] {
    let plus = if reads_and_writes(mode) { b'+' } else { 0 };
    [mode.first().copied().unwrap_or(0) as c_char, plus as c_char, 0]
}

/// open(2) flags for an fopen mode string.
fn mode_flags(mode: &[u8]) -> c_int {
    let (mut flags, rest) = match mode.first() {
        Some(b'w') => (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, &mode[1..]),
        Some(b'a') => (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND, &mode[1..]),
        _ => (libc::O_RDONLY, mode.get(1..).unwrap_or(b"")),
    };
    for &c in rest.iter().take_while(|&&c| c != b',') {
        match c {
            b'+' => flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR,
            b'x' => flags |= libc::O_EXCL,
            b'e' => flags |= libc::O_CLOEXEC,
            _ => {}
        }
    }
    flags
}

/// fopen of a shadowed path; an open that may wait (a FIFO, a device) is handed back as the
/// lead's path, for glibc's fopen outside the shim (see open::open_shadowed_or_lead): its
/// stream is a plain one, as such files carry nothing to mirror. Before, the open waited
/// inside, holding the fork lock (a fork in another thread hung until a reader came), and
/// the stream's writes, through a stream of the shim's, waited there for a full FIFO.
unsafe fn fopen_shadowed(sp: Spath, mode: *const c_char) -> Res<Result<FileP, CString>> {
    let flags = mode_flags(super::cstr(mode));
    match super::open::open_shadowed_or_lead(sp, flags, 0o666)? {
        Ok(fd) => stream_for(fd, mode, flags).map(Ok),
        Err(lead) => Ok(Err(lead)),
    }
}

/// A stream glibc opened outside the shim, with `mode`, on `p`: when that is not the
/// program's `path` but the lead's, handed back, the stream is a node's (see
/// open::mark_node), or a regular file's reopened by glibc (see `freopen_shadowed`), whose
/// fd is adopted as a shadowed one. Such a stream that writes is glibc's: the follower's
/// file is emptied as the lead's was, and the file is in flight until its last close
/// levels it.
unsafe fn opened_outside(f: FileP, mode: *const c_char, p: *const c_char, path: *const c_char) -> FileP {
    if f.is_null() || p == path {
        return f;
    }
    adopt_reopened(f, mode);
    f
}

/// The fd of a stream glibc has just (re)opened on the lead's file, adopted (see
/// `opened_outside`); a node's fd is marked so, and a regular file's unmarked.
unsafe fn adopt_reopened(f: FileP, mode: *const c_char) {
    let fd = fileno_of(f);
    super::open::mark_node(fd);
    match real::fstat(fd) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => {
            let flags = mode_flags(super::cstr(mode));
            boundary::prepare(|| {
                crate::adopt::adopt_fds(&[fd]);
                let ocb = fdtable::get(fd).filter(|_| flags & libc::O_ACCMODE != libc::O_RDONLY)?;
                // An appending stream cannot overwrite: what it leaves past the follower's
                // end is all there is to copy.
                if flags & libc::O_APPEND != 0 {
                    ocb.mark_glibc_writes();
                } else {
                    ocb.mark_glibc_stream();
                }
                ocb.mark_written();
                ocb.begin_intent(ocb.secondary_fd());
                if flags & libc::O_TRUNC != 0 {
                    if let Some(sfd) = ocb.secondary_fd() {
                        if let Err(e) = real::ftruncate(sfd, 0) {
                            ocb.mark_insecure("emptied by freopen", e);
                        }
                    }
                }
                Some(())
            });
        }
        _ => {}
    }
}

/// Whether a stream opened with `mode` starts at the end of its file: glibc's fopen and
/// freopen seek there for "a" (not "a+"), so that ftell answers the size at once (the
/// shim's streams answered 0).
fn starts_at_end(mode: &[u8]) -> bool {
    mode.first() == Some(&b'a') && !reads_and_writes(mode)
}

/// The stream fopen returns for a freshly opened shadowed fd.
unsafe fn stream_for(fd: c_int, mode: *const c_char, flags: c_int) -> Res<FileP> {
    if starts_at_end(super::cstr(mode)) {
        super::data::seek(fd, 0, libc::SEEK_END)?;
    }
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        // Nothing to mirror: a plain stream reads at native speed; fclose unlinks it.
        return raw::fdopen(fd, mode).into_res().inspect_err(|_| {
        let _ = super::open::close_fd(fd);
    });
    }
    mirrored_stream(fd, mode).inspect_err(|_| {
        let _ = super::open::close_fd(fd);
    })
}

macro_rules! fopen_hooks {
    ($($name:ident),*) => {$(
        /// fopen(3) on a shadowed path.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, mode: *const c_char) -> FileP {
            boundary::cancellation_point();
            if let Some(n) = super::proc_fd(path) {
                return boundary::hook(
                    || {
                        let flags = mode_flags(super::cstr(mode));
                        stream_for(super::open::reopen_shadowed(n, path, flags, 0o666)?, mode, flags)
                    },
                    || raw::$name(path, mode),
                );
            }
            super::path_hook_or_lead(libc::AT_FDCWD, path, true, false, |sp| fopen_shadowed(sp, mode), |p| opened_outside(raw::$name(p, mode), mode, p, path))
        }
    )*};
}
fopen_hooks!(fopen, fopen64);

super::aliases! {
    _IO_fopen => fopen(path: *const c_char, mode: *const c_char) -> FileP;
    _IO_fdopen => fdopen(fd: c_int, mode: *const c_char) -> FileP;
}

/// fdopen(3) on a shadowed fd.
#[no_mangle]
pub unsafe extern "C-unwind" fn fdopen(fd: c_int, mode: *const c_char) -> FileP {
    if !fdtable::is_shadowed(fd) {
        return raw::fdopen(fd, mode);
    }
    boundary::hook(
        || {
            let writable = fdtable::get(fd).is_some_and(|o| o.wants_secondary());
            if !writable {
                return raw::fdopen(fd, mode).into_res();
            }
            // What glibc's fdopen checks and does before it makes a stream: the mode must
            // be one the fd's access allows, and "a" sets O_APPEND on it (through the hook,
            // so the shim knows the fd appends), the stream then at the end.
            let m = super::cstr(mode);
            let wants = match m.first() {
                Some(b'r') => libc::O_RDONLY,
                Some(b'w' | b'a') => libc::O_WRONLY,
                _ => return Err(real::Errno(libc::EINVAL)),
            };
            let wants = if reads_and_writes(m) { libc::O_RDWR } else { wants };
            let fl = real::fcntl(fd, libc::F_GETFL, 0)?;
            let has = fl & libc::O_ACCMODE;
            if has != libc::O_RDWR && has != wants {
                return Err(real::Errno(libc::EINVAL));
            }
            if m.first() == Some(&b'a') && fl & libc::O_APPEND == 0 {
                super::open::set_status_flags(fd, (fl | libc::O_APPEND) as libc::c_long)?;
                if starts_at_end(m) {
                    super::data::seek(fd, 0, libc::SEEK_END)?;
                }
            }
            mirrored_stream(fd, mode)
        },
        || raw::fdopen(fd, mode),
    )
}

/// fclose(3): a plain stream on a shadowed fd closes its fd internally; unlink it first.
#[no_mangle]
pub unsafe extern "C-unwind" fn fclose(f: FileP) -> c_int {
    if f.is_null() {
        return raw::fclose(f);
    }
    let fd = fileno_of(f);
    forget_std_swap(f);
    if !fdtable::is_shadowed(fd) || !set::is_active() {
        fdtable::closed_unshadowed(fd);
        return raw::fclose(f);
    }
    // glibc's fclose is a cancellation point when it has a buffer to write out.
    if __fpending(f) > 0 {
        boundary::cancellation_point();
    }
    boundary::hook(
        || {
            // A plain stream on a shadowed fd: glibc's close inside fclose is not seen, nor
            // are its writes, written out first, for the last close to level the file.
            if take_cookie(f) {
                return raw::fclose(f).into_res();
            }
            // glibc empties the buffer even when the write fails, so its fclose then has
            // nothing left to fail on: the error is kept for the program. Let go of before
            // glibc's fclose, not under the fd table's lock (`close_through`): that fclose
            // waits for glibc's list of streams, which a thread flushing every stream holds
            // while the shim's own streams' writes look at the table.
            let flushed = raw::fflush(f).into_res();
            super::open::let_go(fd);
            flushed.and(raw::fclose(f).into_res())
        },
        || raw::fclose(f),
    )
}

/// freopen(3) onto a shadowed path: the old stream is closed and a mirrored one returned,
/// on the same fd number glibc would have used; stdout/stderr are redirected to it. An
/// open that may wait (a FIFO, a device) is handed back, for glibc's freopen outside the
/// shim (as fopen's: see `fopen_shadowed`); the old stream's fd, which glibc closes there
/// unseen, is let go first.
unsafe fn freopen_shadowed(sp: Spath, mode: *const c_char, old: FileP) -> Res<Result<FileP, CString>> {
    let old_fd = fileno_of(old);
    let was = [(std::ptr::addr_of_mut!(stdin), 0), (std::ptr::addr_of_mut!(stdout), 1), (std::ptr::addr_of_mut!(stderr), 2)]
        .into_iter()
        .find(|(g, _)| **g == old)
        .map(|(g, _)| g);
    if was.is_none() || mode_flags(super::cstr(mode)) & libc::O_ACCMODE == libc::O_RDONLY {
        // glibc's own freopen of the lead's file reopens the program's stream in place (the
        // same FILE, on the same fd), which the program goes on using whatever freopen
        // returned (`uniq FILE` reads stdin after `freopen(FILE, "r", stdin)`); its fd is
        // adopted (`opened_outside`). A stream that only reads has nothing to mirror; one
        // that writes, other than the standard three (which become the shim's streams),
        // writes with glibc's internal calls, which reach the follower as bytes the shim did
        // not see do. Before, the program got a stream of the shim's back and its own was
        // freed: reads through stdin failed EBADF, and a program that went on with its own
        // pointer used freed memory.
        super::open::let_go(old_fd);
        return Ok(Err(super::lead_file(&sp)));
    }
    let fd = match super::open::open_shadowed_or_lead(sp, mode_flags(super::cstr(mode)), 0o666)? {
        Ok(fd) => fd,
        Err(lead) => {
            super::open::let_go(old_fd);
            return Ok(Err(lead));
        }
    };
    if old_fd >= 0 && old_fd != fd {
        // Keep the stream's fd number: children inherit stdout as fd 1. The file it leaves
        // is settled as at a close (its times were left unequal under write-behind).
        super::open::dup_onto(fd, old_fd, || raw::dup2(fd, old_fd))?;
        super::open::close_fd(fd)?;
    }
    let target = if old_fd >= 0 { old_fd } else { fd };
    if starts_at_end(super::cstr(mode)) {
        super::data::seek(target, 0, libc::SEEK_END)?;
    }
    let f = mirrored_stream(target, mode)?;
    if let Some(global) = was {
        *global = f;
    }
    Ok(Ok(f))
}

/// freopen of one of the shim's own streams (glibc cannot reopen a `fopencookie` stream:
/// it crashed, for `freopen(NULL, "wb", stdout)` in a program run as `prog >/shadow/f`):
/// the new file is opened as `open` would (the stream's own file again for a NULL path,
/// as glibc reopens /proc/self/fd/N), moved onto the stream's fd as `dup2` would, and the
/// same stream goes on writing to it (its cookie is that fd number), as freopen returns
/// the stream it was given. A read-only mode gets a plain stream on that fd instead (the
/// shim's stream was made for writing, and is kept, not closed, with its fd taken).
unsafe fn reopen_own_stream(path: *const c_char, mode: *const c_char, f: FileP) -> Res<Result<FileP, CString>> {
    let flags = mode_flags(super::cstr(mode));
    let fd = fileno_of(f);
    let new = if path.is_null() {
        let own = CString::new(format!("/proc/thread-self/fd/{fd}")).map_err(|_| real::Errno(libc::EINVAL))?;
        if !fdtable::is_shadowed(fd) {
            // Not a shadowed file (a FIFO, one outside the prefix): reopened outside.
            return Ok(Err(own));
        }
        super::open::reopen_shadowed(fd, own.as_ptr(), flags, 0o666)?
    } else {
        let p = crate::mem::path(path).ok_or(real::Errno(libc::EFAULT))?;
        // A file outside the prefix, or one that may make the open wait (a FIFO, a
        // device), is opened outside the shim (`reopen_own_stream_outside`).
        match crate::resolve::resolve(libc::AT_FDCWD, p) {
            crate::resolve::Target::Shadowed(sp) => match {
                let open = |sp| super::open::open_shadowed_or_lead(sp, flags, 0o666);
                super::through_links(open(sp), || crate::resolve::resolve(libc::AT_FDCWD, p), open)?
            } {
                Ok(new) => new,
                Err(lead) => return Ok(Err(lead)),
            },
            crate::resolve::Target::Rewritten(abs) => return Ok(Err(abs)),
            crate::resolve::Target::Outside => return Ok(Err(p.to_owned())),
        }
    };
    finish_own_reopen(f, mode, new).map(Ok)
}

/// `reopen_own_stream` of a file opened outside the shim: `target` is opened there, then
/// put on the stream's fd inside.
unsafe fn reopen_own_stream_outside(target: CString, mode: *const c_char, f: FileP) -> FileP {
    let new = raw::open64(target.as_ptr(), mode_flags(super::cstr(mode)), 0o666 as libc::mode_t);
    if new < 0 {
        return std::ptr::null_mut();
    }
    super::open::mark_node(new);
    boundary::hook(|| finish_own_reopen(f, mode, new), || {
        let _ = real::close(new);
        real::Errno(libc::EIO).set();
        std::ptr::null_mut()
    })
}

/// The end of a reopen of one of the shim's streams: the file opened as `new` is moved onto
/// the stream's fd, as dup2 would.
unsafe fn finish_own_reopen(f: FileP, mode: *const c_char, new: c_int) -> Res<FileP> {
    let flags = mode_flags(super::cstr(mode));
    let fd = fileno_of(f);
    if new != fd {
        super::open::dup_onto(new, fd, || raw::dup2(new, fd))?;
        super::open::close_fd(new)?;
    }
    if starts_at_end(super::cstr(mode)) {
        super::data::seek(fd, 0, libc::SEEK_END)?;
    }
    let global = [1, 2].into_iter().map(|n| global_of(n)).find(|g| **g == f);
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        take_cookie(f);
        forget_std_swap(f);
        let plain = raw::fdopen(fd, mode).into_res()?;
        if let Some(g) = global {
            *g = plain;
        }
        return Ok(plain);
    }
    reset_own_stream(f, super::cstr(mode));
    // The swap of stdout/stderr may have changed the global (a file outside the prefix is
    // written by glibc's own stream again).
    Ok(global.map_or(f, |g| *g))
}

/// glibc's `_flags` bits (libio.h) that a stream's mode and state set: `_IO_NO_READS`,
/// `_IO_NO_WRITES`, end of file and error seen, `_IO_IS_APPENDING`.
const IO_NO_READS: c_int = 4;
const IO_NO_WRITES: c_int = 8;
const IO_EOF_SEEN: c_int = 0x10;
const IO_ERR_SEEN: c_int = 0x20;
const IO_IS_APPENDING: c_int = 0x1000;

/// One of the shim's streams, reopened in place with `mode` (`finish_own_reopen`), reads,
/// writes and appends as `fopencookie` makes a new stream of that mode do, and forgets its
/// place (its fd is another open now) and its end-of-file and error marks, as freopen
/// does. Before, a stream made `"w"` and reopened `"r+"` failed every read, and a later
/// write went over the start of the file (helper-48).
unsafe fn reset_own_stream(f: FileP, mode: &[u8]) {
    let wants = match mode.first() {
        Some(b'r') => IO_NO_WRITES,
        Some(b'w') => IO_NO_READS,
        _ => IO_NO_READS | IO_IS_APPENDING,
    };
    let wants = if reads_and_writes(mode) { wants & IO_IS_APPENDING } else { wants };
    let flags = f as *mut c_int;
    *flags = (*flags & !(IO_NO_READS | IO_NO_WRITES | IO_IS_APPENDING | IO_EOF_SEEN | IO_ERR_SEEN)) | wants;
    *((f as *mut u8).add(OFFSET_OFFSET) as *mut i64) = -1;
}

macro_rules! freopen_hooks {
    ($($name:ident),*) => {$(
        /// freopen(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, mode: *const c_char, f: FileP) -> FileP {
            boundary::cancellation_point();
            // The old stream's buffer is written out first, outside the shim: its file may be
            // a FIFO whose reader is slow.
            if !f.is_null() && set::is_active() {
                raw::fflush(f);
            }
            if !f.is_null() && set::is_active() && is_own_stream(f) {
                return boundary::hook_or_outside(|| reopen_own_stream(path, mode, f), |target| reopen_own_stream_outside(target, mode, f), || raw::$name(path, mode, f));
            }
            if path.is_null() && !f.is_null() && set::is_active() && fdtable::is_shadowed(fileno_of(f)) {
                // One of glibc's streams on a shadowed file (reopened by `freopen_shadowed`),
                // reopened by glibc itself through /proc/self/fd: its fd is let go and the
                // new one adopted, as for a path.
                let old_fd = fileno_of(f);
                boundary::prepare(|| {
                    super::open::let_go(old_fd);
                    Some(())
                });
                let g = raw::$name(path, mode, f);
                if !g.is_null() {
                    adopt_reopened(g, mode);
                }
                return g;
            }
            super::path_hook_or_lead(libc::AT_FDCWD, path, true, false, |sp| freopen_shadowed(sp, mode, f), |p| opened_outside(raw::$name(p, mode, f), mode, p, path))
        }
    )*};
}
freopen_hooks!(freopen, freopen64);

extern "C" {
    /// glibc's seek of its file streams (fileops.c, exported), which the shim's streams seek
    /// with (`own_seekoff`).
    fn _IO_file_seekoff(f: FileP, offset: i64, dir: c_int, mode: c_int) -> i64;
    /// Frees a stream's backup area (bytes `ungetc` pushed back that the buffer lacked).
    fn _IO_free_backup_area(f: FileP);
    fn flockfile(f: FileP);
    fn funlockfile(f: FileP);
}

/// glibc's `_IO_IN_BACKUP` bit of `_flags`, and `_IO_read_ptr`, `_IO_read_end`,
/// `_IO_save_base` and `_IO_save_end` in `struct _IO_FILE` (LP64).
const IO_IN_BACKUP: c_int = 0x100;
const READ_PTR_OFFSET: usize = 8;
const READ_END_OFFSET: usize = 16;
const SAVE_BASE_OFFSET: usize = 72;
const SAVE_END_OFFSET: usize = 88;

/// glibc's vtable pointer in `struct _IO_FILE_plus` (LP64): the same for every
/// `fopencookie` stream, learnt from the shim's first.
const VTABLE_OFFSET: usize = 216;
static COOKIE_VTABLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether `f` is one of the shim's streams, for the seek hooks: a stream of another kind
/// (a file stream, most of them) is told apart by its vtable alone, without the streams'
/// table and its locks.
unsafe fn seeks_own(f: FileP) -> bool {
    let cookies = COOKIE_VTABLE.load(Ordering::Relaxed);
    cookies != 0 && !f.is_null() && field(f, VTABLE_OFFSET) == cookies && is_own_stream(f)
}

unsafe fn field(f: FileP, offset: usize) -> usize {
    *((f as *const u8).add(offset) as *const usize)
}

/// Reading from the backup area, whose unread bytes lie before the stream's place.
unsafe fn in_backup(f: FileP) -> bool {
    *(f as *const c_int) & IO_IN_BACKUP != 0
}

/// A seek (`mode` 3: `_IOS_INPUT | _IOS_OUTPUT`) or tell (`mode` 0) of one of the shim's
/// streams, as glibc's `_IO_seekoff_unlocked` makes it for a file stream. glibc's cookie
/// streams seek through `_IO_cookie_seekoff`, which forgets the stream's place before every
/// seek and tell, so an fseek inside the buffer read its block again from the fd and left
/// the fd at the block's start (4096) where a file stream moves its pointers alone (the fd
/// stays after the block, 4106), and later reads and writes went to other places in their
/// blocks: a program mixing the stream with raw calls on `fileno()` read and wrote
/// elsewhere (helper-48's stdio fuzzer, seeds 34, 256, 298). The shim's streams know
/// their place (`wrote_through`): they seek with glibc's file-stream seek.
unsafe fn own_seekoff(f: FileP, offset: i64, dir: c_int, mode: c_int) -> i64 {
    if !matches!(dir, libc::SEEK_SET | libc::SEEK_CUR | libc::SEEK_END) {
        real::Errno(libc::EINVAL).set();
        return -1;
    }
    let mut offset = offset;
    if mode != 0 && field(f, SAVE_BASE_OFFSET) != 0 {
        if dir == libc::SEEK_CUR && in_backup(f) {
            offset -= (field(f, READ_END_OFFSET) - field(f, READ_PTR_OFFSET)) as i64;
        }
        _IO_free_backup_area(f);
    }
    let at = _IO_file_seekoff(f, offset, dir, mode);
    if at != -1 && mode != 0 {
        // A seek inside the buffer reaches no cookie_seek.
        super::wide::seeked(fileno_of(f));
    }
    at
}

/// glibc's `_IOS_INPUT | _IOS_OUTPUT`: a seek, not a tell.
const SEEK_MODE: c_int = 3;

/// `f`'s position, as glibc's ftell and fgetpos answer it (-1 with errno; EIO where the
/// seek set none).
unsafe fn own_tell(f: FileP) -> i64 {
    let at = with_eio(|| own_seekoff(f, 0, libc::SEEK_CUR, 0));
    if at == -1 {
        return -1;
    }
    if in_backup(f) {
        return at - (field(f, SAVE_END_OFFSET) - field(f, SAVE_BASE_OFFSET)) as i64;
    }
    at
}

/// `seek`'s position; on failure -1 with EIO where the seek set no errno (ISO C asks
/// ftell, fgetpos and fsetpos for a positive one), on success errno as it was.
fn with_eio(seek: impl FnOnce() -> i64) -> i64 {
    let saved = real::Errno::last();
    real::Errno(0).set();
    let at = seek();
    match at {
        -1 if real::Errno::last().0 == 0 => real::Errno(libc::EIO).set(),
        -1 => {}
        _ => saved.set(),
    }
    at
}

/// Runs `f` holding the stream's lock, as glibc's stdio calls do.
unsafe fn locked<T>(stream: FileP, f: impl FnOnce() -> T) -> T {
    flockfile(stream);
    let r = f();
    funlockfile(stream);
    r
}

macro_rules! seek_hooks {
    ($($name:ident($off:ty)),*) => {$(
        /// fseek(3) and its wider forms: the shim's streams seek as file streams (`own_seekoff`).
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(f: FileP, offset: $off, whence: c_int) -> c_int {
            if !seeks_own(f) {
                return raw::$name(f, offset, whence);
            }
            locked(f, || if own_seekoff(f, offset as i64, whence, SEEK_MODE) == -1 { -1 } else { 0 })
        }
    )*};
}
seek_hooks!(fseek(libc::c_long), fseeko(libc::off64_t), fseeko64(libc::off64_t));

macro_rules! tell_hooks {
    ($($name:ident -> $off:ty),*) => {$(
        /// ftell(3) and its wider forms.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(f: FileP) -> $off {
            if !seeks_own(f) {
                return raw::$name(f);
            }
            locked(f, || own_tell(f)) as $off
        }
    )*};
}
tell_hooks!(ftell -> libc::c_long, ftello -> libc::off64_t, ftello64 -> libc::off64_t);

macro_rules! position_hooks {
    ($($get:ident, $set:ident);*) => {$(
        /// fgetpos(3): a byte stream's position is the offset, the first field of `fpos_t`.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $get(f: FileP, pos: *mut libc::fpos_t) -> c_int {
            if !seeks_own(f) {
                return raw::$get(f, pos);
            }
            match locked(f, || own_tell(f)) {
                -1 => -1,
                at => {
                    *(pos as *mut i64) = at;
                    0
                }
            }
        }

        /// fsetpos(3)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $set(f: FileP, pos: *const libc::fpos_t) -> c_int {
            if !seeks_own(f) {
                return raw::$set(f, pos);
            }
            match locked(f, || with_eio(|| own_seekoff(f, *(pos as *const i64), libc::SEEK_SET, SEEK_MODE))) {
                -1 => -1,
                _ => 0,
            }
        }
    )*};
}
position_hooks!(fgetpos, fsetpos; fgetpos64, fsetpos64);

/// rewind(3): to the start, the error and end-of-file marks cleared.
#[no_mangle]
pub unsafe extern "C-unwind" fn rewind(f: FileP) {
    if !seeks_own(f) {
        return raw::rewind(f);
    }
    locked(f, || {
        own_seekoff(f, 0, libc::SEEK_SET, SEEK_MODE);
        *(f as *mut c_int) &= !(IO_ERR_SEEN | IO_EOF_SEEN);
    });
}

/// Streams created by `mirrored_stream` (their close function unlinks the fd itself) are
/// registered with their wide side (wide.rs).
fn is_own_stream(f: FileP) -> bool {
    super::wide::is_own(f)
}

fn take_cookie(f: FileP) -> bool {
    super::wide::forget(f)
}

/// stdout/stderr while their fd is shadowed.
struct StdSwap {
    fd: c_int,
    original: AtomicPtr<libc::FILE>,
    cookie: AtomicPtr<libc::FILE>,
    /// The cookie of an earlier swap, flushed and kept for the next one (a shell swaps at
    /// every `cmd >file` of a builtin).
    spare: AtomicPtr<libc::FILE>,
}
const fn std_swap(fd: c_int) -> StdSwap {
    let null = std::ptr::null_mut();
    StdSwap { fd, original: AtomicPtr::new(null), cookie: AtomicPtr::new(null), spare: AtomicPtr::new(null) }
}
static STD_SWAPS: [StdSwap; 2] = [std_swap(1), std_swap(2)];

unsafe fn global_of(fd: c_int) -> *mut FileP {
    if fd == 1 { std::ptr::addr_of_mut!(stdout) } else { std::ptr::addr_of_mut!(stderr) }
}

pub fn is_std_swapped(fd: c_int) -> bool {
    STD_SWAPS.iter().any(|s| s.fd == fd && !s.cookie.load(Ordering::Relaxed).is_null())
}

fn forget_std_swap(f: FileP) {
    for s in &STD_SWAPS {
        if s.cookie.load(Ordering::Relaxed) == f {
            s.cookie.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

/// Before fd 1 or 2 changes. Output pending in the stream is written, natively, to
/// whatever the fd is when the stream is flushed: a swap below moves it to the stream
/// swapped in. A wide-oriented stream's buffer is glibc's internal wide one, not moved:
/// it is written out to what the fd was until now, as before.
pub fn before_std_fd_change(fd: c_int) {
    if fd == 1 || fd == 2 {
        unsafe {
            let f = *global_of(fd);
            if raw::fwide(f, 0) > 0 {
                raw::fflush(f);
            }
        }
    }
}

/// glibc's `_IO_write_base` and `_IO_write_ptr` in `struct _IO_FILE` (LP64): the bytes
/// a byte-oriented stream has buffered and not written.
const WRITE_BASE_OFFSET: usize = 32;
const WRITE_PTR_OFFSET: usize = 40;

/// Moves the output pending in `from` (byte-oriented) into `to`'s buffer, as if it had
/// been written there, and empties `from`'s buffer without writing it.
unsafe fn move_pending(from: FileP, to: FileP) {
    let pending = __fpending(from);
    if pending == 0 || raw::fwide(from, 0) > 0 {
        return;
    }
    let base = *((from as *const u8).add(WRITE_BASE_OFFSET) as *const *mut u8);
    raw::fwrite(base.cast(), 1, pending, to);
    *((from as *mut u8).add(WRITE_PTR_OFFSET) as *mut *mut u8) = base;
}

/// After fd 1 or 2 changed: swap the stream in or out.
pub fn std_fd_changed(fd: c_int) {
    let Some(swap) = STD_SWAPS.iter().find(|s| s.fd == fd) else { return };
    // Whether or not a follower is being written now: changes must be seen (and recorded).
    let shadowed = fdtable::get(fd).is_some_and(|o| o.wants_secondary());
    let current = swap.cookie.load(Ordering::Relaxed);
    unsafe {
        let global = global_of(fd);
        if shadowed && current.is_null() {
            let spare = swap.spare.swap(std::ptr::null_mut(), Ordering::Relaxed);
            let cookie = if spare.is_null() { mirrored_stream(fd, c"w".as_ptr()) } else { Ok(spare) };
            if let Ok(cookie) = cookie {
                like_program_stream(cookie, *global);
                move_pending(*global, cookie);
                swap.original.store(*global, Ordering::Relaxed);
                swap.cookie.store(cookie, Ordering::Relaxed);
                *global = cookie;
            }
        } else if !shadowed && !current.is_null() && *global == current {
            *global = swap.original.load(Ordering::Relaxed);
            move_pending(current, *global);
            swap.cookie.store(std::ptr::null_mut(), Ordering::Relaxed);
            // Not closed (that would close fd 1/2): kept for the next swap.
            swap.spare.store(current, Ordering::Relaxed);
        }
    }
}

/// At start-up: stdout/stderr inherited onto shadowed files (`prog > /shadow/out`).
pub fn adopt_std_streams() {
    std_fd_changed(1);
    std_fd_changed(2);
}
