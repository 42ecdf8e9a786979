//! Device tree (AArch64): memory, reserved regions, command line, CPUs and devices.
//!
//! [`parse`] turns the flattened device tree the loader passed into the memory map, the
//! command line and the few devices the kernel drives itself (PL011, GIC, generic timer,
//! PSCI). It never panics on malformed input: the header and the whole structure block
//! are checked first ([`validate`]), and only then handed to the `fdt` crate, whose
//! accessors assume a well-formed tree.

use fdt::Fdt;
use fdt::node::FdtNode;

use crate::{BootError, Cmdline, CpuList, MemoryMap, RegionKind};

/// The FDT header magic.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Size of the FDT header (version 17).
pub const HEADER_SIZE: usize = 40;
/// Largest device tree accepted (Linux's limit for arm64, too).
pub const MAX_SIZE: usize = 2 << 20;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_END: u32 = 9;
/// Deepest node nesting accepted (the `fdt` crate keeps 64 levels).
pub const MAX_DEPTH: usize = 32;

/// An MMIO register block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mmio {
    /// Physical base address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

/// A PL011 UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// Its registers.
    pub regs: Mmio,
    /// Its interrupt (GIC INTID), if the tree names one.
    pub intid: Option<u32>,
}

/// The GIC's programming model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    /// GICv2: distributor and memory-mapped CPU interface.
    V2,
    /// GICv3: distributor, redistributors and the ICC system registers.
    V3,
}

/// The interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// v2 or v3.
    pub version: GicVersion,
    /// The distributor.
    pub dist: Mmio,
    /// GICv3: the (first) redistributor region; GICv2: the CPU interface.
    pub redist_or_cpu: Mmio,
}

/// The generic timer's interrupts (GIC INTIDs of its PPIs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerIrqs {
    /// Secure EL1 physical timer.
    pub secure_phys: u32,
    /// Non-secure EL1 physical timer (CNTP).
    pub phys: u32,
    /// Virtual timer (CNTV).
    pub virt: u32,
    /// EL2 physical timer.
    pub hyp: u32,
}

/// How PSCI calls reach the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `hvc #0` (firmware at EL2: QEMU's own PSCI when the kernel starts at EL1).
    Hvc,
    /// `smc #0` (firmware at EL3, or QEMU with `virtualization=on`).
    Smc,
}

/// Everything the kernel takes from the device tree.
#[derive(Clone, Debug)]
pub struct DtbInfo {
    /// RAM from the `/memory` nodes as usable, minus `/reserved-memory`, the
    /// memory-reservation block and the device tree itself.
    pub memory: MemoryMap,
    /// `/chosen/bootargs`.
    pub cmdline: Cmdline,
    /// Number of `cpu` nodes under `/cpus` (at least 1).
    pub cpus: usize,
    /// The MPIDR affinity (`reg`) of every `cpu` node under `/cpus` that is not disabled,
    /// in tree order (the arch moves the boot CPU first).
    pub cpu_ids: CpuList,
    /// The first PL011 (the one `/chosen/stdout-path` names, if it names one).
    pub uart: Option<Uart>,
    /// The interrupt controller.
    pub gic: Option<Gic>,
    /// The generic timer's interrupts.
    pub timer: Option<TimerIrqs>,
    /// PSCI and its conduit.
    pub psci: Option<PsciConduit>,
    /// Size of the tree in bytes (its header's `totalsize`).
    pub size: usize,
    /// U-Boot fixed the tree up (`/chosen/u-boot,version` is there): the loader was U-Boot.
    pub uboot: bool,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// Checks the header at the start of `bytes` (at least [`HEADER_SIZE`] bytes) and returns
/// the tree's total size. Used before the whole tree is mapped.
pub fn total_size(bytes: &[u8]) -> Result<usize, BootError> {
    if be32(bytes, 0) != Some(FDT_MAGIC) {
        return Err(BootError::BadDtb);
    }
    let size = be32(bytes, 4).ok_or(BootError::BadDtb)? as usize;
    if !(HEADER_SIZE..=MAX_SIZE).contains(&size) {
        return Err(BootError::BadDtb);
    }
    Ok(size)
}

/// A C string starting at `at` inside `block`: its bytes, without the NUL.
fn cstr(block: &[u8], at: usize) -> Option<&[u8]> {
    let rest = block.get(at..)?;
    let n = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..n])
}

/// Checks that `bytes` holds one complete, well-formed device tree: header fields inside
/// the buffer, a terminated memory-reservation block, and a structure block of the form
/// `node END` with `node := BEGIN_NODE name PROP* node* END_NODE` (the grammar the `fdt`
/// crate parses without panicking: no `NOP` tokens, properties before children, at most
/// [`MAX_DEPTH`] levels), NUL-terminated UTF-8 names, property names inside the strings
/// block, and 4-byte values for the cell-count properties. Returns the header's size.
pub fn validate(bytes: &[u8]) -> Result<usize, BootError> {
    let bad = BootError::BadDtb;
    if bytes.len() < HEADER_SIZE {
        return Err(bad);
    }
    let total = total_size(bytes)?;
    if total > bytes.len() {
        return Err(bad);
    }
    let b = &bytes[..total];
    let h = |i: usize| be32(b, 4 * i).ok_or(bad);
    let (off_struct, off_strings, off_rsv) = (h(2)? as usize, h(3)? as usize, h(4)? as usize);
    let (version, last_comp) = (h(5)?, h(6)?);
    let (size_strings, size_struct) = (h(8)? as usize, h(9)? as usize);
    // Version 17 is what QEMU and U-Boot write; 16 lacks the structure-block size.
    if version < 17 || last_comp > 17 {
        return Err(bad);
    }
    let inside = |off: usize, len: usize| off.checked_add(len).is_some_and(|end| end <= total);
    if !inside(off_struct, size_struct) || !inside(off_strings, size_strings) {
        return Err(bad);
    }
    if off_struct % 4 != 0 || size_struct % 4 != 0 || off_rsv % 8 != 0 || off_rsv < HEADER_SIZE {
        return Err(bad);
    }
    // The memory-reservation block: (address, size) pairs ending with (0, 0).
    let mut at = off_rsv;
    loop {
        let (a, s) = (be64(b, at).ok_or(bad)?, be64(b, at + 8).ok_or(bad)?);
        at += 16;
        if a == 0 && s == 0 {
            break;
        }
    }
    let strings = &b[off_strings..off_strings + size_strings];
    let st = &b[off_struct..off_struct + size_struct];
    let mut pos = 0usize;
    let mut depth = 0usize;
    let mut nodes = 0usize;
    // Whether the current node may still have properties (none after its first child).
    let mut props_allowed = false;
    loop {
        let token = be32(st, pos).ok_or(bad)?;
        match token {
            FDT_BEGIN_NODE => {
                let name = cstr(st, pos + 4).ok_or(bad)?;
                core::str::from_utf8(name).map_err(|_| bad)?;
                // The first node is the root, whose name is empty; nothing follows it.
                if (nodes == 0) != name.is_empty() || (nodes > 0 && depth == 0) || depth >= MAX_DEPTH {
                    return Err(bad);
                }
                pos = (pos + 4 + name.len() + 1).next_multiple_of(4);
                depth += 1;
                nodes += 1;
                props_allowed = true;
            }
            FDT_END_NODE => {
                depth = depth.checked_sub(1).ok_or(bad)?;
                pos += 4;
                props_allowed = false;
            }
            FDT_PROP => {
                if depth == 0 || !props_allowed {
                    return Err(bad);
                }
                let len = be32(st, pos + 4).ok_or(bad)? as usize;
                let name_off = be32(st, pos + 8).ok_or(bad)? as usize;
                let value_end = (pos + 12).checked_add(len).ok_or(bad)?;
                if value_end > st.len() {
                    return Err(bad);
                }
                let name = cstr(strings, name_off).ok_or(bad)?;
                let name = core::str::from_utf8(name).map_err(|_| bad)?;
                let cells =
                    ["#address-cells", "#size-cells", "#interrupt-cells", "phandle", "interrupt-parent"];
                if cells.contains(&name) && len != 4 {
                    return Err(bad);
                }
                pos = value_end.next_multiple_of(4);
            }
            FDT_END => {
                if depth != 0 || nodes == 0 {
                    return Err(bad);
                }
                return Ok(total);
            }
            _ => return Err(bad),
        }
    }
}

/// The big-endian cells of a property value.
fn cells(value: &[u8]) -> impl Iterator<Item = u32> + '_ {
    value.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// A property as a string, without its NUL terminator.
fn prop_str<'a>(node: FdtNode<'_, 'a>, name: &str) -> Option<&'a str> {
    let v = node.property(name)?.value;
    let v = v.split(|&b| b == 0).next()?;
    core::str::from_utf8(v).ok()
}

/// The `(address, size)` pairs of a node's `reg`, with the parent's cell sizes (1 or 2).
fn regs<'a>(node: FdtNode<'_, 'a>) -> impl Iterator<Item = Mmio> + 'a {
    node.reg()
        .into_iter()
        .flatten()
        .filter_map(|r| Some(Mmio { base: r.starting_address as u64, size: r.size? as u64 }))
}

fn is_compatible(node: FdtNode<'_, '_>, with: &[&str]) -> bool {
    node.compatible().is_some_and(|c| c.all().any(|s| with.contains(&s)))
}

/// A GIC interrupt specifier (`<type number flags>`) as an INTID: SPI n is 32 + n, PPI n
/// is 16 + n.
fn gic_intid(spec: &[u32]) -> Option<u32> {
    match spec {
        [0, n, ..] if *n < 988 => Some(32 + n),
        [1, n, ..] if *n < 16 => Some(16 + n),
        _ => None,
    }
}

/// The INTIDs of a node's `interrupts` (3-cell GIC specifiers).
fn intids<const N: usize>(node: FdtNode<'_, '_>) -> Option<[u32; N]> {
    let v = node.property("interrupts")?.value;
    let spec: [u32; 12] = {
        let mut a = [0u32; 12];
        for (slot, c) in a.iter_mut().zip(cells(v)) {
            *slot = c;
        }
        a
    };
    if v.len() < N * 12 || N > 4 {
        return None;
    }
    let mut out = [0u32; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = gic_intid(&spec[3 * i..3 * i + 3])?;
    }
    Some(out)
}

/// Translates the device tree in `bytes`, which the loader placed at physical address
/// `pa`, into the kernel's view of the machine.
pub fn parse(bytes: &[u8], pa: u64) -> Result<DtbInfo, BootError> {
    let size = validate(bytes)?;
    let fdt = Fdt::new(&bytes[..size]).map_err(|_| BootError::BadDtb)?;
    let root = fdt.find_node("/").ok_or(BootError::BadDtb)?;

    // RAM: every root child named `memory` (or `memory@...`) or of device_type "memory".
    let mut memory = MemoryMap::new();
    for node in root.children() {
        let named = node.name == "memory" || node.name.starts_with("memory@");
        if !named && prop_str(node, "device_type") != Some("memory") {
            continue;
        }
        for r in regs(node) {
            memory.add(r.base, r.size, RegionKind::Usable)?;
        }
    }
    if memory.usable_bytes() == 0 {
        return Err(BootError::NoMemoryInDtb);
    }
    // Reservations: the memory-reservation block, /reserved-memory, the tree itself.
    for r in fdt.memory_reservations() {
        memory.add(r.address() as u64, r.size() as u64, RegionKind::Reserved)?;
    }
    if let Some(resv) = fdt.find_node("/reserved-memory") {
        for child in resv.children() {
            for r in regs(child) {
                memory.add(r.base, r.size, RegionKind::Reserved)?;
            }
        }
    }
    memory.add(pa, size as u64, RegionKind::Boot)?;
    if memory.usable_bytes() == 0 {
        return Err(BootError::NoUsableMemory);
    }

    let chosen = fdt.find_node("/chosen");
    let cmdline =
        chosen.and_then(|c| c.property("bootargs")).map(|p| Cmdline::new(p.value)).unwrap_or_default();
    let uboot = chosen.is_some_and(|c| c.property("u-boot,version").is_some());

    let cpus = fdt
        .find_node("/cpus")
        .map(|c| c.children().filter(|n| n.name == "cpu" || n.name.starts_with("cpu@")).count())
        .unwrap_or(0)
        .max(1);
    let cpu_ids = cpu_ids(&fdt);

    // The console: the node /chosen/stdout-path names if it is a PL011, else the first PL011.
    let pl011 = |n: FdtNode<'_, '_>| is_compatible(n, &["arm,pl011"]);
    let stdout = chosen
        .and_then(|c| prop_str(c, "stdout-path"))
        .and_then(|p| fdt.find_node(p.split(':').next().unwrap_or(p)))
        .filter(|n| pl011(*n));
    let uart = stdout.or_else(|| fdt.all_nodes().find(|n| pl011(*n))).and_then(|n| {
        let regs = regs(n).next()?;
        Some(Uart { regs, intid: intids::<1>(n).map(|[i]| i) })
    });

    let gic = fdt.all_nodes().find_map(|n| {
        let version = if is_compatible(n, &["arm,gic-v3"]) {
            GicVersion::V3
        } else if is_compatible(n, &["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"]) {
            GicVersion::V2
        } else {
            return None;
        };
        let mut r = regs(n);
        Some(Gic { version, dist: r.next()?, redist_or_cpu: r.next()? })
    });

    let timer =
        fdt.all_nodes().find(|n| is_compatible(*n, &["arm,armv8-timer", "arm,armv7-timer"])).and_then(|n| {
            let [secure_phys, phys, virt, hyp] = intids::<4>(n)?;
            Some(TimerIrqs { secure_phys, phys, virt, hyp })
        });

    let psci = fdt
        .find_node("/psci")
        .filter(|n| is_compatible(*n, &["arm,psci", "arm,psci-0.2", "arm,psci-1.0"]))
        .and_then(|n| match prop_str(n, "method")? {
            "hvc" => Some(PsciConduit::Hvc),
            "smc" => Some(PsciConduit::Smc),
            _ => None,
        });

    Ok(DtbInfo { memory, cmdline, cpus, cpu_ids, uart, gic, timer, psci, size, uboot })
}

/// The `reg` of every enabled `cpu` node under `/cpus`: one or two cells (the node's
/// `#address-cells`, 2 if absent, as the binding says), `#size-cells` 0. A node without
/// a readable `reg` is skipped.
fn cpu_ids(fdt: &Fdt<'_>) -> CpuList {
    let mut list = CpuList::new();
    let Some(cpus) = fdt.find_node("/cpus") else { return list };
    let acells = cpus.property("#address-cells").and_then(|p| cells(p.value).next()).unwrap_or(2);
    for n in cpus.children().filter(|n| n.name == "cpu" || n.name.starts_with("cpu@")) {
        if prop_str(n, "status").is_some_and(|s| s != "okay" && s != "ok") {
            continue;
        }
        let Some(reg) = n.property("reg") else { continue };
        let mut c = cells(reg.value);
        let id = match acells {
            1 => c.next().map(u64::from),
            2 => c.next().zip(c.next()).map(|(hi, lo)| (hi as u64) << 32 | lo as u64),
            _ => None,
        };
        if let Some(id) = id {
            list.push(id);
        }
    }
    list
}

/// Replaces every occurrence of `what` in the structure block of the (valid) tree in `buf`
/// with `with` (same length). For tests that need a tree without some node: the kernel's
/// `corrupt-bootinfo` self-test and the host tests. Returns how many were replaced.
pub fn rename_in_structure(buf: &mut [u8], what: &[u8], with: &[u8]) -> usize {
    let (Some(off), Some(len)) = (be32(buf, 8), be32(buf, 36)) else { return 0 };
    let (off, len) = (off as usize, len as usize);
    let Some(st) = buf.get_mut(off..off.saturating_add(len)) else { return 0 };
    if what.len() != with.len() || what.is_empty() {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while i + what.len() <= st.len() {
        if &st[i..i + what.len()] == what {
            st[i..i + what.len()].copy_from_slice(with);
            n += 1;
            i += what.len();
        } else {
            i += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::Region;
    use std::vec::Vec;

    const VIRT: &[u8] = include_bytes!("testdata/qemu-virt-gicv3-smp2.dtb");
    const VIRT_EL2: &[u8] = include_bytes!("testdata/qemu-virt-el2-a72-smp4.dtb");

    #[test]
    fn qemu_virt_gicv3() {
        let pa = 0x5fe0_0000;
        let info = parse(VIRT, pa).unwrap();
        assert_eq!(info.size, VIRT.len());
        assert_eq!(info.cmdline.as_str(), "test=boot log=debug");
        assert_eq!(info.cpus, 2);
        assert_eq!(info.cpu_ids.ids(), &[0, 1]);
        assert_eq!(info.uart, Some(Uart { regs: Mmio { base: 0x0900_0000, size: 0x1000 }, intid: Some(33) }));
        assert_eq!(
            info.gic,
            Some(Gic {
                version: GicVersion::V3,
                dist: Mmio { base: 0x0800_0000, size: 0x1_0000 },
                redist_or_cpu: Mmio { base: 0x080a_0000, size: 0xf6_0000 },
            })
        );
        assert_eq!(info.timer, Some(TimerIrqs { secure_phys: 29, phys: 30, virt: 27, hyp: 26 }));
        assert_eq!(info.psci, Some(PsciConduit::Hvc));
        assert!(!info.uboot, "QEMU's own tree");
        // 512 MiB at 1 GiB, with the tree itself carved out as loader data.
        let size = VIRT.len() as u64;
        assert_eq!(
            info.memory.regions(),
            &[
                Region { base: 0x4000_0000, size: pa - 0x4000_0000, kind: RegionKind::Usable },
                Region { base: pa, size, kind: RegionKind::Boot },
                Region { base: pa + size, size: 0x6000_0000 - pa - size, kind: RegionKind::Usable },
            ]
        );
    }

    #[test]
    fn qemu_virt_el2_a72() {
        let info = parse(VIRT_EL2, 0x4000_0000).unwrap();
        assert_eq!(info.cpus, 4);
        assert_eq!(info.cpu_ids.ids(), &[0, 1, 2, 3]);
        assert_eq!(info.psci, Some(PsciConduit::Smc), "virtualization=on: PSCI through smc");
        assert_eq!(info.cmdline.as_str(), "");
        assert_eq!(info.gic.map(|g| g.version), Some(GicVersion::V3));
        assert_eq!(info.memory.regions()[0].kind, RegionKind::Boot);
        assert_eq!(info.memory.regions().last().unwrap().end(), 0x8000_0000);
    }

    #[test]
    fn header_total_size() {
        assert_eq!(total_size(VIRT), Ok(VIRT.len()));
        assert_eq!(total_size(&[0; 40]), Err(BootError::BadDtb));
        assert_eq!(total_size(&VIRT[..3]), Err(BootError::BadDtb));
    }

    #[test]
    fn bad_magic() {
        let mut d = VIRT.to_vec();
        d[0] ^= 0xff;
        assert_eq!(parse(&d, 0x4000_0000).unwrap_err(), BootError::BadDtb);
        assert_eq!(parse(&[], 0x4000_0000).unwrap_err(), BootError::BadDtb);
    }

    #[test]
    fn truncated() {
        for len in [0, 4, 39, 40, 100, VIRT.len() / 2, VIRT.len() - 1] {
            assert_eq!(parse(&VIRT[..len], 0x4000_0000).unwrap_err(), BootError::BadDtb, "len {len}");
        }
        // A header that claims blocks past its total size.
        let mut d = VIRT.to_vec();
        d[36..40].copy_from_slice(&0x10_0000u32.to_be_bytes());
        assert_eq!(parse(&d, 0x4000_0000).unwrap_err(), BootError::BadDtb);
    }

    #[test]
    fn no_memory_node() {
        let mut d = VIRT.to_vec();
        assert!(rename_in_structure(&mut d, b"memory", b"xemory") >= 2, "node name and device_type");
        assert_eq!(parse(&d, 0x4000_0000).unwrap_err(), BootError::NoMemoryInDtb);
        // The error says what is wrong.
        let msg = std::format!("{}", BootError::NoMemoryInDtb);
        assert!(msg.contains("/memory"), "{msg}");
    }

    /// Corrupting the tree gives a result or an error, never a panic.
    #[test]
    fn every_byte_corrupted() {
        // The header, reservations and first nodes: every byte three ways; the rest: every
        // third byte (all positions within a 4-byte token), to keep the test quick.
        for i in (0..512).chain((512..VIRT.len()).step_by(3)) {
            let flips: &[u8] = if i < 512 { &[0x01, 0x80, 0xff] } else { &[0xff] };
            for &x in flips {
                let mut d = VIRT.to_vec();
                d[i] ^= x;
                let _ = parse(&d, 0x4000_0000);
            }
        }
    }

    /// A minimal device-tree writer for trees QEMU does not produce.
    struct Builder {
        st: Vec<u8>,
        strings: Vec<u8>,
        rsv: Vec<(u64, u64)>,
    }

    impl Builder {
        fn new() -> Self {
            Builder { st: Vec::new(), strings: Vec::new(), rsv: Vec::new() }
        }
        fn u32(&mut self, v: u32) {
            self.st.extend_from_slice(&v.to_be_bytes());
        }
        fn begin(&mut self, name: &str) -> &mut Self {
            self.u32(FDT_BEGIN_NODE);
            self.st.extend_from_slice(name.as_bytes());
            self.st.push(0);
            while !self.st.len().is_multiple_of(4) {
                self.st.push(0);
            }
            self
        }
        fn end(&mut self) -> &mut Self {
            self.u32(FDT_END_NODE);
            self
        }
        fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            self.u32(FDT_PROP);
            self.u32(value.len() as u32);
            self.u32(off);
            self.st.extend_from_slice(value);
            while !self.st.len().is_multiple_of(4) {
                self.st.push(0);
            }
            self
        }
        fn prop_cells(&mut self, name: &str, cells: &[u32]) -> &mut Self {
            let v: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
            self.prop(name, &v)
        }
        fn finish(&mut self) -> Vec<u8> {
            self.u32(FDT_END);
            let off_rsv = HEADER_SIZE;
            let off_struct = off_rsv + 16 * (self.rsv.len() + 1);
            let off_strings = off_struct + self.st.len();
            let total = off_strings + self.strings.len();
            let mut out = Vec::new();
            for v in [
                FDT_MAGIC,
                total as u32,
                off_struct as u32,
                off_strings as u32,
                off_rsv as u32,
                17,
                16,
                0,
                self.strings.len() as u32,
                self.st.len() as u32,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            for &(a, s) in self.rsv.iter().chain([(0, 0)].iter()) {
                out.extend_from_slice(&a.to_be_bytes());
                out.extend_from_slice(&s.to_be_bytes());
            }
            out.extend_from_slice(&self.st);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    #[test]
    fn reservations_and_several_memory_nodes() {
        let mut b = Builder::new();
        b.rsv.push((0x4100_0000, 0x1_0000));
        b.begin("").prop_cells("#address-cells", &[2]).prop_cells("#size-cells", &[2]);
        b.begin("memory@40000000")
            .prop("device_type", b"memory\0")
            .prop_cells("reg", &[0, 0x4000_0000, 0, 0x1000_0000])
            .end();
        // A second bank, named only by device_type.
        b.begin("ram@80000000")
            .prop("device_type", b"memory\0")
            .prop_cells("reg", &[0, 0x8000_0000, 0, 0x100_0000])
            .end();
        b.begin("reserved-memory").prop_cells("#address-cells", &[2]).prop_cells("#size-cells", &[2]);
        b.begin("fw@48000000").prop_cells("reg", &[0, 0x4800_0000, 0, 0x20_0000]).prop("no-map", &[]).end();
        b.end();
        b.begin("chosen").prop("bootargs", b"log=trace\0").prop("u-boot,version", b"2023.01\0").end();
        b.end();
        let d = b.finish();
        let info = parse(&d, 0x4f00_0000).unwrap();
        use RegionKind::*;
        let r: Vec<(u64, u64, RegionKind)> =
            info.memory.regions().iter().map(|r| (r.base, r.end(), r.kind)).collect();
        let dend = 0x4f00_0000 + d.len() as u64;
        assert_eq!(
            r,
            [
                (0x4000_0000, 0x4100_0000, Usable),
                (0x4100_0000, 0x4101_0000, Reserved),
                (0x4101_0000, 0x4800_0000, Usable),
                (0x4800_0000, 0x4820_0000, Reserved),
                (0x4820_0000, 0x4f00_0000, Usable),
                (0x4f00_0000, dend, Boot),
                (dend, 0x5000_0000, Usable),
                (0x8000_0000, 0x8100_0000, Usable),
            ]
        );
        assert_eq!(info.cmdline.as_str(), "log=trace");
        assert!(info.uboot);
        assert_eq!((info.cpus, info.uart, info.gic, info.timer, info.psci), (1, None, None, None, None));
    }

    #[test]
    fn structure_errors() {
        // A tree whose memory is all reserved has no usable RAM.
        let mut b = Builder::new();
        b.begin("").prop_cells("#address-cells", &[1]).prop_cells("#size-cells", &[1]);
        b.begin("memory").prop_cells("reg", &[0x4000_0000, 0x1000]).end();
        b.end();
        b.rsv.push((0x4000_0000, 0x1000));
        assert_eq!(parse(&b.finish(), 0x9000_0000).unwrap_err(), BootError::NoUsableMemory);

        // Unbalanced nodes, a bad cell property, a second root.
        let mut b = Builder::new();
        b.begin("").begin("memory");
        assert_eq!(validate(&b.finish()), Err(BootError::BadDtb));
        let mut b = Builder::new();
        b.begin("").prop("#address-cells", &[0, 2]).end();
        assert_eq!(validate(&b.finish()), Err(BootError::BadDtb));
        let mut b = Builder::new();
        b.begin("").end().begin("").end();
        assert_eq!(validate(&b.finish()), Err(BootError::BadDtb));
        // No /memory at all.
        let mut b = Builder::new();
        b.begin("").begin("chosen").end().end();
        assert_eq!(parse(&b.finish(), 0).unwrap_err(), BootError::NoMemoryInDtb);
    }
}
