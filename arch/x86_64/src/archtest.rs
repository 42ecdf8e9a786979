//! x86_64-only boot self-tests, selected with `arch-test=NAME` on the command line (the
//! arch-neutral ones are `test=NAME`, in `pecan_kernel::selftest`):
//! - `stack-overflow`: recurses until the boot stack runs into its guard page; the page
//!   fault cannot be delivered on that stack, the double fault runs on IST 1 and reports
//!   `KERNEL FAULT: kernel stack overflow` (exit code 3).

use pecan_kernel::ExitCode;

use crate::hal::X86;

/// Runs x86_64 self-test `name`; never returns (the test ends the kernel).
pub fn run(m: &mut X86, name: &str) -> ! {
    pecan_kernel::console::write_fmt(crate::serial::write_bytes, format_args!("arch-test: {name}\n"));
    match name {
        "stack-overflow" => {
            let depth = recurse(0);
            panic!("recursion of depth {depth} did not overflow the stack");
        }
        other => {
            pecan_kernel::console::write_fmt(
                crate::serial::write_bytes,
                format_args!("unknown arch-test {other:?}\n"),
            );
            pecan_kernel::exit::exit(m, ExitCode::TestFailure)
        }
    }
}

/// Uses 1 KiB of stack per level, forever (the bound is never reached).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [depth; 128];
    core::hint::black_box(&mut buf);
    if depth == u64::MAX { buf[1] } else { recurse(depth + 1) + buf[7] }
}
