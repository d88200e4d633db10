#!/usr/bin/env python3
"""Writes tests/fixtures/files/: one small, real sample of every attachment
type Liaison accepts, and files that lie about their type.

Python's standard library only (no Pillow, no ffmpeg): each container is
written by hand, minimal but well-formed, so that a viewer opens it and a
content sniffer (the `infer` crate, in shared/src/attachments/sniff.rs)
knows it by its real signature:

  sample.png   1x1 RGB PNG (IHDR, IDAT, IEND; zlib, CRCs)
  sample.jpg   8x8 grey baseline JPEG (SOI, DQT, SOF0, DHT, SOS, EOI)
  sample.gif   1x1 GIF89a
  sample.webp  1x1 lossless WebP (RIFF/WEBP/VP8L)
  sample.mp4   ISO base media file: ftyp (isom) + moov/mvhd + mdat
  sample.mov   QuickTime: ftyp (qt  ) + moov/mvhd + mdat
  sample.webm  EBML header (DocType webm) + Segment/Info
  sample.pdf   one empty page, with a correct xref table
  sample.zip   one text file (zipfile)

and the spoofs, each named as what it claims to be:

  spoof-html.png  an HTML page
  spoof-elf.pdf   an ELF executable header, with "%PDF-1.4" inside
  spoof-exe.pdf   a PE (MZ) executable header, with "%PDF-1.4" inside
  spoof-text.mp4  plain text

Run it again to regenerate; the output is deterministic (committed).
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "files"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    raw = b"\x00" + b"\xe6\x4a\x19"  # filter 0, one orange pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes([1] * 64)  # table 0, 8-bit, all ones
    sof0 = struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"  # 8x8, 1 component
    # One-code Huffman tables: DC category 0 is "0", AC end-of-block is "0".
    one_code = bytes([1] + [0] * 15)
    dht = b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    # One block: DC diff 0 ("0"), EOB ("0"), padded with 1-bits.
    scan = b"\x3f"
    return (
        b"\xff\xd8"
        + segment(0xE0, app0)
        + segment(0xDB, dqt)
        + segment(0xC0, sof0)
        + segment(0xC4, dht)
        + segment(0xDA, sos)
        + scan
        + b"\xff\xd9"
    )


def gif() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00"  # 1x1, 2-colour global table
        b"\xff\xff\xff\x00\x00\x00"
        b"!\xf9\x04\x01\x00\x00\x00\x00"  # transparent
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00"
        b"\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    # The 1x1 lossless image browsers' feature tests decode.
    return base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mvhd() -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    body = (
        struct.pack(">I", 0)  # version 0, flags
        + struct.pack(">IIII", 0, 0, 1000, 0)  # created, modified, timescale, duration
        + struct.pack(">IH", 0x10000, 0x100)  # rate 1.0, volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 1)  # next track id
    )
    return box(b"mvhd", body)


def iso_media(brand: bytes, compatible: list[bytes]) -> bytes:
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0x200) + b"".join(compatible))
    return ftyp + box(b"moov", mvhd()) + box(b"mdat", b"")


def ebml(element_id: bytes, payload: bytes) -> bytes:
    # Sizes below 2^56 - 1 as an 8-byte vint.
    return element_id + bytes([0x01]) + len(payload).to_bytes(7, "big") + payload


def ebml_uint(element_id: bytes, value: int) -> bytes:
    data = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return element_id + bytes([0x80 | len(data)]) + data


def ebml_string(element_id: bytes, value: bytes) -> bytes:
    return element_id + bytes([0x80 | len(value)]) + value


def webm() -> bytes:
    header = (
        b"\x1a\x45\xdf\xa3"
        + bytes([0x80 | 0x1F])
        + ebml_uint(b"\x42\x86", 1)  # EBMLVersion
        + ebml_uint(b"\x42\xf7", 1)  # EBMLReadVersion
        + ebml_uint(b"\x42\xf2", 4)  # EBMLMaxIDLength
        + ebml_uint(b"\x42\xf3", 8)  # EBMLMaxSizeLength
        + ebml_string(b"\x42\x82", b"webm")  # DocType
        + ebml_uint(b"\x42\x87", 4)  # DocTypeVersion
        + ebml_uint(b"\x42\x85", 2)  # DocTypeReadVersion
    )
    assert len(header) == 5 + 0x1F, len(header)
    info = ebml(
        b"\x15\x49\xa9\x66",
        ebml_uint(b"\x2a\xd7\xb1", 1_000_000)  # TimestampScale
        + ebml_string(b"\x4d\x80", b"liaison-fixture")  # MuxingApp
        + ebml_string(b"\x57\x41", b"liaison-fixture"),  # WritingApp
    )
    void = b"\xec" + bytes([0x40 | 0x01, 0x00]) + bytes(256)  # Void, 256 bytes
    return header + ebml(b"\x18\x53\x80\x67", info + void)


def pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("brief.txt", date_time=(2026, 11, 30, 12, 0, 0))
        z.writestr(info, "The Hook scene needs a softer opening.\n" * 4)
    return buf.getvalue()


def elf() -> bytes:
    header = (
        b"\x7fELF\x02\x01\x01\x00"
        + bytes(8)
        + struct.pack("<HHI", 2, 0x3E, 1)  # executable, x86-64, version 1
        + bytes(64 - 24)
    )
    return header + b"%PDF-1.4\n" + bytes(64)


def exe() -> bytes:
    dos = bytearray(b"MZ" + bytes(62))
    struct.pack_into("<I", dos, 0x3C, 64)  # e_lfanew: the PE header follows
    return bytes(dos) + b"PE\x00\x00" + bytes(20) + b"%PDF-1.4\n" + bytes(64)


FILES = {
    "sample.png": png,
    "sample.jpg": jpeg,
    "sample.gif": gif,
    "sample.webp": webp,
    "sample.mp4": lambda: iso_media(b"isom", [b"isom", b"iso2", b"mp41"]),
    "sample.mov": lambda: iso_media(b"qt  ", [b"qt  "]),
    "sample.webm": webm,
    "sample.pdf": pdf,
    "sample.zip": zip_file,
    "spoof-html.png": lambda: b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>\n",
    "spoof-elf.pdf": elf,
    "spoof-exe.pdf": exe,
    "spoof-text.mp4": lambda: b"just some text, not a video\n" * 4,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        (OUT / name).write_bytes(make())
        print(f"{name}: {len((OUT / name).read_bytes())} bytes")


if __name__ == "__main__":
    main()
