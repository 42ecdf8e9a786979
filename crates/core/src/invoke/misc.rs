//! Console and machine methods.

use pecan_abi::object::{console, machine};
use pecan_abi::{CapRights, Error};
use pecan_hal::{Console, Hal};

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::obj::Cap;

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
