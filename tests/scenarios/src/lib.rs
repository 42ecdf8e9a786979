//! User-space test scenarios, run by `init` with `init=test` (optionally `scenario=NAME` to
//! run the ones whose name contains `NAME`). Each prints `SUBTEST <name> ok` or
//! `SUBTEST <name> FAIL <why>`; the QEMU test matrix counts them. The same source runs on
//! both architectures.
#![no_std]

extern crate alloc;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod aarch64;
mod badcap;
mod badmsg;
mod cap;
mod destroy;
mod env;
mod faults;
mod ipc;
mod irq;
mod mapping;
mod mem;
mod quota;
mod reply;
mod sched;
mod smp;
mod stress;
mod strings;
mod strings_pair;
mod strings_shapes;
mod strings_waits;
mod thread;
mod timeout;
mod wait;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
mod x86;

pub use env::Env;

use alloc::string::String;
use pecan_user::println;

/// Why a scenario failed.
pub type Fail = String;

/// A scenario.
pub type Scenario = (&'static str, fn(&Env<'_>) -> Result<(), Fail>);

/// Fails the scenario with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($msg)*));
        }
    };
}

/// Every scenario, in order.
pub fn all() -> alloc::vec::Vec<Scenario> {
    let mut v = alloc::vec::Vec::new();
    for s in [
        ipc::SCENARIOS,
        wait::SCENARIOS,
        reply::SCENARIOS,
        timeout::SCENARIOS,
        strings::SCENARIOS,
        strings_shapes::SCENARIOS,
        strings_waits::SCENARIOS,
        mem::SCENARIOS,
        mapping::SCENARIOS,
        cap::SCENARIOS,
        irq::SCENARIOS,
        thread::SCENARIOS,
        sched::SCENARIOS,
        destroy::SCENARIOS,
        quota::SCENARIOS,
        faults::SCENARIOS,
        badcap::SCENARIOS,
        badmsg::SCENARIOS,
        smp::SCENARIOS,
    ] {
        v.extend_from_slice(s);
    }
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    v.extend_from_slice(aarch64::SCENARIOS);
    #[cfg(all(target_arch = "x86_64", target_os = "none"))]
    v.extend_from_slice(x86::SCENARIOS);
    v
}

/// Runs the scenarios whose name contains `filter` (all without one); returns
/// `(passed, failed)`. The stress scenarios run only when `filter` starts with `stress`.
pub fn run(env: &Env<'_>, filter: Option<&[u8]>) -> (u32, u32) {
    // What the kernel says runs (the matrix checks it against QEMU's -smp).
    println!("scenarios: the kernel reports {} CPU(s)", env.bi.cpus);
    let (mut ok, mut bad) = (0, 0);
    let mut list = all();
    if filter.is_some_and(|f| f.starts_with(b"stress")) {
        list.extend_from_slice(stress::SCENARIOS);
    }
    for (name, f) in list {
        if filter.is_some_and(|f| !name.as_bytes().windows(f.len().max(1)).any(|w| w == f)) {
            continue;
        }
        match f(env) {
            Ok(()) => {
                ok += 1;
                println!("SUBTEST {name} ok");
            }
            Err(why) => {
                bad += 1;
                println!("SUBTEST {name} FAIL {why}");
            }
        }
    }
    println!("scenarios: {ok} passed, {bad} failed");
    (ok, bad)
}
