//! Member stamps: each member's own record of its history, kept on the member itself (an
//! extended attribute of its root directory), so that it travels with the disk or mount and
//! is seen by every host and every state directory that uses it — DRBD's generation
//! identifiers at file-system scale.
//!
//! A stamp is `(current, base)`: `current` names the member's contents, `base` the last
//! contents both members held together. Members in step carry the same `(X, X)`. When one
//! leaves, the survivor moves on to `(Y, X)` before it is written alone; the one that left
//! keeps `(X, X)`. Bringing it back leaves both at a fresh `(Z, Z)`. So, comparing the two:
//! equal `current`s are in step; one's `current` equal to the other's `base` is simply
//! behind; anything else means both were written while apart (split brain), or that the
//! members never belonged together.

use crate::Member;
use std::ffi::CString;

/// The extended attribute holding a member's stamp.
pub const XATTR: &str = "user.libshadow.stamp";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub set_id: u64,
    pub current: u64,
    pub base: u64,
}

/// What two members' stamps say about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    InStep,
    /// This member was written while the other was away; the other is merely behind.
    Ahead(Member),
    /// Both were written while apart: neither may be copied over the other automatically.
    SplitBrain,
    /// A member carries no stamp (never stamped, or its file system keeps no user xattrs).
    Unknown,
}

impl Stamp {
    pub fn fresh(set_id: u64) -> Stamp {
        let id = random_id();
        Stamp { set_id, current: id, base: id }
    }

    pub fn in_step(&self) -> bool {
        self.current == self.base
    }

    /// The survivor's stamp once the other member has left: moves on only from in step, so
    /// a second departure notice (another process, shadowctl after the shim) changes nothing.
    pub fn moved_on(&self) -> Stamp {
        if self.in_step() { Stamp { current: random_id(), ..*self } } else { *self }
    }

    pub fn encode(&self) -> String {
        format!("libshadow-stamp 1 set={:016x} current={:016x} base={:016x}", self.set_id, self.current, self.base)
    }

    pub fn decode(text: &[u8]) -> Result<Stamp, String> {
        let text = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_string())?;
        let mut words = text.split(' ');
        if words.next() != Some("libshadow-stamp") || words.next() != Some("1") {
            return Err(format!("not a libshadow stamp, version 1: {text:?}"));
        }
        let mut field = |name: &str| -> Result<u64, String> {
            let w = words.next().ok_or_else(|| format!("stamp without `{name}`: {text:?}"))?;
            let v = w.strip_prefix(name).and_then(|v| v.strip_prefix('=')).ok_or_else(|| format!("stamp field `{w}` where `{name}` belongs"))?;
            u64::from_str_radix(v, 16).map_err(|_| format!("stamp field `{w}` is not hexadecimal"))
        };
        let s = Stamp { set_id: field("set")?, current: field("current")?, base: field("base")? };
        match words.next() {
            Some(extra) => Err(format!("stamp has trailing `{extra}`")),
            None => Ok(s),
        }
    }
}

/// The relation of the primary's and the secondary's stamps.
pub fn relation(primary: Option<&Stamp>, secondary: Option<&Stamp>) -> Relation {
    let (Some(p), Some(s)) = (primary, secondary) else { return Relation::Unknown };
    if p.set_id != s.set_id {
        return Relation::SplitBrain;
    }
    if p.current == s.current {
        Relation::InStep
    } else if s.current == p.base {
        Relation::Ahead(Member::Primary)
    } else if p.current == s.base {
        Relation::Ahead(Member::Secondary)
    } else {
        Relation::SplitBrain
    }
}

/// Both members are written, so both must carry their stamp: a member whose root lost it
/// while the other kept its own is no longer the member (unmounted, lazily or not, and the
/// bare mount point showing; or another file system mounted there).
pub fn impostor(primary: Option<&Stamp>, secondary: Option<&Stamp>) -> Option<Member> {
    match (primary, secondary) {
        (None, Some(_)) => Some(Member::Primary),
        (Some(_), None) => Some(Member::Secondary),
        _ => None,
    }
}

fn random_id() -> u64 {
    let mut b = [0u8; 8];
    // getrandom(2) never blocks once the pool is ready, which it is long before users log in.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    let v = u64::from_le_bytes(b);
    if n == 8 && v != 0 {
        return v;
    }
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    t ^ ((std::process::id() as u64) << 32) | 1
}

/// Why a member's stamp could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StampError {
    /// The member could not be asked (it is down, say): its stamp is simply unknown.
    Unreadable(String),
    /// It answered with something that is not a stamp: to be looked into, never trusted.
    Damaged(String),
}

impl std::fmt::Display for StampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StampError::Unreadable(m) | StampError::Damaged(m) => f.write_str(m),
        }
    }
}

impl From<StampError> for String {
    fn from(e: StampError) -> String {
        e.to_string()
    }
}

/// Reads a member's stamp. `Ok(None)`: no stamp, or a file system without user xattrs.
pub fn read(dir: &str) -> Result<Option<Stamp>, StampError> {
    match fetch(dir) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => Ok(None),
        Err(e) => Err(StampError::Unreadable(format!("{dir}: reading the member stamp ({XATTR}): {e}"))),
        Ok(bytes) => Stamp::decode(&bytes).map(Some).map_err(|e| StampError::Damaged(format!("{dir}: member stamp ({XATTR}): {e}"))),
    }
}

/// The raw attribute value.
fn fetch(dir: &str) -> std::io::Result<Vec<u8>> {
    let (path, name) = names(dir).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf = [0u8; 256];
    let n = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(buf[..n as usize].to_vec())
}

/// For telling whether a member root is still the member: `Some(None)` only when the file
/// system holds user xattrs and this root has no stamp; `None` when it cannot be told (no
/// xattrs there, an I/O error, a damaged stamp).
pub fn identity(dir: &str) -> Option<Option<Stamp>> {
    match fetch(dir) {
        Err(e) => (e.raw_os_error() == Some(libc::ENODATA)).then_some(None),
        Ok(bytes) => Stamp::decode(&bytes).ok().map(Some),
    }
}

/// Writes a member's stamp. A file system without user xattrs is not an error: the member
/// simply goes without split-brain detection (`status` says so).
pub fn write(dir: &str, s: &Stamp) -> Result<(), String> {
    let (path, name) = names(dir)?;
    let v = s.encode();
    if unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), v.as_ptr().cast(), v.len(), 0) } != 0 {
        let e = std::io::Error::last_os_error();
        // No xattrs there, or not for this user (a root-squashed NFS export): the member goes
        // without split-brain detection rather than without a rebuild.
        if !matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EACCES) | Some(libc::EPERM)) {
            return Err(format!("{dir}: writing the member stamp ({XATTR}): {e}"));
        }
    }
    Ok(())
}

fn names(dir: &str) -> Result<(CString, CString), String> {
    let path = CString::new(dir).map_err(|_| format!("{dir:?}: NUL in member path"))?;
    Ok((path, CString::new(XATTR).expect("no NUL")))
}

/// The survivor moves on before it is written alone (see the module comment).
pub fn survivor_moves_on(dir: &str, set_id: u64) -> Result<(), String> {
    let now = read(dir).map_err(String::from)?.unwrap_or_else(|| Stamp::fresh(set_id));
    let next = now.moved_on();
    if next != now { write(dir, &next) } else { Ok(()) }
}

/// `target` holds what `source` holds again. The target takes the source's current id
/// first and the source's base follows, so a failure between the two writes leaves them in
/// step (equal currents), never looking like a split brain. Members never stamped (a new
/// set) get a fresh id.
pub fn both_in_step(source: &str, target: &str, set_id: u64) -> Result<(), String> {
    let id = match read(source) {
        Ok(Some(s)) if s.set_id == set_id => s.current,
        _ => Stamp::fresh(set_id).current,
    };
    let s = Stamp { set_id, current: id, base: id };
    write(target, &s)?;
    write(source, &s)
}

/// The relation of the members' stamps as they are on disk.
pub fn relation_of(primary: &str, secondary: &str) -> Result<Relation, StampError> {
    Ok(relation(read(primary)?.as_ref(), read(secondary)?.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(current: u64, base: u64) -> Stamp {
        Stamp { set_id: 7, current, base }
    }

    #[test]
    fn a_departure_and_a_rebuild_never_look_like_split_brain() {
        let both = st(1, 1);
        assert_eq!(relation(Some(&both), Some(&both)), Relation::InStep);
        // The secondary leaves: the primary moves on.
        let p = both.moved_on();
        assert_ne!(p.current, 1);
        assert_eq!(p.base, 1);
        assert_eq!(relation(Some(&p), Some(&both)), Relation::Ahead(Member::Primary));
        // A second notice of the same departure changes nothing.
        assert_eq!(p.moved_on(), p);
        // The primary leaves instead.
        assert_eq!(relation(Some(&both), Some(&p)), Relation::Ahead(Member::Secondary));
    }

    #[test]
    fn both_moving_on_apart_is_split_brain() {
        let both = st(1, 1);
        let (p, s) = (both.moved_on(), both.moved_on());
        assert_eq!(relation(Some(&p), Some(&s)), Relation::SplitBrain);
        // Members of different sets never belong together.
        assert_eq!(relation(Some(&both), Some(&Stamp { set_id: 8, ..both })), Relation::SplitBrain);
        assert_eq!(relation(None, Some(&both)), Relation::Unknown);
    }

    #[test]
    fn a_member_without_its_stamp_is_not_the_member() {
        let both = st(1, 1);
        assert_eq!(impostor(Some(&both), None), Some(Member::Secondary));
        assert_eq!(impostor(None, Some(&both)), Some(Member::Primary));
        assert_eq!(impostor(None, None), None, "a set on file systems without xattrs");
        assert_eq!(impostor(Some(&both), Some(&both.moved_on())), None, "that is split brain, not a swap");
    }

    #[test]
    fn encoding_round_trips_and_damage_is_named() {
        let s = st(0xdead, 0xbeef);
        assert_eq!(Stamp::decode(s.encode().as_bytes()), Ok(s));
        for bad in ["", "libshadow-stamp 2 set=1 current=2 base=3", "libshadow-stamp 1 set=1 current=2", "libshadow-stamp 1 set=1 current=zz base=3", "libshadow-stamp 1 set=1 base=2 current=3", "libshadow-stamp 1 set=1 current=2 base=3 x"] {
            assert!(Stamp::decode(bad.as_bytes()).is_err(), "{bad:?} accepted");
        }
        assert!(Stamp::decode(&[0xff, 0xfe]).is_err());
    }
}
