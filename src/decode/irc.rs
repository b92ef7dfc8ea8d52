//! IRC flows (plain or over WebSocket) → `chat_sent` and `chat_received` events.
//!
//! A sent line is stamped when its first byte was first on the wire (it left the
//! sender); a received line when its last byte became deliverable (the client could
//! read it).

use std::collections::BTreeMap;

use irc_parser::{ChatKind, Direction, Framing, Session};

use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::{ChatCommand, ChatReceived, Event};
use crate::flow::Dir;

pub struct IrcDecoder {
    session: Session,
    lines: u64,
}

impl IrcDecoder {
    pub fn new(_saw_syn: bool) -> Self {
        IrcDecoder {
            session: Session::new(Framing::Plain),
            lines: 0,
        }
    }

    /// Chat inside WebSocket (Twitch's browser chat): the session skips the HTTP
    /// upgrade itself.
    pub fn websocket() -> Self {
        IrcDecoder {
            session: Session::new(Framing::WebSocketWithHandshake),
            lines: 0,
        }
    }
}

fn command(kind: ChatKind) -> ChatCommand {
    match kind {
        ChatKind::Privmsg => ChatCommand::Privmsg,
        ChatKind::Action => ChatCommand::Action,
        ChatKind::Notice => ChatCommand::Notice,
        ChatKind::UserNotice => ChatCommand::Usernotice,
    }
}

fn to_irc(dir: Dir) -> Direction {
    match dir {
        Dir::ClientToServer => Direction::ClientToServer,
        Dir::ServerToClient => Direction::ServerToClient,
    }
}

impl Decoder for IrcDecoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize {
        self.session.feed(to_irc(dir), offset, data)
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64) {
        self.session.gap(to_irc(dir), offset, len);
    }

    fn end(&mut self, dir: Dir, offset: u64) {
        self.session.end(to_irc(dir), offset);
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        let own = self.session.own_nick().map(str::to_string);
        let messages: Vec<_> = self.session.drain().collect();
        for m in messages {
            let Some(line) = m.irc() else { continue };
            self.lines += 1;
            let Some(chat) = &line.chat else { continue };
            let tags: BTreeMap<String, String> = line
                .line
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            match m.dir {
                Direction::ClientToServer => {
                    let time_ns = ctx.first_seen(Dir::ClientToServer, m.start);
                    ctx.out.push(Event::ChatSent {
                        flow: ctx.meta.id,
                        command: command(chat.kind),
                        channel: chat.channel.clone(),
                        nick: chat.nick.clone().or_else(|| own.clone()),
                        text: chat.text.clone(),
                        msg_id: chat.id.clone(),
                        client_nonce: chat.client_nonce.clone(),
                        tags,
                        time_ns,
                    });
                }
                Direction::ServerToClient => {
                    let time_ns = ctx.delivered(Dir::ServerToClient, m.end.saturating_sub(1));
                    ctx.out.push(Event::ChatReceived(Box::new(ChatReceived {
                        flow: ctx.meta.id,
                        command: command(chat.kind),
                        channel: chat.channel.clone(),
                        nick: chat.nick.clone(),
                        text: chat.text.clone(),
                        msg_id: chat.id.clone(),
                        client_nonce: chat.client_nonce.clone(),
                        own_nick: own.clone(),
                        server_time_ns: chat.server_time_ns,
                        tmi_sent_ts_ns: chat.tmi_sent_ts_ns,
                        tags,
                        time_ns,
                    })));
                }
            }
        }
    }

    fn anomalies(&self, out: &mut Anomalies) {
        for (k, v) in self.session.anomalies() {
            out.add(k, *v);
        }
    }

    fn undecodable(&self) -> Option<&'static str> {
        None
    }
}
