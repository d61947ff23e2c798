//! Behaviour settings of one instance beyond what the receive checks need
//! ([`crate::config::InstanceConfig`]).

use core::net::IpAddr;
use core::time::Duration;

use crate::wire::{ChecksumPolicy, ChecksumVariant};

/// What a master does with a lower-priority advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LowerPriority {
    /// Send an advert at once (and an announcement burst), forcing the rival back to backup
    /// within one round trip: RFC 9568's rule and keepalived's default. Rate-limited to one
    /// answer per advertisement interval.
    #[default]
    Answer,
    /// Discard it (RFC 3768 / RFC 5798; keepalived `lower_prio_no_advert`): the rival yields at
    /// our next regular advert.
    Discard,
}

/// Gratuitous ARP / unsolicited NA scheduling (keepalived's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnnounceSettings {
    /// `garp_master_delay`: a second burst this long after becoming master (zero: none).
    /// Default 5 s.
    pub master_delay: Duration,
    /// `garp_master_repeat`: frames per address in the first and second burst. Default 5.
    pub master_repeat: u32,
    /// `garp_master_refresh`: a burst this often while master (zero: off, the default).
    pub refresh: Duration,
    /// `garp_master_refresh_repeat`: frames per address in a refresh burst. Default 1.
    pub refresh_repeat: u32,
    /// `garp_lower_prio_repeat`: frames per address when answering a lower-priority advert
    /// ([`LowerPriority::Answer`]). Default 5.
    pub lower_prio_repeat: u32,
}

impl Default for AnnounceSettings {
    fn default() -> Self {
        Self {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
            lower_prio_repeat: 5,
        }
    }
}

/// How one instance behaves. [`Settings::new`] gives keepalived's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The primary address: the source of our adverts and the tie-breaker between equal
    /// priorities (IPv4: the interface address or `mcast_src_ip` / `unicast_src_ip`; IPv6: the
    /// link-local address).
    pub primary: IpAddr,
    /// Preempt_Mode: a backup with a higher priority takes over from a lower-priority master.
    /// Default `true`; `false` is keepalived `nopreempt`.
    pub preempt: bool,
    /// keepalived `preempt_delay`: a preempting backup keeps accepting lower-priority adverts
    /// until this long after the first one. Default zero.
    pub preempt_delay: Duration,
    /// Accept_Mode: as master, accept packets addressed to the virtual addresses (reported to
    /// the shell by [`super::Instance::accept_mode`]). keepalived defaults to `true`.
    pub accept: bool,
    /// What a master does with a lower-priority advert.
    pub lower_priority: LowerPriority,
    /// Fast preempt (opt-in, not in keepalived): a preempting backup that hears a
    /// lower-priority advert arms its down timer for Skew_Time instead of letting the old
    /// Master_Down_Interval run out, so a priority drop fails over in Skew_Time plus one
    /// interval. Interoperable: an RFC master yields to our higher advert.
    pub fast_preempt: bool,
    /// keepalived `down_timer_adverts`: how many intervals make Master_Down_Interval (1..=100,
    /// default 3).
    pub down_timer_adverts: u32,
    /// The checksum variant of our version 3 / IPv4 adverts (version 2 and IPv6 have one).
    /// Default [`ChecksumVariant::PseudoHeader`] (RFC 5798 and keepalived);
    /// [`ChecksumVariant::NoPseudoHeader`] for RFC 9568 peers.
    pub send_checksum: ChecksumVariant,
    /// Which version 3 / IPv4 checksum variants we accept. Default: detect and latch per peer.
    pub checksum_policy: ChecksumPolicy,
    /// TTL / hop limit of unicast adverts (keepalived `unicast_ttl`, default 255). Multicast
    /// adverts always use 255.
    pub unicast_ttl: u8,
    /// Announcement scheduling.
    pub announce: AnnounceSettings,
    /// How many peers the peer table and the checksum latch remember (default 16).
    pub peer_capacity: usize,
}

impl Settings {
    /// keepalived's defaults with `primary` as our address.
    pub fn new(primary: IpAddr) -> Self {
        Self {
            primary,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            lower_priority: LowerPriority::Answer,
            fast_preempt: false,
            down_timer_adverts: 3,
            send_checksum: ChecksumVariant::PseudoHeader,
            checksum_policy: ChecksumPolicy::Auto,
            unicast_ttl: 255,
            announce: AnnounceSettings::default(),
            peer_capacity: 16,
        }
    }
}
