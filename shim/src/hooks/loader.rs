//! The dynamic loader opens libraries with its own system calls, out of the hooks' sight:
//! `dlopen` of a path under the prefix (a Python extension in a venv there, a plugin just
//! built there) is handed the lead member's file instead. glibc's dlopen finds the caller's
//! RUNPATH and namespace from its return address, so the hooks are naked: they translate the
//! path and jump to glibc's function, which sees the program's call as it was.

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
extern "C" fn loader_path(path: *const c_char) -> *const c_char {
    // Each checked on its own: another thread may be between the two stores.
    for (real, name) in [(&REAL_DLOPEN, b"dlopen\0".as_slice()), (&REAL_DLMOPEN, b"dlmopen\0")] {
        if real.load(Ordering::Acquire) == 0 {
            real.store(crate::real::next_address(name), Ordering::Release);
        }
    }
    let translated = crate::boundary::prepare(|| {
        let p = crate::mem::path(path)?;
        if !p.to_bytes().contains(&b'/') {
            return None;
        }
        let Target::Shadowed(sp) = crate::resolve::resolve(libc::AT_FDCWD, p) else { return None };
        let file = super::lead_file(sp.rel());
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
pub unsafe extern "C" fn dlopen() {
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
pub unsafe extern "C" fn dlmopen() {
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
