//! The Open Control Block: one per successful open of a shadowed path, shared by every fd
//! (link block) that dup, fork or exec derive from it. It owns the secondary's fd and knows
//! how to apply a mutation to both members in the same order as every other writer of the
//! same file, writing the secondary at the offset the primary chose.

use crate::fdtable;
use crate::real::{self, Errno, Res};
use crate::report;
use crate::resolve::Rel;
use libc::{c_int, mode_t};
use once_cell::sync::Lazy;
use shadow_core::history::Code;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicPtr, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcbKind {
    File,
    Dir,
    /// O_PATH handles and the like: no data, no secondary.
    Handle,
}

/// Orders mutations of one file (inode) across every OCB of this process: two threads
/// writing the same bytes through different opens must reach both members in one order.
/// Across the processes of the set, the file's stripe does (`Ocb::stripe`). Alive while
/// some open of the file is: `identity` holds it weakly for that.
pub(crate) struct FileOrder {
    local: Mutex<()>,
    /// Under write-behind with `on_member_error = "fail"`: the error the follower gave a
    /// queued write of the file, returned by its next mutation in this process (as the
    /// kernel returns a failed writeback at the next fsync). 0: none. Here, not in the OCB:
    /// an `Arc<Ocb>` fits a 96-byte malloc chunk with `Ocb::holds` in its place.
    deferred_error: AtomicI32,
}
/// By (device, inode) of the lead's file.
type FileOrders = HashMap<(u64, u64), Weak<FileOrder>>;
static FILE_ORDERS: Lazy<Mutex<FileOrders>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn file_order(st: &libc::stat64) -> Arc<FileOrder> {
    let mut map = FILE_ORDERS.lock().unwrap_or_else(|e| e.into_inner());
    let key = (st.st_dev, st.st_ino);
    if let Some(existing) = map.get(&key).and_then(Weak::upgrade) {
        return existing;
    }
    // Forget closed files now and then, not on every open: a full scan per open would make
    // opening cost grow with the number of files already open.
    static PRUNE_AT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(64);
    if map.len() >= PRUNE_AT.load(Ordering::Relaxed) {
        map.retain(|_, w| w.strong_count() > 0);
        PRUNE_AT.store((map.len() * 2).max(64), Ordering::Relaxed);
    }
    let fresh = Arc::new(FileOrder { local: Mutex::new(()), deferred_error: AtomicI32::new(0) });
    map.insert(key, Arc::downgrade(&fresh));
    crate::identity::opened(&Arc::downgrade(&fresh), key);
    fresh
}

/// Whether `order` is the order of the file `st` describes: orders are kept by the identity
/// the process knows a file by, from before any lead move (`identity::shown`).
fn is_order_of(order: &Arc<FileOrder>, st: &libc::stat64) -> bool {
    let id = crate::identity::shown((st.st_dev, st.st_ino));
    let map = FILE_ORDERS.lock().unwrap_or_else(|e| e.into_inner());
    map.get(&id).is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(order)))
}

/// Set when an open is first marked shared with another process (`Ocb::mark_shared`: a
/// fork, an exec's adoption), for good.
static SHARED_EVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether another process may have shared one of this process's opens.
#[inline]
pub fn shared_ever() -> bool {
    SHARED_EVER.load(Ordering::Relaxed)
}

/// The stripe of a file (its inode on the lead) among the registry's file lock words.
fn file_stripe(st: &libc::stat64) -> usize {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&st.st_dev.to_le_bytes());
    key[8..].copy_from_slice(&st.st_ino.to_le_bytes());
    crate::stripes::stripe_of(&key, shadow_core::state::registry::FILE_STRIPES)
}

/// Holds files' bytes against every other process of the set (see `FileOrder`), for a
/// change made by name (truncate, an O_TRUNC open) while the name is held: `sts` are the
/// lead's files.
pub fn hold_files(sts: &[libc::stat64]) -> Vec<crate::stripes::Held> {
    let registry = &crate::members::shared().registry;
    let stripes: Vec<usize> = sts.iter().map(file_stripe).collect();
    let held = crate::stripes::hold_each(stripes.iter().map(|&i| (i, registry.file_lock(i))).collect());
    stripes.into_iter().for_each(crate::behind::others_written);
    // And this process's own queued writes to them (another thread's, queued since this
    // hook began) come first too.
    crate::behind::drain();
    held
}

pub struct Ocb {
    /// The path the file was opened by (what reports and the change list name).
    rel: Box<[u8]>,
    kind: OcbKind,
    flags: c_int,
    /// The secondary's fd (an internal fd), or -1.
    secondary: AtomicI32,
    /// A readable, buffered fd on the lead's file when the program's own is not one
    /// (write-only, O_DIRECT), opened at the first copy that needs it and kept until the
    /// program's last close: closing a second fd on a file drops every POSIX lock the
    /// program holds on it. For a directory: the lead's directory held apart from the
    /// program's fd (`hold_lead_dir`). -1 until then.
    reader: AtomicI32,
    order: Arc<FileOrder>,
    /// The file's word in the registry, which orders changes to its bytes across the
    /// processes of the set (stripes.rs; natively the last writer of a byte wins, and the
    /// members must agree on which one that was): the lead's inode's, moved when another
    /// member becomes the lead (`restripe`), so that opens made before and after agree.
    /// In the OCB, not the shared `FileOrder`: it fits the OCB's malloc chunk as it is.
    stripe: AtomicU16,
    /// What has become true of this open (`Mark`): one byte, not one per flag, for an
    /// OCB small enough to cost under 256 bytes per open file.
    marks: AtomicU8,
    /// Open write-intent (journal) id, ended at the last close if both members agree.
    intent: AtomicU64,
    /// Why the members may differ, until reported: a `Box<String>` let go of, or null.
    /// A pointer, not a `Mutex<Option<String>>`: 24 bytes less for every open file.
    insecure: AtomicPtr<String>,
    /// The program's fds and mappings that refer to this open (fdtable and data.rs's
    /// mappings keep the count): the file is settled when the last one lets go. Not
    /// `Arc::strong_count`: a copy another thread held for the moment (a write in flight,
    /// a member change, an exec's look at the table) made the last close skip settling,
    /// and the file's intent stayed open (recover due) with its mtimes apart.
    holds: AtomicU32,
    /// The program's file position, for an open whose position only the shim's hooks move
    /// (`position_followed`): a write at the position then needs no lseek to learn where it
    /// landed. -1: unknown. Read and written under the file's order lock.
    position: AtomicI64,
    /// `POSITION_EPOCH` when `position` was learnt. For a directory, which has no position:
    /// the set's count of directory moves (`names::dirs_moved`) when the kernel last named
    /// it `rel` (resolve::dir_rel; one less at the open: not asked yet). One word for both keeps an `Arc<Ocb>` within a
    /// 96-byte malloc chunk.
    position_epoch: AtomicU32,
}

/// The bits of `Ocb::marks`.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Mark {
    Append = 1,
    /// Another process may write through the same file description (fork, exec adoption):
    /// its writes move the position and may make it append (ordered with ours by the
    /// file's stripe, like any other process's).
    Shared = 2,
    Written = 4,
    /// The first change was recorded in the change list (a member is not being written).
    Recorded = 8,
    /// Set with `insecure`, and kept after the report (cheap to test on every write).
    Diverged = 16,
    /// Written by glibc with internal calls (see `mark_glibc_writes`).
    GlibcWrites = 32,
    /// The fd of one of glibc's own streams, which may seek and write anywhere unseen: the
    /// whole file is levelled at the last close (see `mark_glibc_stream`).
    GlibcStream = 64,
    /// In a fork child, an open whose write intent was the parent's: the parent, which
    /// still holds the file, levels it at its last close (see `check_tail_now`).
    ParentsIntent = 128,
}

/// The low bit of `Ocb::insecure`'s pointer (a `String`'s box, 8-aligned): the reason is
/// deferred (`Ocb::defer_insecure`).
const DEFERRED: usize = 1;

fn is_deferred(why: *mut String) -> bool {
    why as usize & DEFERRED != 0
}

fn untagged(why: *mut String) -> *mut String {
    (why as usize & !DEFERRED) as *mut String
}

/// Bumped whenever a hook on a shadowed fd had to pass a call straight to libc (a signal
/// handler interrupting the shim): the position that call moved is unknown to its OCB, so
/// every position learnt before is forgotten. Signal-safe.
static POSITION_EPOCH: AtomicU32 = AtomicU32::new(0);

pub fn positions_unknown() {
    POSITION_EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// The follower's part of a mutation: `After` the lead's, given its result, or beside it
/// on the shim's thread (beside.rs): a flush, or a data write at the position, at an
/// offset or at the end (`landing`), whose place is known before the lead's (`fd`: the program's;
/// `durable`: the RWF_SYNC/RWF_DSYNC the program gave the lead's write;
/// `count`: how many bytes the lead's result says it took; `after`: the same write made
/// `After` the lead's, where it cannot be made beside it).
enum Follower<'a, T> {
    After(&'a dyn Fn(c_int, &T) -> Res<()>),
    Beside(crate::beside::Flush),
    Alongside { fd: c_int, landing: Landing, bytes: Payload<'a>, durable: c_int, count: &'a dyn Fn(&T) -> usize, after: &'a dyn Fn(c_int, &T) -> Res<()> },
}

/// Where a data write puts its bytes on the lead.
#[derive(Clone, Copy)]
pub enum Landing {
    /// At the file position, which it advances by as much (write, writev, pwritev at -1);
    /// at the end if the fd appends.
    Position,
    /// At the file position even if the fd appends (pwritev2 at -1 with RWF_NOAPPEND).
    PositionExactly,
    /// At this offset (pwrite; at the end if the fd appends).
    Offset(i64),
    /// At this offset even if the fd appends (pwritev2 with RWF_NOAPPEND).
    Exactly(i64),
    /// At the end (RWF_APPEND); `moves_position`: at offset -1, which moves the position
    /// there too.
    End { moves_position: bool },
}

/// From this size on, a page-cache write's follower part runs beside the lead's (when the
/// shim's thread is there). Measured here (µs per write, overwriting cached pages, the
/// follower after the lead / beside it): 64 KiB 22–26 / 126–155, 256 KiB 79–94 / 142–229,
/// 1 MiB 358–443 / 250–388, 4 MiB 1233–1810 / 690–886: waking the shim's thread costs
/// about 100 µs on this machine, which only a write of a MiB or more wins back.
const WRITE_BESIDE_BYTES: usize = 1 << 20;

// Not derived: that would ask T to be Copy.
impl<T> Clone for Follower<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Follower<'_, T> {}

/// Held while a mutation is applied to both members (the process's lock let go first).
pub struct OrderGuard<'a> {
    _local: MutexGuard<'a, ()>,
    _file: Option<crate::stripes::Held>,
}

/// Lowest fd number for the shim's own fds, far from the numbers programs expect
/// (0/1/2 after a close, bash's 10 and 255).
/// Read once: the limit seen at the first open is good enough to stay clear of the numbers
/// a program uses, and a syscall per open is not.
fn internal_fd_base() -> c_int {
    static BASE: Lazy<c_int> = Lazy::new(|| {
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        (rl.rlim_cur.min(2048) / 2).max(16) as c_int
    });
    *BASE
}

/// Moves a freshly opened fd of the shim's into the internal range, close-on-exec. Its first
/// number is the program's lowest free one: marked the shim's while it is moved and closed
/// (`fdtable::is_ours`).
pub fn make_internal(fd: c_int) -> c_int {
    fdtable::set_moving(fd, true);
    if fdtable::take_note(fd) {
        reached_while_opened(fd);
    }
    let moved = real::fcntl(fd, libc::F_DUPFD_CLOEXEC, internal_fd_base() as libc::c_long).unwrap_or(fd);
    fdtable::set_internal(moved, true);
    if moved != fd {
        // The open's first fd, closed, drops every POSIX lock the process holds on its
        // file: a reader opened for a copy into a locked write-only file (a pidfile
        // written with copy_file_range), or the follower's file opened for another open
        // of a locked one, let the lock go unreported. They are taken again at once.
        crate::hooks::lock::close_temporary(fd, Some(moved));
    }
    fdtable::set_moving(fd, false);
    moved
}

/// A program's call passed a number straight through while one of the shim's opens was in
/// flight, and the shim's file is at that number now (`fd`): the call may have reached that
/// file, a member's, alone (a write to a stale number, an entry made relative to a stale
/// directory number: the follower's twin of a directory another thread opens). A program's
/// own file there would have had its note taken at its close. It is reported, and an intent
/// left for `recover` on the file, or on all of a directory's entries. Before, such an entry
/// stayed on the secondary alone, unreported
/// (`c-tests/relative_to_a_number_the_shim_just_opened.c`).
#[cold]
fn reached_while_opened(fd: c_int) {
    let Ok(link) = std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")) else { return };
    let Ok(at) = real::readlink(&link) else { return };
    let Some(rel) = crate::members::view().rel_in_any(&at).map(Rel) else { return };
    if real::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR) {
        crate::members::intent_begin_entries(&rel);
    } else {
        crate::members::intent_begin(&rel);
    }
    crate::report::record(shadow_core::history::Code::NamespaceMismatch, &rel, "a program's call on a number the shim was opening a member's file at may have reached that member alone");
}

/// One of the shim's own opens (`open`), its fd moved up: counted as a number in flight
/// from before the open, as the program's opens are (`fdtable::NumberInFlight`), so a
/// program's call that passes a number straight through meanwhile leaves a note on it, and
/// the move finds the note if the shim's file was at that number (see `make_internal`).
pub fn open_internal(open: impl FnOnce() -> Res<c_int>) -> Res<c_int> {
    let _in_flight = fdtable::NumberInFlight::begin();
    open().map(make_internal)
}

/// A second fd of the shim's own on the file behind `fd`, which stays open: closing a
/// temporary copy of a program's fd would drop the program's POSIX locks on the file.
pub fn dup_internal(fd: c_int) -> Res<c_int> {
    let copy = real::fcntl(fd, libc::F_DUPFD_CLOEXEC, internal_fd_base() as libc::c_long)?;
    fdtable::set_internal(copy, true);
    Ok(copy)
}

/// Whether open `flags` make an O_TMPFILE file (O_TMPFILE carries O_DIRECTORY's bit).
pub fn made_by_tmpfile(flags: c_int) -> bool {
    flags & (libc::O_TMPFILE & !libc::O_DIRECTORY) != 0
}

/// One of the shim's long-held fds, which moves when the program dup2s onto its number
/// (see hooks::open::relocate_internal).
pub struct HeldFd(AtomicI32);

impl HeldFd {
    pub fn new(fd: c_int) -> HeldFd {
        HeldFd(AtomicI32::new(fd))
    }
    pub fn get(&self) -> c_int {
        self.0.load(Ordering::Acquire)
    }
    pub fn relocate(&self, old: c_int, new: c_int) {
        let _ = self.0.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire);
    }
}

pub fn close_internal(fd: c_int) {
    // Unmarked first, so that a program's open of the number once it is free is never taken
    // for the shim's; but a number being moved up stays marked until it is closed, as the
    // program's calls on it wait for the move (`fdtable::is_ours`).
    if fdtable::is_moving(fd) {
        let _ = real::close(fd);
        fdtable::set_internal(fd, false);
        return;
    }
    fdtable::set_internal(fd, false);
    let _ = real::close(fd);
}

impl Ocb {
    pub fn new(rel: Rel, kind: OcbKind, flags: c_int, st: &libc::stat64) -> Ocb {
        crate::members::account(1, 0);
        Ocb {
            rel: rel.0.into_boxed_slice(),
            kind,
            flags,
            secondary: AtomicI32::new(-1),
            reader: AtomicI32::new(-1),
            order: file_order(st),
            stripe: AtomicU16::new(file_stripe(st) as u16),
            marks: AtomicU8::new(if flags & libc::O_APPEND != 0 { Mark::Append as u8 } else { 0 }),
            intent: AtomicU64::new(0),
            insecure: AtomicPtr::new(std::ptr::null_mut()),
            holds: AtomicU32::new(0),
            position: AtomicI64::new(-1),
            // A directory's name is asked of the kernel at its first use (`resolve::dir_rel`):
            // the name it was opened by may pass through a symlink, which a later change
            // may retarget or replace without moving a directory (before, the rename of a
            // file over the link `c -> b` had every call relative to a directory opened as
            // `c` walked from the new `c`: ENOENT where the kernel said ENOTDIR or made it).
            position_epoch: AtomicU32::new(if kind == OcbKind::Dir { crate::names::dirs_moved().wrapping_sub(1) } else { 0 }),
        }
    }

    /// The file's stripe among the registry's file words.
    pub fn stripe(&self) -> usize {
        self.stripe.load(Ordering::Acquire).into()
    }

    /// Lives as long as some open of this file in this process (see `identity`).
    pub fn file_holder(&self) -> Weak<FileOrder> {
        Arc::downgrade(&self.order)
    }

    /// Another member became the lead: the file's stripe is its file's there (`fd`, the
    /// program's, now on it).
    pub fn restripe(&self, fd: c_int) {
        if let Ok(st) = real::fstat(fd) {
            self.stripe.store(file_stripe(&st) as u16, Ordering::Release);
        }
    }

    fn has(&self, m: Mark) -> bool {
        self.marks.load(Ordering::Relaxed) & m as u8 != 0
    }
    /// Sets `m`; whether it was set before. Looked at first: most marks are set on every
    /// write, and a plain load is cheaper than a locked instruction.
    fn set(&self, m: Mark) -> bool {
        self.has(m) || self.marks.fetch_or(m as u8, Ordering::Relaxed) & m as u8 != 0
    }
    fn put(&self, m: Mark, on: bool) {
        if on {
            self.set(m);
        } else {
            self.marks.fetch_and(!(m as u8), Ordering::Relaxed);
        }
    }

    /// One more of the program's fds or mappings refers to this open (see `holds`).
    pub fn hold(&self) {
        self.holds.fetch_add(1, Ordering::Relaxed);
    }
    /// One of them let go (with the file's order held: `order_for_close`, so that the
    /// count seen under it is the count at the let-go, but for new holds).
    pub fn release(&self) {
        self.holds.fetch_sub(1, Ordering::AcqRel);
    }
    /// Whether exactly one fd or mapping refers to this open: the one about to let go is
    /// the last, and the file is settled first.
    pub fn held_once(&self) -> bool {
        self.holds.load(Ordering::Acquire) == 1
    }

    /// Whether `st` is this open's file (`fstat` of an fd that should hold it).
    pub fn is_file_of(&self, st: &libc::stat64) -> bool {
        is_order_of(&self.order, st)
    }

    pub fn rel(&self) -> Rel {
        Rel(self.rel.to_vec())
    }
    /// For a directory: see `position_epoch`.
    pub fn named_at(&self) -> u32 {
        self.position_epoch.load(Ordering::Acquire)
    }
    pub fn set_named_at(&self, moves: u32) {
        debug_assert!(self.is_dir());
        self.position_epoch.store(moves, Ordering::Release);
    }
    pub fn is_dir(&self) -> bool {
        self.kind == OcbKind::Dir
    }
    pub fn flags(&self) -> c_int {
        self.flags
    }
    pub fn secondary_fd(&self) -> Option<c_int> {
        Some(self.secondary.load(Ordering::Acquire)).filter(|&fd| fd >= 0)
    }
    pub fn set_secondary(&self, fd: c_int) {
        self.secondary.store(fd, Ordering::Release);
    }

    /// One of the shim's fds moved from `old` to `new`.
    pub fn relocate(&self, old: c_int, new: c_int) {
        for held in [&self.secondary, &self.reader] {
            let _ = held.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Whether this open needs the follower's file (it can change the file).
    pub fn wants_secondary(&self) -> bool {
        self.kind == OcbKind::File && (self.flags & libc::O_ACCMODE != libc::O_RDONLY || self.flags & (libc::O_CREAT | libc::O_TRUNC) != 0)
    }

    /// How the follower's twin is opened, if this open has one: a file that can be changed
    /// as the program opened it; a directory as the program opened it (a handle stays a
    /// handle), so that `*at` calls relative to it walk the same directory on the follower
    /// and fsync, fchmod, fchown reach it too.
    pub fn follower_flags(&self) -> Option<c_int> {
        match self.kind {
            OcbKind::Dir => Some(self.flags & libc::O_PATH | libc::O_RDONLY | libc::O_DIRECTORY),
            _ if self.wants_secondary() => Some(self.flags),
            _ => None,
        }
    }

    /// Replaces the follower fd (closing the old one) between two mutations, never during one.
    pub fn replace_secondary(&self, fd: Option<c_int>) {
        let _order = self.order.local.lock().unwrap_or_else(|e| e.into_inner());
        crate::behind::drain();
        self.forget_position();
        let old = self.secondary.swap(fd.unwrap_or(-1), Ordering::AcqRel);
        if old >= 0 {
            close_internal(old);
        }
    }

    /// Takes the follower fd out of the OCB (it is becoming the program's own file).
    pub fn take_secondary(&self) -> Option<c_int> {
        let _order = self.order.local.lock().unwrap_or_else(|e| e.into_inner());
        crate::behind::drain();
        self.forget_position();
        let old = self.secondary.swap(-1, Ordering::AcqRel);
        (old >= 0).then(|| {
            fdtable::set_internal(old, false);
            old
        })
    }

    /// A directory's lead side for `*at` calls relative to the program's `fd` on it
    /// (resolve.rs), held apart from that number once the program may have threads: another
    /// thread's dup2 or close and open of the number between the lead's part of a call and
    /// the follower's (through this open's follower fd) sent them to different directories
    /// (helper-50: entries on one member only, some left by `recover`). False when the number
    /// holds another open already (the caller looks again). Kept until the lead moves.
    pub fn hold_lead_dir(&self, fd: c_int) -> bool {
        if self.kind != OcbKind::Dir || self.reader.load(Ordering::Acquire) >= 0 || !real::may_have_threads() {
            return true;
        }
        let copy = match dup_internal(fd) {
            Ok(copy) => copy,
            // Closed since the caller found this open at it: the caller looks again. Before,
            // the number served as the lead's side, and another thread's open of another
            // directory at it sent the lead's part of the call there and the follower's here
            // (an entry made in two directories, one on each member).
            Err(Errno(libc::EBADF)) => return false,
            // Without a copy (no fd left), the program's number serves as before.
            Err(_) => return true,
        };
        // Made before this look: a copy of this open's directory (a dup2 onto the number
        // relinks it in the same step, `fdtable::change`).
        if !fdtable::links(fd, self) {
            close_internal(copy);
            return false;
        }
        if self.reader.compare_exchange(-1, copy, Ordering::AcqRel, Ordering::Acquire).is_err() {
            close_internal(copy);
        }
        true
    }

    /// The directory's lead side held by `hold_lead_dir`, if any.
    pub fn lead_dir(&self) -> Option<c_int> {
        Some(self.reader.load(Ordering::Acquire)).filter(|&fd| fd >= 0 && self.kind == OcbKind::Dir)
    }

    /// The readable fd on the lead's file opened for copies (`readable`), for the caller
    /// to close: the lead moved, or an exec is about to close it.
    pub fn take_reader(&self) -> Option<c_int> {
        let _order = self.order.local.lock().unwrap_or_else(|e| e.into_inner());
        Some(self.reader.swap(-1, Ordering::AcqRel)).filter(|&fd| fd >= 0)
    }

    /// Marks the open's change recorded for a member away; whether it was already (its part
    /// in the outage begun, or its path recorded whole: outage.rs).
    pub fn recorded_once(&self) -> bool {
        self.set(Mark::Recorded)
    }

    /// The next change is recorded again (a member went out of service again).
    pub fn forget_recorded(&self) {
        self.put(Mark::Recorded, false);
    }
    /// F_SETFL on the program's fd (`flags`, as given): `call` makes it. Under the file's
    /// order lock, so that no write lands between the kernel's change and ours (a write
    /// made beside the lead's reckons where it lands before it is made). The follower's fd
    /// never appends (it is written at the lead's offsets), but its O_DIRECT follows the
    /// lead's when cleared: it then takes the unaligned last block the lead now takes (`dd
    /// oflag=direct` clears it for that block; the follower's write failed EINVAL, the
    /// file was reported insecure and `recover` made due).
    pub fn set_status_flags(&self, fd: c_int, flags: c_int, call: impl FnOnce() -> Res<c_int>) -> Res<c_int> {
        let _order = self.linked_order(fd, false)?;
        let r = call()?;
        self.put(Mark::Append, flags & libc::O_APPEND != 0);
        self.forget_position();
        if let Some(sfd) = self.secondary_fd() {
            follow_direct(sfd, flags);
        }
        Ok(r)
    }
    pub fn mark_shared(&self) {
        SHARED_EVER.store(true, Ordering::Relaxed);
        self.set(Mark::Shared);
    }
    /// Whether other processes may share the description (fork, exec, fd passing).
    pub fn is_shared(&self) -> bool {
        self.has(Mark::Shared)
    }
    /// Whether the file was made by O_TMPFILE: no name to open it again by.
    pub fn is_tmpfile(&self) -> bool {
        made_by_tmpfile(self.flags)
    }

    /// Whether the program's description appends as this process last made it (its open,
    /// its own F_SETFL), whatever the kernel says of it now.
    pub fn appends_as_opened(&self) -> bool {
        self.has(Mark::Append)
    }

    /// Whether the description appends now. Another process sharing it may have changed
    /// O_APPEND by its own fcntl, which this process's mark does not see: for a shared
    /// description the kernel is asked (a pwrite after another process set O_APPEND landed
    /// at the end on the lead and at the offset on the follower).
    fn appends(&self, fd: c_int) -> bool {
        if !self.has(Mark::Shared) {
            return self.has(Mark::Append);
        }
        real::fcntl(fd, libc::F_GETFL, 0).map_or(self.has(Mark::Append), |f| f & libc::O_APPEND != 0)
    }

    /// Whether this fd's lseeks go through the shim (ordered with its writes): every
    /// writable file's. Readable ones' reads still move the position unseen
    /// (`landed_among`).
    pub fn seeks_hooked(&self) -> bool {
        self.kind == OcbKind::File && self.flags & libc::O_ACCMODE != libc::O_RDONLY
    }

    /// Whether the program's file position can be followed without asking the kernel, as
    /// far as the open's kind fixes it: a write-only file (a read, never hooked, moves the
    /// position of a readable one). The fds of such opens have their lseek hooked.
    pub fn follows_position(&self) -> bool {
        self.kind == OcbKind::File && self.flags & libc::O_ACCMODE == libc::O_WRONLY && !self.has(Mark::GlibcWrites)
    }

    /// The fd of one of glibc's own streams reopened onto the file to write (stdio.rs), or
    /// a number another thread's write may have reached unseen as dup2 made it this open's
    /// (`fdtable::passed_through`): as `mark_glibc_writes`, and since such writes may also
    /// land inside the file, the last close copies the whole file, not only what lies past
    /// the follower's end.
    pub fn mark_glibc_stream(&self) {
        self.set(Mark::GlibcStream);
        self.mark_glibc_writes();
    }

    /// Another thread's change passed straight through the number as it became this open's
    /// (`fdtable::passed_through`): it reached the lead alone. The whole file, its mode and
    /// owner are levelled at the last close, under an intent begun now (a crash first leaves
    /// the file to `recover`); one without a follower fd is reported. A directory's (a call
    /// relative to it: `hooks::path_hook_or_lead`) is reported, its entries left to
    /// `recover`: which one the call changed is not known.
    pub fn reached_unseen(&self) {
        if self.is_dir() {
            return self.mark_insecure_because("another thread's change relative to the number as this open took it reached the lead alone".into());
        }
        let _order = self.lock_order(false);
        self.mark_glibc_stream();
        self.mark_written();
        positions_unknown();
        match self.secondary_fd() {
            Some(sfd) => self.begin_intent(Some(sfd)),
            None => self.mark_insecure("another thread's change through the number as this open took it reached the lead alone", Errno(libc::EBADF)),
        }
    }

    /// Written by glibc with internal calls no hook sees: linked to fd 0, 1 or 2 (a plain
    /// stdout after close(1) and open, perror, syslog's LOG_PERROR), or the fd of one of
    /// glibc's own streams reopened onto the file to write (stdio.rs). Its position is never
    /// followed: the bytes such writes leave past the follower's end are copied before the
    /// next write the shim sees (`fill_unseen`) and at the last close.
    pub fn mark_glibc_writes(&self) {
        self.set(Mark::GlibcWrites);
        self.forget_position();
    }

    /// At the last close: a followed position the kernel disagrees with means writes the
    /// shim did not see (the follower then lacks them, or has them elsewhere): reported,
    /// and the file left to `recover`. `size`: the lead's, when known; a position at the
    /// end needs no lseek, since a write there the shim did not see would have moved the
    /// end past it. (Missed either way: unseen writes that leave the position where the shim
    /// expects it; missed now, not before: an unseen seek and overwrite inside the file
    /// when the followed position is at its end.) True when the lead ends at the followed
    /// position: bytes the shim did not see past the follower's end would have moved the
    /// lead's end past it, so the follower's end needs no look either.
    fn check_position(&self, fd: c_int, size: Option<i64>) -> bool {
        if !self.position_followed() || self.position_epoch.load(Ordering::Relaxed) != POSITION_EPOCH.load(Ordering::Acquire) {
            return false;
        }
        let known = self.position.load(Ordering::Relaxed);
        if known < 0 {
            return false;
        }
        if size == Some(known) {
            return true;
        }
        if real::lseek(fd, 0, libc::SEEK_CUR).is_ok_and(|at| at != known) {
            self.mark_insecure("writes the shim did not see moved the file position", Errno(libc::EIO));
        }
        false
    }

    /// ... and now: not appending (the end moves with every other writer), and no other
    /// process moves it (a shared file description).
    fn position_followed(&self) -> bool {
        self.follows_position() && !self.has(Mark::Append) && !self.has(Mark::Shared)
    }

    /// The file was cut short through this open: where its position is not followed, the
    /// furthest end of its writes (`fill_unseen`) may lie past the file's end now.
    pub fn cut_short(&self) {
        if !self.position_followed() {
            self.forget_position();
        }
    }

    pub fn forget_position(&self) {
        self.position.store(-1, Ordering::Relaxed);
    }

    fn learn_position(&self, at: i64, epoch: u32) {
        if self.follows_position() {
            self.position_epoch.store(epoch, Ordering::Relaxed);
            self.position.store(at, Ordering::Relaxed);
        }
    }

    /// Where the `n` bytes a write at the file position just put landed; called after the
    /// lead's write, under the file's order lock. `advanced`: the write moved the position
    /// by exactly `n` (not so for RWF_APPEND). Asks the kernel (lseek) only when the
    /// position is not followed or not known yet.
    pub fn landed_at_position(&self, fd: c_int, n: usize, advanced: bool) -> Res<i64> {
        let epoch = POSITION_EPOCH.load(Ordering::Acquire);
        if let Some(known) = self.known_position(epoch).filter(|_| advanced) {
            self.position.store(known + n as i64, Ordering::Relaxed);
            return Ok(known);
        }
        let now = real::lseek(fd, 0, libc::SEEK_CUR)?;
        self.learn_position(now, epoch);
        Ok(now - n as i64)
    }

    /// An lseek on the program's fd, under the file's order lock where the position is
    /// followed: the position learnt is the one the next write starts from.
    /// A writable description whose position is not followed (readable, shared with another
    /// process, or appending) is ordered with the writes too: such a write learns where it
    /// landed by the position after it (and before it, `landed_among`), which a seek between
    /// the two moved (two processes seeking and writing one shared fd left the members
    /// different).
    pub fn seek(&self, fd: c_int, call: impl FnOnce() -> Res<i64>) -> Res<i64> {
        if !self.position_followed() {
            let _order = self.linked_order(fd, self.has(Mark::Shared))?;
            return call();
        }
        let _order = self.linked_order(fd, false)?;
        let epoch = POSITION_EPOCH.load(Ordering::Acquire);
        let at = call()?;
        self.learn_position(at, epoch);
        Ok(at)
    }
    pub fn is_written(&self) -> bool {
        self.has(Mark::Written)
    }
    /// The open itself changed the file (created or truncated it): its times are settled at
    /// the last close like a written file's.
    pub fn mark_written(&self) {
        self.set(Mark::Written);
    }

    /// Records the first difference between members; reported on the last close.
    /// The file's members may differ from now on: its write intent is begun (and kept past
    /// the last close), so that `recover` compares it even after a clean exit.
    pub fn mark_insecure(&self, what: &str, e: Errno) {
        if !self.is_insecure() {
            self.mark_insecure_because(format!("{what}: {}", e.describe()));
        }
    }

    /// `mark_insecure` for a reason that is no error of a call's.
    pub fn mark_insecure_because(&self, why: String) {
        if self.is_insecure() {
            return;
        }
        let why = Box::into_raw(Box::new(why));
        let mut held = self.insecure.load(Ordering::Acquire);
        loop {
            if !held.is_null() && !is_deferred(held) {
                // SAFETY: never shared: the slot held an earlier reason.
                drop(unsafe { Box::from_raw(why) });
                return;
            }
            match self.insecure.compare_exchange(held, why, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => held = now,
            }
        }
        if !held.is_null() {
            // SAFETY: the deferred reason this one replaced, taken from the slot by the CAS.
            drop(unsafe { Box::from_raw(untagged(held)) });
        }
        self.diverged();
    }

    /// A difference recorded: counted, and the file's intent kept open for `recover`.
    fn diverged(&self) {
        crate::members::account(0, 1);
        self.set(Mark::Diverged);
        self.begin_intent(self.secondary_fd());
    }

    /// A difference that is one only if the program changes the file through this open:
    /// its fd stayed on a member that is no longer the lead (`members::switch_lead` found
    /// no file by its name on the new one). Before, every such fd was reported, and `recover`
    /// made due, though a fork child that inherited it from a thread writing the file (which
    /// renamed it since) never uses it (helper-49: false 00020 reports under lead moves,
    /// members identical). Made a difference by the open's next change (`changing`).
    pub fn defer_insecure(&self, what: &str, e: Errno) {
        let why = Box::into_raw(Box::new(format!("{what}: {}", e.describe())));
        let tagged = (why as usize | DEFERRED) as *mut String;
        if self.insecure.compare_exchange(std::ptr::null_mut(), tagged, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // SAFETY: never shared: the slot held an earlier reason.
            drop(unsafe { Box::from_raw(why) });
        }
    }

    /// A change through this open is being made (under its order): a difference deferred
    /// until then (`defer_insecure`) is one now.
    pub fn changing(&self) {
        let held = self.insecure.load(Ordering::Acquire);
        if is_deferred(held) && self.insecure.compare_exchange(held, untagged(held), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.diverged();
        }
    }

    /// The file's order: this process's, and every process's where the mutation changes
    /// bytes (`bytes`; a flush changes none, and must not hold up other processes' writes
    /// while the device works). The shared word first: waiting for it, this thread may
    /// apply a member change, which takes the process's lock of every open file.
    fn lock_order(&self, bytes: bool) -> OrderGuard<'_> {
        let file = bytes.then(|| self.hold_stripe());
        OrderGuard { _local: self.order.local.lock().unwrap_or_else(|e| e.into_inner()), _file: file }
    }

    /// `lock_order` for a call through the program's `fd`, which must still hold this open:
    /// RELINKED when another thread closed the number or put another file there (dup2)
    /// since the hook found this open (`fdtable::with_link` makes the call again for what
    /// the number holds). A close or dup2 onto the number takes the order first
    /// (`open::let_number_go`), so the number stays this open's while the guard is held.
    /// Before, the call reached the number's new file on the lead and the old one's
    /// follower (a log's fd 2 redirected while threads wrote to it).
    pub fn linked_order(&self, fd: c_int, bytes: bool) -> Res<OrderGuard<'_>> {
        let order = self.lock_order(bytes);
        if !fdtable::links(fd, self) {
            return Err(fdtable::RELINKED);
        }
        Ok(order)
    }

    /// Holds the file's stripe (see `FileOrder`), once no other process has writes of it
    /// queued. Again if a lead switch applied while waiting moved the file to another.
    fn hold_stripe(&self) -> crate::stripes::Held {
        loop {
            let s = self.stripe();
            let held = crate::stripes::hold(&[crate::members::shared().registry.file_lock(s)]);
            crate::behind::others_written(s);
            if self.stripe() == s {
                return held;
            }
        }
    }

    /// `hold_stripe` for `_exit`: None when the stripe is this thread's already, or it or
    /// another process's queued writes of it take longer than `patience` (the file is then
    /// left to recover).
    pub fn hold_stripe_now(&self, patience: std::time::Duration) -> Option<crate::stripes::Held> {
        let s = self.stripe();
        let held = crate::stripes::hold_now(crate::members::shared().registry.file_lock(s), patience)?;
        crate::behind::others_written_now(s, patience).then_some(held)
    }

    /// Applies a mutation: `primary` runs on the program's fd and its result is what the
    /// program sees; `secondary` then repeats it on the secondary fd, given that result.
    /// A secondary failure marks the file insecure but never changes the program's result.
    ///
    /// If the lead itself fails with an error that means it is gone (and the policy is
    /// `degrade`), it is marked failed, the program's fds move to the follower's files, and the
    /// mutation is made there: the program sees the survivor's result.
    pub fn mirrored<T>(&self, what: &str, fd: c_int, primary: impl Fn() -> Res<T>, secondary: impl Fn(c_int, &T) -> Res<()>) -> Res<T> {
        self.mirrored_as(what, fd, &primary, Follower::After(&|sfd, v| {
            // The follower's earlier writes of this file, still queued, come first.
            crate::behind::drain();
            secondary(sfd, v)
        }), None)
    }

    /// A data write of `bytes` through the program's `fd` (`primary` makes it and says how
    /// many bytes the lead took): as `mirrored`, the follower getting the bytes the lead
    /// took where the lead put them. Under write-behind (when the file may be written
    /// behind) they are queued instead of written. A write that waits on the device (a
    /// synchronous or direct file, RWF_SYNC/RWF_DSYNC in `rwf`) or a large one is made on
    /// both members at once where its place is known beforehand. `primary` writes the copy
    /// of the program's bytes it is given (see `Snapshot`), or the program's own (None).
    pub fn mirrored_write(self: &Arc<Self>, what: &'static str, fd: c_int, landing: Landing, bytes: Payload<'_>, rwf: c_int, primary: impl Fn(Option<&Snapshot>) -> Res<isize>) -> Res<isize> {
        let snapshot = Snapshot::of(&bytes);
        let bytes = snapshot.as_ref().map_or(bytes, Snapshot::payload);
        // Where the position was before the lead's write, when a read may move it meanwhile;
        // an appending write lands at the end whatever a read does, and the end moves only
        // with writes, which wait for this one.
        let watched = matches!(landing, Landing::Position | Landing::PositionExactly) && self.reads_may_move();
        let (landing, watched) = match watched && matches!(landing, Landing::Position) && self.appends(fd) {
            true => (Landing::End { moves_position: false }, false),
            false => (landing, watched),
        };
        let before = std::cell::Cell::new(None);
        let primary = || {
            if watched {
                before.set(real::lseek(fd, 0, libc::SEEK_CUR).ok());
            }
            primary(snapshot.as_ref())
        };
        // A write the program asked to be on the device is, on the follower too, and never
        // waits in the queue.
        let durable = rwf & (libc::RWF_SYNC | libc::RWF_DSYNC);
        // Nor in a signal handler: queueing allocates, and the handler may have interrupted
        // the allocator.
        let behind = self.written_behind() && durable == 0 && !crate::signals::in_handler();
        // A write at the position or the end of an open whose position is not followed
        // may find bytes the shim did not see before it (`fill_unseen`).
        // So may a pwrite on an appending fd, which Linux appends (before, its follower got
        // a hole where the lead had the unseen bytes).
        let unseen_before = !self.position_followed()
            && match landing {
                Landing::Position | Landing::PositionExactly | Landing::End { .. } => true,
                Landing::Offset(_) => self.appends(fd),
                Landing::Exactly(_) => false,
            };
        let after = |sfd, &r: &isize| {
            let n = r as usize;
            let bytes = bytes.first(n);
            // Before `landed` learns the position after this write.
            let seen = self.position.load(Ordering::Relaxed);
            let follow = |at: i64| {
                if unseen_before {
                    if let Err(e) = self.fill_unseen(fd, sfd, seen, at) {
                        self.mark_insecure("bytes the shim did not see before a write could not be copied", e);
                    }
                    self.position.fetch_max(at + n as i64, Ordering::Relaxed);
                }
                if behind && crate::behind::push(self, sfd, at, &bytes, what) {
                    return Ok(());
                }
                // The follower's earlier writes of this file, still queued, come first.
                crate::behind::drain();
                bytes.write_at(sfd, at, durable)
            };
            match before.get() {
                Some(start) => self.landed_among(fd, start, &bytes, follow),
                None => follow(self.landed(fd, landing, n)?),
            }
        };
        // With no follower (a member away, or a resync catching up): the bytes the write
        // changed, found as the follower's place is. Where a read may have moved the
        // position meanwhile, from where it was before to where it is after: reads only
        // move it on, and a seek waits for the order, so the bytes lie in between.
        let written = |&r: &isize| {
            let n = r as i64;
            match before.get() {
                Some(start) => Some((start, real::lseek(fd, 0, libc::SEEK_CUR).ok()? - start)).filter(|&(_, len)| len >= n),
                None => self.landed(fd, landing, n as usize).ok().map(|at| (at, n)),
            }
        };
        if bytes.sized() && !behind && !watched && self.written_beside(bytes.len(), rwf) {
            return self.mirrored_as(what, fd, &primary, Follower::Alongside { fd, landing, bytes, durable, count: &|&r| r as usize, after: &after }, Some(&written));
        }
        self.mirrored_as(what, fd, &primary, Follower::After(&after), Some(&written))
    }

    /// Whether a read may move this description's position between the lead's write at the
    /// position and the shim's look at where it landed: reads are not hooked (they cost
    /// nothing), and a readable description can be read by another thread, or by another
    /// process that shares it. Natively the kernel orders a read and a write on one
    /// description; here the follower got the bytes at the position the read left (a
    /// reader child beside a writing parent: members differed, unreported).
    fn reads_may_move(&self) -> bool {
        self.flags & libc::O_ACCMODE == libc::O_RDWR && (self.has(Mark::Shared) || real::program_may_have_threads())
    }

    /// Bytes the lead got past the follower's end by writes the shim did not see, found as a
    /// write at the position or the end is to land past that end (at `at`; `seen`: the
    /// furthest end of this open's writes, -1 unknown): glibc's own
    /// writes to a shadowed standard stream (a C++ stream bound to stdout before the shim
    /// swapped it, syslog's LOG_PERROR, backtrace_symbols_fd), or a program's without the
    /// shim through a shared file. They are copied from the lead first, data only (a hole a
    /// seek past the end made stays one): the follower got a hole there, NULs where the
    /// lead had text, unreported. Looked at only where the write starts past the furthest
    /// end of this open's writes, which the follower has (kept in `position`, which such an
    /// open does not follow; forgotten when the file is cut short), and then for one fstat
    /// unless the follower does end short: rewrites cost nothing. Unseen writes that overwrite
    /// bytes inside the file are not found so.
    fn fill_unseen(&self, fd: c_int, sfd: c_int, seen: i64, at: i64) -> Res<()> {
        // Not past the furthest end of this open's writes (`seen`), which the follower has
        // (or has queued): nothing unseen can lie before it.
        if seen >= 0 && at <= seen {
            return Ok(());
        }
        if real::fstat(sfd)?.st_size >= at {
            return Ok(());
        }
        // Short, perhaps only by writes still queued (write-behind): asked again after them.
        crate::behind::drain();
        let end = real::fstat(sfd)?.st_size;
        if end >= at {
            return Ok(());
        }
        // A description of its own, to look for data: the program's position stays put.
        let lead = readable_now(fd).ok_or(Errno(libc::EBADF))?;
        let copied = (|| {
            let mut from = end;
            while from < at {
                let data = match real::lseek(lead, from, libc::SEEK_DATA) {
                    Ok(data) if data < at => data,
                    _ => break,
                };
                let hole = real::lseek(lead, data, libc::SEEK_HOLE).unwrap_or(at).min(at);
                without_direct(sfd, || copy_file_range_or_read(lead, sfd, data, hole - data))?;
                from = hole;
            }
            Ok(())
        })();
        crate::hooks::lock::close_temporary(lead, None);
        copied
    }

    /// Where a write at the position landed on a description whose position a read may have
    /// moved (`reads_may_move`): `start` is the position before the lead's write. Moved by
    /// the write alone: at `start`. Otherwise somewhere from `start` to just before the
    /// position now (reads move it forward only; seeks, hooked for every writable file, and
    /// other writes wait for this one):
    /// every place there where the lead holds the write's bytes. The follower gets them at
    /// each: where the write did not land, the lead held those bytes already (or got them
    /// from this write, where two places overlap), so the follower is made equal to the
    /// lead there too. None found, or too far to look (reads that moved the position by more
    /// than `LOOK_BACK`, or more than `LOOK_AT` bytes to read): the file is insecure.
    /// `follow` writes the follower at a place. (Before 2026-12-07 a write of 1 MiB or
    /// more, a read beside it, was always too far: reported.)
    fn landed_among(&self, fd: c_int, start: i64, bytes: &Payload, follow: impl Fn(i64) -> Res<()>) -> Res<()> {
        const LOOK_BACK: i64 = 1 << 20;
        const LOOK_AT: i64 = 32 << 20;
        let n = bytes.len();
        if n == 0 {
            return Ok(());
        }
        let end = real::lseek(fd, 0, libc::SEEK_CUR)?;
        if end - n as i64 == start {
            return follow(start);
        }
        let span = end - start;
        let found = (|| {
            if start < 0 || span < n as i64 || span - n as i64 > LOOK_BACK || span > LOOK_AT || crate::signals::in_handler() {
                return Vec::new();
            }
            let mut want = vec![0u8; n];
            // SAFETY: room for n bytes; the lead's write just read them.
            unsafe { bytes.copy_to(want.as_mut_ptr()) };
            let mut lead = vec![0u8; span as usize];
            if real::pread(fd, &mut lead, start) != Ok(lead.len()) {
                return Vec::new();
            }
            lead.windows(n).enumerate().filter(|(_, w)| *w == want.as_slice()).map(|(k, _)| start + k as i64).collect()
        })();
        if found.is_empty() {
            self.mark_insecure("a read through the same file description moved its position during a write", Errno(libc::EIO));
        }
        found.into_iter().try_for_each(follow)
    }

    /// Where the `n` bytes a write just put on the lead landed; called after the lead's
    /// write, under the file's order lock.
    fn landed(&self, fd: c_int, landing: Landing, n: usize) -> Res<i64> {
        match landing {
            Landing::Position | Landing::PositionExactly => self.landed_at_position(fd, n, true),
            Landing::Offset(off) => self.landed_at(fd, off, n),
            Landing::Exactly(off) => Ok(off),
            Landing::End { moves_position: true } => self.landed_at_position(fd, n, false),
            Landing::End { moves_position: false } => Ok(real::fstat(fd)?.st_size - n as i64),
        }
    }

    /// Whether a write of `n` bytes (with pwritev2's `rwf`) waits on the device long enough, and its follower part can go to the shim's thread: not with
    /// RWF_NOWAIT (the follower's write would wait), nor on a file that is shared, as far
    /// as can be told before the order lock (see `beside_now`).
    fn written_beside(&self, n: usize, rwf: c_int) -> bool {
        let waits = self.flags & (libc::O_SYNC | libc::O_DSYNC | libc::O_DIRECT) != 0 || rwf & (libc::RWF_SYNC | libc::RWF_DSYNC) != 0 || n >= WRITE_BESIDE_BYTES;
        // Nor through an fd open for reading alone, where the lead refuses it (EBADF).
        let writable = self.flags & libc::O_ACCMODE != libc::O_RDONLY;
        waits && writable && rwf & libc::RWF_NOWAIT == 0 && self.beside_now() && self.secondary_fd().is_some() && crate::beside::ready()
    }

    /// Whether a write's place is known before it is made, under the file's order lock: not
    /// on a description another process writes through (its position moves unseen). An
    /// appending write's is the lead's end, which moves only with writes, and every
    /// process's wait for the file's order (`lock_order`).
    fn beside_now(&self) -> bool {
        !self.has(Mark::Shared)
    }

    /// After a write at the position made beside the lead's, from `start` (learnt under
    /// `epoch`): the position is now `end`, unless a call passed straight through meanwhile
    /// (from a signal handler, or another thread's through the number as it became this
    /// open's: `reached_unseen`): then the kernel is asked, and a position elsewhere means
    /// the lead may have written elsewhere than the follower: reported.
    fn wrote_at_position(&self, fd: c_int, end: i64, epoch: u32) {
        if POSITION_EPOCH.load(Ordering::Acquire) == epoch {
            self.learn_position(end, epoch);
        } else if real::lseek(fd, 0, libc::SEEK_CUR) != Ok(end) {
            self.mark_insecure("a call the shim did not see (a signal handler's, or another thread's through the number as it was opened) moved the file position during a write", Errno(libc::EIO));
        }
    }

    /// Where a write at the file position will land, asked before the lead's write (see
    /// `landed_at_position`, its counterpart after).
    fn position_now(&self, fd: c_int) -> Res<i64> {
        match self.known_position(POSITION_EPOCH.load(Ordering::Acquire)) {
            Some(known) => Ok(known),
            None => real::lseek(fd, 0, libc::SEEK_CUR),
        }
    }

    /// The program's file position, where the shim follows it and learnt it in `epoch`.
    fn known_position(&self, epoch: u32) -> Option<i64> {
        let known = self.position.load(Ordering::Relaxed);
        (self.position_followed() && known >= 0 && self.position_epoch.load(Ordering::Relaxed) == epoch).then_some(known)
    }

    /// A write made on both members at once that the follower took further than the lead
    /// (a full disk, a file size limit, a refusal): its `n` bytes at `at` past what the lead
    /// took get the lead's bytes, and its size the lead's. Failing that, the file is
    /// insecure.
    fn take_back(&self, fd: c_int, sfd: c_int, at: i64, n: i64) {
        let undone = (|| {
            let size = real::fstat(fd)?.st_size;
            self.copy_range(fd, sfd, at, n)?;
            if real::fstat(sfd)?.st_size > size {
                real::ftruncate(sfd, size)?;
            }
            Ok(())
        })();
        if let Err(e) = undone {
            self.mark_insecure("a write the lead took short, undone on the follower", e);
        }
    }

    /// Whether this file's follower writes may wait in the write-behind queue: not when
    /// another process writes through the same file description (its writes are ordered
    /// with ours by a lock held only while both members are written), nor when the program
    /// asked for each write to be on the device or to bypass the cache.
    fn written_behind(&self) -> bool {
        crate::behind::on() && !self.has(Mark::Shared) && self.flags & (libc::O_SYNC | libc::O_DSYNC | libc::O_DIRECT) == 0
    }

    /// A queued write failed on the follower (on the queue's thread): as a synchronous one
    /// would have, except that an error for the program waits for the file's next mutation.
    pub fn follower_failed_behind(&self, what: &str, e: Errno) {
        if let Err(e) = crate::members::follower_failed(&self.rel(), what, e, Some(self)) {
            let _ = self.order.deferred_error.compare_exchange(0, e.0, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// A flush (fsync, fdatasync, sync_file_range): as `mirrored`, but the follower's flush runs beside the
    /// lead's (see beside.rs), after the follower's queued writes.
    pub fn flushed(&self, what: &str, fd: c_int, flush: crate::beside::Flush, primary: impl Fn() -> Res<c_int>) -> Res<c_int> {
        self.mirrored_as(what, fd, &primary, Follower::Beside(flush), None)
    }

    fn mirrored_as<T>(&self, what: &str, fd: c_int, primary: &impl Fn() -> Res<T>, follower: Follower<'_, T>, written: Option<&dyn Fn(&T) -> Option<(i64, i64)>>) -> Res<T> {
        match self.mirror_once(what, fd, primary, follower, written) {
            Err(e) if e != fdtable::RELINKED && crate::members::lead_failed(crate::members::Changed::Open { ocb: self, fd: None, once: false }, what, e) => self.mirror_once(what, fd, primary, follower, written),
            r => r,
        }
    }

    /// `fd`: the program's, which `primary` changes. `written`: for a data write, the bytes
    /// its result says it changed on the lead, asked under the order when no follower is
    /// written while a resync catches up (the change list then names them).
    fn mirror_once<T>(&self, what: &str, fd: c_int, primary: &impl Fn() -> Res<T>, mut follower: Follower<'_, T>, written: Option<&dyn Fn(&T) -> Option<(i64, i64)>>) -> Res<T> {
        let flush = matches!(follower, Follower::Beside(_));
        let order = self.linked_order(fd, !flush)?;
        // A flush changes nothing a member could differ in.
        if !flush {
            self.changing();
        }
        if self.order.deferred_error.load(Ordering::Relaxed) != 0 {
            return Err(Errno(self.order.deferred_error.swap(0, Ordering::AcqRel)));
        }
        // Read under the lock: a member change swaps it only between two mutations.
        let Some(sfd) = self.secondary_fd() else {
            if self.has(Mark::Diverged) {
                // The follower is written, but not this file (its open there failed).
                self.begin_intent(None);
            }
            // A member away: the open's part in the outage, begun before the change lands
            // and given its bytes before the order goes (outage.rs).
            let part = if flush { None } else { crate::outage::begin(self, fd) };
            // Under the order, which keeps the number this open's (`linked_order`).
            let value = primary();
            let range = match (&value, written) {
                (Ok(v), Some(written)) if crate::members::ranges_wanted() => written(v),
                _ => None,
            };
            let in_part = part.is_some();
            if let Some(begun) = part {
                let bytes = range.filter(|&(at, len)| at >= 0 && len >= 0).map(|(at, len)| (at as u64, len as u64));
                crate::outage::finish(self, begun, bytes);
            }
            drop(order);
            // Followed while a write's range is asked (`landed` keeps it in step, with no
            // lseek for a write-only open), else not: learnt again when it is.
            if range.is_none() {
                self.forget_position();
            }
            // A failed change too: the kernel may have stamped the file before refusing it
            // (ext4's unaligned collapse, EINVAL), and the enable must give the member the
            // lead's times (before, they stayed apart, unreported). Not a flush, which
            // changes nothing a member could differ in: recorded, it had a resync's catch-up
            // copy the whole file again for every fdatasync of a database's writes.
            // Or as the state is now, where it moved on meanwhile (a resync's catch-up
            // began: its passes read what the part could not say).
            if crate::members::tracking() && !flush && !(in_part && crate::members::member_away()) {
                crate::members::record_change_at(crate::members::Changed::Open { ocb: self, fd: None, once: true }, range);
            }
            return value;
        };
        if let Follower::Alongside { after, .. } = follower {
            if !self.beside_now() {
                follower = Follower::After(after);
            }
        }
        self.begin_intent(Some(sfd));
        let (value, followed) = match follower {
            Follower::After(secondary) => {
                // Marked written even when the lead's change failed: the kernel may have
                // stamped the lead's file before the failure (a write from a buffer that
                // faults), and the follower's times are made the lead's at the last close
                // (before, an EFAULT write left the members' mtimes different).
                let value = primary().inspect_err(|_| {
                    self.set(Mark::Written);
                })?;
                self.set(Mark::Written);
                let followed = secondary(sfd, &value);
                (value, followed)
            }
            Follower::Beside(flush) => {
                crate::behind::drain();
                let (value, followed) = crate::beside::flush(sfd, flush, primary);
                let value = value?;
                self.set(Mark::Written);
                (value, followed)
            }
            Follower::Alongside { fd, landing, bytes, durable, count, after } => {
                crate::behind::drain();
                let epoch = POSITION_EPOCH.load(Ordering::Acquire);
                let appending = match landing {
                    Landing::End { .. } => true,
                    Landing::Position | Landing::Offset(_) => self.appends(fd),
                    Landing::PositionExactly | Landing::Exactly(_) => false,
                };
                let start = match landing {
                    _ if appending => real::fstat(fd)?.st_size,
                    Landing::Offset(off) | Landing::Exactly(off) => off,
                    _ => self.position_now(fd)?,
                };
                // What an append after unseen writes would leave a hole in (see `after`).
                let unseen = appending && !self.position_followed();
                if unseen {
                    if let Err(e) = self.fill_unseen(fd, sfd, self.position.load(Ordering::Relaxed), start) {
                        self.mark_insecure("bytes the shim did not see before a write could not be copied", e);
                    }
                }
                let wrote = AtomicUsize::new(0);
                let (value, beside) = crate::beside::beside(
                    &|| {
                        let (n, r) = bytes.write_counted(sfd, start, durable);
                        wrote.store(n, Ordering::Relaxed);
                        r
                    },
                    primary,
                );
                match beside {
                    // Not made: made now, as `After` the lead's.
                    None => {
                        self.set(Mark::Written);
                        let value = value?;
                        let followed = after(sfd, &value);
                        (value, followed)
                    }
                    Some(beside) => {
                        self.set(Mark::Written);
                        let took = value.as_ref().map_or(0, count);
                        let wrote = wrote.load(Ordering::Relaxed);
                        // An append lands past the end as it is when the lead's write is
                        // made: past a writer's the shim did not see (glibc's own to a
                        // shadowed stderr from another thread), the follower gets the lead's
                        // bytes from where it wrote.
                        let end = match appending {
                            true => real::fstat(fd).map_or(-1, |st| st.st_size),
                            false => start + took as i64,
                        };
                        match &value {
                            // A write the lead refused moved no position.
                            Err(_) => {}
                            Ok(_) if matches!(landing, Landing::Position | Landing::PositionExactly) && !appending => self.wrote_at_position(fd, end, epoch),
                            // At the end of the bytes, wherever they landed.
                            Ok(_) if matches!(landing, Landing::End { moves_position: true }) && self.position_followed() => match end == start + took as i64 {
                                true => self.wrote_at_position(fd, end, epoch),
                                false => self.forget_position(),
                            },
                            Ok(_) => {}
                        }
                        if unseen {
                            self.position.fetch_max(end, Ordering::Relaxed);
                        }
                        if end != start + took as i64 {
                            self.take_back(fd, sfd, start, end.max(start + wrote as i64) - start);
                        } else if wrote > took {
                            self.take_back(fd, sfd, start + took as i64, (wrote - took) as i64);
                        }
                        // The follower's part is what the lead took: its failure past that
                        // (the same full disk or size limit) is not the follower's.
                        let followed = if wrote >= took { Ok(()) } else { beside };
                        (value?, followed)
                    }
                }
            }
        };
        if let Err(e) = followed {
            crate::members::follower_failed(&self.rel(), what, e, Some(self))?;
        }
        Ok(value)
    }

    /// Offset at which a positional write of `n` bytes through an O_APPEND fd landed
    /// (Linux appends pwrite on such fds whatever the offset).
    pub fn landed_at(&self, fd: c_int, requested: i64, n: usize) -> Res<i64> {
        if self.appends(fd) {
            Ok(real::fstat(fd)?.st_size - n as i64)
        } else {
            Ok(requested)
        }
    }

    /// Copies `[off, off+len)` of the primary file to the secondary: for writes that reached
    /// the primary by a way the shim cannot repeat (copy_file_range, splice, aio). `fd` is
    /// the program's fd on the primary file.
    /// False, with nothing done, when `fd` no longer holds this open (another thread closed
    /// the number or put another file there): what it would copy is another file's.
    pub fn copy_range_from_primary(&self, fd: c_int, off: i64, len: i64) -> bool {
        let mut linked = true;
        self.to_follower_if(
            || {
                linked = fdtable::links(fd, self);
                linked
            },
            "copy",
            |sfd| self.copy_range(fd, sfd, off, len),
        );
        linked
    }

    /// After a lead call that failed partway through its work, which may have changed the
    /// file: ext4's fallocate stopped by ENOSPC or a signal keeps the blocks it allocated and
    /// the size they reach, and a zeroing or collapsing one what it did. Under the file's
    /// order, the follower gets the lead's size, the bytes of `changed` (`[off, off+len)`,
    /// len < 0: to the end) when given, and the lead's times.
    pub fn follow_failed_lead(&self, fd: c_int, changed: Option<(i64, i64)>) {
        self.to_follower("copy", |sfd| {
            if let Some((off, len)) = changed {
                self.copy_range(fd, sfd, off, len)?;
            }
            let lead = real::fstat(fd)?;
            if real::fstat(sfd)?.st_size != lead.st_size {
                real::ftruncate(sfd, lead.st_size)?;
            }
            real::futimens(sfd, &times_of(&lead)).map(drop)
        });
    }

    /// After a lead call that refused its work, which may still have moved the lead's times
    /// (ext4 stamps mtime before finding a collapse range invalid): the follower gets them.
    pub fn follow_lead_times(&self, fd: c_int) {
        if let Some(sfd) = self.secondary_fd() {
            let _ = lead_times_to(fd, sfd);
        }
    }

    /// Copies `len` bytes of the program's memory at `addr` (a writable shared mapping of
    /// the file, an AIO buffer) to the secondary at `off`; `size_of`, an fd of any kind on
    /// the lead's file, clips the copy to the file's size (a mapping reaches past its end).
    /// `durable`: the follower's file is flushed too (an `msync` with MS_SYNC, which made
    /// the lead's pages durable).
    pub fn copy_memory_to_follower(&self, addr: usize, off: i64, len: i64, size_of: Option<c_int>, durable: bool) {
        self.to_follower("copy", |sfd| {
            let len = match size_of {
                Some(fd) => len.min(real::fstat(fd)?.st_size - off).max(0),
                None => len,
            };
            match without_direct(sfd, || crate::mem::copy_out(addr, len as usize, |chunk, at| pwrite_all(sfd, chunk, off + at as i64))) {
                // A mapping the process cannot read (PROT_WRITE alone): from the file instead.
                Err(Errno(libc::EFAULT)) if size_of.is_some() => self.copy_range(size_of.unwrap_or(-1), sfd, off, len)?,
                r => r?,
            }
            // The kernel stamped the lead when the program wrote the pages, the follower
            // now: the follower gets the lead's times (the program may have closed its fds).
            if let Some(fd) = size_of {
                let _ = real::futimens(sfd, &times_of(&real::fstat(fd)?));
            }
            if durable {
                real::fdatasync(sfd)?;
            }
            Ok(())
        });
    }

    /// Applies `copy` to the follower's file under the file's order, as a mutation.
    fn to_follower(&self, what: &str, copy: impl FnOnce(c_int) -> Res<()>) {
        self.to_follower_if(|| true, what, copy);
    }

    /// `to_follower`, when `still` says so under the order.
    fn to_follower_if(&self, still: impl FnOnce() -> bool, what: &str, copy: impl FnOnce(c_int) -> Res<()>) {
        let order = self.lock_order(true);
        if !still() {
            return;
        }
        // Bytes the program changed (mapped pages, an AIO write, glibc's own writes).
        self.changing();
        // Read under the order: waiting for it may have applied a member change, which
        // replaces the follower's fd.
        let Some(sfd) = self.secondary_fd() else {
            drop(order);
            // Recorded every time, not once per open (the OCB's mark): a mapping's copy is
            // made holding the process's mapping table, which a member change applied
            // while waiting for the order cannot take to forget the marks of files only
            // mappings hold, so one recorded in an earlier outage was not in this one's.
            crate::members::record_change(crate::members::Changed::Open { ocb: self, fd: None, once: false });
            return;
        };
        crate::behind::drain();
        self.begin_intent(Some(sfd));
        self.set(Mark::Written);
        if let Err(e) = copy(sfd) {
            let _ = crate::members::follower_failed(&self.rel(), what, e, Some(self));
        }
    }

    /// A readable, buffered fd on the lead's file behind `fd` (the program's, or one of
    /// the shim's handles on it).
    fn readable(&self, fd: c_int) -> Res<c_int> {
        let mode = self.flags & libc::O_ACCMODE;
        let status = real::fcntl(fd, libc::F_GETFL, 0)?;
        if (mode == libc::O_RDWR || mode == libc::O_RDONLY) && status & (libc::O_DIRECT | libc::O_PATH) == 0 {
            return Ok(fd);
        }
        let have = self.reader.load(Ordering::Acquire);
        if have >= 0 {
            return Ok(have);
        }
        let path = std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")).unwrap_or_default();
        let opened = open_internal(|| real::open(&path, libc::O_RDONLY | libc::O_CLOEXEC, 0))?;
        match self.reader.compare_exchange(-1, opened, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(opened),
            Err(other) => {
                // Another thread opened one first; ours was never used.
                close_internal(opened);
                Ok(other)
            }
        }
    }

    /// Copies a byte range of the primary (through the program's `fd`) to the secondary's
    /// `sfd`, clipped to the primary's size; `len < 0`: to the end, and the size too.
    pub fn copy_range(&self, fd: c_int, sfd: c_int, off: i64, len: i64) -> Res<()> {
        let reader = self.readable(fd)?;
        without_direct(sfd, || copy_file_range_or_read(reader, sfd, off, len))
    }

    /// The first mutation through this open: journal it (once), with the file's inode on
    /// the follower (`sfd`) when there is one. A directory's open is changed through its
    /// entries: they are in doubt, not the directory's own metadata.
    pub fn begin_intent(&self, sfd: Option<c_int>) {
        if self.intent.load(Ordering::Relaxed) == 0 {
            let rel = self.rel();
            if self.is_dir() {
                self.intent.store(crate::members::intent_begin_entries(&rel), Ordering::Relaxed);
                return;
            }
            let id = crate::members::intent_begin(&rel);
            self.intent.store(id, Ordering::Relaxed);
            if let Some(sfd) = sfd {
                crate::members::note_inode(id, &rel, || real::fstat(sfd).ok().map(|st| st.st_ino));
            }
        }
    }

    /// The write intent this open is under, if any.
    pub fn intent_id(&self) -> Option<u64> {
        Some(self.intent.load(Ordering::Relaxed)).filter(|&id| id != 0)
    }

    /// The intent to end at the process's end, unless the file is insecure: taken, so that
    /// it is ended once. Lock-free (it runs at exit).
    pub fn take_clean_intent(&self) -> Option<u64> {
        // Diverged: reported already (`report_insecure_now` took the reason), still in doubt.
        let clean = !self.is_insecure() && !self.has(Mark::Diverged);
        let id = if clean { self.intent.swap(0, Ordering::Relaxed) } else { 0 };
        (id != 0).then_some(id)
    }

    /// Just made by the program's open: the file position is 0, and `intent` is the one the
    /// open itself began (creation, truncation; 0: none). `ino`: the lead's inode, noted
    /// with the intent (recover looks for it on both members).
    pub fn opened(&self, intent: u64, ino: u64) {
        self.learn_position(0, POSITION_EPOCH.load(Ordering::Acquire));
        if intent != 0 {
            self.intent.store(intent, Ordering::Relaxed);
            crate::members::note_inode(intent, &self.rel(), || Some(ino));
        }
    }

    /// In a fork child (allocation-free, no lock): the parent's intent is the parent's.
    pub fn forget_intent(&self) {
        if self.intent.swap(0, Ordering::Relaxed) != 0 {
            self.set(Mark::ParentsIntent);
        }
    }

    /// Before the last link closes: give the secondary the primary's times, so that
    /// members stay identical even in what the kernel stamped at each write; then the
    /// write intent is over, unless the members may differ (recover will see to it).
    pub fn settle(&self, fd: c_int) {
        let order = self.lock_order(true);
        self.settle_in_order(fd, &order);
    }

    /// The file's order, held while one of the program's fds or mappings lets go of this
    /// open (`settle_in_order`, `fdtable::change`): this process's mutations of the file
    /// under way end first, and any of them begun before comes after, as natively after
    /// the close (EBADF).
    pub fn order_for_close(&self) -> OrderGuard<'_> {
        self.lock_order(true)
    }

    /// `settle`, with the file's order held.
    pub fn settle_in_order(&self, fd: c_int, _order: &OrderGuard<'_>) {
        // After every queued write of the file, those of writes under way as the order was
        // taken included (drained before it, they reached the follower after its times).
        crate::behind::drain();
        if self.secondary_fd().is_some() && self.is_written() {
            self.settle_follower(fd);
        } else {
            self.check_position(fd, None);
        }
        // Without a follower fd (the member left: the change list has the path) there is
        // nothing in doubt either; an insecure file keeps its intent for recover.
        let id = self.intent.swap(0, Ordering::Relaxed);
        if id != 0 && !self.is_insecure() {
            crate::members::intent_end(id);
        }
        crate::outage::end(self);
    }
}

impl Ocb {
    /// `settle`'s part on the follower's file, under the file's order (held by the caller):
    /// no process's write lands between the lead's times read here and the follower's set,
    /// and every writer settles under it at its last close, so the follower keeps the lead's
    /// latest times.
    fn settle_follower(&self, fd: c_int) {
        // Read under the order (see `to_follower`).
        let Some(sfd) = self.secondary_fd() else { return };
        // A lead that cannot say its times is the lead's trouble (its next operation finds
        // out), never the follower's.
        let Ok(mut lead) = real::fstat(fd) else { return };
        let at_known_end = self.check_position(fd, Some(lead.st_size));
        // Bytes the lead got past the follower's end behind the shim's back (the loader of
        // a child writing an inherited stderr before its shim started) are copied. A
        // directory (settled after an fsync) has none: its size is the file system's own
        // (4096 on ext4, 40 + entries on tmpfs), and a copy of it was reported as a failure.
        let is_file = lead.st_mode & libc::S_IFMT == libc::S_IFREG;
        // Nor has an open for reading alone: no write through it changes bytes, and its
        // follower's fd takes none (a call another thread passed through its number as it
        // was opened marks it `GlibcStream`, for its metadata: the copy failed EBADF and
        // reported the file).
        let writable = self.flags & libc::O_ACCMODE != libc::O_RDONLY;
        if let Some(follower) = (!at_known_end && is_file && writable).then(|| real::fstat(sfd).ok()).flatten() {
            // A stream of glibc's may have overwritten anything: the whole file.
            let copy = match self.has(Mark::GlibcStream) {
                true => Some((0, -1)),
                false => (lead.st_size > follower.st_size).then(|| (follower.st_size, lead.st_size - follower.st_size)),
            };
            if let Some((off, len)) = copy {
                self.begin_intent(Some(sfd));
                if let Err(e) = self.copy_range(fd, sfd, off, len) {
                    let _ = crate::members::follower_failed(&self.rel(), "copy", e, Some(self));
                }
                // Reading the lead may have moved its atime.
                let Ok(now) = real::fstat(fd) else { return };
                lead = now;
            }
        }
        if self.has(Mark::GlibcStream) {
            level_owner_and_mode(sfd, &lead);
        }
        match real::futimens(sfd, &times_of(&lead)) {
            Ok(_) => {}
            // A writer that does not own the file may not set exact times: each member keeps
            // the stamp its kernel gave it at the write, which need not be the lead's (a clock
            // tick between the two). Where they differ the file is reported and left to
            // `recover` (run as root, it may). Before, the mtimes stayed apart, unreported,
            // no recover due (found by a helper's hunt: Postfix's daemons write lock files
            // root made, 2 to 52 of 200 such files a run).
            Err(Errno(libc::EPERM | libc::EACCES)) => {
                // Refused for another reason (an append-only or immutable file refuses every
                // caller, root too, and recover as well): left as the kernel has it.
                let euid = unsafe { libc::geteuid() };
                let not_owner = euid != 0 && euid != lead.st_uid;
                if not_owner && real::fstat(sfd).is_ok_and(|f| (f.st_mtime, f.st_mtime_nsec) != (lead.st_mtime, lead.st_mtime_nsec)) {
                    self.mark_insecure_because("its times could not be made the lead's: the writer does not own the file".to_string());
                }
            }
            Err(e) => {
                let _ = crate::members::follower_failed(&self.rel(), "futimens", e, Some(self));
            }
        }
    }

    /// Before an exec that carries the file into the new image: the follower gets what a
    /// last close would give it, the lead's times (each member's kernel stamped its own at
    /// the creation and at each write) and bytes the shim did not see. The new image ends
    /// the carried intent once it has adopted the file, and may never close it (killed).
    pub fn settle_carried(&self, fd: c_int) {
        if self.is_written() {
            let _order = self.lock_order(true);
            self.settle_follower(fd);
        }
    }

    /// From `_exit` (which settles nothing else): the follower's file gets the lead's times,
    /// as at a last close. Async-signal-safe: two syscalls, no lock, no allocation.
    pub fn settle_times_now(&self, fd: c_int) {
        if let Some(sfd) = self.secondary_fd().filter(|_| self.is_written()) {
            let _ = lead_times_to(fd, sfd);
        }
    }

    /// From `_exit`, which copies nothing: bytes the lead got past the follower's end that
    /// the shim did not see (see `fill_unseen`; a last close would have copied them) are
    /// reported, and the file's intent kept for `recover`. Only while no process is
    /// writing the file (its stripe free before and after the look: another process's write
    /// between the lead's and the follower's part is no unseen one). Async-signal-safe:
    /// two fstats and two loads.
    pub fn check_tail_now(&self, fd: c_int) {
        let Some(sfd) = self.secondary_fd().filter(|_| self.is_written() && !self.position_followed()) else { return };
        // A file whose intent the parent began (a fork child's inherited stream) is the
        // parent's to level at its last close.
        if self.has(Mark::ParentsIntent) {
            return;
        }
        let registry = &crate::members::shared().registry;
        let (stripe, queued) = (registry.file_lock(self.stripe()), registry.file_queued(self.stripe()));
        let quiet = || stripe.load(Ordering::SeqCst) == 0 && queued.load(Ordering::SeqCst) == 0;
        if !quiet() {
            return;
        }
        if let (Ok(lead), Ok(follower)) = (real::fstat(fd), real::fstat(sfd)) {
            let unseen = lead.st_size > follower.st_size || (self.has(Mark::GlibcStream) && lead.st_size == follower.st_size && !same_bytes(fd, sfd, lead.st_size));
            if lead.st_mode & libc::S_IFMT == libc::S_IFREG && unseen && quiet() && !self.set(Mark::Diverged) {
                report::record_now(Code::InsecureFile, &self.rel, "bytes the shim did not see, at _exit");
            }
        }
    }

    /// Whether bytes may reach the file through this open beyond what its writes name and
    /// what lies past the member's end (which an enable copies anyway, as the last close
    /// copies what glibc's own writes to fd 0-2 leave past the follower's end): its members
    /// may differ (marked insecure, now or before), or one of glibc's own streams writes it,
    /// which may seek and write anywhere unseen. Such an open's part in an outage names the
    /// file whole.
    pub fn writes_unseen(&self) -> bool {
        self.has(Mark::Diverged) || self.has(Mark::GlibcStream)
    }

    /// Its members may differ, not yet reported.
    fn is_insecure(&self) -> bool {
        let held = self.insecure.load(Ordering::Acquire);
        !held.is_null() && !is_deferred(held)
    }

    /// `report_if_insecure` from `_exit`: allocation-free, so the reason is left unfreed (the
    /// process is ending). Before, an insecure file of a process that left by `_exit` was
    /// never reported (its intent kept `recover` due, which only `status` showed).
    pub fn report_insecure_now(&self) {
        let why = self.insecure.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !why.is_null() && !is_deferred(why) {
            // SAFETY: made by `Box::into_raw` in mark_insecure and never freed.
            report::record_now(Code::InsecureFile, &self.rel, unsafe { &*why });
        }
    }

    /// Reports the file once if its members may differ (a deferred difference that no
    /// change made one is none).
    pub fn report_if_insecure(&self) {
        let why = self.insecure.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if why.is_null() {
            return;
        }
        // SAFETY: made by `Box::into_raw` in mark_insecure or defer_insecure; the swap made
        // it this call's alone.
        let reason = unsafe { Box::from_raw(untagged(why)) };
        if !is_deferred(why) {
            crate::members::account(0, -1);
            report::record(Code::InsecureFile, &self.rel(), &reason);
        }
    }
}

impl Drop for Ocb {
    fn drop(&mut self) {
        crate::members::account(-1, 0);
        crate::outage::forget(self);
        crate::hooks::lock::let_go_anchor(self as *const Ocb as usize);
        if let Some(sfd) = self.secondary_fd() {
            close_internal(sfd);
        }
        let reader = self.reader.load(Ordering::Relaxed);
        if reader >= 0 {
            close_internal(reader);
        }
        self.report_if_insecure();
    }
}

/// The follower's file (`sfd`) gets the lead's times (`fd`), without the file's order lock
/// (from `_exit`, which may not wait for it, and after a refused call): read again after
/// they are set, and set again while the lead moved meanwhile. Before, another process's
/// write and last close could land between the read and the set, and the older times set
/// last stayed on the follower. A lead that holds still after the set gives the follower
/// times it still has; any later change is a writer's that settles the file itself.
/// Async-signal-safe: system calls only.
pub fn lead_times_to(fd: c_int, sfd: c_int) -> Res<()> {
    let mut lead = real::fstat(fd)?;
    for _ in 0..8 {
        real::futimens(sfd, &times_of(&lead))?;
        let now = real::fstat(fd)?;
        if times_of(&now).iter().zip(times_of(&lead).iter()).all(|(a, b)| (a.tv_sec, a.tv_nsec) == (b.tv_sec, b.tv_nsec)) {
            return Ok(());
        }
        lead = now;
    }
    Ok(())
}

/// The follower's file (`sfd`) given the lead's owner and mode, where changes no hook saw
/// may have made them differ (`Ocb::reached_unseen`): the owner first, whose change clears
/// set-id bits. What cannot be made so (not the owner, not root) is the difference a
/// `recover` run as root levels; left as the kernel has it.
fn level_owner_and_mode(sfd: c_int, lead: &libc::stat64) {
    let Ok(follower) = real::fstat(sfd) else { return };
    if (follower.st_uid, follower.st_gid) != (lead.st_uid, lead.st_gid) {
        let _ = real::fchown(sfd, lead.st_uid, lead.st_gid);
    }
    if follower.st_mode != lead.st_mode || (follower.st_uid, follower.st_gid) != (lead.st_uid, lead.st_gid) {
        let _ = real::fchmod(sfd, lead.st_mode & 0o7777);
    }
}

pub fn times_of(st: &libc::stat64) -> [libc::timespec; 2] {
    [
        libc::timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec },
        libc::timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec },
    ]
}

/// The bytes of a data write, where the program has them.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    /// The first `n` bytes an iovec array describes (valid for the call); `usize::MAX`:
    /// all of them, not counted yet (see `sized`).
    Iov(*const libc::iovec, c_int, usize),
}

impl Payload<'_> {
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Iov(_, _, n) => *n,
        }
    }

    /// Whether `len()` is their count, known before the write (an iovec array the shim
    /// could not read is counted by the lead's write).
    pub fn sized(&self) -> bool {
        self.len() != usize::MAX
    }

    /// Their first `n` (at most `len()`).
    pub fn first(self, n: usize) -> Self {
        match self {
            Payload::Bytes(b) => Payload::Bytes(&b[..n.min(b.len())]),
            Payload::Iov(iov, cnt, all) => Payload::Iov(iov, cnt, n.min(all)),
        }
    }

    /// Writes them at `at`, from the program's own buffers: no copy, and an O_DIRECT
    /// follower gets the alignment the lead accepted. `rwf`: pwritev2 flags for each write.
    pub fn write_at(&self, fd: c_int, at: i64, rwf: c_int) -> Res<()> {
        self.write_counted(fd, at, rwf).1
    }

    /// As `write_at`, saying how many bytes were written, all or up to an error.
    pub fn write_counted(&self, fd: c_int, at: i64, rwf: c_int) -> (usize, Res<()>) {
        match *self {
            Payload::Bytes(b) if rwf == 0 => pwrite_counted(fd, b, at),
            Payload::Bytes(b) => {
                let one = libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() };
                unsafe { crate::hooks::data::pwritev_counted(fd, &one, 1, b.len(), at, rwf) }
            }
            Payload::Iov(iov, cnt, n) => unsafe { crate::hooks::data::pwritev_counted(fd, iov, cnt, n, at, rwf) },
        }
    }

    /// `f` of their buffers, as an iovec array.
    fn with_segments<R>(&self, f: impl FnOnce(&[libc::iovec]) -> R) -> R {
        match self {
            Payload::Bytes(b) => f(&[libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() }]),
            // SAFETY: an iovec array counted by its size is readable (iov_payload).
            Payload::Iov(iov, cnt, _) => f(unsafe { std::slice::from_raw_parts(*iov, (*cnt).max(0) as usize) }),
        }
    }

    /// Copies them to `dst`, which has room for `len()` bytes.
    pub unsafe fn copy_to(&self, dst: *mut u8) {
        match *self {
            Payload::Bytes(b) => std::ptr::copy_nonoverlapping(b.as_ptr(), dst, b.len()),
            Payload::Iov(iov, cnt, n) => {
                let mut done = 0;
                for i in 0..cnt.max(0) as usize {
                    let v = *iov.add(i);
                    let take = v.iov_len.min(n - done);
                    if take > 0 {
                        std::ptr::copy_nonoverlapping(v.iov_base as *const u8, dst.add(done), take);
                    }
                    done += take;
                    if done == n {
                        break;
                    }
                }
            }
        }
    }
}

/// The bytes of a write, read once from the program's memory, for both members: the
/// program's buffer may change while the write is made (another thread, or another process
/// through shared memory: PostgreSQL inserts WAL records into the page its WAL writer is
/// writing), and read twice, once for each member, the members got different bytes, while
/// the write counted as made on both (seen after a crash: a WAL page that differed, and no
/// intent left to say so). Natively the file gets the bytes as the kernel read them once.
pub struct Snapshot {
    ptr: *mut u8,
    /// The buffer's capacity (4 KiB-aligned).
    cap: usize,
    len: usize,
    /// The copy's segments, one per segment of the program's (an iovec array), each at the
    /// same offset within its page as the program's: an O_DIRECT write is accepted or
    /// refused (EINVAL) for its alignment exactly as natively.
    segments: Segments,
}

/// One segment (a write from one buffer) without an allocation, or many.
enum Segments {
    One([libc::iovec; 1]),
    Many(Vec<libc::iovec>),
}

impl Segments {
    fn as_slice(&self) -> &[libc::iovec] {
        match self {
            Segments::One(v) => v,
            Segments::Many(v) => v,
        }
    }
}

/// Each thread's buffer for the copies of its writes, kept between writes (neither a 512 B
/// nor a 1 MiB write is worth a new buffer: a fresh 1 MiB costs its page faults); freed when
/// the thread ends. Buffers are anonymous mappings, not the allocator's: one freed gives its
/// memory back at once (a freed 4 MiB malloc chunk stays in its arena). A buffer up to
/// `SMALLEST` is always kept; larger ones only while all the large buffers of the process
/// together stay within `LARGE_KEPT` (32 threads each keeping a 4 MiB buffer made 139 MB of
/// RSS for a program that natively used 6).
struct Spare(std::cell::Cell<(*mut u8, usize)>);

/// The bytes of the buffers larger than `Spare::SMALLEST` that exist now, kept or in use.
static LARGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Spare {
    const SMALLEST: usize = 64 << 10;
    const LARGE_KEPT: usize = 16 << 20;

    /// A buffer of `cap` bytes (a multiple of the page size), or null.
    fn map(cap: usize) -> *mut u8 {
        // SAFETY: a new private anonymous mapping, touching nothing else.
        let p = unsafe { crate::real::raw::mmap(std::ptr::null_mut(), cap, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        if cap > Self::SMALLEST {
            LARGE.fetch_add(cap, std::sync::atomic::Ordering::Relaxed);
        }
        p.cast()
    }

    /// SAFETY: `p` came from `map(cap)` and is not used again.
    unsafe fn unmap(p: *mut u8, cap: usize) {
        unsafe { crate::real::raw::munmap(p.cast(), cap) };
        if cap > Self::SMALLEST {
            LARGE.fetch_sub(cap, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether a buffer of `cap` bytes, no longer in use, is worth keeping.
    fn keeps(cap: usize) -> bool {
        cap <= Self::SMALLEST || LARGE.load(std::sync::atomic::Ordering::Relaxed) <= Self::LARGE_KEPT
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        let (p, cap) = self.0.get();
        if !p.is_null() {
            // SAFETY: mapped with this capacity in Snapshot::copy.
            unsafe { Self::unmap(p, cap) };
        }
    }
}

thread_local! {
    static SPARE: Spare = const { Spare(std::cell::Cell::new((std::ptr::null_mut(), 0))) };
}

impl Snapshot {
    /// Up to this, the copy is a memcpy after each page's readability is checked (once, then
    /// remembered until the address space changes: mem::readable); past it, one
    /// process_vm_readv, which finds memory that faults as it goes (it costs about a
    /// microsecond: as much as a small write).
    const BY_KERNEL: usize = 64 << 10;

    /// None when there is nothing to copy, the shim may not read it (the lead's write then
    /// answers EFAULT as natively), or no memory can be had for it (the program's own
    /// buffers are used, as before).
    pub fn of(bytes: &Payload) -> Option<Snapshot> {
        let n = bytes.len();
        if n == 0 || !bytes.sized() {
            return None;
        }
        bytes.with_segments(|from| Self::copy(bytes, from))
    }

    fn copy(bytes: &Payload, from: &[libc::iovec]) -> Option<Snapshot> {
        let n = bytes.len();
        // Where each segment goes: after the previous one, at its own offset in a page.
        let place = |at: usize, v: &libc::iovec| at + (v.iov_base as usize).wrapping_sub(at) % 4096;
        let need = from.iter().try_fold(0usize, |at, v| place(at, v).checked_add(v.iov_len))?.max(1);
        // In a signal handler nothing is allocated (the handler may have interrupted the
        // allocator): the spare buffer when it will do, else the program's own buffers.
        let handling = crate::signals::in_handler();
        if handling && from.len() > 1 {
            return None;
        }
        // The thread's spare buffer when it is big enough (a thread being torn down, or a
        // write inside a write, has none): else a new one.
        let spare = SPARE.try_with(|s| s.0.replace((std::ptr::null_mut(), 0))).unwrap_or((std::ptr::null_mut(), 0));
        let (ptr, cap) = match spare {
            (p, cap) if !p.is_null() && cap >= need => (p, cap),
            (p, cap) if handling => {
                let _ = SPARE.try_with(|s| s.0.set((p, cap)));
                return None;
            }
            (p, cap) => {
                if !p.is_null() {
                    // SAFETY: mapped with this capacity below.
                    unsafe { Spare::unmap(p, cap) };
                }
                let cap = need.checked_next_multiple_of(4096)?.max(Spare::SMALLEST);
                (Spare::map(cap), cap)
            }
        };
        if ptr.is_null() {
            return None;
        }
        let mut at = 0;
        let mut to = from.iter().map(|v| {
            at = place(at, v);
            // SAFETY: within the `need` bytes at `ptr`.
            let seg = libc::iovec { iov_base: unsafe { ptr.add(at) }.cast(), iov_len: v.iov_len };
            at += v.iov_len;
            seg
        });
        let segments = match from.len() {
            1 => Segments::One([to.next()?]),
            _ => Segments::Many(to.collect()),
        };
        let snapshot = Snapshot { ptr, cap, len: n, segments };
        let copied = if n <= Self::BY_KERNEL {
            bytes.with_segments(|v| v.iter().all(|v| v.iov_len == 0 || crate::mem::readable(v.iov_base as *const u8, v.iov_len))) && {
                for (v, to) in from.iter().zip(snapshot.segments.as_slice()).filter(|(v, _)| v.iov_len > 0) {
                    // SAFETY: every byte is readable, and each place has room for its segment.
                    unsafe { std::ptr::copy_nonoverlapping(v.iov_base as *const u8, to.iov_base as *mut u8, v.iov_len) };
                }
                true
            }
        } else {
            from.chunks(libc::UIO_MAXIOV as usize).zip(snapshot.segments.as_slice().chunks(libc::UIO_MAXIOV as usize)).all(|(f, t)| crate::mem::read_own(f, t))
        };
        copied.then_some(snapshot)
    }

    /// The copy as the lead's write takes it: an iovec array, one segment per segment of
    /// the program's.
    pub fn iov(&self) -> (*const libc::iovec, c_int) {
        let v = self.segments.as_slice();
        (v.as_ptr(), v.len() as c_int)
    }

    /// The copy of a write from one buffer.
    pub fn bytes(&self) -> &[u8] {
        let one = self.segments.as_slice().first().map_or((self.ptr, 0), |v| (v.iov_base as *mut u8, v.iov_len));
        // SAFETY: the segment lies in the buffer, all written by `of`.
        unsafe { std::slice::from_raw_parts(one.0, one.1) }
    }

    /// The copy as the follower (or the write-behind queue) takes it.
    pub fn payload(&self) -> Payload<'_> {
        match &self.segments {
            Segments::One(_) => Payload::Bytes(self.bytes()),
            Segments::Many(v) => Payload::Iov(v.as_ptr(), v.len() as c_int, self.len),
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let (ptr, cap) = (self.ptr, self.cap);
        if Spare::keeps(cap) {
            // Kept for the thread's next write, unless it has one (a write inside a write).
            let kept = SPARE.try_with(|s| s.0.get().0.is_null() && {
                s.0.set((ptr, cap));
                true
            });
            if kept == Ok(true) {
                return;
            }
        }
        // SAFETY: mapped in `copy` with this capacity.
        unsafe { Spare::unmap(ptr, cap) };
    }
}

/// Whether the first `len` bytes of the files behind `a` and `b` (fds of any access mode)
/// are the same, read through descriptions of their own with stack buffers (from `_exit`:
/// allocation-free). An error counts as a difference.
fn same_bytes(a: c_int, b: c_int, len: i64) -> bool {
    let (Some(ra), Some(rb)) = (readable_now(a), readable_now(b)) else { return false };
    let (mut x, mut y) = ([0u8; 4096], [0u8; 4096]);
    let mut at = 0;
    let same = loop {
        if at >= len {
            break true;
        }
        let want = ((len - at) as usize).min(x.len());
        match (real::pread(ra, &mut x[..want], at), real::pread(rb, &mut y[..want], at)) {
            (Ok(n), Ok(m)) if n == m && n > 0 && x[..n] == y[..n] => at += n as i64,
            _ => break false,
        }
    };
    let _ = (real::close(ra), real::close(rb));
    same
}

/// A read-only description of `fd`'s file, opened through /proc/thread-self/fd with the
/// path built on the stack (allocation-free).
fn readable_now(fd: c_int) -> Option<c_int> {
    let mut path = [0u8; 48];
    let prefix = b"/proc/thread-self/fd/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let (mut n, mut i) = (fd.max(0) as u32, digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    path[prefix.len()..prefix.len() + d.len()].copy_from_slice(d);
    let path = std::ffi::CStr::from_bytes_until_nul(&path).ok()?;
    real::open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()
}

pub fn pwrite_all(fd: c_int, buf: &[u8], off: i64) -> Res<()> {
    pwrite_counted(fd, buf, off).1
}

/// `pwrite_all`, saying how many bytes were written, all or up to an error.
fn pwrite_counted(fd: c_int, buf: &[u8], off: i64) -> (usize, Res<()>) {
    let mut done = 0;
    while done < buf.len() {
        match real::pwrite(fd, &buf[done..], off + done as i64) {
            Ok(0) => return (done, Err(Errno(libc::EIO))),
            Ok(n) => done += n,
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return (done, Err(e)),
        }
    }
    (done, Ok(()))
}

/// Clears O_DIRECT on the follower's fd `sfd` where the lead's status `flags` has none.
/// Never set: a follower without it takes any alignment, and the shim's queued and copied
/// writes come from its own buffers, not aligned as the program's.
pub fn follow_direct(sfd: c_int, flags: c_int) {
    if flags & libc::O_DIRECT != 0 {
        return;
    }
    if let Ok(status) = real::fcntl(sfd, libc::F_GETFL, 0) {
        if status & libc::O_DIRECT != 0 {
            let _ = real::fcntl(sfd, libc::F_SETFL, (status & !libc::O_DIRECT) as libc::c_long);
        }
    }
}

/// Runs `f` with O_DIRECT lifted from the follower's fd (the shim's own, used under the
/// file's order lock): the shim's copies need not be aligned.
pub fn without_direct<T>(sfd: c_int, f: impl FnOnce() -> Res<T>) -> Res<T> {
    let status = real::fcntl(sfd, libc::F_GETFL, 0)?;
    if status & libc::O_DIRECT == 0 {
        return f();
    }
    real::fcntl(sfd, libc::F_SETFL, (status & !libc::O_DIRECT) as libc::c_long)?;
    let r = f();
    let _ = real::fcntl(sfd, libc::F_SETFL, status as libc::c_long);
    r
}

fn copy_file_range_or_read(reader: c_int, sfd: c_int, off: i64, len: i64) -> Res<()> {
    let size = real::fstat(reader)?.st_size;
    let end = if len < 0 { size } else { (off + len).min(size) };
    let (mut ro, mut wo) = (off, off);
    while ro < end {
        let want = (end - ro) as usize;
        match real::copy_file_range(reader, &mut ro, sfd, &mut wo, want) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno(libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS)) => {
                let mut buf = vec![0u8; 1 << 16];
                while ro < end {
                    let want = ((end - ro) as usize).min(buf.len());
                    let n = real::pread(reader, &mut buf[..want], ro)?;
                    if n == 0 {
                        break;
                    }
                    pwrite_all(sfd, &buf[..n], ro)?;
                    ro += n as i64;
                }
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if len < 0 {
        real::ftruncate(sfd, size)?;
    }
    Ok(())
}

/// Opens the follower's counterpart (at `at`) of a file the lead just opened, matching what
/// the lead's open did to the name (another process may change it between the two: see
/// members::retry_racing). `created`: the lead's open created the file, so the follower's
/// must too; an entry already there is another's removal still on its way, or stale (see
/// members::follower_entry_is_stale), then removed and created afresh. An O_CREAT open that
/// found the file on the lead finds it on the follower too (another's creation may be on its
/// way), or creates it when it is missing there.
pub fn open_secondary(at: &crate::resolve::At, flags: c_int, mode: mode_t, created: bool) -> Res<c_int> {
    open_secondary_resolved(at, flags, mode, created, 0)
}

/// `open_secondary` walking the path with openat2's `resolve` flags (0: none), as the
/// program's own open did on the lead (RESOLVE_IN_ROOT must keep the follower's walk in
/// its directory too).
pub fn open_secondary_resolved(at: &crate::resolve::At, flags: c_int, mode: mode_t, created: bool, resolve: u64) -> Res<c_int> {
    let sflags = (flags & !(libc::O_APPEND | libc::O_EXCL | libc::O_NOCTTY)) | libc::O_CLOEXEC;
    let open_as = |f: c_int| {
        if resolve == 0 {
            return open_internal(|| real::openat(at.fd, &at.path, f, mode));
        }
        open_internal(|| real::openat2(at.fd, &at.path, f, mode, resolve))
    };
    let open = |f: c_int| match open_as(f) {
        // An append-only file (`chattr +a`) opens for writing only to append. The follower's
        // fd then appends too: where the program's appends land on the lead, the follower's
        // end, which the shim's writes at that offset reach. Before, its open failed EPERM
        // and the file was reported insecure, the follower a write behind.
        Err(Errno(libc::EPERM)) if flags & libc::O_APPEND != 0 => open_as(f | libc::O_APPEND),
        r => r,
    };
    let stale = crate::members::follower_entry_is_stale;
    if created {
        match open(sflags | libc::O_CREAT | libc::O_EXCL) {
            // Removed first, whatever it is (a symlink must not be followed, a FIFO must
            // not be waited on); a directory stays, and the create fails on it.
            Err(Errno(libc::EEXIST)) if stale() => {
                let _ = real::unlinkat(at.fd, &at.path, 0);
                return open(sflags | libc::O_CREAT | libc::O_EXCL);
            }
            r => return r,
        }
    } else if sflags & libc::O_CREAT != 0 {
        match open(sflags & !libc::O_CREAT) {
            Err(Errno(libc::ENOENT)) if stale() => {}
            r => return r,
        }
    }
    open(sflags)
}

#[cfg(test)]
mod tests {
    /// An open file costs its OCB (in an `Arc`: two counts more) in one malloc chunk, of
    /// 16-byte steps with 8 bytes of header: 72 bytes keep it in a 96-byte chunk, and the
    /// shim under 256 bytes per open file (`make bench`, memory row).
    #[test]
    fn an_ocb_fits_a_96_byte_malloc_chunk() {
        let in_arc = std::mem::size_of::<super::Ocb>() + 2 * std::mem::size_of::<usize>();
        assert!((in_arc + 8).next_multiple_of(16) <= 96, "Arc<Ocb> takes {in_arc} bytes");
    }
}
