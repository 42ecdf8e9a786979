//! Printing to the console through the standard console slot (`print!`, `println!`).

use core::fmt::Write;
use pecan_abi::caps::std_slots;

use crate::cap::Console;

/// Writes to the console through the standard console slot.
pub struct Out {
    buf: [u8; 504],
    len: usize,
}

impl Out {
    /// An empty buffer.
    pub const fn new() -> Self {
        Out { buf: [0; 504], len: 0 }
    }

    /// Sends the buffer to the console.
    pub fn flush(&mut self) {
        if self.len > 0 {
            let _ = Console::at(std_slots::CONSOLE).write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let mut o = $crate::print::Out::new();
        let _ = core::fmt::Write::write_fmt(&mut o, format_args!($($arg)*));
        o.flush();
    }};
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        let mut o = $crate::print::Out::new();
        let _ = core::fmt::Write::write_fmt(&mut o, format_args!($($arg)*));
        let _ = core::fmt::Write::write_str(&mut o, "\n");
        o.flush();
    }};
}
