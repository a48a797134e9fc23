//! The follower's half of an operation that waits on a device or the network — a flush
//! (fsync, fdatasync, sync_file_range), a write on an O_SYNC/O_DSYNC/O_DIRECT fd or with
//! RWF_SYNC/RWF_DSYNC, a large write — made on a shim thread while the calling thread
//! makes the lead's, as md and DRBD submit to every member at once: it costs the slower
//! member's time, not the two added up, which is what a member on another disk or across a
//! network pays for every commit. The program still gets the lead's result only once both
//! have answered, under the file's order lock, and the follower's error is handled as
//! before.
//!
//! One thread per process takes one job at a time (a job that finds it busy is made by its
//! caller, after the lead's, as before: several threads' jobs are never queued behind one
//! another); a job lives on its caller's stack, which sleeps on the job's
//! `done` word (a futex). A pthread mutex and a futex word (`WORK`) hand jobs over to the
//! thread: the child of a fork starts from a fresh mutex. A job's caller holds the fork lock for reading
//! until its job is done, so a fork finds a job in flight only when it comes from a signal
//! handler that interrupted the caller: the child runs that job itself.
//!
//! A thread is not free for a single-threaded program: from its start glibc wraps each
//! cancellable call and, while it runs, the kernel takes a file reference on every fd call
//! (about 40 + 40 ns per syscall here, on every fd, shadowed or not). So the thread starts
//! only for a process that already has threads, or that makes such operations often (one
//! within OFTEN_MS of the last); and it ends after IDLE_MS without a job, which gives the
//! kernel's share back. A process that flushes now and then flushes its members one after
//! the other, as before.

use crate::boundary::FfiReturn;
use crate::real::{raw, Errno, Res};
use libc::c_int;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

#[derive(Clone, Copy)]
pub enum Flush {
    /// fsync
    All,
    /// fdatasync
    Data,
    /// sync_file_range(offset, bytes, flags)
    Range(i64, i64, libc::c_uint),
    /// syncfs: the file system holding the file
    FileSystem,
}

impl Flush {
    /// The flush on `fd`, as libc answers it.
    pub fn call(self, fd: c_int) -> c_int {
        unsafe {
            match self {
                Flush::All => raw::fsync(fd),
                Flush::Data => raw::fdatasync(fd),
                Flush::Range(off, n, flags) => raw::sync_file_range(fd, off, n, flags),
                Flush::FileSystem => raw::syncfs(fd),
            }
        }
    }

    fn run(self, fd: c_int) -> Res<()> {
        self.call(fd).into_res().map(drop)
    }
}

/// The follower's part, as the caller gave it: `run` borrows from the caller's stack, which
/// outlives the job (the caller waits for `done`), so its lifetime is erased.
type Work = dyn Fn() -> Res<()>;

struct Job {
    run: *const Work,
    errno: c_int,
    /// DONE once `errno` holds the follower's answer (NOT_RUN: see after_fork_child). Its
    /// caller sleeps on it as a futex, not on a condition variable: a fork from a signal
    /// handler that interrupted the wait resets the shim's condition variables in the
    /// child, where a sleeper in one would sleep for ever; a futex sleeper looks at the
    /// word again.
    done: AtomicU32,
}

struct Jobs {
    lock: UnsafeCell<libc::pthread_mutex_t>,
    /// The job in hand (queued or running), or null.
    head: UnsafeCell<*mut Job>,
}
unsafe impl Sync for Jobs {}

static JOBS: Jobs = Jobs {
    lock: UnsafeCell::new(libc::PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP),
    head: UnsafeCell::new(std::ptr::null_mut()),
};

/// Changed, and its sleeper woken, when a job is put in the slot: the thread's wait for
/// work. Not a condition variable, whose signal costs the woken thread one more futex call
/// per job (glibc's waiter groups), nor one the child of a fork would have to make afresh.
static WORK: AtomicU32 = AtomicU32::new(0);

/// Two such operations this close together make a process one that makes them often.
const OFTEN_MS: u64 = 100;
/// The thread ends after this long without a job.
const IDLE_MS: u64 = 1000;
/// When the last such operation began (coarse ms).
static LAST_JOB: AtomicU64 = AtomicU64::new(0);

const NOT_STARTED: u8 = 0;
const STARTING: u8 = 1;
const RUNNING: u8 = 2;
const UNAVAILABLE: u8 = 3;
static THREAD: AtomicU8 = AtomicU8::new(NOT_STARTED);

struct Locked;

impl Locked {
    fn take() -> Locked {
        unsafe { libc::pthread_mutex_lock(JOBS.lock.get()) };
        Locked
    }
    fn head(&mut self) -> &mut *mut Job {
        unsafe { &mut *JOBS.head.get() }
    }
    /// Waits for work (a change of `WORK`, read under the lock, so that a job put in the
    /// slot after that read is never missed) for at most `ms`.
    fn wait_for_work(&self, ms: u64) {
        let seen = WORK.load(Ordering::SeqCst);
        unsafe { libc::pthread_mutex_unlock(JOBS.lock.get()) };
        let ts = libc::timespec { tv_sec: (ms / 1000) as libc::time_t, tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long };
        crate::real::futex_wait(&WORK, seen, Some(&ts));
        unsafe { libc::pthread_mutex_lock(JOBS.lock.get()) };
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        unsafe { libc::pthread_mutex_unlock(JOBS.lock.get()) };
    }
}

/// Runs `lead` here while the follower's fd `fd` is flushed on the shim's thread; returns
/// both results. Without that thread, the follower is flushed after `lead`.
pub fn flush<T>(fd: c_int, flush: Flush, lead: impl FnOnce() -> T) -> (T, Res<()>) {
    let (value, followed) = if ready() { beside(&|| flush.run(fd), lead) } else { (lead(), None) };
    (value, followed.unwrap_or_else(|| flush.run(fd)))
}

/// Runs `lead` here while `follower` runs on the shim's thread (which `ready` said is
/// there); returns both results. None: `follower` was not run, and the caller makes its
/// part itself, knowing the lead's result (as without the thread): the thread was busy
/// with another caller's job or had just ended, or this is the child of a fork made from a
/// signal handler while the parent's thread had the job.
pub fn beside<T>(follower: &dyn Fn() -> Res<()>, lead: impl FnOnce() -> T) -> (T, Option<Res<()>>) {
    // SAFETY (the lifetime's erasure): the job is waited for before this returns, even if
    // `lead` unwinds (`Pending`'s drop).
    let run = unsafe { std::mem::transmute::<*const (dyn Fn() -> Res<()> + '_), *const Work>(follower) };
    let mut job = Job { run, errno: 0, done: AtomicU32::new(0) };
    // One pointer for the slot and the wait: the thread writes to the job through it.
    let job: *mut Job = &mut job;
    {
        let mut q = Locked::take();
        // Looked at again under the lock, under which an idle thread decides to end.
        if !q.head().is_null() || THREAD.load(Ordering::Acquire) != RUNNING {
            drop(q);
            return (lead(), None);
        }
        // Known as this thread's before it is in the slot: see after_fork_child.
        MINE.with(|m| m.set(job));
        *q.head() = job;
    }
    // With the lock let go: woken under it, the thread woke only to sleep again on the lock
    // until this thread let go (two more futex calls and a context switch per job). It
    // cannot end meanwhile: the slot holds a job.
    WORK.fetch_add(1, Ordering::SeqCst);
    crate::real::futex_wake_all(&WORK);
    // Waits for the job even if `lead` unwinds.
    let pending = Pending(job);
    let value = lead();
    (value, pending.wait())
}

struct Pending(*mut Job);

thread_local! {
    /// The job this thread waits for, if any (const, no destructor: read in a fork child).
    static MINE: std::cell::Cell<*mut Job> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// `Job::done`: the follower's answer is in `errno`.
const DONE: u32 = 1;
/// `Job::done`, in a fork child: the parent's thread had the job; the caller makes it.
const NOT_RUN: u32 = 2;
/// `Job::done`: not yet, and the caller sleeps on it (the thread wakes it only then: a
/// follower that answers before the lead costs no wake-up).
const WAITED_FOR: u32 = 3;

impl Pending {
    fn wait(self) -> Option<Res<()>> {
        let answer = self.finish();
        std::mem::forget(self);
        answer
    }
    fn finish(&self) -> Option<Res<()>> {
        // SAFETY: the job is the caller's, alive until this returns; the thread writes
        // `errno` before it sets `done`, and neither after.
        let done = unsafe { &(*self.0).done };
        let mut state = done.load(Ordering::Acquire);
        while state == 0 || state == WAITED_FOR {
            if state == 0 && done.compare_exchange(0, WAITED_FOR, Ordering::AcqRel, Ordering::Acquire).is_err() {
                state = done.load(Ordering::Acquire);
                continue;
            }
            crate::real::futex_wait(done, WAITED_FOR, None);
            state = done.load(Ordering::Acquire);
        }
        MINE.with(|m| m.set(std::ptr::null_mut()));
        let errno = unsafe { (*self.0).errno };
        (state == DONE).then_some(if errno == 0 { Ok(()) } else { Err(Errno(errno)) })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Whether the shim's thread is there to take a job (started here if the process has
/// threads of its own or makes such operations often). Called once per operation that
/// could use it: each call counts towards "often".
pub fn ready() -> bool {
    let now = crate::members::coarse_ms();
    let often = now.saturating_sub(LAST_JOB.swap(now, Ordering::Relaxed)) < OFTEN_MS;
    match THREAD.load(Ordering::Acquire) {
        RUNNING => true,
        UNAVAILABLE => false,
        // Another thread is starting it: this operation does not wait for that.
        STARTING => false,
        _ => {
            if !often && !crate::real::program_threaded() {
                return false;
            }
            if THREAD.compare_exchange(NOT_STARTED, STARTING, Ordering::AcqRel, Ordering::Acquire).is_err() {
                return false;
            }
            let up = crate::real::spawn_quiet_thread(c"libshadow-sync", worker);
            THREAD.store(if up { RUNNING } else { UNAVAILABLE }, Ordering::Release);
            up
        }
    }
}

extern "C" fn worker(_: *mut libc::c_void) -> *mut libc::c_void {
    // Everything this thread calls reaches libc directly.
    std::mem::forget(crate::boundary::Inside::force());
    loop {
        // The job stays in the slot while it runs: the slot is busy until it is done.
        let job = {
            let mut q = Locked::take();
            let mut until = crate::members::coarse_ms() + IDLE_MS;
            while q.head().is_null() {
                let now = crate::members::coarse_ms();
                if now < until {
                    q.wait_for_work(until - now);
                    continue;
                }
                // Idle: ends, unless it is still being started (then it waits on).
                if THREAD.compare_exchange(RUNNING, NOT_STARTED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    return std::ptr::null_mut();
                }
                until = now + IDLE_MS;
            }
            *q.head()
        };
        // SAFETY: the job's caller waits for `done`, so the job outlives this.
        let errno = unsafe { (*(*job).run)() }.err().map_or(0, |e| e.0);
        // The slot is free before the job is done: its caller may hand over another at once.
        *Locked::take().head() = std::ptr::null_mut();
        unsafe {
            (*job).errno = errno;
            let done = std::ptr::addr_of!((*job).done);
            // From here the job may be gone (its caller saw `done` and returned); a wake-up
            // that finds none is harmless.
            if (*done).swap(DONE, Ordering::AcqRel) == WAITED_FOR {
                crate::real::futex_wake_all(done);
            }
        }
    }
}

/// In a fork child: the parent's thread is not there; fresh primitives, no jobs.
/// Allocation-free and async-signal-safe.
pub fn after_fork_child() {
    unsafe {
        std::ptr::write(JOBS.lock.get(), libc::PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP);
        *JOBS.head.get() = std::ptr::null_mut();
        // A fork from a signal handler that interrupted this thread's job: the job (on
        // this thread's stack, whether still in the slot or already taken from it) has
        // nobody here to run it, and its caller will wait for it: the caller is told to
        // make it itself, after the lead's part, as both processes go on to finish the
        // interrupted call (a write's follower part then takes what the child's lead took,
        // as before the thread). Another thread's job is no concern of the child's (that
        // thread is not in it).
        let job = MINE.with(|m| m.get());
        if !job.is_null() && matches!((*job).done.load(Ordering::Acquire), 0 | WAITED_FOR) {
            (*job).done.store(NOT_RUN, Ordering::Release);
        }
    }
    THREAD.store(NOT_STARTED, Ordering::Release);
    // The child's own operations say whether it makes them often.
    LAST_JOB.store(0, Ordering::Relaxed);
}
