"""HTTP ``Content-Encoding`` decoding with the output capped *while* decoding.

A 32 kB zstd body can inflate to 1 GB, and a decoder that returns "everything this chunk gives"
(what HTTP clients do) allocates all of it before any size check runs. Here every decoder yields
output in pieces of at most :data:`PIECE` bytes and the running total is checked after each
piece, so memory stays near ``limit + PIECE`` whatever the body claims to hold.

gzip and deflate use the standard library (``max_length``); brotli needs the ``brotli`` package
(1.2 or later: ``output_buffer_limit``); zstd needs ``zstandard`` (read through ``stream_reader``
in bounded reads). An encoding whose bounded decoder is not installed is refused, never decoded
without a bound.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator, Sequence

from carr_agent.errors import FetchError

#: The most bytes one decoding step may produce.
PIECE = 64 * 1024


class DecodedTooLarge(FetchError):
    """The decoded body grew past the limit (the decoding stopped there)."""


def decode_body(raw: bytes, encodings: Sequence[str], *, limit: int) -> bytes:
    """Undo ``encodings`` (in the order the header lists them) with output capped at ``limit``.

    Args:
        raw: the body as received.
        encodings: the ``Content-Encoding`` values, e.g. ``["gzip"]``; ``identity`` is skipped.
        limit: the most decoded bytes accepted (at every stage).

    Raises:
        DecodedTooLarge: a stage produced more than ``limit`` bytes.
        FetchError: an unknown encoding, one without a bounded decoder here, or corrupt data.
    """
    data = raw
    for name in reversed([e.strip().lower() for e in encodings if e.strip()]):
        if name == "identity":
            continue
        decoder = _DECODERS.get(name)
        if decoder is None:
            raise FetchError(f"unsupported content encoding {name!r}")
        data = _collect(decoder(data), limit, name)
    if len(data) > limit:
        raise DecodedTooLarge(f"the body is over the {limit}-byte limit")
    return data


def supported_encodings() -> tuple[str, ...]:
    """The encodings that can be decoded here (for ``Accept-Encoding``)."""
    names = ["gzip", "deflate"]
    if _brotli() is not None:
        names.append("br")
    if _zstandard() is not None:
        names.append("zstd")
    return tuple(names)


def _collect(pieces: Iterator[bytes], limit: int, name: str) -> bytes:
    out: list[bytes] = []
    size = 0
    try:
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise DecodedTooLarge(f"the {name}-decoded body is over the {limit}-byte limit "
                                      "(decoding stopped there)")
            out.append(piece)
    except DecodedTooLarge:
        raise
    except Exception as exc:  # zlib.error, brotli.error, zstd.ZstdError: corrupt data
        raise FetchError(f"corrupt {name}-encoded body: {exc}") from exc
    return b"".join(out)


def _zlib_pieces(data: bytes, wbits: int, *, members: bool) -> Iterator[bytes]:
    d = zlib.decompressobj(wbits)
    while True:
        piece = d.decompress(data, PIECE)
        data = d.unconsumed_tail
        if piece:
            yield piece
        if d.eof:
            rest = d.unused_data
            if members and rest.strip(b"\x00"):  # a gzip body may hold several members
                d, data = zlib.decompressobj(wbits), rest
                continue
            return
        if not data and not piece:
            return  # input spent, nothing buffered (a truncated stream ends here)


def _gzip(data: bytes) -> Iterator[bytes]:
    return _zlib_pieces(data, 16 + zlib.MAX_WBITS, members=True)


def _deflate(data: bytes) -> Iterator[bytes]:
    # "deflate" is meant to be zlib-wrapped; some servers send raw deflate
    try:
        zlib.decompressobj().decompress(data[:64], 1)
    except zlib.error:
        return _zlib_pieces(data, -zlib.MAX_WBITS, members=False)
    return _zlib_pieces(data, zlib.MAX_WBITS, members=False)


def _brotli() -> object | None:
    try:
        import brotli
    except ImportError:
        return None
    probe = brotli.Decompressor()
    return brotli if hasattr(probe, "can_accept_more_data") else None


def _br(data: bytes) -> Iterator[bytes]:
    module = _brotli()
    if module is None:
        raise FetchError("brotli-encoded body, but no bounded brotli decoder is installed "
                         "(pip install 'brotli>=1.2')")
    d = module.Decompressor()  # type: ignore[attr-defined]
    yield d.process(data, output_buffer_limit=PIECE)
    while piece := d.process(b"", output_buffer_limit=PIECE):  # empty input: drain the rest
        yield piece


def _zstandard() -> object | None:
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _zstd(data: bytes) -> Iterator[bytes]:
    module = _zstandard()
    if module is None:
        raise FetchError("zstd-encoded body, but the zstandard package is not installed")
    reader = module.ZstdDecompressor().stream_reader(  # type: ignore[attr-defined]
        io.BytesIO(data), read_across_frames=True)
    with reader:
        while piece := reader.read(PIECE):
            yield piece


_DECODERS: dict[str, Callable[[bytes], Iterator[bytes]]] = {
    "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _br, "zstd": _zstd,
}

__all__ = ["PIECE", "DecodedTooLarge", "decode_body", "supported_encodings"]
