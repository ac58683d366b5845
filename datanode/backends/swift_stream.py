"""An upload body read in pieces and cut into Swift segments, for the swift backend."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator


class BodySource:
    """An upload body read in pieces, cut into segments of at most ``limit`` bytes without copying more
    than one piece; remembers whether reading started (so a refused request can be retried) and the
    source's own exception (so a client's broken stream is reported as such)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks.__aiter__()
        self._pending: deque[bytes] = deque()
        self.ended = False
        self.started = False
        self.error: BaseException | None = None

    async def _next(self) -> bytes | None:
        if self._pending:
            return self._pending.popleft()
        if self.ended:
            return None
        self.started = True
        try:
            piece = await self._chunks.__anext__()
        except StopAsyncIteration:
            self.ended = True
            return None
        except BaseException as error:
            self.error = error
            raise
        return bytes(piece)

    async def has_more(self) -> bool:
        while True:
            piece = await self._next()
            if piece is None:
                return False
            if piece:
                self._pending.appendleft(piece)
                return True

    async def buffer(self, limit: int) -> tuple[list[bytes], int]:
        """Up to ``limit + one piece`` bytes read ahead, kept for the next ``take``."""
        pieces: list[bytes] = []
        total = 0
        while total <= limit:
            piece = await self._next()
            if piece is None:
                break
            pieces.append(piece)
            total += len(piece)
        self._pending.extendleft(reversed(pieces))
        return pieces, total

    async def take(self, limit: int, counter: list[int]) -> AsyncIterator[bytes]:
        """The next ``limit`` bytes (fewer at the end); ``counter[0]`` grows by what was yielded."""
        remaining = limit
        while remaining > 0:
            piece = await self._next()
            if piece is None:
                return
            if len(piece) > remaining:
                self._pending.appendleft(piece[remaining:])
                piece = piece[:remaining]
            remaining -= len(piece)
            counter[0] += len(piece)
            yield piece
