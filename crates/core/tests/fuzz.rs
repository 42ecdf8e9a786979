//! Garbage from user space: random control words, selectors, tags, message and buffer
//! registers, issued by whichever thread runs (root included). The kernel must never
//! panic, and its invariants must hold after every step.
//!
//! `PECAN_PROPTEST_CASES` scales the number of sequences (default: 800 of them).

mod common;

use common::*;
use pecan_abi::utcb::offset;
use pecan_abi::{Fpage, MemRights};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One raw system call, or time passing.
#[derive(Clone, Debug)]
enum Step {
    Sys { control: u64, cap: u64, tag: u64, mrs: Vec<u64>, brs: Vec<(u8, u64)> },
    Tick,
}

fn word() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0u64..80,
        2 => any::<u64>(),
        1 => (0x1000u64..0x200_0000).prop_map(|a| a & !0xfff),
        2 => (0u64..0x200_0000, 12u8..24, 0u8..8)
            .prop_map(|(b, o, r)| Fpage::memory(b << 12 & !((1 << o) - 1), o, MemRights(r)).0),
        1 => (0u64..128, 0u8..6, 0u8..8).prop_map(|(s, o, r)| Fpage::object(s & !((1 << o) - 1), o, pecan_abi::CapRights(r)).0),
        1 => (0u64..4, 0u64..0x4000).prop_map(|(t, l)| t | l << 16),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let control = prop_oneof![
        6 => (0u64..10, any::<u16>(), any::<u16>())
            .prop_map(|(n, s, r)| n | (s as u64) << 16 | (r as u64) << 32),
        2 => (0u64..10).prop_map(|n| n | 0xffff << 16 | 0xffff << 32),
        1 => any::<u64>(),
    ];
    let tag = prop_oneof![
        4 => (0u64..12, 0u64..8, 0u64..4).prop_map(|(label, w, i)| label << 16 | i << 7 | w),
        1 => (0u64..0x1000, 0u64..70, 0u64..32).prop_map(|(label, w, i)| label << 16 | i << 7 | w),
        1 => any::<u64>(),
    ];
    let cap = prop_oneof![4 => 0u64..70, 1 => any::<u64>()];
    prop_oneof![
        9 => (control, cap, tag, prop::collection::vec(word(), 0..12), prop::collection::vec((0u8..8, word()), 0..4))
            .prop_map(|(control, cap, tag, mrs, brs)| Step::Sys { control, cap, tag, mrs, brs }),
        1 => Just(Step::Tick),
    ]
}

fn cases() -> u32 {
    let total: u32 = std::env::var("PECAN_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_200);
    (total * 2 / 13).max(1)
}

#[test]
fn the_kernel_survives_garbage_from_user_space() {
    let mut runner =
        TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    runner
        .run(&prop::collection::vec(step(), 1..40), |steps| {
            let mut w = World::with_frames(0, World::config(), 512 << 10);
            w.checks = false;
            let t = w.new_task();
            let a = w.new_thread(t, 100);
            let b = w.new_thread(pecan_abi::caps::ROOT_TASK, 100);
            let g = w.new_gate(a, 1);
            let q = w.new_irq();
            w.give_page(ram(0x1000), t, 0x10_0000, MemRights::RW);
            for (i, s) in [g, q, a.slot, b.slot, t, pecan_abi::caps::ROOT_FACTORY].into_iter().enumerate() {
                w.give_cap(s, t, 10 + i as u64);
            }
            w.start(a);
            w.start(b);
            w.checks = true;
            w.check_now();
            for s in &steps {
                match (s, w.cur()) {
                    (Step::Sys { control, cap, tag, mrs, brs }, Some(c)) => {
                        for (i, &m) in mrs.iter().enumerate() {
                            if let Some(x) = w.k.threads.get_mut(c).unwrap().ctx.mr.get_mut(i) {
                                *x = m;
                            }
                            w.k.utcb_write(c, offset::MR + i, m);
                        }
                        for &(i, v) in brs {
                            w.k.utcb_write(c, offset::BR + i as usize, v);
                        }
                        w.sys_raw(c, *control, *cap, *tag);
                    }
                    _ => w.tick(1),
                }
            }
            Ok(())
        })
        .unwrap();
}
