//! The kernel command line: `key=value` and bare `flag` words separated by spaces.

/// Longest command line kept.
pub const CMDLINE_MAX: usize = 256;

/// A copied command line.
#[derive(Clone, Debug)]
pub struct Cmdline {
    buf: [u8; CMDLINE_MAX],
    len: usize,
}

impl Default for Cmdline {
    fn default() -> Self {
        Cmdline { buf: [0; CMDLINE_MAX], len: 0 }
    }
}

impl Cmdline {
    /// Copies `bytes` (up to a NUL byte, truncated to `CMDLINE_MAX`).
    pub fn new(bytes: &[u8]) -> Self {
        let n = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(CMDLINE_MAX);
        let mut c = Cmdline::default();
        c.buf[..n].copy_from_slice(&bytes[..n]);
        c.len = n;
        c
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The command line as text (invalid UTF-8 yields an empty string).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The value of `key=value`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.as_str().split_ascii_whitespace().find_map(|w| {
            let (k, v) = w.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// Whether the bare word `flag` (or `flag=1`) is present.
    pub fn has(&self, flag: &str) -> bool {
        self.as_str().split_ascii_whitespace().any(|w| w == flag) || self.get(flag) == Some("1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let c = Cmdline::new(b"test=boot quiet  fast=1 x=\0ignored");
        assert_eq!(c.get("test"), Some("boot"));
        assert_eq!(c.get("x"), Some(""));
        assert_eq!(c.get("ignored"), None);
        assert!(c.has("quiet") && c.has("fast") && !c.has("test"));
        assert_eq!(Cmdline::new(&[0xff, 0xfe]).as_str(), "");
        assert_eq!(Cmdline::new(&[b'a'; 300]).as_bytes().len(), CMDLINE_MAX);
    }
}
