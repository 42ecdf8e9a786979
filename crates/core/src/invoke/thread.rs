//! Thread methods: registers, pager and exception handler, priority, start, suspend,
//! cancel, affinity.

use pecan_abi::object::thread;
use pecan_abi::{CapRights, Error};
use pecan_hal::{Hal, UserContext};

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::obj::{Cap, Handle};
use crate::thread::State;

/// `READ_REGS` state codes.
fn state_code(s: State) -> u64 {
    match s {
        State::Inactive => 0,
        State::Ready => 1,
        State::Sending { .. } => 2,
        State::Receiving(_) => 3,
        State::WaitReply { .. } => 4,
        State::Locked { .. } => 5,
    }
}

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_thread(
        &mut self,
        _cur: Handle,
        cap: Cap,
        t: Handle,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        need(&cap, CapRights::CONTROL)?;
        if !self.threads.contains(t) {
            return Err(Error::StaleCap);
        }
        match method {
            thread::SET_REGS => {
                let (ip, sp, arg) = (a.get(0)?, a.get(1)?, a.get_or(2, 0));
                // Running on another CPU: stopped there (its registers saved) first.
                self.stop_remote(t);
                self.abort_ipc(t, Error::Cancelled);
                if let Some(th) = self.threads.get_mut(t) {
                    th.ctx.set_ip(ip);
                    th.ctx.set_sp(sp);
                    th.ctx.set_arg(arg);
                }
                Ok(Reply::none())
            }
            thread::CONFIGURE => {
                let (pager, exc) = (a.get(0)?, a.get_or(1, 0));
                if let Some(th) = self.threads.get_mut(t) {
                    th.pager = pager;
                    th.exc_handler = exc;
                }
                Ok(Reply::none())
            }
            thread::SET_PRIORITY => {
                let prio = a.get(0)?;
                if prio > 255 {
                    return Err(Error::InvalidArgument);
                }
                let us = a.get_or(1, 0);
                let cpu = self.cpu_of(t);
                let queued = self.threads.get(t).is_some_and(|x| x.ready_links.is_linked());
                if queued {
                    self.percpu[cpu].sched.dequeue(&mut self.threads, t);
                }
                let hz = self.tick_hz;
                if let Some(th) = self.threads.get_mut(t) {
                    th.prio = prio as u8;
                    if us != 0 {
                        th.timeslice = ((us as u128 * hz as u128).div_ceil(1_000_000) as u64)
                            .clamp(1, u32::MAX as u64) as u32;
                    }
                }
                if queued
                    || self.threads.get(t).is_some_and(|x| {
                        x.state == State::Ready && self.percpu[cpu].sched.current.get() != Some(t)
                    })
                {
                    self.percpu[cpu].sched.enqueue(&mut self.threads, t);
                }
                self.percpu[self.cpu].sched.need_resched = true;
                if cpu != self.cpu {
                    self.resched_cpu(cpu);
                }
                Ok(Reply::none())
            }
            thread::START => {
                if self.threads.get(t).is_some_and(|x| x.state == State::Inactive) {
                    self.wake(t);
                }
                Ok(Reply::none())
            }
            thread::SUSPEND => {
                self.abort_ipc(t, Error::Cancelled);
                self.block(t, State::Inactive);
                Ok(Reply::none())
            }
            thread::CANCEL => {
                self.abort_ipc(t, Error::Cancelled);
                Ok(Reply::none())
            }
            thread::SET_AFFINITY => {
                let cpu = a.get(0)?;
                if cpu >= self.percpu.len() as u64 {
                    return Err(Error::InvalidArgument);
                }
                self.set_cpu(t, cpu as usize);
                Ok(Reply::none())
            }
            thread::READ_REGS => {
                // Running on another CPU: its registers are saved there first.
                if let Some(cpu) = self.running_elsewhere(t) {
                    self.kick(cpu);
                }
                let th = self.threads.get(t).ok_or(Error::StaleCap)?;
                Ok(Reply::of(&[th.ctx.ip(), th.ctx.sp(), state_code(th.state), th.prio as u64]))
            }
            _ => Err(Error::InvalidArgument),
        }
    }
}
