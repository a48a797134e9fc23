//! A file description that processes share (an fd inherited over fork or exec, or passed)
//! stays one description across a lead move. Each process moves its fds to the new lead's
//! file when it takes up the move, one process after another; each opening a description
//! of its own left them one each, at the position each had, and a parent's and a child's
//! writes through what natively is one fd overwrote each other's from the move on (a
//! shell's `exec 4>log` with commands writing to fd 4; `make > log` and its compilers).
//!
//! So a process that moves a shared description publishes the move in the registry's
//! handoff table: its pid, an fd of its own on the description before the move and one on
//! the description after. Another process moving the same description (kcmp: the same open
//! file as the first process's fd before) takes that description after (pidfd_getfd), as
//! it is, at the position the others have moved it to, and publishes it too: a process
//! moving it later finds one that still lives. The fds are kept until every process of the
//! set has taken up the move (see `kept_ms` for a member out of service). The follower's
//! file opened again for a shared description is published the same way (`Kind`), so the
//! processes sharing it share that too. Where the kernel will not hand the
//! description over (no kcmp, no pidfd_getfd, no right to ptrace the other process), or no
//! process that published it still does, the process opens a description of its own as
//! before: a process that ends a publication (at exit, exec, or when it is done) first sets
//! its description before at its description after's position, so that one opening its own
//! later goes on from where the writes got to (one killed by SIGKILL cannot).

use crate::real::{self, Errno};
use libc::c_int;
use shadow_core::state::registry::{HANDOFF_BUSY, HANDOFF_CLAIMED, HANDOFF_ENTRIES, HANDOFF_FOLLOWER};

/// What a publication hands over: the description a lead move made, or the follower's file
/// opened again for a description (`enable secondary`: each process sharing it opened one
/// of its own, and a flock they held through it was refused on the second, reported).
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Lead,
    Follower,
}

impl Kind {
    fn bit(self) -> u32 {
        match self {
            Kind::Lead => 0,
            Kind::Follower => HANDOFF_FOLLOWER,
        }
    }
}

/// The pid in an entry's pid word.
fn owner_of(word: u32) -> u32 {
    word & !(HANDOFF_BUSY | HANDOFF_CLAIMED | HANDOFF_FOLLOWER)
}
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Moves this process has published, at most this many at once (a fixed table: the exit
/// work that ends them runs in `_exit`, where nothing may allocate). A move past them is
/// made but not published.
const KEPT_MAX: usize = 64;

/// `Kept::entry` of a place being filled or claimed (`claim`).
const FILLING: usize = usize::MAX - 1;

struct Kept {
    /// The registry entry; `usize::MAX`: this place is free; `FILLING`.
    entry: AtomicUsize,
    before: AtomicI32,
    after: AtomicI32,
    /// The epoch of the move: kept until every process of the set has taken it up, or
    /// `kept_ms` after `since` (members::coarse_ms) once the description before is on a
    /// member no longer written.
    epoch: AtomicU64,
    since: AtomicU64,
    /// Where the description before is (`members::tree_of`; 0: not known).
    tree: AtomicU64,
    /// `Kind::bit` of the publication.
    kind: AtomicU32,
}

/// A move stays published until every process of the set has taken it up: a shell asleep
/// in `wait` while the lead left (`{ echo start; make; echo end; } > log`) that took it up
/// after the publication had ended opened a description of its own where the writes were
/// then, and its line overwrote what `make` wrote after. Where the description before is
/// on a member taken out of service, after the config's `handoff_hold` it ends unless a
/// process that has not taken it up holds that description (then the member is held
/// anyway): an idle process of the set (a daemon) must not keep every other's fds there
/// open for ever.
fn kept_ms() -> u64 {
    crate::set::get().config.handoff_hold * 1000
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Kept = Kept { entry: AtomicUsize::new(usize::MAX), before: AtomicI32::new(-1), after: AtomicI32::new(-1), epoch: AtomicU64::new(0), since: AtomicU64::new(0), tree: AtomicU64::new(0), kind: AtomicU32::new(0) };
static KEPT: [Kept; KEPT_MAX] = [FREE; KEPT_MAX];
/// Whether some of `KEPT` is in use: every hook looks at this alone.
static PENDING: AtomicBool = AtomicBool::new(false);
/// When `retire_due` may look at the registry next (members::coarse_ms).
static NEXT_LOOK: AtomicU64 = AtomicU64::new(0);

fn own_pid() -> u32 {
    std::process::id()
}

/// This process is moving the shared description behind `before` (the program's fd, still
/// on it): while it does, another process moving the same one waits for it, rather than
/// open one of its own at the same time (processes that write often take up a move at
/// nearly the same moment: before, two of five did so in one of ten runs). Of two that
/// claim one move at once, the one whose registry entry comes first goes first. None: no
/// room to claim (the move goes on unordered).
pub fn claim(before: c_int, kind: Kind) -> Option<Claim> {
    forget_inherited();
    let place = KEPT.iter().position(|k| k.entry.compare_exchange(usize::MAX, FILLING, Ordering::SeqCst, Ordering::SeqCst).is_ok())?;
    let give_back = || KEPT[place].entry.store(usize::MAX, Ordering::SeqCst);
    let registry = &crate::members::shared().registry;
    let me = own_pid();
    // A free entry, or one of a process gone (killed as it filled it, too).
    let entry = (0..HANDOFF_ENTRIES).find(|&i| {
        let pid = registry.handoff(i)[0];
        let cur = pid.load(Ordering::SeqCst);
        let owner = owner_of(cur);
        let free = cur == 0 || (owner != me && !shadow_core::shared::process_alive(owner));
        free && pid.compare_exchange(cur, me | HANDOFF_BUSY, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    });
    let Some(entry) = entry else {
        give_back();
        return None;
    };
    let [pid, eb, _, ticket] = registry.handoff(entry);
    let Ok(b) = crate::ocb::dup_internal(before) else {
        pid.store(0, Ordering::SeqCst);
        give_back();
        return None;
    };
    let mine = registry.handoff_ticket();
    eb.store(b as u32, Ordering::SeqCst);
    ticket.store(mine, Ordering::SeqCst);
    pid.store(me | HANDOFF_CLAIMED | kind.bit(), Ordering::SeqCst);
    KEPT[place].before.store(b, Ordering::SeqCst);
    KEPT[place].kind.store(kind.bit(), Ordering::SeqCst);
    Some(Claim { place, entry, ticket: mine, kind })
}

/// A move of a shared description this process has claimed (`claim`), to be published
/// (`publish`) or given up (`abandon`).
pub struct Claim {
    place: usize,
    entry: usize,
    ticket: u32,
    kind: Kind,
}

/// Whether ticket `a` was taken before `b` (tickets wrap).
fn earlier(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

/// The description after the move of the shared description behind this process's `fd`,
/// as another process that moved it has published it, if one has, and whether it `fits`
/// (it is the new lead's file this process would open). One published for an earlier move
/// is followed on to the description that move's own move made, to the last: a process
/// that slept through the lead leaving and coming back twice would otherwise stop at the
/// first description on the same file, one the others left behind, at an old position, and
/// write over their lines; and one that slept through a move the others made and a return
/// they have not taken up yet stopped at the last that fitted, one they had left since
/// (helper-46). A process that claimed the move
/// before `mine` (a lower ticket) is waited for, 5 s at most: longer than it may take to
/// take its POSIX locks on the new lead's file (lock::take_posix_before_move).
pub fn take_over(fd: c_int, mine: Option<&Claim>, kind: Kind, fits: impl Fn(c_int) -> bool) -> Taken {
    let registry = &crate::members::shared().registry;
    let me = own_pid();
    let my_ticket = mine.map(|c| c.ticket);
    let mine = mine.map_or(HANDOFF_ENTRIES, |c| c.entry);
    let mut cur = fd;
    // The last description of the chain.
    let mut last: Option<c_int> = None;
    let mut waited = 0;
    // Bounded: publications end after kept_ms, and a chain cannot grow faster than members
    // change; a longer one is a process that slept through all of them, which opens its own.
    let mut hops = 0;
    while hops < 16 {
        let mut ahead = false;
        let next = (0..HANDOFF_ENTRIES).filter(|&i| i != mine).find_map(|i| {
            let [pid, before, after, ticket] = registry.handoff(i);
            let p = pid.load(Ordering::SeqCst);
            let owner = owner_of(p);
            if p == 0 || p & HANDOFF_BUSY != 0 || p & HANDOFF_FOLLOWER != kind.bit() || owner == me || !real::same_description(me, cur, owner, before.load(Ordering::SeqCst) as c_int) {
                return None;
            }
            if p & HANDOFF_CLAIMED != 0 {
                ahead |= my_ticket.is_none_or(|t| earlier(ticket.load(Ordering::SeqCst), t)) && shadow_core::shared::process_alive(owner);
                return None;
            }
            if moved_back_since(cur, i, p & HANDOFF_FOLLOWER, ticket.load(Ordering::SeqCst)) {
                return None;
            }
            let a = after.load(Ordering::SeqCst) as c_int;
            let got = real::fd_of_process(owner, a).ok()?;
            // The publisher ends an entry by freeing it before closing its fds: still its
            // own now, the fd it gave was the one published.
            if pid.load(Ordering::SeqCst) != p || after.load(Ordering::SeqCst) as c_int != a {
                let _ = real::close(got);
                return None;
            }
            Some(got)
        });
        let Some(got) = next else {
            if ahead && waited < 5000 {
                unsafe { libc::nanosleep(&libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 }, std::ptr::null_mut()) };
                waited += 1;
                continue;
            }
            break;
        };
        if let Some(old) = last.replace(got) {
            let _ = real::close(old);
        }
        cur = got;
        hops += 1;
    }
    match last {
        Some(d) if fits(d) => Taken::Fits(d),
        Some(d) => Taken::Behind(d),
        None => Taken::Nothing,
    }
}

/// What `take_over` found: a description on the file this process would open (`Fits`); the
/// last the others' moves made, on another member's file (`Behind`: they have not taken up
/// this change yet); nothing published. Each fd is the caller's to close.
pub enum Taken {
    Fits(c_int),
    Behind(c_int),
    Nothing,
}

impl Taken {
    /// The description that fits, if one does (another is closed).
    pub fn fitting(self) -> Option<c_int> {
        match self {
            Taken::Fits(d) => Some(d),
            Taken::Behind(d) => {
                let _ = real::close(d);
                None
            }
            Taken::Nothing => None,
        }
    }
}

/// A move of the shared description behind a program's fd, as `follow_moves` found it.
pub struct Moves {
    /// The claim to publish this process's move under (`publish`), or to `abandon`.
    pub claim: Option<Claim>,
    /// The description after the move that another process made, taken over.
    pub handed: Option<c_int>,
    /// Where a description this process opens itself goes on from (position, status
    /// flags): the program's fd, or `behind`'s.
    pub from: c_int,
    pub behind: Option<Behind>,
}

/// The shim's fd on the last description the others' moves made (`Taken::Behind`), closed
/// when dropped.
pub struct Behind(c_int);

impl Drop for Behind {
    fn drop(&mut self) {
        crate::hooks::lock::close_keeping_locks(self.0, None);
    }
}

/// `claim` and `take_over` of the lead's move of the shared description behind `fd`. Where
/// the moves the others made end on a description not on the new lead's file (a process
/// that slept through `disable primary`, which another took up and wrote after, taking up
/// the `enable` first), the move goes on from that one, as the processes holding it will:
/// claimed (a process moving it now is waited for) and published as its move, so that they
/// take this one; and at its position. Before, it went on from the program's own, left at
/// the position of the first move: its writes went over the lines written since, and the
/// others then opened descriptions of their own (helper-46: bash's subshells writing to
/// `{ …; } > log` while the primary was disabled and enabled).
pub fn follow_moves(fd: c_int, fits: impl Fn(c_int) -> bool) -> Moves {
    let first = claim(fd, Kind::Lead);
    match take_over(fd, first.as_ref(), Kind::Lead, &fits) {
        Taken::Fits(d) => Moves { claim: first, handed: Some(d), from: fd, behind: None },
        Taken::Nothing => Moves { claim: first, handed: None, from: fd, behind: None },
        Taken::Behind(last) => {
            if let Some(c) = first {
                abandon(c);
            }
            let last = crate::ocb::make_internal(last);
            let claim = claim(last, Kind::Lead);
            let handed = take_over(last, claim.as_ref(), Kind::Lead, &fits).fitting();
            Moves { claim, handed, from: last, behind: Some(Behind(last)) }
        }
    }
}

/// Whether a move published after move `i` (its `ticket`) took the description behind
/// `cur` back into use: the follower's file became the program's again (`disable primary`
/// after the lead came back), so move `i` out of it, to a description left behind since at
/// an old position, is not where the processes sharing it went. Before, while an idle
/// process of the set kept every publication alive, a process that took up the lead's next
/// return first followed it there and wrote over the lines written since (helper-46: bash's
/// subshells writing to `{ …; } > log`).
fn moved_back_since(cur: c_int, i: usize, kind_bit: u32, ticket: u32) -> bool {
    let registry = &crate::members::shared().registry;
    let me = own_pid();
    (0..HANDOFF_ENTRIES).filter(|&j| j != i).any(|j| {
        let [pid, _, after, later] = registry.handoff(j);
        let p = pid.load(Ordering::SeqCst);
        p != 0
            && p & (HANDOFF_BUSY | HANDOFF_CLAIMED) == 0
            && p & HANDOFF_FOLLOWER == kind_bit
            && earlier(ticket, later.load(Ordering::SeqCst))
            && real::same_description(me, cur, owner_of(p), after.load(Ordering::SeqCst) as c_int)
    })
}

/// Whether another process has moved the shared description behind `fd` (published).
pub fn moved_by_another(fd: c_int) -> bool {
    take_over(fd, None, Kind::Lead, |_| true).fitting().map(real::close).is_some()
}

/// The claimed move is made: the description after is `after`, taken up in `epoch`, the
/// one before on `tree` (`members::tree_of`, 0: not known); published for the other
/// processes that share the description.
pub fn publish(claim: Claim, after: c_int, epoch: u64, tree: u64) {
    let place = &KEPT[claim.place];
    let Ok(a) = crate::ocb::dup_internal(after) else { return abandon(claim) };
    let me = own_pid();
    let [pid, _, ea, _] = crate::members::shared().registry.handoff(claim.entry);
    ea.store(a as u32, Ordering::SeqCst);
    pid.store(me | claim.kind.bit(), Ordering::SeqCst);
    place.after.store(a, Ordering::SeqCst);
    place.epoch.store(epoch, Ordering::SeqCst);
    place.since.store(crate::members::coarse_ms(), Ordering::SeqCst);
    place.tree.store(tree, Ordering::SeqCst);
    place.entry.store(claim.entry, Ordering::SeqCst);
    PENDING.store(true, Ordering::SeqCst);
    OWNER.store(me, Ordering::SeqCst);
}

/// The claimed move was not made (no new description): the claim goes.
pub fn abandon(claim: Claim) {
    let place = &KEPT[claim.place];
    let _ = crate::members::shared().registry.handoff(claim.entry)[0].compare_exchange(own_pid() | HANDOFF_CLAIMED | claim.kind.bit(), 0, Ordering::SeqCst, Ordering::SeqCst);
    // A copy of the program's fd on its file, which it keeps: its POSIX locks stay.
    crate::hooks::lock::close_keeping_locks(place.before.load(Ordering::SeqCst), None);
    place.entry.store(usize::MAX, Ordering::SeqCst);
}

/// The pid `KEPT` was filled by: in a fork child they are the parent's.
static OWNER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// In a fork child, the parent's published moves are the parent's: the child's copies of
/// their fds are closed (allocation-free).
pub fn forget_inherited() {
    if !PENDING.load(Ordering::SeqCst) || OWNER.load(Ordering::SeqCst) == own_pid() {
        return;
    }
    for k in KEPT.iter() {
        if k.entry.swap(usize::MAX, Ordering::SeqCst) < HANDOFF_ENTRIES {
            crate::ocb::close_internal(k.before.load(Ordering::SeqCst));
            crate::ocb::close_internal(k.after.load(Ordering::SeqCst));
        }
    }
    PENDING.store(false, Ordering::SeqCst);
}

/// Whether published moves wait to be ended (`retire_due`).
#[inline]
pub fn pending() -> bool {
    PENDING.load(Ordering::Relaxed)
}

/// `retire_due` at once, before this process takes up a member change: a move every
/// process had taken up, still published because this one made no call since, kept the
/// description before open, and a flock it holds on that member's file (a parent's and its
/// child's, shared) refused the lead's coming back (`disable primary`, `enable primary`:
/// reported `00030`).
pub fn retire_before_change() {
    if pending() {
        NEXT_LOOK.store(0, Ordering::Relaxed);
        retire_due();
    }
}

/// Ends the published moves every process of the set has taken up, or published long
/// enough. Looks at the registry at most every 100 ms.
pub fn retire_due() {
    forget_inherited();
    let now = crate::members::coarse_ms();
    if now < NEXT_LOOK.load(Ordering::Relaxed) {
        return;
    }
    NEXT_LOOK.store(now + 100, Ordering::Relaxed);
    let registry = &crate::members::shared().registry;
    let mut left = false;
    for k in KEPT.iter().filter(|k| k.entry.load(Ordering::SeqCst) != usize::MAX) {
        let epoch = k.epoch.load(Ordering::SeqCst);
        let old = now.saturating_sub(k.since.load(Ordering::SeqCst)) > kept_ms() && !crate::members::tree_written(k.tree.load(Ordering::SeqCst)) && !held_by_a_sleeper(k, epoch, now);
        if k.entry.load(Ordering::SeqCst) < HANDOFF_ENTRIES && (old || registry.all_seen(epoch)) {
            end(k, true);
        } else {
            left = true;
        }
    }
    PENDING.store(left, Ordering::SeqCst);
}

/// Whether a process that has not taken up `epoch` holds the description before of `k`
/// (looked for in its fds, once a second at most: `since` moves on).
fn held_by_a_sleeper(k: &Kept, epoch: u64, now: u64) -> bool {
    let me = own_pid();
    let b = k.before.load(Ordering::SeqCst);
    let held = crate::members::shared().registry.unseen(epoch).filter(|&p| p != me).any(|p| real::fds_of_process(p, |fd| real::same_description(me, b, p, fd)));
    if held {
        k.since.store((now + 1000).saturating_sub(kept_ms()), Ordering::SeqCst);
    }
    held
}

/// Ends a published move: the entry first (a process taking it over checks it is still
/// there after it took the fd), then the fds (`close`; not at exit, which closes them,
/// and where the fd table's lock must not be waited for), keeping the process's POSIX
/// locks on their files. The description before is set at the position of the last
/// description this process moved it on to (the one after, or where a later move of that
/// one took it: the one after had been left at an old position), for a process that
/// opens its own later.
fn end(k: &Kept, close: bool) {
    let i = k.entry.load(Ordering::SeqCst);
    if i >= HANDOFF_ENTRIES || k.entry.compare_exchange(i, usize::MAX, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return;
    }
    let (b, a) = (k.before.load(Ordering::SeqCst), k.after.load(Ordering::SeqCst));
    // (A follower's publication: the description before is the program's, which goes on.)
    let lead = k.kind.load(Ordering::SeqCst) == Kind::Lead.bit();
    if let Some(pos) = lead.then(|| real::lseek(latest(a), 0, libc::SEEK_CUR).ok()).flatten() {
        let _ = real::lseek(b, pos, libc::SEEK_SET);
    }
    let pid = crate::members::shared().registry.handoff(i)[0];
    let _ = pid.compare_exchange(own_pid() | k.kind.load(Ordering::SeqCst), 0, Ordering::SeqCst, Ordering::SeqCst);
    if close {
        crate::hooks::lock::close_keeping_locks(b, None);
        crate::hooks::lock::close_keeping_locks(a, None);
    }
}

/// The last description this process's published moves took `desc` on to (allocation-free).
fn latest(desc: c_int) -> c_int {
    let me = own_pid();
    let mut cur = desc;
    for _ in 0..KEPT_MAX {
        let next = KEPT.iter().filter(|k| k.entry.load(Ordering::SeqCst) < HANDOFF_ENTRIES && k.kind.load(Ordering::SeqCst) == Kind::Lead.bit()).find(|k| real::same_description(me, cur, me, k.before.load(Ordering::SeqCst)));
        match next {
            Some(k) => cur = k.after.load(Ordering::SeqCst),
            None => break,
        }
    }
    cur
}

/// Before an exec into an image that runs under the shim: this process's published moves
/// go on in the new image, their fds kept open across the exec and named to it (the text
/// returned: each move's entry, fds, epoch, start, tree and kind; `take_carried`), their
/// registry entries, whose pid stays, left as they are. Before, the exec ended them: a
/// shell's command that took up a move first (`exec > log`, then `/bin/echo` each line)
/// wrote through its description, which the exec's end of the publication had left no
/// other process to take, and the shell, taking up the move after, opened one of its own at
/// the position of the exec: the next command's line went over the first one's (helper-47).
/// The flags are put back when the guard is dropped (the exec failed).
pub fn carry_across_exec() -> Option<(String, CarriedAcross)> {
    if !PENDING.load(Ordering::SeqCst) || OWNER.load(Ordering::SeqCst) != own_pid() {
        return None;
    }
    let mut named = Vec::new();
    let mut fds = Vec::new();
    for k in KEPT.iter().filter(|k| k.entry.load(Ordering::SeqCst) < HANDOFF_ENTRIES) {
        let (b, a) = (k.before.load(Ordering::SeqCst), k.after.load(Ordering::SeqCst));
        if real::fcntl(b, libc::F_SETFD, 0).is_ok() && real::fcntl(a, libc::F_SETFD, 0).is_ok() {
            named.push(format!("{}:{b}:{a}:{}:{}:{}:{}", k.entry.load(Ordering::SeqCst), k.epoch.load(Ordering::SeqCst), k.since.load(Ordering::SeqCst), k.tree.load(Ordering::SeqCst), k.kind.load(Ordering::SeqCst)));
            fds.extend([b, a]);
        }
    }
    (!named.is_empty()).then(|| (named.join(","), CarriedAcross(fds)))
}

/// The fds of published moves kept open across an exec (`carry_across_exec`).
pub struct CarriedAcross(Vec<c_int>);

impl Drop for CarriedAcross {
    fn drop(&mut self) {
        for &fd in &self.0 {
            let _ = real::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC as libc::c_long);
        }
    }
}

/// In a new image, at start-up before its inherited fds are adopted: the published moves
/// the old image carried across the exec (`carry_across_exec`'s `text`) are this one's,
/// their fds the shim's own again. One whose registry entry is not this process's any more,
/// or whose fds are gone, is dropped.
pub fn take_carried(text: &str) {
    let me = own_pid();
    let registry = &crate::members::shared().registry;
    for move_ in text.split(',') {
        let Some([entry, before, after, epoch, since, tree, kind]) = move_.split(':').map(|n| n.parse::<u64>().ok()).collect::<Option<Vec<_>>>().and_then(|v| <[u64; 7]>::try_from(v).ok()) else { continue };
        let (entry, before, after, kind) = (entry as usize, before as c_int, after as c_int, kind as u32);
        let ours = entry < HANDOFF_ENTRIES && registry.handoff(entry)[0].load(Ordering::SeqCst) == me | kind;
        let open = [before, after].map(|fd| real::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC as libc::c_long).is_ok());
        let kept = open == [true, true];
        let place = KEPT.iter().find(|k| k.entry.compare_exchange(usize::MAX, FILLING, Ordering::SeqCst, Ordering::SeqCst).is_ok());
        match (ours && kept, place) {
            (true, Some(k)) => {
                crate::fdtable::set_internal(before, true);
                crate::fdtable::set_internal(after, true);
                k.before.store(before, Ordering::SeqCst);
                k.after.store(after, Ordering::SeqCst);
                k.epoch.store(epoch, Ordering::SeqCst);
                k.since.store(since, Ordering::SeqCst);
                k.tree.store(tree, Ordering::SeqCst);
                k.kind.store(kind, Ordering::SeqCst);
                k.entry.store(entry, Ordering::SeqCst);
                OWNER.store(me, Ordering::SeqCst);
                PENDING.store(true, Ordering::SeqCst);
            }
            (_, place) => {
                if let Some(k) = place {
                    k.entry.store(usize::MAX, Ordering::SeqCst);
                }
                if ours {
                    let _ = registry.handoff(entry)[0].compare_exchange(me | kind, 0, Ordering::SeqCst, Ordering::SeqCst);
                }
                for (fd, _) in [before, after].into_iter().zip(open).filter(|&(_, open)| open) {
                    crate::hooks::lock::close_keeping_locks(fd, None);
                }
            }
        }
    }
}

/// At exit (`_exit` too: allocation-free), or before an exec (`close`: the exec would
/// close the fds, and with them the process's POSIX locks on their files): every
/// published move ends.
pub fn end_all(close: bool) {
    if !PENDING.load(Ordering::SeqCst) || OWNER.load(Ordering::SeqCst) != own_pid() {
        return;
    }
    let saved = Errno::last();
    KEPT.iter().for_each(|k| end(k, close));
    PENDING.store(false, Ordering::SeqCst);
    saved.set();
}

/// The program dup2'd onto one of the kept fds: it moved to `new` (hooks::open::relocate_internal).
pub fn relocate(old: c_int, new: c_int) {
    if !PENDING.load(Ordering::SeqCst) {
        return;
    }
    let registry = &crate::members::shared().registry;
    for k in KEPT.iter().filter(|k| k.entry.load(Ordering::SeqCst) < HANDOFF_ENTRIES) {
        let [_, eb, ea, _] = registry.handoff(k.entry.load(Ordering::SeqCst));
        for (held, published) in [(&k.before, eb), (&k.after, ea)] {
            if held.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                published.store(new as u32, Ordering::SeqCst);
            }
        }
    }
}
