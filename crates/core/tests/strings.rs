//! String items (long IPC, seed 001): simple, compound on either side, several strings,
//! page crossings, and every way a transfer can fail (buffers too short or missing,
//! unmapped or read-only memory, kernel-half addresses, malformed descriptors).

mod common;
use common::*;
use pecan_abi::item::STRING_MAX;
use pecan_abi::layout::USER_TOP;
use pecan_abi::utcb::{BR_MEM_WINDOW, BR_STRING_COUNT, BR_STRINGS, offset};
use pecan_abi::{Error, Fpage, Item, MemRights, MsgTag, Phase, Status, StringDesc, Sys, Timeout};
use pecan_hal::{PhysAddr, PhysMem};

const NEVER: Timeout = Timeout::NEVER;
const GATE: u64 = 10;
/// Sender memory: 4 pages at SRC (physical `ram(0x10_0000)`).
const SRC: u64 = 0x100_0000;
/// Receiver memory: 4 pages at DST (physical `ram(0x20_0000)`); a read-only page after.
const DST: u64 = 0x200_0000;
const RO: u64 = DST + 0x4000;

struct Scene {
    w: World,
    s: Th,
    r: Th,
}

fn scene() -> Scene {
    let mut w = World::new();
    let ts = w.new_task();
    let tr = w.new_task();
    let s = w.new_thread(ts, 100);
    let r = w.new_thread(tr, 100);
    let g = w.new_gate(r, 0x5);
    w.give_cap(g, ts, GATE);
    w.give_mem(ram(0x10_0000), 14, ts, SRC, MemRights::RW);
    w.give_mem(ram(0x20_0000), 14, tr, DST, MemRights::RW);
    w.give_page(ram(0x30_0000), tr, RO, MemRights::R);
    // Recognizable sender data.
    let data: Vec<u8> = (0..0x4000u32).map(|i| (i * 7 + 3) as u8).collect();
    w.k.hal.mem.write_bytes(PhysAddr(ram(0x10_0000)), &data);
    w.start(r);
    w.start(s);
    w.go();
    Scene { w, s, r }
}

fn src_byte(off: u64) -> u8 {
    ((off as u32) * 7 + 3) as u8
}

fn sd(addr: u64, len: u64, continued: bool) -> StringDesc {
    StringDesc { addr, len, continued }
}

/// The receiver waits with these string buffers.
fn buffers(w: &mut World, r: Th, bufs: &[StringDesc]) {
    w.k.utcb_write(r.h, offset::BR + BR_STRING_COUNT, bufs.len() as u64);
    for (i, b) in bufs.iter().enumerate() {
        let [a, c] = b.encode();
        w.k.utcb_write(r.h, offset::BR + BR_STRINGS + 2 * i, a);
        w.k.utcb_write(r.h, offset::BR + BR_STRINGS + 2 * i + 1, c);
    }
    w.wait(r.h);
}

/// The sender sends `words` untyped words then `items`.
fn send(w: &mut World, s: Th, words: &[u64], items: &[[u64; 2]]) {
    let mut m = words.to_vec();
    for it in items {
        m.extend_from_slice(it);
    }
    w.sys(s.h, Sys::Send, GATE, MsgTag::new(9, words.len(), items.len()), &m, NEVER, NEVER);
}

fn received(w: &World, va: u64, len: usize) -> Vec<u8> {
    let pa = ram(0x20_0000) + (va - DST);
    let mut b = vec![0; len];
    w.k.hal.mem.read_bytes(PhysAddr(pa), &mut b);
    b
}

fn expected(src_off: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| src_byte(src_off + i)).collect()
}

#[test]
fn a_simple_string() {
    let Scene { mut w, s, r } = scene();
    buffers(&mut w, r, &[sd(DST + 0x10, 200, false)]);
    send(&mut w, s, &[1, 2], &[sd(SRC + 10, 100, false).encode()]);
    assert_eq!(w.ret(s.h).status, Status::OK);
    let rr = w.ok(r.h);
    assert_eq!(rr.tag, MsgTag::new(9, 2, 1));
    assert_eq!(&rr.words[..2], &[1, 2]);
    assert_eq!(StringDesc::decode(rr.words[2], rr.words[3]), Ok(sd(DST + 0x10, 100, false)));
    assert_eq!(received(&w, DST + 0x10, 100), expected(10, 100));
    assert_eq!(received(&w, DST + 0x10 + 100, 1), vec![0], "nothing past the string");
}

#[test]
fn a_compound_string_gathered_from_pieces() {
    let Scene { mut w, s, r } = scene();
    buffers(&mut w, r, &[sd(DST, 300, false)]);
    send(&mut w, s, &[], &[sd(SRC + 0x2000, 50, true).encode(), sd(SRC + 5, 60, false).encode()]);
    let rr = w.ok(r.h);
    assert_eq!(rr.tag.items(), 1, "one logical string");
    assert_eq!(StringDesc::decode(rr.words[0], rr.words[1]), Ok(sd(DST, 110, false)));
    let mut want = expected(0x2000, 50);
    want.extend(expected(5, 60));
    assert_eq!(received(&w, DST, 110), want);
}

#[test]
fn a_string_scattered_into_a_compound_buffer_across_pages() {
    let Scene { mut w, s, r } = scene();
    // Two buffer pieces, the first crossing a page boundary.
    buffers(&mut w, r, &[sd(DST + 0xf00, 0x300, true), sd(DST + 0x3000, 0x1000, false)]);
    send(&mut w, s, &[], &[sd(SRC + 0xe00, 0x1100, false).encode()]);
    let rr = w.ok(r.h);
    assert_eq!(StringDesc::decode(rr.words[0], rr.words[1]), Ok(sd(DST + 0xf00, 0x1100, false)));
    assert_eq!(received(&w, DST + 0xf00, 0x300), expected(0xe00, 0x300));
    assert_eq!(received(&w, DST + 0x3000, 0xe00), expected(0x1100, 0xe00));
}

#[test]
fn several_strings_into_several_buffers_with_a_map_item_between() {
    let Scene { mut w, s, r } = scene();
    w.k.utcb_write(r.h, offset::BR + BR_MEM_WINDOW, Fpage::memory(0x800_0000, 16, MemRights::RWX).0);
    buffers(&mut w, r, &[sd(DST, 64, false), sd(DST + 0x1000, 64, false)]);
    let map = Item::map(Fpage::memory(SRC, 12, MemRights::R)).encode();
    send(&mut w, s, &[7], &[sd(SRC, 10, false).encode(), map, sd(SRC + 100, 20, false).encode()]);
    let rr = w.ok(r.h);
    assert_eq!(rr.tag, MsgTag::new(9, 1, 3));
    assert_eq!(StringDesc::decode(rr.words[1], rr.words[2]), Ok(sd(DST, 10, false)));
    assert!(matches!(Item::decode(rr.words[3], rr.words[4]), Ok(Item::Map { .. })));
    assert_eq!(StringDesc::decode(rr.words[5], rr.words[6]), Ok(sd(DST + 0x1000, 20, false)));
    assert_eq!(received(&w, DST + 0x1000, 20), expected(100, 20));
}

#[test]
fn an_empty_string_uses_a_buffer_and_copies_nothing() {
    let Scene { mut w, s, r } = scene();
    buffers(&mut w, r, &[sd(DST, 0, false)]);
    send(&mut w, s, &[], &[sd(0, 0, false).encode()]);
    let rr = w.ok(r.h);
    assert_eq!(StringDesc::decode(rr.words[0], rr.words[1]), Ok(sd(DST, 0, false)));
}

/// Both sides get `e` in their phase.
fn fails(w: &mut World, s: Th, r: Th, e: Error) {
    assert_eq!(w.err(s.h), Some((e, Phase::Send)));
    assert_eq!(w.err(r.h), Some((e, Phase::Receive)));
}

#[test]
fn buffers_too_short_or_missing_are_the_receivers_fault() {
    for bufs in [vec![sd(DST, 99, false)], vec![], vec![sd(DST, 50, true), sd(DST + 0x1000, 49, false)]] {
        let Scene { mut w, s, r } = scene();
        buffers(&mut w, r, &bufs);
        send(&mut w, s, &[], &[sd(SRC, 100, false).encode()]);
        fails(&mut w, s, r, Error::MessageOverflow);
        assert_eq!(Error::MessageOverflow.fault(), pecan_abi::Fault::Receiver);
    }
    // More strings than buffers.
    let Scene { mut w, s, r } = scene();
    buffers(&mut w, r, &[sd(DST, 100, false)]);
    send(&mut w, s, &[], &[sd(SRC, 10, false).encode(), sd(SRC, 10, false).encode()]);
    fails(&mut w, s, r, Error::MessageOverflow);
    // A malformed buffer descriptor, or a count beyond the buffer registers.
    let Scene { mut w, s, r } = scene();
    w.k.utcb_write(r.h, offset::BR + BR_STRING_COUNT, 1);
    w.k.utcb_write(r.h, offset::BR + BR_STRINGS, 0x1);
    w.wait(r.h);
    send(&mut w, s, &[], &[sd(SRC, 10, false).encode()]);
    fails(&mut w, s, r, Error::MessageOverflow);
    let Scene { mut w, s, r } = scene();
    w.k.utcb_write(r.h, offset::BR + BR_STRING_COUNT, u64::MAX);
    w.wait(r.h);
    send(&mut w, s, &[], &[sd(SRC, 10, false).encode()]);
    fails(&mut w, s, r, Error::MessageOverflow);
}

#[test]
fn bad_addresses_on_either_side() {
    let cases = [
        // Unmapped source, unmapped destination, read-only destination.
        (sd(SRC + 0x3f00, 0x200, false), sd(DST, 0x1000, false)),
        (sd(SRC, 0x100, false), sd(DST + 0x3f80, 0x100, false)),
        (sd(SRC, 0x10, false), sd(RO, 0x100, false)),
        // Kernel half, and an end that wraps around.
        (sd(USER_TOP - 8, 0x10, false), sd(DST, 0x100, false)),
        (sd(SRC, 0x10, false), sd(u64::MAX - 4, 0x100, false)),
    ];
    for (i, (src, buf)) in cases.into_iter().enumerate() {
        let Scene { mut w, s, r } = scene();
        buffers(&mut w, r, &[buf]);
        send(&mut w, s, &[], &[src.encode()]);
        assert_eq!(w.err(s.h), Some((Error::BadAddress, Phase::Send)), "case {i}");
        assert_eq!(w.err(r.h), Some((Error::BadAddress, Phase::Receive)), "case {i}");
    }
}

#[test]
fn malformed_string_items_are_the_senders_fault() {
    let bad = [
        [3 | 0x20, SRC],                   // reserved bits
        [3 | (STRING_MAX + 1) << 16, SRC], // too long
        [0xe, SRC],                        // undefined type
    ];
    for item in bad {
        let Scene { mut w, s, r } = scene();
        buffers(&mut w, r, &[sd(DST, 0x100, false)]);
        send(&mut w, s, &[], &[item]);
        fails(&mut w, s, r, Error::MalformedMessage);
        assert_eq!(received(&w, DST, 4), vec![0; 4], "nothing copied");
    }
}

#[test]
fn a_string_in_a_call_and_its_reply() {
    let Scene { mut w, s, r } = scene();
    buffers(&mut w, r, &[sd(DST, 0x100, false)]);
    // The caller needs a buffer for the reply too (in its own memory).
    w.k.utcb_write(s.h, offset::BR + BR_STRING_COUNT, 1);
    let [a, b] = sd(SRC + 0x3000, 0x100, false).encode();
    w.k.utcb_write(s.h, offset::BR + BR_STRINGS, a);
    w.k.utcb_write(s.h, offset::BR + BR_STRINGS + 1, b);
    let it = sd(SRC, 16, false).encode();
    w.sys(s.h, Sys::Call, GATE, MsgTag::new(1, 0, 1), &[it[0], it[1]], NEVER, NEVER);
    assert_eq!(w.cur(), Some(r.h));
    assert_eq!(received(&w, DST, 16), expected(0, 16));
    let back = sd(DST + 4, 8, false).encode();
    w.sys(r.h, Sys::Reply, 0, MsgTag::new(2, 0, 1), &[back[0], back[1]], NEVER, NEVER);
    w.ok(r.h);
    let rs = w.ok(s.h);
    assert_eq!(StringDesc::decode(rs.words[0], rs.words[1]), Ok(sd(SRC + 0x3000, 8, false)));
    let mut got = vec![0; 8];
    w.k.hal.mem.read_bytes(PhysAddr(ram(0x10_3000)), &mut got);
    assert_eq!(got, expected(4, 8));
}
