//! The offsets and encodings of `pecan_core::layout` against the real data: values written
//! through the kernel's safe API, read back as bytes at the exported offsets, as an
//! arch's assembly fast path reads them. (The only test of the core that reads memory
//! through raw pointers: that is what it checks.)

mod common;

use common::*;
use pecan_abi::MsgTag;
use pecan_core::layout::{self, Layout};
use pecan_core::obj::Handle;
use pecan_sim::Sim;

type L = Layout<Sim>;

/// A `T` at `base + off`.
fn rd<T: Copy>(base: usize, off: usize) -> T {
    // SAFETY: the tests only read inside live objects of the kernel (checked against the
    // addresses the safe API gives), at offsets of fields of type `T`.
    unsafe { ((base + off) as *const T).read_unaligned() }
}

fn handle(base: usize, off: usize) -> Handle {
    Handle { idx: rd(base, off + layout::HANDLE_IDX), generation: rd(base, off + layout::HANDLE_GENERATION) }
}

/// The address of the object `h` in a table at `table_base`, checked like the assembly
/// does: in range, slot generation equal.
fn lookup(
    k: usize,
    base_off: usize,
    len_off: usize,
    size: usize,
    gen_off: usize,
    val_off: usize,
    h: Handle,
) -> usize {
    let (base, len): (usize, usize) = (rd(k, base_off), rd(k, len_off));
    assert!((h.idx as usize) < len);
    let slot = base + h.idx as usize * size;
    assert_eq!(rd::<u32>(slot, gen_off), h.generation);
    // The slot's handle: its 8 bytes end with the generation (`*_SLOT_HANDLE`).
    assert_eq!(handle(slot, gen_off - layout::HANDLE_GENERATION), h, "a live slot starts with its handle");
    slot + val_off
}

#[test]
fn a_slot_handle_ends_with_the_slot_generation() {
    let g = layout::HANDLE_GENERATION;
    assert_eq!(L::THREAD_SLOT_HANDLE + g, L::THREAD_SLOT_GENERATION);
    assert_eq!(L::TASK_SLOT_HANDLE + g, L::TASK_SLOT_GENERATION);
    assert_eq!(L::GATE_SLOT_HANDLE + g, L::GATE_SLOT_GENERATION);
}

fn thread(k: usize, h: Handle) -> usize {
    lookup(
        k,
        L::THREADS_BASE,
        L::THREADS_LEN,
        L::THREAD_SLOT_SIZE,
        L::THREAD_SLOT_GENERATION,
        L::THREAD_SLOT_VALUE,
        h,
    )
}

#[test]
fn the_fast_path_layout_reads_what_safe_rust_wrote() {
    let mut w = World::with(16, World::config());
    let st = w.new_task();
    let ct = w.new_task();
    let s = w.new_thread(st, 100);
    let c = w.new_thread(ct, 90);
    let g = w.new_gate(s, 0x42);
    w.give_cap(g, ct, 10);
    w.start(s);
    w.start(c);
    w.go();
    w.wait(s.h);
    let gate = w.gate_h(g);
    let k = &w.k as *const _ as usize;
    // CPU 0's core state, found as the assembly does.
    let pc: usize = rd::<usize>(k, L::PERCPU_BASE);
    assert_eq!(pc, w.k.percpu.base());
    assert_eq!(pc, &w.k.percpu[0] as *const _ as usize);

    // The server in an open wait, the client running.
    assert_eq!(handle(pc, L::CURRENT), c.h);
    let sp = thread(k, s.h);
    assert_eq!(Some(sp), w.k.threads.addr_of(s.h));
    assert_eq!(rd::<u8>(sp, L::TCB_STATE + layout::STATE_TAG), layout::STATE_RECEIVING);
    assert_eq!(rd::<u8>(sp, L::TCB_STATE + layout::STATE_FILTER_TAG), layout::FILTER_ANY);
    assert_eq!(rd::<u8>(sp, L::TCB_PRIO), 100);
    assert_eq!(rd::<u32>(sp, L::TCB_RESOURCES), 0);
    assert_eq!(rd::<u32>(sp, L::TCB_CPU), 0);
    assert_eq!(rd::<u32>(sp, L::TCB_SEND_QUEUE_LEN), 0);
    assert_eq!(rd::<u32>(sp, L::TCB_PENDING_IRQS_LEN), 0);
    assert_eq!(handle(sp, L::TCB_REPLY_CALLER).generation, 0, "no reply capability");
    assert_eq!(rd::<u64>(sp, L::TCB_BLOCK_EPOCH), w.k.threads.get(s.h).unwrap().block_epoch);
    let cp = thread(k, c.h);
    let ctask = handle(cp, L::TCB_TASK);
    assert_eq!(ctask, w.k.threads.get(c.h).unwrap().task);
    assert_eq!(cp + L::TCB_CTX, &w.k.threads.get(c.h).unwrap().ctx as *const _ as usize);
    let space = w.k.threads.get(c.h).unwrap().space;
    assert_eq!(rd::<u64>(cp, L::TCB_SPACE_ROOT), space.root.0);
    assert_eq!(rd::<u64>(cp, L::TCB_SPACE_GENERATION), space.generation);
    assert_eq!(rd::<u16>(cp, L::TCB_SPACE_ASID), space.asid);
    assert_eq!(rd::<u64>(k, L::ASID_GENERATION), w.k.asids.generation());
    assert_eq!(handle(pc, L::ACTIVE_TASK), ctask);
    assert_eq!(rd::<u8>(pc, L::TOP), w.k.sched().top());
    assert!(!rd::<bool>(pc, L::NEED_RESCHED));
    // What the cross-CPU case also reads.
    assert_eq!(handle(pc, L::STOPPED).generation, 0, "nothing stopped");
    assert_eq!(rd::<u32>(pc, L::SLICE_LEFT), w.k.percpu[0].sched.slice_left);
    let queued = w.k.percpu[0].sched.queued(&w.k.threads).len() as u32;
    assert!(queued > 0);
    assert_eq!(rd::<u32>(pc, L::QUEUED), queued);
    assert_eq!(rd::<u32>(k, L::LONG_ACTIVE), 0);
    assert_eq!(rd::<u32>(cp, L::TCB_NEXT_CPU), 0);
    assert_eq!(rd::<u32>(cp, L::TCB_TIMESLICE), w.k.threads.get(c.h).unwrap().timeslice);
    assert!(rd::<bool>(cp, L::TCB_READY_LINKED), "the running client is in its ready list");
    assert_eq!(rd::<bool>(cp, L::TCB_READY_LINKED), w.k.threads.get(c.h).unwrap().ready_links.is_linked());

    // The client's capability: task -> slot -> gate -> receiver.
    let tp = lookup(
        k,
        L::TASKS_BASE,
        L::TASKS_LEN,
        L::TASK_SLOT_SIZE,
        L::TASK_SLOT_GENERATION,
        L::TASK_SLOT_VALUE,
        ctask,
    );
    let (cbase, clen): (usize, usize) =
        (rd(tp, layout::TASK_CAPS + layout::CAPS_BASE), rd(tp, layout::TASK_CAPS + layout::CAPS_LEN));
    assert_eq!((cbase, clen), w.k.tasks.get(ctask).unwrap().caps.raw_parts());
    let e = cbase + 10 * layout::CAP_ENTRY_SIZE;
    assert_eq!(rd::<u8>(e, layout::CAP_ENTRY_TAG), layout::CAP_ENTRY_FULL);
    assert_eq!(rd::<u8>(e, layout::CAP_OBJ_TAG), layout::OBJ_GATE);
    assert_eq!(handle(e, layout::CAP_OBJ_HANDLE), gate);
    assert_eq!(
        rd::<u8>(e, layout::CAP_RIGHTS),
        w.k.tasks.get(ctask).unwrap().caps.slot(10).unwrap().cap.rights.0
    );
    assert_eq!(rd::<u8>(cbase + 11 * layout::CAP_ENTRY_SIZE, layout::CAP_ENTRY_TAG), 0, "an empty slot");
    let gp = lookup(
        k,
        L::GATES_BASE,
        L::GATES_LEN,
        L::GATE_SLOT_SIZE,
        L::GATE_SLOT_GENERATION,
        L::GATE_SLOT_VALUE,
        gate,
    );
    assert_eq!(handle(gp, layout::GATE_RECEIVER), s.h);
    assert_eq!(rd::<u64>(gp, layout::GATE_LABEL), 0x42);

    // The call: the client waits for the reply, the server holds its reply capability.
    let epoch = w.k.threads.get(c.h).unwrap().block_epoch;
    w.call(c.h, 10, MsgTag(0), &[]);
    assert_eq!(handle(pc, L::CURRENT), s.h);
    assert_eq!(rd::<u8>(cp, L::TCB_STATE + layout::STATE_TAG), layout::STATE_WAIT_REPLY);
    assert_eq!(handle(cp, L::TCB_STATE + layout::STATE_CALLEE), s.h);
    assert_eq!(rd::<u8>(cp, L::TCB_STATE + layout::STATE_SOURCE), layout::SOURCE_USER);
    assert_eq!(rd::<u64>(cp, L::TCB_BLOCK_EPOCH), epoch + 1);
    let n = rd::<u32>(cp, L::TCB_CALL_COUNT);
    assert_eq!(n, w.k.threads.get(c.h).unwrap().call_count);
    assert_eq!(handle(sp, L::TCB_REPLY_CALLER), c.h);
    assert_eq!(rd::<u32>(sp, L::TCB_REPLY_CALL), n);
    assert_eq!(rd::<u8>(sp, L::TCB_STATE + layout::STATE_TAG), layout::STATE_READY);
    if pecan_core::counters::ON {
        let f = w.k.counters.fastpath;
        assert_eq!(rd::<u64>(k, L::COUNTERS + layout::counter::FASTPATH), f);
        assert_eq!(rd::<u64>(k, L::COUNTERS + layout::counter::MESSAGES), w.k.counters.messages);
    }
}
