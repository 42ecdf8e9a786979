//! String items (long IPC): gather the sender's pieces, scatter into the receiver's
//! string buffers, copying page by page through the physical addresses both page tables
//! give. (The temporary-mapping variant of seed 001 is a later, arch-assisted path.)

use pecan_abi::layout::USER_TOP;
use pecan_abi::utcb::{BR_STRING_COUNT, BR_STRINGS, MAX_STRING_BUFFERS, offset};
use pecan_abi::{Error, StringDesc};
use pecan_hal::{Hal, PAGE_SIZE, PhysAddr, PhysMem, VirtAddr};
use pecan_mm::PageTable;

use crate::ipc::transfer::StringState;
use crate::kernel::Kernel;
use crate::obj::Handle;

impl<H: Hal> Kernel<H> {
    /// The physical address behind user address `va` of `task`, if mapped for user access
    /// (and writable when `write`).
    pub fn user_pa(&mut self, task: Handle, va: u64, write: bool) -> Option<PhysAddr> {
        if va >= USER_TOP {
            return None;
        }
        let root = self.tasks.get(task)?.root;
        let (pa, a) = PageTable::<H::Pte>::new(root).lookup(self.hal.mem(), VirtAddr(va))?;
        (a.user && a.read && (!write || a.write)).then_some(pa)
    }

    /// The receiver's next logical string buffer (its pieces), from its buffer registers.
    fn next_buffer(&mut self, r: Handle, st: &mut StringState) -> Result<alloc::vec::Vec<StringDesc>, Error> {
        let count = (self.utcb_read(r, offset::BR + BR_STRING_COUNT) as usize).min(MAX_STRING_BUFFERS);
        let mut pieces = alloc::vec::Vec::new();
        while st.next_buffer < count {
            let i = offset::BR + BR_STRINGS + 2 * st.next_buffer;
            let d = StringDesc::decode(self.utcb_read(r, i), self.utcb_read(r, i + 1))
                .map_err(|_| Error::MessageOverflow)?;
            st.next_buffer += 1;
            pieces.push(d);
            if !d.continued {
                return Ok(pieces);
            }
        }
        if pieces.is_empty() { Err(Error::MessageOverflow) } else { Ok(pieces) }
    }

    /// Copies the logical string made of `pieces` from `s` into `r`'s next buffer; returns
    /// where it landed and its length.
    pub(crate) fn transfer_string(
        &mut self,
        s: Handle,
        r: Handle,
        pieces: &[StringDesc],
        st: &mut StringState,
    ) -> Result<(u64, u64), Error> {
        let buffer = self.next_buffer(r, st)?;
        let need: u64 = pieces.iter().map(|p| p.len).sum();
        let room: u64 = buffer.iter().map(|p| p.len).sum();
        if need > room {
            return Err(Error::MessageOverflow);
        }
        for p in pieces.iter().chain(buffer.iter()) {
            if p.addr.checked_add(p.len).is_none_or(|e| e > USER_TOP) {
                return Err(Error::BadAddress);
            }
        }
        let s_task = self.threads.get(s).map(|t| t.task).ok_or(Error::PartnerDeleted)?;
        let r_task = self.threads.get(r).map(|t| t.task).ok_or(Error::PartnerDeleted)?;
        let (mut bi, mut boff) = (0usize, 0u64);
        for p in pieces {
            let mut done = 0u64;
            while done < p.len {
                while bi < buffer.len() && boff == buffer[bi].len {
                    bi += 1;
                    boff = 0;
                }
                let b = buffer.get(bi).ok_or(Error::MessageOverflow)?;
                let src = p.addr + done;
                let dst = b.addr + boff;
                let chunk = (p.len - done)
                    .min(b.len - boff)
                    .min(PAGE_SIZE - src % PAGE_SIZE)
                    .min(PAGE_SIZE - dst % PAGE_SIZE);
                let spa = self.user_pa(s_task, src, false).ok_or(Error::BadAddress)?;
                let dpa = self.user_pa(r_task, dst, true).ok_or(Error::BadAddress)?;
                self.hal.mem().copy(dpa, spa, chunk as usize);
                done += chunk;
                boff += chunk;
            }
        }
        Ok((buffer.first().map_or(0, |b| b.addr), need))
    }
}
