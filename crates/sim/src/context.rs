//! The simulator's user register file: named fields for the system-call registers.

use pecan_abi::REG_MRS;
use pecan_hal::UserContext;

/// Saved registers of a simulated thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimContext {
    /// Instruction pointer.
    pub ip: u64,
    /// Stack pointer.
    pub sp: u64,
    /// First argument register at thread start.
    pub arg: u64,
    /// Control word in, status out.
    pub r0: u64,
    /// Capability selector in, gate label out.
    pub r1: u64,
    /// Tag in, tag out.
    pub r2: u64,
    /// Message registers 0..REG_MRS.
    pub mr: [u64; REG_MRS],
    /// Thread pointer.
    pub tls: u64,
}

impl UserContext for SimContext {
    fn new_user(ip: u64, sp: u64, arg: u64) -> Self {
        SimContext { ip, sp, arg, ..Default::default() }
    }
    fn ip(&self) -> u64 {
        self.ip
    }
    fn sp(&self) -> u64 {
        self.sp
    }
    fn set_ip(&mut self, ip: u64) {
        self.ip = ip;
    }
    fn set_sp(&mut self, sp: u64) {
        self.sp = sp;
    }
    fn set_arg(&mut self, arg: u64) {
        self.arg = arg;
    }
    fn set_tls(&mut self, tls: u64) {
        self.tls = tls;
    }
    fn tls(&self) -> u64 {
        self.tls
    }
    fn sys_control(&self) -> u64 {
        self.r0
    }
    fn sys_cap(&self) -> u64 {
        self.r1
    }
    fn sys_tag(&self) -> u64 {
        self.r2
    }
    fn mr(&self, i: usize) -> u64 {
        self.mr.get(i).copied().unwrap_or(0)
    }
    fn set_mr(&mut self, i: usize, v: u64) {
        if let Some(m) = self.mr.get_mut(i) {
            *m = v;
        }
    }
    fn set_result(&mut self, status: u64, label: u64, tag: u64) {
        self.r0 = status;
        self.r1 = label;
        self.r2 = tag;
    }
}
