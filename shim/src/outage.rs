//! What an open's writes changed while a member is away, by byte range (md's write-intent
//! bitmap, across the outage). The open's first change is recorded with an id
//! (`shadow_core::state::encode_opened`); the ranges of its writes are kept here; when its
//! part ends (its last close, the process taking a state change, exec) they are appended
//! (`encode_closed`), and the enable copies those bytes of the file, not all of it. An open
//! whose part never ends (the process killed) or that changed the file otherwise (a
//! truncation, a mapping, a write whose place could not be told) leaves its id open, and
//! the file is copied whole, as before.
//!
//! Kept per process, by the OCB's address: a fork child's writes through an inherited open
//! are the child's part, recorded with an id of its own, so that a child killed with its
//! part open leaves the file whole whatever its parent closes.

use crate::members::Changed;
use crate::ocb::Ocb;
use once_cell::sync::Lazy;
use shadow_core::state::ByteRanges;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What a change did to an open file's bytes.
#[derive(Clone, Copy)]
pub enum Bytes {
    /// Wrote `len` bytes at `at`.
    Written { at: u64, len: u64 },
    /// Nothing the member lacks but metadata: the times of a file written while both
    /// members were, a chmod, chown, utimes or xattr through the open.
    Metadata,
    /// Anything: the file is copied whole.
    Unknown,
}

struct Part {
    id: u64,
    /// The process whose part it is (a fork child finds its parent's).
    pid: libc::pid_t,
    /// The name its first record gave, once that record is in the list.
    name: Option<Vec<u8>>,
    ranges: ByteRanges,
    /// Its end is recorded (a state change, exec): the open's next change begins another.
    ended: bool,
}

static PARTS: Lazy<Mutex<HashMap<usize, Part>>> = Lazy::new(|| Mutex::new(HashMap::new()));
/// How many parts there are: an OCB let go while none are looks no further.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn parts() -> std::sync::MutexGuard<'static, HashMap<usize, Part>> {
    PARTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(ocb: &Ocb) -> usize {
    ocb as *const Ocb as usize
}

fn counted(parts: &HashMap<usize, Part>) {
    COUNT.store(parts.len(), Ordering::Relaxed);
}

fn fresh_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: 8 bytes into an 8-byte buffer. A short read leaves zeros there: the id is
    // then less random, and an id repeated only pairs an end with the wrong beginning if
    // both name the same file (the name is checked).
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) };
    u64::from_ne_bytes(b) ^ (crate::mem::pid() as u64).rotate_left(40)
}

/// A change through `ocb` (`changed`) while a member is away and no resync catches up.
pub fn changed(ocb: &Ocb, changed: Changed, bytes: Bytes) {
    let me = crate::mem::pid();
    let id = {
        let mut parts = parts();
        match parts.get_mut(&key(ocb)) {
            Some(part) if part.pid == me && !part.ended => {
                match bytes {
                    Bytes::Written { at, len } => part.ranges.add(at, len),
                    Bytes::Metadata => {}
                    // Its id stays open: the file is copied whole.
                    Bytes::Unknown => {
                        parts.remove(&key(ocb));
                        counted(&parts);
                    }
                }
                return;
            }
            Some(_) => {
                // Ended, or the parent's from before the fork (this process records its
                // own part): the open's change is recorded anew.
                parts.remove(&key(ocb));
                counted(&parts);
                ocb.forget_recorded();
            }
            None => {}
        }
        // Recorded already without ranges (or its part ended whole): copied whole.
        if ocb.recorded_once() {
            return;
        }
        let mut ranges = ByteRanges::default();
        match bytes {
            Bytes::Written { at, len } => ranges.add(at, len),
            Bytes::Metadata => {}
            Bytes::Unknown => {
                drop(parts);
                crate::members::append_change(&changed.name());
                return;
            }
        }
        let id = fresh_id();
        parts.insert(key(ocb), Part { id, pid: me, name: None, ranges, ended: false });
        counted(&parts);
        id
    };
    // Named outside the lock (the name is asked of the kernel); writes meanwhile add their
    // ranges to the part, which ends whole if its end comes before the name is in the list.
    let name = changed.name();
    let mut rec = Vec::new();
    shadow_core::state::encode_opened(id, me as u32, &name.0, &mut rec);
    let listed = crate::members::append_record(&rec, &changed.rel());
    let mut parts = parts();
    if let Some(part) = parts.get_mut(&key(ocb)).filter(|p| p.id == id) {
        match listed {
            true => part.name = Some(name.0),
            false => {
                parts.remove(&key(ocb));
                counted(&parts);
            }
        }
    }
}

/// Ends `ocb`'s part (its last close): its ranges appended. Its next change, if any (an
/// exec that failed), records a new part.
pub fn end(ocb: &Ocb) {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let part = {
        let mut parts = parts();
        let Some(part) = parts.remove(&key(ocb)) else { return };
        counted(&parts);
        // With the part gone, under the lock: a write meanwhile records anew.
        ocb.forget_recorded();
        part
    };
    close(part);
}

/// Ends every part of this process (a state change taken, exec): the enable reads them.
/// Each is kept, ended, until its open's next change, which records anew.
pub fn end_all() {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let ended: Vec<Part> = parts()
        .values_mut()
        .filter(|p| !p.ended)
        .map(|p| {
            p.ended = true;
            Part { id: p.id, pid: p.pid, name: p.name.take(), ranges: std::mem::take(&mut p.ranges), ended: true }
        })
        .collect();
    for part in ended {
        close(part);
    }
}

/// `end_all` from `_exit` or a death, with no other thread in an operation (each write's
/// range is in its part): allocation-free, and not waiting for the table (a part it cannot
/// end is left open: the file is copied whole).
pub fn end_all_now() {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut parts = match PARTS.try_lock() {
        Ok(p) => p,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    let me = crate::mem::pid();
    for part in parts.values_mut().filter(|p| p.pid == me && !p.ended) {
        let Some(name) = &part.name else { continue };
        // The record's longest: a range's two numbers of 20 digits each and their marks.
        let cap = (64 + name.len() + part.ranges.as_slice().len() * 42).next_multiple_of(4096);
        // SAFETY: a new private anonymous mapping, let go below.
        let p = unsafe { crate::real::raw::mmap(std::ptr::null_mut(), cap, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED {
            continue;
        }
        // SAFETY: `cap` bytes mapped above, this function's alone.
        let buf = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), cap) };
        let mut out = &mut buf[..];
        if shadow_core::state::encode_closed(part.id, part.ranges.as_slice(), name, &mut out).is_ok() {
            let n = cap - out.len();
            if crate::real::state_write(crate::members::changes_fd(), &buf[..n]).is_ok() {
                part.ended = true;
            }
        }
        // SAFETY: mapped above; `buf` is not used again.
        unsafe { crate::real::raw::munmap(p, cap) };
    }
}

/// `ocb` is let go: a part it still has (its end not reached: an exit) is left open.
pub fn forget(ocb: &Ocb) {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut parts = parts();
    parts.remove(&key(ocb));
    counted(&parts);
}

fn close(part: Part) {
    let Part { id, pid, name: Some(name), ranges, .. } = part else { return };
    if pid != crate::mem::pid() {
        return;
    }
    let mut rec = Vec::new();
    if shadow_core::state::encode_closed(id, ranges.as_slice(), &name, &mut rec).is_ok() {
        crate::members::append_record(&rec, &crate::resolve::Rel(name));
    }
}
