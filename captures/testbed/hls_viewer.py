#!/usr/bin/env python3
"""An HLS viewer that behaves like a live player, for the lagtap testbed.

- One persistent HTTP/1.1 connection (http.client) to the server.
- Waits for the channel's playlist, starts K segments behind the live edge (it
  fetches the K newest segments first: desktop K=3, mobile K=6), then fetches every
  new segment in order and reloads the playlist every target duration.
- With --switch-every it zaps through --channels in turn and logs each switch.

Log (JSON Lines), all times wall-clock ns:
  request: url, kind (playlist|segment), channel, seq (media sequence, segments only),
           req_ns (just before the request was written), first_byte_ns (socket became
           readable with the response), done_ns (body fully read), status, bytes
  start:   channel, k, start_seq            (player picked its first segment)
  switch:  from, to, start_ns (first request naming the new channel),
           first_segment_ns (first media segment of the new channel fully received)
"""

import argparse
import http.client
import select
import time

from tblog import Deadline, JsonlLog, host_name, now_ns

PROFILES = {"desktop": 3, "mobile": 6}


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


class Player:
    def __init__(self, server, log):
        self.server = server
        self.log = log
        self.conn = None
        self.last_req_ns = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.server, 80, timeout=15)
        self.conn.connect()

    def get(self, path, kind, channel, seq=None):
        """GET path on the persistent connection; returns (status, body, done_ns)."""
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                req_ns = self.last_req_ns = now_ns()
                self.conn.request("GET", path, headers={"User-Agent": "lagtap-testbed-viewer"})
                select.select([self.conn.sock], [], [], 15)
                first_byte_ns = now_ns()
                resp = self.conn.getresponse()
                body = resp.read()
                done_ns = now_ns()
            except (http.client.HTTPException, OSError):
                # The server closed the keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            self.log.write("request", url=f"http://{self.server}{path}", kind=kind,
                           channel=channel, seq=seq, req_ns=req_ns,
                           first_byte_ns=first_byte_ns, done_ns=done_ns,
                           status=resp.status, bytes=len(body))
            return resp.status, body, done_ns
        raise AssertionError("unreachable")

    def playlist(self, channel):
        status, body, _ = self.get(f"/hls/{channel}.m3u8", "playlist", channel)
        if status != 200:
            return None
        return parse_playlist(body.decode("utf-8", "replace"))

    def segment(self, channel, seq, uri):
        path = uri if uri.startswith("/") else f"/hls/{uri}"
        _, _, done_ns = self.get(path, "segment", channel, seq)
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
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    k = args.k or PROFILES[args.profile]
    channels = args.channels.split(",")
    log = JsonlLog(args.log, host_name())
    log.write("config", server=args.server, channels=channels, profile=args.profile, k=k,
              switch_every=args.switch_every)
    deadline = Deadline(args.duration)
    player = Player(args.server, log)
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
