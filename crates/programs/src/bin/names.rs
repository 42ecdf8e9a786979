//! The name service (seed 002, "Finding services"): maps human-readable names to gates.
//! See `pecan_system::names` for the protocol.
#![no_std]
#![no_main]

extern crate alloc;
use alloc::vec::Vec;
use pecan_abi::{CapRights, Fpage, Item};
use pecan_system::names::{BAD, FULL, LOOKUP, NOT_FOUND, OK, REGISTER, request_name};
use pecan_system::slots::SLOTS;
use pecan_user::rpc::Name;
use pecan_user::{Msg, ipc};

pecan_user::entry!(main);

const MAX_NAMES: usize = 64;

fn main(_info: u64) -> ! {
    let mut table: Vec<(Name, u64)> = Vec::new();
    let mut window = SLOTS.alloc();
    ipc::accept_caps(window, 0);
    pecan_user::server::serve(|req| {
        let reply = match req.label() {
            REGISTER => {
                let name = request_name(req);
                match req.item(0) {
                    Some(Item::Map { .. }) if req.tag.items() == 1 && table.len() < MAX_NAMES => {
                        table.retain(|(n, _)| *n != name);
                        table.push((name, window));
                        window = SLOTS.alloc();
                        ipc::accept_caps(window, 0);
                        Msg::new(OK)
                    }
                    Some(_) if table.len() >= MAX_NAMES => Msg::new(FULL),
                    _ => Msg::new(BAD),
                }
            }
            LOOKUP => match table.iter().find(|(n, _)| *n == request_name(req)) {
                Some(&(_, slot)) => {
                    Msg::new(OK).map(Fpage::object(slot, 0, CapRights(CapRights::SEND.0 | CapRights::MAP.0)))
                }
                None => Msg::new(NOT_FOUND),
            },
            _ => Msg::new(BAD),
        };
        Some(reply)
    })
}
