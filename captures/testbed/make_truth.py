#!/usr/bin/env python3
"""Collect a testbed run's logs (OUTDIR/logs/*.jsonl) into OUTDIR/truth.json.

The schema is documented in docs/testbed.md ("truth.json"). Times are wall-clock
integer nanoseconds since the epoch, as the hosts' programs logged them; the skew
scenario's clock offsets were applied to the capture files only. A run with TLS (the
tls scenario) adds `tls` (endpoints, key files) and `tls_sessions` (every TLS
connection a Python client made); so does lowlatency's HTTP/2 viewer (key files in
`hosts[]`, `tls_sessions`).
"""

import collections
import json
import pathlib
import re
import subprocess
import sys

from ll_frames import frame_arrivals
from rtmp_plays import rtmp_plays

SCHEMA = "lagtap-testbed-truth/1"


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def versions(irc_server):
    irc_cmd = {"inspircd": ["inspircd", "--version"], "ngircd": ["ngircd", "--version"]}
    return {
        "nginx": first_line(["nginx", "-v"]),
        "nginx_rtmp_module": first_line(["dpkg-query", "-W", "-f", "${Version}",
                                         "libnginx-mod-rtmp"]),
        "ffmpeg": first_line(["ffmpeg", "-version"]),
        "irc_server": first_line(irc_cmd.get(irc_server, ["true"])),
        "chrony": first_line(["chronyd", "-v"]),
        "ntpdig": first_line(["ntpdig", "--version"]),
        "tcpdump": first_line(["tcpdump", "--version"]),
        "dumpcap": first_line(["dumpcap", "--version"]),
        "python": sys.version.split()[0],
        "kernel": first_line(["uname", "-sr"]),
        "openssl": first_line(["openssl", "version"]),
        "gnutls": first_line(["dpkg-query", "-W", "-f", "${Version}", "libgnutls30"]),
        "python_h2": first_line(["dpkg-query", "-W", "-f", "${Version}", "python3-h2"]),
    }


def logs_by_client(log_dir):
    """{client kind: {host: [records]}} from files named <host>.<kind>[-x].jsonl."""
    out = collections.defaultdict(dict)
    for path in sorted(log_dir.glob("*.*.jsonl")):
        host, kind = path.stem.split(".", 1)
        out[kind.split("-")[0]].setdefault(host, []).extend(read_jsonl(path))
    return out


def chat_truth(chat_logs):
    """Every message sent, with its reception on every other chat host."""
    messages, by_text = [], {}
    for host, recs in chat_logs.items():
        for r in recs:
            if r["event"] == "send":
                m = {"sender": host, "nick": r["nick"], "channel": r["channel"],
                     "text": r["text"], "send_ns": r["t_ns"], "receivers": {}}
                messages.append(m)
                by_text[(r["channel"], r["nick"], r["text"])] = m
    for host, recs in chat_logs.items():
        for r in recs:
            if r["event"] != "recv":
                continue
            m = by_text.get((r["channel"], r["nick"], r["text"]))
            if m is None:
                continue
            m["receivers"][host] = {"recv_ns": r["t_ns"], "msgid": r["tags"].get("msgid"),
                                    "server_time": r["tags"].get("time"), "raw": r["raw"]}
    messages.sort(key=lambda m: m["send_ns"])
    caps = {host: next((r["acked"] for r in recs if r["event"] == "caps"), None)
            for host, recs in chat_logs.items()}
    return messages, caps


def viewer_truth(viewer_logs):
    segments, playlists, switches, starts = [], [], [], []
    for host, recs in viewer_logs.items():
        for r in recs:
            if r["event"] == "request":
                row = {"viewer": host, "channel": r["channel"], "uri": r["url"],
                       "status": r["status"], "bytes": r["bytes"], "req_ns": r["req_ns"],
                       "first_byte_ns": r["first_byte_ns"], "done_ns": r["done_ns"]}
                if r["kind"] == "segment":
                    segments.append({**row, "seq": r["seq"]})
                elif r["kind"] == "playlist":
                    playlists.append(row)
            elif r["event"] == "switch":
                switches.append({"viewer": host, "from": r["from"], "to": r["to"],
                                 "start_ns": r["start_ns"],
                                 "first_segment_ns": r["first_segment_ns"]})
            elif r["event"] == "start":
                starts.append({"viewer": host, "channel": r["channel"], "k": r["k"],
                               "start_seq": r["start_seq"], "t_ns": r["t_ns"]})
    return segments, playlists, switches, starts


def broadcaster_truth(bc_logs):
    streams, frames, drops = [], [], []
    for host, recs in bc_logs.items():
        stream = None
        for r in recs:
            if r["event"] == "start":
                stream = {"host": host, "channel": r["url"].rsplit("/", 1)[1],
                          "url": r["url"], "mode": r["mode"],
                          "bitrate_kbps": r["bitrate_kbps"], "size": r["size"],
                          "fps": r["fps"], "encoder_start_ns": r["encoder_start_ns"],
                          "publisher_start_ns": r["publisher_start_ns"],
                          "encoder_cmd": " ".join(r["encoder_cmd"])}
                streams.append(stream)
            elif r["event"] == "end" and stream:
                stream.update(frames_read=r["frames_read"], frames_sent=r["frames_sent"],
                              frames_dropped=r["frames_dropped"])
            elif r["event"] == "frame" and stream:
                frames.append({"host": host, "channel": stream["channel"],
                               "flv_ts_ms": r["flv_ts"], "key": r["key"],
                               "fingerprint": r["fingerprint"], "bytes": r["bytes"],
                               "read_ns": r["read_ns"], "sent_ns": r["sent_ns"]})
            elif r["event"] == "drop" and stream:
                drops.append({"host": host, "channel": stream["channel"],
                              "flv_ts_ms": r["flv_ts"], "key": r["key"],
                              "fingerprint": r["fingerprint"], "t_ns": r["t_ns"],
                              "queued_ms": r["queued_ms"]})
    return streams, frames, drops


def tls_sessions(clients):
    """Every TLS connection the Python clients logged (the broadcaster's ffmpeg logs
    none: its RTMPS session is known from its key log only)."""
    rows = []
    for kind, logs in clients.items():
        for host, recs in logs.items():
            for r in recs:
                if r["event"] == "tls":
                    rows.append({"host": host, "client": kind, "proto": r["proto"],
                                 "local": r["local"], "remote": r["remote"],
                                 "version": r["version"], "cipher": r["cipher"],
                                 "alpn": r["alpn"], "sni": r["sni"],
                                 "connect_ns": r["handshake_start_ns"],
                                 "handshake_done_ns": r["t_ns"]})
    return sorted(rows, key=lambda x: x["connect_ns"])


def ntp_truth(ntp_logs):
    rows = []
    for host, recs in ntp_logs.items():
        for r in recs:
            if r["event"] == "ntp":
                res = r.get("result") or {}
                rows.append({"host": host, "t_ns": r["t_ns"], "ok": r["rc"] == 0,
                             "offset_s": res.get("offset"), "stratum": res.get("stratum")})
    return sorted(rows, key=lambda x: x["t_ns"])


def tbf_truth(events, end_ns):
    steps = [e for e in events if e["event"] == "tbf"]
    out = []
    for i, e in enumerate(steps):
        nxt = next((s["t_ns"] for s in steps[i + 1:] if s["host"] == e["host"]), end_ns)
        out.append({"host": e["host"], "iface": e["iface"], "rate_kbps": e["rate_kbps"],
                    "start_ns": e["t_ns"], "end_ns": nxt, "tc": e["tc"]})
    return out


def main():
    outdir = pathlib.Path(sys.argv[1])
    log_dir = outdir / "logs"
    events = read_jsonl(log_dir / "testbed.jsonl")
    run = next(e for e in events if e["event"] == "run")
    end_ns = next((e["t_ns"] for e in events if e["event"] == "end"), None)
    irc_server = next((e["name"] for e in events if e["event"] == "irc_server"), None)
    offsets = {e["host"]: e for e in events if e["event"] == "clock_offset"}
    tls = next((e for e in events if e["event"] == "tls"), None)
    ll = next((e for e in events if e["event"] == "ll"), None)
    ll_h2 = next((e for e in events if e["event"] == "ll_h2"), None)
    keys = {e["host"]: e for e in events if e["event"] == "keys"}
    clients = logs_by_client(log_dir)

    hosts = []
    for e in events:
        if e["event"] == "host":
            off = offsets.get(e["name"])
            hosts.append({"name": e["name"], "role": e["role"], "address": e["address"],
                          "capture": e["capture"] or None,
                          "link_type": e["link_type"] or None,
                          "capture_tool": e["capture_tool"] or None,
                          "clock_offset_s": off["offset_s"] if off else 0.0})
            if tls or keys:
                k = keys.get(e["name"], {})
                hosts[-1].update(keys=k.get("file"), capture_dsb=k.get("dsb") or None)
    messages, caps = chat_truth(clients.get("chat", {}))
    segments, playlists, switches, starts = viewer_truth(clients.get("viewer", {}))
    streams, frames, drops = broadcaster_truth(clients.get("broadcaster", {}))
    server = run["server_addr"]
    urls = {"rtmp_url": f"rtmp://{server}:1935/live/<channel>",
            "hls_playlist_url": f"http://{server}:80/hls/<channel>.m3u8",
            "hls_segment_url": f"http://{server}:80/hls/<channel>-<n>.ts",
            "irc": f"{server}:6667"}
    if tls:
        urls = {"rtmp_url": tls["rtmps"],
                "hls_playlist_url": f"{tls['https']}/hls/<channel>.m3u8",
                "hls_segment_url": f"{tls['https']}/hls/<channel>-<n>.ts",
                "irc": tls["ircs"], "irc_tls": True, "irc_websocket": tls["wss"]}
    truth = {
        "schema": SCHEMA,
        "scenario": run["scenario"],
        "command": run["command"],
        "start_ns": run["t_ns"],
        "end_ns": end_ns,
        "server": {
            "host": "server", "address": server, **urls, "irc_server": irc_server,
            "irc_channel": run["irc_channel"], "ntp": f"{server}:123",
        },
        "hosts": hosts,
        "clock_offsets": [{"host": h, "offset_s": e["offset_s"],
                           "offset_ns": round(e["offset_s"] * 1e9),
                           "applied_with": e["applied_with"]} for h, e in offsets.items()],
        "streams": streams,
        "chat_caps": caps,
        "chat": messages,
        "viewer_starts": starts,
        "segments": segments,
        "playlists": playlists,
        "switches": switches,
        "tbf_schedule": tbf_truth(events, end_ns),
        "dropped_frames": drops,
        "ntp_queries": ntp_truth(clients.get("ntp", {})),
        "frames": frames,
        "versions": versions(irc_server),
    }
    if tls:
        truth["tls"] = {
            "https": tls["https"], "wss": tls["wss"], "ircs": tls["ircs"],
            "rtmps": tls["rtmps"], "sni": tls["sni"], "certificate": tls["certificate"],
            "key_logs": {h: {"file": k["file"], "secrets": k["secrets"],
                             "dsb": k["dsb"] or None} for h, k in keys.items()},
        }
        truth["tls_sessions"] = tls_sessions(clients)
    if ll:
        truth["server"]["ll_playlist_url"] = ll["origin"]
        if ll_h2:
            truth["server"]["ll_h2_playlist_url"] = ll_h2["front"]
            truth["tls_sessions"] = tls_sessions(clients)
        truth["frame_arrivals"] = frame_arrivals(log_dir, clients.get("viewer", {}), frames)
    if any(e["event"] == "rtmp_player" for e in events):
        truth["rtmp_players"], truth["rtmp_plays"] = rtmp_plays(outdir, events, frames)
    # One record per line for the long lists keeps the file diffable and greppable.
    text = json.dumps(truth, indent=1)
    text = re.sub(r"\{\n\s+([^{}\[\]]*?)\n\s+\}",
                  lambda m: "{" + re.sub(r",\n\s+", ", ", m.group(1)) + "}", text)
    (outdir / "truth.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
