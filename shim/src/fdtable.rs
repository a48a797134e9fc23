//! The link-block table: which program fds refer to which OCB.
//!
//! The hot question "is this fd ours?" is answered by a two-level bitmap of atomics: no
//! lock, no hashing, a load or two. Only fds whose bit is set look up their OCB in the
//! table proper. A second bitmap marks the shim's own (secondary) fds so that a program
//! closing or dup2-ing over "unused" fd numbers cannot take them away.

use crate::ocb::Ocb;
use libc::c_int;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

const CHUNK_BITS: usize = 1 << 16;
const CHUNK_WORDS: usize = CHUNK_BITS / 64;
const CHUNKS: usize = 1 << 10;

pub struct FdBitmap {
    chunks: [AtomicPtr<[AtomicU64; CHUNK_WORDS]>; CHUNKS],
}

impl FdBitmap {
    pub const fn new() -> FdBitmap {
        #[allow(clippy::declare_interior_mutable_const)]
        const NULL: AtomicPtr<[AtomicU64; CHUNK_WORDS]> = AtomicPtr::new(std::ptr::null_mut());
        FdBitmap { chunks: [NULL; CHUNKS] }
    }

    #[inline]
    pub fn test(&self, fd: c_int) -> bool {
        let Ok(fd) = usize::try_from(fd) else { return false };
        let Some(chunk) = self.chunks.get(fd / CHUNK_BITS) else { return false };
        let chunk = chunk.load(Ordering::Acquire);
        if chunk.is_null() {
            return false;
        }
        let bit = fd % CHUNK_BITS;
        unsafe { (*chunk)[bit / 64].load(Ordering::Acquire) & (1 << (bit % 64)) != 0 }
    }

    /// The set bits in `[lo, hi]`, without visiting the empty parts of the space.
    pub fn set_in(&self, lo: c_int, hi: c_int) -> Vec<c_int> {
        let mut out = Vec::new();
        let (lo, hi) = (lo.max(0) as usize, hi.max(-1) as i64);
        for (ci, chunk) in self.chunks.iter().enumerate() {
            let base = ci * CHUNK_BITS;
            if (base as i64) > hi {
                break;
            }
            let chunk = chunk.load(Ordering::Acquire);
            if chunk.is_null() || base + CHUNK_BITS <= lo {
                continue;
            }
            for (wi, word) in unsafe { &*chunk }.iter().enumerate() {
                let mut bits = word.load(Ordering::Acquire);
                while bits != 0 {
                    let fd = base + wi * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if fd >= lo && fd as i64 <= hi {
                        out.push(fd as c_int);
                    }
                }
            }
        }
        out
    }

    /// Clears every bit, allocating nothing (in a fork child).
    pub fn clear_all(&self) {
        for chunk in &self.chunks {
            let chunk = chunk.load(Ordering::Acquire);
            if !chunk.is_null() {
                // SAFETY: chunks are never freed.
                unsafe { &*chunk }.iter().for_each(|word| word.store(0, Ordering::Release));
            }
        }
    }

    /// Callers of a bitmap that mirrors the table serialise set/clear with its write lock.
    pub fn set(&self, fd: c_int, on: bool) {
        let Ok(fd) = usize::try_from(fd) else { return };
        let Some(slot) = self.chunks.get(fd / CHUNK_BITS) else { return };
        let mut chunk = slot.load(Ordering::Acquire);
        if chunk.is_null() {
            if !on {
                return;
            }
            // Chunks are never freed: a table that outlives every thread needs no reclamation.
            // Made by whoever comes first (`NOTED` is set without the table's lock).
            let fresh = Box::into_raw(Box::new([const { AtomicU64::new(0) }; CHUNK_WORDS]));
            chunk = match slot.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => fresh,
                Err(first) => {
                    // SAFETY: made just above and never shared.
                    drop(unsafe { Box::from_raw(fresh) });
                    first
                }
            };
        }
        let bit = fd % CHUNK_BITS;
        let word = unsafe { &(*chunk)[bit / 64] };
        if on {
            word.fetch_or(1 << (bit % 64), Ordering::Release);
        } else {
            word.fetch_and(!(1 << (bit % 64)), Ordering::Release);
        }
    }
}

static SHADOWED: FdBitmap = FdBitmap::new();
/// Fds of FIFOs, sockets and device nodes the program opened under the prefix, and of
/// symlinks opened O_PATH | O_NOFOLLOW. They are not the shim's (their I/O stays the
/// kernel's: a FIFO write may block for ever), but a metadata change through one is made on
/// both members by name (meta::on_node), and so is a link of one (linkat AT_EMPTY_PATH). A
/// bit left by a close the shim did not see is harmless: the name is checked to be the
/// fd's node.
static NODES: FdBitmap = FdBitmap::new();
static INTERNAL: FdBitmap = FdBitmap::new();
/// The shim's numbers it is moving up (`ocb::make_internal`), also in `INTERNAL` until the
/// move is over and the number closed: see `is_ours`.
static MOVING: FdBitmap = FdBitmap::new();
/// Fds whose lseek is hooked (`Ocb::seeks_hooked`: writable files).
static SEEK_HOOKED: FdBitmap = FdBitmap::new();
/// Of those, the fds whose position the shim follows (`Ocb::follows_position` when linked).
static SEEK_FOLLOWED: FdBitmap = FdBitmap::new();
/// Numbers a call that changes a file passed straight through on while an open was in
/// flight (see `passed_through`): the open that links one of them next may have had the
/// call reach its lead unseen. Cleared when the number is closed or replaced.
static NOTED: FdBitmap = FdBitmap::new();
static TABLE: RwLock<Links> = RwLock::new(Links(Vec::new()));

/// Fds linked per block of the table.
const BLOCK: usize = 256;

/// fd -> OCB, in blocks of BLOCK slots made as fds are used: fds are dense (the kernel
/// hands out the lowest free number), so a slot costs 8 bytes per open fd where a hash
/// map's entry costs 20-40.
struct Links(Vec<Option<Box<Block>>>);

struct Block {
    links: [Option<Arc<Ocb>>; BLOCK],
    /// Per number, when it last let a link go (`LetGo`).
    let_go: [LetGo; BLOCK],
}

/// Per number below 65,536, when the program last closed it or put another file at it,
/// linked or not (see `freed_since`): without the table's lock, since the close of an
/// untouched fd marks it (`freeing_untouched`). Zero pages until written.
static FREED: [AtomicU64; 1 << 16] = [const { AtomicU64::new(0) }; 1 << 16];

/// The clock of `LetGo`: numbers let go or freed so far. 64 bits: a mark never comes round
/// to look newer than a later reading (a 16-bit clock did within a run of 8,000 files, and
/// an open then took its own number for freed under it: its file went unmirrored).
static LET_GOES: AtomicU64 = AtomicU64::new(0);

/// Read before a look that a later `LetGo::after` compares with.
#[inline]
pub fn let_goes() -> u64 {
    LET_GOES.load(Ordering::SeqCst)
}

fn freed(fd: c_int) -> LetGo {
    usize::try_from(fd).ok().and_then(|fd| FREED.get(fd)).map_or(LetGo::default(), |f| LetGo(f.load(Ordering::SeqCst)))
}

/// Marks `fd` freed now (see `FREED`), before the call that frees it.
fn freeing(fd: c_int) -> LetGo {
    LetGo(stamp_freed(usize::try_from(fd).ok().and_then(|fd| FREED.get(fd..=fd)).unwrap_or_default()))
}

/// Marks every number of `slots` freed now, with one tick of the clock; the tick.
fn stamp_freed(slots: &[AtomicU64]) -> u64 {
    let now = LET_GOES.fetch_add(1, Ordering::SeqCst) + 1;
    for f in slots {
        f.store(now, Ordering::SeqCst);
    }
    now
}

/// Numbers a call the shim lets through is freeing (close, dup2 or dup3 of a number that
/// holds no file of its, close_range) while an open is in flight, whose number it may be (a
/// close of a stale number; one the program still holds cannot be an open's in flight).
/// Marked freed before the call (an open that got a number just freed looks at its file by
/// name: `opened_file`) and again after it, when this is dropped (`done`).
pub struct Freeing {
    lo: usize,
    hi: usize,
}

impl Freeing {
    pub const NONE: Freeing = Freeing { lo: 1, hi: 0 };

    fn slots(&self) -> &'static [AtomicU64] {
        FREED.get(self.lo..=self.hi).unwrap_or_default()
    }

    /// After the call: a number an open linked after the hook's bit test, and before the
    /// call freed it, is linked no more (the open's file is gone from it, or another is
    /// there); the open is reported, its intent left to `recover`. (An open that links it
    /// later finds it freed: `link_opened`.) Before, the link stood on a closed number, and
    /// the next file opened there (outside the set) had its writes mirrored into the open's
    /// follower. errno stays the call's.
    pub fn done(self) {
        let (lo, hi) = (self.lo as c_int, self.hi as c_int);
        let marked = !self.slots().is_empty();
        drop(self);
        if !marked {
            return;
        }
        let linked = SHADOWED.set_in(lo, hi);
        if linked.is_empty() {
            return;
        }
        // Inside the shim: the program's signal handlers wait while the table is held.
        let _ = crate::boundary::inside(|| {
            for fd in linked {
                let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
                let Some(ocb) = t.get(fd).cloned() else { continue };
                if crate::real::fstat(fd).is_ok_and(|st| ocb.is_file_of(&st)) {
                    continue;
                }
                let gone = put(&mut t, fd, None);
                drop(t);
                ocb.mark_insecure_because("another thread closed its number, or put another file there, as the open took it".into());
                drop(gone);
            }
            Ok(())
        });
    }

    fn stamp(&self) {
        let slots = self.slots();
        if !slots.is_empty() {
            stamp_freed(slots);
        }
    }
}

impl Drop for Freeing {
    fn drop(&mut self) {
        self.stamp();
    }
}

/// The numbers `[lo, hi]` (those below 65,536) about to be freed by a call the shim lets
/// through, to hold across the call (`Freeing`). Without the table's lock.
#[inline]
pub fn freeing_untouched(lo: c_int, hi: c_int) -> Freeing {
    if RELINKS.load(Ordering::SeqCst) & IN_FLIGHT == 0 {
        return Freeing::NONE;
    }
    let (Ok(lo), Ok(hi)) = (usize::try_from(lo), usize::try_from(hi)) else { return Freeing::NONE };
    let freeing = Freeing { lo, hi: hi.min(FREED.len() - 1) };
    freeing.stamp();
    freeing
}

/// When a number last let go of a shadowed file's link (closed, or given another file),
/// or was freed (`FREED`): `LET_GOES` just after; 0 for a number that never did.
#[derive(Clone, Copy, Default)]
struct LetGo(u64);

impl LetGo {
    /// Whether this came after `let_goes` had been read.
    fn after(self, let_goes: u64) -> bool {
        self.0 > let_goes
    }
}

impl Links {
    fn get(&self, fd: c_int) -> Option<&Arc<Ocb>> {
        let fd = usize::try_from(fd).ok()?;
        self.0.get(fd / BLOCK)?.as_ref()?.links[fd % BLOCK].as_ref()
    }
    fn let_go(&self, fd: c_int) -> LetGo {
        let Ok(fd) = usize::try_from(fd) else { return LetGo::default() };
        self.0.get(fd / BLOCK).and_then(|b| b.as_ref()).map_or(LetGo::default(), |b| b.let_go[fd % BLOCK])
    }
    fn block(&mut self, fd: usize) -> &mut Block {
        if self.0.len() <= fd / BLOCK {
            self.0.resize_with(fd / BLOCK + 1, || None);
        }
        self.0[fd / BLOCK].get_or_insert_with(|| Box::new(Block { links: [const { None }; BLOCK], let_go: [LetGo::default(); BLOCK] }))
    }
    fn insert(&mut self, fd: c_int, ocb: Arc<Ocb>) -> Option<Arc<Ocb>> {
        let fd = usize::try_from(fd).ok()?;
        self.block(fd).links[fd % BLOCK].replace(ocb)
    }
    fn remove(&mut self, fd: c_int) -> Option<Arc<Ocb>> {
        let fd = usize::try_from(fd).ok()?;
        self.0.get_mut(fd / BLOCK)?.as_mut()?.links[fd % BLOCK].take()
    }
    /// Notes that `fd` let a link go (see `RELINKS`), before its bit is cleared: a call
    /// that finds the bit clear finds the count moved.
    fn letting_go(&mut self, fd: c_int) {
        let after = freeing(fd);
        let Ok(fd) = usize::try_from(fd) else { return };
        self.block(fd).let_go[fd % BLOCK] = after;
    }
    /// Every link, in fd order; allocation-free.
    fn iter(&self) -> impl Iterator<Item = (c_int, &Arc<Ocb>)> {
        self.0.iter().enumerate().filter_map(|(b, block)| Some((b, block.as_ref()?))).flat_map(|(b, block)| {
            block.links.iter().enumerate().filter_map(move |(i, o)| Some(((b * BLOCK + i) as c_int, o.as_ref()?)))
        })
    }
}

/// The hot-path check.
#[inline]
pub fn is_shadowed(fd: c_int) -> bool {
    SHADOWED.test(fd)
}

#[inline]
pub fn seek_hooked(fd: c_int) -> bool {
    SEEK_HOOKED.test(fd)
}

/// Whether an lseek on `fd`, a writable file's (`seek_hooked`), needs no order with the
/// shim's writes: its position is not followed (a readable file's: its reads move it
/// unseen anyway), no other process may share a description of the process's files
/// (`ocb::shared_ever`), and no other thread of the program's runs, so none can seek
/// between a write's lead call and its look at where it landed (`Ocb::seek`). About 90 ns
/// less a seek (the Disk Tester's random reads, a seek before each).
#[inline]
pub fn seeks_alone(fd: c_int) -> bool {
    !SEEK_FOLLOWED.test(fd) && !crate::ocb::shared_ever() && !crate::real::program_may_have_threads()
}

#[inline]
pub fn is_node(fd: c_int) -> bool {
    NODES.test(fd)
}

/// Whether a file of mode `mode` is a node in the sense of `NODES`.
pub fn is_node_mode(mode: libc::mode_t) -> bool {
    matches!(mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFLNK)
}

/// See `NODES`.
pub fn set_node(fd: c_int, on: bool) {
    let _t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    NODES.set(fd, on);
}

#[inline]
pub fn is_internal(fd: c_int) -> bool {
    INTERNAL.test(fd)
}

/// The shim's own fds in `[first, last]`, in order.
pub fn internal_in(first: c_int, last: c_int) -> Vec<c_int> {
    INTERNAL.set_in(first, last)
}

pub fn set_internal(fd: c_int, on: bool) {
    let _t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    INTERNAL.set(fd, on);
}

/// `fd`, a number the shim just opened at the lowest free one, is the shim's and being
/// moved up (`on`), or the move is over (`!on`: closed and unmarked, or kept where it could
/// not be moved).
pub fn set_moving(fd: c_int, on: bool) {
    // Moving before it is the shim's: a program's call that finds it the shim's then waits.
    MOVING.set(fd, on);
    if on {
        set_internal(fd, true);
        let n = (MARKS.fetch_add(1, Ordering::SeqCst) + 1) & 0xffff_ffff;
        LAST_MARKED[n as usize % LAST_MARKED.len()].store(n << 32 | fd as u32 as u64, Ordering::SeqCst);
    }
}

pub fn is_moving(fd: c_int) -> bool {
    MOVING.test(fd)
}

/// A fork child made from a signal handler (without the fork lock) may hold another
/// thread's move half done, which no thread of the child ends: forgotten.
pub fn forget_moves() {
    MOVING.clear_all();
}

/// The count of numbers the shim marked moving (`set_moving`), and the last few of them,
/// each as the count when marked (high 32 bits) and the number: see `marked_since`.
static MARKS: AtomicU64 = AtomicU64::new(0);
static LAST_MARKED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

/// `MARKS`, read before a program's call on a number (see `marked_since`).
pub fn marks() -> u64 {
    MARKS.load(Ordering::SeqCst)
}

/// Whether the shim marked `fd` as its own after `MARKS` read `since`: a program's call
/// that reached the number meanwhile may have reached the shim's file there, opened an
/// instant before its mark. The opens in flight are let finish first (up to 2 s): one
/// whose file is at the number marks it when its system call is back. Among the last 16
/// marks only.
pub fn marked_since(fd: c_int, since: u64) -> bool {
    wait_while(|| RELINKS.load(Ordering::SeqCst) & IN_FLIGHT != 0);
    let since = since & 0xffff_ffff;
    LAST_MARKED.iter().map(|m| m.load(Ordering::SeqCst)).any(|m| m >> 32 > since && (m & 0xffff_ffff) as c_int == fd)
}

/// Whether `fd` is one of the shim's, as the program's call on it is to see it: a number
/// the shim is moving up is waited for (a dup and a close: microseconds), then it is free,
/// or whatever another thread of the program opened there since. Before, a program's thread
/// closing, dup2ing onto or fchdiring to a stale number met the shim's fd there in that
/// window: a close failed the move and the shim then set the times of, and closed, the
/// program's next file at the number; a dup2 made the shim's copy of a cwd the program's
/// directory (found by a stress program under strace). The wait is bounded (2 s): the
/// close of a file on a member that does not answer may not return; then the number is
/// still the shim's (`is_moving` says so).
pub fn is_ours(fd: c_int) -> bool {
    wait_while(|| MOVING.test(fd));
    is_internal(fd)
}

/// Yields while `busy` says a move or an open of the shim's is under way, for at most 2 s.
fn wait_while(busy: impl Fn() -> bool) {
    if !busy() {
        return;
    }
    let since = std::time::Instant::now();
    while busy() && since.elapsed() < std::time::Duration::from_secs(2) {
        std::thread::yield_now();
    }
}

pub fn get(fd: c_int) -> Option<Arc<Ocb>> {
    if !is_shadowed(fd) {
        return None;
    }
    TABLE.read().unwrap_or_else(|e| e.into_inner()).get(fd).cloned()
}

/// What a mutation answers when `fd` no longer holds the open it was found with (see
/// `with_link`): never an errno the program sees.
pub const RELINKED: crate::real::Errno = crate::real::Errno(-1);

/// Whether `fd` is linked to `ocb` (asked under the file's order, which a close or dup2
/// onto the number takes first: the answer then holds until the order is let go).
pub fn links(fd: c_int, ocb: &Ocb) -> bool {
    is_shadowed(fd) && TABLE.read().unwrap_or_else(|e| e.into_inner()).get(fd).is_some_and(|o| std::ptr::eq(Arc::as_ptr(o), ocb))
}

/// `shadowed` with the OCB `fd` is linked to, or `plain` when it is linked to none; again
/// with what the number holds now when another thread's close or dup2 onto it came between
/// the look and the mutation (RELINKED): the call is made, as natively, on the file the
/// number holds when it is made. Before, a write then reached the new file on the lead
/// and the old one's follower (a log's fd 2 redirected by dup2 while threads wrote it).
pub fn with_link<T>(fd: c_int, shadowed: impl Fn(Arc<Ocb>) -> crate::real::Res<T>, plain: impl Fn() -> crate::real::Res<T>) -> crate::real::Res<T> {
    loop {
        let before = relinks();
        match get(fd) {
            None => {
                // Closed meanwhile, and perhaps opened again by another thread: see
                // `passed_through`.
                let passing = Passing::checked(before);
                let r = plain();
                if !matches!(r, Err(crate::real::Errno(libc::EBADF))) {
                    passed_through(fd, passing);
                }
                return r;
            }
            Some(ocb) => match shadowed(ocb) {
                Err(RELINKED) => continue,
                r => return r,
            },
        }
    }
}

/// Links `fd`, a number the program just got (open, dup), to `ocb`, returning what the
/// number was linked to before (closed behind the shim's back), for the caller to drop
/// outside the lock: dropping the last link closes the secondary and may report.
#[must_use]
pub fn link(fd: c_int, ocb: Arc<Ocb>) -> Option<Arc<Ocb>> {
    link_unless_freed(fd, ocb, None).unwrap_or(None)
}

/// `link`, refused (None) when `opened` is given, `(since, st)`, and the number was freed
/// after `since` and holds another file than `st`'s now. Looked at under the table's lock,
/// which the program's closes and dup2s of linked numbers take: a freeing call that failed
/// (a dup2 from a bad fd) leaves the file where it was, and an unlinked fd would be a
/// written file's lead alone.
fn link_unless_freed(fd: c_int, ocb: Arc<Ocb>, opened: Option<(u64, &libc::stat64)>) -> Option<Option<Arc<Ocb>>> {
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    if let Some((_, st)) = opened.filter(|(since, _)| freed(fd).after(*since)) {
        if !crate::real::fstat(fd).is_ok_and(|now| (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)) {
            return None;
        }
    }
    let before = put(&mut t, fd, Some(ocb.clone()));
    drop(t);
    // Pairs with `relinked_under`'s fence: either it sees the bit set above, or this sees
    // its note.
    std::sync::atomic::fence(Ordering::SeqCst);
    if take_note(fd) {
        ocb.reached_unseen();
    }
    Some(before)
}

/// Removes the link of `fd` (a number closed behind the shim's back, or not a file's);
/// returns the OCB so the caller drops it outside the lock.
#[must_use]
pub fn unlink(fd: c_int) -> Option<Arc<Ocb>> {
    if !is_shadowed(fd) {
        return None;
    }
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    put(&mut t, fd, None)
}

/// Links `fd` to `ocb` (None: to nothing), under the table's lock; what it was linked to,
/// its hold let go.
fn put(t: &mut Links, fd: c_int, ocb: Option<Arc<Ocb>>) -> Option<Arc<Ocb>> {
    if t.get(fd).is_some() {
        t.letting_go(fd);
    }
    SHADOWED.set(fd, ocb.is_some());
    SEEK_HOOKED.set(fd, ocb.as_ref().is_some_and(|o| o.seeks_hooked()));
    SEEK_FOLLOWED.set(fd, ocb.as_ref().is_some_and(|o| o.follows_position()));
    match ocb {
        Some(o) => {
            if (0..=2).contains(&fd) {
                o.mark_glibc_writes();
            }
            o.hold();
            t.insert(fd, o)
        }
        None => t.remove(fd),
    }
    .inspect(|o| o.release())
}

/// What a call that passes a number straight through looks at before and after itself
/// (see `passed_through`): the low 32 bits count the opens in flight, whose number is not
/// yet known, the high 32 the numbers made a shadowed file's (an open or a copy begun, a
/// dup2 onto a number that held none, counted before its system call and, for a dup2,
/// after its bit is set). A call that finds the bit clear after an open or a dup began
/// finds it in flight.
static RELINKS: AtomicU64 = AtomicU64::new(0);
const IN_FLIGHT: u64 = 0xffff_ffff;
const RELINKED_ONCE: u64 = 1 << 32;

/// Taken before the hot path's bit test of a call that changes a file (see `passed_through`).
#[inline]
pub fn relinks() -> u64 {
    RELINKS.load(Ordering::SeqCst)
}

/// What a call that passed a number straight through read: `RELINKS` before its bit test
/// (`relinks()`), and `LET_GOES` after the test found the number held no file of the
/// shim's.
#[derive(Clone, Copy)]
pub struct Passing {
    before: u64,
    checked: u64,
}

impl Passing {
    /// Read after the bit test of a call whose `relinks()` was `before`.
    #[inline]
    pub fn checked(before: u64) -> Passing {
        Passing::read(before, let_goes())
    }

    /// Both read by the caller (the C side's dprintf).
    pub fn read(before: u64, checked: u64) -> Passing {
        Passing { before, checked }
    }
}

/// After a call that changes a file passed straight through on `fd` (as `passing` says;
/// `fd` is a directory number for a call relative to it): when another thread's dup2, dup
/// or open made the number a shadowed file's meanwhile, the call may have reached that
/// file's lead unseen. Its open then has its whole file levelled at the last close
/// (`Ocb::reached_unseen`; a directory is reported, its entries left to `recover`). When
/// the number let a link go after the bit test, the file the call reached may be closed
/// already, its last close past: the next `recover` verifies everything. Before, a write
/// through a number dup2 redirected just then reached the lead alone, and so did one
/// through a number another thread closed and opened again under the prefix (every file of
/// helper-50's run, unreported); then only the file the number held at the look was
/// marked (a CI run of `a_directory_number_reused_under_a_thread_making_entries_is_reported_and_recovered`:
/// entries on one member, unreported). Costs untouched fds two loads (a dup2 sets the bit
/// before the count moves, a copy holds the table as it links, so a call that found the bit
/// clear and landed on the new file finds the count moved or a copy in flight; an open's
/// number is linked after its system call: see `relinked_under`).
#[inline]
pub fn passed_through(fd: c_int, passing: Passing) {
    let before = passing.before;
    if before & IN_FLIGHT != 0 || (RELINKS.load(Ordering::SeqCst) ^ before) >> 32 != 0 {
        relinked_under(fd, passing.checked);
    }
}

/// `call` made straight when `fd` holds no file of the shim's (nor a node's, with `nodes`),
/// checked as `passed_through` says; None when the hook has to make it.
#[inline]
pub fn straight<R: crate::boundary::FfiReturn>(fd: c_int, nodes: bool, call: impl FnOnce() -> R) -> Option<R> {
    let before = relinks();
    if is_shadowed(fd) || nodes && is_node(fd) {
        return None;
    }
    let passing = Passing::checked(before);
    let r = call();
    if !refused_the_number(r == R::FAILED) {
        passed_through(fd, passing);
    }
    Some(r)
}

/// `straight` for a call on `fd` itself (not a directory fd that an absolute path makes
/// the kernel ignore): one of the shim's own numbers is not open to the program (EBADF, as
/// natively), and the call is not made. Before, a program's write, truncation or flush of
/// a stale or guessed number that was the shim's reached the write-intent journal or a
/// follower's file. An untouched fd pays one bitmap test more.
#[inline]
pub fn straight_on<R: crate::boundary::FfiReturn>(fd: c_int, nodes: bool, call: impl FnOnce() -> R) -> Option<R> {
    if is_internal(fd) && !crate::boundary::is_inside() && is_ours(fd) {
        return Some(not_the_programs());
    }
    straight(fd, nodes, call)
}

/// The shim's own fds are not open as far as the program is concerned.
#[cold]
pub(crate) fn not_the_programs<R: crate::boundary::FfiReturn>() -> R {
    crate::real::Errno(libc::EBADF).set();
    R::FAILED
}

/// A call the kernel refused for its number (EBADF: closed, or open without the access the
/// call needs, as a file another thread is opening read-only) changed nothing to notice.
#[inline]
fn refused_the_number(failed: bool) -> bool {
    failed && crate::real::Errno::last() == crate::real::Errno(libc::EBADF)
}

/// See `passed_through`; `checked`: LET_GOES after the call's bit test.
#[cold]
fn relinked_under(fd: c_int, checked: u64) {
    let saved = crate::real::Errno::last();
    let mark = || {
        // Both under one look at the table: a close between them would hide the file.
        let look = || {
            let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
            (t.let_go(fd).after(checked), if is_shadowed(fd) { t.get(fd).cloned() } else { None })
        };
        let (mut gone, mut now) = look();
        if now.is_none() {
            // Not linked yet, perhaps: an open in flight links it after its system call,
            // and looks for this note then (`link`).
            NOTED.set(fd, true);
            std::sync::atomic::fence(Ordering::SeqCst);
            (gone, now) = look();
        }
        if gone {
            crate::members::shared().state.mark_journal_lost();
        }
        if let Some(o) = now {
            o.reached_unseen();
        }
    };
    // At the boundary (the fork lock held, not inside another hook): the table's lock
    // copied held into a fork child would stop its next close for good.
    if crate::boundary::is_inside() {
        mark();
    } else {
        crate::boundary::prepare(|| Some(mark()));
    }
    saved.set();
}

/// A call in flight that makes a number a shadowed file's, the number not known before its
/// system call (an open under the prefix, a dup: see `RELINKS`), from before that call to
/// the number linked.
pub struct NumberInFlight(u64);

impl NumberInFlight {
    pub fn begin() -> NumberInFlight {
        let let_goes = let_goes();
        RELINKS.fetch_add(RELINKED_ONCE + 1, Ordering::SeqCst);
        NumberInFlight(let_goes)
    }

    /// LET_GOES before the call (see `freed_since`).
    pub fn begun(&self) -> u64 {
        self.0
    }
}

impl Drop for NumberInFlight {
    fn drop(&mut self) {
        RELINKS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether the program closed `fd` or put another file at it (close, dup2, dup3) after
/// `let_goes()` read `since`: the number an open in flight got (`NumberInFlight::begun`)
/// may no longer hold its file (another thread's close of a stale number, or a dup2 onto
/// one it takes for its own), or may have been freed just before the kernel gave it out.
/// Before, the shim took whatever the number held for the file the open made: the lead's
/// new file was left on the lead alone, its follower's open made as a directory's (EINVAL)
/// when the number held another thread's directory by then.
pub fn freed_since(fd: c_int, since: u64) -> bool {
    freed(fd).after(since)
}

/// `link` for the number an open in flight got, unless it was freed after `since` (see
/// `freed_since`: it no longer holds the file); None then, and nothing is linked.
#[must_use]
pub fn link_opened(fd: c_int, ocb: Arc<Ocb>, since: u64, st: &libc::stat64) -> Option<Option<Arc<Ocb>>> {
    link_unless_freed(fd, ocb, Some((since, st)))
}

/// A number that held no file of the shim's is closed (close, fclose, closedir): a note on
/// it is stale. Left, it made the next file opened at that number be copied whole at its
/// last close.
#[inline]
pub fn closed_unshadowed(fd: c_int) {
    take_note(fd);
}

/// Whether `fd` had a note (see `NOTED`), which is cleared.
#[inline]
pub fn take_note(fd: c_int) -> bool {
    let noted = NOTED.test(fd);
    if noted {
        NOTED.set(fd, false);
    }
    noted
}

/// `closed_unshadowed` for every number in `[lo, hi]` (close_range).
pub fn closed_unshadowed_in(lo: c_int, hi: c_int) {
    for fd in NOTED.set_in(lo, hi) {
        NOTED.set(fd, false);
    }
}

/// Makes `call`, which copies `fd` to a new number (dup, F_DUPFD), and links the copy to
/// `fd`'s open, in one step under the table's lock: before, another thread's dup2 onto `fd`
/// or close of it between the two left the copy linked to another open than its file's
/// (its writes reached two files) or to none (the lead alone). What the new number was
/// linked to before (closed behind the shim's back) is the caller's to drop.
pub fn copy(fd: c_int, call: impl FnOnce() -> c_int) -> (c_int, Option<Arc<Ocb>>) {
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    // A call passing the new number through meanwhile waits for this lock to find it.
    let _counted = NumberInFlight::begin();
    let newfd = call();
    if newfd < 0 {
        return (newfd, None);
    }
    let now = t.get(fd).cloned();
    (newfd, put(&mut t, newfd, now))
}

/// Makes `call` on `fd` and looks up `fd`'s open in one step (under the table's lock): a
/// close or dup2 onto the number in another thread comes before both or after both.
pub fn with_open<R>(fd: c_int, call: impl FnOnce() -> R) -> (R, Option<Arc<Ocb>>) {
    let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
    let r = call();
    (r, if is_shadowed(fd) { t.get(fd).cloned() } else { None })
}

/// What a call made of a number (`change`).
pub enum Became {
    /// Still the same open file (the call failed).
    Unchanged,
    Closed,
    /// A copy of this fd (dup2 onto the number).
    CopyOf(c_int),
}

/// Makes `call`, which closes `fd` or puts another open file at its number (close, fclose,
/// closedir, dup2 onto it), under the table's lock, and links the number as `after` says
/// from the call's result. So no other thread's hook sees the number's new file under the
/// old link (its writes reached the new file on the lead and the old one's follower), nor
/// the file still open and unlinked (its writes reached the lead alone). `expected`: the
/// OCB `fd` is linked to, whose order the caller holds (`Ocb::order_for_close`); when
/// another thread changed the number meanwhile, nothing is done (None). The old link's
/// OCB, let go of, is the caller's to drop outside the lock.
/// `copies`: the call is a dup2 (it may make the number a shadowed file's).
pub fn change<R>(fd: c_int, expected: Option<&Arc<Ocb>>, copies: bool, call: impl Fn() -> R, after: impl Fn(&R) -> Became) -> Option<(R, Option<Arc<Ocb>>)> {
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    if t.get(fd).map(Arc::as_ptr) != expected.map(Arc::as_ptr) {
        return None;
    }
    // Whatever a note said of the number's file, it is let go of now.
    closed_unshadowed(fd);
    freeing(fd);
    // A copy onto a number that held no shadowed file: see `passed_through`.
    let unshadowed = copies && !is_shadowed(fd);
    if unshadowed {
        SHADOWED.set(fd, true);
        RELINKS.fetch_add(RELINKED_ONCE, Ordering::SeqCst);
    }
    let r = call();
    let now = match after(&r) {
        Became::Unchanged => {
            if unshadowed {
                SHADOWED.set(fd, false);
            }
            return Some((r, None));
        }
        Became::Closed => None,
        Became::CopyOf(src) => t.get(src).cloned(),
    };
    Some((r, put(&mut t, fd, now)))
}

/// Shadowed fds in `[first, last]`.
pub fn shadowed_in(first: c_int, last: c_int) -> Vec<c_int> {
    let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
    t.iter().map(|(fd, _)| fd).filter(|fd| (first..=last).contains(fd)).collect()
}

/// What `f` picks from each fd and its OCB, looked through under the table's lock with no
/// copy of any OCB: a copy held as another thread closed that file's last fd made its close
/// skip settling (it settles an OCB only the fd holds), and the open's intent was never
/// ended: a program using `system()` beside a writing thread ended with `recover` due
/// (helper-49).
pub fn pick<T>(mut f: impl FnMut(c_int, &Ocb) -> Option<T>) -> Vec<T> {
    let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
    t.iter().filter_map(|(fd, o)| f(fd, o)).collect()
}

/// Every OCB with each fd linked to it (for exit-time reconciliation).
pub fn all() -> Vec<(c_int, Arc<Ocb>)> {
    let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
    t.iter().map(|(fd, o)| (fd, o.clone())).collect()
}

/// A child started without fork (posix_spawn, system, popen: glibc clones with CLONE_VFORK
/// and runs no atfork handler) shares every file description it inherits, so those are
/// shared from now on in this process too, as after fork. `with_cloexec`: also those that
/// only close-on-exec fds refer to (a spawn's file actions may dup2 one onto a number the
/// child keeps).
pub fn mark_inherited_shared(with_cloexec: bool) {
    pick(|fd, ocb| {
        let inherited = with_cloexec || crate::real::fcntl(fd, libc::F_GETFD, 0).map_or(true, |f| f & libc::FD_CLOEXEC == 0);
        if inherited {
            ocb.mark_shared();
        }
        None::<()>
    });
}

/// After fork, parent and child share every open file description: writes must also be
/// ordered across processes. Runs in the atfork handlers, while the fork lock excludes
/// every hook, so it neither allocates nor blocks.
/// Every OCB (an OCB linked to several fds more than once), if the table can be had at
/// once; allocation-free.
pub fn for_each_ocb_now(mut f: impl FnMut(&Ocb)) {
    for_each_link_now(|_, ocb| f(ocb));
}

/// Every fd with its OCB, if the table can be had at once; allocation-free.
pub fn for_each_link_now(mut f: impl FnMut(c_int, &Ocb)) {
    if let Ok(t) = TABLE.try_read() {
        for (fd, ocb) in t.iter() {
            f(fd, ocb);
        }
    }
}

/// In a fork child: the parent's write intents are the parent's to end (the child begins
/// its own at its first change). Allocation-free.
pub fn forget_inherited_intents() {
    if let Ok(t) = TABLE.try_read() {
        for (_, ocb) in t.iter() {
            ocb.forget_intent();
        }
    }
}

pub fn mark_all_shared() {
    if let Ok(t) = TABLE.try_read() {
        for (_, ocb) in t.iter() {
            ocb.mark_shared();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_let_go_is_after_a_look_only_when_it_came_later() {
        assert!(!LetGo(100).after(100), "the let-go the look saw");
        assert!(!LetGo(99).after(100));
        assert!(LetGo(101).after(100));
        assert!(LetGo(u64::MAX).after(u64::MAX - 1));
    }

    #[test]
    fn a_number_that_never_let_go_is_not_after_any_look() {
        for n in [0, 1, 0x7fff, 0x8000, 0xffff, u64::MAX] {
            assert!(!LetGo::default().after(n), "{n}");
        }
    }
}
