//! Property tests: thousands of random operation sequences (five threads in three tasks,
//! gates, IRQs, random system calls with random timeouts, ticks, interrupts, cancels,
//! deletions, map/grant/unmap) driven through the World, compared after every step with
//! the reference model in `model/` and checked against the kernel's invariants.
//!
//! `PECAN_PROPTEST_CASES` sets the total number of sequences across these tests (default
//! 5,200).

mod common;
mod model;

use model::driver::{NFRAME, NPAGE, NTASK, Op, PRIOS, RootOp, Scene, Src};
use model::{NG, NQ, NT, To};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Total sequences across the property tests of this file.
fn total_cases() -> u32 {
    std::env::var("PECAN_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_200)
}

fn runner(share: f64) -> TestRunner {
    let cases = ((total_cases() as f64 * share).ceil() as u32).max(1);
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

fn to() -> impl Strategy<Value = To> {
    prop_oneof![2 => Just(To::Zero), 3 => Just(To::Never), 4 => (1u8..6).prop_map(To::Ms)]
}

fn src() -> impl Strategy<Value = Src> {
    prop_oneof![
        Just(Src::Nil),
        (0..NG as u8).prop_map(Src::Gate),
        (0..NT as u8).prop_map(Src::Thread),
        (0..NQ as u8).prop_map(Src::Irq),
    ]
}

fn root_op() -> impl Strategy<Value = RootOp> {
    let t = 0..NT as u8;
    prop_oneof![
        4 => t.clone().prop_map(RootOp::Cancel),
        1 => t.clone().prop_map(RootOp::Suspend),
        2 => t.clone().prop_map(RootOp::Start),
        1 => t.clone().prop_map(RootOp::SetRegs),
        1 => (t.clone(), 0..PRIOS.len() as u8).prop_map(|(a, b)| RootOp::SetPrio(a, b)),
        1 => t.clone().prop_map(RootOp::DestroyThread),
        1 => (0..NG as u8).prop_map(RootOp::DestroyGate),
        1 => (0..2u8).prop_map(RootOp::DestroyIrq),
        1 => (0..NQ as u8).prop_map(RootOp::Detach),
        1 => (0..NQ as u8, t).prop_map(|(q, i)| RootOp::Attach(q, i)),
        2 => (0..NFRAME as u8, 0..NTASK as u8, 0..NPAGE as u8, 0..4u8)
            .prop_map(|(frame, task, page, rights)| RootOp::Map { frame, task, page, rights }),
        1 => (0..NTASK as u8, 0..NPAGE as u8, any::<bool>())
            .prop_map(|(task, page, with_self)| RootOp::Unmap { task, page, with_self }),
    ]
}

/// Operations weighted towards IPC.
fn ipc_op() -> impl Strategy<Value = Op> {
    let g = 0..NG as u8;
    let n = 0..11u8;
    prop_oneof![
        5 => (g.clone(), n.clone(), to()).prop_map(|(gate, words, snd)| Op::Send { gate, words, snd }),
        5 => (g, n.clone(), to(), to()).prop_map(|(gate, words, snd, rcv)| Op::Call { gate, words, snd, rcv }),
        3 => n.clone().prop_map(|words| Op::Reply { words }),
        4 => (n, to()).prop_map(|(words, rcv)| Op::ReplyWait { words, rcv }),
        4 => to().prop_map(|rcv| Op::Wait { rcv }),
        3 => (src(), to()).prop_map(|(src, rcv)| Op::Recv { src, rcv }),
        2 => Just(Op::Yield),
        2 => (0..NQ as u8).prop_map(|irq| Op::Trigger { irq }),
        1 => Just(Op::Ack),
        3 => (0..8u8).prop_map(|n| Op::Tick { n }),
        1 => Just(Op::Interrupt),
        3 => root_op().prop_map(Op::Root),
    ]
}

/// Operations weighted towards mappings (the running thread maps from its own task; with
/// equal priorities, yields rotate through all five threads and three tasks, so chains of
/// derived mappings across tasks form often).
fn map_op() -> impl Strategy<Value = Op> {
    let p = 0..NPAGE as u8;
    let k = 0..NTASK as u8;
    prop_oneof![
        8 => (0..2u8, k.clone(), 0..3u8, 0..4u8, prop::bool::weighted(0.2))
            .prop_map(|(page, task, to_page, rights, grant)| Op::Map { page, task, to_page, rights, grant }),
        2 => (p.clone(), k.clone(), p, 0..4u8, any::<bool>())
            .prop_map(|(page, task, to_page, rights, grant)| Op::Map { page, task, to_page, rights, grant }),
        3 => (k, 0..3u8, any::<bool>()).prop_map(|(task, page, with_self)| Op::Unmap { task, page, with_self }),
        5 => Just(Op::Yield),
        1 => to().prop_map(|rcv| Op::Wait { rcv }),
        1 => (0..4u8).prop_map(|n| Op::Tick { n }),
        3 => root_op().prop_map(Op::Root),
    ]
}

fn prios() -> impl Strategy<Value = [u8; NT]> {
    proptest::array::uniform5(prop::sample::select(PRIOS.to_vec()))
}

fn run(share: f64, asids: usize, len: usize, op: impl Strategy<Value = Op>) {
    run_with(share, asids, len, prios(), op);
}

fn run_with(
    share: f64,
    asids: usize,
    len: usize,
    prios: impl Strategy<Value = [u8; NT]>,
    op: impl Strategy<Value = Op>,
) {
    let ops = prop::collection::vec(op, 1..=len);
    runner(share)
        .run(&(prios, ops), |(prios, ops)| {
            let mut sc = Scene::new(prios, asids);
            for op in &ops {
                sc.step(op);
            }
            sc.finish();
            Ok(())
        })
        .unwrap();
}

#[test]
fn ipc_sequences_untagged_tlb() {
    run(0.35, 0, 28, ipc_op());
}

#[test]
fn ipc_sequences_tagged_tlb() {
    run(0.2, 8, 28, ipc_op());
}

#[test]
fn mapping_sequences_with_asid_rollover() {
    // Three ASIDs for four address spaces: activations recycle them.
    run_with(0.25, 3, 32, Just([100; NT]), map_op());
}

#[test]
fn mixed_sequences() {
    run(0.2, 0, 28, prop_oneof![ipc_op(), map_op()]);
}
