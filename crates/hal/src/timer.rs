//! The tick source.

/// A periodic tick and a monotonic clock.
pub trait Timer {
    /// Ticks per second of the periodic tick (the granularity of timeouts).
    fn tick_hz(&self) -> u64;
    /// Nanoseconds since boot (monotonic).
    fn now_ns(&self) -> u64;
}
