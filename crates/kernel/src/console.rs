//! The kernel console: a `log` backend over the arch's console writer.

use core::fmt::Write;
use log::{Level, LevelFilter, Log, Metadata, Record};
use pecan_boot::Cmdline;
use spin::Once;

use crate::machine::Machine;

static WRITER: Once<fn(&[u8])> = Once::new();
static LOGGER: Logger = Logger;

struct Logger;

struct Out(fn(&[u8]));

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        (self.0)(s.as_bytes());
        Ok(())
    }
}

impl Log for Logger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if let Some(w) = WRITER.get() {
            let tag = match record.level() {
                Level::Error => "error",
                Level::Warn => " warn",
                Level::Info => " info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            let _ = writeln!(Out(*w), "[{tag}] {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger writing through `writer`, at the level named by the command line's
/// `log=` option (`error`, `warn`, `info` (default), `debug`, `trace`).
pub fn init(writer: fn(&[u8]), cmdline: &Cmdline) {
    WRITER.call_once(|| writer);
    let level = match cmdline.get("log") {
        Some("error") => LevelFilter::Error,
        Some("warn") => LevelFilter::Warn,
        Some("debug") => LevelFilter::Debug,
        Some("trace") => LevelFilter::Trace,
        Some("off") => LevelFilter::Off,
        _ => LevelFilter::Info,
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Writes a string to the console without going through the logger.
pub fn write_str<M: Machine>(m: &M, s: &str) {
    (WRITER.get().copied().unwrap_or(m.console_writer()))(s.as_bytes());
}

/// Writes formatted text to the console (for the panic handler and fault reports).
pub fn write_fmt(writer: fn(&[u8]), args: core::fmt::Arguments<'_>) {
    let _ = Out(writer).write_fmt(args);
}
