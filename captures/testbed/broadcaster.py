#!/usr/bin/env python3
"""A broadcaster for the lagtap testbed: ffmpeg encodes a test source to FLV, this
script reads the FLV tags and hands them to a second ffmpeg that publishes them
over RTMP (`-c copy`), or RTMPS with an rtmps:// URL (ffmpeg's TLS is GnuTLS in
Debian; --keylog FILE hands it SSLKEYLOGFILE=FILE, which GnuTLS honours). Splitting
encoder and publisher lets it log every frame and behave like either of two
broadcasters when the uplink is slow:

  --mode ffmpeg  frames are written straight through; a full socket blocks the
                 publisher, then this relay, then the encoder (plain ffmpeg).
  --mode obs     a writer thread drains a queue; when more than --drop-ms of media
                 is queued, queued non-key video frames are dropped and further ones
                 too until the next key frame (what OBS does), so the RTMP stream
                 has gaps in its video timestamps.

Log (JSON Lines), all times wall-clock ns:
  start:  encoder_cmd, publisher_cmd, encoder_start_ns, publisher_start_ns, keylog
  frame:  flv_ts (ms), key, bytes, fingerprint, read_ns (tag read from the encoder),
          sent_ns (tag written to the publisher's pipe)   [video frames only]
  drop:   flv_ts, key, bytes, fingerprint, t_ns, queued_ms  [obs mode only]
  end:    frames_read, frames_sent, frames_dropped

fingerprint: first 16 hex digits of SHA-256 over the coded slice NAL units (types
1-5) of the frame, each with its NAL header byte, in order, without length prefixes
or other NAL units (AUD, SPS, PPS, SEI, filler) -- survives the FLV -> MPEG-TS remux.
"""

import argparse
import collections
import hashlib
import os
import subprocess
import threading
import zlib

from tblog import JsonlLog, host_name, now_ns

TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18


class Tag:
    __slots__ = ("kind", "ts", "raw", "key", "is_frame", "read_ns")

    def __init__(self, header, body, trailer, read_ns):
        self.kind = header[0] & 0x1F
        self.ts = int.from_bytes(header[4:7], "big") | (header[7] << 24)
        self.raw = header + body + trailer
        self.read_ns = read_ns
        # AVC video: byte 0 = frame type << 4 | codec id 7, byte 1 = AVC packet type
        # (1 = coded frames; 0 = sequence header, which is no frame).
        self.is_frame = self.kind == TAG_VIDEO and len(body) > 5 and body[1] == 1
        self.key = self.kind == TAG_VIDEO and (body[0] >> 4) == 1

    def body(self):
        return self.raw[11:-4]

    def fingerprint(self):
        data, pos, h = self.body(), 5, hashlib.sha256()
        while pos + 4 <= len(data):
            size = int.from_bytes(data[pos:pos + 4], "big")
            nal = data[pos + 4:pos + 4 + size]
            if nal and 1 <= (nal[0] & 0x1F) <= 5:
                h.update(nal)
            pos += 4 + size
        return h.hexdigest()[:16]


def read_exact(stream, n):
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_tags(stream):
    """Yields the FLV file header (bytes) first, then a Tag per FLV tag."""
    header = read_exact(stream, 13)  # 9-byte header + PreviousTagSize0
    if header is None or header[:3] != b"FLV":
        raise ValueError("encoder output is not FLV")
    yield header
    while True:
        tag_header = read_exact(stream, 11)
        if tag_header is None:
            return
        size = int.from_bytes(tag_header[1:4], "big")
        rest = read_exact(stream, size + 4)
        if rest is None:
            return
        yield Tag(tag_header, rest[:size], rest[size:], now_ns())


class ObsQueue:
    """OBS-like output queue: a writer thread drains it into the publisher."""

    def __init__(self, out, log, drop_ms):
        self.out, self.log, self.drop_ms = out, log, drop_ms
        self.queue = collections.deque()
        self.cond = threading.Condition()
        self.closed = False
        self.dropping = False
        self.sent = self.dropped = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _queued_ms(self):
        return self.queue[-1].ts - self.queue[0].ts if self.queue else 0

    def _drop(self, tag, queued_ms):
        self.dropped += 1
        self.log.write("drop", flv_ts=tag.ts, key=tag.key, bytes=len(tag.raw),
                       fingerprint=tag.fingerprint(), t_ns=now_ns(), queued_ms=queued_ms)

    def put(self, tag):
        with self.cond:
            if tag.is_frame and self.dropping and not tag.key:
                self._drop(tag, self._queued_ms())
                return
            if tag.is_frame and tag.key:
                self.dropping = False
            self.queue.append(tag)
            queued_ms = self._queued_ms()
            if queued_ms > self.drop_ms:
                keep = collections.deque()
                for t in self.queue:
                    if t.is_frame and not t.key:
                        self._drop(t, queued_ms)
                    else:
                        keep.append(t)
                self.queue = keep
                self.dropping = True
            self.cond.notify()

    def _drain(self):
        while True:
            with self.cond:
                while not self.queue and not self.closed:
                    self.cond.wait()
                if not self.queue:
                    return
                tag = self.queue.popleft()
            write_tag(self.out, self.log, tag)
            self.sent += tag.is_frame

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.thread.join()


def write_tag(out, log, tag):
    out.write(tag.raw)
    out.flush()
    if tag.is_frame:
        log.write("frame", flv_ts=tag.ts, key=tag.key, bytes=len(tag.raw),
                  fingerprint=tag.fingerprint(), read_ns=tag.read_ns, sent_ns=now_ns())


def encoder_cmd(args):
    kbps = f"{args.bitrate}k"
    # A hue shift derived from the channel name makes every channel's pictures (and
    # so its frame fingerprints) differ from every other channel's.
    hue = zlib.crc32(args.url.rsplit("/", 1)[-1].encode()) % 360
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin",
        "-re", "-f", "lavfi", "-i", f"testsrc2=size={args.size}:rate={args.fps}",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(args.duration), "-vf", f"hue=h={hue}",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-b:v", kbps, "-maxrate", kbps, "-bufsize", kbps,
        "-x264-params", "nal-hrd=cbr", "-g", str(2 * args.fps),
        "-keyint_min", str(2 * args.fps), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "32k", "-ac", "1",
        "-f", "flv", "pipe:1",
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="rtmp[s]://server[:port]/live/<stream>")
    ap.add_argument("--bitrate", type=int, required=True, help="video kb/s (CBR)")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--mode", choices=("ffmpeg", "obs"), default="ffmpeg")
    ap.add_argument("--drop-ms", type=int, default=700)
    ap.add_argument("--keylog", help="rtmps://: the publisher appends its TLS secrets to "
                                     "FILE (SSLKEYLOGFILE)")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    log = JsonlLog(args.log, host_name())
    enc_cmd = encoder_cmd(args)
    pub_cmd = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin",
               "-f", "flv", "-i", "pipe:0", "-c", "copy", "-f", "flv", args.url]
    pub_env = dict(os.environ)
    if args.keylog:
        pub_env["SSLKEYLOGFILE"] = args.keylog
    publisher_start_ns = now_ns()
    publisher = subprocess.Popen(pub_cmd, stdin=subprocess.PIPE, env=pub_env)
    encoder_start_ns = now_ns()
    encoder = subprocess.Popen(enc_cmd, stdout=subprocess.PIPE)
    log.write("start", mode=args.mode, url=args.url, bitrate_kbps=args.bitrate,
              size=args.size, fps=args.fps, encoder_cmd=enc_cmd, publisher_cmd=pub_cmd,
              encoder_start_ns=encoder_start_ns, publisher_start_ns=publisher_start_ns,
              keylog=args.keylog)

    tags = read_tags(encoder.stdout)
    publisher.stdin.write(next(tags))
    obs = ObsQueue(publisher.stdin, log, args.drop_ms) if args.mode == "obs" else None
    frames_read = frames_sent = 0
    try:
        for tag in tags:
            frames_read += tag.is_frame
            if obs:
                obs.put(tag)
            else:
                write_tag(publisher.stdin, log, tag)
                frames_sent += tag.is_frame
    except BrokenPipeError:
        log.write("error", what="publisher went away")
    finally:
        if obs:
            obs.close()
            frames_sent = obs.sent
        try:
            publisher.stdin.close()
        except BrokenPipeError:
            pass
        encoder.wait()
        publisher.wait()
    log.write("end", frames_read=frames_read, frames_sent=frames_sent,
              frames_dropped=obs.dropped if obs else 0,
              encoder_rc=encoder.returncode, publisher_rc=publisher.returncode)
    log.close()


if __name__ == "__main__":
    main()
