//! The write-intent journal (`state_dir/journal`): before a file or name is changed through
//! the shim, a `Begin` record names it; once both members hold the same result an `End`
//! record closes it. After a crash (kill -9, a lost member mid-write) the paths with a
//! `Begin` and no `End` are exactly those that may differ, and `shadowctl recover` copies
//! them from the newer member. Records carry a checksum, so a torn append at the end of
//! the file (a crash mid-write) is recognised and ignored, and damage anywhere is reported.
//! Pure encoding, no I/O.

use crate::state::fnv1a;
use std::collections::BTreeMap;
use std::fmt;

const MAGIC: [u8; 2] = *b"SJ";
const HEADER: usize = 2 + 1 + 8 + 2;

/// Every journal starts with this: magic, version, the id of the set it belongs to.
const FILE_MAGIC: &[u8; 8] = b"SHDWJRNL";
pub const VERSION: u32 = 1;
pub const FILE_HEADER: usize = 8 + 4 + 8 + 4;

pub fn file_header(set_id: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(FILE_HEADER);
    b.extend_from_slice(FILE_MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&set_id.to_le_bytes());
    let check = fnv1a(&b) as u32;
    b.extend_from_slice(&check.to_le_bytes());
    b
}

/// Why a journal cannot be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalError {
    NotAJournal,
    Version(u32),
    ForeignSet { stored: u64, expected: u64 },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::NotAJournal => write!(f, "not a libshadow journal (bad header)"),
            JournalError::Version(v) => write!(f, "unsupported journal version {v} (this build reads {VERSION})"),
            JournalError::ForeignSet { stored, expected } => {
                write!(f, "journal of another shadow set (set id {stored:016x}, this config is {expected:016x})")
            }
        }
    }
}

/// Checks the file header and decodes the records after it. Several processes may each have
/// written the header of a fresh journal: identical headers are skipped wherever they stand.
pub fn decode_file(data: &[u8], expected_set: u64) -> Result<(Vec<Record>, Option<Damage>), JournalError> {
    if data.is_empty() {
        return Ok((Vec::new(), None));
    }
    if data.len() < FILE_HEADER {
        return Err(JournalError::NotAJournal);
    }
    let head = &data[..FILE_HEADER];
    if &head[..8] != FILE_MAGIC || fnv1a(&head[..FILE_HEADER - 4]) as u32 != u32::from_le_bytes(head[FILE_HEADER - 4..].try_into().expect("4 bytes")) {
        return Err(JournalError::NotAJournal);
    }
    let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(JournalError::Version(version));
    }
    let stored = u64::from_le_bytes(head[12..20].try_into().expect("8 bytes"));
    if stored != expected_set {
        return Err(JournalError::ForeignSet { stored, expected: expected_set });
    }
    let mut rest = &data[FILE_HEADER..];
    let mut records = Vec::new();
    let mut base = FILE_HEADER;
    loop {
        let (mut recs, damage) = decode(rest);
        records.append(&mut recs);
        match damage {
            Some(d) if rest[d.offset..].starts_with(head) => {
                base += d.offset + FILE_HEADER;
                rest = &rest[d.offset + FILE_HEADER..];
            }
            Some(d) => return Ok((records, Some(Damage { offset: base + d.offset, reason: d.reason }))),
            None => return Ok((records, None)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Entries of the directory `path` (relative to the prefix) are about to change; `id` is
    /// unique per process. Flushed before the change (journal_sync).
    Begin { id: u64, path: Vec<u8> },
    /// Under intent `id`, the entry `path` changes (not flushed: exact after kill -9, while a
    /// power failure may lose it, and then the whole directory is compared). An empty path:
    /// too many entries to list, compare the whole directory. `ino`: the file's inode on a
    /// member (the lead's at an open, else the follower's) when it was open (0: not known);
    /// if neither member has that inode at `path` any more, the file was renamed or replaced
    /// while open and the directory is compared.
    Touch { id: u64, path: Vec<u8>, ino: u64 },
    /// The change with this id is on both members.
    End { id: u64 },
}

/// An intent not ended: the directory, and the entries recorded as changing in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    pub dir: Vec<u8>,
    /// (path, inode on a member when known, else 0).
    pub entries: Vec<(Vec<u8>, u64)>,
    /// The entry list is incomplete (too many to list): the whole directory is in doubt.
    pub whole: bool,
}

/// The id of the `n`th intent of process `pid`.
pub fn intent_id(pid: u32, n: u32) -> u64 {
    ((pid as u64) << 32) | n as u64
}

pub fn pid_of(id: u64) -> u32 {
    (id >> 32) as u32
}

/// An `End` record without allocating (for a process on its way out through `_exit`).
pub fn end_record(id: u64) -> [u8; HEADER + 4] {
    let mut b = [0u8; HEADER + 4];
    encode_into(2, id, &[], &[], &mut b);
    b
}

/// The records of an intent on the whole of directory `dir` (a Begin and an empty Touch),
/// written into `out` without allocating: from a process dying of a signal (the shim's
/// handler). None if they do not fit.
pub fn whole_dir_intent(id: u64, dir: &[u8], out: &mut [u8]) -> Option<usize> {
    let begin = encode_into(1, id, &[], dir, out)?;
    Some(begin + encode_into(3, id, &0u64.to_le_bytes(), &[], out.get_mut(begin..)?)?)
}

/// One record: `prefix` and `path` are its payload (cut to what the length field holds).
fn encode_into(kind: u8, id: u64, prefix: &[u8], path: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = (prefix.len() + path.len()).min(u16::MAX as usize);
    let total = HEADER + len + 4;
    let b = out.get_mut(..total)?;
    b[..2].copy_from_slice(&MAGIC);
    b[2] = kind;
    b[3..11].copy_from_slice(&id.to_le_bytes());
    b[11..HEADER].copy_from_slice(&(len as u16).to_le_bytes());
    b[HEADER..HEADER + prefix.len()].copy_from_slice(prefix);
    b[HEADER + prefix.len()..HEADER + len].copy_from_slice(&path[..len - prefix.len()]);
    let check = fnv1a(&b[..HEADER + len]) as u32;
    b[HEADER + len..].copy_from_slice(&check.to_le_bytes());
    Some(total)
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, id, path) = match self {
            Record::Begin { id, path } => (1u8, *id, path.as_slice()),
            Record::End { id } => (2u8, *id, &b""[..]),
            Record::Touch { id, path, .. } => (3u8, *id, path.as_slice()),
        };
        let ino = match self {
            Record::Touch { ino, .. } => Some(ino.to_le_bytes()),
            _ => None,
        };
        let prefix = ino.as_ref().map_or(&[][..], |b| &b[..]);
        let mut b = vec![0; HEADER + (prefix.len() + path.len()).min(u16::MAX as usize) + 4];
        let n = encode_into(kind, id, prefix, path, &mut b).expect("sized for the record");
        b.truncate(n);
        b
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "damaged record at byte {}: {}", self.offset, self.reason)
    }
}

/// Decodes a journal. A record cut short at the very end is a torn append (ignored);
/// anything else that does not decode is damage, reported with its offset together with
/// the records before it.
pub fn decode(data: &[u8]) -> (Vec<Record>, Option<Damage>) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let rest = &data[i..];
        if rest.len() < HEADER + 4 {
            return (out, (rest.len() >= 2 && rest[..2] != MAGIC).then_some(Damage { offset: i, reason: "garbage" }));
        }
        if rest[..2] != MAGIC {
            return (out, Some(Damage { offset: i, reason: "bad magic" }));
        }
        let kind = rest[2];
        let id = u64::from_le_bytes(rest[3..11].try_into().expect("8 bytes"));
        let len = u16::from_le_bytes(rest[11..13].try_into().expect("2 bytes")) as usize;
        let total = HEADER + len + 4;
        if rest.len() < total {
            // Cut short: the last append did not finish.
            return (out, None);
        }
        let check = u32::from_le_bytes(rest[HEADER + len..total].try_into().expect("4 bytes"));
        if fnv1a(&rest[..HEADER + len]) as u32 != check {
            let last = i + total == data.len();
            return (out, (!last).then_some(Damage { offset: i, reason: "checksum mismatch" }));
        }
        let rec = match kind {
            // Names are bytes, as the kernel's (one that is not UTF-8 is a name like any other).
            1 => Record::Begin { id, path: rest[HEADER..HEADER + len].to_vec() },
            2 if len == 0 => Record::End { id },
            3 if len >= 8 => Record::Touch { id, path: rest[HEADER + 8..HEADER + len].to_vec(), ino: u64::from_le_bytes(rest[HEADER..HEADER + 8].try_into().expect("8 bytes")) },
            _ => return (out, Some(Damage { offset: i, reason: "unknown record kind" })),
        };
        out.push(rec);
        i += total;
    }
    (out, None)
}

/// Intents begun and not ended, in id order, with the entries touched under each.
pub fn open_intents(records: &[Record]) -> BTreeMap<u64, Intent> {
    let mut open: BTreeMap<u64, Intent> = BTreeMap::new();
    for r in records {
        match r {
            Record::Begin { id, path } => {
                open.insert(*id, Intent { dir: path.clone(), ..Intent::default() });
            }
            Record::Touch { id, path, ino } => {
                if let Some(i) = open.get_mut(id) {
                    if path.is_empty() {
                        i.whole = true;
                    } else if let Some(e) = i.entries.iter_mut().find(|e| e.0 == *path) {
                        if *ino != 0 {
                            e.1 = *ino;
                        }
                    } else {
                        i.entries.push((path.clone(), *ino));
                    }
                }
            }
            Record::End { id } => {
                open.remove(id);
            }
        }
    }
    open
}

impl Intent {
    /// The records that carry this intent over a compaction.
    pub fn encode(&self, id: u64) -> Vec<u8> {
        let mut b = Record::Begin { id, path: self.dir.clone() }.encode();
        for (path, ino) in &self.entries {
            b.extend(Record::Touch { id, path: path.clone(), ino: *ino }.encode());
        }
        if self.whole {
            b.extend(Record::Touch { id, path: Vec::new(), ino: 0 }.encode());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_record_without_allocation_is_the_same_bytes() {
        assert_eq!(end_record(0x1234_5678_9abc).to_vec(), Record::End { id: 0x1234_5678_9abc }.encode());
    }

    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        for r in [
            Record::Begin { id: intent_id(7, 1), path: "a/b".into() },
            Record::Begin { id: intent_id(7, 2), path: "c".into() },
            Record::End { id: intent_id(7, 1) },
            Record::Begin { id: intent_id(9, 1), path: "d/ü".into() },
            Record::Begin { id: intent_id(9, 2), path: b"caf\xe9".to_vec() },
        ] {
            b.extend(r.encode());
        }
        b
    }

    #[test]
    fn round_trips_and_finds_open_intents() {
        let (recs, damage) = decode(&sample());
        assert_eq!(damage, None);
        assert_eq!(recs.len(), 5);
        let open: Vec<Vec<u8>> = open_intents(&recs).into_values().map(|i| i.dir).collect();
        assert_eq!(open, vec![b"c".to_vec(), "d/ü".as_bytes().to_vec(), b"caf\xe9".to_vec()]);
        assert_eq!(pid_of(intent_id(9, 1)), 9);
    }

    #[test]
    fn touched_entries_belong_to_their_intent_and_survive_compaction() {
        let id = intent_id(5, 1);
        let mut b = Record::Begin { id, path: "d".into() }.encode();
        for (p, ino) in [(&b"d/a"[..], 0), (b"d/b", 0), (b"d/a", 77)] {
            b.extend(Record::Touch { id, path: p.into(), ino }.encode());
        }
        b.extend(Record::Touch { id: intent_id(5, 2), path: "x/orphan".into(), ino: 0 }.encode());
        let open = open_intents(&decode(&b).0);
        let i = &open[&id];
        assert_eq!((i.dir.as_slice(), i.entries.clone(), i.whole), (&b"d"[..], vec![(b"d/a".to_vec(), 77), (b"d/b".to_vec(), 0)], false), "the inode learnt later sticks");
        assert_eq!(open.len(), 1, "a touch without its begin is ignored");
        let again = open_intents(&decode(&i.encode(id)).0);
        assert_eq!(&again[&id], i);
        b.extend(Record::Touch { id, path: Vec::new(), ino: 0 }.encode());
        assert!(open_intents(&decode(&b).0)[&id].whole);
    }

    #[test]
    fn a_whole_directory_intent_is_written_without_allocating_as_encode_writes_it() {
        let id = intent_id(4, 9);
        let mut out = [0u8; 64];
        let n = whole_dir_intent(id, b"d/e", &mut out).unwrap();
        let mut want = Record::Begin { id, path: "d/e".into() }.encode();
        want.extend(Record::Touch { id, path: Vec::new(), ino: 0 }.encode());
        assert_eq!(&out[..n], &want[..]);
        assert!(open_intents(&decode(&out[..n]).0)[&id].whole);
        assert_eq!(whole_dir_intent(id, b"d/e", &mut out[..n - 1]), None, "too small a buffer");
    }

    #[test]
    fn a_torn_tail_is_ignored_at_every_cut() {
        let full = sample();
        for cut in 0..full.len() {
            let (recs, damage) = decode(&full[..cut]);
            assert_eq!(damage, None, "cut at {cut}");
            assert!(recs.len() <= 5);
        }
    }

    #[test]
    fn damage_is_reported_with_its_offset() {
        let mut b = sample();
        b[20] ^= 0xff;
        let (_, damage) = decode(&b);
        assert!(damage.is_some());
        let mut g = b"this is not a journal at all, not even close".to_vec();
        g.extend(sample());
        assert_eq!(decode(&g).1, Some(Damage { offset: 0, reason: "bad magic" }));
    }

    #[test]
    fn file_header_names_version_and_set() {
        let mut f = file_header(42);
        f.extend(sample());
        // A second process wrote the header of the fresh journal too.
        f.extend(file_header(42));
        f.extend(Record::End { id: intent_id(9, 1) }.encode());
        let (recs, damage) = decode_file(&f, 42).unwrap();
        assert_eq!((recs.len(), damage), (6, None));
        assert_eq!(open_intents(&recs).len(), 2);
        assert_eq!(decode_file(&f, 7), Err(JournalError::ForeignSet { stored: 42, expected: 7 }));
        let mut v2 = f.clone();
        v2[8] = 2;
        let check = fnv1a(&v2[..FILE_HEADER - 4]) as u32;
        v2[FILE_HEADER - 4..FILE_HEADER].copy_from_slice(&check.to_le_bytes());
        assert_eq!(decode_file(&v2, 42), Err(JournalError::Version(2)));
        assert_eq!(decode_file(b"garbage garbage garbage garbage", 42), Err(JournalError::NotAJournal));
        assert_eq!(decode_file(b"", 42), Ok((Vec::new(), None)));
        let mut torn = f.clone();
        torn[FILE_HEADER + 30] ^= 0x55;
        assert!(decode_file(&torn, 42).unwrap().1.is_some());
    }

    #[test]
    fn decoder_never_panics_on_noise() {
        // A cheap property test: deterministic pseudo-random inputs of many lengths.
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for len in 0..2000 {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(x as u8);
            }
            if len % 3 == 0 && len >= 2 {
                v[0] = b'S';
                v[1] = b'J';
            }
            let _ = decode(&v);
        }
    }
}
