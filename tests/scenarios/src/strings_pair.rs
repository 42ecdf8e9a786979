//! A sender and a receiver thread of the root task that the scenario thread drives round by
//! round for long IPC (what the sender's string items are, which buffers the receiver
//! offers, the transfer timeouts), acting itself as the pager of both: each page fault of
//! a transfer reaches it and it decides (map a page, stay silent, cancel or delete).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::proto::page_fault;
use pecan_abi::utcb::{BR_STRING_COUNT, BR_STRINGS, TCR_XFER_TIMEOUTS};
use pecan_abi::{Item, MemRights, StringDesc};
use pecan_system::frames::{FRAMES, window, window_fpage};
use pecan_system::rootthread::RootThread;
use pecan_user::{Gate, Msg, Task, Thread, Timeouts, ipc, utcb};

use crate::env::{Env, fail, status};
use crate::{Fail, check};

/// Most string pieces a round sends or offers.
pub const PIECES: usize = 4;
/// A piece: address, length, continued (by the next piece).
pub type Piece = (u64, u64, bool);

/// Gate labels of the scenario thread's two gates.
const PAGER: u64 = 0xfa01;
const BACK: u64 = 0xbac2;
/// Who reports (word 0 of a report).
const SENDER: u64 = 1;
const RECEIVER: u64 = 2;

/// One side's configuration for the next round, read by its thread when released.
struct Side {
    raw: [AtomicU64; 2 * PIECES],
    n: AtomicU64,
    tcr: AtomicU64,
}

impl Side {
    const fn new() -> Self {
        Side { raw: [const { AtomicU64::new(0) }; 2 * PIECES], n: AtomicU64::new(0), tcr: AtomicU64::new(0) }
    }

    fn set(&self, pieces: &[Piece], tcr: u64) {
        for (i, &(addr, len, continued)) in pieces.iter().take(PIECES).enumerate() {
            let [a, b] = StringDesc { addr, len, continued }.encode();
            self.raw[2 * i].store(a, SeqCst);
            self.raw[2 * i + 1].store(b, SeqCst);
        }
        self.n.store(pieces.len().min(PIECES) as u64, SeqCst);
        self.tcr.store(tcr, SeqCst);
    }

    fn desc(&self, i: usize) -> (u64, u64) {
        (self.raw[2 * i].load(SeqCst), self.raw[2 * i + 1].load(SeqCst))
    }
}

static TX: Side = Side::new();
static RX: Side = Side::new();
/// Selectors: the sender's go gate, the receiver's go gate, the receiver's message gate,
/// the scenario thread's report gate.
static SGO: AtomicU64 = AtomicU64::new(0);
static RGO: AtomicU64 = AtomicU64::new(0);
static RXG: AtomicU64 = AtomicU64::new(0);
static BACKG: AtomicU64 = AtomicU64::new(0);

const NEVER: Timeouts = Timeouts::NEVER;

/// The sender's loop: released, it sends one message of the configured strings to the
/// receiver's gate and reports the status.
fn sender() {
    loop {
        let _ = ipc::recv(Gate::at(SGO.load(SeqCst)).any(), NEVER);
        utcb::set_tcr(TCR_XFER_TIMEOUTS, TX.tcr.load(SeqCst));
        let mut m = Msg::new(7).word(0x51);
        for i in 0..TX.n.load(SeqCst) as usize {
            let (a, b) = TX.desc(i);
            if let Ok(Item::String(d)) = Item::decode(a, b) {
                m = m.string(d.addr, d.len, d.continued);
            }
        }
        let r = ipc::send(Gate::at(RXG.load(SeqCst)), &m, NEVER);
        let _ = ipc::send(Gate::at(BACKG.load(SeqCst)), &Msg::new(0).words(&[SENDER, status(&r)]), NEVER);
    }
}

/// The receiver's loop: released, it offers the configured buffers, receives one message
/// and reports its status and the first two strings' descriptors.
fn receiver() {
    loop {
        let _ = ipc::recv(Gate::at(RGO.load(SeqCst)).any(), NEVER);
        utcb::set_tcr(TCR_XFER_TIMEOUTS, RX.tcr.load(SeqCst));
        let n = RX.n.load(SeqCst) as usize;
        for i in 0..n {
            let (a, b) = RX.desc(i);
            utcb::set_br(BR_STRINGS + 2 * i, a);
            utcb::set_br(BR_STRINGS + 2 * i + 1, b);
        }
        utcb::set_br(BR_STRING_COUNT, n as u64);
        let r = ipc::recv(Gate::at(RXG.load(SeqCst)).any(), NEVER);
        let d = |k| match r.as_ref().ok().and_then(|m| m.item(k)) {
            Some(Item::String(d)) => [d.addr, d.len],
            _ => [0, 0],
        };
        let (d0, d1) = (d(0), d(1));
        let w = [RECEIVER, status(&r), d0[0], d0[1], d1[0], d1[1]];
        let _ = ipc::send(Gate::at(BACKG.load(SeqCst)), &Msg::new(0).words(&w), NEVER);
    }
}

/// What the pager (the scenario thread) does with a page fault of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Map a new page holding the pattern at the fault address, then answer.
    Resolve,
    /// Stay silent (the transfer timeout ends it).
    Ignore,
    /// Cancel this thread's IPC.
    Cancel(Thread),
    /// Delete this thread.
    Destroy(Thread),
}

/// What a round ended with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// The sender's status (None: it did not report).
    pub sender: Option<u64>,
    /// The receiver's status.
    pub receiver: Option<u64>,
    /// The first two strings the receiver got: (address, length).
    pub strings: [(u64, u64); 2],
    /// Page faults the pager saw, and the first one's access word.
    pub faults: u64,
    /// The first fault's access word.
    pub access: u64,
}

/// The byte the pattern has at address `va` (sources and resolved pages hold it).
pub fn pat(va: u64) -> u8 {
    (va.wrapping_mul(7) % 251) as u8
}

/// Page-aligned memory of the root task.
#[repr(align(4096))]
pub struct Mem(pub UnsafeCell<[u8; 65536]>);

// SAFETY: the scenario thread writes a source before the round that reads it; the kernel
// writes a destination while its owner waits; the scenario reads it after both reported.
unsafe impl Sync for Mem {}

impl Mem {
    /// Its address.
    pub fn at(&self) -> u64 {
        self.0.get() as u64
    }

    /// Fills it with the pattern (by address).
    pub fn fill(&self) -> u64 {
        let p = self.at();
        // SAFETY: our static, written only by the scenario thread between rounds.
        (0..65536).for_each(|i| unsafe { ((p + i) as *mut u8).write_volatile(pat(p + i)) });
        p
    }

    /// Zeroes it.
    pub fn clear(&self) -> u64 {
        let p = self.at();
        // SAFETY: as above.
        (0..65536).for_each(|i| unsafe { ((p + i) as *mut u8).write_volatile(0) });
        p
    }
}

/// The bytes of `pieces` in order (mapped memory of the root task).
fn bytes(pieces: &[Piece]) -> impl Iterator<Item = u8> + '_ {
    // SAFETY: the caller names mapped memory of this task that nobody writes meanwhile.
    pieces.iter().flat_map(|&(a, l, _)| (a..a + l).map(|v| unsafe { (v as *const u8).read_volatile() }))
}

/// Whether the receiver's `bufs` begin with the bytes of the sender's `sent`.
pub fn arrived(sent: &[Piece], bufs: &[Piece]) -> bool {
    let n: u64 = sent.iter().map(|p| p.1).sum();
    bytes(sent).zip(bytes(bufs)).take(n as usize).filter(|(a, b)| a == b).count() as u64 == n
}

/// The two threads and the gates between them and the scenario thread.
pub struct Pair {
    /// The sender.
    pub s: RootThread,
    /// The receiver.
    pub r: RootThread,
    gates: [Gate; 5],
    /// Pages the pager mapped: (address, frame).
    mapped: [(u64, u64); 8],
}

impl Pair {
    /// Both threads (priority 100, below the scenario thread), each with the scenario
    /// thread as its pager.
    pub fn new(env: &Env<'_>) -> Pair {
        let pg = env.gate(env.me(), PAGER);
        let back = env.gate(env.me(), BACK);
        let s = env.helper_created(100, sender);
        let r = env.helper_created(100, receiver);
        let (sgo, rgo, rxg) = (env.gate(s.thread, 1), env.gate(r.thread, 2), env.gate(r.thread, 3));
        for (v, g) in [(&SGO, sgo), (&RGO, rgo), (&RXG, rxg), (&BACKG, back)] {
            v.store(g.sel(), SeqCst);
        }
        for t in [s, r] {
            t.thread.configure(pg.sel(), 0).expect("configure");
            t.thread.start().expect("start");
        }
        Pair { s, r, gates: [pg, back, sgo, rgo, rxg], mapped: [(0, 0); 8] }
    }

    /// One round: the sender sends `sent` to the receiver offering `bufs` (transfer
    /// timeouts words `tcr` = (sender's, receiver's)); each page fault gets `pager`'s action.
    /// Waits until both reported (`expect`: which will), or 2 s.
    pub fn round(
        &mut self,
        sent: &[Piece],
        bufs: &[Piece],
        tcr: (u64, u64),
        expect: (bool, bool),
        mut pager: impl FnMut(u64) -> Action,
    ) -> Result<Outcome, Fail> {
        let [pg, back, sgo, rgo, _] = self.gates;
        let _ = (pg, back);
        TX.set(sent, tcr.0);
        RX.set(bufs, tcr.1);
        let go = Timeouts::new(None, None);
        ipc::send(rgo, &Msg::new(0), go).map_err(fail("release the receiver"))?;
        ipc::send(sgo, &Msg::new(0), go).map_err(fail("release the sender"))?;
        let mut o = Outcome::default();
        while (expect.0 && o.sender.is_none()) || (expect.1 && o.receiver.is_none()) {
            let m = ipc::wait(Timeouts::new(None, Some(Duration::from_secs(2))))
                .map_err(fail("waiting for the pair"))?;
            match (m.gate_label, m.word(0)) {
                (PAGER, addr) => {
                    o.faults += 1;
                    if o.faults == 1 {
                        o.access = m.word(page_fault::ACCESS);
                    }
                    check!(o.faults < 8, "too many page faults (last at {addr:#x})");
                    match pager(addr) {
                        Action::Resolve => {
                            self.resolve(addr)?;
                            let _ = ipc::reply(&Msg::new(0));
                        }
                        Action::Ignore => {}
                        Action::Cancel(t) => t.cancel().map_err(fail("cancel"))?,
                        Action::Destroy(t) => t.any().destroy().map_err(fail("destroy"))?,
                    }
                }
                (BACK, SENDER) => o.sender = Some(m.word(1)),
                (BACK, RECEIVER) => {
                    o.receiver = Some(m.word(1));
                    o.strings = [(m.word(2), m.word(3)), (m.word(4), m.word(5))];
                }
                (l, w) => check!(false, "unexpected message: gate label {l:#x}, word {w:#x}"),
            }
        }
        Ok(o)
    }

    /// Maps a new page with the pattern at `addr`'s page.
    fn resolve(&mut self, addr: u64) -> Result<(), Fail> {
        let page = addr & !0xfff;
        let pa = FRAMES.alloc().ok_or("no frame")?;
        // SAFETY: a frame just taken, reached through the root window.
        (0..4096).for_each(|i| unsafe { ((window(pa) + i) as *mut u8).write_volatile(pat(page + i)) });
        Task::at(std_slots::TASK).map(window_fpage(pa, 12, MemRights::RW), page).map_err(fail("map"))?;
        let slot = self.mapped.iter_mut().find(|m| m.0 == 0).ok_or("too many pages")?;
        *slot = (page, pa);
        Ok(())
    }

    /// Removes both threads, their gates and the pages the pager mapped.
    pub fn end(self, env: &Env<'_>) {
        for t in [self.s, self.r] {
            let _ = t.thread.any().destroy();
        }
        for g in self.gates {
            let _ = g.any().destroy();
        }
        for (va, pa) in self.mapped.into_iter().filter(|m| m.0 != 0) {
            env.unmap_own(va);
            FRAMES.free(pa);
        }
    }
}
