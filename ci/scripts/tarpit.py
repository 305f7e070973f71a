"""Accept TLS connections on port 443 and hold them open without a byte.

curl's TLS handshake then stalls until its --max-time, like an init-script host that hangs; the
restart scenario points INIT_SCRIPT_URL here.
"""

import socket

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 443))  # noqa: S104 - a test service on the engine's private network
server.listen(64)
held = []
while True:
    held.append(server.accept()[0])
