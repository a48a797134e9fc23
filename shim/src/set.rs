//! The active shadow set of this process: configuration, member roots, and the switch that
//! tells every hook whether to do anything at all. Initialised once, in the constructor or
//! by the first hook that runs before it (another library's constructor).

use crate::real::Errno;
use once_cell::sync::OnceCell;
use shadow_core::config::{self, Config};
use shadow_core::Member;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub struct ShadowSet {
    pub config: Config,
    /// Folded prefix as bytes (no trailing slash).
    pub prefix: Vec<u8>,
    /// The names that lead from each directory above the prefix towards it.
    pub towards: Vec<Vec<u8>>,
    /// The state file, registry, lock and change list shared with every other process.
    pub shared: crate::members::Shared,
    /// Value to put in LD_PRELOAD of children that lost it.
    pub lib_path: Option<CString>,
    pub config_path: CString,
}

impl ShadowSet {
    /// Real path of `rel` (relative to the prefix) in a member.
    pub fn member_path(&self, m: Member, rel: &[u8]) -> CString {
        crate::members::view().path(m, rel)
    }
}

static SET: OnceCell<ShadowSet> = OnceCell::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);
const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// The set; only call once `is_active()` returned true.
pub fn get() -> &'static ShadowSet {
    SET.get().expect("shadow set used before activation")
}

/// The set, if it is active.
pub fn try_get() -> Option<&'static ShadowSet> {
    SET.get()
}

/// Whether the shim is up, without bringing it up (for `_exit`).
pub fn is_initialised() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// Cheap check for every hook: one relaxed load once initialised.
#[inline]
pub fn is_active() -> bool {
    if ACTIVE.load(Ordering::Relaxed) {
        return true;
    }
    if STATE.load(Ordering::Acquire) == UNINIT {
        init();
        return ACTIVE.load(Ordering::Relaxed);
    }
    false
}

/// Whether a hook on `path` must do anything: `is_active`, except that before the shim has
/// started, a path that plainly lies outside the prefix is passed on without starting it.
/// A memory allocator starting up (jemalloc reads /etc/malloc.conf under its init lock)
/// calls hooks before the shim's constructor; the shim's start-up allocates, which would
/// wait on that lock forever. So until the start, SHADOW_CONFIG is looked up and the
/// prefix read from the config file without allocating (`config::plain_prefix`).
pub fn is_active_for(path: *const libc::c_char) -> bool {
    if ACTIVE.load(Ordering::Relaxed) {
        return true;
    }
    if STATE.load(Ordering::Acquire) != UNINIT {
        return false;
    }
    if let Some(p) = crate::mem::path(path) {
        if !config_named() || plainly_outside_before_start(p.to_bytes()) {
            return false;
        }
    }
    is_active()
}

/// SHADOW_CONFIG is set (allocation-free); without it the shim is done for good.
fn config_named() -> bool {
    let named = !unsafe { libc::getenv(c"SHADOW_CONFIG".as_ptr()) }.is_null();
    if !named {
        let _ = STATE.compare_exchange(UNINIT, DONE, Ordering::AcqRel, Ordering::Acquire);
    }
    named
}

/// An absolute path outside the prefix the config file plainly names (see is_active_for).
fn plainly_outside_before_start(p: &[u8]) -> bool {
    if p.first() != Some(&b'/') || shadow_core::vpath::has_dot_components(p) {
        return false;
    }
    let env = unsafe { libc::getenv(c"SHADOW_CONFIG".as_ptr()) };
    if env.is_null() {
        return true;
    }
    let mut text = [0u8; 8192];
    let n = unsafe {
        let fd = crate::real::raw::syscall(libc::SYS_openat, libc::AT_FDCWD as libc::c_long, env as libc::c_long, (libc::O_RDONLY | libc::O_CLOEXEC) as libc::c_long, 0, 0, 0);
        if fd < 0 {
            return false;
        }
        let n = crate::real::raw::syscall(libc::SYS_read, fd, text.as_mut_ptr() as libc::c_long, text.len() as libc::c_long, 0, 0, 0);
        crate::real::raw::syscall(libc::SYS_close, fd, 0, 0, 0, 0, 0);
        n
    };
    let Ok(n) = usize::try_from(n) else { return false };
    match config::plain_prefix(&text[..n]) {
        Some(prefix) => shadow_core::vpath::under_prefix(p, prefix).is_none(),
        None => false,
    }
}

/// Loads the configuration named by SHADOW_CONFIG. A broken config ends the program before
/// it does anything: running un-mirrored while the user believes it mirrored is the one
/// outcome that must never happen.
pub fn init() {
    if STATE.compare_exchange(UNINIT, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return;
    }
    let _inside = crate::boundary::Inside::force();
    let saved = Errno::last();
    init_from_env();
    saved.set();
}

fn init_from_env() {
    // Allocation-free until SHADOW_CONFIG is known to be set (see is_active_for).
    if unsafe { libc::getenv(c"SHADOW_CONFIG".as_ptr()) }.is_null() {
        STATE.store(DONE, Ordering::Release);
        return;
    }
    let Some(path) = std::env::var_os(config::ENV_CONFIG) else {
        STATE.store(DONE, Ordering::Release);
        return;
    };
    // shadowctl says it runs without the shim (its marker: see ctl/src/main.rs).
    if !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"LIBSHADOW_STAYS_OUT".as_ptr()) }.is_null() {
        STATE.store(DONE, Ordering::Release);
        return;
    }
    crate::mem::set_pid();
    crate::real::learn_file_size_limit();
    let path = std::path::PathBuf::from(path);
    let config = match config::load(&path) {
        Ok(c) => c,
        Err(e) => crate::report::fatal(&format!("{e}")),
    };
    use std::os::unix::ffi::OsStrExt;
    let shared = crate::members::open(&config).unwrap_or_else(|e| crate::report::fatal(&e));
    let set = ShadowSet {
        prefix: config.prefix.as_bytes().to_vec(),
        towards: shadow_core::vpath::names_towards(config.prefix.as_bytes()),
        shared,
        lib_path: own_library_path(),
        config_path: CString::new(path.as_os_str().as_bytes()).unwrap_or_default(),
        config,
    };
    let _ = SET.set(set);
    if let Err(e) = crate::members::init() {
        crate::report::fatal(&e);
    }
    crate::hooks::process::restore_library_path();
    crate::real::find_thread_flag();
    crate::boundary::install_fork_handlers();
    crate::hooks::process::end_at_quick_exit();
    crate::signals::take_over_installed();
    crate::sud::init();
    crate::behind::configure(get().config.write_behind);
    crate::resolve::init_cwd();
    crate::hooks::process::take_carried_handoffs();
    crate::adopt::adopt_inherited_fds(&crate::hooks::process::take_carried_followers());
    crate::members::end_carried_intents(&crate::hooks::process::take_carried_intents());
    ACTIVE.store(true, Ordering::Release);
    STATE.store(DONE, Ordering::Release);
    crate::hooks::stdio::adopt_std_streams();
}

/// Path of libshadow.so itself, for children whose environment lost LD_PRELOAD.
fn own_library_path() -> Option<CString> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let anchor = own_library_path as *const libc::c_void;
    if unsafe { libc::dladdr(anchor, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    Some(unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }.to_owned())
}
