//! Zero-copy streaming (seed 002, "Shared Memory"): argument 0 runs the consumer, 1 the
//! producer of `args[1]` bytes. They share a 64 KiB ring the producer maps to the consumer
//! with one flexpage; the data never passes through the kernel. Each side notifies the
//! other through an IRQ object ("data ready", "space free") only when the other may be
//! waiting.
#![no_std]
#![no_main]

use core::time::Duration;
use pecan_abi::caps::std_slots;
use pecan_abi::{CapRights, Fpage, Item, MemRights};
use pecan_system::names;
use pecan_system::ring::{HEADER, Ring};
use pecan_system::slots::SLOTS;
use pecan_user::{Factory, Gate, Irq, Msg, Thread, Timeouts, ipc, println};

pecan_user::entry!(main);

/// Where the consumer receives the ring.
const RING_AT: u64 = 0x0000_2000_0000_0000;
/// The ring's size (a flexpage: a power of two).
const RING_ORDER: u8 = 16;
const RING_SIZE: usize = 1 << RING_ORDER;
/// Label of the setup call.
const SETUP: u64 = 0x5354_5250;

/// The producer's ring memory, aligned to its size so it is one flexpage.
#[repr(C, align(65536))]
struct RingMem([u8; RING_SIZE]);
static mut RING: RingMem = RingMem([0; RING_SIZE]);

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(7) % 251) as u8
}

fn main(info: u64) -> ! {
    let si = pecan_system::bootinfo::start_info(info).expect("start info");
    let (bytes, notes, ok) = if si.args[0] == 0 { consumer() } else { producer(si.args[1]) };
    let _ = pecan_programs::report(Gate::at(std_slots::PARENT), &[bytes, notes, ok as u64]);
    loop {
        ipc::sleep(Duration::from_secs(1000));
    }
}

fn own_irq(label: u64) -> Irq {
    let irq = Factory::at(std_slots::FACTORY).create_irq(SLOTS.alloc()).expect("irq");
    irq.attach(Thread::at(std_slots::THREAD), label).expect("attach");
    irq
}

/// Waits for the notification `irq` (or a short timeout, in case it was coalesced away).
fn wait_note(irq: Irq) -> bool {
    let got = ipc::recv(irq.any(), Timeouts::new(None, Some(Duration::from_millis(20)))).is_ok();
    if got {
        let _ = irq.ack();
    }
    got
}

fn consumer() -> (u64, u64, bool) {
    let me = Thread::at(std_slots::THREAD);
    let gate = Factory::at(std_slots::FACTORY).create_gate(SLOTS.alloc(), Some(me), 1).expect("gate");
    let data_ready = own_irq(2);
    names::register(Gate::at(std_slots::NAMES), b"stream", gate).expect("register");
    // Receive the ring (memory window) and the producer's "space free" IRQ (object window).
    let space_free = Irq::at(SLOTS.alloc());
    ipc::accept_memory(Fpage::memory(RING_AT, RING_ORDER, MemRights::RW));
    ipc::accept_caps(space_free.sel(), 0);
    let setup = ipc::recv(gate.any(), Timeouts::NEVER).expect("setup");
    let total = setup.word(0);
    if setup.label() != SETUP || !matches!(setup.item(0), Some(Item::Map { .. })) {
        println!("stream: bad setup message");
        return (0, 0, false);
    }
    ipc::reply(&Msg::new(0).map(Fpage::object(
        data_ready.sel(),
        0,
        CapRights(CapRights::SEND.0 | CapRights::MAP.0),
    )))
    .expect("reply");
    // SAFETY: the producer mapped the 64 KiB ring at RING_AT for both of us; only the
    // producer writes the data and `head`, only we write `tail`.
    let ring = unsafe { Ring::new(RING_AT as *mut u8, RING_SIZE) };
    let (mut got, mut notes, mut good) = (0u64, 0u64, true);
    let mut buf = [0u8; 512];
    while got < total {
        let n = ring.pop(&mut buf);
        if n == 0 {
            notes += wait_note(data_ready) as u64;
            continue;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            good &= b == byte(got + i as u64);
        }
        got += n as u64;
        let _ = space_free.trigger();
    }
    println!(
        "stream: consumer received {got} bytes in place ({notes} notifications), data {}",
        if good { "intact" } else { "CORRUPT" }
    );
    (got, notes, good)
}

fn producer(total: u64) -> (u64, u64, bool) {
    let gate = names::wait_for(Gate::at(std_slots::NAMES), b"stream", SLOTS.alloc(), Duration::from_secs(5))
        .expect("lookup");
    let base = core::ptr::addr_of_mut!(RING) as *mut u8;
    // Touch every page (the pager backs them) and clear the header.
    for off in (0..RING_SIZE).step_by(4096) {
        // SAFETY: inside our own static.
        unsafe { base.add(off).write_volatile(0) };
    }
    let space_free = own_irq(3);
    let data_ready = Irq::at(SLOTS.alloc());
    ipc::accept_caps(data_ready.sel(), 0);
    let setup = Msg::new(SETUP)
        .word(total)
        .map(Fpage::memory(base as u64, RING_ORDER, MemRights::RW))
        .map(Fpage::object(space_free.sel(), 0, CapRights(CapRights::SEND.0 | CapRights::MAP.0)));
    let r = ipc::call(gate, &setup, Timeouts::NEVER).expect("setup call");
    if !matches!(r.item(0), Some(Item::Map { .. })) {
        println!("stream: no data-ready IRQ from the consumer");
        return (0, 0, false);
    }
    // SAFETY: the ring is our static, shared with the consumer as set up above.
    let ring = unsafe { Ring::new(base, RING_SIZE) };
    let (mut sent, mut notes) = (0u64, 0u64);
    let mut chunk = [0u8; 1000];
    while sent < total {
        let n = (total - sent).min(chunk.len() as u64) as usize;
        for (i, c) in chunk[..n].iter_mut().enumerate() {
            *c = byte(sent + i as u64);
        }
        let w = ring.push(&chunk[..n]);
        if w == 0 {
            notes += wait_note(space_free) as u64;
            continue;
        }
        sent += w as u64;
        let _ = data_ready.trigger();
    }
    println!(
        "stream: producer wrote {sent} bytes into the shared ring ({notes} notifications); ring at {:#x}, {} bytes of header",
        base as u64, HEADER
    );
    (sent, notes, true)
}
