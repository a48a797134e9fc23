//! Which paths are ours, and where each member's kernel walks them.
//!
//! A path is shadowed when it names something under the prefix. The kernel, not the shim,
//! then resolves it on each member, against a directory the shim holds open there: the
//! member root for an absolute path, the cwd in that member for a relative one, the
//! program's directory fd (and its twin on the other member) for an `*at` call. The path
//! handed over is the program's own, unfolded, so symlinks, `.` and `..` resolve exactly as
//! they would under a real directory, and no string grows beyond the program's: a path that
//! works natively near PATH_MAX works under the shim. A path whose `..` components would
//! climb above the prefix root is folded lexically instead and leaves the prefix, so `..`
//! never climbs out of a member. The answer for a plain absolute path elsewhere costs a
//! byte comparison and no allocation.

use crate::fdtable;
use crate::members::View;
use crate::ocb::{self, Ocb};
use crate::real::{self, Errno, Res};
use crate::set;
use libc::c_int;
use shadow_core::vpath;
use shadow_core::Member;
use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A path below the prefix, relative to it and folded ("" is the prefix itself): what the
/// journal, the change list and the reports name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rel(pub Vec<u8>);

/// Where the kernel starts walking a shadowed path on each member.
#[derive(Clone)]
pub enum Base {
    /// The member root.
    Root,
    /// The process's cwd: the kernel's cwd is the lead's directory, and the shim holds the
    /// same directory open on every member.
    Cwd(Arc<CwdDirs>),
    /// A directory the program holds open (`*at` calls): its fd is the lead's directory,
    /// its OCB holds the follower's.
    Dir(c_int, Arc<Ocb>),
}

impl Base {
    /// The directory on the lead (AT_FDCWD: the kernel's cwd).
    fn lead_fd(&self) -> c_int {
        match self {
            Base::Root => {
                let v = crate::members::view();
                v.root(v.lead).unwrap_or(libc::AT_FDCWD)
            }
            Base::Cwd(dirs) => dirs.lead_fd(),
            Base::Dir(fd, ocb) => ocb.lead_dir().unwrap_or(*fd),
        }
    }
}

/// The OCB of the program's `dirfd` when it is a directory of ours, its lead side held
/// apart from the number where threads may move it (`Ocb::hold_lead_dir`).
fn dir_of(dirfd: c_int) -> Option<Arc<Ocb>> {
    loop {
        let ocb = fdtable::get(dirfd).filter(|o| o.is_dir())?;
        if ocb.hold_lead_dir(dirfd) {
            return Some(ocb);
        }
    }
}

/// A path under the prefix, ready to be handed to each member's kernel.
#[derive(Clone)]
pub struct Spath {
    /// Named as the letters say (folded); for a path with `..`, named as the kernel reaches
    /// it on first use (see `rel`).
    rel: std::sync::OnceLock<Rel>,
    lexical: Rel,
    climbs: bool,
    base: Base,
    /// What the kernel walks from the base: the program's own path (its part below the
    /// prefix for an absolute one), never folded.
    walk: CString,
    /// The call made through it follows a final symlink (chmod, not lchmod): what it
    /// changed is the link's target (see `reached`).
    follows_last: bool,
}

pub enum Target {
    /// Not ours: call libc with the caller's path.
    Outside,
    /// Not ours, but the caller's path would be resolved wrongly by the kernel (it passes
    /// through the virtual prefix, or is relative to a cwd inside a member): use this
    /// absolute path instead.
    Rewritten(CString),
    Shadowed(Spath),
}

/// One member's place for a path: a directory fd and the path to walk from it.
pub struct At<'a> {
    pub fd: c_int,
    pub path: Cow<'a, CStr>,
}

impl At<'_> {
    /// An absolute path (one the kernel walks alone, such as a `/proc/self/fd` link).
    ///
    /// # Safety
    /// `p` is a NUL-terminated string that outlives the `At`.
    pub unsafe fn absolute<'p>(p: *const libc::c_char) -> At<'p> {
        At { fd: libc::AT_FDCWD, path: Cow::Borrowed(CStr::from_ptr(p)) }
    }

    /// An absolute path to the same place, for calls that have no `*at` form: the path itself
    /// when relative to the kernel's cwd, else through the directory's `/proc/self/fd` link.
    /// Kept within PATH_MAX by opening the path's directory first when it would not fit (the
    /// returned guard keeps that fd open).
    pub fn abs(&self) -> Res<AbsPath> {
        self.abs_within(libc::PATH_MAX as usize)
    }

    /// `abs()` within `limit` bytes with its NUL (AF_UNIX socket names are short).
    pub fn abs_within(&self, limit: usize) -> Res<AbsPath> {
        let p = self.path.to_bytes();
        if self.fd == libc::AT_FDCWD && p.len() < limit {
            return Ok(AbsPath { path: self.path.clone().into_owned(), _dir: None });
        }
        let through = |fd: c_int, rest: &[u8]| CString::new([format!("/proc/thread-self/fd/{fd}/").as_bytes(), if rest.is_empty() { b"." } else { rest }].concat()).map_err(|_| Errno(libc::EINVAL));
        let direct = through(self.fd, p)?;
        if direct.as_bytes().len() < limit {
            return Ok(AbsPath { path: direct, _dir: None });
        }
        // Too long through the member's directory: walk to the path's own directory first.
        let cut = p.iter().rposition(|&b| b == b'/').ok_or(Errno(libc::ENAMETOOLONG))?;
        let dir = open_beneath(self.fd, &p[..cut.max(1)], libc::O_PATH | libc::O_DIRECTORY)?;
        let path = through(dir.0, &p[cut + 1..])?;
        if path.as_bytes().len() >= limit {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        Ok(AbsPath { path, _dir: Some(dir) })
    }
}

/// An absolute path for a call without an `*at` form, with whatever fd it goes through.
pub struct AbsPath {
    pub path: CString,
    _dir: Option<Internal>,
}

impl AbsPath {
    pub fn as_ptr(&self) -> *const libc::c_char {
        self.path.as_ptr()
    }
}

/// An fd of the shim's own (in its fd range, close-on-exec), closed when dropped.
pub struct Internal(pub c_int);
impl Internal {
    /// The fd, kept open: its holder closes it.
    fn into_raw(self) -> c_int {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }
}

impl Drop for Internal {
    fn drop(&mut self) {
        ocb::close_internal(self.0);
    }
}

/// The directory holding `at`'s entry as the kernel walks it from `at.fd` (symlinks
/// followed), held open, with its name under the prefix in `v`'s lead and the entry's
/// last name in it.
fn lead_dir<'a>(v: &View, at: &'a At) -> Option<(Internal, Vec<u8>, &'a [u8])> {
    let (dir, name) = vpath::split_last(at.path.to_bytes());
    let opened = open_beneath(at.fd, dir, libc::O_PATH | libc::O_DIRECTORY).ok()?;
    let dir_rel = rel_of_fd(v, opened.0)?;
    Some((opened, dir_rel, name))
}

/// The name under the prefix in `v`'s lead of what the shim's own `fd` is open on.
fn rel_of_fd(v: &View, fd: c_int) -> Option<Vec<u8>> {
    v.rel_in_lead(&real::readlink(&CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?).ok()?)
}

/// Opens `path` relative to `dirfd` in steps short enough for the kernel, however long the
/// path is (a cwd or a directory can lie deeper than PATH_MAX).
pub fn open_beneath(dirfd: c_int, path: &[u8], flags: c_int) -> Res<Internal> {
    let flags = flags | libc::O_CLOEXEC;
    let step = libc::PATH_MAX as usize - 1;
    let mut from: Option<Internal> = None;
    let mut rest = path;
    loop {
        let at = from.as_ref().map_or(dirfd, |d| d.0);
        let (part, more) = if rest.len() <= step {
            (rest, &rest[rest.len()..])
        } else {
            let cut = rest[..step].iter().rposition(|&b| b == b'/').ok_or(Errno(libc::ENAMETOOLONG))?;
            (&rest[..cut.max(1)], &rest[cut + 1..])
        };
        let part = CString::new(if part.is_empty() { b"." } else { part }).map_err(|_| Errno(libc::EINVAL))?;
        let this_flags = if more.is_empty() { flags } else { libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC };
        let opened = Internal(ocb::open_internal(|| real::openat(at, &part, this_flags, 0))?);
        if more.is_empty() {
            return Ok(opened);
        }
        from = Some(opened);
        rest = more;
    }
}

impl Spath {
    fn new(base: Base, base_rel: &[u8], walk: &[u8]) -> Spath {
        let abs = vpath::absolute(&vpath::join(b"/", base_rel), walk);
        let climbs = vpath::climbs(walk);
        let walk = CString::new(if walk.is_empty() { b"." } else { walk }).unwrap_or_default();
        Spath { rel: std::sync::OnceLock::new(), lexical: Rel(abs[1..].to_vec()), climbs, base, walk, follows_last: false }
    }

    /// The name of the entry under the prefix: what the journal, the change list and the
    /// reports say. `lnk/../f` is where the kernel takes it, not where the letters say, so a
    /// path with `..` is looked up on the lead (once, when a change first needs its name:
    /// a stat or a read-only open never pays for it).
    pub fn rel(&self) -> &Rel {
        self.rel.get_or_init(|| if self.climbs { self.kernel_rel() } else { None }.unwrap_or_else(|| self.lexical.clone()))
    }

    /// The entry's name under the prefix as the lead's kernel reaches it: its directory
    /// walked (symlinks followed), then named back from the real path. One open, for paths
    /// with `..` only.
    fn kernel_rel(&self) -> Option<Rel> {
        let v = crate::members::view();
        let at = self.at_lead(&v).ok()?;
        let (_, dir_rel, name) = lead_dir(&v, &at)?;
        (!matches!(name, b"" | b"." | b"..")).then(|| Rel(vpath::join_rel(&dir_rel, name)))
    }

    /// The same path, for a call that follows a final symlink (`yes`) or not.
    pub fn following(self, yes: bool) -> Spath {
        Spath { follows_last: yes, ..self }
    }

    /// The flag a *at call looking at what this path names takes: AT_SYMLINK_NOFOLLOW
    /// unless the call follows a final symlink (`following`).
    pub fn at_flags(&self) -> c_int {
        if self.follows_last { 0 } else { libc::AT_SYMLINK_NOFOLLOW }
    }

    /// What a change made through this path reached on the lead, named under the prefix:
    /// the entry, its directory walked as the kernel walks it (symlinks followed), or for
    /// a call that follows a final symlink (`following`), the file the link leads to. The
    /// change list records this rather than the program's name: a link on the way
    /// retargeted or removed later in the same outage led the enable elsewhere, and the
    /// change never reached the member brought back. None where the lead cannot name it
    /// (its directory gone, or out of the prefix).
    pub fn reached(&self) -> Option<Rel> {
        let v = crate::members::view();
        let at = self.at_lead(&v).ok()?;
        let (dir, dir_rel, name) = lead_dir(&v, &at)?;
        if matches!(name, b"" | b"." | b"..") {
            let whole = open_beneath(dir.0, name, libc::O_PATH | libc::O_DIRECTORY).ok()?;
            return rel_of_fd(&v, whole.0).map(Rel);
        }
        let linked = || real::fstatat(dir.0, &CString::new(name).ok()?, libc::AT_SYMLINK_NOFOLLOW).ok().filter(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        let target = || open_beneath(dir.0, name, libc::O_PATH).ok().and_then(|t| rel_of_fd(&v, t.0));
        match self.follows_last && linked().is_some() {
            true => target().map(Rel),
            false => Some(Rel(vpath::join_rel(&dir_rel, name))),
        }
    }

    /// Where the lead's entry at this path leads, named under the prefix, where it is a
    /// symlink to a file that is there (one fstatat where it is not): the name a call
    /// following it changes (see `names::hold_reached`).
    pub fn leads_to(&self) -> Option<Rel> {
        let v = crate::members::view();
        let at = self.at_lead(&v).ok()?;
        let st = real::fstatat(at.fd, &at.path, libc::AT_SYMLINK_NOFOLLOW).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            return None;
        }
        let (dir, _, name) = lead_dir(&v, &at)?;
        let target = open_beneath(dir.0, name, libc::O_PATH).ok()?;
        rel_of_fd(&v, target.0).map(Rel)
    }

    /// Whether a call through this path follows a final symlink (`following`).
    pub fn follows_last(&self) -> bool {
        self.follows_last
    }

    /// For a call the lead answered ENOENT: the path with each symlink on its way that a
    /// member's kernel cannot follow itself (`vpath::link_misleads_member`: `/shadow/d`, or
    /// `../` above the prefix root, which the kernel takes to a real `/shadow` or out of the
    /// member) replaced by where it leads, as the kernel would take it were the prefix a
    /// real directory. First with the names before the last replaced, then with the last
    /// one too: for a call that follows it (one that does not cannot have failed ENOENT for
    /// an existing last name). None where no such link is on the way: the answer stands;
    /// ELOOP where the links loop (the kernel, which stopped at the first, would have said
    /// so were the prefix real). Read on the lead, one readlink a name, only after an ENOENT.
    pub fn through_links(&self) -> [Option<Res<Target>>; 2] {
        let prefix = &set::get().prefix;
        let v = crate::members::view();
        let Ok(root) = v.root(v.lead) else { return [None, None] };
        if self.plainly_missing(&v) {
            return [None, None];
        }
        let misled = std::cell::Cell::new(false);
        let look = |abs: &[u8]| -> vpath::Entry {
            let entry = vpath::under_prefix(abs, prefix).filter(|r| !r.is_empty()).and_then(|rel| Some((rel, CString::new(rel).ok()?)));
            let Some((rel, name)) = entry else { return vpath::Entry::Dir };
            let entry = look_at(root, &name);
            if let vpath::Entry::Link(target) = &entry {
                misled.set(misled.get() || vpath::link_misleads_member(rel, target, prefix));
            }
            entry
        };
        let base = match &self.base {
            Base::Root => Vec::new(),
            Base::Cwd(dirs) => dirs.rel(),
            Base::Dir(fd, ocb) => dir_rel(*fd, ocb).0,
        };
        let walk = self.walk.to_bytes();
        let named = |abs: &[u8]| {
            let slash = if walk.ends_with(b"/") { b"/".as_slice() } else { b"" };
            match vpath::under_prefix(abs, prefix) {
                Some(rel) => Target::Shadowed(Spath::new(Base::Root, b"", &[rel, slash].concat())),
                None => CString::new([abs, slash].concat()).map_or(Target::Outside, Target::Rewritten),
            }
        };
        // A loop only the links a member cannot follow make: links the kernel follows
        // itself loop for it too, and its answer stands (before, a rename or link whose
        // other path ran into such a loop said ELOOP where the kernel, stopped earlier,
        // said ENOENT: tests/scripts/namespace_fuzz.py).
        let looped = || misled.get().then_some(Err(Errno(libc::ELOOP)));
        let mut at = match vpath::walk(b"/", &[&vpath::join(prefix, &base), b"/".as_slice(), walk].concat(), prefix, look) {
            vpath::Walked::At(at) => at,
            // Made again from where it stops, the call fails as the kernel's would.
            vpath::Walked::Stopped(at) => return [misled.get().then(|| Ok(named(&at))), None],
            vpath::Walked::Loop => return [looped(), None],
        };
        let beneath = misled.get().then(|| Ok(named(&at)));
        let mut links = 0;
        while let vpath::Entry::Link(target) = look(&at) {
            links += 1;
            let dir = &at[..at.iter().rposition(|&b| b == b'/').unwrap_or(0).max(1)];
            match vpath::walk(dir, &target, prefix, look) {
                vpath::Walked::At(next) if links <= 40 => at = next,
                vpath::Walked::Stopped(next) if links <= 40 => {
                    at = next;
                    break;
                }
                _ => return [beneath, looped()],
            }
        }
        [beneath, (links > 0 && misled.get()).then(|| Ok(named(&at)))]
    }

    /// Whether the directory holding this path's last name is found on the lead, walked
    /// as its kernel walks it; else why not (ENOENT, ENOTDIR, ELOOP).
    pub fn dir_on_lead(&self) -> Res<()> {
        let v = crate::members::view();
        let at = self.at_lead(&v)?;
        open_beneath(at.fd, vpath::split_last(at.path.to_bytes()).0, libc::O_PATH | libc::O_DIRECTORY).map(drop)
    }

    /// Whether the lead has an entry at this path, its last name followed (`follow`) or
    /// not; else why not.
    pub fn on_lead(&self, follow: bool) -> Res<()> {
        let v = crate::members::view();
        let at = self.at_lead(&v)?;
        real::fstatat(at.fd, &at.path, if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW }).map(drop)
    }

    /// Whether the lead has no entry at this path and no symlink on the way to it: most
    /// misses, told by one openat2 that refuses symlinks rather than a readlink of every
    /// name on the way (which a miss cost four times what it costs natively).
    fn plainly_missing(&self, v: &View) -> bool {
        let Ok(at) = self.at_lead(v) else { return false };
        let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        match real::openat2(at.fd, &at.path, flags, 0, libc::RESOLVE_NO_SYMLINKS) {
            Ok(fd) => {
                let _ = real::close(fd);
                false
            }
            Err(e) => e == Errno(libc::ENOENT),
        }
    }

    /// A path named by its folded form, walked from the member root.
    pub fn from_rel(rel: Rel) -> Spath {
        let walk = CString::new(if rel.0.is_empty() { b".".as_slice() } else { &rel.0 }).unwrap_or_default();
        Spath { rel: std::sync::OnceLock::new(), lexical: rel, climbs: false, base: Base::Root, walk, follows_last: false }
    }

    /// The same path on member `m` of view `v`.
    pub fn at<'a>(&'a self, v: &View, m: Member) -> Res<At<'a>> {
        let from_root = |rel: &'a [u8]| -> Res<At<'a>> {
            let path = if rel.is_empty() { Cow::Borrowed(c".") } else { Cow::Owned(CString::new(rel).map_err(|_| Errno(libc::EINVAL))?) };
            Ok(At { fd: v.root(m)?, path })
        };
        let here = |fd: c_int| At { fd, path: Cow::Borrowed(self.walk.as_c_str()) };
        match &self.base {
            Base::Root => Ok(At { fd: v.root(m)?, path: Cow::Borrowed(self.walk.as_c_str()) }),
            // The directory held, not the kernel's cwd: another thread's chdir between the
            // resolution and the call must not send the members' walks to different places.
            Base::Cwd(dirs) => match dirs.fd(m) {
                Some(fd) => Ok(here(fd)),
                None if dirs.lead == m => Ok(here(libc::AT_FDCWD)),
                None => from_root(&self.rel().0),
            },
            Base::Dir(fd, ocb) if m == v.lead => Ok(here(ocb.lead_dir().unwrap_or(*fd))),
            Base::Dir(_, ocb) => match ocb.secondary_fd() {
                Some(fd) => Ok(here(fd)),
                None => from_root(&self.rel().0),
            },
        }
    }

    /// The program's own relative path, when the kernel's cwd (the lead's directory) is
    /// where it is walked from on the lead of `v`.
    pub fn relative_to_kernel_cwd(&self, v: &View) -> Option<&CStr> {
        match &self.base {
            Base::Cwd(dirs) if dirs.lead == v.lead => Some(&self.walk),
            _ => None,
        }
    }

    /// The lead member's place for this path.
    pub fn at_lead(&self, v: &View) -> Res<At<'_>> {
        self.at(v, v.lead)
    }

    /// Whether the directory holding this path is one and the same on the lead and on
    /// member `m`: reached through a symlink that leads out of the prefix (`logs ->
    /// /var/log/app`), the two walks meet outside both members, and the change the lead
    /// made there is all there is (the follower's repeat of it fails, and is no
    /// divergence). Looked at only when the follower failed.
    pub fn meets_outside(&self, v: &View, m: Member) -> bool {
        let dir_of = |at: At| -> Option<libc::stat64> { real::fstatat(at.fd, &CString::new(vpath::split_last(at.path.to_bytes()).0).ok()?, 0).ok() };
        match (self.at_lead(v).ok().and_then(dir_of), self.at(v, m).ok().and_then(dir_of)) {
            (Some(a), Some(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        }
    }

}

/// The process's cwd inside the prefix: its virtual path and the same directory held open
/// on each member (-1 where it could not be opened; paths there are walked from the root).
pub struct CwdDirs {
    /// The cwd's name under the prefix, as last known (see `rel`).
    rel: Mutex<Vec<u8>>,
    /// The set's count of directory moves when `rel` was last known to be the name.
    named_at: AtomicU32,
    /// The member whose directory is the kernel's cwd.
    lead: Member,
    fds: [AtomicI32; 2],
}

impl Drop for CwdDirs {
    fn drop(&mut self) {
        for fd in self.fds.iter().map(|fd| fd.load(Ordering::Relaxed)).filter(|&fd| fd >= 0) {
            ocb::close_internal(fd);
        }
    }
}

impl CwdDirs {
    /// Opens the directory `rel` on every member being written, walking from their roots.
    fn open(v: &View, rel: &[u8]) -> CwdDirs {
        let mut fds = [-1; 2];
        for m in v.written() {
            fds[m.index()] = CwdDirs::open_on(v, m, rel).unwrap_or(-1);
        }
        CwdDirs::new(rel.to_vec(), v.lead, fds)
    }

    /// The directory `rel` on member `m`, walked from its root.
    fn open_on(v: &View, m: Member, rel: &[u8]) -> Option<c_int> {
        let root = v.root(m).ok()?;
        open_beneath(root, rel, libc::O_PATH | libc::O_DIRECTORY).ok().map(Internal::into_raw)
    }

    fn new(rel: Vec<u8>, lead: Member, fds: [c_int; 2]) -> CwdDirs {
        // Named by the kernel at the first use, as a directory's open is (`Ocb::new`).
        CwdDirs { rel: Mutex::new(rel), named_at: AtomicU32::new(crate::names::dirs_moved().wrapping_sub(1)), lead, fds: fds.map(AtomicI32::new) }
    }

    /// The cwd's name under the prefix now. Asked of the kernel again when a directory of
    /// the set moved since it was last known: another process may have renamed one above
    /// it, and the name recorded at the chdir then sent `..` elsewhere (by the old depth,
    /// `../../x` from a cwd moved one level deeper left the prefix: the host's `/x`), put
    /// the wrong names in the journal and the name locks, and looked up `./script` for an
    /// exec by the old name.
    pub fn rel(&self) -> Vec<u8> {
        self.rel_named().0
    }

    /// `rel`, and whether it is the name now: false when a directory moved and the kernel
    /// cannot name this one (removed, or deeper than PATH_MAX): the name of the chdir (or
    /// the last one known) is kept, asked again at each use, and its depth not trusted
    /// (`beneath`).
    fn rel_named(&self) -> (Vec<u8>, bool) {
        let now = crate::names::dirs_moved();
        let mut rel = self.rel.lock().unwrap_or_else(|e| e.into_inner());
        if self.named_at.load(Ordering::Acquire) == now {
            return (rel.clone(), true);
        }
        match kernel_name(self.lead_fd()) {
            Some(name) => {
                *rel = name;
                self.named_at.store(now, Ordering::Release);
                (rel.clone(), true)
            }
            None => (rel.clone(), false),
        }
    }

    /// The directory on the lead (the kernel's cwd when the shim holds none).
    fn lead_fd(&self) -> c_int {
        self.fd(self.lead).unwrap_or(libc::AT_FDCWD)
    }

    pub fn fd(&self, m: Member) -> Option<c_int> {
        Some(self.fds[m.index()].load(Ordering::Relaxed)).filter(|&fd| fd >= 0)
    }
}

/// The process's cwd as the program believes it to be.
enum Cwd {
    /// Inside the prefix.
    Virtual(Arc<CwdDirs>),
    /// A real directory (absolute, folded).
    Real(Vec<u8>),
}

static CWD: RwLock<Option<Cwd>> = RwLock::new(None);

/// Serialises changes of the cwd, so that the kernel's cwd and the one recorded here are
/// changed together: two threads' chdirs must not leave the kernel in one directory and the
/// shim believing the other.
static CWD_CHANGE: Mutex<()> = Mutex::new(());

/// Runs `f`, a change of the kernel's cwd and of the record, alone.
pub fn changing_cwd<T>(f: impl FnOnce() -> T) -> T {
    let _alone = CWD_CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

fn set_cwd(c: Cwd) {
    let old = CWD.write().unwrap_or_else(|e| e.into_inner()).replace(c);
    drop(old);
}

/// The cwd's name under the prefix, copied into `out`, from a signal handler
/// (allocation-free, never blocking): Some(None) when the cwd is outside the prefix, None
/// when it cannot be had at once, does not fit, or may be stale (a directory was renamed
/// since the name was learnt).
pub fn cwd_rel_now(out: &mut [u8]) -> Option<Option<usize>> {
    let cwd = CWD.try_read().ok()?;
    let Some(Cwd::Virtual(dirs)) = cwd.as_ref() else { return Some(None) };
    if dirs.named_at.load(Ordering::Acquire) != crate::names::dirs_moved() {
        return None;
    }
    let rel = dirs.rel.try_lock().ok()?;
    out.get_mut(..rel.len())?.copy_from_slice(&rel);
    Some(Some(rel.len()))
}

/// Learns the inherited cwd: an exec'd child of a program that had chdir'ed into the prefix
/// starts in a lead member directory and must go on seeing the virtual path.
pub fn init_cwd() {
    match real::getcwd() {
        Ok(real_cwd) => {
            let v = crate::members::view();
            match v.rel_in_lead(&real_cwd).is_none().then(|| v.rel_in_any(&real_cwd)).flatten() {
                // In another member: the process that exec'd this one had not taken up a
                // change that moved the lead (it was on its way into exec). The cwd is that
                // directory's on the lead, as `cwd_follows` would have made it there. Taken
                // for a real directory, the program's relative writes reached that member
                // alone, one no longer written or the follower.
                Some(rel) => {
                    let dirs = CwdDirs::open(&v, &rel);
                    if let Some(fd) = dirs.fd(v.lead) {
                        let _ = real::fchdir(fd);
                    }
                    set_cwd(Cwd::Virtual(Arc::new(dirs)));
                }
                None => set_cwd_from_real(&real_cwd),
            }
        }
        Err(_) => set_cwd(Cwd::Real(b"/".to_vec())),
    }
}

fn set_cwd_from_real(dir: &[u8]) {
    let v = crate::members::view();
    match v.rel_in_lead(dir) {
        Some(rel) => set_cwd(Cwd::Virtual(Arc::new(CwdDirs::open(&v, &rel)))),
        None => set_cwd(Cwd::Real(dir.to_vec())),
    }
}

/// chdir into the prefix: the directory is opened on every member being written (the
/// kernel's walk decides what it is), and the kernel's cwd becomes the lead's.
pub fn chdir_virtual(sp: &Spath) -> Res<()> {
    // The follower's cwd must be the same directory (see names.rs). Held first: taking a
    // name applies a member change waiting to be applied, which moves the cwd (under
    // CWD_CHANGE; before, a chdir that was the first call to see a change took that lock
    // twice and hung for ever).
    let _name = crate::names::hold(&[sp.rel()]);
    changing_cwd(|| chdir_virtual_alone(sp))
}

fn chdir_virtual_alone(sp: &Spath) -> Res<()> {
    let v = crate::members::view();
    let lead = open_at(&sp.at_lead(&v)?, libc::O_PATH | libc::O_DIRECTORY)?;
    real::fchdir(lead.0)?;
    let mut fds = [-1; 2];
    fds[v.lead.index()] = lead.into_raw();
    if let Some(f) = v.follower {
        if let Ok(d) = sp.at(&v, f).and_then(|at| open_at(&at, libc::O_PATH | libc::O_DIRECTORY)) {
            fds[f.index()] = d.into_raw();
        }
    }
    set_cwd(Cwd::Virtual(Arc::new(CwdDirs::new(sp.rel().0.clone(), v.lead, fds))));
    Ok(())
}

/// fchdir onto a shadowed directory fd: its twin on the follower becomes the follower's cwd.
pub fn fchdir_virtual(fd: c_int, dir: &Ocb) {
    let v = crate::members::view();
    let mut fds = [-1; 2];
    let dup = |fd: c_int| ocb::dup_internal(fd).unwrap_or(-1);
    // The kernel's new cwd, copied from the program's number while it still holds `dir`:
    // another thread's close and open at the number since the fchdir would have given the
    // copy, and the cwd's name, another directory's (the lead's part of every relative call
    // then went there, the follower's to `dir`). Without it the kernel's cwd serves.
    let lead = ocb::dup_internal(fd).ok().and_then(|copy| {
        if fdtable::links(fd, dir) {
            return Some(copy);
        }
        ocb::close_internal(copy);
        None
    });
    fds[v.lead.index()] = lead.unwrap_or(-1);
    if let (Some(f), Some(sfd)) = (v.follower, dir.secondary_fd()) {
        fds[f.index()] = dup(sfd);
    }
    set_cwd(Cwd::Virtual(Arc::new(CwdDirs::new(dir_rel(lead.unwrap_or(libc::AT_FDCWD), dir).0, v.lead, fds))));
}

/// One of the shim's fds moved from `old` to `new` (see hooks::open::relocate_internal).
pub fn relocate_cwd(old: c_int, new: c_int) {
    if let Some(Cwd::Virtual(d)) = CWD.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        for fd in &d.fds {
            let _ = fd.compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// A chdir outside the prefix.
pub fn set_cwd_real() {
    let cwd = real::getcwd().unwrap_or_else(|_| b"/".to_vec());
    set_cwd_from_real(&cwd);
}

/// After a fchdir to `fd`, a number that held no directory of the program's in the set
/// (`marks`: `fdtable::marks()` before the call): the kernel's cwd, read back. One in a
/// member that is not the lead, at a number the shim marked its own since
/// (`fdtable::marked_since`: it opens its fds at the lowest free number, for an instant
/// before it marks them), is the shim's directory there, most often the
/// follower's twin of a directory another thread is opening at that number: it is taken as
/// that directory of the set, and the kernel's cwd moved to the lead's. Left a real
/// directory, the program's relative calls then reached that member alone, unreported (the
/// reused-number stress program with its thread fchdir-ing: a symlink on the secondary
/// alone, one run in about 230). A member's directory the program opened itself, by the
/// member's own path (outside the prefix), stays the real directory it is.
pub fn set_cwd_after_fchdir(fd: c_int, marks: u64) {
    let cwd = real::getcwd().unwrap_or_else(|_| b"/".to_vec());
    let v = crate::members::view();
    if v.rel_in_lead(&cwd).is_none() {
        if let Some(rel) = v.rel_in_any(&cwd).filter(|_| crate::fdtable::marked_since(fd, marks)) {
            let dirs = CwdDirs::open(&v, &rel);
            if let Some(lead) = dirs.fd(v.lead) {
                if real::fchdir(lead).is_ok() {
                    return set_cwd(Cwd::Virtual(Arc::new(dirs)));
                }
            }
        }
    }
    set_cwd_from_real(&cwd);
}

/// A new view of the members: the cwd is held on each member being written (the directory
/// already held where that member is unchanged, so a renamed or removed cwd stays the one
/// the program is in; opened again by name on a member replaced or rebuilt), and the
/// kernel's cwd moves to the new lead's directory.
pub fn cwd_follows(old: &View, new: &View) {
    changing_cwd(|| {
        let dirs = match CWD.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(Cwd::Virtual(d)) => d.clone(),
            _ => return,
        };
        // A directory held on a member written before and since, and no resync rewrote
        // (`View::renewed`), stays the cwd there. The cwd's name is the kernel's for one
        // kept, the new lead's first: a member out of the view no longer sees renames, and
        // a resync makes the directory at each name what the source's is, without the
        // renames. Before, the secondary's was let go at `disable primary` and the cwd
        // opened again by the name the primary gave it: renamed on the secondary meanwhile,
        // it was not found there, the kernel's cwd stayed in the disabled primary, and
        // files made in it were lost at the next enable, unreported (found by helper-43);
        // and one held on a member a resync rewrote stayed the cwd there while it had a
        // name: a cwd exchanged with another directory while its member was out made the
        // sleeper's files there in the other directory (found by helper-44).
        let kept = |m: Member| {
            let written = old.written().any(|o| o == m);
            dirs.fd(m).filter(|_| written && !new.renewed(old, m))
        };
        let rel = std::iter::once(new.lead).chain(new.written()).filter_map(kept).find_map(kernel_name).unwrap_or_else(|| dirs.rel());
        let mut fds = [-1; 2];
        for m in new.written() {
            let held = kept(m).and_then(|fd| ocb::dup_internal(fd).ok());
            fds[m.index()] = held.or_else(|| CwdDirs::open_on(new, m, &rel)).unwrap_or(-1);
        }
        if fds[new.lead.index()] >= 0 {
            let _ = real::fchdir(fds[new.lead.index()]);
        }
        set_cwd(Cwd::Virtual(Arc::new(CwdDirs::new(rel, new.lead, fds))));
    })
}

fn open_at(at: &At, flags: c_int) -> Res<Internal> {
    ocb::open_internal(|| real::openat(at.fd, &at.path, flags | libc::O_CLOEXEC, 0)).map(Internal)
}

/// The virtual cwd (under the prefix), if the cwd is inside it.
pub fn virtual_cwd() -> Option<Rel> {
    match CWD.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(Cwd::Virtual(d)) => Some(Rel(d.rel())),
        _ => None,
    }
}

/// The virtual cwd as the kernel names the lead's directory now, if the cwd is inside the
/// prefix: another process may have renamed a directory above it since the chdir (getcwd
/// gave a path that no longer existed). ENOENT for a cwd removed, as natively; the name
/// last known when the kernel cannot say otherwise (a cwd deeper than PATH_MAX).
pub fn virtual_cwd_now() -> Res<Option<Rel>> {
    let Some(known) = virtual_cwd() else { return Ok(None) };
    match real::getcwd() {
        Ok(real) => Ok(Some(crate::members::view().rel_in_lead(&real).map_or(known, Rel))),
        Err(e) if e.0 == libc::ENOENT => Err(e),
        Err(_) => Ok(Some(known)),
    }
}

/// The name under the prefix the kernel gives the directory `fd` (AT_FDCWD: the cwd) on
/// its member, checked to name it there; None for one removed (`… (deleted)`) or too deep
/// to name.
fn kernel_name(fd: c_int) -> Option<Vec<u8>> {
    let link = if fd == libc::AT_FDCWD { c"/proc/thread-self/cwd".to_owned() } else { CString::new(format!("/proc/thread-self/fd/{fd}")).ok()? };
    let real_path = real::readlink(&link).ok()?;
    let rel = crate::members::view().rel_in_any(&real_path)?;
    let dir = real::fstatat(libc::AT_FDCWD, &link, 0).ok()?;
    let named = real::fstatat(libc::AT_FDCWD, &CString::new(real_path).ok()?, libc::AT_SYMLINK_NOFOLLOW).ok()?;
    ((dir.st_dev, dir.st_ino) == (named.st_dev, named.st_ino)).then_some(rel)
}

/// The file the program's fd `fd` is open on (a node: a FIFO, socket or device; a file
/// renamed since it was opened), by the name the kernel gives it now in the lead member
/// (the callers hold the name and check that it still names the file).
pub fn name_now(fd: c_int) -> Option<Spath> {
    match name_now_in_any(fd)? {
        (sp, true) => Some(sp),
        _ => None,
    }
}

/// The real path of the file of the program's `fd`, as the kernel gives it; None for one
/// with no name left. A file whose name it was opened by was removed while it keeps another
/// (`ln f keep` before an editor's save over `f`) the kernel names by the removed one
/// (`…/f (deleted)`): its other name is looked for beside it, where such links are made
/// (a look elsewhere would be a walk of the tree). Before, such a file was taken for
/// nameless, or for the file at its old name (helper-45).
pub fn fd_real_name(fd: c_int) -> Option<Vec<u8>> {
    let target = real::readlink(&CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?).ok()?;
    let Some(removed) = target.strip_suffix(b" (deleted)") else { return Some(target) };
    let st = real::fstat(fd).ok().filter(|st| st.st_nlink > 0 && st.st_mode & libc::S_IFMT != libc::S_IFDIR)?;
    let dir = &removed[..removed.iter().rposition(|&b| b == b'/')?];
    let dirfd = real::open(&CString::new(dir).ok()?, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).ok()?;
    let entry = real::entry_of_inode(dirfd, st.st_ino);
    let found = entry.and_then(|name| {
        let there = real::fstatat(dirfd, &CString::new(name.clone()).ok()?, libc::AT_SYMLINK_NOFOLLOW).ok()?;
        ((there.st_dev, there.st_ino) == (st.st_dev, st.st_ino)).then(|| [dir, b"/", &name].concat())
    });
    let _ = real::close(dirfd);
    found
}

/// `name_now` in whichever member the fd's file lies (a node opened before the lead
/// moved lies in the member that led then), and whether that is the lead.
pub fn name_now_in_any(fd: c_int) -> Option<(Spath, bool)> {
    let real_path = fd_real_name(fd)?;
    let v = crate::members::view();
    match v.rel_in_lead(&real_path) {
        Some(rel) => Some((Spath::from_rel(Rel(rel)), true)),
        None => Some((Spath::from_rel(Rel(v.rel_in_any(&real_path)?)), false)),
    }
}

/// The name under the prefix of the directory fd `fd` now (see `CwdDirs::rel`). The OCB
/// keeps the name it was opened by; a directory that moved since is named by the kernel
/// at each use (one readlink and two stats: moved directory fds are rare).
pub fn dir_rel(fd: c_int, dir: &Ocb) -> Rel {
    dir_rel_named(fd, dir).0
}

/// `dir_rel`, and whether it is the name now (see `CwdDirs::rel_named`).
fn dir_rel_named(fd: c_int, dir: &Ocb) -> (Rel, bool) {
    let now = crate::names::dirs_moved();
    let opened_by = dir.rel();
    if dir.named_at() == now {
        return (opened_by, true);
    }
    // The held lead side where there is one: the program's number may hold another
    // directory by now (`Ocb::hold_lead_dir`).
    match kernel_name(dir.lead_dir().unwrap_or(fd)) {
        Some(name) if name != opened_by.0 => (Rel(name), true),
        Some(_) => {
            dir.set_named_at(now);
            (opened_by, true)
        }
        None => (opened_by, false),
    }
}

/// How deep below the lead's root the directory `fd` (AT_FDCWD: the cwd) lies, counted by
/// walking `..` from it: for a directory the kernel cannot name, whose recorded name may
/// say another depth (moved since, then removed). None when the walk does not reach the
/// root (moved out of the member).
fn physical_depth(fd: c_int) -> Option<usize> {
    let v = crate::members::view();
    let id = |st: libc::stat64| (st.st_dev, st.st_ino);
    let root = id(real::fstat(v.root(v.lead).ok()?).ok()?);
    let mut here = id(real::fstatat(fd, c".", 0).ok()?);
    let mut at: Option<Internal> = None;
    for depth in 0..=libc::PATH_MAX as usize {
        if here == root {
            return Some(depth);
        }
        let up = Internal(ocb::open_internal(|| real::openat(at.as_ref().map_or(fd, |d| d.0), c"..", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)).ok()?);
        let parent = id(real::fstat(up.0).ok()?);
        if parent == here {
            return None;
        }
        (here, at) = (parent, Some(up));
    }
    None
}

/// The absolute virtual path of a `Rel`.
pub fn virtual_path(rel: &Rel) -> Vec<u8> {
    vpath::join(&set::get().prefix, &rel.0)
}

/// An absolute, folded path: under the prefix it is walked from the member root.
fn classify(abs: Vec<u8>, kernel_would_misresolve: bool) -> Target {
    let prefix = &set::get().prefix;
    match vpath::under_prefix(&abs, prefix) {
        Some(rel) => Target::Shadowed(Spath::from_rel(Rel(rel.to_vec()))),
        None if kernel_would_misresolve => match CString::new(abs) {
            Ok(c) => Target::Rewritten(c),
            Err(_) => Target::Outside,
        },
        None => Target::Outside,
    }
}

/// A path relative to a directory `base_rel` under the prefix: walked from that directory
/// unless it climbs out of the prefix on the way.
fn beneath(base: Base, base_rel: &[u8], named: bool, p: &[u8]) -> Target {
    let recorded = vpath::depth(base_rel);
    // A base the kernel cannot name: `..` counts the levels it really has (by its recorded
    // name, `..` from a directory moved deeper, then removed, left the prefix).
    let depth = match named || !vpath::climbs(p) {
        true => recorded,
        false => match physical_depth(base.lead_fd()) {
            Some(d) => d,
            None => return Target::Outside,
        },
    };
    if vpath::escapes(p, depth) {
        let from = match depth == recorded {
            true => vpath::join(&set::get().prefix, base_rel),
            // Names of the right depth that name nothing: the climb leaves them all.
            false => (0..depth).fold(set::get().prefix.clone(), |d, _| vpath::join(&d, b".libshadow-unnamed")),
        };
        return climbing(&from, p);
    }
    Target::Shadowed(Spath::new(base, base_rel, p))
}

/// A path that, as its letters say, climbs above the prefix root from the absolute virtual
/// directory `base`: named where the kernel would take it, were the prefix a directory
/// (`vpath::walk`; each name walked under the prefix is read on the lead, one readlink:
/// such paths are rare), then as an absolute path. The walk starts at the root, through
/// `base`'s own names: the directory a cwd or a dirfd was opened by may be a symlink too.
/// Lexically folded, `sub/../../x` with `sub` a symlink to `d1/d2` left the prefix and
/// reached the host's `/x`.
fn climbing(base: &[u8], p: &[u8]) -> Target {
    let prefix = &set::get().prefix;
    let v = crate::members::view();
    let look = |abs: &[u8]| match vpath::under_prefix(abs, prefix).and_then(|rel| CString::new(rel).ok()) {
        Some(name) => v.root(v.lead).map_or(vpath::Entry::Missing, |root| look_at(root, &name)),
        None => vpath::Entry::Dir,
    };
    let whole = [base, b"/", p].concat();
    match vpath::walk(b"/", &whole, prefix, look) {
        vpath::Walked::At(at) | vpath::Walked::Stopped(at) => classify(at, true),
        // Past 40 symlinks (where the kernel gives up): by the letters, as before.
        vpath::Walked::Loop => classify(vpath::absolute(base, p), true),
    }
}

/// What `name` (under the prefix) is on the lead, whose root is `root`, for `vpath::walk`:
/// one lstat, and a readlink for a symlink.
fn look_at(root: c_int, name: &CStr) -> vpath::Entry {
    match real::fstatat(root, name, libc::AT_SYMLINK_NOFOLLOW).map(|st| st.st_mode & libc::S_IFMT) {
        Ok(libc::S_IFLNK) => real::readlinkat(root, name).map_or(vpath::Entry::Missing, vpath::Entry::Link),
        Ok(libc::S_IFDIR) => vpath::Entry::Dir,
        Ok(_) => vpath::Entry::Other,
        Err(_) => vpath::Entry::Missing,
    }
}

/// openat2 with RESOLVE_IN_ROOT or RESOLVE_BENEATH from `dirfd`, a directory under the
/// prefix (or the cwd there): the kernel keeps the walk inside that directory on each
/// member, so the path goes to it as it is, absolute or climbing; it is named as
/// RESOLVE_IN_ROOT takes it (`/` is the directory, and `..` stops there). None for a
/// directory that is not ours.
pub fn confined(dirfd: c_int, path: &CStr) -> Option<Spath> {
    let (base, base_rel) = if dirfd == libc::AT_FDCWD {
        match CWD.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(Cwd::Virtual(dirs)) => (Base::Cwd(dirs.clone()), dirs.rel()),
            _ => return None,
        }
    } else {
        let ocb = dir_of(dirfd)?;
        let rel = dir_rel(dirfd, &ocb).0;
        (Base::Dir(dirfd, ocb), rel)
    };
    let inside = vpath::absolute(b"/", path.to_bytes());
    let lexical = Rel(vpath::join(&base_rel, &inside[1..]));
    Some(Spath { rel: std::sync::OnceLock::new(), lexical, climbs: false, base, walk: path.to_owned(), follows_last: false })
}

/// The starts of the paths `through_proc` looks at.
const THROUGH_PROC: [&[u8]; 5] = [b"/dev/fd/", b"/proc/self/fd/", b"/proc/thread-self/fd/", b"/proc/self/cwd", b"/proc/thread-self/cwd"];

/// Whether `p` may name something through a process's directory, this one's or another's,
/// however /proc spells it (see `resolve`): for a path that starts otherwise than
/// `/proc/` or `/dev/fd/`, two byte compares.
pub fn may_name_through_proc(p: &[u8]) -> bool {
    (p.starts_with(b"/proc/") || p.starts_with(b"/dev/fd/")) && (may_pass_through_proc(p) || may_pass_through_other_proc(p) || proc_respelled(p).is_some())
}

/// Whether `p` may name something through a directory of the process's (see
/// `through_proc`): a few byte compares.
pub fn may_pass_through_proc(p: &[u8]) -> bool {
    (p.starts_with(b"/dev/fd/") || p.starts_with(b"/proc/")) && THROUGH_PROC.iter().any(|s| p.starts_with(s))
}

/// A path through a directory the process holds: `/proc/self/fd/N/rest` (or `/dev/fd/N/…`,
/// `/proc/thread-self/fd/N/…`) with N a shadowed directory fd, `/proc/self/cwd/rest` with
/// the cwd inside the prefix. The kernel walks these from the lead's directory alone; they
/// are `rest` from that directory (fd, and where `rest` starts in `p`). GNU tar sets xattrs
/// and ACLs by `/proc/self/fd/N/name`: they reached the primary alone. The link itself
/// (no `rest`: readlink of `/proc/self/cwd`, a reopen of `/proc/self/fd/N`) is left as it
/// is.
fn through_proc(p: &[u8]) -> Option<(c_int, usize)> {
    let start = THROUGH_PROC.iter().find(|s| p.starts_with(s))?.len();
    let t = &p[start..];
    let (dirfd, name_len) = if p[..start].ends_with(b"/fd/") {
        let n = &t[..t.iter().position(|&b| b == b'/').unwrap_or(t.len())];
        let fd = crate::hooks::fd_number(n)?;
        fdtable::get(fd).filter(|o| o.is_dir())?;
        (fd, n.len())
    } else {
        virtual_cwd()?;
        (libc::AT_FDCWD, 0)
    };
    let rest = &t[name_len..];
    if !rest.is_empty() && rest[0] != b'/' {
        return None;
    }
    let skip = rest.iter().position(|&b| b != b'/')?;
    Some((dirfd, start + name_len + skip))
}

/// Whether `p` may be a path through a directory of a process named by its number (see
/// `through_other_proc`): `/proc/`, digits, then `/cwd/` or `/fd/`, without an allocation.
pub fn may_pass_through_other_proc(p: &[u8]) -> bool {
    may_be_fd_link(p) && {
        let t = &p[b"/proc/".len()..];
        let t = &t[t.iter().position(|b| !b.is_ascii_digit()).unwrap_or(t.len())..];
        t.starts_with(b"/cwd/") || t.starts_with(b"/fd/")
    }
}

/// A path through a directory of a process named by its number: `/proc/PID/cwd/rest` or
/// `/proc/PID/fd/N/rest`. The process's own (`/proc/$$/…` from a shell) is `/proc/self/…`.
/// Another process's directory in the lead member is taken by the name the kernel gives it
/// now, checked to be that directory, and `rest` walked from it as the kernel would from
/// the prefix: the kernel would walk it on the lead alone (a supervisor creating a file in
/// its child's cwd reached the primary alone). The links themselves (no `rest`) are
/// `other_process_link`'s.
fn through_other_proc(p: &[u8]) -> Option<Target> {
    let after = &p[b"/proc/".len()..];
    let digits = after.iter().position(|b| !b.is_ascii_digit())?;
    let pid: libc::pid_t = std::str::from_utf8(&after[..digits]).ok()?.parse().ok()?;
    let tail = &after[digits..];
    let (link_len, rest) = match tail.strip_prefix(b"/cwd") {
        Some(rest) => (b"/cwd".len(), rest),
        None => {
            let r = tail.strip_prefix(b"/fd/")?;
            let n = r.iter().position(|&b| b == b'/')?;
            crate::hooks::fd_number(&r[..n])?;
            (b"/fd/".len() + n, &r[n..])
        }
    };
    if rest.first() != Some(&b'/') || rest.iter().all(|&b| b == b'/') {
        return None;
    }
    if own_pid(pid) {
        let own = CString::new([&b"/proc/self"[..], tail].concat()).ok()?;
        return Some(resolve(libc::AT_FDCWD, &own));
    }
    let rel = other_dir(&CString::new(&p[..b"/proc/".len() + digits + link_len]).ok()?)?;
    let path = CString::new([virtual_path(&rel).as_slice(), rest].concat()).ok()?;
    Some(resolve(libc::AT_FDCWD, &path))
}

/// This process's number, or its thread's.
fn own_pid(pid: libc::pid_t) -> bool {
    pid as u32 == std::process::id() || pid == unsafe { libc::gettid() }
}

/// The directory another process's `link` (its `/proc/PID/cwd`, a directory fd's
/// `/proc/PID/fd/N`) names in the lead member: by the name the kernel gives it now,
/// checked to be that directory.
fn other_dir(link: &CStr) -> Option<Rel> {
    let v = crate::members::view();
    let rel = Rel(v.rel_in_lead(&real::readlink(link).ok()?)?);
    let dir = real::fstatat(libc::AT_FDCWD, link, 0).ok()?;
    let named = Spath::from_rel(rel.clone()).at_lead(&v).and_then(|a| real::fstatat(a.fd, &a.path, libc::AT_SYMLINK_NOFOLLOW)).ok()?;
    ((dir.st_dev, dir.st_ino) == (named.st_dev, named.st_ino) && dir.st_mode & libc::S_IFMT == libc::S_IFDIR).then_some(rel)
}

/// Whether `p` may be a link that a following call takes to a file or directory of the
/// lead (see `followed_link`): a few byte compares.
pub fn may_be_followed_link(p: &[u8]) -> bool {
    may_be_fd_link(p) || (p.starts_with(b"/proc/") && (p.ends_with(b"/cwd") || proc_respelled(p).is_some()))
}

/// A link a following call (an open without O_NOFOLLOW, chmod, truncate…) takes to the
/// lead's file or directory, which the kernel would change or open there alone: another
/// process's `/proc/PID/fd/N` (`other_process_link`), or a cwd link, `/proc/self/cwd`,
/// `/proc/thread-self/cwd` or `/proc/PID/cwd`, inside the prefix (a directory fd opened
/// by it was not the shim's: a file created relative to it reached the primary alone). The
/// link itself (readlink, lstat) stays the kernel's.
pub fn followed_link(path: &CStr) -> Option<Spath> {
    if let Some(plain) = proc_respelled(path.to_bytes()) {
        return followed_link(&CString::new(plain).ok()?);
    }
    let p = path.to_bytes();
    let Some(who) = p.strip_prefix(b"/proc/").and_then(|t| t.strip_suffix(b"/cwd")) else { return other_process_link(path) };
    let pid = std::str::from_utf8(who).ok().and_then(|w| w.parse::<libc::pid_t>().ok());
    if who == b"self" || who == b"thread-self" || pid.is_some_and(own_pid) {
        return match resolve(libc::AT_FDCWD, c".") {
            Target::Shadowed(sp) => Some(sp),
            _ => None,
        };
    }
    pid?;
    other_dir(path).map(Spath::from_rel)
}

/// A `/proc` path to a process's cwd or fd link spelled otherwise than `/proc/WHO/cwd…` or
/// `/proc/WHO/fd/N…` (WHO: `self`, `thread-self` or a number), in that form: repeated
/// slashes and `.` dropped from the head, and a thread's `task/TID/` taken as its
/// process's (threads share the cwd and the fds). The kernel takes all these spellings;
/// the shim's `/proc` checks take the plain one, and the others reached the primary alone.
/// None for other paths, and for the plain spelling (without an allocation).
pub fn proc_respelled(p: &[u8]) -> Option<Vec<u8>> {
    if !p.starts_with(b"/proc/") {
        return None;
    }
    // The first six components that are not empty nor `.`, each with where it ends.
    let mut parts: [(&[u8], usize); 6] = [(b"", 0); 6];
    let (mut n, mut i) = (0, 0);
    while n < parts.len() && i < p.len() {
        while i < p.len() && p[i] == b'/' {
            i += 1;
        }
        let start = i;
        while i < p.len() && p[i] != b'/' {
            i += 1;
        }
        if i > start && &p[start..i] != b"." {
            parts[n] = (&p[start..i], i);
            n += 1;
        }
    }
    let number = |c: &[u8]| !c.is_empty() && c.iter().all(u8::is_ascii_digit);
    let (who, _) = parts[1];
    if n < 3 || parts[0].0 != b"proc" || !(who == b"self" || who == b"thread-self" || number(who)) {
        return None;
    }
    let link = if parts[2].0 == b"task" && who != b"thread-self" && n >= 5 && number(parts[3].0) { 4 } else { 2 };
    let (head, end) = match parts[link].0 {
        b"cwd" => (b"/cwd".to_vec(), parts[link].1),
        b"fd" if link + 1 < n => ([&b"/fd/"[..], parts[link + 1].0].concat(), parts[link + 1].1),
        _ => return None,
    };
    let plain = [&b"/proc/"[..], who, &head, &p[end..]].concat();
    (plain != p).then_some(plain)
}

/// Whether `p` may be a `/proc/PID/fd/N` link (see `other_process_link`): two byte compares.
pub fn may_be_fd_link(p: &[u8]) -> bool {
    p.starts_with(b"/proc/") && p.get(6).is_some_and(u8::is_ascii_digit)
}

/// A `/proc/PID/fd/N` link of another process (the log-truncation idiom
/// `: > /proc/PID/fd/1`) to a file in the lead member: that file, by the name the kernel
/// gives it now (it keeps the link's target name through renames). The kernel would follow
/// the link on the lead alone. Only for calls that follow it: the link itself (readlink,
/// lstat) is the kernel's. A file removed since, or a name that no longer names it, is
/// left to the kernel.
pub fn other_process_link(path: &CStr) -> Option<Spath> {
    other_fd_link(path.to_bytes())?;
    let v = crate::members::view();
    let sp = Spath::from_rel(Rel(v.rel_in_lead(&real::readlink(path).ok()?)?));
    let file = real::fstatat(libc::AT_FDCWD, path, 0).ok()?;
    let named = sp.at_lead(&v).and_then(|a| real::fstatat(a.fd, &a.path, libc::AT_SYMLINK_NOFOLLOW)).ok()?;
    ((file.st_dev, file.st_ino) == (named.st_dev, named.st_ino)).then_some(sp)
}

/// `/proc/PID/fd/N` with PID another process's.
fn other_fd_link(p: &[u8]) -> Option<()> {
    let rest = p.strip_prefix(b"/proc/")?;
    let (pid, n) = rest.split_at(rest.iter().position(|&b| b == b'/')?);
    let n = n.strip_prefix(b"/fd/")?;
    let pid: u32 = std::str::from_utf8(pid).ok()?.parse().ok()?;
    (pid != std::process::id() && crate::hooks::fd_number(n).is_some()).then_some(())
}

/// Another process's `/proc/PID/fd/N` (followed) to a file of the lead member whose name
/// was removed while it keeps another (`ln f g; rm f`: the link reads `…/f (deleted)`):
/// the shim cannot tell which name the follower's file has, and the kernel changes the
/// lead's alone. The removed name, for the report (see members::changed_unnamed).
pub fn other_process_link_unnamed(path: &CStr) -> Option<Rel> {
    if let Some(plain) = proc_respelled(path.to_bytes()) {
        return other_process_link_unnamed(&CString::new(plain).ok()?);
    }
    other_fd_link(path.to_bytes())?;
    let target = real::readlink(path).ok()?;
    let removed = target.strip_suffix(b" (deleted)")?;
    let rel = crate::members::view().rel_in_lead(removed)?;
    let file = real::fstatat(libc::AT_FDCWD, path, 0).ok()?;
    (file.st_nlink > 0 && file.st_mode & libc::S_IFMT == libc::S_IFREG).then_some(Rel(rel))
}

/// Resolves `path` as an `*at` call with `dirfd` would (AT_FDCWD for plain calls).
pub fn resolve(dirfd: c_int, path: &CStr) -> Target {
    let p = path.to_bytes();
    let s = set::get();
    let prefix = &s.prefix;
    if p.is_empty() {
        // AT_EMPTY_PATH or an error either way: the call acts on dirfd itself.
        return Target::Outside;
    }
    if let Some(plain) = proc_respelled(p) {
        return CString::new(plain).map_or(Target::Outside, |plain| resolve(dirfd, &plain));
    }
    if may_pass_through_proc(p) {
        if let Some((dirfd, at)) = through_proc(p) {
            if let Ok(rest) = CStr::from_bytes_with_nul(&path.to_bytes_with_nul()[at..]) {
                return resolve(dirfd, rest);
            }
        }
    }
    if may_pass_through_other_proc(p) {
        if let Some(target) = through_other_proc(p) {
            return target;
        }
    }
    if p.first() == Some(&b'/') {
        if let Some(below) = p.strip_prefix(prefix.as_slice()).filter(|r| r.is_empty() || r[0] == b'/') {
            let walk = &below[below.iter().position(|&b| b != b'/').unwrap_or(below.len())..];
            if !vpath::escapes(walk, 0) {
                return Target::Shadowed(Spath::new(Base::Root, b"", walk));
            }
            return climbing(prefix, walk);
        } else if !vpath::has_dot_components(p) {
            return Target::Outside;
        }
        // A path that passes through the virtual prefix and folds out of it (`/shadow/..`)
        // would not resolve in the kernel, which has no `/shadow`: hand it the folded path.
        return classify(vpath::absolute(b"/", p), p.starts_with(prefix));
    }
    if dirfd != libc::AT_FDCWD {
        if let Some(ocb) = dir_of(dirfd) {
            let (rel, named) = dir_rel_named(dirfd, &ocb);
            return beneath(Base::Dir(dirfd, ocb), &rel.0, named, p);
        }
        // A directory above the prefix (`openat(open("/"), "shadow/x")`): only a path that
        // starts with a name leading towards the prefix, or climbs, can reach it.
        if !vpath::climbs(p) && !s.towards.iter().any(|n| n.as_slice() == vpath::first_name(p)) {
            return Target::Outside;
        }
        let link = CString::new(format!("/proc/thread-self/fd/{dirfd}")).unwrap_or_default();
        return match real::readlink(&link) {
            Ok(dir) if dir.first() == Some(&b'/') => classify(vpath::absolute(&dir, p), false),
            _ => Target::Outside,
        };
    }
    let guard = CWD.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(Cwd::Virtual(dirs)) => {
            let dirs = dirs.clone();
            drop(guard);
            let (rel, named) = dirs.rel_named();
            beneath(Base::Cwd(dirs), &rel, named, p)
        }
        Some(Cwd::Real(dir)) => {
            // Only a cwd that is an ancestor of the prefix, or a path that climbs, can reach it.
            let ancestor = vpath::under_prefix(prefix, dir).is_some() || dir.as_slice() == b"/";
            if ancestor || vpath::climbs(p) {
                classify(vpath::absolute(dir, p), false)
            } else {
                Target::Outside
            }
        }
        None => Target::Outside,
    }
}

#[cfg(test)]
mod tests {
    use super::proc_respelled;

    #[test]
    fn proc_links_spelled_otherwise_are_given_their_plain_spelling() {
        let plain = |p: &[u8]| proc_respelled(p).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(plain(b"/proc//12/cwd/x"), Some("/proc/12/cwd/x".into()));
        assert_eq!(plain(b"/proc/12//cwd//x"), Some("/proc/12/cwd//x".into()));
        assert_eq!(plain(b"/proc/12/task/13/cwd/x"), Some("/proc/12/cwd/x".into()));
        assert_eq!(plain(b"/proc/self/task/13/fd/4/y"), Some("/proc/self/fd/4/y".into()));
        assert_eq!(plain(b"/proc/self/./fd//4"), Some("/proc/self/fd/4".into()));
        assert_eq!(plain(b"/proc/12/task/13/cwd"), Some("/proc/12/cwd".into()));
        // The plain spellings, and paths that are no cwd or fd link, are left alone.
        for p in [&b"/proc/12/cwd/x"[..], b"/proc/self/fd/4/y", b"/proc/12/stat", b"/proc/self/task/13/stat", b"/proc/thread-self/task/1/cwd", b"/proc/self/fd", b"/shadow/x", b"/proc/self/cwd"] {
            assert_eq!(plain(p), None, "{}", String::from_utf8_lossy(p));
        }
    }
}
