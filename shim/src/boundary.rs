//! The FFI boundary every hook passes through: a per-thread "inside the shim" flag so the
//! shim's own I/O (std, formatting, config loading) never re-enters its hooks, a fork lock
//! so `fork` never copies a table lock held by another thread, `catch_unwind` so no panic
//! crosses into C, and errno handling: set on failure, left as the caller had it on success.

use crate::real::{Errno, Res};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    // Const-initialised and without a destructor: safe to touch before main and while a
    // thread is being torn down (no lazy registration, no allocation).
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// This thread's fork left the fork lock alone (see `before_fork`).
    static FORK_UNLOCKED: Cell<bool> = const { Cell::new(false) };
    /// This thread holds the fork lock for writing, between the fork's handlers.
    static FORKING: Cell<bool> = const { Cell::new(false) };
    /// This thread's hold on the fork lock for reading, while a hook has it (see
    /// `ForkReadGuard`, `waiting`).
    static FORK_HOLD: Cell<Option<crate::forklock::ReadHold>> = const { Cell::new(None) };
    /// This thread is in `waiting`.
    static WAITING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is forking (holding the fork lock for writing): a hook that runs
/// meanwhile (a signal handler's) neither takes the fork lock nor queues behind.
pub fn forking() -> bool {
    FORKING.with(Cell::get)
}


/// Marks the current thread as inside the shim until dropped.
pub struct Inside(bool);

impl Inside {
    /// `None` when the thread is already inside: the caller must pass straight through.
    pub fn enter() -> Option<Inside> {
        INSIDE.with(|f| if f.replace(true) { None } else { Some(Inside(true)) })
    }
    /// Enters whether or not the thread is already inside (used by stdio cookie callbacks,
    /// which glibc calls from inside a hooked `fclose`).
    pub fn force() -> Inside {
        Inside(!INSIDE.with(|f| f.replace(true)))
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        if self.0 {
            INSIDE.with(|f| f.set(false));
            // The program's handlers of signals that came meanwhile run now, outside.
            crate::signals::release_deferred();
        }
    }
}

/// Whether this thread is inside the shim (async-signal-safe).
pub fn is_inside() -> bool {
    INSIDE.with(Cell::get)
}

/// Set by the program's first `pthread_cancel`.
static CANCELS: AtomicBool = AtomicBool::new(false);

/// The program cancels a thread (`pthread_cancel`), maybe its only one.
pub fn note_cancel() {
    CANCELS.store(true, Ordering::SeqCst);
}

/// Cancellation held off for the calling thread while the shim works for it, restored as it
/// was when dropped. A request acted upon inside the shim would unwind the thread through
/// its `catch_unwind` (glibc then aborts the process: "exception not rethrown"), or between
/// the lead's change and the follower's, with the shim's locks held. A request that comes
/// meanwhile stays pending: the thread acts on it at its next cancellation point, as if it
/// had come just after the call. Held (two atomic updates of the thread's state in glibc,
/// about 10 ns) once the process has a second thread of the program's, or has cancelled a
/// thread: before that, no other thread can make a request (the shim's never do), and this
/// one is in the shim, not cancelling.
pub struct NoCancel(Option<libc::c_int>);

impl NoCancel {
    pub fn hold() -> NoCancel {
        NoCancel((CANCELS.load(Ordering::Relaxed) || crate::real::program_may_have_threads()).then(|| {
            let mut was = crate::real::PTHREAD_CANCEL_ENABLE;
            unsafe { crate::real::pthread_setcancelstate(crate::real::PTHREAD_CANCEL_DISABLE, &mut was) };
            was
        }))
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        if let Some(was) = self.0 {
            unsafe { crate::real::pthread_setcancelstate(was, std::ptr::null_mut()) };
        }
    }
}

/// Around a hook run for `syscall(2)`: glibc's `syscall` is no cancellation point, so the
/// hook's own (a routed `SYS_write`) must not act on a pending request. Held only once the
/// program has called `pthread_cancel`: before, no request can be pending.
pub fn not_a_cancellation_point() -> Option<NoCancel> {
    CANCELS.load(Ordering::Relaxed).then(NoCancel::hold)
}

/// At the start of a hook whose libc call is a cancellation point, before the shim does
/// anything: a pending request is acted upon there, as glibc's call would before making
/// the system call. Called from the exported function itself, outside every frame of the
/// shim that has something to undo. Inside the shim already (a stream's buffer written
/// out by a hooked `fclose`), the outer hook holds cancellation off: nothing to do.
#[inline]
pub fn cancellation_point() {
    if CANCELS.load(Ordering::Relaxed) && !is_inside() {
        unsafe { crate::real::raw::pthread_testcancel() };
    }
}

/// What an exported function returns for "failed, see errno".
pub trait FfiReturn: Copy + PartialEq {
    const FAILED: Self;
    /// A raw libc result as `Res`, reading errno on failure.
    fn into_res(self) -> Res<Self> {
        if self == Self::FAILED { Err(Errno::last()) } else { Ok(self) }
    }
}
impl FfiReturn for libc::c_int {
    const FAILED: Self = -1;
}
impl FfiReturn for libc::ssize_t {
    const FAILED: Self = -1;
}
impl FfiReturn for libc::c_long {
    const FAILED: Self = -1;
}
impl<T> FfiReturn for *mut T {
    const FAILED: Self = std::ptr::null_mut();
}

/// The fork handlers, once the set is active.
pub fn install_fork_handlers() {
    unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_parent), Some(after_fork_child)) };
}

/// A fork from a signal handler that interrupted the shim on this thread (a hook, or the
/// exit-time settling): the thread may hold the fork lock for reading (every hold is taken
/// inside), the queue's lock or the intent table's, so taking them would wait on itself
/// for ever. That fork goes ahead
/// without them; the `after_fork_child` parts start the shim's helpers afresh and leave
/// what the interrupted code holds to it (it goes on in the child). Another thread's hook
/// may be copied mid-change, as with any fork from a signal handler in a threaded program.
///
/// Any other fork holds the fork lock for writing, and the queue's lock, from here until
/// the fork is done (`FORKING`). glibc runs the fork handlers with signals open: a signal
/// handler's hook meanwhile runs mirrored as usual but without the fork lock (no other
/// thread is in a hook) and without queueing behind; one that forks leaves the lock alone
/// instead of waiting on itself. Inside the fork's own handlers it passes straight through.
pub(crate) extern "C" fn before_fork() {
    if INSIDE.with(|f| f.get()) || FORKING.with(|f| f.get()) {
        FORK_UNLOCKED.with(|f| f.set(true));
        return;
    }
    let inside = Inside::force();
    crate::forklock::write();
    // Counted before such a thread gave its hold back, and uncounted only after it took a
    // new one, which the fork's hold excludes until the fork is done.
    FORKED_WHILE_WAITING.store(WAITING_WITHOUT_FORK_LOCK.load(Ordering::SeqCst) > 0, Ordering::SeqCst);
    let _no_cancel = NoCancel::hold();
    // Draining may write the queue out and report from this thread.
    let saved = Errno::last();
    crate::behind::before_fork();
    saved.set();
    FORKING.with(|f| f.set(true));
    drop(inside);
}
pub(crate) extern "C" fn after_fork_parent() {
    if FORK_UNLOCKED.with(|f| f.replace(false)) {
        crate::fdtable::mark_all_shared();
        return;
    }
    let _inside = Inside::force();
    FORKING.with(|f| f.set(false));
    crate::behind::after_fork_parent();
    crate::fdtable::mark_all_shared();
    crate::forklock::unwrite();
}
pub(crate) extern "C" fn after_fork_child() {
    let unlocked = FORK_UNLOCKED.with(|f| f.replace(false));
    let inside = (!unlocked).then(Inside::force);
    FORKING.with(|f| f.set(false));
    crate::real::forked_child_threads();
    crate::sud::arm();
    crate::behind::after_fork_child();
    crate::beside::after_fork_child();
    crate::mem::set_pid();
    crate::stripes::after_fork_child();
    crate::names::after_fork_child();
    crate::fdtable::mark_all_shared();
    crate::members::claim_slot();
    crate::members::forget_inherited_intents();
    crate::fdtable::forget_inherited_intents();
    if !unlocked && FORKED_WHILE_WAITING.swap(false, Ordering::SeqCst) {
        crate::adopt::adopt_untracked_fds();
    }
    if unlocked {
        crate::fdtable::forget_moves();
    }
    // The other threads that waited are not the child's; this one, forking from a signal
    // handler that interrupted its wait, goes on waiting in the child.
    WAITING_WITHOUT_FORK_LOCK.store(WAITING.with(Cell::get) as u32, Ordering::SeqCst);
    crate::forklock::child();
    drop(inside);
}

/// At the process's end (`exit`'s destructors, `_exit`): the hooks other threads are in
/// are let finish, and none starts after them (they wait at their entry until the kernel
/// ends the process), so no thread is ended between the lead's and the follower's part of
/// a change. Before, `exit` while other threads wrote, renamed or created files left the
/// members different and `recover` due, as after a crash (helper-49: 3 runs of 3). A hook
/// that does not finish within `patience` (one waiting on a member that does not answer)
/// is left to `recover` as before. This thread's own hooks from here on take no hold, as a
/// forking thread's. Not from a signal handler that interrupted a hook of this thread (it
/// holds the lock), nor from a child of `clone` with CLONE_VM (the lock is its parent's).
/// Async-signal-safe.
pub fn quiesce_for_exit(patience: std::time::Duration) {
    if INSIDE.with(Cell::get) || FORKING.with(Cell::get) || !crate::mem::own_memory() {
        return;
    }
    crate::forklock::write_within(patience);
    FORKING.with(|f| f.set(true));
}

/// Runs `change` (a call that changes what the kernel gives the entries this process
/// creates: its umask, its ids) while no hook of this process is in flight, holding the
/// fork lock for writing as a fork does: a create made on the lead and then on the
/// follower finds the same umask and ids for both. Not from inside the shim (a signal
/// handler that interrupted a hook of this thread, which holds the lock), nor from a
/// thread that is forking or has quiesced for exit.
pub fn with_no_hook_in_flight<T>(change: impl FnOnce() -> T) -> T {
    if !crate::set::is_active() || INSIDE.with(Cell::get) || FORKING.with(Cell::get) || !crate::mem::own_memory() {
        return change();
    }
    let inside = Inside::force();
    crate::forklock::write();
    let r = change();
    let e = Errno::last();
    crate::forklock::unwrite();
    drop(inside);
    e.set();
    r
}

/// `_Fork` (glibc 2.34) runs no atfork handler, so the shim runs its own around it (which
/// leave the fork lock alone when this thread holds it: see `before_fork`).
pub fn fork_without_atfork(fork: impl FnOnce() -> libc::pid_t) -> libc::pid_t {
    if !crate::set::is_active() {
        return fork();
    }
    before_fork();
    let pid = fork();
    if pid == 0 {
        after_fork_child();
    } else {
        after_fork_parent();
    }
    pid
}

/// A hook's hold on the fork lock (taken inside: see `before_fork`); none on the thread
/// that is forking, which holds it for writing. The hold itself is the thread's
/// (`FORK_HOLD`): `waiting` gives it back and takes a new one.
struct ForkReadGuard(bool);
impl ForkReadGuard {
    fn take() -> ForkReadGuard {
        let taken = !forking();
        if taken {
            FORK_HOLD.with(|h| h.set(Some(crate::forklock::read())));
        }
        ForkReadGuard(taken)
    }
}
impl Drop for ForkReadGuard {
    fn drop(&mut self) {
        // In a fork child made from a signal handler inside this hook, a hold on the
        // parent's lock gives nothing back to the child's.
        if let Some(hold) = self.0.then(|| FORK_HOLD.with(Cell::take)).flatten() {
            crate::forklock::unread(hold);
        }
    }
}

/// Threads in `waiting`: a fork made meanwhile may copy an fd such a
/// wait has just made and not yet linked (see `before_fork`).
static WAITING_WITHOUT_FORK_LOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// The fork in progress was made while a thread waited without the fork lock.
static FORKED_WHILE_WAITING: AtomicBool = AtomicBool::new(false);

/// Runs `wait`, a system call that may wait for another process as long as that likes (a
/// read-only open of what may be a FIFO), as a wait outside the hook's operation: with this
/// thread's hold on the fork lock given back (a new one taken after), and not in flight
/// (`members::waiting`), so that a fork in another thread and a shadowctl member change go
/// on meanwhile. Before, both waited for the open, the fork for ever when the FIFO's writer
/// was to be its child. Only for a hook that holds nothing else a fork child must not
/// inherit held. An fd the wait makes just as another thread forks is copied into the child
/// before this thread links it: that child adopts it (`after_fork_child`).
pub fn waiting<T>(wait: impl FnOnce() -> T) -> T {
    let Some(hold) = FORK_HOLD.with(Cell::take) else { return wait() };
    WAITING.with(|w| w.set(true));
    WAITING_WITHOUT_FORK_LOCK.fetch_add(1, Ordering::SeqCst);
    crate::forklock::unread(hold);
    let r = crate::members::waiting(wait);
    let e = Errno::last();
    FORK_HOLD.with(|h| h.set(Some(crate::forklock::read())));
    WAITING_WITHOUT_FORK_LOCK.fetch_sub(1, Ordering::SeqCst);
    WAITING.with(|w| w.set(false));
    e.set();
    r
}

/// What a fresh entry into the shim holds until it leaves: the fork lock for reading,
/// cancellation off, and its slot's count of operations in flight. Fields drop in their
/// order: the operation ends first, the fork lock is let go last.
struct Entered {
    _in_flight: crate::members::InFlight,
    _no_cancel: NoCancel,
    _fork: ForkReadGuard,
}

impl Entered {
    fn now() -> Entered {
        let fork = ForkReadGuard::take();
        let no_cancel = NoCancel::hold();
        Entered { _in_flight: crate::members::enter(), _no_cancel: no_cancel, _fork: fork }
    }
}

/// Runs a hook body at the FFI boundary. `passthrough` is the plain libc call, used when the
/// thread is already inside the shim or no shadow set is active. The follower's queued
/// writes (write-behind) are written out first: whatever the hook does then, the follower
/// sees it after them.
#[inline]
pub fn hook<T: FfiReturn>(body: impl FnOnce() -> Res<T>, passthrough: impl FnOnce() -> T) -> T {
    run(true, body, passthrough)
}

/// `hook` for a body that may hand the call back (`Err(o)`), to be made by `outside(o)`
/// once the thread has left the shim: a call on a path the shim has nothing to do with,
/// which may block for ever (a FIFO, a full socket backlog), while the program's signal
/// handlers must run (see signals.rs) and a fork must not wait for it.
pub fn hook_or_outside<T: FfiReturn, O>(body: impl FnOnce() -> Res<Result<T, O>>, outside: impl FnOnce(O) -> T, passthrough: impl FnOnce() -> T) -> T {
    let mut handed = None;
    let r = run(
        true,
        || {
            body().map(|v| {
                v.unwrap_or_else(|o| {
                    handed = Some(o);
                    T::FAILED
                })
            })
        },
        passthrough,
    );
    match handed {
        Some(o) => outside(o),
        None => r,
    }
}

/// A hooked call passed straight to libc (a signal handler inside the shim, a set not
/// active): whatever file position it moves is no longer known to its OCB.
#[inline]
fn unseen<T>(passthrough: impl FnOnce() -> T) -> T {
    crate::ocb::positions_unknown();
    passthrough()
}

/// `hook` for calls that need not wait for the write-behind queue: the data writes, which
/// may add to it, and lseek.
#[inline]
pub fn hook_write<T: FfiReturn>(body: impl FnOnce() -> Res<T>, passthrough: impl FnOnce() -> T) -> T {
    run(false, body, passthrough)
}

#[inline]
fn run<T: FfiReturn>(drain: bool, body: impl FnOnce() -> Res<T>, passthrough: impl FnOnce() -> T) -> T {
    if !crate::set::is_active() {
        return unseen(passthrough);
    }
    let Some(_inside) = Inside::enter() else { return unseen(passthrough) };
    let saved = Errno::last();
    let _entered = Entered::now();
    if drain {
        crate::behind::drain();
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => {
            saved.set();
            v
        }
        Ok(Err(e)) => {
            e.set();
            T::FAILED
        }
        Err(_) => {
            // A bug in the shim. Never re-run the real call (it may already have written);
            // report an I/O error so the program sees a failure rather than a silent loss.
            crate::report::shim_bug();
            Errno(libc::EIO).set();
            T::FAILED
        }
    }
}

/// Like `hook_write`, for code that runs with no passthrough alternative (stdio cookies:
/// their writes may be queued; a cookie's close drains, as every close does). errno is the
/// program's again on success, as after a hook.
pub fn inside<T>(body: impl FnOnce() -> Res<T>) -> Res<T> {
    let saved = Errno::last();
    let inside = Inside::force();
    // Only a fresh entry takes the fork lock: the rwlock is not recursive.
    let _entered = inside.0.then(Entered::now);
    let r = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        crate::report::shim_bug();
        Err(Errno(libc::EIO))
    });
    if r.is_ok() {
        saved.set();
    }
    r
}

/// Runs `body` (a look at a table of the shim's own, made outside any hook: the wide
/// stdio calls) holding the fork lock for reading as a hook does, taken on a fresh entry
/// only (the lock is not recursive): a fork never copies that table's mutex held.
pub fn under_fork_lock<T>(body: impl FnOnce() -> T) -> T {
    let inside = Inside::force();
    let _fork = inside.0.then(ForkReadGuard::take);
    body()
}

/// Writes out this process's queued follower writes (write-behind) before a call made
/// outside the shim that other processes, or the disk, must see after them: a lock wait,
/// `sync`.
pub fn drain_queue() {
    let _ = prepare(|| None::<()>);
}

/// Runs a short piece of shim logic at the boundary and returns its result, so that the
/// caller can then call libc *outside* it: for calls that run user callbacks (nftw, glob),
/// which must see the hooks and may fork.
pub fn prepare<T>(body: impl FnOnce() -> Option<T>) -> Option<T> {
    if !crate::set::is_active() {
        return None;
    }
    let _inside = Inside::enter()?;
    let saved = Errno::last();
    let _entered = Entered::now();
    crate::behind::drain();
    let r = catch_unwind(AssertUnwindSafe(body)).unwrap_or(None);
    saved.set();
    r
}
