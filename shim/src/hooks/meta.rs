//! Metadata: chmod/chown/utimes/truncate/xattrs by path and by fd (mirrored), and the
//! read side (stat family, access, readlink, statfs, getxattr), answered by the primary.

use super::namespace::{mirror_hooks, on_members, via_abs};
use super::{change_hook, path_hook};
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::ocb::times_of;
use crate::real::{self, raw, Errno, Res};
use crate::members::Changed;
use crate::resolve::{At, Spath};
use libc::{c_char, c_int, c_uint, c_void, gid_t, mode_t, off64_t, size_t, ssize_t, uid_t};
use std::ffi::CString;

mirror_hooks! {
    /// chmod(2)
    fn chmod(path: *const c_char, mode: mode_t) -> c_int = on_members at(libc::AT_FDCWD, path) or through_fd_link if true => |a| raw::fchmodat(a.fd, a.path.as_ptr(), mode, 0);
    /// fchmodat(2)
    fn fchmodat(dirfd: c_int, path: *const c_char, mode: mode_t, flags: c_int) -> c_int = on_members at(dirfd, path) or through_fd_link if flags & NOFOLLOW == 0 => |a| raw::fchmodat(a.fd, a.path.as_ptr(), mode, flags);
    /// lchmod(3): glibc changes the link itself through an O_PATH fd with internal calls.
    fn lchmod(path: *const c_char, mode: mode_t) -> c_int = on_members at(libc::AT_FDCWD, path) => |a| raw::fchmodat(a.fd, a.path.as_ptr(), mode, libc::AT_SYMLINK_NOFOLLOW);
    /// chown(2)
    fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int = on_members at(libc::AT_FDCWD, path) or through_fd_link if true => |a| raw::fchownat(a.fd, a.path.as_ptr(), uid, gid, 0);
    /// lchown(2)
    fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int = on_members at(libc::AT_FDCWD, path) => |a| raw::fchownat(a.fd, a.path.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW);
    /// truncate(2)
    fn truncate(path: *const c_char, len: off64_t) -> c_int = on_members_truncating at(libc::AT_FDCWD, path) or truncate_through_fd_link if true => |a| via_abs(a, |p| raw::truncate(p, len));
    /// truncate64(2)
    fn truncate64(path: *const c_char, len: off64_t) -> c_int = on_members_truncating at(libc::AT_FDCWD, path) or truncate_through_fd_link if true => |a| via_abs(a, |p| raw::truncate64(p, len));
}

/// Whether `name` is the member stamp on the prefix root (`sp`): each member's own record
/// of its history (stamp.rs), not the program's. It is neither shown nor changed: `rsync -aX
/// src/ /shadow/` removed it from both members (xattrs the source lacks go), switching
/// split-brain detection off for good, unreported.
/// `follows`: the call follows a final symlink. The root is also reached by a name
/// through a symlink to it (`d/up -> ..`), which only the lead's answer tells apart: asked
/// only for the stamp's name.
fn is_stamp(sp: &Spath, name: *const c_char, follows: bool) -> bool {
    is_stamp_name(name) && (sp.rel().0.is_empty() || reaches_root(sp, follows))
}

/// Whether `sp` names the set's root on the lead, as a call that follows a final symlink
/// (`follows`) or not resolves it.
fn reaches_root(sp: &Spath, follows: bool) -> bool {
    let v = crate::members::view();
    let flags = if follows { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    let here = sp.at_lead(&v).and_then(|at| real::fstatat(at.fd, &at.path, flags));
    let root = real::fstatat(libc::AT_FDCWD, &v.path(v.lead, b""), 0);
    matches!((here, root), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
}

fn is_stamp_name(name: *const c_char) -> bool {
    crate::mem::path(name).is_some_and(|n| n.to_bytes() == shadow_core::stamp::XATTR.as_bytes())
}

/// Whether `path` is a link to the prefix root that a call following it reaches it by:
/// `/proc/self/fd/N` (`/dev/fd/N`…) of the program's fd on it, another process's, or a cwd
/// link.
fn root_by_link(path: *const c_char) -> bool {
    match super::proc_fd(path) {
        Some(fd) => fdtable::get(fd).is_some_and(|o| o.rel().0.is_empty()),
        None => followed_link(path).is_some_and(|sp| sp.rel().0.is_empty()),
    }
}

/// The stamp by a link to the root (see `root_by_link`), which the path hooks would pass
/// to the fd's file as it is: refused with `errno`.
fn stamp_by_link(path: *const c_char, name: *const c_char, errno: c_int) -> Option<c_int> {
    (is_stamp_name(name) && root_by_link(path)).then(|| {
        Errno(errno).set();
        -1
    })
}

/// Declares the xattr changes by path: mirrored, the member stamp refused with `$refused`
/// (see `is_stamp`); `follows`: the call follows a final symlink (`through_fd_link`).
macro_rules! xattr_change_hooks {
    ($( $(#[$doc:meta])* fn $name:ident(path, name $(, $arg:ident: $ty:ty)*) follows $follows:expr, refused $refused:expr; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, name: *const c_char $(, $arg: $ty)*) -> c_int {
            let call = |p: *const c_char| raw::$name(p, name $(, $arg)*);
            if $follows {
                if let Some(r) = stamp_by_link(path, name, $refused) {
                    return r;
                }
                if let Some(r) = through_fd_link(path, stringify!($name), call) {
                    return r;
                }
            }
            let shadowed = |sp: Spath| {
                if is_stamp(&sp, name, $follows) {
                    return Err(Errno($refused));
                }
                on_members(stringify!($name), &sp.following($follows), |a| via_abs(a, call))
            };
            change_hook(libc::AT_FDCWD, path, shadowed, call)
        }
    )*};
}

xattr_change_hooks! {
    /// setxattr(2): extended attributes are mirrored.
    fn setxattr(path, name, v: *const c_void, n: size_t, flags: c_int) follows true, refused libc::EPERM;
    /// lsetxattr(2)
    fn lsetxattr(path, name, v: *const c_void, n: size_t, flags: c_int) follows false, refused libc::EPERM;
    /// removexattr(2)
    fn removexattr(path, name) follows true, refused libc::ENODATA;
    /// lremovexattr(2)
    fn lremovexattr(path, name) follows false, refused libc::ENODATA;
}

/// getxattr(2) and lgetxattr(2): the lead's answer; the member stamp is not there.
macro_rules! xattr_get_hooks {
    ($($name:ident follows $follows:expr),*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t {
            let call = |p: *const c_char| raw::$name(p, name, v, n);
            if $follows {
                if let Some(r) = stamp_by_link(path, name, libc::ENODATA) {
                    return r as ssize_t;
                }
            }
            let shadowed = |sp: Spath| {
                if is_stamp(&sp, name, $follows) {
                    return Err(Errno(libc::ENODATA));
                }
                super::on_lead(&sp, stringify!($name), |a| via_abs(a, call))
            };
            path_hook(libc::AT_FDCWD, path, shadowed, call)
        }
    )*};
}
xattr_get_hooks!(getxattr follows true, lgetxattr follows false);

/// listxattr(2) and llistxattr(2): the lead's list, without the member stamp on the root.
macro_rules! xattr_list_hooks {
    ($($name:ident follows $follows:expr),*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, list: *mut c_char, n: size_t) -> ssize_t {
            let call = |p: *const c_char| raw::$name(p, list, n);
            if $follows && root_by_link(path) {
                return boundary::hook(|| hand_over_list(&list_of(|buf, size| raw::$name(path, buf, size))?, list, n), || call(path));
            }
            let shadowed = |sp: Spath| {
                if !sp.rel().0.is_empty() {
                    // The root reached through a symlink (`d/up -> ..`).
                    let r = super::on_lead(&sp, stringify!($name), |a| via_abs(a, call))?;
                    return Ok(listed_without_stamp(list, n, r, || reaches_root(&sp, $follows)));
                }
                let names = super::on_lead_res(&sp, stringify!($name), |a| a.abs().and_then(|p| list_of(|buf, size| raw::$name(p.as_ptr(), buf, size))))?;
                hand_over_list(&names, list, n)
            };
            path_hook(libc::AT_FDCWD, path, shadowed, call)
        }
    )*};
}
xattr_list_hooks!(listxattr follows true, llistxattr follows false);

/// A whole xattr name list (NUL-separated) by `call(buf, size)`, without the member stamp.
fn list_of(call: impl Fn(*mut c_char, size_t) -> ssize_t) -> Res<Vec<u8>> {
    loop {
        let size = call(std::ptr::null_mut(), 0).into_res()? as usize;
        let mut buf = vec![0u8; size];
        match call(buf.as_mut_ptr().cast(), size).into_res() {
            // Grown between the two calls: again.
            Err(Errno(libc::ERANGE)) => continue,
            r => buf.truncate(r? as usize),
        }
        return Ok(without_stamp(&buf));
    }
}

/// A NUL-separated xattr name list without the member stamp's name.
fn without_stamp(names: &[u8]) -> Vec<u8> {
    let stamp = shadow_core::stamp::XATTR.as_bytes();
    names.split_inclusive(|&b| b == 0).filter(|n| n.strip_suffix(&[0]) != Some(stamp)).flatten().copied().collect()
}

/// listxattr's answer from `names`: their size for a size of 0, ERANGE when they do not fit.
fn hand_over_list(names: &[u8], list: *mut c_char, n: size_t) -> Res<ssize_t> {
    if n == 0 {
        return Ok(names.len() as ssize_t);
    }
    if names.len() > n {
        return Err(Errno(libc::ERANGE));
    }
    // SAFETY: the program gave `n` bytes at `list`, as the kernel would write them.
    unsafe { std::ptr::copy_nonoverlapping(names.as_ptr(), list.cast(), names.len()) };
    Ok(names.len() as ssize_t)
}

/// What a change through an fd or a name does to the file, for the change list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Changes {
    /// Nothing the members could differ in: a flush.
    Nothing,
    /// Its metadata alone: mode, owner, times, xattrs, inode flags.
    Metadata,
    /// Its bytes (a truncation).
    Bytes,
}

impl Changes {
    /// Whether the change takes the file's word (namespace::hold_file_reached) through an
    /// fd: a metadata change; a flush needs none, and a truncation's caller holds it.
    fn takes_word(self) -> bool {
        self == Changes::Metadata
    }
}

/// A metadata change through an fd: the program's fd (the primary's), then the secondary's
/// fd, or the secondary's path for OCBs without one (read-only opens). Journalled like any
/// change (the intent stays open when the follower failed), and recorded for a member that
/// is away.
pub(crate) fn on_fd<T: FfiReturn>(fd: c_int, what: &str, op: impl Fn(c_int) -> T, by_path: impl Fn(*const c_char) -> T) -> Res<T> {
    on_fd_as(fd, what, Changes::Metadata, op, by_path)
}

/// `on_fd` for a flush, which changes nothing the members could differ in (see
/// `Ocb::changing`).
pub(crate) fn flush_on_fd<T: FfiReturn>(fd: c_int, what: &str, op: impl Fn(c_int) -> T, by_path: impl Fn(*const c_char) -> T) -> Res<T> {
    on_fd_as(fd, what, Changes::Nothing, op, by_path)
}

fn on_fd_as<T: FfiReturn>(fd: c_int, what: &str, changes: Changes, op: impl Fn(c_int) -> T, by_path: impl Fn(*const c_char) -> T) -> Res<T> {
    let by_name = |ocb: &crate::ocb::Ocb, named: &Named| match named.follower(|sp| super::on_follower(sp, |a| via_abs(a, &by_path))) {
        // A flush of a file no name finds (the one it was opened by removed, another kept):
        // the follower's whole file system, so that what it holds of the file is as safe
        // as the lead's. Before, the file was reported insecure.
        Err(Nameless) if changes == Changes::Nothing => follower_file_system_flushed().and_then(Result::err).map(Err),
        Err(Nameless) => Nameless::reported(ocb),
        Ok(r) => r,
    };
    through_fd(fd, what, changes, || op(fd).into_res(), |sfd| op(sfd).into_res(), by_name, || on_node(fd, what, &op, &by_path))
}

/// `on_fd`'s shape: `lead` through `fd`, then the follower's part through the open's
/// follower fd (`by_sfd`) or, for an open without one, by name (`by_name`, given the name
/// held from before the lead's part: `Named`); `unlinked` for
/// a number that holds no open of the shim's. The number stays the open's until the
/// follower's part is made (`Ocb::linked_order`; made again for what it holds when another
/// thread's close or dup2 came first: `fdtable::with_link`), but not across a change by
/// name, whose name is held (elsewhere names are held before a file's order). Before, a
/// change through a number `dup2` redirected meanwhile reached the new file on the lead
/// and the old one's follower, and a close meanwhile made the follower's part fail EBADF
/// (helper-50: `futimens`, mtimes apart, unreported).
/// `changes`: what the call changes of the file.
fn through_fd<T>(fd: c_int, what: &str, changes: Changes, lead: impl Fn() -> Res<T>, by_sfd: impl Fn(c_int) -> Res<T>, by_name: impl Fn(&crate::ocb::Ocb, &Named) -> Option<Res<T>>, unlinked: impl Fn() -> Res<T>) -> Res<T> {
    fdtable::with_link(
        fd,
        |ocb| {
            // The file's word, which a change by any of its names holds too.
            let order = ocb.linked_order(fd, changes.takes_word())?;
            if changes != Changes::Nothing {
                ocb.changing();
            }
            let changed = Changed::Open { ocb: &ocb, fd: Some(fd), once: false };
            match ocb.secondary_fd() {
                Some(sfd) => journalled(changed, changes, what, &lead, || Some(by_sfd(sfd))),
                None => {
                    drop(order);
                    let named = Named::hold(fd, &ocb, changes.takes_word());
                    journalled(changed, changes, what, &lead, || by_name(&ocb, &named))
                }
            }
        },
        unlinked,
    )
}

/// A change (`changed`), the lead's part (`lead`) then the follower's (`follower`; None: it
/// has none to make): journalled (the intent stays open when the follower failed) and, by
/// what it `changes` of the file, recorded for a member that is away; a follower failure
/// as `follower_failed` says. A flush recorded had a resync's catch-up copy the whole file
/// again for every `fdatasync` a database made.
fn journalled<T>(changed: Changed, changes: Changes, what: &str, lead: impl FnOnce() -> Res<T>, follower: impl FnOnce() -> Option<Res<T>>) -> Res<T> {
    let rel = changed.rel();
    let intent = crate::members::intent_begin(&rel);
    let r = lead().inspect_err(|_| crate::members::intent_end(intent))?;
    let ocb = changed.ocb();
    match changes {
        Changes::Nothing => {}
        Changes::Metadata => crate::members::record_metadata(changed),
        Changes::Bytes => crate::members::record_change(changed),
    }
    if let Some(Err(e)) = follower() {
        crate::members::follower_failed(&rel, what, e, ocb)?;
        return Ok(r);
    }
    crate::members::intent_end(intent);
    Ok(r)
}

/// A metadata change through the fd of a FIFO, socket or device node under the prefix
/// (`fdtable::is_node`; no OCB): the lead's through the fd, the follower's by the name the
/// kernel gives the node now, held while it still names it. Before, such changes reached
/// the primary alone. Anything else: the fd's own call.
fn on_node<T: FfiReturn>(fd: c_int, what: &str, op: impl Fn(c_int) -> T, by_path: impl Fn(*const c_char) -> T) -> Res<T> {
    let by_path = |a: &At| via_abs(a, &by_path);
    node_change(fd, what, || op(fd).into_res(), |sp| super::on_follower(sp, by_path), |sp| super::namespace::on_members(what, &sp, by_path))
}

/// `on_node`'s shape: `lead` through the fd, `follower` on the node's name in the
/// follower, or `lead` alone where the fd names no node under the prefix. A node opened
/// before the lead moved lies in the member that led then: the change is the node's by its
/// name (`by_name`, on the members written now), where the lead has a node of that type;
/// before, it reached the fd's node alone, in a member out of service or no longer the
/// lead, and was undone by the next resync, unreported. Where the lead has none, it is
/// made through the fd and reported.
fn node_change<T>(fd: c_int, what: &str, lead: impl FnOnce() -> Res<T>, follower: impl FnOnce(&Spath) -> Option<Res<T>>, by_name: impl FnOnce(Spath) -> Res<T>) -> Res<T> {
    let named = fdtable::is_node(fd).then(|| crate::resolve::name_now_in_any(fd)).flatten();
    let (Some((sp, on_lead)), Ok(here)) = (named, real::fstat(fd)) else { return lead() };
    if !on_lead {
        let v = crate::members::view();
        let kind = |st: libc::stat64| st.st_mode & libc::S_IFMT;
        if sp.at_lead(&v).and_then(|a| real::fstatat(a.fd, &a.path, libc::AT_SYMLINK_NOFOLLOW)).is_ok_and(|st| kind(st) == kind(here)) {
            return by_name(sp);
        }
        let r = lead()?;
        crate::report::record(shadow_core::history::Code::NamespaceMismatch, sp.rel(), &format!("{what} through an fd of a node opened before the lead moved, whose name the lead no longer gives a node of its type: made on that member's node only"));
        return Ok(r);
    }
    let Some(_name) = crate::names::hold_naming(&sp, &here, libc::AT_SYMLINK_NOFOLLOW) else { return lead() };
    journalled(Changed::Path(&sp), Changes::Metadata, what, lead, || follower(&sp))
}

/// For a change through `fd` whose OCB has no follower fd (a read-only open), held from
/// before the lead's part to the end of the follower's: the name the follower's part is
/// made by, the one the file was opened by while it still is the lead's file, or its name
/// now (names::hold_file_named), and for a metadata change, the file's word, as by name
/// (namespace::hold_file_reached). Before, the name was taken
/// after the lead's part, and another process's change of the file by another of its
/// names could come between the two.
struct Named {
    name: Option<(crate::stripes::Held, Spath)>,
    here: Option<libc::stat64>,
    _file: Vec<crate::stripes::Held>,
}

impl Named {
    /// `word`: the file's word too.
    fn hold(fd: c_int, ocb: &crate::ocb::Ocb, word: bool) -> Named {
        let (name, here) = crate::names::hold_file_named(&Spath::from_rel(ocb.rel()), fd, 0);
        let held = here.filter(|_| word);
        Named { name, here, _file: held.map_or_else(Vec::new, |st| crate::ocb::hold_files(&[st])) }
    }

    /// The follower's part (`follower`) by the name held. A file replaced since, or whose
    /// name is gone while it keeps another, has no known counterpart on the follower:
    /// `Nameless` (the wrong file is never changed). One with no name left (unlinked)
    /// needs nothing.
    fn follower<T>(&self, follower: impl FnOnce(&Spath) -> Option<Res<T>>) -> Result<Option<Res<T>>, Nameless> {
        if let Some((_, sp)) = &self.name {
            return Ok(follower(sp));
        }
        match self.here {
            Some(st) if st.st_nlink > 0 => Err(Nameless),
            _ => Ok(None),
        }
    }
}

/// A file with names, none the shim knows (see `Named::follower`).
struct Nameless;

impl Nameless {
    /// A change the follower's file could not be given: reported at the last close.
    fn reported<T>(ocb: &crate::ocb::Ocb) -> Option<Res<T>> {
        ocb.mark_insecure("a change through an fd whose file is no longer at the name it was opened by", Errno(libc::ESTALE));
        None
    }
}

/// syncfs of the follower's file system (None: no follower).
fn follower_file_system_flushed() -> Option<Res<()>> {
    let v = crate::members::view();
    let root = v.root(v.follower?);
    Some(root.and_then(|root| {
        // The held root is an O_PATH fd, which syncfs refuses.
        let dir = crate::ocb::open_internal(|| real::openat(root, c".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0))?;
        let r = unsafe { raw::syncfs(dir) }.into_res().map(drop);
        super::lock::close_temporary(dir, None);
        r
    }))
}

macro_rules! fd_meta_hooks {
    ($( $(#[$doc:meta])* fn $name:ident(fd: c_int $(, $arg:ident: $ty:ty)*) by_path $path_fn:ident $(($($parg:expr),*))?; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(fd: c_int $(, $arg: $ty)*) -> c_int {
            if let Some(r) = fdtable::straight_on(fd, true, || raw::$name(fd $(, $arg)*)) {
                return r;
            }
            boundary::hook(
                || on_fd(fd, stringify!($name), |f| raw::$name(f $(, $arg)*), |p| raw::$path_fn(p $($(, $parg)*)? $(, $arg)*)),
                || raw::$name(fd $(, $arg)*),
            )
        }
    )*};
}

fd_meta_hooks! {
    /// fchmod(2)
    fn fchmod(fd: c_int, mode: mode_t) by_path chmod;
    /// fchown(2)
    fn fchown(fd: c_int, uid: uid_t, gid: gid_t) by_path chown;
}

/// Whether `fd` is the prefix root and `name` the member stamp (see `is_stamp`).
fn is_stamp_by_fd(fd: c_int, name: *const c_char) -> bool {
    fdtable::get(fd).is_some_and(|o| o.rel().0.is_empty()) && crate::mem::path(name).is_some_and(|n| n.to_bytes() == shadow_core::stamp::XATTR.as_bytes())
}

/// Declares the xattr calls by fd: changes mirrored or reads of the fd's own (`$body`), the
/// member stamp on the prefix root refused with `$refused` (rsync -X lists and removes the
/// root's xattrs through an fd). A change made straight is checked (`fdtable::straight_on`), a
/// read is not.
macro_rules! fd_xattr_hooks {
    (@straight changes, $fd:ident, $call:expr) => { fdtable::straight_on($fd, true, $call) };
    (@straight reads, $fd:ident, $call:expr) => { (!fdtable::is_shadowed($fd) && !fdtable::is_node($fd)).then($call) };
    ($( fn $name:ident($fd:ident, $xname:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty, refused $refused:expr, $kind:ident => $body:expr; )*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($fd: c_int, $xname: *const c_char $(, $arg: $ty)*) -> $ret {
            if let Some(r) = fd_xattr_hooks!(@straight $kind, $fd, || raw::$name($fd, $xname $(, $arg)*)) {
                return r;
            }
            let guarded = || {
                if is_stamp_by_fd($fd, $xname) {
                    return Err(Errno($refused));
                }
                $body
            };
            boundary::hook(guarded, || raw::$name($fd, $xname $(, $arg)*))
        }
    )*};
}

fd_xattr_hooks! {
    fn fsetxattr(fd, name, v: *const c_void, n: size_t, flags: c_int) -> c_int, refused libc::EPERM, changes
        => on_fd(fd, "fsetxattr", |f| raw::fsetxattr(f, name, v, n, flags), |p| raw::setxattr(p, name, v, n, flags));
    fn fremovexattr(fd, name) -> c_int, refused libc::ENODATA, changes
        => on_fd(fd, "fremovexattr", |f| raw::fremovexattr(f, name), |p| raw::removexattr(p, name));
    fn fgetxattr(fd, name, v: *mut c_void, n: size_t) -> ssize_t, refused libc::ENODATA, reads
        => raw::fgetxattr(fd, name, v, n).into_res();
}

/// flistxattr(2): the fd's own list, without the member stamp on the prefix root.
#[no_mangle]
pub unsafe extern "C-unwind" fn flistxattr(fd: c_int, list: *mut c_char, n: size_t) -> ssize_t {
    if !fdtable::is_shadowed(fd) {
        return raw::flistxattr(fd, list, n);
    }
    let listed = || match fdtable::get(fd).is_some_and(|o| o.rel().0.is_empty()) {
        true => hand_over_list(&list_of(|buf, size| raw::flistxattr(fd, buf, size))?, list, n),
        false => raw::flistxattr(fd, list, n).into_res(),
    };
    boundary::hook(listed, || raw::flistxattr(fd, list, n))
}

/// After a time change reached the lead, the follower is given the lead's exact times:
/// "now" (NULL, UTIME_NOW) must not become two different nows. Where the kernel refuses
/// exact times (a caller with write permission but not the owner may only set "now"), the
/// follower gets the caller's own request instead.
fn copy_times(sp: &Spath, replay: impl Fn(&At) -> c_int) -> Option<Res<c_int>> {
    let v = crate::members::view();
    let f = v.follower?;
    // What the call changed: the file a final symlink leads to, where the call follows it
    // (before, the link's own times were copied onto the follower's link, and the file it
    // leads to kept its old ones: tests/scripts/namespace_fuzz.py).
    let flags = sp.at_flags();
    let times = sp.at_lead(&v).and_then(|a| real::fstatat(a.fd, &a.path, flags)).map(|st| times_of(&st));
    Some(sp.at(&v, f).and_then(|a| match times {
        Ok(t) => match real::utimensat_at(a.fd, &a.path, &t, flags) {
            Err(Errno(libc::EPERM | libc::EACCES)) => replay(&a).into_res(),
            r => r,
        },
        Err(e) => Err(e),
    }))
}

fn times_by_path(sp: Spath, set: impl Fn(&At) -> c_int) -> Res<c_int> {
    // The lead's times are copied: held, so that they are the times of the file the
    // follower's name holds too.
    let _name = crate::names::hold_reached(&sp, sp.follows_last());
    let _file = super::namespace::hold_file_reached(&sp);
    let intent = crate::members::intent_begin(sp.rel());
    let r = super::on_lead(&sp, "utimes", &set).inspect_err(|_| crate::members::intent_end(intent))?;
    crate::members::record_metadata(crate::members::Changed::Path(&sp));
    if let Some(Err(e)) = copy_times(&sp, &set) {
        crate::members::follower_failed(sp.rel(), "utimes", e, None)?;
        return Ok(r);
    }
    crate::members::intent_end(intent);
    Ok(r)
}

/// Exact times on a file by one of the shim's fds (`times_by_fd`'s `exact`).
type SetTimes = fn(c_int, &[libc::timespec; 2]) -> Res<c_int>;

/// A time change through `fd` (`set` makes it through an fd), then the lead's exact times
/// onto the follower's file (`exact` sets them through the follower's fd). A node's fd
/// (see `on_node`) has no follower fd: its follower is given them by name, or the
/// caller's request (`replay`) where exact times are refused.
/// Journalled and recorded as every change through an fd is (`on_fd`): before, a time
/// change through an fd opened before its member went away was on no change list, and the
/// enable that brought the member back left it the old times (`touch` as the primary was
/// disabled and enabled).
fn times_by_fd(fd: c_int, set: impl Fn(c_int) -> c_int, exact: SetTimes, replay: impl Fn(&At) -> c_int) -> Res<c_int> {
    through_fd(fd, "utimes", Changes::Metadata, || set(fd).into_res(), |sfd| lead_times_onto(fd, sfd, exact, &set), follower_times_by_name, || {
        node_change(fd, "utimes", || set(fd).into_res(), |sp| copy_times(sp, &replay), |sp| times_by_path(sp, &replay))
    })
}

/// The lead's times of `fd`'s file onto the follower's, through its fd or by name (see
/// `copy_times`); where the kernel refuses exact times, the caller's request is replayed.
fn lead_times_to_follower(fd: c_int, ocb: &crate::ocb::Ocb, exact: SetTimes, replay: impl Fn(c_int) -> c_int) -> Option<Res<c_int>> {
    match ocb.secondary_fd() {
        Some(sfd) => Some(lead_times_onto(fd, sfd, exact, replay)),
        // The caller (a truncate) holds the file's word.
        None => follower_times_by_name(ocb, &Named::hold(fd, ocb, false)),
    }
}

/// The lead's times of `fd`'s file onto the follower's fd `sfd` (see `lead_times_to_follower`).
fn lead_times_onto(fd: c_int, sfd: c_int, exact: SetTimes, replay: impl Fn(c_int) -> c_int) -> Res<c_int> {
    real::fstat(fd).and_then(|st| match exact(sfd, &times_of(&st)) {
        Err(Errno(libc::EPERM | libc::EACCES)) => replay(sfd).into_res(),
        // An O_PATH follower fd (a directory opened so) takes no futimens: its link does.
        Err(Errno(libc::EBADF)) => link_exact(sfd, &times_of(&st)),
        r => r,
    })
}

/// The lead's times of a file onto the follower's by name, for an open without a follower
/// fd (see `copy_times`).
fn follower_times_by_name(ocb: &crate::ocb::Ocb, named: &Named) -> Option<Res<c_int>> {
    named.follower(|sp| copy_times(sp, |a| via_abs(a, |p| unsafe { raw::utimensat(libc::AT_FDCWD, p, std::ptr::null(), 0) }))).unwrap_or_else(|Nameless| Nameless::reported(ocb))
}

fn futimens_exact(fd: c_int, t: &[libc::timespec; 2]) -> Res<c_int> {
    real::futimens(fd, t)
}

/// Through the link, not the fd: an O_PATH directory's follower fd takes no futimens.
fn link_exact(fd: c_int, t: &[libc::timespec; 2]) -> Res<c_int> {
    real::utimensat_at(libc::AT_FDCWD, &fd_link(fd), t, 0)
}

/// The `/proc/self/fd` link of one of this process's fds.
fn fd_link(fd: c_int) -> CString {
    CString::new(format!("/proc/thread-self/fd/{fd}")).unwrap_or_default()
}

/// A call that follows `path`'s final symlink, when `path` is `/proc/self/fd/N` (or
/// `/dev/fd/N`, `/proc/PID/fd/N`, `/dev/stdout`…) with N a shadowed fd: the kernel would
/// follow it to the lead's file alone. Each member's call goes through its own fd's link
/// instead (`on_fd`: by name for an fd without a follower fd, such as an O_PATH one).
/// gnulib and glibc change a file held by an O_PATH fd this way (fchmodat's
/// AT_SYMLINK_NOFOLLOW emulation); such changes reached the primary alone. Another
/// process's `/proc/PID/fd/N` is its file by name, a cwd link the directory
/// (`resolve::followed_link`). Calls
/// that do not follow the link (lchown, lsetxattr) act on the link itself: the kernel's
/// answer. None for other paths.
pub(crate) fn through_fd_link<T: FfiReturn>(path: *const c_char, what: &str, call: impl Fn(*const c_char) -> T) -> Option<T> {
    by_link(path, |fd| on_fd(fd, what, |f| call(fd_link(f).as_ptr()), &call), |sp| on_members(what, &sp, |a| via_abs(a, &call)), || call(path))
}

/// A call that follows a link to an fd's file (see `through_fd_link`): `own` for the
/// program's own shadowed fd, `other` for another process's file by name or a cwd link's
/// directory, inside the shim;
/// `passthrough` makes the call as it is. None for other paths.
fn by_link<T: FfiReturn>(path: *const c_char, own: impl FnOnce(c_int) -> Res<T>, other: impl FnOnce(Spath) -> Res<T>, passthrough: impl Fn() -> T) -> Option<T> {
    match super::proc_fd(path) {
        Some(fd) => Some(boundary::hook(|| own(fd), passthrough)),
        None => match followed_link(path) {
            Some(sp) => Some(boundary::hook(|| other(sp), passthrough)),
            None => super::lead_only_unnamed(path, passthrough),
        },
    }
}

/// `resolve::followed_link` of a hook's path argument.
fn followed_link(path: *const c_char) -> Option<Spath> {
    if !crate::set::is_active_for(path) {
        return None;
    }
    let p = crate::mem::path(path).filter(|p| crate::resolve::may_be_followed_link(p.to_bytes()))?;
    boundary::prepare(|| crate::resolve::followed_link(p))
}

/// truncate(2) through a `/proc/self/fd/N` link (see `through_fd_link`): ordered with the
/// file's other writers, as by name, and the follower's file given the lead's new times.
pub(crate) fn truncate_through_fd_link(path: *const c_char, what: &str, call: impl Fn(*const c_char) -> c_int) -> Option<c_int> {
    let truncate = |fd| {
        let _bytes = real::fstat(fd).ok().map(|st| crate::ocb::hold_files(&[st]));
        let r = on_fd_as(fd, what, Changes::Bytes, |f| call(fd_link(f).as_ptr()), &call)?;
        // As by name (copy_entry_times): the times are the lead's where they can be. Under
        // the order, which keeps the number this open's (helper-51: a dup2 meanwhile put
        // another file's times on this one's follower); by name without it (names.rs).
        let _ = fdtable::with_link(
            fd,
            |ocb| {
                let order = ocb.linked_order(fd, false)?;
                let _held = ocb.secondary_fd().is_some().then_some(order);
                lead_times_to_follower(fd, &ocb, link_exact, |_| 0).unwrap_or(Ok(0))
            },
            || Ok(0),
        );
        Ok(r)
    };
    by_link(path, truncate, |sp| super::namespace::on_members_truncating(what, &sp, |a| via_abs(a, &call)), || call(path))
}

/// A time change that follows a `/proc/self/fd/N` link (see `through_fd_link`): `set`
/// makes it by a path.
fn times_through_fd_link(path: *const c_char, set: impl Fn(*const c_char) -> c_int) -> Option<c_int> {
    by_link(path, |fd| times_by_fd(fd, |f| set(fd_link(f).as_ptr()), link_exact, |a| via_abs(a, &set)), |sp| times_by_path(sp, |a| via_abs(a, &set)), || set(path))
}

macro_rules! path_times_hooks {
    ($( $(#[$doc:meta])* fn $name:ident(path: *const c_char, $targ:ident: $tty:ty) follows $follows:expr; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(path: *const c_char, $targ: $tty) -> c_int {
            let call = |path: *const c_char| raw::$name(path, $targ);
            if $follows {
                if let Some(r) = times_through_fd_link(path, call) {
                    return r;
                }
            }
            change_hook(libc::AT_FDCWD, path, |sp| times_by_path(sp.following($follows), |a| via_abs(a, |p| call(p))), call)
        }
    )*};
}

path_times_hooks! {
    /// utime(2)
    fn utime(path: *const c_char, times: *const libc::utimbuf) follows true;
    /// utimes(2)
    fn utimes(path: *const c_char, times: *const libc::timeval) follows true;
    /// lutimes(3)
    fn lutimes(path: *const c_char, times: *const libc::timeval) follows false;
}

/// utimensat(2); a NULL path means the fd itself (how futimens is built).
#[no_mangle]
pub unsafe extern "C-unwind" fn utimensat(dirfd: c_int, path: *const c_char, times: *const libc::timespec, flags: c_int) -> c_int {
    let call = |path: *const c_char| raw::utimensat(dirfd, path, times, flags);
    let on_fd_itself = path.is_null() || (flags & libc::AT_EMPTY_PATH != 0 && crate::mem::path(path).is_some_and(|p| p.is_empty()));
    if on_fd_itself {
        if let Some(r) = fdtable::straight_on(dirfd, true, || call(path)) {
            return r;
        }
        let replay = |a: &At| raw::utimensat(a.fd, a.path.as_ptr(), times, NOFOLLOW);
        return boundary::hook(|| times_by_fd(dirfd, |fd| raw::utimensat(fd, path, times, flags), futimens_exact, replay), || call(path));
    }
    if flags & NOFOLLOW == 0 {
        if let Some(r) = times_through_fd_link(path, call) {
            return r;
        }
    }
    change_hook(dirfd, path, |sp| times_by_path(sp.following(flags & NOFOLLOW == 0), |a| raw::utimensat(a.fd, a.path.as_ptr(), times, flags)), call)
}

/// futimesat(2), obsolete but exported.
#[no_mangle]
pub unsafe extern "C-unwind" fn futimesat(dirfd: c_int, path: *const c_char, times: *const libc::timeval) -> c_int {
    let call = |path: *const c_char| raw::futimesat(dirfd, path, times);
    if path.is_null() {
        if let Some(r) = fdtable::straight_on(dirfd, true, || call(path)) {
            return r;
        }
        let replay = |a: &At| raw::futimesat(a.fd, a.path.as_ptr(), times);
        return boundary::hook(|| times_by_fd(dirfd, |fd| raw::futimesat(fd, path, times), futimens_exact, replay), || call(path));
    }
    if let Some(r) = times_through_fd_link(path, call) {
        return r;
    }
    change_hook(dirfd, path, |sp| times_by_path(sp.following(true), |a| raw::futimesat(a.fd, a.path.as_ptr(), times)), call)
}

/// futimens(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn futimens(fd: c_int, times: *const libc::timespec) -> c_int {
    if let Some(r) = fdtable::straight_on(fd, true, || raw::futimens(fd, times)) {
        return r;
    }
    let replay = |a: &At| raw::utimensat(a.fd, a.path.as_ptr(), times, NOFOLLOW);
    boundary::hook(|| times_by_fd(fd, |f| raw::futimens(f, times), futimens_exact, replay), || raw::futimens(fd, times))
}

/// futimes(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn futimes(fd: c_int, times: *const libc::timeval) -> c_int {
    if let Some(r) = fdtable::straight_on(fd, true, || raw::futimes(fd, times)) {
        return r;
    }
    let replay = |a: &At| raw::futimesat(a.fd, a.path.as_ptr(), times);
    boundary::hook(|| times_by_fd(fd, |f| raw::futimes(f, times), futimens_exact, replay), || raw::futimes(fd, times))
}

/// fchownat(2); AT_EMPTY_PATH with an empty path means the fd itself.
#[no_mangle]
pub unsafe extern "C-unwind" fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int {
    let call = |path: *const c_char| raw::fchownat(dirfd, path, uid, gid, flags);
    if flags & libc::AT_EMPTY_PATH != 0 && crate::mem::path(path).is_some_and(|p| p.is_empty()) {
        if let Some(r) = fdtable::straight_on(dirfd, true, || call(path)) {
            return r;
        }
        // fchownat itself, not fchown: an O_PATH fd takes it, a symlink's too (lchown).
        return boundary::hook(|| on_fd(dirfd, "fchownat", |f| raw::fchownat(f, c"".as_ptr(), uid, gid, flags), |p| raw::lchown(p, uid, gid)), || call(path));
    }
    if flags & NOFOLLOW == 0 {
        if let Some(r) = through_fd_link(path, "fchownat", call) {
            return r;
        }
    }
    change_hook(dirfd, path, |sp| on_members("fchownat", &sp.following(flags & NOFOLLOW == 0), |a| raw::fchownat(a.fd, a.path.as_ptr(), uid, gid, flags)), call)
}

/// A change by a system call of the `*at` kind with AT_ flags, reached by syscall(2)
/// (fchmodat2, whose flags glibc 2.36's fchmodat refuses; setxattrat, removexattrat,
/// file_setattr, which glibc does not wrap). `call(fd, path, flags)` makes it. An empty path
/// with AT_EMPTY_PATH is the fd itself (an O_PATH one too), mirrored as fchmod is; a path
/// that follows a `/proc/self/fd/N` link, as `through_fd_link`; other paths as any path's.
pub unsafe fn at_change(what: &'static str, dirfd: c_int, path: *const c_char, flags: c_int, call: impl Fn(c_int, *const c_char, c_int) -> c_int) -> c_int {
    if flags & libc::AT_EMPTY_PATH != 0 && crate::mem::path(path).is_some_and(|p| p.is_empty()) {
        if let Some(r) = fdtable::straight_on(dirfd, true, || call(dirfd, path, flags)) {
            return r;
        }
        // The fd's own file: a symlink held by an O_PATH fd is not followed.
        let by_path = |p| call(libc::AT_FDCWD, p, flags & !libc::AT_EMPTY_PATH | NOFOLLOW);
        return boundary::hook(|| on_fd(dirfd, what, |f| call(f, c"".as_ptr(), flags), by_path), || call(dirfd, path, flags));
    }
    if flags & NOFOLLOW == 0 {
        if let Some(r) = through_fd_link(path, what, |p| call(dirfd, p, flags)) {
            return r;
        }
    }
    change_hook(dirfd, path, |sp| on_members(what, &sp.following(flags & NOFOLLOW == 0), |a| call(a.fd, a.path.as_ptr(), flags)), |p| call(dirfd, p, flags))
}

/// setxattrat, removexattrat or getxattrat of the member stamp on the set's root (by name,
/// through a symlink or a link of an fd, or the root's fd with AT_EMPTY_PATH): refused with
/// `errno`, as their path forms are (`is_stamp`). Before, these system calls reached the
/// stamp on both members.
pub unsafe fn stamp_at(dirfd: c_int, path: *const c_char, flags: c_int, name: *const c_char, errno: c_int) -> Option<c_int> {
    (is_stamp_name(name) && root_at(dirfd, path, flags)).then(|| {
        Errno(errno).set();
        -1
    })
}

/// listxattrat's answer `r` (its list in `list`, of `size` bytes) without the member stamp
/// where the call named the set's root.
pub unsafe fn listed_at(dirfd: c_int, path: *const c_char, flags: c_int, list: *mut c_char, size: size_t, r: isize) -> isize {
    listed_without_stamp(list, size, r, || root_at(dirfd, path, flags))
}

/// A list call's answer `r`, the names the kernel wrote into the program's `list` (of
/// `size` bytes), without the member stamp's name where `at_root` says the call reached the
/// set's root: asked only when the list has that name (a file of the program's may have an
/// attribute of it). A size asked for (`size` 0) may count it.
unsafe fn listed_without_stamp(list: *mut c_char, size: size_t, r: isize, at_root: impl FnOnce() -> bool) -> isize {
    if r <= 0 || size == 0 || list.is_null() {
        return r;
    }
    let got = std::slice::from_raw_parts(list as *const u8, r as usize);
    let stamp = shadow_core::stamp::XATTR.as_bytes();
    if !got.split(|&b| b == 0).any(|name| name == stamp) || !at_root() {
        return r;
    }
    let names = without_stamp(got);
    std::ptr::copy_nonoverlapping(names.as_ptr(), list as *mut u8, names.len());
    names.len() as isize
}

/// Whether a call by `dirfd`, `path` and AT_ `flags` reaches the set's root. errno is kept.
unsafe fn root_at(dirfd: c_int, path: *const c_char, flags: c_int) -> bool {
    let saved = Errno::last();
    let follows = flags & NOFOLLOW == 0;
    let root = if flags & libc::AT_EMPTY_PATH != 0 && crate::mem::path(path).is_some_and(|p| p.is_empty()) {
        fdtable::get(dirfd).is_some_and(|o| o.rel().0.is_empty())
    } else {
        (follows && root_by_link(path)) || path_hook(dirfd, path, |sp| Ok(c_int::from(sp.rel().0.is_empty() || reaches_root(&sp, follows))), |_| 0) == 1
    };
    saved.set();
    root
}

/// A read of the same kind (getxattrat, listxattrat, file_getattr): answered by the lead.
pub unsafe fn at_read(what: &'static str, dirfd: c_int, path: *const c_char, call: impl Fn(c_int, *const c_char) -> isize) -> isize {
    path_hook(dirfd, path, |sp| super::on_lead(&sp, what, |a| call(a.fd, a.path.as_ptr())), |p| call(dirfd, p))
}

/// Declares read-side hooks: a shadowed path is answered by the lead member, where `$on`
/// makes the call at the lead's place `$a`. A stat (`shows` its buffer) shows the file's
/// identity as `identity` does.
macro_rules! lead_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = at($dirfd:expr, $path:ident) => |$a:ident| $on:expr $(, shows $buf:ident)?; )*) => {$(
        /// Read-side call answered by the lead member.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> $ret {
            let call = |$path: *const c_char| raw::$name($($arg),*);
            let r = path_hook($dirfd, $path, |sp| super::on_lead(&sp, stringify!($name), |$a: &At| $on), call);
            $( let r = crate::identity::show(r, $buf); )?
            r
        }
    )*};
}

/// Declares the stats of an fd, which libc answers: the file's identity as `identity`
/// shows it, once a member change is taken up for a shadowed fd (`members::take_up_change`).
macro_rules! fd_stat_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) -> c_int, of $fd:ident, shows $buf:ident; )*) => {$(
        /// The fd's file as `identity` shows it.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> c_int {
            if super::open::programs_probe_of_ours($fd) {
                return fdtable::not_the_programs();
            }
            if fdtable::is_shadowed($fd) {
                crate::members::take_up_change();
            }
            crate::identity::show(raw::$name($($arg),*), $buf)
        }
    )*};
}

fd_stat_hooks! {
    fn fstat(fd: c_int, buf: *mut libc::stat) -> c_int, of fd, shows buf;
    fn fstat64(fd: c_int, buf: *mut libc::stat64) -> c_int, of fd, shows buf;
    fn __fxstat(ver: c_int, fd: c_int, buf: *mut libc::stat) -> c_int, of fd, shows buf;
    fn __fxstat64(ver: c_int, fd: c_int, buf: *mut libc::stat64) -> c_int, of fd, shows buf;
}

const NOFOLLOW: c_int = libc::AT_SYMLINK_NOFOLLOW;

lead_hooks! {
    fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::fstatat(a.fd, a.path.as_ptr(), buf, 0), shows buf;
    fn stat64(path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::fstatat64(a.fd, a.path.as_ptr(), buf, 0), shows buf;
    fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::fstatat(a.fd, a.path.as_ptr(), buf, NOFOLLOW), shows buf;
    fn lstat64(path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::fstatat64(a.fd, a.path.as_ptr(), buf, NOFOLLOW), shows buf;
    fn fstatat(dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int = at(dirfd, path) => |a| raw::fstatat(a.fd, a.path.as_ptr(), buf, flags), shows buf;
    fn fstatat64(dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int = at(dirfd, path) => |a| raw::fstatat64(a.fd, a.path.as_ptr(), buf, flags), shows buf;
    fn __xstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::__fxstatat(ver, a.fd, a.path.as_ptr(), buf, 0), shows buf;
    fn __xstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::__fxstatat64(ver, a.fd, a.path.as_ptr(), buf, 0), shows buf;
    fn __lxstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::__fxstatat(ver, a.fd, a.path.as_ptr(), buf, NOFOLLOW), shows buf;
    fn __lxstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::__fxstatat64(ver, a.fd, a.path.as_ptr(), buf, NOFOLLOW), shows buf;
    fn __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int = at(dirfd, path) => |a| raw::__fxstatat(ver, a.fd, a.path.as_ptr(), buf, flags), shows buf;
    fn __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int = at(dirfd, path) => |a| raw::__fxstatat64(ver, a.fd, a.path.as_ptr(), buf, flags), shows buf;
    fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, buf: *mut libc::statx) -> c_int = at(dirfd, path) => |a| raw::statx(a.fd, a.path.as_ptr(), flags, mask, buf), shows buf;
    fn statfs(path: *const c_char, buf: *mut libc::statfs) -> c_int = at(libc::AT_FDCWD, path) => |a| via_abs(a, |p| raw::statfs(p, buf));
    fn statfs64(path: *const c_char, buf: *mut libc::statfs64) -> c_int = at(libc::AT_FDCWD, path) => |a| via_abs(a, |p| raw::statfs64(p, buf));
    fn statvfs(path: *const c_char, buf: *mut libc::statvfs) -> c_int = at(libc::AT_FDCWD, path) => |a| via_abs(a, |p| raw::statvfs(p, buf));
    fn statvfs64(path: *const c_char, buf: *mut libc::statvfs64) -> c_int = at(libc::AT_FDCWD, path) => |a| via_abs(a, |p| raw::statvfs64(p, buf));
    fn access(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::faccessat(a.fd, a.path.as_ptr(), mode, 0);
    fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int = at(dirfd, path) => |a| raw::faccessat(a.fd, a.path.as_ptr(), mode, flags);
    fn euidaccess(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::faccessat(a.fd, a.path.as_ptr(), mode, libc::AT_EACCESS);
    fn eaccess(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path) => |a| raw::faccessat(a.fd, a.path.as_ptr(), mode, libc::AT_EACCESS);
    fn ftok(path: *const c_char, id: c_int) -> libc::key_t = at(libc::AT_FDCWD, path) => |a| via_abs(a, |p| raw::ftok(p, id));
}

/// pathconf(3): -1 with errno untouched means "no limit", not a failure.
#[no_mangle]
pub unsafe extern "C-unwind" fn pathconf(path: *const c_char, name: c_int) -> libc::c_long {
    let call = |p: *const c_char| raw::pathconf(p, name);
    path_hook(
        libc::AT_FDCWD,
        path,
        |sp| {
            super::on_lead_res(&sp, "pathconf", |a| {
                let p = a.abs()?;
                Errno(0).set();
                match raw::pathconf(p.as_ptr(), name) {
                    -1 if Errno::last().0 != 0 => Err(Errno::last()),
                    r => Ok(r),
                }
            })
        },
        call,
    )
}
