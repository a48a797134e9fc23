//! The shared state file (`state_dir/state`): per member its directory, state and
//! generation number, behind a fixed binary layout that every process using the set maps
//! shared. Writers (shadowctl) bump `epoch` to odd before changing a record and to the next
//! even value after (a seqlock), so the shim checks for changes with one atomic load.
//!
//! This module is the pure encoding: no I/O, every malformed input a clear error.

use crate::Member;
use std::fmt;

pub const MAGIC: &[u8; 8] = b"SHDWSTAT";
pub const VERSION: u32 = 1;
pub const SIZE: usize = 4096;
pub const EPOCH_OFFSET: usize = 16;
/// Non-zero while `shadowctl` holds writers back for the last step of a resync.
pub const FROZEN_OFFSET: usize = 40;
/// Bit per member that a program found gone (EIO, ENOTCONN…) and stopped writing: set by the
/// shim without waiting for shadowctl, folded into the member records by the next update.
pub const FAILED_MASK_OFFSET: usize = 44;
/// Non-zero when a change could not be recorded in the change list: the next enable must
/// scan everything instead of copying the listed paths.
pub const CHANGES_LOST_OFFSET: usize = 48;
/// Non-zero when a write intent could not be written to the journal: the next `recover`
/// must verify everything instead of trusting the journal.
pub const JOURNAL_LOST_OFFSET: usize = 52;
/// Per member (u32 each, primary first): when it was last marked failed, in seconds since
/// the Unix epoch (0: not known), for monitoring.
pub const FAILED_AT_OFFSET: usize = 56;
const SET_ID_OFFSET: usize = 24;
const CHECKSUM_OFFSET: usize = 32;
const COUNT_OFFSET: usize = 36;
const MEMBERS_OFFSET: usize = 64;
const MEMBER_SIZE: usize = 1024;
/// A member's record: state, flags, generation, path length, path, and last the generation
/// it was last rewritten at (`MemberRecord::rewritten`), where a record of a build before
/// it had only path bytes, zero in any path that fits.
const PATH_MAX_BYTES: usize = MEMBER_SIZE - 28;
const REWRITTEN_OFFSET: usize = MEMBER_SIZE - 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Enabled = 1,
    Disabled = 2,
    Failed = 3,
    /// Being brought up to date by `shadowctl enable`: not written by programs (their
    /// changes are recorded in the change list and copied), enabled at the end.
    Resyncing = 4,
}

impl MemberState {
    fn from_u32(v: u32) -> Option<MemberState> {
        [MemberState::Enabled, MemberState::Disabled, MemberState::Failed, MemberState::Resyncing].into_iter().find(|s| *s as u32 == v)
    }
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Enabled => "enabled",
            MemberState::Disabled => "disabled",
            MemberState::Failed => "failed",
            MemberState::Resyncing => "resyncing",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    pub dir: String,
    pub state: MemberState,
    pub generation: u64,
    /// The directory was the root of a mount when the member was last brought up to date:
    /// until it is one again, its file system is away (a bare mount point is no member).
    pub mount_root: bool,
    /// Its root was seen carrying the member stamp: from then on a root without one is not
    /// the member (see shadow_core::stamp::impostor).
    pub stamped: bool,
    /// The generation a resync gave it when it last rewrote its files (0: never). Its
    /// generation also moves on when the other member leaves or fails and when it is the
    /// source of a resync, which leave its files as they are: a process's files there are
    /// reopened only when it was rewritten since the process last looked.
    pub rewritten: u64,
    /// Resyncing, by a shadowctl that reads the byte ranges writes name in the change list
    /// (`encode_written`): until one says so, programs record paths alone. A shadowctl of
    /// an earlier build skipped such records, and the files they named were not copied;
    /// it also drops this flag whenever it rewrites the state. Kept only while resyncing.
    pub reads_ranges: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub set_id: u64,
    pub epoch: u64,
    /// Primary first.
    pub members: Vec<MemberRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    Truncated(usize),
    BadMagic,
    Version(u32),
    Checksum { stored: u32, computed: u32 },
    MemberCount(u32),
    MemberState { member: usize, value: u32 },
    Path { member: usize },
    ForeignSet { stored: u64, expected: u64 },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Truncated(n) => write!(f, "truncated state file ({n} bytes, expected {SIZE})"),
            StateError::BadMagic => write!(f, "not a libshadow state file (bad magic)"),
            StateError::Version(v) => write!(f, "unsupported state file version {v} (this build reads {VERSION})"),
            StateError::Checksum { stored, computed } => {
                write!(f, "corrupt state file (checksum {stored:08x}, contents give {computed:08x})")
            }
            StateError::MemberCount(n) => write!(f, "corrupt state file ({n} members recorded)"),
            StateError::MemberState { member, value } => write!(f, "corrupt state file (member {member} has state {value})"),
            StateError::Path { member } => write!(f, "corrupt state file (member {member} path)"),
            StateError::ForeignSet { stored, expected } => {
                write!(f, "state file belongs to another shadow set (set id {stored:016x}, this config is {expected:016x})")
            }
        }
    }
}

impl std::error::Error for StateError {}

/// FNV-1a: a stable, dependency-free hash for the set id and the checksum.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The id of a set: its prefix and member directories as configured at creation.
pub fn set_id(prefix: &str, dirs: &[&str]) -> u64 {
    let mut key = prefix.as_bytes().to_vec();
    for d in dirs {
        key.push(0);
        key.extend_from_slice(d.as_bytes());
    }
    fnv1a(&key)
}

fn checksum(buf: &[u8]) -> u32 {
    let h = fnv1a(&buf[MEMBERS_OFFSET..SIZE]);
    (h ^ (h >> 32)) as u32
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

impl State {
    pub fn new(set_id: u64, dirs: &[&str]) -> State {
        State {
            set_id,
            epoch: 0,
            members: dirs.iter().map(|d| MemberRecord { dir: d.to_string(), state: MemberState::Enabled, generation: 1, mount_root: false, stamped: false, rewritten: 0, reads_ranges: false }).collect(),
        }
    }

    pub fn member(&self, m: Member) -> &MemberRecord {
        &self.members[m.index()]
    }
    pub fn member_mut(&mut self, m: Member) -> &mut MemberRecord {
        &mut self.members[m.index()]
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; SIZE];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[EPOCH_OFFSET..EPOCH_OFFSET + 8].copy_from_slice(&self.epoch.to_le_bytes());
        b[SET_ID_OFFSET..SET_ID_OFFSET + 8].copy_from_slice(&self.set_id.to_le_bytes());
        b[COUNT_OFFSET..COUNT_OFFSET + 4].copy_from_slice(&(self.members.len() as u32).to_le_bytes());
        for (i, m) in self.members.iter().enumerate() {
            let o = MEMBERS_OFFSET + i * MEMBER_SIZE;
            let path = m.dir.as_bytes();
            let n = path.len().min(PATH_MAX_BYTES);
            b[o..o + 4].copy_from_slice(&(m.state as u32).to_le_bytes());
            let reads_ranges = m.reads_ranges && m.state == MemberState::Resyncing;
            b[o + 4..o + 8].copy_from_slice(&(m.mount_root as u32 | (m.stamped as u32) << 1 | (reads_ranges as u32) << 2).to_le_bytes());
            b[o + 8..o + 16].copy_from_slice(&m.generation.to_le_bytes());
            b[o + 16..o + 20].copy_from_slice(&(n as u32).to_le_bytes());
            b[o + 20..o + 20 + n].copy_from_slice(&path[..n]);
            b[o + REWRITTEN_OFFSET..o + MEMBER_SIZE].copy_from_slice(&m.rewritten.to_le_bytes());
        }
        let c = checksum(&b);
        b[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4].copy_from_slice(&c.to_le_bytes());
        b
    }

    /// Decodes a state file image; `expected_set` rejects a file from another set.
    pub fn decode(b: &[u8], expected_set: Option<u64>) -> Result<State, StateError> {
        if b.len() < SIZE {
            return Err(StateError::Truncated(b.len()));
        }
        if &b[..8] != MAGIC {
            return Err(StateError::BadMagic);
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(StateError::Version(version));
        }
        let (stored, computed) = (u32_at(b, CHECKSUM_OFFSET), checksum(b));
        if stored != computed {
            return Err(StateError::Checksum { stored, computed });
        }
        let count = u32_at(b, COUNT_OFFSET);
        if count != 2 {
            return Err(StateError::MemberCount(count));
        }
        let set_id = u64_at(b, SET_ID_OFFSET);
        if let Some(expected) = expected_set.filter(|&e| e != set_id) {
            return Err(StateError::ForeignSet { stored: set_id, expected });
        }
        let mut members = Vec::new();
        for i in 0..count as usize {
            let o = MEMBERS_OFFSET + i * MEMBER_SIZE;
            let value = u32_at(b, o);
            let state = MemberState::from_u32(value).ok_or(StateError::MemberState { member: i, value })?;
            let n = u32_at(b, o + 16) as usize;
            if n == 0 || n > PATH_MAX_BYTES {
                return Err(StateError::Path { member: i });
            }
            let dir = String::from_utf8(b[o + 20..o + 20 + n].to_vec()).map_err(|_| StateError::Path { member: i })?;
            members.push(MemberRecord { dir, state, generation: u64_at(b, o + 8), mount_root: u32_at(b, o + 4) & 1 != 0, stamped: u32_at(b, o + 4) & 2 != 0, rewritten: u64_at(b, o + REWRITTEN_OFFSET), reads_ranges: state == MemberState::Resyncing && u32_at(b, o + 4) & 4 != 0 });
        }
        Ok(State { set_id, epoch: u64_at(b, EPOCH_OFFSET), members })
    }

    /// The member to read from and whose answers the program sees: the first enabled one.
    pub fn lead(&self) -> Option<Member> {
        Member::ALL.into_iter().find(|m| self.member(*m).state == MemberState::Enabled)
    }
}

/// The process registry (`state_dir/registry`): one slot per process using the set, so that
/// `shadowctl` can wait until no process is between reading the state and finishing the
/// operation it decided on (a member change is in force before the command returns).
pub mod registry {
    /// Processes using a set at once. A process that finds every slot taken by a live
    /// process is refused (it could not be waited for by `disable`).
    pub const SLOTS: usize = 16384;
    pub const SLOT_SIZE: usize = 64;
    /// The header before the slots: MAGIC, then HIGH.
    pub const HEADER: usize = 64;
    /// After the slots: one lock word (u32) per stripe of names (see the shim's names.rs),
    /// then one per stripe of files (by inode: ocb.rs). A registry made before them is only
    /// lengthened: the words start free.
    pub const NAME_LOCKS: usize = HEADER + SLOTS * SLOT_SIZE;
    pub const NAME_STRIPES: usize = 4096;
    pub const FILE_LOCKS: usize = NAME_LOCKS + NAME_STRIPES * 4;
    pub const FILE_STRIPES: usize = 4096;
    /// Per stripe of files: the pid of a process whose write-behind queue holds follower
    /// writes to files of the stripe (0: none), which others wait for (the shim's behind.rs),
    /// with the lock words' waiting bit (the shim's stripes.rs) once one does.
    pub const FILE_QUEUED: usize = FILE_LOCKS + FILE_STRIPES * 4;
    /// Per slot: the name operations its process has under way (u32; the shim's names.rs),
    /// which a directory's rename waits for.
    pub const NAME_OPS: usize = FILE_QUEUED + FILE_STRIPES * 4;
    /// File descriptions that processes share, moved to a new lead by one of them (the
    /// shim's handoff.rs): per entry the pid of a process that moved one (u32, 0: free;
    /// with `HANDOFF_BUSY` while it fills the entry, `HANDOFF_CLAIMED` while it makes the
    /// move), its fd on the description before the move, its fd on the one after, and its
    /// claim's ticket (`HANDOFF_TICKETS`; u32 each).
    pub const HANDOFFS: usize = NAME_OPS + SLOTS * 4;
    pub const HANDOFF_ENTRIES: usize = 1024;
    pub const HANDOFF_SIZE: usize = 16;
    pub const HANDOFF_BUSY: u32 = 1 << 31;
    pub const HANDOFF_CLAIMED: u32 = 1 << 30;
    /// In the pid word: the entry is a follower's file opened again for the description
    /// (its fd before: the program's, on the lead's file), not a move to a new lead.
    pub const HANDOFF_FOLLOWER: u32 = 1 << 29;
    pub const SIZE: usize = HANDOFFS + HANDOFF_ENTRIES * HANDOFF_SIZE;
    /// In the header: the lock word a rename of a directory or a symlink holds (names.rs).
    pub const DIR_MOVES: usize = 16;
    /// In the header: the count of handoff claims made (u32, wrapping), whose value a
    /// claim takes as its ticket: of two claims of one move, the lower ticket goes first.
    pub const HANDOFF_TICKETS: usize = 24;
    /// In the header: how many such renames began or ended (u32, wrapping): a process whose
    /// cwd or directory fd was named when it read another count asks the kernel for the
    /// name again (the shim's resolve.rs).
    pub const DIRS_MOVED: usize = 20;
    /// "SHDWREG2": this layout (an older registry is started afresh).
    pub const MAGIC: u64 = 0x3247_4552_5744_4853;
    /// How many slots have ever been taken (u32): every scan stops there, so that a set
    /// used by a few processes touches a few pages of the file, not all 1 MiB.
    pub const HIGH: usize = 8;
    pub const PID: usize = 0;
    pub const IN_FLIGHT: usize = 4;
    pub const SEEN_EPOCH: usize = 8;
    /// Bytes the process's OCB and link tables use (published for `status`).
    pub const TABLE_BYTES: usize = 16;
    /// Open files marked insecure and not yet reported (reported at their last close).
    pub const INSECURE_OPEN: usize = 24;
    /// Write intents the process holds: a process gone with some left crashed mid-change.
    pub const OPEN_INTENTS: usize = 32;
    /// Non-zero once a program was told that this crashed process needs `recover`.
    pub const TOLD: usize = 36;
    /// The boot the process ran in (hash of the kernel's boot id): a process of an earlier
    /// boot went down with the machine, and what it had not flushed may be lost.
    pub const BOOT: usize = 40;
    /// Shared mappings of the set's files open for writing that the process holds (u32):
    /// their pages are one member's file for as long as they live, so the lead must not
    /// change under them (shadowctl refuses to).
    pub const SHARED_MAPS: usize = 44;
    /// Operations the process has finished (moves at every hook's end): another process
    /// that must wait for the operations in flight now waits until this moves.
    pub const OPS: usize = 48;
    /// Bytes of follower writes the process holds in its write-behind queue (u64).
    pub const QUEUED: usize = 56;
}

/// A write made while a resync catches up, named with the bytes it changed (`written_at`):
/// a file the catch-up has made the source's already needs those bytes copied again, not
/// the whole file (md's write-intent bitmap, per file). Any other record of the path
/// (a plain one: truncated, chmodded, mapped, written where the shim could not tell) asks
/// for the whole file.
pub fn encode_written(path: &[u8], off: u64, len: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"/w");
    out.extend_from_slice(off.to_string().as_bytes());
    out.push(b'+');
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(path);
    out.push(0);
}

fn decode_written(rec: &[u8]) -> Option<(std::path::PathBuf, u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let rest = rec.strip_prefix(b"/w")?;
    let colon = rest.iter().position(|&c| c == b':')?;
    let (off, len) = std::str::from_utf8(&rest[..colon]).ok()?.split_once('+')?;
    let path = &rest[colon + 1..];
    (!path.is_empty() && !path.starts_with(b"/")).then_some(())?;
    Some((std::path::PathBuf::from(std::ffi::OsStr::from_bytes(path)), off.parse().ok()?, len.parse().ok()?))
}

/// The first change an open made while a member was away, where its writes' byte ranges
/// follow at its end (`encode_closed`): `/i`, the open's `id`, `:` and the pid of the
/// process (whose end of the part an enable may wait for), then the path as a plain record,
/// two tokens appended with one write. A reader that knows no `/i` skips it and copies the
/// path whole, as before.
pub fn encode_opened(id: u64, pid: u32, path: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("/i{id:x}:{pid}").as_bytes());
    out.push(0);
    out.extend_from_slice(path);
    out.push(0);
}

/// The end of an open's part in an outage (its last close, the process's state change,
/// exec, exit): the byte ranges its writes changed since its `encode_opened` record, which
/// they are all the member away needs of it (md's write-intent bitmap, across the outage).
/// One token: `/c`, the id, `:`, `start-end` pairs joined by `,`, `:`, the path. Into any
/// writer: `_exit` encodes it on the stack.
pub fn encode_closed(id: u64, ranges: &[(u64, u64)], path: &[u8], out: &mut impl std::io::Write) -> std::io::Result<()> {
    write!(out, "/c{id:x}:")?;
    for (i, (start, end)) in ranges.iter().enumerate() {
        write!(out, "{}{start}-{end}", if i == 0 { "" } else { "," })?;
    }
    out.write_all(b":")?;
    out.write_all(path)?;
    out.write_all(b"\0")
}

/// A change of a file's metadata alone (mode, owner, times, xattrs, inode flags) by its
/// name: `/m`, then the path as a plain record, one write. Where nothing else named the
/// file, its metadata is all the member lacks. A reader that knows no `/m` copies the
/// path whole, as before.
pub fn encode_metadata(path: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"/m\0");
    out.extend_from_slice(path);
    out.push(0);
}

fn decode_id(hex: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

fn decode_opened(rec: &[u8]) -> Option<(u64, u32)> {
    let (id, pid) = std::str::from_utf8(rec.strip_prefix(b"/i")?).ok()?.split_once(':')?;
    Some((decode_id(id.as_bytes())?, pid.parse().ok()?))
}

fn decode_closed(rec: &[u8]) -> Option<(u64, Vec<(u64, u64)>, std::path::PathBuf)> {
    use std::os::unix::ffi::OsStrExt;
    let rest = rec.strip_prefix(b"/c")?;
    let colon = rest.iter().position(|&c| c == b':')?;
    let id = decode_id(&rest[..colon])?;
    let rest = &rest[colon + 1..];
    let colon = rest.iter().position(|&c| c == b':')?;
    let ranges = std::str::from_utf8(&rest[..colon]).ok()?;
    let ranges = match ranges {
        "" => Vec::new(),
        r => r.split(',').map(|p| p.split_once('-').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))).collect::<Option<Vec<(u64, u64)>>>()?,
    };
    let path = &rest[colon + 1..];
    (!path.is_empty() && !path.starts_with(b"/") && ranges.iter().all(|(a, b)| a <= b)).then_some(())?;
    Some((id, ranges, std::path::PathBuf::from(std::ffi::OsStr::from_bytes(path))))
}

/// The byte ranges an open's writes changed, kept in memory until its `encode_closed`
/// record: sorted, merged where they touch, and at most `MAX` of them (past that the two
/// nearest become one, with the bytes between: more is copied, never less).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ByteRanges(Vec<(u64, u64)>);

impl ByteRanges {
    pub const MAX: usize = 256;

    pub fn add(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        if start == end {
            return;
        }
        // The first range that ends at or after `start`: every one before it stays apart.
        let i = self.0.partition_point(|&(_, e)| e < start);
        let mut j = i;
        let (mut s, mut e) = (start, end);
        while j < self.0.len() && self.0[j].0 <= e {
            s = s.min(self.0[j].0);
            e = e.max(self.0[j].1);
            j += 1;
        }
        self.0.splice(i..j, [(s, e)]);
        if self.0.len() > Self::MAX {
            let k = (1..self.0.len()).min_by_key(|&k| self.0[k].0 - self.0[k - 1].1).expect("more than one range");
            self.0[k - 1].1 = self.0[k].1;
            self.0.remove(k);
        }
    }

    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.0
    }
}

/// What a stretch of the change list says (`parse_log`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Every path named, each once (those of name changes and writes too), in order.
    pub paths: Vec<std::path::PathBuf>,
    /// The changes of names, in the order they were made.
    pub ops: Vec<NameOp>,
    /// Paths that only writes named, with the byte ranges they wrote (sorted, merged).
    pub written: std::collections::HashMap<std::path::PathBuf, Vec<(u64, u64)>>,
    /// Paths of `written` whose ranges hold every change this stretch names: each open that
    /// changed them while the member was away closed its part with its ranges
    /// (`encode_closed`), and any other change was to their metadata (`encode_metadata`).
    /// Read from the start of the list, the member's own file needs those bytes and the
    /// metadata alone. The others' ranges count only for a file a pass of the resync copied.
    pub since_left: std::collections::HashSet<std::path::PathBuf>,
    /// The processes of opens whose parts have not ended in this stretch (their files are
    /// copied whole): an enable waits a little for them to take up its change first.
    pub unended: Vec<u32>,
}

/// A change of names made while a member was away, made again on it before its paths are
/// copied, so that its files stay the files the programs' fds hold there: a file renamed
/// is the same file under its new name (a process asleep through the outage writes on into
/// it), a file an editor's save replaced is another one (a reader keeps the old), a removed
/// directory made again is a new one. Copying by name alone wrote the new bytes into the
/// old file in place, where the sleepers' fds took them for theirs (helper-45).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOp {
    Renamed(std::path::PathBuf, std::path::PathBuf),
    Exchanged(std::path::PathBuf, std::path::PathBuf),
    Linked(std::path::PathBuf, std::path::PathBuf),
    Removed(std::path::PathBuf),
}

/// The kind of a `NameOp`, as the shim records one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Renamed,
    Exchanged,
    Linked,
    Removed,
}

impl NameKind {
    fn tag(self) -> u8 {
        match self {
            NameKind::Renamed => b'r',
            NameKind::Exchanged => b'x',
            NameKind::Linked => b'l',
            NameKind::Removed => b'u',
        }
    }
}

/// One record of a `NameOp`, a single NUL-ended token (appended with one write, read whole
/// or not at all): `/`, the kind, then for two names the first's length, `:`, and both.
/// A path in the list is relative, so never starts with `/`; older readers' lists have none.
pub fn encode_name_op(kind: NameKind, a: &[u8], b: Option<&[u8]>, out: &mut Vec<u8>) {
    out.push(b'/');
    out.push(kind.tag());
    if let Some(b) = b {
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(a);
        out.extend_from_slice(b);
    } else {
        out.extend_from_slice(a);
    }
    out.push(0);
}

fn decode_name_op(rec: &[u8]) -> Option<NameOp> {
    use std::os::unix::ffi::OsStrExt;
    let path = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
    let (&tag, rest) = rec.strip_prefix(b"/")?.split_first()?;
    let two = || {
        let colon = rest.iter().position(|&c| c == b':')?;
        let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        let names = &rest[colon + 1..];
        (len > 0 && len < names.len()).then(|| (path(&names[..len]), path(&names[len..])))
    };
    match tag {
        b'r' => two().map(|(a, b)| NameOp::Renamed(a, b)),
        b'x' => two().map(|(a, b)| NameOp::Exchanged(a, b)),
        b'l' => two().map(|(a, b)| NameOp::Linked(a, b)),
        b'u' if !rest.is_empty() => Some(NameOp::Removed(path(rest))),
        _ => None,
    }
}

/// The change list (`state_dir/changes`): paths (relative to the prefix) changed while a
/// member was not being written, each ended by a NUL, the changes of names among them
/// (`NameOp`) and, while a resync catches up, writes with their ranges (`encode_written`).
/// Appended by every process with one write per record; a torn last record (crash
/// mid-append) is ignored, and so is a record that cannot be read.
/// Names are bytes, as the kernel's: one that is not UTF-8 is a path like any other (it
/// was dropped, and a file so named, changed while a member was away, never reached it).
pub fn parse_log(data: &[u8]) -> Changes {
    use std::os::unix::ffi::OsStrExt;
    let (mut paths, mut ops) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    let mut written: std::collections::HashMap<std::path::PathBuf, Vec<(u64, u64)>> = Default::default();
    let mut whole = std::collections::HashSet::new();
    let complete = match data.iter().rposition(|&b| b == 0) {
        Some(i) => &data[..=i],
        None => return Changes::default(),
    };
    let mut note = |p: &std::path::Path, paths: &mut Vec<std::path::PathBuf>| {
        if seen.insert(p.to_path_buf()) {
            paths.push(p.to_path_buf());
        }
    };
    // Opens' first changes (`encode_opened`) by id, until their ends (`encode_closed`).
    let mut open: std::collections::HashMap<u64, (u32, std::path::PathBuf)> = Default::default();
    let mut since_left = std::collections::HashSet::new();
    // What the record before said of the plain record after it.
    enum Marked {
        Opened(u64, u32),
        Metadata,
    }
    let mut marked = None;
    for rec in complete.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let mark = marked.take();
        if rec[0] != b'/' {
            let p = std::path::Path::new(std::ffi::OsStr::from_bytes(rec));
            note(p, &mut paths);
            match mark {
                // An id met twice (two opens that drew the same): neither can be told apart.
                Some(Marked::Opened(id, pid)) => {
                    if let Some((_, other)) = open.insert(id, (pid, p.to_path_buf())) {
                        whole.insert(other);
                        whole.insert(p.to_path_buf());
                    }
                }
                Some(Marked::Metadata) => {
                    written.entry(p.to_path_buf()).or_default();
                    since_left.insert(p.to_path_buf());
                }
                None => drop(whole.insert(p.to_path_buf())),
            }
            continue;
        }
        if let Some((id, pid)) = decode_opened(rec) {
            marked = Some(Marked::Opened(id, pid));
            continue;
        }
        if rec == b"/m" {
            marked = Some(Marked::Metadata);
            continue;
        }
        if let Some((id, ranges, p)) = decode_closed(rec) {
            note(&p, &mut paths);
            match open.remove(&id) {
                Some((_, q)) if q == p => {
                    written.entry(p.clone()).or_default().extend(ranges);
                    since_left.insert(p);
                }
                // An end whose beginning an earlier stretch had (the file copied whole
                // then): what the open wrote, as a write during the catch-up names it.
                None => written.entry(p).or_default().extend(ranges),
                // Another file by now (renamed?): whole.
                Some((_, q)) => {
                    whole.insert(q);
                    whole.insert(p);
                }
            }
            continue;
        }
        if let Some((p, off, len)) = decode_written(rec) {
            note(&p, &mut paths);
            written.entry(p).or_default().push((off, off.saturating_add(len)));
            continue;
        }
        let Some(op) = decode_name_op(rec) else { continue };
        match &op {
            NameOp::Renamed(a, b) | NameOp::Exchanged(a, b) | NameOp::Linked(a, b) => {
                for p in [a, b] {
                    note(p, &mut paths);
                    whole.insert(p.clone());
                }
            }
            NameOp::Removed(a) => {
                note(a, &mut paths);
                whole.insert(a.clone());
            }
        }
        ops.push(op);
    }
    // An open that never closed its part (killed, or still open in a stretch read
    // before its end) may have changed anything.
    let unended = open.values().map(|(pid, _)| *pid).collect();
    whole.extend(open.into_values().map(|(_, p)| p));
    written.retain(|p, ranges| {
        ranges.sort_unstable();
        ranges.dedup_by(|next, kept| {
            let touches = next.0 <= kept.1;
            if touches {
                kept.1 = kept.1.max(next.1);
            }
            touches
        });
        !whole.contains(p)
    });
    since_left.retain(|p| written.contains_key(p));
    Changes { paths, ops, written, since_left, unended }
}

#[cfg(test)]
mod tests {
    #[test]
    fn change_list_dedupes_and_drops_a_torn_tail() {
        use std::os::unix::ffi::OsStrExt;
        let p = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
        assert_eq!(parse_log(b"a/b\0c\0a/b\0d/e").paths, vec![p(b"a/b"), p(b"c")]);
        assert_eq!(parse_log(b"").paths, Vec::<std::path::PathBuf>::new());
        assert_eq!(parse_log(b"x").paths, Vec::<std::path::PathBuf>::new());
        assert_eq!(parse_log(b"caf\xe9\0").paths, vec![p(b"caf\xe9")], "a name that is not UTF-8 is kept");
    }

    #[test]
    fn name_changes_are_read_in_order_with_their_paths() {
        use std::os::unix::ffi::OsStrExt;
        let p = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
        let mut log = b"A/t\0".to_vec();
        encode_name_op(NameKind::Renamed, b"A/t", Some(b"A/f"), &mut log);
        encode_name_op(NameKind::Linked, b"A/f", Some(b"A/12:x"), &mut log);
        encode_name_op(NameKind::Removed, b"D/x\n", None, &mut log);
        encode_name_op(NameKind::Exchanged, b"a", Some(b"b"), &mut log);
        let Changes { paths, ops, written, .. } = parse_log(&log);
        assert!(written.is_empty());
        assert_eq!(paths, vec![p(b"A/t"), p(b"A/f"), p(b"A/12:x"), p(b"D/x\n"), p(b"a"), p(b"b")]);
        assert_eq!(
            ops,
            vec![
                NameOp::Renamed(p(b"A/t"), p(b"A/f")),
                NameOp::Linked(p(b"A/f"), p(b"A/12:x")),
                NameOp::Removed(p(b"D/x\n")),
                NameOp::Exchanged(p(b"a"), p(b"b")),
            ]
        );
        // Cut anywhere, a record is read whole or not at all.
        for cut in 0..log.len() {
            let Changes { paths, ops, .. } = parse_log(&log[..cut]);
            assert!(ops.iter().all(|op| parse_log(&log).ops.contains(op)));
            assert!(paths.iter().all(|x| !x.as_os_str().as_bytes().starts_with(b"/")), "cut at {cut}: {paths:?}");
        }
        // Damaged records are skipped, the rest read.
        let Changes { paths, ops, .. } = parse_log(b"/r9:ab\0/q\0/u\0/r:ab\0c\0");
        assert_eq!((paths, ops), (vec![p(b"c")], vec![]));
    }

    #[test]
    fn writes_name_their_ranges_unless_another_record_asks_for_the_whole_file() {
        use std::os::unix::ffi::OsStrExt;
        let p = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
        let mut log = Vec::new();
        for (path, off, len) in [(&b"db"[..], 8192, 4096), (b"db", 0, 100), (b"db", 4096, 4096), (b"a:+1", 7, 3), (b"log", 10, 5), (b"db", 100, 10)] {
            encode_written(path, off, len, &mut log);
        }
        log.extend_from_slice(b"log\0");
        encode_name_op(NameKind::Renamed, b"x", Some(b"a:+1"), &mut log);
        encode_written(b"moved", 1, 1, &mut log);
        encode_name_op(NameKind::Removed, b"moved", None, &mut log);
        let c = parse_log(&log);
        assert_eq!(c.paths, vec![p(b"db"), p(b"a:+1"), p(b"log"), p(b"x"), p(b"moved")]);
        assert_eq!(c.written.len(), 1, "{:?}", c.written);
        // Overlapping and touching ranges merged; the gap at 110..4096 kept.
        assert_eq!(c.written[&p(b"db")], vec![(0, 110), (4096, 12288)]);
        // Cut anywhere, what is read names each path the whole log names, or less.
        for cut in 0..log.len() {
            let part = parse_log(&log[..cut]);
            assert!(part.paths.iter().all(|x| c.paths.contains(x)), "cut at {cut}: {:?}", part.paths);
        }
        // A damaged range is skipped (its path with it); a path that starts with `/` is not one.
        let c = parse_log(b"/w1+:f\0/w+1:f\0/wx+1:f\0/w1+2:\0/w1+2:/etc/passwd\0g\0");
        assert_eq!((c.paths, c.written.len()), (vec![p(b"g")], 0));
    }

    #[test]
    fn an_open_closed_with_its_ranges_needs_those_bytes_alone() {
        use std::os::unix::ffi::OsStrExt;
        let p = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
        let mut log = Vec::new();
        encode_opened(0xa1, 10, b"db", &mut log);
        encode_opened(0xb2, 11, b"db", &mut log);
        encode_opened(7, 12, b"killed", &mut log);
        encode_opened(8, 13, b"moved", &mut log);
        encode_opened(9, 14, b"a:1-2", &mut log);
        encode_closed(0xa1, &[(0, 10), (4096, 8192)], b"db", &mut log).unwrap();
        encode_written(b"db", 5, 10, &mut log);
        encode_closed(8, &[(0, 1)], b"elsewhere", &mut log).unwrap();
        encode_closed(9, &[(3, 4)], b"a:1-2", &mut log).unwrap();
        encode_closed(0xb2, &[(100, 200)], b"db", &mut log).unwrap();
        encode_closed(0x55, &[(1, 2)], b"stray", &mut log).unwrap();
        let c = parse_log(&log);
        assert_eq!(c.paths, vec![p(b"db"), p(b"killed"), p(b"moved"), p(b"a:1-2"), p(b"elsewhere"), p(b"stray")]);
        // Both opens' ranges and the catch-up's write, merged.
        assert_eq!(c.written[&p(b"db")], vec![(0, 15), (100, 200), (4096, 8192)]);
        assert_eq!(c.written[&p(b"a:1-2")], vec![(3, 4)]);
        assert_eq!(c.since_left, [p(b"db"), p(b"a:1-2")].into_iter().collect());
        // Never closed, or closed by another name: whole. An end without its beginning:
        // ranges, but not all since the member left.
        assert_eq!(c.written.len(), 3, "{:?}", c.written);
        assert_eq!(c.written[&p(b"stray")], vec![(1, 2)]);
        assert_eq!(c.unended, vec![12]);
        // A plain record of the path anywhere (here: a truncation after the opens) wins.
        let mut more = log.clone();
        more.extend_from_slice(b"db\0");
        assert!(!parse_log(&more).written.contains_key(&p(b"db")));
        // An older reader's view: `/i` and `/c` skipped, the path after `/i` a plain record.
        let plain: Vec<&[u8]> = log.split(|&b| b == 0).filter(|r| !r.is_empty() && r[0] != b'/').collect();
        assert_eq!(plain, vec![&b"db"[..], b"db", b"killed", b"moved", b"a:1-2"]);
        // A change of metadata alone, with a part's ranges or none.
        let mut meta = log.clone();
        encode_metadata(b"db", &mut meta);
        encode_metadata(b"chmodded", &mut meta);
        let m = parse_log(&meta);
        assert_eq!((&m.written[&p(b"db")], &m.written[&p(b"chmodded")]), (&c.written[&p(b"db")], &vec![]));
        assert!(m.since_left.contains(&p(b"db")) && m.since_left.contains(&p(b"chmodded")));
        meta.extend_from_slice(b"chmodded\0");
        assert!(!parse_log(&meta).written.contains_key(&p(b"chmodded")), "a plain record of it: whole");
        // Cut anywhere: never ranges the whole list would not give, and a path cut from its
        // `/i` is read whole.
        for cut in 0..log.len() {
            let part = parse_log(&log[..cut]);
            for (path, ranges) in &part.written {
                let covered = |&(s, e): &(u64, u64)| c.written[path].iter().any(|&(a, b)| a <= s && e <= b);
                assert!(part.since_left.contains(path) && ranges.iter().all(covered), "cut at {cut}: {path:?} {ranges:?}");
            }
        }
        // An id met twice (two opens drew the same): neither path by ranges.
        let mut twice = Vec::new();
        encode_opened(5, 1, b"a", &mut twice);
        encode_opened(5, 2, b"b", &mut twice);
        encode_closed(5, &[(0, 1)], b"b", &mut twice).unwrap();
        let t = parse_log(&twice);
        assert!(t.written.is_empty() && t.since_left.is_empty(), "{t:?}");
        // Damaged ends are skipped.
        let c = parse_log(b"/izz:1\0f\0/i1\0g\0/c1:1-:f\0/c1:2-1:f\0/c:1-2:f\0/c1:1-2:\0/c1:1-2:/etc\0");
        assert_eq!((c.paths, c.written.len(), c.unended), (vec![p(b"f"), p(b"g")], 0, vec![]));
    }

    #[test]
    fn byte_ranges_merge_and_stay_few() {
        let mut r = ByteRanges::default();
        for (at, len) in [(100, 10), (0, 5), (5, 5), (120, 10), (110, 10), (50, 0), (1000, 1), (0, 1)] {
            r.add(at, len);
        }
        assert_eq!(r.as_slice(), &[(0, 10), (100, 130), (1000, 1001)]);
        r.add(u64::MAX - 1, 10);
        assert_eq!(r.as_slice().last(), Some(&(u64::MAX - 1, u64::MAX)));
        // Past MAX, the nearest two become one: every byte added is still covered.
        let mut r = ByteRanges::default();
        let added: Vec<(u64, u64)> = (0..4 * ByteRanges::MAX as u64).map(|i| ((i * 7919) % 100_000 * 10, 1 + i % 7)).collect();
        for &(at, len) in &added {
            r.add(at, len);
        }
        assert!(r.as_slice().len() <= ByteRanges::MAX);
        assert!(r.as_slice().windows(2).all(|w| w[0].1 < w[1].0), "sorted, apart: {:?}", r.as_slice());
        for &(at, len) in &added {
            assert!(r.as_slice().iter().any(|&(s, e)| s <= at && at + len <= e), "{at}+{len} lost");
        }
    }

    use super::*;

    fn sample() -> State {
        let mut s = State::new(set_id("/shadow", &["/p", "/s"]), &["/p", "/s"]);
        s.members[1].state = MemberState::Disabled;
        s.members[0].generation = 7;
        s.members[0].rewritten = 5;
        s.epoch = 4;
        s
    }

    #[test]
    fn round_trips() {
        let s = sample();
        let b = s.encode();
        assert_eq!(b.len(), SIZE);
        assert_eq!(State::decode(&b, Some(s.set_id)), Ok(s.clone()));
        assert_eq!(State::decode(&b, None).unwrap().lead(), Some(Member::Primary));
    }

    #[test]
    fn rejects_damage_with_a_reason() {
        let s = sample();
        let b = s.encode();
        assert_eq!(State::decode(&b[..100], None), Err(StateError::Truncated(100)));
        let mut bad = b.clone();
        bad[0] = b'X';
        assert_eq!(State::decode(&bad, None), Err(StateError::BadMagic));
        let mut bad = b.clone();
        bad[8] = 9;
        assert_eq!(State::decode(&bad, None), Err(StateError::Version(9)));
        let mut bad = b.clone();
        bad[MEMBERS_OFFSET + 25] ^= 0xff;
        assert!(matches!(State::decode(&bad, None), Err(StateError::Checksum { .. })));
        assert!(matches!(State::decode(&b, Some(1)), Err(StateError::ForeignSet { .. })));
        let garbage: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(State::decode(&garbage, None), Err(StateError::BadMagic));
    }

    #[test]
    fn any_single_byte_flip_is_caught_or_harmless() {
        let s = sample();
        let b = s.encode();
        for i in 0..SIZE {
            let mut bad = b.clone();
            bad[i] ^= 0x5a;
            // Either rejected, or only the epoch (not covered: it changes all the time) moved.
            if let Ok(d) = State::decode(&bad, Some(s.set_id)) {
                assert!((EPOCH_OFFSET..EPOCH_OFFSET + 8).contains(&i) || (12..16).contains(&i) || (40..64).contains(&i), "flip at {i} accepted: {d:?}");
            }
        }
    }

    #[test]
    fn reading_ranges_is_kept_while_resyncing_only() {
        let mut s = sample();
        s.members[1].state = MemberState::Resyncing;
        s.members[1].reads_ranges = true;
        let back = State::decode(&s.encode(), None).unwrap();
        assert!(back.members[1].reads_ranges);
        s.members[1].state = MemberState::Enabled;
        assert!(!State::decode(&s.encode(), None).unwrap().members[1].reads_ranges, "dropped once the resync is over");
        assert_eq!(State::decode(&sample().encode(), None).unwrap().members[1].reads_ranges, false);
    }

    #[test]
    fn lead_is_the_first_enabled_member() {
        let mut s = sample();
        s.members[0].state = MemberState::Failed;
        s.members[1].state = MemberState::Enabled;
        assert_eq!(s.lead(), Some(Member::Secondary));
        s.members[1].state = MemberState::Disabled;
        assert_eq!(s.lead(), None);
    }
}
