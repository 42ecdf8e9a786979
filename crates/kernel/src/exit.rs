//! Stopping the machine with a code the test harness can read.

use crate::machine::Machine;

/// Why the kernel stops. The values are the exit codes (see `docs/testing.md`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything went as expected.
    Success = 0,
    /// A test found a problem.
    TestFailure = 1,
    /// The kernel panicked.
    Panic = 2,
    /// An exception the kernel cannot handle happened in kernel mode.
    KernelFault = 3,
}

/// Prints the final marker line and stops the machine with `code`.
pub fn exit<M: Machine>(m: &mut M, code: ExitCode) -> ! {
    exit_raw(m, code as u32)
}

/// Like [`exit`] with a raw code (the root task's `Machine::EXIT` passes its own).
pub fn exit_raw<M: Machine>(m: &mut M, code: u32) -> ! {
    crate::console::write_str(m, &alloc_free_fmt(code));
    m.exit(code)
}

/// "pecan: exit code N\n" without allocation.
fn alloc_free_fmt(code: u32) -> heapless_line::Line {
    let mut l = heapless_line::Line::new();
    let _ = core::fmt::Write::write_fmt(&mut l, format_args!("\npecan: exit code {code}\n"));
    l
}

/// A tiny fixed-capacity string for messages formatted where the logger may be unusable.
pub mod heapless_line {
    use core::ops::Deref;

    /// A line of at most 128 bytes.
    pub struct Line {
        buf: [u8; 128],
        len: usize,
    }

    impl Line {
        /// An empty line.
        pub const fn new() -> Self {
            Line { buf: [0; 128], len: 0 }
        }
    }

    impl Default for Line {
        fn default() -> Self {
            Self::new()
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    impl Deref for Line {
        type Target = str;
        fn deref(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
        }
    }
}
