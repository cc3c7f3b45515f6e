"""Reader of trw session files (schemas/ in the trw repository).

    import trw
    with trw.open("sessions/demo.sqlite") as s:
        s.streams                      # DataFrame, one row per stream
        s.bms()                        # DataFrame of BMS samples
        times_ns, frames = s.frames()  # int64 (n,), uint16 (n, height, width)
        pcm = s.pcm()                  # Pcm: samples (frames, channels) int16/int32/float32

The file is opened read-only (SQLite `mode=ro`; `immutable=1` on read-only media),
never modified. Frames and PCM are decoded losslessly by trw._codec (C, built from the
same kernels as trw); checksummed payloads (codecs ending in -v2 or -crc32c) are
verified on every read, and a damaged one raises DamagedPayload naming the row.
"""
from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from . import _codec
from ._codec import ChecksumError, CodecError

__all__ = ["open", "Session", "Pcm", "TrwError", "DamagedPayload", "CodecError", "ChecksumError",
           "APPLICATION_ID", "SUPPORTED_SCHEMA_VERSION", "decode_frame", "decode_pcm", "crc32c"]

APPLICATION_ID = 0x54525731  # "TRW1"
#: The newest session schema (PRAGMA user_version) this reader knows (schemas/migrations).
SUPPORTED_SCHEMA_VERSION = 5
#: Largest frame (pixels) or chunk (samples) a codec accepts (codecMaxElements in trw).
MAX_ELEMENTS = 1 << 28


class TrwError(Exception):
    """A session file that cannot be read as asked (names the file and what to do)."""


class DamagedPayload(TrwError):
    """A thermal_frame or audio_chunk payload that does not decode (CRC-32C mismatch, truncated,
    corrupt). Names the file, table, row id, stream and session time; `.cause` is the codec error."""

    def __init__(self, path, table, row_id, stream, t_ns, cause):
        self.path, self.table, self.row_id, self.stream, self.t_ns, self.cause = path, table, row_id, stream, t_ns, cause
        super().__init__(f"{path}: {table} row {row_id} (stream {stream}, t = {t_ns / 1e9:.6f} s) is damaged: {cause}")


def crc32c(data) -> int:
    """CRC-32C (Castagnoli) of `data`: crc32c(b"123456789") == 0xE3069283."""
    return _codec.crc32c(data)


def _check_int(name, value, lo, hi):
    if value is None or isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise TrwError(f"{name} is {value!r}; expected an integer in {lo}...{hi}")
    return int(value)


def decode_frame(payload: bytes, codec: str, width: int, height: int) -> np.ndarray:
    """Decodes one thermal_frame payload to a (height, width) uint16 array. Raises CodecError
    (ChecksumError for a CRC-32C mismatch) for a payload that is not exactly that frame."""
    width = _check_int("width", width, 1, MAX_ELEMENTS)
    height = _check_int("height", height, 1, MAX_ELEMENTS)
    out = np.empty((height, width), dtype=np.uint16)
    _codec.decode_frame_into(payload, codec, width, height, out)
    return out


def decode_pcm(payload: bytes, codec: str, channels: int, frame_count: int) -> np.ndarray:
    """Decodes one audio_chunk payload to a (frame_count, channels) int32 array (interleaved
    samples as stored: S16/S24 sign-extended, FLOAT_LE as its bit pattern)."""
    channels = _check_int("channels", channels, 1, 255)
    frame_count = _check_int("frame_count", frame_count, 0, MAX_ELEMENTS // channels)
    out = np.empty((frame_count, channels), dtype=np.int32)
    _codec.decode_pcm_into(payload, codec, channels, frame_count, out)
    return out


def open(path) -> "Session":  # noqa: A001 (the module's entry point is trw.open)
    """Opens a trw session file read-only."""
    return Session(path)


@dataclass
class Pcm:
    """Decoded PCM of one AE stream: `samples` (frames, channels) in the capture width
    (int16 for S16_LE, int32 for S24_LE/S32_LE, float32 for FLOAT_LE), `first_sample_index`
    (ALSA sample index of samples[0]), and per chunk its row id, first sample index, frame
    count and session time of its first sample. Chunks are concatenated as stored; a
    discontinuity in sample index (a gap) is visible in `chunk_first_sample_index`."""
    stream: str
    rate_hz: float
    sample_format: str
    samples: np.ndarray
    first_sample_index: int
    chunk_id: np.ndarray
    chunk_first_sample_index: np.ndarray
    chunk_frame_count: np.ndarray
    chunk_t_ns: np.ndarray


_SAMPLE_DTYPES = {"S16_LE": np.int16, "S24_LE": np.int32, "S32_LE": np.int32, "FLOAT_LE": np.float32}


class Session:
    """One trw session file, opened read-only. Use as a context manager or call close()."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise TrwError(f"{self.path}: no such session file")
        if os.path.isdir(self.path):
            raise TrwError(f"{self.path} is a folder; give the session's .sqlite file")
        if not os.access(self.path, os.R_OK):
            raise TrwError(f"{self.path}: permission denied: this user may not read the file")
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.access(folder, os.W_OK) and not os.path.exists(self.path + "-wal"):
            uri += "&immutable=1"  # read-only media: SQLite could not create its -shm
        try:
            self._db = sqlite3.connect(uri, uri=True)
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            self.schema_version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e):
                raise TrwError(f"{self.path} is not a trw session: it is not an SQLite database ({e})") from None
            hint = (" (its unmerged write-ahead log cannot be read from a read-only folder: copy the .sqlite and -wal"
                    " files to a writable folder and run `trw repair` there)") if os.path.exists(self.path + "-wal") else ""
            raise TrwError(f"{self.path}: SQLite cannot read it: {e}{hint}") from None
        if app_id != APPLICATION_ID:
            self._db.close()
            raise TrwError(f"{self.path} is not a trw session (application_id 0x{app_id & 0xFFFFFFFF:08X}, expected 0x{APPLICATION_ID:08X})")
        if not 1 <= self.schema_version <= SUPPORTED_SCHEMA_VERSION:
            self._db.close()
            raise TrwError(f"{self.path} has session schema version {self.schema_version}; this reader understands "
                           f"1...{SUPPORTED_SCHEMA_VERSION} (update the trw Python package to read it)")
        self._streams = None

    # -- plumbing ---------------------------------------------------------------------

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _df(self, sql, params=()):
        return pd.read_sql_query(sql, self._db, params=params)

    def _has(self, table, column=None):
        if column is None:
            return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None
        return any(r[1] == column for r in self._db.execute(f'PRAGMA table_info("{table}")'))

    def _stream(self, key, kind):
        st = self.streams
        rows = st[st["kind"] == kind]
        if key is None:
            if len(rows) == 0:
                raise TrwError(f"{self.path} has no {kind} stream")
            if len(rows) > 1:
                raise TrwError(f"{self.path} has {len(rows)} {kind} streams ({', '.join(rows['key'])}); name one with stream=")
            return rows.iloc[0]
        rows = rows[rows["key"] == key]
        if len(rows) == 0:
            raise TrwError(f"{self.path} has no {kind} stream named {key!r}; it has: {', '.join(st[st['kind'] == kind]['key']) or 'none'}")
        return rows.iloc[0]

    @staticmethod
    def _range(column, start_ns, end_ns):
        sql, params = "", []
        if start_ns is not None:
            sql += f" AND {column} >= ?"
            params.append(int(start_ns))
        if end_ns is not None:
            sql += f" AND {column} < ?"
            params.append(int(end_ns))
        return sql, params

    # -- tables -----------------------------------------------------------------------

    @property
    def info(self) -> dict:
        """The `session` row as a dict (start_realtime_ns is t = 0 on CLOCK_REALTIME)."""
        cur = self._db.execute("SELECT * FROM session WHERE id = 1")
        row = cur.fetchone()
        if row is None:
            raise TrwError(f"{self.path} has no session row")
        return dict(zip([d[0] for d in cur.description], row))

    @property
    def streams(self) -> pd.DataFrame:
        """One row per stream; JSON columns parsed into dicts (calibration, units, properties,
        ae_detector); role is None for files written before roles (schema < 4)."""
        if self._streams is None:
            df = self._df("SELECT * FROM stream ORDER BY id")
            if "role" not in df.columns:
                df["role"] = None
            for c in ("calibration_json", "units_json", "properties_json", "ae_detector_json"):
                df[c[:-5]] = [self._json(v, f"stream.{c}") for v in df[c]]
            self._streams = df
        return self._streams

    def _json(self, text, where):
        if text is None or (isinstance(text, float) and np.isnan(text)):  # SQL NULL (pandas: None or NaN)
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            raise TrwError(f"{self.path}: {where} is not JSON ({e}): {text[:80]!r}") from None

    def bms(self, stream: Optional[str] = None, start_ns=None, end_ns=None) -> pd.DataFrame:
        """BMS/serial samples (all serial streams unless `stream` names one), by session time,
        with `cell_temps` (list of floats) and `extra` (dict) parsed from their JSON columns."""
        sql = "SELECT b.*, s.key AS stream FROM bms_sample b JOIN stream s ON s.id = b.stream_id WHERE 1"
        params = []
        if stream is not None:
            sql += " AND s.key = ?"
            params.append(self._stream(stream, "bms")["key"])
        r, p = self._range("b.t_ns", start_ns, end_ns)
        df = self._df(sql + r + " ORDER BY b.t_ns, b.id", params + p)
        df["cell_temps"] = [self._json(v, "bms_sample.cell_temps_json") for v in df["cell_temps_json"]]
        df["extra"] = [self._json(v, "bms_sample.extra_json") for v in df["extra_json"]]
        return df

    def ae_hits(self, stream: Optional[str] = None, start_ns=None, end_ns=None) -> pd.DataFrame:
        """AE hits (Vallen-style features; detector settings in streams.ae_detector)."""
        sql = "SELECT h.*, s.key AS stream FROM ae_hit h JOIN stream s ON s.id = h.stream_id WHERE 1"
        params = []
        if stream is not None:
            sql += " AND s.key = ?"
            params.append(self._stream(stream, "ae")["key"])
        r, p = self._range("h.t_ns", start_ns, end_ns)
        return self._df(sql + r + " ORDER BY h.t_ns, h.id", params + p)

    def labels(self, label_set: Optional[str] = None, history: bool = False) -> pd.DataFrame:
        """Current labels (schemas/payload-codecs.md, "Labels"): rows no other row supersedes,
        not deletions; `history=True` gives every row. Filter by `label_set`: sets are never
        mixed silently, so the column is always there (files before schema 2: the author)."""
        cols = "a.*" if self._has("annotation", "label_set") else "a.*, a.author AS label_set"
        sql = f"SELECT {cols} FROM annotation a WHERE 1"
        if not history:
            sql += " AND a.deleted = 0 AND NOT EXISTS (SELECT 1 FROM annotation s WHERE s.supersedes_id = a.id)"
        df = self._df(f"SELECT * FROM ({sql}) WHERE (? IS NULL OR label_set = ?) ORDER BY start_t_ns, id",
                      (label_set, label_set))
        df["parameters"] = [self._json(v, "annotation.parameters_json") for v in df["parameters_json"]]
        return df

    def label_sets(self) -> list:
        """The label sets of the current labels, sorted."""
        return sorted(set(self.labels()["label_set"]))

    def markers(self, history: bool = False) -> pd.DataFrame:
        """Current markers (removals supersede, as for labels; schema >= 4)."""
        sql = "SELECT m.* FROM marker m"
        if self._has("marker", "supersedes_id") and not history:
            sql += " WHERE m.deleted = 0 AND NOT EXISTS (SELECT 1 FROM marker s WHERE s.supersedes_id = m.id)"
        return self._df(sql + " ORDER BY m.t_ns, m.id")

    def predictions(self, model: Optional[str] = None, run_id: Optional[str] = None) -> pd.DataFrame:
        """Detector score streams (model, run_id, t_ns, score, alarm, latency_ns, parameters)."""
        df = self._df("SELECT * FROM prediction WHERE (? IS NULL OR model = ?) AND (? IS NULL OR run_id = ?) "
                      "ORDER BY model, run_id, t_ns, id", (model, model, run_id, run_id))
        df["parameters"] = [self._json(v, "prediction.parameters_json") for v in df["parameters_json"]]
        return df

    def clock_models(self, history: bool = False) -> pd.DataFrame:
        """Clock models per stream (current only unless history=True), `model` parsed from
        model_json (segments: host_ns = referenceHost + slope * (device - referenceDevice))."""
        sql = "SELECT c.*, s.key AS stream FROM clock_model c JOIN stream s ON s.id = c.stream_id"
        if not history:
            sql += " WHERE c.is_current = 1"
        df = self._df(sql + " ORDER BY c.stream_id, c.id")
        df["model"] = [self._json(v, "clock_model.model_json") for v in df["model_json"]]
        return df

    def gaps(self) -> pd.DataFrame:
        """Every recorded loss (dropped frames, xruns, parse errors, damaged payloads, ...)."""
        return self._df("SELECT g.*, s.key AS stream FROM gap g LEFT JOIN stream s ON s.id = g.stream_id ORDER BY g.start_t_ns, g.id")

    def sensing_events(self) -> pd.DataFrame:
        """Sensing setting changes (schema >= 3; empty before)."""
        if not self._has("sensing_event"):
            return pd.DataFrame(columns=["id", "t_ns", "stream_id", "setting", "value", "previous", "origin", "skipped", "detail"])
        return self._df("SELECT * FROM sensing_event ORDER BY t_ns, id")

    # -- payloads ---------------------------------------------------------------------

    def frame_rows(self, stream: Optional[str] = None, start_ns=None, end_ns=None) -> pd.DataFrame:
        """Per-frame rows without payloads (times, sequence, statistics the recorder stored)."""
        st = self._stream(stream, "thermal")
        r, p = self._range("t_ns", start_ns, end_ns)
        return self._df("SELECT id, sequence, device_ts_ns, host_arrival_ns, t_ns, codec, min_counts, max_counts, mean_counts, "
                        "hotspot_x, hotspot_y, flags FROM thermal_frame WHERE stream_id = ?" + r + " ORDER BY t_ns, id",
                        [int(st["id"])] + p)

    def _geometry(self, st):
        w, h = st["width"], st["height"]
        if pd.isna(w) or pd.isna(h):
            raise TrwError(f"{self.path}: thermal stream {st['key']} has no width/height in its stream row")
        return (_check_int(f"{self.path}: stream {st['key']} width", int(w), 1, MAX_ELEMENTS),
                _check_int(f"{self.path}: stream {st['key']} height", int(h), 1, MAX_ELEMENTS))

    def frame_payloads(self, stream: Optional[str] = None, start_ns=None, end_ns=None):
        """(ids, t_ns, codecs, payloads) of the stream's frames, undecoded, by session time."""
        st = self._stream(stream, "thermal")
        r, p = self._range("t_ns", start_ns, end_ns)
        rows = self._db.execute("SELECT id, t_ns, codec, payload FROM thermal_frame WHERE stream_id = ?" + r + " ORDER BY t_ns, id",
                                [int(st["id"])] + p).fetchall()
        return ([x[0] for x in rows], [x[1] for x in rows], [x[2] for x in rows], [x[3] for x in rows])

    def frames(self, stream: Optional[str] = None, start_ns=None, end_ns=None):
        """Decodes the stream's frames in [start_ns, end_ns): returns (t_ns int64 (n,),
        frames uint16 (n, height, width)) in radiometric counts (kelvin = counts *
        kelvinPerCount + offsetKelvin, streams.calibration). A damaged row raises DamagedPayload."""
        st = self._stream(stream, "thermal")
        w, h = self._geometry(st)
        ids, times, codecs, payloads = self.frame_payloads(st["key"], start_ns, end_ns)
        out = np.empty((len(ids), h, w), dtype=np.uint16)
        for i, (rid, t, codec, payload) in enumerate(zip(ids, times, codecs, payloads)):
            try:
                _codec.decode_frame_into(payload, codec, w, h, out[i])
            except CodecError as e:
                raise DamagedPayload(self.path, "thermal_frame", rid, st["key"], t, e) from None
        return np.asarray(times, dtype=np.int64), out

    def iter_frames(self, stream: Optional[str] = None, start_ns=None, end_ns=None):
        """Yields (row_id, t_ns, uint16 (height, width)) frame by frame (bounded memory: an
        hour at 50 Hz is 55 GB decoded). A damaged row raises DamagedPayload when reached."""
        st = self._stream(stream, "thermal")
        w, h = self._geometry(st)
        r, p = self._range("t_ns", start_ns, end_ns)
        cur = self._db.execute("SELECT id, t_ns, codec, payload FROM thermal_frame WHERE stream_id = ?" + r + " ORDER BY t_ns, id",
                               [int(st["id"])] + p)
        for rid, t, codec, payload in cur:
            out = np.empty((h, w), dtype=np.uint16)
            try:
                _codec.decode_frame_into(payload, codec, w, h, out)
            except CodecError as e:
                raise DamagedPayload(self.path, "thermal_frame", rid, st["key"], t, e) from None
            yield rid, t, out

    def frame(self, row_id: int):
        """One frame by thermal_frame row id: (t_ns, uint16 (height, width))."""
        row = self._db.execute("SELECT stream_id, t_ns, codec, payload FROM thermal_frame WHERE id = ?", (int(row_id),)).fetchone()
        if row is None:
            raise TrwError(f"{self.path} has no thermal_frame row {row_id}")
        st = self.streams[self.streams["id"] == row[0]].iloc[0]
        w, h = self._geometry(st)
        out = np.empty((h, w), dtype=np.uint16)
        try:
            _codec.decode_frame_into(row[3], row[2], w, h, out)
        except CodecError as e:
            raise DamagedPayload(self.path, "thermal_frame", int(row_id), st["key"], row[1], e) from None
        return row[1], out

    def pcm(self, stream: Optional[str] = None, start_ns=None, end_ns=None) -> Pcm:
        """Decodes the AE stream's chunks whose first sample lies in [start_ns, end_ns), by
        sample index. A damaged row raises DamagedPayload."""
        st = self._stream(stream, "ae")
        fmt = st["sample_format"] if isinstance(st["sample_format"], str) else st["format"]
        if fmt not in _SAMPLE_DTYPES:
            raise TrwError(f"{self.path}: AE stream {st['key']} has sample format {fmt!r}; expected one of {', '.join(_SAMPLE_DTYPES)}")
        channels = _check_int(f"{self.path}: stream {st['key']} channels", None if pd.isna(st["channels"]) else int(st["channels"]), 1, 255)
        r, p = self._range("t_ns", start_ns, end_ns)
        rows = self._db.execute("SELECT id, first_sample_index, frame_count, t_ns, codec, payload FROM audio_chunk "
                                "WHERE stream_id = ?" + r + " ORDER BY first_sample_index, id", [int(st["id"])] + p).fetchall()
        total = 0
        for rid, _, n, t, _, _ in rows:
            _check_int(f"{self.path}: audio_chunk row {rid} frame_count", n, 0, MAX_ELEMENTS // channels)
            total += n
        wide = np.empty((total, channels), dtype=np.int32)
        at = 0
        for rid, _, n, t, codec, payload in rows:
            try:
                _codec.decode_pcm_into(payload, codec, channels, n, wide[at:at + n])
            except CodecError as e:
                raise DamagedPayload(self.path, "audio_chunk", rid, st["key"], t, e) from None
            at += n
        dtype = _SAMPLE_DTYPES[fmt]
        if dtype is np.float32:
            samples = wide.view(np.float32)
        elif dtype is np.int16:
            if total and (wide.min() < -32768 or wide.max() > 32767):
                bad = int(np.argmax((wide < -32768).any(axis=1) | (wide > 32767).any(axis=1)))
                raise TrwError(f"{self.path}: AE stream {st['key']} is S16_LE but sample frame {bad} holds "
                               f"{wide[bad].tolist()}, outside -32768...32767")
            samples = wide.astype(np.int16)
        else:
            if fmt == "S24_LE" and total and (wide.min() < -(1 << 23) or wide.max() >= (1 << 23)):
                raise TrwError(f"{self.path}: AE stream {st['key']} is S24_LE but holds samples outside -8388608...8388607")
            samples = wide
        arr = lambda k, dt: np.asarray([x[k] for x in rows], dtype=dt)  # noqa: E731
        rate = float(st["nominal_rate_hz"])
        return Pcm(stream=st["key"], rate_hz=rate, sample_format=fmt, samples=samples,
                   first_sample_index=int(rows[0][1]) if rows else 0, chunk_id=arr(0, np.int64),
                   chunk_first_sample_index=arr(1, np.int64), chunk_frame_count=arr(2, np.int64), chunk_t_ns=arr(3, np.int64))
