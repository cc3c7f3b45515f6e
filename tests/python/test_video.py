"""`trw video` on a short simulated session: ffprobe reports the frame count, duration and
size the options ask for; bad windows and a missing or failing ffmpeg are refused with
clear errors and no video."""
import json
import os
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRW = os.environ.get("TRW_BIN", os.path.join(ROOT, ".build", "debug", "trw"))


def trw(*args, cwd, check=True, env=None):
    p = subprocess.run([TRW, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"trw {' '.join(args)} failed ({p.returncode}): {p.stderr}{p.stdout}")
    return p


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames,r_frame_rate,pix_fmt:format=duration",
                          "-of", "json", path], check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return j["streams"][0], float(j["format"]["duration"])


@pytest.fixture(scope="module")
def session():
    with tempfile.TemporaryDirectory() as d:
        trw("record", "--rig", "synthetic", "--name", "v", "--duration", "4", "--max", "--quiet", cwd=d)
        trw("label", "add", "sessions/v.sqlite", "venting", "1.0", "--author", "ana", cwd=d)
        yield d, os.path.join(d, "sessions", "v.sqlite")


def test_frame_count_duration_and_size(session):
    d, path = session
    out = os.path.join(d, "a.mp4")
    p = trw("video", path, "-o", out, "--from", "0.5", "--to", "3.5", "--speed", "2", "--fps", "20", cwd=d)
    s, duration = probe(out)
    # 3 s of session at speed 2 is 1.5 s of video: 30 frames at 20 fps.
    assert s["codec_name"] == "h264" and s["pix_fmt"] == "yuv420p"
    assert int(s["nb_read_frames"]) == 30 and s["r_frame_rate"] == "20/1"
    assert abs(duration - 1.5) < 0.06
    # The synthetic rig's 160x120 frame and a 100 px colour-bar panel.
    assert (s["width"], s["height"]) == (260, 120)
    assert "wrote " + out + ": 30 frames 260x120 at 20 fps" in p.stdout
    assert "labels: ana (the only set), 1 shown" in p.stdout


def test_colours_decode_to_inferno(session):
    """A player's RGB from the video's samples (BT.601, tagged in the file) is matplotlib's
    inferno: the colour bar's column, top (300 °C) to bottom (20 °C), within a few levels
    (4:2:0 chroma and H.264 at crf 18)."""
    import csv
    d, path = session
    out = os.path.join(d, "c.mp4")
    trw("video", path, "-o", out, "--to", "1", cwd=d)
    W, H = 260, 120
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", out, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    assert len(raw) == W * H * 3
    with open(os.path.join(ROOT, "schemas", "colormaps", "inferno.csv")) as f:
        table = [(int(r["r"]), int(r["g"]), int(r["b"])) for r in csv.DictReader(f)]
    # The layout of IRVideo.Layout at 120 rows (font scale 1): bar x 172...189, y 23...111.
    bar_x, top, bottom = 172 + 9, 14 + 9, H - 4 - 4
    worst = 0
    for y in range(top + 2, bottom - 2, 6):
        frac = (bottom - 1 - y) / (bottom - top - 1)
        want = table[min(255, max(0, int(frac * 256)))]
        i = (y * W + bar_x) * 3
        got = raw[i:i + 3]
        worst = max(worst, *(abs(a - b) for a, b in zip(got, want)))
    assert worst <= 8, worst
    s, _ = probe(out)
    meta = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=color_range,color_space", "-of", "json", out],
                                     check=True, capture_output=True, text=True).stdout)["streams"][0]
    assert meta == {"color_range": "tv", "color_space": "smpte170m"}


def test_auto_scale_and_whole_session(session):
    d, path = session
    out = os.path.join(d, "b.mp4")
    p = trw("video", path, "-o", out, "--scale", "auto", "--fps", "10", "--speed", "4", cwd=d)
    s, _ = probe(out)
    assert int(s["nb_read_frames"]) == 10  # 4 s at speed 4 and 10 fps
    assert "(auto)" in p.stdout and "inferno" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--from", "3", "--to", "2"], "window"),
    (["--to", "60"], "outside the session"),
    (["--from=-2"], "is not a time"),
    (["--fps", "0"], "--fps"),
    (["--min", "300", "--max", "20"], "must be below"),
    (["--scale", "log"], "--scale"),
])
def test_bad_options_are_refused(session, args, message):
    d, path = session
    out = os.path.join(d, "bad.mp4")
    p = trw("video", path, "-o", out, *args, cwd=d, check=False)
    assert p.returncode != 0 and message in p.stderr
    assert not os.path.exists(out)


def test_missing_ffmpeg_is_a_clear_error(session):
    d, path = session
    out = os.path.join(d, "none.mp4")
    p = trw("video", path, "-o", out, cwd=d, check=False, env={**os.environ, "PATH": "/nonexistent"})
    assert p.returncode == 1 and "needs ffmpeg" in p.stderr and "scripts/install-deps.sh" in p.stderr
    assert not os.path.exists(out)


def test_failing_ffmpeg_is_reported_with_its_stderr(session):
    d, path = session
    bindir = os.path.join(d, "fakebin")
    os.makedirs(bindir, exist_ok=True)
    fake = os.path.join(bindir, "ffmpeg")
    # Lists libx264 like the real one, then fails on the encode as a broken ffmpeg would.
    with open(fake, "w") as f:
        f.write("#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' V....D libx264  H.264'; exit 0;; esac\n"
                "echo 'Unknown encoder: simulated failure' >&2\nexit 3\n")
    os.chmod(fake, 0o755)
    p = trw("video", path, "-o", os.path.join(d, "fail.mp4"), cwd=d, check=False,
            env={**os.environ, "PATH": bindir + ":" + os.environ["PATH"]})
    assert p.returncode == 1
    assert "Unknown encoder: simulated failure" in p.stderr and "ffmpeg" in p.stderr


def test_stalled_ffmpeg_is_ended_within_its_timeout(session):
    d, path = session
    bindir = os.path.join(d, "stallbin")
    os.makedirs(bindir, exist_ok=True)
    fake = os.path.join(bindir, "ffmpeg")
    # Lists libx264, then never reads its input (a hung encoder).
    with open(fake, "w") as f:
        f.write("#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' V....D libx264  H.264'; exit 0;; esac\n"
                "echo 'stuck on purpose' >&2\nexec sleep 300\n")
    os.chmod(fake, 0o755)
    t0 = time.monotonic()
    p = trw("video", path, "-o", os.path.join(d, "stall.mp4"), "--ffmpeg-timeout", "1", cwd=d, check=False,
            env={**os.environ, "PATH": bindir + ":" + os.environ["PATH"]})
    took = time.monotonic() - t0
    assert p.returncode == 1
    assert "stalled" in p.stderr and "stuck on purpose" in p.stderr
    assert took < 20, f"trw took {took:.1f} s with --ffmpeg-timeout 1"


def test_damaged_frames_are_held_and_counted(session):
    d, path = session
    import shutil
    import sqlite3
    bad = os.path.join(d, "damaged.sqlite")
    shutil.copy(path, bad)
    con = sqlite3.connect(bad)
    ids = [r[0] for r in con.execute("SELECT id FROM thermal_frame ORDER BY t_ns").fetchall()]
    for fid in (ids[60], ids[61]):  # about 1.2 s in
        payload = bytearray(con.execute("SELECT payload FROM thermal_frame WHERE id = ?", (fid,)).fetchone()[0])
        payload[len(payload) // 2] ^= 0x10
        con.execute("UPDATE thermal_frame SET payload = ? WHERE id = ?", (bytes(payload), fid))
    con.commit()
    con.close()
    out = os.path.join(d, "damaged.mp4")
    p = trw("video", bad, "-o", out, "--fps", "50", cwd=d)
    s, _ = probe(out)
    assert int(s["nb_read_frames"]) == int(p.stdout.split(": ", 1)[1].split(" frames")[0])
    assert "skipped 2 thermal frames with damaged payloads" in p.stdout and "DAMAGED FRAME" in p.stdout
