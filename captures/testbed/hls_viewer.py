#!/usr/bin/env python3
"""An HLS viewer that behaves like a live player, for the lagtap testbed.

- One persistent HTTP/1.1 connection (http.client) to the server; with --https over
  TLS (Python's ssl: --tls-version pins 1.2 or 1.3, --keylog writes the session
  secrets in the NSS key log format), with --http2 one HTTP/2 connection (ALPN h2,
  the h2 package: Debian's python3-h2) on which the K startup segments are requested
  at once, as concurrent streams.
- Waits for the channel's playlist, starts K segments behind the live edge (it
  fetches the K newest segments first: desktop K=3, mobile K=6), then fetches every
  new segment in order and reloads the playlist every target duration.
- With --switch-every it zaps through --channels in turn and logs each switch.

Log (JSON Lines), all times wall-clock ns:
  request: url, kind (playlist|segment), channel, seq (media sequence, segments only),
           req_ns (just before the request was written), first_byte_ns (socket became
           readable with the response; over TLS: the first decrypted bytes of the
           response were read -- a TLS 1.3 session ticket can make the socket
           readable first; HTTP/2: the recv() that brought the response's HEADERS),
           done_ns (body fully read; HTTP/2: the recv() that ended the stream),
           status, bytes, stream (HTTP/2 stream id)
  tls:     proto (https), version, cipher, alpn, sni, local, remote (addr:port),
           handshake_start_ns, t_ns (handshake done)   [--https only, per connection]
  start:   channel, k, start_seq            (player picked its first segment)
  switch:  from, to, start_ns (first request naming the new channel),
           first_segment_ns (first media segment of the new channel fully received)
"""

import argparse
import http.client
import select
import time

from tblog import Deadline, JsonlLog, TlsClient, add_tls_args, host_name, now_ns

PROFILES = {"desktop": 3, "mobile": 6}
USER_AGENT = "lagtap-testbed-viewer"


def parse_playlist(text):
    """(target_duration_s, media_sequence, [(seq, uri)], ended)"""
    target, first_seq, segments, ended = 4.0, 0, [], False
    lines = [line.strip() for line in text.splitlines()]
    for line in lines:
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            first_seq = int(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
    uris = [line for line in lines if line and not line.startswith("#")]
    segments = [(first_seq + i, uri) for i, uri in enumerate(uris)]
    return target, first_seq, segments, ended


class TimedResponse(http.client.HTTPResponse):
    """An HTTPResponse that notes when its status line was read: over TLS, when the
    first decrypted bytes of the response came out of the socket."""

    def __init__(self, sock, *args, **kwargs):
        super().__init__(sock, *args, **kwargs)
        self.first_byte_ns = None
        self.fp = _FirstRead(self.fp, self)


class _FirstRead:
    def __init__(self, fp, resp):
        self.fp, self.resp = fp, resp

    def readline(self, *args):
        line = self.fp.readline(*args)
        if self.resp.first_byte_ns is None:
            self.resp.first_byte_ns = now_ns()
        return line

    def __getattr__(self, name):
        return getattr(self.fp, name)


class Http1:
    """One persistent HTTP/1.1 connection (plain, or over TLS with `tls`)."""

    def __init__(self, server, port, log, tls=None):
        self.server, self.port, self.log, self.tls = server, port, log, tls
        self.conn = None

    def _connect(self):
        if self.tls is None:
            self.conn = http.client.HTTPConnection(self.server, self.port, timeout=15)
            self.conn.connect()
            return
        self.conn = http.client.HTTPSConnection(self.server, self.port, timeout=15)
        self.conn.response_class = TimedResponse
        self.conn.sock = self.tls.connect(self.server, self.port, self.log, "https")

    def fetch(self, paths):
        """GET each path in turn; yields (path, stream, status, body, req_ns,
        first_byte_ns, done_ns)."""
        for path in paths:
            yield (path, None) + self._get(path)

    def _get(self, path):
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                req_ns = now_ns()
                self.conn.request("GET", path, headers={"User-Agent": USER_AGENT})
                if self.tls is None:
                    select.select([self.conn.sock], [], [], 15)
                    first_byte_ns = now_ns()
                resp = self.conn.getresponse()
                if self.tls is not None:
                    first_byte_ns = resp.first_byte_ns
                body = resp.read()
                done_ns = now_ns()
            except (http.client.HTTPException, OSError):
                # The server closed the keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            return resp.status, body, req_ns, first_byte_ns, done_ns
        raise AssertionError("unreachable")


class Http2:
    """One HTTP/2 connection over TLS (ALPN h2) driven by the h2 state machine; many
    requests can be in flight at once, each on its own stream."""

    def __init__(self, server, port, log, tls):
        # Imported here so that the other modes need only the standard library.
        import h2.config  # Debian: python3-h2
        import h2.connection
        import h2.events
        import h2.exceptions
        self.h2 = h2
        self.server, self.port, self.log, self.tls = server, port, log, tls
        self.authority = server if port == 443 else f"{server}:{port}"
        self.sock = self.conn = None

    def _connect(self):
        self.sock = self.tls.connect(self.server, self.port, self.log, "https")
        if self.sock.selected_alpn_protocol() != "h2":
            raise ConnectionError("the server did not agree to h2")
        config = self.h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = self.h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def _close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = self.conn = None

    def fetch(self, paths):
        """GET all paths at once; yields results as in Http1.fetch, in path order."""
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                results = self._exchange(paths)
            except (self.h2.exceptions.ProtocolError, ConnectionError, OSError):
                self._close()  # GOAWAY, reset or closed: reconnect once
                if attempt == 2:
                    raise
                continue
            for path in paths:
                yield results[path]
            return

    def _exchange(self, paths):
        streams = {}  # stream id -> state
        for path in paths:
            sid = self.conn.get_next_available_stream_id()
            headers = [(":method", "GET"), (":scheme", "https"),
                       (":authority", self.authority), (":path", path),
                       ("user-agent", USER_AGENT)]
            self.conn.send_headers(sid, headers, end_stream=True)
            req_ns = now_ns()
            self.sock.sendall(self.conn.data_to_send())
            streams[sid] = {"path": path, "req_ns": req_ns, "first_byte_ns": None,
                            "status": None, "body": bytearray(), "done_ns": None}
        open_streams = set(streams)
        while open_streams:
            data = self.sock.recv(65536)
            t_ns = now_ns()
            if not data:
                raise ConnectionError("server closed the connection")
            for ev in self.conn.receive_data(data):
                st = streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, self.h2.events.ResponseReceived) and st:
                    st["first_byte_ns"] = t_ns
                    st["status"] = int(dict(ev.headers)[":status"])
                elif isinstance(ev, self.h2.events.DataReceived) and st:
                    st["body"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                        ev.stream_id)
                elif isinstance(ev, self.h2.events.StreamEnded) and st:
                    st["done_ns"] = t_ns
                    open_streams.discard(ev.stream_id)
                elif isinstance(ev, self.h2.events.StreamReset) and st:
                    raise ConnectionError(f"stream {ev.stream_id} reset")
                elif isinstance(ev, self.h2.events.ConnectionTerminated):
                    raise ConnectionError("GOAWAY")
            out = self.conn.data_to_send()
            if out:
                self.sock.sendall(out)
        return {st["path"]: (st["path"], sid, st["status"], bytes(st["body"]), st["req_ns"],
                             st["first_byte_ns"], st["done_ns"])
                for sid, st in streams.items()}


class Player:
    def __init__(self, transport, base_url, log):
        self.transport = transport
        self.base_url = base_url
        self.log = log
        self.last_req_ns = None
        self.parallel = isinstance(transport, Http2)

    def get_many(self, requests):
        """requests: [(path, kind, channel, seq)], fetched on the connection (at once
        over HTTP/2). Returns [(status, body, done_ns)] in the same order."""
        by_path = {r[0]: r for r in requests}
        out = {}
        for path, stream, status, body, req_ns, first_byte_ns, done_ns in \
                self.transport.fetch([r[0] for r in requests]):
            _, kind, channel, seq = by_path[path]
            self.last_req_ns = req_ns
            extra = {"stream": stream} if stream is not None else {}
            self.log.write("request", url=f"{self.base_url}{path}", kind=kind,
                           channel=channel, seq=seq, req_ns=req_ns,
                           first_byte_ns=first_byte_ns, done_ns=done_ns,
                           status=status, bytes=len(body), **extra)
            out[path] = (status, body, done_ns)
        return [out[r[0]] for r in requests]

    def get(self, path, kind, channel, seq=None):
        """GET path on the persistent connection; returns (status, body, done_ns)."""
        return self.get_many([(path, kind, channel, seq)])[0]

    def playlist(self, channel):
        status, body, _ = self.get(f"/hls/{channel}.m3u8", "playlist", channel)
        if status != 200:
            return None
        return parse_playlist(body.decode("utf-8", "replace"))

    @staticmethod
    def segment_path(uri):
        return uri if uri.startswith("/") else f"/hls/{uri}"

    def segment(self, channel, seq, uri):
        _, _, done_ns = self.get(self.segment_path(uri), "segment", channel, seq)
        return done_ns

    def watch(self, channel, k, deadline, until_ns=None):
        """Play `channel` until the deadline (or until_ns). Returns (first_req_ns,
        first_segment_ns): when the first request naming the channel was sent and when
        its first media segment was fully received (None if it never was)."""
        pl = None
        first_req_ns = None
        first_segment_ns = None
        while not deadline.done() and (until_ns is None or now_ns() < until_ns):
            pl = self.playlist(channel)
            first_req_ns = first_req_ns or self.last_req_ns
            if pl and pl[2]:
                break
            time.sleep(1.0)
        if not pl or not pl[2]:
            return first_req_ns, first_segment_ns
        target, _, segments, _ = pl
        next_seq = segments[max(0, len(segments) - k)][0]
        self.log.write("start", channel=channel, k=k, start_seq=next_seq)
        if self.parallel:
            # HTTP/2: the startup segments go out at once, each on its own stream.
            batch = [(seq, uri) for seq, uri in segments if seq >= next_seq]
            done = self.get_many([(self.segment_path(uri), "segment", channel, seq)
                                  for seq, uri in batch])
            first_segment_ns = min(d[2] for d in done)
            next_seq = batch[-1][0] + 1
        while True:
            for seq, uri in segments:
                if seq < next_seq:
                    continue
                done_ns = self.segment(channel, seq, uri)
                next_seq = seq + 1
                first_segment_ns = first_segment_ns or done_ns
                if deadline.done() or (until_ns and now_ns() >= until_ns):
                    return first_req_ns, first_segment_ns
            wake = now_ns() + int(target * 1e9)
            if until_ns:
                wake = min(wake, until_ns)
            time.sleep(min(deadline.remaining_s(), max(0.0, (wake - now_ns()) / 1e9)))
            if deadline.done() or (until_ns and now_ns() >= until_ns):
                return first_req_ns, first_segment_ns
            pl = self.playlist(channel)
            if pl:
                target, _, segments, _ = pl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--channels", required=True, help="comma-separated stream names")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="desktop")
    ap.add_argument("--k", type=int, help="segments behind the live edge (default: profile)")
    ap.add_argument("--duration", type=float, required=True, help="seconds to run")
    ap.add_argument("--switch-every", type=float, default=0, help="seconds per channel")
    ap.add_argument("--stay-on-last", action="store_true",
                    help="with --switch-every: stay on the last channel instead of cycling")
    ap.add_argument("--https", action="store_true", help="HLS over HTTPS (TLS)")
    ap.add_argument("--http2", action="store_true",
                    help="with --https: HTTP/2 (ALPN h2) instead of HTTP/1.1")
    ap.add_argument("--port", type=int, help="default 80, or 443 with --https")
    add_tls_args(ap)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    if args.http2 and not args.https:
        ap.error("--http2 needs --https")

    k = args.k or PROFILES[args.profile]
    channels = args.channels.split(",")
    log = JsonlLog(args.log, host_name())
    scheme = "https" if args.https else "http"
    port = args.port or (443 if args.https else 80)
    log.write("config", server=args.server, channels=channels, profile=args.profile, k=k,
              switch_every=args.switch_every, scheme=scheme, port=port,
              http="2" if args.http2 else "1.1", tls_version=args.tls_version,
              keylog=args.keylog)
    deadline = Deadline(args.duration)
    if args.http2:
        transport = Http2(args.server, port, log, TlsClient(args, ["h2"]))
    elif args.https:
        transport = Http1(args.server, port, log, TlsClient(args, ["http/1.1"]))
    else:
        transport = Http1(args.server, port, log)
    default_port = {"http": 80, "https": 443}[scheme]
    authority = args.server if port == default_port else f"{args.server}:{port}"
    player = Player(transport, f"{scheme}://{authority}", log)
    if args.switch_every <= 0:
        player.watch(channels[0], k, deadline)
    else:
        i = 0
        prev = None
        while not deadline.done():
            channel = channels[i % len(channels)]
            until_ns = now_ns() + int(args.switch_every * 1e9)
            if args.stay_on_last and i == len(channels) - 1:
                until_ns = None
            start_ns, first_segment_ns = player.watch(channel, k, deadline, until_ns)
            if prev is not None:
                log.write("switch", **{"from": prev, "to": channel, "start_ns": start_ns,
                                       "first_segment_ns": first_segment_ns})
            prev = channel
            i += 1
    log.write("stop")
    log.close()


if __name__ == "__main__":
    main()
