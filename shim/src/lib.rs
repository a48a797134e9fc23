//! libshadow.so: file-level mirroring for unmodified programs. Everything a program writes
//! under the configured prefix lands in the primary and the secondary member directories.
//!
//! Layout: `real` is the only caller of libc by pointer; `boundary` is the FFI boundary
//! every hook crosses; `set`, `resolve`, `fdtable` and `ocb` are the core; `hooks::*` are the
//! exported functions, one module per family.

mod adopt;
mod behind;
mod beside;
mod boundary;
mod fdtable;
mod forklock;
mod handoff;
mod hooks;
mod identity;
mod mem;
mod members;
mod names;
mod ocb;
mod outage;
mod real;
mod report;
mod resolve;
mod set;
mod signals;
mod stripes;
mod sud;
mod syscall_sites;
mod variadic;

#[ctor::ctor]
fn shim_init() {
    set::init();
}

/// At exit (before glibc flushes stdio): flush streams through the mirroring path, copy
/// what mappings and AIO wrote, give written files the primary's times and report files
/// that are insecure. The table stays in place for anything written after this.
/// Skipped when this thread is already inside the shim (`exit` from a signal handler that
/// interrupted a hook): its locks may be held.
#[ctor::dtor]
fn shim_fini() {
    if !set::is_active() {
        return;
    }
    // The streams first, while the other threads still run: one of them may hold a stream's
    // lock and let it go only once its write (a hook) is done, which the quiescing stops.
    unsafe { real::raw::fflush(std::ptr::null_mut()) };
    boundary::quiesce_for_exit(hooks::process::EXIT_PATIENCE);
    let Some(_inside) = boundary::Inside::enter() else { return };
    let _no_cancel = boundary::NoCancel::hold();
    // An operation as a hook's: a member change made since the program's last call is
    // applied before anything reaches the follower (the mappings' copies below wrote into
    // a secondary disabled since), and its waits for other processes' words leave it and
    // arrive again.
    let _operation = members::enter();
    // No second flush of every stream here: a thread stopped at a hook's entry may hold a
    // stream's lock for good. glibc's own last flush, which takes no lock, comes after
    // this, and what it writes is settled as it goes (`hooks::stdio::settle_late_writes`).
    behind::drain();
    hooks::data::sync_all_deferred();
    let mut seen = std::collections::HashSet::new();
    for (fd, ocb) in fdtable::all() {
        if seen.insert(std::sync::Arc::as_ptr(&ocb) as usize) {
            ocb.settle(fd);
            ocb.report_if_insecure();
        }
    }
    // Files the program mapped and closed: held by their mappings alone.
    hooks::data::for_each_mapped_ocb_now(|handle, ocb| {
        if seen.insert(ocb as *const ocb::Ocb as usize) {
            ocb.settle(handle);
            ocb.report_if_insecure();
        }
    });
    members::retire_unused_intents();
    handoff::end_all(false);
    hooks::stdio::settle_late_writes();
}
