//! The HTTP sessions a server holds: one [`Session`] per `Mcp-Session-Id` (Streamable HTTP,
//! 2025 revisions) or per `GET /sse` stream (the legacy transport), each with its own protocol
//! and tool state. A session in use (a request being answered, a stream open) is leased and
//! never dropped; one left idle past the limit is, and so is the least recently used idle one
//! when the table is full. Ids are 128 random bits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::super::connection::Outgoing;
use super::super::server::{Server, Service};
use super::super::session::Session;
use crate::sync::lock;

/// Which transport a session belongs to: an id of one is unknown to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Streamable,
    LegacySse,
}

/// How many sessions, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions held at once. Default 1000.
    pub max: usize,
    /// A session nobody has used for this long is dropped. Default 30 minutes.
    pub idle: Duration,
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits {
            max: 1000,
            idle: Duration::from_secs(30 * 60),
        }
    }
}

/// Why a session could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Every session is in use and the table is full.
    Full(usize),
    /// No random id could be made.
    NoRandom,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Full(n) => write!(f, "server busy: all {n} sessions are in use"),
            OpenError::NoRandom => {
                f.write_str("cannot make a session id: the system's random source is unavailable")
            }
        }
    }
}

pub struct Sessions<S: Service> {
    server: Server<S>,
    limits: SessionLimits,
    table: Mutex<Table<S>>,
}

struct Table<S: Service> {
    entries: HashMap<String, Entry<S>>,
    last_sweep: Instant,
}

struct Entry<S: Service> {
    session: Session<S>,
    kind: Kind,
    last_used: Instant,
    leases: usize,
    /// Where messages for the session's open stream go (the `GET /mcp` stream, the legacy SSE
    /// stream); sending `Close` ends it.
    stream: Option<Sender<Outgoing>>,
}

/// A session in use; it cannot expire while a lease on it lives.
pub struct Lease<'a, S: Service> {
    sessions: &'a Sessions<S>,
    id: String,
    pub session: Session<S>,
    /// The session's open stream, if any.
    pub stream: Option<Sender<Outgoing>>,
}

impl<S: Service> Drop for Lease<'_, S> {
    fn drop(&mut self) {
        let mut table = lock(&self.sessions.table);
        if let Some(e) = table.entries.get_mut(&self.id) {
            e.leases = e.leases.saturating_sub(1);
            e.last_used = Instant::now();
        }
    }
}

impl<S: Service> Lease<'_, S> {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Sweeps for idle sessions run at most this often (each is a pass over the table).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl<S: Service> Sessions<S> {
    pub fn new(server: Server<S>, limits: SessionLimits) -> Sessions<S> {
        Sessions {
            server,
            limits,
            table: Mutex::new(Table {
                entries: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// A new session, leased to the caller; `stream` is its open stream (legacy SSE).
    pub fn open(
        &self,
        kind: Kind,
        stream: Option<Sender<Outgoing>>,
    ) -> Result<Lease<'_, S>, OpenError> {
        let id = crate::random::hex(16).map_err(|_| OpenError::NoRandom)?;
        let session = self.server.session();
        let mut dropped = Vec::new();
        {
            let mut table = lock(&self.table);
            dropped.extend(self.sweep(&mut table, true));
            if table.entries.len() >= self.limits.max {
                // Make room: the least recently used session nobody is using.
                let victim = table
                    .entries
                    .iter()
                    .filter(|(_, e)| e.leases == 0)
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(id, _)| id.clone());
                match victim.and_then(|v| table.entries.remove(&v)) {
                    Some(e) => dropped.push(e),
                    None => return Err(OpenError::Full(self.limits.max)),
                }
            }
            table.entries.insert(
                id.clone(),
                Entry {
                    session: session.clone(),
                    kind,
                    last_used: Instant::now(),
                    leases: 1,
                    stream: stream.clone(),
                },
            );
        }
        end_all(dropped);
        Ok(Lease {
            sessions: self,
            id,
            session,
            stream,
        })
    }

    /// Lease the session `id` of `kind`; `None` when there is none (never made, ended, or
    /// dropped as idle).
    pub fn lease(&self, id: &str, kind: Kind) -> Option<Lease<'_, S>> {
        let mut table = lock(&self.table);
        let dropped = self.sweep(&mut table, false);
        let found = match table.entries.get_mut(id) {
            Some(e) if e.kind == kind => {
                e.leases += 1;
                e.last_used = Instant::now();
                Some((e.session.clone(), e.stream.clone()))
            }
            _ => None,
        };
        drop(table);
        end_all(dropped);
        let (session, stream) = found?;
        Some(Lease {
            sessions: self,
            id: id.to_string(),
            session,
            stream,
        })
    }

    /// Give the session `id` an open stream; false when it already has one.
    pub fn attach_stream(&self, id: &str, stream: Sender<Outgoing>) -> bool {
        let mut table = lock(&self.table);
        match table.entries.get_mut(id) {
            Some(e) if e.stream.is_none() => {
                e.stream = Some(stream);
                true
            }
            _ => false,
        }
    }

    /// The session's stream has closed.
    pub fn detach_stream(&self, id: &str) {
        if let Some(e) = lock(&self.table).entries.get_mut(id) {
            e.stream = None;
        }
    }

    /// End the session `id` of `kind`: its running tool calls are cancelled and its stream is
    /// closed. False when there was none.
    pub fn end(&self, id: &str, kind: Kind) -> bool {
        let entry = {
            let mut table = lock(&self.table);
            match table.entries.get(id) {
                Some(e) if e.kind == kind => table.entries.remove(id),
                _ => None,
            }
        };
        let found = entry.is_some();
        end_all(entry);
        found
    }

    pub fn len(&self) -> usize {
        lock(&self.table).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait until no session has a tool call whose answer is pending, at most `timeout`;
    /// returns how many sessions still have one.
    pub fn drain(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let sessions: Vec<Session<S>> = lock(&self.table)
            .entries
            .values()
            .map(|e| e.session.clone())
            .collect();
        sessions
            .iter()
            .filter(|s| s.drain(deadline.saturating_duration_since(Instant::now())) > 0)
            .count()
    }

    /// Close every open stream (shutdown: after the last answers were queued on them).
    pub fn close_streams(&self) {
        for e in lock(&self.table).entries.values() {
            if let Some(s) = &e.stream {
                let _ = s.send(Outgoing::Close);
            }
        }
    }

    /// Remove sessions idle past the limit; `force` sweeps even if one ran just now.
    fn sweep(&self, table: &mut Table<S>, force: bool) -> Vec<Entry<S>> {
        let now = Instant::now();
        if !force && now.duration_since(table.last_sweep) < SWEEP_EVERY {
            return Vec::new();
        }
        table.last_sweep = now;
        let idle = self.limits.idle;
        let expired: Vec<String> = table
            .entries
            .iter()
            .filter(|(_, e)| e.leases == 0 && now.duration_since(e.last_used) >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .iter()
            .filter_map(|id| table.entries.remove(id))
            .collect()
    }
}

/// What ending a session does, outside the table's lock: cancel its calls, close its stream.
fn end_all<S: Service>(entries: impl IntoIterator<Item = Entry<S>>) {
    for e in entries {
        e.session.cancel_all();
        if let Some(s) = e.stream {
            let _ = s.send(Outgoing::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::cancel::Cancel;
    use crate::mcp::server::{
        InvalidParams, PromptInfo, PromptReply, ServerInfo, ToolInfo, ToolOutput,
    };
    use serde_json::{Map, Value};
    use std::sync::Arc;
    use std::sync::mpsc;

    struct Nothing;

    impl Service for Nothing {
        type Session = ();
        fn info(&self) -> ServerInfo {
            ServerInfo {
                name: "n",
                title: "N",
                version: "0",
            }
        }
        fn instructions(&self) -> &str {
            ""
        }
        fn tools(&self) -> Vec<ToolInfo> {
            Vec::new()
        }
        fn prompts(&self) -> Vec<PromptInfo> {
            Vec::new()
        }
        fn new_session(&self) {}
        fn call_tool(
            &self,
            _: &(),
            _: &str,
            _: &Map<String, Value>,
            _: &Cancel,
        ) -> Result<ToolOutput, InvalidParams> {
            Err(InvalidParams("none".into()))
        }
        fn get_prompt(
            &self,
            _: &str,
            _: &Map<String, Value>,
        ) -> Result<PromptReply, InvalidParams> {
            Err(InvalidParams("none".into()))
        }
    }

    fn sessions(max: usize, idle: Duration) -> Sessions<Nothing> {
        Sessions::new(Server::new(Arc::new(Nothing)), SessionLimits { max, idle })
    }

    #[test]
    fn sessions_are_found_by_id_and_kind_until_ended() {
        let s = sessions(10, Duration::from_secs(60));
        let id = s.open(Kind::Streamable, None).unwrap().id().to_string();
        assert_eq!(id.len(), 32);
        assert!(s.lease(&id, Kind::Streamable).is_some());
        assert!(
            s.lease(&id, Kind::LegacySse).is_none(),
            "ids are per transport"
        );
        assert!(s.lease("nope", Kind::Streamable).is_none());
        assert!(!s.end(&id, Kind::LegacySse));
        assert!(s.end(&id, Kind::Streamable));
        assert!(s.lease(&id, Kind::Streamable).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn idle_sessions_expire_but_leased_ones_do_not() {
        let s = sessions(10, Duration::ZERO);
        let (tx, rx) = mpsc::channel();
        let kept = s.open(Kind::LegacySse, Some(tx)).unwrap();
        let idle = s.open(Kind::Streamable, None).unwrap().id().to_string();
        // Opening sweeps: the idle one goes at once (limit zero), the leased one stays.
        let _third = s.open(Kind::Streamable, None).unwrap();
        assert!(s.lease(&idle, Kind::Streamable).is_none());
        assert!(s.lease(kept.id(), Kind::LegacySse).is_some());
        assert!(rx.try_recv().is_err(), "a kept session's stream stays open");
        let kept_id = kept.id().to_string();
        drop(kept);
        let _fourth = s.open(Kind::Streamable, None).unwrap();
        assert!(s.lease(&kept_id, Kind::LegacySse).is_none());
        assert!(
            matches!(rx.try_recv(), Ok(Outgoing::Close)),
            "an expired session's stream is closed"
        );
    }

    #[test]
    fn a_full_table_drops_the_least_recently_used_idle_session() {
        let s = sessions(2, Duration::from_secs(3600));
        let a = s.open(Kind::Streamable, None).unwrap().id().to_string();
        let b = s.open(Kind::Streamable, None).unwrap().id().to_string();
        drop(s.lease(&a, Kind::Streamable));
        let c = s.open(Kind::Streamable, None).unwrap().id().to_string();
        assert!(
            s.lease(&b, Kind::Streamable).is_none(),
            "b was used least recently"
        );
        assert!(s.lease(&a, Kind::Streamable).is_some());
        let _a = s.lease(&a, Kind::Streamable).unwrap();
        let _c = s.lease(&c, Kind::Streamable).unwrap();
        match s.open(Kind::Streamable, None) {
            Err(e) => assert_eq!(e.to_string(), "server busy: all 2 sessions are in use"),
            Ok(_) => panic!("a full table of leased sessions must refuse"),
        }
    }

    #[test]
    fn one_stream_per_session() {
        let s = sessions(2, Duration::from_secs(3600));
        let id = s.open(Kind::Streamable, None).unwrap().id().to_string();
        let (tx, rx) = mpsc::channel();
        assert!(s.attach_stream(&id, tx.clone()));
        assert!(!s.attach_stream(&id, tx));
        s.close_streams();
        assert!(matches!(rx.try_recv(), Ok(Outgoing::Close)));
        s.detach_stream(&id);
        let (tx, _rx) = mpsc::channel();
        assert!(s.attach_stream(&id, tx));
    }
}
