//! Runs QEMU with a timeout, capturing the console to a log (and echoing it if asked).

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::BootOpts;
use crate::arch::{self, KernelExit};
use crate::build;

/// QEMU's `-icount` value for `smp` CPUs: one instruction per nanosecond of virtual time
/// (`shift=0`); with several CPUs also `sleep=off`, so that while every CPU idles the
/// virtual clock jumps to the next timer deadline instead of following the host's clock:
/// the counts then repeat exactly from run to run (with `sleep=on` the timer ticks fall
/// at host-dependent points of the measured loops: measured, ±1 instruction per round
/// trip). One CPU keeps the default, so the recorded single-CPU figures stay comparable.
pub fn icount_option(smp: u32) -> &'static str {
    if smp > 1 { "shift=0,sleep=off" } else { "shift=0" }
}

/// The result of one QEMU run.
#[derive(Debug)]
pub struct Outcome {
    /// How the kernel (or QEMU) ended.
    pub exit: KernelExit,
    /// Whether our timeout killed QEMU.
    pub timed_out: bool,
    /// Everything QEMU printed (console and errors).
    pub log: String,
    /// Wall-clock duration.
    pub elapsed: Duration,
}

/// What QEMU reads on its standard input (the serial console's receive side).
#[derive(Clone, Debug)]
pub enum Input {
    /// Nothing (end of file).
    Null,
    /// Our own standard input (interactive runs).
    Inherit,
    /// These bytes, written once the kernel has printed its banner ([`KERNEL_BANNER`]).
    Bytes(Vec<u8>),
}

/// Console input waits for this text: earlier, a loader would take it (x86_64 U-Boot's
/// 2 s autoboot prompt, which no environment can turn off there, stops at its shell on
/// the first byte).
pub const KERNEL_BANNER: &str = "booting via";

/// Most time console input waits for [`KERNEL_BANNER`] before it is written anyway.
const BANNER_WAIT: Duration = Duration::from_secs(60);

/// Runs `cmd` for at most `timeout`, writing its output to `log_path` and, if `echo`,
/// to our stdout as it arrives.
pub fn run(
    mut cmd: Command,
    timeout: Duration,
    log_path: &Path,
    echo: bool,
    stdin: Input,
) -> Result<Outcome> {
    let start = Instant::now();
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(match stdin {
        Input::Null => Stdio::null(),
        Input::Inherit => Stdio::inherit(),
        Input::Bytes(_) => Stdio::piped(),
    });
    let mut child = cmd.spawn().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let log = Arc::new(Mutex::new(Vec::<u8>::new()));
    if let (Input::Bytes(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let log = log.clone();
        // Keep the pipe open after writing: end of file would make QEMU's serial backend
        // report a hang-up.
        std::thread::spawn(move || {
            let banner = KERNEL_BANNER.as_bytes();
            let waiting = Instant::now();
            while waiting.elapsed() < BANNER_WAIT
                && !log.lock().unwrap().windows(banner.len()).any(|w| w == banner)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = pipe.write_all(&bytes);
            let _ = pipe.flush();
            std::thread::sleep(Duration::from_secs(3600));
            drop(pipe);
        });
    }
    let mut readers = Vec::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = log.clone();
        readers.push(std::thread::spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if echo {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
            }
        }));
    }
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st.code();
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for r in readers {
        let _ = r.join();
    }
    let bytes = log.lock().unwrap().clone();
    std::fs::write(log_path, &bytes)?;
    Ok(Outcome {
        exit: arch::decode_status(status),
        timed_out,
        log: String::from_utf8_lossy(&bytes).into_owned(),
        elapsed: start.elapsed(),
    })
}

/// `xtask run`: build, boot with the console on the terminal, and exit with the kernel's
/// status (0 when it exited with code 0).
pub fn run_interactive(opts: &BootOpts) -> Result<i32> {
    let img = build::boot_image(opts)?;
    let log = crate::root().join("build").join(opts.arch.name()).join("run.log");
    let out = run(img.command(), Duration::from_secs(opts.timeout), &log, true, Input::Inherit)?;
    Ok(match out.exit {
        KernelExit::Code(0) => 0,
        KernelExit::Code(c) => {
            eprintln!("xtask: kernel exited with code {c}");
            1
        }
        KernelExit::Qemu(s) => {
            eprintln!("xtask: QEMU failed with status {s}");
            1
        }
        KernelExit::Killed => {
            eprintln!("xtask: QEMU killed{}", if out.timed_out { " by the timeout" } else { "" });
            1
        }
    })
}
