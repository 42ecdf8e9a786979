//! Kernel-object invocations: the `Invoke` system call with a method label and argument
//! words, wrapped per object type.

use pecan_abi::object::{any, console, factory, gate, ioports, irq, machine, task, thread};
use pecan_abi::{Control, Fpage, MsgTag, Status, Sys, Timeout};

use crate::arch::{Regs, syscall};
use crate::cap::{AnyCap, CapSel, Console, Factory, Gate, IoPorts, Irq, Machine, Task, Thread};
use crate::ipc::IpcError;
use crate::utcb;

/// Up to 16 result words of an invocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Results {
    words: [u64; 16],
    n: usize,
}

impl Results {
    /// Result `i` (0 past the end).
    pub fn get(&self, i: usize) -> u64 {
        if i < self.n { self.words[i] } else { 0 }
    }

    /// Number of results.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no results.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// Invokes `method` on `cap` with `args` (at most 63 words).
pub fn invoke(cap: CapSel, method: u64, args: &[u64]) -> Result<Results, IpcError> {
    let n = args.len().min(63);
    let mut r = Regs {
        r0: Control::new(Sys::Invoke, Timeout::NEVER, Timeout::NEVER).0,
        r1: cap.0,
        r2: MsgTag::new(method, n, 0).0,
        ..Regs::default()
    };
    for (i, &a) in args[..n].iter().enumerate() {
        if i < pecan_abi::REG_MRS {
            r.mr[i] = a;
        } else {
            utcb::set_mr(i, a);
        }
    }
    syscall(&mut r);
    Status(r.r0).result().map_err(|(error, phase)| IpcError { error, phase })?;
    let tag = MsgTag(r.r2);
    let mut out = Results { n: tag.words().min(16), ..Default::default() };
    for i in 0..out.n {
        out.words[i] = if i < pecan_abi::REG_MRS { r.mr[i] } else { utcb::mr(i) };
    }
    Ok(out)
}

fn unit(r: Result<Results, IpcError>) -> Result<(), IpcError> {
    r.map(|_| ())
}

impl AnyCap {
    /// The object's type and this capability's rights.
    pub fn identify(self) -> Result<(u64, u64), IpcError> {
        invoke(self.0, any::IDENTIFY, &[]).map(|r| (r.get(0), r.get(1)))
    }

    /// Destroys the object (needs the CONTROL right).
    pub fn destroy(self) -> Result<(), IpcError> {
        unit(invoke(self.0, any::DESTROY, &[]))
    }
}

impl Factory {
    /// Creates a task with `2^cap_order` capability slots into slot `dst`.
    pub fn create_task(self, dst: u64, cap_order: u64) -> Result<Task, IpcError> {
        invoke(self.0, factory::CREATE_TASK, &[dst, cap_order]).map(|_| Task::at(dst))
    }

    /// Creates an inactive thread in `task` with its UTCB at `utcb`, into slot `dst`.
    pub fn create_thread(self, dst: u64, task: Task, utcb: u64) -> Result<Thread, IpcError> {
        invoke(self.0, factory::CREATE_THREAD, &[dst, task.sel(), utcb]).map(|_| Thread::at(dst))
    }

    /// Creates a gate bound to `thread` (or unbound) with `label`, into slot `dst`.
    pub fn create_gate(self, dst: u64, thread: Option<Thread>, label: u64) -> Result<Gate, IpcError> {
        let t = thread.map_or(0, |t| t.sel());
        invoke(self.0, factory::CREATE_GATE, &[dst, t, label]).map(|_| Gate::at(dst))
    }

    /// Creates a software-triggered IRQ object into slot `dst`.
    pub fn create_irq(self, dst: u64) -> Result<Irq, IpcError> {
        invoke(self.0, factory::CREATE_IRQ, &[dst]).map(|_| Irq::at(dst))
    }

    /// Creates a factory with `quota` bytes of this one's quota, into slot `dst`.
    pub fn create_factory(self, dst: u64, quota: u64) -> Result<Factory, IpcError> {
        invoke(self.0, factory::CREATE_FACTORY, &[dst, quota]).map(|_| Factory::at(dst))
    }

    /// Remaining and total quota in bytes.
    pub fn quota(self) -> Result<(u64, u64), IpcError> {
        invoke(self.0, factory::QUOTA, &[]).map(|r| (r.get(0), r.get(1)))
    }
}

impl Task {
    /// Maps the caller's flexpage `fpage` into this task at `dst` (address or slot).
    pub fn map(self, fpage: Fpage, dst: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, task::MAP, &[fpage.0, dst, 0]))
    }

    /// Grants the caller's flexpage `fpage` to this task at `dst`.
    pub fn grant(self, fpage: Fpage, dst: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, task::MAP, &[fpage.0, dst, task::GRANT]))
    }

    /// Revokes every mapping derived from `fpage` in this task (and with `include_self`
    /// this task's own).
    pub fn unmap(self, fpage: Fpage, include_self: bool) -> Result<(), IpcError> {
        unit(invoke(self.0, task::UNMAP, &[fpage.0, include_self as u64]))
    }

    /// Whether the first page or slot of `fpage` is mapped, and with which rights.
    pub fn lookup(self, fpage: Fpage) -> Result<(bool, u64), IpcError> {
        invoke(self.0, task::LOOKUP, &[fpage.0]).map(|r| (r.get(0) != 0, r.get(1)))
    }
}

impl Thread {
    /// Sets instruction pointer, stack pointer and the first argument register.
    pub fn set_regs(self, ip: u64, sp: u64, arg: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::SET_REGS, &[ip, sp, arg]))
    }

    /// Sets the pager and the exception handler (selectors in the thread's own task).
    pub fn configure(self, pager: u64, exc_handler: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::CONFIGURE, &[pager, exc_handler]))
    }

    /// Sets the priority (0..=255) and the time slice in microseconds (0: unchanged).
    pub fn set_priority(self, prio: u64, timeslice_us: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::SET_PRIORITY, &[prio, timeslice_us]))
    }

    /// Makes the thread runnable.
    pub fn start(self) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::START, &[]))
    }

    /// Stops the thread (its IPC is cancelled).
    pub fn suspend(self) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::SUSPEND, &[]))
    }

    /// Cancels the thread's IPC in progress.
    pub fn cancel(self) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::CANCEL, &[]))
    }

    /// Moves the thread to `cpu`.
    pub fn set_affinity(self, cpu: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, thread::SET_AFFINITY, &[cpu]))
    }

    /// Instruction pointer, stack pointer, state and priority.
    pub fn read_regs(self) -> Result<[u64; 4], IpcError> {
        invoke(self.0, thread::READ_REGS, &[]).map(|r| [r.get(0), r.get(1), r.get(2), r.get(3)])
    }
}

impl Gate {
    /// Binds the gate to `thread` with `label`.
    pub fn bind(self, thread: Thread, label: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, gate::BIND, &[thread.sel(), label]))
    }

    /// Unbinds the gate.
    pub fn unbind(self) -> Result<(), IpcError> {
        unit(invoke(self.0, gate::UNBIND, &[]))
    }
}

impl Irq {
    /// Delivers this IRQ to `thread` with `label`.
    pub fn attach(self, thread: Thread, label: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, irq::ATTACH, &[thread.sel(), label]))
    }

    /// Stops delivering it.
    pub fn detach(self) -> Result<(), IpcError> {
        unit(invoke(self.0, irq::DETACH, &[]))
    }

    /// Acknowledges the last delivery (unmasks the line).
    pub fn ack(self) -> Result<(), IpcError> {
        unit(invoke(self.0, irq::ACK, &[]))
    }

    /// Triggers the IRQ by software.
    pub fn trigger(self) -> Result<(), IpcError> {
        unit(invoke(self.0, irq::TRIGGER, &[]))
    }
}

impl Console {
    /// Writes bytes (in pieces of at most 504).
    pub fn write(self, bytes: &[u8]) -> Result<(), IpcError> {
        for chunk in bytes.chunks(63 * 8) {
            let mut args = [0u64; 64];
            args[0] = chunk.len() as u64;
            for (i, c) in chunk.chunks(8).enumerate() {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                args[1 + i] = u64::from_le_bytes(w);
            }
            invoke(self.0, console::WRITE, &args[..1 + chunk.len().div_ceil(8)])?;
        }
        Ok(())
    }
}

impl Machine {
    /// Stops the machine with `code` (0: success).
    pub fn exit(self, code: u64) -> Result<(), IpcError> {
        unit(invoke(self.0, machine::EXIT, &[code]))
    }

    /// The kernel's event counters (see `docs/abi.md`).
    pub fn counters(self) -> Result<[u64; machine::COUNTER_WORDS], IpcError> {
        let r = invoke(self.0, machine::COUNTERS, &[])?;
        let mut out = [0; machine::COUNTER_WORDS];
        for (i, o) in out.iter_mut().enumerate() {
            *o = r.get(i);
        }
        Ok(out)
    }

    /// Resets the event counters.
    pub fn reset_counters(self) -> Result<(), IpcError> {
        unit(invoke(self.0, machine::RESET_COUNTERS, &[]))
    }
}

impl IoPorts {
    /// Reads a byte from `port`.
    pub fn inb(self, port: u16) -> Result<u8, IpcError> {
        invoke(self.0, ioports::IN, &[port as u64, 1]).map(|r| r.get(0) as u8)
    }

    /// Writes a byte to `port`.
    pub fn outb(self, port: u16, value: u8) -> Result<(), IpcError> {
        unit(invoke(self.0, ioports::OUT, &[port as u64, 1, value as u64]))
    }

    /// A capability to `count` ports from `first` (within this range), into slot `dst`.
    pub fn narrow(self, dst: u64, first: u16, count: u32) -> Result<IoPorts, IpcError> {
        invoke(self.0, ioports::NARROW, &[dst, first as u64, count as u64]).map(|_| IoPorts::at(dst))
    }
}
