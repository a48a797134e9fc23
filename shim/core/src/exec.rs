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

#[cfg(test)]
mod tests {
    use super::*;

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
