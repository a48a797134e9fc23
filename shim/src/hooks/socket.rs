//! AF_UNIX sockets named by paths under the prefix. The kernel resolves `sun_path` itself,
//! so the shim hands it the lead member's place for the name (through the directory fd it
//! holds, kept within the 108 bytes a socket name has); a socket bound there gets a socket
//! node on the follower too, so that the namespace stays identical and later chmod, rename
//! and unlink of it reach both members.

use super::path_hook;
use crate::boundary::{self, FfiReturn};
use crate::ocb::times_of;
use crate::real::{self, raw, Errno, Res};
use crate::resolve::{At, Spath};
use crate::set;
use shadow_core::vpath;
use libc::{c_char, c_int, c_uint, c_void, size_t, sockaddr, sockaddr_un, socklen_t, ssize_t};

const PATH_AT: usize = std::mem::offset_of!(sockaddr_un, sun_path);
const NAME_MAX: usize = std::mem::size_of::<[c_char; 108]>();

/// The file name of an AF_UNIX address (not an abstract one), NUL-terminated.
fn unix_name(addr: *const sockaddr, len: socklen_t) -> Option<[u8; NAME_MAX + 1]> {
    let len = len as usize;
    if addr.is_null() || len <= PATH_AT || !set::is_active() || !crate::mem::readable(addr.cast(), len.min(std::mem::size_of::<sockaddr_un>())) {
        return None;
    }
    let un = unsafe { &*(addr as *const sockaddr_un) };
    if un.sun_family != libc::AF_UNIX as libc::sa_family_t || un.sun_path[0] == 0 {
        return None;
    }
    let mut name = [0u8; NAME_MAX + 1];
    let n = (len - PATH_AT).min(NAME_MAX);
    for (i, c) in un.sun_path[..n].iter().take_while(|&&c| c != 0).enumerate() {
        name[i] = *c as u8;
    }
    Some(name)
}

/// An AF_UNIX address naming `path`, or ENAMETOOLONG when it does not fit.
fn address(path: &[u8]) -> Res<(sockaddr_un, socklen_t)> {
    let mut un: sockaddr_un = unsafe { std::mem::zeroed() };
    un.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= NAME_MAX {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    for (slot, b) in un.sun_path.iter_mut().zip(path) {
        *slot = *b as c_char;
    }
    Ok((un, (PATH_AT + path.len() + 1) as socklen_t))
}

/// The name by which the kernel finds the socket `sp` on the lead, whose place is `at`:
/// the program's own name when it is relative to the cwd (the kernel's cwd is the lead's
/// directory, and getsockname gives back what was bound, as natively); the member file's
/// full path when it fits (getsockname, /proc/net/unix and peers see a real name, which
/// the receiving hooks below turn back into the virtual one); else a path through a
/// directory the shim holds (`LeadName::Through`), valid only while `at`'s directory and
/// the path's guard are.
enum LeadName {
    Plain(std::ffi::CString),
    Through(crate::resolve::AbsPath),
}

impl LeadName {
    fn bytes(&self) -> &[u8] {
        match self {
            LeadName::Plain(n) => n.as_bytes(),
            LeadName::Through(abs) => abs.path.as_bytes(),
        }
    }
}

fn lead_name(sp: &Spath, at: &At) -> Res<LeadName> {
    let v = crate::members::view();
    let name = match sp.relative_to_kernel_cwd(&v) {
        Some(own) => own.to_owned(),
        None => super::lead_file(&sp),
    };
    if name.as_bytes().len() < NAME_MAX {
        return Ok(LeadName::Plain(name));
    }
    Ok(LeadName::Through(at.abs_within(NAME_MAX)?))
}

/// Runs `op` with the address of `sp` on the lead, whose place is `at` (see `lead_name`).
fn at_address<T: FfiReturn>(sp: &Spath, at: &At, op: impl FnOnce(*const sockaddr, socklen_t) -> T) -> Res<T> {
    // Kept until the call is made: a name through the socket's own directory holds that
    // directory's fd. Before, it was dropped with the statement that made the address, and
    // a bind to a name too long for both forms failed ENOENT (helper-55: a 96-byte virtual
    // name, natively bound).
    let name = lead_name(sp, at)?;
    let (un, len) = address(name.bytes())?;
    op(&un as *const sockaddr_un as *const sockaddr, len).into_res()
}

/// Names the kernel holds for sockets bound under the prefix through a directory fd of the
/// moment (`lead_name`: a name too long both as the member's path and through its root),
/// with their virtual names, the latest last: that fd is closed once the bind returns, so
/// only this process's record can turn such a name back. At most `BOUND_KEPT`.
static BOUND: std::sync::Mutex<Vec<(Vec<u8>, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());
const BOUND_KEPT: usize = 64;

/// After a bind of `fd` to `sp`: the name the kernel gave it, where it went through a
/// directory fd of the moment (see `BOUND`).
fn remember_bound(fd: c_int, sp: &Spath) {
    let mut un: sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
    if unsafe { raw::getsockname(fd, &mut un as *mut sockaddr_un as *mut sockaddr, &mut len) } != 0 || (len as usize) <= PATH_AT + 1 {
        return;
    }
    let kernel: Vec<u8> = un.sun_path[..(len as usize - PATH_AT).min(NAME_MAX)].iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    if !kernel.starts_with(b"/proc/thread-self/fd/") || through_root(&kernel).is_some() {
        return;
    }
    let mut bound = BOUND.lock().unwrap_or_else(|e| e.into_inner());
    bound.retain(|(k, _)| *k != kernel);
    if bound.len() == BOUND_KEPT {
        bound.remove(0);
    }
    bound.push((kernel, vpath::join(&set::get().prefix, &sp.rel().0)));
}

/// A name made through a member's root (`/proc/thread-self/fd/ROOT/rest`, for a member path
/// too long for an address: `lead_name`) as that member's path, which `to_virtual` knows.
/// The shim's fds are at the same numbers in every process of the set, so a peer's name
/// reads the same. Before, getsockname, getpeername, accept and recvfrom handed the program
/// the /proc form (helper-55, CPython's test_socket with members at a long path).
fn through_root(name: &[u8]) -> Option<Vec<u8>> {
    let rest = name.strip_prefix(b"/proc/thread-self/fd/")?;
    let digits = rest.iter().position(|&b| b == b'/')?;
    let fd: c_int = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let v = crate::members::view();
    let m = shadow_core::Member::ALL.into_iter().find(|&m| v.root(m) == Ok(fd))?;
    Some([v.dirs[m.index()].as_slice(), &rest[digits..]].concat())
}

/// Turns an AF_UNIX address the kernel returned into `cap` bytes at `addr` back into the
/// virtual name, when it names a member file. A name the kernel had to truncate is left.
unsafe fn name_back(addr: *mut sockaddr, len: *mut socklen_t, cap: socklen_t) {
    if addr.is_null() || len.is_null() || !set::is_active() {
        return;
    }
    let (got, cap) = (*len as usize, cap as usize);
    if got <= PATH_AT + 1 || got > cap {
        return;
    }
    let un = &mut *(addr as *mut sockaddr_un);
    if un.sun_family != libc::AF_UNIX as libc::sa_family_t || un.sun_path[0] == 0 {
        return;
    }
    let name: Vec<u8> = un.sun_path[..(got - PATH_AT).min(NAME_MAX)].iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let known = || BOUND.lock().unwrap_or_else(|e| e.into_inner()).iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let Some(virt) = crate::boundary::prepare(|| Some(known().unwrap_or_else(|| super::to_virtual(&through_root(&name).unwrap_or_else(|| name.clone()))))) else { return };
    if virt == name {
        return;
    }
    let room = (cap - PATH_AT).min(NAME_MAX);
    for (i, slot) in un.sun_path[..room].iter_mut().enumerate() {
        *slot = virt.get(i).copied().unwrap_or(0) as c_char;
    }
    *len = (PATH_AT + virt.len() + 1) as socklen_t;
}

/// The capacity the caller gave for an address, before the kernel overwrites it.
unsafe fn capacity(len: *const socklen_t) -> socklen_t {
    if len.is_null() { 0 } else { *len }
}

/// A call that returns an address in (`addr`, `len`): the name is turned back after it.
unsafe fn returning_name<T: FfiReturn>(addr: *mut sockaddr, len: *mut socklen_t, call: impl FnOnce() -> T) -> T {
    let cap = capacity(len);
    let r = call();
    if r != T::FAILED {
        let saved = Errno::last();
        name_back(addr, len, cap);
        saved.set();
    }
    r
}

/// A hook whose address names a socket file: `shadowed` runs for a name under the prefix,
/// `plain` with the program's address (or one rewritten to the folded path).
unsafe fn named<T: FfiReturn>(addr: *const sockaddr, len: socklen_t, shadowed: impl Fn(Spath) -> Res<T>, plain: impl Fn(*const sockaddr, socklen_t) -> T) -> T {
    let Some(name) = unix_name(addr, len) else { return plain(addr, len) };
    let name_ptr = name.as_ptr() as *const c_char;
    path_hook(libc::AT_FDCWD, name_ptr, shadowed, |p| by_name(p, name_ptr, addr, len, &plain))
}

/// A call to a socket named by its address that may wait for as long as the socket's
/// owner likes (connect to a full backlog, a datagram to a full queue): a name under the
/// prefix is turned into the lead's inside the shim, and the call is made with it outside,
/// where the program's signal handlers run, a cancellation request acts, and another
/// thread's fork does not wait for it. Before, it waited inside: a fork in another thread
/// waited for ever, and so did the `pthread_join` of a thread cancelled while it waited. A
/// name too long for the socket address but through a directory the shim holds is used
/// inside, while that directory is sure to stay open.
///
/// Refused by the lead's node (no listener), the call is made again with the
/// name in the other member (`listener_elsewhere`).
unsafe fn named_outside<T: FfiReturn>(what: &str, addr: *const sockaddr, len: socklen_t, call: impl Fn(*const sockaddr, socklen_t) -> T) -> T {
    let Some(name) = unix_name(addr, len) else { return call(addr, len) };
    let name_ptr = name.as_ptr() as *const c_char;
    // A flag, nothing to drop: the frame the outside call is made from must have no
    // cleanup for a cancellation's forced unwind to meet (it aborted the process).
    let shadowed = std::cell::Cell::new(false);
    super::path_hook_or_lead(
        libc::AT_FDCWD,
        name_ptr,
        false,
        false,
        |sp| {
            shadowed.set(true);
            super::on_lead_res(&sp, what, |at| match lead_name(&sp, at)? {
                LeadName::Plain(n) => Ok(Err(n)),
                through => {
                    let (un, l) = address(through.bytes())?;
                    call(&un as *const sockaddr_un as *const sockaddr, l).into_res().map(Ok)
                }
            })
        },
        |p| {
            let r = by_name(p, name_ptr, addr, len, &call);
            if r == T::FAILED && shadowed.get() { listener_elsewhere(name_ptr, &call).unwrap_or(r) } else { r }
        },
    )
}

/// A socket the program bound under the prefix is the lead's node only while that member
/// leads: its listener holds the socket, the node names it. Once the lead moves (its member
/// disabled or failed, or back again after an enable), a client's connect finds the other
/// member's node, on which nothing listens: ECONNREFUSED, where natively the server that
/// still runs answered (found 2026-12-05: `shadowctl disable primary` cut a running
/// server's clients off until the enable). Refused so (ECONNREFUSED: the lead has the node),
/// the call is made again with the socket's name (`name`, the program's) in the other
/// member, whatever its state: naming a node writes nothing. Its answer only if it
/// succeeds; the lead's error otherwise, errno as the lead's call left it. A name the lead
/// lacks (ENOENT) is not looked for elsewhere: the program may have removed it while the
/// other member was out of service, which still has it.
///
/// Made from the hook's own frame, with nothing there to drop: a cancellation's forced
/// unwind that meets a cleanup in an exported function's frame aborts the process (the
/// other member's backlog may be full, and the call wait).
unsafe fn listener_elsewhere<T: FfiReturn>(name: *const c_char, call: &impl Fn(*const sockaddr, socklen_t) -> T) -> Option<T> {
    let refused = Errno::last();
    if refused.0 != libc::ECONNREFUSED {
        return None;
    }
    let other = boundary::prepare(|| {
        let crate::resolve::Target::Shadowed(sp) = crate::resolve::resolve(libc::AT_FDCWD, crate::mem::path(name)?) else { return None };
        let v = crate::members::view();
        let other = shadow_core::Member::ALL.into_iter().find(|&m| m != v.lead)?;
        address(v.path(other, &sp.rel().0).as_bytes()).ok()
    });
    let answered = other.map(|(un, l)| call(&un as *const sockaddr_un as *const sockaddr, l)).filter(|&r| r != T::FAILED);
    if answered.is_none() {
        refused.set();
    }
    answered
}

/// `call` with the program's address when `p` is its own name, else with an address naming
/// `p`.
unsafe fn by_name<T: FfiReturn>(p: *const c_char, name: *const c_char, addr: *const sockaddr, len: socklen_t, call: &impl Fn(*const sockaddr, socklen_t) -> T) -> T {
    if p == name {
        return call(addr, len);
    }
    match address(std::ffi::CStr::from_ptr(p).to_bytes()) {
        Ok((un, l)) => call(&un as *const sockaddr_un as *const sockaddr, l),
        Err(e) => {
            e.set();
            T::FAILED
        }
    }
}

/// bind(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    named(
        addr,
        len,
        |sp| {
            let _name = crate::names::hold(&[sp.rel()]);
            let intent = crate::members::intent_begin(sp.rel());
            let r = super::on_lead_res(&sp, "bind", |at| at_address(&sp, at, |a, l| raw::bind(fd, a, l))).inspect_err(|_| crate::members::intent_end(intent))?;
            crate::members::record_change(crate::members::Changed::Path(&sp));
            remember_bound(fd, &sp);
            let node = super::on_lead_res(&sp, "bind", |at| real::fstatat(at.fd, &at.path, libc::AT_SYMLINK_NOFOLLOW));
            let follower = super::on_follower(&sp, |at| match &node {
                Ok(st) => {
                    let made = raw::mknodat(at.fd, at.path.as_ptr(), libc::S_IFSOCK | (st.st_mode & 0o7777), 0);
                    if made == 0 { real::utimensat_at(at.fd, &at.path, &times_of(st), libc::AT_SYMLINK_NOFOLLOW).map_or(-1, |_| 0) } else { made }
                }
                Err(e) => {
                    e.set();
                    -1
                }
            });
            if let Some(Err(e)) = follower {
                crate::members::follower_failed(sp.rel(), "bind", e, None)?;
                return Ok(r);
            }
            crate::members::intent_end(intent);
            Ok(r)
        },
        |a, l| raw::bind(fd, a, l),
    )
}

/// connect(2): to the socket on the lead member.
#[no_mangle]
pub unsafe extern "C-unwind" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    named_outside("connect", addr, len, |a, l| raw::connect(fd, a, l))
}

/// sendto(2) on an unconnected AF_UNIX datagram socket, to a name under the prefix.
#[no_mangle]
pub unsafe extern "C-unwind" fn sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t {
    if addr.is_null() {
        return raw::sendto(fd, buf, n, flags, addr, len);
    }
    named_outside("sendto", addr, len, |a, l| raw::sendto(fd, buf, n, flags, a, l))
}

/// sendmsg(2), likewise for `msg_name`; shadowed fds passed with SCM_RIGHTS are shared with
/// the receiver from then on (their writes ordered across processes, as after fork).
#[no_mangle]
pub unsafe extern "C-unwind" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    if msg.is_null() || !set::is_active() || !crate::mem::readable(msg.cast(), std::mem::size_of::<libc::msghdr>()) {
        return raw::sendmsg(fd, msg, flags);
    }
    share_passed(msg);
    if (*msg).msg_name.is_null() {
        return raw::sendmsg(fd, msg, flags);
    }
    let with_name = |a: *const sockaddr, l: socklen_t| {
        let mut m = *msg;
        m.msg_name = a as *mut c_void;
        m.msg_namelen = l;
        raw::sendmsg(fd, &m, flags)
    };
    named_outside("sendmsg", (*msg).msg_name as *const sockaddr, (*msg).msg_namelen, with_name)
}

/// Shadowed fds a message passes (SCM_RIGHTS) are shared with the receiver from now on.
unsafe fn share_passed(msg: *const libc::msghdr) {
    let passed = passed_fds(msg);
    if passed.iter().any(|&f| crate::fdtable::is_shadowed(f)) {
        boundary::prepare(|| {
            passed.iter().filter_map(|&f| crate::fdtable::get(f)).for_each(|ocb| ocb.mark_shared());
            Some(())
        });
    }
}

/// Adopts the shadowed files a received message passes (SCM_RIGHTS).
unsafe fn adopt_passed(msg: *const libc::msghdr) {
    if !(*msg).msg_control.is_null() && (*msg).msg_controllen > 0 {
        boundary::prepare(|| {
            crate::adopt::adopt_fds(&passed_fds(msg));
            Some(())
        });
    }
}

/// pidfd_getfd(2): a copy of another process's fd, adopted as one passed over a socket.
#[no_mangle]
pub unsafe extern "C-unwind" fn pidfd_getfd(pidfd: c_int, target: c_int, flags: c_uint) -> c_int {
    let fd = raw::syscall(libc::SYS_pidfd_getfd, pidfd as libc::c_long, target as libc::c_long, flags as libc::c_long, 0, 0, 0) as c_int;
    if fd >= 0 && crate::set::is_active() {
        let saved = Errno::last();
        boundary::prepare(|| {
            crate::adopt::adopt_fds(&[fd]);
            // The process it was taken from does not know its file is shared now: under
            // write-behind, writes it queued, or queues from now on, may reach the follower
            // after this one's.
            if let Some(ocb) = crate::fdtable::get(fd).filter(|_| crate::behind::on()) {
                ocb.mark_insecure("an fd taken from another process (pidfd_getfd), which may write behind", Errno(libc::EIO));
            }
            Some(())
        });
        saved.set();
    }
    fd
}

/// The messages of a sendmmsg/recvmmsg vector, if it can be read.
unsafe fn messages<'a>(msgs: *mut libc::mmsghdr, n: usize) -> &'a [libc::mmsghdr] {
    if msgs.is_null() || n == 0 || !crate::mem::readable(msgs as *const u8, n * std::mem::size_of::<libc::mmsghdr>()) {
        return &[];
    }
    std::slice::from_raw_parts(msgs, n)
}

/// sendmmsg(2): as sendmsg for the fds each message passes. A vector with a message to a
/// socket named by a path is sent one message at a time through `sendmsg`, so that each
/// name under the prefix is the lead's (before, the kernel was given `/shadow/...` itself:
/// ENOENT); as natively, the count sent, or the first message's error.
#[no_mangle]
pub unsafe extern "C-unwind" fn sendmmsg(fd: c_int, msgs: *mut libc::mmsghdr, n: libc::c_uint, flags: c_int) -> c_int {
    if !set::is_active() {
        return raw::sendmmsg(fd, msgs, n, flags);
    }
    let saved = Errno::last();
    let all = messages(msgs, n as usize);
    if !all.iter().any(|m| unix_name(m.msg_hdr.msg_name as *const sockaddr, m.msg_hdr.msg_namelen).is_some()) {
        all.iter().for_each(|m| share_passed(&m.msg_hdr));
        return raw::sendmmsg(fd, msgs, n, flags);
    }
    let mut sent = 0;
    // The kernel sends at most UIO_MAXIOV of them.
    for i in 0..all.len().min(libc::UIO_MAXIOV as usize) {
        let m = msgs.add(i);
        let r = sendmsg(fd, &(*m).msg_hdr, flags);
        if r < 0 {
            if sent == 0 {
                return -1;
            }
            saved.set();
            return sent;
        }
        (*m).msg_len = r as libc::c_uint;
        sent += 1;
    }
    sent
}

/// recvmmsg(2): as recvmsg for the fds each message received passes.
#[no_mangle]
pub unsafe extern "C-unwind" fn recvmmsg(fd: c_int, msgs: *mut libc::mmsghdr, n: libc::c_uint, flags: c_int, timeout: *mut libc::timespec) -> c_int {
    let r = raw::recvmmsg(fd, msgs, n, flags, timeout);
    if r > 0 && set::is_active() {
        messages(msgs, r as usize).iter().for_each(|m| adopt_passed(&m.msg_hdr));
    }
    r
}

/// The fds a message carries (SCM_RIGHTS), if its control buffer can be read.
unsafe fn passed_fds(msg: *const libc::msghdr) -> Vec<c_int> {
    let m = &*msg;
    let mut fds = Vec::new();
    if m.msg_control.is_null() || m.msg_controllen == 0 || !crate::mem::readable(m.msg_control as *const u8, m.msg_controllen) {
        return fds;
    }
    let mut c = libc::CMSG_FIRSTHDR(msg);
    while !c.is_null() {
        if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
            let data = libc::CMSG_DATA(c) as *const c_int;
            let n = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize) / std::mem::size_of::<c_int>();
            fds.extend((0..n).map(|i| data.add(i).read_unaligned()));
        }
        c = libc::CMSG_NXTHDR(msg, c);
    }
    fds
}

/// getsockname(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    returning_name(addr, len, || raw::getsockname(fd, addr, len))
}

/// getpeername(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    returning_name(addr, len, || raw::getpeername(fd, addr, len))
}

/// accept(2): the peer's name (the blocking call runs outside the shim, as it may wait long).
#[no_mangle]
pub unsafe extern "C-unwind" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    returning_name(addr, len, || raw::accept(fd, addr, len))
}

/// accept4(2)
#[no_mangle]
pub unsafe extern "C-unwind" fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    returning_name(addr, len, || raw::accept4(fd, addr, len, flags))
}

/// recvfrom(2): the sender's name.
#[no_mangle]
pub unsafe extern "C-unwind" fn recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t {
    returning_name(addr, len, || raw::recvfrom(fd, buf, n, flags, addr, len))
}

/// recvmsg(2): `msg_name`; shadowed files another process passed (SCM_RIGHTS) are adopted,
/// so that writes through them reach both members.
#[no_mangle]
pub unsafe extern "C-unwind" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    if msg.is_null() || !set::is_active() || !crate::mem::readable(msg as *const u8, std::mem::size_of::<libc::msghdr>()) {
        return raw::recvmsg(fd, msg, flags);
    }
    let r = if (*msg).msg_name.is_null() {
        raw::recvmsg(fd, msg, flags)
    } else {
        returning_name((*msg).msg_name.cast(), std::ptr::addr_of_mut!((*msg).msg_namelen), || raw::recvmsg(fd, msg, flags))
    };
    if r >= 0 {
        adopt_passed(msg);
    }
    r
}
