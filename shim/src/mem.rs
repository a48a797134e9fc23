//! Reading the program's strings without crashing where the kernel would have answered.
//! A path pointer may be NULL, point at unmapped or unreadable memory, or name a string
//! longer than PATH_MAX: the kernel answers EFAULT or ENAMETOOLONG, so the shim must never
//! touch such memory itself. Pages are checked once (process_vm_readv on this process, which
//! fails with EFAULT instead of faulting) and remembered in a small cache that every change
//! of the address space (munmap, mprotect, mremap) empties.

use libc::c_char;
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 4096;
const SLOTS: usize = 1024;
/// Page numbers of a 48-bit address space fit below this bit; the generation sits above.
const GEN_SHIFT: u32 = 36;

/// Page numbers known to be readable, each tagged with the generation it was seen in
/// (direct-mapped by page number; 0 = empty).
static READABLE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// Moves at every change of the address space: every remembered page is forgotten at once,
/// however many slots there are.
static GENERATION: AtomicUsize = AtomicUsize::new(1);
/// This process's pid, for process_vm_readv (set at start-up and in every fork child).
static PID: AtomicUsize = AtomicUsize::new(0);

pub fn set_pid() {
    PID.store(unsafe { libc::getpid() } as usize, Ordering::Relaxed);
}

/// Whether this is the process whose memory this is: not a child made by `clone` with
/// CLONE_VM, which runs on its parent's memory (and the shim's state in it) until it execs
/// or exits.
pub fn own_memory() -> bool {
    (unsafe { libc::getpid() }) == pid()
}

/// This process's pid (asked afresh until the shim has started: no fork handler keeps a
/// remembered one right before that).
pub(crate) fn pid() -> libc::pid_t {
    match PID.load(Ordering::Relaxed) {
        0 => unsafe { libc::getpid() },
        p => p as libc::pid_t,
    }
}

/// process_vm_readv of this process's memory: by its pid, or, where that names a zombie
/// because the main thread has ended (`pthread_exit` from `main`: ESRCH), by the calling
/// thread's id, which names the same address space. Before, every path a thread passed in
/// such a process was taken for unreadable and handed to the kernel as it was (ENOENT
/// under the prefix), and every large write's copy failed.
fn readv_own(local: &[libc::iovec], remote: &[libc::iovec]) -> isize {
    let call = |pid| unsafe { libc::process_vm_readv(pid, local.as_ptr(), local.len() as libc::c_ulong, remote.as_ptr(), remote.len() as libc::c_ulong, 0) };
    let n = call(pid());
    if n < 0 && crate::real::Errno::last().0 == libc::ESRCH {
        return call(unsafe { libc::gettid() });
    }
    n
}

/// The address space changed: forget every page seen.
pub fn forget_pages() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

fn page_readable(page: usize) -> bool {
    let slot = &READABLE[page % SLOTS];
    let tagged = page | GENERATION.load(Ordering::Acquire) << GEN_SHIFT;
    if slot.load(Ordering::Relaxed) == tagged || on_own_stack(page) {
        return true;
    }
    let mut byte = 0u8;
    let local = libc::iovec { iov_base: (&mut byte as *mut u8).cast(), iov_len: 1 };
    let remote = libc::iovec { iov_base: (page * PAGE) as *mut libc::c_void, iov_len: 1 };
    let r = readv_own(&[local], &[remote]);
    let ok = match r {
        1 => true,
        // Not permitted here (seccomp, an old kernel): nothing can be checked, read as before.
        _ => matches!(crate::real::Errno::last().0, libc::ENOSYS | libc::EPERM),
    };
    if ok && page != 0 && page < 1 << GEN_SHIFT {
        slot.store(tagged, Ordering::Relaxed);
    }
    ok
}

thread_local! {
    /// The calling thread's stack as glibc knows it, `(low, high)`: (0, 0) until looked
    /// up, (0, 1) where it cannot be.
    static STACK: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// Whether `page` lies between the page the calling thread's stack pointer is in and the
/// top of its stack: memory the thread runs on, readable without a look (a path in a buffer
/// of the caller's frames). Before, each new thread's first paths cost a process_vm_readv,
/// which waits for the address space's lock that every thread creation takes for writing:
/// 1,000 threads started at once, each making six files, took 35 times as long as
/// natively. A thread on another stack than glibc's for it (a signal handler's alternate
/// stack, a thread made by a raw clone that shares its parent's thread pointer) is not
/// on it.
fn on_own_stack(page: usize) -> bool {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize / PAGE;
    if page < here {
        return false;
    }
    let (low, high) = STACK.with(|s| {
        // Looking it up allocates (and opens /proc/self/maps for the main thread): not in
        // a program's signal handler, which may have interrupted the allocator, nor in a
        // child made by a clone sharing the memory (posix_spawn's), whose allocations
        // would be its parent's.
        if s.get() == (0, 0) && !crate::signals::in_handler() && own_memory() {
            s.set((0, 1));
            s.set(stack_bounds().unwrap_or((0, 1)));
        }
        s.get()
    });
    low / PAGE <= here && (page + 1) * PAGE <= high
}

/// The calling thread's stack (`pthread_getattr_np`), `(low, high)`.
fn stack_bounds() -> Option<(usize, usize)> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: attr is initialised by pthread_getattr_np when it returns 0, and destroyed.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let (mut addr, mut size) = (std::ptr::null_mut(), 0);
        let got = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        got.then_some((addr as usize, addr as usize + size))
    }
}

/// Whether `len` bytes at `p` can be read (a structure the program passes by pointer).
pub fn readable(p: *const u8, len: usize) -> bool {
    let start = p as usize;
    start != 0 && len > 0 && (start / PAGE..=(start + len - 1) / PAGE).all(page_readable)
}

/// The program's NUL-terminated string at `p`, if every byte of it up to the NUL is readable
/// and it is shorter than `PATH_MAX`; `None` when the kernel would refuse it (EFAULT,
/// ENAMETOOLONG): the caller then hands the pointer to libc untouched, which gives the
/// program exactly the kernel's answer.
pub fn path<'a>(p: *const c_char) -> Option<&'a CStr> {
    let start = p as usize;
    if start == 0 {
        return None;
    }
    let limit = libc::PATH_MAX as usize;
    let mut i = 0;
    while i < limit {
        let addr = start + i;
        if (i == 0 || addr.is_multiple_of(PAGE)) && !page_readable(addr / PAGE) {
            return None;
        }
        if unsafe { *(addr as *const u8) } == 0 {
            return Some(unsafe { CStr::from_ptr(p) });
        }
        i += 1;
    }
    None
}

/// Reads `len` bytes of this process's memory at `addr` in chunks, handing each to `f` with
/// its offset: memory that faults (a mapping past the end of its file, a page made
/// unreadable) ends the copy with EFAULT instead of a signal.
pub fn copy_out(addr: usize, len: usize, mut f: impl FnMut(&[u8], usize) -> crate::real::Res<()>) -> crate::real::Res<()> {
    let mut buf = vec![0u8; (1 << 16).min(len.max(1))];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len());
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: want };
        let remote = libc::iovec { iov_base: (addr + done) as *mut libc::c_void, iov_len: want };
        let n = readv_own(&[local], &[remote]);
        if n <= 0 {
            return Err(crate::real::Errno(libc::EFAULT));
        }
        f(&buf[..n as usize], done)?;
        done += n as usize;
    }
    Ok(())
}

/// Reads this process's memory described by `from` into `to` (segment for segment, of
/// the same lengths), by the kernel: false where any of it faults (EFAULT), instead of a
/// signal.
pub fn read_own(from: &[libc::iovec], to: &[libc::iovec]) -> bool {
    let want: usize = from.iter().map(|v| v.iov_len).sum();
    let n = readv_own(to, from);
    // A partial read stops at the first fault (or, rarely, short of it: read as a fault).
    n >= 0 && n as usize == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pointers_are_refused_without_a_fault() {
        set_pid();
        assert!(path(std::ptr::null()).is_none());
        assert!(path(0xDEAD_C0DEusize as *const c_char).is_none());
        let good = c"/shadow/x";
        assert_eq!(path(good.as_ptr()).map(|c| c.to_bytes()), Some(&b"/shadow/x"[..]));
        let long = vec![b'a'; libc::PATH_MAX as usize + 10].into_iter().chain([0]).collect::<Vec<u8>>();
        assert!(path(long.as_ptr().cast()).is_none());
    }

    #[test]
    fn a_string_running_into_an_unmapped_page_is_refused() {
        set_pid();
        unsafe {
            let m = libc::mmap(std::ptr::null_mut(), 2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) as *mut u8;
            std::ptr::write_bytes(m, b'x', 2 * PAGE);
            libc::munmap(m.add(PAGE).cast(), PAGE);
            forget_pages();
            assert!(path(m.add(PAGE - 3).cast()).is_none());
            *m.add(PAGE - 1) = 0;
            assert_eq!(path(m.add(PAGE - 3).cast()).map(|c| c.to_bytes().len()), Some(2));
            libc::munmap(m.cast(), PAGE);
        }
    }
}
