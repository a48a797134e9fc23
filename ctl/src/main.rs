//! shadowctl: inspect and manage a libshadow shadow set while programs use it.
//!
//! Exit codes: 0 success (verify: members identical); 1 verify found differences;
//! 2 error (bad arguments, unreadable config or state, refused operation, I/O error).

mod docs;
mod hang;
mod live;
mod report;
mod watch;

use clap::{CommandFactory, Parser, Subcommand};

/// Looked up by the shim at start-up (exported by build.rs): shadowctl works on the members
/// and the state directory itself and must never run under the shim, which stays out of
/// the process. Run under it (a script under `shadow-run` calling `shadowctl enable`, whose
/// environment the shim keeps), its own hooks waited on the freeze it held: `enable` hung
/// for ever, and every writer of the set with it.
#[no_mangle]
#[used]
pub static LIBSHADOW_STAYS_OUT: u8 = 1;
use live::LiveSet;
use shadow_core::config::{self, Config};
use shadow_core::history::Code;
use shadow_core::stamp::Relation;
use shadow_core::state::MemberState;
use shadow_core::sync::{Prefer, Stats, UpdateMode};
use shadow_core::Member;
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "shadowctl",
    version,
    about = "Manage libshadow shadow sets while programs use them",
    after_help = "Every command takes -c CONFIG (before or after its name) or $SHADOW_CONFIG.\nExit codes: 0 success, 1 differences found (verify) or left (recover) or a timeout (wait), 2 error or refused."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

/// Options every command takes, before or after its name (`shadowctl -c app.toml status`,
/// `shadowctl status -c app.toml`).
#[derive(clap::Args)]
struct Global {
    /// Config file of the shadow set (default: $SHADOW_CONFIG)
    #[arg(short = 'c', long = "config", value_name = "CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Output for scripts: one JSON object (status, verify, recover), JSON lines with
    /// progress (enable, replace, sync)
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing when there is nothing to report (recover, for shadow-run)
    #[arg(long, global = true)]
    quiet: bool,
}

impl Global {
    /// Refuses --json or --quiet on a command they do not apply to.
    fn only(&self, command: &str, json: bool, quiet: bool) -> Result<(), String> {
        match (self.json && !json, self.quiet && !quiet) {
            (true, _) => Err(format!("--json does not apply to `{command}`")),
            (_, true) => Err(format!("--quiet does not apply to `{command}`")),
            _ => Ok(()),
        }
    }

    fn path(&self) -> Result<PathBuf, String> {
        match &self.config {
            Some(p) => Ok(p.clone()),
            None => std::env::var_os(config::ENV_CONFIG).map(PathBuf::from).ok_or_else(|| format!("no config: pass -c CONFIG or set {}", config::ENV_CONFIG)),
        }
    }

    fn load(&self) -> Result<Config, String> {
        config::load(&self.path()?).map_err(|e| e.to_string())
    }

    /// The config as written, not yet checked against the file system.
    fn parse(&self) -> Result<Config, String> {
        let path = self.path()?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        config::parse(&text, &path).map_err(|e| e.to_string())
    }
}

fn parse_member(s: &str) -> Result<Member, String> {
    Member::parse(s).ok_or_else(|| format!("`{s}` is not a member (primary or secondary)"))
}

fn parse_event(s: &str) -> Result<String, String> {
    if watch::EVENTS.contains(&s) { Ok(s.to_string()) } else { Err(format!("`{s}` is not an event ({})", watch::EVENTS.join(", "))) }
}

fn parse_prefer(s: &str) -> Result<Prefer, String> {
    Prefer::parse(s).ok_or_else(|| format!("`{s}` is not a policy (primary, secondary, newer, bigger)"))
}

/// Paths given on the command line (virtual, or relative to the prefix) as paths relative to
/// the member roots.
fn member_rels(c: &Config, paths: &[String]) -> Result<Vec<PathBuf>, String> {
    paths
        .iter()
        .map(|p| {
            let abs = shadow_core::vpath::absolute(c.prefix.as_bytes(), p.as_bytes());
            shadow_core::vpath::under_prefix(&abs, c.prefix.as_bytes())
                .map(|r| PathBuf::from(String::from_utf8_lossy(r).to_string()))
                .ok_or_else(|| format!("{p}: not under the prefix {}", c.prefix))
        })
        .collect()
}

fn parse_mode(s: &str) -> Result<UpdateMode, String> {
    UpdateMode::parse(s).ok_or_else(|| format!("`{s}` is not an update mode (dirty, newer, all, replace)"))
}

#[derive(Subcommand)]
enum Cmd {
    /// Members with state and generation, attached processes and their open files.
    Status {
        /// Also write DiskShadow's status-file form to STATE_DIR/status (atomically)
        #[arg(long)]
        write: bool,
        /// The Prometheus text form (the same as `watch` writes to STATE_DIR/metrics.prom)
        #[arg(long, conflicts_with = "json")]
        prometheus: bool,
    },
    /// Stop writing a member; the other keeps serving (reads move to it if needed).
    /// Refused for the last enabled member. Bumps the survivor's generation.
    Disable {
        #[arg(value_parser = parse_member)]
        member: Member,
        /// Disable the lead even while processes hold shared mappings of the set's files
        /// (their pages stay on it, so what they write through them reaches the disabled
        /// member alone, and SQLite's WAL index is no longer shared with new connections),
        /// or while recover is due (what crashed processes wrote may be on it alone)
        #[arg(long)]
        force: bool,
    },
    /// Bring a disabled member up to date from the other one while programs keep writing,
    /// then enable it. Files programs hold open are reopened in them.
    Enable {
        #[arg(value_parser = parse_member)]
        member: Member,
        /// dirty (only what changed while it was away; the default while the change list is
        /// intact), newer (missing or newer files), all (everything), replace (wipe, copy)
        #[arg(long, value_parser = parse_mode)]
        update: Option<UpdateMode>,
        /// Copy even when the target's generation says it is newer than the source
        #[arg(long)]
        force: bool,
    },
    /// Nominate a new directory for a disabled member, fill it and enable it.
    Replace {
        #[arg(value_parser = parse_member)]
        member: Member,
        dir: PathBuf,
        #[arg(long, value_parser = parse_mode, default_value = "all")]
        update: UpdateMode,
    },
    /// Bring the lagging member level again, on demand, while programs keep writing.
    Sync {
        #[arg(long, value_parser = parse_mode, default_value = "newer")]
        update: UpdateMode,
        /// The member to bring level (default: the one with the lower generation, else secondary)
        #[arg(long, value_parser = parse_member)]
        member: Option<Member>,
        /// Do nothing (exit 0) when a member is not enabled, instead of failing: for start-up
        /// syncs, which must not re-enable a member an operator disabled (a backup)
        #[arg(long)]
        if_enabled: bool,
    },
    /// The monitor: rewrite the status file, probe failed members, rebuild them when they
    /// are usable again (programs keep running), run the notify program for every event.
    /// Runs in the foreground, logs to stderr, exits 0 on SIGTERM/SIGINT.
    Watch {
        /// Seconds between status-file rewrites (default: config `status_interval`, 30)
        #[arg(long)]
        interval: Option<u64>,
        /// Seconds between probes of a failed member (default: config `retry`, 10)
        #[arg(long)]
        retry: Option<u64>,
        /// Update mode of rebuilds (default: config `rebuild_update`, dirty)
        #[arg(long, value_parser = parse_mode)]
        update: Option<UpdateMode>,
    },
    /// Block until the next event and print it as `EVENT MEMBER PATH`. Events: MemberFailed,
    /// Degraded, RebuildStarted, RebuildProgress, RebuildFinished, MemberRecovered,
    /// InsecureFile, SplitBrain. Exit 0 when one came, 1 on timeout.
    Wait {
        /// Only this event
        #[arg(long, value_parser = parse_event)]
        event: Option<String>,
        /// Give up after this many seconds (exit 1)
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// After a crash: compare what the write-intent journal says was in flight and copy what
    /// differs from the member ahead, then compact the journal. After a split brain: list the
    /// conflicts, or settle them with --prefer. Exit 0 when the members are consistent again,
    /// 1 when differences or conflicts remain, 2 on error.
    Recover {
        /// After a split brain: settle each conflicting path by policy — primary or secondary
        /// (that member's version, even its absence), newer (later mtime), bigger (larger
        /// size; by time or size an existing version beats an absent one). Without PATHs, every
        /// conflict, and the set is whole again
        #[arg(long, value_parser = parse_prefer)]
        prefer: Option<Prefer>,
        /// Only these conflicting paths (virtual, or relative to the prefix); needs --prefer
        #[arg(requires = "prefer")]
        paths: Vec<String>,
    },
    /// The numbered history log.
    History {
        /// Keep printing records as they are appended
        #[arg(long)]
        follow: bool,
    },
    /// Compare the members: entries, type, size, mode, owner, link count, extended attributes
    /// (ACLs among them), symlink targets, contents (first differing byte; holes both files
    /// have are skipped), file mtimes. Differences are re-checked with writers held back for a moment,
    /// so writes in flight are not reported. Exit 0 when identical, 1 when they differ (after
    /// --repair: when some could not be repaired), 2 on error.
    Verify {
        /// Only these paths (virtual, e.g. /shadow/db, or relative to the prefix)
        paths: Vec<String>,
        /// Copy each difference from the newer member (higher generation; primary if equal)
        #[arg(long)]
        repair: bool,
        /// Also print the SHA-256 of every file found identical, in sha256sum's format with
        /// virtual paths: a manifest of what was verified, to check a member or a backup
        /// against later (`sha256sum -c`)
        #[arg(long)]
        checksum: bool,
    },
    /// Check that a program can run under the shim (dynamically linked, not setuid/setgid
    /// or file-capability, script interpreters likewise). Exit 0 if it can, 2 if not.
    CheckExec {
        /// Program name or path (looked up in PATH like exec would)
        program: String,
    },
    /// Load and check a config file; print it normalised.
    CheckConfig {},
    /// Write the man pages and shell completions below DIR (PREFIX/share), as `make install`
    /// does.
    #[command(hide = true)]
    Generate { dir: PathBuf },
    /// shadow-run's --help (the script asks for it: one definition of its options).
    #[command(hide = true)]
    HelpShadowRun {},
}

/// Progress on a terminal (one rewritten line), JSON lines with --json, silence in pipes.
fn progress_printer(json: bool) -> impl FnMut(&str, &Stats, bool) {
    let start = std::time::Instant::now();
    let tty = std::io::stderr().is_terminal();
    move |phase, st, done| {
        let secs = start.elapsed().as_secs_f64().max(0.001);
        // Time left, from the share of entries scanned so far.
        let eta = (st.total > 0 && st.scanned > 0).then(|| secs * (st.total.saturating_sub(st.scanned)) as f64 / st.scanned as f64);
        if json {
            let eta = eta.map_or("null".to_string(), |e| format!("{e:.1}"));
            println!(
                "{{\"progress\":\"{phase}\",\"files\":{},\"bytes\":{},\"scanned\":{},\"total\":{},\"seconds\":{secs:.3},\"eta_seconds\":{eta},\"done\":{done}}}",
                st.files, st.bytes, st.scanned, st.total
            );
        } else if tty {
            let eta = eta.map_or(String::new(), |e| format!(", ETA {e:.0}s"));
            eprint!(
                "\r{phase}: {}/{} scanned, {} copied, {} ({}/s){eta}   ",
                st.scanned,
                st.total,
                st.files,
                report::bytes(st.bytes),
                report::bytes((st.bytes as f64 / secs) as u64)
            );
            if done {
                eprintln!();
            }
        }
    }
}

/// verify's first pass as it goes: progress on a terminal, counts for the summary, and with
/// --checksum the digest of each file found identical.
struct VerifyProgress {
    start: std::time::Instant,
    last: std::time::Instant,
    tty: bool,
    entries: u64,
    files: u64,
    bytes: u64,
    digest: Option<Sha256>,
    manifest: Vec<(PathBuf, String)>,
}

impl VerifyProgress {
    fn new(checksum: bool) -> VerifyProgress {
        let now = std::time::Instant::now();
        VerifyProgress { start: now, last: now, tty: std::io::stderr().is_terminal(), entries: 0, files: 0, bytes: 0, digest: checksum.then(Sha256::new), manifest: Vec::new() }
    }

    fn show(&mut self, done: bool) {
        if self.tty && (done || self.last.elapsed().as_millis() >= 250) {
            self.last = std::time::Instant::now();
            eprint!("\rverify: {} entries, {} compared   ", self.entries, report::bytes(self.bytes));
            if done {
                eprintln!();
            }
        }
    }

    fn finish(&mut self) {
        self.show(true);
    }
}

impl shadow_core::tree::Observer for VerifyProgress {
    fn entry(&mut self, _: &std::path::Path) {
        self.entries += 1;
        if let Some(d) = &mut self.digest {
            d.reset();
        }
        self.show(false);
    }
    fn contents(&mut self, _: &std::path::Path, first: &[u8], _: &[u8]) {
        self.bytes += first.len() as u64;
        if let Some(d) = &mut self.digest {
            d.update(first);
        }
    }
    fn holes(&mut self, _: &std::path::Path, len: u64) {
        if let Some(d) = &mut self.digest {
            // The digest is of the bytes a reader gets: zeros.
            let zeros = [0u8; 1 << 16];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64);
                d.update(&zeros[..n as usize]);
                left -= n;
            }
        }
    }
    fn identical_file(&mut self, rel: &std::path::Path) {
        self.files += 1;
        if let Some(d) = &mut self.digest {
            // Identical bytes: the digest of one member's copy is the other's.
            let sum: String = d.finalize_reset().iter().map(|b| format!("{b:02x}")).collect();
            self.manifest.push((rel.to_path_buf(), sum));
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let g = cli.global;
    let json = g.json;
    match cli.command {
        Cmd::Status { write, prometheus } => {
            g.only("status", true, false)?;
            let set = LiveSet::open(g.load()?)?;
            set.settle_abandoned_resync_now();
            let status = report::Status::gather(&set, !prometheus)?;
            if write {
                status.write_diskshadow_form(&set.config)?;
            }
            if prometheus {
                print!("{}", status.prometheus(&set, None));
            } else if json {
                println!("{}", status.json())
            } else {
                print!("{}", status.text())
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Disable { member, force } => {
            g.only("disable", false, false)?;
            let set = LiveSet::open(g.load()?)?;
            let _lock = set.command_lock()?;
            let s = set.read()?;
            let other = Member::ALL.into_iter().find(|m| *m != member).expect("two members");
            if s.member(member).state != MemberState::Enabled {
                return Err(format!("{} is already {}", member.name(), s.member(member).state.name()));
            }
            if s.member(other).state != MemberState::Enabled {
                return Err(format!("refusing to disable {}: it is the last enabled member ({} is {})", member.name(), other.name(), s.member(other).state.name()));
            }
            let lead_check = || {
                set.lead_may_move(other).map_err(|e| format!("{e} (or use --force)"))?;
                // What a process that died with changes in flight wrote may be on the lead
                // alone (write-behind's queue, a write cut between the members): once the
                // other is the lead, a later enable copies its older bytes over them.
                let crashed: Vec<String> = set.registry.crashed().into_iter().map(|(_, pid)| pid.to_string()).collect();
                if !crashed.is_empty() || set.state.journal_lost() {
                    let why = if crashed.is_empty() { "a write intent could not be recorded".to_string() } else { format!("process(es) {} ended with changes in flight", crashed.join(", ")) };
                    return Err(format!("refusing to disable {}, the lead, while recover is due ({why}): what they wrote may be on {} alone. Run `shadowctl recover` first, or use --force", member.name(), member.name()));
                }
                Ok(())
            };
            let disabled = |st: &mut shadow_core::state::State| {
                st.member_mut(member).state = MemberState::Disabled;
                st.member_mut(other).generation += 1;
            };
            // The lead's checks and the switch with writers held: a mapping made between
            // them stayed the old lead's file (found by a helper's fsx run).
            match s.lead() == Some(member) && !force {
                // Processes stuck in a call on a hung lead keep writers from being held:
                // --force moves the lead without waiting for them.
                true => set.change_checked(lead_check, disabled).map_err(|e| if e.contains("stayed busy") { format!("{e}; if {} hangs, `shadowctl disable {} --force` moves the lead without waiting", member.name(), member.name()) } else { e })?,
                false => set.change(disabled)?,
            }
            let s = set.read()?;
            if let Err(e) = shadow_core::stamp::survivor_moves_on(&s.member(other).dir, set.state.set_id) {
                eprintln!("shadowctl: warning: {e} (split brain involving this member cannot be detected)");
            }
            set.history(Code::MemberStateChanged, &s.member(Member::Primary).dir, &s.member(Member::Secondary).dir, &format!("disabled {}", member.name()));
            eprintln!("{} disabled; {} carries on at generation {}", member.name(), other.name(), s.member(other).generation);
            // Processes idle since the change took it up in their view, not yet on their fds.
            let dir = &s.member(member).dir;
            let holders: Vec<String> = set
                .registry
                .live()
                .into_iter()
                .filter_map(|(_, pid)| Some(pid).zip(std::num::NonZeroUsize::new(report::files_in(pid, &set.config.prefix, dir).len())))
                .map(|(pid, n)| format!("{pid} ({n} file(s))"))
                .collect();
            if !holders.is_empty() {
                eprintln!("shadowctl: process(es) {} still hold files open in {dir}: each lets go at its next call into the shim; until then that file system stays busy (`shadowctl status` lists them)", holders.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Enable { member, update, force } => {
            g.only("enable", true, false)?;
            let set = LiveSet::open(g.load()?)?;
            let _lock = set.command_lock()?;
            let s = set.read()?;
            let other = Member::ALL.into_iter().find(|m| *m != member).expect("two members");
            if s.member(member).state == MemberState::Enabled {
                return Err(format!("{} is already enabled", member.name()));
            }
            let (tg, sg) = (s.member(member).generation, s.member(other).generation);
            if tg > sg && !force {
                return Err(format!(
                    "refusing to copy {} (generation {sg}) over {} (generation {tg}): {} was written after {} stopped being written, so it is the newer one. Use --force to overwrite it anyway",
                    other.name(), member.name(), member.name(), other.name()
                ));
            }
            set.may_copy_over(&s, member, force)?;
            let update = match update {
                Some(UpdateMode::Dirty) | None if set.state.changes_lost() => {
                    eprintln!("shadowctl: the change list is incomplete (a change could not be recorded): falling back to a full `newer` scan");
                    UpdateMode::Newer
                }
                Some(mode) => mode,
                None => UpdateMode::Dirty,
            };
            resync(&set, member, update, json, "enabled")
        }
        Cmd::Replace { member, dir, update } => {
            g.only("replace", true, false)?;
            let set = LiveSet::open(g.load()?)?;
            let _lock = set.command_lock()?;
            let s = set.read()?;
            if s.member(member).state == MemberState::Enabled {
                return Err(format!("{} is enabled: disable it before replacing it", member.name()));
            }
            let dir = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            if !dir.is_dir() {
                return Err(format!("{}: not a directory", dir.display()));
            }
            let d = dir.to_string_lossy().to_string();
            let other = Member::ALL.into_iter().find(|m| *m != member).expect("two members");
            let clash = [&set.config.prefix, &s.member(other).dir].into_iter().find(|x| {
                shadow_core::vpath::under_prefix(d.as_bytes(), x.as_bytes()).is_some() || shadow_core::vpath::under_prefix(x.as_bytes(), d.as_bytes()).is_some()
            });
            if let Some(x) = clash {
                return Err(format!("{d} overlaps {x}"));
            }
            set.change(|st| {
                let m = st.member_mut(member);
                m.dir = d.clone();
                m.generation = 0;
            })?;
            resync(&set, member, update, json, "replaced")
        }
        Cmd::Sync { update, member, if_enabled } => {
            g.only("sync", true, false)?;
            let set = LiveSet::open(g.load()?)?;
            let _lock = set.command_lock()?;
            let s = set.read()?;
            if let Some(m) = Member::ALL.into_iter().find(|m| s.member(*m).state != MemberState::Enabled) {
                let why = format!("{} is {}: bring it back with `shadowctl enable {}`", m.name(), s.member(m).state.name(), m.name());
                if if_enabled {
                    eprintln!("shadowctl: sync skipped: {why}");
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(why);
            }
            let target = member.unwrap_or_else(|| {
                let (p, q) = (s.member(Member::Primary), s.member(Member::Secondary));
                if p.generation < q.generation || p.state != MemberState::Enabled && q.state == MemberState::Enabled { Member::Primary } else { Member::Secondary }
            });
            set.may_copy_over(&s, target, false)?;
            resync(&set, target, update, json, "synced")
        }
        Cmd::Watch { interval, retry, update } => {
            g.only("watch", false, false)?;
            watch::stop_on_signals();
            let watchdog = hang::start(&g.parse()?)?;
            let c = g.load()?;
            watchdog.learn(&c);
            let interval = interval.unwrap_or(c.status_interval);
            let retry = retry.unwrap_or(c.retry);
            let mode = update.unwrap_or_else(|| UpdateMode::parse(&c.rebuild_update).unwrap_or(UpdateMode::Dirty));
            let set = LiveSet::open(c)?;
            watch::watch(&set, interval, retry, mode)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Wait { event, timeout } => {
            g.only("wait", false, false)?;
            let c = g.load()?;
            let came = watch::wait(&c.history_path(), event.as_deref(), timeout)?;
            Ok(if came { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Recover { prefer, paths } => {
            let quiet = g.quiet;
            let c = g.load()?;
            let rels = member_rels(&c, &paths)?;
            let set = LiveSet::open(c)?;
            let r = set.recover()?;
            let s = set.read()?;
            let (p, q) = (s.member(Member::Primary).dir.clone(), s.member(Member::Secondary).dir.clone());
            if let Some(d) = &r.damage {
                eprintln!("shadowctl: {d}; fell back to a full verify");
            }
            // The stamps: a split brain waits for a policy; a member written alone through
            // another state directory, while this one thinks both are written, is followed.
            let both = s.members.iter().all(|m| m.state == MemberState::Enabled);
            // A member that cannot be asked (down) has an unknown stamp: checked again when it
            // is brought back. A damaged stamp stops here.
            let stamps = |s: &shadow_core::state::State| match set.relation(s) {
                Err(e @ shadow_core::stamp::StampError::Damaged(_)) => Err(String::from(e)),
                r => Ok(r.unwrap_or(Relation::Unknown)),
            };
            let relation = stamps(&s)?;
            for rel in r.left_for_later.iter().filter(|rel| !r.unrepaired.contains(rel)) {
                eprintln!("recover: {}/{} could not be compared (a member down?): kept in the journal", set.config.prefix, live::printable(rel));
            }
            let settle = match (prefer, relation) {
                (Some(policy), _) => Some(policy),
                (None, Relation::Ahead(m)) if both => {
                    eprintln!("recover: the {} member was written alone (by another state directory?): bringing the other level from it", m.name());
                    Some(if m == Member::Primary { Prefer::Primary } else { Prefer::Secondary })
                }
                _ => None,
            };
            let settled = match settle {
                Some(policy) => set.resolve(policy, &rels)?,
                None => Vec::new(),
            };
            for (rel, m) in &settled {
                let how = settle.map_or("", |x| x.name());
                set.history(Code::Recovered, &format!("{p}/{rel}"), &format!("{q}/{rel}"), &format!("settled by policy {how}: the {} version kept", m.name()));
            }
            let conflicts: Vec<String> = if stamps(&set.read()?)? == Relation::SplitBrain {
                set.split_brain_seen(&s);
                set.conflicts(&[])?.iter().map(|d| d.to_string()).collect()
            } else {
                Vec::new()
            };
            let left = r.full_verify.map_or(0, |(_, left)| left) + r.unrepaired.len();
            if json {
                let paths: Vec<String> = r.repaired.iter().map(|p| report::json_string(p)).collect();
                let settled_json: Vec<String> = settled.iter().map(|(p, m)| format!("{{\"path\":{},\"kept\":\"{}\"}}", report::json_string(p), m.name())).collect();
                let conflicts_json: Vec<String> = conflicts.iter().map(|c| report::json_string(c)).collect();
                println!(
                    "{{\"repaired\":[{}],\"journal_damaged\":{},\"full_verify_repaired\":{},\"differences_left\":{left},\"settled\":[{}],\"split_brain\":{},\"conflicts\":[{}]}}",
                    paths.join(","),
                    r.damage.is_some(),
                    r.full_verify.map_or(0, |(n, _)| n),
                    settled_json.join(","),
                    !conflicts.is_empty(),
                    conflicts_json.join(",")
                );
            } else {
                for rel in &r.repaired {
                    println!("repaired {}/{rel}", set.config.prefix);
                }
                for (rel, m) in &settled {
                    println!("settled {}/{rel}: kept the {} version", set.config.prefix, m.name());
                }
                for c in &conflicts {
                    println!("conflict {c}");
                }
                if let Some((repaired, left)) = r.full_verify {
                    eprintln!("recover: full verify: {repaired} difference(s) repaired, {left} left");
                }
                if !quiet || !r.repaired.is_empty() || !settled.is_empty() {
                    eprintln!("recover: {} path(s) repaired, {} settled", r.repaired.len(), settled.len());
                }
                if !conflicts.is_empty() {
                    eprintln!(
                        "recover: split brain: {p} and {q} were both written while apart; {} conflicting path(s) left untouched (first member: primary). Settle them with `shadowctl recover --prefer primary|secondary|newer|bigger [PATH…]`",
                        conflicts.len()
                    );
                }
            }
            Ok(if left == 0 && conflicts.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::History { follow } => {
            g.only("history", false, false)?;
            let c = g.load()?;
            report::history(&c.history_path(), follow)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify { paths, repair, checksum } => {
            g.only("verify", true, false)?;
            let c = g.load()?;
            let rels = member_rels(&c, &paths)?;
            let set = LiveSet::open(c)?;
            let s = set.read()?;
            let (p, q) = (&s.member(Member::Primary).dir, &s.member(Member::Secondary).dir);
            let mut seen = VerifyProgress::new(checksum);
            let (mut diffs, repaired) = set.verify(&rels, repair, &mut seen)?;
            if repaired > 0 {
                set.history(Code::MemberStateChanged, p, q, &format!("verify --repair copied {repaired} path(s) from the newer member"));
                eprintln!("verify: repaired {repaired} path(s)");
                diffs = set.verify(&rels, false, &mut shadow_core::tree::Unobserved)?.0;
            }
            seen.finish();
            let virtual_path = |rel: &std::path::Path| format!("{}/{}", set.config.prefix, shadow_core::tree::printable(rel.as_os_str())).trim_end_matches('/').to_string();
            if json {
                let items: Vec<String> = diffs
                    .iter()
                    .map(|d| format!("{{\"path\":{},\"difference\":{}}}", report::json_string(&shadow_core::tree::printable(d.path.as_os_str())), report::json_string(&d.to_string())))
                    .collect();
                let sums: Vec<String> = seen.manifest.iter().map(|(rel, sum)| format!("{{\"path\":{},\"sha256\":\"{sum}\"}}", report::json_string(&virtual_path(rel)))).collect();
                println!(
                    "{{\"primary\":{},\"secondary\":{},\"identical\":{},\"entries\":{},\"files\":{},\"bytes\":{},\"seconds\":{:.3},\"differences\":[{}],\"checksums\":[{}]}}",
                    report::json_string(p),
                    report::json_string(q),
                    diffs.is_empty(),
                    seen.entries,
                    seen.files,
                    seen.bytes,
                    seen.start.elapsed().as_secs_f64(),
                    items.join(","),
                    sums.join(",")
                );
            } else {
                for (rel, sum) in &seen.manifest {
                    println!("{sum}  {}", virtual_path(rel));
                }
                for d in &diffs {
                    println!("{d}");
                }
                eprintln!(
                    "verify: {} entries compared ({} identical files, {} read) in {:.2}s: {} difference(s) between {p} and {q}",
                    seen.entries,
                    seen.files,
                    report::bytes(seen.bytes),
                    seen.start.elapsed().as_secs_f64(),
                    diffs.len()
                );
            }
            Ok(if diffs.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::CheckExec { program } => {
            g.only("check-exec", false, false)?;
            shadow_core::execcheck::check(&program)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Generate { dir } => {
            docs::generate(&dir, Cli::command()).map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::HelpShadowRun {} => {
            docs::shadow_run_command().print_long_help().map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckConfig {} => {
            g.only("check-config", false, false)?;
            let c = g.load()?;
            println!("prefix = {}", report::json_string(&c.prefix));
            for m in &c.members {
                println!("{} = {}", m.member.name(), report::json_string(&m.dir));
            }
            println!("state_dir = {}", report::json_string(&c.state_dir.to_string_lossy()));
            if let Some(mode) = &c.update_at_start {
                println!("update_at_start = {}", report::json_string(mode));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn resync(set: &LiveSet, member: Member, update: UpdateMode, json: bool, verb: &str) -> Result<ExitCode, String> {
    watch::stop_on_signals();
    let mut progress = progress_printer(json);
    let r = match set.resync(member, update, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            // Said and recorded: which member, that it is still not written, and why.
            let s = set.read()?;
            let what = format!("{verb} {} failed, it stays {}: {e}", member.name(), s.member(member).state.name());
            set.history(Code::MemberStateChanged, &s.member(Member::Primary).dir, &s.member(Member::Secondary).dir, &what);
            return Err(format!("{what} ({})", s.member(member).dir));
        }
    };
    let s = set.read()?;
    let what = format!("{verb} {} (update {}: {} files, {} bytes copied, {} removed; writers held {} ms while the last {} changed paths were copied, {} bytes)", member.name(), r.mode.name(), r.stats.files, r.stats.bytes, r.stats.removed, r.freeze.as_millis(), r.last_paths, r.last_bytes);
    set.history(Code::MemberStateChanged, &s.member(Member::Primary).dir, &s.member(Member::Secondary).dir, &what);
    if json {
        println!(
            "{{\"member\":\"{}\",\"update\":\"{}\",\"files\":{},\"bytes\":{},\"removed\":{},\"seconds\":{:.3},\"freeze_ms\":{:.3},\"freeze_paths\":{},\"freeze_bytes\":{},\"generation\":{}}}",
            member.name(),
            r.mode.name(),
            r.stats.files,
            r.stats.bytes,
            r.stats.removed,
            r.elapsed.as_secs_f64(),
            r.freeze.as_secs_f64() * 1000.0,
            r.last_paths,
            r.last_bytes,
            s.member(member).generation
        );
    } else {
        eprintln!("{what} in {:.2}s", r.elapsed.as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shadowctl: {e}");
            ExitCode::from(2)
        }
    }
}
