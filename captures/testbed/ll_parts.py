"""LL-HLS partial segments (RFC 8216bis §4.4.4.9, §6.2.2) for ll_origin.py: the
origin cuts each fMP4 segment that ffmpeg's dash muxer uploads (a fragment per
frame: [styp] prft moof mdat, prft moof mdat, ...) into parts of --part-frames
fragments, and serves

under a public directory of its own (e.g. /llhls/lagtap/ for uploads in
/ll/lagtap/):

- an LL-HLS media playlist (`index.m3u8`) built from the muxer's own media playlist
  (its segments, durations and program dates) and the uploads' state: every
  segment's parts while it is among the newest, the parts complete so far of the
  segment being made, and an `EXT-X-PRELOAD-HINT` for the next part;
  `EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES`, so a request with `_HLS_msn`/
  `_HLS_part` waits until that part exists (§6.2.5.2);
- each part as its own file, `<segment stem>.part<K>.m4s`, answered once the
  part is complete (a request for a hinted part waits for it, §6.2.6), whole, with
  Content-Length;
- every other file (the init segment, whole segments) as uploaded.

With byteranges=True (ll_origin.py --byterange-parts), the parts are not files of
their own but byte ranges of the segment (§4.4.4.9 `BYTERANGE="<length>@<offset>"`,
the hint's `BYTERANGE-START`): a `Range: bytes=<start>-<end>` request of the segment
is answered 206 once those bytes are uploaded, and an open `bytes=<start>-` (a hinted
part, whose length is not known yet) once the part that begins there is complete,
with that part's bytes (`Content-Range: bytes a-b/*`: the segment's length is not
known while it is being made).

A fragment is complete when its mdat is; part K of a segment is fragments
K*F .. K*F+F-1 (the first part also holds the styp), so a part's bytes are a slice
of the segment's. Nothing here parses a sample: the boxes' sizes say where each
fragment ends.

No Debian package writes LL-HLS parts (ffmpeg 5.1's hls muxer has none, its dash
muxer's -lhls writes the older EXT-X-PREFETCH scheme), hence this.
"""

import re
import struct
import time

PART_RE = re.compile(r"^(?P<stem>.*)\.part(?P<k>\d+)\.m4s$")


def fragment_ends(data):
    """Byte offsets just past each complete mdat of a growing fMP4 segment."""
    ends, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, i)
        if size == 1 and i + 16 <= len(data):
            size = struct.unpack_from(">Q", data, i + 8)[0]
        if size < 8 or i + size > len(data):
            break
        i += size
        if kind == b"mdat":
            ends.append(i)
    return ends


class Parts:
    """The part layout of one channel directory of the origin."""

    def __init__(self, public, directory, part_frames, fps, segment_frames=None,
                 keep_segments=3, byteranges=False):
        self.byteranges = byteranges
        self.public = public.rstrip("/") + "/"
        self.dir = directory.rstrip("/") + "/"
        self.f = part_frames
        self.part_s = part_frames / fps
        self.fps = fps
        self.keep = keep_segments
        # The packager cuts a segment every GOP: once a segment has this many
        # frames in parts, the next part is the next segment's first.
        self.segment_frames = segment_frames

    def part_ranges(self, entry):
        """[(start, end, frames)] of the complete parts of a segment upload."""
        ends = fragment_ends(entry.data)
        out, start = [], 0
        full = len(ends) // self.f
        for k in range(full):
            end = ends[(k + 1) * self.f - 1]
            out.append((start, end, self.f))
            start = end
        rest = len(ends) - full * self.f
        if entry.complete and rest:
            out.append((start, len(entry.data), rest))
        return out

    def muxer_playlist(self, files):
        """The muxer's playlist: (target, media sequence, map, [(extinf, pdt, uri)],
        [prefetch uri])."""
        e = files.get(self.dir + "media_0.m3u8")
        if e is None or not e.complete:
            return None
        target, seq, init, segs, prefetch, pending = 2, 0, None, [], [], {}
        for line in bytes(e.data).decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line.startswith("#EXT-X-TARGETDURATION:"):
                target = int(float(line.split(":", 1)[1]))
            elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                seq = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-MAP:"):
                init = line.split('URI="', 1)[1].split('"', 1)[0]
            elif line.startswith("#EXTINF:"):
                pending["extinf"] = line.split(":", 1)[1].split(",", 1)[0]
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                pending["pdt"] = line.split(":", 1)[1]
            elif line.startswith("#EXT-X-PREFETCH:"):
                prefetch.append(line.split(":", 1)[1])
            elif line and not line.startswith("#"):
                segs.append((pending.get("extinf"), pending.get("pdt"), line))
                pending = {}
        return target, seq, init, segs, prefetch

    def state(self, files):
        """(playlist text, last msn, parts of the segment being made) or None."""
        m = self.muxer_playlist(files)
        if m is None:
            return None
        target, seq, init, segs, prefetch = m
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:9",
            f"#EXT-X-TARGETDURATION:{target}",
            f"#EXT-X-PART-INF:PART-TARGET={self.part_s:.3f}",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
            f"PART-HOLD-BACK={3 * self.part_s:.3f}",
            f"#EXT-X-MEDIA-SEQUENCE:{seq}",
        ]
        if init:
            lines.append(f'#EXT-X-MAP:URI="{init}"')
        # The muxer lists a segment once its upload is complete; parts for the
        # newest few (§6.2.2: parts older than three target durations may go).
        for n, (extinf, pdt, uri) in enumerate(segs):
            if pdt:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{pdt}")
            e = files.get(self.dir + uri)
            if n >= len(segs) - self.keep and e is not None:
                lines += self.part_lines(uri, e)
            lines += [f"#EXTINF:{extinf},", uri]
        msn = seq + len(segs)
        made = 0
        if prefetch:
            uri = prefetch[0]
            e = files.get(self.dir + uri)
            if e is not None:
                part_lines = self.part_lines(uri, e)
                lines += part_lines
                made = len(part_lines)
                frames = len(fragment_ends(e.data))
                full = self.segment_frames is not None and frames >= self.segment_frames
                if e.complete or (full and made * self.f >= self.segment_frames):
                    # Uploaded (or all its frames are, only the upload's end is to
                    # come), but the muxer has not listed it yet: it is complete,
                    # so list it, and hint the next segment's first part.
                    lines += [f"#EXTINF:{frames / self.fps:.6f},", uri]
                    msn, made, uri = msn + 1, 0, next_segment(uri)
            if self.byteranges:
                e = files.get(self.dir + uri)
                ranges = self.part_ranges(e) if e is not None else []
                start = ranges[made - 1][1] if made and made <= len(ranges) else 0
                lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{uri}",'
                             f'BYTERANGE-START={start}')
            else:
                lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{part_name(uri, made)}"')
        return "\n".join(lines) + "\n", msn, made

    def part_lines(self, uri, entry):
        out = []
        for k, (a, b, frames) in enumerate(self.part_ranges(entry)):
            ind = ",INDEPENDENT=YES" if k == 0 else ""
            if self.byteranges:
                # The offset only where the previous part does not end there (the
                # first of a segment): the implicit form a player must follow.
                where = f'URI="{uri}",BYTERANGE="{b - a}' + (f'@{a}"' if k == 0 else '"')
            else:
                where = f'URI="{part_name(uri, k)}"'
            out.append(f'#EXT-X-PART:DURATION={frames / self.fps:.3f},{where}{ind}')
        return out

    def playlist(self, files, lock, query, wait_s):
        """The playlist text; with `_HLS_msn` (and `_HLS_part`) in `query`, once
        that part is in it or `wait_s` passed."""
        want = blocking_target(query)
        deadline = time.monotonic() + wait_s
        with lock:
            while True:
                st = self.state(files)
                if st is not None and (want is None or has_part(st, want)):
                    return st[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return st[0] if st else None
                lock.wait(left)

    def part(self, files, lock, name, wait_s):
        """A part's bytes once complete; None if it never came or cannot."""
        m = PART_RE.match(name)
        if not m:
            return None
        k = int(m["k"])

        def take(e):
            ranges = self.part_ranges(e)
            return bytes(e.data[ranges[k][0]:ranges[k][1]]) if k < len(ranges) else None

        return wait_for(files, lock, self.dir + m["stem"] + ".m4s", take, wait_s)

    def range(self, files, lock, name, first, last, wait_s):
        """(bytes, complete length or None) of a byte range of segment `name` once
        uploaded: first..last, or with last None the part that begins at first;
        None if it never came or cannot."""
        def take(e):
            total = len(e.data) if e.complete else None
            if last is None:
                part = next((r for r in self.part_ranges(e) if r[0] == first), None)
                return None if part is None else (bytes(e.data[part[0]:part[1]]), total)
            return (bytes(e.data[first:last + 1]), total) if last < len(e.data) else None

        return wait_for(files, lock, self.dir + name, take, wait_s)


def wait_for(files, lock, path, take, wait_s):
    """take(upload of path) once it is not None, waiting on the lock for uploads
    to grow; None once the upload is complete without it, or after wait_s."""
    deadline = time.monotonic() + wait_s
    with lock:
        while True:
            e = files.get(path)
            if e is not None:
                got = take(e)
                if got is not None:
                    return got
                if e.complete:
                    return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            lock.wait(left)


def part_name(segment_uri, k):
    stem = segment_uri.rsplit(".", 1)[0]
    return f"{stem}.part{k}.m4s"


def next_segment(uri):
    """The file name of the segment after `uri` (lagtap-00009.m4s: lagtap-00010.m4s)."""
    m = re.match(r"^(.*?)(\d+)(\.[^.]*)$", uri)
    if not m:
        return uri
    return f"{m[1]}{int(m[2]) + 1:0{len(m[2])}d}{m[3]}"


def blocking_target(query):
    """(msn, part) a blocking reload asks for (part None: the whole segment)."""
    args = dict(x.split("=", 1) for x in query.split("&") if "=" in x)
    if "_HLS_msn" not in args:
        return None
    try:
        return int(args["_HLS_msn"]), (int(args["_HLS_part"]) if "_HLS_part" in args else None)
    except ValueError:
        return None


def has_part(state, want):
    """Whether a playlist state holds (msn, part): msn listed complete, or msn the
    segment being made with more than `part` parts (§6.2.5.2)."""
    _, listed_up_to, made = state
    msn, part = want
    if msn < listed_up_to:
        return True
    return msn == listed_up_to and part is not None and part < made
