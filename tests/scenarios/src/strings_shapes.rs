//! String items in every shape between two root threads (Pistachio l4test's string tests):
//! a substring, one string scattered into a compound buffer, a compound string gathered
//! into one buffer, several strings in one message, a buffer longer than its string, and a
//! 64 KiB string copied while timer ticks preempt it.

use pecan_abi::caps::std_slots;
use pecan_user::Machine;

use crate::env::Env;
use crate::strings_pair::{Action, Mem, Pair, Piece, arrived};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-string-substring", substring),
    ("ipc-string-scatter", scatter),
    ("ipc-string-gather", gather),
    ("ipc-string-multiple", multiple),
    ("ipc-string-longer-buffer", longer_buffer),
    ("ipc-string-64k-preempted", preempted),
];

pub(crate) static SRC: Mem = Mem(core::cell::UnsafeCell::new([0; 65536]));
pub(crate) static DST: Mem = Mem(core::cell::UnsafeCell::new([0; 65536]));

/// One round without page faults; checks both succeeded, the receiver's first strings
/// are `want`, and the bytes arrived.
fn ok_round(env: &Env<'_>, sent: &[Piece], bufs: &[Piece], want: [(u64, u64); 2]) -> Result<(), Fail> {
    let mut p = Pair::new(env);
    let r = p.round(sent, bufs, (0, 0), (true, true), |_| Action::Ignore);
    p.end(env);
    let o = r?;
    check!(o.sender == Some(0) && o.receiver == Some(0), "statuses {:?} {:?}", o.sender, o.receiver);
    check!(o.faults == 0, "{} page faults", o.faults);
    check!(o.strings == want, "the receiver got {:x?}, expected {want:x?}", o.strings);
    check!(arrived(sent, bufs), "the bytes did not arrive");
    Ok(())
}

fn substring(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    // 777 bytes from the middle of the source into a buffer of exactly that size.
    ok_round(env, &[(s + 1234, 777, false)], &[(d + 3, 777, false)], [(d + 3, 777), (0, 0)])
}

fn scatter(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    let bufs = [(d, 1000, true), (d + 5000, 3001, true), (d + 20000, 4000, false)];
    ok_round(env, &[(s + 5, 6000, false)], &bufs, [(d, 6000), (0, 0)])
}

fn gather(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    let sent = [(s + 10, 1500, true), (s + 9000, 2500, true), (s + 30000, 100, false)];
    ok_round(env, &sent, &[(d + 7, 4100, false)], [(d + 7, 4100), (0, 0)])
}

fn multiple(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    let sent = [(s, 300, false), (s + 5000, 5000, false)];
    let bufs = [(d, 512, false), (d + 8192, 8192, false)];
    let mut p = Pair::new(env);
    let r = p.round(&sent, &bufs, (0, 0), (true, true), |_| Action::Ignore);
    p.end(env);
    let o = r?;
    check!(o.sender == Some(0) && o.receiver == Some(0), "statuses {:?} {:?}", o.sender, o.receiver);
    check!(o.strings == [(d, 300), (d + 8192, 5000)], "the receiver got {:x?}", o.strings);
    check!(arrived(&sent[..1], &bufs[..1]) && arrived(&sent[1..], &bufs[1..]), "the bytes did not arrive");
    Ok(())
}

fn longer_buffer(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    ok_round(env, &[(s + 100, 2000, false)], &[(d, 16384, false)], [(d, 2000), (0, 0)])?;
    // SAFETY: our static; the receiver reported, nothing writes it now.
    let rest = (d + 2000..d + 16384).all(|v| unsafe { (v as *const u8).read_volatile() } == 0);
    check!(rest, "bytes beyond the string were written");
    Ok(())
}

/// Rounds at most (a tick lands in a copy within a few dozen).
const ROUNDS: u32 = 2000;

/// Sends 4 × 64 KiB over and over until a timer tick preempted a copy (the kernel closes the
/// window and maps it again on resume: more than one TLB flush in that round, by the
/// kernel's counters), then checks that round's string arrived intact.
fn preempted(env: &Env<'_>) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    let m = Machine::at(std_slots::MACHINE);
    let counting = m.counters().is_ok_and(|k| k[0] > 0);
    // Four strings of 64 KiB into four buffers at the same place: most of a round is copying.
    let sent = [(s, 65536, false); 4];
    let bufs = [(d, 65536, false); 4];
    let mut p = Pair::new(env);
    let r = (|| {
        for round in 0..ROUNDS {
            // Every 64th byte cleared: a chunk the kernel skipped would show.
            // SAFETY: our static; the receiver reported the previous round.
            (0..65536).step_by(64).for_each(|i| unsafe { ((d + i) as *mut u8).write_volatile(0) });
            let f0 = m.counters().map_or(0, |k| k[6]);
            let o = p.round(&sent, &bufs, (0, 0), (true, true), |_| Action::Ignore)?;
            let flushes = m.counters().map_or(0, |k| k[6]) - f0;
            check!(
                o.sender == Some(0) && o.receiver == Some(0),
                "round {round}: {:?} {:?}",
                o.sender,
                o.receiver
            );
            if flushes > 1 || (!counting && round == 20) {
                check!(
                    arrived(&sent[..1], &bufs[..1]),
                    "round {round} ({flushes} flushes): the string was damaged"
                );
                pecan_user::println!("ipc-string-64k-preempted: preempted in round {round}");
                return Ok(());
            }
        }
        check!(false, "no copy was preempted in {ROUNDS} rounds");
        Ok(())
    })();
    p.end(env);
    r
}
