"""`trw export-wav` read back with libsndfile (the `soundfile` package): a time window, RF64
(forced on a small file: the header logic without writing 4 GiB), the LIST/INFO metadata,
and samples compared bit-exactly with the session's. The session's AE chunks are rewritten
as `pcm-raw-s32le` payloads of known values (sqlite3 alone), so the expected samples do not
come from trw's own decoder."""
import os
import re
import sqlite3
import subprocess
import tempfile

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRW = os.environ.get("TRW_BIN", os.path.join(ROOT, ".build", "debug", "trw"))


def trw(*args, cwd, check=True):
    p = subprocess.run([TRW, *args], cwd=cwd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"trw {' '.join(args)} failed ({p.returncode}): {p.stderr}{p.stdout}")
    return p


@pytest.fixture(scope="module")
def session():
    with tempfile.TemporaryDirectory() as d:
        trw("record", "--rig", "synthetic", "--name", "a", "--duration", "3", "--max", "--quiet", cwd=d)
        path = os.path.join(d, "sessions", "a.sqlite")
        con = sqlite3.connect(path)
        (rate, ch, fmt), = con.execute("SELECT nominal_rate_hz, channels, sample_format FROM stream WHERE key = 'ae0'").fetchall()
        assert (int(rate), ch, fmt) == (96000, 1, "S32_LE")
        rng = np.random.default_rng(5)
        chunks = con.execute("SELECT c.id, c.first_sample_index, c.frame_count, c.t_ns FROM audio_chunk c "
                             "JOIN stream s ON s.id = c.stream_id WHERE s.key = 'ae0' ORDER BY c.first_sample_index").fetchall()
        samples = {}
        for cid, first, n, t_ns in chunks:
            v = rng.integers(-2**31, 2**31, size=n * ch, dtype=np.int64).astype(np.int32)
            samples[first] = (t_ns, v)
            con.execute("UPDATE audio_chunk SET codec = 'pcm-raw-s32le', payload = ? WHERE id = ?", (v.astype("<i4").tobytes(), cid))
        con.commit()
        (start_utc, end_ns), = con.execute("SELECT start_utc, end_t_ns FROM session").fetchall()
        con.close()
        yield d, path, int(rate), samples, start_utc, end_ns


def expected(samples, rate, from_ns=None, to_ns=None):
    """The window's samples: sample i of a chunk is at t_ns + round(i * 1e9 / rate)."""
    out, first_t = [], None
    for first in sorted(samples):
        t_ns, v = samples[first]
        t = t_ns + np.round(np.arange(len(v)) * 1e9 / rate).astype(np.int64)
        keep = np.ones(len(v), bool)
        if from_ns is not None:
            keep &= t >= from_ns
        if to_ns is not None:
            keep &= t < to_ns
        if keep.any() and first_t is None:
            first_t = t[keep][0]
        out.append(v[keep])
    return np.concatenate(out), first_t


def test_whole_stream_is_bit_exact(session):
    d, path, rate, samples, start_utc, _ = session
    out = trw("export-wav", path, "--out", os.path.join(d, "all-"), cwd=d).stdout
    data, sr = sf.read(os.path.join(d, "all-ae0.wav"), dtype="int32")
    want, _ = expected(samples, rate)
    assert sr == rate and np.array_equal(data, want)
    assert f"wrote {os.path.join(d, 'all-ae0.wav')}: {len(want)} frames" in out


def test_window_rf64_and_metadata(session):
    d, path, rate, samples, start_utc, _ = session
    out = trw("export-wav", path, "--from", "1.25", "--to", "2.5", "--rf64", "--out", os.path.join(d, "w-"), cwd=d).stdout
    f = os.path.join(d, "w-ae0.wav")
    head = open(f, "rb").read(64)
    assert head[:4] == b"RF64" and head[8:16] == b"WAVEds64"
    assert int.from_bytes(head[4:8], "little") == 0xFFFFFFFF
    riff64, data64, count64 = (int.from_bytes(head[20 + 8 * k:28 + 8 * k], "little") for k in range(3))
    assert riff64 == os.path.getsize(f) - 8
    want, first_t = expected(samples, rate, 1_250_000_000, 2_500_000_000)
    assert data64 == 4 * len(want) and count64 == len(want)
    with sf.SoundFile(f) as s:
        assert s.format == "RF64" and s.samplerate == rate and s.frames == len(want)
        comment = s.comment
        data = s.read(dtype="int32")
    assert np.array_equal(data, want)
    assert abs(len(want) - 1.25 * rate) <= 1
    assert "(RF64)" in out and f"{len(want)} frames" in out
    # The metadata: session start, window, first sample's session time, method.
    assert start_utc in comment
    assert "window t = 1.250000 to 2.500000 s" in comment
    m = re.search(r"first sample at t = ([0-9.]+) s", comment)
    assert m and abs(float(m.group(1)) * 1e9 - first_t) < 1
    assert "raw samples" in comment


def test_stretch_keeps_samples_and_says_so(session):
    d, path, rate, samples, _, _ = session
    trw("export-wav", path, "--from", "0.5", "--to", "1.0", "--audible", "stretch:8", "--out", os.path.join(d, "s-"), cwd=d)
    with sf.SoundFile(os.path.join(d, "s-ae0-stretch.wav")) as s:
        assert s.samplerate == rate // 8 and s.format == "WAVEX"  # S32: WAVE_FORMAT_EXTENSIBLE
        assert "time stretch, factor 8" in s.comment
        data = s.read(dtype="int32")
    assert np.array_equal(data, expected(samples, rate, 500_000_000, 1_000_000_000)[0])


def test_heterodyne_moves_a_tone_into_hearing_range():
    # A fresh synthetic session (its samples untouched): the rig's 50 kHz tone.
    with tempfile.TemporaryDirectory() as d2:
        trw("record", "--rig", "synthetic", "--name", "t", "--duration", "2", "--max", "--quiet", cwd=d2)
        p2 = os.path.join(d2, "sessions", "t.sqlite")
        out = trw("export-wav", p2, "--from", "0.2", "--to", "1.2", "--audible", "heterodyne:41", "--out", os.path.join(d2, "h-"), cwd=d2).stdout
        with sf.SoundFile(os.path.join(d2, "h-ae0-heterodyne.wav")) as s:
            assert s.samplerate == 48000
            assert "heterodyne, local oscillator 41.000 kHz" in s.comment
            x = s.read(dtype="float64")
        assert abs(len(x) - 48000) <= 1 and "48000 Hz" in out
        # The rig's "50 kHz" tone, sampled at 96 kHz, is at 96 - 50 = 46 kHz: heard at 5 kHz, the
        # strongest component of 0.2 s between its 35 kHz bursts (every 0.5 s, 2 ms long; the
        # loudest sample marks one), with no image (46 + 41 = 87 kHz, folded to 9 kHz).
        ib = int(np.argmax(np.abs(x)))
        seg = x[ib + 2400:ib + 12000] if ib + 12000 <= len(x) else x[ib - 12000:ib - 2400]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        freqs = np.fft.rfftfreq(len(seg), 1 / 48000)
        assert abs(freqs[np.argmax(spec)] - 5000) <= 5
        assert spec[np.argmin(np.abs(freqs - 9000))] < 0.01 * spec.max()
        # Its level: 0.3 % of full scale (single sideband keeps the amplitude), within 5 %.
        assert abs(np.sqrt(2) * np.std(seg) - 0.003) < 0.00015


@pytest.mark.parametrize("args, message", [
    (["--from", "2", "--to", "1"], "is not before --to"),
    (["--from=-1"], "is not a time"),
    (["--to", "99"], "outside the session"),
    (["--audible", "heterodyne:60"], "Nyquist"),
    (["--audible", "stretch:0.5"], "factor above 1"),
    (["--audible", "wobble"], "is not heterodyne"),
])
def test_bad_options_are_refused(session, args, message):
    d, path, *_ = session
    p = trw("export-wav", path, *args, "--out", os.path.join(d, "bad-"), cwd=d, check=False)
    assert p.returncode != 0
    assert message in p.stderr + p.stdout
    assert not os.path.exists(os.path.join(d, "bad-ae0.wav"))
