//! What the kernel does with a `#!` script, as pure logic: the shim starts scripts under the
//! prefix itself (the kernel cannot see the prefix, neither for the script's path it hands
//! to the interpreter nor for an interpreter that lives there), and must do exactly what
//! Linux's binfmt_script does.

/// How many bytes of a file the kernel looks at for `#!` (BINPRM_BUF_SIZE).
pub const HEAD: usize = 256;

/// The interpreter and its optional single argument named by a `#!` line, or `None` when
/// the head is not a script the kernel would run (no `#!`, no interpreter, or an interpreter
/// name cut off by the end of the head).
pub fn shebang(head: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let rest = head.strip_prefix(b"#!")?;
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], true),
        None => (rest, head.len() < HEAD),
    };
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let start = line.iter().position(|b| !blank(b))?;
    let line = &line[start..];
    let end = line.iter().rposition(|b| !blank(b))? + 1;
    let line = &line[..end];
    let name_end = line.iter().position(blank).unwrap_or(line.len());
    if !complete && name_end == line.len() {
        // Linux refuses an interpreter name that may continue past what it read.
        return None;
    }
    let interp = &line[..name_end];
    let arg = &line[name_end..];
    let arg = &arg[arg.iter().position(|b| !blank(b)).unwrap_or(arg.len())..];
    Some((interp, (!arg.is_empty()).then_some(arg)))
}

/// The argument list the kernel gives the interpreter: the interpreter as named, its
/// argument, the script's path as the caller named it, then the caller's arguments after
/// the first.
pub fn interpreter_args(interp: &[u8], arg: Option<&[u8]>, script: &[u8], rest: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = vec![interp.to_vec()];
    out.extend(arg.map(<[u8]>::to_vec));
    out.push(script.to_vec());
    out.extend(rest.iter().cloned());
    out
}

/// The library search paths a dynamically linked program names for the loader: its
/// DT_RPATH (searched before LD_LIBRARY_PATH) and DT_RUNPATH (after it; a program that has
/// one has its DT_RPATH ignored), read through `read(offset, len)`. The loader cannot see
/// the prefix, so a program built under it (CMake gives every build-tree executable its
/// build directory as RUNPATH) could not find its libraries there: the shim adds these
/// paths, in the members, to LD_LIBRARY_PATH. 64-bit little-endian images only (others:
/// none).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SearchPaths {
    pub rpath: Option<Vec<u8>>,
    pub runpath: Option<Vec<u8>>,
}

pub fn search_paths(read: impl Fn(u64, usize) -> Option<Vec<u8>>) -> SearchPaths {
    search_paths_of(&read).unwrap_or_default()
}

/// A little-endian field of `len` bytes (2, 4 or 8) at `at` of an ELF structure.
pub fn le(b: &[u8], at: usize, len: usize) -> Option<u64> {
    Some(b.get(at..at + len)?.iter().rev().fold(0, |v, &x| v << 8 | x as u64))
}

/// The ELF header (64 bytes) of a 64-bit little-endian image read through `read`; None for
/// any other file.
pub fn elf64_header(read: &dyn Fn(u64, usize) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let head = read(0, 64)?;
    (head.get(..4)? == b"\x7fELF" && head[4] == 2 && head[5] == 1).then_some(head)
}

fn search_paths_of(read: &dyn Fn(u64, usize) -> Option<Vec<u8>>) -> Option<SearchPaths> {
    let u16_at = |b: &[u8], o: usize| le(b, o, 2);
    let u32_at = |b: &[u8], o: usize| le(b, o, 4).map(|v| v as u32);
    let u64_at = |b: &[u8], o: usize| le(b, o, 8);
    let head = elf64_header(read)?;
    let (phoff, phentsize, phnum) = (u64_at(&head, 0x20)?, u16_at(&head, 0x36)? as usize, u16_at(&head, 0x38)? as usize);
    if phentsize < 56 || phnum > 4096 {
        return None;
    }
    let phdrs = read(phoff, phentsize * phnum)?;
    let headers: Vec<&[u8]> = phdrs.chunks_exact(phentsize).collect();
    // (type, offset, vaddr, filesz)
    let field = |h: &[u8]| Some((u32_at(h, 0)?, u64_at(h, 8)?, u64_at(h, 16)?, u64_at(h, 32)?));
    let segments: Vec<(u32, u64, u64, u64)> = headers.iter().filter_map(|h| field(h)).collect();
    let &(_, dyn_off, _, dyn_size) = segments.iter().find(|s| s.0 == 2)?;
    let dynamic = read(dyn_off, dyn_size.min(1 << 20) as usize)?;
    let (mut strtab, mut rpath, mut runpath) = (None, None, None);
    for entry in dynamic.chunks_exact(16) {
        let (tag, val) = (u64_at(entry, 0)?, u64_at(entry, 8)?);
        match tag {
            0 => break,
            5 => strtab = Some(val),
            15 => rpath = Some(val),
            29 => runpath = Some(val),
            _ => {}
        }
    }
    // DT_STRTAB is an address: the file offset is that of the loaded segment holding it.
    let strtab = strtab?;
    let &(_, seg_off, seg_addr, _) = segments.iter().find(|s| s.0 == 1 && s.2 <= strtab && strtab < s.2 + s.3)?;
    let string = |at: u64| -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = strtab - seg_addr + seg_off + at;
        loop {
            let chunk = read(pos, 512)?;
            match chunk.iter().position(|&b| b == 0) {
                Some(end) => {
                    out.extend_from_slice(&chunk[..end]);
                    return Some(out);
                }
                None if chunk.is_empty() || out.len() > 1 << 16 => return None,
                None => {
                    out.extend_from_slice(&chunk);
                    pos += chunk.len() as u64;
                }
            }
        }
    };
    let runpath = runpath.and_then(string);
    Some(SearchPaths { rpath: if runpath.is_some() { None } else { rpath.and_then(string) }, runpath })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths_of(file: &std::path::Path) -> SearchPaths {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(file).unwrap();
        search_paths(|off, len| {
            let mut buf = vec![0; len];
            let n = f.read_at(&mut buf, off).ok()?;
            buf.truncate(n);
            Some(buf)
        })
    }

    #[test]
    fn the_loader_search_paths_of_a_program_are_read() {
        let dir = std::env::temp_dir().join(format!("shadow-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.c"), "int main(void){return 0;}").unwrap();
        let build = |name: &str, flags: &[&str]| {
            let out = std::process::Command::new("cc").arg("-o").arg(dir.join(name)).arg(dir.join("m.c")).args(flags).output();
            let out = out.unwrap_or_else(|e| panic!("*** this test builds programs with cc: {e} ***"));
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            paths_of(&dir.join(name))
        };
        let runpath = build("runpath", &["-Wl,-rpath,/shadow/lib:$ORIGIN/../lib", "-Wl,--enable-new-dtags"]);
        assert_eq!(runpath, SearchPaths { rpath: None, runpath: Some(b"/shadow/lib:$ORIGIN/../lib".to_vec()) });
        let rpath = build("rpath", &["-Wl,-rpath,/shadow/old", "-Wl,--disable-new-dtags"]);
        assert_eq!(rpath, SearchPaths { rpath: Some(b"/shadow/old".to_vec()), runpath: None });
        assert_eq!(build("plain", &[]), SearchPaths::default());
        assert_eq!(paths_of(&dir.join("m.c")), SearchPaths::default(), "not an ELF file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_line_as_linux_does() {
        assert_eq!(shebang(b"#!/bin/sh\necho"), Some((&b"/bin/sh"[..], None)));
        assert_eq!(shebang(b"#! /usr/bin/env  python3 -u \n"), Some((&b"/usr/bin/env"[..], Some(&b"python3 -u"[..]))));
        assert_eq!(shebang(b"#!/shadow/venv/bin/python3\t\n"), Some((&b"/shadow/venv/bin/python3"[..], None)));
        assert_eq!(shebang(b"#!/bin/sh"), Some((&b"/bin/sh"[..], None)));
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"#!   \n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
        assert_eq!(shebang(b"echo hi"), None);
    }

    #[test]
    fn a_name_cut_off_by_the_head_is_refused() {
        let mut long = b"#!/".to_vec();
        long.resize(HEAD, b'a');
        assert_eq!(shebang(&long), None);
        let mut with_arg = b"#!/bin/sh ".to_vec();
        with_arg.resize(HEAD, b'x');
        assert_eq!(shebang(&with_arg).map(|(i, _)| i), Some(&b"/bin/sh"[..]));
    }

    #[test]
    fn builds_the_interpreters_arguments() {
        let rest = vec![b"a".to_vec(), b"b".to_vec()];
        assert_eq!(interpreter_args(b"/bin/sh", Some(b"-e"), b"/shadow/s", &rest), vec![b"/bin/sh".to_vec(), b"-e".to_vec(), b"/shadow/s".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(interpreter_args(b"/bin/sh", None, b"s", &[]), vec![b"/bin/sh".to_vec(), b"s".to_vec()]);
    }
}
