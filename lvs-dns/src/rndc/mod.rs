//! BIND's rndc control channel (ISCCC), pure: the wire codec ([`codec`]), HMAC signing and
//! verification of the `_auth` section ([`auth`]), and the server's checks ([`Server`]): key
//! verification, reply rejection, the ±300 s clock window, expiry, duplicate suppression and
//! the per-connection nonce handshake. Time is passed in as Unix seconds; the nonce is
//! supplied by the caller's RNG.

pub mod auth;
pub mod codec;

use std::collections::BTreeMap;

pub use auth::{Algorithm, Key};
pub use codec::{Table, Value};

/// Largest accepted difference between a request's `_tim` and now.
pub const CLOCK_SKEW: u64 = 300;
/// How long a seen request stays in the duplicate table.
pub const DUP_LIFETIME: u64 = 900;
/// Replies expire this long after they are sent (as rndc and named set `_exp`).
pub const REPLY_LIFETIME: u64 = 60;
/// Most entries kept in the duplicate table; beyond it new requests are refused.
pub const MAX_DUPS: usize = 65_536;

/// Why a frame was rejected. Like BIND, the server closes the connection without a reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RndcError {
    /// The length prefix is below 4 or above [`codec::MAX_FRAME`].
    #[error("frame length {0} out of bounds")]
    FrameLength(usize),
    /// A length runs past the end of its container.
    #[error("truncated message")]
    Truncated,
    /// Bytes after the announced frame.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// Not version 1.
    #[error("unsupported version {0}")]
    Version(u32),
    /// An unknown value type.
    #[error("unknown value type {0}")]
    ValueType(u8),
    /// Tables or lists nested beyond [`codec::MAX_DEPTH`].
    #[error("nesting too deep")]
    TooDeep,
    /// A table key longer than 255 bytes (when encoding).
    #[error("key too long")]
    KeyTooLong,
    /// An encoded message larger than [`codec::MAX_FRAME`].
    #[error("message too large")]
    TooLarge,
    /// An algorithm the control channel does not support.
    #[error("unsupported algorithm '{0}'")]
    Algorithm(String),
    /// A secret that is not base64.
    #[error("bad base64 secret")]
    Secret,
    /// No configured key verifies the message.
    #[error("bad auth")]
    BadAuth,
    /// The message is a reply.
    #[error("unexpected reply")]
    Reply,
    /// `_ctrl` or `_tim` missing.
    #[error("missing _ctrl/_tim")]
    MissingCtrl,
    /// `_tim` outside ±[`CLOCK_SKEW`].
    #[error("clock skew too great")]
    ClockSkew,
    /// Now is past `_exp`.
    #[error("expired")]
    Expired,
    /// Seen before within [`DUP_LIFETIME`].
    #[error("duplicate")]
    Duplicate,
    /// The duplicate table is full.
    #[error("duplicate table full")]
    DupTableFull,
    /// A command without the connection's nonce, or with another one.
    #[error("bad or missing nonce")]
    BadNonce,
}

/// Per-connection state: the nonce handed out by the first reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    nonce: u32,
}

impl Session {
    /// The nonce established on this connection (0 before the first message).
    pub fn nonce(&self) -> u32 {
        self.nonce
    }
}

/// An accepted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Index of the key that verified it (replies are signed with the same key).
    pub key: usize,
    /// `_data.type`: the command line, e.g. `flushname example.com`.
    pub command: String,
    /// The request's `_ctrl`.
    ctrl: Table,
    /// The command text as bytes, echoed in the reply.
    kind: Vec<u8>,
}

/// What to do with an accepted frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The connection's first message: send this reply carrying the new nonce; the command
    /// is not run (BIND's handshake).
    Handshake(Vec<u8>),
    /// Run the command and answer with [`Server::respond`].
    Command(Request),
}

/// The server side: keys and the duplicate table.
#[derive(Debug, Default)]
pub struct Server {
    keys: Vec<Key>,
    dups: BTreeMap<Vec<u8>, u64>,
}

impl Server {
    /// A server accepting any of `keys`.
    pub fn new(keys: Vec<Key>) -> Self {
        Self {
            keys,
            dups: BTreeMap::new(),
        }
    }

    /// The configured keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Checks one frame received on `session` at Unix time `now`. `fresh_nonce` is a random
    /// value from the caller, used when this is the connection's first message (0 is
    /// replaced by 1: a nonce is never zero).
    pub fn receive(
        &mut self,
        session: &mut Session,
        now: u64,
        frame: &[u8],
        fresh_nonce: u32,
    ) -> Result<Step, RndcError> {
        self.dups.retain(|_, &mut until| until > now);
        let d = codec::decode(frame)?;
        let key = self
            .keys
            .iter()
            .position(|k| k.verify(frame, &d))
            .ok_or(RndcError::BadAuth)?;
        let ctrl = d.table.table("_ctrl").ok_or(RndcError::MissingCtrl)?;
        if ctrl.get("_rpl").is_some() {
            return Err(RndcError::Reply);
        }
        let sent = u64::from(
            ctrl.get("_tim")
                .and_then(Value::uint32)
                .ok_or(RndcError::MissingCtrl)?,
        );
        if sent + CLOCK_SKEW < now || sent > now + CLOCK_SKEW {
            return Err(RndcError::ClockSkew);
        }
        if let Some(exp) = ctrl.get("_exp").and_then(Value::uint32)
            && now > u64::from(exp)
        {
            return Err(RndcError::Expired);
        }
        let mut dup_key = Vec::new();
        for f in ["_frm", "_to", "_ser", "_tim"] {
            dup_key.extend_from_slice(ctrl.get(f).and_then(Value::bytes).unwrap_or(b""));
            dup_key.push(b';');
        }
        if self.dups.contains_key(&dup_key) {
            return Err(RndcError::Duplicate);
        }
        if self.dups.len() >= MAX_DUPS {
            return Err(RndcError::DupTableFull);
        }
        if session.nonce != 0 && ctrl.get("_nonce").and_then(Value::uint32) != Some(session.nonce) {
            return Err(RndcError::BadNonce);
        }
        self.dups.insert(dup_key, now + DUP_LIFETIME);
        let kind = d
            .table
            .table("_data")
            .and_then(|t| t.get("type"))
            .and_then(Value::bytes)
            .unwrap_or(b"")
            .to_vec();
        let req = Request {
            key,
            command: String::from_utf8_lossy(&kind).into_owned(),
            ctrl: ctrl.clone(),
            kind,
        };
        if session.nonce == 0 {
            session.nonce = fresh_nonce.max(1);
            return Ok(Step::Handshake(self.respond(
                session,
                &req,
                now,
                Ok(None),
            )?));
        }
        Ok(Step::Command(req))
    }

    /// The signed reply to `req`: `result` 0 with optional `text`, or a failure with its
    /// message in `err` (rndc prints `rndc: 'CMD' failed: ERR`) and optional `text`.
    pub fn respond(
        &self,
        session: &Session,
        req: &Request,
        now: u64,
        outcome: Result<Option<String>, (String, Option<String>)>,
    ) -> Result<Vec<u8>, RndcError> {
        let key = self.keys.get(req.key).ok_or(RndcError::BadAuth)?;
        let now32 = u32::try_from(now).unwrap_or(u32::MAX);
        let mut ctrl = Table::default();
        for (from, to) in [("_frm", "_to"), ("_to", "_frm")] {
            if let Some(v) = req.ctrl.get(from) {
                ctrl.0.push((to.as_bytes().to_vec(), v.clone()));
            }
        }
        if let Some(v) = req.ctrl.get("_ser") {
            ctrl.0.push((b"_ser".to_vec(), v.clone()));
        }
        ctrl.put_text("_rpl", "1");
        ctrl.put_u32("_tim", now32);
        ctrl.put_u32("_exp", now32.saturating_add(REPLY_LIFETIME as u32));
        if session.nonce != 0 {
            ctrl.put_u32("_nonce", session.nonce);
        }
        let mut data = Table::default();
        data.0
            .push((b"type".to_vec(), Value::Binary(req.kind.clone())));
        let text = match outcome {
            Ok(text) => {
                data.put_u32("result", 0);
                text
            }
            Err((err, text)) => {
                // ISC_R_FAILURE; rndc prints `err` when present.
                data.put_u32("result", 25);
                data.put_text("err", &err);
                text
            }
        };
        if let Some(t) = text {
            data.put_text("text", &t);
        }
        let mut top = Table::default();
        top.put_table("_ctrl", ctrl);
        top.put_table("_data", data);
        key.sign(&top)
    }
}

#[cfg(test)]
mod tests;
