//! Locks on shadowed files: fcntl's POSIX (`F_SETLK`, `F_SETLKW`) and open-file-description
//! (`F_OFD_SETLK`, `F_OFD_SETLKW`) locks, `flock` and `lockf`. A lock is the kernel's, on one
//! member's file; the program's is the lead's, made as it asked (a wait outside the shim).
//! Each one taken or let go is then made on the follower's file too, without waiting, so
//! that when the lead goes (a failure, `disable`), the member that becomes the lead already
//! holds the program's locks, and another process's lock there is refused as natively.
//! Before 2026-12-05 locks stayed on the old lead's file: from the move on, another process
//! got every lock the holder still believed it held. When the lead moves, the locks this
//! process held are taken again on the files it then holds (`held_by`,
//! `take_again`): the shim's own closes drop POSIX locks, and a new description has none.

use crate::boundary;
use crate::fdtable;
use crate::real::{raw, Errno};
use crate::resolve::Rel;
use libc::{c_int, c_long, off64_t};

/// A lock as /proc reports it for a description (`/proc/PID/fdinfo/FD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    kind: Kind,
    write: bool,
    start: i64,
    /// Inclusive; None: to the end of the file, whatever it grows to.
    end: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Posix,
    Ofd,
    Flock,
}

thread_local! {
    /// The fd whose lock call this thread is following, or -1.
    static LOCKING: std::cell::Cell<c_int> = const { std::cell::Cell::new(-1) };
}

/// Whether this process has taken a lock on a shadowed file (or inherited one): until then
/// a member change reads no fd's locks.
static SEEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The files this process has taken POSIX locks on, through the program's fds or the
/// shim's, by a key of their device and inode (0: a free slot): closing any fd of one drops
/// every lock the process holds on it, so the shim's own temporary fds on them are closed
/// keeping the locks (`holds_posix_on`). Atomics, not a locked list: looked at from code a
/// fork may copy mid-change. A key shared by two files, or a list full (`LOCKED_MANY`),
/// costs only a needless read of /proc/locks.
static LOCKED_FILES: [std::sync::atomic::AtomicU64; 64] = [const { std::sync::atomic::AtomicU64::new(0) }; 64];
static LOCKED_MANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static ANY_LOCKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn file_key(st: &libc::stat64) -> u64 {
    (st.st_dev.rotate_left(40) ^ st.st_ino) | 1
}

fn note_locked(fd: c_int) {
    use std::sync::atomic::Ordering::SeqCst;
    let Ok(st) = crate::real::fstat(fd) else { return };
    let key = file_key(&st);
    ANY_LOCKED.store(true, SeqCst);
    for slot in &LOCKED_FILES {
        match slot.compare_exchange(0, key, SeqCst, SeqCst) {
            Ok(_) => return,
            Err(k) if k == key => return,
            Err(_) => {}
        }
    }
    LOCKED_MANY.store(true, SeqCst);
}

/// Whether `fd` is on a file this process may hold POSIX locks on: one atomic load while it
/// has taken none.
pub fn holds_posix_on(fd: c_int) -> bool {
    use std::sync::atomic::Ordering::SeqCst;
    if !ANY_LOCKED.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    let Ok(st) = crate::real::fstat(fd) else { return false };
    let key = file_key(&st);
    LOCKED_MANY.load(SeqCst) || LOCKED_FILES.iter().map(|s| s.load(SeqCst)).take_while(|&k| k != 0).any(|k| k == key)
}

/// Closes `fd`, a temporary fd of the shim's (an open's first number, before it moved into
/// the shim's range; an open made to wait for a lease, to flush or to read a file): as
/// `close_keeping_locks` (through `keep` first) on a file the process holds POSIX locks on,
/// a plain close otherwise. Natively the program's calls that the shim makes these for
/// drop no lock.
pub fn close_temporary(fd: c_int, keep: Option<c_int>) {
    match holds_posix_on(fd) {
        true => close_keeping_locks(fd, keep),
        false => {
            // One of the shim's (a reader let go at a lead move): its mark goes with it, or
            // a program later handed that number found it refused (EBADF).
            if crate::fdtable::is_internal(fd) {
                return crate::ocb::close_internal(fd);
            }
            let _ = crate::real::close(fd);
        }
    }
}

/// Whether a member change must look for locks to take again (`held_by`).
pub fn seen() -> bool {
    SEEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// The locks a `/proc/PID/fdinfo/FD` text lists (`lock:` lines; requests still waiting,
/// `->`, are not held).
pub fn parse_fdinfo(text: &str) -> Vec<Held> {
    text.lines()
        .filter_map(|l| l.strip_prefix("lock:"))
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // id: KIND ADVISORY|MANDATORY READ|WRITE PID DEV:INO START END
            let kind = match *f.get(1)? {
                "POSIX" => Kind::Posix,
                "OFDLCK" => Kind::Ofd,
                "FLOCK" => Kind::Flock,
                _ => return None,
            };
            let write = match *f.get(3)? {
                "WRITE" => true,
                "READ" => false,
                _ => return None,
            };
            let start = f.get(6)?.parse().ok()?;
            let end = match *f.get(7)? {
                "EOF" => None,
                n => Some(n.parse().ok()?),
            };
            Some(Held { kind, write, start, end })
        })
        .collect()
}

/// The locks taken through the description `fd` is open on, as /proc lists them: the
/// program's, read before a member change to be taken again after it (`take_again`); the
/// follower's, to put the lead's back as they were (`Part::undo`).
pub fn held_by(fd: c_int) -> Vec<Held> {
    std::fs::read_to_string(format!("/proc/thread-self/fdinfo/{fd}")).map(|t| parse_fdinfo(&t)).unwrap_or_default()
}

/// Takes `lock` through `fd` without waiting.
fn take(fd: c_int, lock: &Held) -> Result<(), Errno> {
    if set(fd, lock, false) != 0 {
        return Err(Errno::last());
    }
    if lock.kind == Kind::Posix {
        note_locked(fd);
    }
    Ok(())
}

/// `lock` set on `fd` without waiting, or let go of (`unlock`).
fn set(fd: c_int, lock: &Held, unlock: bool) -> c_int {
    match lock.kind {
        Kind::Flock => unsafe { raw::flock(fd, if unlock { libc::LOCK_UN } else if lock.write { libc::LOCK_EX } else { libc::LOCK_SH } | libc::LOCK_NB) },
        Kind::Posix | Kind::Ofd => {
            let mut fl: libc::flock = unsafe { std::mem::zeroed() };
            fl.l_type = if unlock { libc::F_UNLCK } else if lock.write { libc::F_WRLCK } else { libc::F_RDLCK } as libc::c_short;
            fl.l_whence = libc::SEEK_SET as libc::c_short;
            fl.l_start = lock.start;
            fl.l_len = lock.end.map_or(0, |e| e - lock.start + 1);
            let cmd = if lock.kind == Kind::Ofd { libc::F_OFD_SETLK } else { libc::F_SETLK };
            unsafe { raw::fcntl(fd, cmd, &mut fl as *mut libc::flock as c_long) }
        }
    }
}

/// At a lead move off a member taken out of service, the description locks (flock, OFD)
/// of `held` let go of on `old`, the description the program's fds leave, which other
/// processes sharing it, and this one's publication of the move, keep open: the new lead's
/// description holds them now, and the program may let go of them there. Before, the old
/// one held them on that member's file for as long as it stayed open: a shell's `flock -u 9`
/// after `disable primary` let go of the secondary's, and once the primary came back every
/// `flock` of the file was refused or waited for ever (`00030` reported for the shell's own
/// take, "another process took it"; helper-47).
pub fn let_go_described(old: c_int, held: &[Held]) {
    for lock in held.iter().filter(|h| h.kind != Kind::Posix) {
        set(old, lock, true);
    }
}

/// At a lead move, the description locks (flock, OFD) of `held` taken on `desc`, the new
/// lead's file about to replace the program's, before the old description goes (POSIX
/// ones are the process's: the shim's own close of `desc`'s number after the move would
/// drop them, so they are taken after it, by `take_again`).
pub fn take_described(rel: &Rel, desc: c_int, held: &[Held]) {
    for lock in held.iter().filter(|h| h.kind != Kind::Posix) {
        if take_soon(desc, lock).is_err() && LOCKING.with(|l| l.get()) < 0 {
            crate::report::record(shadow_core::history::Code::NamespaceMismatch, rel, "lock: held when the lead moved, refused on the new lead's file: another process took it meanwhile");
        }
    }
}

/// Whether `held` has POSIX locks (the process's, not a description's).
pub fn has_posix(held: &[Held]) -> bool {
    held.iter().any(|h| h.kind == Kind::Posix)
}

/// At a lead move, the POSIX locks of `held` taken through `desc`, the shim's fd on the new
/// lead's file, before the program's fds leave the old lead's file (closing a process's fd
/// on a file drops every POSIX lock it holds on it). `desc` is then kept open while the open
/// (`ocb`, its address) lives (`anchor`): its close would drop them again. Before, from the
/// program's fds' move to `take_again`, the process held its POSIX locks on neither member,
/// and another process that had taken up the move got them there (four SQLite writers lost
/// committed rows at `enable primary`, unreported; found by helper-40).
///
/// Tried for up to 2 s: a process that took up the move first may hold the lock on the new
/// lead's file for a moment, while the follower's part of its call (this process's lock on
/// the old lead's) is refused, which it gives up after 100 ms (1 s for a call that waits),
/// letting the lead's go. Before, this process gave up first, after 100 ms, let go of the
/// old lead's with the move, and the other then got both.
pub fn take_posix_before_move(rel: &Rel, desc: c_int, held: &[Held]) {
    for lock in held.iter().filter(|h| h.kind == Kind::Posix) {
        if take_within(desc, lock, 2000).is_err() && LOCKING.with(|l| l.get()) < 0 {
            crate::report::record(shadow_core::history::Code::NamespaceMismatch, rel, "lock: held when the lead moved, refused on the new lead's file: another process took it meanwhile");
        }
    }
}

/// The POSIX locks this process holds on the file `st` (/proc/locks: the process's locks
/// through every fd of the file, where an fd's fdinfo lists those taken through it alone).
fn posix_locks_on(st: &libc::stat64) -> Vec<Held> {
    let Ok(text) = std::fs::read_to_string("/proc/locks") else { return Vec::new() };
    let me = std::process::id().to_string();
    let file = format!("{:02x}:{:02x}:{}", libc::major(st.st_dev), libc::minor(st.st_dev), st.st_ino);
    let mine: String = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"POSIX") && f.get(4) == Some(&me.as_str()) && f.get(5) == Some(&file.as_str())
        })
        .map(|l| format!("lock:\t{l}\n"))
        .collect();
    parse_fdinfo(&mine)
}

/// Closes the shim's own `fd` without the process losing its POSIX locks: closing any fd
/// of a file drops every one the process holds on it, through whatever fd it was taken.
/// They are taken again at once (waited for up to 2 s, a refusal reported) through `keep`
/// or another fd of the process on the same file (the program's, or a follower's) that
/// the lock's kind allows (a write lock needs an fd open for writing, a read lock one open
/// for reading); with none, the program holds no fd of the file, and natively no lock
/// either. Before, the end of a shared description's handoff (handoff.rs) closed its fds
/// there, and a daemon's `lockf` on a pidfile its children shared was gone 10 s after a
/// lead move, unreported.
pub fn close_keeping_locks(fd: c_int, keep: Option<c_int>) {
    let Some(st) = seen().then(|| crate::real::fstat(fd).ok()).flatten() else { return crate::ocb::close_internal(fd) };
    let same_file = |k: c_int| k != fd && crate::real::fstat(k).is_ok_and(|b| (st.st_dev, st.st_ino) == (b.st_dev, b.st_ino));
    let others = fdtable::pick(|k, o| Some([Some(k), o.secondary_fd()])).into_iter().flatten().flatten();
    let through: Vec<c_int> = keep.into_iter().chain(others).filter(|&k| same_file(k)).collect();
    let held = posix_locks_on(&st);
    crate::ocb::close_internal(fd);
    take_all_again(&through, &held);
}

/// Takes `held` (POSIX locks the process had a moment ago) through the first of `through`
/// whose mode allows it, each waited for up to 2 s; a refusal is reported.
fn take_all_again(through: &[c_int], held: &[Held]) {
    for h in held {
        let mut r = Err(Errno(libc::EBADF));
        for &fd in through {
            r = take_within(fd, h, 2000);
            if !matches!(r, Err(Errno(libc::EBADF))) {
                break;
            }
        }
        if let Err(e) = r {
            boundary::prepare(|| {
                let rel = through.iter().find_map(|&fd| fdtable::get(fd))?.rel();
                crate::report::record(shadow_core::history::Code::NamespaceMismatch, &rel, &format!("lock: held, let go by the shim's close of a second fd of the file, refused when taken again ({}): another process took it meanwhile", e.describe()));
                Some(())
            });
        }
    }
}

/// The shim's fds that hold POSIX locks on a lead's file (`take_posix_before_move`), by
/// the address of the open they serve.
static ANCHORS: std::sync::Mutex<Vec<(usize, c_int)>> = std::sync::Mutex::new(Vec::new());
static ANCHORED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Keeps `desc` open for the open at `ocb` until it ends (`let_go_anchor`); one it kept
/// before (on the file of an earlier lead) is closed.
pub fn anchor(ocb: usize, desc: c_int) {
    let mut anchors = ANCHORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(slot) = anchors.iter_mut().find(|(o, _)| *o == ocb) {
        close_keeping_locks(std::mem::replace(&mut slot.1, desc), None);
    } else {
        anchors.push((ocb, desc));
    }
    ANCHORED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The open at `ocb` ended (its last fd closed: the program's close dropped its POSIX
/// locks on the file already).
pub fn let_go_anchor(ocb: usize) {
    if !ANCHORED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let mut anchors = ANCHORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = anchors.iter().position(|(o, _)| *o == ocb) {
        crate::ocb::close_internal(anchors.swap_remove(i).1);
    }
}

/// Before an exec, which closes the shim's fds (close-on-exec), and with them, natively
/// not, the POSIX locks they hold: each kept fd is closed now and its locks taken again
/// through the program's fd of its open (`fd_of`), which the new image keeps.
pub fn before_exec(fd_of: impl Fn(usize) -> Option<c_int>) {
    if !ANCHORED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let anchors = std::mem::take(&mut *ANCHORS.lock().unwrap_or_else(|e| e.into_inner()));
    for (ocb, desc) in anchors {
        close_keeping_locks(desc, fd_of(ocb));
    }
}

/// The program dup2'd onto a kept fd's number: it moved to `new` (hooks::open::relocate_internal).
pub fn relocate_anchor(old: c_int, new: c_int) {
    if ANCHORED.load(std::sync::atomic::Ordering::Relaxed) {
        ANCHORS.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().filter(|(_, d)| *d == old).for_each(|(_, d)| *d = new);
    }
}

/// `take`, tried for up to 100 ms while another process holds the lock (one letting it go
/// as this one takes it again: an exiting process lets go of the follower's last).
fn take_soon(fd: c_int, lock: &Held) -> Result<(), Errno> {
    take_within(fd, lock, 100)
}

/// `take`, tried for up to `ms` milliseconds while another process holds the lock.
fn take_within(fd: c_int, lock: &Held, ms: u32) -> Result<(), Errno> {
    let mut r = take(fd, lock);
    for _ in 0..ms {
        if !matches!(r, Err(Errno(libc::EAGAIN | libc::EACCES))) {
            break;
        }
        unsafe { libc::usleep(1000) };
        r = take(fd, lock);
    }
    r
}

/// A lock the program holds on the lead's file that the follower's refused (another
/// process holds one there: a member change between the two): reported, the program's
/// answer stands.
fn not_followed(fd: c_int, e: Errno) {
    boundary::prepare(|| {
        let rel = fdtable::get(fd)?.rel();
        crate::report::record(shadow_core::history::Code::NamespaceMismatch, &rel, &format!("lock: taken on the lead's file, refused on the follower's ({}): another process holds it there; if the lead goes, the lock is not held on the member that takes over", e.describe()));
        Some(())
    });
}

/// The follower's part of a lock call: an fcntl lock command with its range (made
/// absolute), or a flock operation.
#[derive(Clone, Copy)]
enum Part {
    Fcntl(c_int, libc::flock),
    Flock(c_int),
}

impl Part {
    /// Made on `sfd`, waiting if `wait`.
    fn make(self, sfd: c_int, wait: bool) -> c_int {
        match self {
            Part::Fcntl(cmd, mut fl) => {
                let cmd = match (cmd, wait) {
                    (libc::F_SETLK | libc::F_SETLKW, w) => if w { libc::F_SETLKW } else { libc::F_SETLK },
                    (_, w) => if w { libc::F_OFD_SETLKW } else { libc::F_OFD_SETLK },
                };
                unsafe { raw::fcntl(sfd, cmd, &mut fl as *mut libc::flock as c_long) }
            }
            Part::Flock(op) => unsafe { raw::flock(sfd, if wait { op & !libc::LOCK_NB } else { op | libc::LOCK_NB }) },
        }
    }

    /// Whether the program's call waits for the lock.
    fn waits(self) -> bool {
        match self {
            Part::Fcntl(cmd, fl) => matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW) && fl.l_type != libc::F_UNLCK as libc::c_short,
            Part::Flock(op) => op & (libc::LOCK_NB | libc::LOCK_UN) == 0,
        }
    }
}

/// After the lead granted the program's lock call on `fd` (`applied`: the member change
/// this process had applied before the lead's call): the follower's part, made at once.
///
/// A member change applied since (the call waited outside the shim, and the shim took it
/// up on the way back) may have moved the fd to another lead's file, where another
/// process holds the lock (the holder kept it on the member that now leads; found by a
/// helper: a waiter on the primary got the lock when the holder's fd left it at `disable
/// primary`, both then holding it): the lock is asked of the new lead again, waited for
/// outside if the program's call waits, else the call fails as that lead refuses it.
///
/// Where another process still holds the lock on the follower's file, as when it has just
/// let go of the lead's (a process that ends closes its fds in order, the follower's,
/// numbered high, last: `c-tests/lock_wait_fork.c`), it is tried again outside the shim:
/// for up to 100 ms for a call that does not wait, which is then undone on the lead and
/// fails as the follower's did (`Some(errno)`; another process holds the lock there alone,
/// as a holder that moved with the lead and made no call since does); for up to 1 s for
/// one that waits, then reported (`00030`): a follower's wait could be a wait for itself,
/// where a file description shared with another process holds the lock there (`flock -x
/// 9` in a subshell of the shell that opened fd 9 waited for ever once a member change
/// gave it a description of its own). Made from the hook's own frame with nothing there to
/// drop: a cancellation's forced unwind that meets a cleanup in an exported function's
/// frame aborts the process.
unsafe fn follow(fd: c_int, part: Part, mut applied: u64) -> Option<Errno> {
    SEEN.store(true, std::sync::atomic::Ordering::Relaxed);
    if part.takes() && matches!(part, Part::Fcntl(libc::F_SETLK | libc::F_SETLKW, _)) {
        note_locked(fd);
        if let Some(sfd) = boundary::prepare(|| fdtable::get(fd)?.secondary_fd()) {
            note_locked(sfd);
        }
    }
    let saved = Errno::last();
    // Each pass asks the members of the view it reads; one where a member change was
    // applied meanwhile (every `boundary::prepare` may apply one) ends, and the next asks
    // the new lead again through the fds the change left. Before, the tries went on with
    // the follower's fd number read before the change: closed by then, or another file's.
    'call: loop {
        let (mut sfd, mut e, seen) = loop {
            // A member change applied on the way in takes this fd's locks again, and one
            // refused is this call's to answer, not a report (`take_again`).
            LOCKING.with(|l| l.set(fd));
            let step = boundary::prepare(|| {
                LOCKING.with(|l| l.set(-1));
                if crate::members::applied_epoch() != applied && part.takes() && part.make(fd, false) != 0 {
                    let refused = Errno::last();
                    // What the call got on the lead before the change is on the follower's
                    // file now: let go while the new lead is waited for, or as the call
                    // fails (before, a call told EAGAIN kept it there).
                    if let Some(sfd) = fdtable::get(fd).and_then(|o| o.secondary_fd()).filter(|&sfd| part.lets_go_between_tries(sfd)) {
                        part.undo(sfd, fd);
                    }
                    return Some(Err(refused));
                }
                let sfd = fdtable::get(fd)?.secondary_fd()?;
                match part.make(sfd, false) {
                    0 => None,
                    _ => Some(Ok((sfd, Errno::last(), crate::members::applied_epoch()))),
                }
            });
            LOCKING.with(|l| l.set(-1));
            match step {
                None => {
                    saved.set();
                    return None;
                }
                Some(Ok(refused)) => break refused,
                Some(Err(e)) if matches!(e.0, libc::EAGAIN | libc::EACCES) && part.waits() => {
                    applied = crate::members::applied_epoch();
                    if part.make(fd, true) != 0 {
                        return Some(Errno::last());
                    }
                }
                Some(Err(e)) => return Some(e),
            }
        };
        // Runs `body` at the boundary in the view this pass reads; None once a change was
        // applied there (the pass is over).
        let in_view = |seen: u64, body: &dyn Fn() -> bool| boundary::prepare(|| Some((crate::members::applied_epoch() == seen).then(body)));
        if matches!(e.0, libc::EAGAIN | libc::EACCES) {
            let (tries, pause) = if part.waits() { (500, 2000) } else { (100, 1000) };
            let mut holding = true;
            for _ in 0..tries {
                // The lead's lock is let go while the follower's is waited for, and asked for
                // again after: held through the wait, it kept out a process that had held the
                // lock since before a lead move and was taking it again on the new lead
                // (`take_posix_before_move`), while that process's lock on this follower's
                // file kept this one's out: each waited on the other, four SQLite writers
                // polling their busy locks held the new lead's for most of 2 s, and the
                // holder's take there was refused (`00030`, exclusion then resting on one
                // member). Not a waiting call's flock or OFD lock another process may have
                // taken through a description it shares, which the lead's undone would take
                // from it. Looked at in the shim (it reads /proc: outside, the shim's own open
                // hook took a member change up behind this loop's back).
                if part.takes() {
                    match in_view(seen, &|| part.lets_go_between_tries(fd) && part.undo(fd, sfd)) {
                        Some(None) => {
                            applied = seen;
                            continue 'call;
                        }
                        Some(Some(true)) => holding = false,
                        _ => {}
                    }
                }
                libc::usleep(pause);
                if !holding {
                    if part.make(fd, false) != 0 {
                        let refused = Errno::last();
                        // Held on the lead now: that is the call's answer, as natively.
                        if !(matches!(refused.0, libc::EAGAIN | libc::EACCES) && part.waits()) {
                            return Some(refused);
                        }
                        if part.make(fd, true) != 0 {
                            return Some(Errno::last());
                        }
                        // The wait may have taken up a member change: then the lock it got is
                        // on the file the fd was before, and the call starts again.
                        match boundary::prepare(|| Some((crate::members::applied_epoch(), fdtable::get(fd).and_then(|o| o.secondary_fd())))) {
                            Some((epoch, _)) if epoch != seen => {
                                applied = seen;
                                continue 'call;
                            }
                            Some((_, Some(now))) => sfd = now,
                            _ => {
                                saved.set();
                                return None;
                            }
                        }
                    }
                    holding = true;
                }
                if part.make(sfd, false) == 0 {
                    saved.set();
                    return None;
                }
                e = Errno::last();
                // Another thread's call may have taken a change up: `sfd` may be closed.
                if crate::members::applied_epoch() != seen {
                    applied = seen;
                    continue 'call;
                }
            }
            if !part.waits() && part.takes() {
                match in_view(seen, &|| part.undo(fd, sfd)) {
                    Some(None) => {
                        applied = seen;
                        continue 'call;
                    }
                    Some(Some(true)) => return Some(e),
                    _ => {}
                }
            }
        }
        saved.set();
        not_followed(fd, e);
        return None;
    }
}

impl Part {
    /// Whether the lock this call got through `fd` may be let go while the other member's
    /// is tried again: it is a lock taken and its undo takes nothing from another process (a
    /// POSIX lock is this process's; a call that does not wait is undone at the end anyway; a
    /// flock lock this process took, `/proc` says, is no description's shared with another
    /// that held it before: a flock waiter woken on the old lead as the lead moved held it
    /// there through its wait for the new lead's, where a process that had taken up the move
    /// held the lock and tried the old lead's for 1 s, then went on, reported).
    fn lets_go_between_tries(self, fd: c_int) -> bool {
        self.takes() && (!self.waits() || matches!(self, Part::Fcntl(libc::F_SETLK | libc::F_SETLKW, _)) || matches!(self, Part::Flock(_)) && flock_is_own(fd))
    }

    /// Whether it takes a lock (rather than letting one go).
    fn takes(self) -> bool {
        match self {
            Part::Fcntl(_, fl) => fl.l_type != libc::F_UNLCK as libc::c_short,
            Part::Flock(op) => op & libc::LOCK_UN == 0,
        }
    }

    /// Puts the lead's locks through `fd` back as they were before this part's lock was
    /// granted there: as the follower's (`sfd`) still are, the follower having refused it.
    fn undo(self, fd: c_int, sfd: c_int) -> bool {
        let before = held_by(sfd);
        match self {
            Part::Flock(_) => {
                let op = match before.iter().find(|h| h.kind == Kind::Flock) {
                    Some(h) => (if h.write { libc::LOCK_EX } else { libc::LOCK_SH }) | libc::LOCK_NB,
                    None => libc::LOCK_UN,
                };
                unsafe { raw::flock(fd, op) == 0 }
            }
            Part::Fcntl(cmd, fl) => {
                let kind = if matches!(cmd, libc::F_SETLK | libc::F_SETLKW) { Kind::Posix } else { Kind::Ofd };
                let Some((start, end)) = range(fd, &fl) else { return false };
                let mut off = fl;
                off.l_type = libc::F_UNLCK as libc::c_short;
                let unlock = if kind == Kind::Posix { libc::F_SETLK } else { libc::F_OFD_SETLK };
                if unsafe { raw::fcntl(fd, unlock, &mut off as *mut libc::flock as c_long) } != 0 {
                    return false;
                }
                before.iter().filter(|h| h.kind == kind).filter_map(|h| clipped(h, start, end)).all(|h| take(fd, &h).is_ok())
            }
        }
    }
}

/// Whether the flock lock held through `fd`'s description was taken by this process: its
/// pid in `/proc` is the taker's, which a description shared with another process keeps.
fn flock_is_own(fd: c_int) -> bool {
    let me = std::process::id().to_string();
    std::fs::read_to_string(format!("/proc/thread-self/fdinfo/{fd}")).is_ok_and(|t| {
        t.lines().filter_map(|l| l.strip_prefix("lock:")).filter(|l| !l.contains("->")).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"FLOCK") && f.get(4) == Some(&me.as_str())
        })
    })
}

/// The bytes a lock request covers, first and last (None: to the end of the file, however
/// far it grows).
fn range(fd: c_int, fl: &libc::flock) -> Option<(i64, Option<i64>)> {
    let base = match fl.l_whence as c_int {
        libc::SEEK_SET => 0,
        libc::SEEK_END => crate::real::fstat(fd).ok()?.st_size,
        _ => return None,
    };
    let at = base + fl.l_start;
    Some(match fl.l_len {
        0 => (at, None),
        n if n > 0 => (at, Some(at + n - 1)),
        n => (at + n, Some(at - 1)),
    })
}

/// `h` within the bytes `start..=end`, if it reaches them.
fn clipped(h: &Held, start: i64, end: Option<i64>) -> Option<Held> {
    let s = h.start.max(start);
    let e = match (h.end, end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    };
    e.is_none_or(|e| e >= s).then_some(Held { start: s, end: e, ..*h })
}

/// The follower's form of `fcntl(fd, cmd, arg)`'s lock: its range from the position made
/// absolute (the follower's fd has a position of its own).
fn fcntl_part(fd: c_int, cmd: c_int, arg: c_long) -> Option<Part> {
    let p = arg as *const libc::flock;
    if !crate::mem::readable(p.cast(), std::mem::size_of::<libc::flock>()) {
        return None;
    }
    let mut fl = unsafe { p.read() };
    if fl.l_whence == libc::SEEK_CUR as libc::c_short {
        fl.l_start += crate::real::lseek(fd, 0, libc::SEEK_CUR).ok()?;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
    }
    Some(Part::Fcntl(cmd, fl))
}

/// Whether `cmd` takes or lets go of a lock.
pub fn is_lock(cmd: c_int) -> bool {
    matches!(cmd, libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_SETLK | libc::F_OFD_SETLKW)
}

/// fcntl(2) lock commands on a shadowed fd (`raw` the lead's call): made outside the shim
/// (a wait may last for ever: it must hold none of the shim's locks, which a fork would
/// wait for, and the program's handlers run at once), the follower's queued writes first
/// (another process may write the range once the lock is let go); then the follower's.
pub unsafe fn fcntl(fd: c_int, cmd: c_int, arg: c_long, raw: impl Fn() -> c_int) -> c_int {
    boundary::drain_queue();
    let applied = crate::members::applied_epoch();
    let part = fcntl_part(fd, cmd, arg);
    let r = raw();
    if let (0, Some(part)) = (r, part) {
        if let Some(e) = follow(fd, part, applied) {
            e.set();
            return -1;
        }
    }
    r
}

/// A close of one of several fds of an open: as the kernel lets go of every POSIX lock the
/// process holds on the lead's file, so on the follower's (`sfd`).
pub fn let_go_posix(sfd: c_int) {
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_UNLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    unsafe { raw::fcntl(sfd, libc::F_SETLK, &mut fl as *mut libc::flock as c_long) };
}

/// flock(2): as fcntl's locks.
#[no_mangle]
pub unsafe extern "C-unwind" fn flock(fd: c_int, op: c_int) -> c_int {
    if !fdtable::is_shadowed(fd) {
        return raw::flock(fd, op);
    }
    boundary::drain_queue();
    let applied = crate::members::applied_epoch();
    let r = raw::flock(fd, op);
    if r == 0 {
        if let Some(e) = follow(fd, Part::Flock(op), applied) {
            e.set();
            return -1;
        }
    }
    r
}

/// lockf(3), whose fcntl glibc makes with an internal call: as fcntl's POSIX lock of `len`
/// bytes from the position.
unsafe fn lockf_with(fd: c_int, cmd: c_int, len: off64_t, real: unsafe fn(c_int, c_int, off64_t) -> c_int) -> c_int {
    if !fdtable::is_shadowed(fd) || cmd == libc::F_TEST {
        return real(fd, cmd, len);
    }
    boundary::drain_queue();
    let applied = crate::members::applied_epoch();
    let mut fl: libc::flock = std::mem::zeroed();
    fl.l_type = if cmd == libc::F_ULOCK { libc::F_UNLCK } else { libc::F_WRLCK } as libc::c_short;
    fl.l_whence = libc::SEEK_CUR as libc::c_short;
    fl.l_len = len;
    let as_fcntl = if cmd == libc::F_LOCK { libc::F_SETLKW } else { libc::F_SETLK };
    // Its range from the position before the call (which a lock does not move).
    let part = fcntl_part(fd, as_fcntl, &mut fl as *mut libc::flock as c_long);
    let r = real(fd, cmd, len);
    if let (0, Some(part)) = (r, part) {
        if let Some(e) = follow(fd, part, applied) {
            e.set();
            return -1;
        }
    }
    r
}

/// lockf(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn lockf(fd: c_int, cmd: c_int, len: libc::off_t) -> c_int {
    lockf_with(fd, cmd, len, |f, c, l| raw::lockf(f, c, l))
}

/// lockf64(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn lockf64(fd: c_int, cmd: c_int, len: off64_t) -> c_int {
    lockf_with(fd, cmd, len, |f, c, l| raw::lockf64(f, c, l))
}

/// After a member change: `held` taken again through the program's `fd` (the new lead's
/// file if the lead moved) and the follower's `sfd` (reopened if its member came back); a
/// lock a description holds already is no change. One refused (another process took it
/// between the change and this process's next call) is reported.
pub fn take_again(rel: &Rel, fd: c_int, sfd: Option<c_int>, held: &[Held]) {
    SEEN.store(true, std::sync::atomic::Ordering::Relaxed);
    let following = LOCKING.with(|l| l.get()) == fd;
    for lock in held {
        for f in std::iter::once(fd).chain(sfd) {
            if let Err(e) = take_soon(f, lock) {
                if following && f == fd {
                    continue;
                }
                crate::report::record(shadow_core::history::Code::NamespaceMismatch, rel, &format!("lock: held when the lead moved, refused on the file now held ({}): another process took it meanwhile", e.describe()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_locks_are_read_with_their_kind_mode_and_range() {
        let text = "pos:\t0\nflags:\t0100002\nmnt_id:\t29\nino:\t1234\n\
            lock:\t1: POSIX  ADVISORY  WRITE 4321 00:1e:1234 0 9\n\
            lock:\t2: FLOCK  ADVISORY  READ 4321 00:1e:1234 0 EOF\n\
            lock:\t3: OFDLCK ADVISORY  READ -1 00:1e:1234 100 EOF\n\
            lock:\t3: -> POSIX  ADVISORY  WRITE 99 00:1e:1234 0 9\n";
        assert_eq!(
            parse_fdinfo(text),
            vec![
                Held { kind: Kind::Posix, write: true, start: 0, end: Some(9) },
                Held { kind: Kind::Flock, write: false, start: 0, end: None },
                Held { kind: Kind::Ofd, write: false, start: 100, end: None },
            ]
        );
    }

    #[test]
    fn a_lock_is_clipped_to_the_bytes_of_a_request() {
        let h = |start, end| Held { kind: Kind::Posix, write: false, start, end };
        assert_eq!(clipped(&h(0, Some(9)), 5, Some(20)), Some(h(5, Some(9))));
        assert_eq!(clipped(&h(0, None), 5, Some(20)), Some(h(5, Some(20))));
        assert_eq!(clipped(&h(30, None), 5, None), Some(h(30, None)));
        assert_eq!(clipped(&h(0, Some(4)), 5, None), None);
        assert_eq!(clipped(&h(21, Some(30)), 5, Some(20)), None);
    }

    #[test]
    fn a_request_covers_its_bytes_either_way_of_its_start() {
        let fl = |start, len| {
            let mut f: libc::flock = unsafe { std::mem::zeroed() };
            f.l_whence = libc::SEEK_SET as libc::c_short;
            f.l_start = start;
            f.l_len = len;
            f
        };
        assert_eq!(range(-1, &fl(10, 5)), Some((10, Some(14))));
        assert_eq!(range(-1, &fl(10, 0)), Some((10, None)));
        assert_eq!(range(-1, &fl(10, -4)), Some((6, Some(9))));
    }

    #[test]
    fn lines_that_are_not_locks_are_left() {
        assert_eq!(parse_fdinfo("lock:\t1: LEASE  ACTIVE    READ 1 00:1e:1 0 EOF\nlock: garbage\n"), vec![]);
    }
}
