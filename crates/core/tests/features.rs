//! Turning off lazy queues or direct switch changes nothing observable. The property tests
//! compare results and states with the model in every build; this test pins down what the
//! model leaves open, the scheduling: which thread runs after every step and how much of
//! its slice is left, over a fixed set of random runs, digested and compared with the
//! value every feature combination must produce. (CI runs this file with each
//! combination: see `tests/matrix/00-host.toml`.)

mod common;
mod model;

use model::driver::{NFRAME, NPAGE, NTASK, Op, PRIOS, RootOp, Scene, Src};
use model::{NG, NQ, NT, To};

/// The digest all builds must produce. If a change to the scheduler changes it on
/// purpose, run `cargo test -p pecan-core --test features -- --nocapture` and take the
/// printed value; the other feature combinations must then agree with it.
const DIGEST: u64 = 0x39b0_d08e_c8cb_80a5;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u8 {
        (self.next() % n) as u8
    }

    fn to(&mut self) -> To {
        match self.below(9) {
            0 | 1 => To::Zero,
            2..=4 => To::Never,
            _ => To::Ms(1 + self.below(5)),
        }
    }
}

fn op(r: &mut Rng) -> Op {
    let t = NT as u64;
    match r.below(40) {
        0..=4 => Op::Send { gate: r.below(NG as u64), words: r.below(11), snd: r.to() },
        5..=9 => Op::Call { gate: r.below(NG as u64), words: r.below(11), snd: r.to(), rcv: r.to() },
        10..=11 => Op::Reply { words: r.below(11) },
        12..=15 => Op::ReplyWait { words: r.below(11), rcv: r.to() },
        16..=19 => Op::Wait { rcv: r.to() },
        20..=21 => {
            let src = match r.below(4) {
                0 => Src::Nil,
                1 => Src::Gate(r.below(NG as u64)),
                2 => Src::Thread(r.below(t)),
                _ => Src::Irq(r.below(NQ as u64)),
            };
            Op::Recv { src, rcv: r.to() }
        }
        22..=24 => Op::Yield,
        25 => Op::Trigger { irq: r.below(NQ as u64) },
        26 => Op::Ack,
        27..=28 => Op::Map {
            page: r.below(2),
            task: r.below(NTASK as u64),
            to_page: r.below(NPAGE as u64),
            rights: r.below(4),
            grant: r.below(4) == 0,
        },
        29 => {
            Op::Unmap { task: r.below(NTASK as u64), page: r.below(NPAGE as u64), with_self: r.below(2) == 0 }
        }
        30..=33 => Op::Tick { n: r.below(8) },
        34 => Op::Interrupt,
        _ => Op::Root(match r.below(8) {
            0 | 1 => RootOp::Cancel(r.below(t)),
            2 => RootOp::Start(r.below(t)),
            3 => RootOp::Suspend(r.below(t)),
            4 => RootOp::SetPrio(r.below(t), r.below(PRIOS.len() as u64)),
            5 => RootOp::DestroyThread(r.below(t)),
            6 => RootOp::Map {
                frame: r.below(NFRAME as u64),
                task: r.below(NTASK as u64),
                page: r.below(NPAGE as u64),
                rights: r.below(4),
            },
            _ => RootOp::Attach(r.below(NQ as u64), r.below(t)),
        }),
    }
}

/// FNV-1a over the scheduling trace of every run.
fn digest() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |x: u64| {
        for b in x.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    };
    let mut r = Rng(0x5eed_cafe_f00d_0001);
    for _ in 0..150 {
        let mut prios = [0u8; NT];
        for p in prios.iter_mut() {
            *p = PRIOS[r.below(PRIOS.len() as u64) as usize];
        }
        let mut sc = Scene::new(prios, 0);
        for _ in 0..40 {
            let o = op(&mut r);
            sc.step(&o);
            mix(*sc.trace.last().unwrap() as u64);
            mix(sc.w.k.sched().slice_left as u64);
        }
        sc.finish();
    }
    h
}

#[test]
fn scheduling_is_the_same_with_and_without_lazy_queues_and_direct_switch() {
    let d = digest();
    println!(
        "scheduling digest {d:#018x} (lazy-queues: {}, direct-switch: {})",
        cfg!(feature = "lazy-queues"),
        cfg!(feature = "direct-switch")
    );
    assert_eq!(d, DIGEST, "the scheduling trace differs: {d:#018x}");
}
