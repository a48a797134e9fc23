//! The fork lock: every active hook holds it for reading and `fork` takes it for writing
//! (pthread_atfork), so the child never inherits a half-updated table or a held mutex.
//! Writer-preferring, so that a steady stream of hooks cannot starve a fork.
//!
//! One futex word of the shim's own, not a pthread rwlock, for the child of a fork made
//! from a signal handler that interrupted a hook. That fork cannot take the lock (the
//! interrupted thread may hold it, or wait in it), and the child starts from a fresh lock.
//! The interrupted hook then goes on in the child and gives its hold back: it must give
//! back exactly what it took on the child's lock, and nothing it took on the parent's. With
//! a pthread rwlock the hook could not tell, in a window of a few instructions, on which
//! lock its hold was. Here the word carries a generation, which each child bumps, and a
//! hold names the generation of the word it was taken on, read in the same atomic step
//! that takes it: a hold from another generation gives nothing back.

use std::sync::atomic::{AtomicU32, Ordering};

/// Hooks holding the lock for reading.
const READERS: u32 = (1 << 20) - 1;
/// A fork waits for the readers to leave: new readers wait for it.
const WRITER_WAITING: u32 = 1 << 20;
/// A fork holds the lock.
const WRITER: u32 = 1 << 21;
const GEN_SHIFT: u32 = 22;

static STATE: AtomicU32 = AtomicU32::new(0);

/// A hold for reading, on the lock of generation `.0`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadHold(u32);

fn generation(s: u32) -> u32 {
    s >> GEN_SHIFT
}

/// The word with one reader more, unless a fork holds or waits for the lock.
fn with_reader(s: u32) -> Option<u32> {
    (s & (WRITER | WRITER_WAITING) == 0 && s & READERS != READERS).then_some(s + 1)
}

/// The word with `hold` given back; None when the hold was on another generation's lock.
fn without_reader(s: u32, hold: ReadHold) -> Option<u32> {
    (generation(s) == hold.0 && s & READERS != 0).then(|| s - 1)
}

/// A fork child's lock: the next generation, free.
fn next_generation(s: u32) -> u32 {
    generation(s).wrapping_add(1) << GEN_SHIFT
}

pub fn read() -> ReadHold {
    loop {
        let s = STATE.load(Ordering::Relaxed);
        match with_reader(s) {
            Some(n) => {
                if STATE.compare_exchange_weak(s, n, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    return ReadHold(generation(s));
                }
            }
            None => crate::real::futex_wait(&STATE, s, None),
        }
    }
}

pub fn unread(hold: ReadHold) {
    let mut s = STATE.load(Ordering::Relaxed);
    while let Some(n) = without_reader(s, hold) {
        match STATE.compare_exchange_weak(s, n, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => {
                if n & READERS == 0 && n & WRITER_WAITING != 0 {
                    crate::real::futex_wake_all(&STATE);
                }
                return;
            }
            Err(now) => s = now,
        }
    }
}

/// Before a fork: waits until no hook holds the lock, and holds it.
pub fn write() {
    write_until(None);
}

/// At the process's end (boundary::quiesce_for_exit): as `write`, giving up after
/// `patience` (false then). New readers wait from the first try on, for good: the process
/// is ending.
pub fn write_within(patience: std::time::Duration) -> bool {
    write_until(Some(std::time::Instant::now() + patience))
}

/// `write`, waiting until `until` at most (None: for as long as it takes).
fn write_until(until: Option<std::time::Instant>) -> bool {
    loop {
        let s = STATE.fetch_or(WRITER_WAITING, Ordering::Acquire) | WRITER_WAITING;
        if s & (WRITER | READERS) == 0 {
            if STATE.compare_exchange(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return true;
            }
            continue;
        }
        let timeout = match until {
            None => None,
            Some(until) => {
                let Some(left) = until.checked_duration_since(std::time::Instant::now()).filter(|d| !d.is_zero()) else { return false };
                Some(libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long })
            }
        };
        crate::real::futex_wait(&STATE, s, timeout.as_ref());
    }
}

/// After a fork, in the parent: free again; hooks and other forks waiting go on.
pub fn unwrite() {
    STATE.fetch_and(!(WRITER | WRITER_WAITING), Ordering::Release);
    crate::real::futex_wake_all(&STATE);
}

/// In a fork child (one thread, maybe inside a hook interrupted by the forking signal
/// handler): a fresh lock of the next generation.
pub fn child() {
    STATE.store(next_generation(STATE.load(Ordering::Relaxed)), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_and_a_fork_waits_for_them_and_stops_new_ones() {
        let s = with_reader(with_reader(0).unwrap()).unwrap();
        assert_eq!(s & READERS, 2);
        let waiting = s | WRITER_WAITING;
        assert_eq!(with_reader(waiting), None);
        assert_eq!(with_reader(WRITER), None);
        let hold = ReadHold(generation(s));
        assert_eq!(without_reader(without_reader(waiting, hold).unwrap(), hold).unwrap() & (READERS | WRITER), 0);
    }

    #[test]
    fn a_hold_on_the_parents_lock_gives_nothing_back_on_the_childs() {
        let parent = with_reader(5 << GEN_SHIFT).unwrap();
        let hold = ReadHold(generation(parent));
        let child = next_generation(parent);
        assert_eq!(child & (READERS | WRITER | WRITER_WAITING), 0);
        assert_eq!(without_reader(child, hold), None);
        // Taken on the child's lock: given back there.
        let taken = with_reader(child).unwrap();
        assert_eq!(without_reader(taken, ReadHold(generation(child))), Some(child));
    }

    #[test]
    fn the_generation_wraps_without_touching_the_other_bits() {
        let last = !(READERS | WRITER | WRITER_WAITING);
        assert_eq!(next_generation(last | WRITER | 7), 0);
    }

    #[test]
    fn readers_never_overflow_into_the_writer_bits() {
        assert_eq!(with_reader(READERS), None);
    }
}
