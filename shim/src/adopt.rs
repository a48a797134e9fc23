//! Adoption of fds that point into the primary and that the shim did not open: inherited by
//! a new program image (after exec, system, popen, posix_spawn) or received from another
//! process. Since the secondary is always written at the primary's offset, the follower's
//! file opened by name is all the hand-over there is, but for a new image whose old one
//! kept its follower's fds across exec: those are taken as they are, one description with
//! the old image's and any other sharer's, as the lead's (its flock and OFD locks stay
//! the description's).

use crate::fdtable;
use crate::hooks::open::{adopt_with_stat, Twin};
use crate::real;
use crate::resolve::{Rel, Spath};
use libc::c_int;
use std::ffi::CString;

/// The `flags:` line of /proc/self/fdinfo/N (octal).
pub fn parse_fdinfo_flags(fdinfo: &str) -> Option<c_int> {
    let line = fdinfo.lines().find_map(|l| l.strip_prefix("flags:"))?;
    c_int::from_str_radix(line.trim(), 8).ok()
}

/// At start-up: every fd into a member, the follower's fds the old image kept across exec
/// (`carried`: program fd, follower fd) taken as the follower's where they still fit.
pub fn adopt_inherited_fds(carried: &[(c_int, c_int)]) {
    let used = adopt_open_fds(|_| true, carried);
    for &(_, sfd) in carried {
        if !used.contains(&sfd) {
            crate::hooks::lock::close_keeping_locks(sfd, None);
        }
    }
}

/// In a fork child whose parent had a thread opening a file without the fork lock (see
/// `boundary::waiting`): an fd that open made just before the fork is
/// the child's too, unlinked; it is adopted as an inherited one.
pub fn adopt_untracked_fds() {
    adopt_open_fds(|fd| fdtable::get(fd).is_none() && !fdtable::is_node(fd), &[]);
}

/// The carried follower's fds taken (see `adopt_inherited_fds`).
fn adopt_open_fds(wanted: impl Fn(c_int) -> bool, carried: &[(c_int, c_int)]) -> Vec<c_int> {
    let Ok(entries) = std::fs::read_dir("/proc/thread-self/fd") else { return Vec::new() };
    let fds: Vec<c_int> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    let view = crate::members::view();
    let mut used = Vec::new();
    for fd in fds {
        // The shim's own member roots and cwd handles point into the lead too.
        if !fdtable::is_internal(fd) && wanted(fd) {
            let follower = carried.iter().find(|&&(p, _)| p == fd).map(|&(_, s)| Carried { fd: s, first: !used.contains(&s) });
            if adopt_fd(&view, fd, follower) {
                used.extend(follower.map(|c| c.fd));
            }
        }
    }
    used
}

/// A follower's fd the old image kept across exec for an inherited fd; `first`: none of
/// the new image's opens has it yet (a later one gets a copy).
#[derive(Clone, Copy)]
pub struct Carried {
    fd: c_int,
    first: bool,
}

/// Fds into the lead the shim did not open are adopted as inherited ones: passed by another
/// process over a socket (SCM_RIGHTS: the description is shared with the sender) or taken
/// by pidfd_getfd, opened by handle, or opened by glibc outside the shim (stdio.rs).
pub fn adopt_fds(fds: &[c_int]) {
    let view = crate::members::view();
    for &fd in fds {
        adopt_fd(&view, fd, None);
    }
}

/// Adopts `fd` if it points into the lead member; whether `carried` became its follower's fd.
fn adopt_fd(view: &crate::members::View, fd: c_int, carried: Option<Carried>) -> bool {
    // A member change applied as the name was taken (a program starting as the lead
    // moves), or the file renamed meanwhile: the fd is looked at again, in the view now.
    // Before, the file was looked for by its old name, was not found there, and was
    // reported "inherited, its name now another file's" (00020).
    let mut tries = 3;
    let mut adopted = adopt_in(view, fd, tries, carried);
    while adopted == Adopted::Again {
        adopted = adopt_in(&crate::members::view(), fd, tries, carried);
        tries = tries.saturating_sub(1);
    }
    adopted == Adopted::WithCarried
}

#[derive(PartialEq)]
enum Adopted {
    Done,
    /// Its follower's fd is the one carried across exec.
    WithCarried,
    /// Not adopted: a member change was applied meanwhile, or the file has another name
    /// now (`retries` left).
    Again,
}

fn adopt_in(view: &crate::members::View, fd: c_int, retries: u32, carried: Option<Carried>) -> Adopted {
    let Ok(link) = CString::new(format!("/proc/thread-self/fd/{fd}")) else { return Adopted::Done };
    let Ok(mut target) = real::readlink(&link) else { return Adopted::Done };
    // Its name removed while it keeps another (`ln f keep; rm f`): by that other name, where
    // it lies beside (see resolve::fd_real_name; on the lead alone, which answers). Before,
    // it was taken to be renamed or replaced: reported, and written on the lead alone.
    if target.ends_with(b" (deleted)") && view.rel_in_lead(&target).is_some() {
        target = crate::resolve::fd_real_name(fd).unwrap_or(target);
    }
    let (rel, on_lead) = match view.rel_in_lead(&target) {
        Some(rel) => (rel, true),
        None => match view.rel_in_any(&target) {
            Some(rel) => (rel, false),
            None => return Adopted::Done,
        },
    };
    let Ok(fdinfo) = std::fs::read_to_string(format!("/proc/thread-self/fdinfo/{fd}")) else { return Adopted::Done };
    let applied = crate::members::applied_epoch();
    let Some(flags) = parse_fdinfo_flags(&fdinfo) else { return Adopted::Done };
    if !on_lead {
        // Asked of /proc, not of that member, which may hang (a dead server: why the lead left).
        let unlinked = target.ends_with(b" (deleted)");
        match crate::members::move_to_lead(view, fd, &rel, flags) {
            Ok(()) => {}
            // Nobody's to diverge (see below), unless an O_TMPFILE file that may be linked.
            Err(_) if unlinked && !crate::ocb::made_by_tmpfile(flags) => return Adopted::Done,
            Err(e) => {
                let why = format!("inherited open on a member that is no longer the lead, whose file by that name could not be opened there: {}", e.describe());
                crate::report::record(shadow_core::history::Code::InsecureFile, &Rel(rel.to_vec()), &why);
                return Adopted::Done;
            }
        }
    }
    let Ok(st) = real::fstat(fd) else { return Adopted::Done };
    let twin = Spath::from_rel(Rel(rel.to_vec()));
    // The follower's file is found by the name /proc shows, held, while that name still is
    // this file on the lead: another process may have renamed or replaced it since, and
    // the follower's file by that name would be another file.
    let Some(_name) = crate::names::hold_naming(&twin, &st, libc::AT_SYMLINK_NOFOLLOW) else {
        // A thread of the process that passed the fd on (system(), a fork beside its
        // writer) renamed the file as this one started: the name /proc shows now is the
        // one to hold. Before, that was reported, with `recover` due, though nothing
        // differed (helper-49: 6 runs in 10 of a worker renaming beside system()).
        let renamed = || real::readlink(&link).is_ok_and(|now| now != target);
        if retries > 0 && (crate::members::applied_epoch() != applied || renamed()) {
            return Adopted::Again;
        }
        // An O_TMPFILE file not linked, whose follower twin the image before kept across
        // the exec: written on both members, as it was there. Before, every child handed
        // one (Python's TemporaryFile as a subprocess's stdout) reported it insecure
        // ("inherited after unlink") and left recover due, though nothing differed
        // (helper-55, CPython's test_subprocess).
        if let Some(c) = carried.filter(|_| st.st_nlink == 0 && crate::ocb::made_by_tmpfile(flags)) {
            let flags = flags & !(libc::O_TRUNC | libc::O_EXCL | libc::O_CREAT);
            let ocb = adopt_with_stat(fd, &st, twin.rel().clone(), flags, st.st_mode & 0o7777, Twin::Unnamed(c.fd, c.first), None);
            ocb.as_ref().inspect(|o| o.mark_shared());
            return match ocb {
                Some(o) if took_carried(&o, c) => Adopted::WithCarried,
                _ => Adopted::Done,
            };
        }
        if let Some(ocb) = adopt_with_stat(fd, &st, twin.rel().clone(), flags & !(libc::O_ACCMODE) | libc::O_RDONLY, 0, Twin::None, None) {
            if st.st_nlink > 0 {
                ocb.mark_insecure("inherited, its name now another file's", real::Errno(libc::ESTALE));
            } else if flags & libc::O_ACCMODE != libc::O_RDONLY && crate::ocb::made_by_tmpfile(flags) {
                // The follower's twin was unlinked too and cannot be reopened by name, and
                // an O_TMPFILE file may still be linked into the tree with what only the
                // lead got. A file whose last name was removed never can be (the kernel
                // links back only an O_TMPFILE one never linked): nothing written to it can
                // show on either member (a shell's `exec 7>>log` after logrotate deleted
                // the log; before, every command it ran reported it, with recover due). Nor
                // can anything through a reader (bash's here-document).
                ocb.mark_insecure("inherited after unlink", real::Errno(libc::ENOENT));
            }
        }
        return Adopted::Done;
    };
    // Create the secondary if the spawner's open never reached it; never truncate.
    let open_flags = (flags & !(libc::O_TRUNC | libc::O_EXCL)) | if flags & libc::O_ACCMODE != libc::O_RDONLY { libc::O_CREAT } else { 0 };
    let follower = match carried {
        Some(c) => Twin::Carried(&twin, c.fd, c.first),
        None => Twin::Path(&twin),
    };
    let mut adopted = Adopted::Done;
    if let Some(ocb) = adopt_with_stat(fd, &st, twin.rel().clone(), open_flags, st.st_mode & 0o7777, follower, None) {
        if carried.is_some_and(|c| took_carried(&ocb, c)) {
            adopted = Adopted::WithCarried;
        }
        ocb.mark_shared();
        level_tail(fd, &ocb);
        // Locks it came with (a POSIX one the image before exec took, a flock or OFD one on
        // the description) are taken on the follower's file opened for it (see lock.rs).
        let held = crate::hooks::lock::parse_fdinfo(&fdinfo);
        if !held.is_empty() {
            crate::hooks::lock::take_again(twin.rel(), fd, ocb.secondary_fd(), &held);
        }
    }
    adopted
}

/// Whether `ocb`'s follower fd is the one carried across exec (or a copy of it).
fn took_carried(ocb: &crate::ocb::Ocb, c: Carried) -> bool {
    ocb.secondary_fd().is_some_and(|s| c.first && s == c.fd || crate::real::same_description(std::process::id(), s, std::process::id(), c.fd))
}

/// Bytes the lead got past the follower's end before this image's shim started — the
/// loader writes its own messages to an inherited stderr — are copied over.
fn level_tail(fd: c_int, ocb: &crate::ocb::Ocb) {
    let Some(sfd) = ocb.secondary_fd() else { return };
    if let (Ok(lead), Ok(follower)) = (real::fstat(fd), real::fstat(sfd)) {
        if lead.st_size > follower.st_size {
            let _ = ocb.copy_range_from_primary(fd, follower.st_size, lead.st_size - follower.st_size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_octal_flags() {
        let info = "pos:\t0\nflags:\t0102001\nmnt_id:\t29\nino:\t1234\n";
        assert_eq!(parse_fdinfo_flags(info), Some(0o102001));
        assert_eq!(parse_fdinfo_flags("pos:\t0\n"), None);
    }
}
