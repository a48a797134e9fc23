//! Which paths are ours. A path is shadowed when, made absolute against the cwd or the
//! dirfd of an `*at` call and folded lexically, it lies under the prefix. The answer for a
//! plain absolute path elsewhere costs a byte comparison and no allocation.

use crate::fdtable;
use crate::real;
use crate::set;
use libc::c_int;
use shadow_core::vpath;
use std::ffi::{CStr, CString};
use std::sync::RwLock;

/// A path below the prefix, relative to it ("" is the prefix itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rel(pub Vec<u8>);

pub enum Target {
    /// Not ours: call libc with the caller's path.
    Outside,
    /// Not ours, but the caller's relative path would be resolved by the kernel against a
    /// member directory (cwd inside the prefix): use this absolute path instead.
    Rewritten(CString),
    Shadowed(Rel),
}

/// The process's cwd as the program believes it to be.
enum Cwd {
    /// Inside the prefix (the kernel's cwd is the same directory in the primary).
    Virtual(Vec<u8>),
    /// A real directory (absolute, folded).
    Real(Vec<u8>),
}

static CWD: RwLock<Option<Cwd>> = RwLock::new(None);

/// Learns the inherited cwd; an exec'd child of a program that had chdir'ed into the
/// prefix starts in a primary directory and must go on seeing the virtual path.
pub fn init_cwd() {
    let cwd = match real::getcwd() {
        Ok(real_cwd) => from_real_dir(&real_cwd),
        Err(_) => Cwd::Real(b"/".to_vec()),
    };
    *CWD.write().unwrap_or_else(|e| e.into_inner()) = Some(cwd);
}

fn from_real_dir(dir: &[u8]) -> Cwd {
    match crate::members::view().rel_in_lead(dir) {
        Some(rel) => Cwd::Virtual(rel),
        None => Cwd::Real(dir.to_vec()),
    }
}

/// Records a successful chdir/fchdir.
pub fn set_cwd_virtual(rel: &Rel) {
    *CWD.write().unwrap_or_else(|e| e.into_inner()) = Some(Cwd::Virtual(rel.0.clone()));
}

pub fn set_cwd_real() {
    let cwd = real::getcwd().unwrap_or_else(|_| b"/".to_vec());
    *CWD.write().unwrap_or_else(|e| e.into_inner()) = Some(from_real_dir(&cwd));
}

/// The virtual cwd (under the prefix), if the cwd is inside it.
pub fn virtual_cwd() -> Option<Rel> {
    match CWD.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(Cwd::Virtual(rel)) => Some(Rel(rel.clone())),
        _ => None,
    }
}

/// The absolute virtual path of a `Rel`.
pub fn virtual_path(rel: &Rel) -> Vec<u8> {
    vpath::join(&set::get().prefix, &rel.0)
}

fn classify(abs: Vec<u8>, kernel_would_misresolve: bool) -> Target {
    let prefix = &set::get().prefix;
    match vpath::under_prefix(&abs, prefix) {
        Some(rel) => Target::Shadowed(Rel(rel.to_vec())),
        None if kernel_would_misresolve => match CString::new(abs) {
            Ok(c) => Target::Rewritten(c),
            Err(_) => Target::Outside,
        },
        None => Target::Outside,
    }
}

/// Resolves `path` as an `*at` call with `dirfd` would (AT_FDCWD for plain calls).
pub fn resolve(dirfd: c_int, path: &CStr) -> Target {
    let p = path.to_bytes();
    let prefix = &set::get().prefix;
    if p.is_empty() {
        // AT_EMPTY_PATH or an error either way: the call acts on dirfd itself.
        return Target::Outside;
    }
    if p.first() == Some(&b'/') {
        if !p.starts_with(prefix) && !vpath::has_dot_components(p) {
            return Target::Outside;
        }
        // A path that passes through the virtual prefix and folds out of it (`/shadow/..`)
        // would not resolve in the kernel, which has no `/shadow`: hand it the folded path.
        return classify(vpath::absolute(b"/", p), p.starts_with(prefix));
    }
    if dirfd != libc::AT_FDCWD {
        if let Some(rel) = fdtable::dir_rel(dirfd) {
            return classify(vpath::absolute(&vpath::join(prefix, &rel.0), p), true);
        }
        if !vpath::climbs(p) {
            return Target::Outside;
        }
        let link = CString::new(format!("/proc/self/fd/{dirfd}")).unwrap_or_default();
        return match real::readlink(&link) {
            Ok(dir) => classify(vpath::absolute(&dir, p), false),
            Err(_) => Target::Outside,
        };
    }
    let guard = CWD.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(Cwd::Virtual(rel)) => classify(vpath::absolute(&vpath::join(prefix, rel), p), true),
        Some(Cwd::Real(dir)) => {
            // Only a cwd that is an ancestor of the prefix, or a path that climbs, can reach it.
            let ancestor = vpath::under_prefix(prefix, dir).is_some() || dir.as_slice() == b"/";
            if ancestor || vpath::climbs(p) {
                classify(vpath::absolute(dir, p), false)
            } else {
                Target::Outside
            }
        }
        None => Target::Outside,
    }
}
