//! Telling the user: history log records (`state_dir/history.log`) and stderr lines.

use crate::real;
use crate::resolve::Rel;
use crate::set;
use shadow_core::history::{Code, Record};
use shadow_core::Member;

/// Exit status of a program that the shim refused to run (broken config): like env(1),
/// 125 says "the wrapper failed", never the program.
pub const EXIT_REFUSED: i32 = 125;

fn stderr_line(line: &str) {
    // stderr may itself be a shadowed file, possibly the very file whose lock the caller
    // holds (`prog >> /shadow/log 2>&1`): writing it from here could wait on ourselves.
    // The record is in the history log either way.
    if crate::fdtable::get(2).is_some() || unadopted_lead_file(2) {
        return;
    }
    let msg = format!("libshadow: {line}\n");
    let _ = crate::real::write(2, msg.as_bytes());
}

/// Whether `fd` is a file in the lead the shim has not linked yet: an inherited stderr
/// under the prefix while the shim starts (a crash reported to the next program, before
/// its inherited fds are adopted). Written there, the line became part of the program's
/// output file, on both members once adopted.
fn unadopted_lead_file(fd: libc::c_int) -> bool {
    let Ok(link) = std::ffi::CString::new(format!("/proc/thread-self/fd/{fd}")) else { return false };
    real::readlink(&link).is_ok_and(|target| crate::members::view_now().is_some_and(|v| v.rel_in_lead(&target).is_some()))
}

/// Appends a record to the history log and prints it on stderr.
pub fn record(code: Code, rel: &Rel, error: &str) {
    let s = set::get();
    let p = s.member_path(Member::Primary, &rel.0);
    let q = s.member_path(Member::Secondary, &rel.0);
    let line = Record { code, primary: &p.to_string_lossy(), secondary: &q.to_string_lossy(), error }.to_string();
    stderr_line(&line);
    append_history(&line);
}

fn append_history(line: &str) {
    // One write call per record: concurrent appenders never interleave within a line.
    let _ = real::state_write(set::get().shared.history.get(), format!("{line}\n").as_bytes());
}

/// `record`, from `_exit` (async-signal-safe): no allocation, no lock. The line is built in
/// a buffer on the stack (cut at its end) and written once to the history log and to
/// stderr (unless stderr is a shadowed file); names are written as their bytes.
pub fn record_now(code: Code, rel: &[u8], error: &str) {
    let mut line = StackLine { buf: [0; 4096], len: 0 };
    let s = set::get();
    let n = code.number();
    line.push(&[b'0' + (n / 10000 % 10) as u8, b'0' + (n / 1000 % 10) as u8, b'0' + (n / 100 % 10) as u8, b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8, b' ']);
    // The members' directories now (a member may have been replaced since the start), or
    // the configured ones when the view is being changed.
    let view = crate::members::view_now();
    for m in [Member::Primary, Member::Secondary] {
        line.push(b"[");
        line.push_clean(view.as_ref().map_or(s.config.members[m.index()].dir.as_bytes(), |v| &v.dirs[m.index()]));
        line.push(b"/");
        line.push_clean(rel);
        line.push(b"]");
    }
    line.push(b"[");
    line.push_clean(error.as_bytes());
    line.push(b"]\n");
    let _ = real::state_write(s.shared.history.get(), line.bytes());
    if !crate::fdtable::is_shadowed(2) {
        let _ = real::write(2, b"libshadow: ");
        let _ = real::write(2, line.bytes());
    }
}

/// A history line on the stack (see `record_now`).
struct StackLine {
    buf: [u8; 4096],
    len: usize,
}

impl StackLine {
    fn push(&mut self, b: &[u8]) {
        // Room kept for the closing "]\n".
        let room = (self.buf.len() - 2).saturating_sub(self.len);
        let b = &b[..b.len().min(room)];
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
    /// As `Record`'s Display: brackets would make the line ambiguous, newlines split it.
    fn push_clean(&mut self, b: &[u8]) {
        for &c in b {
            self.push(&[match c {
                b'[' | b']' => b'?',
                b'\n' => b' ',
                c => c,
            }]);
        }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A call the shim has no mirrored form for named a path under the prefix: refused.
pub fn refused(what: &str, path: *const libc::c_char) {
    let shown = crate::mem::path(path).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let rel = crate::resolve::Rel(shown.strip_prefix(&*String::from_utf8_lossy(&set::get().prefix)).unwrap_or(&shown).trim_start_matches('/').as_bytes().to_vec());
    record(Code::Refused, &rel, &format!("{what} on {shown}: not mirrored, refused with ENOSYS"));
}

/// A call that would give a thread of a threaded process its own working directory or fd
/// table (the shim follows one of each per process): refused.
pub fn refused_in_threads(what: &str) {
    record(Code::Refused, &Rel(Vec::new()), &format!("{what} in a process with threads (the shim follows one per process): not mirrored, refused with ENOSYS"));
}

/// The change list could not be appended: bringing the member back must scan everything.
pub fn change_list_failed(rel: &Rel, e: crate::real::Errno) {
    record(Code::ChangeListFailed, rel, &format!("change list: {}", e.describe()));
}

/// Ends the program before it runs un-mirrored.
pub fn fatal(msg: &str) -> ! {
    let line = format!("libshadow: {msg}\n");
    let _ = real::write(2, line.as_bytes());
    unsafe { libc::_exit(EXIT_REFUSED) }
}

/// A panic inside the shim was caught at the FFI boundary.
pub fn shim_bug() {
    let line = "libshadow: internal error in a hook; the call failed with EIO\n";
    let _ = real::write(2, line.as_bytes());
}
