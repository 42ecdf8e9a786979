//! Early boot: from U-Boot's `bootelf -p` (the stub in `entry_uboot.S`) or a Limine
//! loader (`limine_entry`) to a ready machine and a `BootInfo`.
//!
//! Both paths: serial console, CPU features, GDT/TSS, IDT, per-CPU data, `SYSCALL`; the memory map
//! (fw_cfg `etc/e820` or Limine's); the kernel's own page tables; ACPI (RSDP, every table
//! reserved, CPUs and the IOAPIC from the MADT); the reservations (below 1 MiB, the
//! kernel image, the loader's data); PIC masked, local APIC and IOAPIC programmed, the
//! periodic tick started with interrupts still disabled.

mod limine_entry;

pub use limine_entry::limine_entry;

use pecan_boot::cmdline::CMDLINE_MAX;
use pecan_boot::limine::Answers;
use pecan_boot::{BootInfo, Cmdline, CpuList, Loader, MemoryMap, RegionKind, e820};

use crate::acpi::{self, Acpi, PhysRead};
use crate::hal::X86;
use crate::layout::PHYSMAP_BASE;
use crate::paging::{self, Ranges};
use crate::{cpu, fwcfg, gdt, idt, ioapic, lapic, mmu, percpu, pic, serial, syscall};

core::arch::global_asm!(include_str!("entry_uboot.S"));

/// Everything below 1 MiB stays unused (real-mode IVT, BIOS data, option ROMs, the RSDP).
const LOW_MEMORY: u64 = 0x10_0000;
/// Room for `etc/e820` (128 entries).
const E820_MAX: usize = 128 * e820::E820_ENTRY_SIZE;
/// U-Boot's identity map (and the boot physmap) cover the first 4 GiB.
const BOOT_MAP_LIMIT: u64 = 4 << 30;

/// Panics with a boot-information error (its text says "bad boot information").
#[track_caller]
fn fail(e: pecan_boot::BootError) -> ! {
    panic!("{e}")
}

/// Console, CPU state and descriptor tables: what every later step (and a panic) needs.
fn early() {
    serial::init();
    cpu::init();
    let stack = paging::boot_stack_top();
    let block = percpu::init(0, stack);
    // SAFETY: the boot CPU's own block, just set up; once, interrupts off.
    unsafe { gdt::init(0, block, stack, gdt::boot_df_stack_top()) };
    idt::init();
    syscall::init();
}

/// Copies U-Boot's argv (physical pointers inside U-Boot's memory, reached through the
/// boot tables' physmap) into a command line, words separated by spaces.
fn uboot_cmdline(argc: usize, argv: u64) -> Cmdline {
    let mut buf = [0u8; CMDLINE_MAX];
    let mut n = 0;
    let ok = |p: u64| p != 0 && p < BOOT_MAP_LIMIT - 4096;
    if ok(argv) {
        for i in 0..argc.min(64) as u64 {
            // SAFETY: argv is an array of argc pointers in U-Boot's memory, mapped by the
            // boot tables at PHYSMAP_BASE (checked to lie below 4 GiB).
            let word = unsafe { ((PHYSMAP_BASE + argv + 8 * i) as *const u64).read_volatile() };
            if !ok(word) {
                continue;
            }
            if n > 0 && n < buf.len() {
                buf[n] = b' ';
                n += 1;
            }
            for j in 0..CMDLINE_MAX as u64 {
                // SAFETY: a NUL-terminated string below 4 GiB, mapped as above.
                let b = unsafe { ((PHYSMAP_BASE + word + j) as *const u8).read_volatile() };
                if b == 0 || n == buf.len() {
                    break;
                }
                buf[n] = b;
                n += 1;
            }
        }
    }
    Cmdline::new(&buf[..n])
}

/// Boots from U-Boot: `argc`/`argv` are `bootelf`'s arguments, `uboot_sp` U-Boot's stack
/// pointer at the call (inside its reserved top of RAM).
pub fn from_uboot(argc: usize, argv: u64, uboot_sp: u64) -> (X86, BootInfo) {
    // First, before anything could reuse U-Boot's memory.
    let cmdline = uboot_cmdline(argc, argv);
    early();
    pecan_kernel::console::init(serial::write_bytes, &cmdline);
    log::debug!("x86_64: entered from U-Boot: argc {argc}, argv {argv:#x}, U-Boot sp {uboot_sp:#x}");

    let mut raw = [0u8; E820_MAX];
    let n = fwcfg::read_e820(&mut raw).unwrap_or_else(|e| fail(e));
    let raw = &raw[..n];
    let mut memory = e820::memory_map(raw).unwrap_or_else(|e| fail(e));
    let mut ram = Ranges::new();
    ram.add(0, LOW_MEMORY);
    for e in e820::entries(raw).unwrap_or_else(|e| fail(e)).filter(|e| e.is_ram()) {
        ram.add(e.addr, e.addr + e.size);
    }
    map_kernel(&ram);
    let acpi = discover_acpi(&ram, None);
    reserve_uboot(&mut memory, argv, acpi.as_ref().map(|(_, a)| a));
    let info = finish(Loader::UBoot, memory, cmdline, acpi, CpuList::new());
    (X86::new(), info)
}

/// Boots from a Limine loader with what it answered.
pub fn from_limine(answers: &Answers<'_>) -> (X86, BootInfo) {
    early();
    let lb = pecan_boot::limine::translate(answers).unwrap_or_else(|e| fail(e));
    pecan_kernel::console::init(serial::write_bytes, &lb.info.cmdline);
    let exe = lb.executable;
    log::debug!(
        "x86_64: entered from Limine: kernel at {:#x} (linked {:#x}), HHDM {:#x}",
        exe.physical_base,
        exe.virtual_base,
        lb.hhdm_offset
    );
    paging::set_loader_layout(exe.virtual_base - exe.physical_base, lb.hhdm_offset);
    let mut ram = Ranges::new();
    ram.add(0, LOW_MEMORY);
    for r in lb.info.memory.regions().iter().filter(|r| r.kind != RegionKind::Reserved) {
        ram.add(r.base, r.end());
    }
    // The RSDP may sit in memory the map calls reserved (UEFI firmware): map its 2 MiB too.
    if let Some(rsdp) = lb.info.rsdp {
        ram.add(rsdp, rsdp + 36);
    }
    map_kernel(&ram);
    let acpi = discover_acpi(&ram, lb.info.rsdp);
    let info = finish(Loader::Limine, lb.info.memory, lb.info.cmdline, acpi, lb.info.cpu_ids);
    (X86::new(), info)
}

/// Builds and loads the kernel's page tables with `ram` in the direct map.
fn map_kernel(ram: &Ranges) {
    let big = cpu::has_1g_pages();
    paging::build_and_switch(ram, big);
    let mib: u64 = ram.iter().map(|(s, e)| (e - s) >> 20).sum();
    log::debug!(
        "page tables: direct map of {mib} MiB in {} pages, kernel image in 4 KiB pages, identity map gone",
        if big { "1 GiB and 2 MiB" } else { "2 MiB" }
    );
}

/// Reads physical memory through the direct map, refusing what it does not cover.
struct DirectMap<'a>(&'a Ranges);

impl PhysRead for DirectMap<'_> {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        let end = pa.saturating_add(buf.len() as u64);
        if !self.0.iter().any(|(s, e)| s <= pa && end <= e) {
            return false;
        }
        // SAFETY: the range lies inside the direct map (checked above).
        unsafe {
            core::ptr::copy_nonoverlapping((PHYSMAP_BASE + pa) as *const u8, buf.as_mut_ptr(), buf.len())
        };
        true
    }
}

/// Finds the RSDP (the loader's, or by scanning the BIOS area) and walks the tables.
fn discover_acpi(ram: &Ranges, rsdp: Option<u64>) -> Option<(u64, Acpi)> {
    let mem = DirectMap(ram);
    let at = rsdp.or_else(|| acpi::find_rsdp(&mem, acpi::BIOS_AREA.0, acpi::BIOS_AREA.1));
    let Some(at) = at else {
        log::warn!("ACPI: no RSDP found: one CPU, no IOAPIC");
        return None;
    };
    match acpi::walk(&mem, at) {
        Ok(a) => {
            for t in a.tables() {
                let sig = core::str::from_utf8(&t.sig).unwrap_or("????");
                log::debug!("ACPI: {sig} at {:#x}, {} bytes", t.pa, t.len);
            }
            if a.truncated {
                log::warn!("ACPI: more than {} tables; the rest are not listed", acpi::MAX_TABLES);
            }
            Some((at, a))
        }
        Err(e) => {
            log::warn!("ACPI: RSDP at {at:#x} unusable ({e:?}): one CPU, no IOAPIC");
            None
        }
    }
}

/// Room kept below the lowest piece of U-Boot data the kernel saw.
const UBOOT_HEAP_MARGIN: u64 = 16 << 20;

/// Reserves U-Boot's top of RAM. U-Boot reports nothing to `bootelf`, so the region is
/// found from what lives in it: the ACPI tables U-Boot built and the argv array it passed
/// (both in its heap, below its relocated code at the top of low RAM). From the lowest of
/// them, rounded down to 1 MiB and less 16 MiB for the rest of the heap, to the end of the
/// RAM region: at 512 MiB this is 0x1dc00000..0x20000000, which covers what U-Boot's own
/// `bdinfo` lists as reserved (0x1dd0a000 up). U-Boot's stack at the call (measured near
/// 0x10c000) is dead once the kernel runs and is not kept.
fn reserve_uboot(memory: &mut MemoryMap, argv: u64, acpi: Option<&Acpi>) {
    let anchors = acpi.into_iter().flat_map(|a| a.tables().iter().map(|t| t.pa)).chain([argv]);
    let Some(lowest) = anchors.filter(|&pa| pa >= LOW_MEMORY).min() else { return };
    let Some(ram) = memory
        .regions()
        .iter()
        .find(|r| r.kind == RegionKind::Usable && r.base <= lowest && lowest < r.end())
        .copied()
    else {
        log::warn!("U-Boot's data at {lowest:#x} is outside usable RAM: nothing reserved for it");
        return;
    };
    let floor = (lowest & !(LOW_MEMORY - 1)).saturating_sub(UBOOT_HEAP_MARGIN).max(ram.base).max(LOW_MEMORY);
    log::debug!("U-Boot's memory: {floor:#x}..{:#x} kept (lowest U-Boot data at {lowest:#x})", ram.end());
    memory.add(floor, ram.end() - floor, RegionKind::Boot).unwrap_or_else(|e| fail(e));
}

/// The reservations every loader needs, the interrupt controllers and the timer.
fn finish(
    loader: Loader,
    mut memory: MemoryMap,
    cmdline: Cmdline,
    acpi: Option<(u64, Acpi)>,
    loader_cpus: CpuList,
) -> BootInfo {
    memory.add(0, LOW_MEMORY, RegionKind::Reserved).unwrap_or_else(|e| fail(e));
    let (ks, ke) = paging::kernel_image();
    memory.add(ks, ke - ks, RegionKind::Kernel).unwrap_or_else(|e| fail(e));
    if let Some((_, a)) = &acpi {
        for t in a.tables() {
            memory.add(t.pa, t.len as u64, RegionKind::Firmware).unwrap_or_else(|e| fail(e));
        }
    }
    if memory.usable_bytes() == 0 {
        fail(pecan_boot::BootError::NoUsableMemory);
    }

    let pcid = cpu::enable_pcid();
    mmu::init(pcid, cpu::has_invpcid());
    pic::disable();
    lapic::init();
    let madt = acpi.as_ref().and_then(|(_, a)| a.madt);
    match &madt {
        Some(m) if m.ioapic.is_some() => ioapic::init(m.ioapic.unwrap_or_default(), m.isos(), lapic::id()),
        _ => log::warn!("no IOAPIC in the MADT: device interrupts unavailable"),
    }
    let (apic_hz, tsc_hz) = lapic::start_timer();
    log::debug!(
        "timer: APIC {} kHz, TSC {} kHz (against the PIT), tick {} Hz; PCID {}",
        apic_hz / 1000,
        tsc_hz / 1000,
        lapic::TICK_HZ,
        if pcid { "on" } else { "absent" }
    );
    let cpu_ids = cpu_list(loader_cpus, madt.as_ref());
    let cpus = crate::smp::start_secondaries(&cpu_ids, &mut memory);
    BootInfo { loader, memory, cmdline, dtb: None, rsdp: acpi.map(|(at, _)| at), cpus, cpu_ids }
}

/// The CPUs to start, the boot CPU first: the MADT's local APICs, else the loader's list
/// (Limine's MP answer), else fw_cfg's count with QEMU's APIC ids (0, 1, ...), else only
/// this CPU.
fn cpu_list(loader: CpuList, madt: Option<&acpi::Madt>) -> CpuList {
    let mut ids = match madt {
        Some(m) if !m.apic_ids.is_empty() => m.apic_ids,
        _ if !loader.is_empty() => loader,
        _ => {
            let mut l = CpuList::new();
            (0..fwcfg::cpu_count().unwrap_or(1) as u64).for_each(|i| l.push(i));
            l
        }
    };
    ids.put_first(lapic::id() as u64);
    ids
}

/// `Machine::corrupt_bootinfo`: parses a copy of fw_cfg's `etc/e820` with its last entry
/// cut short, and panics with the parser's error.
pub fn corrupt_bootinfo() -> ! {
    let mut raw = [0u8; E820_MAX];
    let r = fwcfg::read_e820(&mut raw).and_then(|n| {
        let cut = n.saturating_sub(7);
        log::info!("corrupt-bootinfo: parsing etc/e820 ({n} bytes) cut to {cut} bytes");
        e820::memory_map(&raw[..cut])
    });
    match r {
        Err(e) => fail(e),
        Ok(_) => panic!("bad boot information was accepted: a truncated e820 map parsed"),
    }
}
