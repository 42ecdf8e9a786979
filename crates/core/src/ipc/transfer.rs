//! Moving a message from sender to receiver: untyped words (the first `REG_MRS` in
//! registers, the rest UTCB to UTCB) and typed items (map and grant flexpages, strings).
//!
//! The receiver gets the sender's label, its untyped words, and one descriptor per typed
//! item saying what arrived: for a map or grant item the flexpage as it now is in the
//! receiver's space, for a string the buffer it landed in and its length. A message with
//! strings becomes a long IPC (`longipc.rs`) once its words are through.

use pecan_abi::fpage::{FpageDesc, FpageKind};
use pecan_abi::layout::USER_TOP;
use pecan_abi::utcb::{BR_MEM_WINDOW, BR_OBJ_WINDOW, offset};
use pecan_abi::{Error, Fpage, Item, MR_COUNT, MsgTag, REG_MRS};
use pecan_hal::{Hal, PhysMem, UserContext};

use crate::ipc::longipc::Op;
use crate::kernel::Kernel;
use crate::obj::Handle;
use crate::thread::Source;

/// What [`Kernel::transfer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Moved {
    /// Everything is through: the tag the receiver gets.
    Done(MsgTag),
    /// The message has strings: a long IPC started, the receiver is locked, and the
    /// sender completes it when it next runs (`longipc.rs`).
    Long,
}

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A receiver in a system call: words go to its registers and UTCB.
    Receiver,
    /// A thread blocked in a page fault or exception: map items land in its address space
    /// (the receive window is all of it), words never touch its registers.
    FaultReply,
}

/// A message being read: its tag and where its words are.
#[derive(Clone, Copy)]
pub(crate) struct Msg {
    pub tag: MsgTag,
    pub from: Handle,
    pub source: Source,
}

impl<H: Hal> Kernel<H> {
    /// Word `i` of message `m`.
    pub(crate) fn msg_word(&mut self, m: &Msg, i: usize) -> u64 {
        match m.source {
            Source::Kernel => {
                self.threads.get(m.from).map_or(0, |t| t.kmsg.words.get(i).copied().unwrap_or(0))
            }
            Source::User if i < REG_MRS => self.threads.get(m.from).map_or(0, |t| t.ctx.mr(i)),
            Source::User => self.utcb_read(m.from, offset::MR + i),
        }
    }

    /// The message `s` sends.
    pub(crate) fn message_of(&self, s: Handle, source: Source) -> Msg {
        let tag = match (source, self.threads.get(s)) {
            (Source::User, Some(t)) => MsgTag(t.ctx.sys_tag()),
            (Source::Kernel, Some(t)) => MsgTag(t.kmsg.tag),
            _ => MsgTag(0),
        };
        Msg { tag, from: s, source }
    }

    /// Transfers `s`'s message to `r`. On success returns the tag `r` receives, or that a
    /// long IPC started (the message has string items: `longipc.rs` completes it, for
    /// `op`, telling the receiver `gate_label`).
    pub(crate) fn transfer(
        &mut self,
        s: Handle,
        r: Handle,
        source: Source,
        dest: Dest,
        op: Op,
        gate_label: u64,
    ) -> Result<Moved, Error> {
        let m = self.message_of(s, source);
        let tag = m.tag.check()?;
        if dest == Dest::FaultReply {
            return self.fault_reply(&m, r).map(Moved::Done);
        }
        let words = tag.words();
        // Untyped words: registers first.
        let n_reg = words.min(REG_MRS);
        for i in 0..n_reg {
            let w = self.msg_word(&m, i);
            if let Some(t) = self.threads.get_mut(r) {
                t.ctx.set_mr(i, w);
            }
        }
        if words > REG_MRS {
            self.copy_utcb_words(&m, r, REG_MRS, words);
        }
        if tag.items() == 0 {
            return Ok(Moved::Done(MsgTag::new(tag.label(), words, 0)));
        }
        // Decode everything first (a malformed item changes nothing), straight into a
        // transfer record: a message with strings becomes a long IPC without moving its
        // items again (`docs/long-ipc.md`, "Fixed cost").
        let n = tag.items();
        let mut x = self.xfer_record();
        if let Err(e) = self.decode_items(&m, words, &mut x.items[..n]) {
            self.xfer_record_keep(x);
            return Err(e);
        }
        if x.items[..n].iter().any(|d| matches!(d, Some(Item::String(_)))) {
            self.xfer_begin(s, r, op, gate_label, tag, x);
            return Ok(Moved::Long);
        }
        let items = self.transfer_items(&m, r, words, &x.items[..n]);
        self.xfer_record_keep(x);
        Ok(Moved::Done(MsgTag::new(tag.label(), words, items?)))
    }

    /// Copies words `from..to` of `m` into `r`'s UTCB (UTCB to UTCB when the sender's are
    /// in its UTCB too).
    fn copy_utcb_words(&mut self, m: &Msg, r: Handle, from: usize, to: usize) {
        if m.source == Source::User
            && let (Some(s), Some(d)) = (self.utcb_frame(m.from), self.utcb_frame(r))
        {
            let off = ((offset::MR + from) * 8) as u64;
            self.hal.mem().copy(d.add(off), s.add(off), (to - from) * 8);
            return;
        }
        for i in from..to {
            let w = self.msg_word(m, i);
            self.utcb_write(r, offset::MR + i, w);
        }
    }

    /// Writes message word `i` of the receiver `r`.
    pub(crate) fn set_recv_word(&mut self, r: Handle, i: usize, v: u64) {
        if i < REG_MRS {
            if let Some(t) = self.threads.get_mut(r) {
                t.ctx.set_mr(i, v);
            }
        } else if i < MR_COUNT {
            self.utcb_write(r, offset::MR + i, v);
        }
    }

    /// The typed items of `m` (after `words` untyped words), decoded and checked into `out`
    /// (one per item).
    fn decode_items(&mut self, m: &Msg, words: usize, out: &mut [Option<Item>]) -> Result<(), Error> {
        for (k, slot) in out.iter_mut().enumerate() {
            let w0 = self.msg_word(m, words + 2 * k);
            let w1 = self.msg_word(m, words + 2 * k + 1);
            let it = Item::decode(w0, w1)?;
            if let Item::Map { fpage, .. } | Item::Grant { fpage, .. } = it {
                fpage.decode(USER_TOP)?;
            }
            *slot = Some(it);
        }
        Ok(())
    }

    /// Processes map and grant items (a message without strings) into `r`; returns the
    /// number of item descriptors written after the receiver's untyped words.
    fn transfer_items(
        &mut self,
        m: &Msg,
        r: Handle,
        words: usize,
        decoded: &[Option<Item>],
    ) -> Result<usize, Error> {
        let s_task = self.threads.get(m.from).map(|t| t.task).ok_or(Error::PartnerDeleted)?;
        let r_task = self.threads.get(r).map(|t| t.task).ok_or(Error::PartnerDeleted)?;
        let mut out = 0usize;
        for it in decoded.iter().flatten() {
            let (Item::Map { send_base, fpage } | Item::Grant { send_base, fpage }) = *it else { continue };
            let grant = matches!(it, Item::Grant { .. });
            let desc = fpage.decode(USER_TOP)?;
            if desc.kind == FpageKind::Nil {
                continue;
            }
            let win_reg = if desc.kind == FpageKind::Memory { BR_MEM_WINDOW } else { BR_OBJ_WINDOW };
            // A malformed window is the receiver's fault, like a missing one.
            let window = Fpage(self.utcb_read(r, offset::BR + win_reg))
                .decode(USER_TOP)
                .map_err(|_| Error::MessageOverflow)?;
            if window.kind != desc.kind {
                return Err(Error::MessageOverflow);
            }
            let placed = self.map_fpage(s_task, desc, r_task, window, send_base, grant)?;
            let w0 = it.encode()[0];
            self.set_recv_word(r, words + 2 * out, w0);
            self.set_recv_word(r, words + 2 * out + 1, placed.0);
            out += 1;
        }
        Ok(out)
    }

    /// Maps (or grants) flexpage `src` of task `from` into `window` of task `to`, following
    /// the L4 rule: the smaller of the two is placed inside the larger at the offset given
    /// by `send_base`. Returns the flexpage as it appears in the receiver.
    pub(crate) fn map_fpage(
        &mut self,
        from: Handle,
        src: FpageDesc,
        to: Handle,
        window: FpageDesc,
        send_base: u64,
        grant: bool,
    ) -> Result<Fpage, Error> {
        // The send base is in the flexpage's own units: a byte address for memory, a slot
        // number in bits 63..12 for capabilities (as in an object flexpage's base).
        let send_base = if src.kind == FpageKind::Object { send_base >> 12 } else { send_base };
        let (src_base, dst_base, order) = if src.order <= window.order {
            let off = send_base & (window.size() - 1) & !(src.size() - 1);
            (src.base, window.base + off, src.order)
        } else {
            let off = send_base & (src.size() - 1) & !(window.size() - 1);
            (src.base + off, window.base, window.order)
        };
        match src.kind {
            FpageKind::Memory => {
                self.map_memory(from, src_base, to, dst_base, 1u64 << order, src.rights, grant)?;
                Ok(Fpage::memory(dst_base, order, pecan_abi::MemRights(src.rights)))
            }
            FpageKind::Object => {
                self.map_caps(from, src_base, to, dst_base, 1u64 << order, src.rights, grant)?;
                Ok(Fpage::object(dst_base, order, pecan_abi::CapRights(src.rights)))
            }
            FpageKind::Nil => Ok(Fpage::NIL),
        }
    }
}
