"""Per-frame arrival truth for the lowlatency scenario, from the viewers' own logs.

For every media segment (and LL-HLS part) a viewer of ll_viewer.py received, over HTTP/1.1 or HTTP/2
(its body kept in logs/segments/<host>/), ffprobe lists the video packets of init +
segment with their byte position and size; a frame's last byte is body offset
pos + size − 1 − len(init). The viewer logged, after every recv() that brought body
bytes (over HTTP/2: after every DATA frame), how many body bytes it had, when recv()
returned and when the kernel received the newest packet that recv() consumed: the
frame arrived (`arrived_ns`, kernel time; `read_ns`, the recv() return) at the first
such read past its last byte. Its fingerprint (SHA-256 of its slice NAL units, as
broadcaster.py computes it) finds the frame the broadcaster logged, and with it the
frame's RTMP timestamp and send time. Nothing here uses lagtap.
"""

import hashlib
import json
import os
import subprocess
import tempfile


def nal_length_size(init):
    """lengthSizeMinusOne + 1 from the init segment's avcC (4 when not found)."""
    i = init.find(b"avcC")
    if i < 0 or i + 8 >= len(init):
        return 4
    return (init[i + 8] & 3) + 1


def fingerprint(sample, length_size):
    """First 16 hex digits of SHA-256 over the slice NAL units (types 1-5), each
    with its header byte, in order (docs/testbed.md)."""
    h, pos = hashlib.sha256(), 0
    while pos + length_size <= len(sample):
        n = int.from_bytes(sample[pos:pos + length_size], "big")
        nal = sample[pos + length_size:pos + length_size + n]
        if nal and 1 <= (nal[0] & 0x1F) <= 5:
            h.update(nal)
        pos += length_size + n
    return h.hexdigest()[:16]


def ffprobe_packets(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets",
         "-show_entries", "packet=pts,dts,pos,size,flags", "-of", "json", path],
        capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout).get("packets", [])


def frame_arrivals(log_dir, viewer_logs, frames):
    """One row per video frame of every segment an ll_viewer received."""
    by_fp = {}
    for f in frames:
        by_fp.setdefault(f["fingerprint"], []).append(f)
    rows = []
    for host, recs in sorted(viewer_logs.items()):
        saved = log_dir / "segments" / host
        reqs = [r for r in recs if r["event"] == "request" and "reads" in r]
        init_req = next((r for r in reqs if r["kind"] == "init" and r["status"] == 200), None)
        if init_req is None or not saved.is_dir():
            continue
        init = (saved / os.path.basename(init_req["url"])).read_bytes()
        length_size = nal_length_size(init)
        for r in reqs:
            if r["kind"] not in ("segment", "part") or r["status"] not in (200, 206):
                continue
            name = os.path.basename(r["url"])
            if r.get("range_start") is not None:  # a byte-range part
                name += f"@{r['range_start']}"
            body = (saved / name).read_bytes()
            with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
                tmp.write(init + body)
                tmp.flush()
                packets = ffprobe_packets(tmp.name)
            for p in packets:
                start = int(p["pos"]) - len(init)
                last = start + int(p["size"]) - 1
                read = next((x for x in r["reads"] if x[1] > last), None)
                arrived = read[2] if read else None  # kernel receive time
                read_ns = read[0] if read else None  # recv() returned
                fp = fingerprint(body[start:last + 1], length_size)
                cands = [f for f in by_fp.get(fp, []) if arrived is None or f["sent_ns"] <= arrived]
                sent = max(cands, key=lambda f: f["sent_ns"]) if cands else None
                rows.append({
                    "viewer": host, "uri": r["url"], "seq": r["seq"], "part": r.get("part"),
                    "range_start": r.get("range_start"),
                    "http": r.get("http", "1.1"), "chunked": r["chunked"], "pts": int(p["pts"]), "dts": int(p["dts"]),
                    "key": "K" in p.get("flags", ""), "offset": start, "size": int(p["size"]),
                    "fingerprint": fp, "arrived_ns": arrived, "read_ns": read_ns,
                    "segment_done_ns": r["done_ns"],
                    "flv_ts_ms": sent["flv_ts_ms"] if sent else None,
                    "sent_ns": sent["sent_ns"] if sent else None,
                })
    return rows
