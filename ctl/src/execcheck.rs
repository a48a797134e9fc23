//! Can this program run under the shim? The dynamic loader ignores LD_PRELOAD for static
//! binaries and in secure-execution mode (setuid/setgid to someone else, file
//! capabilities); such a program would run un-mirrored, so it is refused.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const PT_INTERP: u32 = 3;

fn find_in_path(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    path.split(':')
        .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{program}: not found in PATH"))
}

/// Whether an ELF image asks for a program interpreter (is dynamically linked).
pub fn elf_has_interp(image: &[u8]) -> Result<bool, &'static str> {
    if image.len() < 64 || &image[..4] != b"\x7fELF" {
        return Err("not an ELF file");
    }
    let is64 = image[4] == 2;
    let le = image[5] == 1;
    let u16_at = |o: usize| -> Option<u64> {
        let b = image.get(o..o + 2)?;
        Some(if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) } as u64)
    };
    let u32_at = |o: usize| -> Option<u64> {
        let b: [u8; 4] = image.get(o..o + 4)?.try_into().ok()?;
        Some(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) } as u64)
    };
    let u64_at = |o: usize| -> Option<u64> {
        let b: [u8; 8] = image.get(o..o + 8)?.try_into().ok()?;
        Some(if le { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) })
    };
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(32), u16_at(54), u16_at(56))
    } else {
        (u32_at(28), u16_at(42), u16_at(44))
    };
    let (phoff, phentsize, phnum) = match (phoff, phentsize, phnum) {
        (Some(a), Some(b), Some(c)) => (a as usize, b as usize, c as usize),
        _ => return Err("truncated ELF header"),
    };
    for i in 0..phnum {
        let t = u32_at(phoff + i * phentsize).ok_or("truncated program headers")?;
        if t as u32 == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn check(program: &str) -> Result<(), String> {
    check_depth(program, 0)
}

fn check_depth(program: &str, depth: usize) -> Result<(), String> {
    if depth > 4 {
        return Err(format!("{program}: too many levels of script interpreters"));
    }
    let path = find_in_path(program)?;
    let shown = path.display();
    let meta = std::fs::metadata(&path).map_err(|e| format!("{shown}: {e}"))?;
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if meta.mode() & 0o4000 != 0 && meta.uid() != euid {
        return Err(format!("{shown}: setuid program; the loader would ignore LD_PRELOAD and it would run un-mirrored (refused)"));
    }
    if meta.mode() & 0o2000 != 0 && meta.gid() != egid {
        return Err(format!("{shown}: setgid program; the loader would ignore LD_PRELOAD and it would run un-mirrored (refused)"));
    }
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| format!("{shown}: bad path"))?;
    let caps = unsafe { libc::getxattr(cpath.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    if caps > 0 {
        return Err(format!("{shown}: has file capabilities; the loader would ignore LD_PRELOAD (refused)"));
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = File::open(&path).and_then(|mut f| f.read(&mut head)).map_err(|e| format!("{shown}: {e}"))?;
    head.truncate(n);
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let interp = words.next().ok_or_else(|| format!("{shown}: empty #! line"))?;
        let interp = if interp.ends_with("/env") { words.find(|w| !w.starts_with('-')).unwrap_or(interp) } else { interp };
        return check_depth(interp, depth + 1);
    }
    match elf_has_interp(&head) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{shown}: statically linked; LD_PRELOAD cannot reach it and it would run un-mirrored (refused)")),
        Err(e) => Err(format!("{shown}: {e}; cannot tell whether it would be mirrored (refused)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binaries_pass_and_garbage_fails() {
        let sh = std::fs::read("/bin/sh").unwrap();
        assert_eq!(elf_has_interp(&sh), Ok(true));
        assert!(elf_has_interp(b"#!/bin/sh\n").is_err());
        assert!(elf_has_interp(&sh[..40]).is_err());
        assert!(check("sh").is_ok());
        let e = check("definitely-not-a-program-xyz").unwrap_err();
        assert!(e.contains("not found in PATH"), "{e}");
    }

    #[test]
    fn static_elf_is_refused() {
        // A minimal 64-bit little-endian ELF header with one PT_LOAD program header.
        let mut img = vec![0u8; 64 + 56];
        img[..4].copy_from_slice(b"\x7fELF");
        img[4] = 2;
        img[5] = 1;
        img[32..40].copy_from_slice(&64u64.to_le_bytes());
        img[54..56].copy_from_slice(&56u16.to_le_bytes());
        img[56..58].copy_from_slice(&1u16.to_le_bytes());
        img[64..68].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(elf_has_interp(&img), Ok(false));
        img[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert_eq!(elf_has_interp(&img), Ok(true));
    }
}
