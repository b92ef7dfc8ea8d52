#!/usr/bin/env python3
"""Makes the TLS test captures of tls-decrypt: real OpenSSL (Python's ssl module)
on both ends over loopback, captured by tcpdump, the client writing an NSS key log.

One capture per (version, suite); in each, one connection on which the client sends
three requests and the server answers each with a body (the last one 100 kB, so
many records), and the client and server log exactly what they sent: the truth
the tests compare the decrypted bytes with (<name>.sent.json).

Run as root (tcpdump on lo): python3 make_captures.py
"""
import hashlib
import json
import os
import sys
import socket
import ssl
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [
    # name, max version, TLS 1.2 cipher string or TLS 1.3 suite
    ("tls12-aes128gcm", ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
    ("tls12-aes256gcm", ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384"),
    ("tls12-chacha20", ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305"),
    ("tls12-cbc", ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-SHA"),
    ("tls13-aes128gcm", ssl.TLSVersion.TLSv1_3, "TLS_AES_128_GCM_SHA256"),
    ("tls13-aes256gcm", ssl.TLSVersion.TLSv1_3, "TLS_AES_256_GCM_SHA384"),
    ("tls13-chacha20", ssl.TLSVersion.TLSv1_3, "TLS_CHACHA20_POLY1305_SHA256"),
]


def cert(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=lagtap.test"],
                   check=True, capture_output=True)
    return crt, key


def run(name, version, suite, crt, key, port):
    keylog = os.path.join(HERE, name + ".keys")
    pcap = os.path.join(HERE, name + ".pcap")
    for f in (keylog, pcap):
        if os.path.exists(f):
            os.remove(f)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-w", pcap,
                             f"tcp port {port}"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    sctx.maximum_version = version
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.maximum_version = version
    cctx.minimum_version = version
    if version == ssl.TLSVersion.TLSv1_2:
        sctx.set_ciphers(suite)
        cctx.set_ciphers(suite)
    # TLS 1.3 suites: Python's ssl cannot set them; main() runs this case in a
    # process whose OPENSSL_CONF offers only the one wanted.
    cctx.keylog_filename = keylog
    cctx.set_alpn_protocols(["http/1.1"])
    sctx.set_alpn_protocols(["http/1.1"])
    requests = [f"GET /{n} HTTP/1.1\r\nHost: lagtap.test\r\n\r\n".encode() for n in range(3)]
    bodies = [b"x" * 10, b"hello " * 100, bytes(range(256)) * 160]
    sent = {"client": [], "server": []}
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1)

    def serve():
        conn, _ = lsock.accept()
        with sctx.wrap_socket(conn, server_side=True) as s:
            for body in bodies:
                got = b""
                while not got.endswith(b"\r\n\r\n"):
                    got += s.recv(4096)
                resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                s.sendall(resp)
                sent["server"].append(resp.hex())
            s.recv(1)

    t = threading.Thread(target=serve)
    t.start()
    with cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                          server_hostname="lagtap.test") as c:
        for req, body in zip(requests, bodies):
            c.sendall(req)
            sent["client"].append(req.hex())
            want = len(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)) + len(body)
            got = 0
            while got < want:
                got += len(c.recv(65536))
        negotiated = {"version": c.version(), "cipher": c.cipher()[0]}
    t.join()
    lsock.close()
    time.sleep(1.0)
    dump.terminate()
    dump.wait()
    with open(os.path.join(HERE, name + ".sent.json"), "w") as f:
        streams = {k: bytes.fromhex("".join(v)) for k, v in sent.items()}
        json.dump({"negotiated": negotiated,
                   "sent": {k: {"bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()}
                            for k, v in streams.items()}}, f, indent=1)
    print(name, negotiated)


OPENSSL_CONF = """openssl_conf = conf
[conf]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
Ciphersuites = {suite}
"""


def main():
    if len(sys.argv) == 6:
        # One case, in its own process (see OPENSSL_CONF).
        name, version, suite, crt, key = sys.argv[1:]
        n = [c[0] for c in CASES].index(name)
        run(name, ssl.TLSVersion[version], suite, crt, key, 24430 + n)
        return
    with tempfile.TemporaryDirectory() as tmp:
        crt, key = cert(tmp)
        for name, version, suite in CASES:
            env = dict(os.environ)
            if version == ssl.TLSVersion.TLSv1_3:
                conf = os.path.join(tmp, "openssl.cnf")
                with open(conf, "w") as f:
                    f.write(OPENSSL_CONF.format(suite=suite))
                env["OPENSSL_CONF"] = conf
            subprocess.run([sys.executable, __file__, name, version.name, suite, crt, key],
                           env=env, check=True)


if __name__ == "__main__":
    main()
