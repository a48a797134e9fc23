//! Whether the executable's own code holds a `syscall` instruction, so that sud.rs sets the
//! syscall user dispatch only where it can catch something. A thread under the dispatch
//! pays for it at every system call, wherever made (the kernel takes its slow path to read
//! the selector: 40-50 ns here, a fifth of a bare call; the untouched-fd rows of `make
//! bench` went from 1.00 to 1.2 x native with it), and most executables have no such
//! instruction: C and C++ programs call the C library, Rust programs on rustix's linux_raw
//! backend are the ones that do.
//!
//! The bytes 0F 05 are looked for in the code; none (most small C programs): no instruction.
//! Each one found is decoded from the start of the function that holds it, as the unwind
//! tables (`.eh_frame_hdr`, kept by stripped executables) give it, so that 0F 05 inside
//! another instruction (a displacement, an immediate: postgres has 20 such, python 8, git
//! 9, none a `syscall`) is told from a `syscall`. A hit in no function the tables know, or
//! past bytes the decoder cannot read, counts as one.

use gimli::{BaseAddresses, EhFrame, EhFrameHdr, NativeEndian, Pointer, UnwindSection};
use iced_x86::{Code, Decoder, DecoderOptions};
use std::ops::Range;

/// Whether `code` (mapped at `base`) holds a `syscall` instruction; `function_of(address)`:
/// the function holding an address, if known.
pub fn holds_syscall(code: &[u8], base: u64, function_of: impl Fn(u64) -> Option<Range<u64>>) -> bool {
    let end = base + code.len() as u64;
    memchr::memmem::find_iter(code, b"\x0f\x05").any(|at| {
        let address = base + at as u64;
        match function_of(address) {
            Some(f) if f.start >= base && f.end <= end && f.contains(&address) => starts_instruction(&code[(f.start - base) as usize..(f.end - base) as usize], f.start, address),
            _ => true,
        }
    })
}

/// Whether decoding `code` (a function, at `ip`) from its start reaches `address` at an
/// instruction's start; an undecodable instruction on the way counts as reaching it.
fn starts_instruction(code: &[u8], ip: u64, address: u64) -> bool {
    let mut decoder = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
    while decoder.can_decode() && decoder.ip() < address {
        if decoder.decode().code() == Code::INVALID {
            return true;
        }
    }
    decoder.ip() == address
}

/// The loaded executable, as `dl_iterate_phdr` shows it: its code, its unwind table's
/// header, and every loaded segment (the unwind table itself lies in one of them).
pub struct Image {
    pub code: Range<u64>,
    /// The code is mapped readable (execute-only code cannot be looked at: taken to hold one).
    pub code_readable: bool,
    pub eh_frame_hdr: Option<Range<u64>>,
    pub loads: Vec<Range<u64>>,
}

/// `holds_syscall` over the executable as loaded in this process.
pub fn image_holds_syscall(image: &Image) -> bool {
    // SAFETY: every range is a segment the loader mapped readable for the process's life.
    let bytes = |r: &Range<u64>| unsafe { std::slice::from_raw_parts(r.start as *const u8, (r.end - r.start) as usize) };
    if !image.code_readable {
        return true;
    }
    let code = bytes(&image.code);
    let Some(hdr) = image.eh_frame_hdr.as_ref() else { return holds_syscall(code, image.code.start, |_| None) };
    let bases = BaseAddresses::default().set_eh_frame_hdr(hdr.start).set_text(image.code.start);
    let Ok(parsed) = EhFrameHdr::new(bytes(hdr), NativeEndian).parse(&bases, 8) else { return holds_syscall(code, image.code.start, |_| None) };
    let (Pointer::Direct(frame), Some(table)) = (parsed.eh_frame_ptr(), parsed.table()) else { return holds_syscall(code, image.code.start, |_| None) };
    let Some(load) = image.loads.iter().find(|l| l.contains(&frame)) else { return holds_syscall(code, image.code.start, |_| None) };
    let eh_frame = EhFrame::new(bytes(&(frame..load.end)), NativeEndian);
    let bases = bases.set_eh_frame(frame);
    holds_syscall(code, image.code.start, |address| {
        let fde = table.fde_for_address(&eh_frame, &bases, address, |section, bases, offset| section.cie_from_offset(bases, offset)).ok()?;
        Some(fde.initial_address()..fde.initial_address() + fde.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x40_1000;

    fn whole(code: &[u8]) -> impl Fn(u64) -> Option<Range<u64>> {
        let end = BASE + code.len() as u64;
        move |a| (BASE..end).contains(&a).then_some(BASE..end)
    }

    #[test]
    fn a_syscall_instruction_is_found() {
        // mov eax, 39; syscall; ret
        let code = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xc3];
        assert!(holds_syscall(&code, BASE, whole(&code)));
    }

    #[test]
    fn the_bytes_inside_another_instruction_are_not_one() {
        // mov eax, 0x50f; lea rax, [rip + 0x050f]; ret
        let code = [0xb8, 0x0f, 0x05, 0, 0, 0x48, 0x8d, 0x05, 0x0f, 0x05, 0, 0, 0xc3];
        assert!(!holds_syscall(&code, BASE, whole(&code)));
        assert!(!holds_syscall(&[0x90, 0xc3], BASE, whole(&[0x90, 0xc3])));
    }

    #[test]
    fn a_second_hit_that_is_one_is_found_past_one_that_is_not() {
        // mov eax, 0x50f; syscall; ret
        let code = [0xb8, 0x0f, 0x05, 0, 0, 0x0f, 0x05, 0xc3];
        assert!(holds_syscall(&code, BASE, whole(&code)));
    }

    #[test]
    fn what_cannot_be_told_counts_as_a_syscall() {
        // In no known function.
        let code = [0xb8, 0x0f, 0x05, 0, 0, 0xc3];
        assert!(holds_syscall(&code, BASE, |_| None));
        // Behind an instruction invalid in 64-bit mode (push es).
        let code = [0x06, 0xb8, 0x0f, 0x05, 0, 0, 0xc3];
        assert!(holds_syscall(&code, BASE, whole(&code)));
        // A function the tables place outside the code.
        let code = [0xb8, 0x0f, 0x05, 0, 0, 0xc3];
        assert!(holds_syscall(&code, BASE, |_| Some(BASE - 16..BASE + 6)));
    }

    #[test]
    fn decoding_starts_at_the_function_not_the_code() {
        // A function starting at byte 2 (after two bytes of another): there, `0f 05` is a
        // syscall; decoded from byte 0 (mov eax, imm32), it would be inside an instruction.
        let code = [0xb8, 0x00, 0x0f, 0x05, 0xc3];
        assert!(holds_syscall(&code, BASE, |a| (a >= BASE + 2).then_some(BASE + 2..BASE + 5)));
    }

    #[test]
    fn execute_only_code_is_not_read_and_counts_as_holding_one() {
        // At an address nothing is mapped at: read, it would fault.
        let image = Image { code: 0x1000..0x2000, code_readable: false, eh_frame_hdr: None, loads: vec![0x1000..0x2000] };
        assert!(image_holds_syscall(&image));
    }

    #[test]
    fn this_test_binary_is_read_through_its_unwind_tables() {
        // The test binary links std, whose code calls the C library: the 0F 05 bytes its
        // code may hold are inside other instructions. Read as sud.rs reads an executable.
        let image = crate::sud::executable_image().expect("the test binary's image");
        assert!(image.eh_frame_hdr.is_some());
        assert!(!image_holds_syscall(&image));
    }
}
