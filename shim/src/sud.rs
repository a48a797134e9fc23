//! System calls the program's own executable makes without the C library (Rust programs on
//! `rustix`'s `linux_raw` backend, inline `syscall` instructions): no preload library's
//! hook sees them, so a virtual path failed (ENOENT) and a path relative to a working
//! directory or a directory fd under the prefix reached the lead alone, unreported.
//! Linux's syscall user dispatch (6.17 on: `PR_SYS_DISPATCH_INCLUSIVE_ON`) turns each
//! system call made from the executable's code, and from nowhere else, into a SIGSYS on
//! the calling thread; the shim's trampoline hands it here, and the call is made as
//! `syscall(2)`'s hook makes it (`variadic::shadow_syscall`), its result put where the
//! program's instruction leaves it. Calls from the C library, the loader, the shim and
//! every other library never trap: a program that goes through libc pays nothing.
//!
//! The dispatch is per thread and neither forked nor cloned: it is set for the main thread
//! at start-up, for each thread `pthread_create` starts, and in a fork child. A system call
//! that cannot be made from a signal handler (one that starts a thread on a new stack, or
//! returns from a signal handler of the program's own) is given back to the kernel: the
//! thread's dispatch is switched off (its selector byte) and the instruction made again.

use crate::real::{self, Errno};
use libc::{c_int, c_long, c_void, siginfo_t};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

const PR_SET_SYSCALL_USER_DISPATCH: c_int = 59;
const PR_SYS_DISPATCH_INCLUSIVE_ON: libc::c_ulong = 2;
const FILTER_ALLOW: u8 = 0;
const FILTER_BLOCK: u8 = 1;
/// `si_code` of a SIGSYS the dispatch raised (a seccomp filter's is 1).
const SYS_USER_DISPATCH: c_int = 2;
/// The length of x86-64's `syscall` instruction: the trap leaves the program just after it.
const SYSCALL_LEN: i64 = 2;

/// The executable's code: where it starts, and its length (0: no dispatch).
static TEXT: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

thread_local! {
    /// The kernel reads this thread's byte at each system call from the executable's code
    /// (const-initialised, no destructor: it lives as long as the thread).
    static SELECTOR: Cell<u8> = const { Cell::new(FILTER_ALLOW) };
}

/// At start-up: finds the executable's code and sets the dispatch for this thread. Nothing
/// where the kernel has no inclusive dispatch (before 6.17): those calls stay unseen.
/// Nothing either for an executable whose code holds no `syscall` instruction (most: see
/// syscall_sites.rs): the dispatch would cost each of its system calls and catch none.
pub fn init() {
    let Some(image) = executable_image().filter(holds_syscall) else { return };
    TEXT[0].store(image.code.start as usize, Ordering::Relaxed);
    TEXT[1].store((image.code.end - image.code.start) as usize, Ordering::Release);
    if !crate::signals::hold_sigsys() || !arm() {
        TEXT[1].store(0, Ordering::Release);
    }
}

/// Whether system calls from the executable's code trap (new threads are to be set too).
pub fn on() -> bool {
    TEXT[1].load(Ordering::Acquire) != 0
}

/// Sets the dispatch for the calling thread (a thread `pthread_create` starts, a fork
/// child). No allocation, system calls only.
pub fn arm() -> bool {
    let len = TEXT[1].load(Ordering::Acquire);
    if len == 0 {
        return false;
    }
    let start = TEXT[0].load(Ordering::Relaxed);
    let Ok(selector) = SELECTOR.try_with(|s| {
        s.set(FILTER_BLOCK);
        s.as_ptr()
    }) else {
        return false;
    };
    // A mask inherited with SIGSYS blocked (from the image before the exec, the creating
    // thread, the forking one) would make the first trapped call kill the thread.
    let mut sigsys: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut sigsys);
        libc::sigaddset(&mut sigsys, libc::SIGSYS);
        real::raw::pthread_sigmask(libc::SIG_UNBLOCK, &sigsys, std::ptr::null_mut());
    }
    unsafe { libc::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_INCLUSIVE_ON, start, len, selector) == 0 }
}

/// `set`, a mask `how` blocks, without SIGSYS while the dispatch is on: a trapped call that
/// finds SIGSYS blocked makes the kernel kill the thread. None: `set` as it is.
pub fn without_sigsys(how: c_int, set: *const libc::sigset_t) -> Option<libc::sigset_t> {
    if !on() || how == libc::SIG_UNBLOCK || set.is_null() || !crate::mem::readable(set.cast(), std::mem::size_of::<libc::sigset_t>()) {
        return None;
    }
    let mut kept = unsafe { *set };
    unsafe { libc::sigdelset(&mut kept, libc::SIGSYS) };
    Some(kept)
}

/// `mask` without SIGSYS while the dispatch is on (an action's mask, blocked while its
/// handler runs: see `without_sigsys`).
pub fn unblocking_sigsys(mask: &mut libc::sigset_t) {
    if on() {
        unsafe { libc::sigdelset(mask, libc::SIGSYS) };
    }
}

/// The main program as loaded (the first object `dl_iterate_phdr` shows): its executable
/// segment, its unwind table's header, its loaded segments.
pub fn executable_image() -> Option<crate::syscall_sites::Image> {
    use crate::syscall_sites::Image;
    unsafe extern "C" fn first(info: *mut libc::dl_phdr_info, _: usize, out: *mut c_void) -> c_int {
        let info = &*info;
        let found = &mut *(out as *mut Option<Image>);
        let mut image = Image { code: 0..0, code_readable: false, eh_frame_hdr: None, loads: Vec::new() };
        for i in 0..info.dlpi_phnum as usize {
            let ph = &*info.dlpi_phdr.add(i);
            let at = info.dlpi_addr + ph.p_vaddr;
            let range = at..at + ph.p_memsz;
            match ph.p_type {
                libc::PT_LOAD if ph.p_flags & libc::PF_X != 0 && image.code.is_empty() => {
                    image.code = range.clone();
                    image.code_readable = ph.p_flags & libc::PF_R != 0;
                    image.loads.push(range);
                }
                libc::PT_LOAD => image.loads.push(range),
                libc::PT_GNU_EH_FRAME => image.eh_frame_hdr = Some(range),
                _ => {}
            }
        }
        *found = Some(image);
        1
    }
    let mut found: Option<Image> = None;
    unsafe { libc::dl_iterate_phdr(Some(first), &mut found as *mut _ as *mut c_void) };
    found.filter(|image| !image.code.is_empty())
}

/// Changed whenever `syscall_sites` would answer differently for some executable.
const SCAN: &str = "v1";

/// `syscall_sites::image_holds_syscall`, remembered per executable file in the set's state
/// directory (`executables/`, one symlink per file whose target is the answer): the scan
/// faults in all of the executable's code, 6 ms for gcc's 20 MB cc1 against its 4 ms run,
/// where the answer costs two system calls. Named by device, inode, size, modification and
/// change times: a file changed in place (its change time moves, whatever its owner sets)
/// is scanned again. Nothing remembered where the directory cannot be written, nor for a
/// program the loader was run with (`ld.so PROGRAM`, no interpreter: AT_BASE 0), where
/// /proc/self/exe is the loader, not the code looked at.
fn holds_syscall(image: &crate::syscall_sites::Image) -> bool {
    let st = match unsafe { libc::getauxval(libc::AT_BASE) } {
        0 => None,
        _ => real::fstatat(libc::AT_FDCWD, c"/proc/self/exe", 0).ok(),
    };
    let Some(st) = st else { return crate::syscall_sites::image_holds_syscall(image) };
    let dir = crate::set::get().config.state_dir.join("executables");
    // `SCAN`: answers of an older way of looking are not taken.
    let entry = dir.join(format!("{SCAN}-{:x}-{:x}-{:x}-{}.{}-{}.{}", st.st_dev, st.st_ino, st.st_size, st.st_mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec));
    match std::fs::read_link(&entry).as_deref().map(|t| t.as_os_str().as_encoded_bytes()) {
        Ok(b"syscall") => return true,
        Ok(b"none") => return false,
        _ => {}
    }
    let holds = crate::syscall_sites::image_holds_syscall(image);
    let _ = std::fs::create_dir(&dir);
    let _ = std::os::unix::fs::symlink(if holds { "syscall" } else { "none" }, &entry);
    holds
}

/// From the trampoline: a SIGSYS the dispatch raised is the program's system call, made
/// here (true); any other is the program's signal (false).
pub fn trapped(info: *mut siginfo_t, context: *mut c_void) -> bool {
    let (Some(info), Some(uc)) = (unsafe { info.as_ref() }, unsafe { (context as *mut libc::ucontext_t).as_mut() }) else { return false };
    // Another dispatch than the shim's (the program set its own, as Wine does): its signal.
    let at = unsafe { info.si_addr() } as usize;
    let start = TEXT[0].load(Ordering::Relaxed);
    if info.si_code != SYS_USER_DISPATCH || !(start..=start + TEXT[1].load(Ordering::Acquire)).contains(&at) {
        return false;
    }
    let g = &mut uc.uc_mcontext.gregs;
    let n = g[libc::REG_RAX as usize];
    let args = [libc::REG_RDI, libc::REG_RSI, libc::REG_RDX, libc::REG_R10, libc::REG_R8, libc::REG_R9].map(|r| g[r as usize]);
    if !made_here(n, &args) {
        // Made again by the kernel, this thread's dispatch off from now on.
        let _ = SELECTOR.try_with(|s| s.set(FILTER_ALLOW));
        g[libc::REG_RIP as usize] -= SYSCALL_LEN;
        return true;
    }
    let saved = Errno::last();
    if matches!(n, libc::SYS_execve | libc::SYS_execveat) {
        // The new image gets the program's mask, not this handler's (SIGSYS blocked).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &uc.uc_sigmask, std::ptr::null_mut()) };
    }
    let r = match n {
        libc::SYS_rt_sigprocmask => mask(&mut uc.uc_sigmask, args),
        libc::SYS_rt_sigaction if args[0] == libc::SIGSYS as i64 => sigsys_action(args),
        _ => made(n, args),
    };
    uc.uc_mcontext.gregs[libc::REG_RAX as usize] = r;
    saved.set();
    true
}

/// Whether system call `n` can be made from this handler: not one that starts a thread on
/// a stack of its own (its child would return into this frame), nor the return from a
/// signal handler of the program's (it restores the frame the kernel made for it).
fn made_here(n: i64, args: &[i64; 6]) -> bool {
    match n {
        libc::SYS_rt_sigreturn => false,
        libc::SYS_clone => crate::variadic::clone_is_fork(args[0], args[1]),
        libc::SYS_clone3 => unsafe { crate::variadic::clone3_is_fork(args[0] as *const u64, args[1] as usize) },
        _ => true,
    }
}

/// The call as `syscall(2)`'s hook makes it, its result as the kernel gives it (-errno).
fn made(n: i64, [a, b, c, d, e, f]: [i64; 6]) -> i64 {
    Errno(0).set();
    let mut handled = 0;
    let mut r = unsafe { crate::variadic::shadow_syscall(n as c_long, a, b, c, d, e, f, &mut handled) };
    if handled == 0 {
        r = unsafe { real::raw::syscall(n as c_long, a, b, c, d, e, f) };
    }
    match Errno::last() {
        Errno(0) => r,
        Errno(e) if r == -1 => -(e as i64),
        _ => r,
    }
}

/// rt_sigprocmask: the mask the handler's return restores (`uc_sigmask`) is the thread's;
/// one set from here would be undone by that return.
fn mask(current: &mut libc::sigset_t, [how, set, old, size, _, _]: [i64; 6]) -> i64 {
    const WORD: usize = std::mem::size_of::<u64>();
    if size as usize != WORD {
        return -(libc::EINVAL as i64);
    }
    let now = current as *mut libc::sigset_t as *mut u64;
    if old != 0 {
        if !crate::mem::readable(old as *const u8, WORD) {
            return -(libc::EFAULT as i64);
        }
        unsafe { *(old as *mut u64) = *now };
    }
    if set == 0 {
        return 0;
    }
    if !crate::mem::readable(set as *const u8, WORD) {
        return -(libc::EFAULT as i64);
    }
    // SIGSYS too: see `without_sigsys`.
    let given = unsafe { *(set as *const u64) } & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP) | bit(libc::SIGSYS));
    unsafe {
        *now = match how as c_int {
            libc::SIG_BLOCK => *now | given,
            libc::SIG_UNBLOCK => *now & !given,
            libc::SIG_SETMASK => given,
            _ => return -(libc::EINVAL as i64),
        }
    };
    0
}

fn bit(sig: c_int) -> u64 {
    1 << (sig - 1)
}

/// x86-64's flag for a `restorer` given with the action (glibc's own is given instead).
const SA_RESTORER: c_int = 0x0400_0000;

/// The kernel's `struct sigaction` on x86-64, as rt_sigaction takes it.
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelAction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// rt_sigaction of SIGSYS: made through the shim's `sigaction`, which keeps the kernel's
/// action the trampoline (it must see the dispatch's signals) and the program's in its slot.
fn sigsys_action([_, act, old, size, _, _]: [i64; 6]) -> i64 {
    const SIZE: usize = std::mem::size_of::<KernelAction>();
    if size as usize != std::mem::size_of::<u64>() {
        return -(libc::EINVAL as i64);
    }
    if act != 0 && !crate::mem::readable(act as *const u8, SIZE) || old != 0 && !crate::mem::readable(old as *const u8, SIZE) {
        return -(libc::EFAULT as i64);
    }
    let given = (act != 0).then(|| {
        let k = unsafe { *(act as *const KernelAction) };
        let mut a: libc::sigaction = unsafe { std::mem::zeroed() };
        a.sa_sigaction = k.handler;
        a.sa_flags = (k.flags as c_int) & !SA_RESTORER;
        unsafe { *(&mut a.sa_mask as *mut libc::sigset_t as *mut u64) = k.mask };
        a
    });
    let mut was: libc::sigaction = unsafe { std::mem::zeroed() };
    match crate::signals::sigaction(libc::SIGSYS, given.as_ref(), Some(&mut was)) {
        Ok(()) => {
            if old != 0 {
                let mask = unsafe { *(&was.sa_mask as *const libc::sigset_t as *const u64) };
                let restorer = was.sa_restorer.map_or(0, |f| f as usize);
                let k = KernelAction { handler: was.sa_sigaction, flags: was.sa_flags as u64, restorer, mask };
                unsafe { *(old as *mut KernelAction) = k };
            }
            0
        }
        Err(e) => -(e.0 as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(set: &libc::sigset_t) -> u64 {
        unsafe { *(set as *const libc::sigset_t as *const u64) }
    }

    #[test]
    fn a_raw_mask_change_is_made_on_the_mask_the_handler_restores() {
        let mut restored: libc::sigset_t = unsafe { std::mem::zeroed() };
        let (usr1, kill) = (bit(libc::SIGUSR1), bit(libc::SIGKILL));
        let given = usr1 | kill | bit(libc::SIGSTOP);
        let mut old = u64::MAX;
        let call = |how: c_int, set: &u64, old: &mut u64, size: i64| [how as i64, set as *const u64 as i64, old as *mut u64 as i64, size, 0, 0];
        assert_eq!(mask(&mut restored, call(libc::SIG_BLOCK, &given, &mut old, 8)), 0);
        assert_eq!(old, 0, "the mask before");
        assert_eq!(word(&restored), usr1, "SIGKILL and SIGSTOP are never blocked");
        assert_eq!(mask(&mut restored, call(libc::SIG_UNBLOCK, &usr1, &mut old, 8)), 0);
        assert_eq!((old, word(&restored)), (usr1, 0));
        assert_eq!(mask(&mut restored, call(libc::SIG_SETMASK, &bit(libc::SIGTERM), &mut old, 8)), 0);
        assert_eq!(word(&restored), bit(libc::SIGTERM));
        assert_eq!(mask(&mut restored, call(99, &usr1, &mut old, 8)), -(libc::EINVAL as i64));
        assert_eq!(mask(&mut restored, call(libc::SIG_BLOCK, &usr1, &mut old, 4)), -(libc::EINVAL as i64));
        assert_eq!(word(&restored), bit(libc::SIGTERM), "unchanged by refused calls");
        assert_eq!(mask(&mut restored, [libc::SIG_BLOCK as i64, 8, 0, 8, 0, 0]), -(libc::EFAULT as i64));
    }

    #[test]
    fn only_calls_that_start_a_thread_on_its_own_stack_or_leave_a_handler_go_back_to_the_kernel() {
        let args = |a: i64, b: i64| [a, b, 0, 0, 0, 0];
        assert!(made_here(libc::SYS_openat, &args(0, 0)));
        assert!(made_here(libc::SYS_clone, &args(libc::SIGCHLD as i64, 0)), "a fork");
        assert!(!made_here(libc::SYS_clone, &args((libc::CLONE_VM | libc::CLONE_THREAD) as i64, 0x1000)));
        assert!(!made_here(libc::SYS_clone, &args(libc::SIGCHLD as i64, 0x1000)), "a new stack");
        assert!(!made_here(libc::SYS_rt_sigreturn, &args(0, 0)));
    }
}
