//! The several-CPU stress (issue 7, run with `-smp 4`): thread pairs calling with random
//! timeouts while the root migrates clients and servers and the servers remap a page their
//! clients read; at the end every call is accounted for exactly once. Run only when the
//! filter starts with `stress` (`scenario=stress`), not with the other scenarios.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use pecan_abi::caps::std_slots;
use pecan_abi::{Error, Fpage, MemRights, Phase, Status, Timeout};
use pecan_system::frames::{FRAMES, window, window_fpage};
use pecan_user::{Gate, Msg, Task, Thread, Timeouts, ipc, println};

use crate::env::{Env, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios (not in [`crate::all`]: see [`crate::run`]).
pub const SCENARIOS: &[Scenario] = &[("stress-calls", calls)];

/// Client/server pairs.
const PAIRS: usize = 8;
/// Calls each client makes.
const OPS: usize = 400;
/// The whole run must end within about this many milliseconds (else: a deadlock).
const WATCHDOG_MS: u64 = 15_000;
/// Priority of the pairs (below the scenario thread's, which migrates them).
const PRIO: u64 = 100;
const LABEL: u64 = 0x57;
/// Flags of a request: remap the page before replying; spin a while before replying.
const REMAP: u64 = 1;
const DELAY: u64 = 2;

/// What became of each call (client side) and how often its server received it.
const NOTHING: u8 = 0;
const ANSWERED: u8 = 1;
const SEND_TIMEOUT: u8 = 2;
const RECV_TIMEOUT: u8 = 3;
const OTHER: u8 = 4;
static OUTCOME: [[AtomicU8; OPS]; PAIRS] = [const { [const { AtomicU8::new(0) }; OPS] }; PAIRS];
static SEEN: [[AtomicU8; OPS]; PAIRS] = [const { [const { AtomicU8::new(0) }; OPS] }; PAIRS];
static DONE: [AtomicU64; PAIRS] = [const { AtomicU64::new(0) }; PAIRS];

/// Violations and events, counted by the pairs.
#[derive(Clone, Copy)]
enum Count {
    /// A reply that does not answer the call it ended (wrong pair, sequence or checksum).
    BadReply,
    /// A request whose checksum or sequence number is wrong.
    BadRequest,
    /// A request received after a later one of the same client.
    OutOfOrder,
    /// A client read the page frame its server had replaced.
    Stale,
    /// Replies that failed (the caller had given up).
    ReplyFailed,
    Remaps,
    /// The status of the last unexpected error (client or server).
    LastError,
}
static COUNTS: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

fn bump(c: Count) {
    COUNTS[c as usize].fetch_add(1, Ordering::SeqCst);
}

fn count(c: Count) -> u64 {
    COUNTS[c as usize].load(Ordering::SeqCst)
}

/// A seeded xorshift64* generator: the same choices on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 16
    }
    fn pick<T: Copy>(&mut self, of: &[T]) -> T {
        of[(self.next() % of.len() as u64) as usize]
    }
}

fn checksum(pair: u64, seq: u64) -> u64 {
    (pair << 32 | seq).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(17)
}

/// The word a page frame of `pair` holds in generation `generation`.
fn tag(pair: u64, generation: u64) -> u64 {
    0x7a90_0000_0000_0000 | pair << 32 | generation
}

fn micros(us: u64) -> Timeout {
    Timeout::from_micros(us)
}

/// Pair `p`'s server: receives with random timeouts, checks each request, sometimes spins
/// before replying, and on `REMAP` maps its other frame at `va` (unmapping the first).
fn server(p: u64, va: u64, frames: [u64; 2]) -> impl Fn() + Send + Sync + 'static {
    move || {
        let mut rng = Rng::new(0x5e7e_0000 + p);
        let (mut last, mut generation, mut reply) = (None, 0u64, None::<Msg>);
        loop {
            let t = Timeouts { send: Timeout::NEVER, recv: micros(rng.pick(&[500, 2_000, 10_000])) };
            let r = match reply.take() {
                Some(m) => ipc::reply_wait(&m, t),
                None => ipc::wait(t),
            };
            let m = match r {
                Ok(m) => m,
                Err(e) if e.phase == Phase::Send => {
                    bump(Count::ReplyFailed);
                    continue;
                }
                Err(e) if e.error == Error::Timeout => continue,
                Err(e) => {
                    COUNTS[Count::LastError as usize]
                        .store(Status::error(e.error, e.phase).0, Ordering::SeqCst);
                    continue;
                }
            };
            let (seq, sum, flags) = (m.word(1), m.word(2), m.word(3));
            if m.label() != LABEL || m.word(0) != p || seq as usize >= OPS || sum != checksum(p, seq) {
                bump(Count::BadRequest);
                reply = Some(Msg::new(0));
                continue;
            }
            SEEN[p as usize][seq as usize].fetch_add(1, Ordering::SeqCst);
            if last.is_some_and(|l| seq <= l) {
                bump(Count::OutOfOrder);
            }
            last = Some(seq);
            let mut now = 0;
            if flags & REMAP != 0 {
                generation += 1;
                let pa = frames[(generation % 2) as usize];
                // SAFETY: this pair's frame, not mapped anywhere but the window now.
                unsafe { (window(pa) as *mut u64).write_volatile(tag(p, generation)) };
                let me = Task::at(std_slots::TASK);
                let _ = me.unmap(Fpage::memory(va, 12, MemRights::RW), true);
                if me.map(window_fpage(pa, 12, MemRights::RW), va).is_ok() {
                    bump(Count::Remaps);
                    now = tag(p, generation);
                }
            }
            if flags & DELAY != 0 {
                // Plain instructions (x86_64's `pause` would leave QEMU's translated code).
                for i in 0..rng.next() % 50_000 {
                    core::hint::black_box(i);
                }
            }
            reply = Some(Msg::new(LABEL).word(p).word(seq).word(sum ^ !0).word(now));
        }
    }
}

/// Pair `p`'s client: `OPS` calls with random timeouts and flags; after a remap it reads
/// the page at `va`, which must hold the new frame's tag.
fn client(p: u64, gate: Gate, va: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let mut rng = Rng::new(0xc11e_0000 + p);
        for seq in 0..OPS as u64 {
            let x = rng.next();
            let flags = if x.is_multiple_of(4) { REMAP } else { 0 }
                | if (x / 4).is_multiple_of(8) { DELAY } else { 0 };
            let t = Timeouts {
                send: rng.pick(&[Timeout::ZERO, micros(1_000), micros(5_000)]),
                recv: rng.pick(&[micros(1_000), micros(3_000), micros(20_000)]),
            };
            let msg = Msg::new(LABEL).word(p).word(seq).word(checksum(p, seq)).word(flags);
            let outcome = match ipc::call(gate, &msg, t) {
                Ok(r) => {
                    let sum = checksum(p, seq) ^ !0;
                    if (r.label(), r.word(0), r.word(1), r.word(2)) != (LABEL, p, seq, sum) {
                        bump(Count::BadReply);
                    } else if r.word(3) != 0 {
                        // SAFETY: the server maps a page at `va` before it first replies
                        // and only replaces it while this client is not reading.
                        let got = unsafe { (va as *const u64).read_volatile() };
                        if got != r.word(3) {
                            bump(Count::Stale);
                        }
                    }
                    ANSWERED
                }
                Err(e) if e.error == Error::Timeout && e.phase == Phase::Send => SEND_TIMEOUT,
                Err(e) if e.error == Error::Timeout && e.phase == Phase::Receive => RECV_TIMEOUT,
                Err(e) => {
                    COUNTS[Count::LastError as usize]
                        .store(Status::error(e.error, e.phase).0, Ordering::SeqCst);
                    OTHER
                }
            };
            OUTCOME[p as usize][seq as usize].store(outcome, Ordering::SeqCst);
        }
        DONE[p as usize].store(1, Ordering::SeqCst);
    }
}

fn calls(env: &Env<'_>) -> Result<(), Fail> {
    for p in 0..PAIRS {
        for s in 0..OPS {
            OUTCOME[p][s].store(NOTHING, Ordering::SeqCst);
            SEEN[p][s].store(0, Ordering::SeqCst);
        }
        DONE[p].store(0, Ordering::SeqCst);
    }
    COUNTS.iter().for_each(|c| c.store(0, Ordering::SeqCst));
    let cpus = env.bi.cpus.max(1);
    let me = Task::at(std_slots::TASK);
    let mut threads: alloc::vec::Vec<Thread> = alloc::vec::Vec::new();
    let mut gates = alloc::vec::Vec::new();
    let mut pages = alloc::vec::Vec::new();
    let setup = (|| {
        for p in 0..PAIRS as u64 {
            let frames = [FRAMES.alloc().ok_or("no frame")?, FRAMES.alloc().ok_or("no frame")?];
            let va = env.scratch();
            pages.push((va, frames));
            // SAFETY: a frame just allocated, reached through the window.
            unsafe { (window(frames[0]) as *mut u64).write_volatile(tag(p, 0)) };
            me.map(window_fpage(frames[0], 12, MemRights::RW), va).map_err(fail("map"))?;
            // Even pairs start on one CPU, odd ones across two.
            let s = env.helper_created(PRIO, server(p, va, frames));
            let g = env.gate(s.thread, p);
            let c = env.helper_created(PRIO, client(p, g, va));
            threads.extend([s.thread, c.thread]);
            gates.push(g);
            s.thread.set_affinity(p % cpus).map_err(fail("server affinity"))?;
            c.thread.set_affinity((p + p % 2) % cpus).map_err(fail("client affinity"))?;
            s.thread.start().map_err(fail("start server"))?;
            c.thread.start().map_err(fail("start client"))?;
        }
        Ok::<(), Fail>(())
    })();
    // Migrate four random threads to random CPUs every millisecond until every client is done.
    let mut rng = Rng::new(0x0123_4567);
    let (mut moves, mut move_err) = (0u64, None);
    let all_done = || DONE.iter().all(|d| d.load(Ordering::SeqCst) != 0);
    for _ in 0..WATCHDOG_MS {
        if setup.is_err() || all_done() {
            break;
        }
        for _ in 0..4 {
            let t = threads[(rng.next() % threads.len() as u64) as usize];
            match t.set_affinity(rng.next() % cpus) {
                Ok(()) => moves += 1,
                Err(e) => move_err = Some(e),
            }
        }
        env.sleep_ms(1);
    }
    let finished = all_done();
    // Let the servers record what they received last.
    env.sleep_ms(20);
    let states: alloc::vec::Vec<_> = threads.iter().map(|t| t.read_regs().map(|r| r[2])).collect();
    for t in &threads {
        let _ = t.any().destroy();
    }
    for g in &gates {
        let _ = g.any().destroy();
    }
    for &(va, frames) in &pages {
        env.unmap_own(va);
        frames.iter().for_each(|&pa| FRAMES.free(pa));
    }
    setup?;
    check!(finished, "no progress within {WATCHDOG_MS} ms (a deadlock?): done {:?}, states {states:?}", DONE);
    if let Some(e) = move_err {
        return Err(fail("set_affinity")(e));
    }
    let mut n = [0u64; 5];
    for p in 0..PAIRS {
        for s in 0..OPS {
            let (o, seen) = (OUTCOME[p][s].load(Ordering::SeqCst), SEEN[p][s].load(Ordering::SeqCst));
            n[o as usize] += 1;
            let want = if o == SEND_TIMEOUT { 0 } else { 1 };
            check!(
                o != NOTHING && o != OTHER && seen == want,
                "pair {p} call {s}: outcome {o}, received {seen} time(s) (last error {:#x})",
                count(Count::LastError)
            );
        }
    }
    println!(
        "stress: {PAIRS} pairs x {OPS} calls on {cpus} CPU(s): {} answered, {} send and {} receive timeouts, {} remaps, {moves} migrations",
        n[1],
        n[2],
        n[3],
        count(Count::Remaps)
    );
    let bad = [Count::BadReply, Count::BadRequest, Count::OutOfOrder, Count::Stale, Count::LastError];
    check!(
        bad.iter().all(|&c| count(c) == 0),
        "bad replies {}, bad requests {}, out of order {}, stale reads {}, last error {:#x}",
        count(Count::BadReply),
        count(Count::BadRequest),
        count(Count::OutOfOrder),
        count(Count::Stale),
        count(Count::LastError)
    );
    check!(count(Count::ReplyFailed) <= n[RECV_TIMEOUT as usize], "more failed replies than timed-out calls");
    check!(n[1] > 0 && count(Count::Remaps) > 0, "nothing answered or remapped");
    Ok(())
}
