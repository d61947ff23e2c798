//! Fuzz entry points. Each `fuzz/fuzz_targets/*.rs` target is one call into this module, and
//! `tests/ntp_corpus.rs` replays the committed seeds through the same functions.

use crate::onwire::{check_reply, offset_delay};
use crate::server::{SystemState, respond};
use crate::testing::{CLIENT_REQUEST_REPR, SERVER_REPLY_REPR};
use crate::time::NtpTimestamp;
use crate::wire::{NtpMessage, NtpPacket, NtpRepr};

/// Parses `data` as an NTP datagram (header, extension fields, MAC). If it parses, emitting it
/// must reproduce `data` byte for byte and parse back equal; the reply checks run against a
/// fixed request; and the server responder's answer to it, if any, must pass those checks.
/// Panics only on a broken invariant.
pub fn ntp_packet(data: &[u8]) {
    if let Ok(view) = NtpPacket::new_checked(data) {
        // Every accessor must be total after new_checked.
        let _ = (
            view.leap(),
            view.version(),
            view.mode(),
            view.stratum(),
            view.refid(),
        );
        let _ = (
            view.root_delay(),
            view.reference_timestamp(),
            view.trailer().len(),
        );
    }

    if let Ok(msg) = NtpMessage::parse(data) {
        let mut out = vec![0; msg.buffer_len()];
        let n = msg.emit(&mut out).expect("a parsed message emits");
        assert_eq!(&out[..n], data, "emit does not reproduce the input");
        assert_eq!(NtpMessage::parse(&out[..n]), Ok(msg), "re-parse differs");
        assert_eq!(msg.extensions.iter().count(), msg.extensions.len());

        let reply = msg.header;
        let _ = check_reply(&CLIENT_REQUEST_REPR, None, &reply);
        // The same reply with a matching origin reaches the later checks.
        let matched = NtpRepr {
            origin: CLIENT_REQUEST_REPR.transmit,
            ..reply
        };
        let outcome = check_reply(
            &CLIENT_REQUEST_REPR,
            Some(SERVER_REPLY_REPR.transmit),
            &matched,
        );
        if outcome.is_ok() {
            let _ = offset_delay(reply.origin, reply.receive, reply.transmit, reply.reference);
        }
    }

    let sys = SystemState {
        synchronized: true,
        stratum: 3,
        refid: SERVER_REPLY_REPR.refid,
        reference: SERVER_REPLY_REPR.reference,
        leap: SERVER_REPLY_REPR.leap,
        ..SystemState::UNSYNCHRONIZED
    };
    let (t2, t3) = (SERVER_REPLY_REPR.receive, SERVER_REPLY_REPR.transmit);
    let mut out = [0u8; 64];
    if let Ok(n) = respond(data, t2, t3, &sys, &mut out) {
        let request = NtpMessage::parse(data)
            .expect("answered requests parse")
            .header;
        let reply = NtpMessage::parse(&out[..n]).expect("our replies parse");
        let outcome = check_reply(&request, None, &reply.header);
        if request.transmit == NtpTimestamp::ZERO {
            assert!(outcome.is_err(), "a zero nonce cannot be matched");
        } else {
            assert_eq!(outcome, Ok(()), "our reply fails our own checks");
        }
    }
}
