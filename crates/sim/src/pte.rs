//! The simulator's page-table entry format: bit 0 valid, bit 1 table, bits 2..7 the
//! attributes (read, write, exec, user, global, device), the frame above bit 12.

use pecan_hal::{Attrs, MemType, PhysAddr, PteFormat, PteKind};

/// The simulator's entry format.
pub struct SimPte;

impl PteFormat for SimPte {
    fn table(next: PhysAddr, user: bool) -> u64 {
        next.0 | 0b11 | (user as u64) << 5
    }

    fn leaf(pa: PhysAddr, a: Attrs, _level: usize) -> u64 {
        pa.0 | 1
            | (a.read as u64) << 2
            | (a.write as u64) << 3
            | (a.exec as u64) << 4
            | (a.user as u64) << 5
            | (a.global as u64) << 6
            | ((a.mem == MemType::Device) as u64) << 7
    }

    fn decode(raw: u64, level: usize) -> PteKind {
        if raw & 1 == 0 {
            return PteKind::Invalid;
        }
        let pa = PhysAddr(raw & !0xfff);
        if raw & 2 != 0 && level > 0 {
            return PteKind::Table(pa);
        }
        let bit = |n: u32| raw >> n & 1 != 0;
        PteKind::Leaf(
            pa,
            Attrs {
                read: bit(2),
                write: bit(3),
                exec: bit(4),
                user: bit(5),
                global: bit(6),
                mem: if bit(7) { MemType::Device } else { MemType::Normal },
            },
        )
    }
}
