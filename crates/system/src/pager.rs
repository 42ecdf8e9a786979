//! The pager (seed 002: "Pagers resolve page faults by IPC"): every task the root task
//! starts has its threads' faults sent through a gate labelled with the task's id. A page
//! fault inside a known region is answered with a map item of a frame from the root
//! window: zeroed, filled from the program file, or a fixed physical range (shared or
//! device memory). A fault outside every region, or an exception, is recorded and the
//! faulting thread is left stopped.

extern crate alloc;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use pecan_abi::{Item, MemRights, MsgTag, proto};
use pecan_user::sync::Mutex;
use pecan_user::{Msg, Received};

use crate::frames::{FRAMES, PAGE, window, window_fpage};

/// What backs a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Zero-filled frames.
    Zero,
    /// A program file in root memory: the region's first byte is file byte `file_pa` (a
    /// physical address), `file_len` bytes of it, zero after that.
    File {
        /// Physical address of the region's first byte in the file copy.
        file_pa: u64,
        /// Bytes of file data in the region.
        file_len: u64,
    },
    /// Fixed physical memory starting at this address (shared buffers, devices).
    Phys(u64),
}

/// A region of a task's address space the pager backs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte (page aligned).
    pub start: u64,
    /// First byte past it (page aligned).
    pub end: u64,
    /// Rights of its mappings.
    pub rights: MemRights,
    /// What backs it.
    pub backing: Backing,
}

/// A fault the pager could not resolve, or an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crash {
    /// Protocol label (`proto::PAGE_FAULT` or `proto::EXCEPTION`).
    pub kind: u64,
    /// The message words (address/ip/access, or kind/ip/sp/code/address).
    pub words: [u64; 5],
}

/// A task's address space as its pager knows it.
#[derive(Clone, Debug, Default)]
pub struct Space {
    /// Its name (for messages).
    pub name: [u8; 16],
    /// The regions.
    pub regions: Vec<Region>,
    /// Frames the pager allocated for it.
    pub frames: Vec<u64>,
    /// Page faults resolved.
    pub faults: u64,
    /// Faults and exceptions not resolved, in order.
    pub crashes: Vec<Crash>,
}

/// Every space the pager serves, by id (the label of its pager gate).
pub static SPACES: Mutex<BTreeMap<u64, Space>> = Mutex::new(BTreeMap::new());

/// Registers a space.
pub fn register(id: u64, name: &[u8], regions: Vec<Region>) {
    let mut n = [0u8; 16];
    let l = name.len().min(16);
    n[..l].copy_from_slice(&name[..l]);
    SPACES.lock().insert(id, Space { name: n, regions, ..Default::default() });
}

/// Adds a region to a space.
pub fn add_region(id: u64, r: Region) {
    if let Some(s) = SPACES.lock().get_mut(&id) {
        s.regions.push(r);
    }
}

/// Page faults resolved and crashes recorded for space `id`.
pub fn stats(id: u64) -> (u64, Vec<Crash>) {
    SPACES.lock().get(&id).map_or((0, Vec::new()), |s| (s.faults, s.crashes.clone()))
}

/// Forgets a space and frees its frames (after its task was destroyed).
pub fn unregister(id: u64) {
    if let Some(s) = SPACES.lock().remove(&id) {
        for f in s.frames {
            FRAMES.free(f);
        }
    }
}

/// Resolves a fault at `addr` with `access` in space `id`: the physical frame to map and
/// its rights, or `None`.
pub fn resolve(id: u64, addr: u64, access: u8) -> Option<(u64, MemRights)> {
    let page = addr & !(PAGE - 1);
    let r = {
        let spaces = SPACES.lock();
        *spaces.get(&id)?.regions.iter().find(|r| (r.start..r.end).contains(&page))?
    };
    if !r.rights.contains(MemRights(access & 7)) {
        return None;
    }
    let pa = match r.backing {
        Backing::Phys(base) => base + (page - r.start),
        Backing::Zero => FRAMES.alloc()?,
        Backing::File { file_pa, file_len } => {
            let pa = FRAMES.alloc()?;
            let off = page - r.start;
            if off < file_len {
                let n = (file_len - off).min(PAGE) as usize;
                // SAFETY: both ranges are root memory mapped by the window; the new frame is
                // ours alone, the file copy is only read.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        window(file_pa + off) as *const u8,
                        window(pa) as *mut u8,
                        n,
                    )
                };
            }
            pa
        }
    };
    let mut spaces = SPACES.lock();
    if let Some(s) = spaces.get_mut(&id) {
        s.faults += 1;
        if !matches!(r.backing, Backing::Phys(_)) {
            s.frames.push(pa);
        }
    }
    Some((pa, r.rights))
}

/// Handles one message to the pager; the reply, or `None` to leave the thread stopped.
pub fn handle(req: &Received) -> Option<Msg> {
    let id = req.gate_label;
    match req.label() {
        proto::PAGE_FAULT => {
            let (addr, access) = (req.word(0), req.word(2));
            match resolve(id, addr, (access & 7) as u8) {
                Some((pa, rights)) => {
                    Some(Msg::new(0).item(Item::Map {
                        send_base: addr & !(PAGE - 1),
                        fpage: window_fpage(pa, 12, rights),
                    }))
                }
                // A long IPC's copy: an empty reply fails the transfer (`BadAddress`)
                // instead of leaving both partners waiting.
                None if access & proto::page_fault::IN_TRANSFER != 0 => Some(Msg::new(0)),
                None => {
                    record(id, proto::PAGE_FAULT, req);
                    None
                }
            }
        }
        proto::EXCEPTION => {
            record(id, proto::EXCEPTION, req);
            Some(Msg::new(proto::exception::KILL))
        }
        _ => Some(Msg::new(1)),
    }
}

fn record(id: u64, kind: u64, req: &Received) {
    let words = [req.word(0), req.word(1), req.word(2), req.word(3), req.word(4)];
    let mut spaces = SPACES.lock();
    if let Some(s) = spaces.get_mut(&id) {
        let name = core::str::from_utf8(&s.name).unwrap_or("?").trim_end_matches('\0');
        if kind == proto::PAGE_FAULT {
            pecan_user::println!(
                "pager: {name}: unresolvable page fault at {:#x} (ip {:#x})",
                words[0],
                words[1]
            );
        } else {
            pecan_user::println!(
                "pager: {name}: exception {} at ip {:#x} (code {:#x})",
                words[0],
                words[1],
                words[3]
            );
        }
        s.crashes.push(Crash { kind, words });
    }
}

/// The pager thread's body: serves faults forever.
pub extern "C" fn run(_: u64) -> ! {
    pecan_user::server::serve(handle)
}

/// Tag of an empty reply (for documentation of the protocol).
pub const EMPTY: MsgTag = MsgTag::new(0, 0, 0);
