//! The state file and process registry as shared memory, for the shim (readers) and
//! shadowctl (the writer). Every process maps the same files; `epoch` is a seqlock.

use crate::config::Config;
use crate::state::{self, registry, State, StateError};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub fn state_path(c: &Config) -> PathBuf {
    c.state_dir.join("state")
}
pub fn registry_path(c: &Config) -> PathBuf {
    c.state_dir.join("registry")
}
pub fn lock_path(c: &Config) -> PathBuf {
    c.state_dir.join("lock")
}
pub fn journal_path(c: &Config) -> PathBuf {
    c.state_dir.join("journal")
}
pub fn changes_path(c: &Config) -> PathBuf {
    c.state_dir.join("changes")
}

/// The entry shadowctl's copy is making (see sync::record_in_flight).
pub fn copying_path(c: &Config) -> PathBuf {
    c.state_dir.join("copying")
}

/// Names a member whose full copy (all, replace) was cut short: its resyncs copy
/// everything until one completes.
pub fn full_copy_due_path(c: &Config) -> PathBuf {
    c.state_dir.join("full-copy-due")
}

/// The id a config's state file must carry.
pub fn expected_set_id(c: &Config) -> u64 {
    let dirs: Vec<&str> = c.members.iter().map(|m| m.dir.as_str()).collect();
    state::set_id(&c.prefix, &dirs)
}

fn map(file: &File, len: usize) -> Result<*mut u8, String> {
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, file.as_raw_fd(), 0) };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(p as *mut u8)
}

/// The mode the set's state files are made with: the state directory's read and write
/// bits, whatever the umask. Programs of several users on one set (a daemon that drops
/// privileges, then runs helpers; a cron job of another user) each open them for writing:
/// a state directory they can all write (`chmod 1777`, or a group's `2775`) gives files
/// they can all write. Before, they were always 0644, and such a helper stopped at its
/// start (exit 125: "Permission denied") where natively it ran.
pub fn state_file_mode(dir: &std::path::Path) -> u32 {
    std::fs::metadata(dir).map_or(0o644, |m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o666)
}

/// Opens the set's state file `path` as `options` say (without `create`), making it first
/// if it is missing, with `state_file_mode`.
pub fn open_or_make(path: &std::path::Path, options: &OpenOptions) -> std::io::Result<File> {
    match options.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        opened => return opened,
    }
    let mode = state_file_mode(path.parent().unwrap_or(std::path::Path::new(".")));
    match options.clone().create_new(true).mode(mode).open(path) {
        Ok(f) => {
            // The umask took bits the directory gives.
            let _ = f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
            Ok(f)
        }
        // Another process made it meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => options.open(path),
        Err(e) => Err(e),
    }
}

/// An error opening a state file, with what to do when the program may not write it.
pub fn state_file_error(path: &std::path::Path, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "{}: {e} (this program runs as uid {}; the set's programs all write its state files, which take the read and write bits of the state directory: see README, \"State directory\")",
            path.display(),
            unsafe { libc::geteuid() }
        ),
        _ => format!("{}: {e}", path.display()),
    }
}

/// A mapped state file.
/// A new file in `dir` to write a fresh state into, by a name no other thread or process
/// has: the pid alone was shared by the threads of one process (`shadowctl watch` opens
/// the state from three at its start), and the second of them failed with "File exists",
/// leaving the file behind. A name left by a process killed while it wrote one is passed by.
fn new_state_file(dir: &std::path::Path) -> Result<(PathBuf, File), String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut tries = 0;
    loop {
        let tmp = dir.join(format!("state.new.{}.{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        match OpenOptions::new().write(true).create_new(true).mode(state_file_mode(dir)).open(&tmp) {
            Ok(f) => {
                let _ = f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(state_file_mode(dir)));
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 1000 => tries += 1,
            Err(e) => return Err(format!("{}: {e}", tmp.display())),
        }
    }
}

pub struct SharedState {
    map: *mut u8,
    pub path: PathBuf,
    pub set_id: u64,
}

unsafe impl Send for SharedState {}
unsafe impl Sync for SharedState {}

impl SharedState {
    /// Opens the set's state file, creating it (all members enabled, generation 1) when it
    /// does not exist. A damaged or foreign file is an error naming it.
    pub fn open(c: &Config) -> Result<SharedState, String> {
        let path = state_path(c);
        let expected = expected_set_id(c);
        let shown = path.display().to_string();
        if !path.exists() {
            let dirs: Vec<&str> = c.members.iter().map(|m| m.dir.as_str()).collect();
            let (tmp, mut f) = new_state_file(&c.state_dir)?;
            // A new set: members that carry no stamp yet start in step. Stamped members
            // keep theirs (they were used before, by this or another state directory).
            if dirs.iter().all(|d| matches!(crate::stamp::read(d), Ok(None))) {
                let _ = crate::stamp::both_in_step(dirs[0], dirs[1], expected);
            }
            let mut fresh = State::new(expected, &dirs);
            for m in &mut fresh.members {
                m.mount_root = is_mount_root(&m.dir);
                m.stamped = matches!(crate::stamp::identity(&m.dir), Some(Some(_)));
            }
            let written = f.write_all(&fresh.encode()).and_then(|_| f.sync_all());
            // link(2) never replaces: if another process created the file first, use theirs.
            let linked = written.is_ok().then(|| std::fs::hard_link(&tmp, &path));
            // Never left behind, written or not.
            let _ = std::fs::remove_file(&tmp);
            written.map_err(|e| format!("{}: {e}", tmp.display()))?;
            if let Some(Err(e)) = linked {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(format!("{shown}: {e}"));
                }
            }
        }
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| state_file_error(&path, &e))?;
        let len = file.metadata().map_err(|e| format!("{shown}: {e}"))?.len() as usize;
        if len < state::SIZE {
            return Err(format!("{shown}: {}", StateError::Truncated(len)));
        }
        let map = map(&file, state::SIZE).map_err(|e| format!("{shown}: {e}"))?;
        // The mapping outlives the fd: no fd of the shim's stays open for a program to trip on.
        drop(file);
        let shared = SharedState { map, path, set_id: expected };
        shared.read().map_err(|e| format!("{shown}: {e}"))?;
        Ok(shared)
    }

    fn word64(&self, off: usize) -> &AtomicU64 {
        unsafe { &*(self.map.add(off) as *const AtomicU64) }
    }
    fn word32(&self, off: usize) -> &AtomicU32 {
        unsafe { &*(self.map.add(off) as *const AtomicU32) }
    }

    /// The change counter: one load, for the shim's hot path.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.word64(state::EPOCH_OFFSET).load(Ordering::SeqCst)
    }

    #[inline]
    pub fn frozen(&self) -> bool {
        self.word32(state::FROZEN_OFFSET).load(Ordering::SeqCst) != 0
    }

    pub fn set_frozen(&self, on: bool) {
        self.word32(state::FROZEN_OFFSET).store(on as u32, Ordering::SeqCst);
    }

    /// Marks a member failed from inside a program: sets its bit and moves the epoch on by
    /// two (never while shadowctl is mid-update), so every process notices at its next call.
    /// Returns false when the bit was already set (another process got there first).
    pub fn mark_failed(&self, member: usize) -> bool {
        let bit = 1u32 << member;
        let first = self.word32(state::FAILED_MASK_OFFSET).fetch_or(bit, Ordering::SeqCst) & bit == 0;
        if first {
            self.note_failed_at(member);
        }
        let epoch = self.word64(state::EPOCH_OFFSET);
        loop {
            let e = epoch.load(Ordering::SeqCst);
            if e % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            if epoch.compare_exchange(e, e + 2, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return first;
            }
        }
    }

    /// Records that `member` was marked failed now (see state::FAILED_AT_OFFSET).
    pub fn note_failed_at(&self, member: usize) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
        self.word32(state::FAILED_AT_OFFSET + 4 * member).store(now, Ordering::SeqCst);
    }

    /// When `member` was last marked failed (seconds since the Unix epoch), if known.
    pub fn failed_at(&self, member: usize) -> Option<u64> {
        Some(self.word32(state::FAILED_AT_OFFSET + 4 * member).load(Ordering::SeqCst) as u64).filter(|&t| t != 0)
    }

    pub fn mark_changes_lost(&self) {
        self.word32(state::CHANGES_LOST_OFFSET).store(1, Ordering::SeqCst);
    }

    pub fn changes_lost(&self) -> bool {
        self.word32(state::CHANGES_LOST_OFFSET).load(Ordering::SeqCst) != 0
    }

    /// Returns whether the flag was already set.
    pub fn mark_journal_lost(&self) -> bool {
        self.word32(state::JOURNAL_LOST_OFFSET).swap(1, Ordering::SeqCst) != 0
    }

    /// Whether an intent went unrecorded since the last `recover` took the flag.
    pub fn journal_lost(&self) -> bool {
        self.word32(state::JOURNAL_LOST_OFFSET).load(Ordering::SeqCst) != 0
    }

    /// Takes the flag: true when an intent went unrecorded since the last look.
    pub fn take_journal_lost(&self) -> bool {
        self.word32(state::JOURNAL_LOST_OFFSET).swap(0, Ordering::SeqCst) != 0
    }

    /// The change list starts afresh (every member is written again).
    pub fn reset_changes_lost(&self) {
        self.word32(state::CHANGES_LOST_OFFSET).store(0, Ordering::SeqCst);
    }

    /// A consistent snapshot (retries while a writer is mid-change). Members a program
    /// marked failed read as failed.
    pub fn read(&self) -> Result<State, StateError> {
        let mut s = self.read_records()?;
        fold_failed(&mut s, self.word32(state::FAILED_MASK_OFFSET).load(Ordering::SeqCst), false);
        Ok(s)
    }

    /// The records while this process holds the epoch odd (the command lock excludes other
    /// writers); the failure flags are taken out of the header and folded in.
    fn read_with_epoch_odd(&self) -> Result<State, StateError> {
        let mut copy = vec![0u8; state::SIZE];
        unsafe { std::ptr::copy_nonoverlapping(self.map, copy.as_mut_ptr(), state::SIZE) };
        let mut s = State::decode(&copy, Some(self.set_id))?;
        fold_failed(&mut s, self.word32(state::FAILED_MASK_OFFSET).swap(0, Ordering::SeqCst), true);
        Ok(s)
    }

    fn read_records(&self) -> Result<State, StateError> {
        let mut spins = 0u32;
        loop {
            let before = self.epoch();
            if before.is_multiple_of(2) {
                let mut copy = vec![0u8; state::SIZE];
                unsafe { std::ptr::copy_nonoverlapping(self.map, copy.as_mut_ptr(), state::SIZE) };
                if self.epoch() == before {
                    let mut s = State::decode(&copy, Some(self.set_id))?;
                    s.epoch = before;
                    return Ok(s);
                }
            }
            spins += 1;
            if spins > 1000 {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            if spins > 200_000 {
                return Err(StateError::Truncated(0));
            }
            std::hint::spin_loop();
        }
    }

    /// Changes the state in place (callers hold the set's command lock). Returns the new
    /// epoch. The file is synced so the change survives a crash.
    pub fn update(&self, f: impl FnOnce(&mut State)) -> Result<u64, String> {
        let epoch = self.word64(state::EPOCH_OFFSET);
        let odd = loop {
            let e = epoch.load(Ordering::SeqCst);
            if e.is_multiple_of(2) && epoch.compare_exchange(e, e + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                break e + 1;
            }
            std::hint::spin_loop();
        };
        // Failures programs flagged become part of the records; the flags are then cleared.
        let mut s = match self.read_with_epoch_odd() {
            Ok(s) => s,
            Err(e) => {
                epoch.store(odd + 1, Ordering::SeqCst);
                return Err(format!("{}: {e}", self.path.display()));
            }
        };
        f(&mut s);
        let image = s.encode();
        // Everything but the epoch and the frozen flag, which live in the mapping only.
        unsafe {
            std::ptr::copy_nonoverlapping(image.as_ptr(), self.map, state::EPOCH_OFFSET);
            std::ptr::copy_nonoverlapping(image.as_ptr().add(24), self.map.add(24), state::FROZEN_OFFSET - 24);
            std::ptr::copy_nonoverlapping(image.as_ptr().add(64), self.map.add(64), state::SIZE - 64);
        }
        epoch.store(odd + 1, Ordering::SeqCst);
        unsafe { libc::msync(self.map as *mut libc::c_void, state::SIZE, libc::MS_SYNC) };
        Ok(odd + 1)
    }
}

/// The members the set's state file says are written (enabled or resyncing, programs'
/// failure marks counted), read from the file without mapping it; None when it cannot be
/// read (a set not in use yet).
pub fn written_members(c: &Config) -> Option<Vec<bool>> {
    let bytes = std::fs::read(state_path(c)).ok()?;
    let mut s = State::decode(&bytes, None).ok()?;
    let mask = u32::from_ne_bytes(bytes.get(state::FAILED_MASK_OFFSET..state::FAILED_MASK_OFFSET + 4)?.try_into().ok()?);
    fold_failed(&mut s, mask, false);
    Some(s.members.iter().map(|m| matches!(m.state, state::MemberState::Enabled | state::MemberState::Resyncing)).collect())
}

/// Members flagged failed by programs read as failed; when the flags become records, the
/// survivors' generations move on, as a disable would have done.
fn fold_failed(s: &mut State, mask: u32, for_good: bool) {
    let mut newly = false;
    for (i, m) in s.members.iter_mut().enumerate() {
        if mask & (1 << i) != 0 && m.state == state::MemberState::Enabled {
            m.state = state::MemberState::Failed;
            newly = true;
        }
    }
    if newly && for_good {
        for m in s.members.iter_mut().filter(|m| m.state == state::MemberState::Enabled) {
            m.generation += 1;
        }
    }
}

/// Slots of processes gone that a new process looks at (one `kill(pid, 0)` each) before it
/// takes a slot never used: enough to find one in a registry of gone processes, few enough
/// that thousands of processes starting together do not each ask about the others.
const REUSE_PROBES: usize = 8;

/// The mapped process registry.
pub struct Registry {
    map: *mut u8,
}
unsafe impl Send for Registry {}
unsafe impl Sync for Registry {}

/// One process's view of its registry slot.
pub struct Slot<'a> {
    pub pid: &'a AtomicU32,
    pub in_flight: &'a AtomicU32,
    pub seen_epoch: &'a AtomicU64,
    pub table_bytes: &'a AtomicU64,
    pub insecure_open: &'a AtomicU64,
    pub open_intents: &'a AtomicU32,
    pub told: &'a AtomicU32,
    pub boot: &'a AtomicU32,
    pub shared_maps: &'a AtomicU32,
    pub ops: &'a AtomicU64,
    pub queued: &'a AtomicU64,
}

impl Registry {
    pub fn open(c: &Config) -> Result<Registry, String> {
        Registry::open_path(&registry_path(c))
    }

    pub fn open_path(path: &std::path::Path) -> Result<Registry, String> {
        let shown = path.display().to_string();
        // Never truncated: other processes have it mapped.
        let file = open_or_make(path, OpenOptions::new().read(true).write(true)).map_err(|e| state_file_error(path, &e))?;
        let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        // Made its size, and every block allocated (a store into a hole of the mapping on a
        // full file system would be SIGBUS in the middle of the program), once: past a
        // file size limit of the process (`ulimit -f`) either would be SIGXFSZ.
        if meta.len() < registry::SIZE as u64 || meta.blocks() * 512 < registry::SIZE as u64 {
            let mut limit = libc::rlimit64 { rlim_cur: libc::RLIM64_INFINITY, rlim_max: libc::RLIM64_INFINITY };
            if unsafe { libc::getrlimit64(libc::RLIMIT_FSIZE, &mut limit) } == 0 && limit.rlim_cur < registry::SIZE as u64 {
                return Err(format!("{shown}: cannot be made {} bytes under this process's file size limit (RLIMIT_FSIZE, ulimit -f) of {} bytes: run shadowctl status once without the limit", registry::SIZE, limit.rlim_cur));
            }
            if meta.len() < registry::SIZE as u64 {
                file.set_len(registry::SIZE as u64).map_err(|e| format!("{shown}: {e}"))?;
            }
            let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, registry::SIZE as libc::off_t) };
            if r != 0 && r != libc::EOPNOTSUPP {
                return Err(format!("{shown}: cannot allocate: {}", std::io::Error::from_raw_os_error(r)));
            }
        }
        let map = map(&file, registry::SIZE).map_err(|e| format!("{shown}: {e}"))?;
        let r = Registry { map };
        let magic = unsafe { &*(map as *const AtomicU64) };
        let found = magic.load(Ordering::SeqCst);
        if found != registry::MAGIC && magic.compare_exchange(found, registry::MAGIC, Ordering::SeqCst, Ordering::SeqCst).is_ok() && found != 0 {
            // Another layout (an older version's): its slots mean nothing here.
            unsafe { std::ptr::write_bytes(map.add(8), 0, registry::SIZE - 8) };
        }
        Ok(r)
    }

    /// The lock word of stripe `i` of names (`i` below registry::NAME_STRIPES).
    pub fn name_lock(&self, i: usize) -> &AtomicU32 {
        self.lock_word(registry::NAME_LOCKS, i % registry::NAME_STRIPES)
    }

    /// The lock word of stripe `i` of files (`i` below registry::FILE_STRIPES).
    pub fn file_lock(&self, i: usize) -> &AtomicU32 {
        self.lock_word(registry::FILE_LOCKS, i % registry::FILE_STRIPES)
    }

    /// The queued-writes word of stripe `i` of files (registry::FILE_QUEUED).
    pub fn file_queued(&self, i: usize) -> &AtomicU32 {
        self.lock_word(registry::FILE_QUEUED, i % registry::FILE_STRIPES)
    }

    /// The word a rename of a directory or a symlink holds (registry::DIR_MOVES).
    pub fn dir_moves(&self) -> &AtomicU32 {
        self.lock_word(registry::DIR_MOVES, 0)
    }

    /// The count of directory and symlink renames begun or ended (registry::DIRS_MOVED).
    pub fn dirs_moved(&self) -> &AtomicU32 {
        self.lock_word(registry::DIRS_MOVED, 0)
    }

    /// The name operations under way in slot `i`'s process (registry::NAME_OPS).
    pub fn name_ops(&self, i: usize) -> &AtomicU32 {
        self.lock_word(registry::NAME_OPS, i % registry::SLOTS)
    }

    /// A slot (and its pid) whose process has name operations under way, if any.
    pub fn name_ops_busy(&self) -> Option<(usize, u32)> {
        (0..self.high()).find(|&i| self.name_ops(i).load(Ordering::SeqCst) != 0).map(|i| (i, self.slot(i).pid.load(Ordering::SeqCst)))
    }

    /// Entry `i` of the handoff table (registry::HANDOFFS): its pid, old fd, new fd, ticket.
    pub fn handoff(&self, i: usize) -> [&AtomicU32; 4] {
        let base = registry::HANDOFFS + (i % registry::HANDOFF_ENTRIES) * registry::HANDOFF_SIZE;
        [0, 1, 2, 3].map(|k| self.lock_word(base, k))
    }

    /// The next handoff claim's ticket (registry::HANDOFF_TICKETS), never 0.
    pub fn handoff_ticket(&self) -> u32 {
        loop {
            let t = self.lock_word(registry::HANDOFF_TICKETS, 0).fetch_add(1, Ordering::SeqCst).wrapping_add(1);
            if t != 0 {
                return t;
            }
        }
    }

    /// Whether every live process of the set has taken up `epoch` (or a later one).
    pub fn all_seen(&self, epoch: u64) -> bool {
        self.unseen(epoch).next().is_none()
    }

    /// The live processes of the set that have not taken up `epoch` yet.
    pub fn unseen(&self, epoch: u64) -> impl Iterator<Item = u32> + '_ {
        (0..self.high()).filter_map(move |i| {
            let s = self.slot(i);
            let pid = s.pid.load(Ordering::SeqCst);
            (pid != 0 && s.seen_epoch.load(Ordering::SeqCst) < epoch && process_alive(pid)).then_some(pid)
        })
    }

    fn lock_word(&self, table: usize, i: usize) -> &AtomicU32 {
        // SAFETY: inside the mapping (SIZE covers every table), aligned (the tables start at
        // multiples of 4), and only ever used atomically.
        unsafe { &*(self.map.add(table + i * 4) as *const AtomicU32) }
    }

    fn high_mark(&self) -> &AtomicU32 {
        unsafe { &*(self.map.add(registry::HIGH) as *const AtomicU32) }
    }

    /// Slots below this have been used; none above.
    fn high(&self) -> usize {
        (self.high_mark().load(Ordering::SeqCst) as usize).min(registry::SLOTS)
    }

    pub fn slot(&self, i: usize) -> Slot<'_> {
        let base = registry::HEADER + i * registry::SLOT_SIZE;
        unsafe {
            Slot {
                pid: &*(self.map.add(base + registry::PID) as *const AtomicU32),
                in_flight: &*(self.map.add(base + registry::IN_FLIGHT) as *const AtomicU32),
                seen_epoch: &*(self.map.add(base + registry::SEEN_EPOCH) as *const AtomicU64),
                table_bytes: &*(self.map.add(base + registry::TABLE_BYTES) as *const AtomicU64),
                insecure_open: &*(self.map.add(base + registry::INSECURE_OPEN) as *const AtomicU64),
                open_intents: &*(self.map.add(base + registry::OPEN_INTENTS) as *const AtomicU32),
                told: &*(self.map.add(base + registry::TOLD) as *const AtomicU32),
                boot: &*(self.map.add(base + registry::BOOT) as *const AtomicU32),
                shared_maps: &*(self.map.add(base + registry::SHARED_MAPS) as *const AtomicU32),
                ops: &*(self.map.add(base + registry::OPS) as *const AtomicU64),
                queued: &*(self.map.add(base + registry::QUEUED) as *const AtomicU64),
            }
        }
    }

    /// Claims a free slot (or one whose process is gone) for `pid`, and says whether the
    /// slot was a process's that died inside an operation (its count of operations in
    /// flight not back to 0: a change it made may be on the lead with nothing recorded of
    /// it). Allocation-free, so it
    /// can run in a fork child; it starts looking at a place the pid picks, and looks at
    /// empty slots before asking the kernel whether a slot's process still lives, so that
    /// thousands of processes starting together do not each scan the others.
    pub fn claim(&self, pid: u32, boot: u32) -> Option<(usize, bool)> {
        let busy = std::cell::Cell::new(false);
        self.claim_noting(pid, boot, &busy).map(|i| (i, busy.get()))
    }

    fn claim_noting(&self, pid: u32, boot: u32, died_busy: &std::cell::Cell<bool>) -> Option<usize> {
        // The same pid after exec: its old slot is ours (and nothing is in flight any more;
        // the new image counts the intents it uses itself). Only in the same boot: a slot of
        // an earlier boot with this pid was another process, gone with the machine. The
        // operations the exec cut short count as finished, so that `ops` says whether an
        // earlier image of this pid began any (see `earlier_image_worked`).
        for i in 0..self.high() {
            let s = self.slot(i);
            if s.pid.load(Ordering::SeqCst) == pid && s.boot.load(Ordering::SeqCst) == boot {
                if s.in_flight.swap(0, Ordering::SeqCst) != 0 {
                    s.ops.fetch_add(1, Ordering::SeqCst);
                }
                s.open_intents.store(0, Ordering::SeqCst);
                s.queued.store(0, Ordering::SeqCst);
                s.shared_maps.store(0, Ordering::SeqCst);
                self.name_ops(i).store(0, Ordering::SeqCst);
                return Some(i);
            }
        }
        let high = self.high();
        let start = (pid as usize).wrapping_mul(2_654_435_761) % high.max(1);
        let order = || (0..high).map(move |k| (start + k) % high);
        let take = |i: usize, cur: u32| {
            let s = self.slot(i);
            // The boot first: between the two, another claimer saw the slot taken by a live
            // pid with another boot's mark (or a never-used slot's 0), took it for a slot of
            // a process gone with the machine, and took it over from its live owner, which
            // then had no slot (so `disable` did not wait for it). Every claimer writes the
            // same mark, and one whose take fails leaves it on a slot of this boot's.
            s.boot.store(boot, Ordering::SeqCst);
            if s.pid.compare_exchange(cur, pid, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return false;
            }
            died_busy.set(died_busy.get() || s.in_flight.swap(0, Ordering::SeqCst) != 0);
            s.ops.store(0, Ordering::SeqCst);
            s.open_intents.store(0, Ordering::SeqCst);
            s.queued.store(0, Ordering::SeqCst);
            s.shared_maps.store(0, Ordering::SeqCst);
            self.name_ops(i).store(0, Ordering::SeqCst);
            s.told.store(0, Ordering::SeqCst);
            true
        };
        if let Some(i) = order().find(|&i| self.slot(i).pid.load(Ordering::SeqCst) == 0 && take(i, 0)) {
            return Some(i);
        }
        // A slot a process left as it ended cleanly (no intents), at the first
        // few places the pid picks, before a slot never used. A process does not free its
        // slot as it ends (its other threads may work until the exit, and only `reap`, at a
        // `shadowctl` change, frees them), so before, every process a set ever ran took a
        // slot of its own until the registry was full: then each start scanned 16,384 slots
        // (1 MiB), several times.
        let gone_clean = |i: usize| {
            let s = self.slot(i);
            let cur = s.pid.load(Ordering::SeqCst);
            // Another boot's process went with the machine, whatever runs under its pid now.
            let gone = s.boot.load(Ordering::SeqCst) != boot || !process_alive(cur);
            cur != 0 && cur != pid && s.open_intents.load(Ordering::SeqCst) == 0 && gone && take(i, cur)
        };
        if let Some(i) = order().take(REUSE_PROBES).find(|&i| gone_clean(i)) {
            return Some(i);
        }
        // A slot never used yet, past the mark.
        loop {
            let n = self.high_mark().load(Ordering::SeqCst);
            if n as usize >= registry::SLOTS {
                break;
            }
            if self.high_mark().compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() && take(n as usize, 0) {
                return Some(n as usize);
            }
        }
        // A crashed process's slot is kept for `recover` to see, unless nothing else is free.
        for keep_crashed in [true, false] {
            for i in order() {
                let s = self.slot(i);
                let cur = s.pid.load(Ordering::SeqCst);
                let crashed = s.open_intents.load(Ordering::SeqCst) != 0;
                let other_boot = s.boot.load(Ordering::SeqCst) != boot;
                let free = cur == 0 || (!(keep_crashed && crashed) && (other_boot || (cur != pid && !process_alive(cur))));
                if free && take(i, cur) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Whether slot `i`'s process, in this image or one before it (exec keeps the pid and
    /// the slot), has begun an operation since it claimed the slot, or since an exec from
    /// its only thread, which holds none, cleared the count: only then can it hold a lock
    /// word of the set (shim's stripes.rs).
    pub fn earlier_image_worked(&self, i: usize) -> bool {
        self.slot(i).ops.load(Ordering::SeqCst) != 0
    }

    /// Processes gone while holding write intents (kill -9, a crash): `recover` is due. A
    /// zombie is gone (it will never finish an operation; `live` leaves it out too, so
    /// `recover` repairs its intents and must then forget its slot: before, a killed writer
    /// not yet reaped was not listed, and once reaped was listed again after `recover`).
    /// The count is read again once the process is known gone: one that ended its intents
    /// and exited between the first read and the look at it did not crash (taking the first
    /// read reported a configure pipeline's `sort`). Allocation-free when there are none,
    /// for the shim's start-up.
    pub fn crashed(&self) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        for i in 0..self.high() {
            let s = self.slot(i);
            let pid = s.pid.load(Ordering::SeqCst);
            if pid == 0 || s.open_intents.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let gone = s.boot.load(Ordering::SeqCst) != boot_hash_cached() || !process_alive(pid) || is_zombie(pid);
            if gone && s.open_intents.load(Ordering::SeqCst) != 0 && s.pid.load(Ordering::SeqCst) == pid {
                out.push((i, pid));
            }
        }
        out
    }

    /// The boot a process (alive or dead, as long as its slot is kept) ran in.
    pub fn boot_of(&self, pid: u32) -> Option<u32> {
        (0..self.high()).map(|i| self.slot(i)).find(|s| s.pid.load(Ordering::SeqCst) == pid).map(|s| s.boot.load(Ordering::SeqCst))
    }

    /// `recover` has dealt with these crashed processes' intents: their slots are free.
    pub fn forget(&self, crashed: &[(usize, u32)]) {
        for &(i, pid) in crashed {
            let s = self.slot(i);
            // Only while the slot is still that process's (it may have been claimed since).
            if s.pid.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                s.open_intents.store(0, Ordering::SeqCst);
            }
        }
    }

    /// Live processes registered, with their slot (zombies are not alive: they will never
    /// finish an operation).
    pub fn live(&self) -> Vec<(usize, u32)> {
        (0..self.high())
            .filter_map(|i| {
                let s = self.slot(i);
                let pid = s.pid.load(Ordering::SeqCst);
                // A slot of an earlier boot names a process gone with the machine, whatever
                // now runs under its pid (0: written before slots recorded the boot).
                let boot = s.boot.load(Ordering::SeqCst);
                let this_boot = boot == 0 || boot == boot_hash_cached();
                (pid != 0 && this_boot && process_alive(pid) && !is_zombie(pid)).then_some((i, pid))
            })
            .collect()
    }

    /// Live processes holding shared mappings of the set's files open for writing (see
    /// `registry::SHARED_MAPS`).
    pub fn mapping_holders(&self) -> Vec<u32> {
        self.live().into_iter().filter(|&(i, _)| self.slot(i).shared_maps.load(Ordering::SeqCst) != 0).map(|(_, pid)| pid).collect()
    }

    /// Frees the slots of processes that are gone (but not of crashed ones: see `crashed`);
    /// whether one of them died inside an operation (see `claim`).
    pub fn reap(&self) -> bool {
        let mut died_busy = false;
        for i in 0..self.high() {
            let s = self.slot(i);
            let pid = s.pid.load(Ordering::SeqCst);
            if pid != 0 && s.open_intents.load(Ordering::SeqCst) == 0 && !process_alive(pid) && s.pid.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                died_busy |= s.in_flight.swap(0, Ordering::SeqCst) != 0;
            }
        }
        died_busy
    }

    /// Waits until every live process has either seen `epoch` or has no operation in
    /// flight: from then on none acts on an older state.
    pub fn wait_for(&self, epoch: u64, timeout: std::time::Duration) -> Result<(), Vec<u32>> {
        let start = std::time::Instant::now();
        loop {
            let lagging: Vec<u32> = self
                .live()
                .into_iter()
                .filter(|&(i, _)| {
                    let s = self.slot(i);
                    s.in_flight.load(Ordering::SeqCst) != 0 && s.seen_epoch.load(Ordering::SeqCst) < epoch
                })
                .map(|(_, pid)| pid)
                .collect();
            if lagging.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(lagging);
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

impl Registry {
    /// Whether some thread of a live process, other than the caller (which is in an
    /// operation, in slot `me`), is in the middle of an operation: a change it makes may
    /// still be on its way to the follower. A thread that is itself retrying on another's
    /// change counts too: its own change is half done (the lead has it), and a third
    /// process's may wait on it. Reads the mapped slots only (plus a liveness check of busy
    /// ones).
    pub fn busy_besides(&self, me: usize) -> bool {
        (0..self.high()).any(|i| {
            let s = self.slot(i);
            let pid = s.pid.load(Ordering::SeqCst);
            let mine = u32::from(i == me);
            pid != 0 && s.in_flight.load(Ordering::SeqCst) > mine && process_alive(pid)
        })
    }

    /// Waits until no live process has an operation in flight.
    pub fn wait_idle(&self, timeout: std::time::Duration) -> Result<(), Vec<u32>> {
        let start = std::time::Instant::now();
        loop {
            let busy: Vec<u32> = self.live().into_iter().filter(|&(i, _)| self.slot(i).in_flight.load(Ordering::SeqCst) != 0).map(|(_, p)| p).collect();
            if busy.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(busy);
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// Whether `pid` has ended but is not yet reaped. Its main thread alone may have ended
/// (`pthread_exit` from `main`): the kernel shows it a zombie while the process's other
/// threads run on, and such a process is alive (taken for dead, shadowctl did not wait for
/// its operations, and recover took its changes in flight for a crash's). Allocation-free
/// (`crashed` runs at the shim's start-up): names and contents fit buffers on the stack.
fn is_zombie(pid: u32) -> bool {
    let mut line = [0u8; 128];
    let line = read_proc(pid, "stat", &mut line);
    // "pid (comm) S ...": comm is at most 16 bytes, the state follows its last ')'.
    let state = line.iter().rposition(|&b| b == b')').and_then(|end| line[end + 1..].iter().find(|b| !b.is_ascii_whitespace()));
    if !state.is_some_and(|s| matches!(s, b'Z' | b'X')) {
        return false;
    }
    let mut status = [0u8; 4096];
    let status = read_proc(pid, "status", &mut status);
    let threads = status.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(b"Threads:")).and_then(|n| std::str::from_utf8(n).ok()?.trim().parse::<u32>().ok());
    threads.is_none_or(|n| n <= 1)
}

/// The start of `/proc/PID/WHAT`, in `buf` (empty if it cannot be read).
fn read_proc<'a>(pid: u32, what: &str, buf: &'a mut [u8]) -> &'a [u8] {
    use std::io::{Read, Write};
    use std::os::unix::ffi::OsStrExt;
    let mut name = [0u8; 40];
    let mut w = &mut name[..];
    if write!(w, "/proc/{pid}/{what}").is_err() {
        return &[];
    }
    let len = 40 - w.len();
    let Ok(mut f) = std::fs::File::open(std::ffi::OsStr::from_bytes(&name[..len])) else { return &[] };
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    &buf[..n]
}

/// Allocation-free (also used in fork children).
/// This boot of the machine: a hash of the kernel's boot id (0 where it cannot be read).
pub fn boot_hash() -> u32 {
    std::fs::read("/proc/sys/kernel/random/boot_id").map_or(0, |b| (crate::state::fnv1a(&b) as u32) | 1)
}

/// `boot_hash`, read once per process (it cannot change while the process runs). Set by
/// `set_boot_hash` where reading a file is not allowed later (a fork child).
static BOOT_HASH: AtomicU32 = AtomicU32::new(0);

pub fn set_boot_hash(h: u32) {
    BOOT_HASH.store(h, Ordering::Relaxed);
}

fn boot_hash_cached() -> u32 {
    let h = BOOT_HASH.load(Ordering::Relaxed);
    if h != 0 {
        return h;
    }
    let h = boot_hash();
    BOOT_HASH.store(h, Ordering::Relaxed);
    h
}

/// Whether `dir` is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT; false where the
/// kernel cannot tell).
pub fn is_mount_root(dir: &str) -> bool {
    let Ok(path) = std::ffi::CString::new(dir) else { return false };
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    if unsafe { libc::statx(libc::AT_FDCWD, path.as_ptr(), 0, libc::STATX_BASIC_STATS, &mut stx) } != 0 {
        return false;
    }
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    stx.stx_attributes_mask & bit != 0 && stx.stx_attributes & bit != 0
}

pub fn process_alive(pid: u32) -> bool {
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The set's lock file: byte 0 serialises shadowctl commands, byte 1 is what writers wait
/// on while the set is frozen. OFD locks, so they belong to the open file, not the process.
pub struct LockFile(File);

impl LockFile {
    pub fn open(c: &Config) -> Result<LockFile, String> {
        let path = lock_path(c);
        open_or_make(&path, OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC)).map(LockFile).map_err(|e| state_file_error(&path, &e))
    }

    pub fn fd(&self) -> libc::c_int {
        self.0.as_raw_fd()
    }

    pub fn into_fd(self) -> libc::c_int {
        use std::os::unix::io::IntoRawFd;
        self.0.into_raw_fd()
    }

    /// `kind`: F_RDLCK, F_WRLCK or F_UNLCK on one byte; waits.
    pub fn lock(&self, byte: i64, kind: libc::c_int) -> std::io::Result<()> {
        ofd_lock(self.fd(), byte, kind)
    }

    /// As `lock`, without waiting: false when another open file holds the byte.
    pub fn try_lock(&self, byte: i64, kind: libc::c_int) -> std::io::Result<bool> {
        match ofd_lock_as(self.fd(), byte, kind, libc::F_OFD_SETLK) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
            r => r.map(|_| true),
        }
    }
}

pub fn ofd_lock(fd: libc::c_int, byte: i64, kind: libc::c_int) -> std::io::Result<()> {
    ofd_lock_as(fd, byte, kind, libc::F_OFD_SETLKW)
}

fn ofd_lock_as(fd: libc::c_int, byte: i64, kind: libc::c_int, cmd: libc::c_int) -> std::io::Result<()> {
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    fl.l_start = byte;
    fl.l_len = 1;
    loop {
        if unsafe { libc::fcntl(fd, cmd, &fl) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> Registry {
        let dir = std::env::temp_dir().join(format!("shadow-registry-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Registry::open_path(&dir.join("registry")).unwrap()
    }

    #[test]
    fn threads_of_one_process_open_a_new_state_at_once() {
        // shadowctl watch opens the state from three threads at its start: on a state
        // directory no program had used yet, all but the first failed ("File exists").
        let dir = std::env::temp_dir().join(format!("shadow-state-threads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["p", "s", "st"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let text = format!("prefix = \"/shadow\"\nprimary = \"{0}/p\"\nsecondary = \"{0}/s\"\nstate_dir = \"{0}/st\"\n", dir.display());
        let config = crate::config::parse(&text, &dir.join("cfg.toml")).unwrap();
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            let opened: Vec<_> = (0..8).map(|_| s.spawn(|| {
                barrier.wait();
                SharedState::open(&config).map(drop)
            })).collect();
            for o in opened {
                assert_eq!(o.join().unwrap(), Ok(()));
            }
        });
        let left: Vec<_> = std::fs::read_dir(dir.join("st")).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().starts_with("state.new")).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_registry_refuses_a_new_process() {
        let r = scratch("full");
        let me = std::process::id();
        // Every slot taken by a live process (pid 1 stands for them all).
        for i in 0..registry::SLOTS {
            r.slot(i).pid.store(1, Ordering::SeqCst);
            r.slot(i).boot.store(7, Ordering::SeqCst);
        }
        r.high_mark().store(registry::SLOTS as u32, Ordering::SeqCst);
        assert_eq!(r.claim(me, 7).map(|(i, _)| i), None);
        r.slot(123).pid.store(0, Ordering::SeqCst);
        assert_eq!(r.claim(me, 7).map(|(i, _)| i), Some(123));
    }

    /// A pid no process has now: a child's, reaped.
    fn gone_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    }

    #[test]
    fn a_slot_left_clean_is_taken_again_before_a_new_one() {
        let r = scratch("reuse");
        let me = std::process::id();
        // Slot 0: gone cleanly; 1: gone with intents open (crashed); 2: a live process (pid 1).
        let (left, crashed, live) = (0, 1, 2);
        for (i, pid, intents) in [(left, gone_pid(), 0), (crashed, gone_pid(), 1), (live, 1, 0)] {
            r.slot(i).pid.store(pid, Ordering::SeqCst);
            r.slot(i).open_intents.store(intents, Ordering::SeqCst);
            r.slot(i).boot.store(7, Ordering::SeqCst);
        }
        r.high_mark().store(3, Ordering::SeqCst);
        assert_eq!(r.claim(me, 7).map(|(i, _)| i), Some(left), "the clean slot of a gone process is reused");
        assert_eq!(r.high(), 3, "and no slot never used is taken");
        assert_eq!(r.claim(me + 1, 7).map(|(i, _)| i), Some(3), "a crashed process's slot stays for recover, a live one's is its own");
        // (No process has pid me + 1: slot 3 goes to a live one, so that it is not taken next.)
        r.slot(3).pid.store(1, Ordering::SeqCst);
        // A slot of another boot: its process went with the machine, though pid 1 runs now.
        r.slot(live).boot.store(6, Ordering::SeqCst);
        assert_eq!(r.claim(me + 2, 7).map(|(i, _)| i), Some(live));
        assert_eq!(r.slot(live).boot.load(Ordering::SeqCst), 7);
    }

    #[test]
    fn a_process_gone_inside_an_operation_is_told_by_whoever_frees_its_slot() {
        let r = scratch("busy");
        let me = std::process::id();
        // Three slots of live processes (pid 1); each in turn made a gone one's.
        for i in 0..3 {
            r.slot(i).pid.store(1, Ordering::SeqCst);
            r.slot(i).boot.store(7, Ordering::SeqCst);
        }
        r.high_mark().store(3, Ordering::SeqCst);
        let gone = |i: usize, in_flight: u32| {
            r.slot(i).pid.store(gone_pid(), Ordering::SeqCst);
            r.slot(i).in_flight.store(in_flight, Ordering::SeqCst);
        };
        gone(0, 1);
        assert_eq!(r.claim(me, 7), Some((0, true)), "taken over from a process that died inside an operation");
        assert_eq!(r.slot(0).in_flight.load(Ordering::SeqCst), 0);
        r.slot(0).pid.store(1, Ordering::SeqCst);
        gone(1, 0);
        assert_eq!(r.claim(me + 1, 7), Some((1, false)), "one that died between operations");
        r.slot(1).pid.store(1, Ordering::SeqCst);
        gone(2, 2);
        assert!(r.reap(), "slot 2's process died inside an operation");
        assert!(!r.reap(), "told once");
    }

    #[test]
    fn processes_starting_at_once_each_keep_a_slot_of_their_own() {
        // 2,000 forked children on one set: status listed 1,998 (a CI run, 2026-12-05).
        // A claimer that had taken a slot but not yet written its boot looked, to another,
        // like a slot of another boot's process: the other took it over.
        let mut sleepers: Vec<_> = (0..16).map(|_| std::process::Command::new("sleep").arg("60").spawn().unwrap()).collect();
        let pids: Vec<u32> = sleepers.iter().map(|c| c.id()).collect();
        let mut lost = 0;
        for round in 0..300 {
            let r = scratch(&format!("race{round}"));
            let barrier = std::sync::Barrier::new(pids.len());
            let slots: Vec<usize> = std::thread::scope(|s| {
                let claims: Vec<_> = pids.iter().map(|&pid| {
                    let (r, barrier) = (&r, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        r.claim(pid, 7).map(|(i, _)| i).unwrap()
                    })
                }).collect();
                claims.into_iter().map(|c| c.join().unwrap()).collect()
            });
            let kept = pids.iter().zip(&slots).filter(|&(&pid, &i)| r.slot(i).pid.load(Ordering::SeqCst) == pid).count();
            lost += pids.len() - kept;
            drop(r);
            let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("shadow-registry-race{round}-{}", std::process::id())));
        }
        for c in &mut sleepers {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert_eq!(lost, 0, "slots taken over from a live claimer in 300 rounds of {} at once", pids.len());
    }

    #[test]
    fn an_exec_finds_whether_an_earlier_image_began_an_operation() {
        let r = scratch("image");
        let me = std::process::id();
        let i = r.claim(me, 7).map(|(i, _)| i).unwrap();
        r.slot(i).ops.store(9, Ordering::SeqCst);
        // Gone; taken by another process, which has done nothing yet.
        r.slot(i).pid.store(gone_pid(), Ordering::SeqCst);
        assert_eq!(r.claim(me + 1, 7).map(|(i, _)| i), Some(i));
        assert!(!r.earlier_image_worked(i), "a fresh claim starts from no operation");
        // An exec (same pid) of an image that did nothing.
        assert_eq!(r.claim(me + 1, 7).map(|(i, _)| i), Some(i));
        assert!(!r.earlier_image_worked(i));
        // One cut short by the exec, in its first operation.
        r.slot(i).in_flight.store(1, Ordering::SeqCst);
        assert_eq!(r.claim(me + 1, 7).map(|(i, _)| i), Some(i));
        assert_eq!(r.slot(i).in_flight.load(Ordering::SeqCst), 0);
        assert!(r.earlier_image_worked(i));
    }

    #[test]
    fn busy_are_other_threads_in_an_operation_waiting_or_not() {
        let r = scratch("busy");
        let me = r.claim(std::process::id(), 7).map(|(i, _)| i).unwrap();
        let other = r.claim(1, 7).map(|(i, _)| i).unwrap();
        let mine = r.slot(me);
        mine.in_flight.store(1, Ordering::SeqCst);
        assert!(!r.busy_besides(me), "the caller's own operation does not count");
        mine.in_flight.store(2, Ordering::SeqCst);
        assert!(r.busy_besides(me), "another thread of the same process in an operation does");
        mine.in_flight.store(1, Ordering::SeqCst);
        let s = r.slot(other);
        s.pid.store(1, Ordering::SeqCst);
        s.in_flight.store(1, Ordering::SeqCst);
        assert!(r.busy_besides(me), "another process in an operation (retrying or not) does");
        assert!(r.busy_besides(other), "seen from that process, this one does");
        s.in_flight.store(0, Ordering::SeqCst);
        assert!(!r.busy_besides(me));
    }
}
