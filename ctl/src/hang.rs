//! Members that hang rather than fail (config `member_timeout`): a stopped or deadlocked
//! FUSE daemon (sshfs), a network mount whose server stopped answering. No error ever comes
//! back, so the shim's failure handling never runs: every program that touches the member
//! waits with it, and so would `watch` itself.
//!
//! One thread per member asks its root for a statfs every second (answered by the file
//! system's server, never from a cache, and invisible to programs: no probe file). Another
//! thread, which touches no member, declares a member whose probe has been unanswered for
//! `member_timeout` seconds failed: every process stops writing it at its next call, as
//! after an error. Threads already waiting inside it stay blocked until it answers, unless
//! it is a FUSE mount: its kernel connection is then aborted (as `fusectl`'s `abort` does,
//! and as the kernel's own `fuse.max_request_timeout` would), so they get an error
//! (ECONNABORTED, ENOTCONN) and carry on with the other member. A network file system has
//! its own means for the same end (NFS: `soft,timeo=…`; `umount -f`), which README names.

use crate::live::LiveSet;
use shadow_core::config::Config;
use shadow_core::history::Code;
use shadow_core::state::MemberState;
use shadow_core::sync::STOP;
use shadow_core::Member;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROBE_EVERY: Duration = Duration::from_secs(1);
const FUSE_CONNECTIONS: &str = "/sys/fs/fuse/connections";

pub struct Watchdog {
    base: Instant,
    /// Per member: milliseconds since `base` + 1 when the probe in flight started; 0: none.
    probes: [AtomicU64; 2],
    /// The members' directories with symlinks resolved, once the config has been checked
    /// against the file system (`learn`): the mount table knows them by those names.
    resolved: std::sync::Mutex<Vec<(String, String)>>,
}

/// Whether a probe started at `since` (0: none in flight) has waited too long at `now`.
pub fn overdue(since: u64, now: u64, timeout_ms: u64) -> bool {
    timeout_ms > 0 && since != 0 && now.saturating_sub(since - 1) >= timeout_ms
}

/// Starts the probe threads and the judge (none when `member_timeout` is 0), from the
/// config as parsed: checking it against the file system looks at the members, and a
/// member already hung when watch starts (a supervisor restarting it) would hang watch
/// there before it could be declared. Each thread opens the set on its own (waiting for
/// its state to exist): a thread stuck in a member keeps its handles.
pub fn start(config: &Config) -> Result<Arc<Watchdog>, String> {
    let dog = Arc::new(Watchdog { base: Instant::now(), probes: Default::default(), resolved: Default::default() });
    let timeout_ms = config.member_timeout * 1000;
    if timeout_ms == 0 {
        return Ok(dog);
    }
    let open = |config: Config| move || loop {
        match LiveSet::open(config.clone()) {
            Ok(set) => return Some(set),
            Err(_) if STOP.load(Ordering::SeqCst) => return None,
            Err(_) => std::thread::sleep(PROBE_EVERY),
        }
    };
    for m in Member::ALL {
        let (dog, own) = (dog.clone(), open(config.clone()));
        std::thread::Builder::new().name(format!("probe-{}", m.name())).spawn(move || own().map(|set| probe(&set, &dog, m))).map_err(|e| format!("watch: starting a probe thread: {e}"))?;
    }
    let (judged, own) = (dog.clone(), open(config.clone()));
    std::thread::Builder::new().name("hang-judge".into()).spawn(move || own().map(|set| judge(&set, &judged, timeout_ms))).map_err(|e| format!("watch: starting the hang judge: {e}"))?;
    Ok(dog)
}

impl Watchdog {
    /// The config checked against the file system: its members' resolved directories.
    pub fn learn(&self, config: &Config) {
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = config.members.iter().map(|m| (m.dir.clone(), m.canonical.clone())).collect();
    }
}

fn now_ms(dog: &Watchdog) -> u64 {
    dog.base.elapsed().as_millis() as u64 + 1
}

fn written(s: &shadow_core::state::State, m: Member) -> bool {
    matches!(s.member(m).state, MemberState::Enabled | MemberState::Resyncing)
}

fn probe(set: &LiveSet, dog: &Watchdog, m: Member) {
    let since = &dog.probes[m.index()];
    while !STOP.load(Ordering::SeqCst) {
        if let Ok((true, dir)) = set.read().map(|s| (written(&s, m), s.member(m).dir.clone())) {
            if let Ok(path) = std::ffi::CString::new(dir) {
                let mut st: libc::statfs = unsafe { std::mem::zeroed() };
                since.store(now_ms(dog), Ordering::SeqCst);
                unsafe { libc::statfs(path.as_ptr(), &mut st) };
                since.store(0, Ordering::SeqCst);
            }
        }
        std::thread::sleep(PROBE_EVERY);
    }
}

/// Declares overdue members failed. Touches no member but the survivor's stamp.
fn judge(set: &LiveSet, dog: &Watchdog, timeout_ms: u64) {
    let mut declared = [false; 2];
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        let Ok(s) = set.read() else { continue };
        for m in Member::ALL {
            let since = dog.probes[m.index()].load(Ordering::SeqCst);
            if !overdue(since, now_ms(dog), timeout_ms) {
                declared[m.index()] = false;
                continue;
            }
            if declared[m.index()] || !written(&s, m) {
                continue;
            }
            declared[m.index()] = true;
            declare(set, dog, &s, m);
        }
    }
}

fn declare(set: &LiveSet, dog: &Watchdog, s: &shadow_core::state::State, m: Member) {
    let other = Member::ALL.into_iter().find(|x| *x != m).expect("two members");
    let (pd, sd) = (s.member(Member::Primary).dir.clone(), s.member(Member::Secondary).dir.clone());
    let secs = set.config.member_timeout;
    if s.member(other).state != MemberState::Enabled {
        set.history(Code::MemberStateChanged, &pd, &sd, &format!("{} has not answered for {secs} s (member_timeout), but it is the only member up to date: it stays in service and programs wait for it", m.name()));
        return;
    }
    // What was in flight on it when it stopped answering may or may not have landed, and
    // nothing here can name it: the rebuild compares everything.
    set.state.mark_changes_lost();
    if !set.state.mark_failed(m.index()) {
        return;
    }
    let _ = shadow_core::stamp::survivor_moves_on(&s.member(other).dir, set.state.set_id);
    // Found by name in the mount table: asking the member would wait with it.
    let dir = s.member(m).dir.clone();
    let resolved = dog.resolved.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(d, _)| *d == dir).map(|(_, r)| r.clone());
    let dir = resolved.unwrap_or(dir);
    let connection = std::fs::read_to_string("/proc/self/mountinfo").ok().and_then(|t| fuse_connection(&t, &dir));
    let fate = match connection {
        None => "operations already waiting on it wait until it answers (a network file system: mount it so that its client gives up, e.g. NFS soft,timeo=…, or umount -f it)".to_string(),
        Some(id) => match abort_fuse(id) {
            Ok(()) => format!("its FUSE connection {id} was aborted, so the operations waiting on it return an error and go on with the other member"),
            Err(e) => format!("aborting its FUSE connection {id} failed ({e}): operations already waiting on it wait until it answers"),
        },
    };
    set.history(Code::MemberFailed, &pd, &sd, &format!("{} failed, no longer written: it has not answered for {secs} s (member_timeout); {fate}; its rebuild will compare everything", m.name()));
}

/// The FUSE connection of the mount holding `dir`, from the text of a `/proc/PID/mountinfo`;
/// None when that mount is not FUSE. fusectl names a connection by its device number as
/// the kernel keeps it (major << 20 | minor: the minor alone for FUSE's anonymous devices,
/// not for fuseblk's). The last of the longest mount points that hold `dir` is the mount
/// on top.
pub fn fuse_connection(mountinfo: &str, dir: &str) -> Option<u32> {
    let holds = |point: &str| point == "/" || dir == point || dir.strip_prefix(point).is_some_and(|r| r.starts_with('/'));
    let mut best: Option<(usize, &str, &str)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(dev), Some(point)) = (fields.get(2), fields.get(4).map(|p| unescape(p))) else { continue };
        let Some(fstype) = fields.iter().position(|f| *f == "-").and_then(|i| fields.get(i + 1)) else { continue };
        if holds(&point) && best.is_none_or(|(len, _, _)| point.len() >= len) {
            best = Some((point.len(), dev, fstype));
        }
    }
    let (_, dev, fstype) = best?;
    let (major, minor) = dev.split_once(':')?;
    let id = (major.parse::<u32>().ok()? << 20) | minor.parse::<u32>().ok()?;
    (fstype == "fuse" || fstype.starts_with("fuse.") || fstype == "fuseblk").then_some(id)
}

/// A mount point as mountinfo writes it: space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let code = (b[i] == b'\\' && i + 4 <= b.len()).then(|| std::str::from_utf8(&b[i + 1..i + 4]).ok().and_then(|o| u8::from_str_radix(o, 8).ok())).flatten();
        match code {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Aborts FUSE connection `id` through the fuse control file system, mounting it first
/// where nobody has.
fn abort_fuse(id: u32) -> Result<(), String> {
    let file = format!("{FUSE_CONNECTIONS}/{id}/abort");
    if !std::path::Path::new(&file).exists() {
        let (src, dir, fstype) = (c"fusectl", std::ffi::CString::new(FUSE_CONNECTIONS).expect("no NUL"), c"fusectl");
        if unsafe { libc::mount(src.as_ptr(), dir.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) } != 0 {
            return Err(format!("mounting fusectl on {FUSE_CONNECTIONS}: {}", std::io::Error::last_os_error()));
        }
    }
    std::fs::write(&file, b"1").map_err(|e| format!("{file}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{fuse_connection, overdue};

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:41 / /mnt/remote rw,nosuid,nodev,relatime shared:20 - fuse.sshfs root@host:/export rw,user_id=0,group_id=0
41 40 0:42 / /mnt/remote/inner rw,relatime shared:21 - tmpfs tmpfs rw
42 22 0:43 / /mnt/two\\040words rw,relatime shared:22 - fuse.sshfs x:/y rw
45 22 7:3 / /mnt/ntfs rw,relatime shared:25 - fuseblk /dev/loop3 rw
43 22 0:44 / /mnt/over rw,relatime shared:23 - fuse.sshfs x:/z rw
44 22 254:0 / /mnt/over rw,relatime shared:24 - ext4 /dev/vda rw
";

    #[test]
    fn the_mount_holding_a_member_names_its_fuse_connection() {
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/remote"), Some(41));
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/remote/members/s"), Some(41));
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/remote/inner/s"), None, "a tmpfs mounted inside it");
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/remoteness"), None, "a name that only starts alike");
        assert_eq!(fuse_connection(MOUNTINFO, "/srv/m"), None, "the root's ext4");
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/two words/m"), Some(43), "escaped mount points");
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/over/m"), None, "the mount on top counts");
        assert_eq!(fuse_connection(MOUNTINFO, "/mnt/ntfs/m"), Some(7 << 20 | 3), "fuseblk: the whole device number");
    }

    #[test]
    fn a_probe_is_overdue_once_it_waited_the_timeout() {
        assert!(!overdue(0, 100_000, 2000), "no probe in flight");
        assert!(!overdue(1001, 2999, 2000), "1999 ms waited");
        assert!(overdue(1001, 3000, 2000), "2000 ms waited");
        assert!(!overdue(1001, 1_000_000, 0), "member_timeout = 0: never");
    }
}
