//! The simulation's event log: one entry per thing that happened, renderable to stable text.

use core::fmt;

use crate::Instant;

/// Why the network (or the harness) discarded a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The link's loss probability struck.
    Loss,
    /// Sender and receiver were in different partition groups when it was sent.
    Partition,
    /// The packet (payload plus IP/UDP headers) was larger than the link's MTU.
    Mtu,
    /// No node owns the unicast destination address (or it is not a routable address).
    NoRoute,
    /// The destination node was dead when the packet arrived.
    NodeDown,
    /// The destination node was frozen and its receive queue was full.
    FrozenQueueFull,
    /// The sender was killed while the packet was in flight.
    SenderKilled,
    /// The destination node was killed while it was frozen with this packet queued.
    QueueDiscarded,
}

impl DropReason {
    /// The stable lowercase name used in the text log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Loss => "loss",
            Self::Partition => "partition",
            Self::Mtu => "mtu",
            Self::NoRoute => "no-route",
            Self::NodeDown => "node-down",
            Self::FrozenQueueFull => "frozen-queue-full",
            Self::SenderKilled => "sender-killed",
            Self::QueueDiscarded => "queue-discarded",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing a [`LogEntry`] records; lets tests count entries without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogKind {
    /// A node's machine was built by its factory (first start or restart).
    Boot,
    /// A machine emitted a transmit.
    Send,
    /// The network made an extra copy of a packet.
    Duplicate,
    /// A packet was handed to a machine.
    Deliver,
    /// A packet was discarded.
    Drop(DropReason),
    /// A packet arrived at a frozen node and was queued until it thaws.
    Queued,
    /// A packet was injected from outside the simulated nodes.
    Inject,
    /// A node's deadline fired (`handle_timeout`).
    Timer,
    /// A machine emitted an event (rendered with `Debug`).
    Event,
    /// A command was run on a node through `with_node`.
    Command,
    /// A node was killed.
    Kill,
    /// A node was frozen.
    Freeze,
    /// A node was thawed.
    Thaw,
    /// A node was restarted.
    Restart,
    /// A node joined a multicast group.
    Join,
    /// A node left a multicast group.
    Leave,
    /// An address was added to or removed from a node.
    Address,
    /// The network was partitioned.
    Partition,
    /// All partitions were healed.
    Heal,
}

/// One line of the simulation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Virtual time of the entry.
    pub at: Instant,
    /// What happened.
    pub kind: LogKind,
    /// The rendered description (without the time), e.g. `deliver b #3 10.0.0.1:7 -> 10.0.0.2:7 len=4`.
    pub text: String,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.at, self.text)
    }
}

/// The append-only log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    entries: Vec<LogEntry>,
}

impl Log {
    pub(crate) fn push(&mut self, at: Instant, kind: LogKind, text: String) {
        self.entries.push(LogEntry { at, kind, text });
    }

    pub(crate) fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Every entry, one per line, each line ending in `\n`.
    pub(crate) fn text(&self) -> String {
        render(&self.entries)
    }

    /// The last `n` entries as text.
    pub(crate) fn tail(&self, n: usize) -> String {
        let start = self.entries.len().saturating_sub(n);
        render(&self.entries[start..])
    }
}

fn render(entries: &[LogEntry]) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    for e in entries {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "{e}");
    }
    out
}
