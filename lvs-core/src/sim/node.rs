//! Type-erased nodes: any [`StateMachine`] behind one object-safe trait, with typed access back.

use core::any::Any;
use core::fmt;

use rand_chacha::ChaCha8Rng;

use crate::{Datagram, Instant, StateMachine, Transmit};

/// A node's handle, valid for the life of its [`Sim`](super::Sim) (also across kill and
/// restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    /// The node's position in insertion order (0 for the first node added); also the index
    /// used to fork its RNG stream with [`derive_seed`](crate::rng::derive_seed).
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// What a node factory gets each time the harness builds (or rebuilds) a machine.
#[derive(Debug)]
#[non_exhaustive]
pub struct Boot {
    /// The node being built.
    pub id: NodeId,
    /// The virtual time of the (re)start.
    pub now: Instant,
    /// 0 for the first start, then 1, 2, ... for each restart.
    pub incarnation: u32,
    /// The node's own deterministic RNG stream for this incarnation.
    pub rng: ChaCha8Rng,
}

/// A machine's factory: called at `add_node` and again at every restart.
pub(crate) type Factory<M> = Box<dyn FnMut(Boot) -> M>;

/// The object-safe face of a node.
pub(crate) trait ErasedNode {
    fn is_alive(&self) -> bool;
    fn boot(&mut self, boot: Boot);
    fn kill(&mut self);
    fn handle_datagram(&mut self, now: Instant, d: Datagram);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// Take one event, keep it for `take_events`, and return its `Debug` rendering.
    fn poll_event_logged(&mut self) -> Option<String>;
    fn next_deadline(&self) -> Option<Instant>;
    /// The `Debug` rendering of the current deadline's reason.
    fn deadline_reason(&self) -> String;
    fn machine_type(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// A machine of type `M`, its factory, and the events it emitted (kept across restarts).
pub(crate) struct Typed<M: StateMachine> {
    pub(crate) machine: Option<M>,
    pub(crate) events: Vec<M::Event>,
    factory: Factory<M>,
}

impl<M: StateMachine> Typed<M> {
    pub(crate) fn new(factory: Factory<M>) -> Self {
        Self {
            machine: None,
            events: Vec::new(),
            factory,
        }
    }
}

impl<M> ErasedNode for Typed<M>
where
    M: StateMachine + 'static,
    M::Event: 'static,
{
    fn is_alive(&self) -> bool {
        self.machine.is_some()
    }

    fn boot(&mut self, boot: Boot) {
        self.machine = Some((self.factory)(boot));
    }

    fn kill(&mut self) {
        self.machine = None;
    }

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        if let Some(m) = &mut self.machine {
            m.handle_datagram(now, d);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(m) = &mut self.machine {
            m.handle_timeout(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.machine.as_mut()?.poll_transmit()
    }

    fn poll_event_logged(&mut self) -> Option<String> {
        let e = self.machine.as_mut()?.poll_event()?;
        let text = format!("{e:?}");
        self.events.push(e);
        Some(text)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.machine.as_ref()?.poll_timeout().map(|(at, _)| at)
    }

    fn deadline_reason(&self) -> String {
        match self.machine.as_ref().and_then(StateMachine::poll_timeout) {
            Some((_, why)) => format!("{why:?}"),
            None => "-".to_owned(),
        }
    }

    fn machine_type(&self) -> &'static str {
        core::any::type_name::<M>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
