//! The demo (`just run-x86`, `just run-arm`): the root task starts
//! (a) a name service that maps names to gates,
//! (b) a ping-pong server and client in different address spaces,
//! (c) a producer and a consumer streaming through a shared ring with IRQ notifications,
//! (d) a user-level UART driver that gets its interrupts through an IRQ object,
//! (e) a user-level pager that pages a client on demand out of a small pool,
//! and prints a summary once every program has reported.

use core::time::Duration;
use pecan_abi::caps::{ROOT_IOPORTS, ROOT_IRQ_BASE, std_slots};
use pecan_abi::layout::{ARCH_X86_64, BootInfo, ROOT_PHYS_BASE};
use pecan_abi::{CapRights, MemRights};
use pecan_system::frames::{FRAMES, window_fpage};
use pecan_system::pager;
use pecan_system::slots::SLOTS;
use pecan_system::spawn::{Child, Spec, spawn};
use pecan_user::{Factory, Gate, IoPorts, Msg, Thread, Timeouts, ipc, println};

/// Finds boot module `name`: its physical address and bytes.
pub fn module<'a>(bi: &'a BootInfo, name: &[u8]) -> Option<(u64, &'a [u8])> {
    let m = bi.modules().iter().find(|m| m.name() == name)?;
    // SAFETY: the module lies in root memory, mapped by the root window for the root
    // task's life, and is only read.
    let bytes =
        unsafe { core::slice::from_raw_parts((ROOT_PHYS_BASE + m.base) as *const u8, m.size as usize) };
    Some((m.base, bytes))
}

/// Starts module `name` with `args`, passing `caps`.
pub fn start(bi: &BootInfo, name: &str, args: &[u64], caps: &[(u64, u64, CapRights)], prio: u64) -> Child {
    let (pa, file) = module(bi, name.as_bytes()).unwrap_or_else(|| panic!("no module {name}"));
    let spec = Spec {
        name,
        file_pa: pa,
        file,
        args,
        prio,
        caps,
        quota: 256 * 1024,
        machine: false,
        share_text: true,
    };
    spawn(&spec).unwrap_or_else(|e| panic!("starting {name}: {e:?}"))
}

const SEND_MAP: CapRights = CapRights(CapRights::SEND.0 | CapRights::MAP.0);

/// What reports back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    PingPong = 1,
    Consumer = 2,
    Producer = 3,
    Uart = 4,
    Pager = 5,
}

/// Runs the demo; returns the exit code.
pub fn run(bi: &BootInfo) -> u64 {
    let me = Thread::at(std_slots::THREAD);
    let f = Factory::at(std_slots::FACTORY);
    let report_gate = |p: Part| f.create_gate(SLOTS.alloc(), Some(me), p as u64).expect("report gate");

    // (a) The name service, and the capabilities every demo program gets.
    let names = start(bi, "names", &[], &[], 150);
    let names_gate =
        f.create_gate(SLOTS.alloc(), Some(Thread::at(names.thread.sel())), 0).expect("names gate");
    let caps = |parent: Gate| {
        [(names_gate.sel(), std_slots::NAMES, SEND_MAP), (parent.sel(), std_slots::PARENT, CapRights::SEND)]
    };

    // (b) Ping-pong.
    let pp = report_gate(Part::PingPong);
    let server = start(bi, "pingpong", &[0], &caps(pp), 120);
    let client = start(bi, "pingpong", &[1, 1000], &caps(pp), 110);

    // (c) Streaming 1 MiB through a 64 KiB shared ring.
    let streamed = 1u64 << 20;
    let consumer = start(bi, "stream", &[0, streamed], &caps(report_gate(Part::Consumer)), 105);
    let producer = start(bi, "stream", &[1, streamed], &caps(report_gate(Part::Producer)), 105);

    // (d) The UART driver: its IRQ, and its device (ports or the MMIO page).
    let uart_line = bi.irq_lines[0];
    let uart = if uart_line != u32::MAX {
        let mut caps_v = alloc::vec::Vec::from(caps(report_gate(Part::Uart)));
        caps_v.push((ROOT_IRQ_BASE, 10, CapRights::ALL));
        if bi.arch == ARCH_X86_64 {
            let ports = IoPorts::at(ROOT_IOPORTS).narrow(SLOTS.alloc(), 0x3f8, 8).expect("COM1 ports");
            caps_v.push((ports.sel(), 11, CapRights::ALL));
        }
        let c = start(bi, "uart", &[bi.arch], &caps_v, 130);
        if bi.arch != ARCH_X86_64 && bi.uart_base != 0 {
            c.task
                .map(window_fpage(bi.uart_base, 12, MemRights::RW), 0x0000_1000_0000_0000)
                .expect("map the UART");
        }
        Some(c)
    } else {
        println!("init: no UART interrupt line: skipping the driver");
        None
    };

    // (e) A user-level pager with a 32-page pool (8 pinned), paging a client that touches 48.
    let pool_pages = 32u64;
    let pool_pa = FRAMES.alloc_contiguous(pool_pages).expect("pager pool");
    let pool_at = 0x0000_2800_0000_0000u64;
    let pagerd = start(bi, "pagerd", &[pool_at, pool_pages], &caps(report_gate(Part::Pager)), 140);
    pagerd.task.map(window_fpage(pool_pa, 17, MemRights::RW), pool_at).expect("map the pool");
    let pagedemo = start(bi, "pagedemo", &[48], &caps(report_gate(Part::Pager)), 100);
    println!(
        "init: demo started: names, pingpong, stream, uart, pagerd and pagedemo in their own address spaces"
    );

    // Collect the reports.
    let mut expected = [Part::PingPong, Part::Consumer, Part::Producer, Part::Pager].to_vec();
    if uart.is_some() {
        expected.push(Part::Uart);
    }
    let (mut ok, mut calls, mut bytes, mut uart_irqs, mut pager_faults, mut evictions) =
        (true, 0, 0, 0, 0, 0);
    while !expected.is_empty() {
        let r = match ipc::wait(Timeouts::new(None, Some(Duration::from_secs(30)))) {
            Ok(r) => r,
            Err(e) => {
                println!("init: demo programs did not all report: {e:?}");
                ok = false;
                break;
            }
        };
        let part = match r.gate_label {
            1 => Part::PingPong,
            2 => Part::Consumer,
            3 => Part::Producer,
            4 => Part::Uart,
            5 => Part::Pager,
            _ => continue,
        };
        match part {
            Part::PingPong => {
                calls = r.word(0);
                ok &= r.word(1) == 1;
            }
            Part::Consumer => {
                bytes = r.word(0);
                ok &= r.word(2) == 1 && bytes == streamed;
            }
            Part::Producer => ok &= r.word(2) == 1,
            Part::Uart => {
                uart_irqs = r.word(0);
                ok &= uart_irqs > 0;
            }
            Part::Pager => {
                pager_faults = r.word(0);
                evictions = r.word(1);
                ok &= r.word(2) == 1 && evictions > 0;
            }
        }
        expected.retain(|p| *p != part);
        let _ = ipc::reply(&Msg::new(0));
    }
    let ids = [names.id, server.id, client.id, consumer.id, producer.id, pagerd.id, pagedemo.id];
    let root_faults: u64 =
        ids.iter().map(|&id| pager::stats(id).0).sum::<u64>() + uart.map_or(0, |u| pager::stats(u.id).0);
    let k = pecan_user::Machine::at(std_slots::MACHINE).counters().unwrap_or_default();
    println!(
        "init: demo summary: {calls} ping-pong calls, {bytes} bytes streamed zero-copy, {uart_irqs} UART interrupts in user space, \
         {root_faults} page faults handled by init and {pager_faults} by pagerd ({evictions} evictions)"
    );
    println!(
        "init: kernel counters: {} system calls, {} messages, {} address-space switches, {} TLB flushes, {} faults, {} IRQs",
        k[0], k[1], k[5], k[6], k[8], k[9]
    );
    println!("init: demo {}", if ok { "passed" } else { "FAILED" });
    if ok { 0 } else { 1 }
}
