//! What an open's writes changed while a member is away, by byte range (md's write-intent
//! bitmap, across the outage). The open's first change is recorded with an id
//! (`shadow_core::state::encode_opened`), before it lands for a change made through
//! `Ocb::mirror_once` (`begin`); the ranges of its writes are kept here, each added under
//! the file's order (`finish`); when its part ends (its last close, exit, the process
//! taking a state change, exec) they are appended (`encode_closed`), and the enable copies
//! those bytes of the file and its metadata, not all of it. An open whose part never ends
//! (the process killed, a change of another thread under way as it ends) or that changed
//! the file otherwise (a truncation, a mapping, a write whose place could not be told, bytes
//! glibc wrote unseen) leaves its id open, and the file is copied whole, as before.
//!
//! Kept per process, by the OCB's address: a fork child's writes through an inherited open
//! are the child's part, recorded with an id of its own, so that a child killed with its
//! part open leaves the file whole whatever its parent closes.

use crate::members::Changed;
use crate::ocb::Ocb;
use once_cell::sync::Lazy;
use shadow_core::state::ByteRanges;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

struct Part {
    id: u64,
    /// The process whose part it is (a fork child finds its parent's).
    pid: libc::pid_t,
    /// The name its first record gave, once that record is in the list.
    name: Option<Vec<u8>>,
    ranges: ByteRanges,
    /// Changes begun through the open (`begin`) whose ranges are not in yet: its end then
    /// leaves it open (whole), as one of them may have landed.
    writing: u32,
    /// Its end is recorded, or it was left open for good (a state change, exec): the
    /// open's next change begins another.
    ended: bool,
}

static PARTS: Lazy<Mutex<HashMap<usize, Part>>> = Lazy::new(|| Mutex::new(HashMap::new()));
/// How many parts there are: an OCB let go while none are looks no further.
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Ids made by this process, mixed into each (see `fresh_id`).
static MADE: AtomicU64 = AtomicU64::new(0);

fn parts() -> std::sync::MutexGuard<'static, HashMap<usize, Part>> {
    PARTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(ocb: &Ocb) -> usize {
    ocb as *const Ocb as usize
}

fn counted(parts: &HashMap<usize, Part>) {
    COUNT.store(parts.len(), Ordering::Relaxed);
}

/// A new part's id: random, with the pid and a count of this process's ids mixed in, so
/// that ids repeat neither where getrandom fails nor across processes.
fn fresh_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: at most 8 bytes into an 8-byte buffer.
    let got = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) };
    let random = if got == 8 { u64::from_ne_bytes(b) } else { 0 };
    random ^ ((crate::mem::pid() as u64) << 32 | MADE.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff)
}

/// What `begin` found.
enum Found {
    /// The open's live part: its id.
    Live(u64),
    /// None, or one ended or another process's: the open begins a part if it records none.
    Fresh,
}

/// The open's part as `begin` and `changed` look at it: another process's (a fork child's
/// copy of its parent's table) or an ended one is let go, and the open's change recorded
/// anew.
fn look(parts: &mut HashMap<usize, Part>, ocb: &Ocb) -> Found {
    match parts.get(&key(ocb)) {
        Some(part) if part.pid == crate::mem::pid() && !part.ended => Found::Live(part.id),
        Some(_) => {
            parts.remove(&key(ocb));
            counted(parts);
            ocb.forget_recorded();
            Found::Fresh
        }
        None => Found::Fresh,
    }
}

/// A part `begin` began, whose change is being made.
pub struct Begun(u64);

/// A change about to be made through `ocb` (the program's `fd`) while a member is away and
/// no resync catches up, under the file's order: the open's part, begun now if it has none,
/// with its record in the list before the change lands (a process killed between the two
/// leaves the part open, and the file is copied whole). `finish` says what the change did.
/// None where the open has no part to keep: not tracking, or the file is copied whole
/// anyway (recorded so before the change).
pub fn begin(ocb: &Ocb, fd: libc::c_int) -> Option<Begun> {
    if !crate::members::member_away() {
        return None;
    }
    part_for(ocb, Changed::Open { ocb, fd: Some(fd), once: true }, 1, unseen(ocb)).map(Begun)
}

/// The change `begin` began is made: the bytes it wrote (offset, length), or None where it
/// did anything else, or failed, or its place is not known (the file is copied whole).
pub fn finish(ocb: &Ocb, begun: Begun, written: Option<(u64, u64)>) {
    let mut parts = parts();
    let Some(part) = parts.get_mut(&key(ocb)).filter(|p| p.id == begun.0) else { return };
    part.writing -= 1;
    match written {
        Some((at, len)) => part.ranges.add(at, len),
        // Its id stays open: the file is copied whole.
        None => {
            parts.remove(&key(ocb));
            counted(&parts);
        }
    }
}

/// A change of the metadata alone of `ocb`'s file (a chmod, utimes or xattr through it;
/// the times a file written while both members were lacks as one leaves), made while a
/// member is away and no resync catches up: the open's part, begun if it has none.
pub fn metadata_changed(ocb: &Ocb, changed: Changed) {
    part_for(ocb, changed, 0, unseen(ocb));
}

/// Any other change through `ocb` recorded once made (an open that created or emptied the
/// file, a mapping's stores, an AIO write): the file is copied whole.
pub fn changed_whole(ocb: &Ocb, changed: Changed) {
    part_for(ocb, changed, 0, true);
}

/// The open's live part, with `writing` more changes under way, or a new one begun with
/// its record appended: its id. None where the open keeps none: its file is copied whole
/// already, or is from now on (`whole`: its part, if any, is left open).
fn part_for(ocb: &Ocb, changed: Changed, writing: u32, whole: bool) -> Option<u64> {
    let id = {
        let mut parts = parts();
        if let Found::Live(id) = look(&mut parts, ocb) {
            if whole {
                parts.remove(&key(ocb));
                counted(&parts);
                return None;
            }
            parts.get_mut(&key(ocb)).expect("found live").writing += writing;
            return Some(id);
        }
        // Recorded already without ranges (or its part ended whole): copied whole.
        if ocb.recorded_once() {
            return None;
        }
        if whole {
            drop(parts);
            crate::members::append_change(&changed.name());
            return None;
        }
        let id = fresh_id();
        parts.insert(key(ocb), Part { id, pid: crate::mem::pid(), name: None, ranges: ByteRanges::default(), writing, ended: false });
        counted(&parts);
        id
    };
    named(ocb, changed, id);
    Some(id)
}

/// Whether bytes may reach `ocb`'s file beyond what its writes through it name and what
/// lies past the member's end (`Ocb::writes_unseen`), or it is mapped shared for writing.
fn unseen(ocb: &Ocb) -> bool {
    ocb.writes_unseen() || crate::hooks::data::mapped_for_writing(ocb)
}

/// The record beginning part `id` of `ocb`, appended with the name the kernel gives the
/// file now (asked outside the table's lock). A part ended meanwhile keeps no name: no end
/// is recorded for it, and the file is copied whole.
fn named(ocb: &Ocb, changed: Changed, id: u64) {
    let name = changed.name();
    let mut rec = Vec::new();
    shadow_core::state::encode_opened(id, crate::mem::pid() as u32, &name.0, &mut rec);
    let listed = crate::members::append_record(&rec, &changed.rel());
    let mut parts = parts();
    if let Some(part) = parts.get_mut(&key(ocb)).filter(|p| p.id == id) {
        match (listed, part.ended) {
            (true, false) => part.name = Some(name.0),
            (true, true) => {}
            (false, _) => {
                parts.remove(&key(ocb));
                counted(&parts);
            }
        }
    }
}

/// Ends `ocb`'s part (its last close, under the file's order): its ranges appended. Its
/// next change, if any (an exec that failed), begins a new part.
pub fn end(ocb: &Ocb) {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let part = {
        let mut parts = parts();
        let Some(part) = parts.remove(&key(ocb)) else { return };
        counted(&parts);
        // With the part gone, under the lock: a change meanwhile records anew.
        ocb.forget_recorded();
        part
    };
    // A position the kernel disagreed with at this close marked it (`check_position`).
    if !ocb.writes_unseen() {
        close(part);
    }
}

/// Ends every part of this process (a state change taken, exec): the enable reads them.
/// Each is kept, ended, until its open's next change, which begins another. One with a
/// change under way (another thread's) is left open: its change may have landed.
pub fn end_all() {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let me = crate::mem::pid();
    let ended: Vec<Part> = parts().values_mut().filter_map(|p| ending(p, me)).collect();
    for part in ended {
        close(part);
    }
}

/// `part` ended by `end_all`: what its end record needs, where one is due.
fn ending(p: &mut Part, me: libc::pid_t) -> Option<Part> {
    if p.ended || p.pid != me {
        return None;
    }
    p.ended = true;
    let name = p.name.take();
    (p.writing == 0).then(|| Part { id: p.id, pid: p.pid, name, ranges: std::mem::take(&mut p.ranges), writing: 0, ended: true })
}

/// `end_all` from `_exit` or a death, with no other thread in an operation: allocation-free,
/// and not waiting for the table (a part it cannot end is left open: the file is copied
/// whole). Not in a child of `clone` with CLONE_VM, whose memory (and parts) are its
/// parent's.
pub fn end_all_now() {
    if COUNT.load(Ordering::Relaxed) == 0 || !crate::mem::own_memory() {
        return;
    }
    let mut parts = match PARTS.try_lock() {
        Ok(p) => p,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    let me = crate::mem::pid();
    for part in parts.values_mut().filter(|p| p.pid == me && !p.ended) {
        part.ended = true;
        let Some(name) = part.name.as_ref().filter(|_| part.writing == 0) else { continue };
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
            crate::members::append_record_now(&buf[..n]);
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
    let Part { id, pid, name: Some(name), ranges, writing: 0, .. } = part else { return };
    if pid != crate::mem::pid() {
        return;
    }
    let mut rec = Vec::new();
    if shadow_core::state::encode_closed(id, ranges.as_slice(), &name, &mut rec).is_ok() {
        crate::members::append_record(&rec, &crate::resolve::Rel(name));
    }
}
