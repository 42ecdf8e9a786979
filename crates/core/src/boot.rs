//! Building the root task at boot: the task that owns all memory, its first thread and its
//! initial capabilities (seed 002: "a root pager owns all memory at boot").

use pecan_abi::caps::{
    ROOT_CAP_ORDER, ROOT_CONSOLE, ROOT_FACTORY, ROOT_IOPORTS, ROOT_IRQ_BASE, ROOT_IRQ_COUNT, ROOT_MACHINE,
    ROOT_TASK, ROOT_THREAD,
};
use pecan_abi::layout::{ROOT_BOOTINFO, ROOT_UTCB};
use pecan_abi::{CapRights, Error, MemRights};
use pecan_hal::{Hal, PhysAddr, UserContext};

use crate::kernel::{Kernel, RootRegion};
use crate::mdb::{NODE_COST, Resource};
use crate::obj::irq::Irq;
use crate::obj::task::VmEntry;
use crate::obj::{Cap, Handle, ObjRef};

/// Priority of the root task's first thread.
pub const ROOT_PRIO: u8 = 200;

impl<H: Hal> Kernel<H> {
    /// Creates the root task, owning the physical memory of `regions` through its window.
    pub fn boot_root_task(&mut self, regions: &[RootRegion]) -> Result<Handle, Error> {
        let f = self.root_factory.ok_or(Error::InvalidArgument)?;
        let ObjRef::Task(t) = self.create_task(f, ROOT_CAP_ORDER as u64)? else {
            return Err(Error::InvalidArgument);
        };
        self.root_regions.clear();
        self.root_regions.extend_from_slice(regions);
        self.root_task = Some(t);
        if let Some(task) = self.tasks.get_mut(t) {
            task.is_root = true;
        }
        Ok(t)
    }

    /// Maps frame `pa` at `va` of `task` as an original mapping (the root task's image,
    /// stack and boot information).
    pub fn boot_map(&mut self, task: Handle, va: u64, pa: PhysAddr, rights: MemRights) -> Result<(), Error> {
        self.charge_task(task, NODE_COST)?;
        let n = self.mdb.insert_root(task, va, Resource::Frame(pa), rights.0)?;
        let attrs = pecan_hal::Attrs {
            read: true,
            write: rights.contains(MemRights::W),
            exec: rights.contains(MemRights::X),
            user: true,
            global: false,
            mem: pecan_hal::MemType::Normal,
        };
        self.install_pte(task, va, pa, attrs)?;
        if let Some(t) = self.tasks.get_mut(task) {
            t.vm.insert(va, VmEntry::Node(n));
        }
        Ok(())
    }

    /// Creates the root task's first thread with its initial capabilities, ready to run at
    /// `entry` with stack `sp` and the boot-information address as its argument. Hardware
    /// IRQ `lines[i]` gets capability slot `ROOT_IRQ_BASE + i`.
    pub fn boot_root_thread(
        &mut self,
        task: Handle,
        entry: u64,
        sp: u64,
        lines: &[u32],
    ) -> Result<Handle, Error> {
        let f = self.root_factory.ok_or(Error::InvalidArgument)?;
        let ObjRef::Thread(th) = self.create_thread(f, task, ROOT_UTCB)? else {
            return Err(Error::InvalidArgument);
        };
        let all = CapRights::ALL;
        self.install_cap(task, ROOT_TASK, Cap { obj: ObjRef::Task(task), rights: all })?;
        self.install_cap(task, ROOT_THREAD, Cap { obj: ObjRef::Thread(th), rights: all })?;
        self.install_cap(task, ROOT_FACTORY, Cap { obj: ObjRef::Factory(f), rights: all })?;
        self.install_cap(task, ROOT_CONSOLE, Cap { obj: ObjRef::Console, rights: all })?;
        self.install_cap(task, ROOT_MACHINE, Cap { obj: ObjRef::Machine, rights: all })?;
        if H::HAS_IO_PORTS {
            self.install_cap(
                task,
                ROOT_IOPORTS,
                Cap { obj: ObjRef::IoPorts { first: 0, count: 1 << 16 }, rights: all },
            )?;
        }
        for (i, &line) in lines.iter().take(ROOT_IRQ_COUNT as usize).enumerate() {
            if (line as usize) >= self.hw_irqs.len() {
                continue;
            }
            let h = self.irqs.insert(Irq::new(Some(line), None)).map_err(|_| Error::OutOfMemory)?;
            self.hw_irqs[line as usize] = Some(h);
            self.install_cap(task, ROOT_IRQ_BASE + i as u64, Cap { obj: ObjRef::Irq(h), rights: all })?;
        }
        if let Some(t) = self.threads.get_mut(th) {
            // Keep the context `create_thread` made: it holds the thread pointer (the UTCB).
            t.ctx.set_ip(entry);
            t.ctx.set_sp(sp);
            t.ctx.set_arg(ROOT_BOOTINFO);
            t.prio = ROOT_PRIO;
        }
        self.wake(th);
        self.schedule();
        Ok(th)
    }
}
