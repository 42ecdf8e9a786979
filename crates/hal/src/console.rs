//! The kernel console.

/// A byte-oriented output device (16550 UART, PL011).
pub trait Console {
    /// Writes the bytes, translating nothing.
    fn write(&mut self, bytes: &[u8]);
}
