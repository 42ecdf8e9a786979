//! Starting the root task: `init` from the boot archive is loaded into memory the root task
//! owns, the boot modules are copied next to it, and a boot-information page describes it
//! all (seed 002: a root pager owns all memory at boot).

extern crate alloc;
use alloc::vec::Vec;
use elf::ElfBytes;
use elf::abi::{PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use pecan_abi::MemRights;
use pecan_abi::layout::{
    BOOTINFO_MAGIC, BOOTINFO_MAX_MEM, BOOTINFO_MAX_MODULES, BootInfo, MEM_DEVICE, MEM_FREE, MEM_ROOT,
    MemRegion, Module, ROOT_BOOTINFO, ROOT_STACK_SIZE, ROOT_STACK_TOP, USER_TOP,
};
use pecan_boot::bootfs::Bootfs;
use pecan_core::{Handle, Kernel, RootRegion};
use pecan_hal::{PAGE_SIZE, PhysAddr, PhysMem, Timer};

use crate::platform::Platform;

/// Why the root task could not be started (each is a clear panic at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootError {
    /// The boot archive is missing or corrupt.
    Bootfs,
    /// There is no `init` in it.
    NoInit,
    /// `init` is not a little-endian 64-bit ELF executable for user space.
    BadElf,
    /// Not enough root memory for `init`, its stack and the modules.
    NoMemory,
    /// The kernel refused a mapping or an object.
    Kernel(pecan_abi::Error),
}

/// Hands out root-owned frames in address order and remembers how far it got.
struct Bump {
    regions: Vec<RootRegion>,
    region: usize,
    next: u64,
}

impl Bump {
    fn new(regions: &[RootRegion]) -> Self {
        let ram: Vec<RootRegion> = regions.iter().copied().filter(|r| !r.device).collect();
        let next = ram.first().map_or(0, |r| r.base);
        Bump { regions: ram, region: 0, next }
    }

    fn frame(&mut self) -> Option<PhysAddr> {
        while let Some(r) = self.regions.get(self.region) {
            if self.next + PAGE_SIZE <= r.base + r.size {
                self.next += PAGE_SIZE;
                return Some(PhysAddr(self.next - PAGE_SIZE));
            }
            self.region += 1;
            self.next = self.regions.get(self.region).map_or(0, |r| r.base);
        }
        None
    }

    /// Contiguous frames (for a module), skipping to the next region if needed.
    fn frames(&mut self, n: u64) -> Option<PhysAddr> {
        while let Some(r) = self.regions.get(self.region) {
            if self.next + n * PAGE_SIZE <= r.base + r.size {
                let pa = self.next;
                self.next += n * PAGE_SIZE;
                return Some(PhysAddr(pa));
            }
            self.region += 1;
            self.next = self.regions.get(self.region).map_or(0, |r| r.base);
        }
        None
    }
}

fn kerr(e: pecan_abi::Error) -> RootError {
    RootError::Kernel(e)
}

/// Loads `init` and starts the root task; returns its first thread.
pub fn start<M: Platform>(
    k: &mut Kernel<M>,
    regions: &[RootRegion],
    archive: &[u8],
    cmdline: &[u8],
    cpus: usize,
) -> Result<Handle, RootError> {
    let fs = Bootfs::parse(archive).map_err(|_| RootError::Bootfs)?;
    let init = fs.find(b"init").ok_or(RootError::NoInit)?;
    let task = k.boot_root_task(regions).map_err(kerr)?;
    let mut bump = Bump::new(regions);

    // The ELF image, segment by segment, page by page.
    let elf = ElfBytes::<LittleEndian>::minimal_parse(init.data).map_err(|_| RootError::BadElf)?;
    let entry = elf.ehdr.e_entry;
    let segs = elf.segments().ok_or(RootError::BadElf)?;
    for ph in segs.iter().filter(|p| p.p_type == PT_LOAD) {
        let (va, memsz, filesz, off) = (ph.p_vaddr, ph.p_memsz, ph.p_filesz, ph.p_offset);
        if filesz > memsz || va.checked_add(memsz).is_none_or(|e| e > USER_TOP) || va < PAGE_SIZE {
            return Err(RootError::BadElf);
        }
        let file = init.data.get(off as usize..(off + filesz) as usize).ok_or(RootError::BadElf)?;
        let mut rights = MemRights::R;
        if ph.p_flags & PF_W != 0 {
            rights = MemRights(rights.0 | MemRights::W.0);
        }
        if ph.p_flags & PF_X != 0 {
            rights = MemRights(rights.0 | MemRights::X.0);
        }
        let first = va & !(PAGE_SIZE - 1);
        let mut page = first;
        while page < va + memsz {
            let frame = bump.frame().ok_or(RootError::NoMemory)?;
            k.hal.mem().zero(frame, PAGE_SIZE as usize);
            // The part of the file that falls into this page.
            let lo = page.max(va);
            let hi = (page + PAGE_SIZE).min(va + filesz);
            if hi > lo {
                let src = &file[(lo - va) as usize..(hi - va) as usize];
                k.hal.mem().write_bytes(frame.add(lo - page), src);
            }
            k.boot_map(task, page, frame, rights).map_err(kerr)?;
            page += PAGE_SIZE;
        }
    }

    // The stack.
    let mut va = ROOT_STACK_TOP - ROOT_STACK_SIZE;
    while va < ROOT_STACK_TOP {
        let frame = bump.frame().ok_or(RootError::NoMemory)?;
        k.hal.mem().zero(frame, PAGE_SIZE as usize);
        k.boot_map(task, va, frame, MemRights::RW).map_err(kerr)?;
        va += PAGE_SIZE;
    }

    // The boot modules (every file of the archive, `init` included), copied into root memory.
    let mut info = BootInfo {
        magic: BOOTINFO_MAGIC,
        arch: k.hal.arch_id(),
        cpus: cpus as u64,
        tick_hz: k.hal.timer().tick_hz(),
        kernel_quota: k.root_factory.and_then(|f| k.factories.get(f)).map_or(0, |f| f.limit),
        mem_count: 0,
        mem: [MemRegion::default(); BOOTINFO_MAX_MEM],
        module_count: 0,
        modules: [Module::default(); BOOTINFO_MAX_MODULES],
        irq_lines: [u32::MAX; 32],
        uart_base: k.hal.uart_base(),
        cmdline_len: 0,
        cmdline: [0; 256],
    };
    for (i, f) in fs.files().take(BOOTINFO_MAX_MODULES).enumerate() {
        let pages = (f.data.len() as u64).div_ceil(PAGE_SIZE).max(1);
        let pa = bump.frames(pages).ok_or(RootError::NoMemory)?;
        k.hal.mem().write_bytes(pa, f.data);
        let m = &mut info.modules[i];
        let n = f.name.len().min(31);
        m.name[..n].copy_from_slice(&f.name[..n]);
        m.base = pa.0;
        m.size = f.data.len() as u64;
        info.module_count += 1;
    }
    let bootinfo_frame = bump.frame().ok_or(RootError::NoMemory)?;

    // The memory map the root task sees: what the loader used, what is free, devices.
    let mut mem = Vec::new();
    for (idx, r) in regions.iter().enumerate() {
        let _ = idx;
        if r.device {
            mem.push(MemRegion { base: r.base, size: r.size, kind: MEM_DEVICE });
            continue;
        }
        let used_end = if bump.regions.iter().position(|x| x.base == r.base).is_some_and(|p| p < bump.region)
        {
            r.base + r.size
        } else if bump.regions.get(bump.region).is_some_and(|x| x.base == r.base) {
            bump.next
        } else {
            r.base
        };
        if used_end > r.base {
            mem.push(MemRegion { base: r.base, size: used_end - r.base, kind: MEM_ROOT });
        }
        if r.base + r.size > used_end {
            mem.push(MemRegion { base: used_end, size: r.base + r.size - used_end, kind: MEM_FREE });
        }
    }
    for (i, m) in mem.iter().take(BOOTINFO_MAX_MEM).enumerate() {
        info.mem[i] = *m;
        info.mem_count += 1;
    }
    for (i, l) in k.hal.user_irq_lines().iter().take(32).enumerate() {
        info.irq_lines[i] = *l;
    }
    let n = cmdline.len().min(256);
    info.cmdline[..n].copy_from_slice(&cmdline[..n]);
    info.cmdline_len = n as u64;
    k.hal.mem().zero(bootinfo_frame, PAGE_SIZE as usize);
    k.hal.mem().write_bytes(bootinfo_frame, bootinfo_bytes(&info));
    k.boot_map(task, ROOT_BOOTINFO, bootinfo_frame, MemRights::R).map_err(kerr)?;

    let lines: Vec<u32> = k.hal.user_irq_lines().to_vec();
    k.boot_root_thread(task, entry, ROOT_STACK_TOP, &lines).map_err(kerr)
}

/// The boot information as bytes.
fn bootinfo_bytes(info: &BootInfo) -> &[u8] {
    // Every field is a u64, a u32 array of even length or a byte array of a multiple of 8
    // bytes, so `BootInfo` (repr(C)) has no padding; this is checked at compile time.
    const _: () = assert!(
        core::mem::size_of::<BootInfo>()
            == 8 * 6 + 24 * BOOTINFO_MAX_MEM + 8 + 48 * BOOTINFO_MAX_MODULES + 4 * 32 + 8 + 8 + 256
    );
    // SAFETY: `info` is a valid, initialized, padding-free value; the slice covers exactly
    // it and lives as long as the borrow.
    unsafe {
        core::slice::from_raw_parts(info as *const BootInfo as *const u8, core::mem::size_of::<BootInfo>())
    }
}
