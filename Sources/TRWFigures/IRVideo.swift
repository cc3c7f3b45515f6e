import Dispatch
import Foundation
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWIO
import TRWStore

/// `trw video`: the IR stream of a session as an H.264 MP4 (libx264; MPEG-4 part 2 when
/// the installed ffmpeg has no libx264). Each video frame is the session's frame nearest to
/// its session time (t = from + k · speed / fps), colour-mapped through matplotlib's inferno
/// over a fixed °C scale (default 20–300 °C; `--min/--max`, or `auto`: the window's coldest
/// and hottest stored pixel), with a colour bar in °C, the session time, the hotspot (cross
/// and its temperature) and label flashes (the labels of one label set, shown while the
/// video is within ~0.5 s of video time of an instant label, or inside an interval).
///
/// Frames are composed in RGB, converted to I420 (YUV 4:2:0, BT.601 limited range, what
/// the encoder takes: ffmpeg then converts nothing) and go raw to ffmpeg's standard input (`TRWIO.ChildProcess`): every write is
/// bounded by `stallTimeoutS`; a failed or stalled ffmpeg is ended and reported with its
/// standard error. Damaged frame payloads are never shown: the previous frame is held with a
/// "DAMAGED FRAME" mark, and they are counted in the result.
public enum IRVideo {
    public enum Scale: Sendable, Equatable {
        case fixed(lo: Float, hi: Float)
        case auto
    }

    /// The documented default scale, °C: room temperature to past the onset of thermal
    /// runaway of common Li-ion cells (venting gases and ejecta run hotter and saturate).
    public static let defaultFixed: (lo: Float, hi: Float) = (20, 300)

    public struct Options: Sendable {
        public var fromNs: Int64?
        public var toNs: Int64?
        public var speed: Double = 1
        public var fps: Int = 25
        public var scale: Scale = .fixed(lo: IRVideo.defaultFixed.lo, hi: IRVideo.defaultFixed.hi)
        public var stream: String?
        /// Label set whose labels flash (nil: `LabelSetSelection`'s precedence; no labels: none).
        public var labelSet: String?
        /// The ffmpeg executable (a path, or a name looked up on PATH).
        public var ffmpeg: String = "ffmpeg"
        /// Longest wait for ffmpeg to take a batch of frames or to exit after its input ends.
        public var stallTimeoutS: Double = 60
        public init() {}
    }

    public struct Result: Sendable {
        public var path: String
        public var frames: Int
        public var width: Int, height: Int
        public var fps: Int
        public var fromS: Double, toS: Double
        public var scale: (lo: Float, hi: Float)
        public var encoder: String
        public var labelSet: String
        public var labelsShown: Int
        public var damaged = DamageTally()
        public var wallS: Double
        /// Session seconds rendered per wall-clock second.
        public var realTimeFactor: Double { wallS > 0 ? (toS - fromS) / wallS : .infinity }
    }

    public enum Failure: Error, CustomStringConvertible {
        case noFFmpeg(String)
        case bad(String)
        case ffmpeg(String)
        public var description: String {
            switch self {
            case .noFFmpeg(let s), .bad(let s), .ffmpeg(let s): s
            }
        }
    }

    /// `name` as an executable path: itself when it has a slash, else the first match on PATH.
    public static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The encoders `ffmpeg -encoders` lists.
    static func encoders(_ ffmpeg: String) throws -> Set<String> {
        let child: ChildProcess
        do { child = try ChildProcess(shellCommand: "exec \(shellQuote(ffmpeg)) -hide_banner -encoders 2>/dev/null </dev/null") } catch {
            throw Failure.ffmpeg("could not start \(ffmpeg): \(error)")
        }
        var names: Set<String> = []
        let deadline = Deadline.after(seconds: 20)
        while true {
            do {
                let line = String(decoding: try child.readLine(deadline: deadline), as: UTF8.self)
                let f = line.split(separator: " ")
                if f.count >= 2, f[0].count == 6, f[0].first == "V" { names.insert(String(f[1])) }
            } catch .outputClosed {
                break
            } catch {
                _ = child.terminate(grace: 1)
                throw Failure.ffmpeg("\(ffmpeg) -encoders: \(error)")
            }
        }
        _ = child.finish(exitWithin: 5, grace: 1)
        return names
    }

    public static func render(session: String, to output: String, options o: Options,
                              progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        let t0 = Date()
        guard o.fps >= 1, o.fps <= 120 else { throw Failure.bad("--fps \(o.fps): expected 1 to 120") }
        guard o.speed.isFinite, o.speed > 0, o.speed <= 10_000 else { throw Failure.bad("--speed \(o.speed): expected above 0, at most 10000") }
        guard let ffmpeg = findExecutable(o.ffmpeg) else {
            throw Failure.noFFmpeg("trw video needs ffmpeg ('\(o.ffmpeg)' is not an executable on PATH); Debian package ffmpeg, installed by scripts/install-deps.sh")
        }
        let r = try SessionReader(path: session)
        let sess = try r.session()
        let streams = try r.streams(kind: .thermal)
        guard let st = o.stream.map({ k in streams.first { $0.key == k } }) ?? streams.first else {
            throw Failure.bad(o.stream.map { "\(session): no thermal stream '\($0)'; it has \(streams.map(\.key))" } ?? "\(session): the session has no thermal stream")
        }
        guard let cal = st.calibration, let iw = st.width, let ih = st.height, iw > 0, ih > 0 else {
            throw Failure.bad("\(session): thermal stream \(st.key) has no calibration or size")
        }
        let endNs = try sess.endTNs ?? r.extentNs().upperBound
        let fromNs = o.fromNs ?? 0, toNs = o.toNs ?? endNs
        guard fromNs >= 0, toNs <= endNs, fromNs < toNs else {
            throw Failure.bad(String(format: "the window %.3f to %.3f s is not inside the session (0 to %.3f s) with from < to", Double(fromNs) / 1e9, Double(toNs) / 1e9, Double(endNs) / 1e9))
        }
        // Frames around the window (the nearest frame may lie just outside it).
        let pad = Int64(2e9)
        let summaries = try r.frameSummaries(streamId: st.id!, range: max(Int64.min + pad, fromNs - pad)..<(toNs + pad))
        guard !summaries.isEmpty else {
            throw Failure.bad(String(format: "%@: stream %@ has no frames near %.3f to %.3f s", session, st.key, Double(fromNs) / 1e9, Double(toNs) / 1e9))
        }
        let stepNs = 1e9 * o.speed / Double(o.fps)
        let count = max(1, Int((Double(toNs - fromNs) / stepNs).rounded(.down)))
        // The nearest frame of each video frame (either side; the earlier on a tie).
        var pick = [Int](repeating: 0, count: count)
        var j = 0
        for k in 0..<count {
            let t = fromNs + Int64((Double(k) * stepNs).rounded())
            while j + 1 < summaries.count, abs(summaries[j + 1].tNs - t) < abs(summaries[j].tNs - t) { j += 1 }
            pick[k] = j
        }
        let (lo, hi): (Float, Float)
        switch o.scale {
        case .fixed(let a, let b):
            guard a.isFinite, b.isFinite, a < b else { throw Failure.bad("--min \(a) must be below --max \(b)") }
            (lo, hi) = (a, b)
        case .auto:
            let used = Set(pick)
            let mn = used.map { summaries[$0].minCounts }.min()!, mx = used.map { summaries[$0].maxCounts }.max()!
            let a = Float(cal.celsius(UInt16(clamping: mn))), b = Float(cal.celsius(UInt16(clamping: mx)))
            (lo, hi) = (a, max(b, a + 1))
        }
        // Labels that flash: one label set.
        let all = try r.annotations()
        let choice = try LabelSetSelection.choose(all, requested: o.labelSet, session: session)
        let flashNs = Int64(max(0.5, 0.5 * o.speed) * 1e9)
        let labels = choice.labels

        // Layout: the frame at 1:1, a 100 px panel with the colour bar; even sizes for yuv420p.
        let panel = 100
        let W = (iw + panel + 1) / 2 * 2, H = (ih + 1) / 2 * 2
        let layout = Layout(iw: iw, ih: ih, W: W, H: H, lo: lo, hi: hi)
        let lut = layout.yuvLut(cal: cal, map: .inferno)
        var backgroundI420 = [UInt8](repeating: 0, count: W * H * 3 / 2)
        backgroundI420.withUnsafeMutableBufferPointer { Layout.i420(rgb: layout.background(map: .inferno), width: W, height: H, into: $0) }
        let background = backgroundI420

        let encs = try encoders(ffmpeg)
        let codec = encs.contains("libx264")
            ? "-c:v libx264 -preset ultrafast -crf 18 -pix_fmt yuv420p" : "-c:v mpeg4 -q:v 3 -pix_fmt yuv420p"
        let encoder = encs.contains("libx264") ? "libx264 (preset ultrafast, crf 18)" : "mpeg4 (q 3)"
        let errLog = FileManager.default.temporaryDirectory.appendingPathComponent("trw-video-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
        defer { try? FileManager.default.removeItem(atPath: errLog) }
        let comment = String(format: "trw video of session '%@' (uuid %@, started %@), stream %@, t = %.3f to %.3f s, speed %g, %d fps; inferno %.1f to %.1f °C",
                             sess.name, sess.uuid, sess.startUtc, st.key, Double(fromNs) / 1e9, Double(toNs) / 1e9, o.speed, o.fps, lo, hi)
        let cmd = "exec \(shellQuote(ffmpeg)) -hide_banner -loglevel error -nostats -y -f rawvideo -pix_fmt yuv420p -s \(W)x\(H) -r \(o.fps) -i pipe:0 -an \(codec) "
            + "-color_range tv -colorspace smpte170m -color_primaries smpte170m -color_trc smpte170m -movflags +faststart -metadata comment=\(shellQuote(comment)) \(shellQuote(output)) 2>\(shellQuote(errLog))"
        let child: ChildProcess
        do { child = try ChildProcess(shellCommand: cmd) } catch { throw Failure.ffmpeg("could not start \(ffmpeg): \(error)") }
        // A frame is ~0.5 MB: a 1 MB pipe lets ffmpeg take whole frames per wake-up.
        child.enlargeInputPipe(to: 1 << 20)
        func stderrText() -> String {
            let s = (try? String(contentsOfFile: errLog, encoding: .utf8)) ?? ""
            return s.isEmpty ? "(ffmpeg wrote nothing to stderr)" : String(s.suffix(2000)).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // Batches of frames: read on this thread; decoded and composed (on `workers` threads) by
        // one serial queue while this thread writes the previous batch to ffmpeg.
        let batchSize = 16
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let decoders = try Decoders(count: workers)
        let frameBytes = W * H * 3 / 2
        // Two batch buffers, reused: one is composed while the other is written.
        let buffers = [Batch(capacity: batchSize, frameBytes: frameBytes), Batch(capacity: batchSize, frameBytes: frameBytes)]
        var batchIndex = 0
        let state = State()
        var shownLabels: Set<Int64> = []
        var k0 = 0
        var pending: (DispatchGroup, Batch)? = nil
        let queue = DispatchQueue(label: "trw.video.compose")
        func writeBatch(_ b: Batch) throws {
            do {
                try b.withBytes { (p) throws(ChildProcessError) in try child.write(p, deadline: .after(seconds: o.stallTimeoutS)) }
            } catch {
                let exit = error == .timedOut ? child.terminate(grace: 2) : child.finish(exitWithin: 5, grace: 2)
                let why = error == .timedOut ? "took no frames for \(Int(o.stallTimeoutS)) s (stalled; ended it)" : "stopped reading frames"
                throw Failure.ffmpeg("ffmpeg \(why), \(exit): \(stderrText())")
            }
        }
        let reader = r, stream = st
        do {
            while k0 < count {
                let n = min(batchSize, count - k0)
                var jobs: [Job] = []
                for k in k0..<(k0 + n) {
                    let s = summaries[pick[k]]
                    let t = fromNs + Int64((Double(k) * stepNs).rounded())
                    let flashes = labels.filter { a in
                        if let e = a.endTNs { return t >= a.startTNs - flashNs && t <= e + flashNs }
                        return abs(a.startTNs - t) <= flashNs
                    }
                    for a in flashes { if let id = a.id { shownLabels.insert(id) } }
                    let repeated = k > k0 && pick[k - 1] == pick[k]
                    jobs.append(Job(record: repeated ? nil : try r.frame(id: s.id), summary: s, tNs: t,
                                    labels: flashes.map { $0.label + ($0.endTNs == nil ? String(format: " %.1f S", Double($0.startTNs) / 1e9) : "") }))
                }
                let batch = buffers[batchIndex % 2]
                batch.count = n
                batchIndex += 1
                let group = DispatchGroup()
                let jobsCopy = jobs
                queue.async(group: group) {
                    let decoded = DecodedBox(n)
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        var i = w
                        while i < n {
                            // A frame shown again (source slower than the video) is decoded once.
                            if let rec = jobsCopy[i].record, i == 0 || jobsCopy[i - 1].summary.id != jobsCopy[i].summary.id {
                                do throws(DamagedPayload) { decoded.set(i, .success(try reader.pixels(of: rec, stream: stream, decoder: decoders.get(w)))) } catch {
                                    decoded.set(i, .failure(error))
                                }
                            }
                            i += workers
                        }
                    }
                    // In order: a damaged frame holds the last good one (never wrong pixels), counted.
                    var frames: [[UInt16]?] = [], marks: [Bool] = []
                    for i in 0..<n {
                        if i > 0 && jobsCopy[i - 1].summary.id == jobsCopy[i].summary.id {
                            frames.append(frames[i - 1]); marks.append(marks[i - 1])
                            continue
                        }
                        switch decoded.get(i) {
                        case .success(let px)?: state.lastGood = px; frames.append(px); marks.append(false)
                        case .failure(let e)?: state.damaged.record(e); frames.append(state.lastGood); marks.append(true)
                        case nil: frames.append(state.lastGood); marks.append(true)
                        }
                    }
                    let framesLet = frames, marksLet = marks
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        var i = w
                        while i < n {
                            batch.withFrame(i) { dst in
                                layout.compose(into: dst, background: background, lut: lut, pixels: framesLet[i], job: jobsCopy[i],
                                               damaged: marksLet[i], cal: cal)
                            }
                            i += workers
                        }
                    }
                }
                if let (g, b) = pending { g.wait(); try writeBatch(b) }
                pending = (group, batch)
                k0 += n
                progress?(k0, count)
            }
            if let (g, b) = pending { g.wait(); try writeBatch(b); pending = nil }
        } catch {
            if let (g, _) = pending { g.wait() }
            if !child.hasExited { _ = child.terminate(grace: 2) }
            throw error
        }
        let damaged = state.damaged
        let exit = child.finish(exitWithin: o.stallTimeoutS, grace: 2)
        guard exit.succeeded else {
            throw Failure.ffmpeg("ffmpeg failed writing \(output) (\(exit)): \(stderrText())")
        }
        return Result(path: output, frames: count, width: W, height: H, fps: o.fps, fromS: Double(fromNs) / 1e9, toS: Double(toNs) / 1e9,
                      scale: (lo, hi), encoder: encoder, labelSet: choice.summary, labelsShown: shownLabels.count,
                      damaged: damaged, wallS: Date().timeIntervalSince(t0))
    }

    struct Job: @unchecked Sendable {
        var record: ThermalFrameRecord?
        var summary: ThermalFrameSummary
        var tNs: Int64
        var labels: [String]
    }

    /// One FrameDecoder per worker (a decoder is used by one thread at a time).
    final class Decoders: @unchecked Sendable {
        let items: [FrameDecoder]
        init(count: Int) throws { items = try (0..<count).map { _ in try FrameDecoder() } }
        func get(_ i: Int) -> FrameDecoder { items[i] }
    }

    /// What the serial compose queue carries from batch to batch.
    final class State: @unchecked Sendable {
        var lastGood: [UInt16]? = nil
        var damaged = DamageTally()
    }

    /// Decoded frames of one batch; each index written by one worker.
    final class DecodedBox: @unchecked Sendable {
        var items: [Swift.Result<[UInt16], DamagedPayload>?]
        let lock = NSLock()
        init(_ n: Int) { items = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ v: Swift.Result<[UInt16], DamagedPayload>) { lock.lock(); items[i] = v; lock.unlock() }
        func get(_ i: Int) -> Swift.Result<[UInt16], DamagedPayload>? { lock.lock(); defer { lock.unlock() }; return items[i] }
    }

    /// I420 frames of one batch, contiguous; each frame written by one worker. Reused from
    /// batch to batch (`count` frames of `capacity` in use).
    final class Batch: @unchecked Sendable {
        let frameBytes: Int
        let capacity: Int
        private let base: UnsafeMutablePointer<UInt8>
        var count = 0
        init(capacity: Int, frameBytes: Int) {
            self.frameBytes = frameBytes
            self.capacity = capacity
            base = .allocate(capacity: capacity * frameBytes)
            base.initialize(repeating: 0, count: capacity * frameBytes)
        }
        deinit { base.deallocate() }
        func withFrame(_ i: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
            precondition(i < capacity)
            body(UnsafeMutableBufferPointer(start: base + i * frameBytes, count: frameBytes))
        }
        /// The `count` composed frames, without a copy (called once they are all composed).
        func withBytes<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
            try body(UnsafeRawBufferPointer(start: base, count: count * frameBytes))
        }
    }

    /// Raw counts to I420 samples through the calibration and the colour map: Y per pixel, and
    /// U and V before their final shift (a 2 x 2 block's chroma is the rounded mean of its four).
    struct YUVLut: Sendable {
        var y: [UInt8], u: [Int32], v: [Int32]
    }

    /// BT.601 limited-range luma of one RGB pixel.
    @inline(__always) static func luma(_ r: Int, _ g: Int, _ b: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16)
    }
    /// Chroma sums before the shift (`chroma(sum of n, n)` turns them into samples).
    @inline(__always) static func uRaw(_ r: Int, _ g: Int, _ b: Int) -> Int { -38 * r - 74 * g + 112 * b }
    @inline(__always) static func vRaw(_ r: Int, _ g: Int, _ b: Int) -> Int { 112 * r - 94 * g - 18 * b }
    /// The mean of `n` raw chroma values as a sample.
    @inline(__always) static func chroma(_ sum: Int, _ n: Int) -> UInt8 {
        n == 4 ? UInt8(truncatingIfNeeded: ((sum + 512) >> 10) + 128)
            : UInt8(truncatingIfNeeded: Int((Double(sum) / Double(256 * n)).rounded()) + 128)
    }

    /// An I420 frame being drawn on: rectangles and text in RGB colours. A rectangle's chroma
    /// covers every 2 x 2 block it touches (text edges may tint half a pixel beside them).
    struct I420Canvas {
        let base: UnsafeMutablePointer<UInt8>
        let W: Int, H: Int
        func fill(x: Int, y: Int, w: Int, h: Int, color c: (UInt8, UInt8, UInt8)) {
            let x0 = max(0, x), x1 = min(W, x + w), y0 = max(0, y), y1 = min(H, y + h)
            guard x0 < x1, y0 < y1 else { return }
            let (r, g, b) = (Int(c.0), Int(c.1), Int(c.2))
            let yv = IRVideo.luma(r, g, b)
            for yy in y0..<y1 { (base + yy * W + x0).update(repeating: yv, count: x1 - x0) }
            let u = IRVideo.chroma(4 * IRVideo.uRaw(r, g, b), 4), v = IRVideo.chroma(4 * IRVideo.vRaw(r, g, b), 4)
            let cw = W / 2, up = base + W * H, vp = up + cw * (H / 2)
            let cx0 = x0 / 2, cx1 = (x1 + 1) / 2
            for cy in (y0 / 2)..<((y1 + 1) / 2) {
                (up + cy * cw + cx0).update(repeating: u, count: cx1 - cx0)
                (vp + cy * cw + cx0).update(repeating: v, count: cx1 - cx0)
            }
        }
        func draw(_ text: String, x: Int, y: Int, scale: Int, color: (UInt8, UInt8, UInt8)) {
            BitmapFont.draw(text, x: x, y: y, scale: scale) { fx, fy, fw, fh in fill(x: fx, y: fy, w: fw, h: fh, color: color) }
        }
    }

    /// Where things go in a video frame, and the static parts.
    struct Layout: Sendable {
        let iw: Int, ih: Int, W: Int, H: Int
        let lo: Float, hi: Float
        let barX: Int, barW = 18
        /// Font pixels per glyph pixel: 2 from 360 rows up (640x480 cameras), else 1.
        let fs: Int
        var barTop: Int { 14 + 9 * fs }
        var barBottom: Int { H - 4 - 4 * fs }
        /// Height of one line of text with its box.
        var line: Int { 7 * fs + 4 * fs + 2 }

        init(iw: Int, ih: Int, W: Int, H: Int, lo: Float, hi: Float) {
            self.iw = iw; self.ih = ih; self.W = W; self.H = H; self.lo = lo; self.hi = hi
            barX = iw + 12
            fs = ih >= 360 ? 2 : 1
        }

        /// Raw counts to I420 samples through the calibration and the map: one lookup per pixel.
        func yuvLut(cal: ThermalCalibration, map: ColorMap) -> YUVLut {
            var t = YUVLut(y: [UInt8](repeating: 0, count: 65536), u: [Int32](repeating: 0, count: 65536), v: [Int32](repeating: 0, count: 65536))
            let table = map.table, span = Double(hi - lo)
            for c in 0..<65536 {
                let i = ColorMap.index((cal.celsius(UInt16(c)) - Double(lo)) / span) * 3
                let (r, g, b) = (Int(table[i]), Int(table[i + 1]), Int(table[i + 2]))
                t.y[c] = IRVideo.luma(r, g, b)
                t.u[c] = Int32(IRVideo.uRaw(r, g, b)); t.v[c] = Int32(IRVideo.vRaw(r, g, b))
            }
            return t
        }

        /// The panel: dark background, the colour bar (hi at the top) with °C ticks.
        func background(map: ColorMap) -> [UInt8] {
            var px = [UInt8](repeating: 24, count: W * H * 3)
            let table = map.table
            let h = barBottom - barTop
            for y in barTop..<barBottom {
                let i = ColorMap.index(Double(barBottom - 1 - y) / Double(max(1, h - 1))) * 3
                BitmapFont.fill(x: barX, y: y, w: barW, h: 1, color: (table[i], table[i + 1], table[i + 2]), into: &px, width: W, height: H)
            }
            BitmapFont.draw("°C", x: barX + 2, y: 4 + fs, scale: fs, color: (230, 230, 230), into: &px, width: W, height: H)
            // Ticks at least two text lines apart.
            let ticks = Axis.niceTicks(Double(lo), Double(hi), count: Swift.max(2, Swift.min(8, h / (2 * line))))
            for v in ticks where v >= Double(lo) && v <= Double(hi) {
                let y = barBottom - 1 - Int(((v - Double(lo)) / Double(hi - lo) * Double(h - 1)).rounded())
                BitmapFont.fill(x: barX + barW, y: y, w: 5, h: 1, color: (230, 230, 230), into: &px, width: W, height: H)
                BitmapFont.draw(Axis.formatTick(v), x: barX + barW + 8, y: y - 7 * fs / 2, scale: fs, color: (230, 230, 230), into: &px, width: W, height: H)
            }
            return px
        }

        /// RGB (3 bytes per pixel, BT.601 limited range: what H.264 players assume for
        /// standard-definition video) to I420: a full-size Y plane, then U and V at half size in
        /// both directions, each from the mean of its 2 x 2 pixels. `width` and `height` are even.
        static func i420(rgb: [UInt8], width W: Int, height H: Int, into dst: UnsafeMutableBufferPointer<UInt8>) {
            precondition(W % 2 == 0 && H % 2 == 0 && rgb.count == W * H * 3 && dst.count == W * H * 3 / 2)
            let cw = W / 2
            rgb.withUnsafeBufferPointer { src in
                let y0 = dst.baseAddress!, u0 = y0 + W * H, v0 = u0 + cw * (H / 2)
                for cy in 0..<(H / 2) {
                    let r0 = 2 * cy * W * 3, r1 = r0 + W * 3
                    let ya = y0 + 2 * cy * W, yb = ya + W
                    let uo = u0 + cy * cw, vo = v0 + cy * cw
                    @inline(__always) func luma(_ i: Int, _ out: UnsafeMutablePointer<UInt8>, _ rs: inout Int, _ gs: inout Int, _ bs: inout Int) {
                        let r = Int(src[i]), g = Int(src[i + 1]), b = Int(src[i + 2])
                        out.pointee = IRVideo.luma(r, g, b)
                        rs += r; gs += g; bs += b
                    }
                    for cx in 0..<cw {
                        var rs = 0, gs = 0, bs = 0
                        let i = 6 * cx
                        luma(r0 + i, ya + 2 * cx, &rs, &gs, &bs)
                        luma(r0 + i + 3, ya + 2 * cx + 1, &rs, &gs, &bs)
                        luma(r1 + i, yb + 2 * cx, &rs, &gs, &bs)
                        luma(r1 + i + 3, yb + 2 * cx + 1, &rs, &gs, &bs)
                        uo[cx] = IRVideo.chroma(IRVideo.uRaw(rs, gs, bs), 4)
                        vo[cx] = IRVideo.chroma(IRVideo.vRaw(rs, gs, bs), 4)
                    }
                }
            }
        }

        /// One video frame in I420 into `dst`: the background (panel and colour bar), the
        /// colour-mapped frame at the top left, then the overlays.
        func compose(into dst: UnsafeMutableBufferPointer<UInt8>, background: [UInt8], lut: YUVLut, pixels: [UInt16]?,
                     job: Job, damaged: Bool, cal: ThermalCalibration) {
            precondition(dst.count == background.count && dst.count == W * H * 3 / 2)
            _ = background.withUnsafeBufferPointer { dst.update(fromContentsOf: $0) }
            let canvas = I420Canvas(base: dst.baseAddress!, W: W, H: H)
            if let pixels {
                precondition(pixels.count == iw * ih)
                let cw = W / 2, yp = canvas.base, up = yp + W * H, vp = up + cw * (H / 2)
                lut.y.withUnsafeBufferPointer { ly in lut.u.withUnsafeBufferPointer { lu in lut.v.withUnsafeBufferPointer { lv in
                    pixels.withUnsafeBufferPointer { src in
                        let evenW = iw & ~1
                        for cy in 0..<((ih + 1) / 2) {
                            let ya = 2 * cy, yb = min(ya + 1, ih - 1), rows = yb > ya ? 2 : 1
                            let sa = ya * iw, sb = yb * iw
                            let da = yp + ya * W, db = yp + yb * W
                            let uo = up + cy * cw, vo = vp + cy * cw
                            var x = 0
                            while x < evenW {
                                let a0 = Int(src[sa + x]), a1 = Int(src[sa + x + 1]), b0 = Int(src[sb + x]), b1 = Int(src[sb + x + 1])
                                da[x] = ly[a0]; da[x + 1] = ly[a1]; db[x] = ly[b0]; db[x + 1] = ly[b1]
                                if rows == 2 {
                                    uo[x >> 1] = IRVideo.chroma(Int(lu[a0]) + Int(lu[a1]) + Int(lu[b0]) + Int(lu[b1]), 4)
                                    vo[x >> 1] = IRVideo.chroma(Int(lv[a0]) + Int(lv[a1]) + Int(lv[b0]) + Int(lv[b1]), 4)
                                } else {
                                    uo[x >> 1] = IRVideo.chroma(Int(lu[a0]) + Int(lu[a1]), 2)
                                    vo[x >> 1] = IRVideo.chroma(Int(lv[a0]) + Int(lv[a1]), 2)
                                }
                                x += 2
                            }
                            if evenW < iw {  // an odd width: the last column's block is half frame, half panel
                                let a = Int(src[sa + evenW]), b = Int(src[sb + evenW])
                                da[evenW] = ly[a]; db[evenW] = ly[b]
                                uo[evenW >> 1] = IRVideo.chroma(Int(lu[a]) + (rows == 2 ? Int(lu[b]) : 0), rows)
                                vo[evenW >> 1] = IRVideo.chroma(Int(lv[a]) + (rows == 2 ? Int(lv[b]) : 0), rows)
                            }
                        }
                    }
                } } }
                // Hotspot: a cyan cross and its temperature.
                let hx = job.summary.hotspotX, hy = job.summary.hotspotY
                let cyan: (UInt8, UInt8, UInt8) = (0, 229, 255)
                let arm = 4 * fs, gap = 2 * fs + 1
                canvas.fill(x: hx - gap - arm, y: hy, w: arm, h: fs, color: cyan)
                canvas.fill(x: hx + gap + 1, y: hy, w: arm, h: fs, color: cyan)
                canvas.fill(x: hx, y: hy - gap - arm, w: fs, h: arm, color: cyan)
                canvas.fill(x: hx, y: hy + gap + 1, w: fs, h: arm, color: cyan)
                let tMax = String(format: "%.1f°C", cal.celsius(UInt16(clamping: job.summary.maxCounts)))
                let tw = BitmapFont.width(tMax, scale: fs)
                var tx = hx + gap + arm + 2, ty = hy + gap + 2
                if tx + tw + 2 > iw { tx = hx - gap - arm - 2 - tw }
                if ty + 7 * fs + 2 > ih { ty = hy - gap - 2 - 7 * fs }
                canvas.fill(x: tx - fs, y: ty - fs, w: tw + 2 * fs, h: 9 * fs, color: (0, 0, 0))
                canvas.draw(tMax, x: tx, y: ty, scale: fs, color: cyan)
            }
            // Session time, top left.
            let time = String(format: "T %.2f S", Double(job.tNs) / 1e9)
            canvas.fill(x: 2, y: 2, w: BitmapFont.width(time, scale: fs) + 4 * fs, h: 11 * fs, color: (0, 0, 0))
            canvas.draw(time, x: 2 + 2 * fs, y: 2 + 2 * fs, scale: fs, color: (255, 255, 255))
            if damaged {
                let s = "DAMAGED FRAME"
                canvas.fill(x: 2, y: 4 + 11 * fs, w: BitmapFont.width(s, scale: fs) + 4 * fs, h: 11 * fs, color: (200, 0, 0))
                canvas.draw(s, x: 2 + 2 * fs, y: 4 + 13 * fs, scale: fs, color: (255, 255, 255))
            }
            // Label flashes, bottom left, newest last.
            var y = ih - 2 - 11 * fs
            for l in job.labels.reversed() {
                canvas.fill(x: 2, y: y, w: BitmapFont.width(l, scale: fs) + 4 * fs, h: 11 * fs, color: (255, 214, 0))
                canvas.draw(l, x: 2 + 2 * fs, y: y + 2 * fs, scale: fs, color: (0, 0, 0))
                y -= 12 * fs
            }
        }
    }
}
