//! Access to physical memory, by physical address.

use crate::addr::PhysAddr;

/// Reads and writes physical memory (the kernel's direct map on hardware, a byte array in
/// the simulator). The core only passes addresses of frames it owns: page tables, UTCBs,
/// user frames it reached through a page-table walk.
pub trait PhysMem {
    /// Reads the aligned 64-bit word at `pa`.
    fn read_u64(&self, pa: PhysAddr) -> u64;
    /// Writes the aligned 64-bit word at `pa`.
    fn write_u64(&mut self, pa: PhysAddr, value: u64);
    /// Copies `buf.len()` bytes from `pa` into `buf`.
    fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]);
    /// Copies `buf` to `pa`.
    fn write_bytes(&mut self, pa: PhysAddr, buf: &[u8]);
    /// Copies `len` bytes from `src` to `dst` (the ranges do not overlap).
    fn copy(&mut self, dst: PhysAddr, src: PhysAddr, len: usize);
    /// Fills `len` bytes at `pa` with zero.
    fn zero(&mut self, pa: PhysAddr, len: usize);
}
