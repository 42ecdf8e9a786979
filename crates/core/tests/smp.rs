//! Threads on several CPUs (simulated): each CPU picks from its own ready lists, a thread
//! made ready on another CPU's lists that outranks what runs there gets that CPU a `Wake`
//! IPI, affinity moves ready and blocked threads at once and running ones at their CPU's
//! next scheduling, IPC between CPUs takes the general path, a thread running on another
//! CPU is kicked out before it is stopped or deleted, and (over random runs, checked after
//! every step) no thread ever runs on two CPUs.

mod common;
use common::*;
use pecan_abi::object::thread;
use pecan_abi::tag::FLAG_CROSS_CPU;
use pecan_abi::{Error, MsgTag, Phase, Timeout};
use pecan_core::State;
use pecan_hal::Ipi;

const NEVER: Timeout = Timeout::NEVER;

/// A world with `cpus` CPUs and threads of one new task at `prios`, on CPU `cpus[i]`,
/// started; root (priority 200) runs on CPU 0.
fn placed(cpus: usize, threads: &[(u64, usize)]) -> (World, Vec<Th>) {
    let mut w = World::with_cpus(cpus);
    let t = w.new_task();
    let ths = threads
        .iter()
        .map(|&(prio, cpu)| {
            let th = w.new_thread(t, prio);
            w.invoke_ok(w.root, th.slot, thread::SET_AFFINITY, &[cpu as u64]);
            w.start(th);
            th
        })
        .collect();
    (w, ths)
}

fn wakes_to(w: &World, cpu: usize) -> usize {
    w.k.hal.ipis.iter().filter(|&&(c, k)| c == cpu && k == Ipi::Wake).count()
}

/// Threads handed to idle CPU `cpu` (`crosscore`).
fn handoffs_to(w: &World, cpu: usize) -> usize {
    w.k.hal.handoffs.iter().filter(|&&(c, _)| c == cpu).count()
}

/// `Wake` IPIs or handoffs to `cpu`: what tells an idle CPU it has a thread to run.
fn notified(w: &World, cpu: usize) -> usize {
    wakes_to(w, cpu) + handoffs_to(w, cpu)
}

#[test]
fn each_cpu_picks_from_its_own_lists() {
    let (mut w, th) = placed(3, &[(100, 1), (100, 2), (50, 0)]);
    // Root keeps CPU 0; each idle CPU was sent a wake-up for its thread.
    assert_eq!(w.cur_on(0), Some(w.root));
    assert_eq!((notified(&w, 1), notified(&w, 2)), (1, 1));
    assert!(w.take_ipis(1) && w.take_ipis(2));
    assert_eq!([w.cur_on(1), w.cur_on(2)], [Some(th[0].h), Some(th[1].h)]);
    // CPU 0's low-priority thread runs there once root blocks, not elsewhere.
    w.on(0);
    w.recv(w.root, 0, NEVER);
    assert_eq!(w.cur_on(0), Some(th[2].h));
    // A thread created on CPU 1 stays there.
    w.on(1);
    assert_eq!(w.k.threads.get(th[0].h).unwrap().cpu, 1);
}

#[test]
fn a_wake_ipi_only_when_the_woken_thread_outranks() {
    let (mut w, th) = placed(2, &[(100, 1), (50, 1), (150, 1)]);
    w.take_ipis(1);
    // 150 runs on CPU 1; the others wait there.
    assert_eq!(w.cur_on(1), Some(th[2].h));
    // Block 150 and 50 in a receive from the nil partner, 100 runs.
    w.on(1);
    w.recv(th[2].h, 0, NEVER);
    assert_eq!(w.cur_on(1), Some(th[0].h));
    // Root on CPU 0 cancels 150's receive: it outranks 100 on CPU 1, a `Wake` goes there.
    w.on(0);
    w.k.hal.ipis.clear();
    w.invoke_ok(w.root, th[2].slot, thread::CANCEL, &[]);
    assert_eq!(wakes_to(&w, 1), 1);
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(th[2].h));
    assert_eq!(w.err(th[2].h), Some((Error::Cancelled, Phase::Receive)));
}

#[test]
fn call_and_reply_across_cpus_hand_the_partner_to_its_idle_cpu() {
    // A server on CPU 1 waits; a client on CPU 0 calls it.
    let (mut w, th) = placed(2, &[(100, 1), (100, 0)]);
    let (server, client) = (th[0], th[1]);
    let g = w.new_gate(server, 0x77);
    w.give_cap(g, server.task_slot, 5);
    w.take_ipis(1);
    w.on(1);
    w.wait(server.h);
    assert_eq!(w.cur_on(1), None);
    w.on(0);
    w.recv(w.root, 0, NEVER);
    assert_eq!(w.cur_on(0), Some(client.h));
    let fast = w.k.counters.fastpath;
    let handoffs = w.k.counters.remote_handoffs;
    w.k.hal.ipis.clear();
    w.call(client.h, 5, MsgTag::new(9, 1, 0), &[41]);
    // The fast path takes it with `crosscore` (the server's CPU is idle), else refuses it.
    let fast_cross = pecan_core::handoff::ON && pecan_core::fastpath::ON;
    assert_eq!(w.k.counters.fastpath - fast, fast_cross as u64);
    assert!(w.blocked(client.h));
    // CPU 1 is idle: with `crosscore` the server is handed to it (no `Wake`, no reschedule
    // there), its space recorded as loaded; without, a `Wake` IPI.
    let handed = pecan_core::handoff::ON;
    assert_eq!((handoffs_to(&w, 1), wakes_to(&w, 1)), if handed { (1, 0) } else { (0, 1) });
    if handed {
        assert_eq!(w.k.counters.remote_handoffs, handoffs + 1);
        assert_eq!(w.cur_on(1), Some(server.h), "the server runs on CPU 1 before it enters the kernel");
        assert_eq!(w.k.percpu[1].active_task.get(), Some(w.k.threads.get(server.h).unwrap().task));
    }
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(server.h));
    let r = w.ok(server.h);
    assert_eq!((r.label, r.words[0]), (0x77, 41));
    // Each side's received tag says the message came from another CPU.
    assert_eq!(r.tag, MsgTag::new(9, 1, 0).with_flags(FLAG_CROSS_CPU));
    w.reply_wait(server.h, MsgTag::new(0, 1, 0), &[42]);
    assert_eq!(notified(&w, 0), 1);
    assert!(w.take_ipis(0));
    assert_eq!(w.cur_on(0), Some(client.h));
    let r = w.ok(client.h);
    assert_eq!((r.words[0], r.tag.flags()), (42, FLAG_CROSS_CPU));
    // Again: with `crosscore` and the fast path, both directions are fast-path system calls
    // that leave their CPU idle and hand the partner over.
    let (fast, handoffs) = (w.k.counters.fastpath, w.k.counters.remote_handoffs);
    w.call(client.h, 5, MsgTag::new(9, 1, 0), &[43]);
    assert_eq!(w.cur_on(0), None);
    assert!(w.take_ipis(1));
    let r = w.ok(server.h);
    assert_eq!((r.words[0], r.tag.flags()), (43, FLAG_CROSS_CPU));
    w.reply_wait(server.h, MsgTag::new(0, 1, 0), &[44]);
    assert_eq!(w.cur_on(1), None);
    assert!(w.take_ipis(0));
    let r = w.ok(client.h);
    assert_eq!((r.words[0], r.tag.flags()), (44, FLAG_CROSS_CPU));
    if fast_cross {
        assert_eq!(w.k.counters.fastpath - fast, 2, "both on the fast path");
        assert_eq!(w.k.counters.remote_handoffs - handoffs, 2);
        assert!(w.k.hal.handoffs.is_empty());
    }
}

#[test]
fn a_queued_sender_from_another_cpu_is_flagged_and_one_from_this_cpu_is_not() {
    // Two senders block on a gate whose server (CPU 1) is busy: one on CPU 0, one on CPU 1.
    let (mut w, th) = placed(2, &[(100, 1), (100, 0), (100, 1)]);
    let (server, far, near) = (th[0], th[1], th[2]);
    let g = w.new_gate(server, 0x55);
    w.give_cap(g, far.task_slot, 5);
    w.give_cap(g, near.task_slot, 5);
    w.take_ipis(1);
    assert_eq!(w.cur_on(1), Some(server.h));
    w.on(0);
    w.recv(w.root, 0, NEVER);
    assert_eq!(w.cur_on(0), Some(far.h));
    w.send(far.h, 5, MsgTag::new(1, 1, 0), &[10]);
    assert!(w.blocked(far.h), "nobody receives yet");
    w.on(1);
    w.yield_(server.h);
    assert_eq!(w.cur_on(1), Some(near.h));
    w.send(near.h, 5, MsgTag::new(2, 1, 0), &[20]);
    assert!(w.blocked(near.h));
    assert_eq!(w.cur_on(1), Some(server.h));
    w.wait(server.h);
    let r = w.ok(server.h);
    assert_eq!((r.words[0], r.tag), (10, MsgTag::new(1, 1, 0).with_flags(FLAG_CROSS_CPU)));
    w.wait(server.h);
    let r = w.ok(server.h);
    assert_eq!((r.words[0], r.tag), (20, MsgTag::new(2, 1, 0)), "the same CPU: no flag");
}

#[test]
fn a_cpu_running_a_thread_gets_a_wake_not_a_handoff() {
    // Two threads for CPU 1 (idle): the first is handed over; the second, of higher
    // priority, finds CPU 1 running the first: a `Wake`, and CPU 1 reschedules to it.
    let (mut w, th) = placed(2, &[(100, 1)]);
    let (lo, hi) = (th[0], {
        let t = w.new_thread(th[0].task_slot, 150);
        w.invoke_ok(w.root, t.slot, thread::SET_AFFINITY, &[1]);
        t
    });
    if pecan_core::handoff::ON {
        assert_eq!((handoffs_to(&w, 1), wakes_to(&w, 1)), (1, 0), "the first thread was handed over");
    }
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(lo.h));
    w.on(0);
    w.start(hi);
    assert_eq!(handoffs_to(&w, 1), 0);
    assert_eq!(wakes_to(&w, 1), 1, "CPU 1 runs a thread: the second one is a Wake");
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(hi.h));
}

#[test]
fn a_ready_thread_moves_at_once_a_running_one_at_its_next_schedule() {
    let (mut w, th) = placed(2, &[(100, 0), (100, 1)]);
    w.take_ipis(1);
    // th[0] is ready on CPU 0 (root runs): it moves now, and wakes CPU 1's scheduler? No:
    // it does not outrank th[1] there, so no IPI.
    w.on(0);
    w.k.hal.ipis.clear();
    w.invoke_ok(w.root, th[0].slot, thread::SET_AFFINITY, &[1]);
    assert_eq!(w.k.threads.get(th[0].h).unwrap().cpu, 1);
    assert_eq!(wakes_to(&w, 1), 0);
    // th[1] runs on CPU 1: asked to move to CPU 0, it goes when CPU 1 reschedules (IPI).
    w.invoke_ok(w.root, th[1].slot, thread::SET_AFFINITY, &[0]);
    assert_eq!(w.cur_on(1), Some(th[1].h));
    assert_eq!(wakes_to(&w, 1), 1);
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(th[0].h));
    assert_eq!(w.k.threads.get(th[1].h).unwrap().cpu, 0);
    // Root blocks: th[1] runs on CPU 0.
    w.on(0);
    w.recv(w.root, 0, NEVER);
    assert_eq!(w.cur_on(0), Some(th[1].h));
}

#[test]
fn a_blocked_thread_moves_and_wakes_on_its_new_cpu() {
    let (mut w, th) = placed(2, &[(100, 0)]);
    let g = w.new_gate(th[0], 5);
    w.give_cap(g, th[0].task_slot, 5);
    w.on(0);
    w.recv(w.root, 0, Timeout::from_micros(3000));
    w.wait(th[0].h);
    w.tick(4);
    assert_eq!(w.cur_on(0), Some(w.root));
    w.invoke_ok(w.root, th[0].slot, thread::SET_AFFINITY, &[1]);
    assert!(w.blocked(th[0].h));
    w.send(w.root, g, MsgTag::new(1, 1, 0), &[7]);
    assert!(w.take_ipis(1));
    assert_eq!(w.cur_on(1), Some(th[0].h));
    assert_eq!(w.ok(th[0].h).words[0], 7);
}

#[test]
fn a_thread_running_elsewhere_is_kicked_before_it_stops() {
    let (mut w, th) = placed(2, &[(100, 1), (100, 1)]);
    w.take_ipis(1);
    assert_eq!(w.cur_on(1), Some(th[0].h));
    w.on(0);
    w.invoke_ok(w.root, th[0].slot, thread::SUSPEND, &[]);
    assert_eq!(w.k.hal.kicks, vec![1]);
    assert_eq!(w.state(th[0].h), State::Inactive);
    // CPU 1 enters the kernel (it was kicked): with a system call of the stopped thread,
    // which is dropped; th[1] runs there.
    w.on(1);
    w.k.syscall();
    w.k.prepare_return();
    w.check();
    assert_eq!(w.cur_on(1), Some(th[1].h));
    assert_eq!(w.err(th[0].h), Some((Error::Cancelled, Phase::Send)));
    // Deleted while it runs there: kicked again, and CPU 1 goes idle.
    w.on(0);
    w.invoke_ok(w.root, th[1].slot, pecan_abi::object::any::DESTROY, &[]);
    assert_eq!(w.k.hal.kicks, vec![1, 1]);
    assert_eq!(w.cur_on(1), None);
    assert!(!w.alive(th[1].h));
    w.on(1);
    w.k.reschedule();
    assert_eq!(w.cur_on(1), None);
}

#[test]
fn affinity_to_a_cpu_that_does_not_exist_is_the_callers_error() {
    let (mut w, th) = placed(2, &[(100, 0)]);
    assert_eq!(w.invoke(w.root, th[0].slot, thread::SET_AFFINITY, &[2]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(w.root, th[0].slot, thread::SET_AFFINITY, &[u64::MAX]), Err(Error::InvalidArgument));
    assert_eq!(Error::InvalidArgument.fault(), pecan_abi::Fault::Caller);
    assert_eq!(w.k.threads.get(th[0].h).unwrap().cpu, 0);
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn no_thread_ever_runs_on_two_cpus() {
    // Random steps on 3 CPUs: ticks, IPIs taken, yields, sleeps, affinity and priority
    // changes, suspensions and restarts made by whoever runs; the invariants (a thread
    // runs on at most one CPU, its own; lists per CPU) are checked after every step.
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let prios: Vec<(u64, usize)> = (0..6).map(|i| (90 + 10 * (i % 3), (i % 3) as usize)).collect();
        let (mut w, th) = placed(3, &prios);
        // Every test thread holds every test thread's capability, at 200 + index.
        w.on(0);
        for (i, t) in th.iter().enumerate() {
            w.give_cap(t.slot, th[0].task_slot, 200 + i as u64);
        }
        w.recv(w.root, 0, NEVER);
        for _ in 0..600 {
            let cpu = rng.next(3) as usize;
            w.on(cpu);
            let Some(cur) = w.cur_on(cpu) else {
                // Idle: time passes (CPU 0's ticks expire the sleeps).
                w.tick(1);
                continue;
            };
            if !th.iter().any(|t| t.h == cur) {
                w.tick(1);
                continue;
            }
            let other = rng.next(th.len() as u64);
            match rng.next(7) {
                0 => w.tick(1),
                1 => w.yield_(cur),
                2 => w.recv(cur, 0, Timeout::from_micros(1000 * (1 + rng.next(3)))),
                3..=5 => {
                    let method = match rng.next(8) {
                        0..=3 => thread::SET_AFFINITY,
                        4 => thread::SET_PRIORITY,
                        5 => thread::SUSPEND,
                        _ => thread::START,
                    };
                    let arg = match method {
                        thread::SET_AFFINITY => rng.next(3),
                        thread::SET_PRIORITY => 80 + rng.next(40),
                        _ => 0,
                    };
                    let _ = w.invoke(cur, 200 + other, method, &[arg]);
                }
                _ => {
                    w.take_ipis(rng.next(3) as usize);
                }
            }
            for c in 0..3 {
                w.take_ipis(c);
            }
        }
    }
}

#[test]
fn an_unmap_shoots_down_the_cpus_that_have_the_space_loaded() {
    use pecan_abi::object::task;
    use pecan_abi::{Fpage, MemRights};
    // A thread of a task runs on CPU 1: its address space is loaded there.
    let (mut w, th) = placed(2, &[(100, 1)]);
    let t = w.k.threads.get(th[0].h).unwrap().task;
    let pa = ROOT_RAM.0 + 0x5000;
    let va = 0x1000_0000;
    w.on(0);
    w.give_page(pa, th[0].task_slot, va, MemRights::RW);
    assert!(w.take_ipis(1));
    assert_eq!(w.k.percpu[1].active_task.get(), Some(t));
    assert!(w.k.tasks.get(t).unwrap().ran_on.contains(1));
    // Root, on CPU 0, revokes the page: the flush reaches CPU 1 before the unmap returns.
    w.on(0);
    w.k.hal.shootdowns.clear();
    let fp = Fpage::memory(World::window(pa), 12, MemRights::RWX);
    w.invoke_ok(w.root, pecan_abi::caps::ROOT_TASK, task::UNMAP, &[fp.0, 0]);
    let to_1: Vec<_> = w.k.hal.shootdowns.iter().filter(|(c, _)| c.contains(1)).collect();
    assert_eq!(to_1.len(), 1, "{:?}", w.k.hal.shootdowns);
    assert!(matches!(to_1[0].1, pecan_hal::Flush::Page { va: v, .. } if v.0 == va));
    // A task loaded nowhere else (root's own, untagged) shoots down no other CPU.
    let root_pages = World::window(ROOT_RAM.0 + 0x6000);
    w.k.hal.shootdowns.clear();
    let fp = Fpage::memory(root_pages, 12, MemRights::RWX);
    w.invoke_ok(w.root, pecan_abi::caps::ROOT_TASK, task::UNMAP, &[fp.0, task::UNMAP_SELF]);
    assert!(w.k.hal.shootdowns.iter().all(|(c, _)| !c.contains(1)), "{:?}", w.k.hal.shootdowns);
}

#[test]
fn an_asid_rollover_kicks_the_other_cpus_and_flushes_everywhere() {
    // 4 ASIDs (3 usable): tasks activated in turn on CPU 0 roll the generation over.
    let mut w = World::with_cpus_asids(2, 4);
    if !w.k.asids.tagged() {
        return; // built without the `asid` feature: untagged, no generations
    }
    let tasks: Vec<u64> = (0..4).map(|_| w.new_task()).collect();
    w.on(0);
    let rolled = (0..tasks.len()).any(|i| {
        let h = w.task_h(tasks[i]);
        w.k.hal.shootdowns.clear();
        w.k.hal.kicks.clear();
        w.k.activate(h);
        w.k.hal.shootdowns.iter().any(|(c, f)| c.contains(1) && *f == pecan_hal::Flush::All)
    });
    assert!(rolled, "no rollover");
    assert_eq!(w.k.hal.kicks, vec![1]);
}

#[test]
fn a_fresh_asid_forgets_the_cpus_the_task_ran_on_before() {
    // A task whose space was loaded on CPUs 0 and 1; after a rollover it gets a fresh ASID
    // on CPU 0: an unmap then shoots down CPU 0 only (CPU 1 holds nothing tagged with it).
    let mut w = World::with_cpus_asids(2, 4);
    if !w.k.asids.tagged() {
        return; // untagged: `ran_on` is not consulted
    }
    let tasks: Vec<u64> = (0..4).map(|_| w.new_task()).collect();
    let h = w.task_h(tasks[0]);
    w.on(1);
    w.k.activate(h);
    w.on(0);
    w.k.activate(h);
    assert_eq!(w.k.tasks.get(h).unwrap().ran_on, pecan_hal::CpuSet(0b11));
    // The others take the remaining ASIDs and roll the generation over.
    for &t in &tasks[1..] {
        let th = w.task_h(t);
        w.k.activate(th);
    }
    w.k.activate(h);
    assert_eq!(
        w.k.tasks.get(h).unwrap().ran_on,
        pecan_hal::CpuSet(0b01),
        "a fresh ASID, loaded on CPU 0 only"
    );
    // Loaded again on CPU 1: marked again.
    w.on(1);
    w.k.activate(h);
    assert_eq!(w.k.tasks.get(h).unwrap().ran_on, pecan_hal::CpuSet(0b11));
}
