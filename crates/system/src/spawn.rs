//! Starting a task from a program file (run by the root task): a new task, its regions
//! registered with the pager, its start page, its standard capabilities, its first thread.

extern crate alloc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use pecan_abi::caps::std_slots;
use pecan_abi::layout::{ROOT_STACK_SIZE, ROOT_STACK_TOP, START_INFO, STARTINFO_MAGIC, StartInfo};
use pecan_abi::{CapRights, Fpage, MemRights};
use pecan_user::ipc::IpcError;
use pecan_user::thread::{STACK_AREA, utcb_of};
use pecan_user::{Factory, Gate, Task, Thread};

use crate::elfimage::{self, ElfError};
use crate::frames::{FRAMES, PAGE, window, window_fpage};
use crate::pager::{self, Backing, Region};
use crate::slots::SLOTS;

/// Why a task could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The program file is not a usable executable.
    Elf(ElfError),
    /// The kernel refused an operation.
    Kernel(IpcError),
    /// The root task is out of memory.
    NoMemory,
}

impl From<IpcError> for SpawnError {
    fn from(e: IpcError) -> Self {
        SpawnError::Kernel(e)
    }
}

/// What to start.
pub struct Spec<'a> {
    /// The name (for messages and the start page).
    pub name: &'a str,
    /// The program file, in root memory: its physical address and bytes.
    pub file_pa: u64,
    /// The program file's bytes.
    pub file: &'a [u8],
    /// Arguments for the start page.
    pub args: &'a [u64],
    /// Priority of the first thread.
    pub prio: u64,
    /// Extra capabilities: (root slot, child slot, rights).
    pub caps: &'a [(u64, u64, CapRights)],
    /// Kernel-memory quota for the task's own factory.
    pub quota: u64,
    /// Give it the machine capability (exit, counters).
    pub machine: bool,
    /// Map read-only file pages directly instead of copying them.
    pub share_text: bool,
}

/// A started task.
#[derive(Clone, Copy, Debug)]
pub struct Child {
    /// Its id (the label of its pager gate).
    pub id: u64,
    /// Its task (root slot).
    pub task: Task,
    /// Its first thread (root slot).
    pub thread: Thread,
    /// Its factory (root slot).
    pub factory: Factory,
    /// Its pager gate (root slot).
    pub pager_gate: Gate,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The pager thread of this task (set once the root task has started it).
pub static PAGER_THREAD: AtomicU64 = AtomicU64::new(0);

/// Bytes of address space for thread stacks of a started task.
pub const STACKS_SIZE: u64 = 64 << 20;

/// Starts `spec`.
pub fn spawn(spec: &Spec<'_>) -> Result<Child, SpawnError> {
    let img = elfimage::parse(spec.file).map_err(SpawnError::Elf)?;
    let root_factory = Factory::at(std_slots::FACTORY);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let task = root_factory.create_task(SLOTS.alloc(), 10)?;
    let factory = root_factory.create_factory(SLOTS.alloc(), spec.quota)?;
    let pager_thread = Thread::at(PAGER_THREAD.load(Ordering::Relaxed));
    let pager_gate = root_factory.create_gate(SLOTS.alloc(), Some(pager_thread), id)?;

    // Regions: the program's segments, the first stack, the thread-stack area.
    let mut regions = Vec::new();
    for s in &img.segments {
        let start = s.va & !(PAGE - 1);
        let end = (s.va + s.memsz).next_multiple_of(PAGE);
        let lead = s.va - start;
        // Region byte 0 is file byte (offset - lead); file bytes run to filesz + lead.
        let backing = Backing::File { file_pa: spec.file_pa + s.offset - lead, file_len: s.filesz + lead };
        let region = Region { start, end, rights: s.rights, backing };
        if spec.share_text && !s.rights.contains(MemRights::W) && s.filesz == s.memsz {
            // Read-only and fully in the file: map the file's own frames (shared by every
            // task running this program).
            let mut va = start;
            while va < end {
                let pa = spec.file_pa + s.offset - lead + (va - start);
                task.map(window_fpage(pa, 12, s.rights), va)?;
                va += PAGE;
            }
        }
        regions.push(region);
    }
    let stack = Region {
        start: ROOT_STACK_TOP - ROOT_STACK_SIZE,
        end: ROOT_STACK_TOP,
        rights: MemRights::RW,
        backing: Backing::Zero,
    };
    regions.push(stack);
    regions.push(Region {
        start: STACK_AREA,
        end: STACK_AREA + STACKS_SIZE,
        rights: MemRights::RW,
        backing: Backing::Zero,
    });
    pager::register(id, spec.name.as_bytes(), regions);

    // The start page.
    let sp = FRAMES.alloc().ok_or(SpawnError::NoMemory)?;
    let mut si = StartInfo {
        magic: STARTINFO_MAGIC,
        utcb: utcb_of(0),
        argc: spec.args.len().min(16) as u64,
        args: [0; 16],
        name: [0; 32],
        arch: 0,
        tick_hz: 0,
        heap_base: 0,
        heap_size: 0,
    };
    si.args[..si.argc as usize].copy_from_slice(&spec.args[..si.argc as usize]);
    let n = spec.name.len().min(31);
    si.name[..n].copy_from_slice(&spec.name.as_bytes()[..n]);
    // SAFETY: the frame is ours and mapped by the window; `StartInfo` is plain data.
    unsafe { core::ptr::write(window(sp) as *mut StartInfo, si) };
    task.map(window_fpage(sp, 12, MemRights::R), START_INFO)?;

    // Capabilities.
    let give = |root: u64, child: u64, rights: CapRights| task.map(Fpage::object(root, 0, rights), child);
    give(task.sel(), std_slots::TASK, CapRights::ALL)?;
    give(factory.sel(), std_slots::FACTORY, CapRights::ALL)?;
    give(std_slots::CONSOLE, std_slots::CONSOLE, CapRights::SEND)?;
    if spec.machine {
        give(std_slots::MACHINE, std_slots::MACHINE, CapRights::ALL)?;
    }
    give(pager_gate.sel(), std_slots::PAGER, CapRights::SEND)?;
    for &(r, c, rights) in spec.caps {
        give(r, c, rights)?;
    }

    // The first thread.
    let thread = root_factory.create_thread(SLOTS.alloc(), task, utcb_of(0))?;
    give(thread.sel(), std_slots::THREAD, CapRights::ALL)?;
    thread.configure(std_slots::PAGER, std_slots::PAGER)?;
    thread.set_regs(img.entry, ROOT_STACK_TOP, START_INFO)?;
    thread.set_priority(spec.prio, 0)?;
    thread.start()?;
    Ok(Child { id, task, thread, factory, pager_gate })
}

/// Destroys a started task and everything it had, and frees its memory. A task that
/// already destroyed itself (its capability is stale) is no error: what it had is still
/// cleaned up.
pub fn destroy(c: &Child) -> Result<(), IpcError> {
    match c.task.any().destroy() {
        Ok(()) => {}
        Err(e) if e.error == pecan_abi::Error::StaleCap => {}
        // Still alive: its memory must stay.
        Err(e) => return Err(e),
    }
    let factory = c.factory.any().destroy();
    let gate = c.pager_gate.any().destroy();
    pager::unregister(c.id);
    factory.and(gate)
}
