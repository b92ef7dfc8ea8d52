#!/usr/bin/env python3
"""A low-latency HLS viewer for the lagtap testbed: follows an fMP4 media playlist
(`#EXT-X-MAP`, `#EXT-X-PREFETCH` as ffmpeg's dash muxer writes with -lhls 1) over one
persistent HTTP/1.1 connection (or, with --http2, one HTTP/2 connection on TLS:
ll_h2.py) and logs every read of every response body.

- --prefetch (the low-latency player): fetches the init segment, then the segment
  the playlist's `#EXT-X-PREFETCH` names, at once, while the packager still writes
  it: the origin streams it with chunked transfer, so its frames arrive one by one;
  after each segment it reloads the playlist and fetches the next prefetch.
- --parts (an LL-HLS player, RFC 8216bis): follows the origin's LL-HLS playlist
  (/<app>/<channel>/index.m3u8 with --app llhls: ll_parts.py) with blocking
  reloads (`_HLS_msn`, `_HLS_part`) and
  fetches every part from the newest independent one on, each whole, the hinted
  one (`EXT-X-PRELOAD-HINT`) before it is listed: the origin answers it once the
  part is complete. Parts given as byte ranges of their segment (`BYTERANGE`, a
  hint's `BYTERANGE-START`; --app llbr) are fetched by range requests.
- without either (a classic player): fetches listed segments only, complete, newest
  first at start, reloading the playlist every half target duration.

The HTTP client is written on a plain socket (no http.client; tblog.TimedSocket) so
that every recv() is seen: for each response it logs the decoded body bytes in hand
after every recv() that brought body bytes, with the time recv() returned and the
kernel's receive time of the newest packet that recv() consumed (SO_TIMESTAMPNS:
when the bytes reached this host, whatever the scheduler did to the Python process
after). `--save DIR` keeps each media body (and the init segment) as DIR/<file
name> (a byte-range part: <file name>@<first byte>), for make_truth.py to find each frame's bytes with ffprobe.

With --http2 (ALPN h2 on TLS, the options of tblog.add_tls_args: --keylog writes
the session secrets for the capture's decryption) a read is a DATA frame: each is
logged once whole, with the times of the recvmsg() that completed it (ll_h2.py).

Log (JSON Lines), all times wall-clock ns:
  request: url, kind (playlist|init|segment|part), http ("1.1" or "2"), channel,
           seq (segments and parts: the parent segment's media sequence), part
           (parts: the index), range_start (a byte-range part: its first byte,
           asked for by `Range: bytes=<first>-<last>`, a hinted one's open
           `bytes=<first>-`), req_ns (just before the request was written),
           first_byte_ns (the recv() that brought the status line or HEADERS),
           done_ns (body complete), status, bytes, chunked (HTTP/2: no
           content-length, the origin's chunked relay passed on as DATA frames),
           reads: [[t_ns, body bytes in hand, kernel_ns], ...] (every recv() with body
           bytes, HTTP/2: every DATA frame: when recv() returned, and when the kernel
           received the newest packet it read)
  tls:     (--http2, per connection) as tblog.TlsClient logs it
  start:   channel, k (the first segment's place from the end of the playlist's
           segments, prefetch ones included: 1 = the newest), start_seq
"""

import argparse
import os
import time

from tblog import (Deadline, JsonlLog, TimedSocket, TlsClient, add_tls_args, host_name,
                   now_ns)

USER_AGENT = "lagtap-testbed-ll-viewer"


def parse_playlist(text):
    """(target_s, first_seq, [(seq, uri)], init_uri, prefetch_uris, ended)"""
    target, first_seq, init, prefetch, ended, uris = 2.0, 0, None, [], False, []
    for line in (x.strip() for x in text.splitlines()):
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            first_seq = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXT-X-PREFETCH:"):
            prefetch.append(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            uris.append(line)
    segs = [(first_seq + i, u) for i, u in enumerate(uris)]
    return target, first_seq, segs, init, prefetch, ended


def parse_ll_playlist(text):
    """(init_uri, [(msn, part, uri, independent, byte range)] of every part named,
    the preload hint's last) for an LL-HLS media playlist. A byte range is None (a
    part that is a file of its own) or (first byte, length or None for a hint's
    BYTERANGE-START); a BYTERANGE without an offset follows the previous part of the
    same URI (RFC 8216bis §4.4.4.9)."""
    init, msn, parts, k, hint, ends = None, 0, [], 0, None, {}
    for line in (x.strip() for x in text.splitlines()):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXT-X-PART:"):
            uri = line.split('URI="', 1)[1].split('"', 1)[0]
            rng = None
            if 'BYTERANGE="' in line:
                spec = line.split('BYTERANGE="', 1)[1].split('"', 1)[0]
                n, _, off = spec.partition("@")
                first = int(off) if off else ends.get(uri, 0)
                rng = (first, int(n))
                ends[uri] = first + int(n)
            parts.append((msn, k, uri, "INDEPENDENT=YES" in line, rng))
            k += 1
        elif line.startswith("#EXT-X-PRELOAD-HINT:") and "TYPE=PART" in line:
            uri = line.split('URI="', 1)[1].split('"', 1)[0]
            rng = None
            if "BYTERANGE-START=" in line:
                rng = (int(line.split("BYTERANGE-START=", 1)[1].split(",", 1)[0]), None)
            hint = (msn, k, uri, k == 0, rng)
        elif line and not line.startswith("#"):
            msn, k = msn + 1, 0
    return init, parts + ([hint] if hint else [])


def seq_of(uri):
    """The number at the end of a segment's file name (lagtap-00012.m4s: 12)."""
    stem, tail = os.path.splitext(os.path.basename(uri))[0], ""
    for c in reversed(stem):
        if not c.isdigit():
            break
        tail = c + tail
    return int(tail) if tail else None


class Conn:
    """One persistent HTTP/1.1 connection on a plain socket."""

    http = "1.1"

    def __init__(self, server, port):
        self.server, self.port = server, port
        self.sock, self.buf, self.kernel_ns = None, b"", None
        self.url = f"http://{server}:{port}"

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def _recv(self):
        data, t, self.kernel_ns = self.sock.recv()
        return data, t

    def get(self, path, headers=None):
        """GET path: (status, body, req_ns, first_byte_ns, done_ns, chunked, reads)."""
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = TimedSocket(self.server, self.port)
            try:
                return self._get(path, headers or {})
            except (ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _get(self, path, headers):
        req_ns = now_ns()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.server}\r\n"
                          f"User-Agent: {USER_AGENT}\r\n{extra}\r\n".encode())
        first_ns = None
        while b"\r\n\r\n" not in self.buf:
            data, t = self._recv()
            first_ns = first_ns or t
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip()
                   for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        body, reads = bytearray(), []
        t_last = first_ns
        if not chunked:
            n = int(headers.get("content-length", "0"))
            while True:
                take = self.buf[: n - len(body)]
                self.buf = self.buf[len(take):]
                if take:
                    body += take
                    reads.append([t_last, len(body), self.kernel_ns])
                if len(body) >= n:
                    break
                data, t_last = self._recv()
                self.buf += data
            return status, bytes(body), req_ns, first_ns, t_last, False, reads
        # Chunked: decode as bytes come; a read is logged with the body in hand.
        while True:
            progressed = False
            while True:
                if b"\r\n" not in self.buf:
                    break
                size_line, rest = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    if b"\r\n" not in rest:
                        break
                    self.buf = rest.split(b"\r\n", 1)[1]  # no trailers from our origin
                    if progressed:
                        reads.append([t_last, len(body), self.kernel_ns])
                    return status, bytes(body), req_ns, first_ns, t_last, True, reads
                if len(rest) < size + 2:
                    # A chunk still coming: take what is here, keep the rest framed.
                    if rest:
                        body += rest
                        progressed = True
                        self.buf = b"%x\r\n" % (size - len(rest))
                    break
                body += rest[:size]
                progressed = True
                self.buf = rest[size + 2:]
            if progressed:
                reads.append([t_last, len(body), self.kernel_ns])
            data, t_last = self._recv()
            self.buf += data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--channel", default="lagtap")
    ap.add_argument("--app", default="ll")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--prefetch", action="store_true",
                    help="fetch the segment being written (EXT-X-PREFETCH) as it streams")
    ap.add_argument("--parts", action="store_true",
                    help="play an LL-HLS playlist part by part")
    ap.add_argument("--save", help="directory to keep media bodies in")
    ap.add_argument("--log", required=True)
    ap.add_argument("--http2", action="store_true",
                    help="HTTP/2 on TLS (ALPN h2; the TLS options below) instead of "
                         "HTTP/1.1 on a plain socket")
    add_tls_args(ap)
    a = ap.parse_args()
    log = JsonlLog(a.log, host_name())
    deadline = Deadline(a.duration)
    if a.http2:
        from ll_h2 import H2Conn  # only this mode needs the h2 package
        conn = H2Conn(a.server, a.port, TlsClient(a, ["h2"]), log, USER_AGENT)
    else:
        conn = Conn(a.server, a.port)
    base = f"/{a.app}/{a.channel}/"
    if a.save:
        os.makedirs(a.save, exist_ok=True)

    def fetch(uri, kind, seq=None, part=None, rng=None):
        """GET one file, or with rng = (first, length or None) a byte range of it."""
        if rng is None:
            got = conn.get(base + uri)
        else:
            last = "" if rng[1] is None else str(rng[0] + rng[1] - 1)
            got = conn.get(base + uri, {"Range": f"bytes={rng[0]}-{last}"})
        status, body, req, first, done, chunked, reads = got
        extra = {} if part is None else {"part": part}
        if rng is not None:
            extra["range_start"] = rng[0]
        log.write("request", url=f"{conn.url}{base}{uri}", kind=kind, http=conn.http,
                  channel=a.channel, seq=seq, **extra, req_ns=req, first_byte_ns=first,
                  done_ns=done, status=status, bytes=len(body), chunked=chunked,
                  reads=reads if kind != "playlist" else [], t_ns=done)
        if a.save and kind != "playlist" and status in (200, 206):
            name = os.path.basename(uri) + ("" if rng is None else f"@{rng[0]}")
            with open(os.path.join(a.save, name), "wb") as f:
                f.write(body)
        return status, body

    if a.parts:
        play_parts(a, log, deadline, fetch)
        conn.close()
        log.close()
        return
    have_init, last_seq = False, None
    while not deadline.done():
        try:
            status, body = fetch("index.m3u8", "playlist")
        except OSError:
            break  # the origin went away (end of the run)
        if status != 200:
            time.sleep(0.5)
            continue
        target, _, segs, init, prefetch, ended = parse_playlist(body.decode("utf-8", "replace"))
        if init and not have_init:
            have_init = fetch(init, "init")[0] == 200
        named = segs + [(seq_of(u), u) for u in prefetch]
        if a.prefetch:
            segs = named
        # Start at the live edge (the newest listed segment, or the one being
        # written), then take every later one in order.
        todo = segs[-1:] if last_seq is None else [x for x in segs if x[0] > last_seq]
        if not todo:
            if ended:
                break
            time.sleep(0.1 if a.prefetch else target / 2)
            continue
        for seq, uri in todo:
            if deadline.done():
                break
            if last_seq is None:
                # k: the start's place from the end of every segment the playlist
                # names, prefetch ones included (1: the newest).
                k = len(named) - named.index((seq, uri))
                log.write("start", channel=a.channel, k=k, start_seq=seq)
            try:
                st, _ = fetch(uri, "segment", seq)
            except OSError:
                break
            if st == 200:
                last_seq = seq
    conn.close()
    log.close()


def play_parts(a, log, deadline, fetch):
    """The LL-HLS player: from the newest independent part on, every part in order,
    the playlist reloaded blocking on the part after the last one fetched."""
    have_init, last, query = False, None, ""
    while not deadline.done():
        try:
            status, body = fetch("index.m3u8" + query, "playlist")
        except OSError:
            break
        if status != 200:
            time.sleep(0.2)
            continue
        init, named = parse_ll_playlist(body.decode("utf-8", "replace"))
        if init and not have_init:
            have_init = fetch(init, "init")[0] == 200
        if last is None:
            starts = [i for i, p in enumerate(named) if p[3]]
            if not starts:
                time.sleep(0.1)
                continue
            todo = named[starts[-1]:]
            log.write("start", channel=a.channel, k=len(named) - starts[-1],
                      start_seq=todo[0][0], start_part=todo[0][1])
        else:
            todo = [p for p in named if (p[0], p[1]) > last]
        for msn, k, uri, _, rng in todo:
            if deadline.done():
                break
            try:
                st, _ = fetch(uri, "part", msn, k, rng)
            except OSError:
                return
            if st not in (200, 206):
                break
            last = (msn, k)
        if last is not None:
            # The next part: of this segment, or the first of the next one; a
            # blocking reload for either returns as soon as the origin has it.
            query = f"?_HLS_msn={last[0]}&_HLS_part={last[1] + 1}"


if __name__ == "__main__":
    main()
