//! A caching DNS forwarder (BIND's `forward only` / `forward first`) as a Sans-IO machine,
//! with a zero-copy message codec.
//!
//! * [`wire`]: a validated zero-copy view over a received message, names with bounded
//!   decompression, EDNS(0) with Extended DNS Errors, a truncation-aware builder, TCP framing.
//! * [`cache`]: answers stored as wire bytes with a TTL offset table, served by patching one
//!   copy (ID, question case, TTLs); RFC 2308 negative caching, TTL clamps, RFC 8767 stale
//!   retention, a byte budget with CLOCK eviction; only the question's CNAME chain and the
//!   negative SOA are ever stored.
//! * [`forwarder`]: the [`Forwarder`](forwarder::Forwarder) machine: BIND-style access control
//!   and response-rate limiting, coalescing of identical questions, forwarder ranking by
//!   smoothed RTT with failover, hedging and re-probing, spoof resistance (CSPRNG IDs and
//!   ports, exact reply matching, optional 0x20, TCP on ID mismatch), serve-stale and prefetch,
//!   DNSSEC pass-through without validation (DO and CD forwarded and part of the cache key),
//!   and reconfiguration that keeps the cache.
//!
//! The machine follows the contract in `lvs_core` (see the workspace's ARCHITECTURE.md):
//! after any `&mut` call, drain `poll_transmit` and `poll_event` until `None`, then read
//! `poll_timeout`; `now` never goes backwards. Malformed input is counted, never an error.
//! How the shell maps the machine onto sockets (a listen socket, one connected socket per
//! upstream query, TCP by events) is described in [`forwarder`].
//!
//! # Example: a miss, the upstream round trip, then a cache hit
//!
//! ```
//! use bytes::BytesMut;
//! use lvs_core::rng::SeedableRng;
//! use lvs_core::sim::ChaCha8Rng;
//! use lvs_core::{Datagram, Instant, StateMachine};
//! use lvs_dns::forwarder::{Forwarder, ForwarderConfig};
//! use lvs_dns::wire::{Flags, Message, MessageBuilder, NameBuf, RData, Section, class, rtype};
//!
//! let upstream = "192.0.2.53:53".parse()?;
//! let listen = "10.0.0.1:53".parse()?;
//! let client = "10.0.0.7:40000".parse()?;
//! // The binary seeds from the OS; a seeded ChaCha makes this run reproducible.
//! let mut fwd = Forwarder::new(ForwarderConfig::new([upstream]), ChaCha8Rng::seed_from_u64(1))?;
//!
//! // A client asks for www.example.com/A.
//! fn query(id: u16) -> Result<bytes::Bytes, lvs_dns::wire::WireError> {
//!     let mut q = BytesMut::new();
//!     let mut b = MessageBuilder::new(&mut q)?;
//!     b.set_id(id);
//!     b.set_flags(Flags::RD);
//!     b.question(&NameBuf::from_text("www.example.com")?.as_name(), rtype::A, class::IN)?;
//!     b.finish()?;
//!     Ok(q.freeze())
//! }
//! fwd.handle_datagram(Instant::ZERO, Datagram::new(client, listen, query(7)?));
//!
//! // Miss: one upstream query, from a random source port, with a random ID.
//! let up = fwd.poll_transmit().expect("upstream query");
//! assert_eq!(up.dst, upstream);
//! let local = up.src.expect("the machine picks the source port");
//! let upq = Message::parse(&up.payload)?;
//! assert!(fwd.poll_transmit().is_none());
//!
//! // The forwarder answers (echoing ID and question exactly).
//! let mut r = BytesMut::new();
//! let mut b = MessageBuilder::new(&mut r)?;
//! b.set_id(upq.id());
//! b.set_flags(Flags::QR | Flags::RD | Flags::RA);
//! let question = upq.question().expect("one question");
//! b.question(&question.name, question.qtype, question.qclass)?;
//! b.record(Section::Answer, &question.name, class::IN, 300, &RData::A([192, 0, 2, 7].into()))?;
//! b.finish()?;
//! let now = Instant::from_millis(20);
//! fwd.handle_datagram(now, Datagram::new(upstream, local, r.freeze()));
//!
//! // The client gets its answer, with its own ID, from the listen address.
//! let reply = fwd.poll_transmit().expect("client reply");
//! assert_eq!((reply.dst, reply.src), (client, Some(listen)));
//! let m = Message::parse(&reply.payload)?;
//! assert_eq!((m.id(), m.answers().next().map(|rr| rr.ttl)), (7, Some(300)));
//!
//! // Ten seconds later the same question is a cache hit: no upstream traffic, TTL 290.
//! let later = Instant::from_millis(10_020);
//! fwd.handle_datagram(later, Datagram::new(client, listen, query(8)?));
//! let hit = fwd.poll_transmit().expect("cache hit");
//! assert_eq!(hit.dst, client);
//! assert_eq!(Message::parse(&hit.payload)?.answers().next().map(|rr| rr.ttl), Some(290));
//! assert_eq!(fwd.stats().cache_hits, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: the codec alone: build a query, parse a response, walk the answers
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

pub mod cache;
pub mod forwarder;
pub mod fuzzing;
pub mod rndc;
pub mod testing;
pub mod wire;
