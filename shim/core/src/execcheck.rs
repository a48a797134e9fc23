//! Can this program run under the shim? The dynamic loader ignores LD_PRELOAD for static
//! binaries and in secure-execution mode (setuid/setgid to someone else, file
//! capabilities), and a Go program makes its own system calls; such a program would run
//! un-mirrored. `shadowctl check-exec` (so `shadow-run`) refuses it; the shim, when a
//! mirrored program execs one, reports the files it inherits open for writing (they are
//! written on the primary alone from then on).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
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
    elf_interp(image).map(|at| at.is_some())
}

/// Where in an ELF image the path of the program interpreter it asks for lies, if it asks.
fn elf_interp(image: &[u8]) -> Result<Option<std::ops::Range<usize>>, &'static str> {
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
        let ph = phoff + i * phentsize;
        let t = u32_at(ph).ok_or("truncated program headers")?;
        if t as u32 == PT_INTERP {
            let (offset, size) = if is64 { (u64_at(ph + 8), u64_at(ph + 32)) } else { (u32_at(ph + 4), u32_at(ph + 16)) };
            let (offset, size) = offset.zip(size).ok_or("truncated program headers")?;
            return Ok(Some(offset as usize..(offset + size) as usize));
        }
    }
    Ok(None)
}

/// Whether `meta` is the dynamic loader this process was loaded by (`ld.so PROGRAM`): it
/// asks for no interpreter, being one, and honours LD_PRELOAD for the program it runs.
fn is_own_loader(meta: &std::fs::Metadata) -> bool {
    let mut head = vec![0u8; 4096];
    let Ok(n) = File::open("/proc/self/exe").and_then(|mut f| f.read(&mut head)) else { return false };
    let Ok(Some(at)) = elf_interp(&head[..n]) else { return false };
    let Some(path) = head.get(at).map(|p| p.split(|&b| b == 0).next().unwrap_or(p)) else { return false };
    let path = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path);
    std::fs::metadata(path).is_ok_and(|l| (l.dev(), l.ino()) == (meta.dev(), meta.ino()))
}

/// The mark every Go program carries (the start of its `.go.buildinfo`, Go 1.13 on).
const GO_BUILDINFO: &[u8] = b"\xff Go buildinf:";

/// Whether a dynamically linked program makes its file system calls itself, with no libc
/// call a hook could see: a Go program does, cgo or not (only its DNS and user lookups go
/// through libc), so its changes would reach the primary alone by a relative path and fail
/// by a virtual one. Rust programs on rustix's raw backend do the same for a few calls and
/// leave no such mark (README, "Decisions and documented limits").
fn makes_its_own_syscalls(f: &File) -> bool {
    use std::os::unix::fs::FileExt;
    is_go(&|off, len| {
        let mut buf = vec![0; len];
        let n = f.read_at(&mut buf, off).ok()?;
        buf.truncate(n);
        Some(buf)
    })
}

/// Up to 1 MiB + the mark's length from `at` (chunks overlap by that much, so a mark across
/// two is seen); None at the end.
fn read_up_to(read: &dyn Fn(u64, usize) -> Option<Vec<u8>>, at: u64) -> Option<Vec<u8>> {
    read(at, (1 << 20) + GO_BUILDINFO.len()).filter(|c| !c.is_empty())
}

/// By its `.go.buildinfo` section, found through the section headers (a few reads, not the
/// whole image), whose first bytes are GO_BUILDINFO. 64-bit little-endian images only.
fn is_go(read: &dyn Fn(u64, usize) -> Option<Vec<u8>>) -> bool {
    let go = || -> Option<bool> {
        use crate::exec::le;
        let head = crate::exec::elf64_header(read)?;
        let u16_at = |b: &[u8], o: usize| le(b, o, 2).map(|v| v as usize);
        let u32_at = |b: &[u8], o: usize| le(b, o, 4).map(|v| v as usize);
        let u64_at = |b: &[u8], o: usize| le(b, o, 8);
        let (shoff, shentsize, shnum, shstrndx) = (u64_at(&head, 0x28)?, u16_at(&head, 0x3a)?, u16_at(&head, 0x3c)?, u16_at(&head, 0x3e)?);
        if shnum == 0 {
            // Section headers stripped (sstrip): the mark is looked for in the whole image.
            return Some(std::iter::successors(Some(0u64), |at| Some(at + (1 << 20))).map_while(|at| read_up_to(read, at)).any(|chunk| chunk.windows(GO_BUILDINFO.len()).any(|w| w == GO_BUILDINFO)));
        }
        if shentsize < 64 || shstrndx >= shnum {
            return Some(false);
        }
        let headers = read(shoff, shentsize * shnum)?;
        let section = |i: usize| headers.get(i * shentsize..(i + 1) * shentsize);
        let names = section(shstrndx)?;
        let names = read(u64_at(names, 24)?, u64_at(names, 32)?.min(1 << 20) as usize)?;
        let name_of = |h: &[u8]| -> Option<Vec<u8>> {
            let start = u32_at(h, 0)?;
            let rest = names.get(start..)?;
            Some(rest[..rest.iter().position(|&b| b == 0)?].to_vec())
        };
        let info = (0..shnum).filter_map(section).find(|h| name_of(h).as_deref() == Some(b".go.buildinfo"))?;
        Some(read(u64_at(info, 24)?, GO_BUILDINFO.len())? == GO_BUILDINFO)
    };
    go().unwrap_or(false)
}

/// Why a program cannot be run mirrored: `shown`, the file looked at (the program, or the
/// interpreter of a script), and the reason; `certain` when it is known to run without the
/// shim, not merely impossible to tell (unreadable, not found, not an ELF file).
#[derive(Debug)]
pub struct Unmirrored {
    pub shown: String,
    pub reason: String,
    pub certain: bool,
}

impl std::fmt::Display for Unmirrored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.shown, self.reason)
    }
}

/// For `shadowctl check-exec`: Ok when the program runs under the shim, else the one-line
/// refusal.
pub fn check(program: &str) -> Result<(), String> {
    check_depth(program, 0).map_err(|u| format!("{u} (refused)"))
}

/// For the shim's exec hook: Ok when the program certainly runs under the shim; else why it
/// would run without it (`certain`), or why that cannot be told (a file it cannot read is
/// left to the exec, which answers).
pub fn runs_with_shim(program: &str) -> Result<(), Unmirrored> {
    check_depth(program, 0)
}

fn check_depth(program: &str, depth: usize) -> Result<(), Unmirrored> {
    let unsure = |shown: &dyn std::fmt::Display, reason: String| Unmirrored { shown: shown.to_string(), reason, certain: false };
    if depth > 4 {
        return Err(unsure(&program, "too many levels of script interpreters".into()));
    }
    let path = find_in_path(program).map_err(|e| unsure(&program, e))?;
    let shown = path.display();
    let without = |reason: &str| Unmirrored { shown: shown.to_string(), reason: reason.into(), certain: true };
    let meta = std::fs::metadata(&path).map_err(|e| unsure(&shown, e.to_string()))?;
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if meta.mode() & 0o4000 != 0 && meta.uid() != euid {
        return Err(without("setuid program; the loader would ignore LD_PRELOAD and it would run un-mirrored"));
    }
    if meta.mode() & 0o2000 != 0 && meta.gid() != egid {
        return Err(without("setgid program; the loader would ignore LD_PRELOAD and it would run un-mirrored"));
    }
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| unsure(&shown, "bad path".into()))?;
    let caps = unsafe { libc::getxattr(cpath.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    if caps > 0 {
        return Err(without("has file capabilities; the loader would ignore LD_PRELOAD"));
    }
    if !meta.is_file() {
        // A FIFO, a device: the exec refuses it (EACCES), and opening it might wait for ever.
        return Err(unsure(&shown, "not a regular file".into()));
    }
    let mut file = File::options().read(true).custom_flags(libc::O_NONBLOCK).open(&path).map_err(|e| unsure(&shown, e.to_string()))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = file.read(&mut head).map_err(|e| unsure(&shown, e.to_string()))?;
    head.truncate(n);
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let interp = words.next().ok_or_else(|| unsure(&shown, "empty #! line".into()))?;
        let interp = if interp.ends_with("/env") { words.find(|w| !w.starts_with('-')).unwrap_or(interp) } else { interp };
        return check_depth(interp, depth + 1);
    }
    match elf_has_interp(&head) {
        Ok(true) if makes_its_own_syscalls(&file) => Err(without("a Go program; it makes its system calls without the C library, where LD_PRELOAD cannot see them, and would run un-mirrored")),
        Ok(true) => Ok(()),
        Ok(false) if is_own_loader(&meta) => Ok(()),
        Ok(false) => Err(without("statically linked; LD_PRELOAD cannot reach it and it would run un-mirrored")),
        Err(e) => Err(unsure(&shown, format!("{e}; cannot tell whether it would be mirrored"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dynamic_loader_run_as_a_program_passes() {
        // `ld.so PROGRAM` honours LD_PRELOAD: the loader, which asks for no interpreter
        // itself, is not taken for a static program (it was, and reported 00130).
        let mut head = vec![0u8; 4096];
        let n = File::open("/proc/self/exe").unwrap().read(&mut head).unwrap();
        let at = elf_interp(&head[..n]).unwrap().expect("this test binary is dynamically linked");
        let loader = String::from_utf8(head[at].split(|&b| b == 0).next().unwrap().to_vec()).unwrap();
        assert_eq!(elf_has_interp(&std::fs::read(&loader).unwrap()), Ok(false));
        assert!(check(&loader).is_ok(), "{:?}", check(&loader));
    }

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

    /// A Go program is told by its `.go.buildinfo` section: one is made by giving a C
    /// program's a section of that name holding Go's mark (objcopy), as Go's linker does.
    #[test]
    fn go_programs_are_refused() {
        let dir = std::env::temp_dir().join(format!("shadow-execcheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.c"), "int main(void){return 0;}").unwrap();
        std::fs::write(dir.join("mark"), b"\xff Go buildinf:\x08\x02").unwrap();
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().unwrap_or_else(|e| panic!("*** this test builds a program with cc and objcopy: {e} ***"));
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        run(std::process::Command::new("cc").arg("-o").arg(dir.join("c")).arg(dir.join("m.c")));
        run(std::process::Command::new("objcopy").arg("--add-section").arg(format!(".go.buildinfo={}", dir.join("mark").display())).arg(dir.join("c")).arg(dir.join("go")));
        assert!(check(dir.join("c").to_str().unwrap()).is_ok());
        let e = check(dir.join("go").to_str().unwrap()).unwrap_err();
        assert!(e.contains("a Go program") && e.contains("(refused)"), "{e}");
        // Its section headers gone, as sstrip leaves a program: the mark is still found.
        let mut image = std::fs::read(dir.join("go")).unwrap();
        image[0x28..0x30].fill(0);
        image[0x3c..0x40].fill(0);
        std::fs::write(dir.join("sstripped"), &image).unwrap();
        std::fs::set_permissions(dir.join("sstripped"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let e = check(dir.join("sstripped").to_str().unwrap()).unwrap_err();
        assert!(e.contains("a Go program"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
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
