//! Batched packet processing: the cache misses of a group of frames overlap.

use super::{Director, DropReason, Verdict};
use crate::Instant;
use crate::packet::{PacketView, Transport};
use crate::service::ServiceId;

/// A batch lane's route, decided in the warm-up pass.
#[derive(Clone, Copy)]
enum Lane {
    /// A client packet of this virtual service: straight to `inbound`.
    Inbound(ServiceId),
    /// Anything else: the whole of `process_view`.
    Other,
}

impl Director {
    /// [`Director::process`] for a batch of frames (all with firewall mark `fwmark`), writing
    /// one verdict per frame. The result is exactly that of calling `process` on each frame in
    /// order; the connection-table cache misses of up to 16 frames are overlapped first, which
    /// is what makes large tables fast.
    ///
    /// # Panics
    /// If `verdicts` is shorter than `frames` (a caller bug).
    pub fn process_batch(
        &mut self,
        now: Instant,
        frames: &mut [Vec<u8>],
        fwmark: u32,
        verdicts: &mut [Verdict],
    ) {
        const LANES: usize = 16;
        assert!(verdicts.len() >= frames.len(), "one verdict slot per frame");
        let now = self.observe(now);
        for (fs, vs) in frames.chunks_mut(LANES).zip(verdicts.chunks_mut(LANES)) {
            let n = fs.len();
            let mut views: [Option<PacketView>; LANES] = [None; LANES];
            let mut lanes = [Lane::Other; LANES];
            let mut hashes = [0u32; LANES];
            // Parse every frame, find its service and hash its connection key first, then
            // load every index slot, then every first entry: three tight loops of independent
            // loads, so the misses overlap. The service and the hash are kept for the last
            // loop (processing a packet never changes the services).
            for i in 0..n {
                views[i] = PacketView::fast_ethernet(&fs[i]);
                if views[i].is_none() {
                    views[i] = PacketView::parse_ethernet_slow(&fs[i]).ok();
                }
                let Some(view) = &views[i] else {
                    continue;
                };
                let (lane, hash) = self.classify(view, fwmark);
                lanes[i] = lane;
                hashes[i] = hash;
            }
            let mut heads = [u32::MAX; LANES];
            for i in 0..n {
                heads[i] = self.conns.bucket_head(hashes[i]);
            }
            let mut sink = 0u32;
            for &head in &heads[..n] {
                sink ^= self.conns.touch(head);
            }
            self.warm_sink ^= sink;
            for i in 0..n {
                let f = &mut fs[i];
                vs[i] = match (&mut views[i], lanes[i]) {
                    (Some(view), Lane::Inbound(svc)) => {
                        let vip = self.vip_of(svc, view.dst);
                        self.inbound(now, f, view, svc, vip, fwmark, Some(hashes[i]))
                    }
                    (Some(view), Lane::Other) => self.process_view(now, f, view, fwmark),
                    (None, _) => self.drop(DropReason::Malformed),
                };
            }
        }
    }

    /// How [`Director::process_view`] will route `view`, for a batch's warm-up pass: a client
    /// packet of a virtual service (with its service), or anything else; with the connection
    /// key hash to warm the cache with (the client's for a service packet, else the
    /// destination's, which is the client of a NAT reply).
    #[inline]
    fn classify(&self, view: &PacketView, fwmark: u32) -> (Lane, u32) {
        let inbound = match view.transport {
            Transport::IcmpError { .. } => None,
            _ if view.fragmented || !view.has_ports() => None,
            _ => self
                .services
                .lookup(fwmark, view.protocol, view.dst, view.dst_port),
        };
        match inbound {
            Some(svc) => (
                Lane::Inbound(svc),
                self.conns.key_hash(view.protocol, view.src, view.src_port),
            ),
            None => (
                Lane::Other,
                self.conns.key_hash(view.protocol, view.dst, view.dst_port),
            ),
        }
    }
}
