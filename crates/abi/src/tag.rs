//! The message tag: label (or protocol), flags, typed-item count and untyped-word count.
//!
//! Layout of the tag word: bits 6..0 untyped words (0..=64), bits 11..7 typed items
//! (0..=31, two words each, placed after the untyped words), bits 15..12 flags,
//! bits 63..16 the label (48 bits). Labels at the top of the 48-bit range are the
//! predefined protocols in [`crate::proto`].

use crate::MR_COUNT;
use crate::error::Error;

/// A message tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MsgTag(pub u64);

const WORDS_MASK: u64 = 0x7f;
const ITEMS_SHIFT: u32 = 7;
const ITEMS_MASK: u64 = 0x1f;
const FLAGS_SHIFT: u32 = 12;
const LABEL_SHIFT: u32 = 16;

/// The largest label value (48 bits).
pub const LABEL_MAX: u64 = (1 << 48) - 1;

/// Flag set by the kernel on a received tag when the sender ran on another CPU.
pub const FLAG_CROSS_CPU: u8 = 1 << 0;
/// Flags a sender may set (none yet); the kernel rejects the others.
pub const FLAGS_SENDER: u8 = 0;
/// Flags only the kernel sets; a sender's value for them is ignored.
pub const FLAGS_KERNEL: u8 = FLAG_CROSS_CPU;

impl MsgTag {
    /// A tag with `label`, `words` untyped words and `items` typed items (values are
    /// truncated to their fields; `check` validates a tag from user space).
    pub const fn new(label: u64, words: usize, items: usize) -> MsgTag {
        MsgTag(
            (label & LABEL_MAX) << LABEL_SHIFT
                | ((items as u64) & ITEMS_MASK) << ITEMS_SHIFT
                | (words as u64) & WORDS_MASK,
        )
    }

    /// The label (protocol).
    pub const fn label(self) -> u64 {
        self.0 >> LABEL_SHIFT
    }

    /// Number of untyped words.
    pub const fn words(self) -> usize {
        (self.0 & WORDS_MASK) as usize
    }

    /// Number of typed items.
    pub const fn items(self) -> usize {
        ((self.0 >> ITEMS_SHIFT) & ITEMS_MASK) as usize
    }

    /// The flags.
    pub const fn flags(self) -> u8 {
        ((self.0 >> FLAGS_SHIFT) & 0xf) as u8
    }

    /// The tag with `flags` set.
    pub const fn with_flags(self, flags: u8) -> MsgTag {
        MsgTag(self.0 & !(0xf << FLAGS_SHIFT) | ((flags as u64) & 0xf) << FLAGS_SHIFT)
    }

    /// Message words in total: untyped words plus two per typed item.
    pub const fn total_words(self) -> usize {
        self.words() + 2 * self.items()
    }

    /// Validates a tag a sender passed: no sender-forbidden flag, and the words and items
    /// fit the message registers. Returns the tag with kernel-only flags cleared.
    pub const fn check(self) -> Result<MsgTag, Error> {
        let f = self.flags() & !FLAGS_KERNEL;
        if f & !FLAGS_SENDER != 0 {
            return Err(Error::MalformedMessage);
        }
        if self.total_words() > MR_COUNT {
            return Err(Error::MalformedMessage);
        }
        Ok(self.with_flags(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let t = MsgTag::new(0x1234, 5, 2);
        assert_eq!((t.label(), t.words(), t.items(), t.flags()), (0x1234, 5, 2, 0));
        assert_eq!(t.total_words(), 9);
        assert_eq!(t.check(), Ok(t));
        assert_eq!(MsgTag::new(LABEL_MAX, 64, 0).label(), LABEL_MAX);
    }

    #[test]
    fn check_rejects() {
        assert_eq!(MsgTag::new(0, 64, 1).check(), Err(Error::MalformedMessage));
        assert_eq!(MsgTag::new(0, 65, 0).check(), Err(Error::MalformedMessage));
        assert_eq!(MsgTag::new(0, 0, 0).with_flags(0b1000).check(), Err(Error::MalformedMessage));
        // Kernel-only flags are dropped, not rejected.
        let t = MsgTag::new(7, 1, 0).with_flags(FLAG_CROSS_CPU);
        assert_eq!(t.check(), Ok(MsgTag::new(7, 1, 0)));
    }
}
