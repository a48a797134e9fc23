//! Write-behind (config `write_behind`, off by default): md's write-behind and DRBD's
//! protocol A at file level. A data write returns once the lead holds it; the follower's
//! copy of the bytes waits in a bounded per-process queue that one shim thread writes out
//! in order. Everything else that reaches the follower waits for the queue to empty first
//! (`drain`): every hook but the data writes, every follower operation made under a file's
//! order lock, a member change, fork, exec and exit. The file's write intent is begun before
//! the lead's write and ended at the last close, after the drain: a process killed with a
//! full queue leaves `recover` due for exactly the directories of those files.
//!
//! Other processes' writes to the same files are ordered with the queued ones: a process
//! with writes of a file queued says so in the registry (`file_queued`, by the file's
//! stripe), and another that changes the file's bytes waits, holding the file's stripe,
//! until the queue has written them (`others_written`).
//!
//! The queue is a pthread mutex, rather than std's, and a futex word for its waits (see
//! CHANGED): `fork` must hold the mutex across the fork and the child must start from
//! fresh ones (see `before_fork`). The bytes wait in one ring mapped at start-up, not in
//! a heap allocation each: a write then costs a copy, no malloc, and the heap is not left
//! strewn with freed buffers that every fork child's first mallocs would walk (and copy,
//! page by page).

use crate::ocb::{Ocb, Payload};
use crate::real::Errno;
use crate::stripes::WAITING;
use libc::c_int;
use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The follower's part of one data write, owned until the follower has it.
struct Item {
    ocb: Arc<Ocb>,
    sfd: c_int,
    at: i64,
    /// Its bytes: `len` at `start` in the ring.
    start: usize,
    len: usize,
    what: &'static str,
    /// Monotonic milliseconds when it was queued.
    queued_at: u64,
    /// The file's stripe (see ocb::FileOrder).
    stripe: u16,
}

struct Queue {
    lock: UnsafeCell<libc::pthread_mutex_t>,
    items: UnsafeCell<VecDeque<Item>>,
    bytes: UnsafeCell<usize>,
    /// Where the ring's next bytes go; back to 0 whenever the queue empties, so that only as
    /// much of the ring as the queue ever held at once is touched.
    tail: UnsafeCell<usize>,
    /// Threads waiting for the queue to empty or to make room: the queue's thread then
    /// writes at once instead of gathering.
    waiters: UnsafeCell<usize>,
    /// The queue's thread waits for work (no timeout).
    idle: UnsafeCell<bool>,
    /// The queue's thread waits for more to gather (until its oldest write is due).
    gathering: UnsafeCell<bool>,
    /// The queue's thread writes batch after batch without gathering: GATHER_BYTES had
    /// gathered, and LOW_WATER have not yet been written out.
    flowing: UnsafeCell<bool>,
    /// A thread is writing the front of the queue out (the queue's own, or one that waits
    /// for the queue: it writes rather than hand over to the queue's thread and wait).
    busy: UnsafeCell<bool>,
    /// Items queued per stripe of files: while one is, the stripe's `file_queued` word
    /// holds this process's id.
    per_stripe: UnsafeCell<[u32; FILE_STRIPES]>,
}
unsafe impl Sync for Queue {}

const FILE_STRIPES: usize = shadow_core::state::registry::FILE_STRIPES;

static QUEUE: Queue = Queue {
    lock: UnsafeCell::new(libc::PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP),
    items: UnsafeCell::new(VecDeque::new()),
    bytes: UnsafeCell::new(0),
    tail: UnsafeCell::new(0),
    waiters: UnsafeCell::new(0),
    idle: UnsafeCell::new(false),
    gathering: UnsafeCell::new(false),
    flowing: UnsafeCell::new(false),
    busy: UnsafeCell::new(false),
    per_stripe: UnsafeCell::new([0; FILE_STRIPES]),
};

/// The longest a queued write waits for others to be written with it: the follower lags
/// the lead by at most this (plus its own write time) while nothing asks for the queue.
const GATHER_MS: u64 = 10;
/// Queued bytes from which the queue's thread writes without waiting to gather more...
const GATHER_BYTES: usize = 256 << 10;
/// ... and down to which it then writes on, batch after batch: a writer that keeps the
/// queue full wakes it once per GATHER_BYTES - LOW_WATER of writes, not at every batch (a
/// wake-up cost the writer 4 % of its time at one per batch).
const LOW_WATER: usize = GATHER_BYTES / 2;
/// The queue's thread ends after this long without work: a thread costs every syscall of
/// the process while it runs (see beside.rs); a steady writer keeps it, a program that has
/// stopped writing gets its speed back soon.
const IDLE_MS: u64 = 100;
/// A write takes the queue time of the write queued before it (older: due no later) except
/// every STAMP_EVERY-th: a clock read per write costs more than the queueing itself.
const STAMP_EVERY: u64 = 64;

/// Bytes the queue may hold (0: write-behind is off): the ring's size.
static CAPACITY: AtomicUsize = AtomicUsize::new(0);
/// The ring (mapped at start-up; a fork child writes its own copy of it).
static RING: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
/// Items ever queued and ever done: the queue is empty when they are equal (read without
/// the lock, so that `drain` costs two loads when there is nothing to wait for).
static PUSHED: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static WORKER: AtomicBool = AtomicBool::new(false);
/// This process's id (what its `file_queued` words hold), learnt at start-up and in a fork
/// child.
static PID: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

struct Locked;

impl Locked {
    fn take() -> Locked {
        unsafe { libc::pthread_mutex_lock(QUEUE.lock.get()) };
        Locked
    }
    fn wait(&self) {
        self.sleep(None);
    }
    /// Waits until woken or until monotonic `until_ms`.
    fn wait_until(&self, until_ms: u64) {
        let ms = until_ms.saturating_sub(now_ms());
        self.sleep(Some(&libc::timespec { tv_sec: (ms / 1000) as libc::time_t, tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long }));
    }
    /// A condition variable's wait, made of the lock and the CHANGED futex word (read under
    /// the lock, so a wake after that read changes it and is never missed).
    fn sleep(&self, timeout: Option<&libc::timespec>) {
        let seen = CHANGED.load(Ordering::SeqCst);
        unsafe { libc::pthread_mutex_unlock(QUEUE.lock.get()) };
        crate::real::futex_wait(&CHANGED, seen, timeout);
        unsafe { libc::pthread_mutex_lock(QUEUE.lock.get()) };
    }
    /// Until `done`: writes the front of the queue out while no other thread does, and
    /// waits (as a waiter the queue's thread hurries for) while one does.
    fn wait_for(mut self, done: impl Fn(&mut Locked) -> bool) -> Locked {
        while !done(&mut self) {
            if *self.busy() {
                self.wait_as_waiter();
            } else {
                *self.busy() = true;
                self = write_front(self);
            }
        }
        self
    }
    fn wait_as_waiter(&mut self) {
        *self.waiters() += 1;
        self.wait();
        // Saturating: a fork child made from a signal handler during the wait counts from 0.
        *self.waiters() = self.waiters().saturating_sub(1);
    }
    fn items(&mut self) -> &mut VecDeque<Item> {
        unsafe { &mut *QUEUE.items.get() }
    }
    fn bytes(&mut self) -> &mut usize {
        unsafe { &mut *QUEUE.bytes.get() }
    }
    fn tail(&mut self) -> &mut usize {
        unsafe { &mut *QUEUE.tail.get() }
    }
    /// Where `len` more bytes fit in the ring in one piece: after the newest item, or at
    /// the ring's start when the oldest item begins far enough from it.
    fn room(&mut self, len: usize, cap: usize) -> Option<usize> {
        let Some(oldest) = self.items().front() else { return (len <= cap).then_some(0) };
        let (head, tail) = (oldest.start, *self.tail());
        if tail > head {
            if cap - tail >= len {
                Some(tail)
            } else {
                (head >= len).then_some(0)
            }
        } else {
            // Wrapped (equal: full).
            (head - tail >= len).then_some(tail)
        }
    }
    fn waiters(&mut self) -> &mut usize {
        unsafe { &mut *QUEUE.waiters.get() }
    }
    fn idle(&mut self) -> &mut bool {
        unsafe { &mut *QUEUE.idle.get() }
    }
    fn gathering(&mut self) -> &mut bool {
        unsafe { &mut *QUEUE.gathering.get() }
    }
    fn flowing(&mut self) -> &mut bool {
        unsafe { &mut *QUEUE.flowing.get() }
    }
    fn busy(&mut self) -> &mut bool {
        unsafe { &mut *QUEUE.busy.get() }
    }
    /// One more (`queued`) or one less item of stripe `s` in the queue; the registry told
    /// when the first comes and the last goes.
    fn count_stripe(&mut self, s: usize, queued: bool) {
        let n = unsafe { &mut (*QUEUE.per_stripe.get())[s] };
        let word = crate::members::shared().registry.file_queued(s);
        let me = PID.load(Ordering::Relaxed);
        if queued {
            // Also when a waiter took the word for a dead process's while this one's queue
            // held writes (see `others_written`).
            if *n == 0 || word.load(Ordering::Relaxed) & !WAITING != me {
                word.store(me, Ordering::SeqCst);
            }
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            // A wake only for a word a waiter marked: one per file closed after a queued
            // write was a system call each (10,000 small files: 10,000 wakes for nobody).
            if *n == 0 && word.compare_exchange(me, 0, Ordering::SeqCst, Ordering::Relaxed).is_err() && word.compare_exchange(me | WAITING, 0, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                crate::real::futex_wake_shared(word, libc::c_int::MAX);
            }
        }
    }
    fn wake(&self) {
        CHANGED.fetch_add(1, Ordering::SeqCst);
        crate::real::futex_wake_all(&CHANGED);
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        unsafe { libc::pthread_mutex_unlock(QUEUE.lock.get()) };
    }
}

/// Changed (and its sleepers woken) whenever the queue's thread is wanted (work while it
/// idles, a waiter) and when it finished work someone waits for: the queue's condition
/// variable, as a futex word. Not a pthread condition variable: a fork child made from a
/// signal handler that interrupted a wait must start from fresh waiting state, and a
/// sleeper inside a reset pthread condition variable would sleep for ever; a futex sleeper
/// wakes when the child changes the word, and looks again. Timed by the monotonic clock (a
/// wall clock set back would stretch the follower's lag).
static CHANGED: AtomicU32 = AtomicU32::new(0);
/// Bumped in a fork child: what a thread interrupted by the fork was waiting for or writing
/// (the parent's queue) is the parent's.
static FORK_GEN: AtomicU32 = AtomicU32::new(0);

fn now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Turns write-behind on with a queue of `bytes` (0: off), from the config at start-up. The
/// ring is mapped now, before any thread can write: untouched pages cost nothing, so the
/// ring's memory is what the queue holds at most. Without it write-behind stays off.
pub fn configure(bytes: u64) {
    if bytes == 0 {
        return;
    }
    let ring = unsafe { crate::real::raw::mmap(std::ptr::null_mut(), bytes as usize, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0) };
    if ring != libc::MAP_FAILED {
        PID.store(std::process::id(), Ordering::Relaxed);
        RING.store(ring.cast(), Ordering::Release);
        CAPACITY.store(bytes as usize, Ordering::Release);
    }
}

/// Whether a data write may be queued now: write-behind is on, and this is not the queue's
/// own thread (whose writes must never wait on itself) nor a thread that is forking (which
/// holds the queue's lock: see boundary::before_fork).
pub fn on() -> bool {
    CAPACITY.load(Ordering::Relaxed) != 0 && !IS_WORKER.with(Cell::get) && !crate::boundary::forking()
}

/// Queues the follower's part of a write (called under the file's order lock, so the
/// file's items are queued in the order its writes reached the lead), waiting while the
/// ring has no room for it. False when it cannot be queued (larger than the whole ring, or
/// no thread or ring to be had): the caller writes it now, as without write-behind.
pub fn push(ocb: &Arc<Ocb>, sfd: c_int, at: i64, bytes: &Payload, what: &'static str) -> bool {
    let cap = CAPACITY.load(Ordering::Relaxed);
    let len = bytes.len();
    if len == 0 {
        return true;
    }
    if len > cap {
        return false;
    }
    let ring = RING.load(Ordering::Acquire);
    let mut q = Locked::take().wait_for(|q| q.room(len, cap).is_some());
    // Under the lock under which an idle thread ends: one that ended is started again.
    if !start_worker() {
        return false;
    }
    let Some(start) = q.room(len, cap) else { return false };
    unsafe { bytes.copy_to(ring.add(start)) };
    *q.tail() = start + len;
    if PUSHED.load(Ordering::SeqCst) == DONE.load(Ordering::SeqCst) {
        // The queue is work in flight until it is empty: `shadowctl` waits for it.
        crate::members::queue_in_flight(true);
    }
    *q.bytes() += len;
    let pushed = PUSHED.load(Ordering::Relaxed);
    let queued_at = match q.items().back() {
        Some(last) if !pushed.is_multiple_of(STAMP_EVERY) => last.queued_at,
        _ => now_ms(),
    };
    q.items().push_back(Item { ocb: ocb.clone(), sfd, at, start, len, what, queued_at, stripe: ocb.stripe() as u16 });
    q.count_stripe(ocb.stripe(), true);
    PUSHED.fetch_add(1, Ordering::SeqCst);
    crate::members::publish_queued(*q.bytes() as u64);
    // A wake-up only once enough has gathered: an idle queue's thread looks every GATHER_MS
    // (see `gather`). Woken at the first write of each burst, it cost a small file's
    // create-write-close two context switches and three futex calls (its wake, the thread
    // finding the closer busy writing the front itself and waiting, the closer waking it).
    if (*q.idle() || *q.gathering()) && *q.bytes() >= GATHER_BYTES {
        *q.idle() = false;
        *q.gathering() = false;
        q.wake();
    }
    true
}

/// Waits until the follower holds every write queued so far, writing them itself unless
/// another thread is at it (a close right after a write pays one write, not a hand-over to
/// the queue's thread). Two atomic loads when the queue is empty; nothing on the queue's
/// own thread.
pub fn drain() {
    let target = PUSHED.load(Ordering::SeqCst);
    if DONE.load(Ordering::SeqCst) >= target || IS_WORKER.with(Cell::get) {
        return;
    }
    let gen = FORK_GEN.load(Ordering::SeqCst);
    drop(Locked::take().wait_for(|_| DONE.load(Ordering::SeqCst) >= target || FORK_GEN.load(Ordering::SeqCst) != gen));
}

/// Waits, holding file stripe `s` (so that no process queues more of it meanwhile), until
/// no other process has follower writes of the stripe's files queued: a change to a file's
/// bytes is made on the follower after every write that reached the lead before it.
pub fn others_written(s: usize) {
    let word = crate::members::shared().registry.file_queued(s);
    let me = PID.load(Ordering::Relaxed);
    let queued = |now: u32| now != 0 && now & !WAITING != me;
    if !queued(word.load(Ordering::SeqCst)) {
        return;
    }
    crate::members::waiting(|| loop {
        let now = word.load(Ordering::SeqCst);
        if !queued(now) {
            return;
        }
        // Marked, so that the holder's last item wakes this thread (see `count_stripe`).
        if now & WAITING == 0 && word.compare_exchange(now, now | WAITING, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            continue;
        }
        let now = now | WAITING;
        crate::real::futex_wait_shared(word, now, &LOOK_AGAIN);
        if word.load(Ordering::SeqCst) == now && !crate::stripes::process_alive(now & !WAITING) {
            // Gone with writes queued: they are recover's (their intents are open).
            let _ = word.compare_exchange(now, 0, Ordering::SeqCst, Ordering::Relaxed);
        }
    })
}

/// `others_written` for `_exit` (perhaps in a signal handler): no allocation, and false
/// once `patience` has passed with another process's writes of the stripe still queued.
pub fn others_written_now(s: usize, patience: std::time::Duration) -> bool {
    let word = crate::members::shared().registry.file_queued(s);
    let me = PID.load(Ordering::Relaxed);
    let until = std::time::Instant::now() + patience;
    loop {
        let now = word.load(Ordering::SeqCst);
        if now == 0 || now & !WAITING == me {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        unsafe { libc::nanosleep(&crate::stripes::POLL, std::ptr::null_mut()) };
    }
}

/// How long a waiter for another process's queue sleeps before it looks whether that
/// process is still alive.
const LOOK_AGAIN: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 10_000_000 };

/// Waits for the queue to empty, from `_exit` (maybe in a signal handler that interrupted
/// a thread holding the queue's lock): no lock, no allocation; gives up once the follower
/// has made no progress for 2 s. Returns whether the queue is empty.
pub fn drain_on_exit() -> bool {
    let mut last = DONE.load(Ordering::SeqCst);
    let mut idle_ms = 0;
    while PUSHED.load(Ordering::SeqCst) != DONE.load(Ordering::SeqCst) {
        if IS_WORKER.with(Cell::get) || idle_ms >= 2000 {
            return false;
        }
        // The queue's thread gathers for GATHER_MS at most before it writes.
        let pause = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        let now = DONE.load(Ordering::SeqCst);
        idle_ms = if now == last { idle_ms + 1 } else { 0 };
        last = now;
    }
    true
}

/// Before fork (the fork lock held for writing): empty, and held until the fork is done,
/// so that the child never copies a queue in the middle of a change.
pub fn before_fork() {
    drain();
    std::mem::forget(Locked::take());
}

pub fn after_fork_parent() {
    drop(Locked);
}

/// In the child: the parent's thread and items stay the parent's. Nothing is freed or
/// allocated here (the queue was empty, or was copied mid-change by a fork from a signal
/// handler: then its items are the parent's to write and are forgotten). An empty queue
/// keeps its buffer: growing a new one would be the child's first large malloc (see BATCH).
pub fn after_fork_child() {
    unsafe {
        std::ptr::write(QUEUE.lock.get(), libc::PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP);
        if !(*QUEUE.items.get()).is_empty() {
            std::mem::forget(std::mem::take(&mut *QUEUE.items.get()));
        }
        *QUEUE.bytes.get() = 0;
        *QUEUE.tail.get() = 0;
        *QUEUE.waiters.get() = 0;
        *QUEUE.idle.get() = false;
        *QUEUE.gathering.get() = false;
        *QUEUE.flowing.get() = false;
        *QUEUE.busy.get() = false;
        // The parent's words stay the parent's, until its own queue has written them.
        *QUEUE.per_stripe.get() = [0; FILE_STRIPES];
    }
    PID.store(std::process::id(), Ordering::Relaxed);
    FORK_GEN.fetch_add(1, Ordering::SeqCst);
    CHANGED.fetch_add(1, Ordering::SeqCst);
    PUSHED.store(0, Ordering::SeqCst);
    DONE.store(0, Ordering::SeqCst);
    WORKER.store(false, Ordering::SeqCst);
}

/// A shim fd moved (the program dup2'd onto its number): queued items follow it.
pub fn relocate(old: c_int, new: c_int) {
    if PUSHED.load(Ordering::SeqCst) == DONE.load(Ordering::SeqCst) {
        return;
    }
    let mut q = Locked::take();
    for item in q.items().iter_mut().filter(|i| i.sfd == old) {
        item.sfd = new;
    }
}

/// Starts the queue's thread unless it runs (called under the queue's lock); false if it
/// could not be started (then write-behind is off for this process; what another thread
/// queued meanwhile is written by whoever drains the queue next).
fn start_worker() -> bool {
    if WORKER.load(Ordering::Relaxed) || WORKER.swap(true, Ordering::SeqCst) {
        return true;
    }
    extern "C" fn start(_: *mut libc::c_void) -> *mut libc::c_void {
        if std::panic::catch_unwind(worker).is_err() {
            // Another is started at the next push; what is queued is written by whoever
            // drains the queue next.
            WORKER.store(false, Ordering::SeqCst);
            crate::report::shim_bug();
        }
        std::ptr::null_mut()
    }
    if !crate::real::spawn_quiet_thread(c"libshadow-wb", start) {
        // Off, and no thread: a pusher that saw write-behind on before this tries again
        // (and writes its bytes itself if that fails too) rather than queue them for nobody.
        CAPACITY.store(0, Ordering::SeqCst);
        WORKER.store(false, Ordering::SeqCst);
        return false;
    }
    true
}

/// Items written out in one go. Everything `write_front` needs for them lives on the
/// stack: the thread that writes may be the program's, and a malloc there is not free (a
/// fork child's first large malloc consolidates, and so copies, the parent's whole heap).
const BATCH: usize = 64;

fn worker() {
    IS_WORKER.with(|w| w.set(true));
    // Everything this thread calls reaches libc directly.
    std::mem::forget(crate::boundary::Inside::force());
    loop {
        let mut q = Locked::take();
        if !gather(&mut q) {
            return;
        }
        *q.busy() = true;
        drop(write_front(q));
    }
}

/// Writes the front of the queue out with the lock let go, as the busy thread (claimed by
/// the caller), and gives up `busy`. A failure is reported for each file it hit once the
/// items are off the queue, before they count as done.
fn write_front(mut q: Locked) -> Locked {
    // The items stay in the queue (and count against it) until the follower has their
    // bytes: only the busy thread takes items off the front, so these stay put.
    let ring = RING.load(Ordering::Acquire);
    let mut iovs = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH];
    let mut whom = [(0, 0); BATCH];
    let mut n = 0;
    let gen = FORK_GEN.load(Ordering::SeqCst);
    for item in q.items().iter().take(BATCH) {
        iovs[n] = libc::iovec { iov_base: unsafe { ring.add(item.start) }.cast(), iov_len: item.len };
        whom[n] = (item.sfd, item.at);
        n += 1;
    }
    drop(q);
    // Should anything below panic (the hook's boundary catches it), `busy` is given up on
    // the way out: left set, every later wait for the queue would wait forever.
    let mut unwinding = BusyOnUnwind { popped: 0 };
    let failed = write_batch(&iovs[..n], &whom[..n]);
    let mut done: [Option<Item>; BATCH] = [const { None }; BATCH];
    {
        let mut q = Locked::take();
        if FORK_GEN.load(Ordering::SeqCst) != gen {
            // A fork child made from a signal handler during the write: these items were
            // the parent's, and the child's queue starts empty.
            std::mem::forget(unwinding);
            return q;
        }
        for slot in &mut done[..n] {
            *slot = q.items().pop_front();
            if let Some(item) = slot {
                q.count_stripe(item.stripe.into(), false);
            }
        }
        *q.bytes() -= iovs[..n].iter().map(|v| v.iov_len).sum::<usize>();
        if q.items().is_empty() {
            *q.tail() = 0;
        }
        crate::members::publish_queued(*q.bytes() as u64);
        unwinding.popped = n;
    }
    // Outside the lock: reporting and an OCB's drop (closing fds) take other locks.
    for (run, e) in failed {
        let run = &done[run];
        for (i, item) in run.iter().enumerate().filter_map(|(i, o)| Some((i, o.as_ref()?))) {
            if !run[..i].iter().flatten().any(|o| Arc::ptr_eq(&o.ocb, &item.ocb)) {
                item.ocb.follower_failed_behind(item.what, e);
            }
        }
    }
    // Let go of before they count as done: a close that waited for them then finds its
    // file's last reference its own and settles it.
    drop(done);
    std::mem::forget(unwinding);
    let mut q = Locked::take();
    if FORK_GEN.load(Ordering::SeqCst) != gen {
        // As above, a fork child made since: the child's counts never held these items.
        return q;
    }
    count_done(n);
    *q.busy() = false;
    if *q.waiters() > 0 {
        q.wake();
    }
    q
}

/// `n` items are off the queue, the follower holding their bytes (or their failure told).
fn count_done(n: usize) {
    if DONE.fetch_add(n as u64, Ordering::SeqCst) + n as u64 == PUSHED.load(Ordering::SeqCst) {
        crate::members::queue_in_flight(false);
    }
}

/// Gives up `busy` if dropped (only on a panic: `write_front` forgets it otherwise). Items
/// still queued are written again by whoever writes the queue next, at the same offsets;
/// those already taken off it count as done, or every drain would wait for them forever.
struct BusyOnUnwind {
    popped: usize,
}

impl Drop for BusyOnUnwind {
    fn drop(&mut self) {
        let mut q = Locked::take();
        count_done(self.popped);
        *q.busy() = false;
        q.wake();
    }
}

/// Waits until the queue has work and either someone waits for it, enough has gathered,
/// or its oldest write has waited GATHER_MS. False once the queue has been empty for
/// IDLE_MS: the thread ends (`WORKER` cleared under the lock, so the next `push` starts
/// another), which gives a program that has stopped writing its syscalls' speed back (see
/// beside.rs on what a thread costs).
fn gather(q: &mut Locked) -> bool {
    loop {
        if *q.busy() {
            q.wait_as_waiter();
            continue;
        }
        if q.items().is_empty() {
            let until = now_ms() + IDLE_MS;
            *q.idle() = true;
            // Not woken by a push (see there): looks every GATHER_MS, so that a queued
            // write still waits no longer than that.
            while q.items().is_empty() && now_ms() < until {
                q.wait_until(until.min(now_ms() + GATHER_MS));
            }
            *q.idle() = false;
            if q.items().is_empty() && !*q.busy() {
                WORKER.store(false, Ordering::SeqCst);
                return false;
            }
            continue;
        }
        let due = q.items().front().map_or(0, |i| i.queued_at + GATHER_MS);
        let bytes = *q.bytes();
        let flowing = bytes >= GATHER_BYTES || (*q.flowing() && bytes >= LOW_WATER);
        *q.flowing() = flowing;
        if *q.waiters() > 0 || flowing || now_ms() >= due {
            return true;
        }
        *q.gathering() = true;
        q.wait_until(due);
        *q.gathering() = false;
    }
}

/// Writes a batch in order (`whom`: each write's follower fd and offset), each run of
/// writes that continue one another in one file with one pwritev. Returns the runs the
/// follower refused, with its error.
fn write_batch(iovs: &[libc::iovec], whom: &[(c_int, i64)]) -> Vec<(std::ops::Range<usize>, Errno)> {
    let mut failed = Vec::new();
    let mut start = 0;
    while start < iovs.len() {
        let (sfd, at) = whom[start];
        let mut end = start + 1;
        while end < iovs.len() && whom[end].0 == sfd && whom[end].1 == whom[end - 1].1 + iovs[end - 1].iov_len as i64 {
            end += 1;
        }
        let run = &iovs[start..end];
        let total = run.iter().map(|v| v.iov_len).sum();
        let write = || unsafe { crate::hooks::data::pwritev_all(sfd, run.as_ptr(), run.len() as c_int, total, at) };
        let written = match write() {
            // Made O_DIRECT since it was queued (fcntl F_SETFL): the ring is not aligned
            // for it.
            Err(Errno(libc::EINVAL)) => crate::ocb::without_direct(sfd, write),
            r => r,
        };
        if let Err(e) = written {
            failed.push((start..end, e));
        }
        start = end;
    }
    failed
}
