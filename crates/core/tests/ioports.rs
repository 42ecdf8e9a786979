//! I/O-port capabilities: the root task's covers every port; narrowed copies cover a part;
//! the kernel does the port access and refuses what is outside the range.

mod common;
use common::*;
use pecan_abi::caps::ROOT_IOPORTS;
use pecan_abi::object::{any, ioports};
use pecan_abi::{CapRights, Error};

#[test]
fn root_reads_and_writes_any_port() {
    let mut w = World::new();
    let r = w.root;
    w.invoke_ok(r, ROOT_IOPORTS, ioports::OUT, &[0x3f9, 1, 0x0b]);
    assert_eq!(w.k.hal.ports.get(&0x3f9), Some(&0x0b));
    assert_eq!(w.invoke_ok(r, ROOT_IOPORTS, ioports::IN, &[0x3f9, 1]), vec![0x0b]);
    w.invoke_ok(r, ROOT_IOPORTS, ioports::OUT, &[0xcf8, 4, 0x8000_0000]);
    assert_eq!(w.invoke_ok(r, ROOT_IOPORTS, ioports::IN, &[0xcf8, 2]), vec![0]);
    assert_eq!(w.invoke_ok(r, ROOT_IOPORTS, any::IDENTIFY, &[]), vec![8, CapRights::ALL.0 as u64]);
}

#[test]
fn narrowed_capability_is_confined() {
    let mut w = World::new();
    let r = w.root;
    let s = w.slot();
    w.invoke_ok(r, ROOT_IOPORTS, ioports::NARROW, &[s, 0x3f8, 8]);
    w.invoke_ok(r, s, ioports::OUT, &[0x3f8, 1, 0x41]);
    w.invoke_ok(r, s, ioports::OUT, &[0x3ff, 1, 0x41]);
    // Outside the range, straddling its end, a bad width, a wider narrowing: refused.
    assert_eq!(w.invoke(r, s, ioports::OUT, &[0x400, 1, 0]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(r, s, ioports::IN, &[0x3fe, 4]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(r, s, ioports::IN, &[0x3f8, 3]), Err(Error::InvalidArgument));
    let s2 = w.slot();
    assert_eq!(w.invoke(r, s, ioports::NARROW, &[s2, 0x3f0, 16]), Err(Error::InvalidArgument));
    assert_eq!(w.invoke(r, s, ioports::IN, &[0x3f8]), Err(Error::InvalidArgument));
    // Ports cannot be destroyed; unmapping the narrowed capability removes it.
    assert_eq!(w.invoke(r, s, any::DESTROY, &[]), Err(Error::WrongType));
}

#[test]
fn without_send_right_no_access() {
    let mut w = World::new();
    let r = w.root;
    let t = w.new_task();
    let s = w.slot();
    w.invoke_ok(r, ROOT_IOPORTS, ioports::NARROW, &[s, 0x60, 1]);
    // Root maps the narrowed capability into another task with the MAP right only.
    let fp = pecan_abi::Fpage::object(s, 0, CapRights::MAP);
    w.invoke_ok(r, t, pecan_abi::object::task::MAP, &[fp.0, 5]);
    let info = w.invoke_ok(
        r,
        t,
        pecan_abi::object::task::LOOKUP,
        &[pecan_abi::Fpage::object(5, 0, CapRights::NONE).0],
    );
    assert_eq!(info[0], 1, "present");
    assert_eq!(info[1], CapRights::MAP.0 as u64, "rights limited to MAP");
    assert_eq!(info[2], 8, "an I/O-port capability");
}

#[test]
fn ports_and_ranges_that_overflow_are_refused() {
    let mut w = World::new();
    let r = w.root;
    let s = w.slot();
    w.invoke_ok(r, ROOT_IOPORTS, ioports::NARROW, &[s, 0x3f8, 8]);
    // A port near the top of u64: port + width wraps around and must not pass the check
    // (nor reach port `0xffff` through the truncation to u16).
    for port in [u64::MAX, u64::MAX - 1, u64::MAX - 3, 1 << 32 | 0x3f8] {
        assert_eq!(w.invoke(r, s, ioports::IN, &[port, 1]), Err(Error::InvalidArgument), "{port:#x}");
        assert_eq!(w.invoke(r, s, ioports::OUT, &[port, 4, 7]), Err(Error::InvalidArgument));
        assert_eq!(w.invoke(r, ROOT_IOPORTS, ioports::IN, &[port, 1]), Err(Error::InvalidArgument));
    }
    assert!(w.k.hal.ports.is_empty(), "no port was touched");
    // A narrowing whose count wraps, or does not fit the capability's 16-bit port space.
    let s2 = w.slot();
    for (first, count) in [(0x3f8, u64::MAX), (0x3f8, u64::MAX - 0x3f7), (0x3f9, 1 << 32), (0, (1 << 16) + 1)]
    {
        let r2 = w.invoke(r, s, ioports::NARROW, &[s2, first, count]);
        assert_eq!(r2, Err(Error::InvalidArgument), "{first:#x} {count:#x}");
        let r3 = w.invoke(r, ROOT_IOPORTS, ioports::NARROW, &[s2, first, count]);
        assert_eq!(r3, Err(Error::InvalidArgument), "{first:#x} {count:#x}");
    }
}
