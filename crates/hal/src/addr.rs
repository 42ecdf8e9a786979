//! Physical and virtual addresses as distinct types.

/// The base page size on every supported architecture.
pub const PAGE_SIZE: u64 = 4096;

/// A physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(pub u64);

/// A virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(pub u64);

macro_rules! addr_ops {
    ($t:ident) => {
        impl $t {
            /// The raw value.
            pub const fn raw(self) -> u64 {
                self.0
            }
            /// This address plus `off` bytes.
            pub const fn add(self, off: u64) -> $t {
                $t(self.0 + off)
            }
            /// Whether the address is page aligned.
            pub const fn is_page_aligned(self) -> bool {
                self.0 % PAGE_SIZE == 0
            }
            /// The address rounded down to its page.
            pub const fn page_floor(self) -> $t {
                $t(self.0 & !(PAGE_SIZE - 1))
            }
            /// The offset inside its page.
            pub const fn page_offset(self) -> u64 {
                self.0 & (PAGE_SIZE - 1)
            }
        }
    };
}
addr_ops!(PhysAddr);
addr_ops!(VirtAddr);
