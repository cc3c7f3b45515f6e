import Foundation

/// A tiny JSON object builder (NaN and infinities become null).
public struct JSONLine {
    var parts: [String] = []
    public init() {}
    public mutating func add(_ k: String, _ v: String) { parts.append("\(Self.quote(k)):\(Self.quote(v))") }
    public mutating func add(_ k: String, _ v: Double) { parts.append("\(Self.quote(k)):\(Self.number(v))") }
    public mutating func addRaw(_ k: String, _ raw: String) { parts.append("\(Self.quote(k)):\(raw)") }
    public var text: String { "{" + parts.joined(separator: ",") + "}" }
    public static func number(_ v: Double, digits: Int = 9) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.\(digits)g", v)
    }
    public static func quote(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 { o += String(format: "\\u%04x", u.value) } else { o.unicodeScalars.append(u) }
            }
        }
        return o + "\""
    }
}
