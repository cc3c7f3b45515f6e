import Foundation

/// The DP-LSTM's config.json (models/trw_models/dplstm.py, recurrent.py).
public struct DPLSTMConfig: Sendable {
    public var features: [String]
    public var mean: [Float], std: [Float], clip: Float
    /// Feature indices of dT and dV (the mask drive) and their scales.
    public var driveIndex: [Int], driveScale: [Float]
    public var nIn: Int, hidden: Int, layers: Int, kappa: Float
    public var d: Int, heads: Int, policyLayers: Int, window: Int, ff: Int

    public static func load(path: String) throws -> DPLSTMConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelFileError.unreadable(path, "no such file") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFileError.badConfig(path, "not a JSON object")
        }
        guard (root["model"] as? String) == "dp-lstm" else {
            throw ModelFileError.badConfig(path, "model is '\(root["model"] ?? "?")', the Swift runtime runs only dp-lstm (serve others with `python -m trw_models serve`)")
        }
        func req<T>(_ o: [String: Any]?, _ k: String, _ t: T.Type) throws -> T {
            guard let v = o?[k] as? T else { throw ModelFileError.badConfig(path, "missing or mistyped '\(k)'") }
            return v
        }
        let norm = try req(root, "norm", [String: Any].self)
        let arch = try req(root, "arch", [String: Any].self)
        let pol = try req(arch, "policy", [String: Any].self)
        let features = try req(root, "features", [String].self)
        let floats = { (o: [String: Any], k: String) throws -> [Float] in try req(o, k, [NSNumber].self).map(\.floatValue) }
        let driveNames = try req(norm, "drive_features", [String].self)
        let driveIndex = try driveNames.map { n -> Int in
            guard let i = features.firstIndex(of: n) else { throw ModelFileError.badConfig(path, "drive feature '\(n)' is not an input") }
            return i
        }
        let c = DPLSTMConfig(
            features: features, mean: try floats(norm, "mean"), std: try floats(norm, "std"),
            clip: try req(norm, "clip", NSNumber.self).floatValue, driveIndex: driveIndex, driveScale: try floats(norm, "drive_scale"),
            nIn: try req(arch, "n_in", Int.self), hidden: try req(arch, "hidden", Int.self), layers: try req(arch, "layers", Int.self),
            kappa: try req(arch, "kappa", NSNumber.self).floatValue, d: try req(pol, "d", Int.self), heads: try req(pol, "heads", Int.self),
            policyLayers: try req(pol, "layers", Int.self), window: try req(pol, "window", Int.self), ff: try req(pol, "ff", Int.self))
        guard c.mean.count == c.nIn, c.std.count == c.nIn, c.features.count == c.nIn, c.d % c.heads == 0, c.driveScale.count == 2 else {
            throw ModelFileError.badConfig(path, "inconsistent sizes (features \(c.features.count), n_in \(c.nIn), mean \(c.mean.count), d \(c.d), heads \(c.heads))")
        }
        return c
    }
}

/// Dense layer, row-major [out x in].
struct Dense: Sendable {
    var w: [Float], b: [Float], nOut: Int, nIn: Int
}

struct PolicyLayer: Sendable {
    var q: Dense, k: Dense, v: Dense, o: Dense, ff1: Dense, ff2: Dense
    var relBias: [Float]  // [heads x window], index = age
    var ln1g: [Float], ln1b: [Float], ln2g: [Float], ln2b: [Float]
}

/// One LSTM layer with each cell's four gate rows (i, f, g, o) stored next to
/// each other, so an active cell reads one contiguous block and a pruned cell
/// is skipped without touching its weights.
struct PackedLSTMLayer: Sendable {
    var nIn: Int
    var wIH: [Float]  // [H][4][nIn]
    var wHH: [Float]  // [H][4][H]
    var b: [Float]    // [H][4]
}

/// The trained DP-LSTM's weights (immutable, shareable).
public struct DPLSTMWeights: Sendable {
    public let config: DPLSTMConfig
    var lstm: [PackedLSTMLayer]
    var alpha: [Float], beta: [Float], tau: [Float]  // [L x H]
    var embed: Dense
    var policy: [PolicyLayer]
    var policyHead: Dense  // [(L*H) x d]
    var head: Dense        // [1 x (H + d)]

    /// Loads DIR/config.json and DIR/model.safetensors.
    public init(directory: String) throws {
        let cfg = try DPLSTMConfig.load(path: directory + "/config.json")
        let path = directory + "/model.safetensors"
        try self.init(config: cfg, tensors: try SafeTensors.read(path: path), path: path)
    }

    public init(config c: DPLSTMConfig, tensors t: [String: Tensor], path: String = "<memory>") throws {
        config = c
        func get(_ n: String, _ shape: [Int]) throws -> [Float] {
            guard let x = t[n] else { throw ModelFileError.missingTensor(path, n, shape) }
            guard x.shape == shape else { throw ModelFileError.badShape(path, n, expected: shape, found: x.shape) }
            return x.values
        }
        func dense(_ n: String, _ o: Int, _ i: Int) throws -> Dense {
            Dense(w: try get(n + "/w", [o, i]), b: try get(n + "/b", [o]), nOut: o, nIn: i)
        }
        let H = c.hidden, L = c.layers, d = c.d
        lstm = try (0..<L).map { l in
            let nIn = l == 0 ? c.nIn : H
            let wih = try get("lstm/l\(l)/w_ih", [4 * H, nIn]), whh = try get("lstm/l\(l)/w_hh", [4 * H, H]), b = try get("lstm/l\(l)/b", [4 * H])
            var p = PackedLSTMLayer(nIn: nIn, wIH: [Float](repeating: 0, count: 4 * H * nIn), wHH: [Float](repeating: 0, count: 4 * H * H),
                                    b: [Float](repeating: 0, count: 4 * H))
            for i in 0..<H {
                for g in 0..<4 {
                    let src = g * H + i, dst = i * 4 + g
                    p.b[dst] = b[src]
                    for j in 0..<nIn { p.wIH[dst * nIn + j] = wih[src * nIn + j] }
                    for j in 0..<H { p.wHH[dst * H + j] = whh[src * H + j] }
                }
            }
            return p
        }
        alpha = try get("gate/alpha", [L, H]); beta = try get("gate/beta", [L, H]); tau = try get("gate/tau", [L, H])
        embed = try dense("policy/embed", d, c.nIn)
        policy = try (0..<c.policyLayers).map { j in
            let p = "policy/l\(j)"
            return PolicyLayer(q: try dense(p + "/q", d, d), k: try dense(p + "/k", d, d), v: try dense(p + "/v", d, d),
                               o: try dense(p + "/o", d, d), ff1: try dense(p + "/ff1", c.ff, d), ff2: try dense(p + "/ff2", d, c.ff),
                               relBias: try get(p + "/rel_bias", [c.heads, c.window]),
                               ln1g: try get(p + "/ln1/g", [d]), ln1b: try get(p + "/ln1/b", [d]),
                               ln2g: try get(p + "/ln2/g", [d]), ln2b: try get(p + "/ln2/b", [d]))
        }
        policyHead = try dense("policy/head", L * H, d)
        head = try dense("head", 1, H + d)
    }

    /// Multiply-adds of one dense LSTM step (all cells, all inputs) plus the score head:
    /// the reference that pruning is measured against (the policy is not counted in it).
    public var denseLSTMMACs: Int {
        lstm.reduce(0) { $0 + 4 * config.hidden * ($1.nIn + config.hidden) } + config.hidden
    }
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// Runs the DP-LSTM online, one tick at a time. The mask is computed first
/// (from the tick's dT, dV and the policy's view of the recent inputs); then
/// only active cells' four gate rows are evaluated, each over the active
/// inputs only (pruned cells emit h~ = 0). A pruned cell keeps its memory c.
public struct DPLSTMRuntime: Sendable {
    public let weights: DPLSTMWeights
    public var config: DPLSTMConfig { weights.config }
    // LSTM state: h~ (pruned hidden state) and c per layer, active index lists of the last tick.
    var h: [[Float]], c: [[Float]], active: [[Int]]
    // Policy caches: per layer, keys and values of the last W ticks (ring; slot of age a at (head - a) mod W).
    var kCache: [[Float]], vCache: [[Float]]
    var ringHead = -1
    var seen = 0
    public internal(set) var last: [Float]
    // Scratch.
    var xn: [Float], z: [Float], keep: [Float], mask: [Bool], nextActive: [Int], gates: [Float]

    /// Multiply-adds of the last step (policy, mask and active gate rows).
    public private(set) var lastMACs = 0
    /// Active cells per layer at the last step.
    public private(set) var lastActive: [Int]
    /// Keep probabilities of the last step ([L x H]) and the hard mask.
    public var lastKeep: [Float] { keep }
    public var lastMask: [Bool] { mask }

    public init(weights: DPLSTMWeights) {
        self.weights = weights
        let c = weights.config
        h = Array(repeating: [Float](repeating: 0, count: c.hidden), count: c.layers)
        self.c = h
        active = Array(repeating: [], count: c.layers)
        kCache = Array(repeating: [Float](repeating: 0, count: c.window * c.d), count: c.policyLayers)
        vCache = kCache
        last = [Float](repeating: 0, count: c.nIn)
        xn = [Float](repeating: 0, count: c.nIn)
        z = [Float](repeating: 0, count: c.d)
        keep = [Float](repeating: 0, count: c.layers * c.hidden)
        mask = [Bool](repeating: false, count: c.layers * c.hidden)
        nextActive = []
        nextActive.reserveCapacity(c.hidden)
        gates = [Float](repeating: 0, count: 4)
        lastActive = Array(repeating: 0, count: c.layers)
    }

    public mutating func reset() { self = DPLSTMRuntime(weights: weights) }

    /// Raw inputs in config.features order (NaN: not available, the last value is carried).
    /// With `prune: false` every cell is evaluated (M = 1): the dense reference with the same weights.
    public mutating func step(raw: [Float], prune: Bool = true) -> Float {
        let cfg = weights.config
        let H = cfg.hidden, L = cfg.layers
        var macs = 0
        for j in 0..<cfg.nIn {
            let v = raw[j].isNaN ? last[j] : raw[j]
            last[j] = v
            xn[j] = min(cfg.clip, max(-cfg.clip, (v - cfg.mean[j]) / cfg.std[j]))
        }
        let dT = abs(last[cfg.driveIndex[0]]) / cfg.driveScale[0]
        let dV = abs(last[cfg.driveIndex[1]]) / cfg.driveScale[1]
        macs += policyStep()
        // Mask first: the threshold gate, then the policy row only where the gate alone does not decide.
        for k in 0..<(L * H) {
            let u = weights.alpha[k] * dT + weights.beta[k] * dV
            let g = sigmoid((u - weights.tau[k]) / cfg.kappa)
            macs += 2
            if prune && g > 0.5 {  // keep = 1 - (1-p)(1-g) > 0.5 whatever p is
                keep[k] = g  // a lower bound of keep: the policy row is not needed
                mask[k] = true
                continue
            }
            var p = weights.policyHead.b[k]
            weights.policyHead.w.withUnsafeBufferPointer { w in
                z.withUnsafeBufferPointer { zp in p += dot(w.baseAddress! + k * cfg.d, zp.baseAddress!, cfg.d) }
            }
            macs += cfg.d
            let kp = 1 - (1 - sigmoid(p)) * (1 - g)
            keep[k] = kp
            mask[k] = !prune || kp > 0.5
        }
        // The LSTM stack over active cells only.
        for l in 0..<L {
            let layer = weights.lstm[l]
            let nIn = layer.nIn
            nextActive.removeAll(keepingCapacity: true)
            for i in 0..<H where mask[l * H + i] { nextActive.append(i) }
            let inputs: [Float] = l == 0 ? xn : h[l - 1]
            // Active inputs: layer l-1 has already advanced to this tick. nil = all (layer 0, or dense).
            // When most inputs are active, a SIMD pass over all columns (pruned h~ are exactly 0) beats the gather.
            let dense = { (list: [Int]) in list.count * 2 > H }
            let inActive: [Int]? = (l == 0 || !prune || dense(active[l - 1])) ? nil : active[l - 1]
            let prevActive: [Int]? = (prune && !dense(active[l])) ? active[l] : nil
            var newH = [Float](repeating: 0, count: H)
            var cl = c[l]
            let hl = h[l]
            layer.wIH.withUnsafeBufferPointer { wih in
                layer.wHH.withUnsafeBufferPointer { whh in
                    inputs.withUnsafeBufferPointer { x in
                        hl.withUnsafeBufferPointer { hp in
                            for i in nextActive {
                                var a0 = layer.b[i * 4], a1 = layer.b[i * 4 + 1], a2 = layer.b[i * 4 + 2], a3 = layer.b[i * 4 + 3]
                                let r = i * 4 * nIn
                                if let inActive {
                                    for j in inActive {
                                        let xv = x[j]
                                        a0 += wih[r + j] * xv; a1 += wih[r + nIn + j] * xv
                                        a2 += wih[r + 2 * nIn + j] * xv; a3 += wih[r + 3 * nIn + j] * xv
                                    }
                                } else {
                                    let wb = wih.baseAddress! + r, xb = x.baseAddress!
                                    a0 += dot(wb, xb, nIn); a1 += dot(wb + nIn, xb, nIn)
                                    a2 += dot(wb + 2 * nIn, xb, nIn); a3 += dot(wb + 3 * nIn, xb, nIn)
                                }
                                let rh = i * 4 * H
                                if let prevActive {
                                    for j in prevActive {
                                        let hv = hp[j]
                                        a0 += whh[rh + j] * hv; a1 += whh[rh + H + j] * hv
                                        a2 += whh[rh + 2 * H + j] * hv; a3 += whh[rh + 3 * H + j] * hv
                                    }
                                } else {
                                    let wb = whh.baseAddress! + rh, hb = hp.baseAddress!
                                    a0 += dot(wb, hb, H); a1 += dot(wb + H, hb, H)
                                    a2 += dot(wb + 2 * H, hb, H); a3 += dot(wb + 3 * H, hb, H)
                                }
                                let cn = sigmoid(a1) * cl[i] + sigmoid(a0) * tanhf(a2)
                                cl[i] = cn
                                newH[i] = sigmoid(a3) * tanhf(cn)
                            }
                        }
                    }
                }
            }
            macs += nextActive.count * 4 * ((inActive?.count ?? nIn) + (prevActive?.count ?? H))
            h[l] = newH
            c[l] = cl
            active[l] = nextActive
            lastActive[l] = nextActive.count
        }
        // Score on [h~_top ; z].
        var s = weights.head.b[0]
        let top = h[L - 1]
        for i in active[L - 1] { s += weights.head.w[i] * top[i] }
        for j in 0..<cfg.d { s += weights.head.w[H + j] * z[j] }
        macs += active[L - 1].count + cfg.d
        lastMACs = macs
        return sigmoid(s)
    }

    /// The streaming transformer: embeds the tick, runs each layer for the new
    /// position against its cached last W keys/values; z = the top output.
    mutating func policyStep() -> Int {
        let cfg = weights.config
        let d = cfg.d, W = cfg.window, nh = cfg.heads, dh = d / nh
        var macs = 0
        var x = affine(weights.embed, xn)
        macs += d * cfg.nIn
        ringHead = (ringHead + 1) % W
        let valid = min(seen, W - 1) + 1
        seen += 1
        let scale = 1 / Float(dh).squareRoot()
        for j in 0..<cfg.policyLayers {
            let p = weights.policy[j]
            let q = affine(p.q, x), k = affine(p.k, x), v = affine(p.v, x)
            for e in 0..<d { kCache[j][ringHead * d + e] = k[e]; vCache[j][ringHead * d + e] = v[e] }
            var att = [Float](repeating: 0, count: d)
            var logits = [Float](repeating: 0, count: valid)
            for hd in 0..<nh {
                var mx = -Float.infinity
                for a in 0..<valid {
                    let slot = (ringHead - a + W) % W
                    var s: Float = 0
                    for e in 0..<dh { s += q[hd * dh + e] * kCache[j][slot * d + hd * dh + e] }
                    let lg = s * scale + p.relBias[hd * W + a]
                    logits[a] = lg
                    mx = max(mx, lg)
                }
                var sum: Float = 0
                for a in 0..<valid { logits[a] = expf(logits[a] - mx); sum += logits[a] }
                for a in 0..<valid {
                    let slot = (ringHead - a + W) % W
                    let wgt = logits[a] / sum
                    for e in 0..<dh { att[hd * dh + e] += wgt * vCache[j][slot * d + hd * dh + e] }
                }
            }
            let o = affine(p.o, att)
            for e in 0..<d { x[e] += o[e] }
            x = layerNorm(x, p.ln1g, p.ln1b)
            var f = affine(p.ff1, x)
            for e in 0..<f.count { f[e] = max(0, f[e]) }
            let f2 = affine(p.ff2, f)
            for e in 0..<d { x[e] += f2[e] }
            x = layerNorm(x, p.ln2g, p.ln2b)
            macs += 4 * d * d + 2 * valid * d + 2 * d * cfg.ff
        }
        z = x
        return macs
    }
}

/// Dot product of n floats, 16 lanes at a time (SIMD), scalar tail.
@inline(__always) func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var j = 0
    while j + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: 4 * j + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * j + 32, as: SIMD8<Float>.self)
        j += 16
    }
    if j + 8 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
        j += 8
    }
    var s = (acc0 + acc1).sum()
    while j < n { s += a[j] * b[j]; j += 1 }
    return s
}

@inline(__always) func affine(_ m: Dense, _ x: [Float]) -> [Float] {
    var out = m.b
    m.w.withUnsafeBufferPointer { w in
        x.withUnsafeBufferPointer { xp in
            for r in 0..<m.nOut { out[r] += dot(w.baseAddress! + r * m.nIn, xp.baseAddress!, m.nIn) }
        }
    }
    return out
}

func layerNorm(_ x: [Float], _ g: [Float], _ b: [Float]) -> [Float] {
    let n = Float(x.count)
    var m: Float = 0
    for v in x { m += v }
    m /= n
    var s: Float = 0
    for v in x { s += (v - m) * (v - m) }
    let inv = 1 / (s / n + 1e-5).squareRoot()
    var out = x
    for i in 0..<x.count { out[i] = (x[i] - m) * inv * g[i] + b[i] }
    return out
}
