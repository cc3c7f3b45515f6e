import Testing
import TRWCore
@testable import TRWSerial

/// Feeding the same bytes split at every point must give the same outcomes.
private func assertSplitInvariant(_ text: String, decoder: some BMSLineDecoder, maxLineBytes: Int = 1024,
                                  sourceLocation: SourceLocation = #_sourceLocation) -> [LineOutcome] {
    let bytes = Array(text.utf8)
    let whole = decodeStream([bytes], decoder: decoder, maxLineBytes: maxLineBytes)
    for point in 0...bytes.count {
        let split = decodeStream([Array(bytes[..<point]), Array(bytes[point...])], decoder: decoder, maxLineBytes: maxLineBytes)
        #expect(same(split, whole), "split at \(point) of \(bytes.count)", sourceLocation: sourceLocation)
    }
    // And byte by byte.
    #expect(same(decodeStream(bytes.map { [$0] }, decoder: decoder, maxLineBytes: maxLineBytes), whole), sourceLocation: sourceLocation)
    return whole
}

/// Equal outcomes, a missing channel (NaN) equal to a missing channel.
private func same(_ a: [LineOutcome], _ b: [LineOutcome]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy(DecoderFuzzHarness.sameOutcome)
}

private func samples(_ outcomes: [LineOutcome]) -> [BMSSample] {
    outcomes.compactMap { if case let .sample(s) = $0 { s } else { nil } }
}

private func rejections(_ outcomes: [LineOutcome]) -> [Rejection] {
    outcomes.compactMap { if case let .rejected(r) = $0 { r } else { nil } }
}

@Suite struct LineFramerTests {
    @Test(arguments: [
        ("a\nb\n", [LineFramer.Event.line(Array("a".utf8)), .line(Array("b".utf8))]),
        ("a\r\nb\r\n", [.line(Array("a".utf8)), .line(Array("b".utf8))]),
        ("a\rb\r", [.line(Array("a".utf8)), .line(Array("b".utf8))]),
        ("\n\n", [.line([]), .line([])]),
        ("abc", []),
        ("0123456789ABCDEF\nxy\n", [.overlong(prefix: Array("01234567".utf8)), .line(Array("xy".utf8))]),
    ])
    func framesLinesAtEverySplit(text: String, expected: [LineFramer.Event]) {
        let bytes = Array(text.utf8)
        for point in 0...bytes.count {
            var framer = LineFramer(maxLineBytes: 8)
            var got: [LineFramer.Event] = []
            framer.push(bytes[..<point]) { e, _ in got.append(e) }
            framer.push(bytes[point...]) { e, _ in got.append(e) }
            #expect(got == expected, "split at \(point)")
        }
    }

    @Test func boundsMemoryOnEndlessGarbage() {
        var framer = LineFramer(maxLineBytes: 64)
        var overlong = 0
        for _ in 0..<1000 {
            framer.push([UInt8](repeating: 0x41, count: 100)) { e, _ in if case .overlong = e { overlong += 1 } }
            #expect(framer.pendingCount <= 64)
        }
        #expect(overlong == 1)
        #expect(framer.discardedBytes == 100_000 - 64)
        #expect(framer.takePartial() == nil)
    }

    @Test func reportsOffsetOfTerminator() {
        var framer = LineFramer()
        var ends: [Int] = []
        framer.push(Array("ab\ncd\r\nef".utf8)) { _, end in ends.append(end) }
        #expect(ends == [2, 5])
        #expect(framer.takePartial() == Array("ef".utf8))
    }
}

@Suite struct KeyValueDecoderTests {
    let decoder = KeyValueLineDecoder(config: KeyValueProtocolConfig())

    @Test func decodesSimulatorLinesAtEverySplit() {
        let text = "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0\r\nt=13.000 V=4.215 I=1.501 T1=25.4 T2=26.0 Tamb=23.1\r\n"
        let out = assertSplitInvariant(text, decoder: decoder)
        let s = samples(out)
        #expect(s.count == 2)
        #expect(s[0].deviceTimeS == 12.0)
        #expect(s[0].voltageV == 4.213)
        #expect(s[0].currentA == 1.502)
        #expect(s[0].cellTempsC == [25.3])
        #expect(s[0].ambientC == 23.0)
        #expect(s[0].raw == "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0")
        #expect(s[1].cellTempsC == [25.4, 26.0])
    }

    @Test(arguments: [
        ("V=4213mV", 4.213), ("V=4.213V", 4.213), ("V=4213.0mV", 4.213), ("V=0.004213kV", 4.213), ("V=+4.21300E+00", 4.213),
    ])
    func convertsUnitsWrittenInTheData(line: String, volts: Double) {
        var d = decoder
        guard case let .sample(s) = d.decode(line: Array(line.utf8), hostArrivalNs: 0) else {
            Issue.record("\(line) did not decode")
            return
        }
        #expect(abs(s.voltageV! - volts) < 1e-12)
    }

    @Test func convertsKelvinAndConfiguredDeviceUnits() {
        var fields = [String: FieldSpec]()
        fields["T1"] = FieldSpec("cell_temp_c", unit: "K", channel: 1)
        fields["mv"] = FieldSpec("voltage_v", unit: "mV")
        var d = KeyValueLineDecoder(config: KeyValueProtocolConfig(map: FieldMapConfig(fields: fields)))
        guard case let .sample(s) = d.decode(line: Array("mv=4213 T1=300.15".utf8), hostArrivalNs: 7) else {
            Issue.record("did not decode")
            return
        }
        #expect(abs(s.voltageV! - 4.213) < 1e-12)
        #expect(abs(s.cellTempsC[0] - 27.0) < 1e-9)
        #expect(s.hostArrivalNs == 7)
    }

    @Test(arguments: [
        ("V=4.2A I=1.5", "unit 'A' is a current unit"),
        ("V=abc I=1.5", "'abc' is not a number"),
        ("V=4.2 I=", "I: no value"),
        ("garbage", "is not key=value"),
        ("=4.2", "empty key"),
        ("V=4.2 V=4.3", "appears twice"),
        ("T1=-300", "below absolute zero"),
        ("V=nan", "is not a number"),
        ("V=0x10", "is not a number"),
        ("V=1e999", "is not a number"),
        ("status=OK", "no numeric field"),
        ("V=4.2\u{07}", "control characters"),
    ])
    func rejectsBadLinesWithAReason(line: String, reason: String) {
        var d = decoder
        let out = d.decode(line: Array(line.utf8), hostArrivalNs: 0)
        guard case let .rejected(r) = out else {
            Issue.record("'\(line)' was not rejected: \(out)")
            return
        }
        #expect(r.reason.contains(reason), "\(r.reason)")
        #expect(r.raw == escapeRaw(Array(line.utf8)))
    }

    @Test func rejectsMissingRequiredFieldAndOutOfRangeValue() {
        var d = KeyValueLineDecoder(config: KeyValueProtocolConfig(map: FieldMapConfig(
            fields: ["V": FieldSpec("voltage_v", range: 0...10)], required: ["voltage_v", "current_a"])))
        guard case let .rejected(r1) = d.decode(line: Array("V=4.2".utf8), hostArrivalNs: 0) else {
            Issue.record("missing current not rejected"); return
        }
        #expect(r1.reason.contains("current_a"))
        guard case let .rejected(r2) = d.decode(line: Array("V=4213 I=1".utf8), hostArrivalNs: 0) else {
            Issue.record("4213 V not rejected"); return
        }
        #expect(r2.reason.contains("plausible range"))
    }

    @Test func rejectsInvalidUTF8AndKeepsItEscaped() {
        var d = decoder
        let line: [UInt8] = Array("V=4.2 ".utf8) + [0xFF, 0xFE]
        guard case let .rejected(r) = d.decode(line: line, hostArrivalNs: 0) else { Issue.record("accepted"); return }
        #expect(r.raw == "V=4.2 \\xFF\\xFE")
    }
}

@Suite struct CSVDecoderTests {
    @Test func decodesHeaderAndRowsAtEverySplit() {
        let text = "time,voltage_v,current_a,T1,T2,ambient_c,soc\n0.5,4.100,1.50,25.0,25.5,22.0,80\n1.0,4.101,1.49,25.1,,22.0,80.1\n"
        let out = assertSplitInvariant(text, decoder: CSVLineDecoder(config: CSVProtocolConfig()))
        #expect(out.first == .header(["time", "voltage_v", "current_a", "T1", "T2", "ambient_c", "soc"]))
        let s = samples(out)
        #expect(s.count == 2)
        #expect(s[0].deviceTimeS == 0.5 && s[0].voltageV == 4.1 && s[0].currentA == 1.5)
        #expect(s[0].cellTempsC == [25.0, 25.5] && s[0].ambientC == 22.0 && s[0].soc == 80)
        #expect(s[1].cellTempsC == [25.1])  // empty T2 cell: missing, not zero
    }

    @Test func headerlessWithColumnMapAndDelimiter() {
        let config = CSVProtocolConfig(
            delimiter: ";", header: false, columns: ["device_time", "V", "I", "x"],
            map: FieldMapConfig(fields: ["x": FieldSpec("pack_temp", unit: "C")]))
        let out = assertSplitInvariant("12:00:01.5;4.2;1.0;30\n", decoder: CSVLineDecoder(config: config))
        let s = samples(out)
        #expect(s.count == 1)
        #expect(s[0].deviceTimeS == 43201.5)
        #expect(s[0].extra["pack_temp"] == 30)
    }

    @Test(arguments: [
        ("V,I\n4.2\n", "1 columns, expected 2"),
        ("V,I\n4.2,x\n", "'x' is not a number"),
        ("4.2,1.0\n", "before any header"),
        ("V,I\nERR,ERR\n", "not a header"),
        ("V,V\n", "repeats the column name 'V'"),
    ])
    func rejectsMalformedRows(text: String, reason: String) {
        let out = decodeStream([Array(text.utf8)], decoder: CSVLineDecoder(config: CSVProtocolConfig()))
        let r = rejections(out)
        #expect(r.count == 1)
        #expect(r.first?.reason.contains(reason) == true, "\(r)")
    }

    /// Several cell temperature columns under one name take channels in column order,
    /// after the explicitly numbered ones; an empty cell leaves its channel missing (NaN).
    @Test func repeatedCellTemperatureColumns() {
        let text = "V,cell_temp_c,T1,cell_temp_c\n4.2,30,25,31\n4.2,,25,31\n"
        let s = samples(assertSplitInvariant(text, decoder: CSVLineDecoder(config: CSVProtocolConfig())))
        #expect(s.count == 2)
        #expect(s[0].cellTempsC == [25, 30, 31])
        #expect(s[1].cellTempsC.count == 3 && s[1].cellTempsC[1].isNaN && s[1].cellTempsC[2] == 31)
    }

    @Test func newHeaderAfterDeviceRestartReplacesTheOld() {
        let text = "V,I\n4.2,1.0\n# restarted\nI,V\n2.0,4.3\n"
        let out = decodeStream([Array(text.utf8)], decoder: CSVLineDecoder(config: CSVProtocolConfig()))
        #expect(out.filter { $0 == .ignored }.count == 1)
        let s = samples(out)
        #expect(s.map(\.voltageV) == [4.2, 4.3])
        #expect(s.map(\.currentA) == [1.0, 2.0])
    }
}

@Suite struct JSONLinesDecoderTests {
    @Test func decodesObjectsAtEverySplit() {
        let text = #"{"t": 1.5, "voltage_v": 4.2, "current_a": "1500 mA", "cell_temp_c": [25.0, 26.5], "ambient_c": null, "meta": {"fan": 3}}"# + "\n"
        let s = samples(assertSplitInvariant(text, decoder: JSONLineDecoder(config: JSONLinesProtocolConfig())))
        #expect(s.count == 1)
        #expect(s[0].deviceTimeS == 1.5 && s[0].voltageV == 4.2)
        #expect(abs(s[0].currentA! - 1.5) < 1e-12)
        #expect(s[0].cellTempsC == [25.0, 26.5])
        #expect(s[0].ambientC == nil)
        #expect(s[0].extra["meta.fan"] == 3)
    }

    @Test(arguments: [
        (#"{"V": 4.2"#, "invalid JSON"),
        (#"[4.2]"#, "not a JSON object"),
        (#"{"V": true}"#, "not a number"),
        (#"{"V": "high"}"#, "not a number"),
        (#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}"#, "deeper"),
        (#"{}"#, "no numeric field"),
    ])
    func rejectsBadObjects(line: String, reason: String) {
        var d = JSONLineDecoder(config: JSONLinesProtocolConfig())
        guard case let .rejected(r) = d.decode(line: Array(line.utf8), hostArrivalNs: 0) else {
            Issue.record("\(line) accepted"); return
        }
        #expect(r.reason.contains(reason), "\(r.reason)")
    }
}
