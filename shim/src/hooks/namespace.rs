//! Namespace changes: mkdir, rmdir, unlink, rename, link, symlink, mknod/mkfifo, remove,
//! and the mkstemp/mkdtemp family (whose glibc versions open with internal calls).

use super::{change_hook, on_follower, resolve_arg, Arg};
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::{raw, Errno, Res};
use crate::resolve::{self, At, Spath, Target};
use crate::set;
use libc::{c_char, c_int, c_uint, mode_t};
use shadow_core::state::NameKind;
use shadow_core::vpath;
use std::ffi::{CStr, CString};

/// Applies a change of metadata (chmod, chown, xattrs) to both members, holding the name
/// (see names.rs). The program sees the lead's result; a follower that fails where the
/// lead succeeded is reported at once.
pub fn on_members<T: FfiReturn>(what: &str, sp: &Spath, op: impl Fn(&At) -> T) -> Res<T> {
    let _name = crate::names::hold_reached(sp, sp.follows_last());
    let _file = hold_file_reached(sp);
    on_members_recorded(what, sp, Recorded::Metadata, op)
}

/// For a change of an entry's metadata by name, with the name held: the entry's own word
/// too (ocb::hold_files), which every change of it takes, through an fd or by any of its
/// names. Another name of a file (a hard link), another path to a directory (through a
/// symlinked one) or an fd on either is another way to the same entry, which the name's
/// lock does not order: before, two processes' chmods of one file by its two names could
/// reach the members in different orders, and leave them different with nobody told
/// (c-tests/one_file_two_routes.c), and of a directory, by name and through an fd (the
/// many-process namespace test in tests/processes.rs).
pub fn hold_file_reached(sp: &Spath) -> Vec<crate::stripes::Held> {
    let v = crate::members::view();
    let st = sp.at_lead(&v).and_then(|a| crate::real::fstatat(a.fd, &a.path, sp.at_flags()));
    st.map_or_else(|_| Vec::new(), |st| crate::ocb::hold_files(&[st]))
}

fn on_members_held<T: FfiReturn>(what: &str, sp: &Spath, op: impl Fn(&At) -> T) -> Res<T> {
    on_members_recorded(what, sp, Recorded::Entry, op)
}

/// A removal on both members, holding the name, recorded as a change of names.
fn on_members_removing<T: FfiReturn>(what: &str, sp: &Spath, op: impl Fn(&At) -> T) -> Res<T> {
    let _name = crate::names::hold(&[sp.rel()]);
    on_members_recorded(what, sp, Recorded::Names(NameKind::Removed), op)
}

/// How a change by name is recorded for a member that is away.
#[derive(Clone, Copy)]
enum Recorded {
    /// A change of names (a removal).
    Names(NameKind),
    /// The entry whole: made, or its bytes changed.
    Entry,
    /// Its metadata alone.
    Metadata,
}

/// As `on_members_held`, recorded as `record` says.
fn on_members_recorded<T: FfiReturn>(what: &str, sp: &Spath, record: Recorded, op: impl Fn(&At) -> T) -> Res<T> {
    let rel = sp.rel();
    let intent = crate::members::intent_begin(rel);
    let r = super::on_lead(sp, what, &op).inspect_err(|_| crate::members::intent_end(intent))?;
    match record {
        Recorded::Names(kind) => crate::members::record_names(kind, sp, None),
        Recorded::Entry => crate::members::record_change(crate::members::Changed::Path(sp)),
        Recorded::Metadata => crate::members::record_metadata(crate::members::Changed::Path(sp)),
    }
    if let Some(Err(e)) = on_follower(sp, &op) {
        if !meet_outside(&[sp]) {
            match record {
                Recorded::Names(kind) => crate::members::follower_failed_recording(rel, what, e, None, || crate::members::append_names(kind, sp, None))?,
                _ => crate::members::follower_failed(rel, what, e, None)?,
            }
            return Ok(r);
        }
    }
    crate::members::intent_end(intent);
    Ok(r)
}

/// Whether each of these paths leads, on both members, into one directory outside them
/// (see Spath::meets_outside): then the lead's change was the only one to make.
fn meet_outside(sps: &[&Spath]) -> bool {
    let v = crate::members::view();
    v.follower.is_some_and(|f| sps.iter().all(|sp| sp.meets_outside(&v, f)))
}

/// A change that stamps the entry's times (creating it: mkdir, mknod, mkfifo, symlink;
/// truncating it), on both members; then the follower's entry gets the lead's times: each
/// kernel stamped its own "now".
pub fn on_members_with_times<T: FfiReturn>(what: &str, sp: &Spath, op: impl Fn(&At) -> T) -> Res<T> {
    let _name = crate::names::hold(&[sp.rel()]);
    let r = on_members_held(what, sp, op)?;
    copy_entry_times(sp);
    Ok(r)
}

/// truncate(2) by name: as `on_members_with_times`, ordered with other processes' writes
/// to the file (see ocb::hold_file).
/// A truncate breaks a lease another process holds on the file, and waits for it, as an
/// open for writing does: that is done first, holding nothing (see open::open_holding), by
/// an open for writing made O_NONBLOCK, closed at once (a regular file alone: three more
/// system calls, and an open and a close an inotify watch sees).
pub fn on_members_truncating<T: FfiReturn>(what: &str, sp: &Spath, op: impl Fn(&At) -> T) -> Res<T> {
    let v = crate::members::view();
    if let Ok(at) = sp.at_lead(&v) {
        if crate::real::fstatat(at.fd, &at.path, 0).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG) {
            super::open::wait_for_lease(&at);
        }
    }
    let _name = crate::names::hold_reached(sp, true);
    let v = crate::members::view();
    let _bytes = sp.at_lead(&v).and_then(|a| crate::real::fstatat(a.fd, &a.path, 0)).ok().map(|st| crate::ocb::hold_files(&[st]));
    let r = super::data::truncated(on_members_held(what, sp, op))?;
    copy_entry_times(sp);
    Ok(r)
}

/// The lead's times of an entry onto the follower's (where the kernel lets the caller set
/// exact times; otherwise the members keep each their own): of the file a final symlink
/// leads to where the call followed it (a truncate; before, the link's times were copied,
/// and the follower's file kept its own: c-tests/final_link_races.c).
pub fn copy_entry_times(sp: &Spath) {
    let v = crate::members::view();
    let Some(f) = v.follower else { return };
    let flags = sp.at_flags();
    let Ok(st) = sp.at_lead(&v).and_then(|a| crate::real::fstatat(a.fd, &a.path, flags)) else { return };
    let _ = sp.at(&v, f).and_then(|a| crate::real::utimensat_at(a.fd, &a.path, &crate::ocb::times_of(&st), flags));
}

/// A call without an `*at` form, made on an absolute path to the same place (see `At::abs`).
pub fn via_abs<T: FfiReturn>(at: &At, call: impl FnOnce(*const c_char) -> T) -> T {
    match at.abs() {
        Ok(p) => call(p.as_ptr()),
        Err(e) => {
            e.set();
            T::FAILED
        }
    }
}

/// Two paths on both members; `op` is told whether it runs on the follower. `moves`: the
/// call renames `a` (and `b` too: RENAME_EXCHANGE); the rename of a directory or a symlink
/// is ordered against every name operation (see names.rs), at the cost of one look at it.
/// `follows_source`: a link that follows `a`'s final symlink also holds the name of the
/// file it leads to (names::hold_link_reached; before, another process's rename onto it
/// could come between the lead's link and the follower's, which then linked another file).
fn on_members2<T: FfiReturn>(what: &str, (a, follows_source): (&Spath, bool), b: &Spath, moves: &[&Spath], op: impl Fn(&At, &At, bool) -> T) -> Res<T> {
    let walked_through = || {
        let v = crate::members::view();
        moves.iter().any(|sp| {
            let st = sp.at_lead(&v).and_then(|at| crate::real::fstatat(at.fd, &at.path, libc::AT_SYMLINK_NOFOLLOW));
            st.is_ok_and(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFDIR | libc::S_IFLNK))
        })
    };
    // Looked at with the names held, which keep what they name as it is: before, the look
    // came first, and a directory made at the source's name between the look and the names
    // was renamed unordered against the creates beneath it (helper-52: a file in `E/f` on
    // the primary and `T/f` on the secondary, unreported). A directory's or a symlink's
    // rename takes the set's word first (names.rs), so the names are let go and taken again.
    let hold_names = || crate::names::hold_link_reached(a, b.rel(), follows_source);
    let mut names = Some(hold_names());
    let _moving = walked_through().then(|| {
        drop(names.take());
        let moving = crate::names::hold_dir_move();
        names = Some(hold_names());
        moving
    });
    let _names = names;
    let (ia, ib) = (crate::members::intent_begin(a.rel()), crate::members::intent_begin(b.rel()));
    let end = || {
        crate::members::intent_end(ia);
        crate::members::intent_end(ib);
    };
    let r = super::on_lead_res(b, what, |bt| {
        let v = crate::members::view();
        let at = a.at_lead(&v)?;
        op(&at, bt, false).into_res()
    })
    .inspect_err(|_| end())?;
    let kind = match moves.len() {
        0 => NameKind::Linked,
        1 => NameKind::Renamed,
        _ => NameKind::Exchanged,
    };
    crate::members::record_names(kind, a, Some(b));
    let on_follower = || {
        let v = crate::members::view();
        let f = v.follower?;
        Some(a.at(&v, f).and_then(|fa| b.at(&v, f).and_then(|fb| op(&fa, &fb, true).into_res())))
    };
    let follower = crate::members::retry_racing(on_follower(), on_follower);
    if let Some(Err(e)) = follower {
        if !meet_outside(&[a, b]) {
            // Both names: before, the new one alone, and the member rebuilt kept the old.
            crate::members::follower_failed_recording(b.rel(), what, e, None, || crate::members::append_names(kind, a, Some(b)))?;
            return Ok(r);
        }
    }
    end();
    Ok(r)
}

/// Declares hooks that change one path on both members: `$on` makes the change at one
/// member's place `$a` (an `At`); `$apply` is `on_members`, or `on_members_with_times` for a
/// call that makes a new entry. `or $link if $follows`: a call that follows a final
/// symlink (when `$follows`) is given to `meta::$link` first, for the `/proc/self/fd/N`
/// links of shadowed fds (see `meta::through_fd_link`).
macro_rules! mirror_hooks {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $apply:ident at($dirfd:expr, $path:ident) $(or $link:ident if $follows:expr)? => |$a:ident| $on:expr; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> $ret {
            let call = |$path: *const c_char| raw::$name($($arg),*);
            $(if $follows {
                let on_link = |p: *const c_char| {
                    let $a = &$crate::resolve::At::absolute(p);
                    $on
                };
                if let Some(r) = $crate::hooks::meta::$link($path, stringify!($name), on_link) {
                    return r;
                }
            })?
            $crate::hooks::change_hook($dirfd, $path, |sp| $crate::hooks::namespace::$apply(stringify!($name), &sp.following(false $(|| $follows)?), |$a: &$crate::resolve::At| $on), call)
        }
    )*};
}
pub(crate) use mirror_hooks;

mirror_hooks! {
    /// mkdir(2)
    fn mkdir(path: *const c_char, mode: mode_t) -> c_int = on_members_with_times at(libc::AT_FDCWD, path) => |a| raw::mkdirat(a.fd, a.path.as_ptr(), mode);
    /// mkdirat(2)
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int = on_members_with_times at(dirfd, path) => |a| raw::mkdirat(a.fd, a.path.as_ptr(), mode);
    /// mknod(2): FIFOs and device nodes exist in both members; their I/O is the primary's.
    fn mknod(path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int = on_members_with_times at(libc::AT_FDCWD, path) => |a| raw::mknodat(a.fd, a.path.as_ptr(), mode, dev);
    /// mknodat(2)
    fn mknodat(dirfd: c_int, path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int = on_members_with_times at(dirfd, path) => |a| raw::mknodat(a.fd, a.path.as_ptr(), mode, dev);
    /// mkfifo(3)
    fn mkfifo(path: *const c_char, mode: mode_t) -> c_int = on_members_with_times at(libc::AT_FDCWD, path) => |a| raw::mkfifoat(a.fd, a.path.as_ptr(), mode);
    /// mkfifoat(3)
    fn mkfifoat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int = on_members_with_times at(dirfd, path) => |a| raw::mkfifoat(a.fd, a.path.as_ptr(), mode);
    /// symlink(2): the target is stored verbatim in both members.
    fn symlink(target: *const c_char, path: *const c_char) -> c_int = on_members_with_times at(libc::AT_FDCWD, path) => |a| raw::symlinkat(target, a.fd, a.path.as_ptr());
    /// symlinkat(2)
    fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int = on_members_with_times at(dirfd, path) => |a| raw::symlinkat(target, a.fd, a.path.as_ptr());
}

/// Whether the program's `path`, resolved to `sp`, names the set's root itself (`/shadow`,
/// `shadow` from `/`), not through a final `.` or `..` (each member's kernel answers those
/// as natively). The root cannot go or move, as a mount point cannot: its removal and its
/// renames are refused with the kernel's answer for one, EBUSY, so `rm -rf /shadow` and
/// `mv /shadow X` say so. Before, rmdir answered EINVAL (and `rm -rf` exited 0 with the
/// root left), a rename EXDEV, and `mv` moved the whole set out before failing.
unsafe fn names_set_root(sp: &Spath, path: *const c_char) -> bool {
    sp.rel().0.is_empty() && crate::mem::path(path).is_some_and(|p| !matches!(vpath::last_component(p.to_bytes()), b"." | b".."))
}

/// unlink(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn unlink(path: *const c_char) -> c_int {
    removal("unlink", libc::AT_FDCWD, path, 0, |p| raw::unlink(p))
}

/// rmdir(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn rmdir(path: *const c_char) -> c_int {
    removal("rmdir", libc::AT_FDCWD, path, libc::AT_REMOVEDIR, |p| raw::rmdir(p))
}

/// unlinkat(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    removal("unlinkat", dirfd, path, flags, |p| raw::unlinkat(dirfd, p, flags))
}

unsafe fn removal(what: &str, dirfd: c_int, path: *const c_char, flags: c_int, call: impl Fn(*const c_char) -> c_int) -> c_int {
    change_hook(
        dirfd,
        path,
        |sp| match flags & libc::AT_REMOVEDIR != 0 && names_set_root(&sp, path) {
            true => Err(Errno(libc::EBUSY)),
            false => on_members_removing(what, &sp, |a| raw::unlinkat(a.fd, a.path.as_ptr(), flags)),
        },
        call,
    )
}

/// __xmknod and __xmknodat: what programs built against glibc before 2.33 call for mknod.
#[no_mangle]
pub unsafe extern "C-unwind" fn __xmknod(ver: c_int, path: *const c_char, mode: mode_t, dev: *mut libc::dev_t) -> c_int {
    __xmknodat(ver, libc::AT_FDCWD, path, mode, dev)
}

#[no_mangle]
pub unsafe extern "C-unwind" fn __xmknodat(ver: c_int, dirfd: c_int, path: *const c_char, mode: mode_t, dev: *mut libc::dev_t) -> c_int {
    let call = |p: *const c_char| raw::__xmknodat(ver, dirfd, p, mode, dev);
    if !crate::mem::readable(dev.cast(), std::mem::size_of::<libc::dev_t>()) {
        return call(path);
    }
    change_hook(dirfd, path, |sp| on_members_with_times("mknod", &sp, |a| raw::mknodat(a.fd, a.path.as_ptr(), mode, *dev)), call)
}

/// remove(3): glibc's calls unlink and rmdir internally, out of the hooks' sight.
#[no_mangle]
pub unsafe extern "C-unwind" fn remove(path: *const c_char) -> c_int {
    change_hook(
        libc::AT_FDCWD,
        path,
        |sp| {
            // Held from the look: another process may replace a directory by a file meanwhile.
            let _name = crate::names::hold(&[sp.rel()]);
            let st = super::on_lead_res(&sp, "remove", |a| crate::real::fstatat(a.fd, &a.path, libc::AT_SYMLINK_NOFOLLOW))?;
            let flags = if st.st_mode & libc::S_IFMT == libc::S_IFDIR { libc::AT_REMOVEDIR } else { 0 };
            if flags != 0 && names_set_root(&sp, path) {
                return Err(Errno(libc::EBUSY));
            }
            on_members_recorded("remove", &sp, Recorded::Names(NameKind::Removed), |a| raw::unlinkat(a.fd, a.path.as_ptr(), flags))
        },
        |p| raw::remove(p),
    )
}

/// What a two-path call moves (see on_members2).
#[derive(Clone, Copy)]
enum Moves {
    Nothing,
    Source,
    Both,
}

/// Hooks with two paths: both ours → both members; one ours → EXDEV, as between two file
/// systems (mv then copies, through the hooks); neither → libc. The call's name goes with
/// what it moves (see on_members2); `call` is the `*at` form; `plain` the libc function the
/// program called, for paths that are not ours.
unsafe fn two_paths(
    (what, moves, follows_source): (&str, Moves, bool),
    da: c_int,
    a: *const c_char,
    db: c_int,
    b: *const c_char,
    call: impl Fn(c_int, *const c_char, c_int, *const c_char, bool) -> c_int,
    plain: impl Fn(*const c_char, *const c_char) -> c_int,
) -> c_int {
    if !set::is_active_for(a) && !set::is_active_for(b) {
        return plain(a, b);
    }
    if [(da, a), (db, b)].into_iter().any(|(d, p)| super::relative_to_ours(d, p)) {
        return fdtable::not_the_programs();
    }
    let before = (da >= 0 || db >= 0).then(crate::fdtable::relinks);
    boundary::hook(
        || match (resolve_arg(da, a), resolve_arg(db, b)) {
            // A link to the root's name finds it taken, whatever the source's file system;
            // the root cannot be moved, nor replaced by a rename.
            (_, Some(Arg::Shadowed(rb))) if matches!(moves, Moves::Nothing) && names_set_root(&rb, b) => Err(Errno(libc::EEXIST)),
            (ra, rb) if !matches!(moves, Moves::Nothing) && [(&ra, a), (&rb, b)].iter().any(|(r, p)| matches!(r, Some(Arg::Shadowed(sp)) if names_set_root(sp, *p))) => Err(Errno(libc::EBUSY)),
            // A pointer the kernel refuses: its EFAULT (or ENAMETOOLONG), once the kernel has
            // looked at the other path as it would natively.
            (None, Some(Arg::Shadowed(sb))) => super::on_lead(&sb, what, |y| call(da, a, y.fd, y.path.as_ptr(), false)),
            (Some(Arg::Shadowed(sa)), None) => super::on_lead(&sa, what, |x| call(x.fd, x.path.as_ptr(), db, b, false)),
            (Some(Arg::Shadowed(ra)), Some(Arg::Shadowed(rb))) => {
                let both = |ra: &Spath, rb: &Spath| {
                    let moved: &[&Spath] = match moves {
                        Moves::Nothing => &[],
                        Moves::Source => &[ra],
                        Moves::Both => &[ra, rb],
                    };
                    on_members2(what, (ra, follows_source), rb, moved, |x, y, on_follower| call(x.fd, x.path.as_ptr(), y.fd, y.path.as_ptr(), on_follower))
                };
                match both(&ra, &rb) {
                    Err(Errno(libc::ENOENT)) => through_links(&ra, &rb, (matches!(moves, Moves::Nothing), follows_source), both),
                    r => r,
                }
            }
            // As between two file systems, once the kernel has found the other path's
            // directory (a bad dirfd is EBADF, a missing directory ENOENT, natively too).
            (Some(Arg::Shadowed(_)), other) => parent_found(db, other.as_ref().map_or(b, |o| o.ptr(b))).and(Err(Errno(libc::EXDEV))),
            (other, Some(Arg::Shadowed(_))) => parent_found(da, other.as_ref().map_or(a, |o| o.ptr(a))).and(Err(Errno(libc::EXDEV))),
            (x, y) => {
                let passing = before.map(crate::fdtable::Passing::checked);
                let r = plain(x.as_ref().map_or(a, |x| x.ptr(a)), y.as_ref().map_or(b, |y| y.ptr(b)));
                for (dirfd, arg) in [(da, x), (db, y)] {
                    if matches!(arg, Some(Arg::Keep)) {
                        super::relative_passed_through(dirfd, passing, r == -1);
                    }
                }
                r.into_res()
            }
        },
        || plain(a, b),
    )
}

/// Whether the directory holding `path` (relative to `dirfd`) is found, as the kernel
/// looks for it before it compares the two paths' file systems.
unsafe fn parent_found(dirfd: c_int, path: *const c_char) -> Res<()> {
    let (dir, _) = shadow_core::vpath::split_last(crate::mem::path(path).ok_or(Errno(libc::EFAULT))?.to_bytes());
    let st = crate::real::fstatat(dirfd, &CString::new(dir).map_err(|_| Errno(libc::EINVAL))?, 0)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno(libc::ENOTDIR));
    }
    Ok(())
}

/// `super::through_links` for a call with two paths under the prefix that the lead
/// answered ENOENT (`link`: a link, else a rename): again with the links before each last
/// name the members cannot follow replaced, then, for a call that follows it (`follows_source`: linkat with
/// AT_SYMLINK_FOLLOW), with the source's last name too. A path such a link takes out of the
/// prefix leaves the answer as it was. (Before, a rename or link of a symlink that loops
/// through the prefix said ELOOP where the kernel, which does not follow it, said ENOENT
/// for the other path: tests/scripts/namespace_fuzz.py.)
fn through_links(ra: &Spath, rb: &Spath, (link, follows_source): (bool, bool), both: impl Fn(&Spath, &Spath) -> Res<c_int>) -> Res<c_int> {
    // A place out of the prefix is another file system's: the answer stands.
    let within = |t: Option<Res<Target>>| match t.transpose()? {
        Some(Target::Shadowed(sp)) => Ok(Some(sp)),
        None => Ok(None),
        Some(_) => Err(Errno(libc::ENOENT)),
    };
    let [a0, a1] = ra.through_links();
    let a0 = within(a0)?;
    let a1 = if follows_source { within(a1)? } else { None };
    // The kernel walks the source first, to its directory for a rename, whole for a link,
    // as it would walk it (through the links a member cannot follow): not found there, its
    // answer (ENOENT, ENOTDIR) is the call's, whatever the destination's path holds (its
    // ELOOP comes after).
    let source = a1.as_ref().or(a0.as_ref()).unwrap_or(ra);
    match link {
        false => source.dir_on_lead()?,
        true => source.on_lead(follows_source)?,
    }
    let [b0, _] = rb.through_links();
    let b0 = within(b0)?;
    let b = b0.as_ref().unwrap_or(rb);
    let mut answer = Err(Errno(libc::ENOENT));
    if a0.is_some() || b0.is_some() {
        answer = both(a0.as_ref().unwrap_or(ra), b);
    }
    if !matches!(answer, Err(Errno(libc::ENOENT))) {
        return answer;
    }
    match a1 {
        Some(a1) => both(&a1, b),
        None => answer,
    }
}

/// A rename on each member (`at`: renameat's arguments; `on_follower`: which member). On
/// the lead it is first made with RENAME_NOREPLACE, so the shim knows whether it replaced
/// an entry; where it replaced nothing, neither may the follower's (an entry there is
/// another process's removal on its way, or stale: see members::follower_entry_is_stale).
/// Where the flag is refused, a plain rename.
struct NotingRename {
    replaced_nothing: std::cell::Cell<bool>,
}

impl NotingRename {
    fn new() -> NotingRename {
        NotingRename { replaced_nothing: std::cell::Cell::new(false) }
    }

    unsafe fn rename(&self, da: c_int, a: *const c_char, db: c_int, b: *const c_char, on_follower: bool) -> c_int {
        let plain = || raw::renameat(da, a, db, b);
        if on_follower && !self.replaced_nothing.get() {
            return plain();
        }
        if raw::renameat2(da, a, db, b, libc::RENAME_NOREPLACE) == 0 {
            self.replaced_nothing.set(!on_follower);
            return 0;
        }
        // A plain rename answers every other failure as the flagged one did, or where the
        // flag itself is refused (EINVAL from FUSE or NFS, EPERM from a seccomp filter)
        // does the rename.
        match Errno::last() {
            Errno(libc::EEXIST) if on_follower && !crate::members::follower_entry_is_stale() => -1,
            _ => plain(),
        }
    }
}

/// rename(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn rename(a: *const c_char, b: *const c_char) -> c_int {
    let noting = NotingRename::new();
    two_paths(("rename", Moves::Source, false), libc::AT_FDCWD, a, libc::AT_FDCWD, b, |da, a, db, b, f| noting.rename(da, a, db, b, f), |a, b| raw::rename(a, b))
}

/// renameat(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn renameat(da: c_int, a: *const c_char, db: c_int, b: *const c_char) -> c_int {
    let noting = NotingRename::new();
    two_paths(("renameat", Moves::Source, false), da, a, db, b, |da, a, db, b, f| noting.rename(da, a, db, b, f), |a, b| raw::renameat(da, a, db, b))
}

/// renameat2(2), RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT passed to both members.
/// A follower on a file system without rename flags (FUSE: sshfs) answers RENAME_NOREPLACE
/// with EINVAL; the lead has just done it without replacing, and the follower holds what the
/// lead holds, so a plain rename there does the same.
#[no_mangle]
pub unsafe extern "C-unwind" fn renameat2(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_uint) -> c_int {
    let noting = NotingRename::new();
    let at_form = |da, a, db, b, on_follower: bool| {
        if flags == 0 {
            return noting.rename(da, a, db, b, on_follower);
        }
        let r = raw::renameat2(da, a, db, b, flags);
        if r == -1 && on_follower && flags == libc::RENAME_NOREPLACE && Errno::last().0 == libc::EINVAL {
            return raw::renameat(da, a, db, b);
        }
        r
    };
    let moves = if flags & libc::RENAME_EXCHANGE != 0 { Moves::Both } else { Moves::Source };
    let r = two_paths(("renameat2", moves, false), da, a, db, b, at_form, |a, b| raw::renameat2(da, a, db, b, flags));
    if r == 0 && flags & libc::RENAME_WHITEOUT != 0 {
        // The source name is now a whiteout each member's kernel made with its own times.
        boundary::prepare(|| match resolve::resolve(da, crate::mem::path(a)?) {
            Target::Shadowed(sp) => {
                copy_entry_times(&sp);
                Some(())
            }
            _ => None,
        });
    }
    r
}

/// link(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn link(a: *const c_char, b: *const c_char) -> c_int {
    two_paths(("link", Moves::Nothing, false), libc::AT_FDCWD, a, libc::AT_FDCWD, b, |da, a, db, b, _| raw::linkat(da, a, db, b, 0), |a, b| raw::link(a, b))
}

/// linkat(2), including giving an O_TMPFILE file its name.
#[no_mangle]
pub unsafe extern "C-unwind" fn linkat(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_int) -> c_int {
    let plain = |a: *const c_char, b: *const c_char| raw::linkat(da, a, db, b, flags);
    // A node's fd too (a FIFO's, an O_PATH symlink's), by either way of naming it: before,
    // `/proc/self/fd/N` of one was taken as a path outside the set (EXDEV).
    let by_empty_path = !a.is_null() && crate::mem::path(a).is_some_and(|s| s.is_empty()) && flags & libc::AT_EMPTY_PATH != 0;
    let source_fd = if by_empty_path { Some(da) } else { super::proc_fd_number(a) }.filter(|&fd| fdtable::is_shadowed(fd) || fdtable::is_node(fd));
    let Some(sfd_of) = source_fd else {
        return two_paths(("linkat", Moves::Nothing, flags & libc::AT_SYMLINK_FOLLOW != 0), da, a, db, b, |da, a, db, b, _| raw::linkat(da, a, db, b, flags), plain);
    };
    let by_fd = flags & libc::AT_EMPTY_PATH != 0;
    // The link named `sb`: the lead's made as the program asked, then the follower's.
    let link_to = |sb: Spath| -> Res<Result<c_int, CString>> {
        // Without a follower fd (read-only, O_PATH), the follower's file is linked by the
        // name it was opened by, held with the new one, while it still is the fd's file,
        // else by its name now (before, a file renamed since its open was linked on the
        // lead alone: ESTALE, 00030), as a node's (a FIFO's, an O_PATH symlink's:
        // fdtable::NODES). A node with no name left is the lead's to refuse (ENOENT, after
        // the destination's own errors): before, EXDEV.
        let (sfd, opened_by) = match fdtable::get(sfd_of) {
            Some(ocb) => (ocb.secondary_fd(), ocb.secondary_fd().is_none().then(|| Spath::from_rel(ocb.rel()))),
            None => (None, None),
        };
        let (_names, by_name) = match sfd {
            Some(_) => (crate::names::hold(&[sb.rel()]), None),
            None => hold_link_source(&sb, sfd_of, opened_by),
        };
        let intent = crate::members::intent_begin(sb.rel());
        let r = super::on_lead(&sb, "linkat", |at| raw::linkat(da, a, at.fd, at.path.as_ptr(), flags)).inspect_err(|_| crate::members::intent_end(intent))?;
        crate::members::record_change(crate::members::Changed::Path(&sb));
        let secondary = match (sfd, by_name) {
            (Some(sfd), _) => on_follower(&sb, |at| {
                if by_fd {
                    return raw::linkat(sfd, c"".as_ptr(), at.fd, at.path.as_ptr(), flags);
                }
                let proc = CString::new(format!("/proc/thread-self/fd/{sfd}")).unwrap_or_default();
                raw::linkat(libc::AT_FDCWD, proc.as_ptr(), at.fd, at.path.as_ptr(), flags)
            }),
            (None, Some(src)) => super::on_follower_res(&sb, |at| {
                let v = crate::members::view();
                let from = src.at(&v, v.follower.ok_or(Errno(libc::ENOENT))?)?;
                raw::linkat(from.fd, from.path.as_ptr(), at.fd, at.path.as_ptr(), 0).into_res()
            }),
            // Renamed or replaced since it was opened: no known counterpart to link.
            (None, _) => crate::members::view().follower.map(|_| Err(Errno(libc::ESTALE))),
        };
        if let Some(Err(e)) = secondary {
            crate::members::follower_failed(sb.rel(), "linkat", e, None)?;
            return Ok(Ok(r));
        }
        crate::members::intent_end(intent);
        Ok(Ok(r))
    };
    boundary::hook(
        || {
            let Some(dest) = crate::mem::path(b) else { return plain(a, b).into_res() };
            let Target::Shadowed(sb) = resolve::resolve(db, dest) else { return Err(Errno(libc::EXDEV)) };
            // A destination through a link a member cannot follow (an absolute one into the
            // prefix): made where it leads. Before, ENOENT.
            match super::through_links(link_to(sb), || resolve::resolve(db, dest), link_to)? {
                Ok(r) => Ok(r),
                Err(outside) => plain(a, outside.as_ptr()).into_res(),
            }
        },
        || plain(a, b),
    )
}

/// For a link by an fd without a follower fd (`sfd_of`: read-only, O_PATH, a node's): the
/// new name `sb` held with the name the fd's file has on the lead, the one it was opened by
/// (`opened_by`) while it still names the file, else the one the kernel gives it now, asked
/// again while another process renames it between the look and the hold (before, ESTALE
/// and 00030 for a file four processes renamed about). None: no name names it (replaced,
/// renamed again and again, or kept only by a name in another directory).
fn hold_link_source(sb: &Spath, sfd_of: c_int, opened_by: Option<Spath>) -> (crate::stripes::Held, Option<Spath>) {
    let Ok(st) = crate::real::fstat(sfd_of) else { return (crate::names::hold(&[sb.rel()]), None) };
    let names = |sp: &Spath| crate::names::names_file(sp, &st, libc::AT_SYMLINK_NOFOLLOW);
    let mut source = opened_by.filter(|sp| names(sp)).or_else(|| resolve::name_now(sfd_of));
    for _ in 0..4 {
        let Some(src) = source else { break };
        let held = crate::names::hold(&[sb.rel(), src.rel()]);
        if names(&src) {
            return (held, Some(src));
        }
        drop(held);
        source = resolve::name_now(sfd_of).filter(|now| now.rel() != src.rel());
    }
    (crate::names::hold(&[sb.rel()]), None)
}

/// Fills the `XXXXXX` of a template with fresh letters, as mkstemp does.
fn fill_template(t: &mut [u8], suffix: usize) -> Res<()> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let end = t.len().checked_sub(suffix).ok_or(Errno(libc::EINVAL))?;
    let start = end.checked_sub(6).ok_or(Errno(libc::EINVAL))?;
    if &t[start..end] != b"XXXXXX" {
        return Err(Errno(libc::EINVAL));
    }
    let mut rnd = [0u8; 6];
    unsafe { libc::getrandom(rnd.as_mut_ptr().cast(), 6, 0) };
    for (slot, r) in t[start..end].iter_mut().zip(rnd) {
        *slot = CHARS[r as usize % CHARS.len()];
    }
    Ok(())
}

/// mkstemp and friends on a shadowed template: try names until one is free on the primary.
unsafe fn make_temp(template: *mut c_char, suffix: c_int, create: impl Fn(Spath) -> Res<c_int>) -> Res<c_int> {
    let len = libc::strlen(template);
    let t = std::slice::from_raw_parts_mut(template as *mut u8, len);
    let original = t.to_vec();
    for _ in 0..100 {
        fill_template(t, suffix.max(0) as usize)?;
        let resolved = || resolve::resolve(libc::AT_FDCWD, CStr::from_ptr(template));
        let Target::Shadowed(sp) = resolved() else { return Err(Errno(libc::EINVAL)) };
        // A name through a link a member cannot follow: made where the link leads, as the
        // hooks' own retry makes it (a template leading outside the prefix: ENOENT).
        let made = super::through_links(create(sp).map(Ok), resolved, |sp| create(sp).map(Ok)).and_then(|made| made.map_err(|_| Errno(libc::ENOENT)));
        match made {
            Err(Errno(libc::EEXIST)) => t.copy_from_slice(&original),
            other => return other,
        }
    }
    Err(Errno(libc::EEXIST))
}

macro_rules! mkstemp_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) => ($suffix:expr, $flags:expr); )*) => {$(
        /// mkstemp(3) family
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(template: *mut c_char $(, $arg: $ty)*) -> c_int {
            boundary::cancellation_point();
            let call = |_: *const c_char| raw::$name(template $(, $arg)*);
            change_hook(libc::AT_FDCWD, template, |_| make_temp(template, $suffix, |sp| {
                let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | ($flags & !libc::O_ACCMODE);
                super::open::open_shadowed(sp, flags, 0o600)
            }), call)
        }
    )*};
}

mkstemp_hooks! {
    fn mkstemp() => (0, 0);
    fn mkstemp64() => (0, 0);
    fn mkostemp(flags: c_int) => (0, flags);
    fn mkostemp64(flags: c_int) => (0, flags);
    fn mkstemps(suffix: c_int) => (suffix, 0);
    fn mkstemps64(suffix: c_int) => (suffix, 0);
    fn mkostemps(suffix: c_int, flags: c_int) => (suffix, flags);
    fn mkostemps64(suffix: c_int, flags: c_int) => (suffix, flags);
}

/// mkdtemp(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn mkdtemp(template: *mut c_char) -> *mut c_char {
    let call = |_: *const c_char| raw::mkdtemp(template);
    change_hook(
        libc::AT_FDCWD,
        template,
        |_| {
            make_temp(template, 0, |sp| on_members_with_times("mkdtemp", &sp, |a| raw::mkdirat(a.fd, a.path.as_ptr(), 0o700)))?;
            Ok(template)
        },
        call,
    )
}
