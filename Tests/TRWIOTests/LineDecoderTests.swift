import Testing
@testable import TRWIO

@Suite struct LineDecoderTests {
    /// Feeds `input` split at `cut`, collecting lines until the first error.
    static func decode(_ input: [UInt8], cut: Int? = nil, max: Int = 16) -> (lines: [[UInt8]], error: LineDecoder.LineTooLong?, partial: [UInt8]?) {
        var d = LineDecoder(maxLineBytes: max)
        var lines: [[UInt8]] = []
        let parts = cut.map { [Array(input[..<$0]), Array(input[$0...])] } ?? [input]
        for p in parts {
            d.push(p)
            do {
                while let l = try d.nextLine() { lines.append(l) }
            } catch {
                return (lines, error, nil)
            }
        }
        return (lines, nil, d.takePartial())
    }

    @Test func sameLinesAtEverySplitPoint() {
        let input = Array("{\"t\": 1, \"score\": 0.5}\n\nab\r\ncd\n\r\nlast".utf8)
        let whole = Self.decode(input, max: 64)
        #expect(whole.lines.map { String(decoding: $0, as: UTF8.self) } == ["{\"t\": 1, \"score\": 0.5}", "", "ab", "cd", ""])
        #expect(whole.partial == Array("last".utf8))
        for cut in 0...input.count {
            let r = Self.decode(input, cut: cut, max: 64)
            #expect(r.lines == whole.lines && r.partial == whole.partial && r.error == nil, "split at \(cut)")
        }
    }

    /// A line over the bound is an error wherever the input is split; lines before it come out.
    @Test func overlongLineIsAnErrorAtEverySplitPoint() {
        let input = Array("ok\n0123456789abcdefXYZ\nnever\n".utf8)
        for cut in 0...input.count {
            let r = Self.decode(input, cut: cut, max: 16)
            #expect(r.lines == [Array("ok".utf8)], "split at \(cut)")
            #expect(r.error?.maxLineBytes == 16, "split at \(cut)")
        }
        // Exactly at the bound, with CR LF, is fine at every split.
        let edge = Array("0123456789abcdef\r\n".utf8)
        for cut in 0...edge.count {
            #expect(Self.decode(edge, cut: cut, max: 16).lines == [Array("0123456789abcdef".utf8)], "split at \(cut)")
        }
    }

    /// The issue measured 87 s for a 50 MB line (the old reader rescanned its buffer on every
    /// read). Linear: each byte is examined once, however it arrives.
    @Test func fiftyMegabyteLineIsExaminedOnce() throws {
        let total = 50_000_000
        var d = LineDecoder(maxLineBytes: 64 << 20)
        let chunk = [UInt8](repeating: UInt8(ascii: "7"), count: 4096)
        var fed = 0
        while fed < total {
            let n = min(chunk.count, total - fed)
            d.push(chunk[0..<n])
            fed += n
            #expect(try d.nextLine() == nil)
        }
        d.push([0x0A])
        let line = try #require(try d.nextLine())
        #expect(line.count == total)
        #expect(d.examinedBytes == total + 1, "examined \(d.examinedBytes) bytes for \(total + 1) bytes of input")
    }

    @Test func manyShortLinesStayLinear() throws {
        var d = LineDecoder(maxLineBytes: 100)
        var count = 0
        for _ in 0..<20_000 {
            d.push(Array("{\"t\":1,\"score\":0.25}\n{\"t\":2,".utf8))
            while try d.nextLine() != nil { count += 1 }
            d.push(Array("\"score\":0.5}\n".utf8))
            while try d.nextLine() != nil { count += 1 }
        }
        #expect(count == 40_000)
        #expect(d.examinedBytes == d.pushedBytes)
        #expect(d.pendingCount == 0)
    }
}
