//! Factories: create objects and charge their kernel memory to a quota.

use pecan_abi::Error;

use crate::obj::table::Handle;

/// A factory with a kernel-memory quota in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Factory {
    /// Bytes this factory may charge.
    pub limit: u64,
    /// Bytes charged now.
    pub used: u64,
    /// The factory this one was created from (its quota came out of that one).
    pub parent: Option<Handle>,
}

impl crate::obj::table::Vacant for Factory {
    fn vacant() -> Self {
        Factory { limit: 0, used: 0, parent: None }
    }
}

impl Factory {
    /// Charges `bytes`, or fails with `QuotaExceeded` and charges nothing.
    pub fn charge(&mut self, bytes: u64) -> Result<(), Error> {
        match self.used.checked_add(bytes) {
            Some(u) if u <= self.limit => {
                self.used = u;
                Ok(())
            }
            _ => Err(Error::QuotaExceeded),
        }
    }

    /// Returns `bytes` to the quota.
    pub fn uncharge(&mut self, bytes: u64) {
        debug_assert!(self.used >= bytes, "uncharging more than charged");
        self.used = self.used.saturating_sub(bytes);
    }

    /// Bytes still available.
    pub fn remaining(&self) -> u64 {
        self.limit - self.used
    }
}
