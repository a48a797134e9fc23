//! History log records: `CODE [primary path][secondary path][error]`, one per line, the
//! form DiskShadow used so that monitoring scripts can match on the stable 5-digit code.

use std::fmt;

/// Stable message codes. Never renumber: scripts match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// A file's data differs between members: the secondary failed or answered differently.
    InsecureFile = 20,
    /// A namespace or metadata change (mkdir, rename, chmod, …) succeeded on the primary only.
    NamespaceMismatch = 30,
    /// A change could not be recorded in the change list; the next enable must not rely on it.
    ChangeListFailed = 60,
    /// shadowctl changed a member's state (disable, enable, replace, sync).
    MemberStateChanged = 70,
    /// A program found a member gone or broken; it is no longer written (policy degrade).
    MemberFailed = 80,
    /// `shadowctl watch` saw the set running on one member.
    Degraded = 81,
    /// `shadowctl watch` found a failed member usable again and started rebuilding it.
    RebuildStarted = 90,
    RebuildProgress = 91,
    RebuildFinished = 92,
    /// The member is written again.
    MemberRecovered = 93,
    /// `shadowctl recover` repaired a path left in flight by a crash.
    Recovered = 100,
    /// A process ended (kill -9, a crash) with changes in flight: `recover` is due.
    RecoverNeeded = 101,
    /// Both members were written while apart (their stamps say so): nothing is copied over
    /// either until `shadowctl recover --prefer` decides.
    SplitBrain = 110,
    /// A call the shim cannot mirror named a path under the prefix (a raw system call with
    /// no mirrored form, such as mount): it was refused with ENOSYS, never run on one member.
    Refused = 120,
    /// A program that runs without the shim (static, setuid to another user, file
    /// capabilities, Go) was started with its working directory under the prefix: what it
    /// changes by a relative path reaches the primary alone.
    Unmirrored = 130,
}

impl Code {
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The event name `shadowctl wait` and notify programs use, for codes that are events.
    pub fn event(self) -> Option<&'static str> {
        Some(match self {
            Code::InsecureFile => "InsecureFile",
            Code::MemberFailed => "MemberFailed",
            Code::Degraded => "Degraded",
            Code::RebuildStarted => "RebuildStarted",
            Code::RebuildProgress => "RebuildProgress",
            Code::RebuildFinished => "RebuildFinished",
            Code::MemberRecovered => "MemberRecovered",
            Code::SplitBrain => "SplitBrain",
            _ => return None,
        })
    }

    pub const ALL: [Code; 15] = [
        Code::InsecureFile,
        Code::NamespaceMismatch,
        Code::ChangeListFailed,
        Code::MemberStateChanged,
        Code::MemberFailed,
        Code::Degraded,
        Code::RebuildStarted,
        Code::RebuildProgress,
        Code::RebuildFinished,
        Code::MemberRecovered,
        Code::Recovered,
        Code::RecoverNeeded,
        Code::SplitBrain,
        Code::Refused,
        Code::Unmirrored,
    ];

    /// What a record with this code says, for shadow.toml(5) and README's table.
    pub fn about(self) -> &'static str {
        match self {
            Code::InsecureFile => "insecure file: a data operation failed or differed on the secondary",
            Code::NamespaceMismatch => "a namespace or metadata change succeeded on the primary only (reported at once)",
            Code::ChangeListFailed => "a change could not be recorded in the change list (the next enable does a full pass), or a write intent in the journal (the next recover verifies everything)",
            Code::MemberStateChanged => "shadowctl changed a member (disable, enable, replace, sync, verify --repair)",
            Code::MemberFailed => "a program found a member gone; it is no longer written",
            Code::Degraded => "watch: the set runs on one member",
            Code::RebuildStarted => "watch: a failed member is usable again and is being rebuilt",
            Code::RebuildProgress => "watch: rebuild progress",
            Code::RebuildFinished => "watch: the rebuild finished",
            Code::MemberRecovered => "watch: the member is written again",
            Code::Recovered => "recover repaired a path in flight at a crash, or settled a conflict by policy",
            Code::RecoverNeeded => "a process ended with changes in flight: recover is due",
            Code::SplitBrain => "split brain: both members were written while apart",
            Code::Refused => "a call with no mirrored form named a path under the prefix, or would have given a thread its own working directory or fd table: refused with ENOSYS",
            Code::Unmirrored => "a program that runs without the shim was started with its working directory under the prefix: its changes by a relative path reach the primary alone",
        }
    }

    pub fn from_number(n: u32) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.number() == n)
    }
}

/// A history line taken apart: code and the three bracketed fields.
pub fn parse_line(line: &str) -> Option<(Code, String, String, String)> {
    let (num, rest) = line.split_once(' ')?;
    let code = Code::from_number(num.parse().ok()?)?;
    let mut fields = rest.strip_prefix('[')?.strip_suffix(']')?.splitn(3, "][");
    Some((code, fields.next()?.to_string(), fields.next()?.to_string(), fields.next()?.to_string()))
}

/// One history record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub code: Code,
    pub primary: &'a str,
    pub secondary: &'a str,
    pub error: &'a str,
}

impl fmt::Display for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Brackets and newlines inside a field would make the line ambiguous to a parser.
        let clean = |s: &str| s.replace(['[', ']'], "?").replace('\n', " ");
        write!(
            f,
            "{:05} [{}][{}][{}]",
            self.code.number(),
            clean(self.primary),
            clean(self.secondary),
            clean(self.error)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_diskshadow() {
        let r = Record { code: Code::InsecureFile, primary: "/p/a", secondary: "/s/a", error: "No space left on device" };
        assert_eq!(r.to_string(), "00020 [/p/a][/s/a][No space left on device]");
    }

    #[test]
    fn lines_parse_back() {
        let r = Record { code: Code::MemberFailed, primary: "/p/a", secondary: "/s/a", error: "secondary failed" };
        let (c, p, s, e) = parse_line(&r.to_string()).unwrap();
        assert_eq!((c, p.as_str(), s.as_str(), e.as_str()), (Code::MemberFailed, "/p/a", "/s/a", "secondary failed"));
        assert_eq!(c.event(), Some("MemberFailed"));
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("99999 [a][b][c]").is_none());
    }

    #[test]
    fn fields_cannot_break_the_line() {
        let r = Record { code: Code::NamespaceMismatch, primary: "/p/[x]", secondary: "/s/\n", error: "e" };
        assert_eq!(r.to_string(), "00030 [/p/?x?][/s/ ][e]");
    }
}
