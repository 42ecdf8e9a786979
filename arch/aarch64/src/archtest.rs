//! AArch64-only boot self-tests, selected with `arch-test=NAME` on the command line (the
//! arch-neutral ones are `test=NAME`, in `pecan_kernel::selftest`):
//! - `stack-overflow`: recurses until the boot stack overflows; the vectors must catch it
//!   on the overflow stack and report `KERNEL FAULT: kernel stack overflow` (code 3).
//! - `fp-switch`, `user-guards`: user mode without the core (`usertest.rs`): FP/SIMD state
//!   across switches between threads and address spaces, and the entry/exit guards.

use pecan_boot::BootInfo;
use pecan_kernel::ExitCode;

use crate::machine::Aarch64;
use crate::usertest::UserTest;

/// Runs AArch64 self-test `name`; never returns (the test ends the kernel).
pub fn run(m: &mut Aarch64, _info: &BootInfo, name: &str) -> ! {
    pecan_kernel::console::write_fmt(crate::console::write_bytes, format_args!("arch-test: {name}\n"));
    match name {
        "stack-overflow" => {
            let depth = recurse(0);
            panic!("recursion of depth {depth} did not overflow the stack");
        }
        "fp-switch" => crate::usertest::run(Aarch64::current(), UserTest::FpSwitch),
        "user-guards" => crate::usertest::run(Aarch64::current(), UserTest::Guards),
        other => {
            pecan_kernel::console::write_fmt(
                crate::console::write_bytes,
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
