//! The program runtime: the entry point, console printing, a heap, and the panic handler.
//!
//! A program names its main function with [`entry!`]; the kernel (for the root task) or a
//! loader starts its first thread at `_start` with the start-information address in the
//! first argument register.

use core::alloc::{GlobalAlloc, Layout};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use pecan_abi::caps::std_slots;

use crate::cap::{Machine, Thread};
use crate::print::Out;

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
core::arch::global_asm!(
    // Entry: rdi = start information, rsp = top of the stack (16-byte aligned). Make the
    // stack look as after a call, clear the frame pointer, enter Rust.
    ".globl _start",
    "_start:",
    "    xor ebp, ebp",
    "    and rsp, -16",
    "    call {start}",
    "    ud2",
    start = sym __pecan_start,
);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    // Entry: x0 = start information, sp = top of the stack. Clear the frame chain, enter Rust.
    ".globl _start",
    "_start:",
    "    mov x29, #0",
    "    mov x30, #0",
    "    bl {start}",
    "    brk #1",
    start = sym __pecan_start,
);

unsafe extern "Rust" {
    /// The program's main function, defined by [`entry!`].
    fn __pecan_main(info: u64) -> !;
}

extern "C" fn __pecan_start(info: u64) -> ! {
    HEAP.init();
    // SAFETY: `entry!` defines `__pecan_main` with this signature.
    unsafe { __pecan_main(info) }
}

/// Names the program's main function: `fn main(info: u64) -> !`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __pecan_main(info: u64) -> ! {
            let f: fn(u64) -> ! = $main;
            f(info)
        }
    };
}

const HEAP_SIZE: usize = 512 * 1024;

#[repr(align(4096))]
struct HeapSpace([u8; HEAP_SIZE]);

static mut HEAP_SPACE: HeapSpace = HeapSpace([0; HEAP_SIZE]);

/// A small heap (a linked-list allocator over a static array) behind a spin lock that
/// yields while it waits.
struct Heap {
    lock: AtomicBool,
    inner: core::cell::UnsafeCell<linked_list_allocator::Heap>,
}

// SAFETY: every access to `inner` holds `lock`.
unsafe impl Sync for Heap {}

impl Heap {
    fn init(&self) {
        self.with(|h| {
            if h.size() == 0 {
                // SAFETY: the static array is used by this heap only, and only once.
                unsafe { h.init(core::ptr::addr_of_mut!(HEAP_SPACE.0) as *mut u8, HEAP_SIZE) }
            }
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut linked_list_allocator::Heap) -> R) -> R {
        while self.lock.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            crate::ipc::yield_now();
        }
        // SAFETY: the lock is held.
        let r = f(unsafe { &mut *self.inner.get() });
        self.lock.store(false, Ordering::Release);
        r
    }
}

// SAFETY: allocation and deallocation go to the linked-list heap under the lock.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|h| h.allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr()))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = core::ptr::NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout.
            self.with(|h| unsafe { h.deallocate(p, layout) })
        }
    }
}

// Only a program's allocator: a host test binary that links this crate (the workspace's
// `cargo test` unifies the `rt` feature into every crate using it) keeps the system one.
#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: Heap = Heap {
    lock: AtomicBool::new(false),
    inner: core::cell::UnsafeCell::new(linked_list_allocator::Heap::empty()),
};

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut o = Out::new();
    let _ = writeln!(o, "user panic: {info}");
    o.flush();
    // The root task (and whoever holds the machine) stops the machine with a failure;
    // anyone else stops its own thread.
    let _ = Machine::at(std_slots::MACHINE).exit(101);
    let _ = Thread::at(std_slots::THREAD).suspend();
    loop {
        crate::ipc::sleep(core::time::Duration::from_secs(1));
    }
}
