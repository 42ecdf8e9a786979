//! The timeout wheel under load (seed 003): 10,000 threads sleep with random timeouts; each
//! wakes exactly at its tick, each tick inspects one list (k/n entries on average), and
//! threads woken early leave stale entries that are dropped when their list is met.

mod common;
use common::*;
use pecan_abi::object::thread;
use pecan_abi::timeout::TimeoutKind;
use pecan_abi::{Error, Phase, Timeout};
use pecan_core::timeout::WHEEL_SIZE;
use pecan_core::{Config, Handle};

const SLEEPERS: usize = 10_000;
const CANCELLED: usize = 1_000;
/// Longest sleep: a bit under three turns of the wheel.
const MAX_US: u64 = 3_000_000;

/// A small deterministic generator (xorshift64*), so the test needs no seed plumbing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The tick at which a sleep of `t` started at tick 0 expires.
fn deadline(t: Timeout) -> u64 {
    match t.kind() {
        Some(TimeoutKind::Relative(us)) => us.div_ceil(1000).max(1),
        k => panic!("{k:?}"),
    }
}

#[test]
fn ten_thousand_timeouts_expire_exactly_on_time() {
    let config = Config {
        max_threads: SLEEPERS + 16,
        max_tasks: 4,
        max_gates: 4,
        root_quota: 256 << 20,
        ..Config::default()
    };
    let mut w = World::with_frames(0, config, 48 << 20);
    w.checks = false;
    let task = w.new_task_order(4);
    let mut threads: Vec<Th> = Vec::with_capacity(SLEEPERS);
    for _ in 0..SLEEPERS {
        threads.push(w.spawn(task, 150));
    }
    let slot_of: std::collections::HashMap<Handle, usize> =
        threads.iter().enumerate().map(|(i, t)| (t.h, i)).collect();
    // Root steps down: the sleepers run in order, each going to sleep.
    w.go();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut due = vec![0u64; SLEEPERS];
    while let Some(c) = w.cur().filter(|c| *c != w.root) {
        let i = slot_of[&c];
        let t = Timeout::from_micros(1 + rng.next() % MAX_US);
        due[i] = deadline(t);
        w.recv(c, 0, t);
    }
    assert!(due.iter().all(|&d| d > 0), "every sleeper went to sleep");
    w.check_now();
    assert_eq!(w.k.wheel.entries(), SLEEPERS);
    // Wake a tenth of them early (cancel); each then sleeps forever. Their entries stay
    // in the wheel, stale.
    let mut cancelled = vec![false; SLEEPERS];
    for _ in 0..CANCELLED {
        let mut i = (rng.next() % SLEEPERS as u64) as usize;
        while cancelled[i] {
            i = (i + 1) % SLEEPERS;
        }
        cancelled[i] = true;
        w.invoke_ok(w.root, threads[i].slot, thread::CANCEL, &[]);
        assert_eq!(w.cur(), Some(threads[i].h));
        assert_eq!(w.err(threads[i].h), Some((Error::Cancelled, Phase::Receive)));
        w.recv(threads[i].h, 0, Timeout::NEVER);
    }
    assert_eq!(w.k.wheel.entries(), SLEEPERS, "early wakes leave stale entries (lazy deletion)");
    // Tick: whoever wakes runs (it outranks root) and is recorded, then sleeps forever.
    let last = *due.iter().max().unwrap();
    let mut woke = vec![None; SLEEPERS];
    let inspected0 = w.k.wheel.inspected;
    for now in 1..=last + 5 {
        w.tick(1);
        while let Some(c) = w.cur().filter(|c| *c != w.root) {
            let i = slot_of[&c];
            assert_eq!(woke[i], None, "thread {i} woke twice");
            woke[i] = Some(now);
            assert_eq!(w.err(c), Some((Error::Timeout, Phase::Receive)));
            w.recv(c, 0, Timeout::NEVER);
        }
    }
    for i in 0..SLEEPERS {
        if cancelled[i] {
            assert_eq!(woke[i], None, "cancelled thread {i} must not time out later");
        } else {
            assert_eq!(woke[i], Some(due[i]), "thread {i} expires exactly at its tick");
        }
    }
    // Cost: a live entry with deadline d is inspected once per turn of the wheel until it
    // expires (ceil(d / n) times); a stale entry once, when its list is first met.
    let ticks = last + 5;
    let inspected = w.k.wheel.inspected - inspected0;
    let n = WHEEL_SIZE as u64;
    let want: u64 = (0..SLEEPERS).map(|i| if cancelled[i] { 1 } else { due[i].div_ceil(n) }).sum();
    assert_eq!(inspected, want);
    let per_tick = inspected as f64 / ticks as f64;
    eprintln!("{SLEEPERS} sleepers, {ticks} ticks, {inspected} inspected, {per_tick:.2} per tick");
    let k_over_n = SLEEPERS as f64 / n as f64;
    assert!(per_tick <= 1.5 * k_over_n, "{per_tick:.1} entries per tick for k/n = {k_over_n:.1}");
    assert_eq!(w.k.wheel.entries(), 0, "every entry, live or stale, is gone");
    w.check_now();
}
