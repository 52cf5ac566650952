"""A PostgreSQL peer for what the test server cannot do: it trusts every local connection,
so refusing a password needs a server of its own. This one speaks just enough of the wire
protocol (version 3) to ask for the password and refuse it as PostgreSQL does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

SSL_REQUEST = 80877103


def _i32(value: int) -> bytes:
    return value.to_bytes(4, "big")


@asynccontextmanager
async def refusing_password() -> AsyncIterator[int]:
    """A PostgreSQL server (wire protocol 3) on loopback that asks for the password and
    refuses it as PostgreSQL does (SQLSTATE 28P01); yields its port."""

    async def read_message(reader: asyncio.StreamReader) -> bytes:
        length = int.from_bytes(await reader.readexactly(4), "big")
        return await reader.readexactly(length - 4)

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if int.from_bytes((await read_message(reader))[:4], "big") == SSL_REQUEST:
                writer.write(b"N")  # no TLS here; the client goes on in plain text
                await read_message(reader)  # the startup message
            writer.write(b"R" + _i32(8) + _i32(3))  # AuthenticationCleartextPassword
            await writer.drain()
            await reader.readexactly(1)  # 'p'
            await read_message(reader)
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "ana"\0\0'
            writer.write(b"E" + _i32(len(fields) + 4) + fields)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
