//! A simulated machine implementing `pecan_hal::Hal`, for host tests of the core.
//!
//! Physical memory is sparse (pages appear when first touched), the MMU keeps a model TLB
//! that caches translations the way hardware does, so a test can catch a missing flush
//! ([`Sim::user_access`] after an unmap must fault), the console records what is written,
//! and interrupt lines have mask bits.

mod context;
mod pte;

pub use context::SimContext;
pub use pte::SimPte;

use pecan_hal::handoff::Space;
use pecan_hal::{
    Asid, Attrs, Console, CopyFault, CpuSet, Flush, Hal, InterruptController, Ipi, IpiTarget, Mmu, PAGE_SIZE,
    PhysAddr, PhysMem, PteFormat, PteKind, Timer, VirtAddr,
};
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// A cheap hasher for page numbers (the default SipHash dominates host-test time).
#[derive(Default)]
pub struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

type PageMap<V> = HashMap<u64, V, BuildHasherDefault<PageHasher>>;

/// Sparse physical memory.
#[derive(Default)]
pub struct SimMem {
    pages: PageMap<Box<[u8; 4096]>>,
}

impl SimMem {
    /// The page holding `pa`, if it was ever written (an untouched page reads as zero).
    pub fn page(&self, pa: u64) -> Option<&[u8; 4096]> {
        self.pages.get(&(pa / PAGE_SIZE)).map(|b| &**b)
    }

    fn page_mut(&mut self, pa: u64) -> &mut [u8; 4096] {
        self.pages.entry(pa / PAGE_SIZE).or_insert_with(|| Box::new([0; 4096]))
    }

    /// Pages touched so far.
    pub fn touched(&self) -> usize {
        self.pages.len()
    }
}

impl PhysMem for SimMem {
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        assert_eq!(pa.0 % 8, 0, "misaligned read at {:#x}", pa.0);
        let off = (pa.0 % PAGE_SIZE) as usize;
        self.page(pa.0).map_or(0, |p| u64::from_le_bytes(p[off..off + 8].try_into().unwrap()))
    }

    fn write_u64(&mut self, pa: PhysAddr, v: u64) {
        assert_eq!(pa.0 % 8, 0, "misaligned write at {:#x}", pa.0);
        let off = (pa.0 % PAGE_SIZE) as usize;
        self.page_mut(pa.0)[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let a = pa.0 + done as u64;
            let off = (a % PAGE_SIZE) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE as usize - off);
            match self.page(a) {
                Some(p) => buf[done..done + n].copy_from_slice(&p[off..off + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
    }

    fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]) {
        let mut done = 0;
        while done < buf.len() {
            let a = pa.0 + done as u64;
            let off = (a % PAGE_SIZE) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE as usize - off);
            self.page_mut(a)[off..off + n].copy_from_slice(&buf[done..done + n]);
            done += n;
        }
    }

    fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize) {
        let mut tmp = vec![0u8; len];
        self.read_bytes(src, &mut tmp);
        self.write_bytes(dst, &tmp);
    }

    fn zero(&mut self, pa: PhysAddr, len: usize) {
        if pa.0.is_multiple_of(PAGE_SIZE) && len as u64 == PAGE_SIZE {
            self.pages.remove(&(pa.0 / PAGE_SIZE));
            return;
        }
        self.write_bytes(pa, &vec![0; len]);
    }
}

/// The MMU: the loaded root, a model TLB and counts of what was asked.
#[derive(Default)]
pub struct SimMmu {
    /// Number of ASIDs offered (0: untagged).
    pub asids: usize,
    /// The loaded user root and its ASID.
    pub active: Option<(PhysAddr, Asid)>,
    /// Cached translations: (asid, page) -> (frame, attrs).
    pub tlb: HashMap<(u16, u64), (PhysAddr, Attrs), BuildHasherDefault<PageHasher>>,
    /// Address-space switches.
    pub switches: u64,
    /// Flushes of all kinds.
    pub flushes: u64,
    /// Roots the kernel initialized.
    pub roots: BTreeSet<u64>,
}

impl Mmu for SimMmu {
    fn asid_count(&self) -> usize {
        self.asids
    }

    fn init_user_root(&mut self, root: PhysAddr) {
        self.roots.insert(root.0);
    }

    fn activate(&mut self, root: PhysAddr, asid: Asid, flush: bool) {
        self.switches += 1;
        if self.asids <= 1 {
            // Untagged: loading a root drops every (non-global) translation.
            self.tlb.clear();
        } else if flush {
            self.tlb.retain(|(a, _), _| *a != asid.0);
            self.flushes += 1;
        }
        self.active = Some((root, asid));
    }

    fn deactivate(&mut self) {
        self.active = None;
        if self.asids <= 1 {
            self.tlb.clear();
        }
    }

    fn flush_page(&mut self, asid: Asid, va: VirtAddr) {
        self.flushes += 1;
        self.tlb.remove(&(asid.0, va.0 & !(PAGE_SIZE - 1)));
    }

    fn flush_asid(&mut self, asid: Asid) {
        self.flushes += 1;
        self.tlb.retain(|(a, _), _| *a != asid.0);
    }

    fn flush_all(&mut self) {
        self.flushes += 1;
        self.tlb.clear();
    }
}

/// The timer: 1 kHz ticks and a clock the test advances.
#[derive(Default)]
pub struct SimTimer {
    /// Nanoseconds since boot.
    pub now: u64,
}

impl Timer for SimTimer {
    fn tick_hz(&self) -> u64 {
        1000
    }
    fn now_ns(&self) -> u64 {
        self.now
    }
}

/// Interrupt lines with mask bits.
pub struct SimIrq {
    /// Masked lines.
    pub masked: Vec<bool>,
}

impl InterruptController for SimIrq {
    fn lines(&self) -> u32 {
        self.masked.len() as u32
    }
    fn is_user_line(&self, line: u32) -> bool {
        line != 0 && (line as usize) < self.masked.len()
    }
    fn mask(&mut self, line: u32) {
        if let Some(m) = self.masked.get_mut(line as usize) {
            *m = true;
        }
    }
    fn unmask(&mut self, line: u32) {
        if let Some(m) = self.masked.get_mut(line as usize) {
            *m = false;
        }
    }
}

/// A console that records.
#[derive(Default)]
pub struct SimConsole {
    /// Everything written.
    pub out: Vec<u8>,
}

impl Console for SimConsole {
    fn write(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

/// The simulated machine.
pub struct Sim {
    /// Memory.
    pub mem: SimMem,
    /// MMU.
    pub mmu: SimMmu,
    /// Timer.
    pub timer: SimTimer,
    /// Interrupt controller.
    pub irq: SimIrq,
    /// Console.
    pub console: SimConsole,
    /// I/O ports (a latch per port: reads return the last value written).
    pub ports: HashMap<u16, u32>,
    /// Long IPC: an interrupt becomes pending after this many more preemption checks
    /// (`None`: never). Each time it fires it is cleared.
    pub preempt_after: Option<u32>,
    /// Long IPC: preemption checks made.
    pub preempt_checks: u64,
    /// Long IPC: bytes copied by `copy_virt`.
    pub copied: u64,
    /// The CPU the code runs on now (`Hal::cpu_id`); change it with [`Sim::set_cpu`].
    pub cpu: usize,
    /// CPUs of the machine (`Hal::cpus_online`).
    pub cpus: usize,
    /// Each CPU's loaded address space while another CPU runs (the MMU registers are
    /// per CPU; the model TLB is shared, which only ever flushes more than hardware).
    pub loaded: Vec<Option<(PhysAddr, Asid)>>,
    /// IPIs sent, in order: (target CPU, kind).
    pub ipis: Vec<(usize, Ipi)>,
    /// CPUs kicked out of user mode (`Hal::kick`), in order.
    pub kicks: Vec<usize>,
    /// Shootdowns asked for (`Hal::shootdown`), in order: the target CPUs and the flush.
    pub shootdowns: Vec<(CpuSet, Flush)>,
    /// Threads handed to idle CPUs (`Hal::handoff`), in order: the target CPU and the space
    /// it loads (which becomes its loaded one at once: the target resumes the thread).
    pub handoffs: Vec<(usize, Option<Space>)>,
    /// The CPUs poll their doorbells (`Hal::handoff` then needs no IPI).
    pub polling: bool,
}

/// Where the simulated kernel's direct map of physical memory starts.
pub const SIM_DIRECT_MAP: u64 = 0xffff_8000_0000_0000;
/// The simulated window region (the top of the lower half, as on AArch64).
pub const SIM_WINDOW_BASE: u64 = 0x0000_ff80_0000_0000;

/// Why a simulated user access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessFault {
    /// No translation (a page fault).
    NotMapped,
    /// Mapped, but not for this access.
    Denied,
}

impl Sim {
    /// A machine with `asids` ASIDs (0: untagged) and 64 interrupt lines.
    pub fn new(asids: usize) -> Self {
        Sim {
            mem: SimMem::default(),
            mmu: SimMmu { asids, ..Default::default() },
            timer: SimTimer::default(),
            irq: SimIrq { masked: vec![true; 64] },
            console: SimConsole::default(),
            ports: HashMap::new(),
            preempt_after: None,
            preempt_checks: 0,
            copied: 0,
            cpu: 0,
            cpus: 1,
            loaded: vec![None; 1],
            ipis: Vec::new(),
            kicks: Vec::new(),
            shootdowns: Vec::new(),
            handoffs: Vec::new(),
            polling: false,
        }
    }

    /// A machine with `cpus` CPUs (see [`Sim::new`]).
    pub fn with_cpus(asids: usize, cpus: usize) -> Self {
        Sim { cpus, loaded: vec![None; cpus], ..Sim::new(asids) }
    }

    /// Continues on CPU `cpu`: its MMU registers become the loaded ones.
    pub fn set_cpu(&mut self, cpu: usize) {
        self.loaded[self.cpu] = self.mmu.active;
        self.cpu = cpu;
        self.mmu.active = self.loaded[cpu];
    }

    /// A user-mode access to `va` in the loaded address space, through the model TLB as
    /// hardware would: a cached translation is used even if the page table changed.
    pub fn user_access(&mut self, va: u64, write: bool) -> Result<PhysAddr, AccessFault> {
        let (root, asid) = self.mmu.active.ok_or(AccessFault::NotMapped)?;
        let page = va & !(PAGE_SIZE - 1);
        let hit = self.mmu.tlb.get(&(asid.0, page)).copied();
        let (frame, attrs) = match hit {
            Some(e) => e,
            None => {
                let (pa, attrs) = walk(&self.mem, root, page).ok_or(AccessFault::NotMapped)?;
                self.mmu.tlb.insert((asid.0, page), (pa, attrs));
                (pa, attrs)
            }
        };
        if !attrs.user || (write && !attrs.write) {
            return Err(AccessFault::Denied);
        }
        Ok(frame.add(va % PAGE_SIZE))
    }
}

/// The translation of page `va` under `root` as the hardware walks it: the leaf's frame and
/// attributes, user access only if every table entry on the way allows it too (x86_64
/// U/S, AArch64 APTable: how the long-IPC window is kept from user mode).
fn walk(mem: &SimMem, root: PhysAddr, va: u64) -> Option<(PhysAddr, Attrs)> {
    let mut table = root;
    let mut user = true;
    for level in (0..4).rev() {
        let raw = mem.read_u64(table.add(pecan_mm::pagetable::index(va, level) as u64 * 8));
        match SimPte::decode(raw, level) {
            PteKind::Invalid => return None,
            PteKind::Table(next) if level > 0 => {
                user &= raw >> 5 & 1 != 0;
                table = next;
            }
            PteKind::Table(_) => return None,
            PteKind::Leaf(pa, mut attrs) => {
                let off = va & (pecan_mm::pagetable::level_size(level) - 1) & !(PAGE_SIZE - 1);
                attrs.user &= user;
                return Some((pa.add(off), attrs));
            }
        }
    }
    None
}

impl Sim {
    /// A kernel-mode access to `va` (the direct map, or the loaded address space through
    /// the model TLB, ignoring the user bit as the kernel may): the physical address, or
    /// the fault the copy routine's fix-up would report.
    pub fn kernel_access(&mut self, va: u64, write: bool) -> Result<PhysAddr, CopyFault> {
        let fault = CopyFault { addr: va, write };
        if va >= SIM_DIRECT_MAP {
            return Ok(PhysAddr(va - SIM_DIRECT_MAP));
        }
        let (root, asid) = self.mmu.active.ok_or(fault)?;
        let page = va & !(PAGE_SIZE - 1);
        let (frame, attrs) = match self.mmu.tlb.get(&(asid.0, page)).copied() {
            Some(e) => e,
            None => {
                let (pa, attrs) = walk(&self.mem, root, page).ok_or(fault)?;
                self.mmu.tlb.insert((asid.0, page), (pa, attrs));
                (pa, attrs)
            }
        };
        if write && !attrs.write {
            return Err(fault);
        }
        Ok(frame.add(va % PAGE_SIZE))
    }
}

impl Hal for Sim {
    type Context = SimContext;
    type Pte = SimPte;
    type Mem = SimMem;
    type Mmu = SimMmu;
    type Timer = SimTimer;
    type Irq = SimIrq;
    type Console = SimConsole;

    fn mem(&mut self) -> &mut SimMem {
        &mut self.mem
    }
    fn mmu(&mut self) -> &mut SimMmu {
        &mut self.mmu
    }
    fn timer(&mut self) -> &mut SimTimer {
        &mut self.timer
    }
    fn irq(&mut self) -> &mut SimIrq {
        &mut self.irq
    }
    fn console(&mut self) -> &mut SimConsole {
        &mut self.console
    }
    fn cpu_id(&self) -> usize {
        self.cpu
    }
    fn cpus_online(&self) -> usize {
        self.cpus
    }
    fn send_ipi(&mut self, to: IpiTarget, kind: Ipi) {
        if let IpiTarget::Cpu(c) = to {
            self.ipis.push((c, kind));
        }
    }
    const HANDOFF: bool = true;
    fn handoff(&mut self, cpu: usize, _ctx: *mut SimContext, space: Option<Space>) -> bool {
        self.handoffs.push((cpu, space));
        if let Some(s) = space {
            self.loaded[cpu] = Some((s.root, s.asid));
        }
        !self.polling
    }
    fn kick(&mut self, cpu: usize) {
        self.kicks.push(cpu);
        self.loaded[cpu] = None;
    }
    fn shootdown(&mut self, targets: CpuSet, flush: Flush) {
        // The model TLB is shared: the local flush reaches every CPU.
        self.shootdowns.push((targets, flush));
        let m = &mut self.mmu;
        match flush {
            Flush::Page { asid, va } => m.flush_page(asid, va),
            Flush::Asid(asid) => m.flush_asid(asid),
            Flush::All => m.flush_all(),
            Flush::KernelPage(va) => m.flush_kernel_page(va),
        }
    }
    fn exit(&mut self, code: u32) -> ! {
        panic!("simulated machine exit with code {code}")
    }

    const WINDOW_BASE: u64 = SIM_WINDOW_BASE;

    fn copy_virt(&mut self, dst: VirtAddr, src: VirtAddr, len: usize) -> Result<(), CopyFault> {
        let mut done = 0u64;
        let len = len as u64;
        while done < len {
            let (s, d) = (src.0 + done, dst.0 + done);
            let n = (len - done).min(PAGE_SIZE - s % PAGE_SIZE).min(PAGE_SIZE - d % PAGE_SIZE);
            let spa = self.kernel_access(s, false)?;
            let dpa = self.kernel_access(d, true)?;
            self.mem.copy(dpa, spa, n as usize);
            self.copied += n;
            done += n;
        }
        Ok(())
    }

    fn kernel_va(&self, pa: PhysAddr) -> VirtAddr {
        VirtAddr(SIM_DIRECT_MAP + pa.0)
    }

    fn preempt_pending(&mut self) -> bool {
        self.preempt_checks += 1;
        match self.preempt_after {
            Some(0) => {
                self.preempt_after = None;
                true
            }
            Some(n) => {
                self.preempt_after = Some(n - 1);
                false
            }
            None => false,
        }
    }

    const HAS_IO_PORTS: bool = true;

    fn port_in(&mut self, port: u16, width: u8) -> Option<u32> {
        let mask = if width == 4 { u32::MAX } else { (1u32 << (8 * width as u32)) - 1 };
        Some(self.ports.get(&port).copied().unwrap_or(0) & mask)
    }

    fn port_out(&mut self, port: u16, _width: u8, value: u32) -> bool {
        self.ports.insert(port, value);
        true
    }
}

/// Decodes a PTE for tests.
pub fn decode(raw: u64, level: usize) -> PteKind {
    SimPte::decode(raw, level)
}
