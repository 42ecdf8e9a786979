//! ACPI tables: finding the RSDP, walking the RSDT/XSDT (and the FADT's FACS and DSDT) to
//! learn where every table is, and reading the MADT (CPUs, IOAPIC, interrupt source
//! overrides). Pure: memory is read through [`PhysRead`], so it is tested on the host.

/// Reads physical memory; false if `[pa, pa + buf.len())` cannot be read.
pub trait PhysRead {
    /// Fills `buf` from physical address `pa`.
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool;
}

impl<F: Fn(u64, &mut [u8]) -> bool> PhysRead for F {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        self(pa, buf)
    }
}

/// Where the BIOS area that may hold the RSDP starts (ACPI: 0xe0000..0x100000).
pub const BIOS_AREA: (u64, u64) = (0xe_0000, 0x10_0000);
/// Most tables recorded.
pub const MAX_TABLES: usize = 32;
/// Most interrupt source overrides recorded.
pub const MAX_ISOS: usize = 16;
/// Largest table accepted (a bigger length means a corrupt header).
pub const MAX_TABLE_LEN: u32 = 1 << 20;

/// The root pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsdp {
    /// 0 for ACPI 1.0 (RSDT only), 2 and up for an XSDT.
    pub revision: u8,
    /// Physical address of the RSDT.
    pub rsdt: u32,
    /// Physical address of the XSDT (revision 2 and up; 0 otherwise).
    pub xsdt: u64,
    /// Bytes of the structure (20 for revision 0).
    pub length: u32,
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Decodes and checks an RSDP (signature and checksums).
pub fn parse_rsdp(b: &[u8; 36]) -> Option<Rsdp> {
    if &b[0..8] != b"RSD PTR " || sum(&b[..20]) != 0 {
        return None;
    }
    let revision = b[15];
    if revision < 2 {
        return Some(Rsdp { revision, rsdt: u32_at(b, 16), xsdt: 0, length: 20 });
    }
    let length = u32_at(b, 20);
    if length < 36 || sum(&b[..36]) != 0 {
        return None;
    }
    Some(Rsdp { revision, rsdt: u32_at(b, 16), xsdt: u64_at(b, 24), length: 36 })
}

/// Scans `[start, end)` on 16-byte boundaries for a valid RSDP.
pub fn find_rsdp(mem: &impl PhysRead, start: u64, end: u64) -> Option<u64> {
    let mut pa = start.next_multiple_of(16);
    let mut b = [0u8; 36];
    while pa + 36 <= end {
        if mem.read(pa, &mut b[..8])
            && &b[..8] == b"RSD PTR "
            && mem.read(pa, &mut b)
            && parse_rsdp(&b).is_some()
        {
            return Some(pa);
        }
        pa += 16;
    }
    None
}

/// One table found: its signature and where it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// The four-character signature (`RSDP` for the root pointer itself).
    pub sig: [u8; 4],
    /// Physical address.
    pub pa: u64,
    /// Length in bytes.
    pub len: u32,
}

/// An IOAPIC from the MADT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoApicInfo {
    /// Its APIC id.
    pub id: u8,
    /// MMIO base.
    pub addr: u64,
    /// The first global system interrupt it serves.
    pub gsi_base: u32,
}

/// An interrupt source override: ISA IRQ `source` arrives at `gsi` with MPS `flags`
/// (bits 0-1 polarity: 1 high, 3 low; bits 2-3 trigger: 1 edge, 3 level; 0 bus default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iso {
    /// The ISA IRQ.
    pub source: u8,
    /// The global system interrupt it is wired to.
    pub gsi: u32,
    /// Polarity and trigger mode.
    pub flags: u16,
}

/// What the MADT says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Madt {
    /// The local APIC's MMIO base.
    pub lapic: u64,
    /// Enabled (or online-capable) processors.
    pub cpus: usize,
    /// Their local APIC (or x2APIC) ids, in table order.
    pub apic_ids: pecan_boot::CpuList,
    /// The first IOAPIC.
    pub ioapic: Option<IoApicInfo>,
    /// Interrupt source overrides.
    pub isos: [Iso; MAX_ISOS],
    /// Number of valid `isos`.
    pub iso_count: usize,
}

impl Madt {
    /// The overrides.
    pub fn isos(&self) -> &[Iso] {
        &self.isos[..self.iso_count]
    }
}

/// Everything learned from the tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acpi {
    tables: [Table; MAX_TABLES],
    count: usize,
    /// More tables than `MAX_TABLES` were found (the rest are not listed).
    pub truncated: bool,
    /// The MADT, if there is one.
    pub madt: Option<Madt>,
}

impl Acpi {
    /// Every table found, the RSDP first.
    pub fn tables(&self) -> &[Table] {
        &self.tables[..self.count]
    }

    fn push(&mut self, t: Table) {
        if self.tables().iter().any(|o| o.pa == t.pa) {
            return;
        }
        if self.count == MAX_TABLES {
            self.truncated = true;
            return;
        }
        self.tables[self.count] = t;
        self.count += 1;
    }

    /// The lowest and highest byte covered by any table (`None` without tables).
    pub fn span(&self) -> Option<(u64, u64)> {
        let lo = self.tables().iter().map(|t| t.pa).min()?;
        let hi = self.tables().iter().map(|t| t.pa + t.len as u64).max()?;
        Some((lo, hi))
    }
}

/// Why the tables could not be walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// No valid RSDP at the address.
    BadRsdp,
    /// The RSDT/XSDT is unreadable, has a bad signature, length or checksum.
    BadRoot,
}

/// Reads a table header: signature and length; checks the length is sane and the whole
/// table's checksum is zero.
fn header(mem: &impl PhysRead, pa: u64) -> Option<Table> {
    let mut h = [0u8; 36];
    if pa == 0 || !mem.read(pa, &mut h) {
        return None;
    }
    let len = u32_at(&h, 4);
    if !(36..=MAX_TABLE_LEN).contains(&len) {
        return None;
    }
    let mut total = 0u8;
    let mut chunk = [0u8; 64];
    let mut off = 0u64;
    while off < len as u64 {
        let n = (len as u64 - off).min(64) as usize;
        if !mem.read(pa + off, &mut chunk[..n]) {
            return None;
        }
        total = total.wrapping_add(sum(&chunk[..n]));
        off += n as u64;
    }
    (total == 0).then(|| Table { sig: h[0..4].try_into().expect("4 bytes"), pa, len })
}

/// Walks every table reachable from the RSDP at `rsdp_pa`: the root table, the tables it
/// lists, and the FACS and DSDT the FADT points to. Tables with bad checksums are skipped.
pub fn walk(mem: &impl PhysRead, rsdp_pa: u64) -> Result<Acpi, AcpiError> {
    let mut b = [0u8; 36];
    if !mem.read(rsdp_pa, &mut b) {
        return Err(AcpiError::BadRsdp);
    }
    let rsdp = parse_rsdp(&b).ok_or(AcpiError::BadRsdp)?;
    let mut acpi = Acpi::default();
    acpi.push(Table { sig: *b"RSDP", pa: rsdp_pa, len: rsdp.length });
    let (root_pa, width, sig) = if rsdp.revision >= 2 && rsdp.xsdt != 0 {
        (rsdp.xsdt, 8, b"XSDT")
    } else {
        (rsdp.rsdt as u64, 4, b"RSDT")
    };
    let root = header(mem, root_pa).filter(|t| &t.sig == sig).ok_or(AcpiError::BadRoot)?;
    acpi.push(root);
    let entries = (root.len as u64 - 36) / width;
    for i in 0..entries {
        let mut p = [0u8; 8];
        if !mem.read(root_pa + 36 + i * width, &mut p[..width as usize]) {
            continue;
        }
        let Some(t) = header(mem, u64::from_le_bytes(p)) else { continue };
        acpi.push(t);
        match &t.sig {
            b"FACP" => fadt_children(mem, t, &mut acpi),
            b"APIC" => acpi.madt = Some(parse_madt(mem, t)),
            _ => {}
        }
    }
    Ok(acpi)
}

/// Records the FACS and DSDT the FADT points to (64-bit fields win when present).
fn fadt_children(mem: &impl PhysRead, fadt: Table, acpi: &mut Acpi) {
    let mut f = [0u8; 148];
    let n = (fadt.len as usize).min(f.len());
    if !mem.read(fadt.pa, &mut f[..n]) {
        return;
    }
    let (mut facs, mut dsdt) = (u32_at(&f, 36) as u64, u32_at(&f, 40) as u64);
    if n >= 140 && u64_at(&f, 132) != 0 {
        facs = u64_at(&f, 132);
    }
    if n >= 148 && u64_at(&f, 140) != 0 {
        dsdt = u64_at(&f, 140);
    }
    if let Some(t) = header(mem, dsdt) {
        acpi.push(t);
    }
    // The FACS has a signature and length but no checksum.
    let mut h = [0u8; 8];
    if facs != 0 && mem.read(facs, &mut h) && &h[0..4] == b"FACS" {
        let len = u32_at(&h, 4);
        if (64..=MAX_TABLE_LEN).contains(&len) {
            acpi.push(Table { sig: *b"FACS", pa: facs, len });
        }
    }
}

/// Reads the MADT's entries.
pub fn parse_madt(mem: &impl PhysRead, t: Table) -> Madt {
    let mut h = [0u8; 44];
    let mut m = Madt::default();
    if !mem.read(t.pa, &mut h) {
        return m;
    }
    m.lapic = u32_at(&h, 36) as u64;
    let mut off = 44u64;
    let mut e = [0u8; 16];
    while off + 2 <= t.len as u64 {
        if !mem.read(t.pa + off, &mut e[..2]) {
            break;
        }
        let (kind, len) = (e[0], e[1] as u64);
        if len < 2 || off + len > t.len as u64 {
            break;
        }
        let n = (len as usize).min(e.len());
        if !mem.read(t.pa + off, &mut e[..n]) {
            break;
        }
        match (kind, n) {
            // Processor local APIC: flags bit 0 enabled, bit 1 online capable.
            (0, 8..) if u32_at(&e, 4) & 3 != 0 => {
                m.cpus += 1;
                m.apic_ids.push(e[3] as u64);
            }
            // Processor local x2APIC.
            (9, 16..) if u32_at(&e, 8) & 3 != 0 => {
                m.cpus += 1;
                m.apic_ids.push(u32_at(&e, 4) as u64);
            }
            (1, 12..) if m.ioapic.is_none() => {
                m.ioapic = Some(IoApicInfo { id: e[2], addr: u32_at(&e, 4) as u64, gsi_base: u32_at(&e, 8) })
            }
            (2, 10..) if m.iso_count < MAX_ISOS => {
                m.isos[m.iso_count] =
                    Iso { source: e[3], gsi: u32_at(&e, 4), flags: u16::from_le_bytes([e[8], e[9]]) };
                m.iso_count += 1;
            }
            // Local APIC address override.
            (5, 12..) => m.lapic = u64_at(&e, 4),
            _ => {}
        }
        off += len;
    }
    m
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// A fake physical memory of 2 MiB.
    struct Mem(Vec<u8>);

    impl PhysRead for Mem {
        fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
            let Some(src) = self.0.get(pa as usize..pa as usize + buf.len()) else { return false };
            buf.copy_from_slice(src);
            true
        }
    }

    impl Mem {
        fn put(&mut self, pa: u64, bytes: &[u8]) {
            self.0[pa as usize..pa as usize + bytes.len()].copy_from_slice(bytes);
        }
        /// Writes a table with a valid header and checksum.
        fn table(&mut self, pa: u64, sig: &[u8; 4], body: &[u8]) {
            let mut t = vec![0u8; 36];
            t[0..4].copy_from_slice(sig);
            t.extend_from_slice(body);
            let len = t.len() as u32;
            t[4..8].copy_from_slice(&len.to_le_bytes());
            t[9] = 0u8.wrapping_sub(sum(&t));
            self.put(pa, &t);
        }
    }

    fn rsdp(revision: u8, rsdt: u32, xsdt: u64) -> [u8; 36] {
        let mut r = [0u8; 36];
        r[0..8].copy_from_slice(b"RSD PTR ");
        r[9..15].copy_from_slice(b"PECAN ");
        r[15] = revision;
        r[16..20].copy_from_slice(&rsdt.to_le_bytes());
        r[20..24].copy_from_slice(&36u32.to_le_bytes());
        r[24..32].copy_from_slice(&xsdt.to_le_bytes());
        r[8] = 0u8.wrapping_sub(sum(&r[..20]));
        r[32] = 0u8.wrapping_sub(sum(&r[..36]));
        r
    }

    fn madt_body(cpus: u8) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes()); // flags: PC-AT compatible
        for i in 0..cpus {
            b.extend_from_slice(&[0, 8, i, i, 1, 0, 0, 0]);
        }
        b.extend_from_slice(&[0, 8, 9, 9, 0, 0, 0, 0]); // disabled CPU
        let mut io = vec![1, 12, 0, 0];
        io.extend_from_slice(&0xfec0_0000u32.to_le_bytes());
        io.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&io);
        let mut iso = vec![2, 10, 0, 0];
        iso.extend_from_slice(&2u32.to_le_bytes());
        iso.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&iso);
        let mut iso9 = vec![2, 10, 0, 9];
        iso9.extend_from_slice(&9u32.to_le_bytes());
        iso9.extend_from_slice(&0x000du16.to_le_bytes());
        b.extend_from_slice(&iso9);
        b.extend_from_slice(&[0x7f, 4, 0, 0]); // an unknown entry type is skipped
        b
    }

    /// An RSDT (or XSDT) firmware image like U-Boot's: RSDP in the BIOS area, tables high.
    fn firmware(xsdt: bool) -> Mem {
        let mut m = Mem(vec![0; 0x20_0000]);
        let (root, fadt, dsdt, facs, madt) =
            (0x1f_0000u64, 0x1f_1000u64, 0x1f_2000u64, 0x1f_3000u64, 0x1f_4000u64);
        let mut fb = vec![0u8; 148 - 36];
        fb[0..4].copy_from_slice(&(facs as u32).to_le_bytes());
        fb[4..8].copy_from_slice(&(dsdt as u32).to_le_bytes());
        m.table(fadt, b"FACP", &fb);
        m.table(dsdt, b"DSDT", &[0xaa; 300]);
        let mut facs_bytes = vec![0u8; 64];
        facs_bytes[0..4].copy_from_slice(b"FACS");
        facs_bytes[4..8].copy_from_slice(&64u32.to_le_bytes());
        m.put(facs, &facs_bytes);
        m.table(madt, b"APIC", &madt_body(4));
        m.table(0x1f_5000, b"HPET", &[1; 20]);
        let mut bad = vec![0u8; 36 + 4];
        bad[0..4].copy_from_slice(b"BAD!");
        bad[4..8].copy_from_slice(&40u32.to_le_bytes());
        bad[9] = 1; // wrong checksum
        m.put(0x1f_6000, &bad);
        let list = [fadt, madt, 0x1f_5000, 0x1f_6000, 0x30_0000 /* unreadable */];
        let mut body = Vec::new();
        for p in list {
            if xsdt {
                body.extend_from_slice(&p.to_le_bytes());
            } else {
                body.extend_from_slice(&(p as u32).to_le_bytes());
            }
        }
        m.table(root, if xsdt { b"XSDT" } else { b"RSDT" }, &body);
        let r = if xsdt { rsdp(2, 0, root) } else { rsdp(0, root as u32, 0) };
        m.put(0xf_0060, &r);
        m
    }

    #[test]
    fn rsdt_walk() {
        for xsdt in [false, true] {
            let m = firmware(xsdt);
            let at = find_rsdp(&m, BIOS_AREA.0, BIOS_AREA.1).expect("rsdp");
            assert_eq!(at, 0xf_0060);
            let acpi = walk(&m, at).unwrap();
            let sigs: Vec<&[u8; 4]> = acpi.tables().iter().map(|t| &t.sig).collect();
            let root: &[u8; 4] = if xsdt { b"XSDT" } else { b"RSDT" };
            assert_eq!(sigs, [b"RSDP", root, b"FACP", b"DSDT", b"FACS", b"APIC", b"HPET"], "xsdt {xsdt}");
            assert_eq!(acpi.tables()[0].len, if xsdt { 36 } else { 20 });
            assert_eq!(acpi.tables()[3].len, 336);
            assert_eq!(acpi.span(), Some((0xf_0060, 0x1f_5000 + 56)));
            let madt = acpi.madt.unwrap();
            assert_eq!(madt.cpus, 4);
            assert_eq!(madt.apic_ids.ids(), &[0, 1, 2, 3], "the disabled CPU is not listed");
            assert_eq!(madt.lapic, 0xfee0_0000);
            assert_eq!(madt.ioapic, Some(IoApicInfo { id: 0, addr: 0xfec0_0000, gsi_base: 0 }));
            assert_eq!(
                madt.isos(),
                [Iso { source: 0, gsi: 2, flags: 0 }, Iso { source: 9, gsi: 9, flags: 0xd }]
            );
        }
    }

    #[test]
    fn bad_rsdp() {
        let mut m = firmware(false);
        m.0[0xf_0060 + 8] ^= 1; // checksum broken
        assert_eq!(find_rsdp(&m, BIOS_AREA.0, BIOS_AREA.1), None);
        assert_eq!(walk(&m, 0xf_0060).unwrap_err(), AcpiError::BadRsdp);
        assert_eq!(walk(&m, 0x30_0000).unwrap_err(), AcpiError::BadRsdp);
        // An RSDP whose root table is corrupt.
        let mut m = firmware(false);
        m.0[0x1f_0000 + 20] ^= 0xff;
        assert_eq!(walk(&m, 0xf_0060).unwrap_err(), AcpiError::BadRoot);
    }

    #[test]
    fn madt_entries_that_lie_about_their_length_stop_the_walk() {
        let mut m = Mem(vec![0; 0x1000]);
        let mut body = madt_body(2);
        body.extend_from_slice(&[0, 0, 0, 0]); // length 0: would loop forever
        body.extend_from_slice(&[0, 8, 7, 7, 1, 0, 0, 0]);
        m.table(0x100, b"APIC", &body);
        let madt = parse_madt(&m, header(&m, 0x100).unwrap());
        assert_eq!(madt.cpus, 2);
        assert_eq!(madt.apic_ids.ids(), &[0, 1]);
    }

    #[test]
    fn many_tables_are_truncated_not_overflowed() {
        let mut m = Mem(vec![0; 0x10_0000]);
        let mut body = Vec::new();
        for i in 0..40u32 {
            let pa = 0x1000 + i * 0x100;
            m.table(pa as u64, b"SSDT", &[i as u8; 8]);
            body.extend_from_slice(&pa.to_le_bytes());
        }
        m.table(0x8000, b"RSDT", &body);
        m.put(0xe_0000, &rsdp(0, 0x8000, 0));
        let acpi = walk(&m, 0xe_0000).unwrap();
        assert!(acpi.truncated);
        assert_eq!(acpi.tables().len(), MAX_TABLES);
    }
}
