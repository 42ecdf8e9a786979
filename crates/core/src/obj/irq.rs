//! IRQ objects: deliver a hardware line or a software trigger to a thread as IPC.

use crate::list::{Linked, Links, Which};
use crate::obj::table::Handle;

/// An interrupt source attached (or not) to a thread.
#[derive(Clone, Copy, Debug)]
pub struct Irq {
    /// The hardware line, or `None` for a software-triggered IRQ.
    pub line: Option<u32>,
    /// The thread it is delivered to, and the label the message carries.
    pub target: Option<(Handle, u64)>,
    /// It fired and the message has not been delivered yet.
    pub pending: bool,
    /// It was delivered and not acknowledged yet (a hardware line stays masked).
    pub unacked: bool,
    /// Links in the target's pending list.
    pub links: Links,
    /// The factory it is charged to (`None` for the boot-time hardware IRQs).
    pub charged_to: Option<Handle>,
}

impl Irq {
    /// A detached IRQ object.
    pub fn new(line: Option<u32>, charged_to: Option<Handle>) -> Self {
        Irq { line, target: None, pending: false, unacked: false, links: Links::default(), charged_to }
    }
}

impl crate::obj::table::Vacant for Irq {
    fn vacant() -> Self {
        Irq::new(None, None)
    }
}

impl Linked for Irq {
    fn links(&mut self, _: Which) -> &mut Links {
        &mut self.links
    }
    fn links_ref(&self, _: Which) -> &Links {
        &self.links
    }
}
