//! Timeouts: 0 (do not block), never, or relative in a 16-bit mantissa/exponent form.
//!
//! Encoding (`u16`): `0x0000` is zero, `0xffff` is never, and a value with bit 15 clear is
//! relative: `m * 2^e` microseconds with `e` in bits 14..10 and `m` in bits 9..0. Values with
//! bit 15 set other than `0xffff` are reserved and rejected with `InvalidArgument`.

use core::time::Duration;

/// A timeout for one IPC phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeout(u16);

/// A decoded timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Do not block.
    Zero,
    /// Block until the partner is ready.
    Never,
    /// Block at most this many microseconds.
    Relative(u64),
}

impl Timeout {
    /// Do not block.
    pub const ZERO: Timeout = Timeout(0);
    /// Block forever.
    pub const NEVER: Timeout = Timeout(0xffff);
    /// The largest relative timeout, in microseconds (1023 * 2^31, about 25 days).
    pub const MAX_RELATIVE_US: u64 = 1023u64 << 31;

    /// Wraps a raw 16-bit encoding (not yet validated: see `kind`).
    pub const fn from_raw(raw: u16) -> Timeout {
        Timeout(raw)
    }

    /// The raw encoding.
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// A relative timeout of at least `us` microseconds (rounded up to what the encoding
    /// can express; saturating at the largest value).
    pub const fn from_micros(us: u64) -> Timeout {
        if us == 0 {
            return Timeout::ZERO;
        }
        let mut e = 0u32;
        let mut m = us;
        while m > 1023 {
            // Round up so the timeout never expires early.
            m = m.div_ceil(2);
            e += 1;
        }
        if e > 31 {
            return Timeout((31 << 10) | 1023);
        }
        Timeout(((e as u16) << 10) | m as u16)
    }

    /// A relative timeout from a `Duration` (rounded up to microseconds).
    pub const fn from_duration(d: Duration) -> Timeout {
        let us = d.as_secs().saturating_mul(1_000_000) + (d.subsec_nanos() as u64).div_ceil(1000);
        Timeout::from_micros(us)
    }

    /// Decodes the timeout; `None` for a reserved encoding.
    pub const fn kind(self) -> Option<TimeoutKind> {
        match self.0 {
            0 => Some(TimeoutKind::Zero),
            0xffff => Some(TimeoutKind::Never),
            r if r & 0x8000 != 0 => None,
            r => {
                let m = (r & 0x3ff) as u64;
                let e = (r >> 10) as u32;
                if m == 0 { Some(TimeoutKind::Zero) } else { Some(TimeoutKind::Relative(m << e)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(Timeout::ZERO.kind(), Some(TimeoutKind::Zero));
        assert_eq!(Timeout::NEVER.kind(), Some(TimeoutKind::Never));
        assert_eq!(Timeout::from_raw(0x8001).kind(), None);
        assert_eq!(Timeout::from_micros(5).kind(), Some(TimeoutKind::Relative(5)));
        assert_eq!(Timeout::from_micros(1023).kind(), Some(TimeoutKind::Relative(1023)));
        let big = Timeout::MAX_RELATIVE_US;
        assert_eq!(Timeout::from_micros(big).kind(), Some(TimeoutKind::Relative(big)));
        assert_eq!(Timeout::from_micros(u64::MAX).kind(), Some(TimeoutKind::Relative(big)));
    }

    #[test]
    fn never_rounds_down() {
        for us in [1u64, 999, 1024, 1025, 4097, 1_000_000, 123_456_789] {
            match Timeout::from_micros(us).kind() {
                Some(TimeoutKind::Relative(r)) => {
                    assert!(r >= us, "{us} -> {r}");
                    assert!(r - us <= us / 512 + 1, "{us} -> {r}");
                }
                k => panic!("{us} -> {k:?}"),
            }
        }
        assert_eq!(
            Timeout::from_duration(Duration::from_millis(3)).kind(),
            Some(TimeoutKind::Relative(3000))
        );
    }
}
