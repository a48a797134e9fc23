//! Locks every process of a set shares: words in the registry, each held by one thread of
//! any process at a time (names.rs orders changes to names with them, ocb.rs changes to
//! files' bytes).
//!
//! A word holds its holder's thread id (and WAITING once another waits): a thread that
//! dies holding it (kill -9) is found gone by its waiters, which then take the word. A
//! waiter does not count as an operation in flight (see members::retry_racing): the
//! holder may be waiting for operations in flight to end; it arrives again as a hook does
//! (members::waiting), so a change shadowctl made meanwhile is applied first. A thread
//! must not wait for a word holding a lock that the application of such a change takes
//! (a file's order mutex): ocb.rs takes its word first.

use crate::real;
use shadow_core::shared::Registry;
use shadow_core::state::registry::{FILE_STRIPES, NAME_STRIPES};
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) const WAITING: u32 = 1 << 31;
/// How long a waiter sleeps before it looks whether the holder is still alive.
pub(crate) const LOOK_AGAIN: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 10_000_000 };

thread_local! {
    /// This thread's id, once asked (a syscall); forgotten in a fork child.
    static TID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

pub(crate) fn this_thread() -> u32 {
    TID.with(|t| {
        if t.get() == 0 {
            t.set(real::gettid());
        }
        t.get()
    })
}

/// In a fork child: the thread has an id of its own (a holder is known by it).
pub fn after_fork_child() {
    TID.with(|t| t.set(0));
}

/// Held words (at most two), let go when dropped.
pub struct Held {
    words: [Option<&'static AtomicU32>; 2],
    me: u32,
    /// Run once they are let go (names.rs: the name operation is over).
    pub(crate) after: Option<fn()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        for w in self.words.iter().rev().flatten() {
            // Still this thread's: a waiter that took it as a dead thread's (see `lock`)
            // keeps it.
            let mut now = w.load(Ordering::Relaxed);
            while now & !WAITING == self.me {
                match w.compare_exchange(now, 0, Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => {
                        if now & WAITING != 0 {
                            real::futex_wake_shared(w, 1);
                        }
                        break;
                    }
                    Err(seen) => now = seen,
                }
            }
        }
        if let Some(after) = self.after {
            after();
        }
    }
}

/// Holds `words` (each once, in one order every process keeps: two processes taking the
/// same two never wait on each other) until the value is dropped.
pub fn hold(words: &[&'static AtomicU32]) -> Held {
    let me = this_thread();
    let mut held = Held { words: [None, None], me, after: None };
    for (slot, &word) in held.words.iter_mut().zip(words) {
        lock(word, me);
        *slot = Some(word);
    }
    held
}

/// `hold` for `_exit` (perhaps in a signal handler): no allocation and no end-less wait.
/// None when this thread holds the word already (the hook the handler interrupted) or the
/// word is not free within `patience` (a holder gone is found so too: its change is left to
/// recover all the same).
pub fn hold_now(word: &'static AtomicU32, patience: std::time::Duration) -> Option<Held> {
    let me = this_thread();
    let until = std::time::Instant::now() + patience;
    loop {
        let now = word.load(Ordering::Relaxed);
        if now & !WAITING == me {
            return None;
        }
        if now == 0 && word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return Some(Held { words: [Some(word), None], me, after: None });
        }
        if std::time::Instant::now() >= until {
            return None;
        }
        // Its holder wakes a waiter only once one marked the word: polled instead.
        unsafe { libc::nanosleep(&POLL, std::ptr::null_mut()) };
    }
}

/// How often `hold_now` and behind::others_written_now look again.
pub(crate) const POLL: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };

/// At start-up: words this process's id holds were left by an earlier image of it (an exec
/// from another thread killed its main thread holding one, or a write-behind queue kept
/// writes past the exec's drain): nobody would ever let them go, and as the id is this
/// live process's, waiters would not take them either. The main thread's id is the
/// process's. Three tables of 4,096 words read once, when an earlier image of this pid
/// began an operation (a command a shell forks and execs has not, most of the time).
pub fn forget_earlier_image(pid: u32) {
    let registry = &crate::members::shared().registry;
    type Table = fn(&Registry, usize) -> &AtomicU32;
    let tables: [(Table, usize); 3] = [(Registry::name_lock, NAME_STRIPES), (Registry::file_lock, FILE_STRIPES), (Registry::file_queued, FILE_STRIPES)];
    for (table, n) in tables {
        for word in (0..n).map(|i| table(registry, i)) {
            let now = word.load(Ordering::Relaxed);
            if now != 0 && now & !WAITING == pid && word.compare_exchange(now, 0, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                real::futex_wake_shared(word, libc::c_int::MAX);
            }
        }
    }
}

/// Holds any number of words (index and word), each once, lowest index first (see `hold`).
pub fn hold_each(mut stripes: Vec<(usize, &'static AtomicU32)>) -> Vec<Held> {
    stripes.sort_unstable_by_key(|s| s.0);
    stripes.dedup_by_key(|s| s.0);
    stripes.into_iter().map(|(_, word)| hold(&[word])).collect()
}

fn lock(word: &AtomicU32, me: u32) {
    if word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
        return;
    }
    crate::members::waiting(|| {
        // Once this thread has waited, it takes the word marked WAITING: others may still
        // wait, and its release must wake one.
        loop {
            let now = word.load(Ordering::Relaxed);
            // This thread holds no other word of this kind while it asks for one: a word
            // with its id was left by a thread that had it before (an exec from another
            // thread gives the new image's thread the id of the main thread it killed).
            if now == 0 || now & !WAITING == me {
                if word.compare_exchange(now, me | WAITING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    return;
                }
                continue;
            }
            if now & WAITING == 0 && word.compare_exchange(now, now | WAITING, Ordering::Relaxed, Ordering::Relaxed).is_err() {
                continue;
            }
            real::futex_wait_shared(word, now | WAITING, &LOOK_AGAIN);
            let holder = now & !WAITING;
            if word.load(Ordering::Relaxed) & !WAITING == holder && !thread_alive(holder) {
                // Gone holding it: its change is left to recover (its intent is open).
                let _ = word.compare_exchange(now | WAITING, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    })
}

/// Whether a thread (of any process) with this id runs: it exists and is not a zombie (a
/// process killed holding a word stays one until its parent waits for it, and the parent
/// may be waiting for the word first). Not told apart: a new thread that got a dead one's
/// id, and holders in another pid namespace (README).
pub(crate) fn thread_alive(tid: u32) -> bool {
    match std::fs::read(format!("/proc/{tid}/stat")) {
        Ok(stat) => runs(&stat),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Whether a process runs: as `thread_alive` for its main thread, or, that one gone (a
/// main thread that called pthread_exit shows as a zombie), while other threads of it run.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/status")) {
        Ok(status) => status_runs(&status),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// A /proc/<pid>/status text: not a zombie or dead, or more than one thread.
fn status_runs(status: &[u8]) -> bool {
    let field = |name: &[u8]| {
        status.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(name)).map(|v| v.trim_ascii())
    };
    let dead = field(b"State:").is_some_and(|s| matches!(s.first(), Some(b'Z' | b'X' | b'x')));
    let threads = field(b"Threads:").and_then(|t| std::str::from_utf8(t).ok()?.parse::<u32>().ok()).unwrap_or(1);
    !dead || threads > 1
}

/// The state in a /proc/<tid>/stat line (after the command's closing parenthesis) is not
/// zombie or dead.
fn runs(stat: &[u8]) -> bool {
    let after = stat.iter().rposition(|&b| b == b')').map_or(stat, |i| &stat[i + 1..]);
    !matches!(after.iter().find(|b| !b.is_ascii_whitespace()), Some(b'Z' | b'X' | b'x'))
}

/// FNV-1a: where a name or a file falls among `n` stripes.
pub fn stripe_of(bytes: &[u8], n: usize) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_thread_is_seen_gone_and_this_one_alive() {
        assert!(thread_alive(real::gettid()));
        assert!(!thread_alive(u32::MAX >> 2));
    }

    #[test]
    fn a_zombie_is_not_running() {
        assert!(!runs(b"1234 (a (weird) name) Z 1 1234"));
        assert!(runs(b"1234 (a (weird) name) S 1 1234"));
        assert!(runs(b"1234 (sh) R 1"));
        assert!(!runs(b"1234 (sh) X 1"));
    }

    #[test]
    fn a_process_runs_while_any_thread_of_it_does() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX >> 2));
        assert!(!status_runs(b"Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n"));
        assert!(status_runs(b"Name:\tx\nState:\tZ (zombie)\nThreads:\t3\n"));
        assert!(status_runs(b"Name:\tx\nState:\tS (sleeping)\nThreads:\t1\n"));
    }

    #[test]
    fn stripes_spread_and_stay_in_range() {
        let seen: std::collections::HashSet<usize> = (0..1000u32).map(|i| stripe_of(&i.to_le_bytes(), 4096)).collect();
        assert!(seen.len() > 800, "{}", seen.len());
        assert!(seen.iter().all(|&s| s < 4096));
    }
}
