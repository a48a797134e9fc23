//! The dynamic loader opens libraries with its own system calls, out of the hooks' sight:
//! `dlopen` of a path under the prefix (a Python extension in a venv there, a plugin just
//! built there) is handed the lead member's file instead. glibc's dlopen finds the caller's
//! RUNPATH and namespace from its return address, so the hooks are naked: they translate the
//! path and jump to glibc's function, which sees the program's call as it was. gettext's
//! and catgets' catalogs are read so too, and are handed the lead's directory or file.

use crate::resolve::Target;
use libc::c_char;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

static REAL_DLOPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_DLMOPEN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised, no destructor: the translated path lives here until the loader
    // has opened it (the next dlopen on this thread).
    static PATH: UnsafeCell<[u8; libc::PATH_MAX as usize]> = const { UnsafeCell::new([0; libc::PATH_MAX as usize]) };
}

/// The path to hand the loader: the lead member's file for a path under the prefix (with a
/// slash: a bare name is searched for by the loader, never under the prefix), else `path`.
extern "C-unwind" fn loader_path(path: *const c_char) -> *const c_char {
    // Each checked on its own: another thread may be between the two stores.
    for (real, name) in [(&REAL_DLOPEN, b"dlopen\0".as_slice()), (&REAL_DLMOPEN, b"dlmopen\0")] {
        if real.load(Ordering::Acquire) == 0 {
            real.store(crate::real::next_address(name), Ordering::Release);
        }
    }
    let file = if unsafe { super::cstr(path) }.contains(&b'/') { lead_path(path) } else { None };
    let translated = file.and_then(|file| {
        let bytes = file.as_bytes_with_nul();
        PATH.with(|buf| {
            let buf = unsafe { &mut *buf.get() };
            (bytes.len() <= buf.len()).then(|| {
                buf[..bytes.len()].copy_from_slice(bytes);
                buf.as_ptr() as *const c_char
            })
        })
    });
    translated.unwrap_or(path)
}

/// dlopen(3)
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C-unwind" fn dlopen() {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "push rsi",
        "push rdi",
        "sub rsp, 8",
        "call {translate}",
        "add rsp, 8",
        "pop rdi",
        "pop rsi",
        "mov rdi, rax",
        "jmp qword ptr [rip + {real}]",
        translate = sym loader_path,
        real = sym REAL_DLOPEN,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "stp x29, x30, [sp, #-32]!",
        "str x1, [sp, #16]",
        "bl {translate}",
        "ldr x1, [sp, #16]",
        "ldp x29, x30, [sp], #32",
        "adrp x16, {real}",
        "ldr x16, [x16, :lo12:{real}]",
        "br x16",
        translate = sym loader_path,
        real = sym REAL_DLOPEN,
    );
}

/// dlmopen(3)
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C-unwind" fn dlmopen() {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "push rdi",
        "push rdx",
        "sub rsp, 8",
        "mov rdi, rsi",
        "call {translate}",
        "add rsp, 8",
        "pop rdx",
        "pop rdi",
        "mov rsi, rax",
        "jmp qword ptr [rip + {real}]",
        translate = sym loader_path,
        real = sym REAL_DLMOPEN,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "stp x29, x30, [sp, #-32]!",
        "stp x0, x2, [sp, #16]",
        "mov x0, x1",
        "bl {translate}",
        "mov x1, x0",
        "ldp x0, x2, [sp, #16]",
        "ldp x29, x30, [sp], #32",
        "adrp x16, {real}",
        "ldr x16, [x16, :lo12:{real}]",
        "br x16",
        translate = sym loader_path,
        real = sym REAL_DLMOPEN,
    );
}

/// The lead member's path for `path` when it names something under the prefix.
fn lead_path(path: *const c_char) -> Option<std::ffi::CString> {
    crate::boundary::prepare(|| {
        let Target::Shadowed(sp) = crate::resolve::resolve(libc::AT_FDCWD, crate::mem::path(path)?) else { return None };
        Some(super::lead_file(&sp))
    })
}

/// bindtextdomain(3): gettext reads its catalogs with glibc's own calls, which cannot see
/// the prefix: a directory under it is bound as the lead member's (catalogs are only read:
/// nothing to mirror; after a failover the binding names the old lead's). Before, a program
/// installed under the prefix (its catalogs in /shadow/usr/share/locale, or bash's
/// TEXTDOMAINDIR there) printed its messages untranslated.
#[no_mangle]
pub unsafe extern "C-unwind" fn bindtextdomain(domain: *const c_char, dir: *const c_char) -> *mut c_char {
    let lead = if dir.is_null() { None } else { lead_path(dir) };
    crate::real::raw::bindtextdomain(domain, lead.as_ref().map_or(dir, |p| p.as_ptr()))
}

/// catopen(3) of a catalog named by a path (one without a slash is looked for in NLSPATH,
/// by glibc).
#[no_mangle]
pub unsafe extern "C-unwind" fn catopen(name: *const c_char, flag: libc::c_int) -> *mut libc::c_void {
    let lead = if super::cstr(name).contains(&b'/') { lead_path(name) } else { None };
    crate::real::raw::catopen(lead.as_ref().map_or(name, |p| p.as_ptr()), flag)
}
