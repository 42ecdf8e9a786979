//! Task methods: map from the caller into the task, unmap (recursively), look up.

use pecan_abi::fpage::FpageKind;
use pecan_abi::layout::USER_TOP;
use pecan_abi::object::task;
use pecan_abi::{CapRights, Error, Fpage};
use pecan_hal::{Hal, PAGE_SIZE};

use super::{Args, Reply, need};
use crate::kernel::Kernel;
use crate::obj::task::VmEntry;
use crate::obj::{Cap, Handle};

impl<H: Hal> Kernel<H> {
    pub(super) fn invoke_task(
        &mut self,
        cur: Handle,
        cap: Cap,
        t: Handle,
        method: u64,
        a: &Args,
    ) -> Result<Reply, Error> {
        need(&cap, CapRights::CONTROL)?;
        let fp = Fpage(a.get(0)?).decode(USER_TOP)?;
        match method {
            task::MAP => {
                let dst = a.get(1)?;
                let grant = a.get_or(2, 0) & task::GRANT != 0;
                let from = self.task_of(cur)?;
                match fp.kind {
                    FpageKind::Memory => {
                        if dst % fp.size() != 0 || dst >= USER_TOP || USER_TOP - dst < fp.size() {
                            return Err(Error::BadFlexpage);
                        }
                        self.map_memory(from, fp.base, t, dst, fp.size(), fp.rights, grant)?;
                    }
                    FpageKind::Object => {
                        self.map_caps(from, fp.base, t, dst, fp.size(), fp.rights, grant).map_err(|e| {
                            if e == Error::MessageOverflow { Error::InvalidArgument } else { e }
                        })?;
                    }
                    FpageKind::Nil => {}
                }
                Ok(Reply::none())
            }
            task::UNMAP => {
                let include_self = a.get_or(1, 0) & task::UNMAP_SELF != 0;
                match fp.kind {
                    FpageKind::Memory => self.unmap_memory(t, fp.base, fp.size(), include_self),
                    FpageKind::Object => self.unmap_caps(t, fp.base, fp.size(), include_self),
                    FpageKind::Nil => {}
                }
                Ok(Reply::none())
            }
            task::LOOKUP => match fp.kind {
                FpageKind::Memory => {
                    let page = fp.base & !(PAGE_SIZE - 1);
                    let e = self.tasks.get(t).ok_or(Error::StaleCap)?.vm.get(&page).copied();
                    let r = match e {
                        Some(VmEntry::Node(n)) => self.mdb.get(n).map_or(0, |n| n.rights as u64),
                        Some(VmEntry::Utcb(_)) => 6,
                        None => self.window_frame(t, page).map_or(0, |_| 7),
                    };
                    Ok(Reply::of(&[(r != 0) as u64, r]))
                }
                FpageKind::Object => {
                    let tk = self.tasks.get(t).ok_or(Error::StaleCap)?;
                    match tk.caps.get(fp.base) {
                        Ok(s) => {
                            let alive = self.alive(s.cap.obj);
                            Ok(Reply::of(&[
                                1,
                                s.cap.rights.0 as u64,
                                s.cap.obj.obj_type() as u64,
                                alive as u64,
                            ]))
                        }
                        Err(_) => Ok(Reply::of(&[0, 0, 0, 0])),
                    }
                }
                FpageKind::Nil => Err(Error::BadFlexpage),
            },
            _ => Err(Error::InvalidArgument),
        }
    }
}
