//! The server loop: wait, handle, then reply and wait again in one system call.

use crate::ipc::{Timeouts, reply_wait, wait};
use crate::msg::{Msg, Received};

/// Serves forever. `handler` gets each message and returns the reply, or `None` for a
/// message that needs none (an IRQ, a plain send). A reply that cannot be delivered (the
/// caller gave up or was deleted) is dropped and the loop goes back to waiting.
pub fn serve(mut handler: impl FnMut(&Received) -> Option<Msg>) -> ! {
    let mut next = wait(Timeouts::NEVER);
    loop {
        next = match next {
            Ok(req) => match handler(&req) {
                Some(reply) => reply_wait(&reply, Timeouts::NEVER),
                None => wait(Timeouts::NEVER),
            },
            Err(_) => wait(Timeouts::NEVER),
        };
    }
}
