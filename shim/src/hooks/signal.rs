//! Signal actions: the program's handlers are kept by the shim and run outside it (see
//! signals.rs). glibc's `signal`, `sysv_signal`, `sigset` and `siginterrupt` set actions with
//! internal calls no hook sees, so each is hooked as well. Until the set is active they are
//! plain libc (the set's start takes over the handlers installed so far).

use crate::boundary::FfiReturn;
use crate::real::{raw, Res};
use crate::signals::{self, Semantics};
use crate::set;
use libc::{c_int, sighandler_t};

/// errno as the hook found it on success; -1 or SIG_ERR and the error otherwise. No
/// boundary: these run in signal handlers and before the shim's start, take no lock and
/// call no hook.
fn answer<T: FfiReturn>(r: Res<T>) -> T {
    r.unwrap_or_else(|e| {
        e.set();
        T::FAILED
    })
}

/// As `answer`, for the calls that return a disposition (SIG_ERR on failure).
fn disposition(r: Res<sighandler_t>) -> sighandler_t {
    r.unwrap_or_else(|e| {
        e.set();
        libc::SIG_ERR
    })
}

macro_rules! sigaction_hooks {
    ($($name:ident),*) => {$(
        /// sigaction(2)
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int {
            if !set::is_active() {
                return raw::sigaction(sig, act, old);
            }
            // Copied first: `act` and `old` may be the same struct.
            let act = act.as_ref().copied();
            answer(signals::sigaction(sig, act.as_ref(), old.as_mut()).map(|()| 0))
        }
    )*};
}
sigaction_hooks!(sigaction, __sigaction);

macro_rules! signal_hooks {
    ($($name:ident: $how:expr),*) => {$(
        /// signal(2) and its aliases.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(sig: c_int, handler: sighandler_t) -> sighandler_t {
            if !set::is_active() {
                return raw::$name(sig, handler);
            }
            disposition(signals::signal(sig, handler, $how))
        }
    )*};
}
signal_hooks!(signal: Semantics::Bsd, bsd_signal: Semantics::Bsd, ssignal: Semantics::Bsd, sysv_signal: Semantics::SysV, __sysv_signal: Semantics::SysV);

/// sigset(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn sigset(sig: c_int, handler: sighandler_t) -> sighandler_t {
    if !set::is_active() {
        return raw::sigset(sig, handler);
    }
    disposition(signals::sigset(sig, handler))
}

/// siginterrupt(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn siginterrupt(sig: c_int, interrupt: c_int) -> c_int {
    if !set::is_active() {
        return raw::siginterrupt(sig, interrupt);
    }
    answer(signals::siginterrupt(sig, interrupt != 0).map(|()| 0))
}

/// abort(3): the process is about to die of SIGABRT (see `signals::aborting`).
#[no_mangle]
pub unsafe extern "C-unwind" fn abort() -> ! {
    signals::aborting();
    raw::abort()
}

macro_rules! raise_hooks {
    ($($name:ident),*) => {$(
        /// raise(3) and gsignal(3): a signal this thread sends itself (see
        /// `signals::sending_self`).
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(sig: c_int) -> c_int {
            signals::sending_self(sig, || raw::$name(sig))
        }
    )*};
}
raise_hooks!(raise, gsignal);

/// pthread_kill(3): to this thread, a signal it sends itself (see `signals::sending_self`).
#[no_mangle]
pub unsafe extern "C-unwind" fn pthread_kill(thread: libc::pthread_t, sig: c_int) -> c_int {
    if thread != libc::pthread_self() {
        return raw::pthread_kill(thread, sig);
    }
    signals::sending_self(sig, || raw::pthread_kill(thread, sig))
}

/// tgkill(2): to this thread, a signal it sends itself (see `signals::sending_self`).
#[no_mangle]
pub unsafe extern "C-unwind" fn tgkill(tgid: libc::pid_t, tid: libc::pid_t, sig: c_int) -> c_int {
    if tgid != libc::getpid() || tid as u32 != crate::real::gettid() {
        return raw::tgkill(tgid, tid, sig);
    }
    signals::sending_self(sig, || raw::tgkill(tgid, tid, sig))
}

/// sigprocmask(2) and pthread_sigmask(3): SIGSYS stays unblocked while the executable's
/// system calls trap (sud.rs): the kernel kills a thread whose trapped call finds it blocked
/// (helper-56: a program that blocks every signal, then makes a raw `openat`, died of
/// SIGSYS). The mask the program reads back lacks it.
macro_rules! mask_hooks {
    ($($name:ident),*) => {$(
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(how: c_int, set: *const libc::sigset_t, old: *mut libc::sigset_t) -> c_int {
            match crate::sud::without_sigsys(how, set) {
                Some(kept) => raw::$name(how, &kept, old),
                None => raw::$name(how, set, old),
            }
        }
    )*};
}
mask_hooks!(sigprocmask, pthread_sigmask);
