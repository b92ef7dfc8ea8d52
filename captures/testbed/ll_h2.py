"""HTTP/2 on TLS for ll_viewer.py (--http2): one connection (ALPN h2, the h2 package:
Debian's python3-h2) on which the player's requests go one after another, each on
its own stream, with the same answer as ll_viewer's HTTP/1.1 `Conn.get`.

A response body comes in DATA frames; a growing segment that the server relays as
its packager writes it comes in many, spread over the segment's duration. The h2
state machine gives one DataReceived event per DATA frame once the frame is whole,
so each DATA frame is logged as a read: [t_ns, body bytes in hand, kernel_ns], the
times of the recvmsg() that completed it (TLS runs on memory BIOs over a
tblog.TimedSocket, so the kernel's receive time survives the decryption).
"""

import h2.config  # Debian: python3-h2
import h2.connection
import h2.events
import h2.exceptions

from tblog import now_ns


class H2Conn:
    """One persistent HTTP/2 connection over TLS (tblog.TlsClient, ALPN h2)."""

    http = "2"

    def __init__(self, server, port, tls, log, user_agent):
        self.server, self.port, self.tls, self.log = server, port, tls, log
        self.user_agent = user_agent
        self.authority = f"{server}:{port}"
        self.url = f"https://{self.authority}"
        self.sock = self.conn = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = self.conn = None

    def _connect(self):
        self.sock = self.tls.connect_timed(self.server, self.port, self.log, "https")
        if self.sock.obj.selected_alpn_protocol() != "h2":
            raise ConnectionError("the server did not agree to h2")
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def get(self, path):
        """GET path: (status, body, req_ns, first_byte_ns, done_ns, streamed, reads),
        as Conn.get; `streamed` (Conn's `chunked`) when the response named no
        content-length: the origin's chunked relay of a growing file, which nginx
        passes on as DATA frames."""
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                return self._get(path)
            except (h2.exceptions.ProtocolError, ConnectionError, OSError) as e:
                self.close()  # GOAWAY, reset or closed: reconnect once
                if attempt == 2:
                    raise ConnectionError(f"HTTP/2: {e}") from e
        raise AssertionError("unreachable")

    def _get(self, path):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                     (":authority", self.authority), (":path", path),
                                     ("user-agent", self.user_agent)], end_stream=True)
        req_ns = now_ns()
        self.sock.sendall(self.conn.data_to_send())
        status, headers, first_ns, body, reads = None, {}, None, bytearray(), []
        while True:
            data, t, kernel_ns = self.sock.recv()
            for ev in self.conn.receive_data(data):
                if getattr(ev, "stream_id", sid) != sid:
                    continue
                if isinstance(ev, h2.events.ResponseReceived):
                    first_ns = t
                    headers = dict(ev.headers)
                    status = int(headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                    if ev.data:
                        reads.append([t, len(body), kernel_ns])
                elif isinstance(ev, h2.events.StreamEnded):
                    out = self.conn.data_to_send()
                    if out:
                        self.sock.sendall(out)
                    streamed = "content-length" not in headers
                    return status, bytes(body), req_ns, first_ns, t, streamed, reads
                elif isinstance(ev, h2.events.StreamReset):
                    raise ConnectionError(f"stream {sid} reset")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise ConnectionError("GOAWAY")
            out = self.conn.data_to_send()
            if out:
                self.sock.sendall(out)
