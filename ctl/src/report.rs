//! What shadowctl prints: status (text, JSON, DiskShadow's status file), history.

use crate::live::LiveSet;
use shadow_core::config::Config;
use shadow_core::stamp::Relation;
use shadow_core::state::State;
use shadow_core::Member;
use std::io::{BufRead, Seek, Write};
use std::path::Path;

pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

pub struct OpenFile {
    pub fd: u32,
    pub path: String,
    pub pos: u64,
    pub flags: u32,
}

pub struct Process {
    pub pid: u32,
    pub program: String,
    pub files: Vec<OpenFile>,
    /// Files still open on a member that is out (`left_on`).
    pub left: Vec<(Member, OpenFile)>,
    pub rss_kib: u64,
    pub table_bytes: u64,
    pub insecure_open: u64,
    /// Bytes waiting in the process's write-behind queue for the secondary.
    pub queued: u64,
}

/// A rebuild in progress (shadowctl watch).
#[derive(Clone, Copy)]
pub struct Rebuild {
    pub member: Member,
    pub ratio: f64,
    pub eta: Option<f64>,
}

pub struct Status {
    pub prefix: String,
    pub config: String,
    pub state: State,
    pub processes: Vec<Process>,
    pub insecure: usize,
    /// What the members' stamps say: "in step", "primary ahead", "split brain", "unknown".
    pub stamps: String,
    /// After a split brain: the paths that differ (conflicts to settle with recover --prefer).
    pub conflicts: Vec<String>,
    /// Processes that died with changes in flight: `recover` is due.
    pub crashed: Vec<u32>,
    /// A write intent went unrecorded (the journal could not be written): `recover` is due,
    /// and verifies everything.
    pub journal_incomplete: bool,
}

fn stamps_word(r: &Relation) -> String {
    match r {
        Relation::InStep => "in step".to_string(),
        Relation::Ahead(m) => format!("{} ahead", m.name()),
        Relation::SplitBrain => "split brain".to_string(),
        Relation::Unknown => "unknown (a member has no stamp: no split-brain detection)".to_string(),
    }
}

/// Open files of `pid` that lie in the lead member, shown as virtual paths: the program's
/// (the shim's own are the follower's files).
pub fn open_files(pid: u32, prefix: &str, state: &State) -> Vec<OpenFile> {
    state.lead().map_or_else(Vec::new, |m| files_in(pid, prefix, &state.member(m).dir))
}

/// Open files of `pid` in the member directory `dir`, shown as virtual paths.
pub fn files_in(pid: u32, prefix: &str, dir: &str) -> Vec<OpenFile> {
    let mut out = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    let canon = std::fs::canonicalize(dir).map(|p| p.to_string_lossy().to_string()).unwrap_or_else(|_| dir.to_string());
    for e in fds.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(target) = std::fs::read_link(e.path()) else { continue };
        let t = target.to_string_lossy().to_string();
        let inside = [canon.as_str(), dir].into_iter().find_map(|root| shadow_core::vpath::under_prefix(t.as_bytes(), root.as_bytes()).map(|r| String::from_utf8_lossy(r).to_string()));
        let Some(rel) = inside else { continue };
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
        // The process may have closed that fd and opened another file under the same number
        // meanwhile: only a position read while the fd still names the same file counts.
        let field = |name: &str, radix: u32| info.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| u64::from_str_radix(v.trim(), radix).ok()).unwrap_or(0);
        let same_inode = std::fs::metadata(e.path()).is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == field("ino:", 10) || !info.contains("ino:"));
        if !same_inode || std::fs::read_link(e.path()).ok().as_ref() != Some(&target) {
            continue;
        }
        out.push(OpenFile { fd, path: format!("{prefix}/{rel}").trim_end_matches('/').to_string(), pos: field("pos:", 10), flags: field("flags:", 8) as u32 });
    }
    out.sort_by_key(|f| f.fd);
    out
}

/// Files `pid` still holds open in the directories of members that are neither enabled nor
/// being brought back (disabled, failed): a process lets go of them at its next call into
/// the shim, and until then the member's file system stays busy (an `umount` of a disk
/// being replaced fails). Before 2026-12-05 nothing said so: `status` listed the shim's
/// fds on the lead as the program's, and an idle process's fds on the disabled member went
/// unseen.
pub fn left_on(pid: u32, prefix: &str, state: &State) -> Vec<(Member, OpenFile)> {
    use shadow_core::state::MemberState;
    Member::ALL
        .into_iter()
        .filter(|&m| matches!(state.member(m).state, MemberState::Disabled | MemberState::Failed))
        .flat_map(|m| files_in(pid, prefix, &state.member(m).dir).into_iter().map(move |f| (m, f)))
        .collect()
}

/// How long status waits for the members' stamps.
const STAMPS_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

impl Status {
    /// `conflicts`: after a split brain, compare the members to list them (the whole tree:
    /// for `shadowctl status`, not for `watch`'s periodic status file).
    pub fn gather(set: &LiveSet, conflicts: bool) -> Result<Status, String> {
        let state = set.read()?;
        set.reap();
        let processes = set
            .registry
            .live()
            .into_iter()
            .map(|(slot, pid)| {
                let s = set.registry.slot(slot);
                let table_bytes = s.table_bytes.load(std::sync::atomic::Ordering::Relaxed);
                let insecure_open = s.insecure_open.load(std::sync::atomic::Ordering::Relaxed);
                let queued = s.queued.load(std::sync::atomic::Ordering::Relaxed);
                let program = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
                let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
                    .unwrap_or(0);
                let (files, left) = (open_files(pid, &set.config.prefix, &state), left_on(pid, &set.config.prefix, &state));
                Process { pid, program, files, left, rss_kib, table_bytes, insecure_open, queued }
            })
            .collect();
        let insecure = std::fs::read_to_string(set.config.history_path()).unwrap_or_default().lines().filter(|l| l.starts_with("00020 ")).count();
        // Read beside, for a while: a member that hangs (declared failed by watch, its
        // server gone) would hang status with it. The reader is left behind if it must.
        let (tx, rx) = std::sync::mpsc::channel();
        let (p, q) = (state.member(Member::Primary).dir.clone(), state.member(Member::Secondary).dir.clone());
        std::thread::spawn(move || tx.send(shadow_core::stamp::relation_of(&p, &q)));
        let relation = rx.recv_timeout(STAMPS_WITHIN).ok();
        let conflicts = if conflicts && matches!(relation, Some(Ok(Relation::SplitBrain))) {
            set.conflicts(&[])?.iter().map(|d| d.to_string()).collect()
        } else {
            Vec::new()
        };
        let stamps = match relation {
            None => format!("not read: a member did not answer within {} s (hung?)", STAMPS_WITHIN.as_secs()),
            Some(r) => r.map_or_else(|e| format!("unreadable: {e}"), |r| stamps_word(&r)),
        };
        let crashed = set.registry.crashed().into_iter().map(|(_, pid)| pid).collect();
        let journal_incomplete = set.state.journal_lost();
        Ok(Status { prefix: set.config.prefix.clone(), config: set.config.file.display().to_string(), state, processes, insecure, stamps, conflicts, crashed, journal_incomplete })
    }

    pub fn text(&self) -> String {
        let mut s = format!("set {} (config {})\n", self.prefix, self.config);
        for m in Member::ALL {
            let r = self.state.member(m);
            s += &format!("  {:<10} {:<10} generation {:<4} {}\n", m.name(), r.state.name(), r.generation, r.dir);
        }
        s += &format!("stamps: {}\n", self.stamps);
        if !self.conflicts.is_empty() {
            s += &format!("split brain: both members were written while apart; {} conflicting path(s) (first member: primary), settle with `shadowctl recover --prefer primary|secondary|newer|bigger [PATH…]`:\n", self.conflicts.len());
            for c in &self.conflicts {
                s += &format!("  {c}\n");
            }
        }
        if !self.crashed.is_empty() {
            s += &format!("recover needed: process(es) {:?} ended with changes in flight; run `shadowctl recover` (watch does it by itself)\n", self.crashed);
        }
        if self.journal_incomplete {
            s += "recover needed: a write intent could not be written to the journal (see the history); run `shadowctl recover`, which then verifies everything (watch does it by itself)\n";
        }
        s += &format!("processes: {}\n", self.processes.len());
        for p in &self.processes {
            s += &format!("  {} {} (rss {} KiB, shim tables {} bytes, {} insecure open file(s), write-behind queue {} bytes)\n", p.pid, p.program, p.rss_kib, p.table_bytes, p.insecure_open, p.queued);
            for f in &p.files {
                s += &format!("      fd {:<4} {} at {}\n", f.fd, f.path, f.pos);
            }
            for (m, f) in &p.left {
                s += &format!("      fd {:<4} {} still on the {} {} (let go at the process's next call into the shim)\n", f.fd, f.path, self.state.member(*m).state.name(), m.name());
            }
        }
        let pending: u64 = self.processes.iter().map(|p| p.insecure_open).sum();
        s += &format!("insecure files: {pending} open (reported at their last close), {} reported in history\n", self.insecure);
        s
    }

    pub fn json(&self) -> String {
        let members: Vec<String> = Member::ALL
            .iter()
            .map(|&m| {
                let r = self.state.member(m);
                format!("{{\"member\":\"{}\",\"state\":\"{}\",\"generation\":{},\"dir\":{}}}", m.name(), r.state.name(), r.generation, json_string(&r.dir))
            })
            .collect();
        let procs: Vec<String> = self
            .processes
            .iter()
            .map(|p| {
                let files: Vec<String> = p.files.iter().map(|f| format!("{{\"fd\":{},\"path\":{},\"pos\":{},\"flags\":{}}}", f.fd, json_string(&f.path), f.pos, f.flags)).collect();
                let left: Vec<String> = p.left.iter().map(|(m, f)| format!("{{\"fd\":{},\"path\":{},\"member\":\"{}\"}}", f.fd, json_string(&f.path), m.name())).collect();
                format!(
                    "{{\"pid\":{},\"program\":{},\"rss_kib\":{},\"table_bytes\":{},\"insecure_open\":{},\"queued_bytes\":{},\"files\":[{}],\"left_on_members_out\":[{}]}}",
                    p.pid,
                    json_string(&p.program),
                    p.rss_kib,
                    p.table_bytes,
                    p.insecure_open,
                    p.queued,
                    files.join(","),
                    left.join(",")
                )
            })
            .collect();
        format!(
            "{{\"prefix\":{},\"config\":{},\"epoch\":{},\"members\":[{}],\"stamps\":{},\"conflicts\":[{}],\"recover_needed\":[{}],\"journal_incomplete\":{},\"processes\":[{}],\"insecure_reports\":{}}}",
            json_string(&self.prefix),
            json_string(&self.config),
            self.state.epoch,
            members.join(","),
            json_string(&self.stamps),
            self.conflicts.iter().map(|c| json_string(c)).collect::<Vec<_>>().join(","),
            self.crashed.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","),
            self.journal_incomplete,
            procs.join(","),
            self.insecure
        )
    }

    /// The Prometheus text form (node_exporter's textfile collector, `status --prometheus`):
    /// per member its state, generation and seconds since it failed; the rebuild watch is
    /// running (progress and ETA); insecure files, split brain, recover due, journal size,
    /// processes attached. Every series carries `set` (the prefix).
    pub fn prometheus(&self, set: &LiveSet, rebuild: Option<Rebuild>) -> String {
        use shadow_core::state::MemberState;
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let set_label = format!("set=\"{}\"", label(&self.prefix));
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
            out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for (labels, v) in samples {
                out += &format!("{name}{{{set_label}{labels}}} {v}\n");
            }
        };
        let per_member = |f: &dyn Fn(Member) -> f64| Member::ALL.iter().map(|&m| (format!(",member=\"{}\"", m.name()), f(m))).collect::<Vec<_>>();
        let states = [MemberState::Enabled, MemberState::Disabled, MemberState::Failed, MemberState::Resyncing];
        let state_samples = Member::ALL.iter().flat_map(|&m| states.iter().map(move |&st| (format!(",member=\"{}\",state=\"{}\"", m.name(), st.name()), (self.state.member(m).state == st) as u8 as f64))).collect();
        family("libshadow_member_state", "gauge", "1 for the state each member is in (enabled, disabled, failed, resyncing).", state_samples);
        family("libshadow_member_generation", "gauge", "Each member's generation: it moves on whenever the member is brought back or written alone.", per_member(&|m| self.state.member(m).generation as f64));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        family(
            "libshadow_member_failed_seconds",
            "gauge",
            "Seconds since the member was marked failed; 0 while it is not failed.",
            per_member(&|m| if self.state.member(m).state == MemberState::Failed { set.state.failed_at(m.index()).map_or(0, |t| now.saturating_sub(t)) as f64 } else { 0.0 }),
        );
        family("libshadow_rebuild_progress_ratio", "gauge", "Share of the member's rebuild done (shadowctl watch); 0 while none runs.", per_member(&|m| rebuild.filter(|r| r.member == m).map_or(0.0, |r| r.ratio)));
        family("libshadow_rebuild_eta_seconds", "gauge", "Estimated seconds left in the member's rebuild (shadowctl watch); 0 while none runs.", per_member(&|m| rebuild.filter(|r| r.member == m).and_then(|r| r.eta).unwrap_or(0.0)));
        let open_insecure: u64 = self.processes.iter().map(|p| p.insecure_open).sum();
        family("libshadow_insecure_files_open", "gauge", "Open files whose members may differ, reported at their last close.", vec![(String::new(), open_insecure as f64)]);
        family("libshadow_insecure_files_reported_total", "counter", "Insecure-file reports (00020) in the history log.", vec![(String::new(), self.insecure as f64)]);
        family("libshadow_split_brain", "gauge", "1 when both members were written while apart (shadowctl recover --prefer settles it).", vec![(String::new(), (self.stamps == "split brain") as u8 as f64)]);
        family("libshadow_recover_needed", "gauge", "Processes that ended with changes in flight: shadowctl recover is due.", vec![(String::new(), self.crashed.len() as f64)]);
        let journal = std::fs::metadata(shadow_core::shared::journal_path(&set.config)).map_or(0, |m| m.len());
        family("libshadow_journal_bytes", "gauge", "Size of the write-intent journal.", vec![(String::new(), journal as f64)]);
        family("libshadow_processes", "gauge", "Processes attached to the set.", vec![(String::new(), self.processes.len() as f64)]);
        out
    }

    /// DiskShadow's status file, rewritten atomically (temporary file, then rename).
    pub fn write_diskshadow_form(&self, c: &Config) -> Result<(), String> {
        let yn = |b: bool| if b { "Y" } else { "N" };
        let enabled = |m: Member| self.state.member(m).state == shadow_core::state::MemberState::Enabled;
        let text = format!(
            "Status- libshadow {}\nEnabled\tY\nPri Enabled\t{}\nSec Enabled\t{}\nPri Generation\t{}\nSec Generation\t{}\nProcesses\t{}\n",
            env!("CARGO_PKG_VERSION"),
            yn(enabled(Member::Primary)),
            yn(enabled(Member::Secondary)),
            self.state.member(Member::Primary).generation,
            self.state.member(Member::Secondary).generation,
            self.processes.len()
        );
        let path = c.state_dir.join("status");
        let tmp = c.state_dir.join(format!("status.tmp.{}", std::process::id()));
        std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Prints the history log with record numbers; `follow` waits for more.
pub fn history(path: &Path, follow: bool) -> Result<(), String> {
    let mut n = 0u64;
    let mut pos = 0u64;
    let out = std::io::stdout();
    loop {
        match std::fs::File::open(path) {
            Ok(mut f) => {
                f.seek(std::io::SeekFrom::Start(pos)).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut r = std::io::BufReader::new(f);
                let mut line = String::new();
                while r.read_line(&mut line).map_err(|e| format!("{}: {e}", path.display()))? > 0 {
                    if !line.ends_with('\n') {
                        break; // a record being appended: read it whole next time
                    }
                    pos += line.len() as u64;
                    n += 1;
                    if writeln!(out.lock(), "{n:6}  {}", line.trim_end()).is_err() {
                        return Ok(()); // broken pipe: a clean exit
                    }
                    line.clear();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        if !follow {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
