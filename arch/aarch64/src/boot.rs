//! The boot CPU's Rust-side bring-up after `entry.S` (U-Boot `booti` or QEMU `-kernel`):
//! the device tree, the console, the direct map, the GIC and the timer, and the
//! `BootInfo` the kernel runtime starts from. Also the shared tail of the Limine path.

use core::sync::atomic::{AtomicU64, Ordering};

use pecan_boot::dtb::{self, DtbInfo, GicVersion};
use pecan_boot::{BootError, BootInfo, Loader, RegionKind};
use pecan_hal::{InterruptController, Mmu as _, PhysMem};

use crate::console;
use crate::gic::Gic;
use crate::kmap::{self, KERNEL_RW};
use crate::layout::{FDT_WINDOW, KERNEL_BASE, PHYSMAP_BASE, direct_map_runs};
use crate::machine::{self, Aarch64, State};
use crate::mmu::Mmu;
use crate::physmem::{ImageMem, PhysMap};

/// What the platform tells the arch code about its board.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// The PL011 to report on when the device tree is unusable.
    pub fallback_uart: u64,
    /// The timer tick rate.
    pub tick_hz: u64,
    /// Interrupt lines (GIC INTIDs) user-level drivers may have besides the console
    /// UART's, which the device tree names.
    pub user_spis: &'static [u32],
}

unsafe extern "C" {
    static __image_end: u8;
    static __boot_stack_top: u8;
}

static IMAGE_PA: AtomicU64 = AtomicU64::new(0);

/// Records where the image is in physical memory (first thing on either path).
pub(crate) fn set_image_pa(pa: u64) {
    IMAGE_PA.store(pa, Ordering::Relaxed);
}

/// The physical address of kernel-image virtual address `va`.
pub fn image_pa_of(va: u64) -> u64 {
    va - KERNEL_BASE + IMAGE_PA.load(Ordering::Relaxed)
}

/// Size of the kernel image in memory (text to the top of the boot stack).
fn image_size() -> u64 {
    (&raw const __image_end) as u64 - KERNEL_BASE
}

pub(crate) fn boot_stack_top() -> u64 {
    (&raw const __boot_stack_top) as u64
}

/// The device tree at `va` (physical `pa`), checked to be one.
///
/// # Safety
/// `va` must map at least 2 MiB of readable memory (the boot window) or the whole tree.
pub(crate) unsafe fn dtb_bytes(va: u64, pa: u64) -> Result<&'static [u8], BootError> {
    if pa == 0 || !pa.is_multiple_of(8) {
        return Err(BootError::BadDtb);
    }
    // SAFETY: the caller maps at least the header.
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, dtb::HEADER_SIZE) };
    let size = dtb::total_size(header)?;
    // SAFETY: `total_size` bounds `size` by `dtb::MAX_SIZE`, which the mapping covers.
    Ok(unsafe { core::slice::from_raw_parts(va as *const u8, size) })
}

/// Prints straight to the console (before the logger exists).
fn say(args: core::fmt::Arguments<'_>) {
    pecan_kernel::console::write_fmt(console::write_bytes, args);
}

/// Maps the device tree's PL011 (or the board's) and makes it the console.
pub(crate) fn start_console(mem: &mut impl PhysMem, devices: &DtbInfo, board: &Board) {
    let uart = devices.uart.map_or(board.fallback_uart, |u| u.regs.base);
    match kmap::map_device(mem, crate::mmu::kernel_root(), uart, 0x1000) {
        // SAFETY: the device tree (or the board) says a PL011 is there; mapped as device memory.
        Ok(va) => unsafe { console::init(va) },
        Err(e) => panic!("cannot map the console at {uart:#x}: {e:?}"),
    }
}

/// The U-Boot / QEMU `-kernel` path, called by `entry.S` through the platform with the
/// device tree's and the image's physical addresses and the EL the loader entered at.
/// Returns the machine and the boot information, with interrupts still masked.
pub fn from_dtb(dtb_pa: u64, image_pa: u64, entry_el: u64, board: &Board) -> (Aarch64, BootInfo) {
    set_image_pa(image_pa);
    // SAFETY: once, on the boot CPU, before anything reads per-CPU data.
    unsafe { crate::percpu::init(0, boot_stack_top()) };
    let mut imem = ImageMem { image_pa };
    let root = crate::mmu::kernel_root();
    let dtb_va = FDT_WINDOW + (dtb_pa & 0x1f_ffff);
    // SAFETY: entry.S mapped two 2 MiB blocks from the tree's own block at FDT_WINDOW.
    let parsed = unsafe { dtb_bytes(dtb_va, dtb_pa) }.and_then(|b| Ok((b.len(), dtb::parse(b, dtb_pa)?)));
    let (dtb_size, info) = match parsed {
        Ok(p) => p,
        Err(e) => {
            // Report on the board's UART (semihosting if even that cannot be mapped).
            if let Ok(va) = kmap::map_device(&mut imem, root, board.fallback_uart, 0x1000) {
                // SAFETY: the board names its console; it is mapped as device memory.
                unsafe { console::init(va) };
            }
            panic!("{e} (device tree at physical {dtb_pa:#x})");
        }
    };
    start_console(&mut imem, &info, board);
    say(format_args!(
        "aarch64: entered at EL{entry_el}, image at {image_pa:#x}, device tree at {dtb_pa:#x} ({dtb_size} bytes)\n"
    ));

    // The direct map of RAM; from here on `PhysMap` works.
    for (base, size) in direct_map_runs(&info.memory) {
        if let Err(e) = kmap::map_range(&mut imem, root, PHYSMAP_BASE + base, base, size, KERNEL_RW) {
            panic!("cannot map RAM {base:#x}+{size:#x} into the direct map: {e:?}");
        }
    }
    let boot = BootInfo {
        loader: if info.uboot { Loader::UBoot } else { Loader::Qemu },
        memory: info.memory.clone(),
        cmdline: info.cmdline.clone(),
        dtb: Some(dtb_pa),
        rsdp: None,
        cpus: 1,
        cpu_ids: info.cpu_ids,
    };
    finish(board, &info, dtb_va, dtb_size, image_pa, boot, true)
}

/// The common tail of both paths: the kernel image in the memory map, the GIC, the
/// timer, TTBR0 emptied, the machine state recorded, then (if `secondaries`: the entry
/// code's identity map is there to start them with) the other CPUs.
pub(crate) fn finish(
    board: &Board,
    devices: &DtbInfo,
    dtb_va: u64,
    dtb_size: usize,
    image_pa: u64,
    mut boot: BootInfo,
    secondaries: bool,
) -> (Aarch64, BootInfo) {
    crate::cpu::unmask_aborts();
    let mut mem = PhysMap;
    let root = crate::mmu::kernel_root();
    if let Err(e) = boot.memory.add(image_pa, image_size(), RegionKind::Kernel) {
        panic!("{e}");
    }

    let Some(g) = devices.gic else { panic!("{} (the device tree names no GIC)", BootError::BadDtb) };
    if g.version != GicVersion::V3 {
        panic!(
            "this kernel drives GICv3 only; the device tree has a GICv2 (run QEMU with -M virt,gic-version=3)"
        );
    }
    let mut map = |pa: u64, len: u64| match kmap::map_device(&mut mem, root, pa, len) {
        Ok(va) => va,
        Err(e) => panic!("cannot map device registers at {pa:#x}: {e:?}"),
    };
    let dist = map(g.dist.base, g.dist.size);
    let redist = map(g.redist_or_cpu.base, g.redist_or_cpu.size);
    // The console only transmits, by polling: its interrupt line is free for a user driver.
    // SAFETY: both regions were just mapped as device memory; once, at boot.
    let mut gic = unsafe { Gic::init(dist, redist, g.redist_or_cpu.size, [u32::MAX; 2]) };
    let uart_pa = devices.uart.map_or(board.fallback_uart, |u| u.regs.base);
    let mut user_irqs = [u32::MAX; machine::MAX_USER_IRQS];
    let mut user_irq_count = 0;
    let lines = devices.uart.and_then(|u| u.intid).into_iter().chain(board.user_spis.iter().copied());
    for line in lines {
        if gic.is_user_line(line) && !user_irqs.contains(&line) && user_irq_count < user_irqs.len() {
            user_irqs[user_irq_count] = line;
            user_irq_count += 1;
        }
    }
    let timer_intid = devices.timer.map_or(27, |t| t.virt);
    for line in [timer_intid, crate::smp::SGI_WAKE, crate::smp::SGI_CALL] {
        gic.unmask(line);
    }
    let timer = crate::timer::start(board.tick_hz);

    // No user space yet: TTBR0 gets the empty table (the boot identity map goes away).
    let mut mmu = Mmu::detect();
    mmu.deactivate();
    crate::mmu::flush_all_local();

    crate::timer::allow_user_counter();
    let pmu = crate::pmu::start();
    machine::set_state(State {
        timer,
        gic,
        timer_intid,
        mmu,
        dtb_va,
        dtb_size,
        uart_pa,
        user_irqs,
        user_irq_count,
    });
    say(format_args!(
        "aarch64: GICv3 with {} lines, virtual timer at {} Hz (counter at {} Hz), {}-bit ASIDs, {} boot tables, {}\n",
        gic.lines(),
        board.tick_hz,
        timer.freq,
        mmu.asid_bits(),
        kmap::pool_used(),
        if pmu { "cycle counter readable at EL0" } else { "no PMU" }
    ));
    boot.cpu_ids.put_first(crate::cpu::mpidr());
    boot.cpus = if secondaries {
        crate::smp::start_secondaries(&boot.cpu_ids, devices.psci, &mut boot.memory)
    } else {
        if boot.cpu_ids.len() > 1 {
            say(format_args!("aarch64: secondary CPUs are not started under Limine yet\n"));
        }
        1
    };
    (Aarch64::current(), boot)
}

/// `Machine::corrupt_bootinfo`: parses a copy of the loader's device tree with every
/// `memory` in its structure block renamed (so it has no `/memory` node), or with a broken
/// magic if it does not fit the buffer, and panics with the parser's error.
pub fn corrupt_bootinfo(dtb: Option<(u64, usize)>) -> ! {
    const CAP: usize = 64 << 10;
    static COPY: spin::Mutex<[u8; CAP]> = spin::Mutex::new([0; CAP]);
    let Some((va, size)) = dtb else { panic!("{} (no device tree was recorded)", BootError::BadDtb) };
    // SAFETY: the boot path recorded a mapped tree of `size` bytes at `va`.
    let src = unsafe { core::slice::from_raw_parts(va as *const u8, size) };
    let mut copy = COPY.lock();
    let result = if size <= CAP {
        let buf = &mut copy[..size];
        buf.copy_from_slice(src);
        dtb::rename_in_structure(buf, b"memory", b"xemory");
        dtb::parse(buf, 0x4000_0000)
    } else {
        copy[..dtb::HEADER_SIZE].copy_from_slice(&src[..dtb::HEADER_SIZE]);
        copy[0] ^= 0xff;
        dtb::parse(&copy[..dtb::HEADER_SIZE], 0x4000_0000)
    };
    match result {
        Err(e) => panic!("{e} (in a deliberately corrupted copy of the device tree)"),
        Ok(_) => panic!("the device-tree parser accepted a corrupted tree"),
    }
}
