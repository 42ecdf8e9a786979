//! The interrupt controller.

/// Masks, unmasks and acknowledges interrupt lines. Line numbers are the platform's
/// (GIC INTIDs on AArch64, IOAPIC inputs on x86_64).
pub trait InterruptController {
    /// Number of lines (valid lines are `0..lines()`).
    fn lines(&self) -> u32;
    /// Whether `line` may be handed to user space (not the timer, not the kernel's own).
    fn is_user_line(&self, line: u32) -> bool;
    /// Stops `line` from interrupting.
    fn mask(&mut self, line: u32);
    /// Lets `line` interrupt again.
    fn unmask(&mut self, line: u32);
}
