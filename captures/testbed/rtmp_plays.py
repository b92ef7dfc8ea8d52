"""Per-frame truth for the rtmpplay scenario's RTMP players, without lagtap.

For every player (a `rtmp_player` line of logs/testbed.jsonl):
- tshark's RTMP dissection of the player's own capture lists every video message
  the server sent it, with the capture time of the packet in which tshark
  reassembled the message (its last byte arrived: `received_ns`), the frame type
  (key or not) and the message body, from which the frame's fingerprint is taken
  as broadcaster.py takes it (SHA-256 of the slice NAL units; docs/testbed.md);
- the fingerprint finds the frame the broadcaster logged (the latest one sent
  before the player received it): its FLV timestamp and the time broadcaster.py
  wrote it to the publisher's pipe (`sent_ns`);
- ffprobe counts the video packets (and key packets) the player wrote to its FLV
  file, which holds what it received up to its stop.
"""

import json
import subprocess

from ll_frames import fingerprint


def tshark_video(capture):
    """(received_ns, key, coded, fingerprint) of every video message, in order."""
    out = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", "rtmpt.video.data", "-T", "fields",
         "-E", "separator=|", "-E", "aggregator=,",
         "-e", "frame.time_epoch", "-e", "rtmpt.video.type", "-e", "rtmpt.video.data"],
        capture_output=True, text=True, check=True).stdout
    frames = []
    for line in out.splitlines():
        t, types, datas = line.split("|")
        sec, frac = t.split(".")
        received_ns = int(sec) * 10**9 + int(frac.ljust(9, "0")[:9])
        for ty, data in zip(types.split(","), datas.split(",")):
            avc = bytes.fromhex(data.replace(":", ""))
            coded = len(avc) > 4 and avc[0] == 1
            # The message body after the AVC packet header (packet type and
            # composition time): 4-byte-length NAL units, as in the FLV tag.
            frames.append({"received_ns": received_ns, "key": ty == "1", "coded": coded,
                           "fingerprint": fingerprint(avc[4:], 4) if coded else None})
    return frames


def ffprobe_counts(flv):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=flags",
         "-of", "csv=p=0", str(flv)],
        capture_output=True, text=True, check=True).stdout.split()
    return len(out), sum("K" in f for f in out)


def rtmp_plays(outdir, events, broadcaster_frames):
    """(players, plays): per player its counts, and every coded frame it received."""
    players, plays = [], []
    for p in (e for e in events if e["event"] == "rtmp_player"):
        host, channel = p["host"], p["channel"]
        capture = outdir / f"{host}.pcap"
        sent = [f for f in broadcaster_frames if f["channel"] == channel]
        frames = tshark_video(capture)
        coded = [f for f in frames if f["coded"]]
        packets, keys = ffprobe_counts(outdir / p["flv"])
        players.append({"host": host, "channel": channel, "url": p["url"],
                        "flv": p["flv"], "tshark_video_messages": len(frames),
                        "tshark_frames": len(coded),
                        "tshark_key_frames": sum(f["key"] for f in coded),
                        "ffprobe_video_packets": packets, "ffprobe_key_packets": keys})
        for i, f in enumerate(coded):
            match = [s for s in sent
                     if s["fingerprint"] == f["fingerprint"] and s["sent_ns"] <= f["received_ns"]]
            src = max(match, key=lambda s: s["sent_ns"]) if match else None
            plays.append({"viewer": host, "channel": channel, "index": i, "key": f["key"],
                          "fingerprint": f["fingerprint"], "received_ns": f["received_ns"],
                          "flv_ts_ms": src["flv_ts_ms"] if src else None,
                          "sent_ns": src["sent_ns"] if src else None})
    return players, plays


if __name__ == "__main__":
    import pathlib
    import sys

    d = pathlib.Path(sys.argv[1])
    truth = json.loads((d / "truth.json").read_text())
    ev = [json.loads(x) for x in (d / "logs/testbed.jsonl").read_text().splitlines() if x]
    print(json.dumps(rtmp_plays(d, ev, truth["frames"])[0], indent=1))
