//! The members as this process sees them, kept in step with the shared state file.
//!
//! Every hook that acts on a shadowed path or fd enters through `enter()`: it marks the
//! process as having an operation in flight (in its registry slot), and compares the
//! mapped epoch with the one it last applied — one atomic load when nothing changed. On a
//! change the new view is applied to every open file: the follower's fds are closed
//! (member disabled) or reopened (member enabled again), or, when the lead member changes,
//! the program's own fds are switched to the new lead's files at the same position.

use crate::handoff::Kind;
use crate::fdtable;
use crate::ocb::{self, HeldFd, Ocb};
use crate::real::{self, Errno, Res};
use crate::resolve::{Rel, Spath};
use crate::set;
use libc::c_int;
use shadow_core::config::OnMemberError;
use shadow_core::history::Code;
use shadow_core::shared::{ofd_lock, LockFile, Registry, SharedState};
use shadow_core::state::{MemberState, NameKind, State};
use shadow_core::vpath;
use shadow_core::Member;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// One consistent picture of the members.
pub struct View {
    /// Member directories (from the state file: `replace` can change them), primary first.
    pub dirs: Vec<Vec<u8>>,
    /// The same with symlinks resolved, as /proc/self/fd shows files inside them.
    pub canonical: Vec<Vec<u8>>,
    /// Answers reads and stat; the program's fds are its files.
    pub lead: Member,
    /// Also written, when enabled.
    pub follower: Option<Member>,
    /// Each member's generation: it changes whenever the member was brought back or
    /// rewritten, so a process that slept through a disable/enable (or replace) cycle still
    /// notices that its files on that member must be reopened.
    pub generations: Vec<u64>,
    /// The generation each member was last rewritten at by a resync (0: never; state file).
    pub rewritten: Vec<u64>,
    /// Each member's root was seen carrying the member stamp (state file).
    pub stamped: Vec<bool>,
    /// The root of each member being written, held open (O_PATH): every shadowed path is
    /// walked by the kernel from here, the cwd in it, or a directory fd in it.
    /// (An fd, or the error opening it; atomic so that the fd can move when the program
    /// dup2s onto its number.)
    roots: Vec<Result<std::sync::atomic::AtomicI32, Errno>>,
}

impl Drop for View {
    fn drop(&mut self) {
        for fd in self.roots.iter().filter_map(|r| r.as_ref().ok()) {
            ocb::close_internal(fd.load(Ordering::Relaxed));
        }
    }
}

impl View {
    fn from_state(s: &State) -> Option<View> {
        let lead = s.lead()?;
        let follower = Member::ALL.into_iter().find(|m| *m != lead && s.member(*m).state == MemberState::Enabled);
        let dirs: Vec<Vec<u8>> = s.members.iter().map(|m| vpath::absolute(b"/", m.dir.as_bytes())).collect();
        let written = |m: Member| m == lead || Some(m) == follower;
        // A member not written is not asked: it may be one that hangs, declared failed by
        // watch (a network mount whose server stopped answering), and every process takes
        // this view then.
        let canonical = Member::ALL
            .into_iter()
            .map(|m| {
                let d = &dirs[m.index()];
                let resolved = written(m).then(|| std::fs::canonicalize(&s.member(m).dir).ok()).flatten();
                resolved.map_or_else(|| d.clone(), |p| p.into_os_string().into_encoded_bytes())
            })
            .collect();
        let roots = Member::ALL
            .into_iter()
            .map(|m| {
                if !written(m) {
                    return Err(Errno(libc::ENODEV));
                }
                let dir = CString::new(dirs[m.index()].clone()).map_err(|_| Errno(libc::EINVAL))?;
                ocb::open_internal(|| real::open(&dir, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)).map(std::sync::atomic::AtomicI32::new)
            })
            .collect();
        Some(View { dirs, canonical, lead, follower, generations: s.members.iter().map(|m| m.generation).collect(), rewritten: s.members.iter().map(|m| m.rewritten).collect(), stamped: s.members.iter().map(|m| m.stamped).collect(), roots })
    }

    /// The held root of a member being written (its error if it could not be opened).
    pub fn root(&self, m: Member) -> Result<c_int, Errno> {
        self.roots[m.index()].as_ref().map(|fd| fd.load(Ordering::Relaxed)).map_err(|e| *e)
    }

    /// One of the shim's fds moved from `old` to `new` (see hooks::open::relocate_internal).
    pub fn relocate(&self, old: c_int, new: c_int) {
        for fd in self.roots.iter().filter_map(|r| r.as_ref().ok()) {
            let _ = fd.compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Member `m`'s files are not the ones a process held under `old` if it moved, or a
    /// resync rewrote it since (possibly while the process slept through every step). Its
    /// generation moving on alone is not that: it does when the other member leaves or
    /// fails and when it is a resync's source, and its files stay as they were. Before, a
    /// process asleep through `disable secondary` and `enable secondary` took its files on
    /// the primary for rewritten and opened again by name the ones programs had replaced
    /// meanwhile: an editor's save (`mv tmp f`) had the old file's writer write into the
    /// new one, on both members (found by helper-44).
    pub fn renewed(&self, old: &View, m: Member) -> bool {
        old.dirs[m.index()] != self.dirs[m.index()] || self.rewritten[m.index()] > old.generations[m.index()]
    }

    /// The members being written: the lead, then the follower if any.
    pub fn written(&self) -> impl Iterator<Item = Member> {
        std::iter::once(self.lead).chain(self.follower)
    }

    pub fn path(&self, m: Member, rel: &[u8]) -> CString {
        CString::new(vpath::join(&self.dirs[m.index()], rel)).unwrap_or_default()
    }

    /// `rel` of a real path inside the lead member, if it is inside.
    pub fn rel_in_lead(&self, real: &[u8]) -> Option<Vec<u8>> {
        self.under_lead(real).map(|r| r.to_vec())
    }

    /// `rel_in_lead`, borrowed from `real` (allocation-free).
    fn under_lead<'a>(&self, real: &'a [u8]) -> Option<&'a [u8]> {
        let i = self.lead.index();
        [&self.canonical[i], &self.dirs[i]].into_iter().find_map(|root| vpath::under_prefix(real, root))
    }

    /// `rel` of a real path inside any member.
    pub fn rel_in_any(&self, real: &[u8]) -> Option<Vec<u8>> {
        self.canonical.iter().chain(&self.dirs).find_map(|root| vpath::under_prefix(real, root)).map(|r| r.to_vec())
    }
}

/// The process-wide shared-state handles.
pub struct Shared {
    pub state: SharedState,
    pub registry: Registry,
    /// The set's lock file (OFD locks: `shadowctl` waits for operations in flight).
    pub lock: HeldFd,
    pub changes: HeldFd,
    pub journal: HeldFd,
    /// The history log, held open from the start: a program that changes its uid or root
    /// (setuid, chroot) still has its reports recorded.
    pub history: HeldFd,
}

/// One of the shim's fds moved from `old` to `new` (see hooks::open::relocate_internal).
pub fn relocate(old: c_int, new: c_int) {
    let s = shared();
    for held in [&s.lock, &s.changes, &s.journal, &s.history] {
        held.relocate(old, new);
    }
    view().relocate(old, new);
    crate::handoff::relocate(old, new);
    crate::hooks::lock::relocate_anchor(old, new);
}

static VIEW: RwLock<Option<Arc<View>>> = RwLock::new(None);
static APPLIED: AtomicU64 = AtomicU64::new(u64::MAX);
static SLOT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// This process's slot in the registry, once it has one.
pub fn own_slot() -> Option<usize> {
    Some(SLOT.load(Ordering::Relaxed)).filter(|&i| i != usize::MAX)
}
static APPLY: Mutex<()> = Mutex::new(());

/// Whether changes must be recorded for a member that is not being written:
/// 0 no, 1 the first change of each open file, 2 every change (a resync is catching up),
/// 3 every change, data writes with their byte ranges (the resync reads them).
static TRACKING: AtomicU8 = AtomicU8::new(0);

pub fn view() -> Arc<View> {
    VIEW.read().unwrap_or_else(|e| e.into_inner()).clone().expect("member view used before init")
}

/// `view`, if it can be had without waiting (from `_exit`, maybe in a signal handler).
pub fn view_now() -> Option<Arc<View>> {
    VIEW.try_read().ok()?.clone()
}

/// Where member `m`'s files of `v` lie (the member and its directory) as one number, never
/// 0: a description of the shim's own there is kept while the tree is still written.
pub fn tree_of(v: &View, m: Member) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (m.index(), &v.dirs[m.index()]).hash(&mut h);
    h.finish().max(1)
}

/// Whether `tree` (`tree_of`) is one of the trees being written now.
pub fn tree_written(tree: u64) -> bool {
    let v = view();
    tree != 0 && v.written().any(|m| tree_of(&v, m) == tree)
}

pub fn shared() -> &'static Shared {
    &set::get().shared
}

/// Opens the shared files and builds the first view. Errors name the file.
pub fn open(config: &shadow_core::config::Config) -> Result<Shared, String> {
    let state = SharedState::open(config)?;
    let registry = Registry::open(config)?;
    let opened = LockFile::open(config)?;
    // Into the shim's own fd range, where the program cannot close or dup2 over it.
    let lock = HeldFd::new(ocb::make_internal(opened.into_fd()));
    let append_only = |path: std::path::PathBuf| -> Result<c_int, String> {
        let made = shadow_core::shared::open_or_make(&path, std::os::unix::fs::OpenOptionsExt::custom_flags(std::fs::OpenOptions::new().append(true), libc::O_CLOEXEC));
        made.map(|f| ocb::make_internal(std::os::unix::io::IntoRawFd::into_raw_fd(f))).map_err(|e| shadow_core::shared::state_file_error(&path, &e))
    };
    let changes = append_only(shadow_core::shared::changes_path(config))?;
    let journal = append_only(shadow_core::shared::journal_path(config))?;
    let history = append_only(config.history_path())?;
    if real::fstat(journal).map(|st| st.st_size).unwrap_or(1) == 0 {
        let header = shadow_core::journal::file_header(state.set_id);
        real::state_write(journal, &header).map_err(|e| format!("{}: {}", shadow_core::shared::journal_path(config).display(), e.describe()))?;
    }
    Ok(Shared { state, registry, lock, changes: HeldFd::new(changes), journal: HeldFd::new(journal), history: HeldFd::new(history) })
}

/// First view and registry slot, at start-up.
pub fn init() -> Result<(), String> {
    let s = shared();
    let mut st = s.state.read().map_err(|e| format!("{}: {e}", s.state.path.display()))?;
    let unreachable = fail_unreachable(&st)?;
    if let Unreachable::Marked(_) = unreachable {
        st = s.state.read().map_err(|e| format!("{}: {e}", s.state.path.display()))?;
    }
    let v = loop {
        let v = View::from_state(&st).ok_or_else(|| format!("{}: no member is enabled; run `shadowctl -c {} enable primary` (or secondary: the one that holds the data)", s.state.path.display(), set::get().config_path.to_string_lossy()))?;
        match v.follower.is_some().then(|| refuse_diverged(&st)).transpose() {
            Ok(_) => break v,
            Err(e) => {
                // A member change between the state's reading and the stamps' (a disable
                // moves the survivor's stamp on after the state) is no divergence: looked at
                // again with the state it made. Before, a program starting just then was
                // refused (exit 125; found by a helper's hunt, 1 start in about 1,350 in a
                // loop beside a disable loop).
                let now = s.state.read().map_err(|e| format!("{}: {e}", s.state.path.display()))?;
                if now.epoch == st.epoch {
                    return Err(e);
                }
                st = now;
            }
        }
    };
    set_tracking(&st);
    // A new image keeps its pid across exec: its intent ids must not repeat those the old
    // image left open.
    let mut seed = [0u8; 4];
    unsafe { libc::getrandom(seed.as_mut_ptr().cast(), 4, libc::GRND_NONBLOCK) };
    INTENTS.store(u32::from_ne_bytes(seed) ^ (coarse_ms() as u32).wrapping_mul(2_654_435_761) | 1, Ordering::Relaxed);
    APPLIED.store(st.epoch, Ordering::SeqCst);
    *VIEW.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(v));
    BOOT.store(shadow_core::shared::boot_hash(), Ordering::Relaxed);
    shadow_core::shared::set_boot_hash(BOOT.load(Ordering::Relaxed));
    claim_slot();
    if s.registry.earlier_image_worked(SLOT.load(Ordering::Relaxed)) {
        crate::stripes::forget_earlier_image(std::process::id());
    }
    // Reported once the view exists (a report names the member paths).
    if let Unreachable::Marked(Some((survivor, dir, what))) = unreachable {
        survivor_moves_on(&dir, survivor);
        crate::report::record(Code::MemberFailed, &Rel(Vec::new()), &what);
    }
    tell_about_crashes();
    Ok(())
}

/// Both members are to be written, but their stamps say they no longer hold the same
/// contents: another state directory (another host) wrote one of them alone. Writing both
/// now would overwrite its changes, so the program does not start.
fn refuse_diverged(st: &State) -> Result<(), String> {
    use shadow_core::stamp::{relation_of, Relation};
    let (p, q) = (&st.member(Member::Primary).dir, &st.member(Member::Secondary).dir);
    match relation_of(p, q)? {
        Relation::InStep | Relation::Unknown => Ok(()),
        Relation::Ahead(m) => Err(format!("the {} member ({}) was written without the other since they were last in step (by another state directory?): run `shadowctl recover` to bring the other level", m.name(), st.member(m).dir)),
        Relation::SplitBrain => Err(format!("split brain: {p} and {q} were both written while apart: run `shadowctl status` to list the conflicts and `shadowctl recover --prefer …` to resolve them")),
    }
}

/// At start-up: an enabled member that is down or gone (`config::member_unreachable`: a
/// network mount whose server is gone, a disk not mounted under its mount point, the
/// directory moved away; the set is in use, or the config check would have refused it) is
/// marked failed while the other is written, as the first operation on it would have done.
/// Returns what is left to do once the view exists when this process was the one to mark
/// it: the survivor, its directory, the report. Refused (the program does not start) when
/// no member that is written can be reached, or one cannot under `on_member_error = "fail"`.
fn fail_unreachable(st: &State) -> Result<Unreachable, String> {
    let set = set::get();
    let enabled: Vec<Member> = Member::ALL.into_iter().filter(|m| st.member(*m).state == MemberState::Enabled).collect();
    let gone: Vec<(Member, String)> = enabled
        .iter()
        .filter_map(|&m| {
            let looked = std::fs::metadata(&st.member(m).dir);
            shadow_core::config::member_unreachable(&looked, &set.config.failure_errors, true)
                .then(|| (m, looked.map_or_else(|e| e.to_string(), |_| "not a directory".to_string())))
        })
        .collect();
    let Some((m, why)) = gone.first() else { return Ok(Unreachable::None) };
    let named = || gone.iter().map(|(m, why)| format!("{} ({}): {why}", m.name(), st.member(*m).dir)).collect::<Vec<_>>().join("; ");
    if gone.len() == enabled.len() {
        return Err(format!("no member that is written can be reached: {}", named()));
    }
    if set.config.on_member_error != OnMemberError::Degrade {
        return Err(format!("a member cannot be reached and on_member_error is \"fail\": {}", named()));
    }
    let other = Member::ALL.into_iter().find(|x| x != m).expect("two members");
    let report = shared().state.mark_failed(m.index()).then(|| (other, st.member(other).dir.clone(), format!("{} failed, no longer written: unreachable at start-up: {why}", m.name())));
    Ok(Unreachable::Marked(report))
}

enum Unreachable {
    None,
    /// A member was marked failed; `Some` when this process did it and must report it.
    Marked(Option<(Member, String, String)>),
}

/// The member left standing goes on alone: its stamp moves on first (see shadow_core::stamp).
fn survivor_moves_on(dir: &str, survivor: Member) {
    if let Err(e) = shadow_core::stamp::survivor_moves_on(dir, shared().state.set_id) {
        crate::report::record(Code::MemberFailed, &Rel(Vec::new()), &format!("{} carries on, but its stamp could not be updated: {e}", survivor.name()));
    }
}

fn set_tracking(st: &State) {
    TRACKING.store(tracking_of(st), Ordering::SeqCst);
}

/// `TRACKING` for state `st`.
fn tracking_of(st: &State) -> u8 {
    if let Some(m) = st.members.iter().find(|m| m.state == MemberState::Resyncing) {
        2 + m.reads_ranges as u8
    } else if st.members.iter().any(|m| m.state != MemberState::Enabled) {
        1
    } else {
        0
    }
}

/// Also in a fork child (new pid): allocation-free.
pub fn claim_slot() {
    PID.store(std::process::id(), Ordering::SeqCst);
    let s = shared();
    match s.registry.claim(std::process::id(), BOOT.load(Ordering::Relaxed)) {
        Some((slot, died_busy)) => {
            SLOT.store(slot, Ordering::SeqCst);
            // Its process died inside an operation, which may have changed the lead before
            // recording it for a member away (changes are recorded once made): the next
            // enable scans everything. shadowctl does the same where it frees such a slot.
            if died_busy && tracking() {
                s.state.mark_changes_lost();
            }
            // A fork child made inside an operation (the raw fork system call's hook) leaves
            // it in its own slot.
            let n = IN_OPERATION.with(std::cell::Cell::get);
            if n > 0 {
                s.registry.slot(slot).in_flight.store(n, Ordering::SeqCst);
            }
        }
        // A process no `shadowctl disable` could wait for must not write the members.
        None => refuse_without_slot(),
    }
    publish_usage();
}

/// Every registry slot is taken by a live process: this one does not run (exit 125, one
/// line on stderr), whether it is a new program or a fork child. Allocation-free.
fn refuse_without_slot() -> ! {
    let msg = b"libshadow: every registry slot of this shadow set is taken by a running process (state_dir/registry); refusing to run un-waited-for\n";
    let _ = real::write(2, msg);
    real::exit_group(crate::report::EXIT_REFUSED)
}

/// The follower answered "no such entry" (or "exists", "not empty", "not a directory")
/// where the lead did the change: another process's change may be between the two members
/// (it created the directory on the lead, not yet on the follower). `again` is tried while
/// some other process or thread is in the middle of an operation, with growing pauses, for
/// up to 2 s. One that is itself retrying is waited for too: `mkdir -p` by several processes
/// makes chains (this one's `a/b/c` waits on one's `a/b`, which waits on another's `a`).
/// The single-process path gains one atomic increment per operation (the registry's
/// operation count) and nothing else.
pub fn retry_racing<T>(first: Option<Res<T>>, again: impl Fn() -> Option<Res<T>>) -> Option<Res<T>> {
    let racy = |r: &Option<Res<T>>| matches!(r, Some(Err(Errno(libc::ENOENT | libc::EEXIST | libc::ENOTEMPTY | libc::ENOTDIR))));
    if !racy(&first) {
        return first;
    }
    let me = SLOT.load(Ordering::Relaxed);
    let reg = &shared().registry;
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_micros(20);
    let mut r = first;
    while racy(&r) {
        let busy = reg.busy_besides(me);
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(2));
        // Nobody was on the way, or time is up: this answer stands.
        let last = !busy || start.elapsed() >= std::time::Duration::from_secs(2);
        LAST_TRY.with(|l| l.set(last));
        r = again();
        LAST_TRY.with(|l| l.set(false));
        if last {
            break;
        }
    }
    r
}

/// Runs `exec` (an exec hook's whole call) with this thread marked as about to replace its
/// image: a member change applied meanwhile takes no lock again on a file the exec closes.
pub fn executing<T>(exec: impl FnOnce() -> T) -> T {
    EXECUTING.with(|e| e.set(true));
    let r = exec();
    EXECUTING.with(|e| e.set(false));
    r
}

thread_local! {
    /// The thread is in an exec hook (`executing`).
    static EXECUTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// `retry_racing` is making its last try.
    static LAST_TRY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The follower's names differ from what the lead's change found: an entry where the lead
/// had none (an exclusive create, or a rename that replaced nothing, answered EEXIST there),
/// or none where the lead had one (an O_CREAT open found the file on the lead). While
/// another process or thread is in the middle of an operation, it may be that one's change
/// on its way to the follower (process A unlinked `x` on the lead, B created `x` there; A's
/// unlink on the follower is still to come): the caller answers the error and
/// `retry_racing` tries again. On its last try (nobody on the way any more, or 2 s gone) the
/// difference is stale (an earlier failure left it), and the caller makes its change
/// regardless, as the lead's did.
pub fn follower_entry_is_stale() -> bool {
    LAST_TRY.with(std::cell::Cell::get)
}

static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// This boot of the machine, for the registry slot (see shadow_core::state::registry::BOOT).
static BOOT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static INTENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// A directory whose entries may differ between the members until its intent is ended:
/// md's write-intent bitmap at file-system scale, the directory being the chunk. Marked
/// before the first change below it, it stays marked while a file in it is open for
/// writing and for LINGER_MS after the last use, so a stream of changes in one directory
/// costs one journal record (and one flush), not one per file.
struct Hot {
    dir: Vec<u8>,
    id: u64,
    users: u32,
    /// Coarse monotonic milliseconds when the last user left (0: in use).
    idle_since: u64,
    /// Entries recorded (Touch) as changing under this intent, with the follower's inode
    /// once known, up to MAX_TOUCHED; past that, `whole`: the directory is compared whole.
    touched: Vec<(Vec<u8>, u64)>,
    whole: bool,
}

/// Entries listed per directory intent before it stands for the whole directory: enough for
/// a program's own files, few enough that a storm of creates costs next to nothing.
const MAX_TOUCHED: usize = 32;

static HOT: Mutex<Vec<Hot>> = Mutex::new(Vec::new());
const LINGER_MS: u64 = 2000;

pub fn coarse_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000).max(1)
}

fn hot() -> std::sync::MutexGuard<'static, Vec<Hot>> {
    let mut hot = HOT.lock().unwrap_or_else(|e| e.into_inner());
    if FORGET_HOT.swap(false, Ordering::Relaxed) {
        std::mem::forget(std::mem::take(&mut *hot));
    }
    hot
}

/// Set in a fork child that found the table locked (a fork from a signal handler that
/// interrupted this thread while it held it): the table is forgotten once it is free.
static FORGET_HOT: AtomicBool = AtomicBool::new(false);

/// When the next unused intent is due to end (coarse ms; u64::MAX: none): the table is
/// looked through only then, not at every change.
static NEXT_RETIRE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Ends the intents nobody has used for LINGER_MS (all unused ones when `all`).
fn retire(hot: &mut Vec<Hot>, now: u64, all: bool) {
    if !all && now < NEXT_RETIRE.load(Ordering::Relaxed) {
        return;
    }
    let mut next = u64::MAX;
    hot.retain(|h| {
        let done = h.users == 0 && (all || now.saturating_sub(h.idle_since) >= LINGER_MS);
        if done {
            // The directory's changes have settled: its times on the follower become the
            // lead's (each kernel moved its own at every change).
            crate::hooks::namespace::copy_entry_times(&Spath::from_rel(Rel(h.dir.clone())));
            let _ = real::state_write(shared().journal.get(), &shadow_core::journal::Record::End { id: h.id }.encode());
        } else if h.users == 0 {
            next = next.min(h.idle_since + LINGER_MS);
        }
        !done
    });
    NEXT_RETIRE.store(next, Ordering::Relaxed);
}

/// How many intents this process is using (a lingering one is done: both members agree),
/// in its registry slot: should it die using some, `shadowctl` (status, watch) and the next
/// program know that `recover` is due.
fn publish_intents(hot: &[Hot]) {
    let i = SLOT.load(Ordering::Relaxed);
    if i != usize::MAX {
        let n = hot.iter().filter(|h| h.users > 0).count() as u32;
        shared().registry.slot(i).open_intents.store(n, Ordering::Relaxed);
    }
}

/// Processes that died holding write intents: the user must know that `shadowctl recover`
/// is due (shadow-run and `shadowctl watch` run it themselves). Told once per process, in
/// the history and on stderr.
fn tell_about_crashes() {
    let reg = &shared().registry;
    for (i, pid) in reg.crashed() {
        if reg.slot(i).told.swap(1, Ordering::SeqCst) == 0 {
            // Its name, while the kernel still has it (a zombie not yet reaped).
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|n| format!(" ({})", n.trim_end())).unwrap_or_default();
            crate::report::record(
                Code::RecoverNeeded,
                &Rel(Vec::new()),
                &format!("process {pid}{name} ended with changes in flight: the members may differ until `shadowctl -c {} recover` runs", set::get().config_path.to_string_lossy()),
            );
        }
    }
}

/// Marks the directory holding `rel` in flight before `rel` changes on members that must
/// stay identical; returns the intent to end (0 when no follower is written: then nothing
/// can diverge). After a crash, `recover` compares and repairs each marked directory's
/// entries.
pub fn intent_begin(rel: &Rel) -> u64 {
    begin(rel, set::get().config.journal_sync)
}

/// An intent for what only a crash (not a power failure) can leave in doubt: written, not
/// flushed (the loader's messages in the moment of an exec; see `prepare_exec`).
fn intent_begin_unflushed(rel: &Rel) -> u64 {
    begin(rel, false)
}

/// An intent on every entry of directory `dir`: a change reached one of them on the lead
/// alone, which one unknown (`Ocb::reached_unseen` of a directory's open). `recover`
/// compares the directory whole.
pub fn intent_begin_entries(dir: &Rel) -> u64 {
    begin_in(dir.0.clone(), None, dir, set::get().config.journal_sync)
}

fn begin(rel: &Rel, flush: bool) -> u64 {
    begin_in(vpath::parent(&rel.0).to_vec(), Some(&rel.0), rel, flush)
}

/// An intent on `entry` of directory `dir` (None: on all of them); `rel` names the change
/// in a report.
fn begin_in(dir: Vec<u8>, entry: Option<&[u8]>, rel: &Rel, flush: bool) -> u64 {
    if view().follower.is_none() {
        return 0;
    }
    let now = coarse_ms();
    let mut hot = hot();
    retire(&mut hot, now, false);
    if let Some(h) = hot.iter_mut().find(|h| h.dir == dir) {
        h.users += 1;
        h.idle_since = 0;
        touch(h, entry);
        let id = h.id;
        publish_intents(&hot);
        return id;
    }
    let id = shadow_core::journal::intent_id(PID.load(Ordering::Relaxed), INTENTS.fetch_add(1, Ordering::Relaxed));
    let rec = shadow_core::journal::Record::Begin { id, path: dir.clone() }.encode();
    // Before the change: after a crash this directory is known to be in doubt. With
    // journal_sync (the default) the record is on stable storage first, so this holds after
    // a power failure too.
    let fd = shared().journal.get();
    match real::state_write(fd, &rec) {
        Ok(_) if flush => {
            let _ = real::fdatasync(fd);
        }
        Ok(_) => {}
        // The change goes ahead (the program must not notice), but recover must now look
        // at everything.
        Err(e) if !shared().state.mark_journal_lost() => {
            crate::report::record(Code::ChangeListFailed, rel, &format!("write-intent journal: {}: the next `shadowctl recover` verifies everything", e.describe()));
        }
        Err(_) => {}
    }
    let mut h = Hot { dir, id, users: 1, idle_since: 0, touched: Vec::new(), whole: false };
    touch(&mut h, entry);
    hot.push(h);
    publish_intents(&hot);
    id
}

/// Records which entry of the directory changes, so that recover after a kill -9 compares
/// that entry alone (None: the whole directory). Not flushed: after a power failure the
/// directory is compared whole.
fn touch(h: &mut Hot, entry: Option<&[u8]>) {
    if h.whole || entry.is_some_and(|rel| h.touched.iter().any(|t| t.0 == rel)) {
        return;
    }
    // Past MAX_TOUCHED: the whole directory.
    let path = match entry {
        Some(rel) if h.touched.len() < MAX_TOUCHED => rel.to_vec(),
        _ => Vec::new(),
    };
    if path.is_empty() {
        h.whole = true;
    } else {
        h.touched.push((path.clone(), 0));
    }
    write_touch(h, path, 0);
}

fn write_touch(h: &mut Hot, path: Vec<u8>, ino: u64) {
    if real::state_write(shared().journal.get(), &shadow_core::journal::Record::Touch { id: h.id, path, ino }.encode()).is_err() {
        // The list is incomplete now; the flag makes recover look at everything.
        h.whole = true;
        shared().state.mark_journal_lost();
    }
}

/// An open file's entry under intent `id`: its inode on a member, so that recover can
/// tell when the file was renamed or replaced while open (then it compares the directory).
/// Asked for (one fstat) only while the entry is listed without it.
pub fn note_inode(id: u64, rel: &Rel, ino: impl FnOnce() -> Option<u64>) {
    if id == 0 {
        return;
    }
    let mut hot = hot();
    let Some(h) = hot.iter_mut().find(|h| h.id == id && !h.whole) else { return };
    let Some(entry) = h.touched.iter_mut().find(|t| t.0 == rel.0 && t.1 == 0) else { return };
    let Some(ino) = ino() else { return };
    entry.1 = ino;
    write_touch(h, rel.0.clone(), ino);
}

/// One user of intent `id` is done, both members holding the same result.
pub fn intent_end(id: u64) {
    if id == 0 {
        return;
    }
    let now = coarse_ms();
    let mut hot = hot();
    if let Some(h) = hot.iter_mut().find(|h| h.id == id && h.users > 0) {
        h.users -= 1;
        if h.users == 0 {
            h.idle_since = now;
            NEXT_RETIRE.fetch_min(now + LINGER_MS, Ordering::Relaxed);
            publish_intents(&hot);
        }
    }
    retire(&mut hot, now, false);
}

/// What an exec hands the new image: the write intents of the files it inherits open for
/// writing (`ids`; the new image ends them once it has brought the files level:
/// `end_carried_intents`), those begun here for it (`begun`: ended if the exec fails, as
/// this image goes on), and those files.
#[derive(Default)]
pub struct Carried {
    pub ids: Vec<u64>,
    pub begun: Vec<u64>,
    pub files: Vec<Arc<Ocb>>,
    /// For each file the new image inherits: an fd of it the new image keeps, and the
    /// follower's fd, which can go with it (see `hooks::process::FollowersAcross`).
    pub followers: Vec<(c_int, c_int)>,
}

/// Before an exec. Files only this image holds (all their fds close on exec) are settled
/// as at a last close. Files the new image inherits open for writing may be written by the
/// loader before the new image's shim starts (ld.so's messages to a shadowed stderr), on
/// the lead only: their directories stay marked in flight and published, so that a new
/// image that dies before its start leaves `recover` due.
pub fn prepare_exec() -> Carried {
    // The new image's opens record parts of their own.
    crate::outage::end_all();
    crate::hooks::lock::before_exec(|ocb| fdtable::all().into_iter().find(|(_, o)| Arc::as_ptr(o) as usize == ocb).map(|(fd, _)| fd));
    let mut by_ocb: Vec<(Arc<Ocb>, Vec<c_int>)> = Vec::new();
    for (fd, o) in fdtable::all() {
        match by_ocb.iter_mut().find(|(x, _)| Arc::ptr_eq(x, &o)) {
            Some((_, fds)) => fds.push(fd),
            None => by_ocb.push((o, vec![fd])),
        }
    }
    let mut carried = Carried::default();
    for (ocb, fds) in by_ocb {
        let kept = fds.iter().copied().find(|&fd| real::fcntl(fd, libc::F_GETFD, 0).is_ok_and(|f| f & libc::FD_CLOEXEC == 0));
        // The shim's readable fd on the lead's file closes on exec, and with it, natively
        // not, the process's POSIX locks on the file: closed now, the locks taken again
        // through the fd the new image keeps (a pidfile opened write-only, locked, then
        // written by copy_file_range: the lock was gone in the re-exec'd daemon).
        if let (Some(keep), Some(reader)) = (kept, ocb.take_reader()) {
            crate::hooks::lock::close_keeping_locks(reader, Some(keep));
        }
        if kept.is_none() {
            ocb.settle(fds[0]);
        } else if ocb.secondary_fd().is_some() {
            ocb.settle_carried(fds[0]);
            match ocb.intent_id() {
                Some(id) => carried.ids.push(id),
                None => carried.begun.push(intent_begin_unflushed(&ocb.rel())),
            }
            carried.files.push(ocb);
        }
    }
    carried.followers = inherited_followers();
    carried.begun.retain(|&id| id != 0);
    carried.ids.extend(&carried.begun);
    carried.ids.sort_unstable();
    carried.ids.dedup();
    carried
}

/// The program's fds a new image or a spawned child inherits (not close-on-exec) on files
/// with a follower's fd, each with that fd (see `hooks::process::FollowersAcross`).
pub fn inherited_followers() -> Vec<(c_int, c_int)> {
    let inherited = |fd: c_int| real::fcntl(fd, libc::F_GETFD, 0).is_ok_and(|f| f & libc::FD_CLOEXEC == 0);
    fdtable::pick(|fd, o| (!o.is_dir() && inherited(fd)).then(|| Some((fd, o.secondary_fd()?))).flatten())
}

/// Before an exec of a program that runs without the shim (`why`: which, and why): the
/// files it inherits open for writing (`files`, from `prepare_exec`) are written on the
/// lead alone from now on. Each is reported insecure at once (this image never reaches
/// its last close) and its intent stays open (no shim in the new image ends it), so
/// `recover` is due. Before, nothing named the cause: the new image's end was taken for a
/// crash.
pub fn exec_without_shim(files: &[Arc<Ocb>], why: &str) {
    for ocb in files.iter().filter(|o| o.flags() & libc::O_ACCMODE != libc::O_RDONLY) {
        ocb.mark_insecure_because(format!("inherited open for writing by {why}"));
        ocb.report_insecure_now();
    }
}

/// In a new image, once the inherited files are level: the intents the old image carried
/// across exec are over.
pub fn end_carried_intents(ids: &[u64]) {
    for &id in ids {
        let _ = real::state_write(shared().journal.get(), &shadow_core::journal::Record::End { id }.encode());
    }
}

/// At exit and before exec: end every intent no file holds any more.
pub fn retire_unused_intents() {
    retire(&mut hot(), coarse_ms(), true);
}

/// The epoch of the set's state this process applied last (a change applied since moves
/// it).
pub fn applied_epoch() -> u64 {
    APPLIED.load(Ordering::SeqCst)
}

/// From `_exit`: whether this process applied the set's state as it is now. A change
/// `shadowctl` made since the process's last hook is applied at its next one, which
/// `_exit` cannot be (applying allocates): its follower fds may be a member no longer
/// written, which no process may write once the change is made.
pub fn state_applied_now() -> bool {
    shared().state.epoch() == APPLIED.load(Ordering::SeqCst)
}

/// From `_exit` or a death: whether an operation of this process is in flight, on any
/// thread (one waiting for another process counts as none: it has changed nothing yet).
pub fn operation_in_flight_now() -> bool {
    own_slot().is_some_and(|i| shared().registry.slot(i).in_flight.load(Ordering::SeqCst) != 0)
}

/// From `_exit`, the state not applied (`state_applied_now`): nothing reaches the
/// follower. Files this process has in flight stay `recover`'s (their intents open), and
/// the change list, which may lack them, is marked incomplete, so the next dirty enable
/// scans the tree (before, a shared mapping's stores were copied into a secondary disabled
/// after the process's last hook, and were on no list for its enable).
pub fn leave_in_flight_now() {
    if own_slot().is_some_and(|i| shared().registry.slot(i).open_intents.load(Ordering::Relaxed) != 0) {
        shared().state.mark_changes_lost();
    }
}

/// From `_exit` (possibly in a signal handler that interrupted anything, malloc included):
/// allocation-free and never blocking. The intents of files still open and not insecure
/// are done (their writes reached both members), as a last close would have found; every
/// intent left unused is ended. Whatever cannot be had at once stays open for recover.
pub fn end_intents_on_exit() {
    let Ok(view) = VIEW.try_read() else { return };
    if view.is_none() {
        return;
    }
    let Ok(mut hot) = HOT.try_lock() else { return };
    let mut end = |ocb: &crate::ocb::Ocb| {
        if let Some(id) = ocb.take_clean_intent() {
            if let Some(h) = hot.iter_mut().find(|h| h.id == id && h.users > 0) {
                h.users -= 1;
            }
        }
    };
    fdtable::for_each_ocb_now(&mut end);
    crate::hooks::data::for_each_mapped_ocb_now(|_, ocb| end(ocb));
    let fd = shared().journal.get();
    for h in hot.iter_mut().filter(|h| h.users == 0 && h.idle_since != u64::MAX) {
        let _ = real::state_write(fd, &shadow_core::journal::end_record(h.id));
        h.idle_since = u64::MAX;
    }
    publish_intents(&hot);
}

/// From the shim's handler of a signal that dumps core, the process dying of it under the
/// default action (signals.rs): where the kernel is to write the core file into the working
/// directory, which under the prefix is the lead's directory alone, that directory is
/// marked in flight, whole, so that `recover` (which the crash's report asks for) brings
/// the core to the follower. Allocation-free and never blocking; what cannot be told at
/// once marks the journal lost (`recover` then verifies everything).
pub fn dying_with_core() {
    use shadow_core::coredump::{place, CorePlace, MIN_LIMIT};
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    let dumps = unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 && libc::prctl(libc::PR_GET_DUMPABLE) > 0 };
    if !dumps || limit.rlim_cur < MIN_LIMIT {
        return;
    }
    let mut dir = [0u8; 1024];
    let here = crate::resolve::cwd_rel_now(&mut dir);
    // The working directory is outside the prefix: nothing of the set's is written.
    if here == Some(None) {
        return;
    }
    match VIEW.try_read() {
        // Without a follower being written there is nothing to bring level.
        Ok(view) if view.as_ref().is_none_or(|v| v.follower.is_none()) => return,
        Ok(_) => {}
        Err(_) => return in_doubt_everywhere(),
    }
    let mut pattern = [0u8; 256];
    let read = real::open(c"/proc/sys/kernel/core_pattern", libc::O_RDONLY | libc::O_CLOEXEC, 0).and_then(|fd| {
        let n = real::read(fd, &mut pattern);
        let _ = real::close(fd);
        n
    });
    let n = match (read.map(|n| place(&pattern[..n])), here) {
        (Ok(CorePlace::Elsewhere), _) => return,
        (Ok(CorePlace::WorkingDirectory), Some(Some(n))) => n,
        _ => return in_doubt_everywhere(),
    };
    let mut rec = [0u8; 1100];
    let id = shadow_core::journal::intent_id(PID.load(Ordering::Relaxed), INTENTS.fetch_add(1, Ordering::Relaxed));
    let fd = shared().journal.get();
    let written = shadow_core::journal::whole_dir_intent(id, &dir[..n], &mut rec).is_some_and(|len| real::state_write(fd, &rec[..len]).is_ok());
    if !written {
        return in_doubt_everywhere();
    }
    if set::get().config.journal_sync {
        let _ = real::fdatasync(fd);
    }
    count_crash_intent();
}

/// `dying_with_core` cannot name the directory a core lands in: the journal is marked lost
/// (`recover` then verifies everything).
fn in_doubt_everywhere() {
    shared().state.mark_journal_lost();
    count_crash_intent();
}

/// An intent of a process about to die, counted among its open ones, so that its end is
/// taken for the crash it is (reported, and `recover` due).
fn count_crash_intent() {
    let i = SLOT.load(Ordering::Relaxed);
    if i != usize::MAX {
        shared().registry.slot(i).open_intents.fetch_add(1, Ordering::Relaxed);
    }
}

/// In a fork child: the parent's intents are the parent's to end; the child starts afresh
/// (without freeing what it inherited: nothing may allocate or free here).
pub fn forget_inherited_intents() {
    match HOT.try_lock() {
        Ok(mut hot) => std::mem::forget(std::mem::take(&mut *hot)),
        Err(std::sync::TryLockError::Poisoned(p)) => std::mem::forget(std::mem::take(&mut *p.into_inner())),
        Err(std::sync::TryLockError::WouldBlock) => FORGET_HOT.store(true, Ordering::Relaxed),
    }
}

static TABLE_BYTES: AtomicU64 = AtomicU64::new(0);
static INSECURE_OPEN: AtomicU64 = AtomicU64::new(0);

/// What an OCB costs in the tables: the OCB, its Arc's counts, one link (a slot of the fd
/// table) and its per-inode order lock with that lock's map entry.
const OCB_COST: u64 = (std::mem::size_of::<Ocb>() + 16 + 8 + 64) as u64;

/// Accounts for an OCB created (+1) or dropped (-1), and a pending insecure report.
pub fn account(ocbs: i64, insecure: i64) {
    let add = |c: &AtomicU64, d: i64| {
        if d >= 0 { c.fetch_add(d as u64, Ordering::Relaxed) } else { c.fetch_sub((-d) as u64, Ordering::Relaxed) }
    };
    add(&TABLE_BYTES, ocbs * OCB_COST as i64);
    add(&INSECURE_OPEN, insecure);
    publish_usage();
}

fn publish_usage() {
    let i = SLOT.load(Ordering::Relaxed);
    if i != usize::MAX {
        if let Some(set) = set::try_get() {
            let slot = set.shared.registry.slot(i);
            slot.table_bytes.store(TABLE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed);
            slot.insecure_open.store(INSECURE_OPEN.load(Ordering::Relaxed), Ordering::Relaxed);
            slot.shared_maps.store(SHARED_MAPS.load(Ordering::Relaxed), Ordering::SeqCst);
        }
    }
}

/// Shared mappings of the set's files open for writing this process holds (a fork child
/// inherits them with the count).
static SHARED_MAPS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The process now holds `n` such mappings: published for `shadowctl`, which must not
/// change the lead under them (their pages stay one member's file).
pub fn publish_mappings(n: usize) {
    SHARED_MAPS.store(n.min(u32::MAX as usize) as u32, Ordering::Relaxed);
    publish_usage();
}

/// The write-behind queue holds work (`on`) or has emptied: while it holds some, it counts
/// as an operation in flight, so that a `shadowctl` change waits until the follower has
/// every byte written under the old state.
pub fn queue_in_flight(on: bool) {
    // The slot's count alone: the queue is nobody's operation on a thread (its thread
    // ends it, another began it).
    let i = SLOT.load(Ordering::Relaxed);
    if on { slot_arrive(i) } else { slot_leave(i) }
}

/// The write-behind queue's size, for `shadowctl status`.
pub fn publish_queued(bytes: u64) {
    let i = SLOT.load(Ordering::Relaxed);
    if i != usize::MAX {
        shared().registry.slot(i).queued.store(bytes, Ordering::Relaxed);
    }
}

/// An operation in flight: shadowctl waits for these before a change is in force.
pub struct InFlight(usize);

impl Drop for InFlight {
    fn drop(&mut self) {
        leave(self.0);
    }
}

thread_local! {
    /// How many operations this thread has arrived for and not left (`arrive`, `leave`):
    /// `waiting` and `settle` leave and arrive again only for a thread in one. Before, the
    /// exit's copy of a mapping (no hook's operation) that waited for a file's word left
    /// one it had never arrived for: the slot's count wrapped to 2^32 - 1, and every
    /// shadowctl command that holds writers back waited 30 s for it and failed ("stayed
    /// busy"; recover at each `shadow-run` start).
    static IN_OPERATION: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn in_operation() -> bool {
    IN_OPERATION.with(|n| n.get() > 0)
}

/// The operation of slot `i` is over: it acted on the epoch last applied.
fn leave(i: usize) {
    IN_OPERATION.with(|n| n.set(n.get().saturating_sub(1)));
    slot_leave(i);
}

/// `leave` for the slot's count alone.
fn slot_leave(i: usize) {
    if i != usize::MAX {
        let slot = shared().registry.slot(i);
        // Stored only when it moves: a locked instruction on every hook otherwise, and the
        // same value stored again tells shadowctl nothing new.
        let applied = APPLIED.load(Ordering::SeqCst);
        if slot.seen_epoch.load(Ordering::Relaxed) != applied {
            slot.seen_epoch.store(applied, Ordering::SeqCst);
        }
        slot.ops.fetch_add(1, Ordering::Release);
        slot.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An operation of slot `i` begins.
fn arrive(i: usize) {
    IN_OPERATION.with(|n| n.set(n.get() + 1));
    slot_arrive(i);
}

/// `arrive` for the slot's count alone.
fn slot_arrive(i: usize) {
    if i != usize::MAX {
        shared().registry.slot(i).in_flight.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `f` (an exec) as if no operation were in flight: if it succeeds this image is gone,
/// and shadowctl must not wait for it to finish (the new image claims the slot again).
pub fn not_in_flight<T>(f: impl FnOnce() -> T) -> T {
    let i = SLOT.load(Ordering::Relaxed);
    leave(i);
    // The one thread there is, in no other operation and no signal handler, holds no word of
    // the set's: the new image has none of this pid's to look for (`earlier_image_worked`).
    // Before, every program a shim process forked and exec'd read the registry's 12,288 lock
    // words at its start (160,000 instructions, a third of the shim's start-up, and a dozen
    // page faults of the shared mapping). A signal handler's hook that runs after this
    // counts its operation again.
    if i != usize::MAX && !real::may_have_threads() && !in_operation() && !crate::signals::in_handler() {
        shared().registry.slot(i).ops.store(0, Ordering::SeqCst);
    }
    let r = f();
    arrive(i);
    r
}

/// Runs `f` (a wait for another process: see names.rs) as if no operation of this thread
/// were in flight, then arrives again as `enter` does: a change shadowctl made meanwhile
/// (a member disabled, a resync finishing) is waited for and applied before going on.
pub fn waiting<T>(f: impl FnOnce() -> T) -> T {
    let i = SLOT.load(Ordering::Relaxed);
    let arrived = in_operation();
    if arrived {
        leave(i);
    }
    let r = f();
    // The wait's errno is its caller's answer: settling may apply a member change, whose
    // calls set errno (a read-only open of a missing file answered EINVAL, not ENOENT, as
    // a disable or enable landed during it: Mercurial aborted its commits).
    let e = Errno::last();
    if arrived {
        arrive(i);
    }
    settle(i);
    e.set();
    r
}

/// A call the kernel answers for a shadowed fd (fstat) takes up a member change first, as
/// a mirrored call does: the fd may still be on a member other processes sharing its
/// description have left, and have written since. Before, a program that sized its file
/// with fstat there (`ftruncate(fd, fstat(fd).st_size)`, a no-op natively) got the old
/// member's size, and its ftruncate, which takes the change up, cut what another process
/// had written meanwhile (helper-47's fuzzer). Costs one load while no change is pending.
pub fn take_up_change() {
    if set::is_active() && shared().state.epoch() != APPLIED.load(Ordering::Relaxed) {
        crate::boundary::hook(|| Ok(0 as c_int), || 0);
    }
}

/// Called by every active hook before it decides anything.
pub fn enter() -> InFlight {
    let i = SLOT.load(Ordering::Relaxed);
    arrive(i);
    settle(i);
    if crate::handoff::pending() {
        crate::handoff::retire_due();
    }
    InFlight(i)
}

/// An operation of slot `i` that has arrived goes on once the set is not frozen and this
/// process has the latest view.
fn settle(i: usize) {
    let s = shared();
    loop {
        let epoch = s.state.epoch();
        if s.state.frozen() {
            // shadowctl is finishing a resync: wait on the lock it holds, then look again.
            let arrived = in_operation();
            if arrived {
                leave(i);
            }
            if ofd_lock(s.lock.get(), 1, libc::F_RDLCK).is_ok() {
                // Holding the byte, no freezer holds it, and none can set the flag before it
                // has it: a flag still set is a freezer's that was killed (its lock went with
                // it). Before, every writer then spun here until another command froze and
                // thawed the set.
                if s.state.frozen() {
                    s.state.set_frozen(false);
                }
                let _ = ofd_lock(s.lock.get(), 1, libc::F_UNLCK);
            }
            if arrived {
                arrive(i);
            }
            continue;
        }
        if epoch != APPLIED.load(Ordering::SeqCst) && epoch.is_multiple_of(2) {
            refresh();
            continue;
        }
        if epoch % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        return;
    }
}

fn refresh() {
    let _one = APPLY.lock().unwrap_or_else(|e| e.into_inner());
    let s = shared();
    let Ok(st) = s.state.read() else { return };
    if st.epoch == APPLIED.load(Ordering::SeqCst) {
        return;
    }
    let old = view();
    let Some(new) = View::from_state(&st) else {
        // Every member disabled: shadowctl refuses that; keep the old view.
        APPLIED.store(st.epoch, Ordering::SeqCst);
        return;
    };
    let new = Arc::new(new);
    crate::handoff::retire_before_change();
    // Every open's part in an outage ends with a change of state (the enable reads them):
    // the next outage's parts are its own. Tracking starts before the member's files are
    // let go: another thread's write that finds no follower from then on is recorded
    // (before, one landing between the two was not, and its open's part then said the
    // file lacked nothing but its times). It stops once they are taken up, under the freeze.
    let tracks = tracking_of(&st) != 0;
    if tracks {
        crate::outage::end_all();
        set_tracking(&st);
    }
    apply(&old, &new, st.epoch);
    if !tracks {
        crate::outage::end_all();
        set_tracking(&st);
    }
    if tracking() {
        // A member is out of service, perhaps again (this process may have slept through
        // the enable between): each open file's next change is recorded anew. Before, a
        // file recorded in one outage, still open, was never recorded in the next, and the
        // dirty enable that brought the member back copied nothing of it: the members
        // differed with `status` in step, and the primary brought back as the lead gave
        // its stale bytes to readers and to `verify --repair`.
        for (_, ocb) in fdtable::all() {
            ocb.forget_recorded();
        }
        crate::hooks::data::for_each_mapped_ocb_now(|_, ocb| ocb.forget_recorded());
        // An open file written while both members were, whose times are made equal only at
        // its last close, which will find no follower now: the enable must bring them level
        // (before, a member switch landing between a write and its close left the members'
        // mtimes apart, unreported: 3 to 9 of 800 `seq > file` under a disable loop).
        if old.follower.is_some() && new.follower.is_none() {
            for (fd, ocb) in fdtable::all().iter().filter(|(_, o)| o.is_written()) {
                let changed = Changed::Open { ocb, fd: Some(*fd), once: true };
                match TRACKING.load(Ordering::Relaxed) {
                    // Its bytes are the member's: the times are all it lacks so far.
                    1 => crate::outage::metadata_changed(ocb, changed),
                    _ => record_change(changed),
                }
            }
        }
    }
    *VIEW.write().unwrap_or_else(|e| e.into_inner()) = Some(new);
    APPLIED.store(st.epoch, Ordering::SeqCst);
}

/// Brings every open file of this process in line with a new view.
fn apply(old: &View, new: &View, epoch: u64) {
    let mut by_ocb: Vec<(Arc<Ocb>, Vec<c_int>)> = Vec::new();
    for (fd, o) in fdtable::all() {
        match by_ocb.iter_mut().find(|(x, _)| Arc::ptr_eq(x, &o)) {
            Some((_, fds)) => fds.push(fd),
            None => by_ocb.push((o, vec![fd])),
        }
    }
    let renewed = |m: Member| new.renewed(old, m);
    let same_lead_tree = new.lead == old.lead && new.dirs[new.lead.index()] == old.dirs[old.lead.index()];
    // An O_TMPFILE file is never rewritten under its fd (it is in no tree): one reopened
    // by "name" was a new, empty one (a `disable secondary` lost what it held).
    // The same lead tree rewritten (a resync brought it back while the process slept): a
    // file the resync wrote in place under the program's fd is still the program's where
    // the member that was written meanwhile (the follower's fd, on the file the open
    // followed there) names it too. Before, any such file with a name stayed the program's:
    // one renamed while its member was out and another made at its name (logrotate's
    // `create`, an editor's save) had the sleeper's next write land in the new file
    // (found by helper-44).
    // A description shared with processes that moved it while this one slept (its lead left
    // and came back, its files kept: see `View::renewed`, or rewritten in place) goes where
    // they took it: left on the original, it wrote at a position of its own over their lines.
    let moving: Vec<bool> = by_ocb
        .iter()
        .map(|(o, fds)| {
            let stays = !lead_moved(old, new) || same_lead_tree && (o.is_tmpfile() || real::fstat(fds[0]).is_ok_and(|st| st.st_nlink > 0) && followed_there(o, fds[0], old, new));
            !stays || o.is_shared() && new.generations[new.lead.index()] != old.generations[new.lead.index()] && crate::handoff::moved_by_another(fds[0])
        })
        .collect();
    // What each file shows as its identity before any moves (see identity.rs): opens of one
    // file move one after another.
    // (None: its own, which switch_lead reads anyway; no fstat per open while none is pinned.)
    let shown: Vec<Option<crate::identity::Id>> = by_ocb.iter().map(|(_, fds)| crate::identity::any().then(|| real::fstat(fds[0]).ok()).flatten().map(|st| crate::identity::shown((st.st_dev, st.st_ino)))).collect();
    // The program's locks, read for every file before any moves (a close of one fd of a
    // file, the shim's own too, drops every POSIX lock the process holds on it), to be
    // taken on the files it holds after: a new lead's, a follower's reopened.
    // A description other processes share may hold a lock one of them took (`( flock -x 9;
    // … ) 9>>lock`: flock(1) took it and is gone), which this process never asked for: before,
    // its `disable primary` moved the program's fd onto the follower's file without it, and
    // another process was granted the lock there.
    let changed = lead_moved(old, new) || old.follower != new.follower || new.follower.is_some_and(renewed);
    let held: Vec<Vec<crate::hooks::lock::Held>> = by_ocb.iter().map(|(o, fds)| if changed && (crate::hooks::lock::seen() || o.is_shared()) { crate::hooks::lock::held_by(fds[0]) } else { Vec::new() }).collect();
    for ((((ocb, fds), &lead_moved), held), &shown) in by_ocb.iter().zip(&moving).zip(&held).zip(&shown) {
        // Another lead file only where the lead is another member or tree, or the same one
        // rewritten under the file (a resync after it was out replaced it: the program's
        // file has no name left). The lead's generation also moves when the other member
        // goes away, which leaves its files as they are: before, each was reopened by the
        // name it was opened by, and one renamed since (by logrotate, by another process
        // that then made a new file there) became the program's fd on the file now at that
        // name, which got its writes.
        let old_lead_follows = lead_moved && switch_lead(ocb, fds, old, new, epoch, held, shown);
        if lead_moved {
            ocb.restripe(fds[0]);
        }
        let reopens = |m: Member| !old_lead_follows && (lead_moved || old.follower != new.follower || renewed(m) || ocb.secondary_fd().is_none());
        match new.follower.filter(|_| ocb.follower_flags().is_some()) {
            None => ocb.replace_secondary(None),
            // A file with no name left has nothing to follow on a member brought back: the
            // resync made it what the lead's names hold, and natively the fd stays on the
            // file replaced. Before, it was opened by the name it had: the new file, which
            // the program's writes then reached on the follower (an editor's save).
            Some(m) if reopens(m) && nameless(ocb, fds[0]) => ocb.replace_secondary(None),
            Some(m) if reopens(m) => {
                // The member has just been brought up to date: reopen its file (never create
                // or truncate it: the resync made it what the lead's is), by the name the
                // lead's file has now.
                let sp = Spath::from_rel(name_now(fds[0], new).unwrap_or_else(|| ocb.rel()));
                let flags = ocb.follower_flags().unwrap_or(0) & !(libc::O_CREAT | libc::O_TRUNC | libc::O_EXCL);
                let mode = real::fstat(fds[0]).map_or(0, |st| st.st_mode & 0o7777);
                // A description other processes share gets one follower's file with them, as
                // its lead's is one: the one a process that opened it first published, if
                // one has (each opening its own, a flock they held was refused on the second).
                let shared = ocb.is_shared() && !ocb.is_tmpfile();
                let claim = shared.then(|| crate::handoff::claim(fds[0], Kind::Follower)).flatten();
                let handed = shared.then(|| crate::handoff::take_over(fds[0], claim.as_ref(), Kind::Follower, |d| is_member_file(d, &sp, new, m)).fitting()).flatten().map(ocb::make_internal);
                // An O_TMPFILE file is a new one there, given what the lead's holds.
                let opened = handed.map_or_else(|| sp.at(new, m).and_then(|at| ocb::open_secondary(&at, flags, mode, false)), Ok).and_then(|sfd| match ocb.is_tmpfile() {
                    true => ocb.copy_range(fds[0], sfd, 0, -1).map(|()| sfd).inspect_err(|_| ocb::close_internal(sfd)),
                    false => Ok(sfd),
                });
                match (claim, &opened) {
                    (Some(c), Ok(sfd)) => crate::handoff::publish(c, *sfd, epoch, tree_of(new, new.lead)),
                    (Some(c), Err(_)) => crate::handoff::abandon(c),
                    (None, _) => {}
                }
                match opened {
                    Ok(sfd) => {
                        // As the program's fd is now (an F_SETFL may have changed O_DIRECT).
                        if let Ok(status) = real::fcntl(fds[0], libc::F_GETFL, 0) {
                            ocb::follow_direct(sfd, status);
                        }
                        ocb.replace_secondary(Some(sfd))
                    }
                    Err(e) => {
                        ocb.replace_secondary(None);
                        if !nameless_for_good(ocb, fds[0], e) {
                            ocb.mark_insecure("reopen", e);
                        }
                    }
                }
            }
            Some(_) => {}
        }
    }
    // Not for files an exec is about to close: a forked child's exec took its parent's
    // lock on its own description of the new lead's file, and the parent's later take-up
    // was refused and reported, for a lock the two shared (helper-43's finding C).
    let closing = |fds: &[c_int]| EXECUTING.with(std::cell::Cell::get) && fds.iter().all(|&fd| real::fcntl(fd, libc::F_GETFD, 0).is_ok_and(|f| f & libc::FD_CLOEXEC != 0));
    for ((ocb, fds), held) in by_ocb.iter().zip(&held).filter(|((_, fds), h)| !h.is_empty() && !closing(fds)) {
        crate::hooks::lock::take_again(&ocb.rel(), fds[0], ocb.secondary_fd(), held);
    }
    if new.lead != old.lead || renewed(new.lead) || old.follower != new.follower || new.follower.is_some_and(renewed) {
        crate::resolve::cwd_follows(old, new);
    }
}

/// The lead member changed: the program's fds must now be the new lead's files, at the
/// same position, with the same status flags. Whether the old lead's file became the
/// follower's fd.
fn switch_lead(ocb: &Ocb, fds: &[c_int], old: &View, new: &View, epoch: u64, held: &[crate::hooks::lock::Held], shown: Option<crate::identity::Id>) -> bool {
    let Some(&first) = fds.first() else { return false };
    // The old lead becomes the follower (the other member enabled): another process sharing
    // the description that took this up first may have kept it as its follower's, which
    // then no longer appends (below). The program's O_APPEND is then this process's
    // mark: before, a sharer that took the return up after the first had gone (no
    // publication left to take) opened the new lead's file without it, and its lines went
    // to the position, over another process's appended meanwhile.
    let old_lead_returns_as_follower = !ocb.is_dir() && ocb.follower_flags().is_some() && new.follower == Some(old.lead);
    // The follower's fd is the new lead's file only if the follower is the new lead and
    // was not rewritten meanwhile (and, for a directory, the follower's is only a handle);
    // otherwise open the new lead's file by name.
    let name = name_of_open(ocb, first, old, new).or_else(|| name_now(first, old)).unwrap_or_else(|| ocb.rel());
    let sp = || Spath::from_rel(name.clone());
    // A member no resync rewrote since keeps its files (`View::renewed`): the follower's is
    // the program's even where a program removed or replaced it since, as natively the fd
    // stays on it. Before, every `disable primary` reopened each file by name and closed
    // the follower's fd, dropping the POSIX locks the process held there: for a moment
    // another process that had taken up the change got them (SQLite writers: one rolled
    // back another's `-journal` as hot and deleted it, and a commit was lost); and a file
    // another process removed after `disable primary` was looked for by name: not found,
    // the program's fd stayed on the disabled primary and its writes went there (found by
    // helper-43).
    let unchanged = |m: Member, fd: c_int| !new.renewed(old, m) || is_member_file(fd, &sp(), new, m);
    let follower_fits = !ocb.is_dir() && old.follower == Some(new.lead) && ocb.secondary_fd().is_some_and(|sfd| unchanged(new.lead, sfd));
    // The file the open followed on a member written meanwhile (not rewritten) has no name
    // left (replaced by an editor's save, removed): the program's fd goes on in that file,
    // as natively it stays on the file replaced, whichever member it lies in. Before, the
    // name it had was opened on the lead: the new file, which the sleeper's next write
    // went into (found by helper-44).
    let orphaned = !ocb.is_dir() && old.follower.is_some_and(|f| !new.renewed(old, f)) && ocb.secondary_fd().is_some_and(|sfd| nameless(ocb, sfd));
    // A description other processes share: the one a process that moved it made, if one has.
    let crate::handoff::Moves { claim, handed, from, behind: _behind } = match ocb.is_shared() {
        true => crate::handoff::follow_moves(first, |d| is_lead_file(d, &sp(), new)),
        false => crate::handoff::Moves { claim: None, handed: None, from: first, behind: None },
    };
    let pos = real::lseek(from, 0, libc::SEEK_CUR).unwrap_or(0);
    let status = real::fcntl(from, libc::F_GETFL, 0).unwrap_or(0);
    let status = if ocb.is_shared() && old_lead_returns_as_follower && ocb.appends_as_opened() { status | libc::O_APPEND } else { status };
    let taken = ocb.take_secondary();
    let follower_became_lead = handed.is_none() && (follower_fits || orphaned) && taken.is_some();
    let replacement = match (handed, taken.filter(|_| follower_fits || orphaned)) {
        (Some(d), _) => {
            if let Some(t) = taken {
                crate::hooks::lock::close_keeping_locks(t, None);
            }
            Ok(d)
        }
        (None, Some(sfd)) => Ok(sfd),
        (None, None) => {
            if let Some(stale) = taken {
                crate::hooks::lock::close_keeping_locks(stale, None);
            }
            let flags = (ocb.flags() & !(libc::O_CREAT | libc::O_TRUNC | libc::O_EXCL)) | libc::O_CLOEXEC;
            let mode = real::fstat(first).map_or(0, |st| st.st_mode & 0o7777);
            sp().at(new, new.lead).and_then(|at| real::openat(at.fd, &at.path, flags, mode)).and_then(|d| {
                // A new O_TMPFILE file: what the old one holds, copied.
                if ocb.is_tmpfile() {
                    if let Err(e) = ocb.copy_range(first, d, 0, -1) {
                        let _ = real::close(d);
                        return Err(e);
                    }
                }
                Ok(d)
            })
        }
    };
    let desc = match replacement {
        Ok(d) => d,
        Err(e) => {
            if let Some(c) = claim {
                crate::handoff::abandon(c);
            }
            // Its fd stays where it is: a difference once the program changes the file
            // through it (a renamed file's name gone from the new lead: an fd a fork child
            // inherited from a thread writing it, never used).
            if e.0 == libc::ENOENT && !nameless(ocb, first) {
                ocb.defer_insecure("switch to the new lead member", e);
            } else if !nameless_for_good(ocb, first, e) {
                ocb.mark_insecure("switch to the new lead member", e);
            } else if old.written().all(|m| new.renewed(old, m)) {
                // Every member the process wrote was rewritten since it last looked (it
                // made no call through outages of both): no fd of the open is on a member
                // that followed its file, and nothing is at its name. Renamed meanwhile
                // (`mv A/f A/g` in the first of two outages), natively the program's writes
                // would reach the new name; here they reach a file gone from both members.
                // Said, not silent (found by helper-45; a log of renames would let it be
                // followed).
                crate::report::record(Code::NamespaceMismatch, &ocb.rel(), "held through outages of both members while the process made no call, and nothing is at its name now: if it was renamed meanwhile, what the program writes to it reaches neither member");
            }
            return false;
        }
    };
    // Where the old lead becomes the follower as it is (the other member enabled), its
    // description stays this open's, as the follower's fd, with the flock and OFD locks it
    // holds: a new one had none until `take_again`, and another process got them there
    // meanwhile. (The process's POSIX locks on that file go with the program's fds all the
    // same, and are taken again.) A description other processes share too: each keeps it
    // as its follower's fd, so they go on sharing it, and the flock it holds there stays
    // the one lock it is natively. Before, each sharer opened a follower's file again, and
    // the flock was refused there while the old lead's description held it (reported
    // 00030). Its O_APPEND goes (below) while another process may still hold it as its
    // program's fd: a process of the set takes up the change before any call on it, with
    // the O_APPEND it knows (`status` above); one outside the shim writes to a member
    // alone anyway.
    let old_lead_follows = old_lead_returns_as_follower && unchanged(old.lead, first);
    let kept = old_lead_follows.then(|| ocb::dup_internal(first).ok()).flatten();
    // POSIX locks, taken on the new lead's file before the program's fds leave the old
    // one, need `desc` kept open (see lock::take_posix_before_move), and so do those of
    // the process's other opens of the file (any close of an fd of it drops them all), in
    // a process that has taken locks: first moved out of the program's fd numbers, a move
    // made before any is taken.
    let posix = crate::hooks::lock::has_posix(held);
    let anchored = crate::hooks::lock::seen();
    let desc = match (anchored && !fdtable::is_internal(desc), follower_became_lead) {
        (false, _) => desc,
        // The follower's fd, taken out of the OCB, is in the shim's range already: moving
        // it closed it, and with it the locks it held (the holder's, which a waiter on the
        // old lead, granted it as the holder's fds left it, then got on the new lead too).
        (true, true) => {
            fdtable::set_internal(desc, true);
            desc
        }
        (true, false) => match ocb::dup_internal(desc) {
            Ok(moved) => {
                crate::hooks::lock::close_keeping_locks(desc, Some(moved));
                moved
            }
            Err(_) => desc,
        },
    };
    if handed.is_none() {
        // The locks a description holds (flock, OFD) are taken on the new one before the
        // old goes with the move: in between, another process's waiting call was granted
        // them. A description handed over has them already.
        crate::hooks::lock::take_described(&ocb.rel(), desc, held);
    }
    if posix {
        crate::hooks::lock::take_posix_before_move(&ocb.rel(), desc, held);
    }
    if handed.is_none() {
        give_position(desc, pos, status);
    }
    if ocb.is_shared() && !old_lead_follows && !new.written().any(|m| m == old.lead) {
        crate::hooks::lock::let_go_described(first, held);
    }
    // Published once it has its position: another process may take it at once.
    if let Some(claim) = claim {
        crate::handoff::publish(claim, desc, epoch, tree_of(old, old.lead));
    }
    let before = real::fstat(first);
    match put_in_place(desc, fds) {
        Ok(()) => {
            // The readable fd for copies was the old lead's file: a copy through it gave
            // the follower the old file's bytes (after `replace primary`, a copy_file_range
            // into a write-only file left the secondary 4 bytes short, unreported). Opened
            // again on the new lead when next needed.
            if let Some(reader) = ocb.take_reader() {
                crate::hooks::lock::close_temporary(reader, None);
            }
            if let (Ok(b), Ok(a)) = (before, real::fstat(desc)) {
                crate::identity::moved(&ocb.file_holder(), (b.st_dev, b.st_ino), shown.unwrap_or((b.st_dev, b.st_ino)), (a.st_dev, a.st_ino));
            }
        }
        Err(e) => {
            if let Some(k) = kept {
                crate::hooks::lock::close_keeping_locks(k, Some(first));
            }
            ocb.mark_insecure("switch to the new lead member", e);
            ocb::close_internal(desc);
            return false;
        }
    }
    if anchored {
        crate::hooks::lock::anchor(ocb as *const Ocb as usize, desc);
    } else {
        ocb::close_internal(desc);
    }
    let Some(kept) = kept else { return false };
    // Written at the lead's offsets, never appended to.
    let _ = real::fcntl(kept, libc::F_SETFL, (status & !libc::O_APPEND) as libc::c_long);
    ocb.replace_secondary(Some(kept));
    true
}

/// Whether `e`, from opening the file of the program's `fd` on another member by name,
/// comes of a file whose last name was removed (not an O_TMPFILE one, which may be linked):
/// it can never show on a member again, so nothing can diverge. Before, it was reported
/// (00020), with recover due at the process's end (git's maintenance.lock).
fn nameless_for_good(ocb: &Ocb, fd: c_int, e: Errno) -> bool {
    e.0 == libc::ENOENT && nameless(ocb, fd)
}

/// Whether `fd` (one of `ocb`'s, on some member) is on a file whose last name was removed,
/// not an O_TMPFILE one (which may be linked yet).
fn nameless(ocb: &Ocb, fd: c_int) -> bool {
    !ocb.is_tmpfile() && real::fstat(fd).is_ok_and(|st| st.st_nlink == 0)
}

/// The name under the prefix of the file the program's `fd` is open on, as the kernel gives
/// it now in `v`'s lead: the name it was opened by may since be another file's (renamed by
/// this or another process). None for a file with no name left, or out of the lead. Asked
/// of /proc alone, never of the file system: the lead it is asked about may be a member
/// that hangs (a dead network server), being left for that reason.
fn name_now(fd: c_int, v: &View) -> Option<Rel> {
    v.rel_in_lead(&fd_target(fd)?).map(Rel)
}

/// The real path the kernel gives the file of the program's `fd`; None for one with no
/// name left.
fn fd_target(fd: c_int) -> Option<Vec<u8>> {
    let target = real::readlink(&std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")).ok()?).ok()?;
    (!target.ends_with(b" (deleted)")).then_some(target)
}

/// The name the file of an open (`first`: the program's fd, on `old`'s lead) has now, asked
/// of the kernel through its fd on a member `new` writes that still has a name there: the
/// new lead's first. A member out of the view (disabled) no longer sees renames, and a
/// resync replaces a file renamed while its member was out by a new one at the new name:
/// before, the old lead's fd named the file, and a file renamed on the secondary after
/// `disable primary` was not found by that name (its writes went on into the disabled
/// primary, reported), nor one renamed while the primary was out once it was back (its
/// writes went into the primary's deleted file, unreported: a log `logrotate` moved lost
/// every later line; found by helper-43).
fn name_of_open(ocb: &Ocb, first: c_int, old: &View, new: &View) -> Option<Rel> {
    // Not a member rewritten since: its fd is on the file a name had before the resync.
    let fd_on = |m: Member| if new.renewed(old, m) { None } else if m == old.lead { Some(first) } else if old.follower == Some(m) { ocb.secondary_fd() } else { None };
    // (Members written now, which answer: a file's other name is looked for there.)
    std::iter::once(new.lead).chain(new.written()).filter_map(fd_on).find_map(|fd| old.rel_in_any(&crate::resolve::fd_real_name(fd)?).map(Rel))
}

/// Whether the program's `fd` (on the lead of `new`, which a resync rewrote) is the file its
/// open followed on the old follower, written meanwhile and not rewritten: the file its
/// fd there is on now has a name, and that name is the program's file on the lead. Where
/// there is no such fd, nothing says otherwise.
fn followed_there(ocb: &Ocb, fd: c_int, old: &View, new: &View) -> bool {
    match (old.follower.filter(|&f| !new.renewed(old, f)), ocb.secondary_fd()) {
        (Some(_), Some(sfd)) => fd_target(sfd).and_then(|t| old.rel_in_any(&t)).is_some_and(|name| is_lead_file(fd, &Spath::from_rel(Rel(name)), new)),
        _ => true,
    }
}

/// Whether `desc` is the file `sp` names in `v`'s lead (a description another process
/// handed over must be the one this process would open).
fn is_lead_file(desc: c_int, sp: &Spath, v: &View) -> bool {
    is_member_file(desc, sp, v, v.lead)
}

/// Whether `desc` is on the file `sp` names on member `m` of `v`.
fn is_member_file(desc: c_int, sp: &Spath, v: &View, m: Member) -> bool {
    let named = sp.at(v, m).and_then(|at| real::fstatat(at.fd, &at.path, libc::AT_SYMLINK_NOFOLLOW));
    matches!((named, real::fstat(desc)), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
}

/// A description of this process's own for the program's fds (not one another process
/// sharing them handed over, which has its own) gets the old one's position `pos` and the
/// status flags of `status` that can be set.
fn give_position(desc: c_int, pos: i64, status: c_int) {
    let _ = real::lseek(desc, pos, libc::SEEK_SET);
    let _ = real::fcntl(desc, libc::F_SETFL, (status & (libc::O_APPEND | libc::O_NONBLOCK)) as libc::c_long);
}

/// The program's `fds` become `desc`'s file, each keeping its close-on-exec flag.
fn put_in_place(desc: c_int, fds: &[c_int]) -> Res<()> {
    fds.iter().try_for_each(|&fd| {
        let cloexec = real::fcntl(fd, libc::F_GETFD, 0).map(|f| f & libc::FD_CLOEXEC != 0).unwrap_or(false);
        let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
        unsafe { crate::boundary::FfiReturn::into_res(real::raw::dup3(desc, fd, flags)) }.map(drop)
    })
}

/// Whether the lead of `new` is another file system tree than `old`'s: another member, or
/// the same one brought back or rewritten.
pub fn lead_moved(old: &View, new: &View) -> bool {
    new.lead != old.lead || new.renewed(old, new.lead)
}

/// The program's `fd`, on a file `rel` of a member that is not `v`'s lead, becomes the
/// lead's file of that name, with the position and the status flags of `status`, as
/// `switch_lead` makes the fds it knows. For an fd no table held when the lead moved: one a
/// new image inherited (the process that exec'd it had not taken up the change: it was on
/// its way into exec; left, its writes reached that member alone, one no longer written or
/// the follower, and lines a shell's `echo >> log` children appended as the primary was
/// disabled and enabled were lost from both members), or an open's not yet adopted.
pub fn move_to_lead(v: &View, fd: c_int, rel: &[u8], status: c_int) -> Res<()> {
    let flags = (status & !(libc::O_CREAT | libc::O_TRUNC | libc::O_EXCL)) | libc::O_CLOEXEC;
    let sp = Spath::from_rel(Rel(rel.to_vec()));
    // Inherited: shared with the process it came from, which may have moved it already.
    let crate::handoff::Moves { claim, handed, from, behind: _behind } = crate::handoff::follow_moves(fd, |d| is_lead_file(d, &sp, v));
    let pos = real::lseek(from, 0, libc::SEEK_CUR).unwrap_or(0);
    let desc = match handed.map_or_else(|| sp.at(v, v.lead).and_then(|at| real::openat(at.fd, &at.path, flags, 0)), Ok) {
        Ok(d) => d,
        Err(e) => {
            if let Some(c) = claim {
                crate::handoff::abandon(c);
            }
            return Err(e);
        }
    };
    if handed.is_none() {
        give_position(desc, pos, status);
    }
    if let Some(claim) = claim {
        crate::handoff::publish(claim, desc, APPLIED.load(Ordering::SeqCst), 0);
    }
    let r = put_in_place(desc, &[fd]);
    let _ = real::close(desc);
    r
}

/// A change reached the lead but not the follower. If the error says the follower member
/// is gone (config `failure_errors`) and the policy is `degrade`, the member is marked failed
/// for every process and the path recorded for its return; the program's result stands.
/// Any other error means this one file (or name) differs: insecure, reported. With policy
/// `fail` the error is returned to the program.
pub fn follower_failed(rel: &Rel, what: &str, e: Errno, ocb: Option<&Ocb>) -> Result<(), Errno> {
    follower_failed_recording(rel, what, e, ocb, || append_change(rel))
}

/// `follower_failed`, where what the member failing lacks is recorded by `record` (a change
/// of names: see `record_names`).
pub fn follower_failed_recording(rel: &Rel, what: &str, e: Errno, ocb: Option<&Ocb>, record: impl FnOnce()) -> Result<(), Errno> {
    let set = set::get();
    let member_gone = view().follower.is_some_and(|f| confirmed_gone(f, what, e)) || (e.0 == libc::ENOENT && follower_swapped());
    if member_gone && set.config.on_member_error == OnMemberError::Degrade {
        if let Some(m) = view().follower {
            if shared().state.mark_failed(m.index()) {
                let v = view();
                survivor_moves_on(&String::from_utf8_lossy(&v.dirs[v.lead.index()]), v.lead);
                crate::report::record(Code::MemberFailed, rel, &format!("{} failed, no longer written: {what}: {}", m.name(), e.describe()));
            }
            record();
        }
        return Ok(());
    }
    match ocb {
        Some(o) => o.mark_insecure(what, e),
        None => crate::report::record(Code::NamespaceMismatch, rel, &format!("{what}: {}", e.describe())),
    }
    if member_gone { Err(e) } else { Ok(()) }
}

/// A change made on the lead alone through another process's fd of a file whose name
/// was removed while it keeps another (resolve::other_process_link_unnamed): reported, and
/// the next `recover` verifies everything, which finds that other name.
pub fn changed_unnamed(removed: &Rel, what: &str) {
    shared().state.mark_journal_lost();
    crate::report::record(Code::NamespaceMismatch, removed, &format!("{what} through another process's fd of a file since removed under this name: made on the lead only (the name it has now is unknown); the next `shadowctl recover` verifies everything"));
}

/// Whether error `e` from member `m` means the member is gone, not that the object answered
/// so (opening a FIFO without a reader, a device without a driver: ENXIO, ENODEV; one bad
/// file: EIO). An error of `failure_errors` about the file system as a whole (full, quota,
/// read-only) is taken at its word; any other is confirmed by a probe of the member: a file
/// created and removed in its root, by its path (a network file system answers that only
/// if its server does; cached attributes would answer a stat). A member whose file system
/// answers, even with a refusal (EACCES), is there. `what` made the call: an extended
/// attribute's ENOSPC is the file's answer (its attributes do not fit in the inode and the
/// one block ext4 gives them), not a full file system's: before, one such setxattr by path
/// failed the primary over to the secondary.
fn confirmed_gone(m: Member, what: &str, e: Errno) -> bool {
    let set = set::get();
    if !set.config.failure_errors.contains(&e.0) || (e.0 == libc::ENOSPC && what.contains("setxattr")) {
        return false;
    }
    if matches!(e.0, libc::ENOSPC | libc::EDQUOT | libc::EROFS) {
        return true;
    }
    let v = view();
    let probe = CString::new(format!("{}/.libshadow-probe-{}", String::from_utf8_lossy(&v.dirs[m.index()]), std::process::id())).unwrap_or_default();
    let answer = match real::open(&probe, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o600) {
        Ok(fd) => {
            let _ = real::close(fd);
            crate::boundary::FfiReturn::into_res(unsafe { real::raw::unlink(probe.as_ptr()) }).err()
        }
        Err(e) => Some(e),
    };
    answer.is_some_and(|e| set.config.failure_errors.contains(&e.0))
}

/// The follower said "no such file" where the lead had one: if its root no longer carries
/// the member stamp the lead still has, it is not the member any more (unmounted under the
/// program: the bare mount point shows). What was written there since is not the member's
/// either, so the change list cannot be trusted for its rebuild.
fn follower_swapped() -> bool {
    use shadow_core::stamp::{identity, impostor};
    let v = view();
    let Some(f) = v.follower.filter(|f| v.stamped[f.index()]) else { return false };
    let stamps: Vec<_> = v.dirs.iter().map(|d| identity(&String::from_utf8_lossy(d))).collect();
    let [Some(p), Some(q)] = [&stamps[0], &stamps[1]] else { return false };
    let swapped = impostor(p.as_ref(), q.as_ref()) == Some(f);
    if swapped {
        shared().state.mark_changes_lost();
    }
    swapped
}

/// The lead failed an operation. When the error says the lead member is gone, the policy is
/// `degrade` and the follower is being written, the lead is marked failed for every process
/// and this process switches to the follower at once; the caller then retries (true).
pub fn lead_failed(changed: Changed, what: &str, e: Errno) -> bool {
    let set = set::get();
    if set.config.on_member_error != OnMemberError::Degrade {
        return false;
    }
    let v = view();
    if v.follower.is_none() || !confirmed_gone(v.lead, what, e) {
        return false;
    }
    if shared().state.mark_failed(v.lead.index()) {
        let f = v.follower.expect("checked above");
        survivor_moves_on(&String::from_utf8_lossy(&v.dirs[f.index()]), f);
        crate::report::record(Code::MemberFailed, &changed.rel(), &format!("{} failed, the other member takes over: {what}: {}", v.lead.name(), e.describe()));
    }
    refresh();
    let now = view();
    if now.lead == v.lead {
        return false;
    }
    // Named on the new lead.
    append_change(&changed.name());
    true
}

pub(crate) fn append_change(rel: &Rel) {
    let mut rec = rel.0.clone();
    rec.push(0);
    append_record(&rec, rel);
}

/// The change list's fd (`append_record`), for `_exit`, which must not allocate.
pub(crate) fn changes_fd() -> c_int {
    shared().changes.get()
}

/// One record, with one write (see shadow_core::state::parse_log): whether it is in. A
/// write that took part of it (the list's file system full) fails: the torn record would
/// change the meaning of the next (a torn `/m` made the next process's plain record a
/// change of metadata alone).
pub(crate) fn append_record(rec: &[u8], named: &Rel) -> bool {
    let r = real::state_write(changes_fd(), rec).and_then(|n| if n == rec.len() { Ok(()) } else { Err(Errno(libc::ENOSPC)) });
    if let Err(e) = r {
        shared().state.mark_changes_lost();
        crate::report::change_list_failed(named, e);
        return false;
    }
    true
}

/// `append_record` from `_exit` (no allocation): a failure marks the list incomplete.
pub(crate) fn append_record_now(rec: &[u8]) {
    if real::state_write(changes_fd(), rec).map_or(true, |n| n != rec.len()) {
        shared().state.mark_changes_lost();
    }
}

/// What changed, for the change list (`record_change`).
#[derive(Clone, Copy)]
pub enum Changed<'a> {
    /// Through a path: named by what it reached on the lead (`Spath::reached`), else by
    /// the path's own name.
    Path(&'a Spath),
    /// An open file (`fd`: the program's fd on it, where the caller knows it), named by the
    /// name the kernel gives it now. `once`: while a member is away, the open's part in the
    /// outage covers it (outage.rs), so only a change that asks for the whole file, or the
    /// open's first, is recorded; while a resync catches up every change counts. Otherwise
    /// recorded every time.
    Open { ocb: &'a Ocb, fd: Option<c_int>, once: bool },
}

impl<'a> Changed<'a> {
    /// The name the change is journalled and reported by (the path's, not cloned).
    pub fn rel(&self) -> std::borrow::Cow<'a, Rel> {
        match *self {
            Changed::Path(sp) => std::borrow::Cow::Borrowed(sp.rel()),
            Changed::Open { ocb, .. } => std::borrow::Cow::Owned(ocb.rel()),
        }
    }

    pub fn ocb(&self) -> Option<&'a Ocb> {
        match self {
            Changed::Path(_) => None,
            Changed::Open { ocb, .. } => Some(ocb),
        }
    }

    /// The name the change list records.
    pub(crate) fn name(&self) -> Rel {
        match *self {
            Changed::Path(sp) => sp.reached().unwrap_or_else(|| sp.rel().clone()),
            // By the name it has now: renamed since it was opened (logrotate, or the
            // program's own rename), its old name is another file's or none; opened
            // through a symlink, the link may lead elsewhere by the enable. Either way the
            // enable copied another file and left this one's changes out. On the member
            // that led when it was opened, too: the lead that failed under it (`lead_failed`).
            Changed::Open { ocb, fd, .. } => {
                let fd = fd.or_else(|| fdtable::all().into_iter().find(|(_, o)| std::ptr::eq(Arc::as_ptr(o), ocb)).map(|(fd, _)| fd));
                let v = view();
                fd.and_then(fd_target).and_then(|t| v.rel_in_lead(&t).or_else(|| v.rel_in_any(&t))).map_or_else(|| ocb.rel(), Rel)
            }
        }
    }
}

/// From `_exit` (no allocation): records the file behind `handle`, a mapping's, by the
/// name the lead gives it now, as its `msync` would have. Where that cannot be done the
/// change list is marked incomplete. Before, a process leaving by `_exit` with stores in
/// a mapping while a member was away recorded nothing, and the member never got them
/// unless another record named the file.
pub fn record_on_exit(handle: c_int) {
    use std::io::Write;
    let recorded = (|| {
        let v = view_now()?;
        let mut link = [0u8; 48];
        write!(&mut link[..], "/proc/self/fd/{handle}\0").ok()?;
        let mut target = [0u8; libc::PATH_MAX as usize + 1];
        // SAFETY: a NUL-ended path; the kernel writes at most PATH_MAX bytes.
        let n = unsafe { real::raw::readlinkat(libc::AT_FDCWD, link.as_ptr().cast(), target.as_mut_ptr().cast(), libc::PATH_MAX as usize) };
        let n = usize::try_from(n).ok()?;
        if target[..n].ends_with(b" (deleted)") {
            // No name left to copy it by.
            return Some(());
        }
        let rel_len = v.under_lead(&target[..n]).filter(|r| !r.is_empty())?.len();
        // The name ends the link's text: with the NUL after it, the record.
        target[n] = 0;
        real::state_write(changes_fd(), &target[n - rel_len..=n]).ok().map(drop)
    })();
    if recorded.is_none() {
        shared().state.mark_changes_lost();
    }
}

/// `record_change` of a data write that changed `range` (offset, length) alone, where it
/// is known: a resync catching up copies those bytes again, not the whole file, and the
/// enable of a member away those the open's writes changed (outage.rs).
pub fn record_change_at(changed: Changed, range: Option<(i64, i64)>) {
    let range = range.filter(|&(off, len)| off >= 0 && len >= 0).map(|(off, len)| (off as u64, len as u64));
    match (TRACKING.load(Ordering::Relaxed), range, changed) {
        (3, Some((off, len)), _) => {
            let mut rec = Vec::new();
            shadow_core::state::encode_written(&changed.name().0, off, len, &mut rec);
            append_record(&rec, &changed.rel());
        }
        _ => record_change(changed),
    }
}

/// Whether the byte ranges of data writes are recorded: a resync catching up reads them,
/// and while a member is away each open's are kept (outage.rs).
pub fn ranges_wanted() -> bool {
    matches!(TRACKING.load(Ordering::Relaxed), 1 | 3)
}

/// Whether a member is away and no resync catches up: opens keep their parts (outage.rs).
pub fn member_away() -> bool {
    TRACKING.load(Ordering::Relaxed) == 1
}

/// Records a change made while a member was not being written, so that bringing it back
/// copies it.
pub fn record_change(changed: Changed) {
    let tracking = TRACKING.load(Ordering::Relaxed);
    if tracking == 0 {
        return;
    }
    if let Changed::Open { ocb, once: true, .. } = changed {
        if tracking == 1 {
            return crate::outage::changed_whole(ocb, changed);
        }
    }
    append_change(&changed.name());
}

/// Records a change of a file's metadata alone (mode, owner, times, xattrs, inode flags)
/// made while a member was not being written: where nothing else names the file, the
/// enable copies its metadata, not its bytes (before, a `chmod -R` of a tree during an
/// outage had every file in it copied whole).
pub fn record_metadata(changed: Changed) {
    match (TRACKING.load(Ordering::Relaxed), changed) {
        (0, _) => {}
        (1, Changed::Open { ocb, .. }) => crate::outage::metadata_changed(ocb, changed),
        _ => {
            let mut rec = Vec::new();
            shadow_core::state::encode_metadata(&changed.name().0, &mut rec);
            append_record(&rec, &changed.rel());
        }
    }
}

/// Records a change of names made while a member was not being written (see
/// shadow_core::state::NameOp): its paths, named as `Changed::Path` names them, and the
/// change itself, for the enable to make again on that member first.
pub fn record_names(kind: NameKind, a: &Spath, b: Option<&Spath>) {
    if tracking() {
        append_names(kind, a, b);
    }
}

/// `record_names` whether or not a member is out yet (one failing under the change).
pub fn append_names(kind: NameKind, a: &Spath, b: Option<&Spath>) {
    let (a, b) = (Changed::Path(a).name(), b.map(|b| Changed::Path(b).name()));
    let mut rec = Vec::new();
    shadow_core::state::encode_name_op(kind, &a.0, b.as_ref().map(|b| &b.0[..]), &mut rec);
    append_record(&rec, &a);
}

pub fn tracking() -> bool {
    TRACKING.load(Ordering::Relaxed) != 0
}

