"""A small TCP proxy for tests: clients connect to it on a free loopback port, it
forwards to a loopback target (PostgreSQL on 127.0.0.1:5432 by default), and a
test can cut the line and restore it.

    with TcpProxy() as proxy:                 # started, on proxy.port
        dsn = proxy.dsn(base_dsn)             # the same DSN, through the proxy
        ...
        proxy.cut("refuse")      # every proxied connection closed, new ones refused
        proxy.cut("blackhole")   # connections held open, nothing forwarded either way;
                                 # new ones accepted and held (as a partition looks
                                 # to a client: its writes are acknowledged, nothing answers)
        proxy.restore()          # new connections go through again; held ones resume

Notes for outage tests:
- "refuse" closes connections with an RST and closes the listening socket, so
  a reconnect gets ECONNREFUSED at once; `restore()` listens on the same port again.
- "blackhole": the proxy's kernel still acknowledges what clients send, so TCP
  keepalives and tcp_user_timeout do not fire; clients notice only through
  their own timeouts (statement_timeout, connect_timeout). What was sent
  during the cut is delivered after `restore()` (bytes are never dropped), as
  when a real partition heals before TCP gives up.
- Bounded: only loopback addresses, and the proxy closes itself after
  `max_lifetime` seconds (default 300) even if a test forgets to.

Threads only (one for accepting, one per connection); nothing here raises into
a test from a thread.
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import struct
import threading
import time

import psycopg

REFUSE, BLACKHOLE = "refuse", "blackhole"
_CHUNK = 65536
_BUFFER_LIMIT = 1 << 20      # stop reading a side while this much waits to be written to the other
_TICK = 0.05                 # how often threads look at the proxy's state


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reset(sock: socket.socket) -> None:
    """Closes with an RST (SO_LINGER 0): the peer sees the connection reset, not a clean end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Pair:
    """One client connection and its upstream connection, pumped by one thread."""

    def __init__(self, proxy: TcpProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"tcp-proxy-{proxy.port}", daemon=True)

    def close(self, wait: float = 2.0) -> None:
        """Asks the pair's thread to reset both sockets (it owns them), and waits for that."""
        self.closed.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(wait)

    def _run(self) -> None:
        try:
            self._pump()
        except Exception:  # the peer went away, or a socket error: the pair ends
            pass
        finally:
            self.closed.set()
            _reset(self.client)
            if self.upstream is not None:
                _reset(self.upstream)
            self.proxy._forget(self)

    def _pump(self) -> None:
        proxy = self.proxy
        # A connection accepted during a blackhole waits, unconnected, until restore.
        while proxy._mode == BLACKHOLE and not self.closed.is_set():
            time.sleep(_TICK)
        if self.closed.is_set() or proxy._mode == REFUSE:
            return
        self.upstream = socket.create_connection((proxy.target_host, proxy.target_port), timeout=5)
        self.upstream.settimeout(None)
        for sock in (self.client, self.upstream):
            sock.setblocking(False)
        peer = {self.client: self.upstream, self.upstream: self.client}
        pending = {self.client: bytearray(), self.upstream: bytearray()}  # bytes to write to that socket
        ended: set[socket.socket] = set()   # sides that sent EOF
        while not self.closed.is_set():
            if proxy._mode == BLACKHOLE:
                time.sleep(_TICK)           # neither read nor write: everything waits in the kernel
                continue
            readers = [s for s in (self.client, self.upstream)
                       if s not in ended and len(pending[peer[s]]) < _BUFFER_LIMIT]
            writers = [s for s in (self.client, self.upstream) if pending[s]]
            if not readers and not writers:
                return                      # both sides ended and everything was delivered
            readable, writable, _ = select.select(readers, writers, [], _TICK)
            for sock in readable:
                try:
                    data = sock.recv(_CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    ended.add(sock)
                    if not pending[peer[sock]]:
                        peer[sock].shutdown(socket.SHUT_WR)
                    continue
                pending[peer[sock]] += data
            for sock in writable:
                try:
                    sent = sock.send(pending[sock])
                except (BlockingIOError, InterruptedError):
                    continue
                del pending[sock][:sent]
                if not pending[sock] and peer[sock] in ended:
                    sock.shutdown(socket.SHUT_WR)
            if ended and len(ended) == 2 and not any(pending.values()):
                return


class TcpProxy:
    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432, *,
                 listen_host: str = "127.0.0.1", port: int = 0, max_lifetime: float = 300.0) -> None:
        if not (_loopback(target_host) and _loopback(listen_host)):
            raise ValueError("TcpProxy only listens on and forwards to loopback addresses "
                             f"(got {listen_host} -> {target_host})")
        if max_lifetime <= 0:
            raise ValueError("max_lifetime must be positive")
        self.target_host, self.target_port = target_host, target_port
        self.listen_host = listen_host
        self.port = port
        self.max_lifetime = max_lifetime
        self.accepted = 0                    # connections accepted so far
        self._mode: str | None = None        # None: forwarding; REFUSE or BLACKHOLE: cut
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._closed = threading.Event()
        self._timer: threading.Timer | None = None

    # ---------------------------------------------------------------- control

    def start(self) -> TcpProxy:
        self._listen()
        self._timer = threading.Timer(self.max_lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()
        return self

    def cut(self, mode: str = REFUSE) -> None:
        """REFUSE: close every proxied connection (reset) and refuse new ones.
        BLACKHOLE: hold every connection, old and new, forwarding nothing."""
        if mode not in (REFUSE, BLACKHOLE):
            raise ValueError(f"mode must be {REFUSE!r} or {BLACKHOLE!r} (got {mode!r})")
        with self._lock:
            self._mode = mode
            pairs = list(self._pairs)
        if mode == REFUSE:
            self._stop_listening()
            for pair in pairs:
                pair.closed.set()
            for pair in pairs:
                pair.close()

    def restore(self) -> None:
        """Forwards again: new connections go through, held ones resume."""
        if self._closed.is_set():
            raise RuntimeError("the proxy was closed")
        with self._lock:
            self._mode = None
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        """Stops everything; idempotent (also called when max_lifetime runs out)."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._mode = REFUSE
            pairs = list(self._pairs)
        self._stop_listening()
        for pair in pairs:
            pair.closed.set()
        for pair in pairs:
            pair.close()

    def __enter__(self) -> TcpProxy:
        return self.start() if self._listener is None and not self._closed.is_set() else self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- facts

    @property
    def connections(self) -> int:
        """Proxied connections open now."""
        with self._lock:
            return len(self._pairs)

    @property
    def mode(self) -> str | None:
        return self._mode

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def dsn(self, dsn: str) -> str:
        """`dsn` (a libpq key=value string or URL) with host and port pointing at the proxy."""
        params = psycopg.conninfo.conninfo_to_dict(dsn)
        params.update(host=self.listen_host, port=str(self.port))
        params.pop("hostaddr", None)
        return psycopg.conninfo.make_conninfo(**params)

    # ---------------------------------------------------------------- inside

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                sock.bind((self.listen_host, self.port))
                break
            except OSError as error:  # the same port again after a cut: it may linger a moment
                if error.errno != errno.EADDRINUSE or self.port == 0 or time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(0.05)
        sock.listen(128)
        sock.settimeout(_TICK)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._acceptor = threading.Thread(target=self._accept, args=(sock,), daemon=True,
                                          name=f"tcp-proxy-accept-{self.port}")
        self._acceptor.start()

    def _stop_listening(self) -> None:
        sock, self._listener = self._listener, None
        acceptor, self._acceptor = self._acceptor, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        if acceptor is not None and acceptor is not threading.current_thread():
            acceptor.join(2)

    def _accept(self, sock: socket.socket) -> None:
        while self._listener is sock and not self._closed.is_set():
            try:
                client, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            client.settimeout(None)
            with self._lock:
                if self._mode == REFUSE or self._closed.is_set():
                    _reset(client)
                    continue
                pair = _Pair(self, client)
                self._pairs.add(pair)
                self.accepted += 1
                pair.thread.start()

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
