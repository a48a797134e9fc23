//! Core files. A process the kernel kills with a core dump writes its core into its working
//! directory when `core_pattern` names a file there (the pattern neither an absolute path
//! nor a pipe) and RLIMIT_CORE allows one. Under the prefix that is the primary's directory
//! alone: the kernel's working directory is the primary's. Before, the core file stayed on
//! the primary alone, and `recover` after the crash repaired nothing.
//!
//! So while such a process works in a directory under the prefix, that directory is held in
//! flight: an intent of its own, not a file's, begun when the process starts there or moves
//! there (chdir, fchdir, a fork child) and ended when it leaves it, at exit and before exec.
//! A crash leaves it open: `recover` compares the directory whole (the intent lists no
//! entries) and copies the core file. Unflushed, as only a crash writes a core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The intent held (0: none), readable without a lock from `_exit`.
static HELD: AtomicU64 = AtomicU64::new(0);
/// The directory it names.
static DIR: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Where, relative to the dumping process's working directory, a core file named by
/// `pattern` (the contents of /proc/sys/kernel/core_pattern) lands: `Some(b"")` for the
/// working directory itself, `Some(dir)` for a directory below it the pattern names
/// (`dumps/core.%p`), None for a pattern that is an absolute path or a pipe. A directory
/// part with a `%` specifier cannot be known ahead: the working directory stands for it.
pub fn core_dir(pattern: &[u8]) -> Option<&[u8]> {
    let pattern = pattern.strip_suffix(b"\n").unwrap_or(pattern);
    if matches!(pattern.first(), None | Some(b'/') | Some(b'|')) {
        return None;
    }
    let dir = pattern.iter().rposition(|&b| b == b'/').map_or(&pattern[..0], |cut| &pattern[..cut]);
    Some(if dir.contains(&b'%') { &pattern[..0] } else { dir })
}

/// The directory, relative to the working directory, a crash of this process now would
/// write a core file into; None when it would write none there.
fn core_dir_now() -> Option<&'static [u8]> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) } != 0 || limit.rlim_cur == 0 {
        return None;
    }
    static PATTERN: once_cell::sync::OnceCell<Vec<u8>> = once_cell::sync::OnceCell::new();
    core_dir(PATTERN.get_or_init(|| std::fs::read("/proc/sys/kernel/core_pattern").unwrap_or_default()))
}

/// The working directory is now `cwd` (its name under the prefix, None outside it).
pub fn follow_cwd(cwd: Option<&[u8]>) {
    let want = cwd.zip(core_dir_now()).map(|(cwd, below)| if cwd.is_empty() { below.to_vec() } else { shadow_core::vpath::join(cwd, below) });
    let mut dir = DIR.lock().unwrap_or_else(|e| e.into_inner());
    if HELD.load(Ordering::SeqCst) != 0 && want.as_ref() == Some(&*dir) {
        return;
    }
    let id = want.as_deref().map_or(0, crate::members::begin_dir_intent);
    *dir = want.unwrap_or_default();
    crate::members::end_dir_intent(HELD.swap(id, Ordering::SeqCst));
    crate::members::republish_intents();
}

/// Whether a directory is held (counted among the process's intents: a process that dies
/// holding it is one `recover` must look after).
pub fn held() -> bool {
    HELD.load(Ordering::Relaxed) != 0
}

/// At exit and before exec: the directory is let go (allocation-free, for `_exit`).
pub fn release_now() {
    crate::members::end_dir_intent(HELD.swap(0, Ordering::SeqCst));
}

/// After an exec that failed: held again for the working directory.
pub fn hold_again() {
    follow_cwd(crate::resolve::virtual_cwd().as_ref().map(|r| r.0.as_slice()));
}

/// In a fork child: the intent it inherited is the parent's, not to be ended here; the
/// child holds one of its own (unless the fork came from a signal handler that interrupted
/// the shim, which may hold the lock: `unlocked`).
pub fn after_fork_child(unlocked: bool) {
    HELD.store(0, Ordering::SeqCst);
    if !unlocked {
        hold_again();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_lands_where_the_pattern_names_a_file() {
        assert_eq!(core_dir(b"core\n"), Some(&b""[..]));
        assert_eq!(core_dir(b"core.%e.%p\n"), Some(&b""[..]));
        assert_eq!(core_dir(b"dumps/core-%p\n"), Some(&b"dumps"[..]));
        assert_eq!(core_dir(b"dumps/%u/core\n"), Some(&b""[..]));
        assert_eq!(core_dir(b"|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h\n"), None);
        assert_eq!(core_dir(b"/var/crash/core.%p\n"), None);
        assert_eq!(core_dir(b"\n"), None);
        assert_eq!(core_dir(b""), None);
    }
}
