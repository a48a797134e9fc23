//! Names ordered across processes.
//!
//! A change to a name is made on the lead, then on the follower. Two processes changing one
//! name at once (A removes `x` while B creates it again; two renames onto one name; an
//! open that finds `x` while another replaces it) could reach the two members in different
//! orders, and leave them different with nobody told. So every change to a name under the
//! prefix, and every open that opens the follower too, holds the name's lock from the
//! lead's change to the follower's: one word in the registry that every process of the
//! set maps, chosen by a hash of the name's path (`registry::NAME_STRIPES` of them; names
//! that share a word are ordered too, which costs nothing but the wait).
//!
//! The word holds the holder's thread id (and WAITING once another waits): a thread that
//! dies holding it (kill -9) is found gone by its waiters, which then take the word. A
//! waiter does not count as an operation in flight (see members::retry_racing): the
//! holder may be waiting for operations in flight to end; it arrives again as a hook does
//! (members::waiting), so a change shadowctl made meanwhile is applied first.

use crate::real;
use crate::resolve::Rel;
use std::sync::atomic::{AtomicU32, Ordering};

const WAITING: u32 = 1 << 31;
/// How long a waiter sleeps before it looks whether the holder is still alive.
const LOOK_AGAIN: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 10_000_000 };

/// The stripe of a name: FNV-1a of its path relative to the members' roots.
fn stripe(rel: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in rel {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % shadow_core::state::registry::NAME_STRIPES
}

/// The stripes of some names, each once, in the order they are taken (lowest first, so
/// that two processes taking two stripes never wait on each other).
fn stripes(rels: &[&Rel]) -> ([usize; 2], usize) {
    let mut s = [0; 2];
    let mut n = 0;
    for r in rels.iter().take(2) {
        let i = stripe(&r.0);
        if !s[..n].contains(&i) {
            s[n] = i;
            n += 1;
        }
    }
    s[..n].sort_unstable();
    (s, n)
}

thread_local! {
    /// This thread's id, once asked (a syscall); forgotten in a fork child.
    static TID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn this_thread() -> u32 {
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

/// Held names, let go when dropped.
pub struct NamesHeld {
    words: [Option<&'static AtomicU32>; 2],
    me: u32,
}

impl Drop for NamesHeld {
    fn drop(&mut self) {
        for w in self.words.iter().rev().flatten() {
            // Still this thread's: a waiter that took it as a dead thread's (see `lock`)
            // keeps it.
            let mut now = w.load(Ordering::Relaxed);
            while now & !WAITING == self.me {
                match w.compare_exchange(now, 0, Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => {
                        if now & WAITING != 0 {
                            real::futex_wake_one_shared(w);
                        }
                        break;
                    }
                    Err(seen) => now = seen,
                }
            }
        }
    }
}

/// Holds the names (one, or the two of a rename or link) until the value is dropped.
pub fn hold(rels: &[&Rel]) -> NamesHeld {
    let registry = &crate::members::shared().registry;
    let (s, n) = stripes(rels);
    let me = this_thread();
    let mut held = NamesHeld { words: [None, None], me };
    for (slot, &i) in held.words.iter_mut().zip(&s[..n]) {
        let word = registry.name_lock(i);
        lock(word, me);
        *slot = Some(word);
    }
    held
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
            // This thread holds no name while it asks for one: a word with its id was left
            // by a thread that had it before (an exec from another thread gives the new
            // image's thread the id of the main thread it killed).
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
/// process killed holding a name stays one until its parent waits for it, and the parent
/// may be waiting for the name first). Not told apart: a new thread that got a dead one's
/// id, and holders in another pid namespace (README).
fn thread_alive(tid: u32) -> bool {
    match std::fs::read(format!("/proc/{tid}/stat")) {
        Ok(stat) => runs(&stat),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// The state in a /proc/<tid>/stat line (after the command's closing parenthesis) is not
/// zombie or dead.
fn runs(stat: &[u8]) -> bool {
    let after = stat.iter().rposition(|&b| b == b')').map_or(stat, |i| &stat[i + 1..]);
    !matches!(after.iter().find(|b| !b.is_ascii_whitespace()), Some(b'Z' | b'X' | b'x'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_stripe_and_two_names_are_taken_lowest_first_once() {
        let (a, b) = (Rel(b"d/x".to_vec()), Rel(b"d/y".to_vec()));
        assert_eq!(stripe(&a.0), stripe(b"d/x"));
        assert!(stripe(&a.0) < shadow_core::state::registry::NAME_STRIPES);
        let (s, n) = stripes(&[&b, &a]);
        assert_eq!(n, if stripe(&a.0) == stripe(&b.0) { 1 } else { 2 });
        assert!(s[..n].windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stripes(&[&a, &a]).1, 1);
    }

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
}
