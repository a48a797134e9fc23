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
    /// The secondary counterpart of an open file could not be opened.
    SecondaryOpen = 40,
    /// A change could not be recorded in the change list; the next enable must not rely on it.
    ChangeListFailed = 60,
    /// shadowctl changed a member's state (disable, enable, replace, sync).
    MemberStateChanged = 70,
    /// A program found a member gone or broken; it is no longer written (policy degrade).
    MemberFailed = 80,
}

impl Code {
    pub fn number(self) -> u32 {
        self as u32
    }
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
    fn fields_cannot_break_the_line() {
        let r = Record { code: Code::NamespaceMismatch, primary: "/p/[x]", secondary: "/s/\n", error: "e" };
        assert_eq!(r.to_string(), "00030 [/p/?x?][/s/ ][e]");
    }
}
