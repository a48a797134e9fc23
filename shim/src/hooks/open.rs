//! open/creat (and the fortified `__open_2` family), close, close_range, closefrom, dup,
//! dup2, dup3, fcntl: creating OCBs and link blocks.

use crate::boundary::{self, FfiReturn};
use crate::fdtable::{self, Became};
use crate::ocb::{self, Ocb, OcbKind};
use crate::real::{self, raw, Errno, Res};
use crate::resolve::{At, Rel, Spath};
use libc::{c_char, c_int, c_long, c_uint, mode_t};
use std::ffi::CString;
use std::sync::Arc;

/// Opens a shadowed path: the primary's answer is the program's; the secondary is opened
/// alongside when the open can change the file.
pub fn open_shadowed(sp: Spath, flags: c_int, mode: mode_t) -> Res<c_int> {
    open_shadowed_by(sp, flags, mode, false, 0, |at, flags| unsafe { raw::openat64(at.fd, at.path.as_ptr(), flags, mode) }).map(|r| r.unwrap_or(-1))
}

/// `open_shadowed` for the open family's hooks: an open that may wait (a FIFO, a device:
/// see `may_wait`) is handed back as the lead's path, to be made outside the shim, where
/// the program's signal handlers run (an `alarm` set to end a FIFO open that finds no
/// reader; SIGINT in a Python program) and a fork does not wait for it. Such files carry
/// nothing to mirror.
pub fn open_shadowed_or_lead(sp: Spath, flags: c_int, mode: mode_t) -> Res<Result<c_int, CString>> {
    open_shadowed_by(sp, flags, mode, true, 0, |at, flags| unsafe { raw::openat64(at.fd, at.path.as_ptr(), flags, mode) })
}

/// An open that may change a file: writable, creating or truncating (for
/// `hooks::path_hook_or_lead`).
fn may_change(flags: c_int) -> bool {
    flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
}

/// `open_shadowed` with the lead's open made by `lead`, given the flags (openat2 keeps its
/// resolve flags, and `resolve` says them for the follower's open); `handing`: an open that
/// may wait is handed back (`Err(lead's path)`, see `open_shadowed_or_lead`), else made
/// here.
fn open_shadowed_by(sp: Spath, flags: c_int, mode: mode_t, handing: bool, resolve: u64, lead: impl Fn(&At, c_int) -> c_int) -> Res<Result<c_int, CString>> {
    let twin = |sp| if resolve == 0 { Twin::Path(sp) } else { Twin::Resolved(sp, resolve) };
    let changes = flags & (libc::O_CREAT | libc::O_TRUNC) != 0;
    // An open that opens the follower's file too (writable, creating, a directory) holds
    // the name: the two must find the same file (see names.rs). A read-only open of a
    // directory without O_DIRECTORY does not.
    let twinned = changes || flags & (libc::O_ACCMODE | libc::O_DIRECTORY) != libc::O_RDONLY;
    // What the open holds, let go once the follower's twin is open too.
    let held = std::cell::RefCell::new(Vec::new());
    let made = std::cell::Cell::new(flags);
    let handed = std::cell::Cell::new(false);
    let applied_at_open = std::cell::Cell::new(crate::members::applied_epoch());
    // A member change applied as the name was taken (its wait settles): `at` is the old
    // view's, and the open is made again in the view now, holding the name. Before, a
    // creating open made the file on a member no longer the lead, alone: SQLite's
    // `-journal` created as `enable primary` landed was missing on the primary, the
    // writer's switch to it failed (00020), and its commit's delete failed ENOENT.
    let view_moved = std::cell::Cell::new(false);
    let open = || loop {
        applied_at_open.set(crate::members::applied_epoch());
        view_moved.set(false);
        let r = super::on_lead_res(&sp, "open", |at| {
            let waits = |st: Option<&libc::stat64>| {
                if crate::members::applied_epoch() != applied_at_open.get() {
                    view_moved.set(true);
                    return true;
                }
                let waits = handing && may_wait(st, flags);
                handed.set(waits);
                waits
            };
            // An open that holds nothing and may wait (a FIFO, a device) is made without the
            // fork lock, and not in flight (a shadowctl change does not wait for it): a
            // read-only one (it holds no name), and one `open_holding` found a node for and
            // let its name go (openat2's, which is never handed back).
            let alone = std::cell::Cell::new(!twinned && could_block(flags) && flags & libc::O_PATH == 0);
            let (fd, how) = open_holding(&sp, flags, twinned, &mut held.borrow_mut(), &alone, waits, |f| {
                if alone.get() { boundary::waiting(|| lead(at, f)) } else { lead(at, f) }.into_res()
            })?;
            made.set(how);
            Ok(fd)
        });
        if !view_moved.get() {
            return r;
        }
    };
    let adopt = |fd, intent, begun| {
        // A member change applied since the lead's open (a read-only one waits outside, and
        // arrives again on its way out) left `fd` on the old lead's file, which no table
        // held to move: before, reads through it gave a disabled member's frozen bytes, and
        // changes through it reached that member alone, reported as renamed (00020).
        if crate::members::applied_epoch() != applied_at_open.get() {
            let _ = onto_lead_if_left(fd);
        }
        let Some((mut st, since)) = opened_file(fd, begun, |st| lead_is(&sp, made.get(), st)) else {
            if changes {
                made_without_its_fd(&sp, made.get(), mode);
            }
            return None;
        };
        let opened = Some(Opened { intent, since: Some(since) });
        if twinned || st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return adopt_with_stat(fd, &st, sp.rel().clone(), made.get(), mode, twin(&sp), opened);
        }
        match dir_name_held(fd, &sp, &mut st) {
            Some((_name, None)) => adopt_with_stat(fd, &st, sp.rel().clone(), made.get(), mode, twin(&sp), opened),
            Some((_name, Some(now))) => adopt_with_stat(fd, &st, now.rel().clone(), made.get(), mode, Twin::Path(&now), opened),
            None => {
                let ocb = adopt_with_stat(fd, &st, sp.rel().clone(), made.get(), mode, Twin::None, opened)?;
                if st.st_nlink > 0 {
                    ocb.mark_insecure("a directory renamed again and again as it was opened: calls through its fd reach the follower by the name it was opened by", Errno(libc::ESTALE));
                }
                Some(ocb)
            }
        }
    };
    match open_in_flight(sp.rel(), changes, open, adopt) {
        Err(_) if handed.get() => Ok(Err(super::lead_file(&sp))),
        r => r.map(Ok),
    }
}

/// What a program's open just made (`fd`, the open begun when `fdtable::let_goes()` read
/// `begun`), and the reading to link it against (`fdtable::link_opened`); None when the
/// number no longer holds it: another thread closed the number or put another file at it
/// first (a close of a stale number, a dup2 onto one it takes for its own; natively the
/// open's change stands and its fd is gone). Where the number was freed since the open
/// began, perhaps just before the kernel gave it out, `is_ours` tells by the file.
fn opened_file(fd: c_int, begun: u64, is_ours: impl FnOnce(&libc::stat64) -> bool) -> Option<(libc::stat64, u64)> {
    let st = real::fstat(fd).ok()?;
    if !fdtable::freed_since(fd, begun) {
        return Some((st, begun));
    }
    let since = fdtable::let_goes();
    let st = real::fstat(fd).ok()?;
    is_ours(&st).then_some((st, since))
}

/// Whether `st` is the lead's file at `sp`, walked as an open with `flags` walks it.
fn lead_is(sp: &Spath, flags: c_int, st: &libc::stat64) -> bool {
    lead_file(sp, flags).is_ok_and(|lead| (lead.st_dev, lead.st_ino) == (st.st_dev, st.st_ino))
}

/// The lead's file at `sp`, walked as an open with `flags` walks it.
fn lead_file(sp: &Spath, flags: c_int) -> Res<libc::stat64> {
    let follows = if flags & libc::O_NOFOLLOW == 0 { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    sp.at_lead(&crate::members::view()).and_then(|at| real::fstatat(at.fd, &at.path, follows))
}

/// An open that created or emptied a file on the lead, whose fd another thread closed or
/// replaced before the shim took it (`opened_file`): the follower's file is opened by name
/// as the lead's was (`flags`: with O_CREAT and O_EXCL if it created the file), given the
/// lead's times, and closed. Before, the file was made or emptied on the lead alone,
/// unreported (`tests/processes.rs`, the thread moving its cwd: 0-byte files on the
/// primary alone).
fn made_without_its_fd(sp: &Spath, flags: c_int, mode: mode_t) {
    let Ok(lead) = lead_file(sp, flags) else { return };
    if lead.st_mode & libc::S_IFMT != libc::S_IFREG {
        return;
    }
    crate::members::record_change(crate::members::Changed::Path(sp));
    let fresh = flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
    let follower_flags = flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW) | libc::O_WRONLY;
    match super::on_follower_res(sp, |at| ocb::open_secondary(at, follower_flags, mode, fresh)) {
        Some(Ok(sfd)) => {
            let _ = real::futimens(sfd, &ocb::times_of(&lead));
            ocb::close_internal(sfd);
        }
        Some(Err(e)) => {
            let _ = crate::members::follower_failed(sp.rel(), "open", e, None);
        }
        None => {}
    }
}

/// An open's `fd` (in no table yet) found on a member that is not the lead, after taking a
/// name or waiting applied a member change that moved the lead, is moved to the lead's file
/// of that name; whether it was. None when it could not be.
fn onto_lead_if_left(fd: c_int) -> Option<bool> {
    let v = crate::members::view();
    let target = real::readlink(&CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?).ok()?;
    if v.rel_in_lead(&target).is_some() {
        return Some(false);
    }
    let Some(rel) = v.rel_in_any(&target) else { return Some(false) };
    crate::members::move_to_lead(&v, fd, &rel, real::fcntl(fd, libc::F_GETFL, 0).ok()?).ok()?;
    Some(true)
}

/// The name, held, by which the follower's twin of a directory a read-only open found is
/// opened: that open held no name (it could not know it opens a directory), and another
/// process may have renamed the directory since, leaving the follower's directory by that
/// name another one, or none. The name it was opened by (`None` beside it) while that is
/// still this directory on the lead, else the name /proc now shows for it; `None` when
/// neither is (removed, or renamed again and again). Taking the name may apply a member
/// change that moved the lead, which leaves `fd` (in no table yet) the old lead's: it is
/// moved to the new lead's directory of that name first, `st` with it (before, each such
/// open was reported as renamed again and again, 00020, as the primary was disabled and
/// enabled, and its fd stayed on the old lead).
fn dir_name_held(fd: c_int, sp: &Spath, st: &mut libc::stat64) -> Option<(crate::stripes::Held, Option<Spath>)> {
    if let Some(held) = crate::names::hold_naming(sp, st, 0) {
        return Some((held, None));
    }
    let now_named = |st: &mut libc::stat64| {
        let v = crate::members::view();
        let link = CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?;
        if onto_lead_if_left(fd)? {
            *st = real::fstat(fd).ok()?;
        }
        for _ in 0..3 {
            let now = Spath::from_rel(Rel(v.rel_in_lead(&real::readlink(&link).ok()?)?));
            if let Some(held) = crate::names::hold_naming(&now, st, 0) {
                return Some((held, Some(now)));
            }
        }
        None
    };
    let named = now_named(st);
    if named.is_none() {
        // Removed since the open, perhaps (`st` then says so: no link left): nothing to
        // keep alike. Before, the stat taken before the removal made it a directory renamed
        // again and again (00020, recover due, members identical): helper-53, a Java
        // program listing directories another thread deletes.
        if let Ok(now) = real::fstat(fd) {
            *st = now;
        }
    }
    named
}

/// Makes the lead's open (`open`, given the flags; see `open_noting_creation`), holding in
/// `held` what it must: the name for a `twinned` open (unless it may wait: see
/// `may_wait`), and the file's bytes for an O_TRUNC open of an existing file (emptying it
/// is a change to them, ordered with other processes' writes: ocb::hold_files). `handed`
/// is told what the open finds (where it looked); if it says so, the open is not made here
/// (an error, which the caller knows for what it is).
///
/// An open of a regular file holding something is made O_NONBLOCK: one that another
/// process's lease (F_SETLEASE) holds up fails at once, and is waited for outside, holding
/// nothing, then made again. Before, the open waited for the lease to be broken holding the
/// name (and for O_TRUNC the file's bytes), which the lease holder's own write, rename or
/// release then waited for: both sat out the whole lease-break time (45 s), and the
/// holder's last write landed after the truncation it was told to make way for (found by a
/// helper's hunt; Samba's oplocks are leases).
fn open_holding(sp: &Spath, flags: c_int, twinned: bool, held: &mut Vec<crate::stripes::Held>, alone: &std::cell::Cell<bool>, handed: impl Fn(Option<&libc::stat64>) -> bool, open: impl Fn(c_int) -> Res<c_int>) -> Res<(c_int, c_int)> {
    let leasable = std::cell::Cell::new(false);
    let leased = std::cell::Cell::new(false);
    let open_or_lease = |f: c_int| if leasable.get() { open_unless_leased(&open, f, &leased) } else { open(f) };
    loop {
        if twinned && exclusive_first(flags) && held.is_empty() {
            // The exclusive try never waits (an existing FIFO answers EEXIST).
            held.push(crate::names::hold(&[sp.rel()]));
        }
        let made = open_noting_creation(flags, &open_or_lease, || {
            // Looked at holding the name, so that what is found is what the open opens; and
            // through a final symlink, the name of the file it leads to (names::hold_reached).
            let follows = flags & (libc::O_NOFOLLOW | libc::O_DIRECTORY) == 0 && flags & (libc::O_CREAT | libc::O_EXCL) != libc::O_CREAT | libc::O_EXCL;
            let target = if twinned && follows { sp.leads_to() } else { None };
            if twinned && (held.is_empty() || target.is_some()) {
                held.clear();
                held.push(crate::names::hold_reached(sp, target.is_some()));
            }
            let found = lead_entry(sp, flags, twinned);
            if handed(found.as_ref()) {
                return Err(Errno(libc::EAGAIN));
            }
            if twinned && may_wait(found.as_ref(), flags) {
                held.clear();
                alone.set(true);
            }
            if let Some(st) = found.filter(|st| flags & libc::O_TRUNC != 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG) {
                held.extend(crate::ocb::hold_files(&[st]));
            }
            leasable.set(!held.is_empty() && could_block(flags) && found.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG));
            Ok(())
        });
        if !leased.replace(false) {
            return made;
        }
        // Holding nothing, the fork lock neither (`alone`).
        held.clear();
        leasable.set(false);
        alone.set(true);
        lease_let_go(&open, flags);
        alone.set(false);
    }
}

/// `open(f)` made O_NONBLOCK, so that a lease another process holds on the file (see
/// `open_holding`) answers at once: EWOULDBLOCK, with `leased` set. The flag is taken off
/// again (one fcntl), leaving the status flags an open sets.
fn open_unless_leased(open: impl Fn(c_int) -> Res<c_int>, f: c_int, leased: &std::cell::Cell<bool>) -> Res<c_int> {
    let r = open(f | libc::O_NONBLOCK);
    match r {
        Ok(fd) => drop(real::fcntl(fd, libc::F_SETFL, (f & (libc::O_APPEND | libc::O_DIRECT | libc::O_NOATIME)) as libc::c_long)),
        Err(Errno(libc::EWOULDBLOCK)) => leased.set(true),
        Err(_) => {}
    }
    r
}

/// Waits, as an open with `flags` would, for a lease that held such an open up to be let
/// go, by that open without creating or emptying anything, closed at once. The caller
/// holds nothing meanwhile, and makes this wait outside the shim.
fn lease_let_go(open: impl Fn(c_int) -> Res<c_int>, flags: c_int) {
    if let Ok(fd) = open(flags & (libc::O_ACCMODE | libc::O_NOFOLLOW) | libc::O_CLOEXEC) {
        crate::hooks::lock::close_temporary(fd, None);
    }
}

/// Breaks a lease another process holds on the lead's regular file `at` and waits for it
/// outside the shim, as the open for writing or the truncate about to be made would.
pub fn wait_for_lease(at: &At) {
    let open = |f: c_int| real::openat(at.fd, &at.path, f, 0);
    let leased = std::cell::Cell::new(false);
    match open_unless_leased(open, libc::O_WRONLY | libc::O_CLOEXEC, &leased) {
        Ok(fd) => crate::hooks::lock::close_temporary(fd, None),
        Err(_) if leased.get() => boundary::waiting(|| lease_let_go(open, libc::O_WRONLY)),
        Err(_) => {}
    }
}

/// An O_CREAT open without O_EXCL, tried with it first (see `open_noting_creation`).
fn exclusive_first(flags: c_int) -> bool {
    flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT && flags & libc::O_TMPFILE != libc::O_TMPFILE
}

/// Makes an open (`open`, given the flags), saying with O_EXCL in the flags returned whether
/// it created the file: then the follower's open must create it too (another process may
/// have removed the name on the lead, its removal not yet on the follower: see
/// ocb::open_secondary). An O_CREAT open without O_EXCL is first made with it, then, if the
/// file exists, as asked: one failed open more for an existing file. `as_asked` runs just
/// before the open as asked (a file the exclusive try created needs no look first); its
/// error is the open's, made no further.
fn open_noting_creation(flags: c_int, open: impl Fn(c_int) -> Res<c_int>, as_asked: impl FnOnce() -> Res<()>) -> Res<(c_int, c_int)> {
    if exclusive_first(flags) {
        match open(flags | libc::O_EXCL) {
            Ok(fd) => return Ok((fd, flags | libc::O_EXCL)),
            // A symlink (O_EXCL never follows one) or an existing file: the open as asked.
            Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
    }
    as_asked()?;
    open(flags).map(|fd| (fd, flags))
}

/// The lead's entry an open finds, where the open must know it (one fstatat): whether a
/// twinned open may wait (see `may_wait`), which file an O_TRUNC open empties. Not for an
/// O_CREAT|O_EXCL open, which finds nothing or fails.
fn lead_entry(sp: &Spath, flags: c_int, twinned: bool) -> Option<libc::stat64> {
    let exclusive = flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
    if exclusive || !(twinned && could_block(flags)) && flags & libc::O_TRUNC == 0 {
        return None;
    }
    let follow = if flags & libc::O_NOFOLLOW != 0 { libc::AT_SYMLINK_NOFOLLOW } else { 0 };
    let v = crate::members::view();
    sp.at_lead(&v).and_then(|at| real::fstatat(at.fd, &at.path, follow)).ok()
}

fn could_block(flags: c_int) -> bool {
    flags & libc::O_NONBLOCK == 0
}

/// Whether an open may wait for another process (a FIFO waits for its other end; a device
/// may): never made holding a name, which another process may need first (a reader of the
/// FIFO opening it O_RDWR). Such files are the primary's alone anyway.
fn may_wait(found: Option<&libc::stat64>, flags: c_int) -> bool {
    could_block(flags) && found.is_some_and(|st| !matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR))
}

/// openat2(2), which glibc has no wrapper for: reached through syscall(2).
pub unsafe fn openat2(dirfd: c_int, path: *const c_char, how: *const u64, size: libc::size_t) -> c_int {
    let via = |fd: c_int, p: *const c_char, how: *const u64| raw::syscall(libc::SYS_openat2, fd as libc::c_long, p as libc::c_long, how as libc::c_long, size as libc::c_long, 0, 0) as c_int;
    if how.is_null() || !(24..=4096).contains(&size) || !crate::mem::readable(how.cast(), size) {
        return via(dirfd, path, how);
    }
    let (flags, mode) = (*how as c_int, *how.add(1) as mode_t);
    let lead = |at: &At, f: c_int| {
        if f == flags {
            return via(at.fd, at.path.as_ptr(), how);
        }
        // The program's struct, with other open flags (see open_noting_creation).
        let mut copy = vec![0u64; size.div_ceil(8)];
        std::ptr::copy_nonoverlapping(how.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), size);
        copy[0] = (*how & !0xffff_ffff) | f as u32 as u64;
        copy[1] = real::openat2_mode(f, copy[1]);
        via(at.fd, at.path.as_ptr(), copy.as_ptr())
    };
    let resolve = *how.add(2);
    // Confined to a directory under the prefix (RESOLVE_IN_ROOT, RESOLVE_BENEATH): the path
    // goes to each member's kernel as it is, absolute or climbing, from that directory and
    // its twin, both walked with the program's resolve flags. Before, an absolute path was
    // taken as the host's, and the follower's open, made without them, followed an
    // absolute symlink out to the host.
    if resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH) != 0 && crate::set::is_active() {
        let confined = boundary::prepare(|| Some(crate::resolve::confined(dirfd, crate::mem::path(path)?))).flatten();
        if let Some(sp) = confined {
            return boundary::hook(|| open_shadowed_by(sp, flags, mode, false, resolve, lead).map(|r| r.unwrap_or(-1)), || via(dirfd, path, how));
        }
    }
    // Never handed back: its resolve flags may refuse the lead's absolute path.
    super::path_hook_or_lead(dirfd, path, false, may_change(flags), |sp| open_shadowed_by(sp, flags, mode, false, resolve, lead).map(|r| Ok(r.unwrap_or(-1))), |p| via(dirfd, p, how))
}

/// <linux/openat2.h>
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// An open under a write intent when it changes the file (creation, truncation): the intent
/// passes to the new OCB, or ends when the open failed or made none. Counted in flight
/// until its number is linked (`fdtable::NumberInFlight`); `adopt` is handed the fd, the
/// intent and RELINKS before the open (see `opened_file`).
fn open_in_flight(rel: &Rel, changes: bool, open: impl FnOnce() -> Res<c_int>, adopt: impl FnOnce(c_int, u64, u64) -> Option<Arc<Ocb>>) -> Res<c_int> {
    let counted = fdtable::NumberInFlight::begin();
    let intent = if changes { crate::members::intent_begin(rel) } else { 0 };
    let fd = open().inspect_err(|_| crate::members::intent_end(intent))?;
    if adopt(fd, intent, counted.begun()).is_none() {
        crate::members::intent_end(intent);
    }
    Ok(fd)
}

/// open of `/proc/self/fd/N`, `/dev/fd/N`, `/dev/stdout`… naming a shadowed fd: the kernel
/// reopens the primary's file (even if unlinked); the secondary's is reopened the same way
/// through the shim's own fd.
pub fn reopen_shadowed(n: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> Res<c_int> {
    let Some(src) = fdtable::get(n) else { return unsafe { raw::open64(path, flags, mode) }.into_res() };
    let open = |f: c_int| unsafe { raw::open64(path, f, mode) }.into_res();
    loop {
        // Held up by another process's lease (see open_holding): waited for holding nothing.
        if let Some(r) = reopen_holding(n, &src, flags, mode, &open) {
            return r;
        }
        boundary::waiting(|| lease_let_go(&open, flags));
    }
}

/// `reopen_shadowed` of the file `src` holds; None when an open of a regular file made
/// holding its name or bytes met a lease.
fn reopen_holding(n: c_int, src: &Arc<Ocb>, flags: c_int, mode: mode_t, open: &impl Fn(c_int) -> Res<c_int>) -> Option<Res<c_int>> {
    let rel = src.rel();
    // A read-only fd has no follower fd to reopen: a writable reopen of it (`exec 4<f;
    // echo x >/dev/fd/4`) opens the follower's file by the name the fd's file has on the
    // lead, held (else it is reported).
    let mut named = None;
    let mut renamed = false;
    let twin = match src.secondary_fd() {
        Some(sfd) => Twin::Proc(std::ffi::CString::new(format!("/proc/thread-self/fd/{sfd}")).unwrap_or_default()),
        None if flags & (libc::O_ACCMODE | libc::O_TRUNC) != libc::O_RDONLY && !src.is_dir() => {
            let (held, st) = crate::names::hold_file_named(&Spath::from_rel(rel.clone()), n, libc::AT_SYMLINK_NOFOLLOW);
            // An unlinked file's follower copy was unlinked too: nothing to keep alike.
            renamed = held.is_none() && st.is_some_and(|st| st.st_nlink > 0);
            named = held;
            named.as_ref().map_or(Twin::None, |(_, sp)| Twin::Path(sp))
        }
        None => Twin::None,
    };
    let rel = named.as_ref().map_or(rel, |(_, sp)| sp.rel().clone());
    // Emptying the file: ordered with other processes' writes to it (see open_holding).
    let _bytes = (flags & libc::O_TRUNC != 0).then(|| real::fstat(n).ok()).flatten().map(|st| ocb::hold_files(&[st]));
    let leasable = (named.is_some() || _bytes.is_some()) && could_block(flags) && !src.is_dir();
    let leased = std::cell::Cell::new(false);
    let made = open_in_flight(&rel.clone(), flags & libc::O_TRUNC != 0, || if leasable { open_unless_leased(open, flags, &leased) } else { open(flags) }, |fd, intent, begun| {
        let (st, since) = opened_file(fd, begun, |st| real::fstat(n).is_ok_and(|src| (src.st_dev, src.st_ino) == (st.st_dev, st.st_ino)))?;
        let ocb = adopt_with_stat(fd, &st, rel, flags & !libc::O_EXCL, mode, twin, Some(Opened { intent, since: Some(since) }))?;
        if renamed {
            ocb.mark_insecure("reopened for writing through /proc after its name became another file's", Errno(libc::ESTALE));
        }
        Some(ocb)
    });
    (!leased.get()).then_some(made)
}

/// Where the follower's counterpart of a file the lead just opened is.
pub enum Twin<'a> {
    /// The same path, walked on the follower.
    Path(&'a Spath),
    /// The same path, walked with openat2's resolve flags.
    Resolved(&'a Spath, u64),
    /// Through a `/proc/self/fd` link of the shim's (a reopen of an open file).
    Proc(std::ffi::CString),
    /// The follower's fd an old image kept across exec (adopt.rs), where it is on the file
    /// at that path on the follower (`true`: taken as it is; `false`: a copy); else `Path`.
    Carried(&'a Spath, c_int, bool),
    /// The follower's fd an old image kept across exec, on a file that has no name to check
    /// it by (an O_TMPFILE file not linked): taken as it is (`true`) or a copy.
    Unnamed(c_int, bool),
    None,
}

/// A program's open that just made the fd being adopted.
pub struct Opened {
    /// The open's write intent (0: none), which passes to the OCB.
    pub intent: u64,
    /// The RELINKS reading the fd is linked against (`fdtable::link_opened`), if any.
    pub since: Option<u64>,
}

/// Links a primary fd the program now holds to a new OCB, and opens the follower's twin.
/// `flags`: the open's, with O_CREAT and O_EXCL if it created the file.
/// `opened`: when the program's open just made `fd` (its file position is 0); `None` for
/// an fd adopted as it is (inherited over exec). None when nothing was linked.
pub fn adopt_new_fd(fd: c_int, rel: Rel, flags: c_int, mode: mode_t, twin: Twin, opened: Option<Opened>) -> Option<Arc<Ocb>> {
    adopt_with_stat(fd, &real::fstat(fd).ok()?, rel, flags, mode, twin, opened)
}

/// `adopt_new_fd` of an fd whose fstat is `st`.
pub fn adopt_with_stat(fd: c_int, st: &libc::stat64, rel: Rel, flags: c_int, mode: mode_t, twin: Twin, opened: Option<Opened>) -> Option<Arc<Ocb>> {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG if flags & libc::O_PATH == 0 => OcbKind::File,
        libc::S_IFDIR => OcbKind::Dir,
        libc::S_IFREG => OcbKind::Handle,
        // FIFOs, sockets and devices carry no file data to mirror: primary only (their
        // metadata changed through the fd is mirrored by name: fdtable::NODES).
        _ => {
            drop(fdtable::unlink(fd));
            fdtable::set_node(fd, fdtable::is_node_mode(st.st_mode));
            return None;
        }
    };
    let ocb = Ocb::new(rel, kind, flags, st);
    if let Some(follower_flags) = ocb.follower_flags() {
        let fresh = flags & libc::O_EXCL != 0 && flags & libc::O_CREAT != 0;
        let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
        if kind == OcbKind::File && flags & (libc::O_CREAT | libc::O_TRUNC) != 0 {
            // Named for a member away only where the open made or emptied the file (`flags`
            // say so with O_EXCL): an O_CREAT open of a file that was there (SQLite opens
            // every database so) changes nothing, and named, a resync's catch-up copied the
            // whole file again. Its times are settled at the last close all the same: a file
            // removed by another process between the exclusive try and the open as asked
            // is made by this open unsaid (the removal names it).
            let made = flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
            if made || tmpfile || flags & libc::O_TRUNC != 0 {
                crate::members::record_change(crate::members::Changed::Open { ocb: &ocb, fd: Some(fd), once: true });
            }
            ocb.mark_written();
        }
        let open = |at: &At| ocb::open_secondary(at, follower_flags, mode, fresh && !tmpfile);
        let opened = match &twin {
            Twin::Path(sp) => super::on_follower_res(sp, open),
            Twin::Resolved(sp, resolve) => super::on_follower_res(sp, |at| ocb::open_secondary_resolved(at, follower_flags, mode, fresh && !tmpfile, *resolve)),
            Twin::Proc(p) => crate::members::view().follower.map(|_| open(&At { fd: libc::AT_FDCWD, path: std::borrow::Cow::Borrowed(p.as_c_str()) })),
            Twin::Carried(sp, carried, first) => super::on_follower_res(sp, |at| {
                let fits = real::fstatat(at.fd, &at.path, libc::AT_SYMLINK_NOFOLLOW).ok().zip(real::fstat(*carried).ok()).is_some_and(|(a, b)| (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino));
                match (fits, first) {
                    (true, true) => Ok(*carried),
                    (true, false) => ocb::dup_internal(*carried),
                    (false, _) => open(at),
                }
            }),
            Twin::Unnamed(carried, first) => crate::members::view().follower.map(|_| if *first { Ok(*carried) } else { ocb::dup_internal(*carried) }),
            Twin::None => None,
        };
        match opened {
            Some(Ok(sfd)) => ocb.set_secondary(sfd),
            // An open cannot hand the program an error after the primary succeeded.
            Some(Err(e)) => {
                let _ = crate::members::follower_failed(&ocb.rel(), "open", e, Some(&ocb));
            }
            None => {}
        }
    }
    if let Some(o) = &opened {
        ocb.opened(o.intent, st.st_ino);
    }
    let ocb = Arc::new(ocb);
    match opened.and_then(|o| o.since) {
        Some(since) => match fdtable::link_opened(fd, ocb.clone(), since, st) {
            Some(before) => drop(before),
            None => {
                // Freed meanwhile: the follower's file was made all the same, and gets the
                // lead's times as at a last close; its intent ends with the open
                // (`open_in_flight`).
                if let Some(sfd) = ocb.secondary_fd() {
                    let _ = real::futimens(sfd, &ocb::times_of(st));
                }
                return None;
            }
        },
        None => drop(fdtable::link(fd, ocb.clone())),
    }
    Some(ocb)
}

/// close(2) of a program fd.
pub fn close_fd(fd: c_int) -> Res<c_int> {
    if fdtable::is_ours(fd) {
        // Not the program's: to the program that number is not open.
        return Err(Errno(libc::EBADF));
    }
    close_through(fd, || real::close(fd))
}

/// Closes `fd` by `close` (close(2), or glibc's own inside closedir): the program's let-go
/// of the number (see `let_number_go`). `close` runs under the fd table's lock: it must
/// wait for nothing a hook may hold (fclose waits for glibc's list of streams: `let_go`).
pub fn close_through<R>(fd: c_int, close: impl Fn() -> R) -> R {
    let_number_go(fd, false, close, |_| Became::Closed)
}

/// The program lets go of `fd` now; glibc closes it next, unseen (fclose, freopen).
pub fn let_go(fd: c_int) {
    let_number_go(fd, false, || (), |_| Became::Closed);
}

/// `call` lets go of the number `fd` (closes it, or puts another open file there: `after`
/// says which from its result). When the number held the program's last fd or mapping of
/// its open, the file is settled first (follower's writes drained, times made equal). All
/// under the file's order, which this process's mutations of the file under way end first
/// and those begun before wait for (they then find the open let go: EBADF, as natively
/// after the close). Before, a close let the file be while another thread held the open
/// for a moment (a write in flight on it, a member change): its intent was never ended.
/// `copies`: `call` is a dup2 onto the number.
fn let_number_go<R>(fd: c_int, copies: bool, call: impl Fn() -> R, after: impl Fn(&R) -> Became) -> R {
    loop {
        let Some(ocb) = fdtable::get(fd) else {
            match fdtable::change(fd, None, copies, &call, &after) {
                Some((r, _)) => return r,
                None => continue,
            }
        };
        let order = ocb.order_for_close();
        if !fdtable::links(fd, &ocb) {
            // Closed or replaced by another thread meanwhile: let go of what is there now.
            continue;
        }
        // A close returns once the follower holds what was written (write-behind).
        crate::behind::drain();
        if ocb.held_once() {
            ocb.settle_in_order(fd, &order);
        } else if let Some(sfd) = ocb.secondary_fd().filter(|_| super::lock::seen()) {
            // The close drops every POSIX lock the process holds on the lead's file; the
            // follower's fd stays open for the other fds of this open, so its locks are let
            // go by hand (see lock.rs).
            super::lock::let_go_posix(sfd);
        }
        let Some((r, before)) = fdtable::change(fd, Some(&ocb), copies, &call, &after) else {
            // Closed or replaced by another thread meanwhile: let go of what is there now.
            continue;
        };
        drop(order);
        drop(before);
        return r;
    }
}

/// Marks `fd` a node's (see fdtable::NODES) if it is a FIFO's, socket's or device's.
pub(crate) fn mark_node(fd: c_int) {
    if let Ok(st) = real::fstat(fd) {
        fdtable::set_node(fd, fdtable::is_node_mode(st.st_mode));
    }
}

/// A dup of `fd` made by `call` (dup, F_DUPFD*), linked to `fd`'s open as it is made
/// (`fdtable::copy`). Errno as the call left it.
fn dup_linked(fd: c_int, call: impl FnOnce() -> c_int) -> Res<c_int> {
    let (newfd, before) = fdtable::copy(fd, call);
    let newfd = newfd.into_res()?;
    drop(before);
    node_dup(fd, newfd);
    crate::hooks::stdio::std_fd_changed(newfd);
    Ok(newfd)
}

/// After a dup (`newfd` its result): the copy of a node's fd is a node's too, and a number
/// that was one is no longer (see fdtable::NODES). Before, a change through the copy of a
/// FIFO's fd reached the primary alone.
fn node_dup(fd: c_int, newfd: c_int) {
    if newfd >= 0 && newfd != fd && (fdtable::is_node(fd) || fdtable::is_node(newfd)) {
        fdtable::set_node(newfd, fdtable::is_node(fd));
    }
}

/// dup2/dup3 onto `newfd`: if that number is one of the shim's own fds, the shim's fd moves
/// elsewhere first, so the program gets exactly the number it asked for. The open it held
/// is let go of as at a close, and the copy linked in the same breath (see
/// `fdtable::change`).
pub(crate) fn dup_onto(fd: c_int, newfd: c_int, dup: impl Fn() -> c_int) -> Res<c_int> {
    if fdtable::is_ours(newfd) {
        // Still being moved up after the wait (its close on a member that does not answer):
        // the kernel's own answer to a dup2 that races an open.
        if fdtable::is_moving(newfd) {
            return Err(Errno(libc::EBUSY));
        }
        relocate_internal(newfd)?;
    }
    crate::hooks::stdio::before_std_fd_change(newfd);
    if fd == newfd {
        return dup().into_res();
    }
    let r = let_number_go(newfd, true, || dup().into_res(), |r| if r.is_ok() { Became::CopyOf(fd) } else { Became::Unchanged })?;
    node_dup(fd, newfd);
    crate::hooks::stdio::std_fd_changed(newfd);
    Ok(r)
}

fn relocate_internal(fd: c_int) -> Res<()> {
    let moved = ocb::make_internal(real::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0)?);
    fdtable::pick(|_, o| {
        o.relocate(fd, moved);
        None::<()>
    });
    super::data::relocate_deferred(fd, moved);
    crate::behind::relocate(fd, moved);
    crate::members::relocate(fd, moved);
    crate::resolve::relocate_cwd(fd, moved);
    super::lock::close_keeping_locks(fd, Some(moved));
    Ok(())
}

macro_rules! open_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) => at($dirfd:expr, $path:ident, $flags:expr, $mode:expr); )*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> c_int {
            boundary::cancellation_point();
            let asked = $path;
            let call = |$path: *const c_char| {
                let fd = raw::$name($($arg),*);
                // The number was closed behind the shim's back (glibc-internal close): not ours now.
                if fdtable::is_shadowed(fd) {
                    drop(fdtable::unlink(fd));
                }
                // An open handed back as the lead's path (a FIFO, a device: see
                // open_shadowed_or_lead) made the fd of a node under the prefix.
                if fd >= 0 && $path != asked {
                    mark_node(fd);
                }
                fd
            };
            if let Some(n) = super::proc_fd($path) {
                return boundary::hook(|| reopen_shadowed(n, $path, $flags, $mode), || call($path));
            }
            if $flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_TRUNC) != 0 && $flags & libc::O_NOFOLLOW == 0 {
                if let Some(fd) = super::lead_only_unnamed($path, || call($path)) {
                    return fd;
                }
            }
            super::path_hook_or_lead($dirfd, $path, $flags & libc::O_NOFOLLOW == 0, may_change($flags), |sp| open_shadowed_or_lead(sp, $flags, $mode), call)
        }
    )*};
}

open_hooks! {
    fn open(path: *const c_char, flags: c_int, mode: mode_t) => at(libc::AT_FDCWD, path, flags, mode);
    fn open64(path: *const c_char, flags: c_int, mode: mode_t) => at(libc::AT_FDCWD, path, flags, mode);
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) => at(dirfd, path, flags, mode);
    fn openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) => at(dirfd, path, flags, mode);
    fn creat(path: *const c_char, mode: mode_t) => at(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, mode);
    fn creat64(path: *const c_char, mode: mode_t) => at(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, mode);
    fn __open_2(path: *const c_char, flags: c_int) => at(libc::AT_FDCWD, path, flags, 0);
    fn __open64_2(path: *const c_char, flags: c_int) => at(libc::AT_FDCWD, path, flags, 0);
    fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) => at(dirfd, path, flags, 0);
    fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) => at(dirfd, path, flags, 0);
}

/// close(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn close(fd: c_int) -> c_int {
    if !fdtable::is_shadowed(fd) && !fdtable::is_internal(fd) {
        if fdtable::is_node(fd) {
            fdtable::set_node(fd, false);
        }
        fdtable::closed_unshadowed(fd);
        let freeing = fdtable::freeing_untouched(fd, fd);
        let r = raw::close(fd);
        freeing.done();
        return r;
    }
    boundary::cancellation_point();
    boundary::hook(|| close_fd(fd), || raw::close(fd))
}

/// close_range(2): the shim's own fds inside the range stay open.
#[no_mangle]
pub unsafe extern "C-unwind" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    // A table of the thread's own, whose closes the other threads do not see (see unshare).
    if flags & libc::CLOSE_RANGE_UNSHARE as c_int != 0 {
        if let Some(refused) = super::refused_in_threads("close_range with CLOSE_RANGE_UNSHARE") {
            return refused;
        }
    }
    boundary::hook(
        || {
            let lo = first.min(i32::MAX as c_uint) as c_int;
            let hi = last.min(i32::MAX as c_uint) as c_int;
            let closes = flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0;
            // Taken before the look for shadowed numbers: one an open in flight links after
            // it is looked at again after the call (`fdtable::Freeing::done`).
            let freeing = if closes { fdtable::freeing_untouched(lo, hi) } else { fdtable::Freeing::NONE };
            if closes {
                for fd in fdtable::shadowed_in(lo, hi) {
                    let _ = close_fd(fd);
                }
                fdtable::closed_unshadowed_in(lo, hi);
            }
            let closed = close_range_but_internal(lo, hi, flags);
            freeing.done();
            closed
        },
        || raw::close_range(first, last, flags),
    )
}

/// close_range over `[lo, hi]` but the shim's own fds in it.
fn close_range_but_internal(lo: c_int, hi: c_int, flags: c_int) -> Res<c_int> {
    let mut start = lo;
    for fd in fdtable::internal_in(lo, hi) {
        if fd > start {
            unsafe { raw::close_range(start as c_uint, (fd - 1) as c_uint, flags) }.into_res()?;
        }
        start = fd + 1;
    }
    if start <= hi {
        unsafe { raw::close_range(start as c_uint, hi as c_uint, flags) }.into_res()?;
    }
    Ok(0)
}

/// closefrom(3): glibc's closes with internal calls; this one closes through the hook above.
#[no_mangle]
pub unsafe extern "C-unwind" fn closefrom(low: c_int) {
    if close_range(low.max(0) as c_uint, c_uint::MAX, 0) == 0 {
        return;
    }
    // A kernel without close_range: each open fd, as glibc's own fallback does.
    let fds: Vec<c_int> = std::fs::read_dir("/proc/thread-self/fd").into_iter().flatten().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).filter(|&fd| fd >= low).collect();
    for fd in fds {
        close(fd);
    }
}


/// Whether `fd` is one of the shim's, asked about by the program (not by the shim's own
/// code, whose std calls reach the hooks from inside): to the program that number is not
/// open, so a program that probes its fds (`fstat` or `fcntl` of every number up to its
/// limit, as CPython's test_subprocess does) finds what it would natively.
pub(crate) fn programs_probe_of_ours(fd: c_int) -> bool {
    fdtable::is_internal(fd) && !boundary::is_inside() && fdtable::is_ours(fd)
}

/// dup(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn dup(fd: c_int) -> c_int {
    if !fdtable::is_shadowed(fd) {
        if fdtable::is_internal(fd) && fdtable::is_ours(fd) {
            return fdtable::not_the_programs();
        }
        let newfd = raw::dup(fd);
        node_dup(fd, newfd);
        return newfd;
    }
    boundary::hook(
        || dup_linked(fd, || raw::dup(fd)),
        || raw::dup(fd),
    )
}

/// dup2(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn dup2(fd: c_int, newfd: c_int) -> c_int {
    if fdtable::is_internal(fd) && fdtable::is_ours(fd) {
        return fdtable::not_the_programs();
    }
    if !fdtable::is_shadowed(fd) && !fdtable::is_shadowed(newfd) && !fdtable::is_internal(newfd) && !crate::hooks::stdio::is_std_swapped(newfd) {
        let freeing = fdtable::freeing_untouched(newfd, newfd);
        let r = raw::dup2(fd, newfd);
        freeing.done();
        node_dup(fd, r);
        return r;
    }
    boundary::hook(|| dup_onto(fd, newfd, || raw::dup2(fd, newfd)), || raw::dup2(fd, newfd))
}

/// dup3(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn dup3(fd: c_int, newfd: c_int, flags: c_int) -> c_int {
    if fdtable::is_internal(fd) && fdtable::is_ours(fd) {
        return fdtable::not_the_programs();
    }
    if !fdtable::is_shadowed(fd) && !fdtable::is_shadowed(newfd) && !fdtable::is_internal(newfd) && !crate::hooks::stdio::is_std_swapped(newfd) {
        let freeing = fdtable::freeing_untouched(newfd, newfd);
        let r = raw::dup3(fd, newfd, flags);
        freeing.done();
        node_dup(fd, r);
        return r;
    }
    boundary::hook(|| dup_onto(fd, newfd, || raw::dup3(fd, newfd, flags)), || raw::dup3(fd, newfd, flags))
}

/// fcntl(F_SETFL) of the shim's own making (fdopen's "a"), as the program's would be.
pub(crate) fn set_status_flags(fd: c_int, flags: c_long) -> Res<c_int> {
    fcntl_core(fd, libc::F_SETFL, flags, raw::fcntl)
}

fn fcntl_core(fd: c_int, cmd: c_int, arg: c_long, real_fcntl: unsafe fn(c_int, c_int, c_long) -> c_int) -> Res<c_int> {
    let call = || unsafe { real_fcntl(fd, cmd, arg) }.into_res();
    if cmd == libc::F_SETFL {
        return fdtable::with_link(fd, |o| o.set_status_flags(fd, arg as c_int, call), call);
    }
    if matches!(cmd, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC) {
        return dup_linked(fd, || unsafe { real_fcntl(fd, cmd, arg) });
    }
    call()
}

macro_rules! fcntl_hooks {
    ($($name:ident),*) => {$(
        /// fcntl(2): F_DUPFD* add a link; F_SETFL tracks O_APPEND; locks are lock.rs's.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
            if programs_probe_of_ours(fd) {
                return fdtable::not_the_programs();
            }
            if cmd == libc::F_SETFL {
                if let Some(r) = fdtable::straight(fd, false, || raw::$name(fd, cmd, arg)) {
                    return r;
                }
            } else if !fdtable::is_shadowed(fd) {
                if !matches!(cmd, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC) {
                    return raw::$name(fd, cmd, arg);
                }
                let newfd = raw::$name(fd, cmd, arg);
                node_dup(fd, newfd);
                return newfd;
            }
            if super::lock::is_lock(cmd) {
                return super::lock::fcntl(fd, cmd, arg, || raw::$name(fd, cmd, arg));
            }
            boundary::hook(|| fcntl_core(fd, cmd, arg, raw::$name), || raw::$name(fd, cmd, arg))
        }
    )*};
}
fcntl_hooks!(fcntl, fcntl64);

super::aliases! {
    __open => open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    __open64 => open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    __close => close(fd: c_int) -> c_int;
    __dup2 => dup2(fd: c_int, newfd: c_int) -> c_int;
    __fcntl => fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// The flags each open was made with, answering from `answers` in turn.
    /// (-1 in the list: where `as_asked` ran.)
    fn opens(flags: c_int, answers: &[Res<c_int>]) -> (Res<(c_int, c_int)>, Vec<c_int>) {
        let made = RefCell::new(Vec::new());
        let r = open_noting_creation(
            flags,
            |f| {
                made.borrow_mut().push(f);
                answers[made.borrow().iter().filter(|&&m| m != -1).count() - 1]
            },
            || {
                made.borrow_mut().push(-1);
                Ok(())
            },
        );
        (r, made.into_inner())
    }

    #[test]
    fn a_create_is_tried_exclusive_first_and_says_it_created() {
        let f = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
        assert_eq!(opens(f, &[Ok(5)]), (Ok((5, f | libc::O_EXCL)), vec![f | libc::O_EXCL]));
    }

    #[test]
    fn an_existing_file_is_then_opened_as_asked() {
        let f = libc::O_WRONLY | libc::O_CREAT;
        assert_eq!(opens(f, &[Err(Errno(libc::EEXIST)), Ok(6)]), (Ok((6, f)), vec![f | libc::O_EXCL, -1, f]));
    }

    #[test]
    fn an_open_its_look_refuses_is_not_made() {
        let f = libc::O_WRONLY | libc::O_CREAT;
        let made = RefCell::new(Vec::new());
        let r = open_noting_creation(
            f,
            |g| {
                made.borrow_mut().push(g);
                Err(Errno(libc::EEXIST))
            },
            || Err(Errno(libc::EAGAIN)),
        );
        assert_eq!((r, made.into_inner()), (Err(Errno(libc::EAGAIN)), vec![f | libc::O_EXCL]));
    }

    #[test]
    fn other_failures_are_the_opens_own() {
        let f = libc::O_WRONLY | libc::O_CREAT;
        assert_eq!(opens(f, &[Err(Errno(libc::EACCES))]), (Err(Errno(libc::EACCES)), vec![f | libc::O_EXCL]));
    }

    #[test]
    fn exclusive_plain_and_tmpfile_opens_are_made_once_as_asked() {
        for f in [libc::O_RDONLY, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, libc::O_WRONLY | libc::O_TMPFILE] {
            assert_eq!(opens(f, &[Ok(3)]), (Ok((3, f)), vec![-1, f]), "{f:#x}");
        }
    }
}
