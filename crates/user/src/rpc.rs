//! Light-weight RPC stubs (seed 003, "the interface level"): one interface description
//! generates the client stub, the server trait and the server's dispatcher, so client and
//! server cannot disagree on labels, argument order or word counts.
//!
//! ```text
//! pecan_user::rpc_interface! {
//!     /// A calculator.
//!     pub mod calc (proto = 0x100) {
//!         fn add(a: u64, b: u64) -> u64;
//!         fn neg(a: i64) -> i64;
//!     }
//! }
//! // Client: calc::Client::new(gate).add(1, 2)
//! // Server: impl calc::Server for MyCalc { ... }; calc::dispatch(&mut my_calc, &request)
//! ```
//!
//! Each method is the label `proto + index`; its arguments are untyped words in order;
//! the reply carries label [`REPLY_OK`] and the result's words, or [`REPLY_BAD_REQUEST`].

use crate::ipc::IpcError;
use crate::msg::{Msg, Received};

/// Label of a successful RPC reply.
pub const REPLY_OK: u64 = 0;
/// Label of a reply to a request the server did not understand.
pub const REPLY_BAD_REQUEST: u64 = 1;

/// Why an RPC failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcError {
    /// The IPC itself failed.
    Ipc(IpcError),
    /// The server did not understand the request.
    BadRequest,
    /// The reply did not have the expected shape.
    BadReply,
}

impl From<IpcError> for RpcError {
    fn from(e: IpcError) -> Self {
        RpcError::Ipc(e)
    }
}

/// A value that travels as message words.
pub trait Wire: Sized {
    /// Words it takes.
    const WORDS: usize;
    /// Appends it to a message.
    fn put(&self, m: &mut Msg);
    /// Reads it from a message at word `*at`, advancing `*at`.
    fn take(r: &Received, at: &mut usize) -> Self;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const WORDS: usize = 1;
            fn put(&self, m: &mut Msg) {
                m.push(*self as u64);
            }
            fn take(r: &Received, at: &mut usize) -> Self {
                *at += 1;
                r.word(*at - 1) as $t
            }
        }
    )*};
}
wire_int!(u64, u32, u16, u8, usize, i64, i32, i16, i8);

impl Wire for bool {
    const WORDS: usize = 1;
    fn put(&self, m: &mut Msg) {
        m.push(*self as u64);
    }
    fn take(r: &Received, at: &mut usize) -> Self {
        *at += 1;
        r.word(*at - 1) != 0
    }
}

impl Wire for () {
    const WORDS: usize = 0;
    fn put(&self, _: &mut Msg) {}
    fn take(_: &Received, _: &mut usize) -> Self {}
}

impl<const N: usize> Wire for [u64; N] {
    const WORDS: usize = N;
    fn put(&self, m: &mut Msg) {
        for w in self {
            m.push(*w);
        }
    }
    fn take(r: &Received, at: &mut usize) -> Self {
        let mut out = [0; N];
        for o in out.iter_mut() {
            *o = r.word(*at);
            *at += 1;
        }
        out
    }
}

/// A short name (at most 32 bytes), e.g. for the name service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Name {
    bytes: [u8; 32],
    len: u8,
}

impl Name {
    /// A name from bytes (truncated to 32).
    pub fn new(s: &[u8]) -> Self {
        let n = s.len().min(32);
        let mut bytes = [0; 32];
        bytes[..n].copy_from_slice(&s[..n]);
        Name { bytes, len: n as u8 }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl Wire for Name {
    const WORDS: usize = 5;
    fn put(&self, m: &mut Msg) {
        m.push(self.len as u64);
        for c in self.bytes.chunks(8) {
            m.push(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
    }
    fn take(r: &Received, at: &mut usize) -> Self {
        let len = (r.word(*at) as usize).min(32) as u8;
        let mut bytes = [0; 32];
        for i in 0..4 {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&r.word(*at + 1 + i).to_le_bytes());
        }
        *at += 5;
        Name { bytes, len }
    }
}

/// Declares an RPC interface; see the module documentation.
#[macro_export]
macro_rules! rpc_interface {
    (
        $(#[$meta:meta])*
        $vis:vis mod $name:ident (proto = $proto:expr) {
            $( $(#[$mmeta:meta])* fn $method:ident ( $( $arg:ident : $aty:ty ),* $(,)? ) -> $ret:ty ; )*
        }
    ) => {
        $(#[$meta])*
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::rpc::Wire as _;

            /// First label of the interface.
            pub const PROTO: u64 = $proto;

            #[allow(non_camel_case_types, dead_code, clippy::enum_variant_names)]
            #[repr(u64)]
            enum Method { $($method),* }

            /// The client stub.
            #[derive(Clone, Copy, Debug)]
            pub struct Client {
                /// The gate to the server.
                pub gate: $crate::Gate,
                /// Timeouts for every call.
                pub timeouts: $crate::Timeouts,
            }

            impl Client {
                /// A client calling through `gate`, blocking as long as it takes.
                pub const fn new(gate: $crate::Gate) -> Self {
                    Client { gate, timeouts: $crate::Timeouts::NEVER }
                }

                $(
                    $(#[$mmeta])*
                    pub fn $method(&self $(, $arg: $aty)*) -> Result<$ret, $crate::rpc::RpcError> {
                        #[allow(unused_mut)]
                        let mut m = $crate::Msg::new(PROTO + Method::$method as u64);
                        $( $crate::rpc::Wire::put(&$arg, &mut m); )*
                        let r = $crate::ipc::call(self.gate, &m, self.timeouts)?;
                        match r.label() {
                            $crate::rpc::REPLY_OK if r.len() >= <$ret as $crate::rpc::Wire>::WORDS => {
                                let mut at = 0;
                                Ok(<$ret as $crate::rpc::Wire>::take(&r, &mut at))
                            }
                            $crate::rpc::REPLY_BAD_REQUEST => Err($crate::rpc::RpcError::BadRequest),
                            _ => Err($crate::rpc::RpcError::BadReply),
                        }
                    }
                )*
            }

            /// What a server implements.
            pub trait Server {
                $(
                    $(#[$mmeta])*
                    fn $method(&mut self $(, $arg: $aty)*) -> $ret;
                )*
            }

            /// Decodes a request, calls the server and builds the reply; `None` if the
            /// request is not for this interface.
            pub fn dispatch<S: Server + ?Sized>(server: &mut S, req: &$crate::Received) -> Option<$crate::Msg> {
                let method = req.label().wrapping_sub(PROTO);
                $(
                    if method == Method::$method as u64 {
                        let need = 0 $( + <$aty as $crate::rpc::Wire>::WORDS )*;
                        if req.len() < need {
                            return Some($crate::Msg::new($crate::rpc::REPLY_BAD_REQUEST));
                        }
                        #[allow(unused_mut, unused_variables)]
                        let mut at = 0usize;
                        $( let $arg = <$aty as $crate::rpc::Wire>::take(req, &mut at); )*
                        let ret = server.$method($($arg),*);
                        let mut m = $crate::Msg::new($crate::rpc::REPLY_OK);
                        ret.put(&mut m);
                        return Some(m);
                    }
                )*
                None
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_round_trip() {
        let n = Name::new(b"pingpong");
        let mut m = Msg::new(0);
        n.put(&mut m);
        assert_eq!(m.tag().words(), 5);
        assert_eq!(m.untyped()[0], 8);
        assert_eq!(&m.untyped()[1].to_le_bytes(), b"pingpong");
    }
}
