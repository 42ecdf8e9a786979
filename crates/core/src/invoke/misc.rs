//! Console, machine and I/O-port methods.

use pecan_abi::object::{console, ioports, machine};
use pecan_abi::{CapRights, Error};
use pecan_hal::{Console, Hal};

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::obj::{Cap, Handle, ObjRef};

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_console(&mut self, cap: Cap, method: u64, a: &Args) -> Result<Reply, Error> {
        need(&cap, CapRights::SEND)?;
        if method != console::WRITE {
            return Err(Error::InvalidArgument);
        }
        let len = a.get(0)? as usize;
        let words = &a.all()[1..];
        if len > words.len() * 8 {
            return Err(Error::InvalidArgument);
        }
        let mut buf = [0u8; 63 * 8];
        for (i, w) in words.iter().enumerate() {
            buf[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        self.hal.console().write(&buf[..len]);
        Ok(Reply::none())
    }

    pub(super) fn invoke_machine(&mut self, cap: Cap, method: u64, a: &Args) -> Result<Reply, Error> {
        match method {
            machine::EXIT => {
                need(&cap, CapRights::CONTROL)?;
                self.exit_request = Some(a.get_or(0, 0).min(u32::MAX as u64) as u32);
                Ok(Reply::none())
            }
            machine::COUNTERS => {
                need(&cap, CapRights::SEND)?;
                Ok(Reply::of(&self.counters.words()))
            }
            machine::RESET_COUNTERS => {
                need(&cap, CapRights::SEND)?;
                self.counters = Default::default();
                Ok(Reply::none())
            }
            _ => Err(Error::InvalidArgument),
        }
    }
}

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_ioports(
        &mut self,
        cur: Handle,
        cap: Cap,
        first: u16,
        count: u32,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        // In u64 and without wrapping: a port or count from user space may be anything.
        let end = first as u64 + count as u64;
        let inside =
            |port: u64, n: u64| port >= first as u64 && port.checked_add(n).is_some_and(|e| e <= end);
        match method {
            ioports::IN | ioports::OUT => {
                need(&cap, CapRights::SEND)?;
                let (port, width) = (a.get(0)?, a.get(1)?);
                if !matches!(width, 1 | 2 | 4) || !inside(port, width) {
                    return Err(Error::InvalidArgument);
                }
                if method == ioports::IN {
                    let v = self.hal.port_in(port as u16, width as u8).ok_or(Error::WrongType)?;
                    Ok(Reply::of(&[v as u64]))
                } else if self.hal.port_out(port as u16, width as u8, a.get(2)? as u32) {
                    Ok(Reply::none())
                } else {
                    Err(Error::WrongType)
                }
            }
            ioports::NARROW => {
                need(&cap, CapRights::CONTROL)?;
                let (dst, f, n) = (a.get(0)?, a.get(1)?, a.get(2)?);
                if n == 0 || !inside(f, n) {
                    return Err(Error::InvalidArgument);
                }
                let task = self.task_of(cur)?;
                let obj = ObjRef::IoPorts { first: f as u16, count: n as u32 };
                self.install_cap(task, dst, Cap { obj, rights: cap.rights })?;
                Ok(Reply::none())
            }
            _ => Err(Error::InvalidArgument),
        }
    }
}
