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
    if crate::fdtable::get(2).is_some() {
        return;
    }
    let msg = format!("libshadow: {line}\n");
    let _ = crate::real::write(2, msg.as_bytes());
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
    let _ = real::write(set::get().shared.history.get(), format!("{line}\n").as_bytes());
}

/// A call the shim has no mirrored form for named a path under the prefix: refused.
pub fn refused(what: &str, path: *const libc::c_char) {
    let shown = crate::mem::path(path).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let rel = crate::resolve::Rel(shown.strip_prefix(&*String::from_utf8_lossy(&set::get().prefix)).unwrap_or(&shown).trim_start_matches('/').as_bytes().to_vec());
    record(Code::Refused, &rel, &format!("{what} on {shown}: not mirrored, refused with ENOSYS"));
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
