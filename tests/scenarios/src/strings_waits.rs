//! Long IPC that waits for pagers (the scenario thread is the pager of both partners): a
//! fault in the sender's string and on both sides resolved while the transfer waits, a
//! pager that never answers (the transfer timeout), cancelling and deleting either
//! partner in the middle, and a partner that is itself the pager (`Deadlock` at once).
//! After each failure both threads go on with a good transfer.

use pecan_abi::proto::page_fault;
use pecan_abi::utcb::xfer_timeouts;
use pecan_abi::{Error, Phase, Timeout};

use crate::env::{Env, st};
use crate::strings_pair::{Action, Pair, Piece, arrived};
use crate::strings_shapes::{DST, SRC};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[
    ("ipc-string-sender-fault", sender_fault),
    ("ipc-string-transfer-timeout", transfer_timeout),
    ("ipc-string-cancel-mid-transfer", cancel_mid_transfer),
    ("ipc-string-partner-deleted", partner_deleted),
    ("ipc-string-pager-is-partner", pager_is_partner),
];

/// Both partners failed with `e`.
fn both(e: Error) -> (Option<u64>, Option<u64>) {
    (Some(st(e, Phase::Send)), Some(st(e, Phase::Receive)))
}

/// A good round (mapped memory, no faults): both go on after a failure.
fn good_round(p: &mut Pair) -> Result<(), Fail> {
    let (s, d) = (SRC.fill(), DST.clear());
    let (sent, bufs) = ([(s + 1, 3000, false)], [(d, 4096, false)]);
    let o = p.round(&sent, &bufs, (0, 0), (true, true), |_| Action::Ignore)?;
    check!(
        (o.sender, o.receiver) == (Some(0), Some(0)),
        "then a good transfer: {:?} {:?}",
        o.sender,
        o.receiver
    );
    check!(arrived(&sent, &bufs), "then a good transfer: the bytes did not arrive");
    Ok(())
}

/// An unmapped buffer (of `len` bytes at `off` in a fresh scratch area).
fn unmapped(env: &Env<'_>, off: u64, len: u64) -> Piece {
    (env.scratch() + off, len, false)
}

fn sender_fault(env: &Env<'_>) -> Result<(), Fail> {
    let mut p = Pair::new(env);
    let r = (|| {
        // The string's three pages come from the pager in the middle of the copy.
        let d = DST.clear();
        let sent = [unmapped(env, 0xf00, 0x1200)];
        let bufs = [(d + 8, 0x1200, false)];
        let o = p.round(&sent, &bufs, (0, 0), (true, true), |_| Action::Resolve)?;
        check!((o.sender, o.receiver) == (Some(0), Some(0)), "sender side: {:?} {:?}", o.sender, o.receiver);
        check!(o.faults == 3, "sender side: {} faults, expected 3", o.faults);
        check!(
            o.access & page_fault::IN_TRANSFER != 0,
            "the fault is not flagged IN_TRANSFER: {:#x}",
            o.access
        );
        check!(arrived(&sent, &bufs), "sender side: the bytes did not arrive");
        // Faults on both sides of one transfer.
        let (sent, bufs) = ([unmapped(env, 0x800, 0x1000)], [unmapped(env, 0x10, 0x1000)]);
        let o = p.round(&sent, &bufs, (0, 0), (true, true), |_| Action::Resolve)?;
        check!((o.sender, o.receiver) == (Some(0), Some(0)), "both sides: {:?} {:?}", o.sender, o.receiver);
        check!(o.faults == 4, "both sides: {} faults, expected 4", o.faults);
        check!(arrived(&sent, &bufs), "both sides: the bytes did not arrive");
        Ok(())
    })();
    p.end(env);
    r
}

fn transfer_timeout(env: &Env<'_>) -> Result<(), Fail> {
    let mut p = Pair::new(env);
    let r = (|| {
        let s = SRC.fill();
        // The receiver allows 20 ms of waiting; its pager never answers.
        let tcr = xfer_timeouts(Timeout::NEVER, Timeout::from_micros(20_000));
        let o = p.round(&[(s, 100, false)], &[unmapped(env, 0, 100)], (0, tcr), (true, true), |_| {
            Action::Ignore
        })?;
        check!(
            (o.sender, o.receiver) == both(Error::TransferTimeout),
            "got {:x?} {:x?}",
            o.sender,
            o.receiver
        );
        check!(o.faults == 1, "{} faults", o.faults);
        // The sender's timeout of 0 allows no fault at all.
        let tcr = xfer_timeouts(Timeout::ZERO, Timeout::NEVER);
        let o = p.round(&[(s, 100, false)], &[unmapped(env, 0, 100)], (tcr, 0), (true, true), |_| {
            Action::Ignore
        })?;
        check!(
            (o.sender, o.receiver) == both(Error::TransferTimeout),
            "zero: {:x?} {:x?}",
            o.sender,
            o.receiver
        );
        check!(o.faults == 0, "zero: {} faults", o.faults);
        good_round(&mut p)
    })();
    p.end(env);
    r
}

fn cancel_mid_transfer(env: &Env<'_>) -> Result<(), Fail> {
    let mut p = Pair::new(env);
    let r = (|| {
        for (who, victim) in [("sender", p.s.thread), ("receiver", p.r.thread)] {
            // The transfer waits for the receiver's pager; the pager cancels one partner.
            let s = SRC.fill();
            let bufs = [unmapped(env, 0x100, 0x2000)];
            let o =
                p.round(&[(s, 0x2000, false)], &bufs, (0, 0), (true, true), |_| Action::Cancel(victim))?;
            check!(
                (o.sender, o.receiver) == both(Error::Cancelled),
                "{who}: {:x?} {:x?}",
                o.sender,
                o.receiver
            );
            good_round(&mut p)?;
        }
        Ok(())
    })();
    p.end(env);
    r
}

fn partner_deleted(env: &Env<'_>) -> Result<(), Fail> {
    for delete_sender in [true, false] {
        let mut p = Pair::new(env);
        let victim = if delete_sender { p.s.thread } else { p.r.thread };
        let s = SRC.fill();
        let bufs = [unmapped(env, 0x100, 0x2000)];
        let r = p.round(&[(s, 0x2000, false)], &bufs, (0, 0), (!delete_sender, delete_sender), |_| {
            Action::Destroy(victim)
        });
        p.end(env);
        let o = r?;
        let (got, want) = if delete_sender {
            (o.receiver, st(Error::PartnerDeleted, Phase::Receive))
        } else {
            (o.sender, st(Error::PartnerDeleted, Phase::Send))
        };
        check!(
            got == Some(want),
            "deleting the {}: the other got {got:x?}",
            ["receiver", "sender"][delete_sender as usize]
        );
    }
    Ok(())
}

fn pager_is_partner(env: &Env<'_>) -> Result<(), Fail> {
    let mut p = Pair::new(env);
    // The receiver's pager is the sender: locked in the transfer, it could never answer.
    let g = env.gate(p.s.thread, 0xdead);
    let r = (|| {
        p.r.thread.configure(g.sel(), 0).map_err(crate::env::fail("configure"))?;
        let s = SRC.fill();
        let o =
            p.round(&[(s, 64, false)], &[unmapped(env, 0, 64)], (0, 0), (true, true), |_| Action::Ignore)?;
        check!((o.sender, o.receiver) == both(Error::Deadlock), "got {:x?} {:x?}", o.sender, o.receiver);
        check!(o.faults == 0, "{} faults reached a pager", o.faults);
        good_round(&mut p)
    })();
    p.end(env);
    let _ = g.any().destroy();
    r
}
