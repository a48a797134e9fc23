//! Wide-character stdio on the shim's own streams. A `fopencookie` stream is byte-oriented
//! for good in glibc, without the wide buffers a wide call uses: `putwc`, `putwchar`,
//! `fgetwc` on one dereferenced the missing structure and crashed the program (`std::wcout`
//! with stdout redirected under the prefix), `fputws` and `fwprintf` failed and wrote
//! nothing, `fwide` said -1. On the shim's streams the wide calls convert each character to
//! the stream's multibyte form — the locale's, as glibc's conversion at the stream's first
//! wide call; UTF-8 for a `ccs=UTF-8` mode — and go through the byte calls, whose writes are
//! mirrored. Every other stream is glibc's. The wide scanf family is not converted (glibc
//! answers EOF on such a stream, as on any byte-oriented one).

use crate::real::{raw, FileP, WintT as wint_t};
use libc::{c_char, c_int, size_t, wchar_t};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const WEOF: wint_t = 0xffff_ffff;

/// A stream's wide side: its orientation (glibc's `fwide` values), its encoding, the
/// conversion states, and characters pushed back by `ungetwc`.
pub struct Wide {
    /// The stream's fd: a seek through it drops what `ungetwc` pushed back.
    fd: c_int,
    orientation: c_int,
    utf8: bool,
    out: libc::mbstate_t,
    input: libc::mbstate_t,
    pushed: Vec<wchar_t>,
}

fn initial_state() -> libc::mbstate_t {
    // SAFETY: the all-zero mbstate_t is the initial conversion state.
    unsafe { std::mem::zeroed() }
}

/// The shim's streams (by address): `stdio::mirrored_stream` registers each.
static STREAMS: Lazy<Mutex<HashMap<usize, Wide>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// How many streams are registered: none (most programs), and no wide call looks further.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// `f` on the streams' table, under the fork lock as a hook's tables are (the wide calls
/// are made outside any hook: a fork must not copy the table's mutex held).
fn with_streams<T>(f: impl FnOnce(&mut HashMap<usize, Wide>) -> T) -> T {
    crate::boundary::under_fork_lock(|| {
        let mut table = STREAMS.lock().unwrap_or_else(|e| e.into_inner());
        let r = f(&mut table);
        REGISTERED.store(table.len(), Ordering::Relaxed);
        r
    })
}

/// The wide side of a new stream of the shim's on `fd`, opened with `mode`: ",ccs=" makes
/// it wide at once, as glibc's fopen does. Only UTF-8 is converted here: another charset
/// is refused (EINVAL, as glibc refuses one it does not know) rather than written in the
/// wrong encoding.
pub fn of_mode(fd: c_int, mode: &[u8]) -> crate::real::Res<Wide> {
    let ccs = mode.windows(5).position(|w| w == b",ccs=").map(|i| mode[i + 5..].split(|&c| c == b',').next().unwrap_or_default());
    let utf8 = ccs.is_some_and(|c| c.eq_ignore_ascii_case(b"UTF-8") || c.eq_ignore_ascii_case(b"UTF8"));
    if ccs.is_some() && !utf8 {
        return Err(crate::real::Errno(libc::EINVAL));
    }
    Ok(Wide { fd, orientation: c_int::from(utf8), utf8, out: initial_state(), input: initial_state(), pushed: Vec::new() })
}

/// A new stream of the shim's, with its wide side.
pub fn register(f: FileP, wide: Wide) {
    with_streams(|t| t.insert(f as usize, wide));
}

/// The file position of `fd` moved (fseek, rewind, fsetpos reach the stream's seek): what
/// `ungetwc` pushed back and a partly read character are gone, as natively.
pub fn seeked(fd: c_int) {
    if REGISTERED.load(Ordering::Relaxed) == 0 {
        return;
    }
    with_streams(|t| {
        for w in t.values_mut().filter(|w| w.fd == fd) {
            w.pushed.clear();
            w.input = initial_state();
        }
    })
}

pub fn is_own(f: FileP) -> bool {
    !f.is_null() && REGISTERED.load(Ordering::Relaxed) != 0 && with_streams(|t| t.contains_key(&(f as usize)))
}

/// The stream is closed (or no longer the shim's): whether it was.
pub fn forget(f: FileP) -> bool {
    REGISTERED.load(Ordering::Relaxed) != 0 && with_streams(|t| t.remove(&(f as usize)).is_some())
}

/// Runs `body` on the wide side of `f` when it is one of the shim's streams (None when it
/// is not); a panic stays inside and gives `failed`.
fn on_own<T>(f: FileP, failed: T, body: impl FnOnce(&mut Wide) -> T) -> Option<T> {
    if f.is_null() || REGISTERED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| with_streams(|t| t.get_mut(&(f as usize)).map(body)))).unwrap_or(Some(failed))
}

fn eilseq<T>() -> Option<T> {
    crate::real::Errno(libc::EILSEQ).set();
    None
}

/// `wcs` in the stream's multibyte form, the stream made wide; None where it cannot be:
/// byte-oriented, or a character the encoding lacks (EILSEQ).
fn encode(w: &mut Wide, wcs: &[wchar_t]) -> Option<Vec<u8>> {
    if w.orientation < 0 {
        return None;
    }
    w.orientation = 1;
    let mut out = Vec::with_capacity(wcs.len());
    for &wc in wcs {
        if w.utf8 {
            let c = char::from_u32(wc as u32).or_else(eilseq)?;
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let mut buf = [0 as c_char; 16];
        // SAFETY: buf holds MB_LEN_MAX (16) bytes; wcrtomb sets EILSEQ itself.
        let n = unsafe { crate::real::wcrtomb(buf.as_mut_ptr(), wc, &mut w.out) };
        if n == usize::MAX {
            return None;
        }
        out.extend(buf[..n].iter().map(|&b| b as u8));
    }
    Some(out)
}

/// Writes `wcs` to `f` through the byte calls when it is one of the shim's streams:
/// whether all of it went.
fn put(f: FileP, wcs: &[wchar_t]) -> Option<bool> {
    let bytes = on_own(f, None, |w| encode(w, wcs))?;
    // SAFETY: f is a live stream of the shim's; bytes is a buffer of that length.
    Some(bytes.is_some_and(|b| b.is_empty() || unsafe { raw::fwrite(b.as_ptr().cast(), 1, b.len(), f) } == b.len()))
}

/// Where a wide read of the shim's stream starts.
enum Start {
    Pushed(wint_t),
    Refused,
    Read { utf8: bool, state: libc::mbstate_t },
}

/// The next character of `f` when it is one of the shim's streams, read a byte at a time
/// through the byte calls (WEOF at the end or on an error, errno as glibc sets it).
fn get(f: FileP) -> Option<wint_t> {
    let start = on_own(f, Start::Refused, |w| {
        if w.orientation < 0 {
            return Start::Refused;
        }
        w.orientation = 1;
        match w.pushed.pop() {
            Some(c) => Start::Pushed(c as wint_t),
            None => Start::Read { utf8: w.utf8, state: w.input },
        }
    })?;
    let (utf8, mut state) = match start {
        Start::Pushed(c) => return Some(c),
        Start::Refused => return Some(WEOF),
        Start::Read { utf8, state } => (utf8, state),
    };
    let mut bytes = Vec::with_capacity(4);
    let got = loop {
        // SAFETY: f is a live stream of the shim's.
        let b = unsafe { raw::fgetc(f) };
        if b == libc::EOF {
            break None;
        }
        bytes.push(b as u8);
        if utf8 {
            let want = match bytes[0] {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => break eilseq(),
            };
            if bytes.len() < want {
                continue;
            }
            break std::str::from_utf8(&bytes).ok().and_then(|s| s.chars().next()).map(|c| c as wint_t).or_else(eilseq);
        }
        let mut wc: wchar_t = 0;
        let byte = b as u8 as c_char;
        // SAFETY: one byte at a time, with the stream's own state.
        match unsafe { crate::real::mbrtowc(&mut wc, &byte, 1, &mut state) } {
            n if n == usize::MAX - 1 => continue,
            n if n == usize::MAX => break None,
            _ => break Some(wc as wint_t),
        }
    };
    on_own(f, (), |w| w.input = state);
    Some(got.unwrap_or(WEOF))
}

/// Pushes `wc` back onto the shim's stream `f`.
fn unget(f: FileP, wc: wint_t) -> Option<wint_t> {
    on_own(f, WEOF, |w| {
        if wc == WEOF || w.orientation < 0 {
            return WEOF;
        }
        w.orientation = 1;
        w.pushed.push(wc as wchar_t);
        wc
    })
}

/// The length of the NUL-terminated wide string at `s`.
unsafe fn wide_str<'a>(s: *const wchar_t) -> &'a [wchar_t] {
    std::slice::from_raw_parts(s, libc::wcslen(s))
}

macro_rules! putwc_hooks {
    ($($name:ident),*) => {$(
        /// Wide output of one character: see the module.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(wc: wchar_t, f: FileP) -> wint_t {
            match put(f, &[wc]) {
                Some(true) => wc as wint_t,
                Some(false) => WEOF,
                None => raw::$name(wc, f),
            }
        }
    )*};
}
putwc_hooks!(fputwc, putwc, fputwc_unlocked, putwc_unlocked);

macro_rules! putwchar_hooks {
    ($($name:ident => $on:ident),*) => {$(
        /// Wide output to stdout: see the module.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(wc: wchar_t) -> wint_t {
            $on(wc, super::stdio::stdout_stream())
        }
    )*};
}
putwchar_hooks!(putwchar => putwc, putwchar_unlocked => putwc_unlocked);

macro_rules! fputws_hooks {
    ($($name:ident),*) => {$(
        /// Wide string output: see the module (glibc answers 1 on success).
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(ws: *const wchar_t, f: FileP) -> c_int {
            if !is_own(f) {
                return raw::$name(ws, f);
            }
            match put(f, wide_str(ws)) {
                Some(true) => 1,
                _ => -1,
            }
        }
    )*};
}
fputws_hooks!(fputws, fputws_unlocked);

macro_rules! getwc_hooks {
    ($($name:ident),*) => {$(
        /// Wide input of one character: see the module.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(f: FileP) -> wint_t {
            get(f).unwrap_or_else(|| raw::$name(f))
        }
    )*};
}
getwc_hooks!(fgetwc, getwc, fgetwc_unlocked, getwc_unlocked);

macro_rules! getwchar_hooks {
    ($($name:ident => $on:ident),*) => {$(
        /// Wide input from stdin: see the module.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name() -> wint_t {
            $on(super::stdio::stdin_stream())
        }
    )*};
}
getwchar_hooks!(getwchar => getwc, getwchar_unlocked => getwc_unlocked);

/// fgetws on the shim's stream: characters up to a newline, at most `n - 1`.
unsafe fn get_line(ws: *mut wchar_t, n: c_int, f: FileP) -> *mut wchar_t {
    if n <= 0 {
        crate::real::Errno(libc::EINVAL).set();
        return std::ptr::null_mut();
    }
    if n == 1 {
        // Room for the terminator alone: an empty string, as glibc answers.
        *ws = 0;
        return ws;
    }
    let mut i = 0;
    while i + 1 < n.max(0) as usize {
        let c = get(f).unwrap_or(WEOF);
        if c == WEOF {
            break;
        }
        *ws.add(i) = c as wchar_t;
        i += 1;
        if c == '\n' as wint_t {
            break;
        }
    }
    if i == 0 {
        return std::ptr::null_mut();
    }
    *ws.add(i) = 0;
    ws
}

macro_rules! fgetws_hooks {
    ($($name:ident),*) => {$(
        /// Wide line input: see the module.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(ws: *mut wchar_t, n: c_int, f: FileP) -> *mut wchar_t {
            if !is_own(f) {
                return raw::$name(ws, n, f);
            }
            get_line(ws, n, f)
        }
    )*};
}
fgetws_hooks!(fgetws, fgetws_unlocked);

macro_rules! fgetws_chk_hooks {
    ($($name:ident),*) => {$(
        /// The fortified fgetws: `size` is the buffer's length in characters.
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(ws: *mut wchar_t, size: size_t, n: c_int, f: FileP) -> *mut wchar_t {
            if !is_own(f) || n.max(0) as size_t > size {
                return raw::$name(ws, size, n, f);
            }
            get_line(ws, n, f)
        }
    )*};
}
fgetws_chk_hooks!(__fgetws_chk, __fgetws_unlocked_chk);

/// ungetwc(3)
#[no_mangle]
pub unsafe extern "C-unwind" fn ungetwc(wc: wint_t, f: FileP) -> wint_t {
    unget(f, wc).unwrap_or_else(|| raw::ungetwc(wc, f))
}

/// fwide(3): the shim's streams keep their orientation here.
#[no_mangle]
pub unsafe extern "C-unwind" fn fwide(f: FileP, mode: c_int) -> c_int {
    on_own(f, -1, |w| {
        if w.orientation == 0 && mode != 0 {
            w.orientation = mode.signum();
        }
        w.orientation
    })
    .unwrap_or_else(|| raw::fwide(f, mode))
}

/// From variadic.c (the wide printf family, formatted there): `n` characters at `ws` onto
/// `f`. 1: written; 0: failed (errno set); -1: not one of the shim's streams.
#[no_mangle]
pub unsafe extern "C-unwind" fn shadow_wide_put(f: FileP, ws: *const wchar_t, n: size_t) -> c_int {
    match put(f, std::slice::from_raw_parts(ws, n)) {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    }
}

/// From variadic.c: whether `f` is one of the shim's streams.
#[no_mangle]
pub extern "C-unwind" fn shadow_is_own_stream(f: FileP) -> c_int {
    c_int::from(is_own(f))
}
