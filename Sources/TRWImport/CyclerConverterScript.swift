/// The Python program `trw import` runs (in the project's venv) to turn a cycler's own file
/// into Battery Data Format CSV, which the Swift side then reads and range-checks like any
/// BDF file. It only converts: no value is checked, rounded or dropped here (floats are
/// written with repr, which round-trips). Readers, all from PyPI (scripts/make-venv.sh):
///
/// | format   | files        | reader                                        | licence     |
/// |----------|--------------|-----------------------------------------------|-------------|
/// | biologic | .mpr, .mpt   | galvani.BioLogic.MPRfile / MPTfile            | GPL-3.0+    |
/// | arbin    | .res         | galvani.res2sqlite (needs mdbtools' mdb-export) | GPL-3.0+  |
/// | neware   | .nda, .ndax  | NewareNDA.read                                | BSD-3-Clause|
///
/// galvani runs as a separate program: nothing of it is linked into trw.
/// Usage: python3 SCRIPT FORMAT INPUT OUTPUT UTC_OFFSET_HOURS|none. Prints one JSON line on
/// stdout: {"ok": true, "rows": N, "columns": [...], "absolute_time": bool} or {"ok": false, "error": "..."}.
/// The readers' own chatter goes to stderr.
enum CyclerConverterScript {
    static let fileName = "trw_cycler_to_bdf.py"
    static let source = #"""
import contextlib, csv, datetime, json, math, sys

def out(obj):
    sys.__stdout__.write(json.dumps(obj) + "\n")
    sys.__stdout__.flush()

def unix_from_naive(dt, utc_offset_h):
    # The cyclers store local wall-clock times without a zone: only the user knows the zone.
    if utc_offset_h is None or dt is None:
        return None
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp() - utc_offset_h * 3600.0

def biologic(path, utc_offset_h):
    from galvani import BioLogic
    start = None
    if path.lower().endswith(".mpt"):
        data, comments = BioLogic.MPTfile(path, encoding="latin1")
        for c in comments:
            line = c.decode("latin1").strip()
            if line.startswith("Acquisition started on"):
                text = line.split(":", 1)[1].strip()
                for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S"):
                    try:
                        start = datetime.datetime.strptime(text, fmt)
                        break
                    except ValueError:
                        pass
    else:
        mpr = BioLogic.MPRfile(path)
        data = mpr.data
        start = getattr(mpr, "timestamp", None)
    names = data.dtype.names
    if "time/s" not in names:
        raise ValueError("no time/s column (columns: %s)" % ", ".join(names))
    cols = [("Test Time / s", lambda r: float(r["time/s"]))]
    t0 = unix_from_naive(start, utc_offset_h)
    if t0 is not None:
        cols.append(("Unix Time / s", lambda r: t0 + float(r["time/s"])))
    if "Ewe/V" in names:
        cols.append(("Voltage / V", lambda r: float(r["Ewe/V"])))
    elif "Ecell/V" in names:
        cols.append(("Voltage / V", lambda r: float(r["Ecell/V"])))
    if "I/mA" in names:
        cols.append(("Current / A", lambda r: float(r["I/mA"]) / 1000.0))
    elif "control/V/mA" in names:
        cols.append(("Current / A", lambda r: float(r["control/V/mA"]) / 1000.0))
    if "(Q-Qo)/mA.h" in names:
        cols.append(("Cumulative Capacity / Ah", lambda r: float(r["(Q-Qo)/mA.h"]) / 1000.0))
    if "Temperature/°C" in names:
        cols.append(("Surface Temperature / degC", lambda r: float(r["Temperature/°C"])))
    if "cycle number" in names:
        cols.append(("Cycle Count / 1", lambda r: float(r["cycle number"])))
    if "Ns" in names:
        cols.append(("Step Index / 1", lambda r: float(r["Ns"])))
    return cols, list(data)

def arbin(path, utc_offset_h):
    import sqlite3, tempfile, os
    from galvani import res2sqlite
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "arbin.sqlite")
        res2sqlite.convert_arbin_to_sqlite(path, db)
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM Channel_Normal_Table ORDER BY Test_ID, Data_Point").fetchall()
        con.close()
    def ole(days):
        return datetime.datetime(1899, 12, 30) + datetime.timedelta(days=float(days))
    cols = [("Test Time / s", lambda r: float(r["Test_Time"]))]
    if utc_offset_h is not None:
        cols.append(("Unix Time / s", lambda r: unix_from_naive(ole(r["DateTime"]), utc_offset_h)))
    cols += [("Voltage / V", lambda r: float(r["Voltage"])), ("Current / A", lambda r: float(r["Current"])),
             ("Charging Capacity / Ah", lambda r: float(r["Charge_Capacity"])),
             ("Discharging Capacity / Ah", lambda r: float(r["Discharge_Capacity"])),
             ("Cycle Count / 1", lambda r: float(r["Cycle_Index"])), ("Step Index / 1", lambda r: float(r["Step_Index"]))]
    return cols, rows

def neware(path, utc_offset_h):
    import NewareNDA
    df = NewareNDA.read(path)
    stamps = list(df["Timestamp"])
    first = stamps[0].to_pydatetime() if len(stamps) else None
    records = df.to_dict("records")
    for r in records:
        r["_test_time"] = (r["Timestamp"].to_pydatetime() - first).total_seconds()
    cols = [("Test Time / s", lambda r: float(r["_test_time"]))]
    if utc_offset_h is not None:
        cols.append(("Unix Time / s", lambda r: unix_from_naive(r["Timestamp"].to_pydatetime(), utc_offset_h)))
    cols += [("Voltage / V", lambda r: float(r["Voltage"])), ("Current / A", lambda r: float(r["Current(mA)"]) / 1000.0),
             ("Charging Capacity / Ah", lambda r: float(r["Charge_Capacity(mAh)"]) / 1000.0),
             ("Discharging Capacity / Ah", lambda r: float(r["Discharge_Capacity(mAh)"]) / 1000.0),
             ("Cycle Count / 1", lambda r: float(r["Cycle"])), ("Step Index / 1", lambda r: float(r["Step"]))]
    return cols, records

READERS = {"biologic": biologic, "arbin": arbin, "neware": neware}

def main(argv):
    fmt, src, dst, off = argv[1:5]
    utc_offset_h = None if off == "none" else float(off)
    if fmt not in READERS:
        out({"ok": False, "error": "no established Python reader for %s files is installed (readers: %s)" % (fmt, ", ".join(sorted(READERS)))})
        return 0
    try:
        with contextlib.redirect_stdout(sys.stderr):
            cols, rows = READERS[fmt](src, utc_offset_h)
        with open(dst, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow([c[0] for c in cols])
            for r in rows:
                w.writerow([repr(c[1](r)) for c in cols])
    except ModuleNotFoundError as e:
        out({"ok": False, "error": "the Python reader is not installed in this interpreter (%s); run make deps" % e})
        return 0
    except Exception as e:
        out({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
        return 0
    out({"ok": True, "rows": len(rows), "columns": [c[0] for c in cols], "absolute_time": any(c[0] == "Unix Time / s" for c in cols)})
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
"""#
}
