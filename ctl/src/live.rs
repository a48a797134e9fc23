//! Operations on a live shadow set: every process using the config sees a change before
//! the command returns (epoch bump, then wait until no process is acting on the old state).

use shadow_core::config::Config;
use shadow_core::history::{Code, Record};
use shadow_core::shared::{self, LockFile, Registry, SharedState};
use shadow_core::state::{Changes, MemberState, NameOp, State};
use shadow_core::sync::{self, Stats, UpdateMode};
use shadow_core::journal;
use shadow_core::stamp::{self, Relation};
use shadow_core::sync::Prefer;
use shadow_core::tree;

fn reason_of(e: journal::JournalError) -> &'static str {
    match e {
        journal::JournalError::NotAJournal => "not a libshadow journal (bad header)",
        journal::JournalError::Version(_) => "unsupported journal version",
        journal::JournalError::ForeignSet { .. } => "journal of another shadow set",
    }
}

use shadow_core::Member;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
/// How long an enable waits for processes to end their parts of the outage (`let_parts_end`).
const PARTS_END_WITHIN: Duration = Duration::from_secs(1);

pub struct LiveSet {
    pub config: Config,
    pub state: SharedState,
    pub registry: Registry,
    lock: LockFile,
}

/// Holds byte 0 of the lock file: one shadowctl command at a time per set.
pub struct CommandLock<'a>(&'a LockFile);
impl Drop for CommandLock<'_> {
    fn drop(&mut self) {
        let _ = self.0.lock(0, libc::F_UNLCK);
    }
}

impl LiveSet {
    pub fn open(config: Config) -> Result<LiveSet, String> {
        let state = SharedState::open(&config)?;
        let registry = Registry::open(&config)?;
        let lock = LockFile::open(&config)?;
        Ok(LiveSet { config, state, registry, lock })
    }

    pub fn command_lock(&self) -> Result<CommandLock<'_>, String> {
        self.lock.lock(0, libc::F_WRLCK).map_err(|e| format!("{}: lock: {e}", shared::lock_path(&self.config).display()))?;
        let held = CommandLock(&self.lock);
        self.settle_abandoned_resync();
        Ok(held)
    }

    /// The entry a copy into `target` was making when it was cut short may be half made
    /// with a later time than its source's: the change list names it, so the next resync
    /// copies it whatever the times say.
    fn list_half_copied(&self, target: &Path) {
        let Some(rel) = sync::take_in_flight().and_then(|p| p.strip_prefix(target).ok().map(Path::to_path_buf)) else { return };
        let mut rec = rel.into_os_string().into_encoded_bytes();
        rec.push(0);
        let listed = shared::open_or_make(&shared::changes_path(&self.config), std::fs::OpenOptions::new().append(true)).and_then(|mut f| f.write_all(&rec));
        if listed.is_err() {
            self.state.mark_changes_lost();
        }
    }

    /// For `status` and `watch`, which do not wait for other commands: a member shown
    /// "resyncing" while no command holds the lock is settled at once.
    pub fn settle_abandoned_resync_now(&self) {
        if self.read().is_ok_and(|s| s.members.iter().any(|m| m.state == MemberState::Resyncing)) && self.lock.try_lock(0, libc::F_WRLCK).unwrap_or(false) {
            let _held = CommandLock(&self.lock);
            self.settle_abandoned_resync();
        }
    }

    /// Resyncs run under the command lock, so a member still "resyncing" once it is ours
    /// was left so by a shadowctl that died mid-copy (kill -9, a crash, the machine went
    /// down): nobody would ever finish it, and programs would go on writing the source
    /// alone. Whoever started it wanted the member back (an `enable`, a `replace`, `watch`'s
    /// rebuild, which a supervisor restarts), so it is marked failed, which `watch`
    /// rebuilds; an operator who stops a copy with a signal gets it disabled instead. As
    /// the copy may have been a full one (`replace`, `--update all`) cut short, the next
    /// one scans everything rather than trusting the change list alone.
    fn settle_abandoned_resync(&self) {
        let Ok(s) = self.read() else { return };
        for m in Member::ALL.into_iter().filter(|m| s.member(*m).state == MemberState::Resyncing) {
            self.state.mark_changes_lost();
            if sync::record_in_flight(&shared::copying_path(&self.config)).is_ok() {
                self.list_half_copied(&self.dir(&s, m));
            }
            if self.change(|st| st.member_mut(m).state = MemberState::Failed).is_ok() {
                let what = format!("{} was left resyncing by a shadowctl that ended without finishing (killed?): marked failed; `shadowctl watch` or `shadowctl enable {}` brings it level (a full scan)", m.name(), m.name());
                eprintln!("shadowctl: {what}");
                self.history(Code::MemberStateChanged, &s.member(Member::Primary).dir, &s.member(Member::Secondary).dir, &what);
            }
        }
    }

    pub fn read(&self) -> Result<State, String> {
        self.state.read().map_err(|e| format!("{}: {e}", self.state.path.display()))
    }

    /// Applies a change and waits until it is in force in every process.
    pub fn change(&self, f: impl FnOnce(&mut State)) -> Result<(), String> {
        let epoch = self.state.update(f)?;
        self.taken(epoch)
    }

    /// `change` made with writers held back from `check` on: no process starts an
    /// operation between the two (a shared mapping made after `lead_may_move` looked was of
    /// the old lead's file, and what the program wrote through it was lost from both
    /// members once the lead had moved).
    pub fn change_checked(&self, check: impl FnOnce() -> Result<(), String>, f: impl FnOnce(&mut State)) -> Result<(), String> {
        let epoch = self.with_writers_held(|| {
            check()?;
            self.state.update(f)
        })?;
        self.taken(epoch)
    }

    /// Frees the registry slots of processes that are gone. One that died inside an
    /// operation while a member was away may have changed the source with nothing recorded
    /// of it (the change list is written once a change is made): the list is marked
    /// incomplete, and the next enable scans everything (update newer). The shim does the
    /// same where it takes such a slot over.
    pub fn reap(&self) {
        if self.registry.reap() && self.read().is_ok_and(|s| !st_all_enabled(&s)) {
            self.state.mark_changes_lost();
        }
    }

    /// Waits until every process has taken the change to `epoch`.
    fn taken(&self, epoch: u64) -> Result<(), String> {
        self.reap();
        self.registry.wait_for(epoch, WAIT).map_err(|pids| format!("processes {pids:?} did not take the change within {}s", WAIT.as_secs()))
    }

    pub fn dir(&self, s: &State, m: Member) -> PathBuf {
        PathBuf::from(&s.member(m).dir)
    }

    pub fn history(&self, code: Code, primary: &str, secondary: &str, what: &str) {
        let line = Record { code, primary, secondary, error: what }.to_string();
        if let Ok(mut f) = shared::open_or_make(&self.config.history_path(), std::fs::OpenOptions::new().append(true)) {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }

    fn changes(&self) -> Vec<u8> {
        std::fs::read(shared::changes_path(&self.config)).unwrap_or_default()
    }

    /// Brings `target` up to date from the other member and enables it, while programs keep
    /// writing: a full pass by `mode`, then passes over the paths changed meanwhile (the
    /// change list), then a short freeze to copy what is left and switch.
    pub fn resync(&self, target: Member, mode: UpdateMode, progress: &mut dyn FnMut(&str, &Stats, bool)) -> Result<ResyncReport, String> {
        let s = self.read()?;
        let source = Member::ALL.into_iter().find(|m| *m != target).expect("two members");
        if s.member(source).state != MemberState::Enabled {
            return Err(format!("{} is {}: there is no up-to-date member to copy from", source.name(), s.member(source).state.name()));
        }
        // Enabling the primary makes it the lead again.
        let lead_moves = target == Member::Primary;
        if lead_moves {
            self.lead_may_move(target)?;
        }
        let (src, dst) = (self.dir(&s, source), self.dir(&s, target));
        if !dst.is_dir() {
            return Err(format!("{}: not a directory (is the {} member reachable?)", dst.display(), target.name()));
        }
        // A full copy (all, replace) cut short leaves what the target held before, newer
        // than the source's some of it (a directory `replace` took over), which neither the
        // change list nor a `newer` scan would touch: until one completes, this member's
        // resyncs copy everything.
        let due = shared::full_copy_due_path(&self.config);
        self.reap();
        let mode = match mode {
            UpdateMode::Dirty | UpdateMode::Newer if std::fs::read_to_string(&due).is_ok_and(|m| m == target.name()) => {
                eprintln!("shadowctl: a full copy onto {} was cut short: copying everything (update all)", target.name());
                UpdateMode::All
            }
            UpdateMode::Dirty if self.state.changes_lost() => UpdateMode::Newer,
            mode => mode,
        };
        if matches!(mode, UpdateMode::All | UpdateMode::Replace) {
            std::fs::write(&due, target.name()).map_err(|e| format!("{}: {e}", due.display()))?;
        }
        sync::record_in_flight(&shared::copying_path(&self.config)).map_err(|e| format!("{}: {e}", shared::copying_path(&self.config).display()))?;
        self.change(|st| {
            let t = st.member_mut(target);
            t.state = MemberState::Resyncing;
            t.reads_ranges = true;
        })?;
        if mode == UpdateMode::Dirty {
            self.let_parts_end();
        }
        let started = Instant::now();
        let mut total = Stats::default();
        // Name changes are made again on the member only where it is as it was when it left
        // (`dirty`): a full copy has made its names the source's already, in files of its own.
        let mut replayed = (mode == UpdateMode::Dirty).then_some(sync::Replayed { faithful: true, ..Default::default() });
        let was_disabled = s.member(target).state == MemberState::Disabled;
        let result = (|| -> Result<(Duration, usize, u64), String> {
            if mode != UpdateMode::Dirty {
                // The scan covers whatever went unrecorded before it; what goes unrecorded
                // from now on is news (checked with writers held back, below).
                self.state.reset_changes_lost();
                let mut on = |st: &Stats, done: bool| progress("copy", st, done);
                let st = sync::copy_tree(&src, &dst, mode, &mut on).map_err(|e| format!("copying {} to {}: {e}", src.display(), dst.display()))?;
                add(&mut total, &st);
            }
            // Catch up with what changed meanwhile, until little is left.
            let mut consumed = 0;
            let mut again = Vec::new();
            let mut deferred = Vec::new();
            let mut files = Synced::new();
            for _ in 0..8 {
                let data = self.changes();
                let first = consumed == 0;
                let Changes { paths: fresh, ops, written, since_left, .. } = shadow_core::state::parse_log(&data[consumed.min(data.len())..]);
                // Only read from the list's start, where it holds every change since the
                // member left (a later pass's may be of a file an earlier one left to copy
                // whole), and only where the list holds every change: a scan ran because it
                // may not.
                let kept = if mode == UpdateMode::Dirty && first { since_left } else { Default::default() };
                // Up to the last complete record: a record being appended is read next time.
                consumed = data.iter().rposition(|&b| b == 0).map_or(consumed, |i| i + 1);
                let settle = again.len() + fresh.len() < 16;
                let pass: Vec<PathBuf> = fresh.into_iter().chain(again).collect();
                again = self.sync_paths(&src, &dst, (&ops, &mut replayed), (&pass, (&written, &kept), &mut files), &mut total, Pass::Writing, &mut deferred)?;
                if settle {
                    break;
                }
            }
            // Files with several names wait for the freeze; the trees' names are read first.
            let names = (!deferred.is_empty()).then(|| (sync::linked_names(&src), sync::linked_names(&dst)));
            // Copy the rest and switch with writers held back.
            let frozen_at = Instant::now();
            let bytes_before = total.bytes;
            let (epoch, rest) = self.with_writers_held(|| {
                // A change the list lacks would be lost from the member for good: the change
                // list is truncated once both members are written.
                if self.state.changes_lost() {
                    return Err("a change made while the copy ran could not be recorded in the change list (see the history or the programs' reports): the member stays out; enable it again to scan everything (update newer)".to_string());
                }
                let data = self.changes();
                let Changes { paths: listed, ops, written, .. } = shadow_core::state::parse_log(&data[consumed.min(data.len())..]);
                let rest: Vec<PathBuf> = listed.into_iter().chain(again).chain(deferred).collect();
                self.sync_paths(&src, &dst, (&ops, &mut replayed), (&rest, (&written, &Default::default()), &mut files), &mut total, Pass::Settled(names), &mut Vec::new())?;
                if lead_moves {
                    // A mapping made while the copy ran is of the source's file.
                    self.lead_may_move(target)?;
                }
                stamp::both_in_step(&s.member(source).dir, &s.member(target).dir, self.state.set_id)?;
                let stamped = |m: Member| matches!(stamp::identity(&s.member(m).dir), Some(Some(_)));
                let (source_stamped, target_stamped) = (stamped(source), stamped(target));
                let epoch = self.state.update(|st| {
                    // Both move on: every process must see that the target's files are new,
                    // even one that slept through the whole resync.
                    let g = st.member(source).generation + 1;
                    st.member_mut(source).generation = g;
                    let t = st.member_mut(target);
                    t.state = MemberState::Enabled;
                    t.generation = g;
                    // Its files are those it had, under the names the source gives them,
                    // where every change of names was made again as it was made: what
                    // processes hold there is still theirs (see `View::renewed`). Not for
                    // a member that failed: the call it failed in may have reached it.
                    if !(was_disabled && replayed.as_ref().is_some_and(|n| n.faithful)) {
                        t.rewritten = g;
                    }
                    t.mount_root = shared::is_mount_root(&t.dir);
                    t.stamped = target_stamped;
                    st.member_mut(source).stamped = source_stamped;
                })?;
                if st_all_enabled(&self.read()?) {
                    let _ = std::fs::File::create(shared::changes_path(&self.config));
                    self.state.reset_changes_lost();
                }
                Ok((epoch, rest))
            })?;
            self.registry.wait_for(epoch, WAIT).map_err(|pids| format!("processes {pids:?} did not take the change"))?;
            Ok((frozen_at.elapsed(), rest.len(), total.bytes - bytes_before))
        })();
        match result {
            Ok((freeze, last_paths, last_bytes)) => {
                sync::take_in_flight();
                let _ = std::fs::remove_file(&due);
                Ok(ResyncReport { mode, stats: total, elapsed: started.elapsed(), freeze, last_paths, last_bytes })
            }
            Err(e) => {
                // A full copy cut short leaves the target partly filled, with nothing in
                // the change list about what it lacks.
                // So does one whose name changes were made again in part: made again by
                // the next, they would find the member changed.
                if mode != UpdateMode::Dirty || replayed.as_ref().is_some_and(|n| n.made > 0) {
                    self.state.mark_changes_lost();
                }
                self.list_half_copied(&dst);
                // Unless it failed meanwhile (an error, or watch found it hung): a failed
                // member is one watch rebuilds.
                let _ = self.change(|st| {
                    let t = st.member_mut(target);
                    if t.state != MemberState::Failed {
                        t.state = MemberState::Disabled;
                    }
                });
                Err(e)
            }
        }
    }

    /// Waits a little for the processes whose opens wrote while the member was away to take
    /// up the resync's state: each ends its opens' parts then, with the byte ranges they
    /// wrote (the shim's outage.rs), and a file whose part has not ended is copied whole. A
    /// process that makes no call meanwhile (asleep, blocked) is not waited for longer.
    fn let_parts_end(&self) {
        let Ok(epoch) = self.read().map(|s| s.epoch) else { return };
        let pids = shadow_core::state::parse_log(&self.changes()).unended;
        let deadline = Instant::now() + PARTS_END_WITHIN;
        while self.registry.unseen(epoch).any(|p| pids.contains(&p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Refused while processes hold shared mappings of the set's files open for writing:
    /// their pages stay the old lead's files for as long as they live, while the others
    /// would read and write the new lead's. SQLite's WAL index (`-shm`) is such a mapping:
    /// moving the lead under its writers lost committed transactions and corrupted the
    /// database on both members (and `enable primary` copied the secondary's stale `-shm`
    /// over the one they had mapped).
    pub fn lead_may_move(&self, to: Member) -> Result<(), String> {
        let pids = self.registry.mapping_holders();
        if pids.is_empty() {
            return Ok(());
        }
        let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        Err(format!(
            "refusing to make the {} the lead: process(es) {} hold shared mappings of files of the set (SQLite's -shm, for one), which stay the current lead's files while they live; stop them (or wait until they unmap) and try again",
            to.name(),
            pids.join(", ")
        ))
    }

    /// Compares the members (whole, or the given paths). Differences are checked again with
    /// writers held back for a moment, so a write in flight between the two members is not
    /// reported; with `repair` the remaining ones are copied from the newer member (higher
    /// generation; the primary when equal) while writers are still held.
    /// `obs` sees the first, whole pass (progress, digests).
    pub fn verify(&self, paths: &[PathBuf], repair: bool, obs: &mut dyn tree::Observer) -> Result<(Vec<tree::Diff>, usize), String> {
        let s = self.read()?;
        let (p, q) = (self.dir(&s, Member::Primary), self.dir(&s, Member::Secondary));
        let roots: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::new()] } else { paths.to_vec() };
        let compare = |rels: &[PathBuf], obs: &mut dyn tree::Observer| -> Result<Vec<tree::Diff>, String> {
            let mut all = Vec::new();
            for rel in rels {
                all.extend(tree::compare_observed(&p, &q, rel, obs).map_err(|e| format!("verify {}: {e}", rel.display()))?);
            }
            Ok(all)
        };
        let first = compare(&roots, obs)?;
        if first.is_empty() {
            return Ok((first, 0));
        }
        let _lock = self.command_lock()?;
        self.with_writers_held(|| {
            // Once each: a path with two differences is compared (and reported) once.
            let mut suspects: Vec<PathBuf> = first.iter().map(|d| d.path.clone()).collect();
            suspects.sort();
            suspects.dedup();
            // A file open for writing has each member's own mtime until its last close.
            let writing = self.open_for_writing(&s);
            // Each alone: a directory's entries are suspects of their own (compared with
            // the directory, a differing directory's children were reported twice).
            let mut real = Vec::new();
            for rel in &suspects {
                real.extend(tree::compare_entry(&p, &q, rel).map_err(|e| format!("verify {}: {e}", rel.display()))?);
            }
            real.retain(|d| !(matches!(d.what, tree::Difference::Mtime(..)) && writing.contains(&d.path)));
            let mut repaired = 0;
            if repair && !real.is_empty() {
                // A member that is not written is neither copied from nor into: its enable
                // brings it level (before, a repair wrote into a failed primary).
                if !st_all_enabled(&s) {
                    return Err(format!("{} difference(s) found; not repaired: a member is not enabled (`shadowctl enable` brings it level)", real.len()));
                }
                let (from, to) = self.newer_first(&s);
                let mut paths: Vec<&PathBuf> = real.iter().map(|d| &d.path).collect();
                paths.dedup();
                for path in paths {
                    let mut quiet = |_: &Stats, _: bool| {};
                    sync::sync_path(&from, &to, path, &mut quiet).map_err(|e| format!("repair {}: {e}", tree::printable(path.as_os_str())))?;
                    repaired += 1;
                }
            }
            Ok((real, repaired))
        })
    }

    /// The files running programs hold open for writing, relative to the prefix.
    fn open_for_writing(&self, s: &State) -> std::collections::HashSet<PathBuf> {
        let prefix = self.config.prefix.trim_end_matches('/');
        self.registry
            .live()
            .into_iter()
            .flat_map(|(_, pid)| crate::report::open_files(pid, prefix, s))
            .filter(|f| f.flags as i32 & libc::O_ACCMODE != libc::O_RDONLY)
            .filter_map(|f| f.path.strip_prefix(prefix).map(|r| PathBuf::from(r.trim_start_matches('/'))))
            .collect()
    }

    /// What the members' stamps say about them.
    pub fn relation(&self, s: &State) -> Result<Relation, stamp::StampError> {
        stamp::relation_of(&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir)
    }

    /// Refuses to copy over `target` when its stamp says it holds changes the other member
    /// lacks: after a split brain always (`recover --prefer` decides), and when only the
    /// target moved on unless forced. A refusal for split brain goes to the history once.
    pub fn may_copy_over(&self, s: &State, target: Member, force: bool) -> Result<(), String> {
        let source = Member::ALL.into_iter().find(|m| *m != target).expect("two members");
        match self.relation(s)? {
            Relation::SplitBrain => {
                self.split_brain_seen(s);
                Err(format!(
                    "split brain: {} and {} were both written while apart; nothing is copied over either. List the conflicts with `shadowctl status`, settle them with `shadowctl recover --prefer primary|secondary|newer|bigger`",
                    s.member(Member::Primary).dir,
                    s.member(Member::Secondary).dir
                ))
            }
            Relation::Ahead(m) if m == target && !force => Err(format!(
                "refusing to copy {} over {}: its stamp says {} was written while {} was away. Use --force to overwrite it anyway",
                source.name(),
                target.name(),
                target.name(),
                source.name()
            )),
            _ => Ok(()),
        }
    }

    /// Records a split brain in the history (an event for `watch` and `wait`), once per pair
    /// of stamps.
    pub fn split_brain_seen(&self, s: &State) {
        let (p, q) = (&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir);
        let key = format!("{:?}{:?}", stamp::read(p).ok().flatten().map(|x| x.current), stamp::read(q).ok().flatten().map(|x| x.current));
        let marker = self.config.state_dir.join("split-brain");
        if std::fs::read_to_string(&marker).is_ok_and(|k| k == key) {
            return;
        }
        let _ = std::fs::write(&marker, &key);
        self.history(Code::SplitBrain, p, q, "split brain: both members were written while apart (their stamps say so); nothing is copied until `shadowctl recover --prefer` settles the conflicts");
    }

    /// The paths that differ between the members (whole, or below the given paths): after a
    /// split brain, the conflicts.
    pub fn conflicts(&self, paths: &[PathBuf]) -> Result<Vec<tree::Diff>, String> {
        let s = self.read()?;
        let (p, q) = (self.dir(&s, Member::Primary), self.dir(&s, Member::Secondary));
        let roots: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::new()] } else { paths.to_vec() };
        let mut all = Vec::new();
        for rel in &roots {
            all.extend(tree::compare_path(&p, &q, rel).map_err(|e| format!("compare {}: {e}", rel.display()))?);
        }
        Ok(all)
    }

    /// Settles differing paths by policy, with writers held back: each gets the winning
    /// member's version (metadata only where only metadata differs). With no paths given,
    /// every difference is settled and the set is whole again: the stamps are put in step
    /// and a member that was away is brought back (a dirty resync of what changed meanwhile).
    pub fn resolve(&self, prefer: Prefer, paths: &[PathBuf]) -> Result<Vec<(String, Member)>, String> {
        let _lock = self.command_lock()?;
        let s = self.read()?;
        let all = paths.is_empty();
        let away = Member::ALL.into_iter().find(|m| s.member(*m).state != MemberState::Enabled).filter(|_| all);
        if let Some(m) = away {
            // From here on every change to the survivor is listed for the resync below.
            self.change(|st| st.member_mut(m).state = MemberState::Resyncing)?;
        }
        // The whole comparison with writers running; each difference again, alone, with them
        // held back, so the hold-up lasts as long as the settling, not the search.
        let changes = shared::changes_path(&self.config);
        // Up to the last complete record (one may be being appended).
        let listed_before = std::fs::read(&changes).map_or(0, |d| d.iter().rposition(|&b| b == 0).map_or(0, |i| i + 1));
        let lost_before = self.state.changes_lost();
        let found = self.conflicts(paths);
        let settled = found.and_then(|found| {
            self.with_writers_held(|| {
            let (p, q) = (self.dir(&s, Member::Primary), self.dir(&s, Member::Secondary));
            let mut done: Vec<(String, Member)> = Vec::new();
            for d in &found {
                let rel = tree::printable(d.path.as_os_str()).into_owned();
                if done.iter().any(|(r, _)| *r == rel) {
                    continue;
                }
                let now = tree::compare_entry(&p, &q, &d.path).map_err(|e| format!("settle {rel}: {e}"))?;
                if now.is_empty() {
                    continue;
                }
                let winner = prefer.winner(sync::version(&p, &d.path), sync::version(&q, &d.path));
                let (from, to) = if winner == Member::Primary { (&p, &q) } else { (&q, &p) };
                if let (_, Some(e)) = repair_each(from, to, &now) {
                    return Err(e);
                }
                done.push((rel, winner));
            }
            if all {
                // Settled: what the change list named before the search is done; what programs
                // changed since is left for the resync below.
                let since = std::fs::read(&changes).map(|d| d.get(listed_before..).unwrap_or_default().to_vec()).unwrap_or_default();
                if self.state.changes_lost() && !lost_before {
                    // A change made during the search went unrecorded: nothing says which.
                    return Err("a change could not be recorded in the change list while the conflicts were being settled: run `shadowctl recover --prefer …` again".to_string());
                }
                let mut f = shared::open_or_make(&changes, std::fs::OpenOptions::new().write(true)).map_err(|e| format!("{}: {e}", changes.display()))?;
                f.set_len(0).and_then(|_| f.write_all(&since)).map_err(|e| format!("{}: {e}", changes.display()))?;
                self.state.reset_changes_lost();
            }
            Ok(done)
            })
        });
        let settled = match settled {
            Ok(d) => d,
            Err(e) => {
                if let Some(m) = away {
                    let was = s.member(m).state;
                    let _ = self.change(|st| st.member_mut(m).state = was);
                }
                return Err(e);
            }
        };
        match away {
            Some(m) => {
                self.resync(m, UpdateMode::Dirty, &mut |_, _, _| {})?;
            }
            None if all => stamp::both_in_step(&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir, self.state.set_id)?,
            None => {}
        }
        Ok(settled)
    }

    /// Member directories, the newer member's first (higher generation; the primary when
    /// equal): the direction of every repair.
    fn newer_first(&self, s: &State) -> (PathBuf, PathBuf) {
        let (p, q) = (self.dir(s, Member::Primary), self.dir(s, Member::Secondary));
        if s.member(Member::Secondary).generation > s.member(Member::Primary).generation { (q, p) } else { (p, q) }
    }

    /// Runs `f` with writers held back: they wait on byte 1 of the lock file while the set is
    /// frozen, and `f` starts once no process has an operation in flight.
    fn with_writers_held<T>(&self, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        self.lock.lock(1, libc::F_WRLCK).map_err(|e| format!("freeze: {e}"))?;
        self.state.set_frozen(true);
        let result = self.registry.wait_idle(WAIT).map_err(|pids| format!("processes {pids:?} stayed busy")).and_then(|_| f());
        self.state.set_frozen(false);
        let _ = self.lock.lock(1, libc::F_UNLCK);
        result
    }

    /// After a crash: the journal's intents of processes that are gone name every directory
    /// whose entries may differ between the members. Each is compared (its metadata, entries
    /// and their contents) and what differs is copied from the member ahead (its stamp says
    /// so; else the higher generation; the primary when equal), then the journal is compacted
    /// to the intents of live processes. Compared first with writers running, then the
    /// differences again, and the journal read and rewritten, with writers held back, so no
    /// intent appended meanwhile is lost. After a split brain nothing is touched (`resolve`
    /// decides). A member that cannot be read (down) leaves its intents for the next time.
    /// A damaged journal is reported and the whole tree verified and repaired instead.
    pub fn recover(&self) -> Result<RecoverReport, String> {
        let jpath = shared::journal_path(&self.config);
        let s = self.read()?;
        let relation = match self.relation(&s) {
            Ok(r) => r,
            Err(e @ stamp::StampError::Damaged(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("shadowctl: {e}: split-brain check skipped");
                Relation::Unknown
            }
        };
        let mut report = RecoverReport { repaired: Vec::new(), examined: 0, damage: None, full_verify: None, left_for_later: Vec::new(), unrepaired: Vec::new(), split_brain: relation == Relation::SplitBrain };
        if report.split_brain {
            return Ok(report);
        }
        let (from, to) = match relation {
            Relation::Ahead(m) => {
                let other = Member::ALL.into_iter().find(|x| *x != m).expect("two members");
                (self.dir(&s, m), self.dir(&s, other))
            }
            _ => self.newer_first(&s),
        };
        let both = st_all_enabled(&s);
        // The intents in doubt: of processes gone (the crashed ones as seen now).
        let snapshot = || -> (Vec<u8>, Vec<journal::Record>, Option<journal::Damage>, std::collections::HashSet<u32>) {
            let data = std::fs::read(&jpath).unwrap_or_default();
            let (records, damage) = match journal::decode_file(&data, self.state.set_id) {
                Ok(r) => r,
                // Unreadable as a whole: nothing in it can be trusted; verify everything.
                Err(e) => (Vec::new(), Some(journal::Damage { offset: 0, reason: reason_of(e) })),
            };
            let live = self.registry.live().into_iter().map(|(_, pid)| pid).collect();
            (data, records, damage, live)
        };
        // What each intent of a process gone puts in doubt: the entries it listed, when the
        // process died in this boot (a kill -9 loses nothing written), else its whole
        // directory (a power failure may have lost the unflushed entry list).
        let boot = shared::boot_hash();
        // Each: the intent's id, the intent, and its entries (path, whether its directory).
        type Suspects = Vec<(u64, journal::Intent, Vec<(Vec<u8>, bool)>)>;
        let suspects_of = |records: &[journal::Record], live: &std::collections::HashSet<u32>| -> Suspects {
            journal::open_intents(records)
                .into_iter()
                .filter(|(id, _)| !live.contains(&journal::pid_of(*id)))
                .map(|(id, intent)| {
                    // The whole directory instead of the listed entries when one is a symlink
                    // (it may have stood for its target), or a file open at the time that
                    // neither member holds at that name any more (renamed or replaced while
                    // open: its writes went on under another name).
                    let member_meta = |m: &PathBuf, e: &[u8]| std::fs::symlink_metadata(m.join(as_path(e))).ok();
                    let links = intent.entries.iter().any(|(e, _)| [&from, &to].iter().any(|m| member_meta(m, e).is_some_and(|x| x.file_type().is_symlink())));
                    let moved: std::collections::HashSet<u64> = intent.entries.iter().filter(|(e, ino)| *ino != 0 && ![&from, &to].iter().any(|m| member_meta(m, e).is_some_and(|x| std::os::unix::fs::MetadataExt::ino(&x) == *ino))).map(|(_, ino)| *ino).collect();
                    let exact = !intent.whole && !links && moved.is_empty() && !intent.entries.is_empty() && boot != 0 && self.registry.boot_of(journal::pid_of(id)) == Some(boot);
                    let mut items = if exact { intent.entries.iter().map(|(e, _)| (e.clone(), false)).collect() } else { vec![(intent.dir.clone(), true)] };
                    // A listed file moved out of its directory (renamed to another once
                    // closed, or while open) is compared where it is now, found by its
                    // inode on either member. Before, only its old directory was, and a
                    // file the follower had refused a change of, renamed since, was left
                    // different with `recover` exiting 0 (found by a helper's fsstress run).
                    for m in [&from, &to] {
                        items.extend(tree::find_inodes(m, &moved).into_values().map(|rel| (rel.into_os_string().into_encoded_bytes(), false)));
                    }
                    (id, intent, items)
                })
                .collect()
        };
        // (path, whole directory?) → compare
        let compare = |path: &[u8], whole: bool| if whole { tree::compare_shallow(&from, &to, as_path(path)) } else { tree::compare_entry(&from, &to, as_path(path)) };
        let (data, records, mut damage, live) = snapshot();
        let crashed = self.registry.crashed();
        let lost = damage.is_none() && self.state.take_journal_lost();
        if lost {
            damage = Some(journal::Damage { offset: data.len(), reason: "a write intent could not be written (see the history)" });
        }
        if let Some(d) = &damage {
            report.damage = Some(match lost {
                true => format!("{}: not complete: a change went unrecorded or reached one member only (see the history)", jpath.display()),
                false => format!("{}: {d}", jpath.display()),
            });
            if both {
                let (_, repaired) = self.verify(&[], true, &mut tree::Unobserved)?;
                let (left, _) = self.verify(&[], false, &mut tree::Unobserved)?;
                report.full_verify = Some((repaired, left.len()));
            } else {
                // A member away is not written (nor copied from): its enable must look at
                // everything, the change list not knowing what the damage hid.
                self.state.mark_changes_lost();
            }
        }
        let suspects = suspects_of(&records, &live);
        let seen_first: std::collections::HashSet<u64> = suspects.iter().map(|(id, _, _)| *id).collect();
        if suspects.is_empty() && damage.is_none() && (data.len() as u64) < self.config.journal_max {
            self.registry.forget(&crashed);
            return Ok(report);
        }
        // First look with writers running: only what differs now needs a second look.
        let mut first: std::collections::BTreeMap<(Vec<u8>, bool), Vec<tree::Diff>> = std::collections::BTreeMap::new();
        if both {
            for (path, whole) in suspects.iter().flat_map(|(_, _, items)| items.iter().cloned()) {
                match compare(&path, whole) {
                    Ok(d) => {
                        first.insert((path, whole), d);
                    }
                    Err(e) => {
                        eprintln!("shadowctl: recover {}: {e}: left in the journal for the next recover", printable(&path));
                        report.left_for_later.push(path);
                    }
                }
            }
        }
        let _lock = self.command_lock()?;
        self.with_writers_held(|| {
            // The journal as it is now: intents appended since the first look are kept (or,
            // for a process that died meanwhile, examined here).
            let (_, records, damage, live) = snapshot();
            let suspects = suspects_of(&records, &live);
            // An item of an intent the first look did not see (its process died since) is
            // compared afresh: the first look's verdict predates that process's last change.
            let fresh: std::collections::HashSet<(Vec<u8>, bool)> = suspects.iter().filter(|(id, _, _)| !seen_first.contains(id)).flat_map(|(_, _, items)| items.iter().cloned()).collect();
            let mut items: Vec<(Vec<u8>, bool)> = suspects.iter().flat_map(|(_, _, items)| items.iter().cloned()).collect();
            items.sort();
            items.dedup();
            for (path, whole) in items {
                if report.left_for_later.contains(&path) {
                    continue;
                }
                report.examined += 1;
                if !both {
                    // A member is away: its enable will copy what the change list names.
                    let mut f = shared::open_or_make(&shared::changes_path(&self.config), std::fs::OpenOptions::new().append(true)).map_err(|e| e.to_string())?;
                    f.write_all(&[path.as_slice(), b"\0"].concat()).map_err(|e| e.to_string())?;
                    report.repaired.push(printable(&path));
                    continue;
                }
                let cached = if fresh.contains(&(path.clone(), whole)) { None } else { first.get(&(path.clone(), whole)) };
                let diffs = match cached {
                    Some(d) if d.is_empty() => continue,
                    // Each difference again, alone (an entry: its own type, metadata, contents).
                    Some(d) => d.iter().map(|x| tree::compare_entry(&from, &to, &x.path)).collect::<Result<Vec<_>, _>>().map(|v| v.concat()),
                    None => compare(&path, whole),
                };
                match diffs {
                    Ok(d) => {
                        // One path the follower refuses (an immutable file) must not stop
                        // the repair of the others: it stays in the journal, reported.
                        let (done, failed) = repair_each(&from, &to, &d);
                        report.repaired.extend(done);
                        if let Some(e) = failed {
                            eprintln!("shadowctl: recover: {e}: left in the journal for the next recover");
                            report.unrepaired.push(path.clone());
                            report.left_for_later.push(path);
                        }
                    }
                    Err(e) => {
                        eprintln!("shadowctl: recover {}: {e}: left in the journal for the next recover", printable(&path));
                        report.left_for_later.push(path);
                    }
                }
            }
            // Compact in place (programs hold the journal open for appending): keep the
            // intents of processes still running and those left for later. After damage,
            // what followed it cannot be read: the whole tree was verified instead.
            let left = &report.left_for_later;
            let mut keep = journal::file_header(self.state.set_id);
            for (id, mut intent) in journal::open_intents(&records) {
                let pending = left.contains(&intent.dir) || intent.entries.iter().any(|(e, _)| left.contains(e));
                if live.contains(&journal::pid_of(id)) || pending {
                    // After damage its later entries may be missing: the whole directory then.
                    intent.whole |= damage.is_some();
                    keep.extend(intent.encode(id));
                }
            }
            let mut f = std::fs::OpenOptions::new().write(true).open(&jpath).map_err(|e| format!("{}: {e}", jpath.display()))?;
            f.set_len(0).and_then(|_| f.write_all(&keep)).and_then(|_| f.sync_data()).map_err(|e| format!("{}: {e}", jpath.display()))?;
            Ok(())
        })?;
        let s = self.read()?;
        let (p, q) = (&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir);
        for rel in &report.repaired {
            self.history(Code::Recovered, &format!("{p}/{rel}"), &format!("{q}/{rel}"), "recovered: in flight in the journal when its process ended (a crash, or a file a member refused)");
        }
        if report.left_for_later.is_empty() {
            self.registry.forget(&crashed);
        }
        Ok(report)
    }

    /// Syncs `paths` (change-list records) from `src` to `dst`. A path that fails is tried
    /// once more after the others: its directory may be named later in the list (made a
    /// directory again after this path's record; until that record is synced the target has
    /// a file there). While programs write (`Pass::Writing`), one that fails again is
    /// returned, to be synced in the next pass: programs changed it under the copy (a file
    /// become a directory between a look and a use), and their records of it come then.
    /// With writers held back (`Pass::Settled`), a failure is the enable's. Before, any failure
    /// failed the enable ("A/C/B: File exists", "B: Is a directory"; the member stayed out:
    /// 5 of 5 of helper-42's failing seeds).
    /// While programs write, files with several names are left for the pass with writers
    /// held back, added to `deferred` (see `PathSync::deferring_links`).
    /// `names`: the list's name changes in these records, made again on the target first
    /// where the second is `Some`, which gathers what they did (see PathSync::replay).
    /// `listed`: the paths, the byte ranges of those only writes named (with those whose
    /// ranges hold every change since the member left: `Changes::since_left`), and the
    /// files earlier passes left as the source's (`Synced`), which this pass keeps up.
    fn sync_paths(&self, src: &Path, dst: &Path, names: (&[NameOp], &mut Option<sync::Replayed>), listed: (&[PathBuf], (&Written, &std::collections::HashSet<PathBuf>), &mut Synced), total: &mut Stats, pass: Pass, deferred: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>, String> {
        let (paths, (written, since_left), files) = listed;
        let settled = matches!(pass, Pass::Settled(_));
        // Directories this pass made whole on the target (copied with everything below, or
        // removed): what the list names below them is done already.
        // Sets, not lists: a pass of 80,000 records took 15 s, each looked up in a list as
        // long, and 500,000 never ended (found by helper-42). A path the pass synced already
        // is as the source has it: its records were all made before the pass began.
        let mut whole: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        let mut synced: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        let mut quiet = |_: &Stats, _: bool| {};
        let mut each = match pass {
            Pass::Settled(Some((source, target))) => sync::PathSync::new(src, dst, &mut quiet).knowing_names(source, target),
            Pass::Settled(None) => sync::PathSync::new(src, dst, &mut quiet),
            Pass::Writing => sync::PathSync::new(src, dst, &mut quiet).deferring_links(),
        };
        // Directories the name changes moved are copied whole, first (see Replayed).
        let (mut moved, mut removed_by_names) = (Vec::new(), 0);
        if let Some(all) = names.1.as_mut() {
            let r = each.replay(names.0, |rel| beneath(dst, rel, false));
            all.made += r.made;
            all.faithful &= r.faithful;
            (moved, removed_by_names) = (r.moved, r.removed);
        }
        // A program names paths through symlinks, and the list has its names: each is
        // synced where it lies on the source (links on the way followed, beneath the
        // member), and where a last link leads too (what was written through it). Before,
        // the names were joined as they were: a file made below a link made in the same
        // outage was never copied, nor what a program wrote, truncated or chmodded through
        // an older link (`current.log` -> `logs/app.log`: the log's new lines, unreported;
        // found by helper-42).
        let named = |rel: &Path, e: std::io::Error| format!("{}: {e}", tree::printable(rel.as_os_str()));
        let mut failed = Vec::new();
        for (rel, all) in moved.iter().map(|r| (r, true)).chain(paths.iter().map(|r| (r, false))) {
            let Some(entry) = beneath(src, rel, false) else { continue };
            if entry.ancestors().skip(1).any(|d| whole.contains(d)) {
                // Copied with its directory, or not at all if that copy fails and is left
                // to the next pass, which copies by times and sizes alone: whole next time.
                files.remove(&entry);
                continue;
            }
            if !synced.insert(entry.clone()) {
                continue;
            }
            // A file an earlier pass made the source's, only written since: those bytes. So
            // too the member's own file, kept through the outage, where every open that
            // changed it then named the bytes it wrote (a database written for a minute of
            // an outage: what changed, not the whole file).
            let was = files.remove(&entry).or_else(|| since_left.contains(rel).then(|| each.synced_file(&entry)).flatten());
            if let (Some(ranges), Some(was), false) = (written.get(rel).filter(|_| entry == *rel), was, all) {
                match each.sync_written(&entry, was, ranges) {
                    Ok(true) => {
                        files.insert(entry, was);
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(named(rel, e)),
                    // Copied whole, as any other.
                    Ok(false) | Err(_) => {}
                }
            }
            if all || std::fs::symlink_metadata(dst.join(&entry)).is_err() || std::fs::symlink_metadata(src.join(&entry)).is_err() {
                whole.insert(entry.clone());
            }
            match sync_entry(&mut each, src, dst, rel, &entry, all) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(named(rel, e)),
                Err(_) => failed.push((rel, entry, all)),
                Ok(()) => files.extend(each.synced_file(&entry).map(|f| (entry, f))),
            }
        }
        let mut again = Vec::new();
        for (rel, entry, all) in failed {
            match sync_entry(&mut each, src, dst, rel, &entry, all) {
                Err(e) if settled || e.kind() == std::io::ErrorKind::Interrupted => return Err(named(rel, e)),
                Err(_) => again.push(rel.clone()),
                Ok(()) => files.extend(each.synced_file(&entry).map(|f| (entry, f))),
            }
        }
        // With the changes of names made again, the copy finds nothing to remove: what it
        // removes, a program changed between this pass's read of the list and its copy
        // (a rename the next pass finds made), and a file there may have been another's.
        if let Some(all) = names.1 {
            all.faithful &= each.stats().removed == removed_by_names;
        }
        add(total, &each.stats());
        // Left for the freeze uncopied, whatever its names are by now.
        let left = each.deferred();
        for p in &left {
            files.remove(p);
        }
        deferred.extend(left);
        Ok(again)
    }
}

/// The byte ranges of paths only writes named, in a stretch of the change list.
type Written = std::collections::HashMap<PathBuf, Vec<(u64, u64)>>;

/// Files a catch-up pass left as the source's (by their place on the source), whose
/// writes since are all the next pass needs to copy of them (`PathSync::sync_written`).
type Synced = std::collections::HashMap<PathBuf, sync::SyncedFile>;

/// A catch-up pass: made while programs write (files with several names are left for the
/// last pass), or that last one, with writers held back, and the trees' names of such
/// files when they were read before it.
enum Pass {
    Writing,
    Settled(Option<(sync::LinkedNames, sync::LinkedNames)>),
}

/// Syncs the change-list record `rel`, found at `entry` on the source (`beneath`), and a
/// last link's target where it differs (the link's own record may be all there is: made,
/// not written through): a directory target in its own metadata alone, as what was made in
/// it through the link has records of its own.
/// `whole`: a directory's files copied whatever their times say (`PathSync::sync_whole`).
fn sync_entry(each: &mut sync::PathSync, src: &Path, dst: &Path, rel: &Path, entry: &Path, whole: bool) -> std::io::Result<()> {
    match whole {
        true => each.sync_whole(entry)?,
        false => each.sync(entry)?,
    }
    match beneath(src, rel, true).filter(|t| t != entry && sync::differs(&src.join(t), &dst.join(t))) {
        Some(t) if src.join(&t).is_dir() && dst.join(&t).is_dir() => sync::sync_metadata(src, dst, &t),
        Some(t) => each.sync(&t),
        None => Ok(()),
    }
}

/// Where `rel` lies in the member tree `root`, as the kernel walks it from there for a
/// program under the prefix: symlinks on the way followed (the last one too if
/// `follow_last`), `..` never above the root. None where a link leads out of the member:
/// an absolute one does, into the prefix too (README, symlinks), or a loop.
fn beneath(root: &Path, rel: &Path, follow_last: bool) -> Option<PathBuf> {
    use std::path::Component;
    let mut left: std::collections::VecDeque<std::ffi::OsString> = rel.components().map(|c| c.as_os_str().to_owned()).collect();
    let mut at = PathBuf::new();
    let mut hops = 0;
    while let Some(name) = left.pop_front() {
        match Path::new(&name).components().next() {
            Some(Component::ParentDir) => {
                at.pop();
                continue;
            }
            Some(Component::Normal(_)) => {}
            _ => continue,
        }
        let next = at.join(&name);
        let link = std::fs::symlink_metadata(root.join(&next)).is_ok_and(|m| m.file_type().is_symlink());
        if !link || (left.is_empty() && !follow_last) {
            at = next;
            continue;
        }
        hops += 1;
        let to = std::fs::read_link(root.join(&next)).ok().filter(|to| hops <= 40 && to.is_relative())?;
        for c in to.components().rev() {
            left.push_front(c.as_os_str().to_owned());
        }
    }
    Some(at)
}

/// Makes each differing path of `to` what it is in `from` (metadata only where only
/// metadata differs); returns the paths, each once, as printed.
/// Copies each differing path from `from` to `to`: the paths repaired, and the first
/// failure (the paths after it are still tried).
fn repair_each(from: &Path, to: &Path, diffs: &[tree::Diff]) -> (Vec<String>, Option<String>) {
    let mut done: Vec<&Path> = Vec::new();
    let mut failed = None;
    let mut quiet = |_: &Stats, _: bool| {};
    let mut each = sync::PathSync::new(from, to, &mut quiet);
    for d in diffs {
        let rel = d.path.as_path();
        if done.contains(&rel) {
            continue;
        }
        let metadata_only = diffs.iter().filter(|x| x.path == d.path).all(|x| matches!(x.what, tree::Difference::Mode(..) | tree::Difference::Owner(..) | tree::Difference::Xattr { .. } | tree::Difference::Flags(..)));
        let r = if metadata_only { sync::sync_metadata(from, to, rel) } else { each.sync(rel) };
        match r {
            Ok(_) => done.push(rel),
            Err(e) => {
                failed.get_or_insert_with(|| format!("repair {}: {e}", tree::printable(rel.as_os_str())));
            }
        }
    }
    (done.into_iter().map(|p| tree::printable(p.as_os_str()).into_owned()).collect(), failed)
}

/// A journal's or change list's name (bytes, as the kernel's) as a path.
fn as_path(rel: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(rel))
}

/// A name as printed (see tree::printable).
pub fn printable(rel: &[u8]) -> String {
    tree::printable(as_path(rel).as_os_str()).into_owned()
}

fn st_all_enabled(s: &State) -> bool {
    s.members.iter().all(|m| m.state == MemberState::Enabled)
}

fn add(t: &mut Stats, s: &Stats) {
    t.files += s.files;
    t.bytes += s.bytes;
    t.removed += s.removed;
    t.scanned += s.scanned;
}

pub struct RecoverReport {
    /// Directories that could not be compared (a member down): still in the journal.
    pub left_for_later: Vec<Vec<u8>>,
    /// Of those, the ones compared but not repaired (a member refused the copy).
    pub unrepaired: Vec<Vec<u8>>,
    /// The stamps say split brain: nothing was touched.
    pub split_brain: bool,
    /// Directories (or files) the journal had in flight.
    pub examined: usize,
    /// Paths copied from the newer member (or handed to the change list).
    pub repaired: Vec<String>,
    /// The journal could not be read whole.
    pub damage: Option<String>,
    /// (repaired, still different) of the full verify a damaged journal calls for.
    pub full_verify: Option<(usize, usize)>,
}

pub struct ResyncReport {
    /// The update mode the copy ran with: `all` where a full copy was due
    /// (`shared::full_copy_due_path`), whatever was asked.
    pub mode: UpdateMode,
    pub stats: Stats,
    pub elapsed: Duration,
    /// How long writers were held back at the end, and what was copied meanwhile.
    pub freeze: Duration,
    pub last_paths: usize,
    pub last_bytes: u64,
}
