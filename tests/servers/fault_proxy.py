"""A small asyncio TCP proxy that breaks connections on purpose (toxiproxy's useful toxics).

``FaultProxy(target_port)`` listens on 127.0.0.1 and forwards to 127.0.0.1:target_port.
Faults apply to the first ``faulty`` connections only, so a retry can get through:

- ``cut_after=N``: close both sides once N bytes went client -> server;
- ``stall_after=N``: stop forwarding (both ways) after N client -> server bytes, keep the
  sockets open (a hung peer);
- ``drop=True``: close each faulty connection as soon as it is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from tests.servers.loop import LoopThread


@dataclass
class Faults:
    cut_after: int | None = None
    stall_after: int | None = None
    drop: bool = False
    faulty: int = 1_000_000  # how many connections get the fault


class FaultProxy:
    def __init__(self, target_port: int, faults: Faults | None = None) -> None:
        self.target_port = target_port
        self.faults = faults or Faults()
        self.connections = 0
        self.client_bytes: list[int] = []
        self._loop = LoopThread("fault-proxy")
        self._server = self._loop.run(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        self.client_bytes.append(0)
        faulty = index < self.faults.faulty
        if faulty and self.faults.drop:
            c_writer.close()
            return
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        stalled = asyncio.Event()

        async def upstream() -> None:
            while data := await c_reader.read(16384):
                limit = None
                if faulty:
                    limit = self.faults.cut_after if self.faults.cut_after is not None \
                        else self.faults.stall_after
                if limit is not None and self.client_bytes[index] + len(data) >= limit:
                    allowed = max(0, limit - self.client_bytes[index])
                    s_writer.write(data[:allowed])
                    self.client_bytes[index] += allowed
                    if self.faults.cut_after is not None:
                        return
                    stalled.set()
                    await asyncio.sleep(3600)
                s_writer.write(data)
                self.client_bytes[index] += len(data)
                await s_writer.drain()

        async def downstream() -> None:
            while data := await s_reader.read(16384):
                if stalled.is_set():
                    await asyncio.sleep(3600)
                c_writer.write(data)
                await c_writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (c_writer, s_writer):
            with contextlib.suppress(Exception):
                writer.transport.abort()

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()

        with contextlib.suppress(Exception):
            self._loop.run(shutdown(), timeout=5)
        self._loop.stop()


class SilentServer:
    """Accepts TCP connections and never says anything (an SSH server with no banner)."""

    def __init__(self) -> None:
        self._loop = LoopThread("silent-server")
        self._writers: list[asyncio.StreamWriter] = []
        self._server = self._loop.run(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        """How many connections it has accepted."""
        return len(self._writers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(Exception):
            while await reader.read(4096):
                pass

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for writer in self._writers:
                writer.transport.abort()

        with contextlib.suppress(Exception):
            self._loop.run(shutdown(), timeout=5)
        self._loop.stop()
