//! The RPC macro: the server's dispatcher decodes what the client stub encodes.

use pecan_user::arch::Regs;
use pecan_user::rpc::{Name, REPLY_BAD_REQUEST, REPLY_OK};
use pecan_user::{Msg, Received};

pecan_user::rpc_interface! {
    /// A test interface.
    pub mod calc (proto = 0x100) {
        /// Adds.
        fn add(a: u64, b: u64) -> u64;
        /// Negates.
        fn neg(a: i64) -> i64;
        /// Length of a name, and whether it is "pecan".
        fn name(n: Name) -> [u64; 2];
    }
}

struct Calc;
impl calc::Server for Calc {
    fn add(&mut self, a: u64, b: u64) -> u64 {
        a + b
    }
    fn neg(&mut self, a: i64) -> i64 {
        -a
    }
    fn name(&mut self, n: Name) -> [u64; 2] {
        [n.as_bytes().len() as u64, (n.as_bytes() == b"pecan") as u64]
    }
}

/// What the receiver of `m` sees (registers only: these messages are short).
fn deliver(m: &Msg) -> Received {
    let mut r = Regs { r1: 0x77, ..Regs::default() };
    m.load(&mut r);
    Received::from_regs(&r)
}

#[test]
fn dispatch_decodes_what_the_client_encodes() {
    let req = deliver(&Msg::new(calc::PROTO).word(40).word(2));
    let reply = calc::dispatch(&mut Calc, &req).expect("for this interface");
    assert_eq!((reply.label(), reply.untyped()), (REPLY_OK, &[42u64][..]));

    let req = deliver(&Msg::new(calc::PROTO + 1).word(5));
    assert_eq!(calc::dispatch(&mut Calc, &req).unwrap().untyped(), &[(-5i64) as u64]);

    let mut m = Msg::new(calc::PROTO + 2);
    pecan_user::rpc::Wire::put(&Name::new(b"pecan"), &mut m);
    let reply = calc::dispatch(&mut Calc, &deliver(&m)).unwrap();
    assert_eq!(reply.untyped(), &[5, 1]);
}

#[test]
fn short_or_foreign_requests() {
    // Too few words: a bad-request reply, not a panic or garbage.
    let req = deliver(&Msg::new(calc::PROTO).word(1));
    assert_eq!(calc::dispatch(&mut Calc, &req).unwrap().label(), REPLY_BAD_REQUEST);
    // Another interface's label: not ours.
    assert!(calc::dispatch(&mut Calc, &deliver(&Msg::new(7))).is_none());
    assert!(calc::dispatch(&mut Calc, &deliver(&Msg::new(calc::PROTO + 3))).is_none());
}
