//! What the kernel runtime needs from an architecture beyond the core's `Hal`.

use pecan_hal::{Hal, PhysAddr, RemoteOp, VirtAddr};

/// An architecture as the kernel runtime sees it: the core's `Hal` plus CPU control and
/// the hooks the boot self-tests use.
pub trait Machine: Hal {
    /// "x86_64" or "aarch64".
    fn arch_name(&self) -> &'static str;
    /// A function that writes bytes to the console from anywhere (the logger and the panic
    /// handler use it; it must not deadlock if called from an exception handler).
    fn console_writer(&self) -> fn(&[u8]);
    /// Periodic timer ticks this CPU took since boot.
    fn ticks(&self) -> u64;
    /// Periodic timer ticks CPU `cpu` took (0 for a CPU that does not run).
    fn cpu_ticks(&self, cpu: usize) -> u64;
    /// Inter-processor interrupts CPU `cpu` took (handled and acknowledged).
    fn ipis_received(&self, cpu: usize) -> u64;
    /// Posts `op` to CPU `cpu`'s remote-call box and sends it the `Call` IPI; its IPI
    /// handler answers. Returns the ticket for [`Machine::remote_result`], `None` if the
    /// CPU does not run.
    fn remote_post(&mut self, cpu: usize, op: RemoteOp) -> Option<u64>;
    /// CPU `cpu`'s answer to `ticket`, once it came.
    fn remote_result(&self, cpu: usize, ticket: u64) -> Option<u64>;
    /// Serves what other CPUs wait for from this one (a pending shootdown, a remote
    /// call): what any loop that spins with interrupts masked must do.
    fn serve_ipis(&mut self);
    /// Lets interrupts in.
    fn enable_interrupts(&mut self);
    /// Keeps interrupts out.
    fn disable_interrupts(&mut self);
    /// Waits for the next interrupt with interrupts enabled (`sti; hlt` / `wfi`), and
    /// returns with them in the state they were.
    fn wait_for_interrupt(&mut self);
    /// Executes a breakpoint instruction in kernel mode; the trap handler counts it and
    /// resumes after it. Returns the number of breakpoint traps taken so far.
    fn breakpoint(&mut self) -> u64;
    /// The root of the kernel's page table.
    fn kernel_root(&self) -> PhysAddr;
    /// A page-aligned kernel virtual range of `len` bytes that nothing maps (self-tests
    /// map and unmap pages there).
    fn scratch_range(&self) -> (VirtAddr, u64);
    /// Writes a word through a kernel virtual address (the self-tests check mappings).
    fn probe_write(&mut self, va: VirtAddr, value: u64);
    /// Reads a word through a kernel virtual address.
    fn probe_read(&mut self, va: VirtAddr) -> u64;
    /// Drops the kernel's translation of `va` on this CPU only (`Hal::shootdown` drops it
    /// everywhere).
    fn flush_kernel_page(&mut self, va: VirtAddr);
    /// Reads from `addr` in kernel mode, which must fault: the arch's trap handler prints
    /// the fault report and exits with `ExitCode::KernelFault`.
    fn provoke_fault(&mut self, addr: u64) -> !;
    /// Runs the arch's boot-information parser on a deliberately corrupted copy of what the
    /// loader passed, and panics with the parser's error (a clear message, never a hang).
    fn corrupt_bootinfo(&mut self) -> !;
}
