/// 2D heat equation over a thin plate (the cell face), lumped through the
/// thickness, with convection and radiation from both faces and the four
/// narrow edges:
///
///     rho cp d dT/dt = d k lap(T) + d q - 2 h (T - Ta) - 2 eps sigma (T^4 - Ta^4)
///
/// (fin / thin-plate form, e.g. Incropera & DeWitt, Fundamentals of Heat and
/// Mass Transfer, ch. 3.6; the lumped-through-thickness plate is the model of
/// Kim, Pesaran & Spotnitz 2007 reduced to 2D).
///
/// Time stepping: locally one-dimensional (LOD) backward Euler splitting,
/// x-implicit then y-implicit, each a tridiagonal (Thomas) solve per line.
/// Unconditionally stable and L-stable (no oscillation for stiff steps),
/// first order in time. Radiation is linearised exactly at the current
/// temperature, eps sigma (T^4 - Ta^4) = eps sigma (T^2 + Ta^2)(T + Ta) (T - Ta),
/// and the loss is implicit, so energy is balanced step by step:
/// sum(T_new - T_old) * rho cp V_cell = dt * (sum q V_cell - losses at the new T).
/// Cell-centred grid; the edge cells lose heat through the narrow edge faces.
public struct ThinPlateHeatSolver: Sendable {
    public let nx: Int
    public let ny: Int
    public let widthM: Double
    public let heightM: Double
    public let thicknessM: Double
    public let density: Double
    public let heatCapacity: Double
    public let conductivity: Double
    public let emissivity: Double
    public var convection: Double

    /// Temperature field, kelvin, row-major (y * nx + x).
    public var temperature: [Double]

    public var dx: Double { widthM / Double(nx) }
    public var dy: Double { heightM / Double(ny) }
    /// Volume of one grid cell, m^3.
    public var cellVolume: Double { dx * dy * thicknessM }
    /// rho * cp, J/(m^3 K).
    public var volumetricHeatCapacity: Double { density * heatCapacity }

    private var beta: [Double]
    private var rhs: [Double]
    private var cp: [Double]
    private var dp: [Double]
    private var line: [Double]

    public init(nx: Int, ny: Int, widthM: Double, heightM: Double, thicknessM: Double, density: Double,
                heatCapacity: Double, conductivity: Double, emissivity: Double, convection: Double, initialKelvin: Double) {
        precondition(nx >= 2 && ny >= 2, "grid must be at least 2x2, got \(nx)x\(ny)")
        self.nx = nx
        self.ny = ny
        self.widthM = widthM
        self.heightM = heightM
        self.thicknessM = thicknessM
        self.density = density
        self.heatCapacity = heatCapacity
        self.conductivity = conductivity
        self.emissivity = emissivity
        self.convection = convection
        temperature = [Double](repeating: initialKelvin, count: nx * ny)
        beta = [Double](repeating: 0, count: nx * ny)
        rhs = [Double](repeating: 0, count: nx * ny)
        let m = max(nx, ny)
        cp = [Double](repeating: 0, count: m)
        dp = [Double](repeating: 0, count: m)
        line = [Double](repeating: 0, count: m)
    }

    /// Surface heat-transfer coefficient (convection + linearised radiation) at T, W/(m^2 K).
    @inlinable public func effectiveH(kelvin t: Double, ambientKelvin ta: Double) -> Double {
        convection + emissivity * stefanBoltzmann * (t * t + ta * ta) * (t + ta)
    }

    /// Total heat loss of the plate to the chamber at the current field, W.
    public func heatLossW(ambientKelvin ta: Double) -> Double {
        var total = 0.0
        let faceA = 2 * dx * dy
        for j in 0..<ny {
            for i in 0..<nx {
                let t = temperature[j * nx + i]
                var a = faceA
                if i == 0 || i == nx - 1 { a += dy * thicknessM }
                if j == 0 || j == ny - 1 { a += dx * thicknessM }
                total += a * (convection * (t - ta) + emissivity * stefanBoltzmann * (t * t * t * t - ta * ta * ta * ta))
            }
        }
        return total
    }

    /// Heat stored above `referenceKelvin`, J.
    public func storedEnergyJ(referenceKelvin: Double) -> Double {
        var s = 0.0
        for t in temperature { s += t - referenceKelvin }
        return s * cellVolume * volumetricHeatCapacity
    }

    /// Advances by `dt` seconds with volumetric heat sources `q` (W/m^3, one per
    /// grid cell, nil = none) and chamber temperature `ambientKelvin`.
    public mutating func step(dt: Double, sources q: [Double]?, ambientKelvin ta: Double) {
        let n = nx * ny
        let rc = volumetricHeatCapacity
        let alpha = conductivity / rc
        let rx = alpha * dt / (dx * dx)
        let ry = alpha * dt / (dy * dy)
        let edgeX = thicknessM / dx   // edge area / face area ratio for x-edge cells, per face pair
        let edgeY = thicknessM / dy
        // beta_i = (loss area / volume) * h_eff / (rho cp): faces 2/d, x-edges 1/dx, y-edges 1/dy.
        temperature.withUnsafeBufferPointer { T in
            beta.withUnsafeMutableBufferPointer { B in
                rhs.withUnsafeMutableBufferPointer { R in
                    for j in 0..<ny {
                        let yEdge = (j == 0 || j == ny - 1) ? edgeY : 0
                        for i in 0..<nx {
                            let k = j * nx + i
                            let xEdge = (i == 0 || i == nx - 1) ? edgeX : 0
                            let t = T[k]
                            let h = convection + emissivity * stefanBoltzmann * (t * t + ta * ta) * (t + ta)
                            let b = h * (2 + xEdge + yEdge) / (thicknessM * rc) * dt
                            B[k] = b
                            R[k] = t + b * ta
                        }
                    }
                }
            }
        }
        if let q {
            let f = dt / rc
            q.withUnsafeBufferPointer { Q in rhs.withUnsafeMutableBufferPointer { R in
                for k in 0..<n { R[k] += Q[k] * f }
            }}
        }
        // x sweep: (1 + 2 rx + b) T*_i - rx T*_{i-1} - rx T*_{i+1} = rhs_i, Neumann ends.
        for j in 0..<ny {
            let base = j * nx
            solveLine(count: nx, r: rx, start: base, stride: 1, withBeta: true)
        }
        // y sweep: (1 + 2 ry) T_j - ry T_{j-1} - ry T_{j+1} = T*_j (Neumann ends). The matrix is the
        // same for every column, so the Thomas coefficients are computed once and all columns are
        // swept together row by row (contiguous, vectorisable inner loops).
        sweepColumns(r: ry)
    }

    private mutating func sweepColumns(r: Double) {
        let m = ny, w = nx
        if cp.count < m { cp = [Double](repeating: 0, count: m) }
        if dp.count < m { dp = [Double](repeating: 0, count: m) }
        // cp[j] = super-diagonal factor, dp[j] = 1 / pivot.
        var piv = 1 + r
        cp[0] = -r / piv
        dp[0] = 1 / piv
        for j in 1..<m {
            let diag = (j == m - 1) ? 1 + r : 1 + 2 * r
            piv = diag + r * cp[j - 1]
            cp[j] = -r / piv
            dp[j] = 1 / piv
        }
        cp.withUnsafeBufferPointer { C in dp.withUnsafeBufferPointer { P in
            temperature.withUnsafeMutableBufferPointer { T in
                // Forward: T[j] <- (T[j] + r T'[j-1]) / pivot_j, in place.
                for i in 0..<w { T[i] *= P[0] }
                for j in 1..<m {
                    let row = j * w, prev = row - w, pj = P[j]
                    for i in 0..<w { T[row + i] = (T[row + i] + r * T[prev + i]) * pj }
                }
                // Backward: T[j] <- T'[j] - c_j T[j+1].
                var j = m - 2
                while j >= 0 {
                    let row = j * w, next = row + w, cj = C[j]
                    for i in 0..<w { T[row + i] -= cj * T[next + i] }
                    j -= 1
                }
            }
        }}
    }

    /// Thomas algorithm along one line; reads `rhs` (x sweep) or `temperature` (y sweep), writes `temperature`
    /// (y sweep) or `rhs`→`temperature` (x sweep result stored in temperature as the intermediate field).
    private mutating func solveLine(count m: Int, r: Double, start: Int, stride: Int, withBeta: Bool) {
        cp.withUnsafeMutableBufferPointer { C in
            dp.withUnsafeMutableBufferPointer { D in
                beta.withUnsafeBufferPointer { B in
                    rhs.withUnsafeBufferPointer { R in
                        temperature.withUnsafeMutableBufferPointer { T in
                            // Diagonal of row i: 1 + r*(neighbours) + beta
                            @inline(__always) func diag(_ i: Int) -> Double {
                                let nb: Double = (i == 0 || i == m - 1) ? 1 : 2
                                return 1 + r * nb + (withBeta ? B[start + i * stride] : 0)
                            }
                            @inline(__always) func src(_ i: Int) -> Double {
                                withBeta ? R[start + i * stride] : T[start + i * stride]
                            }
                            var b0 = diag(0)
                            C[0] = -r / b0
                            D[0] = src(0) / b0
                            for i in 1..<m {
                                b0 = diag(i) + r * C[i - 1]
                                C[i] = -r / b0
                                D[i] = (src(i) + r * D[i - 1]) / b0
                            }
                            T[start + (m - 1) * stride] = D[m - 1]
                            var i = m - 2
                            while i >= 0 {
                                let v = D[i] - C[i] * T[start + (i + 1) * stride]
                                T[start + i * stride] = v
                                i -= 1
                            }
                        }
                    }
                }
            }
        }
    }
}
