//! `shadowctl watch`: the monitor (DiskShadow's -a/-T/-L, mdadm --monitor). Rewrites the
//! status file, probes failed members, rebuilds them when they are usable again while
//! programs keep running, and turns history records into events for the notify program.
//! `shadowctl wait` blocks until the next event.

use crate::live::LiveSet;
use crate::report;
use shadow_core::history::{self, Code};
use shadow_core::state::MemberState;
use shadow_core::sync::{Stats, UpdateMode};
use shadow_core::Member;
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shadow_core::sync::STOP;

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGTERM and SIGINT ask the command to stop (`STOP`) instead of killing it: a copy then
/// ends at its next entry and the member it was bringing level goes back out of service.
/// Before, an `enable` interrupted (Ctrl-C, a supervisor's stop) left the member
/// "resyncing" in the state for good.
pub fn stop_on_signals() {
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
}

/// Reads history records appended after a position.
pub struct HistoryTail {
    path: PathBuf,
    pos: u64,
}

impl HistoryTail {
    /// Starts at the current end: only new records are events.
    pub fn at_end(path: &Path) -> HistoryTail {
        let pos = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        HistoryTail { path: path.to_path_buf(), pos }
    }

    pub fn next_lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(mut f) = std::fs::File::open(&self.path) else { return out };
        if f.seek(std::io::SeekFrom::Start(self.pos)).is_err() {
            return out;
        }
        let mut r = std::io::BufReader::new(f);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if !line.ends_with('\n') {
                break;
            }
            self.pos += line.len() as u64;
            out.push(line.trim_end().to_string());
            line.clear();
        }
        out
    }
}

/// One event: name, the member it concerns, a path, the record.
pub struct Event {
    pub name: &'static str,
    pub member: String,
    pub path: String,
    pub line: String,
}

pub fn event_of(line: &str) -> Option<Event> {
    let (code, p, s, what) = history::parse_line(line)?;
    let name = code.event()?;
    let member = if what.starts_with("primary") || what.contains(" primary") { "primary" } else { "secondary" };
    let path = if member == "primary" { p } else { s };
    Some(Event { name, member: member.to_string(), path, line: line.to_string() })
}

fn notify(program: &Option<String>, set: &str, e: &Event) {
    let Some(program) = program else { return };
    let status = std::process::Command::new(program)
        .args([e.name, set, &e.member, &e.path])
        .env("SHADOW_EVENT", e.name)
        .env("SHADOW_SET", set)
        .env("SHADOW_MEMBER", &e.member)
        .env("SHADOW_PATH", &e.path)
        .env("SHADOW_RECORD", &e.line)
        .env_remove("LD_PRELOAD")
        .status();
    if let Err(err) = status {
        eprintln!("shadowctl watch: notify program {program}: {err}");
    }
}

/// Whether a member directory can be written again: create, write, sync and remove a probe.
/// A member that was a mounted file system is usable only once it is mounted again: the
/// bare mount point underneath is no member to rebuild.
fn usable(dir: &str, mount_root: bool) -> bool {
    if mount_root && !shadow_core::shared::is_mount_root(dir) {
        return false;
    }
    let probe = Path::new(dir).join(format!(".shadow-probe.{}", std::process::id()));
    let ok = std::fs::write(&probe, b"probe").and_then(|_| std::fs::File::open(&probe)?.sync_all()).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok && Path::new(dir).is_dir()
}

fn sleep_until(deadline: Instant) {
    while !STOP.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs until SIGINT or SIGTERM, which the caller has made stop it (`stop_on_signals`,
/// before the hang watchdog starts).
pub fn watch(set: &LiveSet, interval: u64, retry: u64, mode: UpdateMode) -> Result<(), String> {
    let c = &set.config;
    let mut tail = HistoryTail::at_end(&c.history_path());
    let mut next_status = Instant::now();
    let mut next_probe = Instant::now();
    let mut degraded_said: [bool; 2] = [false; 2];
    let hang = match c.member_timeout {
        0 => "never declared hung".to_string(),
        t => format!("declared failed after {t}s without an answer"),
    };
    eprintln!("shadowctl watch: {} (status every {interval}s, probe every {retry}s, rebuild with {}; members {hang})", c.prefix, mode.name());
    while !STOP.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= next_status {
            if let Ok(status) = report::Status::gather(set, false) {
                if let Err(e) = status.write_diskshadow_form(c) {
                    eprintln!("shadowctl watch: {e}");
                }
            }
            write_metrics(set);
            next_status = now + Duration::from_secs(interval);
        }
        check_identity(set);
        set.settle_abandoned_resync_now();
        let state = set.read()?;
        for m in Member::ALL {
            let r = state.member(m);
            if r.state != MemberState::Failed {
                degraded_said[m.index()] = false;
                continue;
            }
            if !degraded_said[m.index()] {
                degraded_said[m.index()] = true;
                set.history(Code::Degraded, &state.member(Member::Primary).dir, &state.member(Member::Secondary).dir, &format!("{} failed: running on one member", m.name()));
            }
            if now >= next_probe && usable(&r.dir, r.mount_root) {
                rebuild(set, m, mode);
            }
        }
        if now >= next_probe {
            next_probe = now + Duration::from_secs(retry);
        }
        compact_journal(set);
        for line in tail.next_lines() {
            if let Some(e) = event_of(&line) {
                eprintln!("shadowctl watch: {} {} {}", e.name, e.member, e.path);
                notify(&c.notify, &c.prefix, &e);
            }
        }
        sleep_until((Instant::now() + Duration::from_millis(500)).min(next_status));
    }
    eprintln!("shadowctl watch: stopping");
    Ok(())
}

/// The rebuild watch is running, for the metrics.
static REBUILD: std::sync::Mutex<Option<report::Rebuild>> = std::sync::Mutex::new(None);

/// STATE_DIR/metrics.prom for node_exporter's textfile collector, rewritten atomically.
fn write_metrics(set: &LiveSet) {
    let rebuild = *REBUILD.lock().unwrap_or_else(|e| e.into_inner());
    let written = report::Status::gather(set, false).and_then(|status| {
        let path = set.config.state_dir.join("metrics.prom");
        let tmp = set.config.state_dir.join(format!("metrics.prom.tmp.{}", std::process::id()));
        std::fs::write(&tmp, status.prometheus(set, rebuild)).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| format!("{}: {e}", path.display()))
    });
    if let Err(e) = written {
        eprintln!("shadowctl watch: {e}");
    }
}

/// Both members written, but one root lost its stamp while the other kept its own: that
/// member was unmounted (lazily, say) or something else mounted there, and programs may be
/// creating files on the bare mount point. It is marked failed, and its rebuild scans the
/// whole tree (what went to the mount point is not in the member).
fn check_identity(set: &LiveSet) {
    use shadow_core::stamp::{identity, impostor};
    let Ok(s) = set.read() else { return };
    if !s.members.iter().all(|m| m.state == MemberState::Enabled) {
        return;
    }
    // Only where both file systems hold stamps can a missing one mean anything.
    let [Some(p), Some(q)] = [identity(&s.members[0].dir), identity(&s.members[1].dir)] else { return };
    // And only for a member seen stamped before (its stamp may never have been written).
    let Some(m) = impostor(p.as_ref(), q.as_ref()).filter(|m| s.member(*m).stamped) else { return };
    let Ok(_lock) = set.command_lock() else { return };
    let other = Member::ALL.into_iter().find(|x| *x != m).expect("two members");
    set.state.mark_changes_lost();
    if set.change(|st| st.member_mut(m).state = MemberState::Failed).is_ok() {
        set.state.note_failed_at(m.index());
        let _ = shadow_core::stamp::survivor_moves_on(&s.member(other).dir, set.state.set_id);
        let (p, q) = (&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir);
        set.history(Code::MemberFailed, p, q, &format!("{} failed: its root no longer carries the member stamp (unmounted?); the rebuild will scan everything", m.name()));
    }
}

/// Keeps the write-intent journal bounded while programs run: past `journal_max` bytes it
/// is compacted (the `recover` pass: intents of dead processes repaired, live ones kept).
/// Also runs that pass at once when a process died holding write intents, or an intent
/// could not be written, so a crash is repaired within a moment, not at the next start.
fn compact_journal(set: &LiveSet) {
    // After a pass that could not finish (a member down, a split brain), wait `retry` seconds.
    static NOT_BEFORE: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let mut not_before = NOT_BEFORE.lock().unwrap_or_else(|e| e.into_inner());
    if not_before.is_some_and(|t| Instant::now() < t) {
        return;
    }
    let path = shadow_core::shared::journal_path(&set.config);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let crashed = set.registry.crashed();
    if size < set.config.journal_max && crashed.is_empty() && !set.state.journal_lost() {
        return;
    }
    match set.recover() {
        Ok(r) if r.split_brain || !r.left_for_later.is_empty() => {
            *not_before = Some(Instant::now() + Duration::from_secs(set.config.retry));
        }
        Ok(r) => {
            let after = std::fs::metadata(&path).map_or(0, |m| m.len());
            let pids: Vec<String> = crashed.iter().map(|(_, p)| p.to_string()).collect();
            let why = if crashed.is_empty() { String::new() } else { format!(" after process(es) {} ended with changes in flight (a crash, or a file a member refused)", pids.join(", ")) };
            eprintln!("shadowctl watch: recovered{why}: journal compacted from {size} to {after} bytes; {} path(s) repaired", r.repaired.len());
        }
        Err(e) => {
            eprintln!("shadowctl watch: recovering: {e}");
            *not_before = Some(Instant::now() + Duration::from_secs(set.config.retry));
        }
    }
}

fn rebuild(set: &LiveSet, m: Member, mode: UpdateMode) {
    let Ok(_lock) = set.command_lock() else { return };
    let Ok(s) = set.read() else { return };
    if s.member(m).state != MemberState::Failed {
        return;
    }
    if let Err(e) = set.may_copy_over(&s, m, false) {
        // Said once: the member stays failed until an operator decides.
        static SAID: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        if *said != e {
            eprintln!("shadowctl watch: not rebuilding {}: {e}", m.name());
            *said = e;
        }
        return;
    }
    let (p, q) = (s.member(Member::Primary).dir.clone(), s.member(Member::Secondary).dir.clone());
    let mode = if mode == UpdateMode::Dirty && set.state.changes_lost() { UpdateMode::Newer } else { mode };
    set.history(Code::RebuildStarted, &p, &q, &format!("{} usable again: rebuilding (update {})", m.name(), mode.name()));
    let mut last = Instant::now();
    let start = Instant::now();
    let mut progress = |phase: &str, st: &Stats, done: bool| {
        if done || last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            set.history(Code::RebuildProgress, &p, &q, &format!("{} {phase}: {}/{} scanned, {} files, {} bytes", m.name(), st.scanned, st.total, st.files, st.bytes));
            let ratio = if st.total > 0 { st.scanned as f64 / st.total as f64 } else { 0.0 };
            let eta = (ratio > 0.0).then(|| start.elapsed().as_secs_f64() * (1.0 - ratio) / ratio);
            *REBUILD.lock().unwrap_or_else(|e| e.into_inner()) = Some(report::Rebuild { member: m, ratio, eta });
            write_metrics(set);
        }
    };
    let result = set.resync(m, mode, &mut progress);
    *REBUILD.lock().unwrap_or_else(|e| e.into_inner()) = None;
    match result {
        Ok(r) => {
            set.history(Code::RebuildFinished, &p, &q, &format!("{} rebuilt: {} files, {} bytes in {:.2}s, writers held {} ms", m.name(), r.stats.files, r.stats.bytes, r.elapsed.as_secs_f64(), r.freeze.as_millis()));
            set.history(Code::MemberRecovered, &p, &q, &format!("{} is written again", m.name()));
        }
        Err(e) => {
            eprintln!("shadowctl watch: rebuilding {}: {e}", m.name());
            set.history(Code::MemberStateChanged, &p, &q, &format!("rebuilding {} failed, it stays failed (retried at the next probe): {e}", m.name()));
            // Still unusable: mark it failed again so the next probe retries.
            let _ = set.change(|st| st.member_mut(m).state = MemberState::Failed);
        }
    }
}

/// `shadowctl wait`: the next event (of one kind), printed as `EVENT MEMBER PATH`.
pub fn wait(history: &Path, event: Option<&str>, timeout: Option<u64>) -> Result<bool, String> {
    let mut tail = HistoryTail::at_end(history);
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    loop {
        for line in tail.next_lines() {
            if let Some(e) = event_of(&line) {
                if event.is_none_or(|want| want == e.name) {
                    println!("{} {} {}", e.name, e.member, e.path);
                    return Ok(true);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub const EVENTS: &[&str] = &["MemberFailed", "Degraded", "RebuildStarted", "RebuildProgress", "RebuildFinished", "MemberRecovered", "InsecureFile", "SplitBrain"];
