//! User address-space layout and the boot information the kernel gives the root task.

/// First address past the user half (both architectures use 47 bits of user space).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;
/// Lowest address the kernel will map for user space (page 0 stays unmapped).
pub const USER_BOTTOM: u64 = 0x1000;
/// Where user programs are linked.
pub const USER_IMAGE_BASE: u64 = 0x0040_0000;

/// In the root task, all usable physical memory appears at `ROOT_PHYS_BASE + pa`.
pub const ROOT_PHYS_BASE: u64 = 0x0000_4000_0000_0000;
/// The root task's boot information page (and, in every other task, its start page).
pub const ROOT_BOOTINFO: u64 = 0x0000_3fff_0000_0000;
/// Where a task's start information ([`StartInfo`]) is mapped read-only.
pub const START_INFO: u64 = ROOT_BOOTINFO;
/// The root task's UTCB.
pub const ROOT_UTCB: u64 = 0x0000_3fff_0001_0000;
/// The top of the root task's initial stack.
pub const ROOT_STACK_TOP: u64 = 0x0000_3fff_0100_0000;
/// Size of the root task's initial stack.
pub const ROOT_STACK_SIZE: u64 = 256 * 1024;

/// Magic number at the start of [`BootInfo`].
pub const BOOTINFO_MAGIC: u64 = 0x5045_4341_4e42_4931; // "PECANBI1"
/// Maximum entries in [`BootInfo::mem`].
pub const BOOTINFO_MAX_MEM: usize = 32;
/// Maximum entries in [`BootInfo::modules`].
pub const BOOTINFO_MAX_MODULES: usize = 32;

/// A region of physical memory the root task owns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemRegion {
    /// Physical base (page aligned); it appears at `ROOT_PHYS_BASE + base` in the root task.
    pub base: u64,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// 1: free RAM; 2: RAM in use by the root task's image, stack and boot modules;
    /// 3: device memory the root task may map to drivers.
    pub kind: u64,
}

/// `MemRegion::kind` of free RAM.
pub const MEM_FREE: u64 = 1;
/// `MemRegion::kind` of RAM the root task's own image, stack or modules occupy.
pub const MEM_ROOT: u64 = 2;
/// `MemRegion::kind` of device memory.
pub const MEM_DEVICE: u64 = 3;

/// A boot module (a user program image) the kernel carries.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Module {
    /// NUL-padded name.
    pub name: [u8; 32],
    /// Physical address of the first byte.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Module {
    /// The name up to its first NUL byte.
    pub fn name(&self) -> &[u8] {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        &self.name[..n]
    }
}

/// Architectures.
pub const ARCH_X86_64: u64 = 1;
/// Architectures.
pub const ARCH_AARCH64: u64 = 2;

/// What the kernel tells the root task at boot (mapped read-only at `ROOT_BOOTINFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// `BOOTINFO_MAGIC`.
    pub magic: u64,
    /// `ARCH_X86_64` or `ARCH_AARCH64`.
    pub arch: u64,
    /// Number of CPUs running.
    pub cpus: u64,
    /// Timer ticks per second (the granularity of timeouts).
    pub tick_hz: u64,
    /// Kernel memory set aside for objects (the root factory's quota), in bytes.
    pub kernel_quota: u64,
    /// Number of valid entries in `mem`.
    pub mem_count: u64,
    /// Physical memory regions.
    pub mem: [MemRegion; BOOTINFO_MAX_MEM],
    /// Number of valid entries in `modules`.
    pub module_count: u64,
    /// Boot modules.
    pub modules: [Module; BOOTINFO_MAX_MODULES],
    /// Hardware IRQ line of the capability in slot `ROOT_IRQ_BASE + i` (u32::MAX: none).
    pub irq_lines: [u32; 32],
    /// Physical address of the console UART (for a user-level driver).
    pub uart_base: u64,
    /// Length of the kernel command line in `cmdline`.
    pub cmdline_len: u64,
    /// The kernel command line (options the root task may read).
    pub cmdline: [u8; 256],
}

impl BootInfo {
    /// The valid memory regions.
    pub fn mem(&self) -> &[MemRegion] {
        &self.mem[..(self.mem_count as usize).min(BOOTINFO_MAX_MEM)]
    }

    /// The valid modules.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..(self.module_count as usize).min(BOOTINFO_MAX_MODULES)]
    }

    /// The command line.
    pub fn cmdline(&self) -> &[u8] {
        &self.cmdline[..(self.cmdline_len as usize).min(self.cmdline.len())]
    }
}

const _: () = assert!(core::mem::size_of::<BootInfo>() <= 4096);

/// Magic number at the start of [`StartInfo`].
pub const STARTINFO_MAGIC: u64 = 0x5045_4341_4e53_4931; // "PECANSI1"

/// What a loader tells a task it starts (mapped read-only at `START_INFO`; the first
/// thread gets its address as argument).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StartInfo {
    /// `STARTINFO_MAGIC`.
    pub magic: u64,
    /// The first thread's UTCB address.
    pub utcb: u64,
    /// Number of valid entries in `args`.
    pub argc: u64,
    /// Arguments.
    pub args: [u64; 16],
    /// NUL-padded program name.
    pub name: [u8; 32],
    /// `ARCH_X86_64` or `ARCH_AARCH64`.
    pub arch: u64,
    /// Timer ticks per second.
    pub tick_hz: u64,
    /// First free address the loader left for the task's own use (heap grows from here).
    pub heap_base: u64,
    /// Bytes at `heap_base` the pager will back on demand.
    pub heap_size: u64,
}
