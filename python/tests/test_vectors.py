"""The published codec test vectors (schemas/test-vectors/, written by trw's encoders;
Tests/TRWCodecTests/TestVectorTests.swift checks them in Swift) decode exactly in Python,
and damage is always an error, never a wrong value."""
import json
import os

import numpy as np
import pytest

import trw
from readerpaths import VECTORS


def load():
    with open(os.path.join(VECTORS, "vectors.json")) as f:
        doc = json.load(f)
    assert doc["format"] == "trw-codec-test-vectors-1"
    out = []
    for v in doc["vectors"]:
        with open(os.path.join(VECTORS, v["file"]), "rb") as f:
            payload = f.read()
        assert len(payload) == v["payload_bytes"], v["name"]
        out.append((v, payload))
    return out


VECS = load()
IDS = [v["name"] for v, _ in VECS]


def decode(v, payload):
    if v["table"] == "thermal_frame":
        return trw.decode_frame(payload, v["codec"], v["width"], v["height"])
    return trw.decode_pcm(payload, v["codec"], v["channels"], v["frame_count"])


def test_every_codec_has_a_vector():
    assert {v["codec"] for v, _ in VECS} == {
        "raw16le", "delta16-shuffle-zstd1", "pfit16-zstd-v1", "pfit16-zstd-v2", "raw16le-crc32c",
        "pcm-raw-s32le", "pcm-fixed-zstd-v1", "pcm-fixed-zstd-v2", "pcm-raw-s32le-crc32c"}


@pytest.mark.parametrize("v,payload", VECS, ids=IDS)
def test_vector_decodes_exactly(v, payload):
    got = decode(v, payload)
    if v["table"] == "thermal_frame":
        want = np.array(v["pixels"], dtype=np.uint16).reshape(v["height"], v["width"])
        assert got.dtype == np.uint16 and got.shape == want.shape
    else:
        want = np.array(v["samples"], dtype=np.int64).reshape(v["frame_count"], v["channels"])
        assert got.dtype == np.int32 and got.shape == want.shape
    assert np.array_equal(got.astype(np.int64), want.astype(np.int64))


def test_vectors_cover_the_edge_values():
    frames = [np.array(v["pixels"]) for v, _ in VECS if v["table"] == "thermal_frame"]
    assert any((f == 0).any() for f in frames) and any((f == 65535).any() for f in frames)
    assert any(v["width"] % 2 == 1 and v["height"] % 2 == 1 for v, _ in VECS if v["table"] == "thermal_frame")
    pcm = [v for v, _ in VECS if v["table"] == "audio_chunk"]
    samples = np.concatenate([np.array(v["samples"], dtype=np.int64) for v in pcm])
    assert samples.min() == -2**31 and samples.max() == 2**31 - 1
    assert {1, 2} <= {v["channels"] for v in pcm}
    assert any(v["sample_range"] == "S16" and -32768 in v["samples"] and 32767 in v["samples"] for v in pcm)


@pytest.mark.parametrize("v,payload", [(v, p) for v, p in VECS if v["codec"].endswith(("-v2", "-crc32c"))],
                         ids=[v["name"] for v, _ in VECS if v["codec"].endswith(("-v2", "-crc32c"))])
def test_checksummed_vector(v, payload):
    # The trailer is the CRC-32C of the bytes before it, little-endian.
    assert int.from_bytes(payload[-4:], "little") == trw.crc32c(payload[:-4])
    for i in range(len(payload)):
        for bit in (0x01, 0x80):
            bad = bytearray(payload)
            bad[i] ^= bit
            with pytest.raises(trw.ChecksumError, match="CRC-32C"):
                decode(v, bytes(bad))


@pytest.mark.parametrize("v,payload", VECS, ids=IDS)
def test_every_truncation_is_an_error(v, payload):
    for n in range(len(payload)):
        with pytest.raises(trw.CodecError):
            decode(v, payload[:n])


def test_crc32c_check_value():
    assert trw.crc32c(b"123456789") == 0xE3069283
    assert trw.crc32c(b"") == 0


def test_bad_arguments_are_named():
    v, payload = next((v, p) for v, p in VECS if v["name"] == "frame-9x5-interior")
    with pytest.raises(trw.CodecError, match="payload is 9x5, expected 5x9"):
        trw.decode_frame(payload, v["codec"], 5, 9)
    with pytest.raises(trw.CodecError, match='unknown codec "pfit16-zstd-v9"'):
        trw.decode_frame(payload, "pfit16-zstd-v9", 9, 5)
    with pytest.raises(trw.TrwError, match="width is 0"):
        trw.decode_frame(payload, v["codec"], 0, 5)
    with pytest.raises(trw.TrwError, match="channels is 256"):
        trw.decode_pcm(payload, "pcm-fixed-zstd-v2", 256, 1)
