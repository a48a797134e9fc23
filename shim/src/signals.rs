//! The program's signal handlers run outside the shim.
//!
//! A handler that interrupts a hook finds its thread half-way through a mirrored change,
//! holding the shim's locks: a hooked call it made could only pass straight to libc, and its
//! writes, creations and removals would reach the primary alone. So for every signal the
//! program catches, the kernel holds one handler of the shim's (`trampoline`), and the
//! program's action is kept here. Outside the shim the trampoline calls the program's
//! handler at once, with the kernel's siginfo and context. Inside, it queues the signal
//! again to its own thread, blocked, and the thread's way out of the shim (the outermost
//! `Inside`'s drop) unblocks it: the kernel delivers it afresh and the handler runs with
//! every hook mirrored, as if the signal had come the moment the hook returned.
//!
//! Not deferred, but run at once as before (the handler's hooks then pass through): a fault
//! (SIGSEGV and its kind, raised by the instruction that ran), which would only come back;
//! SIGABRT and any signal the thread sends itself (`raise`, `abort`: program code the shim
//! calls, such as a stdio cookie, or a failed check in the allocator, expects its handler
//! to have run when the call returns); a signal that cannot be queued again (the queue of
//! real-time signals full); and one that comes while the shim makes an exec or a spawn
//! (`at_once`, `launching`: deferred, it would be carried, blocked, into the new image).
//! Calls that may wait for ever (a writable FIFO open, a socket's full backlog, a lock, a
//! pipe a splice reads) wait outside the shim, where handlers run as natively.
//!
//! A signal that dumps core while the program's action for it is the default one comes to
//! the trampoline as well (`die_of`): the kernel is about to write a core file into the
//! working directory, under the prefix the lead's alone, so the shim marks that directory
//! in flight first, then lets the kernel's default action take the process.
//!
//! The program sees its own actions: `sigaction`'s old action, `signal`'s return value,
//! SA_RESETHAND (done here, since the kernel's reset would also drop a deferred signal's
//! second delivery). Everything here is async-signal-safe: atomics, thread-locals without
//! a destructor, and syscalls.

use crate::real::{self, Errno, Res};
use libc::{c_int, c_void, siginfo_t};
use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// Signals 1..=64 (the kernel's _NSIG).
const SIGNALS: usize = 64;
const MASK_WORDS: usize = std::mem::size_of::<libc::sigset_t>() / 8;

/// The program's action for one signal, while the kernel holds the trampoline for it.
struct Action {
    /// The program's handler; 0 (SIG_DFL) when the kernel holds the program's own action,
    /// or, for a signal that dumps core, the trampoline in place of the default action
    /// (whose flags, mask and restorer are then kept here as the kernel answered for it).
    handler: AtomicUsize,
    flags: AtomicI32,
    mask: [AtomicU64; MASK_WORDS],
    restorer: AtomicUsize,
}

static ACTIONS: [Action; SIGNALS + 1] = [const {
    Action { handler: AtomicUsize::new(0), flags: AtomicI32::new(0), mask: [const { AtomicU64::new(0) }; MASK_WORDS], restorer: AtomicUsize::new(0) }
}; SIGNALS + 1];

/// The signals whose default action dumps core (signal(7)), but SIGABRT: a handler for it
/// needs a signal frame on the stack `abort` runs on, which natively it does not, and a
/// handler of the program's that aborts on a small alternate stack (Rust's, after a stack
/// overflow) then died of SIGSEGV. `abort` is hooked instead (`aborting`).
const DUMPS_CORE: [c_int; 9] = [libc::SIGQUIT, libc::SIGILL, libc::SIGTRAP, libc::SIGBUS, libc::SIGFPE, libc::SIGSEGV, libc::SIGXCPU, libc::SIGXFSZ, libc::SIGSYS];

/// The signals a program commonly dies of under their default action without a core:
/// servers stop so (`kill` from an init script or systemd, smbd and Postfix send
/// themselves SIGTERM), as do pipelines (SIGPIPE) and a terminal's ^C. The process's end
/// is settled first, as at `_exit` (see `die_of`). Before, the shim's exit work never ran:
/// every such stop left `recover` due, the members apart until it ran (a mapping's
/// pages, the follower's times). Not the rarer ones (the real-time signals, SIGPROF...),
/// which would cost a system call each at every start.
const TERMINATES: [c_int; 7] = [libc::SIGHUP, libc::SIGINT, libc::SIGPIPE, libc::SIGALRM, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2];

/// The signals the trampoline holds the default action for (see `hold_default`).
fn dies_by_default(sig: c_int) -> bool {
    DUMPS_CORE.contains(&sig) || TERMINATES.contains(&sig)
}

/// Signals for which `siginterrupt` asked that `signal` not restart calls (glibc keeps this
/// set privately, and its `signal` reads it).
static INTERRUPTING: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Signals deferred on this thread, blocked until it leaves the shim.
    static DEFERRED: Cell<u64> = const { Cell::new(0) };
    /// Handlers run at once even inside the shim (during an exec, which would carry a
    /// deferred signal, blocked, into the new image).
    static AT_ONCE: Cell<bool> = const { Cell::new(false) };
    /// The program's handlers running on this thread now (one that leaves by siglongjmp
    /// stays counted: the thread is then taken to be in a handler from there on).
    static HANDLING: Cell<u32> = const { Cell::new(0) };
}

/// Whether the program's signal handler runs on this thread: the hooks it calls must not
/// allocate (it may have interrupted the allocator).
pub fn in_handler() -> bool {
    HANDLING.try_with(Cell::get).unwrap_or(1) > 0
}

fn bit(sig: c_int) -> u64 {
    1 << (sig - 1)
}

/// The signals of `bits` (see `bit`) as a signal set.
fn set_of(bits: u64) -> libc::sigset_t {
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigemptyset(&mut set) };
    for sig in (1..=SIGNALS as c_int).filter(|&sig| bits & bit(sig) != 0) {
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    set
}

fn action(sig: c_int) -> Option<&'static Action> {
    let i = usize::try_from(sig).ok().filter(|&i| (1..=SIGNALS).contains(&i))?;
    (sig != libc::SIGKILL && sig != libc::SIGSTOP).then(|| &ACTIONS[i])
}

/// A handler the program installs is a function, not SIG_DFL, SIG_IGN or SIG_HOLD...
fn catches(handler: usize) -> bool {
    handler != libc::SIG_DFL && handler != libc::SIG_IGN && handler != libc::SIG_ERR && handler != 2
}

/// The action the kernel gets for the program's `act`: the trampoline, always with siginfo;
/// the reset to SIG_DFL is done here (see `run_handler`), the rest is the program's.
fn installed(sig: c_int, act: &libc::sigaction) -> libc::sigaction {
    let mut k = *act;
    k.sa_sigaction = trampoline_address();
    k.sa_flags = (act.sa_flags | libc::SA_SIGINFO) & !libc::SA_RESETHAND;
    sigsys_open(sig, &mut k);
    k
}

/// While the executable's system calls trap (sud.rs), no handler runs with SIGSYS blocked,
/// the trampoline's own for SIGSYS included (SA_NODEFER): a raw call in a handler of the
/// program's (a SIGALRM one, while the trampoline made a raw `read` for the main flow)
/// would have the kernel kill the thread (helper-56).
fn sigsys_open(sig: c_int, k: &mut libc::sigaction) {
    crate::sud::unblocking_sigsys(&mut k.sa_mask);
    if sig == libc::SIGSYS && crate::sud::on() {
        k.sa_flags |= libc::SA_NODEFER;
    }
}

/// The program's view of an action the kernel holds as `kernel` (the trampoline): the
/// program's handler, SA_SIGINFO, SA_RESETHAND and SA_NODEFER; the rest as the kernel kept it (it
/// drops flags it does not know, and SIGKILL and SIGSTOP from the mask; glibc's
/// `siginterrupt` changes SA_RESTART in place).
fn as_program(kernel: &libc::sigaction, handler: usize, flags: c_int) -> libc::sigaction {
    // SA_NODEFER too: the trampoline's for SIGSYS takes it whatever the program asked.
    const PROGRAMS: c_int = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
    let mut p = *kernel;
    p.sa_sigaction = handler;
    p.sa_flags = (kernel.sa_flags & !PROGRAMS) | (flags & PROGRAMS);
    p
}

thread_local! {
    /// The signal this thread is sending itself now (`sending_self`).
    static SENDING_SELF: Cell<c_int> = const { Cell::new(0) };
}

/// Runs `send`, a call by which this thread sends itself `sig` (`raise`, `pthread_kill` of
/// itself, `tgkill` of its own id): its handler runs at once, inside the shim too, as the
/// caller expects it to have run when the call returns. The kernel does not say which
/// thread sent a signal (`si_pid` is the process's): before, every `pthread_kill` from
/// another thread of the process was taken for one the thread sent itself, and its handler
/// ran inside the hook it interrupted, where its own hooks passed straight through (opens
/// under the prefix failed ENOENT, writes reached the lead alone), and a handler that
/// left by `siglongjmp` or `pthread_exit` left the thread inside the shim holding the fork
/// lock (every later fork hung) or aborted the process (helper-49).
pub fn sending_self<T>(sig: c_int, send: impl FnOnce() -> T) -> T {
    let was = SENDING_SELF.with(|s| s.replace(sig));
    let r = send();
    SENDING_SELF.with(|s| s.set(was));
    r
}

/// Whether `sig` must run at once (see the module's comment): a fault the running
/// instruction raised (deferring it would only raise it again, blocked, which the kernel
/// answers by killing the process), SIGABRT, or a signal this thread sends itself
/// (`by_self`: see `sending_self`).
fn at_once_always(sig: c_int, code: c_int, by_self: bool) -> bool {
    let fault = matches!(sig, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP | libc::SIGSYS) && code > 0;
    fault || sig == libc::SIGABRT || (code == libc::SI_TKILL && by_self)
}

impl Action {
    fn load(&self) -> (usize, c_int, libc::sigset_t) {
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        let words = unsafe { &mut *(&mut mask as *mut libc::sigset_t as *mut [u64; MASK_WORDS]) };
        for (w, a) in words.iter_mut().zip(&self.mask) {
            *w = a.load(Ordering::Relaxed);
        }
        (self.handler.load(Ordering::Acquire), self.flags.load(Ordering::Relaxed), mask)
    }
    /// The program's default action, as the kernel answered for it (see `hold_default`).
    fn default_action(&self) -> libc::sigaction {
        let (_, flags, mask) = self.load();
        let mut a: libc::sigaction = unsafe { std::mem::zeroed() };
        a.sa_flags = flags;
        a.sa_mask = mask;
        a.sa_restorer = unsafe { std::mem::transmute::<usize, Option<extern "C" fn()>>(self.restorer.load(Ordering::Relaxed)) };
        a
    }
    fn store(&self, handler: usize, flags: c_int, mask: &libc::sigset_t) {
        let words = unsafe { &*(mask as *const libc::sigset_t as *const [u64; MASK_WORDS]) };
        for (a, w) in self.mask.iter().zip(words) {
            a.store(*w, Ordering::Relaxed);
        }
        self.flags.store(flags, Ordering::Relaxed);
        self.handler.store(handler, Ordering::Release);
    }
}

/// sigaction(2) as the program sees it.
pub fn sigaction(sig: c_int, act: Option<&libc::sigaction>, old: Option<&mut libc::sigaction>) -> Res<()> {
    let Some(slot) = action(sig) else { return real::sigaction(sig, act, old).map(drop) };
    let before = slot.load();
    let before_default = slot.default_action();
    // An ignored SIGSYS too while system calls trap (sud.rs): the kernel would kill the
    // process with the dispatch's next one. The trampoline then ignores the program's.
    let catching = act.filter(|a| catches(a.sa_sigaction) || sig == libc::SIGSYS && a.sa_sigaction == libc::SIG_IGN && crate::sud::on());
    // The program's action is in place before the kernel can call the trampoline for it.
    if let Some(a) = catching {
        slot.store(a.sa_sigaction, a.sa_flags, &a.sa_mask);
    }
    let mut kernel: libc::sigaction = unsafe { std::mem::zeroed() };
    let given = act.map(|a| if catching.is_some() { installed(sig, a) } else { *a });
    if let Err(e) = real::sigaction(sig, given.as_ref(), Some(&mut kernel)) {
        if catching.is_some() {
            slot.store(before.0, before.1, &before.2);
        }
        return Err(e);
    }
    if let Some(a) = act.filter(|_| catching.is_none()) {
        // SIG_IGN is kept as SIG_IGN: the kernel may be delivering a signal to the
        // trampoline as it is set, which then drops it. Taken for SIG_DFL, it killed the
        // process (CPython's test_stress_modifying_handlers, 4 runs in 10).
        let ignored = a.sa_sigaction == libc::SIG_IGN;
        slot.handler.store(if ignored { libc::SIG_IGN } else { libc::SIG_DFL }, Ordering::Release);
        if a.sa_sigaction == libc::SIG_DFL {
            hold_default(sig, &installed_now(sig));
        }
    }
    if let Some(old) = old {
        *old = match kernel.sa_sigaction == trampoline_address() {
            true if before.0 == libc::SIG_DFL => before_default,
            true => as_program(&kernel, before.0, before.1),
            false => kernel,
        };
    }
    Ok(())
}

/// The program's action for `sig` is now the default one, `native` as the kernel answers
/// for it: for a signal that dumps core the kernel gets the trampoline instead (see
/// `die_of`), and the program goes on seeing `native`.
fn hold_default(sig: c_int, native: &libc::sigaction) {
    let Some(slot) = action(sig).filter(|_| dies_by_default(sig)) else { return };
    slot.store(libc::SIG_DFL, native.sa_flags, &native.sa_mask);
    slot.restorer.store(native.sa_restorer.map_or(0, |f| f as usize), Ordering::Relaxed);
    let mut k = *native;
    k.sa_sigaction = trampoline_address();
    // Not on the thread's alternate stack, which the program may have made too small for
    // this handler (a fault there would kill the process by SIGSEGV instead): a stack
    // overflow, which the kernel cannot deliver on the stack, dies by the default action
    // unmarked. Restarting: a call of the shim's the signal interrupts is not seen to fail
    // before the process dies.
    k.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    sigsys_open(sig, &mut k);
    let _ = real::sigaction(sig, Some(&k), None);
}

/// The process dies of `sig` under the default action, which dumps core: the directory
/// the core file is to land in is marked in flight (`members::dying_with_core`), the
/// kernel gets the default action back, and the signal is queued again with its own
/// siginfo. It is blocked in this handler, and unblocked in the mask the handler's return
/// restores (which blocks it where the signal came during `sigsuspend`, `ppoll`...), so
/// the kernel delivers it, under the default action, as the handler returns: at the very
/// place it came from (a fault's instruction too), which the core shows. On an alternate
/// signal stack (a handler of the program's that aborts) the handler marks nothing: the
/// stack may be too small for it, and overflowing it would change the signal the process
/// dies of.
fn die_of(sig: c_int, info: *mut siginfo_t, context: *mut c_void, slot: &Action) {
    let saved = Errno::last();
    if !on_alternate_stack() {
        settle_before_death(DUMPS_CORE.contains(&sig));
    }
    if let Some(uc) = unsafe { (context as *mut libc::ucontext_t).as_mut() } {
        unsafe { libc::sigdelset(&mut uc.uc_sigmask, sig) };
    }
    let _ = real::sigaction(sig, Some(&slot.default_action()), None);
    if !queue_again(sig, info) {
        unsafe { real::raw::syscall(libc::SYS_tgkill, libc::getpid() as libc::c_long, real::gettid() as libc::c_long, sig as libc::c_long, 0, 0, 0) };
    }
    saved.set();
}

/// Whether this thread runs on its alternate signal stack with less room left than
/// `members::dying_with_core` needs (its buffers, about 2.5 KiB, and the calls it makes):
/// a program's handler may have made that stack small (Rust's are 8 KiB, less the kernel's
/// signal frame), and overflowing it would kill the process by SIGSEGV instead. Python's
/// faulthandler, which raises the signal again from its own, larger one, leaves room.
fn on_alternate_stack() -> bool {
    const NEEDED: usize = 8 << 10;
    let mut stack: libc::stack_t = unsafe { std::mem::zeroed() };
    let here = &stack as *const libc::stack_t as usize;
    let on = unsafe { libc::sigaltstack(std::ptr::null(), &mut stack) == 0 && stack.ss_flags & libc::SS_ONSTACK != 0 };
    on && here.saturating_sub(stack.ss_sp as usize) < NEEDED
}

/// `abort` is about to raise SIGABRT: where no handler of the program's is to run first,
/// the process dies of it, as `die_of` describes (the core's directory marked in flight),
/// unless this thread runs on its alternate signal stack. Not covered: glibc's own aborts
/// (a failed `assert`, a corrupted heap), made with internal calls.
pub fn aborting() {
    if crate::set::is_active() && !on_alternate_stack() && installed_now(libc::SIGABRT).sa_sigaction != trampoline_address() {
        settle_before_death(true);
    }
}

/// The process is about to die of a signal: its end is settled as `_exit` settles it
/// (which leaves everything to recover when an operation is cut short), and for a signal
/// that dumps core the directory the core lands in is marked in flight. A death by a fault
/// inside the shim is not settled (the shim's own state is in doubt there): its files are
/// left to recover. Before 2026-12-06 no death that dumps core was settled: a program that
/// crashed with a file it had written still open (CPython's faulthandler tests, which
/// crash children on purpose with RLIMIT_CORE at 0) left `recover` due and the next
/// program printing a crash report on its stderr.
fn settle_before_death(dumps_core: bool) {
    if !dumps_core || !crate::boundary::is_inside() {
        crate::hooks::process::end_without_handlers();
    }
    if dumps_core {
        crate::members::dying_with_core();
    }
}

/// Queues `sig` to this thread again, with its siginfo.
fn queue_again(sig: c_int, info: *mut siginfo_t) -> bool {
    let tid = real::gettid() as libc::c_long;
    unsafe { real::raw::syscall(libc::SYS_rt_tgsigqueueinfo, libc::getpid() as libc::c_long, tid, sig as libc::c_long, info as libc::c_long, 0, 0) == 0 }
}

/// The program's current action for `sig`.
fn current(sig: c_int) -> Res<libc::sigaction> {
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    sigaction(sig, None, Some(&mut old))?;
    Ok(old)
}

/// `signal`'s kinds: BSD (restarts calls unless `siginterrupt` said otherwise; the signal is
/// blocked in its handler) and System V (reset to SIG_DFL at delivery, not blocked).
#[derive(Clone, Copy)]
pub enum Semantics {
    Bsd,
    SysV,
}

/// signal(2) and its System V form. Returns the program's previous handler.
pub fn signal(sig: c_int, handler: usize, how: Semantics) -> Res<usize> {
    if handler == libc::SIG_ERR || !(1..=SIGNALS as c_int).contains(&sig) {
        return Err(Errno(libc::EINVAL));
    }
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    act.sa_flags = match how {
        Semantics::Bsd => {
            unsafe { libc::sigaddset(&mut act.sa_mask, sig) };
            if INTERRUPTING.load(Ordering::Relaxed) & bit(sig) != 0 { 0 } else { libc::SA_RESTART }
        }
        Semantics::SysV => libc::SA_RESETHAND | libc::SA_NODEFER,
    };
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    sigaction(sig, Some(&act), Some(&mut old))?;
    Ok(old.sa_sigaction)
}

/// siginterrupt(3): the action's SA_RESTART, and what later `signal` calls give it.
pub fn siginterrupt(sig: c_int, interrupt: bool) -> Res<()> {
    let mut act = current(sig)?;
    if interrupt {
        INTERRUPTING.fetch_or(bit(sig), Ordering::Relaxed);
        act.sa_flags &= !libc::SA_RESTART;
    } else {
        INTERRUPTING.fetch_and(!bit(sig), Ordering::Relaxed);
        act.sa_flags |= libc::SA_RESTART;
    }
    sigaction(sig, Some(&act), None)
}

/// sigset(3) (System V): SIG_HOLD blocks the signal; a disposition unblocks it. Returns
/// SIG_HOLD if the signal was blocked, else the previous disposition.
pub fn sigset(sig: c_int, disposition: usize) -> Res<usize> {
    const SIG_HOLD: usize = 2;
    if !(1..=SIGNALS as c_int).contains(&sig) {
        return Err(Errno(libc::EINVAL));
    }
    let one = set_of(bit(sig));
    let mut was: libc::sigset_t = unsafe { std::mem::zeroed() };
    let previous = if disposition == SIG_HOLD {
        let previous = current(sig)?.sa_sigaction;
        mask(libc::SIG_BLOCK, &one, Some(&mut was))?;
        previous
    } else {
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = disposition;
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        sigaction(sig, Some(&act), Some(&mut old))?;
        mask(libc::SIG_UNBLOCK, &one, Some(&mut was))?;
        old.sa_sigaction
    };
    Ok(if unsafe { libc::sigismember(&was, sig) } == 1 { SIG_HOLD } else { previous })
}

fn mask(how: c_int, set: &libc::sigset_t, old: Option<&mut libc::sigset_t>) -> Res<()> {
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut libc::sigset_t);
    match unsafe { libc::pthread_sigmask(how, set, old) } {
        0 => Ok(()),
        e => Err(Errno(e)),
    }
}

/// At start-up: handlers installed before the shim was (by the loader's other constructors,
/// or inherited nowhere: exec resets them) move behind the trampoline too.
pub fn take_over_installed() {
    for sig in 1..=SIGNALS as c_int {
        if action(sig).is_none() {
            continue;
        }
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        // glibc refuses its own internal signals: they stay as they are.
        if real::sigaction(sig, None, Some(&mut act)).is_ok() && catches(act.sa_sigaction) && act.sa_sigaction != trampoline_address() {
            let _ = sigaction(sig, Some(&act), None);
        } else if act.sa_sigaction == libc::SIG_DFL {
            hold_default(sig, &act);
        }
    }
    // Resolved now, not first in a handler (dlsym is not async-signal-safe, and waits for
    // the loader's lock): those of the handlers, `die_of`'s included.
    let _ = real::gettid();
    let _ = real::open(c"", libc::O_RDONLY, 0);
    let _ = real::read(-1, &mut []);
    let _ = real::write(-1, &[]);
    let _ = real::fdatasync(-1);
    let _ = real::close(-1);
    let _ = real::pread(-1, &mut [], 0);
}

/// For the syscall dispatch (sud.rs): the kernel's SIGSYS action is the trampoline, an
/// ignored one (kept across the exec that started this program) made so.
/// With the dispatch on, the kernel's actions that are the trampoline's are made again as
/// `sigsys_open` says (none blocks SIGSYS while its handler runs; SIGSYS's own takes
/// SA_NODEFER), in place: what the program is shown stays as it was. An ignored SIGSYS is
/// made the trampoline's (see `sigaction`).
pub fn hold_sigsys() -> bool {
    let ignored = installed_now(libc::SIGSYS);
    if ignored.sa_sigaction == libc::SIG_IGN {
        let _ = sigaction(libc::SIGSYS, Some(&ignored), None);
    }
    for sig in 1..=SIGNALS as c_int {
        let mut k = installed_now(sig);
        if action(sig).is_some() && k.sa_sigaction == trampoline_address() {
            sigsys_open(sig, &mut k);
            let _ = real::sigaction(sig, Some(&k), None);
        }
    }
    installed_now(libc::SIGSYS).sa_sigaction == trampoline_address()
}

fn trampoline_address() -> usize {
    trampoline as *const () as usize
}

/// Whether `sig` under the program's `handler` kills the process with a core dump: the
/// trampoline holds the default action (see `hold_default`).
fn dies_of(sig: c_int, handler: usize) -> bool {
    handler == libc::SIG_DFL && dies_by_default(sig)
}

extern "C-unwind" fn trampoline(sig: c_int, info: *mut siginfo_t, context: *mut c_void) {
    // The program's own system call, made now (never deferred: the program waits on it).
    if sig == libc::SIGSYS && crate::sud::trapped(info, context) {
        return;
    }
    let (code, sender) = unsafe { info.as_ref() }.map_or((0, 0), |i| (i.si_code, unsafe { i.si_pid() }));
    // A death is never deferred: natively the process dies at once, in the middle of any
    // call (a hung member's would otherwise keep it alive); the journal covers that call.
    let dying = || action(sig).is_some_and(|slot| dies_of(sig, slot.handler.load(Ordering::Acquire)));
    // Nor a SIGSYS while the executable's calls trap: it cannot be blocked (sud.rs).
    let deferrable = || !AT_ONCE.with(Cell::get) && !at_once_always(sig, code, sender == unsafe { libc::getpid() } && SENDING_SELF.with(Cell::get) == sig) && !dying() && !(sig == libc::SIGSYS && crate::sud::on());
    if crate::boundary::is_inside() && deferrable() && defer(sig, info, context) {
        return;
    }
    run_handler(sig, info, context);
}

/// Queues `sig` again to this thread, blocked until it leaves the shim. False if it could
/// not be queued (it then runs at once).
fn defer(sig: c_int, info: *mut siginfo_t, context: *mut c_void) -> bool {
    let saved = Errno::last();
    let one = set_of(bit(sig));
    // Blocked now as well, for an SA_NODEFER action (the kernel left it open).
    let _ = mask(libc::SIG_BLOCK, &one, None);
    let queued = queue_again(sig, info);
    if queued {
        // Blocked still once this handler returns: the kernel restores the mask from here.
        if let Some(uc) = unsafe { (context as *mut libc::ucontext_t).as_mut() } {
            unsafe { libc::sigaddset(&mut uc.uc_sigmask, sig) };
        }
        DEFERRED.with(|d| d.set(d.get() | bit(sig)));
    } else {
        let _ = mask(libc::SIG_UNBLOCK, &one, None);
    }
    saved.set();
    queued
}

fn run_handler(sig: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let Some(slot) = action(sig) else { return };
    let (handler, flags, _) = slot.load();
    if dies_of(sig, handler) {
        return die_of(sig, info, context, slot);
    }
    if !catches(handler) {
        // The program has just set SIG_IGN, and the kernel still called here.
        return;
    }
    if flags & libc::SA_RESETHAND != 0 {
        // As the kernel resets it: the handler only.
        slot.handler.store(0, Ordering::Release);
        let mut dfl = installed_now(sig);
        dfl.sa_sigaction = libc::SIG_DFL;
        dfl.sa_flags = (dfl.sa_flags & !libc::SA_SIGINFO) | (flags & (libc::SA_SIGINFO | libc::SA_RESETHAND));
        let _ = real::sigaction(sig, Some(&dfl), None);
        hold_default(sig, &dfl);
    }
    // With the kernel's three arguments whatever the flags: a handler declared with three
    // and installed without SA_SIGINFO reads them natively (x86-64 and aarch64 pass them in
    // registers either way), and one declared with one ignores them.
    let f: extern "C-unwind" fn(c_int, *mut siginfo_t, *mut c_void) = unsafe { std::mem::transmute(handler) };
    let _ = HANDLING.try_with(|h| h.set(h.get() + 1));
    f(sig, info, context);
    let _ = HANDLING.try_with(|h| h.set(h.get().saturating_sub(1)));
}

fn installed_now(sig: c_int) -> libc::sigaction {
    let mut k: libc::sigaction = unsafe { std::mem::zeroed() };
    let _ = real::sigaction(sig, None, Some(&mut k));
    k
}

/// The thread has left the shim (`INSIDE` is already clear): the signals deferred meanwhile
/// are unblocked, and the kernel delivers them on the way back from that call.
pub fn release_deferred() {
    let deferred = DEFERRED.with(|d| d.replace(0));
    if deferred != 0 {
        unblock(deferred);
    }
}

fn unblock(bits: u64) {
    let saved = Errno::last();
    let _ = mask(libc::SIG_UNBLOCK, &set_of(bits), None);
    saved.set();
}

/// Runs `launch` (an exec or a spawn, made inside the shim) with the signals deferred so
/// far delivered first, and handlers run at once meanwhile: a signal still blocked would be
/// carried, blocked, into the new image or the child.
pub fn launching<T>(launch: impl FnOnce() -> T) -> T {
    at_once(|| {
        release_deferred();
        launch()
    })
}

/// Runs `call` (an exec or a spawn the shim makes) with the program's handlers run at once
/// meanwhile: deferred, a signal would be carried, blocked, into the new image. Their hooks
/// then pass straight through, as before the shim deferred them.
pub fn at_once<T>(call: impl FnOnce() -> T) -> T {
    let was = AT_ONCE.with(|a| a.replace(true));
    let r = call();
    AT_ONCE.with(|a| a.set(was));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's flag for a restorer (glibc adds its own to every action it installs).
    const SA_RESTORER: c_int = 0x0400_0000;

    fn act(handler: usize, flags: c_int) -> libc::sigaction {
        let mut a: libc::sigaction = unsafe { std::mem::zeroed() };
        a.sa_sigaction = handler;
        a.sa_flags = flags;
        unsafe { libc::sigaddset(&mut a.sa_mask, libc::SIGUSR2) };
        a
    }

    #[test]
    fn the_kernel_gets_the_trampoline_with_siginfo_and_without_the_reset() {
        let k = installed(libc::SIGUSR1, &act(0x1000, libc::SA_RESETHAND | libc::SA_NODEFER | libc::SA_ONSTACK));
        assert_eq!(k.sa_sigaction, trampoline_address());
        assert_eq!(k.sa_flags, libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK);
        assert_eq!(unsafe { libc::sigismember(&k.sa_mask, libc::SIGUSR2) }, 1);
    }

    #[test]
    fn the_program_sees_its_handler_and_reset_with_what_the_kernel_kept() {
        let program = act(0x1000, libc::SA_RESETHAND | libc::SA_RESTART);
        let mut kernel = installed(libc::SIGUSR1, &program);
        kernel.sa_flags = (kernel.sa_flags & !libc::SA_RESTART) | SA_RESTORER;
        unsafe { libc::sigdelset(&mut kernel.sa_mask, libc::SIGUSR2) };
        let seen = as_program(&kernel, program.sa_sigaction, program.sa_flags);
        assert_eq!(seen.sa_sigaction, 0x1000);
        assert_eq!(seen.sa_flags, libc::SA_RESETHAND | SA_RESTORER);
        assert_eq!(unsafe { libc::sigismember(&seen.sa_mask, libc::SIGUSR2) }, 0);
    }

    #[test]
    fn only_functions_are_caught() {
        for d in [libc::SIG_DFL, libc::SIG_IGN, libc::SIG_ERR, 2] {
            assert!(!catches(d), "{d}");
        }
        assert!(catches(0x1000));
    }

    #[test]
    fn faults_aborts_and_raises_run_at_once_and_other_signals_wait() {
        assert!(at_once_always(libc::SIGSEGV, 1, false));
        assert!(at_once_always(libc::SIGBUS, 0x80, false));
        assert!(at_once_always(libc::SIGABRT, libc::SI_USER, false));
        assert!(at_once_always(libc::SIGUSR1, libc::SI_TKILL, true));
        assert!(!at_once_always(libc::SIGUSR1, libc::SI_TKILL, false));
        assert!(!at_once_always(libc::SIGSEGV, libc::SI_USER, true));
        assert!(!at_once_always(libc::SIGSEGV, -6, false));
        assert!(!at_once_always(libc::SIGALRM, 0x80, false));
    }

    #[test]
    fn kill_and_stop_and_out_of_range_are_left_to_the_kernel() {
        assert!(action(libc::SIGKILL).is_none());
        assert!(action(libc::SIGSTOP).is_none());
        assert!(action(0).is_none());
        assert!(action(65).is_none());
        assert!(action(64).is_some());
    }
}
