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
//! The lock itself is stripes.rs's.
//!
//! A name's lock does not order it against a rename of a directory its path passes through
//! (`mv a t; mv b a` while another process creates `a/x`: the lead's `x` in one directory,
//! the follower's in the other), nor of a symlink it passes through (`ln -sfn` renames a
//! new symlink over the old). So every name operation counts itself in its process's
//! registry slot (`registry::NAME_OPS`) while it holds its names, and such a rename holds
//! one word for the whole set (`registry::DIR_MOVES`) and waits until no process counts a
//! name operation: the operations under way end first, and new ones wait for the rename to
//! be made on both members. A process gone with a count left is found dead and its count
//! cleared. The rename looks at its source with its names held, which keep the source as
//! it is (a directory made there meanwhile was renamed unordered: helper-52).

use crate::resolve::Rel;
use std::sync::atomic::Ordering;

thread_local! {
    /// Name operations this thread has under way (one hook may hold several names): a
    /// thread that already counts never waits for a directory's rename, which waits for it.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A name operation begins: counted, once no directory is being renamed (unless this thread
/// renames it, or already counts).
fn enter() {
    let (Some(slot), registry) = (crate::members::own_slot(), &crate::members::shared().registry) else { return };
    let count = registry.name_ops(slot);
    let moves = registry.dir_moves();
    let me = crate::stripes::this_thread();
    let nested = DEPTH.with(|d| d.get()) > 0;
    loop {
        count.fetch_add(1, Ordering::SeqCst);
        let mover = moves.load(Ordering::SeqCst) & !crate::stripes::WAITING;
        if nested || mover == 0 || mover == me {
            break;
        }
        leave_count(count);
        crate::members::waiting(|| {
            let now = moves.load(Ordering::SeqCst);
            // Marked, so that the mover's release wakes its waiters (`moved`).
            if now & !crate::stripes::WAITING == mover && moves.compare_exchange(now, now | crate::stripes::WAITING, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                let now = now | crate::stripes::WAITING;
                crate::real::futex_wait_shared(moves, now, &crate::stripes::LOOK_AGAIN);
                if moves.load(Ordering::SeqCst) == now && !crate::stripes::thread_alive(mover) {
                    let _ = moves.compare_exchange(now, 0, Ordering::SeqCst, Ordering::Relaxed);
                }
            }
        });
    }
    DEPTH.with(|d| d.set(d.get() + 1));
}

/// In a fork child: the operations the parent's thread had under way are not the child's
/// (its slot counts from none).
pub fn after_fork_child() {
    DEPTH.with(|d| d.set(0));
}

/// The name operation is over (its names let go).
fn leave() {
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    if let Some(slot) = crate::members::own_slot() {
        leave_count(crate::members::shared().registry.name_ops(slot));
    }
}

/// One less, never below none (a fork child counts from none).
fn leave_count(count: &std::sync::atomic::AtomicU32) {
    let _ = count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
}

/// The rename is on both members: every name operation that waited for it goes on.
fn moved() {
    let registry = &crate::members::shared().registry;
    registry.dirs_moved().fetch_add(1, Ordering::SeqCst);
    crate::real::futex_wake_shared(registry.dir_moves(), libc::c_int::MAX);
}

/// The count of directory (and symlink) renames begun or ended in the set: a name of a
/// directory learnt while it stays the same is still the directory's name (the kernel's
/// name for a cwd or a directory fd is asked again when it moved: resolve.rs). Counted at
/// both ends of a rename, so that a name learnt during one is learnt again after it.
pub fn dirs_moved() -> u32 {
    crate::members::shared().registry.dirs_moved().load(Ordering::SeqCst)
}

/// Held while a directory or a symlink is renamed, from before the lead's rename to after
/// the follower's: every name operation under way has ended (see the module's comment).
/// Taken before any name.
pub fn hold_dir_move() -> crate::stripes::Held {
    let registry = &crate::members::shared().registry;
    let mut held = crate::stripes::hold(&[registry.dir_moves()]);
    registry.dirs_moved().fetch_add(1, Ordering::SeqCst);
    held.after = Some(moved);
    let pause = libc::timespec { tv_sec: 0, tv_nsec: 200_000 };
    crate::members::waiting(|| {
        while let Some((slot, pid)) = registry.name_ops_busy() {
            if pid == 0 || !crate::stripes::process_alive(pid) {
                registry.name_ops(slot).store(0, Ordering::SeqCst);
            } else {
                unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
            }
        }
    });
    held
}

/// The stripe of a name: FNV-1a of its path relative to the members' roots.
fn stripe(rel: &[u8]) -> usize {
    crate::stripes::stripe_of(rel, shadow_core::state::registry::NAME_STRIPES)
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

/// Holds the names (one, or the two of a rename or link) until the value is dropped.
pub fn hold(rels: &[&Rel]) -> crate::stripes::Held {
    let registry = &crate::members::shared().registry;
    let (s, n) = stripes(rels);
    let words = [registry.name_lock(s[0]), registry.name_lock(s[1])];
    enter();
    let mut held = crate::stripes::hold(&words[..n]);
    held.after = Some(leave);
    held
}

/// Holds `sp`'s name and, where the call follows a final symlink there (`follows`), the
/// name of the file it leads to (`leads_to`; asked again once both are held, until it
/// holds still). Another process's change to that file's own name (a removal, a rename
/// onto it) takes that name alone: before, it could come between the lead's change through
/// the link and the follower's, which then failed (ENOENT, reported), or changed the file
/// renamed onto the name, which the lead's change never reached.
pub fn hold_reached(sp: &crate::resolve::Spath, follows: bool) -> crate::stripes::Held {
    holding_reached(sp, follows, |target| match target {
        Some(t) => hold(&[sp.rel(), t]),
        None => hold(&[sp.rel()]),
    })
}

/// `hold_reached` for a link (`b`, the new name) that follows its source `a`'s final
/// symlink (`follows`: linkat with AT_SYMLINK_FOLLOW): three names.
pub fn hold_link_reached(a: &crate::resolve::Spath, b: &Rel, follows: bool) -> Vec<crate::stripes::Held> {
    holding_reached(a, follows, |target| match target {
        Some(t) => hold_each([a.rel(), b, t]),
        None => vec![hold(&[a.rel(), b])],
    })
}

/// `hold_with` the name `sp` leads to where the call follows a final symlink there, asked
/// again once held until it holds still (a few tries cover a link changed as it was read;
/// held, the link holds still: a removal of it or a rename onto it takes its name); else
/// `hold_with(None)`.
fn holding_reached<H>(sp: &crate::resolve::Spath, follows: bool, hold_with: impl Fn(Option<&Rel>) -> H) -> H {
    let mut target = if follows { sp.leads_to() } else { None };
    for _ in 0..8 {
        let Some(t) = target.filter(|t| t != sp.rel()) else { break };
        let held = hold_with(Some(&t));
        target = sp.leads_to();
        if target.as_ref() == Some(&t) {
            return held;
        }
    }
    hold_with(None)
}

/// Holds `sp`'s name while it still names the file `st` on the lead (looked at with `look`:
/// 0 or AT_SYMLINK_NOFOLLOW); None when it does not. A name a file was opened by may since
/// be another file's (renamed or replaced by another process), and the follower's file by
/// that name then another file than the one to change.
pub fn hold_naming(sp: &crate::resolve::Spath, st: &libc::stat64, look: libc::c_int) -> Option<crate::stripes::Held> {
    let held = hold(&[sp.rel()]);
    names_file(sp, st, look).then_some(held)
}

/// `hold_naming` for the file the program's `fd` is open on, looked at once the name is
/// held: taking it may apply a member change that moves the lead, which gives `fd` the new
/// lead's file (members::switch_lead). Looked at before, the old lead's file was never the
/// name's on the new lead: a false "no longer at the name it was opened by" (00020) for a
/// change through a read-only fd as the lead moved. Also the file's stat.
pub fn hold_naming_fd(sp: &crate::resolve::Spath, fd: libc::c_int, look: libc::c_int) -> (Option<crate::stripes::Held>, Option<libc::stat64>) {
    let held = hold(&[sp.rel()]);
    let Ok(st) = crate::real::fstat(fd) else { return (None, None) };
    (names_file(sp, &st, look).then_some(held), Some(st))
}

/// The name of the file of the program's `fd`, opened by `opened`, held while it names the
/// file on the lead: the one it was opened by, else the one the kernel gives it now
/// (renamed since, or the name it was opened by removed while it keeps another:
/// resolve::fd_real_name). None where neither does (replaced, renamed again, or no name
/// left). Also the file's stat.
pub fn hold_file_named(opened: &crate::resolve::Spath, fd: libc::c_int, look: libc::c_int) -> (Option<(crate::stripes::Held, crate::resolve::Spath)>, Option<libc::stat64>) {
    let (held, st) = hold_naming_fd(opened, fd, look);
    if let Some(held) = held {
        return (Some((held, opened.clone())), st);
    }
    // Renamed since it was opened, through the shim (its twin was renamed alike). Before, a
    // change through `/proc/self/fd/N` of a file the process had itself renamed reached
    // the lead alone, reported (Samba's setxattr of user.DOSATTRIB after every SMB rename).
    // Another process may rename it again between the kernel's naming and the hold: asked
    // again while each answer is a new name (a few times; then it is reported).
    let mut tried = opened.rel().clone();
    let mut st = st;
    for _ in 0..4 {
        let Some(now) = crate::resolve::name_now(fd).filter(|now| *now.rel() != tried) else { break };
        match hold_naming_fd(&now, fd, look) {
            (Some(held), now_st) => return (Some((held, now)), now_st),
            (None, now_st) => st = now_st.or(st),
        }
        tried = now.rel().clone();
    }
    (None, st)
}

/// Whether `sp` names the file `st` on the lead now (see `hold_naming`; the caller holds it).
pub fn names_file(sp: &crate::resolve::Spath, st: &libc::stat64, look: libc::c_int) -> bool {
    let v = crate::members::view();
    let named = sp.at_lead(&v).and_then(|a| crate::real::fstatat(a.fd, &a.path, look));
    named.is_ok_and(|n| (n.st_dev, n.st_ino) == (st.st_dev, st.st_ino))
}

/// Holds any number of names (a spawn's file actions) until the values are dropped.
pub fn hold_each<'a>(rels: impl IntoIterator<Item = &'a Rel>) -> Vec<crate::stripes::Held> {
    let registry = &crate::members::shared().registry;
    let stripes: Vec<_> = rels.into_iter().map(|r| stripe(&r.0)).map(|i| (i, registry.name_lock(i))).collect();
    enter();
    let mut held = crate::stripes::hold_each(stripes);
    match held.last_mut() {
        Some(last) => last.after = Some(leave),
        None => leave(),
    }
    held
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
}
