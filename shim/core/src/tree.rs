//! Member tree comparison: directory entries, type, size, mode, owner, link count, extended
//! attributes (ACLs and file capabilities among them), symlink targets, device numbers,
//! contents (with the first differing byte; holes both files have are skipped, not read) and
//! the modification time of
//! everything but directories (a directory's moves with each change of its entries, on each
//! member at its own moment; the shim gives the follower the lead's once they settle). Used by `shadowctl verify` and by every test,
//! so a test failure prints exactly what an operator would see.

use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Device,
}

impl Kind {
    pub fn of(meta: &Metadata) -> Kind {
        let t = meta.file_type();
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_fifo() {
            Kind::Fifo
        } else if t.is_socket() {
            Kind::Socket
        } else if t.is_block_device() || t.is_char_device() {
            Kind::Device
        } else {
            Kind::File
        }
    }
}

/// What differs at one path (relative to the member roots; "" is the root itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Present in one member only; `in_first` says which.
    Missing { in_first: bool, kind: Kind },
    Type(Kind, Kind),
    Size(u64, u64),
    Mode(u32, u32),
    Owner((u32, u32), (u32, u32)),
    SymlinkTarget(PathBuf, PathBuf),
    /// Same size, different bytes; offset of the first difference.
    Content(u64),
    /// Modification times (seconds, nanoseconds).
    Mtime((i64, i64), (i64, i64)),
    /// Device nodes for different devices.
    Device(u64, u64),
    /// Hard link counts (not of directories, whose count is the file system's own).
    Links(u64, u64),
    /// An extended attribute present in one member only (`in_first` says which), or in both
    /// with other values (`None`).
    Xattr { name: std::ffi::OsString, in_first: Option<bool> },
    /// Inode flags (`InodeFlags::COMPARED`, as chattr sets them) differ.
    Flags(u32, u32),
    /// A member could not be read at this path.
    Unreadable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    pub path: PathBuf,
    pub what: Difference,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.path.as_os_str().is_empty() { Path::new(".") } else { &self.path };
        let p = printable(p.as_os_str());
        match &self.what {
            Difference::Missing { in_first, kind } => {
                let (has, lacks) = if *in_first { ("first", "second") } else { ("second", "first") };
                write!(f, "{p}: {kind:?} only in {has} member (missing in {lacks})")
            }
            Difference::Type(a, b) => write!(f, "{p}: type {a:?} != {b:?}"),
            Difference::Size(a, b) => write!(f, "{p}: size {a} != {b}"),
            Difference::Mode(a, b) => write!(f, "{p}: mode {a:o} != {b:o}"),
            Difference::Owner(a, b) => write!(f, "{p}: owner {}:{} != {}:{}", a.0, a.1, b.0, b.1),
            Difference::SymlinkTarget(a, b) => {
                write!(f, "{p}: symlink target {} != {}", a.display(), b.display())
            }
            Difference::Content(off) => write!(f, "{p}: contents differ from byte {off}"),
            Difference::Mtime(a, b) => write!(f, "{p}: mtime {}.{:09} != {}.{:09}", a.0, a.1, b.0, b.1),
            Difference::Device(a, b) => write!(f, "{p}: device {a:#x} != {b:#x}"),
            Difference::Links(a, b) => write!(f, "{p}: link count {a} != {b}"),
            Difference::Xattr { name, in_first: Some(true) } => write!(f, "{p}: xattr {} only in first member", printable(name)),
            Difference::Xattr { name, in_first: Some(false) } => write!(f, "{p}: xattr {} only in second member", printable(name)),
            Difference::Xattr { name, in_first: None } => write!(f, "{p}: xattr {} values differ", printable(name)),
            Difference::Flags(a, b) => write!(f, "{p}: inode flags {} != {}", flag_letters(*a), flag_letters(*b)),
            Difference::Unreadable(e) => write!(f, "{p}: unreadable: {e}"),
        }
    }
}

/// A name as text that says every byte: valid UTF-8 as it is, any other byte (and control
/// characters) as `\xNN`, a backslash as `\\` (as `ls -b` shows names). A member may hold
/// names that are not UTF-8; a lossy form would name another file, or two as one.
pub fn printable(name: &std::ffi::OsStr) -> std::borrow::Cow<'_, str> {
    use std::os::unix::ffi::OsStrExt;
    let b = name.as_bytes();
    let plain = |c: char| c != '\\' && !c.is_control();
    match std::str::from_utf8(b) {
        Ok(s) if s.chars().all(plain) => std::borrow::Cow::Borrowed(s),
        _ => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
                        c => out.push(c),
                    }
                }
                chunk.invalid().iter().for_each(|x| out.push_str(&format!("\\x{x:02x}")));
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// Sees a comparison as it goes: for progress, and for digests of what was read.
pub trait Observer {
    /// An entry present in both members was compared.
    fn entry(&mut self, _rel: &Path) {}
    /// The next chunk of a regular file's contents, as read from each member.
    fn contents(&mut self, _rel: &Path, _first: &[u8], _second: &[u8]) {}
    /// The next `len` bytes of a regular file are a hole in both members (zeros, not read).
    fn holes(&mut self, _rel: &Path, _len: u64) {}
    /// A regular file's contents were read to the end and are identical.
    fn identical_file(&mut self, _rel: &Path) {}
}

/// An observer that looks away.
pub struct Unobserved;
impl Observer for Unobserved {}

/// Compares two member trees; an empty result means identical.
pub fn compare(first: &Path, second: &Path) -> io::Result<Vec<Diff>> {
    compare_path(first, second, Path::new(""))
}

/// Compares one path (and what is below it) of two member trees.
pub fn compare_path(first: &Path, second: &Path, rel: &Path) -> io::Result<Vec<Diff>> {
    compare_observed(first, second, rel, &mut Unobserved)
}

/// `compare_path`, telling `obs` about each entry and the contents read.
pub fn compare_observed(first: &Path, second: &Path, rel: &Path, obs: &mut dyn Observer) -> io::Result<Vec<Diff>> {
    compare_to_depth(first, second, rel, u32::MAX, obs)
}

/// One path and, for a directory, its entries but nothing below them (a subdirectory's
/// own metadata, not its entries): what a write-intent on that directory covers.
pub fn compare_shallow(first: &Path, second: &Path, rel: &Path) -> io::Result<Vec<Diff>> {
    compare_to_depth(first, second, rel, 1, &mut Unobserved)
}

/// One path alone: its type, metadata and (a file's) contents, not a directory's entries.
/// Where below `root` the entries with these inode numbers are now (relative names; one
/// each, symlinks not followed), by one walk that stops once all are found: for entries a
/// journal listed in one directory, moved since to another.
pub fn find_inodes(root: &Path, inodes: &std::collections::HashSet<u64>) -> std::collections::HashMap<u64, PathBuf> {
    fn walk(root: &Path, rel: &Path, inodes: &std::collections::HashSet<u64>, out: &mut std::collections::HashMap<u64, PathBuf>) {
        let Ok(entries) = fs::read_dir(root.join(rel)) else { return };
        for e in entries.flatten() {
            if out.len() == inodes.len() {
                return;
            }
            let r = rel.join(e.file_name());
            let Ok(m) = e.metadata() else { continue };
            if inodes.contains(&m.ino()) {
                out.entry(m.ino()).or_insert_with(|| r.clone());
            }
            if m.is_dir() {
                walk(root, &r, inodes, out);
            }
        }
    }
    let mut out = std::collections::HashMap::new();
    if !inodes.is_empty() {
        walk(root, Path::new(""), inodes, &mut out);
    }
    out
}

pub fn compare_entry(first: &Path, second: &Path, rel: &Path) -> io::Result<Vec<Diff>> {
    compare_to_depth(first, second, rel, 0, &mut Unobserved)
}

fn compare_to_depth(first: &Path, second: &Path, rel: &Path, depth: u32, obs: &mut dyn Observer) -> io::Result<Vec<Diff>> {
    let mut diffs = Vec::new();
    let (a, b) = (fs::symlink_metadata(first.join(rel)), fs::symlink_metadata(second.join(rel)));
    match (a, b) {
        (Ok(_), Ok(_)) => compare_at(first, second, rel, depth, &mut diffs, obs)?,
        (Ok(m), Err(_)) => diffs.push(Diff { path: rel.to_path_buf(), what: Difference::Missing { in_first: true, kind: Kind::of(&m) } }),
        (Err(_), Ok(m)) => diffs.push(Diff { path: rel.to_path_buf(), what: Difference::Missing { in_first: false, kind: Kind::of(&m) } }),
        (Err(e), Err(_)) if vanished(&e) => {}
        (Err(e), Err(_)) => return Err(e),
    }
    Ok(diffs)
}

/// An error that says the entry is not there (now): its name is gone, or a directory on its
/// path became something else. A tree being written does that between two looks (a copy
/// then leaves it to the change list, which names it for the catch-up that follows).
pub(crate) fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

fn compare_at(first: &Path, second: &Path, rel: &Path, depth: u32, out: &mut Vec<Diff>, obs: &mut dyn Observer) -> io::Result<()> {
    let (a, b) = (first.join(rel), second.join(rel));
    // A tree that is being written can lose an entry between readdir and stat: that is a
    // difference of the moment (verify re-checks differences with writers held back).
    let (ma, mb) = match (fs::symlink_metadata(&a), fs::symlink_metadata(&b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Ok(x), Err(e)) | (Err(e), Ok(x)) if vanished(&e) => {
            let in_first = fs::symlink_metadata(&a).is_ok();
            out.push(Diff { path: rel.to_path_buf(), what: Difference::Missing { in_first, kind: Kind::of(&x) } });
            return Ok(());
        }
        (Err(e), Err(_)) if vanished(&e) => return Ok(()),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    obs.entry(rel);
    let mut push = |what| out.push(Diff { path: rel.to_path_buf(), what });
    let (ka, kb) = (Kind::of(&ma), Kind::of(&mb));
    if ka != kb {
        push(Difference::Type(ka, kb));
        return Ok(());
    }
    if ka != Kind::Symlink && ma.mode() & 0o7777 != mb.mode() & 0o7777 {
        push(Difference::Mode(ma.mode() & 0o7777, mb.mode() & 0o7777));
    }
    if (ma.uid(), ma.gid()) != (mb.uid(), mb.gid()) {
        push(Difference::Owner((ma.uid(), ma.gid()), (mb.uid(), mb.gid())));
    }
    if ka != Kind::Dir && ma.nlink() != mb.nlink() {
        push(Difference::Links(ma.nlink(), mb.nlink()));
    }
    match (xattrs(&a), xattrs(&b)) {
        (Ok(xa), Ok(xb)) => xattr_differences(&xa, &xb).into_iter().for_each(&mut push),
        (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => {}
        (Err(e), _) | (_, Err(e)) => push(Difference::Unreadable(format!("extended attributes: {e}"))),
    }

    match (inode_flags(&a, ka), inode_flags(&b, kb)) {
        (Ok(Some(fa)), Ok(Some(fb))) if fa != fb => push(Difference::Flags(fa, fb)),
        (Err(e), _) | (_, Err(e)) if e.kind() != io::ErrorKind::NotFound => push(Difference::Unreadable(format!("inode flags: {e}"))),
        _ => {}
    }

    match ka {
        // Removed or replaced since its stat: a difference of the moment, looked at again.
        Kind::Symlink => match (fs::read_link(&a), fs::read_link(&b)) {
            (Ok(ta), Ok(tb)) if ta != tb => push(Difference::SymlinkTarget(ta, tb)),
            (Ok(_), Ok(_)) => {}
            (Err(e), _) | (_, Err(e)) => push(Difference::Unreadable(format!("symlink target: {e}"))),
        },
        Kind::File if ma.len() != mb.len() => push(Difference::Size(ma.len(), mb.len())),
        Kind::File => match first_difference_observed(&a, &b, &mut Seen { rel, obs }) {
            Ok(Some(off)) => push(Difference::Content(off)),
            Ok(None) => obs.identical_file(rel),
            Err(e) => push(Difference::Unreadable(e.to_string())),
        },
        Kind::Dir if depth == 0 => {}
        Kind::Dir => {
            let gone = |r: io::Result<Vec<std::ffi::OsString>>| match r {
                Err(e) if vanished(&e) => Ok(Vec::new()),
                r => r,
            };
            let (ea, eb) = (gone(entries(&a))?, gone(entries(&b))?);
            let (mut i, mut j) = (0, 0);
            while i < ea.len() || j < eb.len() {
                let order = match (ea.get(i), eb.get(j)) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    _ => std::cmp::Ordering::Greater,
                };
                match order {
                    std::cmp::Ordering::Equal => {
                        compare_at(first, second, &rel.join(&ea[i]), depth - 1, out, obs)?;
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        missing(first, rel.join(&ea[i]), true, out);
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        missing(second, rel.join(&eb[j]), false, out);
                        j += 1;
                    }
                }
            }
        }
        Kind::Fifo | Kind::Socket => {}
        Kind::Device if ma.rdev() != mb.rdev() => push(Difference::Device(ma.rdev(), mb.rdev())),
        Kind::Device => {}
    }
    // A FIFO's or a socket's mtime stamps the traffic through it, which only the lead's
    // carries: nothing is kept there to differ.
    let (ta, tb) = ((ma.mtime(), ma.mtime_nsec()), (mb.mtime(), mb.mtime_nsec()));
    if !matches!(ka, Kind::Dir | Kind::Fifo | Kind::Socket) && !same_time(ta, tb) {
        out.push(Diff { path: rel.to_path_buf(), what: Difference::Mtime(ta, tb) });
    }
    Ok(())
}

/// Times equal as far as both members' file systems can tell: one that keeps whole seconds
/// only (sshfs: SFTP carries no nanoseconds) holds the other's time without its fraction,
/// cut or rounded (as `rsync --modify-window=1` allows for such file systems).
fn same_time(a: (i64, i64), b: (i64, i64)) -> bool {
    a == b || ((a.1 == 0 || b.1 == 0) && (a.0 - b.0).abs() <= 1)
}

fn missing(root: &Path, rel: PathBuf, in_first: bool, out: &mut Vec<Diff>) {
    let kind = fs::symlink_metadata(root.join(&rel)).map(|m| Kind::of(&m)).unwrap_or(Kind::File);
    out.push(Diff { path: rel, what: Difference::Missing { in_first, kind } });
}

fn entries(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// An entry's extended attributes, sorted by name (its own, not a symlink's target's). A
/// file system without them has none. The member's own stamp (on its root) is not among
/// them: each member keeps its own, and copying one over the other would hide a split brain.
pub fn xattrs(path: &Path) -> io::Result<Vec<(std::ffi::OsString, Vec<u8>)>> {
    let mut all = xattrs_as_listed(path)?;
    all.sort();
    Ok(all)
}

/// `xattrs` in the order the file system lists them (ext4: those kept in the inode first,
/// then those in its block).
pub fn xattrs_as_listed(path: &Path) -> io::Result<Vec<(std::ffi::OsString, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut all = Vec::new();
    for name in names.filter(|n| n.as_os_str() != crate::stamp::XATTR) {
        // Removed between the list and the read: not there.
        if let Some(value) = xattr::get(path, &name)? {
            all.push((name, value));
        }
    }
    Ok(all)
}

/// The inode flags chattr sets, as FS_IOC_GETFLAGS reports them, with their lsattr letters.
/// The shim repeats FS_IOC_SETFLAGS on the follower, so members hold the same; a member
/// brought up to date gets the source's (an append-only log rebuilt without `a` would have
/// lost its protection the day it took over). Flags a file system sets for itself (ext4's
/// `e`, extents) are not among them.
pub const INODE_FLAGS: &[(u32, char)] = &[
    (0x1, 's'),
    (0x2, 'u'),
    (0x4, 'c'),
    (0x8, 'S'),
    (0x10, 'i'),
    (0x20, 'a'),
    (0x40, 'd'),
    (0x80, 'A'),
    (0x8000, 't'),
    (0x1_0000, 'D'),
    (0x2_0000, 'T'),
    (0x80_0000, 'C'),
    (0x2000_0000, 'P'),
];

/// The flags that stop a copy writing or removing an entry: immutable and append-only.
pub const LOCKING_FLAGS: u32 = 0x10 | 0x20;

const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;

fn flag_letters(flags: u32) -> String {
    let s: String = INODE_FLAGS.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, c)| *c).collect();
    if s.is_empty() { "(none)".into() } else { s }
}

/// The chattr flags (`INODE_FLAGS`) among `flags`.
pub fn compared(flags: u32) -> u32 {
    flags & INODE_FLAGS.iter().fold(0, |all, (bit, _)| all | bit)
}

/// An open of a file or directory for its inode flags (others have none to ask).
fn open_for_flags(path: &Path, kind: Kind) -> io::Result<Option<fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    if !matches!(kind, Kind::File | Kind::Dir) {
        return Ok(None);
    }
    fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY).open(path).map(Some)
}

/// An entry's inode flags among `INODE_FLAGS`; None where there are none to ask (not a file
/// or directory, or a file system that keeps none: tmpfs before 6.0, FUSE, NFS).
pub fn inode_flags(path: &Path, kind: Kind) -> io::Result<Option<u32>> {
    use std::os::unix::io::AsRawFd;
    let Some(f) = open_for_flags(path, kind)? else { return Ok(None) };
    let mut flags: libc::c_int = 0;
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) } != 0 {
        let e = io::Error::last_os_error();
        return if matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::ENOTSUP | libc::EINVAL | libc::ENOSYS)) { Ok(None) } else { Err(e) };
    }
    Ok(Some(compared(flags as u32)))
}

/// Gives `path` the compared flags `want` (keeping the others it has); nothing where the
/// file system keeps none and none are wanted.
pub fn set_inode_flags(path: &Path, kind: Kind, want: u32) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let Some(f) = open_for_flags(path, kind)? else { return Ok(()) };
    let mut flags: libc::c_int = 0;
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) } != 0 {
        let e = io::Error::last_os_error();
        let none_kept = matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::ENOTSUP | libc::EINVAL | libc::ENOSYS));
        return if none_kept && want == 0 { Ok(()) } else { Err(io::Error::new(e.kind(), format!("inode flags {}: {e}", flag_letters(want)))) };
    }
    if compared(flags as u32) == want {
        return Ok(());
    }
    let mut next = ((flags as u32) & !compared(u32::MAX) | want) as libc::c_int;
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS, &mut next) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("setting inode flags {}: {e}", flag_letters(want))));
    }
    Ok(())
}

/// ENOTSUP and the like: the file system keeps no extended attributes (of this kind).
pub fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP | libc::ENOSYS))
}

fn xattr_differences(a: &[(std::ffi::OsString, Vec<u8>)], b: &[(std::ffi::OsString, Vec<u8>)]) -> Vec<Difference> {
    let (ma, mb): (std::collections::BTreeMap<_, _>, std::collections::BTreeMap<_, _>) = (a.iter().map(|(n, v)| (n, v)).collect(), b.iter().map(|(n, v)| (n, v)).collect());
    let names: std::collections::BTreeSet<_> = ma.keys().chain(mb.keys()).collect();
    names
        .into_iter()
        .filter_map(|&name| {
            let in_first = match (ma.get(name), mb.get(name)) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => None,
                (x, _) => Some(x.is_some()),
            };
            Some(Difference::Xattr { name: name.clone(), in_first })
        })
        .collect()
}

/// Offset of the first differing byte of two equally long files, if any.
pub fn first_difference(a: &Path, b: &Path) -> io::Result<Option<u64>> {
    first_difference_observed(a, b, &mut Seen { rel: Path::new(""), obs: &mut Unobserved })
}

/// An observer told about one file's chunks.
struct Seen<'a> {
    rel: &'a Path,
    obs: &'a mut dyn Observer,
}

/// `first_difference`, telling `seen` each pair of chunks read and each hole skipped. Where
/// both files have a hole (SEEK_DATA), nothing is read: a 1 TiB file holding a few blocks is
/// compared at the cost of its blocks.
fn first_difference_observed(a: &Path, b: &Path, seen: &mut Seen) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let (fa, fb) = (File::open(a)?, File::open(b)?);
    let len = fa.metadata()?.len().max(fb.metadata()?.len());
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let (mut offset, mut data_until) = (0u64, 0u64);
    loop {
        if offset >= len {
            // Grown since the look at the sizes (a writer going on): the rest is data.
            data_until = u64::MAX;
        } else if offset >= data_until {
            let (start, until) = common_data(&fa, &fb, offset, len);
            if start > offset {
                seen.obs.holes(seen.rel, start - offset);
                offset = start;
            }
            data_until = until;
        }
        let want = ba.len().min((data_until.max(offset + 1) - offset) as usize);
        let na = read_full_at(|buf, at| fa.read_at(buf, at), &mut ba[..want], offset)?;
        let nb = read_full_at(|buf, at| fb.read_at(buf, at), &mut bb[..want], offset)?;
        seen.obs.contents(seen.rel, &ba[..na], &bb[..nb]);
        if let Some(i) = ba[..na.min(nb)].iter().zip(&bb[..na.min(nb)]).position(|(x, y)| x != y) {
            return Ok(Some(offset + i as u64));
        }
        if na != nb {
            return Ok(Some(offset + na.min(nb) as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        offset += na as u64;
    }
}

/// From `offset`: where the next data of either file starts, and where (at the earliest)
/// either file's data or hole ends after that. A file system that cannot tell (EINVAL,
/// ENXIO past the end aside) is data throughout.
fn common_data(fa: &File, fb: &File, offset: u64, len: u64) -> (u64, u64) {
    use std::os::unix::io::AsRawFd;
    let seek = |f: &File, whence| -> Option<u64> {
        match unsafe { libc::lseek(f.as_raw_fd(), offset as libc::off_t, whence) } {
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) => Some(len),
            -1 => None,
            at => Some(at as u64),
        }
    };
    let (Some(da), Some(db)) = (seek(fa, libc::SEEK_DATA), seek(fb, libc::SEEK_DATA)) else { return (offset, len) };
    let start = da.min(db);
    if start > offset || start >= len {
        // Holes in both up to `start`: the caller skips there and asks again.
        return (start.min(len), start.min(len));
    }
    // At least one has data here; what changes first: a's data ends (or starts), b's.
    let change = |f: &File, d: u64| if d == offset { seek(f, libc::SEEK_HOLE).unwrap_or(len) } else { d };
    (offset, change(fa, da).min(change(fb, db)).max(offset + 1))
}

fn read_full_at(read: impl Fn(&mut [u8], u64) -> io::Result<usize>, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    struct Pair(PathBuf);
    impl Pair {
        fn new(tag: &str) -> Pair {
            let root = std::env::temp_dir().join(format!("shadow-tree-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("a")).unwrap();
            fs::create_dir_all(root.join("b")).unwrap();
            Pair(root)
        }
        fn both(&self, f: impl Fn(&Path)) {
            f(&self.0.join("a"));
            f(&self.0.join("b"));
        }
        fn diffs(&self) -> Vec<String> {
            compare(&self.0.join("a"), &self.0.join("b")).unwrap().iter().map(|d| d.to_string()).collect()
        }
    }
    impl Drop for Pair {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_member_keeping_whole_seconds_holds_the_same_time() {
        assert!(same_time((5, 123), (5, 123)));
        assert!(same_time((5, 123), (5, 0)));
        assert!(same_time((5, 900_000_000), (6, 0)), "rounded up");
        assert!(!same_time((5, 123), (5, 124)));
        assert!(!same_time((5, 0), (7, 0)));
    }

    #[test]
    fn an_entry_whose_directory_became_a_file_is_gone_not_an_error() {
        // verify compares each difference again with writers held back: by then a
        // directory on the path may have been replaced by a file (fsstress renames files
        // over emptied directories). Before, the ENOTDIR stopped verify (exit 2).
        let p = Pair::new("enotdir");
        p.both(|r| fs::write(r.join("d"), b"now a file").unwrap());
        let (a, b) = (p.0.join("a"), p.0.join("b"));
        assert!(compare_entry(&a, &b, Path::new("d/x")).unwrap().is_empty());
        // On one member only: the entry is missing on the other.
        fs::remove_file(b.join("d")).unwrap();
        fs::create_dir(b.join("d")).unwrap();
        fs::write(b.join("d/x"), b"x").unwrap();
        let diffs: Vec<String> = compare_entry(&a, &b, Path::new("d/x")).unwrap().iter().map(|d| d.to_string()).collect();
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert!(diffs[0].starts_with("d/x: "), "{diffs:?}");
    }

    #[test]
    fn identical_trees_have_no_differences() {
        let p = Pair::new("same");
        p.both(|r| {
            fs::create_dir_all(r.join("d/e")).unwrap();
            fs::write(r.join("d/f"), b"hello").unwrap();
            symlink("d/f", r.join("l")).unwrap();
            same_times(r, 1_000_000_000);
        });
        assert_eq!(p.diffs(), Vec::<String>::new());
    }

    fn set_mtime(path: &Path, secs: i64) {
        set_mtime_ns(path, secs, 100);
    }

    fn set_mtime_ns(path: &Path, secs: i64, nsec: i64) {
        let t = [libc::timespec { tv_sec: secs, tv_nsec: nsec }; 2];
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }, 0);
    }

    /// Every entry below `root` gets the same times (files written a moment apart differ).
    fn same_times(root: &Path, secs: i64) {
        for e in fs::read_dir(root).unwrap() {
            let path = e.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                same_times(&path, secs);
            }
            set_mtime(&path, secs);
        }
    }

    #[test]
    fn fifos_differ_by_mode_but_not_by_mtime() {
        let p = Pair::new("fifo");
        p.both(|r| {
            let c = std::ffi::CString::new(r.join("f").as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        });
        set_mtime(&p.0.join("a/f"), 1_000_000_000);
        set_mtime(&p.0.join("b/f"), 1_000_000_500);
        assert_eq!(p.diffs(), Vec::<String>::new());
        fs::set_permissions(p.0.join("b/f"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(p.diffs(), vec!["f: mode 644 != 600"]);
    }

    #[test]
    fn reports_each_kind_of_difference() {
        let p = Pair::new("diff");
        p.both(|r| fs::create_dir_all(r.join("d")).unwrap());
        fs::write(p.0.join("a/only"), b"x").unwrap();
        fs::write(p.0.join("a/d/c"), b"abcdef").unwrap();
        fs::write(p.0.join("b/d/c"), b"abXdef").unwrap();
        fs::write(p.0.join("a/size"), b"abc").unwrap();
        fs::write(p.0.join("b/size"), b"ab").unwrap();
        symlink("x", p.0.join("a/l")).unwrap();
        symlink("y", p.0.join("b/l")).unwrap();
        fs::write(p.0.join("a/t"), b"").unwrap();
        fs::create_dir(p.0.join("b/t")).unwrap();
        p.both(|r| fs::write(r.join("m"), b"").unwrap());
        fs::set_permissions(p.0.join("b/m"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(p.0.join("a/m"), fs::Permissions::from_mode(0o644)).unwrap();
        p.both(|r| fs::write(r.join("when"), b"same").unwrap());
        for side in ["a", "b"] {
            same_times(&p.0.join(side), 1_000_000_000);
        }
        set_mtime_ns(&p.0.join("b/when"), 1_000_000_000, 200);
        let d = p.diffs();
        assert_eq!(
            d,
            vec![
                "d/c: contents differ from byte 2",
                "l: symlink target x != y",
                "m: mode 644 != 600",
                "only: File only in first member (missing in second)",
                "size: size 3 != 2",
                "t: type File != Dir",
                "when: mtime 1000000000.000000100 != 1000000000.000000200",
            ]
        );
        // Shallow: the directory's own entries, a subdirectory's metadata, nothing below.
        let shallow = |rel: &str| -> Vec<String> { compare_shallow(&p.0.join("a"), &p.0.join("b"), Path::new(rel)).unwrap().iter().map(|d| d.to_string()).collect() };
        assert_eq!(shallow("").len(), 6, "{:?}", shallow(""));
        assert!(!shallow("").iter().any(|d| d.starts_with("d/")));
        fs::set_permissions(p.0.join("b/d"), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(shallow("").iter().any(|d| d.starts_with("d: mode")));
        assert_eq!(shallow("d"), vec!["d: mode 755 != 700", "d/c: contents differ from byte 2"]);
    }

    #[test]
    fn xattrs_and_hard_links_are_compared() {
        let p = Pair::new("xattr");
        p.both(|r| {
            fs::write(r.join("f"), b"x").unwrap();
            fs::write(r.join("g"), b"y").unwrap();
            fs::create_dir(r.join("d")).unwrap();
        });
        fs::hard_link(p.0.join("a/f"), p.0.join("a/d/f2")).unwrap();
        fs::write(p.0.join("b/d/f2"), b"x").unwrap();
        let set = |side: &str, name: &str, key: &str, v: &[u8]| xattr::set(p.0.join(side).join(name), key, v).unwrap();
        set("a", "f", "user.same", b"1");
        set("b", "f", "user.same", b"1");
        set("a", "f", "user.other", b"1");
        set("b", "f", "user.other", b"2");
        set("a", "g", "user.first", b"");
        set("b", "d", "user.second", b"v");
        for side in ["a", "b"] {
            same_times(&p.0.join(side), 1_000_000_000);
        }
        assert_eq!(
            p.diffs(),
            vec![
                "d: xattr user.second only in second member",
                "d/f2: link count 2 != 1",
                // The same file as f in the first member.
                "d/f2: xattr user.other only in first member",
                "d/f2: xattr user.same only in first member",
                "f: link count 2 != 1",
                "f: xattr user.other values differ",
                "g: xattr user.first only in first member",
            ]
        );
    }

    #[test]
    fn holes_in_both_files_are_skipped_and_data_in_either_is_read() {
        struct Count(u64, u64);
        impl Observer for Count {
            fn contents(&mut self, _: &Path, a: &[u8], _: &[u8]) {
                self.0 += a.len() as u64;
            }
            fn holes(&mut self, _: &Path, len: u64) {
                self.1 += len;
            }
        }
        let p = Pair::new("holes");
        let gib = 1u64 << 30;
        p.both(|r| {
            let f = File::create(r.join("sparse")).unwrap();
            f.set_len(gib).unwrap();
            std::os::unix::fs::FileExt::write_all_at(&f, b"data", gib / 2).unwrap();
        });
        // A block written in one and a hole in the other, both zeros: identical bytes.
        std::os::unix::fs::FileExt::write_all_at(&fs::OpenOptions::new().write(true).open(p.0.join("a/sparse")).unwrap(), &[0u8; 4096], 1 << 20).unwrap();
        for side in ["a", "b"] {
            same_times(&p.0.join(side), 1_000_000_000);
        }
        let mut seen = Count(0, 0);
        let d = compare_observed(&p.0.join("a"), &p.0.join("b"), Path::new(""), &mut seen).unwrap();
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(seen.0 + seen.1, gib, "every byte is read or skipped once");
        assert!(seen.0 < 1 << 20, "read {} bytes of a 1 GiB file holding two blocks", seen.0);
        std::os::unix::fs::FileExt::write_all_at(&fs::OpenOptions::new().write(true).open(p.0.join("b/sparse")).unwrap(), b"!", gib - 3).unwrap();
        set_mtime(&p.0.join("b/sparse"), 1_000_000_000);
        assert_eq!(p.diffs(), vec![format!("sparse: contents differ from byte {}", gib - 3)]);
    }

    #[test]
    fn the_first_difference_is_found_whatever_the_holes() {
        use std::os::unix::fs::FileExt;
        // Random layouts of data and holes on each side (blocks written with zeros or
        // bytes, or left as holes), against a plain byte-by-byte comparison.
        let p = Pair::new("layouts");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let block = 4096u64;
        for round in 0..200 {
            let blocks = 1 + next(40);
            let len = blocks * block - next(block);
            let (fa, fb) = (p.0.join("a/f"), p.0.join("b/f"));
            for f in [&fa, &fb] {
                let file = File::create(f).unwrap();
                file.set_len(len).unwrap();
                for b in 0..blocks {
                    match next(4) {
                        0 => file.write_all_at(&vec![0u8; block as usize], b * block).unwrap(),
                        1 => file.write_all_at(&[1u8; 64], b * block + next(block - 64)).unwrap(),
                        _ => {}
                    }
                }
                file.set_len(len).unwrap();
            }
            if next(2) == 0 {
                fs::copy(&fa, &fb).unwrap();
                let f = fs::OpenOptions::new().write(true).open(&fb).unwrap();
                f.write_all_at(b"!", next(len)).unwrap();
            }
            let (x, y) = (fs::read(&fa).unwrap(), fs::read(&fb).unwrap());
            let want = x.iter().zip(&y).position(|(a, b)| a != b).map(|i| i as u64);
            assert_eq!(first_difference(&fa, &fb).unwrap(), want, "round {round}, length {len}");
        }
    }

    #[test]
    fn names_that_are_not_utf8_are_printed_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let name = |b: &[u8]| printable(std::ffi::OsStr::from_bytes(b)).into_owned();
        assert_eq!(name(b"plain/\xc3\xa9t\xc3\xa9"), "plain/\u{e9}t\u{e9}");
        assert_eq!(name(b"caf\xe9"), "caf\\xe9");
        assert_eq!(name(b"caf\\xe9"), "caf\\\\xe9", "a backslash is escaped, so the two are told apart");
        assert_eq!(name(b"line\nbreak"), "line\\x0abreak");
        let p = Pair::new("bytes");
        fs::write(p.0.join("a").join(std::ffi::OsStr::from_bytes(b"caf\xe9")), b"").unwrap();
        assert_eq!(p.diffs(), vec!["caf\\xe9: File only in first member (missing in second)"]);
    }
}
