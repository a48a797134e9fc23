//! The follower's half of an operation that waits on a device or the network (fsync,
//! fdatasync, sync_file_range) runs on a helper thread while the calling thread runs the
//! lead's: it costs the longer of the two, not their sum, as md and DRBD submit to every
//! member at once. The program still gets its answer only when both have answered.
//!
//! One helper per process, started at the first such call and kept (a thread per call
//! costs more than it saves on a local disk). It blocks every signal, so no handler of the
//! program ever runs on it. One caller at a time uses it; a caller that finds it busy (a
//! second thread syncing at the same moment, a signal handler interrupting a sync) runs the
//! follower's half itself, after the lead's, as before. A fork child starts its own helper
//! when it first needs one: the parent's thread is not in the child.

use crate::real::{raw, Res};
use crate::boundary::FfiReturn;
use libc::{c_int, c_uint};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};

/// What the follower does.
#[derive(Clone, Copy)]
pub enum Job {
    Fsync,
    Fdatasync,
    SyncRange { off: i64, len: i64, flags: c_uint },
}

impl Job {
    pub fn run(self, fd: c_int) -> Res<()> {
        let r = match self {
            Job::Fsync => unsafe { raw::fsync(fd) },
            Job::Fdatasync => unsafe { raw::fdatasync(fd) },
            Job::SyncRange { off, len, flags } => unsafe { raw::sync_file_range(fd, off, len, flags) },
        };
        r.into_res().map(drop)
    }
}

enum State {
    Idle,
    Todo(c_int, Job),
    Done(Res<()>),
}

struct Helper {
    /// The process the thread runs in.
    pid: u32,
    /// Held by the caller whose job the helper has.
    user: Mutex<()>,
    state: Mutex<State>,
    changed: Condvar,
}

static HELPER: AtomicPtr<Helper> = AtomicPtr::new(std::ptr::null_mut());
/// The process that is starting a helper (0: none): two threads never start two.
static STARTING: AtomicU32 = AtomicU32::new(0);

/// Runs `lead` here and `job` on the follower's `sfd` at the same time; both results.
pub fn alongside<T>(sfd: c_int, job: Job, lead: impl FnOnce() -> Res<T>) -> (Res<T>, Res<()>) {
    let Some(helper) = helper() else {
        return (lead(), job.run(sfd));
    };
    let Ok(_user) = helper.user.try_lock() else {
        return (lead(), job.run(sfd));
    };
    set(helper, State::Todo(sfd, job));
    let lead = lead();
    let mut state = helper.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match std::mem::replace(&mut *state, State::Idle) {
            State::Done(r) => return (lead, r),
            other => *state = other,
        }
        state = helper.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

fn set(helper: &Helper, to: State) {
    *helper.state.lock().unwrap_or_else(|e| e.into_inner()) = to;
    helper.changed.notify_all();
}

/// This process's helper, started if need be; None if no thread can be started (the
/// follower's half then runs after the lead's).
fn helper() -> Option<&'static Helper> {
    let pid = std::process::id();
    let h = HELPER.load(Ordering::Acquire);
    // A helper of another process is the parent's, copied by fork without its thread (left
    // as it is: its lock may have been held at the fork).
    if let Some(h) = unsafe { h.as_ref() }.filter(|h| h.pid == pid) {
        return Some(h);
    }
    if STARTING.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire).is_err() {
        // Another thread is starting one (or a fork copied a start in progress: the child
        // syncs as before).
        return None;
    }
    let started = start(pid);
    if let Some(h) = started {
        HELPER.store(h as *const Helper as *mut Helper, Ordering::Release);
    }
    STARTING.store(0, Ordering::Release);
    started
}

fn start(pid: u32) -> Option<&'static Helper> {
    let h: &'static Helper = Box::leak(Box::new(Helper { pid, user: Mutex::new(()), state: Mutex::new(State::Idle), changed: Condvar::new() }));
    // The thread inherits the signal mask it is started with: every signal blocked from
    // its first instruction on.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let spawned = std::thread::Builder::new().name("libshadow-sync".into()).stack_size(64 * 1024).spawn(move || serve(h));
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    spawned.ok().map(|_| h)
}

fn serve(h: &'static Helper) {
    let mut state = h.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let State::Todo(fd, job) = *state {
            drop(state);
            let r = job.run(fd);
            state = h.state.lock().unwrap_or_else(|e| e.into_inner());
            *state = State::Done(r);
            h.changed.notify_all();
        }
        state = h.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real::Errno;

    #[test]
    fn both_halves_run_and_each_result_is_its_own() {
        let dir = std::env::temp_dir().join(format!("libshadow-follower-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = std::fs::File::create(dir.join("f")).unwrap();
        use std::os::fd::AsRawFd;
        for _ in 0..100 {
            let (lead, follower) = alongside(f.as_raw_fd(), Job::Fdatasync, || Ok::<_, Errno>(7));
            assert_eq!(lead, Ok(7));
            assert_eq!(follower, Ok(()));
            let (lead, follower) = alongside(-1, Job::Fsync, || Err::<i32, _>(Errno(libc::EIO)));
            assert_eq!(lead, Err(Errno(libc::EIO)));
            assert_eq!(follower, Err(Errno(libc::EBADF)));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
