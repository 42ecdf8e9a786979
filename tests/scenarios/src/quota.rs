//! Factory quotas: a small factory runs out (`QuotaExceeded`, nothing left behind), and
//! destroying it destroys what it made and returns its quota.

use pecan_abi::caps::std_slots;
use pecan_abi::{Error, Phase};
use pecan_system::slots::SLOTS;
use pecan_user::Task;

use crate::env::{Env, code, fail};
use crate::{Fail, Scenario, check};

/// This file's scenarios.
pub const SCENARIOS: &[Scenario] = &[("factory-quota-exceeded", quota_exceeded)];

const QUOTA: u64 = 2048;
const EXCEEDED: Option<(Error, Phase)> = Some((Error::QuotaExceeded, Phase::Send));

fn quota_exceeded(env: &Env<'_>) -> Result<(), Fail> {
    let root = env.factory();
    let (before, _) = root.quota().map_err(fail("root quota"))?;
    let fs = SLOTS.alloc();
    let f = root.create_factory(fs, QUOTA).map_err(fail("create_factory"))?;
    let mut made = alloc::vec::Vec::new();
    let r = (|| {
        let (taken, _) = root.quota().map_err(fail("root quota"))?;
        check!(
            before - taken >= QUOTA,
            "the new factory took {} bytes of a {QUOTA}-byte quota",
            before - taken
        );
        check!(f.quota().ok() == Some((QUOTA, QUOTA)), "new factory's quota {:?}", f.quota());
        // Gates until the quota is gone.
        let mut last = Ok(());
        for _ in 0..10_000 {
            let s = SLOTS.alloc();
            last = f.create_gate(s, None, 0).map(|_| ());
            if last.is_err() {
                SLOTS.free(s);
                break;
            }
            made.push(s);
        }
        check!(code(&last) == EXCEEDED && !made.is_empty(), "after {} gates: {:?}", made.len(), code(&last));
        let (left, _) = f.quota().map_err(fail("quota"))?;
        // Nothing bigger fits either, and a refusal takes nothing.
        let s = SLOTS.alloc();
        let refused = [
            ("gate", code(&f.create_gate(s, None, 0))),
            ("IRQ", code(&f.create_irq(s))),
            ("task", code(&f.create_task(s, 2))),
            ("thread", code(&f.create_thread(s, Task::at(std_slots::TASK), env.scratch()))),
            ("factory", code(&f.create_factory(s, 1))),
        ];
        SLOTS.free(s);
        for (what, c) in refused {
            check!(c == EXCEEDED, "{what}: {c:?}");
        }
        check!(
            f.quota().ok() == Some((left, QUOTA)),
            "refusals changed the quota: {:?} vs {left}",
            f.quota()
        );
        Ok(())
    })();
    let destroyed = f.any().destroy();
    let stale = made.first().map(|&s| code(&pecan_user::AnyCap::at(s).identify()));
    // The slots (whose records are charged to this task's factory) are emptied, then the
    // root factory has all it had.
    for s in made.into_iter().chain([fs]) {
        env.free_slot(s);
    }
    let (after, _) = root.quota().map_err(fail("root quota"))?;
    r?;
    destroyed.map_err(fail("destroy the factory"))?;
    check!(after == before, "root quota {before} before, {after} after");
    check!(stale == Some(Some((Error::StaleCap, Phase::Send))), "a gate of the destroyed factory: {stale:?}");
    Ok(())
}
