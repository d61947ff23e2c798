//! A caching DNS forwarder (BIND's `forward only`) as a Sans-IO machine, with a zero-copy
//! message codec.
//!
//! What exists so far is the codec, [`wire`]: a validated zero-copy view over a received
//! message, names with bounded decompression, EDNS(0) with Extended DNS Errors, a
//! truncation-aware builder and TCP framing. The forwarder machine lands next, following the
//! contract in `lvs_core` (see the workspace's ARCHITECTURE.md): after any `&mut` call, drain
//! `poll_transmit` and `poll_event` until `None`, then read `poll_timeout`; `now` never goes
//! backwards.
//!
//! # Example: build a query, parse a response, walk the answers
//!
//! ```
//! use bytes::BytesMut;
//! use lvs_dns::wire::{
//!     DEFAULT_PAYLOAD, Flags, Message, MessageBuilder, NameBuf, RData, Section, class, rtype,
//! };
//!
//! // A query for www.example.com/A with EDNS(0), built into a reused buffer.
//! let qname = NameBuf::from_text("www.example.com")?;
//! let mut out = BytesMut::with_capacity(512);
//! let mut q = MessageBuilder::new(&mut out)?;
//! q.set_id(0x1234);
//! q.set_flags(Flags::RD);
//! q.question(&qname.as_name(), rtype::A, class::IN)?;
//! q.opt(DEFAULT_PAYLOAD, false)?;
//! let len = q.finish()?;
//! assert_eq!(len, out.len());
//!
//! // The upstream's answer (built here; normally received from the network): a CNAME then
//! // an A record, both owner names compressed against the question.
//! let target = NameBuf::from_text("web.example.com")?;
//! let query = Message::parse(&out)?;
//! let mut reply_buf = BytesMut::new();
//! let mut r = MessageBuilder::new(&mut reply_buf)?;
//! r.set_id(query.id());
//! r.set_flags(Flags::QR | Flags::RD | Flags::RA);
//! let question = query.question().expect("one question");
//! r.question(&question.name, question.qtype, question.qclass)?;
//! r.record(Section::Answer, &question.name, class::IN, 300, &RData::Cname(target.as_name()))?;
//! r.record(Section::Answer, &target.as_name(), class::IN, 60, &RData::A([192, 0, 2, 7].into()))?;
//! r.finish()?;
//!
//! // Parsing validates everything once; walking the sections then borrows the buffer.
//! let reply = Message::parse(&reply_buf)?;
//! assert!(reply.header().qr() && reply.id() == 0x1234);
//! let mut addrs = Vec::new();
//! for rr in reply.answers() {
//!     match rr.data() {
//!         RData::Cname(to) => assert!(to.eq_ignore_case(&target.as_name())),
//!         RData::A(a) => addrs.push((rr.name.to_string(), a, rr.ttl, rr.ttl_offset)),
//!         _ => {}
//!     }
//! }
//! assert_eq!(addrs.len(), 1);
//! assert_eq!(addrs[0].0, "web.example.com.");
//! assert_eq!(addrs[0].1.octets(), [192, 0, 2, 7]);
//! // A cache can patch TTLs in place at `ttl_offset`.
//! assert_eq!(&reply_buf[addrs[0].3..addrs[0].3 + 4], &60u32.to_be_bytes());
//! # Ok::<(), lvs_dns::wire::WireError>(())
//! ```

pub mod fuzzing;
pub mod testing;
pub mod wire;
