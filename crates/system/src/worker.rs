//! Commands of the `worker` program, which the test scenarios start in their own address
//! spaces: `args[0]` is the command, the rest its arguments. A worker reports through the
//! gate in its `PARENT` slot (a call whose words are its results).

/// Serve forever on every gate bound to it: reply to each message with its words plus one,
/// then the gate label; label of the reply = the request's label.
pub const ECHO: u64 = 1;
/// Call the gate in slot [`TARGET_SLOT`] `args[1]` times with word `i`; report
/// `[calls that returned i + 1, last error code or 0]`.
pub const CALL: u64 = 2;
/// Read address 0.
pub const NULL_DEREF: u64 = 3;
/// Execute an undefined instruction.
pub const ILLEGAL: u64 = 4;
/// Execute a privileged instruction (`hlt` / `msr daif`).
pub const PRIVILEGED: u64 = 5;
/// Write and read back a pattern in `args[2]` pages from `args[1]`; report `[good pages]`.
pub const TOUCH: u64 = 6;
/// Report `[word at args[1]]`, wait for the parent's reply, then report the word again.
pub const READ_TWICE: u64 = 7;
/// Keep `args[1]` in FP/SIMD registers across `args[2]` yields; report `[1 if intact]`.
pub const FPU: u64 = 8;
/// Wait forever (open wait after open wait; a call received is never answered).
pub const WAIT: u64 = 9;
/// Spin: increment the word at `args[1]` forever.
pub const SPIN: u64 = 10;
/// Map (`args[2]` = 0) or grant (1) the page at `args[1]` to whoever calls it on the gate
/// in [`TARGET_SLOT`]: call that gate with a map/grant item; report `[status]`.
pub const SEND_PAGE: u64 = 11;

/// Receive forever (open wait): after each message report `[status, label, gate label,
/// untyped words, word 0]`, then answer a call (its reply capability survives the report,
/// itself a call) with `[word 0 + 1]`.
pub const RECV: u64 = 12;
/// Accept memory into a receive window (BR0) at `args[1]` of `2^args[2]` bytes (0: one
/// page), wait for a message, answer it, report `[status, where the first item landed
/// (0: none), the word there, its order]`; then, released, report `[the word at args[1]]`.
pub const RECV_PAGE: u64 = 13;
/// Accept one capability into slot `args[1]` (receive window BR1), wait for a message,
/// answer it, then call the gate received with `[41]` and report `[status of the receive,
/// slot it landed in, status of the call, reply word 0]`.
pub const RECV_CAP: u64 = 14;
/// Accept one string of up to [`STRING_BUF`] bytes into a buffer of its own, wait for a
/// message, answer it, report `[status, string length, sum of its bytes, where it landed
/// relative to the buffer]`. With `args[1]` = 1 the buffer's pages are not touched first:
/// the kernel's copy faults on them and the worker's pager resolves the faults (long IPC).
pub const RECV_STRING: u64 = 15;

/// Destroy this thread (`args[1]` = 0) or this task (1) through its own capability.
pub const DESTROY_SELF: u64 = 16;

/// Bytes of the `RECV_STRING` buffer.
pub const STRING_BUF: u64 = 8192;

/// The slot of the gate a `CALL` or `SEND_PAGE` worker uses.
pub const TARGET_SLOT: u64 = 10;
