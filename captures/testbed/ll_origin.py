#!/usr/bin/env python3
"""A small low-latency HLS origin for the lagtap testbed: the packager (ffmpeg's dash
muxer with -hls_playlist 1 -lhls 1 -streaming 1) uploads every file by HTTP PUT with
chunked transfer while it writes it; viewers GET the files, and a file still being
uploaded is relayed to them as it grows, with `Transfer-Encoding: chunked` (one HTTP
chunk per piece the packager sent). A GET for a file the packager has not begun yet
(the segment an `#EXT-X-PREFETCH` names) waits for it, up to --wait seconds, as
LL-HLS origins hold blocking requests.

No Debian package does this: nginx's dav module stores a PUT body in a temporary
file and exposes it only once complete, so a viewer could never read a segment
while it is made.

With --parts PUBLIC=DIR (e.g. /llhls/lagtap=/ll/lagtap), the origin is also an
LL-HLS origin for the uploads in DIR: PUBLIC/index.m3u8 is an LL-HLS playlist with
parts of --part-frames fragments, blocking reloads and preload hints,
PUBLIC/<segment>.part<K>.m4s each part, PUBLIC/<file> the upload DIR/<file>
(ll_parts.py). With --byterange-parts PUBLIC=DIR (e.g. /llbr/lagtap=/ll/lagtap) the
same, but each part a byte range of its segment (`BYTERANGE`, range requests answered
206).

Aliases (--alias /public/path=/uploaded/path) serve one uploaded file under a second
name: the dash muxer names its media playlist media_0.m3u8, and lagtap reads the
channel from /<app>/<channel>/index.m3u8.

Log (JSON Lines), all times wall-clock ns:
  put:  path, begin_ns (request head read), t_ns (last byte stored), bytes
  get:  path, peer, status, chunked (streamed while growing), bytes, t_ns (done)
"""

import argparse
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from ll_parts import Parts
from tblog import JsonlLog, host_name, now_ns

# Uploaded files: path -> Entry. The packager's window keeps a few segments; older
# ones stay (a run is short), DELETEs remove them.
FILES = {}
LOCK = threading.Condition()


class Entry:
    def __init__(self):
        self.data = bytearray()
        self.complete = False


def content_type(path):
    if path.endswith(".m3u8"):
        return "application/vnd.apple.mpegurl"
    if path.endswith(".mpd"):
        return "application/dash+xml"
    return "video/mp4"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lagtap-ll-origin"

    def log_message(self, *args):  # the JSON log says what matters
        pass

    def setup(self):
        super().setup()
        # A response head and its body are separate writes: without this, Nagle
        # holds the body until the viewer's delayed ACK (40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def path_of(self):
        p = self.path.split("?", 1)[0]
        return self.server.aliases.get(p, p)

    # ---------------------------------------------------------------- upload
    def do_PUT(self):
        begin = now_ns()
        path = self.path_of()
        e = Entry()
        with LOCK:
            FILES[path] = e
            LOCK.notify_all()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)  # the CRLF after the last chunk
                    break
                piece = self.rfile.read(size)
                self.rfile.readline(16)
                with LOCK:
                    e.data += piece
                    LOCK.notify_all()
                n += len(piece)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                piece = self.rfile.read1(min(left, 65536))
                if not piece:
                    break
                left -= len(piece)
                with LOCK:
                    e.data += piece
                    LOCK.notify_all()
                n += len(piece)
        with LOCK:
            e.complete = True
            LOCK.notify_all()
        self.server.log.write("put", path=path, begin_ns=begin, bytes=n)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT

    def do_DELETE(self):
        with LOCK:
            FILES.pop(self.path_of(), None)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ---------------------------------------------------------------- viewers
    def do_GET(self):
        path = self.path_of()
        parts = self.server.parts
        if parts is not None and path.startswith(parts.public):
            name = path[len(parts.public):]
            if name == "index.m3u8" or ".part" in name:
                return self.get_ll_hls(parts, name)
            path = parts.dir + name
        ranged = self.server.range_parts
        if ranged is not None and path.startswith(ranged.public):
            name = path[len(ranged.public):]
            if name == "index.m3u8":
                return self.get_ll_hls(ranged, name)
            if self.headers.get("Range"):
                return self.get_range(ranged, name)
            path = ranged.dir + name
        # Only media waits: a playlist not written yet is a 404 at once.
        wait = 0 if path.endswith(".m3u8") else self.server.wait_s
        deadline = time.monotonic() + wait
        with LOCK:
            while path not in FILES and time.monotonic() < deadline:
                LOCK.wait(deadline - time.monotonic())
            e = FILES.get(path)
        if e is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.log.write("get", path=path, peer=self.client_address[0], status=404,
                                  chunked=False, bytes=0)
            return
        with LOCK:
            complete = e.complete
            data = bytes(e.data) if complete else None
        self.send_response(200)
        self.send_header("Content-Type", content_type(path))
        self.send_header("Cache-Control", "no-cache")
        if complete:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            sent = len(data)
        else:
            # Growing: relay each piece as it comes, as its own HTTP chunk.
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            while True:
                with LOCK:
                    while len(e.data) == sent and not e.complete:
                        LOCK.wait(1.0)
                    piece = bytes(e.data[sent:])
                    done = e.complete and len(e.data) == sent + len(piece)
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                    sent += len(piece)
                if done:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        self.server.log.write("get", path=path, peer=self.client_address[0], status=200,
                              chunked=not complete, bytes=sent)


    def get_ll_hls(self, parts, name):
        """An LL-HLS playlist (blocking) or part (waiting until complete), whole."""
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        if name == "index.m3u8":
            text = parts.playlist(FILES, LOCK, query, self.server.wait_s)
            data = text.encode() if text is not None else None
        else:
            data = parts.part(FILES, LOCK, name, self.server.wait_s)
        status = 200 if data is not None else 404
        self.send_response(status)
        if data is not None:
            self.send_header("Content-Type", content_type(name))
            self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        if data:
            self.wfile.write(data)
            self.wfile.flush()
        self.server.log.write("get", path=self.path, peer=self.client_address[0],
                              status=status, chunked=False, bytes=len(data or b""))


    def get_range(self, parts, name):
        """A byte-range part: 206 with the bytes once uploaded (ll_parts.py)."""
        spec = self.headers.get("Range", "")
        first = last = None
        if spec.startswith("bytes=") and "," not in spec:
            a, _, b = spec[6:].partition("-")
            if a.isdigit() and (b == "" or b.isdigit()):
                first, last = int(a), (int(b) if b else None)
        got = None
        if first is not None and (last is None or last >= first):
            got = parts.range(FILES, LOCK, name, first, last, self.server.wait_s)
        if got is None:
            self.send_response(416 if first is None else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            data = b""
        else:
            data, total = got
            self.send_response(206)
            self.send_header("Content-Type", content_type(name))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Range", f"bytes {first}-{first + len(data) - 1}/"
                             f"{total if total is not None else '*'}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        self.server.log.write("get", path=self.path, peer=self.client_address[0],
                              status=206 if got else 404, chunked=False, bytes=len(data),
                              range=spec)


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--alias", action="append", default=[], metavar="PUBLIC=UPLOADED")
    ap.add_argument("--wait", type=float, default=8.0,
                    help="seconds a GET waits for a file not begun yet")
    ap.add_argument("--parts", metavar="PUBLIC=DIR",
                    help="serve the uploads in DIR as LL-HLS under PUBLIC")
    ap.add_argument("--byterange-parts", metavar="PUBLIC=DIR",
                    help="the same, each part a byte range of its segment")
    ap.add_argument("--part-frames", type=int, default=5)
    ap.add_argument("--fps", type=float, default=25.0,
                    help="the stream's frame rate (part durations)")
    ap.add_argument("--segment-frames", type=int,
                    help="frames per segment (the GOP), if fixed")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    srv = Server((a.listen, a.port), Handler)
    srv.aliases = dict(x.split("=", 1) for x in a.alias)
    srv.wait_s = a.wait
    srv.parts = (Parts(*a.parts.split("=", 1), a.part_frames, a.fps, a.segment_frames)
                 if a.parts else None)
    srv.range_parts = (Parts(*a.byterange_parts.split("=", 1), a.part_frames, a.fps,
                             a.segment_frames, byteranges=True)
                       if a.byterange_parts else None)
    srv.log = JsonlLog(a.log, host_name())
    srv.log.write("listen", addr=f"{a.listen}:{a.port}", aliases=srv.aliases)
    srv.serve_forever()


if __name__ == "__main__":
    main()
