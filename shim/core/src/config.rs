//! The per-application configuration (`SHADOW_CONFIG=/path/app.toml`).
//!
//! `parse` is pure (syntax, keys, types, lexical checks) and unit-tested; `load` adds what
//! needs the file system (members exist, are directories, do not overlap once symlinks are
//! resolved, state_dir is created). Every error is one line naming the file and the key.

use crate::vpath;
use crate::Member;
use std::fmt;
use std::path::{Path, PathBuf};

/// Keys a config file may hold, with what each means: the one list the parser checks
/// against and `shadow.toml(5)` is made from.
pub const KEYS: &[(&str, &str)] = &[
    ("prefix", "Absolute virtual directory the program writes under, e.g. \"/shadow\". It need not (and normally does not) exist. Must not be / and must not overlap a member or state_dir."),
    ("primary", "Existing real directory, absolute. Answers reads and stat; its result is what the program sees."),
    ("secondary", "Existing real directory, absolute, different from the primary and not nested in it (also after resolving symlinks)."),
    ("state_dir", "Absolute directory for the shared state (state, registry, lock, journal, changes), history.log and status. Created if missing. One per set: every process using the config shares it."),
    ("update_at_start", "Optional: \"newer\", \"all\" or \"replace\". shadow-run then brings the lagging member level before starting the program (shadowctl sync --if-enabled): a member an operator disabled is left alone."),
    ("on_member_error", "\"degrade\" (default): a member that fails under a program is no longer written and the program runs on; \"fail\": the error is returned to the program."),
    ("failure_errors", "List of error names that mean \"this member is gone or broken\" (confirmed by a probe of the member before it is declared failed). Default: EIO, EROFS, ENOSPC, EDQUOT, ESTALE, ENOTCONN, EHOSTUNREACH, ETIMEDOUT, ENODEV, ENXIO, ECONNABORTED."),
    ("notify", "Optional absolute path of a program shadowctl watch runs for every event, with arguments EVENT SET MEMBER PATH."),
    ("retry", "Seconds between shadowctl watch's probes of a failed member (default 10)."),
    ("member_timeout", "Seconds a member being written may leave shadowctl watch's probe (a statfs of its root, every second) unanswered before watch declares it failed (default 60; 0: never). A member that hangs rather than failing (a stopped or deadlocked FUSE daemon such as sshfs, a network mount whose server stopped answering) would otherwise hang every program that touches it. The member is marked failed and its rebuild scans everything; a FUSE member also has its kernel connection aborted, so the operations already waiting on it return an error and the programs carry on with the other member. The only member still written is never declared failed."),
    ("handoff_hold", "Seconds (default 10, at least 1) a process keeps its fds on a member taken out of service (disabled, failed, replaced) for processes that share a file description with it and have not taken up the move of the lead yet; past it, only while such a process holds that description. Until then the member's file system cannot be unmounted."),
    ("status_interval", "Seconds between shadowctl watch's rewrites of STATE_DIR/status and STATE_DIR/metrics.prom (default 30)."),
    ("rebuild_update", "Update mode of shadowctl watch's automatic rebuilds (default dirty)."),
    ("journal_sync", "\"always\" (default): each write-intent record is flushed before the change it announces (exact after a power failure); \"none\": exact after kill -9 and crashes only."),
    ("journal_max", "Bytes (default 1048576, at least 4096) from which shadowctl watch and recover compact the journal."),
    ("write_behind", "Off by default (false or 0): every write returns once both members have it. true (a 16 MiB queue) or a queue size in bytes (65536 to 1073741824): a write returns once the primary has it; the secondary's copy waits in the process's queue, which is emptied before fsync, fdatasync, sync_file_range, msync, close, any other call on the prefix, fork, exec and exit. See README, \"Write-behind\", for what a crash can lose in this mode."),
];

/// Write-behind queue sizes (bytes): `write_behind = true`, and the range a size may take.
pub const WRITE_BEHIND_DEFAULT: u64 = 16 << 20;
pub const WRITE_BEHIND_MIN: u64 = 64 << 10;
pub const WRITE_BEHIND_MAX: u64 = 1 << 30;

/// What a program sees when a member fails under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMemberError {
    /// Stop writing the failed member (every process), keep running on the other, record
    /// changes for its return. The program sees the surviving member's result.
    Degrade,
    /// Return the error to the program (DRBD's pass_on), for users who prefer to stop.
    Fail,
}

/// Errors that mean "this member is gone or broken" (config `failure_errors`).
/// ECONNABORTED is what FUSE (sshfs) answers to a request in flight when its daemon dies.
pub const DEFAULT_FAILURE_ERRORS: &[&str] = &["EIO", "EROFS", "ENOSPC", "EDQUOT", "ESTALE", "ENOTCONN", "EHOSTUNREACH", "ETIMEDOUT", "ENODEV", "ENXIO", "ECONNABORTED"];

/// errno values by name, for the errors a member can fail with.
pub fn errno_by_name(name: &str) -> Option<i32> {
    const TABLE: &[(&str, i32)] = &[
        ("EIO", libc::EIO),
        ("EROFS", libc::EROFS),
        ("ENOSPC", libc::ENOSPC),
        ("EDQUOT", libc::EDQUOT),
        ("ESTALE", libc::ESTALE),
        ("ENOTCONN", libc::ENOTCONN),
        ("EHOSTUNREACH", libc::EHOSTUNREACH),
        ("EHOSTDOWN", libc::EHOSTDOWN),
        ("ETIMEDOUT", libc::ETIMEDOUT),
        ("ENODEV", libc::ENODEV),
        ("ENXIO", libc::ENXIO),
        ("ENOENT", libc::ENOENT),
        ("EACCES", libc::EACCES),
        ("EPERM", libc::EPERM),
        ("ECONNRESET", libc::ECONNRESET),
        ("ECONNREFUSED", libc::ECONNREFUSED),
        ("ECONNABORTED", libc::ECONNABORTED),
        ("ENETDOWN", libc::ENETDOWN),
        ("ENETUNREACH", libc::ENETUNREACH),
        ("EREMOTEIO", libc::EREMOTEIO),
        ("EFBIG", libc::EFBIG),
        ("EMFILE", libc::EMFILE),
        ("ENFILE", libc::ENFILE),
    ];
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The environment variable that names the config file.
pub const ENV_CONFIG: &str = "SHADOW_CONFIG";

/// The `prefix` of a config file's text when it is written plainly (`prefix = "/x"` or
/// `prefix = '/x'` before any table, absolute, folded, no escapes), found without
/// allocating: the shim consults it before it has started, when a memory allocator that is
/// itself starting up reads its own files. `None` means "ask the full parser".
pub fn plain_prefix(text: &[u8]) -> Option<&[u8]> {
    for line in text.split(|&b| b == b'\n') {
        let line = trim(line);
        if line.first() == Some(&b'[') {
            return None;
        }
        let Some(rest) = line.strip_prefix(b"prefix").and_then(|r| trim(r).strip_prefix(b"=")) else { continue };
        let rest = trim(rest);
        let quote = *rest.first().filter(|q| **q == b'"' || **q == b'\'')?;
        let body = &rest[1..];
        let end = body.iter().position(|&b| b == quote)?;
        let value = &body[..end];
        let after = trim(&body[end + 1..]);
        let value = value.strip_suffix(b"/").unwrap_or(value);
        let plain = value.first() == Some(&b'/') && !value.contains(&b'\\') && !vpath::has_dot_components(value) && (after.is_empty() || after[0] == b'#');
        return (plain && !value.is_empty()).then_some(value);
    }
    None
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Some(key) => write!(f, "{}: key `{}`: {}", self.file.display(), key, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One member directory: as configured, and with symlinks resolved (what `/proc/self/fd`
/// shows for files opened inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDir {
    pub member: Member,
    pub dir: String,
    pub canonical: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub file: PathBuf,
    /// Folded, absolute, no trailing slash.
    pub prefix: String,
    /// Primary first.
    pub members: Vec<MemberDir>,
    pub state_dir: PathBuf,
    /// `shadow-run` brings the lagging member level before starting the program (DiskShadow's
    /// -L): "newer", "all" or "replace".
    pub update_at_start: Option<String>,
    pub on_member_error: OnMemberError,
    /// errno values that mark a member failed.
    pub failure_errors: Vec<i32>,
    /// Program `shadowctl watch` runs for every event (event, set, member, path).
    pub notify: Option<String>,
    /// Seconds between probes of a failed member (`shadowctl watch`).
    pub retry: u64,
    /// Seconds between rewrites of the status file (`shadowctl watch`).
    pub status_interval: u64,
    /// Seconds a member being written may leave `shadowctl watch`'s probe unanswered
    /// before it is declared failed; 0: never.
    pub member_timeout: u64,
    /// Seconds a lead move's publication keeps a member out of service open (handoff.rs).
    pub handoff_hold: u64,
    /// Update mode of automatic rebuilds.
    pub rebuild_update: String,
    /// Whether each write-intent record reaches stable storage before the change it
    /// announces (power-loss safe), or only the page cache (kill -9 safe; faster).
    pub journal_sync: bool,
    /// Journal size (bytes) from which `shadowctl watch` and `recover` compact it.
    pub journal_max: u64,
    /// Bytes each process may hold in its write-behind queue; 0: write-behind is off.
    pub write_behind: u64,
}

impl Config {
    pub fn member(&self, m: Member) -> &MemberDir {
        &self.members[m.index()]
    }

    pub fn history_path(&self) -> PathBuf {
        self.state_dir.join("history.log")
    }
}

fn err(file: &Path, key: Option<&'static str>, message: impl Into<String>) -> ConfigError {
    ConfigError { file: file.to_path_buf(), key, message: message.into() }
}

fn fold(path: &str) -> String {
    String::from_utf8(vpath::absolute(b"/", path.as_bytes())).expect("folding keeps UTF-8")
}

fn overlaps(a: &str, b: &str) -> bool {
    vpath::under_prefix(a.as_bytes(), b.as_bytes()).is_some()
        || vpath::under_prefix(b.as_bytes(), a.as_bytes()).is_some()
}

/// Parses and checks a config text without touching the file system.
/// Member `canonical` fields are set to the folded configured paths.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.message().replace('\n', " ");
        let at = e
            .span()
            .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        err(file, None, format!("invalid TOML{at}: {msg}"))
    })?;
    if let Some(unknown) = table.keys().find(|k| !KEYS.iter().any(|(key, _)| key == k)) {
        return Err(err(
            file,
            None,
            format!("unknown key `{unknown}` (known keys: {})", KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")),
        ));
    }
    let get = |key: &'static str| -> Result<String, ConfigError> {
        match table.get(key) {
            None => Err(err(file, Some(key), "missing (required)")),
            Some(toml::Value::String(s)) if s.is_empty() => Err(err(file, Some(key), "is empty")),
            Some(toml::Value::String(s)) if !s.starts_with('/') => {
                Err(err(file, Some(key), format!("must be an absolute path, got \"{s}\"")))
            }
            Some(toml::Value::String(s)) => Ok(fold(s)),
            Some(other) => Err(err(
                file,
                Some(key),
                format!("must be a string, got {}", other.type_str()),
            )),
        }
    };
    let prefix = get("prefix")?;
    let primary = get("primary")?;
    let secondary = get("secondary")?;
    let state_dir = get("state_dir")?;
    if prefix == "/" {
        return Err(err(file, Some("prefix"), "must not be `/`"));
    }
    if primary == secondary {
        return Err(err(file, Some("secondary"), format!("is the same directory as primary ({primary})")));
    }
    for (key, dir) in [("primary", &primary), ("secondary", &secondary)] {
        if overlaps(&prefix, dir) {
            return Err(err(file, Some(key), format!("{dir} overlaps the prefix {prefix}")));
        }
    }
    if overlaps(&primary, &secondary) {
        return Err(err(file, Some("secondary"), format!("{secondary} overlaps primary {primary}")));
    }
    if overlaps(&prefix, &state_dir) {
        return Err(err(file, Some("state_dir"), format!("{state_dir} overlaps the prefix {prefix}")));
    }
    let update_at_start = match table.get("update_at_start") {
        None => None,
        Some(toml::Value::String(s)) if ["newer", "all", "replace"].contains(&s.as_str()) => Some(s.clone()),
        Some(toml::Value::String(s)) => {
            return Err(err(file, Some("update_at_start"), format!("must be \"newer\", \"all\" or \"replace\", got \"{s}\"")))
        }
        Some(other) => return Err(err(file, Some("update_at_start"), format!("must be a string, got {}", other.type_str()))),
    };
    let on_member_error = match table.get("on_member_error") {
        None => OnMemberError::Degrade,
        Some(toml::Value::String(s)) if s == "degrade" => OnMemberError::Degrade,
        Some(toml::Value::String(s)) if s == "fail" => OnMemberError::Fail,
        Some(other) => return Err(err(file, Some("on_member_error"), format!("must be \"degrade\" or \"fail\", got {other}"))),
    };
    let failure_errors = match table.get("failure_errors") {
        None => DEFAULT_FAILURE_ERRORS.iter().map(|n| errno_by_name(n).expect("default names are known")).collect(),
        Some(toml::Value::Array(names)) => names
            .iter()
            .map(|v| match v {
                toml::Value::String(n) => errno_by_name(n).ok_or_else(|| err(file, Some("failure_errors"), format!("unknown error name \"{n}\""))),
                other => Err(err(file, Some("failure_errors"), format!("must list error names like \"EIO\", got {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(err(file, Some("failure_errors"), format!("must be a list of error names, got {}", other.type_str()))),
    };
    let seconds = |key: &'static str, default: u64| -> Result<u64, ConfigError> {
        match table.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(n)) if *n >= 1 => Ok(*n as u64),
            Some(other) => Err(err(file, Some(key), format!("must be a whole number of seconds >= 1, got {other}"))),
        }
    };
    let retry = seconds("retry", 10)?;
    let status_interval = seconds("status_interval", 30)?;
    let handoff_hold = seconds("handoff_hold", 10)?;
    let member_timeout = match table.get("member_timeout") {
        None => 60,
        Some(toml::Value::Integer(n)) if *n >= 0 => *n as u64,
        Some(other) => return Err(err(file, Some("member_timeout"), format!("must be a whole number of seconds (0: never), got {other}"))),
    };
    let notify = match table.get("notify") {
        None => None,
        Some(toml::Value::String(s)) if s.starts_with('/') => Some(s.clone()),
        Some(other) => return Err(err(file, Some("notify"), format!("must be an absolute path to a program, got {other}"))),
    };
    let rebuild_update = match table.get("rebuild_update") {
        None => "dirty".to_string(),
        Some(toml::Value::String(s)) if ["dirty", "newer", "all", "replace"].contains(&s.as_str()) => s.clone(),
        Some(other) => return Err(err(file, Some("rebuild_update"), format!("must be \"dirty\", \"newer\", \"all\" or \"replace\", got {other}"))),
    };
    let journal_sync = match table.get("journal_sync") {
        None => true,
        Some(toml::Value::String(s)) if s == "always" => true,
        Some(toml::Value::String(s)) if s == "none" => false,
        Some(other) => return Err(err(file, Some("journal_sync"), format!("must be \"always\" or \"none\", got {other}"))),
    };
    let journal_max = match table.get("journal_max") {
        None => 1 << 20,
        Some(toml::Value::Integer(n)) if *n >= 4096 => *n as u64,
        Some(other) => return Err(err(file, Some("journal_max"), format!("must be a size in bytes >= 4096, got {other}"))),
    };
    let write_behind = match table.get("write_behind") {
        None | Some(toml::Value::Boolean(false)) => 0,
        Some(toml::Value::Boolean(true)) => WRITE_BEHIND_DEFAULT,
        Some(toml::Value::Integer(0)) => 0,
        Some(toml::Value::Integer(n)) if (WRITE_BEHIND_MIN..=WRITE_BEHIND_MAX).contains(&(*n as u64)) && *n > 0 => *n as u64,
        Some(other) => return Err(err(file, Some("write_behind"), format!("must be true, false or a queue size in bytes from {WRITE_BEHIND_MIN} to {WRITE_BEHIND_MAX}, got {other}"))),
    };
    let member = |member: Member, dir: String| MemberDir { member, canonical: dir.clone(), dir };
    Ok(Config {
        file: file.to_path_buf(),
        prefix,
        members: vec![member(Member::Primary, primary), member(Member::Secondary, secondary)],
        state_dir: PathBuf::from(state_dir),
        update_at_start,
        on_member_error,
        failure_errors,
        notify,
        retry,
        status_interval,
        member_timeout,
        handoff_hold,
        rebuild_update,
        journal_sync,
        journal_max,
        write_behind,
    })
}

/// Whether looking at a member's directory (`looked`) says the member is down or gone
/// rather than misconfigured: an error `failure_errors` names (a network mount whose
/// server went away, a dead disk), and, for a set in use (`in_use`: its state file
/// exists), a directory missing, replaced by a file, or behind a symlink loop (a disk not
/// mounted under its mount point, the directory moved away). Before, such a member of a
/// set in use made every program started after it exit 125 on the config, and every
/// shadowctl command fail, `disable` and `replace` included. A set never used refuses
/// them: a typo must not run un-mirrored. Permission denied is the caller's, never the
/// member's (one user's program must not fail a member for all).
pub fn member_unreachable(looked: &std::io::Result<std::fs::Metadata>, failure_errors: &[i32], in_use: bool) -> bool {
    match looked {
        Ok(meta) => in_use && !meta.is_dir(),
        Err(e) => e.raw_os_error().is_some_and(|n| failure_errors.contains(&n) || in_use && matches!(n, libc::ENOENT | libc::ENOTDIR | libc::ELOOP)),
    }
}

/// Reads, parses and checks the config against the file system; creates `state_dir`.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| err(file, None, format!("cannot read: {e}")))?;
    let mut config = parse(&text, file)?;
    let in_use = crate::shared::state_path(&config).exists();
    // A member the set does not write (failed, disabled) is not looked at: one that hangs
    // (a network mount whose server stopped answering, declared failed by watch) would hang
    // every program and every command here.
    let written = crate::shared::written_members(&config);
    for m in &mut config.members {
        let key = if m.member == Member::Primary { "primary" } else { "secondary" };
        if written.as_ref().is_some_and(|w| !w[m.member.index()]) {
            continue;
        }
        let looked = std::fs::metadata(&m.dir);
        // A member that is down or gone is the state's business, not a config error:
        // programs run on the other one (see `member_unreachable`).
        if member_unreachable(&looked, &config.failure_errors, in_use) {
            continue;
        }
        match looked {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(err(file, Some(key), format!("{} is not a directory", m.dir))),
            Err(e) => return Err(err(file, Some(key), format!("{}: {e}", m.dir))),
        }
        let canonical = std::fs::canonicalize(&m.dir).map_err(|e| err(file, Some(key), format!("{}: {e}", m.dir)))?;
        m.canonical = canonical
            .into_os_string()
            .into_string()
            .map_err(|_| err(file, Some(key), "resolves to a path that is not UTF-8"))?;
        if overlaps(&config.prefix, &m.canonical) {
            return Err(err(file, Some(key), format!("{} (really {}) overlaps the prefix {}", m.dir, m.canonical, config.prefix)));
        }
    }
    let (p, s) = (&config.members[0].canonical, &config.members[1].canonical);
    if p == s {
        return Err(err(file, Some("secondary"), format!("resolves to the same directory as primary ({p})")));
    }
    if overlaps(p, s) {
        return Err(err(file, Some("secondary"), format!("{s} overlaps primary {p} once symlinks are resolved")));
    }
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| err(file, Some("state_dir"), format!("cannot create {}: {e}", config.state_dir.display())))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prefix_is_found_without_the_parser() {
        assert_eq!(plain_prefix(b"# app\nprefix = \"/shadow\"\nprimary = \"/p\"\n"), Some(&b"/shadow"[..]));
        assert_eq!(plain_prefix(b"primary='/p'\n  prefix='/data/sh' # mirrored\n"), Some(&b"/data/sh"[..]));
        assert_eq!(plain_prefix(b"prefix = \"/shadow/\""), Some(&b"/shadow"[..]));
        assert_eq!(plain_prefix(b"prefix = \"/sh\\u0061dow\""), None, "escapes: the parser decides");
        assert_eq!(plain_prefix(b"prefix = \"/a/../b\""), None);
        assert_eq!(plain_prefix(b"prefix = \"relative\""), None);
        assert_eq!(plain_prefix(b"[table]\nprefix = \"/x\""), None);
        assert_eq!(plain_prefix(b"prefixes = 3\nprefix = \"/x\" trailing"), None);
        assert_eq!(plain_prefix(b"primary = \"/p\""), None);
    }

    const GOOD: &str = "prefix = \"/shadow/\"\nprimary = \"/a/p\"\nsecondary = \"/b/s\"\nstate_dir = \"/var/x\"\n";

    fn parse_str(text: &str) -> Result<Config, String> {
        parse(text, Path::new("/etc/app.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_a_good_config_and_folds_paths() {
        let c = parse_str(GOOD).unwrap();
        assert_eq!(c.prefix, "/shadow");
        assert_eq!(c.member(Member::Primary).dir, "/a/p");
        assert_eq!(c.member(Member::Secondary).dir, "/b/s");
        assert_eq!(c.history_path(), PathBuf::from("/var/x/history.log"));
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = parse_str(&GOOD.replace("secondary = \"/b/s\"\n", "")).unwrap_err();
        assert_eq!(e, "/etc/app.toml: key `secondary`: missing (required)");
        let e = parse_str(&GOOD.replace("\"/a/p\"", "\"rel/p\"")).unwrap_err();
        assert!(e.starts_with("/etc/app.toml: key `primary`: must be an absolute path"), "{e}");
        let e = parse_str(&GOOD.replace("\"/a/p\"", "3")).unwrap_err();
        assert!(e.contains("key `primary`: must be a string, got integer"), "{e}");
        let e = parse_str(&format!("{GOOD}colour = \"red\"\n")).unwrap_err();
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = parse_str("prefix = ").unwrap_err();
        assert!(e.starts_with("/etc/app.toml: invalid TOML (line 1)"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_member_is_unreachable_by_its_error_and_whether_the_set_is_in_use() {
        let e = |n| Err(std::io::Error::from_raw_os_error(n));
        let down = [libc::ENOTCONN];
        for n in [libc::ENOENT, libc::ENOTDIR, libc::ELOOP] {
            assert!(member_unreachable(&e(n), &down, true), "{n} in use");
            assert!(!member_unreachable(&e(n), &down, false), "{n} fresh: a config error");
        }
        assert!(member_unreachable(&e(libc::ENOTCONN), &down, false));
        assert!(!member_unreachable(&e(libc::EACCES), &down, true), "the caller's, not the member's");
        let file = std::fs::metadata("/proc/self/stat");
        assert!(member_unreachable(&file, &down, true) && !member_unreachable(&file, &down, false));
        assert!(!member_unreachable(&std::fs::metadata("/"), &down, true));
    }

    #[test]
    fn refuses_overlaps_and_identical_members() {
        let e = parse_str(&GOOD.replace("\"/b/s\"", "\"/a/p/\"")).unwrap_err();
        assert!(e.contains("key `secondary`: is the same directory as primary"), "{e}");
        let e = parse_str(&GOOD.replace("\"/b/s\"", "\"/a/p/inner\"")).unwrap_err();
        assert!(e.contains("key `secondary`") && e.contains("overlaps primary"), "{e}");
        let e = parse_str(&GOOD.replace("\"/a/p\"", "\"/shadow/p\"")).unwrap_err();
        assert!(e.contains("key `primary`") && e.contains("overlaps the prefix"), "{e}");
        let e = parse_str(&GOOD.replace("\"/a/p\"", "\"/\"")).unwrap_err();
        assert!(e.contains("key `primary`") && e.contains("overlaps the prefix"), "{e}");
        let e = parse_str(&GOOD.replace("\"/shadow/\"", "\"/\"")).unwrap_err();
        assert!(e.contains("key `prefix`: must not be `/`"), "{e}");
        let e = parse_str(&GOOD.replace("\"/var/x\"", "\"/shadow/state\"")).unwrap_err();
        assert!(e.contains("key `state_dir`"), "{e}");
        let e = parse_str(&format!("{GOOD}update_at_start = \"sometimes\"\n")).unwrap_err();
        assert!(e.contains("key `update_at_start`: must be"), "{e}");
        assert_eq!(parse_str(&format!("{GOOD}update_at_start = \"all\"\n")).unwrap().update_at_start.as_deref(), Some("all"));
        let e = parse_str(&format!("{GOOD}failure_errors = [\"EIO\", \"EWHATEVER\"]\n")).unwrap_err();
        assert!(e.contains("key `failure_errors`: unknown error name \"EWHATEVER\""), "{e}");
        let e = parse_str(&format!("{GOOD}on_member_error = \"panic\"\n")).unwrap_err();
        assert!(e.contains("key `on_member_error`"), "{e}");
        let c = parse_str(&format!("{GOOD}on_member_error = \"fail\"\nfailure_errors = [\"ENOSPC\"]\n")).unwrap();
        assert_eq!((c.on_member_error, c.failure_errors), (OnMemberError::Fail, vec![libc::ENOSPC]));
        assert_eq!(parse_str(GOOD).unwrap().failure_errors.len(), DEFAULT_FAILURE_ERRORS.len());
        assert_eq!(c.handoff_hold, 10);
        assert_eq!(parse_str(&format!("{GOOD}handoff_hold = 1\n")).unwrap().handoff_hold, 1);
        let e = parse_str(&format!("{GOOD}handoff_hold = 0\n")).unwrap_err();
        assert!(e.contains("key `handoff_hold`: must be a whole number of seconds >= 1"), "{e}");
        let e = parse_str(&format!("{GOOD}retry = 0\n")).unwrap_err();
        assert!(e.contains("key `retry`: must be a whole number of seconds"), "{e}");
        let e = parse_str(&format!("{GOOD}notify = \"relative\"\n")).unwrap_err();
        assert!(e.contains("key `notify`: must be an absolute path"), "{e}");
        let c = parse_str(&format!("{GOOD}notify = \"/bin/true\"\nretry = 2\n")).unwrap();
        assert_eq!((c.notify.as_deref(), c.retry, c.status_interval, c.rebuild_update.as_str()), (Some("/bin/true"), 2, 30, "dirty"));
        assert_eq!(c.member_timeout, 60, "a hung member is declared failed after a minute by default");
        assert_eq!(parse_str(&format!("{GOOD}member_timeout = 0\n")).unwrap().member_timeout, 0);
        let e = parse_str(&format!("{GOOD}member_timeout = -1\n")).unwrap_err();
        assert!(e.contains("key `member_timeout`: must be a whole number of seconds"), "{e}");
        let e = parse_str(&format!("{GOOD}member_timeout = \"1m\"\n")).unwrap_err();
        assert!(e.contains("key `member_timeout`"), "{e}");
        let c = parse_str(GOOD).unwrap();
        assert_eq!((c.journal_sync, c.journal_max), (true, 1 << 20), "power-loss safe by default");
        let c = parse_str(&format!("{GOOD}journal_sync = \"none\"\njournal_max = 65536\n")).unwrap();
        assert_eq!((c.journal_sync, c.journal_max), (false, 65536));
        let e = parse_str(&format!("{GOOD}journal_sync = \"sometimes\"\n")).unwrap_err();
        assert!(e.contains("key `journal_sync`: must be \"always\" or \"none\""), "{e}");
        let e = parse_str(&format!("{GOOD}journal_max = 10\n")).unwrap_err();
        assert!(e.contains("key `journal_max`: must be a size in bytes >= 4096"), "{e}");
    }

    #[test]
    fn write_behind_is_off_unless_asked_for() {
        assert_eq!(parse_str(GOOD).unwrap().write_behind, 0);
        for (value, queue) in [("false", 0), ("0", 0), ("true", 16 << 20), ("65536", 65536), ("1073741824", 1 << 30)] {
            assert_eq!(parse_str(&format!("{GOOD}write_behind = {value}\n")).unwrap().write_behind, queue, "{value}");
        }
        for bad in ["1", "65535", "1073741825", "-5", "\"16MiB\""] {
            let e = parse_str(&format!("{GOOD}write_behind = {bad}\n")).unwrap_err();
            assert!(e.contains("key `write_behind`: must be true, false or a queue size in bytes from 65536 to 1073741824"), "{bad}: {e}");
        }
    }

    #[test]
    fn load_checks_the_file_system() {
        let tmp = std::env::temp_dir().join(format!("shadow-cfg-{}", std::process::id()));
        let p = tmp.join("p");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::create_dir_all(tmp.join("s")).unwrap();
        std::os::unix::fs::symlink(&p, tmp.join("p-link")).unwrap();
        let file = tmp.join("app.toml");
        let write = |secondary: &str| {
            let text = format!(
                "prefix = \"/shadow\"\nprimary = \"{}\"\nsecondary = \"{}\"\nstate_dir = \"{}\"\n",
                p.display(),
                secondary,
                tmp.join("state").display()
            );
            std::fs::write(&file, text).unwrap();
        };
        write(&tmp.join("s").display().to_string());
        let c = load(&file).unwrap();
        assert!(tmp.join("state").is_dir());
        assert!(c.member(Member::Primary).canonical.ends_with("/p"));
        write(&tmp.join("missing").display().to_string());
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("key `secondary`") && e.contains("No such file"), "{e}");
        write(&tmp.join("p-link").display().to_string());
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("resolves to the same directory as primary"), "{e}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
