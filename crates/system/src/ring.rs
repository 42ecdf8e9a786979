//! A single-producer, single-consumer byte ring in memory shared by two tasks (seed 002,
//! "Shared Memory ... Streaming media applications (FIFO queue)"). The producer writes in
//! place and the consumer reads from the same frames: no copy through the kernel. The
//! kernel is only involved to set the mapping up and for the notifications the two sides
//! send when the ring was empty ("data ready") or full ("space free").

use core::sync::atomic::{AtomicU64, Ordering};

/// The ring's header, at the start of the shared memory.
#[repr(C)]
struct Header {
    /// Bytes written so far (only the producer stores it).
    head: AtomicU64,
    /// Bytes read so far (only the consumer stores it).
    tail: AtomicU64,
}

/// Bytes the header takes (the data follows, cache-line aligned).
pub const HEADER: usize = 64;

/// A view of a ring in shared memory.
pub struct Ring {
    base: *mut u8,
    cap: u64,
}

// SAFETY: the ring is designed for one producer and one consumer in different threads or
// tasks; the indices are atomics and each side writes only its own.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring over `len` bytes at `base` (`len - HEADER` must be a power of two).
    ///
    /// # Safety
    /// `[base, base + len)` must be mapped and writable for the ring's life, shared only
    /// with the one peer, and the header zeroed before first use.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        let cap = (len - HEADER) as u64;
        debug_assert!(cap.is_power_of_two());
        Ring { base, cap }
    }

    fn header(&self) -> &Header {
        // SAFETY: `new`'s contract: the header is mapped for the ring's life.
        unsafe { &*(self.base as *const Header) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data area follows the header inside the mapped range.
        unsafe { self.base.add(HEADER) }
    }

    /// Bytes ready to read.
    pub fn available(&self) -> u64 {
        let h = self.header();
        h.head.load(Ordering::Acquire) - h.tail.load(Ordering::Acquire)
    }

    /// Bytes that can be written.
    pub fn space(&self) -> u64 {
        self.cap - self.available()
    }

    /// Writes as much of `src` as fits; returns the count.
    pub fn push(&self, src: &[u8]) -> usize {
        let h = self.header();
        let head = h.head.load(Ordering::Relaxed);
        let n = (src.len() as u64).min(self.cap - (head - h.tail.load(Ordering::Acquire)));
        for (i, &b) in src[..n as usize].iter().enumerate() {
            let at = ((head + i as u64) % self.cap) as usize;
            // SAFETY: `at` is inside the data area; the consumer does not read these bytes
            // until `head` is published below.
            unsafe { self.data().add(at).write_volatile(b) };
        }
        h.head.store(head + n, Ordering::Release);
        n as usize
    }

    /// Reads as many bytes as are ready into `dst`; returns the count.
    pub fn pop(&self, dst: &mut [u8]) -> usize {
        let h = self.header();
        let tail = h.tail.load(Ordering::Relaxed);
        let n = (dst.len() as u64).min(h.head.load(Ordering::Acquire) - tail);
        for (i, d) in dst[..n as usize].iter_mut().enumerate() {
            let at = ((tail + i as u64) % self.cap) as usize;
            // SAFETY: `at` is inside the data area and was published by the producer.
            *d = unsafe { self.data().add(at).read_volatile() };
        }
        h.tail.store(tail + n, Ordering::Release);
        n as usize
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn wraps_and_never_overfills() {
        let mut mem = std::vec![0u8; HEADER + 16];
        // SAFETY: the vector outlives the ring and nobody else touches it.
        let r = unsafe { Ring::new(mem.as_mut_ptr(), mem.len()) };
        assert_eq!(r.push(b"0123456789"), 10);
        let mut out = [0u8; 6];
        assert_eq!(r.pop(&mut out), 6);
        assert_eq!(&out, b"012345");
        assert_eq!(r.push(b"abcdefghijklmnop"), 12);
        assert_eq!(r.space(), 0);
        let mut all = [0u8; 32];
        assert_eq!(r.pop(&mut all), 16);
        assert_eq!(&all[..16], b"6789abcdefghijkl");
        assert_eq!(r.available(), 0);
    }
}
