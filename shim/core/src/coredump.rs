//! Where the kernel writes a core file (`/proc/sys/kernel/core_pattern`, core(5)), as the
//! shim decides it for a process dying of a signal that dumps core. Pure; no I/O.

/// The place a core file of a process lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorePlace {
    /// A name in the process's working directory (Debian's default `core`, `core.%p`).
    WorkingDirectory,
    /// A relative path with a directory in it: somewhere below the working directory.
    BelowWorkingDirectory,
    /// A pipe to a program (systemd-coredump, apport), an absolute path, or nowhere.
    Elsewhere,
}

/// The place `pattern` (the file's contents) names. The kernel turns no specifier into a
/// `/` (`%e`'s slashes become `!`), so the pattern's own slashes are the only ones.
pub fn place(pattern: &[u8]) -> CorePlace {
    let pattern = pattern.strip_suffix(b"\n").unwrap_or(pattern);
    match pattern.first() {
        None | Some(b'|' | b'/') => CorePlace::Elsewhere,
        _ if pattern.contains(&b'/') => CorePlace::BelowWorkingDirectory,
        _ => CorePlace::WorkingDirectory,
    }
}

/// The smallest RLIMIT_CORE for which the kernel writes an ELF core file: one page
/// (`min_coredump` of binfmt_elf).
pub const MIN_LIMIT: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_land_in_the_working_directory_and_pipes_and_absolute_paths_elsewhere() {
        assert_eq!(place(b"core\n"), CorePlace::WorkingDirectory);
        assert_eq!(place(b"core.%e.%p"), CorePlace::WorkingDirectory);
        assert_eq!(place(b"cores/core.%p\n"), CorePlace::BelowWorkingDirectory);
        assert_eq!(place(b"|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h\n"), CorePlace::Elsewhere);
        assert_eq!(place(b"/var/crash/core.%p\n"), CorePlace::Elsewhere);
        assert_eq!(place(b"\n"), CorePlace::Elsewhere);
    }
}
